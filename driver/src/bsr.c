// SPDX-License-Identifier: Apache-2.0
//
// BSR packing, unpacking, validation and the transposed pattern (include/sparrow_bsr.h,
// docs/sparsity.md). Values are moved with memcpy only: a float assignment may go through the FPU
// on some targets, and a weight's bit pattern (a signalling NaN, a negative zero) must survive.

#include "../include/sparrow_bsr.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *sparrow_bsr_status_name(sparrow_bsr_status_t status) {
  switch (status) {
    case SPARROW_BSR_OK:
      return "ok";
    case SPARROW_BSR_E_ARG:
      return "bad argument";
    case SPARROW_BSR_E_NOMEM:
      return "out of memory";
    case SPARROW_BSR_E_INVALID:
      return "invalid BSR";
  }
  return "unknown status";
}

__attribute__((format(printf, 4, 5))) static sparrow_bsr_status_t fail(sparrow_bsr_status_t status,
                                                                       char *msg, size_t msg_len,
                                                                       const char *fmt, ...) {
  if (msg != NULL && msg_len > 0) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(msg, msg_len, fmt, args);
    va_end(args);
  }
  return status;
}

// calloc that never asks for zero bytes (so NULL always means failure) and refuses products that
// overflow size_t.
static void *alloc_array(uint64_t count, size_t size) {
  if (count == 0) {
    count = 1;
  }
  if (count > SIZE_MAX / size) {
    return NULL;
  }
  return calloc((size_t)count, size);
}

// The structure shared by a matrix and a pattern.
typedef struct structure {
  uint32_t rows, cols, block, block_rows, block_cols, nnz_blocks;
  const uint32_t *row_ptr;
  const uint32_t *col_idx;
} structure_t;

static structure_t structure_of_bsr(const sparrow_bsr_t *bsr) {
  return (structure_t){bsr->rows,       bsr->cols,       bsr->block,   bsr->block_rows,
                       bsr->block_cols, bsr->nnz_blocks, bsr->row_ptr, bsr->col_idx};
}

static structure_t structure_of_pattern(const sparrow_bsr_pattern_t *p) {
  return (structure_t){p->rows,       p->cols,       p->block,   p->block_rows,
                       p->block_cols, p->nnz_blocks, p->row_ptr, p->col_idx};
}

// The dimension rules; `status` is what a violation returns (E_ARG for a caller's arguments,
// E_INVALID for a structure handed to validate).
static sparrow_bsr_status_t check_sizes(uint32_t rows, uint32_t cols, uint32_t block,
                                        sparrow_bsr_status_t status, char *msg, size_t msg_len) {
  if (block == 0) {
    return fail(status, msg, msg_len, "block size is 0");
  }
  if (rows == 0) {
    return fail(status, msg, msg_len, "rows (K) is 0");
  }
  if (cols == 0) {
    return fail(status, msg, msg_len, "cols (N) is 0");
  }
  if (rows % block != 0) {
    return fail(status, msg, msg_len,
                "rows (K) %" PRIu32 " is not a multiple of the block size %" PRIu32, rows, block);
  }
  if (cols % block != 0) {
    return fail(status, msg, msg_len,
                "cols (N) %" PRIu32 " is not a multiple of the block size %" PRIu32, cols, block);
  }
  return SPARROW_BSR_OK;
}

