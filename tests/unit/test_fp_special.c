/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Check suite for the SIMD mode's special functions, comparisons and reduction trees
 * (sim/model/sparrow_fp_special.c, docs/numerics.md "Special functions").
 *
 * Special values and flags are prescribed by the contract, so they are compared exactly. Ordinary
 * values are compared exactly too: the expected patterns are the correctly rounded results
 * (computed independently, in double with the binary32 rounding checked by hand where the comment
 * says so); the few inputs where the definition is one ulp from the correctly rounded result are
 * named as such. Accuracy over the whole input range is sparrow-fpulp's job (tests/fp/).
 *
 * The reduction trees are proved to be the documented ones: for LANES = 4 and 8, every binary tree
 * over the lanes (every bracketing and order; 15 and 135135 of them) is evaluated on a set of
 * inputs, the documented tree must be the only one that gives the documented tree's results on all
 * of them, and sparrow_fp_reduce_sum must give exactly those results.
 */
#include "../../sim/model/sparrow_fp.h"
#include "../../sim/model/sparrow_fp_special.h"

#include <check.h>
#include <fenv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define POS_ZERO 0x00000000u
#define NEG_ZERO 0x80000000u
#define ONE 0x3F800000u
#define NEG_ONE 0xBF800000u
#define TWO 0x40000000u
#define HALF 0x3F000000u
#define MIN_SUBNORMAL 0x00000001u
#define MIN_NORMAL 0x00800000u
#define MAX_NORMAL 0x7F7FFFFFu
#define NEG_MAX_NORMAL 0xFF7FFFFFu
#define POS_INF 0x7F800000u
#define NEG_INF 0xFF800000u
#define QNAN 0x7FC00000u
#define NEG_QNAN_PAYLOAD 0xFFC12345u
#define SNAN 0x7F800001u
#define NEG_SNAN 0xFFA00000u
#define NV SPARROW_FP_NV
#define DZ SPARROW_FP_DZ
#define OF SPARROW_FP_OF
#define UF SPARROW_FP_UF
#define NX SPARROW_FP_NX

typedef uint32_t (*unary_fn)(uint32_t x, uint8_t *flags);

/* Runs both forms of a function with clear flags; both must give exactly the expected pattern and
   flags. */
static void check_unary(unary_fn definition, unary_fn fast, const char *name, uint32_t x,
                        uint32_t want, uint8_t want_flags, int line) {
  uint8_t flags = 0;
  uint32_t result = definition(x, &flags);
  ck_assert_msg(result == want && flags == want_flags,
                "line %d: %s(%08X) = %08X flags %02X, want %08X flags %02X", line, name,
                (unsigned)x, (unsigned)result, (unsigned)flags, (unsigned)want,
                (unsigned)want_flags);
  flags = 0;
  result = fast(x, &flags);
  ck_assert_msg(result == want && flags == want_flags,
                "line %d: %s_fast(%08X) = %08X flags %02X, want %08X flags %02X", line, name,
                (unsigned)x, (unsigned)result, (unsigned)flags, (unsigned)want,
                (unsigned)want_flags);
}

#define CHECK_EXP(x, want, flags) \
  check_unary(sparrow_fp_exp, sparrow_fp_exp_fast, "exp", (x), (want), (flags), __LINE__)
#define CHECK_RECIP(x, want, flags) \
  check_unary(sparrow_fp_recip, sparrow_fp_recip_fast, "recip", (x), (want), (flags), __LINE__)
#define CHECK_RSQRT(x, want, flags) \
  check_unary(sparrow_fp_rsqrt, sparrow_fp_rsqrt_fast, "rsqrt", (x), (want), (flags), __LINE__)
#define CHECK_TANH(x, want, flags) \
  check_unary(sparrow_fp_tanh, sparrow_fp_tanh_fast, "tanh", (x), (want), (flags), __LINE__)

/* The NaN inputs every function shares: canonical NaN, NV only for a signalling input. */
static void check_nan_inputs(unary_fn definition, unary_fn fast, const char *name) {
  check_unary(definition, fast, name, QNAN, QNAN, 0, __LINE__);
  check_unary(definition, fast, name, NEG_QNAN_PAYLOAD, QNAN, 0, __LINE__);
  check_unary(definition, fast, name, SNAN, QNAN, NV, __LINE__);
  check_unary(definition, fast, name, NEG_SNAN, QNAN, NV, __LINE__);
}

/* ---------------------------------------------------------------------------------------------- */

START_TEST(test_selfcheck_passes) {
  const char *why = NULL;
  ck_assert_msg(sparrow_fp_selfcheck(&why) == SPARROW_FP_SELFCHECK_OK, "self-check failed: %s",
                why != NULL ? why : "(no reason)");
}
END_TEST

