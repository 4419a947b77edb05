// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the BSR format (driver/src/bsr.c): dense -> BSR -> dense bit-exact (NaN payloads,
// signalling NaNs, negative zeros), empty block rows and columns, single blocks, density 1, the
// transposed pattern (explicit, twice = identity, materialized = dense transpose), counts, and
// every validation defect with its message.

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparrow_bsr.h"

static char msg[256];

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

// A dense matrix of arbitrary bit patterns (xorshift32) with special values sprinkled in: every
// seventh element is one of the patterns an arithmetic copy would disturb.
static float *make_dense(uint32_t rows, uint32_t cols, uint32_t seed) {
  static const uint32_t kSpecial[] = {
      0x80000000u,  // -0.0
      0x7FA00001u,  // signalling NaN with a payload
      0xFFC12345u,  // negative quiet NaN with a payload
      0x00000001u,  // smallest subnormal
      0xFF800000u,  // -Inf
  };
  float *dense = malloc((size_t)rows * cols * sizeof *dense);
  ck_assert_ptr_nonnull(dense);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < (size_t)rows * cols; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    dense[i] = float_of(i % 7 == 3 ? kSpecial[(i / 7) % 5] : x);
  }
  return dense;
}

static uint8_t *make_mask(uint32_t block_rows, uint32_t block_cols, uint32_t seed) {
  uint8_t *mask = malloc((size_t)block_rows * block_cols);
  ck_assert_ptr_nonnull(mask);
  uint32_t x = seed * 747796405u + 7;
  for (size_t i = 0; i < (size_t)block_rows * block_cols; i++) {
    x = x * 1664525u + 1013904223u;
    mask[i] = (x >> 28) & 1;
  }
  return mask;
}

static void pack_ok(const float *dense, uint32_t rows, uint32_t cols, uint32_t block,
                    const uint8_t *mask, sparrow_bsr_t *bsr) {
  msg[0] = '\0';
  ck_assert_msg(sparrow_bsr_from_dense(dense, rows, cols, block, mask, bsr, msg, sizeof msg) ==
                    SPARROW_BSR_OK,
                "from_dense %" PRIu32 "x%" PRIu32 " b=%" PRIu32 ": %s", rows, cols, block, msg);
  ck_assert_msg(sparrow_bsr_validate(bsr, block, msg, sizeof msg) == SPARROW_BSR_OK, "%s", msg);
}

static float *unpack_ok(const sparrow_bsr_t *bsr) {
  float *dense = malloc((size_t)bsr->rows * bsr->cols * sizeof *dense);
  ck_assert_ptr_nonnull(dense);
  // Garbage first, so that a zero the unpacker forgot to write shows.
  memset(dense, 0xA5, (size_t)bsr->rows * bsr->cols * sizeof *dense);
  ck_assert_msg(sparrow_bsr_to_dense(bsr, dense, msg, sizeof msg) == SPARROW_BSR_OK, "%s", msg);
  return dense;
}

// dense with the blocks outside the mask set to +0.0: what unpacking must give back.
static void expect_masked_equal(const float *original, const float *unpacked, uint32_t rows,
                                uint32_t cols, uint32_t block, const uint8_t *mask) {
  uint32_t block_cols = cols / block;
  for (uint32_t i = 0; i < rows; i++) {
    for (uint32_t j = 0; j < cols; j++) {
      size_t at = (size_t)i * cols + j;
      uint32_t want = mask[(i / block) * block_cols + j / block] ? bits_of(original[at]) : 0;
      ck_assert_msg(bits_of(unpacked[at]) == want,
                    "(%" PRIu32 ", %" PRIu32 "): 0x%08" PRIx32 " != 0x%08" PRIx32, i, j,
                    bits_of(unpacked[at]), want);
    }
  }
}

