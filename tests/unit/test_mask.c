// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the block-mask generators (host/ops/mask.c): exact blocks per block column for
// every density and several shapes (also counted through BSR, as a kernel will see them),
// determinism per seed, no bias in the chosen rows, magnitude top-k on matrices with known block
// norms, tie-breaking, NaN rejection, and density parsing.

#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparrow_bsr.h"
#include "sparrow_mask.h"

static char msg[256];
static const uint32_t kDenominators[] = {1, 2, 4, 8, 16};
enum { kDensities = sizeof kDenominators / sizeof kDenominators[0] };

static uint32_t column_count(const uint8_t *mask, uint32_t block_rows, uint32_t block_cols,
                             uint32_t c) {
  uint32_t n = 0;
  for (uint32_t r = 0; r < block_rows; r++) {
    n += mask[(size_t)r * block_cols + c];
  }
  return n;
}

START_TEST(test_blocks_per_col) {
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(64, 1), 64);
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(64, 2), 32);
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(64, 8), 8);
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(64, 16), 4);
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(3, 2), 2);   // 1.5: halves round up
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(5, 4), 1);   // 1.25
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(6, 4), 2);   // 1.5
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(7, 16), 1);  // 0.44: at least one block
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(1, 16), 1);
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(24, 16), 2);  // 1.5
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(UINT32_MAX, 2), 2147483648u);
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(0, 2), 0);
  ck_assert_uint_eq(sparrow_mask_blocks_per_col(64, 3), 0);
  ck_assert(sparrow_mask_density_supported(16));
  ck_assert(!sparrow_mask_density_supported(32));
  ck_assert(!sparrow_mask_density_supported(0));
}
END_TEST

START_TEST(test_balanced_exact_counts) {
  // Block grids of 8x8, 64x64 and 512x512 matrices with 8x8 blocks, and two non-square ones.
  static const uint32_t kGrids[][2] = {{1, 1}, {8, 8}, {64, 64}, {24, 40}, {3, 5}};
  for (size_t g = 0; g < sizeof kGrids / sizeof kGrids[0]; g++) {
    uint32_t br = kGrids[g][0], bc = kGrids[g][1];
    uint8_t *mask = malloc((size_t)br * bc);
    float *zeros = calloc((size_t)br * 8 * bc * 8, sizeof *zeros);
    uint32_t *counts = malloc(bc * sizeof *counts);
    for (int d = 0; d < kDensities; d++) {
      uint32_t den = kDenominators[d];
      uint32_t k = sparrow_mask_blocks_per_col(br, den);
      memset(mask, 0xEE, (size_t)br * bc);
      ck_assert_msg(
          sparrow_mask_balanced_random(br, bc, den, 42, mask, msg, sizeof msg) == SPARROW_MASK_OK,
          "%s", msg);
      for (size_t i = 0; i < (size_t)br * bc; i++) {
        ck_assert_uint_le(mask[i], 1);
      }
      for (uint32_t c = 0; c < bc; c++) {
        ck_assert_msg(column_count(mask, br, bc, c) == k,
                      "%" PRIu32 "x%" PRIu32 " blocks, 1/%" PRIu32 ": column %" PRIu32
                      " has %" PRIu32 " blocks, want %" PRIu32,
                      br, bc, den, c, column_count(mask, br, bc, c), k);
      }
      // The same counts through BSR, as the kernels will see the matrix.
      sparrow_bsr_t bsr;
      ck_assert(sparrow_bsr_from_dense(zeros, br * 8, bc * 8, 8, mask, &bsr, msg, sizeof msg) ==
                SPARROW_BSR_OK);
      ck_assert_uint_eq(bsr.nnz_blocks, k * bc);
      ck_assert(sparrow_bsr_block_col_counts(&bsr, counts, msg, sizeof msg) == SPARROW_BSR_OK);
      for (uint32_t c = 0; c < bc; c++) {
        ck_assert_uint_eq(counts[c], k);
      }
      sparrow_bsr_free(&bsr);
    }
    free(counts);
    free(zeros);
    free(mask);
  }
}
END_TEST