START_TEST(test_exp_special_values) {
  check_nan_inputs(sparrow_fp_exp, sparrow_fp_exp_fast, "exp");
  CHECK_EXP(POS_INF, POS_INF, 0);
  CHECK_EXP(NEG_INF, POS_ZERO, 0);
  CHECK_EXP(POS_ZERO, ONE, 0);
  CHECK_EXP(NEG_ZERO, ONE, 0);
  /* |x| < 2^-25: e^x is within half an ulp of 1, inexact (no UF, even for a subnormal x). */
  CHECK_EXP(MIN_SUBNORMAL, ONE, NX);
  CHECK_EXP(0x80000001u, ONE, NX);
  CHECK_EXP(0x32FFFFFFu, ONE, NX);
  /* Overflow: ln(FLT_MAX + half an ulp) lies between 0x42B17217 and 0x42B17218. */
  CHECK_EXP(0x42B17217u, 0x7F7FFF84u, NX); /* correctly rounded */
  CHECK_EXP(0x42B17218u, POS_INF, OF | NX);
  CHECK_EXP(0x42B20000u, POS_INF, OF | NX); /* the clamp */
  CHECK_EXP(MAX_NORMAL, POS_INF, OF | NX);
  /* Underflow: subnormal results and then zero, each tiny and inexact. */
  CHECK_EXP(0xC2B00000u, 0x0041EDC4u, UF | NX);   /* e^-88, correctly rounded */
  CHECK_EXP(0xC2CFF1B4u, MIN_SUBNORMAL, UF | NX); /* just above -150 ln2: rounds up */
  CHECK_EXP(0xC2CFF1B5u, POS_ZERO, UF | NX);      /* just below: rounds to 0 */
  CHECK_EXP(0xC2D00000u, POS_ZERO, UF | NX);      /* the clamp */
  CHECK_EXP(NEG_MAX_NORMAL, POS_ZERO, UF | NX);
}
END_TEST

START_TEST(test_exp_values) {
  /* Correctly rounded results: e, 1/e, e^2, sqrt(e), e^10, e^-10. */
  CHECK_EXP(ONE, 0x402DF854u, NX);
  CHECK_EXP(NEG_ONE, 0x3EBC5AB2u, NX);
  CHECK_EXP(TWO, 0x40EC7326u, NX);
  CHECK_EXP(HALF, 0x3FD3094Cu, NX);
  CHECK_EXP(0x41200000u, 0x46AC14EEu, NX);
  CHECK_EXP(0xC1200000u, 0x383E6BCEu, NX);
  CHECK_EXP(0xB3800000u, 0x3F7FFFFFu, NX); /* e^-2^-24 = 1 - 2^-24 + ...: just below 1 */
  /* e^(2^-24) = 1 + 2^-24 + 2^-49 rounds up to 0x3F800001; the definition gives 1.0, 0.5 ulp +
     2^-25 ulp away (within exp's bound): its last add rounds 1 + 2^-24 (a tie) to even. */
  CHECK_EXP(0x33800000u, ONE, NX);
}
END_TEST

START_TEST(test_recip_special_values) {
  check_nan_inputs(sparrow_fp_recip, sparrow_fp_recip_fast, "recip");
  /* A pole: add and multiply cannot raise DZ, so the infinity comes with OF|NX. */
  CHECK_RECIP(POS_ZERO, POS_INF, OF | NX);
  CHECK_RECIP(NEG_ZERO, NEG_INF, OF | NX);
  CHECK_RECIP(POS_INF, POS_ZERO, 0);
  CHECK_RECIP(NEG_INF, NEG_ZERO, 0);
  /* 1/x overflows for |x| <= 2^-128 (0x00200000): 2^128 is past FLT_MAX + half an ulp. */
  CHECK_RECIP(0x00200000u, POS_INF, OF | NX);
  CHECK_RECIP(0x80200000u, NEG_INF, OF | NX);
  CHECK_RECIP(0x001FFFFFu, POS_INF, OF | NX);
  CHECK_RECIP(MIN_SUBNORMAL, POS_INF, OF | NX);
  /* 1/(2^-128 (1 + 2^-21)) = 2^128 - 2^107 + 2^86 - ...: rounds to 2^128 - 2^107, a subnormal
     input with a finite result. */
  CHECK_RECIP(0x00200001u, 0x7F7FFFF8u, NX);
  /* Results at and below 2^-126: exact subnormals and the subnormal 1/FLT_MAX. NX is raised
     although the first two are exact: the seed's arithmetic is inexact (docs/numerics.md). */
  CHECK_RECIP(0x7E800000u, MIN_NORMAL, NX);
  CHECK_RECIP(0x7F000000u, 0x00400000u, NX);
  CHECK_RECIP(0xFF000000u, 0x80400000u, NX);
  /* 1/FLT_MAX = 2^-128 / (1 - 2^-24) = 2^-128 (1 + 2^-24 + ...): 0x00200000 and a remainder far
     below half a subnormal ulp: inexact, and tiny, yet no UF: the last multiply, the only one
     that can raise it, is exact here (its input already carries the rounding). */
  CHECK_RECIP(MAX_NORMAL, 0x00200000u, NX);
}
END_TEST