START_TEST(test_round_trip_bit_exact) {
  static const uint32_t kShapes[][3] = {{24, 32, 8}, {64, 64, 8}, {16, 48, 4}, {32, 16, 16}};
  for (size_t s = 0; s < sizeof kShapes / sizeof kShapes[0]; s++) {
    uint32_t rows = kShapes[s][0], cols = kShapes[s][1], b = kShapes[s][2];
    float *dense = make_dense(rows, cols, (uint32_t)s + 1);
    uint8_t *mask = make_mask(rows / b, cols / b, (uint32_t)s + 1);
    sparrow_bsr_t bsr;
    pack_ok(dense, rows, cols, b, mask, &bsr);
    ck_assert_uint_eq(bsr.block_rows, rows / b);
    ck_assert_uint_eq(bsr.block_cols, cols / b);
    // The structure follows the mask: row by row, columns ascending.
    uint32_t n = 0;
    for (uint32_t r = 0; r < bsr.block_rows; r++) {
      ck_assert_uint_eq(bsr.row_ptr[r], n);
      for (uint32_t c = 0; c < bsr.block_cols; c++) {
        if (mask[r * bsr.block_cols + c]) {
          ck_assert_uint_eq(bsr.col_idx[n++], c);
        }
      }
    }
    ck_assert_uint_eq(bsr.nnz_blocks, n);
    ck_assert_uint_eq(bsr.row_ptr[bsr.block_rows], n);
    float *back = unpack_ok(&bsr);
    expect_masked_equal(dense, back, rows, cols, b, mask);
    // The mask comes back too.
    uint8_t *mask_back = malloc((size_t)bsr.block_rows * bsr.block_cols);
    ck_assert_int_eq(sparrow_bsr_mask(&bsr, mask_back, msg, sizeof msg), SPARROW_BSR_OK);
    for (size_t i = 0; i < (size_t)bsr.block_rows * bsr.block_cols; i++) {
      ck_assert_uint_eq(mask_back[i], mask[i] != 0);
    }
    free(mask_back);
    free(back);
    free(mask);
    free(dense);
    sparrow_bsr_free(&bsr);
    ck_assert_ptr_null(bsr.values);
  }
}
END_TEST

START_TEST(test_special_values_survive) {
  // One 4x4 block holding only the awkward patterns: each must come back bit for bit.
  static const uint32_t kBits[16] = {0x80000000u, 0x7FA00001u, 0xFFC12345u, 0x00000001u,
                                     0xFF800000u, 0x7F800000u, 0x7FC00000u, 0xFFFFFFFFu,
                                     0x807FFFFFu, 0x00000000u, 0x7F800001u, 0x3F800000u,
                                     0xBF800000u, 0x7FBFFFFFu, 0x80000001u, 0xFF800001u};
  float dense[16];
  for (int i = 0; i < 16; i++) {
    dense[i] = float_of(kBits[i]);
  }
  uint8_t one = 1;
  sparrow_bsr_t bsr;
  pack_ok(dense, 4, 4, 4, &one, &bsr);
  for (int i = 0; i < 16; i++) {
    ck_assert_uint_eq(bits_of(bsr.values[i]), kBits[i]);
  }
  float *back = unpack_ok(&bsr);
  ck_assert_int_eq(memcmp(back, kBits, sizeof kBits), 0);
  // And through the transpose: element (i, j) lands on (j, i) unchanged.
  sparrow_bsr_pattern_t pt;
  sparrow_bsr_t wt;
  ck_assert_int_eq(sparrow_bsr_transpose_pattern(&bsr, &pt, msg, sizeof msg), SPARROW_BSR_OK);
  ck_assert_int_eq(sparrow_bsr_materialize_transpose(&bsr, &pt, &wt, msg, sizeof msg),
                   SPARROW_BSR_OK);
  for (int i = 0; i < 4; i++) {
    for (int j = 0; j < 4; j++) {
      ck_assert_uint_eq(bits_of(wt.values[j * 4 + i]), kBits[i * 4 + j]);
    }
  }
  free(back);
  sparrow_bsr_free(&wt);
  sparrow_bsr_pattern_free(&pt);
  sparrow_bsr_free(&bsr);
}
END_TEST

START_TEST(test_density_one) {
  float *dense = make_dense(32, 40, 9);
  uint8_t mask[4 * 5];
  memset(mask, 1, sizeof mask);
  sparrow_bsr_t bsr;
  pack_ok(dense, 32, 40, 8, mask, &bsr);
  ck_assert_uint_eq(bsr.nnz_blocks, 20);
  for (uint32_t j = 0; j < 20; j++) {
    ck_assert_uint_eq(bsr.col_idx[j], j % 5);
  }
  float *back = unpack_ok(&bsr);
  ck_assert_int_eq(memcmp(back, dense, 32 * 40 * sizeof *dense), 0);
  free(back);
  free(dense);
  sparrow_bsr_free(&bsr);
}
END_TEST

