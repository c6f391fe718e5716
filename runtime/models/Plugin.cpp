//===- Plugin.cpp - networks given as C functions or plugin libraries -----===//
#include "diffuse/network.h"

#include <cmath>
#include <dlfcn.h>

namespace diffuse::rt {

void FunctionNetwork::evaluate(const dfs_net_call &call) {
  ++calls_;
  int rc = fn_(user_, &call);
  if (rc == 0)
    return;
  if (failure_.empty())
    failure_ = "the network returned " + std::to_string(rc) + " at its call " +
               std::to_string(calls_);
  int64_t n = call.batch * call.dim;
  for (int64_t i = 0; i < n; ++i) {
    if (call.dtype == DFS_F32)
      static_cast<float *>(call.out)[i] = NAN;
    else
      static_cast<double *>(call.out)[i] = NAN;
  }
}

bool FunctionNetwork::divergence(const dfs_net_call &call, double *trace) {
  return div_ && div_(user_, &call, trace) == 0;
}

namespace {

/// The plugin's functions take no user pointer; the handle rides in it.
struct Plugin {
  void *handle = nullptr;
  int (*evaluate)(const dfs_net_call *) = nullptr;
  int (*divergence)(const dfs_net_call *, double *) = nullptr;
};

int callEvaluate(void *user, const dfs_net_call *call) {
  return static_cast<Plugin *>(user)->evaluate(call);
}
int callDivergence(void *user, const dfs_net_call *call, double *trace) {
  return static_cast<Plugin *>(user)->divergence(call, trace);
}

class PluginNetwork : public FunctionNetwork {
public:
  explicit PluginNetwork(std::unique_ptr<Plugin> p)
      : FunctionNetwork(callEvaluate, p.get(), p->divergence ? callDivergence : nullptr),
        plugin_(std::move(p)) {}
  ~PluginNetwork() override { dlclose(plugin_->handle); }

private:
  std::unique_ptr<Plugin> plugin_;
};

} // namespace

std::unique_ptr<FunctionNetwork> loadNetworkPlugin(const std::string &path, std::string &err) {
  // dlopen searches the library path for a bare name; a plugin is a file.
  std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  auto p = std::make_unique<Plugin>();
  p->handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!p->handle) {
    const char *why = dlerror();
    err = "cannot load the network plugin " + path + ": " + (why ? why : "unknown reason");
    return nullptr;
  }
  p->evaluate = reinterpret_cast<int (*)(const dfs_net_call *)>(
      dlsym(p->handle, "dfs_network_evaluate"));
  p->divergence = reinterpret_cast<int (*)(const dfs_net_call *, double *)>(
      dlsym(p->handle, "dfs_network_divergence"));
  if (!p->evaluate) {
    dlclose(p->handle);
    err = "the network plugin " + path +
          " exports no dfs_network_evaluate (see diffuse/network.h for the C ABI)";
    return nullptr;
  }
  return std::make_unique<PluginNetwork>(std::move(p));
}

} // namespace diffuse::rt