START_TEST(test_balanced_large_grid) {
  // 512 x 512 blocks (a 4096 x 4096 weight): exact counts for every density.
  enum { kN = 512 };
  uint8_t *mask = malloc(kN * kN);
  for (int d = 0; d < kDensities; d++) {
    ck_assert(sparrow_mask_balanced_random(kN, kN, kDenominators[d], 7, mask, msg, sizeof msg) ==
              SPARROW_MASK_OK);
    for (uint32_t c = 0; c < kN; c++) {
      ck_assert_uint_eq(column_count(mask, kN, kN, c), kN / kDenominators[d]);
    }
  }
  free(mask);
}
END_TEST

START_TEST(test_balanced_deterministic_per_seed) {
  enum { kR = 64, kC = 64, kSeeds = 6 };
  uint8_t *masks[kSeeds];
  for (int s = 0; s < kSeeds; s++) {
    masks[s] = malloc(kR * kC);
    ck_assert(sparrow_mask_balanced_random(kR, kC, 8, (uint64_t)s * 0x100000001u, masks[s], msg,
                                           sizeof msg) == SPARROW_MASK_OK);
  }
  uint8_t *again = malloc(kR * kC);
  ck_assert(sparrow_mask_balanced_random(kR, kC, 8, 0x100000001u, again, msg, sizeof msg) ==
            SPARROW_MASK_OK);
  ck_assert_int_eq(memcmp(again, masks[1], kR * kC), 0);
  // Different seeds (including ones that differ only in the high 32 bits), different masks.
  for (int a = 0; a < kSeeds; a++) {
    for (int b = a + 1; b < kSeeds; b++) {
      ck_assert_msg(memcmp(masks[a], masks[b], kR * kC) != 0, "seeds %d and %d agree", a, b);
    }
  }
  ck_assert(sparrow_mask_balanced_random(kR, kC, 8, 1u << 31, again, msg, sizeof msg) ==
            SPARROW_MASK_OK);
  ck_assert(sparrow_mask_balanced_random(kR, kC, 8, 1ull << 63 | 1u << 31, masks[0], msg,
                                         sizeof msg) == SPARROW_MASK_OK);
  ck_assert_int_ne(memcmp(again, masks[0], kR * kC), 0);
  // Columns are drawn independently: they do not all pick the same rows.
  int distinct = 0;
  for (uint32_t c = 1; c < kC; c++) {
    for (uint32_t r = 0; r < kR; r++) {
      if (masks[1][r * kC + c] != masks[1][r * kC]) {
        distinct++;
        break;
      }
    }
  }
  ck_assert_int_gt(distinct, kC / 2);
  for (int s = 0; s < kSeeds; s++) {
    free(masks[s]);
  }
  free(again);
}
END_TEST

START_TEST(test_balanced_rows_unbiased) {
  // 16 block rows, 4 per column, 64 columns x 200 seeds: each row is expected 3200 times
  // (sd ~ 55). A bias toward low rows or a fixed subset would be far outside +-10 %.
  enum { kR = 16, kC = 64, kSeeds = 200 };
  uint8_t mask[kR * kC];
  uint32_t hits[kR] = {0};
  for (uint64_t seed = 0; seed < kSeeds; seed++) {
    ck_assert(sparrow_mask_balanced_random(kR, kC, 4, seed, mask, msg, sizeof msg) ==
              SPARROW_MASK_OK);
    for (uint32_t r = 0; r < kR; r++) {
      for (uint32_t c = 0; c < kC; c++) {
        hits[r] += mask[r * kC + c];
      }
    }
  }
  for (uint32_t r = 0; r < kR; r++) {
    ck_assert_msg(hits[r] > 2880 && hits[r] < 3520, "row %" PRIu32 " chosen %" PRIu32 " times", r,
                  hits[r]);
  }
}
END_TEST