START_TEST(test_empty_rows_and_columns) {
  // 4 x 5 blocks: block row 1 and block column 2 empty.
  static const uint8_t kMask[4 * 5] = {
      1, 0, 0, 1, 1,  //
      0, 0, 0, 0, 0,  //
      0, 1, 0, 0, 1,  //
      1, 1, 0, 0, 0,  //
  };
  float *dense = make_dense(32, 40, 3);
  sparrow_bsr_t bsr;
  pack_ok(dense, 32, 40, 8, kMask, &bsr);
  static const uint32_t kRowPtr[] = {0, 3, 3, 5, 7};
  static const uint32_t kColIdx[] = {0, 3, 4, 1, 4, 0, 1};
  ck_assert_int_eq(memcmp(bsr.row_ptr, kRowPtr, sizeof kRowPtr), 0);
  ck_assert_uint_eq(bsr.nnz_blocks, 7);
  ck_assert_int_eq(memcmp(bsr.col_idx, kColIdx, sizeof kColIdx), 0);
  uint32_t rows[4], cols[5];
  ck_assert_int_eq(sparrow_bsr_block_row_counts(&bsr, rows, msg, sizeof msg), SPARROW_BSR_OK);
  ck_assert_int_eq(sparrow_bsr_block_col_counts(&bsr, cols, msg, sizeof msg), SPARROW_BSR_OK);
  static const uint32_t kRowCounts[] = {3, 0, 2, 2};
  static const uint32_t kColCounts[] = {2, 2, 0, 1, 2};
  ck_assert_int_eq(memcmp(rows, kRowCounts, sizeof rows), 0);
  ck_assert_int_eq(memcmp(cols, kColCounts, sizeof cols), 0);
  float *back = unpack_ok(&bsr);
  expect_masked_equal(dense, back, 32, 40, 8, kMask);
  free(back);
  sparrow_bsr_free(&bsr);

  // No block at all: still a valid matrix, all +0.0, and its transpose is empty too.
  uint8_t none[4 * 5] = {0};
  pack_ok(dense, 32, 40, 8, none, &bsr);
  ck_assert_uint_eq(bsr.nnz_blocks, 0);
  back = unpack_ok(&bsr);
  for (size_t i = 0; i < 32 * 40; i++) {
    ck_assert_uint_eq(bits_of(back[i]), 0);
  }
  sparrow_bsr_pattern_t pt;
  ck_assert_int_eq(sparrow_bsr_transpose_pattern(&bsr, &pt, msg, sizeof msg), SPARROW_BSR_OK);
  ck_assert_uint_eq(pt.nnz_blocks, 0);
  ck_assert_uint_eq(pt.block_rows, 5);
  ck_assert_uint_eq(pt.row_ptr[5], 0);
  ck_assert_int_eq(sparrow_bsr_pattern_validate(&pt, msg, sizeof msg), SPARROW_BSR_OK);
  sparrow_bsr_pattern_free(&pt);
  free(back);
  free(dense);
  sparrow_bsr_free(&bsr);
}
END_TEST

START_TEST(test_single_block) {
  float *dense = make_dense(8, 8, 5);
  uint8_t one = 1;
  sparrow_bsr_t bsr;
  pack_ok(dense, 8, 8, 8, &one, &bsr);
  ck_assert_uint_eq(bsr.nnz_blocks, 1);
  ck_assert_uint_eq(bsr.row_ptr[0], 0);
  ck_assert_uint_eq(bsr.row_ptr[1], 1);
  ck_assert_uint_eq(bsr.col_idx[0], 0);
  ck_assert_int_eq(memcmp(bsr.values, dense, 64 * sizeof *dense), 0);
  sparrow_bsr_free(&bsr);
  uint8_t zero = 0;
  pack_ok(dense, 8, 8, 8, &zero, &bsr);
  ck_assert_uint_eq(bsr.nnz_blocks, 0);
  ck_assert_uint_eq(bsr.row_ptr[1], 0);
  sparrow_bsr_free(&bsr);
  free(dense);
}
END_TEST