START_TEST(test_recip_values) {
  CHECK_RECIP(TWO, HALF, NX);                /* exact result, NX from the seed (see above) */
  CHECK_RECIP(0x40400000u, 0x3EAAAAABu, NX); /* 1/3, correctly rounded */
  CHECK_RECIP(0xC0400000u, 0xBEAAAAABu, NX);
  CHECK_RECIP(0x40E00000u, 0x3E124925u, NX); /* 1/7 */
  CHECK_RECIP(0x3F800001u, 0x3F7FFFFEu, NX); /* 1/(1 + 2^-23) = 1 - 2^-23 + 2^-46: 0x3F7FFFFE */
  /* 1/(2 - 2^-23) = 0.5 (1 + 2^-24 + 2^-48 ...): correctly rounded 0x3F000001 (just above the
     tie); the definition gives 0.5, 0.5 ulp + 2^-24 ulp away, within recip's bound. */
  CHECK_RECIP(0x3FFFFFFFu, HALF, NX);
}
END_TEST

START_TEST(test_rsqrt_special_values) {
  check_nan_inputs(sparrow_fp_rsqrt, sparrow_fp_rsqrt_fast, "rsqrt");
  CHECK_RSQRT(POS_ZERO, POS_INF, OF | NX); /* a pole, as recip's */
  CHECK_RSQRT(NEG_ZERO, NEG_INF, OF | NX); /* IEEE 754 rSqrt(-0) = -inf */
  CHECK_RSQRT(POS_INF, POS_ZERO, 0);
  CHECK_RSQRT(NEG_INF, QNAN, NV);
  CHECK_RSQRT(NEG_ONE, QNAN, NV);
  CHECK_RSQRT(0x80000001u, QNAN, NV);
  CHECK_RSQRT(NEG_MAX_NORMAL, QNAN, NV);
}
END_TEST

START_TEST(test_rsqrt_values) {
  /* Correctly rounded: 1/sqrt(4), 1, 1/sqrt(2), 1/sqrt(3), sqrt(2), 1/10. */
  CHECK_RSQRT(0x40800000u, HALF, NX);
  CHECK_RSQRT(ONE, ONE, NX);
  CHECK_RSQRT(TWO, 0x3F3504F3u, NX);
  CHECK_RSQRT(0x40400000u, 0x3F13CD3Au, NX);
  CHECK_RSQRT(HALF, 0x3FB504F3u, NX);
  CHECK_RSQRT(0x42C80000u, 0x3DCCCCCDu, NX);
  /* The extremes: 2^-149 gives 2^74.5 = sqrt(2) 2^74; 2^-126 gives 2^63; FLT_MAX gives 2^-64. */
  CHECK_RSQRT(MIN_SUBNORMAL, 0x64B504F3u, NX);
  CHECK_RSQRT(MIN_NORMAL, 0x5F000000u, NX);
  CHECK_RSQRT(MAX_NORMAL, 0x1F800000u, NX);
}
END_TEST

START_TEST(test_tanh_special_values) {
  check_nan_inputs(sparrow_fp_tanh, sparrow_fp_tanh_fast, "tanh");
  CHECK_TANH(POS_ZERO, POS_ZERO, 0);
  CHECK_TANH(NEG_ZERO, NEG_ZERO, 0);
  CHECK_TANH(POS_INF, ONE, 0);
  CHECK_TANH(NEG_INF, NEG_ONE, 0);
  /* Saturation: tanh rounds to 1 from 13 ln2 / 2 ... = 9.0109 on (0x41102CB4). */
  CHECK_TANH(0x41102CB3u, 0x3F7FFFFFu, NX);
  CHECK_TANH(0x41102CB4u, ONE, NX);
  CHECK_TANH(0x41200000u, ONE, NX);
  CHECK_TANH(0xC1200000u, NEG_ONE, NX);
  CHECK_TANH(MAX_NORMAL, ONE, NX);
  /* Near 0 tanh(x) rounds to x: inexact; computed with exact scalings, so no UF even where IEEE
     would raise it (a subnormal x is tiny and the result inexact). */
  CHECK_TANH(0x39000000u, 0x39000000u, NX);
  CHECK_TANH(0x397FFFFFu, 0x397FFFFFu, NX);
  CHECK_TANH(MIN_NORMAL, MIN_NORMAL, NX);
  CHECK_TANH(MIN_SUBNORMAL, MIN_SUBNORMAL, NX);
  CHECK_TANH(0x80000001u, 0x80000001u, NX);
}
END_TEST

