// SPDX-License-Identifier: Apache-2.0
//
// CPU references of AdamW and the global gradient norm (sparrow_ref.h; host/ops/op_adamw.c;
// docs/ops.md, "Loss and optimizer"): the golden order, operation for operation what the device
// programs do, and plain versions (AdamW in C float as the trainer's reference, host/train/adamw.c,
// writes it; the norm in double) that share no code with sparrow_fp.

#include <math.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "../../sim/model/sparrow_fp_special.h"
#include "sparrow_ref.h"

#define SIGN_BIT 0x80000000u
#define ABS_MASK 0x7FFFFFFFu
#define INF_BITS 0x7F800000u
#define F_ONE 0x3F800000u
#define MAX_LANES 64u

static float bits_to_float(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof(f));
  return f;
}

static uint32_t float_to_bits(float f) {
  uint32_t bits;
  memcpy(&bits, &f, sizeof(bits));
  return bits;
}

void sparrow_ref_adamw_consts(float lr, float beta1, float beta2, float eps, float weight_decay,
                              uint64_t step, uint32_t clip_scale, sparrow_ref_adamw_consts_t *c) {
  c->beta1 = float_to_bits(beta1);
  c->one_minus_beta1 = float_to_bits((float)(1.0 - (double)beta1));
  c->beta2 = float_to_bits(beta2);
  c->one_minus_beta2 = float_to_bits((float)(1.0 - (double)beta2));
  c->bc1 = float_to_bits((float)(1.0 / (1.0 - pow((double)beta1, (double)step))));
  c->bc2 = float_to_bits((float)(1.0 / (1.0 - pow((double)beta2, (double)step))));
  c->eps = float_to_bits(eps);
  c->lr = float_to_bits(lr);
  c->weight_decay = float_to_bits(weight_decay);
  c->clip = clip_scale;
}

uint32_t sparrow_ref_sqrt_rsqrt(uint32_t x, uint8_t *flags) {
  // rsqrt runs on every input (on the device in every lane): +-0 go to it as +inf, which gives +0
  // without a flag, so that the pole's OF|NX never appears.
  uint32_t r = sparrow_fp_rsqrt((x & ABS_MASK) == 0 ? INF_BITS : x, flags);
  return x < INF_BITS ? sparrow_fp_mul(x, r, flags) : x;
}

void sparrow_ref_adamw1_golden(const sparrow_ref_adamw_consts_t *c, bool decay, uint32_t *p,
                               uint32_t grad, uint32_t *m, uint32_t *v, uint8_t *flags) {
  uint8_t local = 0;
  uint32_t g = sparrow_fp_mul(grad, c->clip, &local);
  uint32_t mn = sparrow_fp_add(sparrow_fp_mul(c->beta1, *m, &local),
                               sparrow_fp_mul(c->one_minus_beta1, g, &local), &local);
  uint32_t g2 = sparrow_fp_mul(g, g, &local);
  uint32_t vn = sparrow_fp_add(sparrow_fp_mul(c->beta2, *v, &local),
                               sparrow_fp_mul(c->one_minus_beta2, g2, &local), &local);
  uint32_t mhat = sparrow_fp_mul(mn, c->bc1, &local);
  uint32_t vhat = sparrow_fp_mul(vn, c->bc2, &local);
  uint32_t denom = sparrow_fp_add(sparrow_ref_sqrt_rsqrt(vhat, &local), c->eps, &local);
  uint32_t u = sparrow_fp_div(mhat, denom, &local);
  if (decay) {
    u = sparrow_fp_add(u, sparrow_fp_mul(c->weight_decay, *p, &local), &local);
  }
  *p = sparrow_fp_add(*p, sparrow_fp_mul(c->lr, u, &local) ^ SIGN_BIT, &local);
  *m = mn;
  *v = vn;
  if (flags != NULL) {
    *flags |= local;
  }
}

void sparrow_ref_adamw_golden(const sparrow_ref_adamw_consts_t *c, size_t count, bool decay,
                              uint32_t *p, const uint32_t *g, uint32_t *m, uint32_t *v,
                              uint8_t *flags) {
  for (size_t i = 0; i < count; ++i) {
    sparrow_ref_adamw1_golden(c, decay, &p[i], g[i], &m[i], &v[i], flags);
  }
}