// W (3 x 4 blocks, b = 4):       stored blocks in order:
//   row 0: cols 1, 3             0 -> (0,1), 1 -> (0,3)
//   row 1: cols 0, 1, 2          2 -> (1,0), 3 -> (1,1), 4 -> (1,2)
//   row 2: col 3                 5 -> (2,3)
// W^T (4 x 3 blocks): row 0: col 1 (block 2); row 1: cols 0, 1 (blocks 0, 3); row 2: col 1
// (block 4); row 3: cols 0, 2 (blocks 1, 5).
START_TEST(test_transpose_pattern_explicit) {
  static const uint8_t kMask[3 * 4] = {0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1};
  float *dense = make_dense(12, 16, 11);
  sparrow_bsr_t bsr;
  pack_ok(dense, 12, 16, 4, kMask, &bsr);
  sparrow_bsr_pattern_t pt;
  ck_assert_int_eq(sparrow_bsr_transpose_pattern(&bsr, &pt, msg, sizeof msg), SPARROW_BSR_OK);
  ck_assert_uint_eq(pt.rows, 16);
  ck_assert_uint_eq(pt.cols, 12);
  ck_assert_uint_eq(pt.block_rows, 4);
  ck_assert_uint_eq(pt.block_cols, 3);
  ck_assert_uint_eq(pt.nnz_blocks, 6);
  static const uint32_t kRowPtr[] = {0, 1, 3, 4, 6};
  static const uint32_t kColIdx[] = {1, 0, 1, 1, 0, 2};
  static const uint32_t kPerm[] = {2, 0, 3, 4, 1, 5};
  ck_assert_int_eq(memcmp(pt.row_ptr, kRowPtr, sizeof kRowPtr), 0);
  ck_assert_int_eq(memcmp(pt.col_idx, kColIdx, sizeof kColIdx), 0);
  ck_assert_int_eq(memcmp(pt.perm, kPerm, sizeof kPerm), 0);
  ck_assert_int_eq(sparrow_bsr_pattern_validate(&pt, msg, sizeof msg), SPARROW_BSR_OK);

  // Twice: W's own structure, and every entry refers to itself.
  sparrow_bsr_pattern_t ptt;
  ck_assert_int_eq(sparrow_bsr_pattern_transpose(&pt, &ptt, msg, sizeof msg), SPARROW_BSR_OK);
  ck_assert_uint_eq(ptt.rows, 12);
  ck_assert_uint_eq(ptt.cols, 16);
  ck_assert_int_eq(memcmp(ptt.row_ptr, bsr.row_ptr, 4 * sizeof *ptt.row_ptr), 0);
  ck_assert_int_eq(memcmp(ptt.col_idx, bsr.col_idx, 6 * sizeof *ptt.col_idx), 0);
  for (uint32_t i = 0; i < 6; i++) {
    ck_assert_uint_eq(ptt.perm[i], i);
  }
  sparrow_bsr_pattern_free(&ptt);
  sparrow_bsr_pattern_free(&pt);
  sparrow_bsr_free(&bsr);
  free(dense);
}
END_TEST

START_TEST(test_transpose_twice_is_identity_random) {
  for (uint32_t seed = 1; seed <= 20; seed++) {
    uint32_t br = 1 + seed % 7, bc = 1 + (seed * 3) % 9;
    float *dense = make_dense(br * 8, bc * 8, seed);
    uint8_t *mask = make_mask(br, bc, seed);
    sparrow_bsr_t bsr;
    pack_ok(dense, br * 8, bc * 8, 8, mask, &bsr);
    sparrow_bsr_pattern_t pt, ptt;
    ck_assert_int_eq(sparrow_bsr_transpose_pattern(&bsr, &pt, msg, sizeof msg), SPARROW_BSR_OK);
    ck_assert_int_eq(sparrow_bsr_pattern_transpose(&pt, &ptt, msg, sizeof msg), SPARROW_BSR_OK);
    ck_assert_int_eq(memcmp(ptt.row_ptr, bsr.row_ptr, (br + 1) * sizeof *ptt.row_ptr), 0);
    for (uint32_t i = 0; i < bsr.nnz_blocks; i++) {
      ck_assert_uint_eq(ptt.col_idx[i], bsr.col_idx[i]);
      ck_assert_uint_eq(ptt.perm[i], i);
    }
    sparrow_bsr_pattern_free(&ptt);
    sparrow_bsr_pattern_free(&pt);
    sparrow_bsr_free(&bsr);
    free(mask);
    free(dense);
  }
}
END_TEST

