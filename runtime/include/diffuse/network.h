//===- network.h - the network ABI ------------------------------*- C++ -*-===//
//
// How a compiled sampler calls the user's network: input, per-sample time
// in the encoding the model declared, a per-sample class label (-1: none),
// output. The same struct is the C ABI of a plugin network.
//
//===----------------------------------------------------------------------===//
#ifndef DIFFUSE_NETWORK_H
#define DIFFUSE_NETWORK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { DFS_F64 = 0, DFS_F32 = 1 } dfs_dtype;

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
} dfs_net_call;

/* A network as a plain C function. Returns 0 on success. */
typedef int (*dfs_net_fn)(void *user, const dfs_net_call *call);

#ifdef __cplusplus
}

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
} // namespace diffuse::rt
#endif

#endif
