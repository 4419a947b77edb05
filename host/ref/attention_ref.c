// SPDX-License-Identifier: Apache-2.0
//
// CPU references of softmax and causal multi-head self-attention (sparrow_ref.h; docs/ops.md,
// "Attention and softmax"; docs/numerics.md, "Reduction order per operator"):
//   - golden order: operation for operation what the device computes (host/ops/op_softmax.c,
//     op_attention.c): the GEMMs' sums from +0.0 in ascending reduced index, the SIMD softmax's
//     one accumulator per row in ascending column order, every step sparrow_fp_* or
//     sparrow_fp_special, every flag ORed into *flags;
//   - plain: double-precision arithmetic from the binary32 inputs (libm's exp), intermediate
//     tensors (the scaled scores, the probabilities) stored as binary32 as an fp32 implementation
//     stores them, outputs rounded once; no sparrow_fp anywhere;
//   - double forwards without any rounding, for the finite-difference gradient checks.

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "../../sim/model/sparrow_fp_special.h"
#include "sparrow_ref.h"

#define SIGN_BIT 0x80000000u
#define F_NEG_INF 0xFF800000u
#define F_ZERO 0x00000000u

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

uint32_t sparrow_ref_attention_scale(uint32_t head_size) {
  // IEEE double sqrt and division are correctly rounded, so this constant is the same on every
  // conforming host; it is the only value the host computes, and it is a definition, not data.
  return float_to_bits((float)(1.0 / sqrt((double)head_size)));
}

// ---------------------------------------------------------------------------------------------------
// Golden order: softmax rows.

// One softmax row of n inputs of which the first `active` take part (the rest are masked: no
// operation at all, output +0), each input first multiplied by scale when has_scale. The order:
//   m = -inf; for j < active: z_j = x_j * scale; m = max(m, z_j)
//   s = +0;   for j < active: e_j = exp(z_j - m); s = s + e_j
//   r = recip(s); for j < active: y_j = e_j * r
// (the device computes z_j and e_j again in each pass: the same bits and flags.)
static void softmax_row_golden(uint32_t n, uint32_t active, bool has_scale, uint32_t scale,
                               const uint32_t *x, size_t x_stride, uint32_t *y, size_t y_stride,
                               uint8_t *flags) {
  uint32_t m = F_NEG_INF;
  for (uint32_t j = 0; j < active; ++j) {
    uint32_t z = x[j * x_stride];
    if (has_scale) {
      z = sparrow_fp_mul(z, scale, flags);
    }
    m = sparrow_fp_max(m, z, flags);
  }
  uint32_t s = F_ZERO;
  for (uint32_t j = 0; j < active; ++j) {
    uint32_t z = x[j * x_stride];
    if (has_scale) {
      z = sparrow_fp_mul(z, scale, flags);
    }
    uint32_t e = sparrow_fp_exp(sparrow_fp_add(z, m ^ SIGN_BIT, flags), flags);
    s = sparrow_fp_add(s, e, flags);
    y[j * y_stride] = e;
  }
  uint32_t r = sparrow_fp_recip(s, flags);
  for (uint32_t j = 0; j < n; ++j) {
    y[j * y_stride] = j < active ? sparrow_fp_mul(y[j * y_stride], r, flags) : F_ZERO;
  }
}

// Its backward: dot = +0; for j < active: dot = dot + y_j * dy_j; then for j < active:
// dx_j = y_j * (dy_j - dot), times scale when has_scale; masked: +0.
static void softmax_row_bwd_golden(uint32_t n, uint32_t active, bool has_scale, uint32_t scale,
                                   const uint32_t *y, size_t y_stride, const uint32_t *dy,
                                   size_t dy_stride, uint32_t *dx, size_t dx_stride,
                                   uint8_t *flags) {
  uint32_t dot = F_ZERO;
  for (uint32_t j = 0; j < active; ++j) {
    dot = sparrow_fp_add(dot, sparrow_fp_mul(y[j * y_stride], dy[j * dy_stride], flags), flags);
  }
  for (uint32_t j = 0; j < n; ++j) {
    uint32_t g = F_ZERO;
    if (j < active) {
      g = sparrow_fp_add(dy[j * dy_stride], dot ^ SIGN_BIT, flags);
      g = sparrow_fp_mul(y[j * y_stride], g, flags);
      if (has_scale) {
        g = sparrow_fp_mul(g, scale, flags);
      }
    }
    dx[j * dx_stride] = g;
  }
}