START_TEST(test_materialized_transpose_equals_dense_transpose) {
  static const uint32_t kShapes[][3] = {{40, 24, 8}, {16, 64, 8}, {12, 20, 4}, {64, 64, 16}};
  for (size_t s = 0; s < sizeof kShapes / sizeof kShapes[0]; s++) {
    uint32_t rows = kShapes[s][0], cols = kShapes[s][1], b = kShapes[s][2];
    float *dense = make_dense(rows, cols, 100 + (uint32_t)s);
    uint8_t *mask = make_mask(rows / b, cols / b, 100 + (uint32_t)s);
    sparrow_bsr_t bsr, wt;
    sparrow_bsr_pattern_t pt;
    pack_ok(dense, rows, cols, b, mask, &bsr);
    ck_assert_int_eq(sparrow_bsr_transpose_pattern(&bsr, &pt, msg, sizeof msg), SPARROW_BSR_OK);
    ck_assert_msg(
        sparrow_bsr_materialize_transpose(&bsr, &pt, &wt, msg, sizeof msg) == SPARROW_BSR_OK, "%s",
        msg);
    ck_assert_msg(sparrow_bsr_validate(&wt, b, msg, sizeof msg) == SPARROW_BSR_OK, "%s", msg);
    ck_assert_uint_eq(wt.rows, cols);
    ck_assert_uint_eq(wt.cols, rows);
    float *w_dense = unpack_ok(&bsr);
    float *wt_dense = unpack_ok(&wt);
    for (uint32_t i = 0; i < rows; i++) {
      for (uint32_t j = 0; j < cols; j++) {
        ck_assert_uint_eq(bits_of(wt_dense[(size_t)j * rows + i]),
                          bits_of(w_dense[(size_t)i * cols + j]));
      }
    }
    // Per-column counts of W are the per-row counts of W^T.
    uint32_t *col_counts = malloc(bsr.block_cols * sizeof *col_counts);
    uint32_t *t_row_counts = malloc(wt.block_rows * sizeof *t_row_counts);
    ck_assert_int_eq(sparrow_bsr_block_col_counts(&bsr, col_counts, msg, sizeof msg),
                     SPARROW_BSR_OK);
    ck_assert_int_eq(sparrow_bsr_block_row_counts(&wt, t_row_counts, msg, sizeof msg),
                     SPARROW_BSR_OK);
    ck_assert_int_eq(memcmp(col_counts, t_row_counts, bsr.block_cols * sizeof *col_counts), 0);
    free(col_counts);
    free(t_row_counts);
    free(w_dense);
    free(wt_dense);
    sparrow_bsr_free(&wt);
    sparrow_bsr_pattern_free(&pt);
    sparrow_bsr_free(&bsr);
    free(mask);
    free(dense);
  }
}
END_TEST

START_TEST(test_materialize_rejects_foreign_pattern) {
  // Two matrices of the same shape and block count but different masks: the pattern of one must
  // not be applied to the other.
  static const uint8_t kMaskA[2 * 2] = {1, 0, 0, 1};
  static const uint8_t kMaskB[2 * 2] = {0, 1, 1, 0};
  float *dense = make_dense(16, 16, 2);
  sparrow_bsr_t a, b, out;
  sparrow_bsr_pattern_t pt;
  pack_ok(dense, 16, 16, 8, kMaskA, &a);
  pack_ok(dense, 16, 16, 8, kMaskB, &b);
  ck_assert_int_eq(sparrow_bsr_transpose_pattern(&b, &pt, msg, sizeof msg), SPARROW_BSR_OK);
  ck_assert_int_eq(sparrow_bsr_materialize_transpose(&a, &pt, &out, msg, sizeof msg),
                   SPARROW_BSR_E_ARG);
  ck_assert_str_eq(msg,
                   "pattern entry 0 (block row 0, column 1) refers to stored block 1 at (1, 1), "
                   "not (1, 0)");
  ck_assert_ptr_null(out.values);
  // W's own pattern does not fit W^T's shape either (16x24 vs 24x16).
  sparrow_bsr_free(&a);
  uint8_t mask3[2 * 3] = {1, 0, 1, 0, 1, 0};
  float *wide = make_dense(16, 24, 1);
  pack_ok(wide, 16, 24, 8, mask3, &a);
  free(wide);
  sparrow_bsr_pattern_t own;
  ck_assert_int_eq(sparrow_bsr_transpose_pattern(&a, &own, msg, sizeof msg), SPARROW_BSR_OK);
  sparrow_bsr_pattern_t twice;
  ck_assert_int_eq(sparrow_bsr_pattern_transpose(&own, &twice, msg, sizeof msg), SPARROW_BSR_OK);
  ck_assert_int_eq(sparrow_bsr_materialize_transpose(&a, &twice, &out, msg, sizeof msg),
                   SPARROW_BSR_E_ARG);
  ck_assert_str_eq(msg,
                   "pattern 16x24 (block 8, 3 blocks) is not the transpose of a 16x24 matrix "
                   "(block 8, 3 blocks)");
  sparrow_bsr_pattern_free(&twice);
  sparrow_bsr_pattern_free(&own);
  sparrow_bsr_pattern_free(&pt);
  sparrow_bsr_free(&a);
  sparrow_bsr_free(&b);
  free(dense);
}
END_TEST

// A valid hand-made matrix: K = 40, N = 64, b = 8 (5 x 8 blocks), 9 blocks.
static uint32_t g_row_ptr[6];
static uint32_t g_col_idx[9];
static float g_values[9 * 64];

static sparrow_bsr_t valid_bsr(void) {
  static const uint32_t kRowPtr[6] = {0, 1, 3, 5, 7, 9};
  static const uint32_t kColIdx[9] = {2, 1, 4, 0, 7, 3, 5, 6, 7};
  memcpy(g_row_ptr, kRowPtr, sizeof g_row_ptr);
  memcpy(g_col_idx, kColIdx, sizeof g_col_idx);
  memset(g_values, 0, sizeof g_values);
  return (sparrow_bsr_t){.rows = 40,
                         .cols = 64,
                         .block = 8,
                         .block_rows = 5,
                         .block_cols = 8,
                         .nnz_blocks = 9,
                         .row_ptr = g_row_ptr,
                         .col_idx = g_col_idx,
                         .values = g_values};
}

