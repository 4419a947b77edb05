// SPDX-License-Identifier: Apache-2.0
//
// CPU references of the softmax cross-entropy (sparrow_ref.h; host/ops/op_loss.c; docs/ops.md,
// "Loss and optimizer"): the golden order, operation for operation what the device program does
// (lane maxima and lane sums, the lane trees, sparrow_fp_exp / _log / _recip), the plain float
// version (the trainer's CPU reference algorithm, host/train/layers.c, in plain C float: no
// sparrow_fp), and the forward in double for the gradient check's finite differences.

#include <math.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "../../sim/model/sparrow_fp_log.h"
#include "../../sim/model/sparrow_fp_special.h"
#include "sparrow_ref.h"

#define SIGN_BIT 0x80000000u
#define F_NEG_INF 0xFF800000u
#define F_NEG_ONE 0xBF800000u
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

uint32_t sparrow_ref_inv_count(uint32_t n) {
  return float_to_bits((float)(1.0 / (double)n));
}

static int check_ce(uint32_t n, uint32_t vocab, uint32_t ld, const uint32_t *logits,
                    const uint32_t *targets) {
  if (n == 0 || vocab == 0 || ld < vocab || logits == NULL || targets == NULL) {
    return -1;
  }
  for (uint32_t i = 0; i < n; ++i) {
    if (targets[i] >= vocab) {
      return -1;
    }
  }
  return 0;
}

int sparrow_ref_cross_entropy_golden(uint32_t lanes, uint32_t n, uint32_t vocab, uint32_t ld,
                                     const uint32_t *logits, const uint32_t *targets,
                                     uint32_t *losses, uint32_t *mean, uint32_t *dlogits,
                                     uint8_t *flags) {
  if (lanes == 0 || lanes > MAX_LANES || (lanes & (lanes - 1u)) != 0 ||
      check_ce(n, vocab, ld, logits, targets) != 0) {
    return -1;
  }
  const bool want_loss = losses != NULL || mean != NULL;
  const uint32_t inv_n = sparrow_ref_inv_count(n);
  uint8_t local = 0;
  uint32_t lane[MAX_LANES];
  uint32_t total = 0;  // +0.0: the mean's accumulator, rows in ascending order
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t *x = logits + (size_t)i * ld;
    const uint32_t t = targets[i];
    // Pass 0: the maximum, per lane then the lane tree.
    for (uint32_t l = 0; l < lanes; ++l) {
      lane[l] = F_NEG_INF;
    }
    for (uint32_t j = 0; j < vocab; ++j) {
      lane[j % lanes] = sparrow_fp_max(lane[j % lanes], x[j], &local);
    }
    uint32_t m = 0;
    if (sparrow_fp_reduce_max(lanes, lane, &m, &local) != SPARROW_FP_REDUCE_OK) {
      return -1;  // not reached: lanes were checked above
    }
    // Pass 1: the sum of exponentials, per lane then the lane tree; d_t is picked on the way (the
    // device's max over a lane holding d_t and the others -inf gives d_t's bits).
    for (uint32_t l = 0; l < lanes; ++l) {
      lane[l] = 0;
    }
    uint32_t d_t = 0;
    for (uint32_t j = 0; j < vocab; ++j) {
      uint32_t d = sparrow_fp_add(x[j], m ^ SIGN_BIT, &local);
      if (j == t) {
        d_t = d;
      }
      lane[j % lanes] = sparrow_fp_add(lane[j % lanes], sparrow_fp_exp(d, &local), &local);
    }
    uint32_t s = 0;
    if (sparrow_fp_reduce_sum(lanes, lane, &s, &local) != SPARROW_FP_REDUCE_OK) {
      return -1;
    }
    if (want_loss) {
      uint32_t loss = sparrow_fp_add(sparrow_fp_log(s, &local), d_t ^ SIGN_BIT, &local);
      if (losses != NULL) {
        losses[i] = loss;
      }
      if (mean != NULL) {
        total = sparrow_fp_add(total, loss, &local);
      }
    }
    // Pass 2: the gradient (the exponentials again: the same bits and flags).
    if (dlogits != NULL) {
      uint32_t r = sparrow_fp_recip(s, &local);
      uint32_t *g = dlogits + (size_t)i * ld;
      for (uint32_t j = 0; j < vocab; ++j) {
        uint32_t d = sparrow_fp_add(x[j], m ^ SIGN_BIT, &local);
        uint32_t p = sparrow_fp_mul(sparrow_fp_exp(d, &local), r, &local);
        if (j == t) {
          p = sparrow_fp_add(p, F_NEG_ONE, &local);
        }
        g[j] = sparrow_fp_mul(p, inv_n, &local);
      }
      for (uint32_t j = vocab; j < ld; ++j) {
        g[j] = 0;
      }
    }
  }
  if (mean != NULL) {
    *mean = sparrow_fp_mul(total, inv_n, &local);
  }
  if (flags != NULL) {
    *flags |= local;
  }
  return 0;
}

int sparrow_ref_cross_entropy_plain(uint32_t n, uint32_t vocab, uint32_t ld, const uint32_t *logits,
                                    const uint32_t *targets, uint32_t *losses, uint32_t *mean,
                                    uint32_t *dlogits) {
  if (check_ce(n, vocab, ld, logits, targets) != 0) {
    return -1;
  }
  const float inv_n = 1.0f / (float)n;
  double total = 0.0;
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t *x = logits + (size_t)i * ld;
    const uint32_t t = targets[i];
    float maxv = -INFINITY;
    for (uint32_t j = 0; j < vocab; ++j) {
      float z = bits_to_float(x[j]);
      maxv = z > maxv || isnan(z) ? z : maxv;
    }
    float sum = 0.0f;
    for (uint32_t j = 0; j < vocab; ++j) {
      sum += expf(bits_to_float(x[j]) - maxv);
    }
    // log-sum-exp form, as the trainer's reference: finite even when p_t underflows.
    float loss = logf(sum) - (bits_to_float(x[t]) - maxv);
    if (losses != NULL) {
      losses[i] = float_to_bits(loss);
    }
    total += (double)loss;
    if (dlogits != NULL) {
      float inv = 1.0f / sum;
      uint32_t *g = dlogits + (size_t)i * ld;
      for (uint32_t j = 0; j < vocab; ++j) {
        float p = expf(bits_to_float(x[j]) - maxv) * inv;
        g[j] = float_to_bits((p - (j == t ? 1.0f : 0.0f)) * inv_n);
      }
      for (uint32_t j = vocab; j < ld; ++j) {
        g[j] = 0;
      }
    }
  }
  if (mean != NULL) {
    *mean = float_to_bits((float)(total / (double)n));
  }
  return 0;
}

double sparrow_ref_cross_entropy_f64(uint32_t n, uint32_t vocab, uint32_t ld, const double *logits,
                                     const uint32_t *targets) {
  double total = 0.0;
  for (uint32_t i = 0; i < n; ++i) {
    const double *x = logits + (size_t)i * ld;
    double maxv = -INFINITY;
    for (uint32_t j = 0; j < vocab; ++j) {
      maxv = x[j] > maxv ? x[j] : maxv;
    }
    double sum = 0.0;
    for (uint32_t j = 0; j < vocab; ++j) {
      sum += exp(x[j] - maxv);
    }
    total += log(sum) - (x[targets[i]] - maxv);
  }
  return total / (double)n;
}

double sparrow_ref_cross_entropy_tolerance(uint32_t vocab) {
  return ((double)vocab + 16.0) * ldexp(1.0, -24);
}