START_TEST(test_balanced_bad_arguments) {
  uint8_t mask[4] = {9, 9, 9, 9};
  ck_assert_int_eq(sparrow_mask_balanced_random(2, 2, 3, 1, mask, msg, sizeof msg),
                   SPARROW_MASK_E_ARG);
  ck_assert_str_eq(msg, "density 1/3 is not supported (1, 1/2, 1/4, 1/8 or 1/16)");
  ck_assert_int_eq(sparrow_mask_balanced_random(2, 2, 32, 1, mask, msg, sizeof msg),
                   SPARROW_MASK_E_ARG);
  ck_assert_int_eq(sparrow_mask_balanced_random(0, 2, 2, 1, mask, msg, sizeof msg),
                   SPARROW_MASK_E_ARG);
  ck_assert_str_eq(msg, "balanced_random: 0x2 blocks (must be non-zero)");
  ck_assert_int_eq(sparrow_mask_balanced_random(2, 2, 2, 1, NULL, msg, sizeof msg),
                   SPARROW_MASK_E_ARG);
  ck_assert_uint_eq(mask[0], 9);  // untouched
  ck_assert_int_eq(sparrow_mask_balanced_random(2, 2, 3, 1, mask, NULL, 0), SPARROW_MASK_E_ARG);
}
END_TEST

// Fills block (r, c) of a rows x cols matrix (block b) with value v everywhere.
static void fill_block(float *dense, uint32_t cols, uint32_t b, uint32_t r, uint32_t c, float v) {
  for (uint32_t i = 0; i < b; i++) {
    for (uint32_t j = 0; j < b; j++) {
      dense[(size_t)(r * b + i) * cols + c * b + j] = v;
    }
  }
}

START_TEST(test_magnitude_picks_largest) {
  // 8 x 4 blocks of 8x8. In column c, block row r has magnitude rank (5r + 3c) mod 8 (a
  // permutation of 0..7 per column), so the top k are exactly the rows whose rank is >= 8 - k.
  // Odd rows are negative: the score squares the values.
  enum { kBR = 8, kBC = 4, kB = 8, kRows = kBR * kB, kCols = kBC * kB };
  float *dense = malloc(kRows * kCols * sizeof *dense);
  for (uint32_t r = 0; r < kBR; r++) {
    for (uint32_t c = 0; c < kBC; c++) {
      float v = (float)((5 * r + 3 * c) % 8 + 1) * 0.25f;
      fill_block(dense, kCols, kB, r, c, r % 2 ? -v : v);
    }
  }
  uint8_t mask[kBR * kBC];
  for (int d = 0; d < kDensities; d++) {
    uint32_t k = sparrow_mask_blocks_per_col(kBR, kDenominators[d]);
    ck_assert_msg(sparrow_mask_magnitude(dense, kRows, kCols, kB, kDenominators[d], mask, msg,
                                         sizeof msg) == SPARROW_MASK_OK,
                  "%s", msg);
    for (uint32_t r = 0; r < kBR; r++) {
      for (uint32_t c = 0; c < kBC; c++) {
        uint32_t want = (5 * r + 3 * c) % 8 >= 8 - k;
        ck_assert_msg(mask[r * kBC + c] == want,
                      "1/%" PRIu32 ": block (%" PRIu32 ", %" PRIu32 ") is %d, want %" PRIu32,
                      kDenominators[d], r, c, mask[r * kBC + c], want);
      }
    }
  }
  free(dense);
}
END_TEST

