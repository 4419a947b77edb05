// SPDX-License-Identifier: Apache-2.0
//
// CPU reference GEMMs and comparisons (see sparrow_ref.h).

#include <math.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "sparrow_ref.h"

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

void sparrow_ref_gemm_golden(uint32_t m, uint32_t n, uint32_t k, const uint32_t *a,
                             const uint32_t *b, uint32_t *c, uint8_t *flags) {
  uint8_t local = 0;
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t j = 0; j < n; ++j) {
      uint32_t acc = 0;  // +0.0
      for (uint32_t kk = 0; kk < k; ++kk) {
        uint32_t prod = sparrow_fp_mul(a[(size_t)i * k + kk], b[(size_t)kk * n + j], &local);
        acc = sparrow_fp_add(acc, prod, &local);
      }
      c[(size_t)i * n + j] = acc;
    }
  }
  if (flags != NULL) {
    *flags |= local;
  }
}

void sparrow_ref_gemm_plain(uint32_t m, uint32_t n, uint32_t k, const uint32_t *a,
                            const uint32_t *b, uint32_t *c, double *mag) {
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t j = 0; j < n; ++j) {
      double sum = 0.0;
      double abs_sum = 0.0;
      for (uint32_t kk = 0; kk < k; ++kk) {
        double term = (double)bits_to_float(a[(size_t)i * k + kk]) *
                      (double)bits_to_float(b[(size_t)kk * n + j]);
        sum += term;
        abs_sum += fabs(term);
      }
      c[(size_t)i * n + j] = float_to_bits((float)sum);
      if (mag != NULL) {
        mag[(size_t)i * n + j] = abs_sum;
      }
    }
  }
}

size_t sparrow_ref_count_mismatches(size_t count, const uint32_t *x, const uint32_t *y) {
  size_t diff = 0;
  for (size_t i = 0; i < count; ++i) {
    diff += x[i] != y[i];
  }
  return diff;
}

double sparrow_ref_max_rel_err(size_t count, const uint32_t *x, const uint32_t *ref,
                               const double *mag) {
  double worst = 0.0;
  for (size_t i = 0; i < count; ++i) {
    double xv = bits_to_float(x[i]);
    double rv = bits_to_float(ref[i]);
    double err;
    if (isnan(xv) || isnan(rv)) {
      err = (isnan(xv) && isnan(rv)) ? 0.0 : INFINITY;
    } else if (xv == rv) {
      err = 0.0;
    } else if (mag[i] > 0.0 && isfinite(mag[i])) {
      err = fabs(xv - rv) / mag[i];
    } else {
      err = INFINITY;
    }
    if (!(err <= worst)) {
      worst = err;
    }
  }
  return worst;
}

double sparrow_ref_gemm_tolerance(uint32_t k) {
  return ((double)k + 2.0) * ldexp(1.0, -24);
}

uint64_t sparrow_ref_fnv1a64(size_t count, const uint32_t *words) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < count; ++i) {
    for (int byte = 0; byte < 4; ++byte) {
      hash ^= (words[i] >> (8 * byte)) & 0xFFu;
      hash *= 0x100000001b3ull;
    }
  }
  return hash;
}

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void sparrow_ref_fill_uniform(uint64_t seed, size_t count, uint32_t *words) {
  uint64_t state = seed;
  for (size_t i = 0; i < count; ++i) {
    // 24 random bits r: (r - 2^23) / 2^23 is exact in binary32 and lies in [-1, 1).
    int32_t r = (int32_t)(splitmix64(&state) >> 40) - (1 << 23);
    words[i] = float_to_bits((float)ldexp((double)r, -23));
  }
}
