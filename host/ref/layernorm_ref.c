// SPDX-License-Identifier: Apache-2.0
//
// CPU references of the layernorm operator (sparrow_ref.h; host/ops/op_layernorm.c; docs/ops.md,
// "Layernorm and embedding"): the golden order, operation for operation what the device programs
// do (lane partial sums in ascending column order from +0.0, then the lane tree), and plain
// versions in double with their normwise error bounds.

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "../../sim/model/sparrow_fp_special.h"
#include "sparrow_ref.h"

#define SIGN_BIT 0x80000000u
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

static uint32_t round_to_bits(double v) {
  return float_to_bits((float)v);
}

static int lanes_ok(uint32_t lanes) {
  return lanes >= 1 && lanes <= SPARROW_FP_REDUCE_MAX_LANES && (lanes & (lanes - 1u)) == 0;
}

uint32_t sparrow_ref_layernorm_inv_c(uint32_t c) {
  return round_to_bits(1.0 / (double)c);
}

// The lane tree over per-lane partial sums.
static uint32_t tree_sum(uint32_t lanes, const uint32_t *part, uint8_t *flags) {
  uint32_t sum = 0;
  // lanes was checked by the caller: the reduction cannot fail (and leaves +0.0 if it did).
  if (sparrow_fp_reduce_sum(lanes, part, &sum, flags) != SPARROW_FP_REDUCE_OK) {
    sum = 0;
  }
  return sum;
}

// ---------------------------------------------------------------------------------------------------
// Golden order.

int sparrow_ref_layernorm_golden(uint32_t lanes, uint32_t m, uint32_t c, const uint32_t *x,
                                 const uint32_t *gamma, const uint32_t *beta, uint32_t *y,
                                 uint32_t *mean, uint32_t *rstd, uint8_t *flags) {
  if (!lanes_ok(lanes) || c == 0) {
    return -1;
  }
  uint32_t part[SPARROW_FP_REDUCE_MAX_LANES];
  uint32_t inv_c = sparrow_ref_layernorm_inv_c(c);
  uint8_t local = 0;
  for (uint32_t r = 0; r < m; ++r) {
    const uint32_t *xr = x + (size_t)r * c;
    // Mean: lane l sums columns l, l + lanes, ... from +0.0; then the tree.
    for (uint32_t l = 0; l < lanes; ++l) {
      part[l] = 0;
      for (uint32_t j = l; j < c; j += lanes) {
        part[l] = sparrow_fp_add(part[l], xr[j], &local);
      }
    }
    uint32_t mu = sparrow_fp_mul(tree_sum(lanes, part, &local), inv_c, &local);
    // Variance of the deviations, the same way.
    for (uint32_t l = 0; l < lanes; ++l) {
      part[l] = 0;
      for (uint32_t j = l; j < c; j += lanes) {
        uint32_t d = sparrow_fp_add(xr[j], mu ^ SIGN_BIT, &local);
        part[l] = sparrow_fp_add(part[l], sparrow_fp_mul(d, d, &local), &local);
      }
    }
    uint32_t var = sparrow_fp_mul(tree_sum(lanes, part, &local), inv_c, &local);
    uint32_t rs = sparrow_fp_rsqrt(sparrow_fp_add(var, SPARROW_REF_LN_EPS, &local), &local);
    for (uint32_t j = 0; j < c; ++j) {
      uint32_t v = sparrow_fp_add(xr[j], mu ^ SIGN_BIT, &local);
      v = sparrow_fp_mul(v, rs, &local);
      v = sparrow_fp_mul(v, gamma[j], &local);
      y[(size_t)r * c + j] = sparrow_fp_add(v, beta[j], &local);
    }
    mean[r] = mu;
    rstd[r] = rs;
  }
  if (flags != NULL) {
    *flags |= local;
  }
  return 0;
}