static void expect_invalid(const sparrow_bsr_t *bsr, uint32_t lanes, sparrow_bsr_status_t want,
                           const char *want_msg) {
  msg[0] = '\0';
  sparrow_bsr_status_t got = sparrow_bsr_validate(bsr, lanes, msg, sizeof msg);
  ck_assert_msg(got == want, "want '%s' (status %d), got status %d: '%s'", want_msg, (int)want,
                (int)got, msg);
  ck_assert_str_eq(msg, want_msg);
}

START_TEST(test_validate_accepts_valid) {
  sparrow_bsr_t bsr = valid_bsr();
  ck_assert_int_eq(sparrow_bsr_validate(&bsr, 4, msg, sizeof msg), SPARROW_BSR_OK);  // S
  ck_assert_int_eq(sparrow_bsr_validate(&bsr, 8, msg, sizeof msg), SPARROW_BSR_OK);  // M
}
END_TEST

START_TEST(test_validate_defects) {
  sparrow_bsr_t bsr;

  bsr = valid_bsr();
  g_row_ptr[3] = 7;
  g_row_ptr[4] = 5;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID, "row_ptr[3]=7 > row_ptr[4]=5");

  bsr = valid_bsr();
  g_row_ptr[0] = 1;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID, "row_ptr[0]=1, expected 0");

  bsr = valid_bsr();
  bsr.nnz_blocks = 8;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID, "nnz_blocks 8 does not match row_ptr[5]=9");

  bsr = valid_bsr();
  g_col_idx[4] = 9;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID,
                 "block row 2: column 9 out of range (block_cols 8)");

  bsr = valid_bsr();
  g_col_idx[0] = 8;  // one past the end is out of range too
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID,
                 "block row 0: column 8 out of range (block_cols 8)");

  bsr = valid_bsr();
  g_col_idx[1] = 4;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID,
                 "block row 1: columns not ascending (4 then 4): duplicate column");

  bsr = valid_bsr();
  g_col_idx[1] = 5;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID, "block row 1: columns not ascending (5 then 4)");

  bsr = valid_bsr();
  bsr.rows = 44;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID,
                 "rows (K) 44 is not a multiple of the block size 8");

  bsr = valid_bsr();
  bsr.cols = 60;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID,
                 "cols (N) 60 is not a multiple of the block size 8");

  bsr = valid_bsr();
  expect_invalid(&bsr, 16, SPARROW_BSR_E_INVALID, "block size 8 is not a multiple of lanes 16");
  expect_invalid(&bsr, 3, SPARROW_BSR_E_INVALID, "block size 8 is not a multiple of lanes 3");
  expect_invalid(&bsr, 0, SPARROW_BSR_E_ARG, "lanes is 0");

  bsr = valid_bsr();
  bsr.block = 0;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID, "block size is 0");

  bsr = valid_bsr();
  bsr.rows = 0;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID, "rows (K) is 0");

  bsr = valid_bsr();
  bsr.cols = 0;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID, "cols (N) is 0");

  bsr = valid_bsr();
  bsr.block_rows = 4;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID, "block_rows 4 does not match rows/block = 5");

  bsr = valid_bsr();
  bsr.block_cols = 9;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID, "block_cols 9 does not match cols/block = 8");

  bsr = valid_bsr();
  bsr.row_ptr = NULL;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID, "row_ptr is NULL");

  bsr = valid_bsr();
  bsr.col_idx = NULL;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID, "col_idx is NULL (nnz_blocks 9)");

  bsr = valid_bsr();
  bsr.values = NULL;
  expect_invalid(&bsr, 8, SPARROW_BSR_E_INVALID, "values is NULL (nnz_blocks 9)");

  expect_invalid(NULL, 8, SPARROW_BSR_E_ARG, "bsr is NULL");
}
END_TEST

