// SPDX-License-Identifier: Apache-2.0
//
// AdamW and the learning-rate schedule of the trainer (docs/training.md, "Optimizer").
//
//   g     = grad * min(1, clip / ||grad||)   (global L2 norm over every parameter, in double)
//   m     = beta1 m + (1 - beta1) g
//   v     = beta2 v + (1 - beta2) g^2
//   p    -= lr (m / (1 - beta1^t) / (sqrt(v / (1 - beta2^t)) + eps) + wd p)
//
// t counts steps from 1. Weight decay applies to the matrices (embeddings, linear weights) only.
// An element whose gradient, moments and value are zero stays exactly zero, so pruned blocks stay
// pruned.

#ifndef SPARROW_HOST_TRAIN_ADAMW_H_
#define SPARROW_HOST_TRAIN_ADAMW_H_

#include <stdint.h>

#include "gpt.h"

typedef struct sparrow_adamw {
  float lr;            // peak learning rate (default 1e-3)
  float lr_min_ratio;  // the cosine ends at lr * lr_min_ratio (0.1)
  float beta1;         // 0.9
  float beta2;         // 0.95
  float eps;           // 1e-8
  float weight_decay;  // 0.1, matrices only
  float clip;          // global gradient-norm clip (1.0); 0 disables it
} sparrow_adamw_t;

void sparrow_adamw_defaults(sparrow_adamw_t *hp);

// Warm-up steps for a run of total steps: min(100, total / 10).
uint64_t sparrow_adamw_warmup(uint64_t total_steps);

// Learning rate of step s (0-based) of total: linear warm-up lr (s + 1) / warmup over the first
// warmup steps, then a cosine from lr down to lr * lr_min_ratio reached after the last step:
// lr_min + 0.5 (lr - lr_min) (1 + cos(pi (s - warmup) / (total - warmup))).
float sparrow_adamw_lr(const sparrow_adamw_t *hp, uint64_t s, uint64_t total, uint64_t warmup);

// The global L2 norm of n gradients, accumulated in double.
double sparrow_adamw_grad_norm(const float *grads, size_t n);

// One AdamW step t (from 1) at learning rate lr over the model's parameter block: clips the
// gradients by their global norm (returned in *grad_norm, before clipping), updates m and v.
void sparrow_adamw_step(const sparrow_adamw_t *hp, const sparrow_gpt_layout_t *layout,
                        float *params, const float *grads, float *m, float *v, float lr, uint64_t t,
                        float *grad_norm);

#endif  // SPARROW_HOST_TRAIN_ADAMW_H_