static sparrow_bsr_status_t check_structure(const structure_t *s, char *msg, size_t msg_len) {
  sparrow_bsr_status_t status =
      check_sizes(s->rows, s->cols, s->block, SPARROW_BSR_E_INVALID, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  if (s->block_rows != s->rows / s->block) {
    return fail(SPARROW_BSR_E_INVALID, msg, msg_len,
                "block_rows %" PRIu32 " does not match rows/block = %" PRIu32, s->block_rows,
                s->rows / s->block);
  }
  if (s->block_cols != s->cols / s->block) {
    return fail(SPARROW_BSR_E_INVALID, msg, msg_len,
                "block_cols %" PRIu32 " does not match cols/block = %" PRIu32, s->block_cols,
                s->cols / s->block);
  }
  if (s->row_ptr == NULL) {
    return fail(SPARROW_BSR_E_INVALID, msg, msg_len, "row_ptr is NULL");
  }
  if (s->row_ptr[0] != 0) {
    return fail(SPARROW_BSR_E_INVALID, msg, msg_len, "row_ptr[0]=%" PRIu32 ", expected 0",
                s->row_ptr[0]);
  }
  for (uint32_t r = 0; r < s->block_rows; r++) {
    if (s->row_ptr[r] > s->row_ptr[r + 1]) {
      return fail(SPARROW_BSR_E_INVALID, msg, msg_len,
                  "row_ptr[%" PRIu32 "]=%" PRIu32 " > row_ptr[%" PRIu32 "]=%" PRIu32, r,
                  s->row_ptr[r], r + 1, s->row_ptr[r + 1]);
    }
  }
  if (s->row_ptr[s->block_rows] != s->nnz_blocks) {
    return fail(SPARROW_BSR_E_INVALID, msg, msg_len,
                "nnz_blocks %" PRIu32 " does not match row_ptr[%" PRIu32 "]=%" PRIu32,
                s->nnz_blocks, s->block_rows, s->row_ptr[s->block_rows]);
  }
  if (s->nnz_blocks > 0 && s->col_idx == NULL) {
    return fail(SPARROW_BSR_E_INVALID, msg, msg_len, "col_idx is NULL (nnz_blocks %" PRIu32 ")",
                s->nnz_blocks);
  }
  // Row pointers are now known to stay within col_idx, so the columns can be read.
  for (uint32_t r = 0; r < s->block_rows; r++) {
    for (uint32_t j = s->row_ptr[r]; j < s->row_ptr[r + 1]; j++) {
      uint32_t col = s->col_idx[j];
      if (col >= s->block_cols) {
        return fail(SPARROW_BSR_E_INVALID, msg, msg_len,
                    "block row %" PRIu32 ": column %" PRIu32 " out of range (block_cols %" PRIu32
                    ")",
                    r, col, s->block_cols);
      }
      if (j == s->row_ptr[r]) {
        continue;
      }
      uint32_t prev = s->col_idx[j - 1];
      if (prev == col) {
        return fail(SPARROW_BSR_E_INVALID, msg, msg_len,
                    "block row %" PRIu32 ": columns not ascending (%" PRIu32 " then %" PRIu32
                    "): duplicate column",
                    r, prev, col);
      }
      if (prev > col) {
        return fail(SPARROW_BSR_E_INVALID, msg, msg_len,
                    "block row %" PRIu32 ": columns not ascending (%" PRIu32 " then %" PRIu32 ")",
                    r, prev, col);
      }
    }
  }
  return SPARROW_BSR_OK;
}

// A matrix's structure plus its values array (present, and addressable as nnz * b * b floats).
static sparrow_bsr_status_t check_bsr(const sparrow_bsr_t *bsr, char *msg, size_t msg_len) {
  if (bsr == NULL) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len, "bsr is NULL");
  }
  structure_t s = structure_of_bsr(bsr);
  sparrow_bsr_status_t status = check_structure(&s, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  if (bsr->nnz_blocks > 0 && bsr->values == NULL) {
    return fail(SPARROW_BSR_E_INVALID, msg, msg_len, "values is NULL (nnz_blocks %" PRIu32 ")",
                bsr->nnz_blocks);
  }
  return SPARROW_BSR_OK;
}

sparrow_bsr_status_t sparrow_bsr_validate(const sparrow_bsr_t *bsr, uint32_t lanes, char *msg,
                                          size_t msg_len) {
  if (lanes == 0) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len, "lanes is 0");
  }
  if (bsr != NULL && bsr->block != 0 && bsr->block % lanes != 0) {
    return fail(SPARROW_BSR_E_INVALID, msg, msg_len,
                "block size %" PRIu32 " is not a multiple of lanes %" PRIu32, bsr->block, lanes);
  }
  return check_bsr(bsr, msg, msg_len);
}

