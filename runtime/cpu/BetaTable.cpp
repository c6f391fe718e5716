//===- BetaTable.cpp - discrete processes' beta tables, as diffusers ------===//
//
// The manifest's process.* keys as a TableSpec; the arithmetic is in
// diffuse/schedule.h, which the compiler shares.
//
//===----------------------------------------------------------------------===//
#include "diffuse/runtime.h"

namespace diffuse::rt {

BetaTable betaTable(const Manifest &m) {
  TableSpec spec;
  spec.schedule = m.str("process.schedule");
  spec.betaStart = m.num("process.beta_start");
  spec.betaEnd = m.num("process.beta_end");
  spec.trainSteps = (long)m.num("process.train_steps", 1000);
  spec.betas = m.nums("process.betas");
  spec.zeroTerminalSnr = m.num("process.zero_terminal_snr") != 0;
  return computeBetaTable(spec);
}

} // namespace diffuse::rt