START_TEST(test_every_call_validates) {
  // A broken matrix is refused by every call that reads it, with the validator's message, and the
  // outputs are left as they were (or zeroed, for library-allocated ones).
  sparrow_bsr_t bsr = valid_bsr();
  g_col_idx[1] = 5;
  const char *want = "block row 1: columns not ascending (5 then 4)";
  float dense[40 * 64];
  memset(dense, 0x5A, sizeof dense);
  ck_assert_int_eq(sparrow_bsr_to_dense(&bsr, dense, msg, sizeof msg), SPARROW_BSR_E_INVALID);
  ck_assert_str_eq(msg, want);
  ck_assert_uint_eq(bits_of(dense[0]), 0x5A5A5A5Au);
  uint32_t counts[8] = {7, 7, 7, 7, 7, 7, 7, 7};
  ck_assert_int_eq(sparrow_bsr_block_col_counts(&bsr, counts, msg, sizeof msg),
                   SPARROW_BSR_E_INVALID);
  ck_assert_str_eq(msg, want);
  ck_assert_int_eq(sparrow_bsr_block_row_counts(&bsr, counts, msg, sizeof msg),
                   SPARROW_BSR_E_INVALID);
  ck_assert_uint_eq(counts[0], 7);
  uint8_t mask[40];
  ck_assert_int_eq(sparrow_bsr_mask(&bsr, mask, msg, sizeof msg), SPARROW_BSR_E_INVALID);
  sparrow_bsr_pattern_t pt;
  memset(&pt, 0xFF, sizeof pt);
  ck_assert_int_eq(sparrow_bsr_transpose_pattern(&bsr, &pt, msg, sizeof msg),
                   SPARROW_BSR_E_INVALID);
  ck_assert_str_eq(msg, want);
  ck_assert_ptr_null(pt.perm);
  // The valid one passes and its counts are right.
  bsr = valid_bsr();
  ck_assert_int_eq(sparrow_bsr_block_row_counts(&bsr, counts, msg, sizeof msg), SPARROW_BSR_OK);
  static const uint32_t kRowCounts[5] = {1, 2, 2, 2, 2};
  ck_assert_int_eq(memcmp(counts, kRowCounts, sizeof kRowCounts), 0);
  ck_assert_int_eq(sparrow_bsr_block_col_counts(&bsr, counts, msg, sizeof msg), SPARROW_BSR_OK);
  static const uint32_t kColCounts[8] = {1, 1, 1, 1, 1, 1, 1, 2};
  ck_assert_int_eq(memcmp(counts, kColCounts, sizeof kColCounts), 0);
  // NULL outputs.
  ck_assert_int_eq(sparrow_bsr_to_dense(&bsr, NULL, msg, sizeof msg), SPARROW_BSR_E_ARG);
  ck_assert_str_eq(msg, "to_dense: dense is NULL");
  ck_assert_int_eq(sparrow_bsr_block_col_counts(&bsr, NULL, msg, sizeof msg), SPARROW_BSR_E_ARG);
  ck_assert_int_eq(sparrow_bsr_transpose_pattern(&bsr, NULL, msg, sizeof msg), SPARROW_BSR_E_ARG);
  // msg may be NULL.
  ck_assert_int_eq(sparrow_bsr_validate(&bsr, 0, NULL, 0), SPARROW_BSR_E_ARG);
}
END_TEST

START_TEST(test_pattern_defects) {
  float *dense = make_dense(24, 16, 4);
  static const uint8_t kMask[3 * 2] = {1, 1, 0, 1, 1, 0};
  sparrow_bsr_t bsr;
  pack_ok(dense, 24, 16, 8, kMask, &bsr);
  sparrow_bsr_pattern_t pt;
  ck_assert_int_eq(sparrow_bsr_transpose_pattern(&bsr, &pt, msg, sizeof msg), SPARROW_BSR_OK);
  ck_assert_uint_eq(pt.nnz_blocks, 4);
  uint32_t saved = pt.perm[2];
  pt.perm[2] = 4;
  ck_assert_int_eq(sparrow_bsr_pattern_validate(&pt, msg, sizeof msg), SPARROW_BSR_E_INVALID);
  ck_assert_str_eq(msg, "perm[2]=4 out of range (nnz_blocks 4)");
  pt.perm[2] = pt.perm[0];
  ck_assert_int_eq(sparrow_bsr_pattern_validate(&pt, msg, sizeof msg), SPARROW_BSR_E_INVALID);
  char want[64];
  snprintf(want, sizeof want, "perm[2]=%" PRIu32 " repeats perm[0]", pt.perm[0]);
  ck_assert_str_eq(msg, want);
  // A broken pattern is not transposed nor materialized.
  sparrow_bsr_pattern_t ptt;
  ck_assert_int_eq(sparrow_bsr_pattern_transpose(&pt, &ptt, msg, sizeof msg),
                   SPARROW_BSR_E_INVALID);
  ck_assert_ptr_null(ptt.row_ptr);
  sparrow_bsr_t wt;
  ck_assert_int_eq(sparrow_bsr_materialize_transpose(&bsr, &pt, &wt, msg, sizeof msg),
                   SPARROW_BSR_E_INVALID);
  ck_assert_str_eq(msg, want);
  pt.perm[2] = saved;
  uint32_t *perm = pt.perm;
  pt.perm = NULL;
  ck_assert_int_eq(sparrow_bsr_pattern_validate(&pt, msg, sizeof msg), SPARROW_BSR_E_INVALID);
  ck_assert_str_eq(msg, "perm is NULL (nnz_blocks 4)");
  pt.perm = perm;
  pt.col_idx[0] = 3;  // W^T has 3 block columns
  ck_assert_int_eq(sparrow_bsr_pattern_validate(&pt, msg, sizeof msg), SPARROW_BSR_E_INVALID);
  ck_assert_str_eq(msg, "block row 0: column 3 out of range (block_cols 3)");
  ck_assert_int_eq(sparrow_bsr_pattern_validate(NULL, msg, sizeof msg), SPARROW_BSR_E_ARG);
  sparrow_bsr_pattern_free(&pt);
  sparrow_bsr_pattern_free(NULL);
  sparrow_bsr_free(&bsr);
  sparrow_bsr_free(NULL);
  free(dense);
}
END_TEST