START_TEST(test_magnitude_scores_whole_block) {
  // The score is the sum of squares over the block, not its largest element: one 3.0 (score 9)
  // loses to sixteen 1.0 (score 16), and wins against eight 1.0 (score 8). Column 0 only.
  enum { kB = 4, kRows = 12, kCols = 4 };
  float dense[kRows * kCols] = {0};
  dense[0 * kCols + 1] = 3.0f;               // block row 0: one 3.0
  fill_block(dense, kCols, kB, 1, 0, 1.0f);  // block row 1: sixteen 1.0
  for (int i = 0; i < 8; i++) {              // block row 2: eight 1.0
    dense[(8 + i / 4) * kCols + i % 4] = -1.0f;
  }
  uint8_t mask[3];
  ck_assert(sparrow_mask_magnitude(dense, kRows, kCols, kB, 2, mask, msg, sizeof msg) ==
            SPARROW_MASK_OK);  // k = round(1.5) = 2
  ck_assert_uint_eq(mask[0], 1);
  ck_assert_uint_eq(mask[1], 1);
  ck_assert_uint_eq(mask[2], 0);
  ck_assert(sparrow_mask_magnitude(dense, kRows, kCols, kB, 4, mask, msg, sizeof msg) ==
            SPARROW_MASK_OK);  // k = 1
  ck_assert_uint_eq(mask[0], 0);
  ck_assert_uint_eq(mask[1], 1);
  ck_assert_uint_eq(mask[2], 0);
  // Small values are summed in double: 64 values of 1e-30 (squares 1e-60, zero in float, not in
  // double) still beat a block of zeros.
  float tiny[8 * 8 * 2] = {0};
  for (int i = 0; i < 64; i++) {
    tiny[64 + i] = 1e-30f;  // block row 1 of a 16 x 8 matrix
  }
  ck_assert(sparrow_mask_magnitude(tiny, 16, 8, 8, 2, mask, msg, sizeof msg) == SPARROW_MASK_OK);
  ck_assert_uint_eq(mask[0], 0);
  ck_assert_uint_eq(mask[1], 1);
}
END_TEST

START_TEST(test_magnitude_ties_go_to_lower_rows) {
  // All blocks equal (all zeros, and all -0.0): the first k block rows in every column.
  enum { kBR = 16, kBC = 3, kB = 4 };
  float *dense = calloc(kBR * kB * kBC * kB, sizeof *dense);
  uint8_t mask[kBR * kBC];
  for (int pass = 0; pass < 2; pass++) {
    for (int d = 0; d < kDensities; d++) {
      uint32_t k = sparrow_mask_blocks_per_col(kBR, kDenominators[d]);
      ck_assert(sparrow_mask_magnitude(dense, kBR * kB, kBC * kB, kB, kDenominators[d], mask, msg,
                                       sizeof msg) == SPARROW_MASK_OK);
      for (uint32_t r = 0; r < kBR; r++) {
        for (uint32_t c = 0; c < kBC; c++) {
          ck_assert_uint_eq(mask[r * kBC + c], r < k);
        }
      }
    }
    for (size_t i = 0; i < kBR * kB * kBC * kB; i++) {
      dense[i] = -0.0f;
    }
  }
  // Partial ties in column 1: scores 1, 4, 4, 4, 0 ... with k = 2 (1/8 of 16): rows 1 and 2.
  memset(dense, 0, kBR * kB * kBC * kB * sizeof *dense);
  fill_block(dense, kBC * kB, kB, 0, 1, 0.25f);
  fill_block(dense, kBC * kB, kB, 1, 1, 0.5f);
  fill_block(dense, kBC * kB, kB, 2, 1, -0.5f);
  fill_block(dense, kBC * kB, kB, 3, 1, 0.5f);
  ck_assert(sparrow_mask_magnitude(dense, kBR * kB, kBC * kB, kB, 8, mask, msg, sizeof msg) ==
            SPARROW_MASK_OK);
  for (uint32_t r = 0; r < kBR; r++) {
    ck_assert_uint_eq(mask[r * kBC + 1], r == 1 || r == 2);
    ck_assert_uint_eq(mask[r * kBC + 0], r < 2);  // the all-zero columns: lowest rows
  }
  free(dense);
}
END_TEST

