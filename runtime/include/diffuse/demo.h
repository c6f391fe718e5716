//===- demo.h - sampling a built-in analytic model --------------*- C++ -*-===//
#ifndef DIFFUSE_DEMO_H
#define DIFFUSE_DEMO_H

#include "diffuse/models.h"
#include "diffuse/runtime.h"

#include <map>
#include <ostream>

namespace diffuse::rt {

/// The exact probability-flow ODE solution from `x` (the sampler's
/// coordinates) between two grid points, by RK4 in log(sigma/alpha) on the
/// analytic denoiser (independent of the compiled code); with `labels`
/// (one per row), each row's class-conditional denoiser.
std::vector<double> exactSolution(const Mixture &m, const std::vector<double> &x, int64_t batch,
                                  const Point &from, const Point &to, bool ve,
                                  const std::vector<int32_t> &labels = {});

/// How an analytic network of the sampler's model `model` reads its time:
/// a beta table's integer timesteps as diffusers' networks do, anything else
/// through `runner`'s grid points in that model's encoding (`runner` is set
/// once the Runner exists, after its networks; every row of a call has one
/// time, decoded once).
std::function<TimeDecode(double)> analyticTimeDecoder(const Manifest &m, int model,
                                                      Runner *const &runner);

struct DemoOptions {
  int64_t batch = 1000;
  uint64_t seed = 0;
  std::string outDir = ".";
  std::string xInit;   // .npy, optional: the initial state itself
  std::string xData;   // .npy, optional: data to noise to the first grid point (img2img;
                       // not together with xInit), and an inpainting sampler's known data
  std::string mask;    // .npy: an inpainting sampler's mask (1: keep the data)
  std::string noise;   // .npy, optional: draws x batch x dim normals that noise() replays
  std::string mixture; // JSON, optional (default: the built-in 2-D ring)
  std::string network; // a network plugin (.so) for the sampler's model; "" = analytic
  /// Label sets (cond, cond(1), ...), each cycled over the batch; a set not
  /// given labels sample i with (i + k) % 2.
  std::vector<std::vector<int32_t>> labels;
  /// Named conditioning inputs: the .npy file of each (input, condition
  /// set) pair (set -1: none), from --cond NAME[.SET]=FILE.npy.
  struct Condition {
    std::string name;
    int set = 0;
    std::string file;
  };
  std::vector<Condition> conditions;
  /// The mixture file of another model the guidance calls, by model name
  /// (default: the data's own mixture).
  std::map<std::string, std::string> mixtureFor;
  /// Where the run's tensors live and its kernels run (null: the host).
  std::shared_ptr<Device> device;
};

/// Parses the value of --cond: NAME=FILE (condition set 0), NAME.K=FILE
/// (set K, cond(K)) or NAME.none=FILE (the unconditional rows' value);
/// false with `err` on a malformed one.
bool parseConditionOption(const std::string &arg, DemoOptions::Condition &out,
                          std::string &err);

/// Samples the built-in 2-D ring mixture (or `mixture`) with a compiled
/// sampler, writes samples.npy, exact.npy and (2-D) samples.png to outDir,
/// and reports the error against the exact ODE solution. Returns a process
/// exit code.
int runDemo(const CompiledSampler &sampler, const DemoOptions &opts, std::ostream &os);

} // namespace diffuse::rt

#endif
