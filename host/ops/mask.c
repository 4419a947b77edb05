// SPDX-License-Identifier: Apache-2.0
//
// Block-mask generators (sparrow_mask.h, docs/sparsity.md): balanced random and magnitude top-k per
// block column, and the density parser.

#include "sparrow_mask.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sparrow_mask_status_name(sparrow_mask_status_t status) {
  switch (status) {
    case SPARROW_MASK_OK:
      return "ok";
    case SPARROW_MASK_E_ARG:
      return "bad argument";
    case SPARROW_MASK_E_NOMEM:
      return "out of memory";
    case SPARROW_MASK_E_NAN:
      return "NaN in the weights";
  }
  return "unknown status";
}

__attribute__((format(printf, 4, 5))) static sparrow_mask_status_t fail(
    sparrow_mask_status_t status, char *msg, size_t msg_len, const char *fmt, ...) {
  if (msg != NULL && msg_len > 0) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, msg_len, fmt, args);
    va_end(args);
  }
  return status;
}

bool sparrow_mask_density_supported(uint32_t denominator) {
  return denominator == 1 || denominator == 2 || denominator == 4 || denominator == 8 ||
         denominator == 16;
}

uint32_t sparrow_mask_blocks_per_col(uint32_t block_rows, uint32_t denominator) {
  if (block_rows == 0 || !sparrow_mask_density_supported(denominator)) {
    return 0;
  }
  // round(block_rows / denominator), halves up, in integers; 64 bits so that the addition cannot
  // wrap for block_rows near 2^32.
  uint64_t k = ((uint64_t)block_rows + denominator / 2) / denominator;
  return k == 0 ? 1 : (uint32_t)k;
}

static sparrow_mask_status_t check_density(uint32_t denominator, char *msg, size_t msg_len) {
  if (sparrow_mask_density_supported(denominator)) {
    return SPARROW_MASK_OK;
  }
  return fail(SPARROW_MASK_E_ARG, msg, msg_len,
              "density 1/%" PRIu32 " is not supported (1, 1/2, 1/4, 1/8 or 1/16)", denominator);
}

// ------------------------------------------------------------------------------------------------
// Density parsing, exactly: the text is read as a fraction p/q of integers and accepted when
// p * D == q for a supported D. Integers keep "0.3" from being rounded into a valid density.

// Reads decimal digits into *value (and 10^digits into *scale); returns how many it read, 0 when
// there are none or more than max_digits (the caller then finds a digit where it expects an end).
static size_t read_digits(const char *s, size_t max_digits, uint64_t *value, uint64_t *scale) {
  *value = 0;
  *scale = 1;
  size_t n = 0;
  while (s[n] >= '0' && s[n] <= '9') {
    if (n == max_digits) {
      *value = 0;
      *scale = 1;
      return 0;
    }
    *value = *value * 10 + (uint64_t)(s[n] - '0');
    *scale *= 10;
    n++;
  }
  return n;
}

sparrow_mask_status_t sparrow_mask_parse_density(const char *text, uint32_t *denominator, char *msg,
                                                 size_t msg_len) {
  if (text == NULL || denominator == NULL) {
    return fail(SPARROW_MASK_E_ARG, msg, msg_len, "parse_density: NULL argument");
  }
  // At most 15 digits per part: 2 * 10^15 * 16 still fits in 64 bits.
  enum { kMaxDigits = 15 };
  uint64_t int_part, int_scale;
  size_t int_digits = read_digits(text, kMaxDigits, &int_part, &int_scale);
  const char *end = text + int_digits;
  uint64_t num = int_part;
  uint64_t den = 1;
  bool well_formed;
  if (*end == '/') {
    uint64_t unused_scale;
    size_t den_digits = read_digits(end + 1, kMaxDigits, &den, &unused_scale);
    well_formed = int_digits > 0 && den_digits > 0 && den > 0;
    end += 1 + den_digits;
  } else if (*end == '.') {
    uint64_t frac, frac_scale;
    size_t frac_digits = read_digits(end + 1, kMaxDigits, &frac, &frac_scale);
    well_formed = int_digits + frac_digits > 0;
    // An integer part above 1 cannot be a density: num 0 matches none, and the sum cannot wrap.
    num = int_part > 1 ? 0 : int_part * frac_scale + frac;
    den = frac_scale;
    end += 1 + frac_digits;
  } else {
    well_formed = int_digits > 0;
  }
  if (!well_formed || *end != '\0') {
    return fail(SPARROW_MASK_E_ARG, msg, msg_len,
                "density '%s' is not a number or fraction (1, 1/2, 0.5, 1/4, 0.25, 1/8, 0.125, "
                "1/16, 0.0625)",
                text);
  }
  for (uint32_t d = 1; d <= 16; d *= 2) {
    if (num * d == den) {
      *denominator = d;
      return SPARROW_MASK_OK;
    }
  }
  return fail(SPARROW_MASK_E_ARG, msg, msg_len,
              "density '%s' is not supported (1, 1/2, 1/4, 1/8 or 1/16)", text);
}

// ------------------------------------------------------------------------------------------------
// Balanced random masks.

// SplitMix64: small, fast, and fully specified here, so a seed means the same mask everywhere.
static uint64_t next_random(uint64_t *state) {
  *state += 0x9E3779B97F4A7C15u;
  uint64_t z = *state;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  return z ^ (z >> 31);
}

