// SPDX-License-Identifier: Apache-2.0
//
// The training loop (docs/training.md): a run's definition, its state, one step, validation and
// checkpoints. It drives a backend (backend.h) and never computes the model itself, so the CPU
// reference and the chip run the same loop. The loop owns the host-side state a checkpoint needs:
// the step count, the batch sampler's splitmix64 state and the masks; the parameters and AdamW
// moments live in the backend and are read back to save.

#ifndef SPARROW_HOST_TRAIN_TRAINER_H_
#define SPARROW_HOST_TRAIN_TRAINER_H_

#include <stdbool.h>
#include <stdint.h>

#include "adamw.h"
#include "backend.h"
#include "data.h"
#include "gpt.h"
#include "sparrow_train.h"

typedef enum sparrow_train_mask_kind {
  SPARROW_TRAIN_MASK_RANDOM = 0,     // balanced random blocks, from the seed
  SPARROW_TRAIN_MASK_MAGNITUDE = 1,  // the largest blocks of the weights when pruning starts
} sparrow_train_mask_kind_t;

#define SPARROW_TRAIN_DEFAULT_VAL_BATCHES 16u
#define SPARROW_TRAIN_DEFAULT_EVAL_EVERY 100u

// Everything that defines a run; stored in its checkpoints.
typedef struct sparrow_train_run {
  sparrow_gpt_config_t model;
  sparrow_adamw_t adamw;
  uint64_t seed;         // weights, random masks and the batch sampler derive from it
  uint64_t steps;        // total steps of the schedule
  uint64_t warmup;       // warm-up steps (sparrow_adamw_warmup(steps) unless chosen)
  uint32_t density_den;  // 1 dense; 2, 4, 8: sparsity 0.5, 0.75, 0.875 of the linear layers
  sparrow_train_mask_kind_t mask_kind;
  uint64_t dense_steps;  // steps before the masks are applied (0: sparse from the start)
  uint32_t val_batches;  // validation batches of B x T (a fixed set, the same at every eval)
  // The cadence of the driver of the loop (the CLI), kept so that a resumed run keeps it.
  uint32_t eval_every;  // validate every N steps (and after the last)
  uint32_t ckpt_every;  // checkpoint every N steps (and after the last)
} sparrow_train_run_t;

// Defaults: the AdamW defaults, dense, random masks, val_batches 16, eval and checkpoint every 100
// steps.
void sparrow_train_run_defaults(sparrow_train_run_t *run);

typedef struct sparrow_trainer {
  sparrow_train_run_t run;
  sparrow_gpt_layout_t layout;
  const sparrow_train_data_t *data;
  sparrow_train_backend_t *backend;
  uint64_t step;  // completed steps
  uint64_t rng;   // the batch sampler's state
  uint8_t *masks;
  bool masks_active;
  float *params, *m, *v;       // host copies, for masks and checkpoints
  uint32_t *inputs, *targets;  // one batch
  // A check (sparrow_trainer_check) runs the device's forward and backward on the batch of the
  // next step from the current state: that step then takes the device's loss and gradients from
  // it instead of computing them again (the same bits: the same state and batch). Valid only while
  // nothing has run on the device since, for the step numbered check_step, and a check that put
  // the masks into force leaves masks_applied_early for that step to report.
  bool check_pending;
  uint64_t check_step;
  float check_loss;
  bool masks_applied_early;
  // The simulated counters of the run before this trainer started (from its checkpoint).
  uint64_t base_cycles, base_dram_bytes;
} sparrow_trainer_t;

typedef struct sparrow_train_step_result {
  uint64_t step;  // 1-based number of the step just done
  float loss;     // its training loss (mean cross-entropy of the batch, before the update)
  float lr;
  float grad_norm;
  bool masks_applied;  // the masks came into force before this step
} sparrow_train_step_result_t;

