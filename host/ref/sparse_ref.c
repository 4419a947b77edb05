// SPDX-License-Identifier: Apache-2.0
//
// CPU references of the block-sparse operators (see sparrow_ref.h). They work from W's dense form
// and block mask (driver/src/bsr.c), not from the ops library's packing, so that a packing or
// ordering mistake on the device side cannot hide in the reference.

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "sparrow_ref.h"

typedef struct dense_w {
  uint32_t rows, cols, b;
  float *v;       // rows x cols (absent blocks +0.0, never read)
  uint8_t *mask;  // block mask
} dense_w_t;

static void dense_free(dense_w_t *d) {
  free(d->v);
  free(d->mask);
}

static int dense_of(const sparrow_bsr_t *w, dense_w_t *d) {
  memset(d, 0, sizeof(*d));
  if (w == NULL) {
    return -1;
  }
  d->rows = w->rows;
  d->cols = w->cols;
  d->b = w->block;
  d->v = malloc((size_t)w->rows * w->cols * sizeof(float) + 1);
  d->mask = malloc((size_t)w->block_rows * w->block_cols + 1);
  if (d->v == NULL || d->mask == NULL || sparrow_bsr_to_dense(w, d->v, NULL, 0) != SPARROW_BSR_OK ||
      sparrow_bsr_mask(w, d->mask, NULL, 0) != SPARROW_BSR_OK) {
    dense_free(d);
    return -1;
  }
  return 0;
}

// W's element (k, n) as its bit pattern (copied, so every bit survives).
static uint32_t w_at(const dense_w_t *d, uint32_t k, uint32_t n) {
  uint32_t bits;
  memcpy(&bits, &d->v[(size_t)k * d->cols + n], sizeof(bits));
  return bits;
}

static int stored(const dense_w_t *d, uint32_t k, uint32_t n) {
  return d->mask[(size_t)(k / d->b) * (d->cols / d->b) + n / d->b] != 0;
}

static double as_double(uint32_t bits) {
  float f;
  memcpy(&f, &bits, sizeof(f));
  return (double)f;
}

static uint32_t to_bits(double v) {
  float f = (float)v;
  uint32_t bits;
  memcpy(&bits, &f, sizeof(bits));
  return bits;
}

int sparrow_ref_spmm_golden(uint32_t m, const uint32_t *x, const sparrow_bsr_t *w, uint32_t *y,
                            uint8_t *flags) {
  dense_w_t d;
  if (dense_of(w, &d) != 0) {
    return -1;
  }
  uint8_t local = 0;
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t n = 0; n < d.cols; ++n) {
      uint32_t acc = 0;  // +0.0
      for (uint32_t k = 0; k < d.rows; ++k) {
        if (stored(&d, k, n)) {
          uint32_t prod = sparrow_fp_mul(x[(size_t)i * d.rows + k], w_at(&d, k, n), &local);
          acc = sparrow_fp_add(acc, prod, &local);
        }
      }
      y[(size_t)i * d.cols + n] = acc;
    }
  }
  if (flags != NULL) {
    *flags |= local;
  }
  dense_free(&d);
  return 0;
}

int sparrow_ref_spmm_t_golden(uint32_t m, const uint32_t *dy, const sparrow_bsr_t *w, uint32_t *dx,
                              uint8_t *flags) {
  dense_w_t d;
  if (dense_of(w, &d) != 0) {
    return -1;
  }
  uint8_t local = 0;
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t k = 0; k < d.rows; ++k) {
      uint32_t acc = 0;
      for (uint32_t n = 0; n < d.cols; ++n) {
        if (stored(&d, k, n)) {
          uint32_t prod = sparrow_fp_mul(dy[(size_t)i * d.cols + n], w_at(&d, k, n), &local);
          acc = sparrow_fp_add(acc, prod, &local);
        }
      }
      dx[(size_t)i * d.rows + k] = acc;
    }
  }
  if (flags != NULL) {
    *flags |= local;
  }
  dense_free(&d);
  return 0;
}

