/* A network plugin in plain C (the ABI of diffuse/network.h): the exact
 * velocity of the rectified flow x_t = (1 - t) x0 + t eps of the built-in
 * 2-D ring mixture (8 components of std 0.15 on the circle of radius 2,
 * classes k % 2), time t as given. With DFS_FAIL_AT_CALL=N the N-th call
 * fails (returns 7), to test how a failing network is reported. */
#include "diffuse/network.h"

#include <math.h>

#define K 8

static int calls;

int dfs_network_evaluate(const dfs_net_call *call) {
#ifdef DFS_FAIL_AT_CALL
  if (++calls == DFS_FAIL_AT_CALL)
    return 7;
#else
  (void)calls;
#endif
  if (call->on_device || call->dim != 2)
    return 1;
  const double pi = 3.14159265358979323846, sd = 0.15;
  for (int64_t i = 0; i < call->batch; ++i) {
    int64_t row = i % call->x_rows;
    double x[2], a = 1 - call->t[i], s = call->t[i];
    for (int d = 0; d < 2; ++d)
      x[d] = call->dtype == DFS_F32 ? ((const float *)call->x)[row * 2 + d]
                                    : ((const double *)call->x)[row * 2 + d];
    int label = call->labels ? call->labels[i] : -1;
    double v = a * a * sd * sd + s * s, lg[K], mu[K][2], top = -INFINITY;
    for (int k = 0; k < K; ++k) {
      mu[k][0] = 2 * cos(2 * pi * k / K);
      mu[k][1] = 2 * sin(2 * pi * k / K);
      double d0 = x[0] - a * mu[k][0], d1 = x[1] - a * mu[k][1];
      lg[k] = (label >= 0 && k % 2 != label) ? -INFINITY
                                             : -0.5 * (d0 * d0 + d1 * d1) / v;
      if (lg[k] > top)
        top = lg[k];
    }
    double z = 0, x0[2] = {0, 0}, eps[2] = {0, 0};
    for (int k = 0; k < K; ++k)
      z += lg[k] = exp(lg[k] - top);
    for (int k = 0; k < K; ++k)
      for (int d = 0; d < 2; ++d) {
        double r = lg[k] / z, dk = x[d] - a * mu[k][d];
        x0[d] += r * (mu[k][d] + a * sd * sd / v * dk);
        eps[d] += r * s * dk / v;
      }
    for (int d = 0; d < 2; ++d) {
      double out = eps[d] - x0[d]; /* alpha' x0 + sigma' eps */
      if (call->dtype == DFS_F32)
        ((float *)call->out)[i * 2 + d] = (float)out;
      else
        ((double *)call->out)[i * 2 + d] = out;
    }
  }
  return 0;
}
