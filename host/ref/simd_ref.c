// SPDX-License-Identifier: Apache-2.0
//
// CPU references of the SIMD operators (sparrow_ref.h; docs/ops.md, "SIMD operators"): the golden
// order, operation for operation what the device programs (host/ops/simd_ops.c) do, and plain
// double-precision versions for the tolerance checks.

#include <math.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "../../sim/model/sparrow_fp_special.h"
#include "sparrow_ref.h"

#define F_ONE 0x3F800000u
#define F_HALF 0x3F000000u
#define SIGN_BIT 0x80000000u

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

static double d_of(uint32_t bits) {
  return (double)bits_to_float(bits);
}

static uint32_t round_to_bits(double v) {
  return float_to_bits((float)v);
}

// ---------------------------------------------------------------------------------------------------
// Golden order.

void sparrow_ref_residual_add_golden(size_t count, const uint32_t *a, const uint32_t *b,
                                     uint32_t *y, uint8_t *flags) {
  uint8_t local = 0;
  for (size_t i = 0; i < count; ++i) {
    y[i] = sparrow_fp_add(a[i], b[i], &local);
  }
  if (flags != NULL) {
    *flags |= local;
  }
}

void sparrow_ref_bias_add_golden(uint32_t m, uint32_t n, const uint32_t *x, const uint32_t *bias,
                                 uint32_t *y, uint8_t *flags) {
  uint8_t local = 0;
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t j = 0; j < n; ++j) {
      size_t e = (size_t)i * n + j;
      y[e] = sparrow_fp_add(x[e], bias[j], &local);
    }
  }
  if (flags != NULL) {
    *flags |= local;
  }
}

void sparrow_ref_bias_add_bwd_golden(uint32_t m, uint32_t n, const uint32_t *dy, uint32_t *dbias,
                                     uint8_t *flags) {
  uint8_t local = 0;
  for (uint32_t j = 0; j < n; ++j) {
    uint32_t acc = 0;  // +0.0
    for (uint32_t i = 0; i < m; ++i) {
      acc = sparrow_fp_add(acc, dy[(size_t)i * n + j], &local);
    }
    dbias[j] = acc;
  }
  if (flags != NULL) {
    *flags |= local;
  }
}

// The forward's shared start: th = tanh(K (x + C1 x^3)), with x2 for the derivative.
static uint32_t gelu_tanh(uint32_t x, uint32_t *x2, uint8_t *flags) {
  *x2 = sparrow_fp_mul(x, x, flags);
  uint32_t t = sparrow_fp_mul(*x2, x, flags);
  t = sparrow_fp_mul(SPARROW_REF_GELU_C1, t, flags);
  t = sparrow_fp_add(x, t, flags);
  t = sparrow_fp_mul(SPARROW_REF_GELU_K, t, flags);
  return sparrow_fp_tanh(t, flags);
}

uint32_t sparrow_ref_gelu1_golden(uint32_t x, uint8_t *flags) {
  uint8_t local = 0;
  uint32_t x2;
  uint32_t th = gelu_tanh(x, &x2, &local);
  uint32_t g = sparrow_fp_add(F_ONE, th, &local);
  uint32_t h = sparrow_fp_mul(F_HALF, x, &local);
  uint32_t y = sparrow_fp_mul(h, g, &local);
  if (flags != NULL) {
    *flags |= local;
  }
  return y;
}

uint32_t sparrow_ref_gelu_bwd1_golden(uint32_t x, uint32_t dy, uint8_t *flags) {
  uint8_t local = 0;
  uint32_t x2;
  uint32_t th = gelu_tanh(x, &x2, &local);
  uint32_t g = sparrow_fp_add(F_ONE, th, &local);
  uint32_t a = sparrow_fp_mul(F_HALF, g, &local);
  uint32_t s = sparrow_fp_mul(th, th, &local);
  s = sparrow_fp_add(F_ONE, s ^ SIGN_BIT, &local);  // 1 - th^2
  uint32_t d = sparrow_fp_mul(SPARROW_REF_GELU_C3, x2, &local);
  d = sparrow_fp_add(F_ONE, d, &local);
  d = sparrow_fp_mul(SPARROW_REF_GELU_K, d, &local);
  uint32_t h = sparrow_fp_mul(F_HALF, x, &local);
  uint32_t b = sparrow_fp_mul(h, s, &local);
  b = sparrow_fp_mul(b, d, &local);
  uint32_t p = sparrow_fp_add(a, b, &local);
  uint32_t dx = sparrow_fp_mul(dy, p, &local);
  if (flags != NULL) {
    *flags |= local;
  }
  return dx;
}