START_TEST(test_tanh_values) {
  /* Correctly rounded, one input in each branch: 1/4 and 1/2 (odd polynomial), 0.5625, 1 (centred
     polynomial), 1.25, 2, 9 (exp form). */
  CHECK_TANH(0x3E800000u, 0x3E7ACBF5u, NX);
  CHECK_TANH(HALF, 0x3EEC9A9Fu, NX);
  CHECK_TANH(0x3F100000u, 0x3F028438u, NX);
  CHECK_TANH(ONE, 0x3F42F7D6u, NX);
  CHECK_TANH(0x3FA00000u, 0x3F59291Eu, NX);
  CHECK_TANH(TWO, 0x3F76CA83u, NX);
  CHECK_TANH(0x41100000u, 0x3F7FFFFFu, NX);
}
END_TEST

/* tanh and recip are odd exactly, flags included; checked on a spread of patterns (NaNs aside). */
START_TEST(test_odd_symmetry) {
  uint32_t x = 0x12345678u;
  for (int i = 0; i < 200000; i++) {
    x = x * 1664525u + 1013904223u; /* any pattern, NaNs excluded below */
    uint32_t positive = x & 0x7FFFFFFFu;
    if (positive > POS_INF) {
      continue;
    }
    uint8_t flags_pos = 0;
    uint8_t flags_neg = 0;
    uint32_t pos = sparrow_fp_tanh_fast(positive, &flags_pos);
    uint32_t neg = sparrow_fp_tanh_fast(positive | 0x80000000u, &flags_neg);
    ck_assert_msg(neg == (pos ^ 0x80000000u) && flags_neg == flags_pos,
                  "tanh(-%08X) = %08X/%02X, tanh(%08X) = %08X/%02X", (unsigned)positive,
                  (unsigned)neg, (unsigned)flags_neg, (unsigned)positive, (unsigned)pos,
                  (unsigned)flags_pos);
    ck_assert_uint_eq(flags_pos & DZ, 0); /* nothing here can raise divide-by-zero */
    flags_pos = 0;
    flags_neg = 0;
    pos = sparrow_fp_recip_fast(positive, &flags_pos);
    neg = sparrow_fp_recip_fast(positive | 0x80000000u, &flags_neg);
    ck_assert_msg(neg == (pos ^ 0x80000000u) && flags_neg == flags_pos,
                  "recip(-%08X) = %08X/%02X, recip(%08X) = %08X/%02X", (unsigned)positive,
                  (unsigned)neg, (unsigned)flags_neg, (unsigned)positive, (unsigned)pos,
                  (unsigned)flags_pos);
  }
}
END_TEST

/* Both forms OR into the caller's flags and leave the host's floating-point environment as it was.
 */
START_TEST(test_flags_sticky_and_host_environment_kept) {
  uint8_t flags = SPARROW_FP_UF;
  (void)sparrow_fp_exp(ONE, &flags);
  ck_assert_uint_eq(flags, UF | NX);
  flags = SPARROW_FP_UF;
  (void)sparrow_fp_exp_fast(ONE, &flags);
  ck_assert_uint_eq(flags, UF | NX);
  /* flags may be NULL. */
  ck_assert_uint_eq(sparrow_fp_exp(POS_ZERO, NULL), ONE);
  ck_assert_uint_eq(sparrow_fp_exp_fast(POS_ZERO, NULL), ONE);
  ck_assert_uint_eq(sparrow_fp_div(TWO, TWO, NULL), ONE);

  /* A host flag raised before the call survives it, and the call's own flags do not leak. Skipped
     under valgrind, which does not model the host's exception flags (test_model does the same). */
  feclearexcept(FE_ALL_EXCEPT);
  feraiseexcept(FE_DIVBYZERO);
  if (fetestexcept(FE_DIVBYZERO) == 0) {
    return;
  }
  (void)sparrow_fp_tanh_fast(0x3F000000u, NULL);
  (void)sparrow_fp_exp_fast(0x42B20000u, NULL); /* raises OF and NX inside */
  (void)sparrow_fp_recip(0x40400000u, NULL);
  ck_assert_int_eq(fetestexcept(FE_ALL_EXCEPT), FE_DIVBYZERO);
  feclearexcept(FE_ALL_EXCEPT);
}
END_TEST

START_TEST(test_div) {
  uint8_t flags = 0;
  ck_assert_uint_eq(sparrow_fp_div(ONE, 0x40400000u, &flags), 0x3EAAAAABu); /* 1/3 */
  ck_assert_uint_eq(flags, NX);
  flags = 0;
  /* 6 * 0x3EAAAAAB = 2 + 2^-23 * ...: 2.0000000596 rounds to 2 */
  ck_assert_uint_eq(sparrow_fp_div(0x40C00000u, 0x40400000u, &flags), TWO);
  ck_assert_uint_eq(flags, NX);
  flags = 0;
  ck_assert_uint_eq(sparrow_fp_div(ONE, POS_ZERO, &flags), POS_INF); /* x/0: recip's pole */
  ck_assert_uint_eq(flags, OF | NX);
  flags = 0;
  ck_assert_uint_eq(sparrow_fp_div(POS_ZERO, POS_ZERO, &flags), QNAN); /* 0 * inf */
  ck_assert_uint_eq(flags, OF | NX | NV);
  flags = 0;
  ck_assert_uint_eq(sparrow_fp_div(POS_INF, NEG_INF, &flags), QNAN); /* inf * -0 */
  ck_assert_uint_eq(flags, NV);
  flags = 0;
  /* Not IEEE division: 1/b overflows for |b| <= 2^-128, so b/b is inf here, not 1. */
  ck_assert_uint_eq(sparrow_fp_div(0x00200000u, 0x00200000u, &flags), POS_INF);
  ck_assert_uint_eq(flags, OF | NX);
}
END_TEST

