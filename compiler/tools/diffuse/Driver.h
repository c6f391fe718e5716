//===- Driver.h - shared pieces of the diffuse tool -------------*- C++ -*-===//
#ifndef DIFFUSE_TOOLS_DRIVER_H
#define DIFFUSE_TOOLS_DRIVER_H

#include "compiler/Pipelines/Pipeline.h"
#include "diffuse/runtime.h"
#include "diffuse/train.h"

#include <memory>
#include <string>
#include <vector>

namespace diffuse {

/// Compiles a spec to a shared object under a temporary folder and loads
/// it. Reports through `diag`; null on failure.
std::unique_ptr<rt::CompiledSampler> compileAndLoad(const CompileOptions &opts, DiagEngine &diag);

/// The same for a `train` spec (`opts.trainName`).
std::unique_ptr<rt::CompiledTrainer> compileAndLoadTrainer(const CompileOptions &opts,
                                                           DiagEngine &diag);

/// `diffuse conform DIR`.
int runConform(int argc, char **argv);

/// The stdlib folder (DIFFUSE_STDLIB overrides the built-in path).
std::string stdlibDir();

/// Runs the C++ driver with `args` (linking); reports its output on failure.
bool link(const std::vector<std::string> &args, DiagEngine &diag);
/// Runs `tool` with `args`; reports its output on failure.
bool runTool(const std::string &tool, const std::vector<std::string> &args, DiagEngine &diag);

} // namespace diffuse

#endif
