// SPDX-License-Identifier: Apache-2.0
//
// AdamW with global gradient-norm clipping, and the warm-up + cosine schedule (see adamw.h).

#include "adamw.h"

#include <math.h>

#define PI 3.14159265358979323846
#define WARMUP_MAX 100u
#define WARMUP_DIV 10u

void sparrow_adamw_defaults(sparrow_adamw_t *hp) {
  hp->lr = 1e-3f;
  hp->lr_min_ratio = 0.1f;
  hp->beta1 = 0.9f;
  // 0.95 (GPT-3's choice) rather than 0.999: the second moment follows the gradient scale within
  // ~20 steps, which keeps tiny-batch character models stable after warm-up.
  hp->beta2 = 0.95f;
  hp->eps = 1e-8f;
  hp->weight_decay = 0.1f;
  hp->clip = 1.0f;
}

uint64_t sparrow_adamw_warmup(uint64_t total_steps) {
  uint64_t w = total_steps / WARMUP_DIV;
  return w < WARMUP_MAX ? w : WARMUP_MAX;
}

float sparrow_adamw_lr(const sparrow_adamw_t *hp, uint64_t s, uint64_t total, uint64_t warmup) {
  if (s < warmup) {
    return (float)((double)hp->lr * (double)(s + 1) / (double)warmup);
  }
  double lr_min = (double)hp->lr * (double)hp->lr_min_ratio;
  if (total <= warmup) {
    return hp->lr;
  }
  double progress = (double)(s - warmup) / (double)(total - warmup);
  if (progress > 1.0) {
    progress = 1.0;  // a run extended past its schedule stays at the floor
  }
  return (float)(lr_min + 0.5 * ((double)hp->lr - lr_min) * (1.0 + cos(PI * progress)));
}

double sparrow_adamw_grad_norm(const float *grads, size_t n) {
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    sum += (double)grads[i] * (double)grads[i];
  }
  return sqrt(sum);
}

void sparrow_adamw_step(const sparrow_adamw_t *hp, const sparrow_gpt_layout_t *layout,
                        float *params, const float *grads, float *m, float *v, float lr, uint64_t t,
                        float *grad_norm) {
  double norm = sparrow_adamw_grad_norm(grads, layout->n_params);
  float scale = 1.0f;
  if (hp->clip > 0.0f && norm > (double)hp->clip) {
    scale = (float)((double)hp->clip / norm);
  }
  float b1 = hp->beta1, b2 = hp->beta2;
  float c1 = (float)(1.0 - pow((double)b1, (double)t));
  float c2 = (float)(1.0 - pow((double)b2, (double)t));
  for (int k = 0; k < SPARROW_GPT_TENSORS; k++) {
    float wd = sparrow_gpt_tensor_decays((sparrow_gpt_tensor_t)k) ? hp->weight_decay : 0.0f;
    size_t lo = layout->offset[k], hi = lo + layout->size[k];
    for (size_t i = lo; i < hi; i++) {
      float g = grads[i] * scale;
      m[i] = b1 * m[i] + (1.0f - b1) * g;
      v[i] = b2 * v[i] + (1.0f - b2) * (g * g);
      float mhat = m[i] / c1;
      float vhat = v[i] / c2;
      params[i] -= lr * (mhat / (sqrtf(vhat) + hp->eps) + wd * params[i]);
    }
  }
  if (grad_norm != NULL) {
    *grad_norm = (float)norm;
  }
}
