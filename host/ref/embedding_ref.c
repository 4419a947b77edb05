// SPDX-License-Identifier: Apache-2.0
//
// CPU references of the token + position embedding (sparrow_ref.h; host/ops/op_embedding.c;
// docs/ops.md, "Layernorm and embedding"): golden order (one add per element forward; the
// backward's sums in ascending row order from +0.0), double versions for the gradient check, and
// plain versions with their normwise bounds.

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "sparrow_ref.h"

#define U 0x1p-24  // the unit roundoff of binary32

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

static int tokens_ok(uint32_t n, uint32_t V, const uint32_t *tokens) {
  for (uint32_t i = 0; i < n; ++i) {
    if (tokens[i] >= V) {
      return 0;
    }
  }
  return 1;
}

int sparrow_ref_embedding_golden(uint32_t B, uint32_t T, uint32_t V, uint32_t C,
                                 const uint32_t *tokens, const uint32_t *wte, const uint32_t *wpe,
                                 uint32_t *x, uint8_t *flags) {
  uint32_t n = B * T;
  if (!tokens_ok(n, V, tokens)) {
    return -1;
  }
  uint8_t local = 0;
  for (uint32_t r = 0; r < n; ++r) {
    const uint32_t *we = wte + (size_t)tokens[r] * C, *pe = wpe + (size_t)(r % T) * C;
    for (uint32_t j = 0; j < C; ++j) {
      x[(size_t)r * C + j] = sparrow_fp_add(we[j], pe[j], &local);
    }
  }
  if (flags != NULL) {
    *flags |= local;
  }
  return 0;
}

int sparrow_ref_embedding_bwd_golden(uint32_t B, uint32_t T, uint32_t V, uint32_t C,
                                     const uint32_t *tokens, const uint32_t *dx, uint32_t *dwte,
                                     uint32_t *dwpe, uint8_t *flags) {
  uint32_t n = B * T;
  if (!tokens_ok(n, V, tokens)) {
    return -1;
  }
  uint8_t local = 0;
  memset(dwte, 0, (size_t)V * C * sizeof(uint32_t));  // +0.0: also the rows no token uses
  memset(dwpe, 0, (size_t)T * C * sizeof(uint32_t));
  // Rows in ascending order (b, t): every accumulator takes its terms in that order.
  for (uint32_t r = 0; r < n; ++r) {
    uint32_t *we = dwte + (size_t)tokens[r] * C, *pe = dwpe + (size_t)(r % T) * C;
    const uint32_t *d = dx + (size_t)r * C;
    for (uint32_t j = 0; j < C; ++j) {
      we[j] = sparrow_fp_add(we[j], d[j], &local);
      pe[j] = sparrow_fp_add(pe[j], d[j], &local);
    }
  }
  if (flags != NULL) {
    *flags |= local;
  }
  return 0;
}

void sparrow_ref_embedding_f64(uint32_t B, uint32_t T, uint32_t C, const uint32_t *tokens,
                               const double *wte, const double *wpe, double *x) {
  for (uint32_t r = 0; r < B * T; ++r) {
    for (uint32_t j = 0; j < C; ++j) {
      x[(size_t)r * C + j] = wte[(size_t)tokens[r] * C + j] + wpe[(size_t)(r % T) * C + j];
    }
  }
}

void sparrow_ref_embedding_bwd_f64(uint32_t B, uint32_t T, uint32_t V, uint32_t C,
                                   const uint32_t *tokens, const double *dx, double *dwte,
                                   double *dwpe) {
  for (size_t i = 0; i < (size_t)V * C; ++i) {
    dwte[i] = 0.0;
  }
  for (size_t i = 0; i < (size_t)T * C; ++i) {
    dwpe[i] = 0.0;
  }
  for (uint32_t r = 0; r < B * T; ++r) {
    for (uint32_t j = 0; j < C; ++j) {
      dwte[(size_t)tokens[r] * C + j] += dx[(size_t)r * C + j];
      dwpe[(size_t)(r % T) * C + j] += dx[(size_t)r * C + j];
    }
  }
}

int sparrow_ref_embedding_plain(uint32_t B, uint32_t T, uint32_t V, uint32_t C,
                                const uint32_t *tokens, const uint32_t *wte, const uint32_t *wpe,
                                uint32_t *x) {
  if (!tokens_ok(B * T, V, tokens)) {
    return -1;
  }
  for (uint32_t r = 0; r < B * T; ++r) {
    for (uint32_t j = 0; j < C; ++j) {
      double v = d_of(wte[(size_t)tokens[r] * C + j]) + d_of(wpe[(size_t)(r % T) * C + j]);
      x[(size_t)r * C + j] = float_to_bits((float)v);
    }
  }
  return 0;
}

// u * ||bound|| / ||ref|| + u over the finite elements (the bound of a sum of k terms is
// (k + 1) * sum |terms|: gamma_k of recursive summation and the plain reference's rounding).
static double sums_bound(size_t count, const double *abs_sum, const double *terms,
                         const double *ref) {
  double b2 = 0.0, r2 = 0.0;
  for (size_t i = 0; i < count; ++i) {
    double b = (terms[i] + 1.0) * abs_sum[i];
    if (isfinite(b) && isfinite(ref[i])) {
      b2 += b * b;
      r2 += ref[i] * ref[i];
    }
  }
  if (b2 == 0.0) {
    return U;
  }
  return r2 == 0.0 ? INFINITY : U * sqrt(b2) / sqrt(r2) + U;
}

int sparrow_ref_embedding_bwd_plain(uint32_t B, uint32_t T, uint32_t V, uint32_t C,
                                    const uint32_t *tokens, const uint32_t *dx, uint32_t *dwte,
                                    uint32_t *dwpe, double tol[2]) {
  uint32_t n = B * T;
  if (!tokens_ok(n, V, tokens)) {
    return -1;
  }
  size_t nc = (size_t)n * C, vc = (size_t)V * C, tc = (size_t)T * C;
  double *d = malloc((nc + 1) * sizeof(double)), *we = malloc((vc + 1) * sizeof(double));
  double *pe = malloc((tc + 1) * sizeof(double)), *wa = calloc(vc + 1, sizeof(double));
  double *pa = calloc(tc + 1, sizeof(double)), *wk = calloc(vc + 1, sizeof(double));
  double *pk = calloc(tc + 1, sizeof(double));
  int status = -1;
  if (d != NULL && we != NULL && pe != NULL && wa != NULL && pa != NULL && wk != NULL &&
      pk != NULL) {
    for (size_t i = 0; i < nc; ++i) {
      d[i] = d_of(dx[i]);
    }
    sparrow_ref_embedding_bwd_f64(B, T, V, C, tokens, d, we, pe);
    for (uint32_t r = 0; r < n; ++r) {
      for (uint32_t j = 0; j < C; ++j) {
        size_t w = (size_t)tokens[r] * C + j, p = (size_t)(r % T) * C + j;
        double a = fabs(d[(size_t)r * C + j]);
        wa[w] += a;
        wk[w] += 1.0;
        pa[p] += a;
        pk[p] += 1.0;
      }
    }
    for (size_t i = 0; i < vc; ++i) {
      dwte[i] = float_to_bits((float)we[i]);
    }
    for (size_t i = 0; i < tc; ++i) {
      dwpe[i] = float_to_bits((float)pe[i]);
    }
    if (tol != NULL) {
      tol[0] = sums_bound(vc, wa, wk, we);
      tol[1] = sums_bound(tc, pa, pk, pe);
    }
    status = 0;
  }
  free(d), free(we), free(pe), free(wa), free(pa), free(wk), free(pk);
  return status;
}