void sparrow_ref_adamw_plain(float lr, float beta1, float beta2, float eps, float weight_decay,
                             uint64_t step, uint32_t clip_scale, size_t count, bool decay,
                             uint32_t *p, const uint32_t *g, uint32_t *m, uint32_t *v) {
  float scale = bits_to_float(clip_scale);
  float c1 = (float)(1.0 - pow((double)beta1, (double)step));
  float c2 = (float)(1.0 - pow((double)beta2, (double)step));
  float wd = decay ? weight_decay : 0.0f;
  for (size_t i = 0; i < count; ++i) {
    float gi = bits_to_float(g[i]) * scale;
    float mi = beta1 * bits_to_float(m[i]) + (1.0f - beta1) * gi;
    float vi = beta2 * bits_to_float(v[i]) + (1.0f - beta2) * (gi * gi);
    float pi = bits_to_float(p[i]);
    float mhat = mi / c1;
    float vhat = vi / c2;
    pi -= lr * (mhat / (sqrtf(vhat) + eps) + wd * pi);
    p[i] = float_to_bits(pi);
    m[i] = float_to_bits(mi);
    v[i] = float_to_bits(vi);
  }
}

uint32_t sparrow_ref_sumsq_golden(uint32_t lanes, size_t count, const uint32_t *g, uint8_t *flags) {
  uint32_t acc[MAX_LANES];
  for (uint32_t l = 0; l < lanes && l < MAX_LANES; ++l) {
    acc[l] = 0;
  }
  uint8_t local = 0;
  for (size_t j = 0; j < count; ++j) {
    acc[j % lanes] = sparrow_fp_add(acc[j % lanes], sparrow_fp_mul(g[j], g[j], &local), &local);
  }
  uint32_t s = 0;
  if (sparrow_fp_reduce_sum(lanes, acc, &s, &local) != SPARROW_FP_REDUCE_OK) {
    return SPARROW_FP_CANONICAL_NAN;  // lanes not a power of two up to 64: no tree defined
  }
  if (flags != NULL) {
    *flags |= local;
  }
  return s;
}

int sparrow_ref_grad_norm_golden(uint32_t lanes, size_t nseg, const size_t *offset,
                                 const size_t *count, const uint32_t *grads, uint32_t max_norm,
                                 uint32_t out[3], uint8_t *flags) {
  if (lanes == 0 || lanes > MAX_LANES || (lanes & (lanes - 1u)) != 0) {
    return -1;
  }
  uint8_t local = 0;
  uint32_t total = 0;  // +0.0
  for (size_t k = 0; k < nseg; ++k) {
    if (count[k] != 0) {
      total = sparrow_fp_add(
          total, sparrow_ref_sumsq_golden(lanes, count[k], grads + offset[k], &local), &local);
    }
  }
  uint32_t norm = sparrow_ref_sqrt_rsqrt(total, &local);
  uint32_t denom = sparrow_fp_add(norm, SPARROW_REF_GRAD_NORM_EPS, &local);
  uint32_t q = sparrow_fp_mul(max_norm, sparrow_fp_recip(denom, &local), &local);
  out[0] = total;
  out[1] = norm;
  out[2] = sparrow_fp_min(q, F_ONE, &local);
  if (flags != NULL) {
    *flags |= local;
  }
  return 0;
}

void sparrow_ref_grad_norm_plain(size_t nseg, const size_t *offset, const size_t *count,
                                 const uint32_t *grads, uint32_t max_norm, double out[3]) {
  double total = 0.0;
  for (size_t k = 0; k < nseg; ++k) {
    for (size_t j = 0; j < count[k]; ++j) {
      double gj = (double)bits_to_float(grads[offset[k] + j]);
      total += gj * gj;
    }
  }
  double norm = sqrt(total);
  double clip = (double)bits_to_float(max_norm) / (norm + 1e-6);
  out[0] = total;
  out[1] = norm;
  out[2] = isnan(clip) || clip < 1.0 ? clip : 1.0;  // a NaN goes through, as min() does
}

double sparrow_ref_grad_norm_tolerance(size_t nseg, size_t max_count) {
  return ((double)max_count + (double)nseg + 8.0) * ldexp(1.0, -24);
}
