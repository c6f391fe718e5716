//===- network.h - the network ABI ------------------------------*- C++ -*-===//
//
// How a compiled sampler calls the user's network: input, per-sample time
// in the encoding the model declared, a per-sample class label (-1: none),
// the named conditioning inputs, output. The same struct is the C ABI of a plugin network.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_NETWORK_H
#define DIFFUSE_NETWORK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { DFS_F64 = 0, DFS_F32 = 1 } dfs_dtype;

/* A named conditioning input of a call (a model parameter after x, such as
 * a text embedding): row i belongs to row i of the call. */
typedef struct {
  const char *name;  /* as the model declares it */
  int64_t dim;       /* elements per row (the product of its shape) */
  dfs_dtype dtype;   /* as declared: f32 or f64 */
  const void *data;  /* batch x dim, host memory */
} dfs_net_input;

typedef struct {
  int64_t batch;         /* rows */
  int64_t dim;           /* elements per row */
  dfs_dtype dtype;       /* of x and out */
  const void *x;         /* batch x dim */
  const double *t;       /* batch: each row's time, in the model's encoding */
  const int32_t *labels; /* batch: class label, -1 = unconditional; may be NULL */
  void *out;             /* batch x dim */
  int on_device;         /* 0: x and out are host memory; 1: device memory (a
                            network that says Network::onDevice; t and labels
                            stay host arrays) */
  /* Rows stored at x: batch, or fewer when the rows repeat (classifier-free
   * guidance calls the network on [x; x]): row i of the call is row
   * i mod x_rows of x. Only networks that say they accept repeated rows
   * (Network::acceptsRepeatedRows) get x_rows < batch; every other network
   * gets x copied out to batch rows. */
  int64_t x_rows;
  /* The model's named conditioning inputs, in declaration order (none: 0
   * and NULL). Each row holds its condition set's value, and the null
   * condition's (zeros unless given) on unconditional rows. */
  int64_t n_inputs;
  const dfs_net_input *inputs;
} dfs_net_call;

/* A network as a plain C function. Returns 0 on success. */
typedef int (*dfs_net_fn)(void *user, const dfs_net_call *call);
/* Optionally, the trace of d out / d x for each row of a call (call->out
 * unused) into trace[batch]. Returns 0 on success. */
typedef int (*dfs_net_div_fn)(void *user, const dfs_net_call *call, double *trace);

/* A network plugin is a shared library exporting
 *
 *   int dfs_network_evaluate(const dfs_net_call *call);                  required
 *   int dfs_network_divergence(const dfs_net_call *call, double *trace); optional
 *
 * with the meaning of dfs_net_fn and dfs_net_div_fn (`diffuse run --network
 * PLUGIN.so`, rt::loadNetworkPlugin). */

#ifdef __cplusplus
}

#include <memory>
#include <string>

namespace diffuse::rt {
/// A network the runtime can call.
class Network {
public:
  virtual ~Network() = default;
  virtual void evaluate(const dfs_net_call &call) = 0;
  /// True if evaluate() reads row i of a call from row i mod call.x_rows of
  /// call.x: the runner then passes a guided call's input once instead of
  /// copying it into both halves of a buffer of twice the batch.
  virtual bool acceptsRepeatedRows() const { return false; }
  /// True if evaluate() takes x and out in the memory of the device the
  /// runner runs on (Runner::setDevice): no copies to and from the host.
  virtual bool onDevice() const { return false; }
  /// The trace of d out / d x for each row of `call` (call.out unused): a
  /// network that can give it exactly returns true; the log-likelihood then
  /// uses it instead of Hutchinson's estimate.
  virtual bool divergence(const dfs_net_call &call, double *trace) {
    (void)call;
    (void)trace;
    return false;
  }
};

/// A network given as C functions (dfs_net_fn, optionally dfs_net_div_fn)
/// and their user pointer. Network::evaluate cannot fail, so a call that
/// returns non-zero fills its output with NaN and is remembered: failure()
/// says which call failed and with what code ("" while none has).
class FunctionNetwork : public Network {
public:
  FunctionNetwork(dfs_net_fn fn, void *user, dfs_net_div_fn div = nullptr)
      : fn_(fn), div_(div), user_(user) {}
  void evaluate(const dfs_net_call &call) override;
  bool divergence(const dfs_net_call &call, double *trace) override;
  const std::string &failure() const { return failure_; }

protected:
  dfs_net_fn fn_;
  dfs_net_div_fn div_;
  void *user_;
  int64_t calls_ = 0;
  std::string failure_;
};

/// A network plugin (see dfs_network_evaluate above) loaded from `path`:
/// null with `err` set if it cannot be opened or lacks
/// dfs_network_evaluate. The library stays loaded as long as the network.
std::unique_ptr<FunctionNetwork> loadNetworkPlugin(const std::string &path, std::string &err);
} // namespace diffuse::rt
#endif

#endif
