/*===- abi.h - the ABI between compiled samplers and the runtime -*- C -*-===*
 *
 * A compiled sampler (an object file made by `diffuse build`) exports:
 *   void dfs_step(dfs_ctx *ctx, int64_t n, const void *x, void *out,
 *                 const double *s, const double *t, const double *stepctx,
 *                 void *const *state_in, void **state_out,
 *                 const double *scalars_in, double *scalars_out);
 *   const char dfs_manifest[];             // key=value lines (see manifest.md)
 *   double dfs_process_alpha(double t);    // path processes only, and
 *   double dfs_process_sigma(double t), dfs_process_alpha_d(double t),
 *          dfs_process_sigma_d(double t);
 * `n` counts elements of the state (batch x dims); `s` and `t` point to
 * DFS_POINT_FIELDS doubles describing the step's two grid points.
 *
 * The compiled code calls back into the runtime only through the function
 * pointers at the head of dfs_ctx, so a sampler needs no symbol from the
 * process that loads it, and buffers may live in host or device memory.
 *===----------------------------------------------------------------------===*/
#ifndef DIFFUSE_ABI_H
#define DIFFUSE_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The manifest's diffuse_abi: bumped when dfs_ctx or dfs_step change (2:
 * dfs_ctx gained quantile and batch; 3: the model hook takes a list of
 * conditions instead of a guided flag; 4: dfs_ctx gained input; 5: the
 * manifest says which models take class labels, model.labels, and names
 * their conditioning inputs, model.inputs; 6: a grid point gained
 * DFS_POINT_T, from which the runtime gives each model its own time; 7:
 * DFS_POINT_BETA). */
#define DFS_ABI_VERSION 7

/* The tensors a run is given besides its start (the `input` hook). */
enum {
  DFS_INPUT_DATA = 0, /* the clean data an inpainting sampler keeps (x0) */
  DFS_INPUT_MASK = 1, /* 1 where the data is kept, 0 where it is generated */
  DFS_INPUTS = 2
};

/* Layout of a grid point (all double). */
enum {
  DFS_POINT_TAU = 0,    /* the solver's time value (t, or sigma/alpha in ve coords) */
  DFS_POINT_TMODEL = 1, /* the time the network is given, in its own encoding */
  DFS_POINT_A = 2,      /* alpha of the process */
  DFS_POINT_S = 3,      /* sigma of the process */
  DFS_POINT_DA = 4,     /* d alpha / dt (path processes) */
  DFS_POINT_DS = 5,     /* d sigma / dt */
  DFS_POINT_T = 6,      /* the process's own time (a beta table's timestep) */
  DFS_POINT_BETA = 7,   /* a beta table's own beta at an integer timestep, else NaN */
  DFS_POINT_FIELDS = 8
};

typedef struct dfs_ctx dfs_ctx;

/* The head of the runtime's context, as the compiled code sees it. */
struct dfs_ctx {
  /* A scratch buffer of mult * n elements for slot `slot`, allocated once. */
  void *(*buffer)(dfs_ctx *ctx, int32_t slot, int32_t mult);
  /* One call of network `model` (0: the sampler's model; k: manifest
   * model.k.*) at grid point `point` (the network's time in model k's own
   * encoding, model.k.time, made from the point by the runtime) on `count` evaluations of the same
   * input of n elements: evaluation j has condition conds[j] (-1: none, the
   * unconditional rows; k >= 0: the k-th set of class labels) and writes
   * elements [j n, (j + 1) n) of `output`. */
  void (*model)(dfs_ctx *ctx, int32_t model, int32_t count, const int32_t *conds,
                const void *input, const double *point, void *output);
  /* Copy n elements. */
  void (*copy)(dfs_ctx *ctx, void *dst, const void *src);
  /* The next draw of standard normal noise (n elements) in scratch slot `slot`. */
  void *(*noise)(dfs_ctx *ctx, int32_t slot);
  /* The grid point (DFS_POINT_FIELDS doubles) whose solver time (by_lambda = 0)
   * or log-SNR lambda = log(alpha/sigma) (by_lambda = 1) is `value`. */
  void (*point)(dfs_ctx *ctx, double value, int32_t by_lambda, double *out);
  /* Run task(args, begin, end) over [0, n), split over the runtime's threads. */
  void (*parallel)(dfs_ctx *ctx, void (*task)(void *, int64_t, int64_t), void *args, int64_t n);
  /* The q-quantile of each sample's n / batch elements of `a` into
   * out[batch] (linear interpolation between order statistics, as
   * torch.quantile). */
  void (*quantile)(dfs_ctx *ctx, const void *a, double q, double *out);
  /* The number of samples: a step's n elements are batch rows of n / batch
   * (per-sample reductions need it). */
  int64_t batch;
  /* The run's input tensor `which` (DFS_INPUT_*), n elements, constant over
   * the run (manifest `inpaint`). */
  const void *(*input)(dfs_ctx *ctx, int32_t which);
};

/* The step context: index of the step, number of steps, first (1/0), last
 * (1/0), and drift (1/0): for an adaptive solver (manifest `adaptive.*`),
 * drift = 1 makes dfs_step write the probability-flow drift pf_ode(x, s)
 * to `out` instead of stepping, leaving the state alone. */
enum {
  DFS_CTX_INDEX = 0,
  DFS_CTX_STEPS = 1,
  DFS_CTX_FIRST = 2,
  DFS_CTX_LAST = 3,
  DFS_CTX_DRIFT = 4,
  DFS_CTX_FIELDS = 5
};

/* Solver state carried between steps: `state_in`/`state_out` are arrays of
 * state.fields buffers of n elements; `scalars_in`/`scalars_out` arrays of
 * state.scalars doubles (counts in the manifest). The first step sees zeros.
 * The step writes each new state tensor into its state_out buffer, or, for a
 * tensor it carries unchanged, replaces the pointer state_out[k] with the
 * state_in buffer or with `x` it came from. The caller then passes the
 * state_out pointers as the next state_in, and must give the next step an
 * `out` and state_out buffers that none of those pointers use (the runtime's
 * SolverState::rotate and Runner::run do this). */
typedef void (*dfs_step_fn)(dfs_ctx *ctx, int64_t n, const void *x, void *out, const double *s,
                            const double *t, const double *stepctx, void *const *state_in,
                            void **state_out, const double *scalars_in,
                            double *scalars_out);
typedef double (*dfs_scalar_fn)(double);

/* A sampler built with `diffuse build --device cuda` also exports
 *   const char dfs_cuda_ptx[];             // PTX of the CUDA kernels
 *   const dfs_cuda_task dfs_cuda_tasks[];  // kernel k runs tasks[k].task
 *   const int64_t dfs_cuda_task_count;
 * Kernel k is named dfs_cuda_<k> and takes (int64_t n, then the task's
 * `slots` 8-byte argument slots); its thread i < n runs work item i. */
typedef struct {
  void (*task)(void *args, int64_t begin, int64_t end);
  int64_t slots;
} dfs_cuda_task;

#ifdef __cplusplus
}
#endif

#endif /* DIFFUSE_ABI_H */