START_TEST(test_max_min) {
  uint8_t flags = 0;
  ck_assert_uint_eq(sparrow_fp_max(ONE, TWO, &flags), TWO);
  ck_assert_uint_eq(sparrow_fp_max(TWO, ONE, &flags), TWO);
  ck_assert_uint_eq(sparrow_fp_min(ONE, TWO, &flags), ONE);
  ck_assert_uint_eq(sparrow_fp_max(NEG_ONE, 0xC0000000u, &flags), NEG_ONE);
  ck_assert_uint_eq(sparrow_fp_min(NEG_ONE, 0xC0000000u, &flags), 0xC0000000u);
  ck_assert_uint_eq(sparrow_fp_max(NEG_INF, NEG_MAX_NORMAL, &flags), NEG_MAX_NORMAL);
  ck_assert_uint_eq(sparrow_fp_max(POS_INF, MAX_NORMAL, &flags), POS_INF);
  ck_assert_uint_eq(sparrow_fp_max(MIN_SUBNORMAL, POS_ZERO, &flags), MIN_SUBNORMAL);
  ck_assert_uint_eq(sparrow_fp_min(0x80000001u, NEG_ZERO, &flags), 0x80000001u);
  /* -0 < +0 in either order. */
  ck_assert_uint_eq(sparrow_fp_max(NEG_ZERO, POS_ZERO, &flags), POS_ZERO);
  ck_assert_uint_eq(sparrow_fp_max(POS_ZERO, NEG_ZERO, &flags), POS_ZERO);
  ck_assert_uint_eq(sparrow_fp_min(NEG_ZERO, POS_ZERO, &flags), NEG_ZERO);
  ck_assert_uint_eq(sparrow_fp_min(POS_ZERO, NEG_ZERO, &flags), NEG_ZERO);
  ck_assert_uint_eq(flags, 0);
  /* NaN propagates, canonical; NV only for a signalling one. */
  ck_assert_uint_eq(sparrow_fp_max(NEG_QNAN_PAYLOAD, ONE, &flags), QNAN);
  ck_assert_uint_eq(sparrow_fp_max(POS_INF, QNAN, &flags), QNAN);
  ck_assert_uint_eq(sparrow_fp_min(QNAN, NEG_INF, &flags), QNAN);
  ck_assert_uint_eq(flags, 0);
  ck_assert_uint_eq(sparrow_fp_max(ONE, SNAN, &flags), QNAN);
  ck_assert_uint_eq(flags, NV);
  flags = 0;
  ck_assert_uint_eq(sparrow_fp_min(NEG_SNAN, QNAN, &flags), QNAN);
  ck_assert_uint_eq(flags, NV);
}
END_TEST