int sparrow_ref_layernorm_bwd_golden(uint32_t lanes, uint32_t m, uint32_t c, const uint32_t *x,
                                     const uint32_t *gamma, const uint32_t *mean,
                                     const uint32_t *rstd, const uint32_t *dy, uint32_t *dx,
                                     uint32_t *dgamma, uint32_t *dbeta, uint8_t *flags) {
  if (!lanes_ok(lanes) || c == 0) {
    return -1;
  }
  uint32_t pa[SPARROW_FP_REDUCE_MAX_LANES], pb[SPARROW_FP_REDUCE_MAX_LANES];
  uint32_t inv_c = sparrow_ref_layernorm_inv_c(c);
  uint8_t local = 0;
  for (uint32_t j = 0; j < c; ++j) {
    dgamma[j] = 0;
    dbeta[j] = 0;
  }
  for (uint32_t r = 0; r < m; ++r) {
    const uint32_t *xr = x + (size_t)r * c, *dyr = dy + (size_t)r * c;
    uint32_t mu = mean[r], rs = rstd[r];
    // Pass 0: per lane, sums of g = gamma * dy and of g * n, n = (x - mean) * rstd.
    for (uint32_t l = 0; l < lanes; ++l) {
      pa[l] = pb[l] = 0;
      for (uint32_t j = l; j < c; j += lanes) {
        uint32_t n = sparrow_fp_mul(sparrow_fp_add(xr[j], mu ^ SIGN_BIT, &local), rs, &local);
        uint32_t g = sparrow_fp_mul(gamma[j], dyr[j], &local);
        pa[l] = sparrow_fp_add(pa[l], g, &local);
        pb[l] = sparrow_fp_add(pb[l], sparrow_fp_mul(g, n, &local), &local);
      }
    }
    uint32_t m1 = sparrow_fp_mul(tree_sum(lanes, pa, &local), inv_c, &local);
    uint32_t m2 = sparrow_fp_mul(tree_sum(lanes, pb, &local), inv_c, &local);
    // Pass 1: dx = ((g - m1) - n * m2) * rstd.
    for (uint32_t j = 0; j < c; ++j) {
      uint32_t n = sparrow_fp_mul(sparrow_fp_add(xr[j], mu ^ SIGN_BIT, &local), rs, &local);
      uint32_t g = sparrow_fp_mul(gamma[j], dyr[j], &local);
      uint32_t t = sparrow_fp_add(g, m1 ^ SIGN_BIT, &local);
      uint32_t u = sparrow_fp_mul(n, m2, &local);
      t = sparrow_fp_add(t, u ^ SIGN_BIT, &local);
      dx[(size_t)r * c + j] = sparrow_fp_mul(t, rs, &local);
    }
  }
  // Column sums over the rows in ascending order, one accumulator per column from +0.0 (done in
  // the row loop's order here: row r's term is added after row r - 1's in every column).
  for (uint32_t r = 0; r < m; ++r) {
    const uint32_t *xr = x + (size_t)r * c, *dyr = dy + (size_t)r * c;
    for (uint32_t j = 0; j < c; ++j) {
      uint32_t n =
          sparrow_fp_mul(sparrow_fp_add(xr[j], mean[r] ^ SIGN_BIT, &local), rstd[r], &local);
      dgamma[j] = sparrow_fp_add(dgamma[j], sparrow_fp_mul(dyr[j], n, &local), &local);
      dbeta[j] = sparrow_fp_add(dbeta[j], dyr[j], &local);
    }
  }
  if (flags != NULL) {
    *flags |= local;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------------
// In double.

void sparrow_ref_layernorm_f64(uint32_t m, uint32_t c, const double *x, const double *gamma,
                               const double *beta, double *y, double *mean, double *rstd) {
  const double eps = d_of(SPARROW_REF_LN_EPS);
  for (uint32_t r = 0; r < m; ++r) {
    const double *xr = x + (size_t)r * c;
    double s = 0.0;
    for (uint32_t j = 0; j < c; ++j) {
      s += xr[j];
    }
    double mu = s / c;
    double v = 0.0;
    for (uint32_t j = 0; j < c; ++j) {
      v += (xr[j] - mu) * (xr[j] - mu);
    }
    double rs = 1.0 / sqrt(v / c + eps);
    for (uint32_t j = 0; j < c; ++j) {
      y[(size_t)r * c + j] = (xr[j] - mu) * rs * gamma[j] + beta[j];
    }
    mean[r] = mu;
    rstd[r] = rs;
  }
}

void sparrow_ref_layernorm_bwd_f64(uint32_t m, uint32_t c, const double *x, const double *gamma,
                                   const double *mean, const double *rstd, const double *dy,
                                   double *dx, double *dgamma, double *dbeta) {
  for (uint32_t j = 0; j < c; ++j) {
    dgamma[j] = dbeta[j] = 0.0;
  }
  for (uint32_t r = 0; r < m; ++r) {
    const double *xr = x + (size_t)r * c, *dyr = dy + (size_t)r * c;
    double a = 0.0, b = 0.0;
    for (uint32_t j = 0; j < c; ++j) {
      double n = (xr[j] - mean[r]) * rstd[r];
      double g = gamma[j] * dyr[j];
      a += g;
      b += g * n;
      dgamma[j] += dyr[j] * n;
      dbeta[j] += dyr[j];
    }
    a /= c;
    b /= c;
    for (uint32_t j = 0; j < c; ++j) {
      double n = (xr[j] - mean[r]) * rstd[r];
      dx[(size_t)r * c + j] = (gamma[j] * dyr[j] - a - n * b) * rstd[r];
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Plain: the binary32 inputs in double, rounded once, with the normwise bounds of docs/ops.md.

static double *to_f64(size_t count, const uint32_t *bits) {
  double *v = malloc((count == 0 ? 1 : count) * sizeof(double));
  for (size_t i = 0; v != NULL && i < count; ++i) {
    v[i] = d_of(bits[i]);
  }
  return v;
}

// u * ||bound|| / ||ref|| + u over the elements where both are finite (the final u: the plain
// reference's own rounding to binary32); 0 when every bound is 0, infinity when ref is 0 there but
// the bound is not.
static double norm_bound(size_t count, const double *bound, const double *ref) {
  double b2 = 0.0, r2 = 0.0;
  for (size_t i = 0; i < count; ++i) {
    if (isfinite(bound[i]) && isfinite(ref[i])) {
      b2 += bound[i] * bound[i];
      r2 += ref[i] * ref[i];
    }
  }
  if (b2 == 0.0) {
    return U;
  }
  return r2 == 0.0 ? INFINITY : U * sqrt(b2) / sqrt(r2) + U;
}

int sparrow_ref_layernorm_plain(uint32_t m, uint32_t c, const uint32_t *x, const uint32_t *gamma,
                                const uint32_t *beta, uint32_t *y, uint32_t *mean, uint32_t *rstd,
                                double tol[3]) {
  size_t mc = (size_t)m * c;
  double *xd = to_f64(mc, x), *gd = to_f64(c, gamma), *bd = to_f64(c, beta);
  double *yd = malloc((mc + 1) * sizeof(double)), *ey = malloc((mc + 1) * sizeof(double));
  double *md = malloc((m + 1u) * sizeof(double)), *rd = malloc((m + 1u) * sizeof(double));
  double *em = malloc((m + 1u) * sizeof(double)), *er = malloc((m + 1u) * sizeof(double));
  int status = -1;
  if (xd != NULL && gd != NULL && bd != NULL && yd != NULL && ey != NULL && md != NULL &&
      rd != NULL && em != NULL && er != NULL) {
    sparrow_ref_layernorm_f64(m, c, xd, gd, bd, yd, md, rd);
    for (size_t i = 0; i < mc; ++i) {
      y[i] = round_to_bits(yd[i]);
    }
    const double cc = (double)c;
    for (uint32_t r = 0; r < m; ++r) {
      mean[r] = round_to_bits(md[r]);
      rstd[r] = round_to_bits(rd[r]);
      // First-order error bounds of the golden sequence, in units of u (docs/ops.md): A the
      // mean absolute value, a = A * rstd the mean's error scale relative to the deviation.
      double abs_sum = 0.0;
      for (uint32_t j = 0; j < c; ++j) {
        abs_sum += fabs(xd[(size_t)r * c + j]);
      }
      double A = abs_sum / cc, a = A * rd[r];
      double rho = (cc / 2 + 8) + (cc + 1) * a + (cc + 1) * (cc + 1) * U * a * a;
      em[r] = (cc + 2) * A;
      er[r] = rho * rd[r];
      for (uint32_t j = 0; j < c; ++j) {
        size_t e = (size_t)r * c + j;
        double n = (xd[e] - md[r]) * rd[r];
        ey[e] = fabs(gd[j]) * ((cc + 2) * a + fabs(n) * (rho + 2)) + 2 * fabs(yd[e]);
      }
    }
    if (tol != NULL) {
      tol[0] = norm_bound(mc, ey, yd);
      tol[1] = norm_bound(m, em, md);
      tol[2] = norm_bound(m, er, rd);
    }
    status = 0;
  }
  free(xd), free(gd), free(bd), free(yd), free(ey), free(md), free(rd), free(em), free(er);
  return status;
}

int sparrow_ref_layernorm_bwd_plain(uint32_t m, uint32_t c, const uint32_t *x,
                                    const uint32_t *gamma, const uint32_t *mean,
                                    const uint32_t *rstd, const uint32_t *dy, uint32_t *dx,
                                    uint32_t *dgamma, uint32_t *dbeta, double tol[3]) {
  size_t mc = (size_t)m * c;
  double *xd = to_f64(mc, x), *gd = to_f64(c, gamma), *md = to_f64(m, mean), *rd = to_f64(m, rstd);
  double *dyd = to_f64(mc, dy);
  double *dxd = malloc((mc + 1) * sizeof(double)), *ex = malloc((mc + 1) * sizeof(double));
  double *dgd = malloc((c + 1u) * sizeof(double)), *dbd = malloc((c + 1u) * sizeof(double));
  double *eg = calloc(c + 1u, sizeof(double)), *eb = calloc(c + 1u, sizeof(double));
  int status = -1;
  if (xd != NULL && gd != NULL && md != NULL && rd != NULL && dyd != NULL && dxd != NULL &&
      ex != NULL && dgd != NULL && dbd != NULL && eg != NULL && eb != NULL) {
    sparrow_ref_layernorm_bwd_f64(m, c, xd, gd, md, rd, dyd, dxd, dgd, dbd);
    for (size_t i = 0; i < mc; ++i) {
      dx[i] = round_to_bits(dxd[i]);
    }
    for (uint32_t j = 0; j < c; ++j) {
      dgamma[j] = round_to_bits(dgd[j]);
      dbeta[j] = round_to_bits(dbd[j]);
    }
    const double cc = (double)c, mm = (double)m;
    for (uint32_t r = 0; r < m; ++r) {
      double a1 = 0.0, a2 = 0.0, m1 = 0.0, m2 = 0.0;
      for (uint32_t j = 0; j < c; ++j) {
        size_t e = (size_t)r * c + j;
        double n = (xd[e] - md[r]) * rd[r], g = gd[j] * dyd[e];
        a1 += fabs(g);
        a2 += fabs(g * n);
        m1 += g;
        m2 += g * n;
        eg[j] += (mm + 3) * fabs(dyd[e] * n);
        eb[j] += (mm + 1) * fabs(dyd[e]);
      }
      a1 /= cc, a2 /= cc, m1 /= cc, m2 /= cc;
      for (uint32_t j = 0; j < c; ++j) {
        size_t e = (size_t)r * c + j;
        double n = (xd[e] - md[r]) * rd[r], g = gd[j] * dyd[e];
        double t = g - m1 - n * m2;
        ex[e] = fabs(rd[r]) * (2 * fabs(g) + (cc + 3) * a1 + fabs(n) * (cc + 8) * a2 + fabs(t)) +
                fabs(dxd[e]);
      }
    }
    if (tol != NULL) {
      tol[0] = norm_bound(mc, ex, dxd);
      tol[1] = norm_bound(c, eg, dgd);
      tol[2] = norm_bound(c, eb, dbd);
    }
    status = 0;
  }
  free(xd), free(gd), free(md), free(rd), free(dyd), free(dxd), free(ex), free(dgd), free(dbd);
  free(eg), free(eb);
  return status;
}