sparrow_bsr_status_t sparrow_bsr_pattern_validate(const sparrow_bsr_pattern_t *pattern, char *msg,
                                                  size_t msg_len) {
  if (pattern == NULL) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len, "pattern is NULL");
  }
  structure_t s = structure_of_pattern(pattern);
  sparrow_bsr_status_t status = check_structure(&s, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  if (pattern->nnz_blocks == 0) {
    return SPARROW_BSR_OK;
  }
  if (pattern->perm == NULL) {
    return fail(SPARROW_BSR_E_INVALID, msg, msg_len, "perm is NULL (nnz_blocks %" PRIu32 ")",
                pattern->nnz_blocks);
  }
  // Each stored block must be referred to exactly once: remember which entry took it.
  uint32_t *taken_by = alloc_array(pattern->nnz_blocks, sizeof *taken_by);
  if (taken_by == NULL) {
    return fail(SPARROW_BSR_E_NOMEM, msg, msg_len, "out of memory checking perm");
  }
  for (uint32_t i = 0; i < pattern->nnz_blocks; i++) {
    uint32_t p = pattern->perm[i];
    if (p >= pattern->nnz_blocks) {
      free(taken_by);
      return fail(SPARROW_BSR_E_INVALID, msg, msg_len,
                  "perm[%" PRIu32 "]=%" PRIu32 " out of range (nnz_blocks %" PRIu32 ")", i, p,
                  pattern->nnz_blocks);
    }
    if (taken_by[p] != 0) {
      uint32_t first = taken_by[p] - 1;
      free(taken_by);
      return fail(SPARROW_BSR_E_INVALID, msg, msg_len,
                  "perm[%" PRIu32 "]=%" PRIu32 " repeats perm[%" PRIu32 "]", i, p, first);
    }
    taken_by[p] = i + 1;
  }
  free(taken_by);
  return SPARROW_BSR_OK;
}

void sparrow_bsr_free(sparrow_bsr_t *bsr) {
  if (bsr == NULL) {
    return;
  }
  free(bsr->row_ptr);
  free(bsr->col_idx);
  free(bsr->values);
  memset(bsr, 0, sizeof *bsr);
}

void sparrow_bsr_pattern_free(sparrow_bsr_pattern_t *pattern) {
  if (pattern == NULL) {
    return;
  }
  free(pattern->row_ptr);
  free(pattern->col_idx);
  free(pattern->perm);
  memset(pattern, 0, sizeof *pattern);
}

// Allocates a matrix's arrays for the given shape; on failure nothing stays allocated.
static sparrow_bsr_status_t alloc_bsr(uint32_t rows, uint32_t cols, uint32_t block,
                                      uint32_t nnz_blocks, sparrow_bsr_t *out, char *msg,
                                      size_t msg_len) {
  uint64_t block_words = (uint64_t)block * block;
  if (nnz_blocks > 0 && block_words > UINT64_MAX / nnz_blocks) {
    return fail(SPARROW_BSR_E_NOMEM, msg, msg_len,
                "%" PRIu32 " blocks of %" PRIu32 "x%" PRIu32 " are too large to address",
                nnz_blocks, block, block);
  }
  out->rows = rows;
  out->cols = cols;
  out->block = block;
  out->block_rows = rows / block;
  out->block_cols = cols / block;
  out->nnz_blocks = nnz_blocks;
  out->row_ptr = alloc_array((uint64_t)out->block_rows + 1, sizeof *out->row_ptr);
  out->col_idx = alloc_array(nnz_blocks, sizeof *out->col_idx);
  out->values = alloc_array(nnz_blocks * block_words, sizeof *out->values);
  if (out->row_ptr == NULL || out->col_idx == NULL || out->values == NULL) {
    sparrow_bsr_free(out);
    return fail(SPARROW_BSR_E_NOMEM, msg, msg_len,
                "out of memory for %" PRIu32 " blocks of %" PRIu32 "x%" PRIu32, nnz_blocks, block,
                block);
  }
  return SPARROW_BSR_OK;
}