START_TEST(test_cmp) {
  uint8_t flags = 0;
  ck_assert_int_eq(sparrow_fp_cmp(ONE, TWO, &flags), SPARROW_FP_CMP_LESS);
  ck_assert_int_eq(sparrow_fp_cmp(TWO, ONE, &flags), SPARROW_FP_CMP_GREATER);
  ck_assert_int_eq(sparrow_fp_cmp(NEG_ONE, 0xC0000000u, &flags), SPARROW_FP_CMP_GREATER);
  ck_assert_int_eq(sparrow_fp_cmp(NEG_ZERO, POS_ZERO, &flags), SPARROW_FP_CMP_EQUAL);
  ck_assert_int_eq(sparrow_fp_cmp(0x80000001u, POS_ZERO, &flags), SPARROW_FP_CMP_LESS);
  ck_assert_int_eq(sparrow_fp_cmp(NEG_INF, NEG_MAX_NORMAL, &flags), SPARROW_FP_CMP_LESS);
  ck_assert_int_eq(sparrow_fp_cmp(POS_INF, POS_INF, &flags), SPARROW_FP_CMP_EQUAL);
  ck_assert_int_eq(sparrow_fp_cmp(QNAN, QNAN, &flags), SPARROW_FP_CMP_UNORDERED);
  ck_assert_int_eq(sparrow_fp_cmp(ONE, NEG_QNAN_PAYLOAD, &flags), SPARROW_FP_CMP_UNORDERED);
  ck_assert_uint_eq(flags, 0);
  ck_assert_int_eq(sparrow_fp_cmp(SNAN, ONE, &flags), SPARROW_FP_CMP_UNORDERED);
  ck_assert_uint_eq(flags, NV);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Reduction trees. */

/* The documented trees, written out. */
static uint32_t add(uint32_t a, uint32_t b) {
  return sparrow_fp_add(a, b, NULL);
}

static uint32_t documented_sum4(const uint32_t *v) {
  return add(add(v[0], v[1]), add(v[2], v[3]));
}

static uint32_t documented_sum8(const uint32_t *v) {
  return add(add(add(v[0], v[1]), add(v[2], v[3])), add(add(v[4], v[5]), add(v[6], v[7])));
}

START_TEST(test_reduce_sum_small_example) {
  /* 2^25 + 1 rounds to 2^25 and 1 - 2^25 (a tie) to -2^25, so (v0 + v1) + (v2 + v3) = 0, while
     the sequential order gives 1 and the strided tree (v0 + v2) + (v1 + v3) gives 2. */
  const uint32_t v4[4] = {0x4C000000u, ONE, 0xCC000000u, ONE};
  uint32_t sum = 0xDEADBEEFu;
  uint8_t flags = 0;
  ck_assert_int_eq(sparrow_fp_reduce_sum(4, v4, &sum, &flags), SPARROW_FP_REDUCE_OK);
  ck_assert_uint_eq(sum, POS_ZERO);
  ck_assert_uint_eq(flags, NX);
  /* LANES = 8: the same pattern twice; the pairs of pairs cancel too. */
  const uint32_t v8[8] = {0x4C000000u, ONE, 0xCC000000u, ONE, ONE, 0x4C000000u, ONE, 0xCC000000u};
  ck_assert_int_eq(sparrow_fp_reduce_sum(8, v8, &sum, &flags), SPARROW_FP_REDUCE_OK);
  ck_assert_uint_eq(sum, POS_ZERO);
  /* Overflow in one pair: (MAX + MAX) + (-MAX + -MAX) = inf - inf = NaN, where a sequential sum
     would give +inf. */
  const uint32_t big[4] = {MAX_NORMAL, MAX_NORMAL, NEG_MAX_NORMAL, NEG_MAX_NORMAL};
  flags = 0;
  ck_assert_int_eq(sparrow_fp_reduce_sum(4, big, &sum, &flags), SPARROW_FP_REDUCE_OK);
  ck_assert_uint_eq(sum, QNAN);
  ck_assert_uint_eq(flags, OF | NX | NV);
}
END_TEST

/*
 * All binary trees over the lanes of `mask` (up to swapping the operands of an add, which changes
 * nothing: add is commutative in result and flags), evaluated on `vectors` input vectors at once.
 * A tree's results are one row of `vectors` patterns. Memoized per subset of lanes.
 */
#define MAX_VECTORS 24
#define LANES8 8

typedef struct {
  uint32_t (*rows)[MAX_VECTORS];
  size_t count;
} tree_results_t;

typedef struct {
  const uint32_t (*inputs)[LANES8]; /* [vector][lane] */
  size_t vectors;
  tree_results_t memo[1u << LANES8];
} tree_enumeration_t;

static const tree_results_t *all_trees(tree_enumeration_t *e, unsigned mask) {
  tree_results_t *slot = &e->memo[mask];
  if (slot->rows != NULL) {
    return slot;
  }
  if ((mask & (mask - 1)) == 0) { /* one lane: a leaf */
    int lane = __builtin_ctz(mask);
    slot->rows = calloc(1, sizeof slot->rows[0]);
    ck_assert_ptr_nonnull(slot->rows);
    for (size_t v = 0; v < e->vectors; v++) {
      slot->rows[0][v] = e->inputs[v][lane];
    }
    slot->count = 1;
    return slot;
  }
  /* Splits {A, mask - A} with A holding the lowest lane, so that each unordered split is seen once.
   */
  unsigned lowest = mask & -mask;
  size_t total = 0;
  for (unsigned a = (mask - 1) & mask; a != 0; a = (a - 1) & mask) {
    if ((a & lowest) != 0) {
      total += all_trees(e, a)->count * all_trees(e, mask & ~a)->count;
    }
  }
  slot->rows = calloc(total, sizeof slot->rows[0]);
  ck_assert_ptr_nonnull(slot->rows);
  for (unsigned a = (mask - 1) & mask; a != 0; a = (a - 1) & mask) {
    if ((a & lowest) == 0) {
      continue;
    }
    const tree_results_t *left = all_trees(e, a);
    const tree_results_t *right = all_trees(e, mask & ~a);
    for (size_t i = 0; i < left->count; i++) {
      for (size_t j = 0; j < right->count; j++) {
        for (size_t v = 0; v < e->vectors; v++) {
          slot->rows[slot->count][v] = add(left->rows[i][v], right->rows[j][v]);
        }
        slot->count++;
      }
    }
  }
  return slot;
}

/* Inputs whose sum depends on the order: random signs, full significands and exponents within
   2^-6 .. 2^6, so that no lane is negligible beside another (a gap of 25 binades would make every
   place to add it equivalent) and nearly every add rounds. The generator is splitmix64. */
static uint32_t order_sensitive_value(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15u);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  z ^= z >> 31;
  uint32_t sign = (uint32_t)(z >> 63) << 31;
  uint32_t exponent = 127 - 6 + (uint32_t)((z >> 40) % 13);
  return sign | (exponent << 23) | ((uint32_t)z & 0x007FFFFFu);
}