// Row i takes elements j < (causal ? min(i + 1, n) : n).
static uint32_t active_count(uint32_t i, uint32_t n, bool causal) {
  return causal && i + 1u < n ? i + 1u : n;
}

void sparrow_ref_softmax_masked_golden(uint32_t m, uint32_t n, bool causal, bool has_scale,
                                       uint32_t scale, const uint32_t *x, uint32_t *y,
                                       uint8_t *flags) {
  uint8_t local = 0;
  for (uint32_t i = 0; i < m; ++i) {
    softmax_row_golden(n, active_count(i, n, causal), has_scale, scale, &x[(size_t)i * n], 1,
                       &y[(size_t)i * n], 1, &local);
  }
  if (flags != NULL) {
    *flags |= local;
  }
}

void sparrow_ref_softmax_masked_bwd_golden(uint32_t m, uint32_t n, bool causal, bool has_scale,
                                           uint32_t scale, const uint32_t *y, const uint32_t *dy,
                                           uint32_t *dx, uint8_t *flags) {
  uint8_t local = 0;
  for (uint32_t i = 0; i < m; ++i) {
    size_t at = (size_t)i * n;
    softmax_row_bwd_golden(n, active_count(i, n, causal), has_scale, scale, &y[at], 1, &dy[at], 1,
                           &dx[at], 1, &local);
  }
  if (flags != NULL) {
    *flags |= local;
  }
}

void sparrow_ref_softmax_golden(uint32_t m, uint32_t n, const uint32_t *x, uint32_t *y,
                                uint8_t *flags) {
  sparrow_ref_softmax_masked_golden(m, n, false, false, 0, x, y, flags);
}

void sparrow_ref_softmax_bwd_golden(uint32_t m, uint32_t n, const uint32_t *y, const uint32_t *dy,
                                    uint32_t *dx, uint8_t *flags) {
  sparrow_ref_softmax_masked_bwd_golden(m, n, false, false, 0, y, dy, dx, flags);
}

// ---------------------------------------------------------------------------------------------------
// Golden order: attention.

// Element (t, col) of a row-major tensor with `width` columns, for batch b.
#define AT(base, b, t, T, width, col) ((base)[((size_t)(b) * (T) + (t)) * (width) + (col)])

// The fabric's GEMM element: +0.0, then acc = acc + a_r * b_r for r = 0, 1, ..., count - 1
// (sparrow_fp_mul(a, b) then sparrow_fp_add, the operands in this order).
static uint32_t dot_golden(uint32_t count, const uint32_t *a, size_t a_stride, const uint32_t *b,
                           size_t b_stride, uint8_t *flags) {
  uint32_t acc = F_ZERO;
  for (uint32_t r = 0; r < count; ++r) {
    acc = sparrow_fp_add(acc, sparrow_fp_mul(a[r * a_stride], b[r * b_stride], flags), flags);
  }
  return acc;
}

int sparrow_ref_attention_golden(uint32_t B, uint32_t T, uint32_t C, uint32_t NH,
                                 const uint32_t *qkv, uint32_t *out, uint32_t *att,
                                 uint8_t *flags) {
  if (B == 0 || T == 0 || NH == 0 || C == 0 || C % NH != 0) {
    return -1;
  }
  const uint32_t hs = C / NH, C3 = 3 * C;
  const uint32_t scale = sparrow_ref_attention_scale(hs);
  uint32_t *st = malloc((size_t)T * T * sizeof(uint32_t));  // S^T of one (batch, head): [j][i]
  if (st == NULL) {
    return -1;
  }
  uint8_t local = 0;
  for (uint32_t b = 0; b < B; ++b) {
    for (uint32_t h = 0; h < NH; ++h) {
      uint32_t *p = &att[((size_t)b * NH + h) * T * T];  // P: [i][j]
      // S^T[j][i] = sum over d of K[j][d] * Q[i][d] (the GEMM K . Q^T, every element, masked or
      // not: the fabric computes them all).
      for (uint32_t j = 0; j < T; ++j) {
        for (uint32_t i = 0; i < T; ++i) {
          st[(size_t)j * T + i] = dot_golden(hs, &AT(qkv, b, j, T, C3, C + h * hs), 1,
                                             &AT(qkv, b, i, T, C3, h * hs), 1, &local);
        }
      }
      // Row i of the softmax is column i of S^T; it takes keys j <= i.
      for (uint32_t i = 0; i < T; ++i) {
        softmax_row_golden(T, i + 1, true, scale, &st[i], T, &p[(size_t)i * T], 1, &local);
      }
      // O[i][d] = sum over j of P[i][j] * V[j][d], all j (masked P are +0).
      for (uint32_t i = 0; i < T; ++i) {
        for (uint32_t d = 0; d < hs; ++d) {
          AT(out, b, i, T, C, h * hs + d) = dot_golden(
              T, &p[(size_t)i * T], 1, &AT(qkv, b, 0, T, C3, 2 * C + h * hs + d), C3, &local);
        }
      }
    }
  }
  free(st);
  if (flags != NULL) {
    *flags |= local;
  }
  return 0;
}