sparrow_bsr_status_t sparrow_bsr_from_dense(const float *dense, uint32_t rows, uint32_t cols,
                                            uint32_t block, const uint8_t *mask, sparrow_bsr_t *out,
                                            char *msg, size_t msg_len) {
  if (out == NULL) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len, "from_dense: out is NULL");
  }
  memset(out, 0, sizeof *out);
  if (dense == NULL || mask == NULL) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len, "from_dense: %s is NULL",
                dense == NULL ? "dense" : "mask");
  }
  sparrow_bsr_status_t status = check_sizes(rows, cols, block, SPARROW_BSR_E_ARG, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  size_t block_rows = rows / block;
  size_t block_cols = cols / block;
  uint64_t nnz = 0;
  for (size_t i = 0; i < block_rows * block_cols; i++) {
    nnz += mask[i] != 0;
  }
  if (nnz > UINT32_MAX) {
    return fail(SPARROW_BSR_E_NOMEM, msg, msg_len,
                "from_dense: %" PRIu64 " blocks exceed the 32-bit block index", nnz);
  }
  status = alloc_bsr(rows, cols, block, (uint32_t)nnz, out, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  size_t b = block;
  uint32_t n = 0;
  for (size_t r = 0; r < block_rows; r++) {
    out->row_ptr[r] = n;
    for (size_t c = 0; c < block_cols; c++) {
      if (mask[r * block_cols + c] == 0) {
        continue;
      }
      out->col_idx[n] = (uint32_t)c;
      float *dst = out->values + (size_t)n * b * b;
      for (size_t i = 0; i < b; i++) {
        memcpy(dst + i * b, dense + (r * b + i) * cols + c * b, b * sizeof *dst);
      }
      n++;
    }
  }
  out->row_ptr[block_rows] = n;
  return SPARROW_BSR_OK;
}

sparrow_bsr_status_t sparrow_bsr_to_dense(const sparrow_bsr_t *bsr, float *dense, char *msg,
                                          size_t msg_len) {
  sparrow_bsr_status_t status = check_bsr(bsr, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  if (dense == NULL) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len, "to_dense: dense is NULL");
  }
  size_t b = bsr->block;
  size_t cols = bsr->cols;
  // All-zero bytes are +0.0 in binary32.
  memset(dense, 0, (size_t)bsr->rows * cols * sizeof *dense);
  for (size_t r = 0; r < bsr->block_rows; r++) {
    for (uint32_t j = bsr->row_ptr[r]; j < bsr->row_ptr[r + 1]; j++) {
      size_t c = bsr->col_idx[j];
      const float *src = bsr->values + (size_t)j * b * b;
      for (size_t i = 0; i < b; i++) {
        memcpy(dense + (r * b + i) * cols + c * b, src + i * b, b * sizeof *dense);
      }
    }
  }
  return SPARROW_BSR_OK;
}

sparrow_bsr_status_t sparrow_bsr_mask(const sparrow_bsr_t *bsr, uint8_t *mask, char *msg,
                                      size_t msg_len) {
  sparrow_bsr_status_t status = check_bsr(bsr, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  if (mask == NULL) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len, "mask: mask is NULL");
  }
  size_t block_cols = bsr->block_cols;
  memset(mask, 0, (size_t)bsr->block_rows * block_cols);
  for (size_t r = 0; r < bsr->block_rows; r++) {
    for (uint32_t j = bsr->row_ptr[r]; j < bsr->row_ptr[r + 1]; j++) {
      mask[r * block_cols + bsr->col_idx[j]] = 1;
    }
  }
  return SPARROW_BSR_OK;
}