static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

START_TEST(test_magnitude_nan_rejected) {
  enum { kB = 8, kRows = 32, kCols = 16 };
  static const uint32_t kNaNs[] = {0x7FC00000u, 0x7FA00001u, 0xFFC12345u};
  float dense[kRows * kCols];
  for (size_t n = 0; n < sizeof kNaNs / sizeof kNaNs[0]; n++) {
    for (size_t i = 0; i < kRows * kCols; i++) {
      dense[i] = (float)(i % 13);
    }
    dense[(2 * kB + 5) * kCols + kB + 3] = float_of(kNaNs[n]);  // block (2, 1)
    uint8_t mask[4 * 2];
    memset(mask, 0xEE, sizeof mask);
    ck_assert_int_eq(sparrow_mask_magnitude(dense, kRows, kCols, kB, 2, mask, msg, sizeof msg),
                     SPARROW_MASK_E_NAN);
    ck_assert_str_eq(msg,
                     "magnitude: block (row 2, column 1) has a NaN score (NaN in the weights)");
    ck_assert_uint_eq(mask[0], 0xEE);  // untouched
  }
  // Infinities are not NaN: an infinite block is simply the largest.
  for (size_t i = 0; i < kRows * kCols; i++) {
    dense[i] = 1.0f;
  }
  dense[(3 * kB) * kCols] = -__builtin_inff();  // block (3, 0)
  uint8_t mask[4 * 2];
  ck_assert(sparrow_mask_magnitude(dense, kRows, kCols, kB, 4, mask, msg, sizeof msg) ==
            SPARROW_MASK_OK);
  static const uint8_t kWant[4 * 2] = {0, 1, 0, 0, 0, 0, 1, 0};
  ck_assert_int_eq(memcmp(mask, kWant, sizeof mask), 0);
}
END_TEST

START_TEST(test_magnitude_bad_arguments) {
  float dense[16 * 16] = {0};
  uint8_t mask[4];
  ck_assert_int_eq(sparrow_mask_magnitude(dense, 16, 12, 8, 2, mask, msg, sizeof msg),
                   SPARROW_MASK_E_ARG);
  ck_assert_str_eq(msg, "magnitude: 16x12 is not made of whole 8x8 blocks");
  ck_assert_int_eq(sparrow_mask_magnitude(dense, 16, 16, 0, 2, mask, msg, sizeof msg),
                   SPARROW_MASK_E_ARG);
  ck_assert_int_eq(sparrow_mask_magnitude(dense, 0, 16, 8, 2, mask, msg, sizeof msg),
                   SPARROW_MASK_E_ARG);
  ck_assert_int_eq(sparrow_mask_magnitude(dense, 16, 16, 8, 5, mask, msg, sizeof msg),
                   SPARROW_MASK_E_ARG);
  ck_assert_str_eq(msg, "density 1/5 is not supported (1, 1/2, 1/4, 1/8 or 1/16)");
  ck_assert_int_eq(sparrow_mask_magnitude(NULL, 16, 16, 8, 2, mask, msg, sizeof msg),
                   SPARROW_MASK_E_ARG);
  ck_assert_str_eq(msg, "magnitude: dense is NULL");
  ck_assert_int_eq(sparrow_mask_magnitude(dense, 16, 16, 8, 2, NULL, msg, sizeof msg),
                   SPARROW_MASK_E_ARG);
  ck_assert_str_eq(msg, "magnitude: mask is NULL");
  ck_assert_str_eq(sparrow_mask_status_name(SPARROW_MASK_E_NAN), "NaN in the weights");
}
END_TEST