int sparrow_ref_sddmm_golden(uint32_t m, const uint32_t *x, const uint32_t *dy,
                             const sparrow_bsr_t *w, uint32_t *dw, uint8_t *flags) {
  if (w == NULL || (w->nnz_blocks > 0 && (w->row_ptr == NULL || w->col_idx == NULL))) {
    return -1;
  }
  uint8_t local = 0;
  uint32_t b = w->block;
  for (uint32_t br = 0; br < w->block_rows; ++br) {
    for (uint32_t e = w->row_ptr[br]; e < w->row_ptr[br + 1]; ++e) {
      uint32_t bc = w->col_idx[e];
      for (uint32_t r = 0; r < b; ++r) {
        for (uint32_t c = 0; c < b; ++c) {
          uint32_t k = br * b + r, n = bc * b + c;
          uint32_t acc = 0;
          for (uint32_t i = 0; i < m; ++i) {
            uint32_t prod =
                sparrow_fp_mul(x[(size_t)i * w->rows + k], dy[(size_t)i * w->cols + n], &local);
            acc = sparrow_fp_add(acc, prod, &local);
          }
          dw[((size_t)e * b + r) * b + c] = acc;
        }
      }
    }
  }
  if (flags != NULL) {
    *flags |= local;
  }
  return 0;
}

int sparrow_ref_spmm_plain(uint32_t m, const uint32_t *x, const sparrow_bsr_t *w, uint32_t *y,
                           double *mag) {
  dense_w_t d;
  if (dense_of(w, &d) != 0) {
    return -1;
  }
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t n = 0; n < d.cols; ++n) {
      double sum = 0.0, abs_sum = 0.0;
      for (uint32_t k = 0; k < d.rows; ++k) {
        if (stored(&d, k, n)) {
          double term = as_double(x[(size_t)i * d.rows + k]) * as_double(w_at(&d, k, n));
          sum += term;
          abs_sum += fabs(term);
        }
      }
      y[(size_t)i * d.cols + n] = to_bits(sum);
      if (mag != NULL) {
        mag[(size_t)i * d.cols + n] = abs_sum;
      }
    }
  }
  dense_free(&d);
  return 0;
}

int sparrow_ref_spmm_t_plain(uint32_t m, const uint32_t *dy, const sparrow_bsr_t *w, uint32_t *dx,
                             double *mag) {
  dense_w_t d;
  if (dense_of(w, &d) != 0) {
    return -1;
  }
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t k = 0; k < d.rows; ++k) {
      double sum = 0.0, abs_sum = 0.0;
      for (uint32_t n = 0; n < d.cols; ++n) {
        if (stored(&d, k, n)) {
          double term = as_double(dy[(size_t)i * d.cols + n]) * as_double(w_at(&d, k, n));
          sum += term;
          abs_sum += fabs(term);
        }
      }
      dx[(size_t)i * d.rows + k] = to_bits(sum);
      if (mag != NULL) {
        mag[(size_t)i * d.rows + k] = abs_sum;
      }
    }
  }
  dense_free(&d);
  return 0;
}

int sparrow_ref_sddmm_plain(uint32_t m, const uint32_t *x, const uint32_t *dy,
                            const sparrow_bsr_t *w, uint32_t *dw, double *mag) {
  if (w == NULL || (w->nnz_blocks > 0 && (w->row_ptr == NULL || w->col_idx == NULL))) {
    return -1;
  }
  uint32_t b = w->block;
  for (uint32_t br = 0; br < w->block_rows; ++br) {
    for (uint32_t e = w->row_ptr[br]; e < w->row_ptr[br + 1]; ++e) {
      uint32_t bc = w->col_idx[e];
      for (uint32_t r = 0; r < b; ++r) {
        for (uint32_t c = 0; c < b; ++c) {
          uint32_t k = br * b + r, n = bc * b + c;
          double sum = 0.0, abs_sum = 0.0;
          for (uint32_t i = 0; i < m; ++i) {
            double term =
                as_double(x[(size_t)i * w->rows + k]) * as_double(dy[(size_t)i * w->cols + n]);
            sum += term;
            abs_sum += fabs(term);
          }
          size_t at = ((size_t)e * b + r) * b + c;
          dw[at] = to_bits(sum);
          if (mag != NULL) {
            mag[at] = abs_sum;
          }
        }
      }
    }
  }
  return 0;
}