// Counting sort of the entries by block column. Walking the source rows in ascending order makes
// the columns of each transposed row ascend without a further sort. in_perm NULL: the source's
// entries are stored blocks themselves (identity).
static sparrow_bsr_status_t transpose_structure(const structure_t *s, const uint32_t *in_perm,
                                                sparrow_bsr_pattern_t *out, char *msg,
                                                size_t msg_len) {
  out->rows = s->cols;
  out->cols = s->rows;
  out->block = s->block;
  out->block_rows = s->block_cols;
  out->block_cols = s->block_rows;
  out->nnz_blocks = s->nnz_blocks;
  out->row_ptr = alloc_array((uint64_t)out->block_rows + 1, sizeof *out->row_ptr);
  out->col_idx = alloc_array(s->nnz_blocks, sizeof *out->col_idx);
  out->perm = alloc_array(s->nnz_blocks, sizeof *out->perm);
  uint32_t *next = alloc_array(out->block_rows, sizeof *next);
  if (out->row_ptr == NULL || out->col_idx == NULL || out->perm == NULL || next == NULL) {
    free(next);
    sparrow_bsr_pattern_free(out);
    return fail(SPARROW_BSR_E_NOMEM, msg, msg_len, "out of memory transposing %" PRIu32 " blocks",
                s->nnz_blocks);
  }
  for (uint32_t j = 0; j < s->nnz_blocks; j++) {
    out->row_ptr[s->col_idx[j] + 1]++;
  }
  for (uint32_t r = 0; r < out->block_rows; r++) {
    out->row_ptr[r + 1] += out->row_ptr[r];
    next[r] = out->row_ptr[r];
  }
  for (uint32_t r = 0; r < s->block_rows; r++) {
    for (uint32_t j = s->row_ptr[r]; j < s->row_ptr[r + 1]; j++) {
      uint32_t pos = next[s->col_idx[j]]++;
      out->col_idx[pos] = r;
      out->perm[pos] = in_perm == NULL ? j : in_perm[j];
    }
  }
  free(next);
  return SPARROW_BSR_OK;
}

sparrow_bsr_status_t sparrow_bsr_transpose_pattern(const sparrow_bsr_t *bsr,
                                                   sparrow_bsr_pattern_t *out, char *msg,
                                                   size_t msg_len) {
  if (out == NULL) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len, "transpose_pattern: out is NULL");
  }
  memset(out, 0, sizeof *out);
  sparrow_bsr_status_t status = check_bsr(bsr, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  structure_t s = structure_of_bsr(bsr);
  return transpose_structure(&s, NULL, out, msg, msg_len);
}

sparrow_bsr_status_t sparrow_bsr_pattern_transpose(const sparrow_bsr_pattern_t *pattern,
                                                   sparrow_bsr_pattern_t *out, char *msg,
                                                   size_t msg_len) {
  if (out == NULL) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len, "pattern_transpose: out is NULL");
  }
  memset(out, 0, sizeof *out);
  sparrow_bsr_status_t status = sparrow_bsr_pattern_validate(pattern, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  structure_t s = structure_of_pattern(pattern);
  return transpose_structure(&s, pattern->perm, out, msg, msg_len);
}