int sparrow_ref_attention_bwd_golden(uint32_t B, uint32_t T, uint32_t C, uint32_t NH,
                                     const uint32_t *qkv, const uint32_t *att, const uint32_t *dout,
                                     uint32_t *dqkv, uint8_t *flags) {
  if (B == 0 || T == 0 || NH == 0 || C == 0 || C % NH != 0) {
    return -1;
  }
  const uint32_t hs = C / NH, C3 = 3 * C;
  const uint32_t scale = sparrow_ref_attention_scale(hs);
  uint32_t *dpt = malloc((size_t)T * T * sizeof(uint32_t));  // dP^T: [j][i]
  uint32_t *g = malloc((size_t)T * T * sizeof(uint32_t));    // dS scaled: [i][j]
  if (dpt == NULL || g == NULL) {
    free(dpt);
    free(g);
    return -1;
  }
  uint8_t local = 0;
  for (uint32_t b = 0; b < B; ++b) {
    for (uint32_t h = 0; h < NH; ++h) {
      const uint32_t *p = &att[((size_t)b * NH + h) * T * T];
      const size_t qo = h * hs, ko = C + h * hs, vo = 2 * C + h * hs, oo = h * hs;
      // dP^T[j][i] = sum over d of V[j][d] * dO[i][d] (the GEMM V . dO^T).
      for (uint32_t j = 0; j < T; ++j) {
        for (uint32_t i = 0; i < T; ++i) {
          dpt[(size_t)j * T + i] =
              dot_golden(hs, &AT(qkv, b, j, T, C3, vo), 1, &AT(dout, b, i, T, C, oo), 1, &local);
        }
      }
      // Softmax backward, row i over keys j <= i, scaled: g[i][j].
      for (uint32_t i = 0; i < T; ++i) {
        softmax_row_bwd_golden(T, i + 1, true, scale, &p[(size_t)i * T], 1, &dpt[i], T,
                               &g[(size_t)i * T], 1, &local);
      }
      for (uint32_t t = 0; t < T; ++t) {
        for (uint32_t d = 0; d < hs; ++d) {
          // dQ[t][d] = sum over j of g[t][j] * K[j][d] (the GEMM g . K).
          AT(dqkv, b, t, T, C3, qo + d) =
              dot_golden(T, &g[(size_t)t * T], 1, &AT(qkv, b, 0, T, C3, ko + d), C3, &local);
          // dK[t][d] = sum over i of g[i][t] * Q[i][d] (the GEMM g^T . Q).
          AT(dqkv, b, t, T, C3, ko + d) =
              dot_golden(T, &g[t], T, &AT(qkv, b, 0, T, C3, qo + d), C3, &local);
          // dV[t][d] = sum over i of P[i][t] * dO[i][d] (the GEMM P^T . dO).
          AT(dqkv, b, t, T, C3, vo + d) =
              dot_golden(T, &p[t], T, &AT(dout, b, 0, T, C, oo + d), C, &local);
        }
      }
    }
  }
  free(dpt);
  free(g);
  if (flags != NULL) {
    *flags |= local;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// Plain: double arithmetic, binary32 storage of the intermediate tensors, outputs rounded once.

// One softmax row in double from binary32 inputs z (the first `active` of n; the rest get 0).
static void softmax_row_plain(uint32_t n, uint32_t active, const uint32_t *z, uint32_t *y) {
  double m = -INFINITY;
  for (uint32_t j = 0; j < active; ++j) {
    double v = d_of(z[j]);
    m = v > m || isnan(v) ? v : m;
  }
  double s = 0.0;
  for (uint32_t j = 0; j < active; ++j) {
    s += exp(d_of(z[j]) - m);
  }
  for (uint32_t j = 0; j < n; ++j) {
    y[j] = j < active ? round_to_bits(exp(d_of(z[j]) - m) / s) : F_ZERO;
  }
}

void sparrow_ref_softmax_plain(uint32_t m, uint32_t n, const uint32_t *x, uint32_t *y) {
  for (uint32_t i = 0; i < m; ++i) {
    softmax_row_plain(n, n, &x[(size_t)i * n], &y[(size_t)i * n]);
  }
}

void sparrow_ref_softmax_bwd_plain(uint32_t m, uint32_t n, const uint32_t *y, const uint32_t *dy,
                                   uint32_t *dx) {
  for (uint32_t i = 0; i < m; ++i) {
    size_t at = (size_t)i * n;
    double dot = 0.0;
    for (uint32_t j = 0; j < n; ++j) {
      dot += d_of(y[at + j]) * d_of(dy[at + j]);
    }
    for (uint32_t j = 0; j < n; ++j) {
      dx[at + j] = round_to_bits(d_of(y[at + j]) * (d_of(dy[at + j]) - dot));
    }
  }
}

// The products with the masked probabilities (and gradients), which are 0, are summed like the
// others, as the definition says (sparrow_ref.h): for finite values they add nothing, and a
// non-finite V, K, Q or dO reaches the same elements as on the device (0 * inf = NaN).
int sparrow_ref_attention_plain(uint32_t B, uint32_t T, uint32_t C, uint32_t NH,
                                const uint32_t *qkv, uint32_t *out, uint32_t *att) {
  if (B == 0 || T == 0 || NH == 0 || C == 0 || C % NH != 0) {
    return -1;
  }
  const uint32_t hs = C / NH, C3 = 3 * C;
  const double scale = 1.0 / sqrt((double)hs);
  uint32_t *z = malloc((size_t)T * sizeof(uint32_t));  // a row of scaled scores, as binary32
  if (z == NULL) {
    return -1;
  }
  for (uint32_t b = 0; b < B; ++b) {
    for (uint32_t h = 0; h < NH; ++h) {
      uint32_t *p = &att[((size_t)b * NH + h) * T * T];
      for (uint32_t i = 0; i < T; ++i) {
        for (uint32_t j = 0; j <= i; ++j) {
          double s = 0.0;
          for (uint32_t d = 0; d < hs; ++d) {
            s +=
                d_of(AT(qkv, b, i, T, C3, h * hs + d)) * d_of(AT(qkv, b, j, T, C3, C + h * hs + d));
          }
          z[j] = round_to_bits(s * scale);
        }
        softmax_row_plain(T, i + 1, z, &p[(size_t)i * T]);
      }
      for (uint32_t i = 0; i < T; ++i) {
        for (uint32_t d = 0; d < hs; ++d) {
          double o = 0.0;
          for (uint32_t j = 0; j < T; ++j) {
            o += d_of(p[(size_t)i * T + j]) * d_of(AT(qkv, b, j, T, C3, 2 * C + h * hs + d));
          }
          AT(out, b, i, T, C, h * hs + d) = round_to_bits(o);
        }
      }
    }
  }
  free(z);
  return 0;
}

int sparrow_ref_attention_bwd_plain(uint32_t B, uint32_t T, uint32_t C, uint32_t NH,
                                    const uint32_t *qkv, const uint32_t *att, const uint32_t *dout,
                                    uint32_t *dqkv) {
  if (B == 0 || T == 0 || NH == 0 || C == 0 || C % NH != 0) {
    return -1;
  }
  const uint32_t hs = C / NH, C3 = 3 * C;
  const double scale = 1.0 / sqrt((double)hs);
  double *g = malloc((size_t)T * T * sizeof(double));  // G = P (dP - dot) scale, [i][j], 0 masked
  if (g == NULL) {
    return -1;
  }
  for (uint32_t b = 0; b < B; ++b) {
    for (uint32_t h = 0; h < NH; ++h) {
      const uint32_t *p = &att[((size_t)b * NH + h) * T * T];
      const size_t qo = h * hs, ko = C + h * hs, vo = 2 * C + h * hs, oo = h * hs;
      for (uint32_t i = 0; i < T; ++i) {
        double *gi = &g[(size_t)i * T];
        double dot = 0.0;
        for (uint32_t j = 0; j <= i; ++j) {
          double dp = 0.0;  // dP[i][j] = dO[i] . V[j]
          for (uint32_t d = 0; d < hs; ++d) {
            dp += d_of(AT(dout, b, i, T, C, oo + d)) * d_of(AT(qkv, b, j, T, C3, vo + d));
          }
          gi[j] = dp;
          dot += d_of(p[(size_t)i * T + j]) * dp;
        }
        for (uint32_t j = 0; j < T; ++j) {
          gi[j] = j <= i ? d_of(p[(size_t)i * T + j]) * (gi[j] - dot) * scale : 0.0;
        }
      }
      for (uint32_t t = 0; t < T; ++t) {
        for (uint32_t d = 0; d < hs; ++d) {
          double dq = 0.0, dk = 0.0, dv = 0.0;
          for (uint32_t r = 0; r < T; ++r) {
            dq += g[(size_t)t * T + r] * d_of(AT(qkv, b, r, T, C3, ko + d));
            dk += g[(size_t)r * T + t] * d_of(AT(qkv, b, r, T, C3, qo + d));
            dv += d_of(p[(size_t)r * T + t]) * d_of(AT(dout, b, r, T, C, oo + d));
          }
          AT(dqkv, b, t, T, C3, qo + d) = round_to_bits(dq);
          AT(dqkv, b, t, T, C3, ko + d) = round_to_bits(dk);
          AT(dqkv, b, t, T, C3, vo + d) = round_to_bits(dv);
        }
      }
    }
  }
  free(g);
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// Double forwards (no rounding anywhere), for central finite differences.

void sparrow_ref_softmax_f64(uint32_t m, uint32_t n, const double *x, double *y) {
  for (uint32_t i = 0; i < m; ++i) {
    const double *xr = &x[(size_t)i * n];
    double mx = -INFINITY, s = 0.0;
    for (uint32_t j = 0; j < n; ++j) {
      mx = xr[j] > mx ? xr[j] : mx;
    }
    for (uint32_t j = 0; j < n; ++j) {
      s += exp(xr[j] - mx);
    }
    for (uint32_t j = 0; j < n; ++j) {
      y[(size_t)i * n + j] = exp(xr[j] - mx) / s;
    }
  }
}

int sparrow_ref_attention_f64(uint32_t B, uint32_t T, uint32_t C, uint32_t NH, const double *qkv,
                              double *out) {
  if (B == 0 || T == 0 || NH == 0 || C == 0 || C % NH != 0) {
    return -1;
  }
  const uint32_t hs = C / NH, C3 = 3 * C;
  const double scale = 1.0 / sqrt((double)hs);
  double *p = malloc((size_t)T * sizeof(double));
  if (p == NULL) {
    return -1;
  }
  for (uint32_t b = 0; b < B; ++b) {
    for (uint32_t h = 0; h < NH; ++h) {
      for (uint32_t i = 0; i < T; ++i) {
        double mx = -INFINITY, s = 0.0;
        for (uint32_t j = 0; j <= i; ++j) {
          double v = 0.0;
          for (uint32_t d = 0; d < hs; ++d) {
            v += AT(qkv, b, i, T, C3, h * hs + d) * AT(qkv, b, j, T, C3, C + h * hs + d);
          }
          p[j] = v * scale;
          mx = p[j] > mx ? p[j] : mx;
        }
        for (uint32_t j = 0; j <= i; ++j) {
          p[j] = exp(p[j] - mx);
          s += p[j];
        }
        for (uint32_t d = 0; d < hs; ++d) {
          double o = 0.0;
          for (uint32_t j = 0; j <= i; ++j) {
            o += p[j] / s * AT(qkv, b, j, T, C3, 2 * C + h * hs + d);
          }
          AT(out, b, i, T, C, h * hs + d) = o;
        }
      }
    }
  }
  free(p);
  return 0;
}