// A fresh run: checks the run against the data, initialises the weights from the seed, makes the
// masks when the run is sparse from step 0, and loads all of it into the backend.
sparrow_train_status_t sparrow_trainer_init(sparrow_trainer_t *tr, const sparrow_train_run_t *run,
                                            const sparrow_train_data_t *data,
                                            sparrow_train_backend_t *backend, char *msg,
                                            size_t msg_len) __attribute__((warn_unused_result));

struct sparrow_train_ckpt;
// Continues a checkpointed run: the data must be the one it was trained on (same bytes), and the
// backend must have been opened for its model. steps, when non-zero, replaces the run's total
// (a longer schedule; the continuation then differs from the original run's).
sparrow_train_status_t sparrow_trainer_resume(sparrow_trainer_t *tr,
                                              const struct sparrow_train_ckpt *ckpt,
                                              const sparrow_train_data_t *data,
                                              sparrow_train_backend_t *backend, char *msg,
                                              size_t msg_len) __attribute__((warn_unused_result));

// One training step: masks come into force first when step == dense_steps; then a batch,
// forward, backward, AdamW. A non-finite loss or gradient norm is E_NAN.
sparrow_train_status_t sparrow_trainer_step(sparrow_trainer_t *tr,
                                            sparrow_train_step_result_t *result, char *msg,
                                            size_t msg_len) __attribute__((warn_unused_result));

// Mean loss over the fixed validation batches (they do not depend on the seed or the step).
sparrow_train_status_t sparrow_trainer_eval(sparrow_trainer_t *tr, float *val_loss, char *msg,
                                            size_t msg_len) __attribute__((warn_unused_result));

// Writes a checkpoint of the current state (ckpt.h; atomic).
sparrow_train_status_t sparrow_trainer_save(sparrow_trainer_t *tr, const char *path, char *msg,
                                            size_t msg_len) __attribute__((warn_unused_result));

// The run's simulated counters so far: those of its checkpoint (when resumed) plus everything the
// backend ran since it was opened (steps, checks and validations). The breakdown per kind of
// operator covers the backend's part only.
void sparrow_trainer_counters(const sparrow_trainer_t *tr, sparrow_train_counters_t *out);

void sparrow_trainer_free(sparrow_trainer_t *tr);

// The masks of the run, as made at step dense_steps (exposed for tests): random from the seed, or
// magnitude from params.
sparrow_train_status_t sparrow_trainer_make_masks(const sparrow_train_run_t *run,
                                                  const sparrow_gpt_layout_t *layout,
                                                  const float *params, uint8_t *masks, char *msg,
                                                  size_t msg_len)
    __attribute__((warn_unused_result));

// The device-vs-reference check of one batch (docs/training.md, "Tolerances"): runs forward and
// backward on both backends from the same state (the batch of the next step; masks that come into
// force before that step are put into force first) and compares the loss and every gradient tensor
// by normwise relative error ||dev - ref|| / ||ref|| (0 when both are zero). report, when not
// NULL, is called once per comparison; the result is E_CHECK if any error exceeds its tolerance.
typedef struct sparrow_train_check_tol {
  double loss;  // relative error of the loss
  double grad;  // normwise relative error of each gradient tensor
} sparrow_train_check_tol_t;

// The documented tolerances of `sparrow train --check` (docs/training.md, "Tolerances"), set from
// the errors measured between the chip and the reference: the loss within 4.6e-7, the gradient
// tensors within 8.6e-6 (LayerNorm weights, whose gradients are sums that cancel) over 80 checks
// of dense and sparse runs on S and M; a margin of 20 and of 11.
#define SPARROW_TRAIN_CHECK_TOL_LOSS 1e-5
#define SPARROW_TRAIN_CHECK_TOL_GRAD 1e-4

typedef void (*sparrow_train_check_report_fn)(void *ctx, const char *what, double err, double tol);

sparrow_train_status_t sparrow_trainer_check(sparrow_trainer_t *tr, sparrow_train_backend_t *ref,
                                             const sparrow_train_check_tol_t *tol,
                                             sparrow_train_check_report_fn report, void *ctx,
                                             char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

#endif  // SPARROW_HOST_TRAIN_TRAINER_H_