void sparrow_ref_gelu_golden(size_t count, const uint32_t *x, uint32_t *y, uint8_t *flags) {
  for (size_t i = 0; i < count; ++i) {
    y[i] = sparrow_ref_gelu1_golden(x[i], flags);
  }
}

void sparrow_ref_gelu_bwd_golden(size_t count, const uint32_t *x, const uint32_t *dy, uint32_t *dx,
                                 uint8_t *flags) {
  for (size_t i = 0; i < count; ++i) {
    dx[i] = sparrow_ref_gelu_bwd1_golden(x[i], dy[i], flags);
  }
}

// ---------------------------------------------------------------------------------------------------
// Plain, in double.

void sparrow_ref_residual_add_plain(size_t count, const uint32_t *a, const uint32_t *b,
                                    uint32_t *y) {
  for (size_t i = 0; i < count; ++i) {
    y[i] = round_to_bits(d_of(a[i]) + d_of(b[i]));
  }
}

void sparrow_ref_bias_add_plain(uint32_t m, uint32_t n, const uint32_t *x, const uint32_t *bias,
                                uint32_t *y) {
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t j = 0; j < n; ++j) {
      size_t e = (size_t)i * n + j;
      y[e] = round_to_bits(d_of(x[e]) + d_of(bias[j]));
    }
  }
}

void sparrow_ref_bias_add_bwd_plain(uint32_t m, uint32_t n, const uint32_t *dy, uint32_t *dbias,
                                    double *mag) {
  for (uint32_t j = 0; j < n; ++j) {
    double sum = 0.0, abs_sum = 0.0;
    for (uint32_t i = 0; i < m; ++i) {
      double v = d_of(dy[(size_t)i * n + j]);
      sum += v;
      abs_sum += fabs(v);
    }
    dbias[j] = round_to_bits(sum);
    if (mag != NULL) {
      mag[j] = abs_sum;
    }
  }
}

static const double kSqrt2OverPi = 0.79788456080286535588;
static const double kC1 = 0.044715;

void sparrow_ref_gelu_plain(size_t count, const uint32_t *x, uint32_t *y) {
  for (size_t i = 0; i < count; ++i) {
    double v = d_of(x[i]);
    y[i] = round_to_bits(0.5 * v * (1.0 + tanh(kSqrt2OverPi * (v + kC1 * v * v * v))));
  }
}

void sparrow_ref_gelu_bwd_plain(size_t count, const uint32_t *x, const uint32_t *dy, uint32_t *dx) {
  for (size_t i = 0; i < count; ++i) {
    double v = d_of(x[i]);
    double th = tanh(kSqrt2OverPi * (v + kC1 * v * v * v));
    double grad =
        0.5 * (1.0 + th) + 0.5 * v * (1.0 - th * th) * kSqrt2OverPi * (1.0 + 3.0 * kC1 * v * v);
    dx[i] = round_to_bits(d_of(dy[i]) * grad);
  }
}

// ---------------------------------------------------------------------------------------------------
// Errors.

// 0 finite, 1 NaN, 2 +inf, 3 -inf.
static int nonfinite_class(double v) {
  if (isnan(v)) {
    return 1;
  }
  if (isinf(v)) {
    return v > 0 ? 2 : 3;
  }
  return 0;
}

double sparrow_ref_norm_rel_err(size_t count, const uint32_t *x, const uint32_t *ref,
                                size_t *nonfinite) {
  double diff2 = 0.0, ref2 = 0.0;
  size_t bad = 0;
  for (size_t i = 0; i < count; ++i) {
    double xv = d_of(x[i]), rv = d_of(ref[i]);
    int xc = nonfinite_class(xv), rc = nonfinite_class(rv);
    if (xc != 0 || rc != 0) {
      bad += xc != rc;
      continue;
    }
    diff2 += (xv - rv) * (xv - rv);
    ref2 += rv * rv;
  }
  if (nonfinite != NULL) {
    *nonfinite = bad;
  }
  if (diff2 == 0.0) {
    return 0.0;
  }
  return ref2 == 0.0 ? INFINITY : sqrt(diff2) / sqrt(ref2);
}

double sparrow_ref_sum_norm_tolerance(uint32_t terms, size_t count, const double *mag,
                                      const uint32_t *ref) {
  double mag2 = 0.0, ref2 = 0.0;
  for (size_t i = 0; i < count; ++i) {
    double rv = d_of(ref[i]);
    if (isfinite(rv) && isfinite(mag[i])) {
      mag2 += mag[i] * mag[i];
      ref2 += rv * rv;
    }
  }
  if (mag2 == 0.0) {
    return 0.0;
  }
  if (ref2 == 0.0) {
    return INFINITY;
  }
  return ((double)terms + 2.0) * ldexp(1.0, -24) * sqrt(mag2) / sqrt(ref2);
}