START_TEST(test_parse_density) {
  static const struct {
    const char *text;
    uint32_t den;
  } kGood[] = {
      {"1", 1},     {"1/1", 1},       {"1.0", 1},   {"1.", 1},    {"1/2", 2},
      {"0.5", 2},   {".5", 2},        {"0.50", 2},  {"2/4", 2},   {"1/4", 4},
      {"0.25", 4},  {"1/8", 8},       {"0.125", 8}, {"1/16", 16}, {"0.0625", 16},
      {"3/48", 16}, {"0.062500", 16}, {"16/16", 1}, {"01/02", 2},
  };
  for (size_t i = 0; i < sizeof kGood / sizeof kGood[0]; i++) {
    uint32_t den = 0;
    ck_assert_msg(
        sparrow_mask_parse_density(kGood[i].text, &den, msg, sizeof msg) == SPARROW_MASK_OK,
        "'%s': %s", kGood[i].text, msg);
    ck_assert_msg(den == kGood[i].den, "'%s' gave 1/%" PRIu32, kGood[i].text, den);
  }
  static const char *kUnsupported[] = {"0.3", "1/3", "2",   "0",   "0.0", "1/32", "0.03125",
                                       "3.5", "0.",  "2.0", "1.5", "0/1", "0.1"};
  for (size_t i = 0; i < sizeof kUnsupported / sizeof kUnsupported[0]; i++) {
    uint32_t den = 99;
    ck_assert_msg(
        sparrow_mask_parse_density(kUnsupported[i], &den, msg, sizeof msg) == SPARROW_MASK_E_ARG,
        "'%s' accepted", kUnsupported[i]);
    char want[128];
    snprintf(want, sizeof want, "density '%s' is not supported (1, 1/2, 1/4, 1/8 or 1/16)",
             kUnsupported[i]);
    ck_assert_str_eq(msg, want);
    ck_assert_uint_eq(den, 99);
  }
  static const char *kMalformed[] = {
      "",  "abc",  "-0.5",  " 0.5", "0.5 ", "1/",   "/2",   "1/0",
      ".", "1e-1", "1/2/3", "0x1",  "0.5%", "+0.5", "1//2", "0.1250000000000000001"};
  for (size_t i = 0; i < sizeof kMalformed / sizeof kMalformed[0]; i++) {
    uint32_t den = 99;
    ck_assert_msg(
        sparrow_mask_parse_density(kMalformed[i], &den, msg, sizeof msg) == SPARROW_MASK_E_ARG,
        "'%s' accepted", kMalformed[i]);
    ck_assert_msg(strstr(msg, "is not a number or fraction") != NULL, "'%s': %s", kMalformed[i],
                  msg);
    ck_assert_uint_eq(den, 99);
  }
  ck_assert_int_eq(sparrow_mask_parse_density(NULL, NULL, msg, sizeof msg), SPARROW_MASK_E_ARG);
}
END_TEST

int main(void) {
  Suite *suite = suite_create("mask");
  TCase *tc = tcase_create("mask");
  tcase_set_timeout(tc, 60);  // the 512 x 512 grids under valgrind
  tcase_add_test(tc, test_blocks_per_col);
  tcase_add_test(tc, test_balanced_exact_counts);
  tcase_add_test(tc, test_balanced_large_grid);
  tcase_add_test(tc, test_balanced_deterministic_per_seed);
  tcase_add_test(tc, test_balanced_rows_unbiased);
  tcase_add_test(tc, test_balanced_bad_arguments);
  tcase_add_test(tc, test_magnitude_picks_largest);
  tcase_add_test(tc, test_magnitude_scores_whole_block);
  tcase_add_test(tc, test_magnitude_ties_go_to_lower_rows);
  tcase_add_test(tc, test_magnitude_nan_rejected);
  tcase_add_test(tc, test_magnitude_bad_arguments);
  tcase_add_test(tc, test_parse_density);
  suite_add_tcase(suite, tc);
  SRunner *runner = srunner_create(suite);
  srunner_run_all(runner, CK_NORMAL);
  int failures = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failures == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