// Checks that every entry of the pattern (block row r, column c) names a stored block of bsr at
// block row c, column r: a pattern of another matrix would otherwise scatter the wrong values.
static sparrow_bsr_status_t check_is_transpose(const sparrow_bsr_t *bsr,
                                               const sparrow_bsr_pattern_t *p, char *msg,
                                               size_t msg_len) {
  if (p->rows != bsr->cols || p->cols != bsr->rows || p->block != bsr->block ||
      p->nnz_blocks != bsr->nnz_blocks) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len,
                "pattern %" PRIu32 "x%" PRIu32 " (block %" PRIu32 ", %" PRIu32
                " blocks) is not the transpose of a %" PRIu32 "x%" PRIu32 " matrix (block %" PRIu32
                ", %" PRIu32 " blocks)",
                p->rows, p->cols, p->block, p->nnz_blocks, bsr->rows, bsr->cols, bsr->block,
                bsr->nnz_blocks);
  }
  uint32_t *row_of = alloc_array(bsr->nnz_blocks, sizeof *row_of);
  if (row_of == NULL) {
    return fail(SPARROW_BSR_E_NOMEM, msg, msg_len, "out of memory checking the pattern");
  }
  for (uint32_t r = 0; r < bsr->block_rows; r++) {
    for (uint32_t j = bsr->row_ptr[r]; j < bsr->row_ptr[r + 1]; j++) {
      row_of[j] = r;
    }
  }
  for (uint32_t r = 0; r < p->block_rows; r++) {
    for (uint32_t i = p->row_ptr[r]; i < p->row_ptr[r + 1]; i++) {
      uint32_t stored = p->perm[i];
      if (row_of[stored] != p->col_idx[i] || bsr->col_idx[stored] != r) {
        sparrow_bsr_status_t status = fail(
            SPARROW_BSR_E_ARG, msg, msg_len,
            "pattern entry %" PRIu32 " (block row %" PRIu32 ", column %" PRIu32
            ") refers to stored block %" PRIu32 " at (%" PRIu32 ", %" PRIu32 "), not (%" PRIu32
            ", %" PRIu32 ")",
            i, r, p->col_idx[i], stored, row_of[stored], bsr->col_idx[stored], p->col_idx[i], r);
        free(row_of);
        return status;
      }
    }
  }
  free(row_of);
  return SPARROW_BSR_OK;
}

sparrow_bsr_status_t sparrow_bsr_materialize_transpose(const sparrow_bsr_t *bsr,
                                                       const sparrow_bsr_pattern_t *pattern,
                                                       sparrow_bsr_t *out, char *msg,
                                                       size_t msg_len) {
  if (out == NULL) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len, "materialize_transpose: out is NULL");
  }
  memset(out, 0, sizeof *out);
  sparrow_bsr_status_t status = check_bsr(bsr, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  status = sparrow_bsr_pattern_validate(pattern, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  status = check_is_transpose(bsr, pattern, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  status = alloc_bsr(pattern->rows, pattern->cols, pattern->block, pattern->nnz_blocks, out, msg,
                     msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  memcpy(out->row_ptr, pattern->row_ptr, ((size_t)pattern->block_rows + 1) * sizeof *out->row_ptr);
  memcpy(out->col_idx, pattern->col_idx, (size_t)pattern->nnz_blocks * sizeof *out->col_idx);
  size_t b = pattern->block;
  for (size_t i = 0; i < pattern->nnz_blocks; i++) {
    const float *src = bsr->values + (size_t)pattern->perm[i] * b * b;
    float *dst = out->values + i * b * b;
    for (size_t y = 0; y < b; y++) {
      for (size_t x = 0; x < b; x++) {
        memcpy(&dst[x * b + y], &src[y * b + x], sizeof *dst);
      }
    }
  }
  return SPARROW_BSR_OK;
}

sparrow_bsr_status_t sparrow_bsr_block_row_counts(const sparrow_bsr_t *bsr, uint32_t *counts,
                                                  char *msg, size_t msg_len) {
  sparrow_bsr_status_t status = check_bsr(bsr, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  if (counts == NULL) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len, "block_row_counts: counts is NULL");
  }
  for (uint32_t r = 0; r < bsr->block_rows; r++) {
    counts[r] = bsr->row_ptr[r + 1] - bsr->row_ptr[r];
  }
  return SPARROW_BSR_OK;
}

sparrow_bsr_status_t sparrow_bsr_block_col_counts(const sparrow_bsr_t *bsr, uint32_t *counts,
                                                  char *msg, size_t msg_len) {
  sparrow_bsr_status_t status = check_bsr(bsr, msg, msg_len);
  if (status != SPARROW_BSR_OK) {
    return status;
  }
  if (counts == NULL) {
    return fail(SPARROW_BSR_E_ARG, msg, msg_len, "block_col_counts: counts is NULL");
  }
  memset(counts, 0, (size_t)bsr->block_cols * sizeof *counts);
  for (uint32_t j = 0; j < bsr->nnz_blocks; j++) {
    counts[bsr->col_idx[j]]++;
  }
  return SPARROW_BSR_OK;
}