static void prove_documented_tree(unsigned lanes, uint32_t (*documented)(const uint32_t *),
                                  size_t want_trees) {
  static uint32_t inputs[MAX_VECTORS][LANES8];
  uint32_t want[MAX_VECTORS];
  uint64_t state = 0xC0FFEE00u + lanes;
  for (size_t v = 0; v < MAX_VECTORS; v++) {
    for (unsigned lane = 0; lane < lanes; lane++) {
      inputs[v][lane] = order_sensitive_value(&state);
    }
    want[v] = documented(inputs[v]);
    uint32_t got = 0;
    ck_assert_int_eq(sparrow_fp_reduce_sum(lanes, inputs[v], &got, NULL), SPARROW_FP_REDUCE_OK);
    ck_assert_msg(got == want[v], "LANES=%u vector %zu: reduce_sum %08X, documented tree %08X",
                  lanes, v, (unsigned)got, (unsigned)want[v]);
  }

  tree_enumeration_t *e = calloc(1, sizeof *e);
  ck_assert_ptr_nonnull(e);
  e->inputs = (const uint32_t(*)[LANES8])inputs;
  e->vectors = MAX_VECTORS;
  const tree_results_t *trees = all_trees(e, (1u << lanes) - 1);
  ck_assert_uint_eq(trees->count, want_trees);
  size_t matching = 0;
  for (size_t t = 0; t < trees->count; t++) {
    matching += memcmp(trees->rows[t], want, sizeof want) == 0;
  }
  /* The documented tree is among them; it must be the only one with these results. */
  ck_assert_msg(matching == 1, "LANES=%u: %zu of %zu trees give the documented tree's results",
                lanes, matching, trees->count);
  for (size_t m = 0; m < (1u << LANES8); m++) {
    free(e->memo[m].rows);
  }
  free(e);
}

START_TEST(test_reduce_sum_is_the_documented_tree_4) {
  prove_documented_tree(4, documented_sum4, 15); /* (2*4 - 3)!! trees */
}
END_TEST

START_TEST(test_reduce_sum_is_the_documented_tree_8) {
  prove_documented_tree(8, documented_sum8, 135135); /* (2*8 - 3)!! trees */
}
END_TEST

START_TEST(test_reduce_sum_other_lanes) {
  /* 1 and 2 lanes, and 16: the same rule, level by level. */
  const uint32_t v[16] = {ONE, TWO, 0x40400000u, 0x40800000u, ONE, ONE, ONE, ONE,
                          ONE, ONE, ONE,         ONE,         ONE, ONE, ONE, ONE};
  uint32_t sum = 0;
  ck_assert_int_eq(sparrow_fp_reduce_sum(1, v, &sum, NULL), SPARROW_FP_REDUCE_OK);
  ck_assert_uint_eq(sum, ONE);
  ck_assert_int_eq(sparrow_fp_reduce_sum(2, v, &sum, NULL), SPARROW_FP_REDUCE_OK);
  ck_assert_uint_eq(sum, 0x40400000u); /* 3 */
  ck_assert_int_eq(sparrow_fp_reduce_sum(16, v, &sum, NULL), SPARROW_FP_REDUCE_OK);
  ck_assert_uint_eq(sum, 0x41B00000u); /* 10 + 12 = 22 */
}
END_TEST

START_TEST(test_reduce_bad_arguments) {
  const uint32_t v[128] = {0};
  uint32_t result = 0xDEADBEEFu;
  uint8_t flags = 0;
  const unsigned bad[] = {0, 3, 5, 6, 7, 12, 128, 0x80000000u};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ck_assert_int_eq(sparrow_fp_reduce_sum(bad[i], v, &result, &flags),
                     SPARROW_FP_REDUCE_BAD_LANES);
    ck_assert_int_eq(sparrow_fp_reduce_max(bad[i], v, &result, &flags),
                     SPARROW_FP_REDUCE_BAD_LANES);
  }
  ck_assert_int_eq(sparrow_fp_reduce_sum(4, NULL, &result, &flags), SPARROW_FP_REDUCE_NULL);
  ck_assert_int_eq(sparrow_fp_reduce_max(4, v, NULL, &flags), SPARROW_FP_REDUCE_NULL);
  ck_assert_uint_eq(result, 0xDEADBEEFu); /* untouched on failure */
  ck_assert_uint_eq(flags, 0);
  ck_assert_str_eq(sparrow_fp_reduce_status_str(SPARROW_FP_REDUCE_OK), "ok");
  ck_assert_str_eq(sparrow_fp_reduce_status_str(SPARROW_FP_REDUCE_BAD_LANES),
                   "lanes must be a power of two from 1 to 64");
  ck_assert_str_eq(sparrow_fp_reduce_status_str(SPARROW_FP_REDUCE_NULL),
                   "values and result must not be NULL");
  ck_assert_str_eq(sparrow_fp_reduce_status_str((sparrow_fp_reduce_status_t)99),
                   "unknown reduction status");
}
END_TEST