// Uniform in [0, bound): raw values below 2^64 mod bound are rejected, since keeping them would
// favour the low results.
static uint32_t random_below(uint64_t *state, uint32_t bound) {
  uint64_t threshold = (0 - (uint64_t)bound) % bound;
  for (;;) {
    uint64_t x = next_random(state);
    if (x >= threshold) {
      return (uint32_t)(x % bound);
    }
  }
}

sparrow_mask_status_t sparrow_mask_balanced_random(uint32_t block_rows, uint32_t block_cols,
                                                   uint32_t denominator, uint64_t seed,
                                                   uint8_t *mask, char *msg, size_t msg_len) {
  if (mask == NULL) {
    return fail(SPARROW_MASK_E_ARG, msg, msg_len, "balanced_random: mask is NULL");
  }
  if (block_rows == 0 || block_cols == 0) {
    return fail(SPARROW_MASK_E_ARG, msg, msg_len,
                "balanced_random: %" PRIu32 "x%" PRIu32 " blocks (must be non-zero)", block_rows,
                block_cols);
  }
  sparrow_mask_status_t status = check_density(denominator, msg, msg_len);
  if (status != SPARROW_MASK_OK) {
    return status;
  }
  uint32_t *rows = malloc((size_t)block_rows * sizeof *rows);
  if (rows == NULL) {
    return fail(SPARROW_MASK_E_NOMEM, msg, msg_len, "balanced_random: out of memory");
  }
  uint32_t k = sparrow_mask_blocks_per_col(block_rows, denominator);
  size_t stride = block_cols;
  memset(mask, 0, (size_t)block_rows * stride);
  uint64_t state = seed;
  for (size_t c = 0; c < block_cols; c++) {
    // The first k steps of a Fisher-Yates shuffle: a uniformly chosen k-subset of the rows.
    for (uint32_t r = 0; r < block_rows; r++) {
      rows[r] = r;
    }
    for (uint32_t i = 0; i < k; i++) {
      uint32_t j = i + random_below(&state, block_rows - i);
      uint32_t chosen = rows[j];
      rows[j] = rows[i];
      rows[i] = chosen;
      mask[(size_t)chosen * stride + c] = 1;
    }
  }
  free(rows);
  return SPARROW_MASK_OK;
}

// ------------------------------------------------------------------------------------------------
// Magnitude masks.

typedef struct scored_block {
  double score;
  uint32_t row;
} scored_block_t;

// Larger score first; equal scores by ascending block row (scores are never NaN here).
static int by_score_then_row(const void *a, const void *b) {
  const scored_block_t *x = a;
  const scored_block_t *y = b;
  if (x->score != y->score) {
    return x->score > y->score ? -1 : 1;
  }
  return x->row < y->row ? -1 : (x->row > y->row);
}

sparrow_mask_status_t sparrow_mask_magnitude(const float *dense, uint32_t rows, uint32_t cols,
                                             uint32_t block, uint32_t denominator, uint8_t *mask,
                                             char *msg, size_t msg_len) {
  if (dense == NULL || mask == NULL) {
    return fail(SPARROW_MASK_E_ARG, msg, msg_len, "magnitude: %s is NULL",
                dense == NULL ? "dense" : "mask");
  }
  if (block == 0 || rows == 0 || cols == 0 || rows % block != 0 || cols % block != 0) {
    return fail(SPARROW_MASK_E_ARG, msg, msg_len,
                "magnitude: %" PRIu32 "x%" PRIu32 " is not made of whole %" PRIu32 "x%" PRIu32
                " blocks",
                rows, cols, block, block);
  }
  sparrow_mask_status_t status = check_density(denominator, msg, msg_len);
  if (status != SPARROW_MASK_OK) {
    return status;
  }
  size_t b = block;
  size_t block_rows = rows / block;
  size_t block_cols = cols / block;
  // All scores first: a NaN anywhere must leave the mask untouched.
  double *scores = malloc(block_rows * block_cols * sizeof *scores);
  scored_block_t *column = malloc(block_rows * sizeof *column);
  if (scores == NULL || column == NULL) {
    free(scores);
    free(column);
    return fail(SPARROW_MASK_E_NOMEM, msg, msg_len, "magnitude: out of memory");
  }
  for (size_t r = 0; r < block_rows; r++) {
    for (size_t c = 0; c < block_cols; c++) {
      double sum = 0.0;
      for (size_t i = 0; i < b; i++) {
        const float *row = dense + (r * b + i) * cols + c * b;
        for (size_t j = 0; j < b; j++) {
          double v = row[j];
          sum += v * v;
        }
      }
      if (isnan(sum)) {
        free(scores);
        free(column);
        return fail(SPARROW_MASK_E_NAN, msg, msg_len,
                    "magnitude: block (row %zu, column %zu) has a NaN score (NaN in the weights)",
                    r, c);
      }
      scores[r * block_cols + c] = sum;
    }
  }
  uint32_t k = sparrow_mask_blocks_per_col((uint32_t)block_rows, denominator);
  memset(mask, 0, block_rows * block_cols);
  for (size_t c = 0; c < block_cols; c++) {
    for (size_t r = 0; r < block_rows; r++) {
      column[r] = (scored_block_t){scores[r * block_cols + c], (uint32_t)r};
    }
    // The comparator is a total order (row breaks every tie), so qsort's instability is harmless.
    qsort(column, block_rows, sizeof *column, by_score_then_row);
    for (uint32_t i = 0; i < k; i++) {
      mask[(size_t)column[i].row * block_cols + c] = 1;
    }
  }
  free(scores);
  free(column);
  return SPARROW_MASK_OK;
}