START_TEST(test_from_dense_bad_arguments) {
  float dense[16 * 16] = {0};
  uint8_t mask[4] = {1, 1, 1, 1};
  sparrow_bsr_t bsr;
  memset(&bsr, 0xFF, sizeof bsr);
  ck_assert_int_eq(sparrow_bsr_from_dense(dense, 16, 12, 8, mask, &bsr, msg, sizeof msg),
                   SPARROW_BSR_E_ARG);
  ck_assert_str_eq(msg, "cols (N) 12 is not a multiple of the block size 8");
  ck_assert_ptr_null(bsr.row_ptr);  // zeroed on failure, safe to free
  sparrow_bsr_free(&bsr);
  ck_assert_int_eq(sparrow_bsr_from_dense(dense, 20, 16, 8, mask, &bsr, msg, sizeof msg),
                   SPARROW_BSR_E_ARG);
  ck_assert_str_eq(msg, "rows (K) 20 is not a multiple of the block size 8");
  ck_assert_int_eq(sparrow_bsr_from_dense(dense, 16, 16, 0, mask, &bsr, msg, sizeof msg),
                   SPARROW_BSR_E_ARG);
  ck_assert_str_eq(msg, "block size is 0");
  ck_assert_int_eq(sparrow_bsr_from_dense(dense, 0, 16, 8, mask, &bsr, msg, sizeof msg),
                   SPARROW_BSR_E_ARG);
  ck_assert_str_eq(msg, "rows (K) is 0");
  ck_assert_int_eq(sparrow_bsr_from_dense(NULL, 16, 16, 8, mask, &bsr, msg, sizeof msg),
                   SPARROW_BSR_E_ARG);
  ck_assert_str_eq(msg, "from_dense: dense is NULL");
  ck_assert_int_eq(sparrow_bsr_from_dense(dense, 16, 16, 8, NULL, &bsr, msg, sizeof msg),
                   SPARROW_BSR_E_ARG);
  ck_assert_str_eq(msg, "from_dense: mask is NULL");
  ck_assert_int_eq(sparrow_bsr_from_dense(dense, 16, 16, 8, mask, NULL, msg, sizeof msg),
                   SPARROW_BSR_E_ARG);
  ck_assert_str_eq(sparrow_bsr_status_name(SPARROW_BSR_E_INVALID), "invalid BSR");
  ck_assert_str_eq(sparrow_bsr_status_name(SPARROW_BSR_OK), "ok");
}
END_TEST

int main(void) {
  Suite *s = suite_create("bsr");
  TCase *tc = tcase_create("bsr");
  tcase_add_test(tc, test_round_trip_bit_exact);
  tcase_add_test(tc, test_special_values_survive);
  tcase_add_test(tc, test_density_one);
  tcase_add_test(tc, test_empty_rows_and_columns);
  tcase_add_test(tc, test_single_block);
  tcase_add_test(tc, test_transpose_pattern_explicit);
  tcase_add_test(tc, test_transpose_twice_is_identity_random);
  tcase_add_test(tc, test_materialized_transpose_equals_dense_transpose);
  tcase_add_test(tc, test_materialize_rejects_foreign_pattern);
  tcase_add_test(tc, test_validate_accepts_valid);
  tcase_add_test(tc, test_validate_defects);
  tcase_add_test(tc, test_every_call_validates);
  tcase_add_test(tc, test_pattern_defects);
  tcase_add_test(tc, test_from_dense_bad_arguments);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