START_TEST(test_reduce_max) {
  uint32_t result = 0;
  uint8_t flags = 0;
  const uint32_t v4[4] = {NEG_ONE, 0x40400000u, TWO, NEG_INF};
  ck_assert_int_eq(sparrow_fp_reduce_max(4, v4, &result, &flags), SPARROW_FP_REDUCE_OK);
  ck_assert_uint_eq(result, 0x40400000u);
  const uint32_t v8[8] = {NEG_INF, NEG_INF, NEG_INF, NEG_INF, NEG_INF, NEG_INF, NEG_INF, NEG_ZERO};
  ck_assert_int_eq(sparrow_fp_reduce_max(8, v8, &result, &flags), SPARROW_FP_REDUCE_OK);
  ck_assert_uint_eq(result, NEG_ZERO);
  const uint32_t zeros[4] = {NEG_ZERO, POS_ZERO, NEG_ZERO, NEG_ZERO};
  ck_assert_int_eq(sparrow_fp_reduce_max(4, zeros, &result, &flags), SPARROW_FP_REDUCE_OK);
  ck_assert_uint_eq(result, POS_ZERO);
  ck_assert_uint_eq(flags, 0);
  /* One NaN lane anywhere: the row's maximum is the canonical NaN (a softmax row with a NaN logit
     must come out NaN, not silently drop it). */
  for (unsigned lane = 0; lane < 8; lane++) {
    uint32_t row[8] = {ONE, TWO, ONE, TWO, ONE, TWO, ONE, TWO};
    row[lane] = NEG_QNAN_PAYLOAD;
    ck_assert_int_eq(sparrow_fp_reduce_max(8, row, &result, &flags), SPARROW_FP_REDUCE_OK);
    ck_assert_uint_eq(result, QNAN);
  }
  ck_assert_uint_eq(flags, 0);
  const uint32_t signalling[4] = {ONE, TWO, SNAN, ONE};
  ck_assert_int_eq(sparrow_fp_reduce_max(4, signalling, &result, &flags), SPARROW_FP_REDUCE_OK);
  ck_assert_uint_eq(result, QNAN);
  ck_assert_uint_eq(flags, NV);
  /* max is exact, associative and commutative here, so any order gives the tree's result: check
     the maximum of random rows against a linear scan. */
  uint64_t state = 7;
  for (int i = 0; i < 10000; i++) {
    uint32_t row[8];
    uint32_t scan = NEG_INF;
    for (int lane = 0; lane < 8; lane++) {
      row[lane] = order_sensitive_value(&state);
      scan = sparrow_fp_max(scan, row[lane], NULL);
    }
    ck_assert_int_eq(sparrow_fp_reduce_max(8, row, &result, NULL), SPARROW_FP_REDUCE_OK);
    ck_assert_uint_eq(result, scan);
  }
}
END_TEST

static Suite *special_suite(void) {
  Suite *suite = suite_create("sparrow_fp_special");
  TCase *functions = tcase_create("functions");
  tcase_add_test(functions, test_selfcheck_passes);
  tcase_add_test(functions, test_exp_special_values);
  tcase_add_test(functions, test_exp_values);
  tcase_add_test(functions, test_recip_special_values);
  tcase_add_test(functions, test_recip_values);
  tcase_add_test(functions, test_rsqrt_special_values);
  tcase_add_test(functions, test_rsqrt_values);
  tcase_add_test(functions, test_tanh_special_values);
  tcase_add_test(functions, test_tanh_values);
  tcase_add_test(functions, test_odd_symmetry);
  tcase_add_test(functions, test_flags_sticky_and_host_environment_kept);
  tcase_add_test(functions, test_div);
  tcase_add_test(functions, test_max_min);
  tcase_add_test(functions, test_cmp);
  suite_add_tcase(suite, functions);

  TCase *reductions = tcase_create("reductions");
  tcase_set_timeout(reductions, 60);
  tcase_add_test(reductions, test_reduce_sum_small_example);
  tcase_add_test(reductions, test_reduce_sum_is_the_documented_tree_4);
  tcase_add_test(reductions, test_reduce_sum_is_the_documented_tree_8);
  tcase_add_test(reductions, test_reduce_sum_other_lanes);
  tcase_add_test(reductions, test_reduce_bad_arguments);
  tcase_add_test(reductions, test_reduce_max);
  suite_add_tcase(suite, reductions);
  return suite;
}

int main(void) {
  SRunner *runner = srunner_create(special_suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
