/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Check suite for the C side of the fabric numerics (sim/model/sparrow_fp.c). Every expected bit
 * pattern and flag set below was derived by hand from the binary32 encoding; the comment beside
 * each vector gives the arithmetic. Nothing here is computed by the host, so a host or model that
 * gets one of them wrong fails the test.
 */
#include "../../sim/model/sparrow_fp.h"

#include <check.h>
#include <fenv.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__SSE__)
#include <xmmintrin.h>
#endif

/* Named encodings used throughout (hex comments in the vectors give the rest). */
#define POS_ZERO 0x00000000u
#define NEG_ZERO 0x80000000u
#define ONE 0x3F800000u
#define NEG_ONE 0xBF800000u
#define TWO 0x40000000u
#define HALF 0x3F000000u
#define MIN_SUBNORMAL 0x00000001u
#define MAX_SUBNORMAL 0x007FFFFFu
#define MIN_NORMAL 0x00800000u
#define MAX_NORMAL 0x7F7FFFFFu
#define POS_INF 0x7F800000u
#define NEG_INF 0xFF800000u
#define QNAN 0x7FC00000u
#define SNAN 0x7F800001u
#define NV SPARROW_FP_NV
#define OF SPARROW_FP_OF
#define UF SPARROW_FP_UF
#define NX SPARROW_FP_NX

typedef uint32_t (*fp_op_fn)(uint32_t a, uint32_t b, uint8_t *flags);

/* Runs one operation with clear flags and compares result and flags exactly. */
static void check_vector(fp_op_fn op, const char *op_name, uint32_t a, uint32_t b,
                         uint32_t want_result, uint8_t want_flags, int line) {
  uint8_t flags = 0;
  uint32_t result = op(a, b, &flags);
  ck_assert_msg(result == want_result && flags == want_flags,
                "line %d: %08X %s %08X = %08X flags %02X, want %08X flags %02X", line, (unsigned)a,
                op_name, (unsigned)b, (unsigned)result, (unsigned)flags, (unsigned)want_result,
                (unsigned)want_flags);
}

#define CHECK_ADD(a, b, result, flags) \
  check_vector(sparrow_fp_add, "+", (a), (b), (result), (flags), __LINE__)
#define CHECK_MUL(a, b, result, flags) \
  check_vector(sparrow_fp_mul, "*", (a), (b), (result), (flags), __LINE__)

/* Both operand orders: add and multiply are commutative, including flags and NaN results. */
#define CHECK_ADD2(a, b, result, flags) \
  do {                                  \
    CHECK_ADD(a, b, result, flags);     \
    CHECK_ADD(b, a, result, flags);     \
  } while (0)
#define CHECK_MUL2(a, b, result, flags) \
  do {                                  \
    CHECK_MUL(a, b, result, flags);     \
    CHECK_MUL(b, a, result, flags);     \
  } while (0)

/* ---------------------------------------------------------------------------------------------- */

START_TEST(test_selfcheck_passes) {
  const char *why = "not set";
  sparrow_fp_selfcheck_t status = sparrow_fp_selfcheck(&why);
  ck_assert_msg(status == SPARROW_FP_SELFCHECK_OK, "self-check failed: %s",
                why != NULL ? why : "(no reason)");
  ck_assert_ptr_null(why);
  /* A NULL reason pointer is allowed. */
  ck_assert_int_eq(sparrow_fp_selfcheck(NULL), SPARROW_FP_SELFCHECK_OK);
}
END_TEST

START_TEST(test_selfcheck_detects_wrong_rounding_mode) {
  /* Not to-nearest: the self-check must refuse the host, with a reason. */
  ck_assert_int_eq(fesetround(FE_TOWARDZERO), 0);
  const char *why = NULL;
  sparrow_fp_selfcheck_t status = sparrow_fp_selfcheck(&why);
  ck_assert_int_eq(fesetround(FE_TONEAREST), 0);
  ck_assert_int_eq(status, SPARROW_FP_SELFCHECK_FAILED);
  ck_assert_ptr_nonnull(why);
  ck_assert_str_eq(why, "rounding mode: the host is not set to round to nearest");
}
END_TEST

#if defined(__x86_64__) || defined(__SSE__)
/* x86 MXCSR bits a library could set behind our back: flush-to-zero and denormals-are-zero. */
#define MXCSR_FTZ 0x8000u
#define MXCSR_DAZ 0x0040u

static const char *selfcheck_reason_with_mxcsr_bits(unsigned bits) {
  unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | bits);
  const char *why = NULL;
  sparrow_fp_selfcheck_t status = sparrow_fp_selfcheck(&why);
  _mm_setcsr(saved);
  ck_assert_int_eq(status, SPARROW_FP_SELFCHECK_FAILED);
  ck_assert_ptr_nonnull(why);
  return why;
}

START_TEST(test_selfcheck_detects_flush_to_zero) {
  ck_assert_str_eq(selfcheck_reason_with_mxcsr_bits(MXCSR_FTZ),
                   "flush-to-zero: 0x00800000 * 0.5 did not give the subnormal 0x00400000 exactly");
}
END_TEST

START_TEST(test_selfcheck_detects_denormals_are_zero) {
  ck_assert_str_eq(selfcheck_reason_with_mxcsr_bits(MXCSR_DAZ),
                   "denormals-are-zero: 0x00000001 + 0x00000001 did not give 0x00000002 exactly");
}
END_TEST
#endif

START_TEST(test_add_signed_zeros) {
  CHECK_ADD(POS_ZERO, POS_ZERO, POS_ZERO, 0);
  CHECK_ADD2(POS_ZERO, NEG_ZERO, POS_ZERO, 0); /* +0 + -0 = +0 in round-to-nearest */
  CHECK_ADD(NEG_ZERO, NEG_ZERO, NEG_ZERO, 0);  /* -0 + -0 = -0 */
  /* x + -x = +0, for normals, subnormals and the extremes. */
  CHECK_ADD2(ONE, NEG_ONE, POS_ZERO, 0);
  CHECK_ADD2(MIN_SUBNORMAL, 0x80000001u, POS_ZERO, 0);
  CHECK_ADD2(MAX_NORMAL, 0xFF7FFFFFu, POS_ZERO, 0);
  CHECK_ADD2(0x12345678u, 0x92345678u, POS_ZERO, 0);
  /* Zero is the identity, and keeps the other operand's sign. */
  CHECK_ADD2(NEG_ZERO, ONE, ONE, 0);
  CHECK_ADD2(POS_ZERO, NEG_ONE, NEG_ONE, 0);
  CHECK_ADD2(POS_ZERO, 0x80000001u, 0x80000001u, 0);
  CHECK_ADD2(NEG_ZERO, MAX_SUBNORMAL, MAX_SUBNORMAL, 0);
}
END_TEST

START_TEST(test_mul_signed_zeros) {
  CHECK_MUL(POS_ZERO, POS_ZERO, POS_ZERO, 0);
  CHECK_MUL2(POS_ZERO, NEG_ZERO, NEG_ZERO, 0);
  CHECK_MUL(NEG_ZERO, NEG_ZERO, POS_ZERO, 0);
  CHECK_MUL2(POS_ZERO, NEG_ONE, NEG_ZERO, 0);
  CHECK_MUL2(NEG_ZERO, MAX_NORMAL, NEG_ZERO, 0);
  CHECK_MUL2(POS_ZERO, MIN_SUBNORMAL, POS_ZERO, 0);
  CHECK_MUL2(NEG_ZERO, 0x80000001u, POS_ZERO, 0);
}
END_TEST

START_TEST(test_add_subnormals) {
  CHECK_ADD(MIN_SUBNORMAL, MIN_SUBNORMAL, 0x00000002u, 0);
  CHECK_ADD2(0x80000003u, 0x80000004u, 0x80000007u, 0);
  CHECK_ADD2(0x00000005u, 0x80000003u, 0x00000002u, 0);
  /* Sums of subnormals that reach the smallest normal exactly. */
  CHECK_ADD2(MAX_SUBNORMAL, MIN_SUBNORMAL, MIN_NORMAL, 0);
  CHECK_ADD(0x00400000u, 0x00400000u, MIN_NORMAL, 0);
  CHECK_ADD2(0x80123456u, 0x806DCBAAu, 0x80800000u, 0);
  /* 2 * (2^-126 - 2^-149) = 2^-126 * (2 - 2^-22): a normal, exact. */
  CHECK_ADD(MAX_SUBNORMAL, MAX_SUBNORMAL, 0x00FFFFFEu, 0);
  /* Normal minus subnormal back into the subnormal range: exact, so no underflow. */
  CHECK_ADD2(MIN_NORMAL, 0x80000001u, MAX_SUBNORMAL, 0);
  CHECK_ADD2(0x00800005u, 0x80800000u, 0x00000005u, 0);
  /* A subnormal is far below half an ulp of 1: inexact, rounds to 1. */
  CHECK_ADD2(ONE, MAX_SUBNORMAL, ONE, NX);
  /* A subnormal is exactly half an ulp of 2^-125 (ulp 2^-148): a tie, to even. */
  CHECK_ADD2(0x01000000u, MIN_SUBNORMAL, 0x01000000u, NX);
  CHECK_ADD2(0x01000001u, MIN_SUBNORMAL, 0x01000002u, NX);
}
END_TEST

START_TEST(test_mul_subnormals) {
  CHECK_MUL2(MIN_SUBNORMAL, ONE, MIN_SUBNORMAL, 0);      /* no denormals-are-zero */
  CHECK_MUL2(MIN_NORMAL, HALF, 0x00400000u, 0);          /* no flush-to-zero */
  CHECK_MUL2(MAX_SUBNORMAL, TWO, 0x00FFFFFEu, 0);        /* subnormal in, normal out */
  CHECK_MUL2(MIN_SUBNORMAL, 0x4B000000u, MIN_NORMAL, 0); /* 2^-149 * 2^23 = 2^-126 */
  CHECK_MUL2(0x00400000u, 0x4B000000u, 0x0B800000u, 0);  /* 2^-127 * 2^23 = 2^-104 */
  CHECK_MUL2(0x80000003u, 0x40400000u, 0x80000009u, 0);  /* -3 * 3 subnormal ulps, exact */
  /* 2^-150: a tie between 0 and 2^-149, to the even 0. Tiny and inexact. */
  CHECK_MUL2(MIN_SUBNORMAL, HALF, POS_ZERO, UF | NX);
  CHECK_MUL2(0x80000001u, HALF, NEG_ZERO, UF | NX);
  /* 3 * 2^-150 = 1.5 subnormal ulps: a tie between 1 and 2, to the even 2. */
  CHECK_MUL2(0x00000003u, HALF, 0x00000002u, UF | NX);
  /* 0.75 subnormal ulp rounds up to 1; 0.25 rounds down to 0. */
  CHECK_MUL2(MIN_SUBNORMAL, 0x3F400000u, MIN_SUBNORMAL, UF | NX);
  CHECK_MUL2(MIN_SUBNORMAL, 0x3E800000u, POS_ZERO, UF | NX);
  /* (2^-126 + 2^-149) / 2 = 0x00400000 + half an ulp: a tie, to the even 0x00400000. */
  CHECK_MUL2(0x00800001u, HALF, 0x00400000u, UF | NX);
  /* (2^-126 + 3 * 2^-149) / 2 = 0x00400001 + half an ulp: a tie, to the even 0x00400002. */
  CHECK_MUL2(0x00800003u, HALF, 0x00400002u, UF | NX);
  /* Two subnormals: 2^-298, far below the smallest subnormal. */
  CHECK_MUL2(MIN_SUBNORMAL, MIN_SUBNORMAL, POS_ZERO, UF | NX);
  CHECK_MUL2(0x80000001u, MAX_SUBNORMAL, NEG_ZERO, UF | NX);
}
END_TEST

START_TEST(test_min_max_normal) {
  CHECK_ADD(MIN_NORMAL, MIN_NORMAL, 0x01000000u, 0);
  CHECK_ADD2(MAX_NORMAL, ONE, MAX_NORMAL, NX);
  CHECK_ADD2(MAX_NORMAL, 0xFF7FFFFEu, 0x73800000u, 0); /* one ulp of FLT_MAX: 2^104 */
  CHECK_MUL2(MAX_NORMAL, ONE, MAX_NORMAL, 0);
  CHECK_MUL2(MIN_NORMAL, NEG_ONE, 0x80800000u, 0);
  /* (2 - 2^-23) * 2^127 * 2^-126 = 2 * (2 - 2^-23): exact. */
  CHECK_MUL2(MAX_NORMAL, MIN_NORMAL, 0x407FFFFFu, 0);
  /* 2^-126 * 2^-126 underflows to zero. */
  CHECK_MUL2(MIN_NORMAL, MIN_NORMAL, POS_ZERO, UF | NX);
  /* (2^127 * 2) is 2^128: overflow. 0x7EFFFFFF * 2 is FLT_MAX exactly. */
  CHECK_MUL2(0x7F000000u, TWO, POS_INF, OF | NX);
  CHECK_MUL2(0x7EFFFFFFu, TWO, MAX_NORMAL, 0);
  /* 2^64 * (2 - 2^-23) * 2^63 = FLT_MAX exactly. */
  CHECK_MUL2(0x5F800000u, 0x5F7FFFFFu, MAX_NORMAL, 0);
}
END_TEST

START_TEST(test_overflow) {
  CHECK_ADD(MAX_NORMAL, MAX_NORMAL, POS_INF, OF | NX);
  CHECK_ADD(0xFF7FFFFFu, 0xFF7FFFFFu, NEG_INF, OF | NX);
  CHECK_ADD(0x7F000000u, 0x7F000000u, POS_INF, OF | NX); /* 2^127 + 2^127 = 2^128 */
  /* FLT_MAX + 2^103 (half its ulp) is a tie; FLT_MAX is odd, so it rounds up to 2^128. */
  CHECK_ADD2(MAX_NORMAL, 0x73000000u, POS_INF, OF | NX);
  CHECK_ADD2(0xFF7FFFFFu, 0xF3000000u, NEG_INF, OF | NX);
  /* Just below half an ulp stays at FLT_MAX; just above overflows. */
  CHECK_ADD2(MAX_NORMAL, 0x72FFFFFFu, MAX_NORMAL, NX);
  CHECK_ADD2(MAX_NORMAL, 0x73000001u, POS_INF, OF | NX);
  CHECK_MUL2(MAX_NORMAL, 0xC0000000u, NEG_INF, OF | NX);
  /* (1 + 2^-23) * (2 - 2^-22) * 2^127 = (2 - 2^-45) * 2^127: above FLT_MAX, rounds to 2^128. */
  CHECK_MUL2(0x3F800001u, 0x7F7FFFFEu, POS_INF, OF | NX);
  /* (1 + 2^-23) * (2 - 2^-23) * 2^127 > 2^128. */
  CHECK_MUL2(0x5F800001u, 0x5F7FFFFFu, POS_INF, OF | NX);
}
END_TEST

START_TEST(test_ties_to_even) {
  /* 1 + 2^-24: half an ulp of 1. 1.0 is even: down. */
  CHECK_ADD2(ONE, 0x33800000u, ONE, NX);
  /* (1 + 2^-23) + 2^-24: odd, so up to 1 + 2^-22. */
  CHECK_ADD2(0x3F800001u, 0x33800000u, 0x3F800002u, NX);
  CHECK_ADD2(0xBF800001u, 0xB3800000u, 0xBF800002u, NX);
  /* 1 + 3 * 2^-24 = 1 + 1.5 ulp: between 1 + ulp (odd) and 1 + 2 ulp (even): up. */
  CHECK_ADD2(ONE, 0x34400000u, 0x3F800002u, NX);
  /* 1 + 5 * 2^-24 = 1 + 2.5 ulp: between 2 ulp (even) and 3 ulp: down. */
  CHECK_ADD2(ONE, 0x34A00000u, 0x3F800002u, NX);
  /* Not ties: just above and just below half an ulp. */
  CHECK_ADD2(ONE, 0x33800001u, 0x3F800001u, NX);
  CHECK_ADD2(ONE, 0x337FFFFFu, ONE, NX);
  /* Subtraction: 1 - 2^-25 = 1 - (half an ulp of 0.99..): a tie between 1 - 2^-24 (odd) and
     1 (even): up to 1. */
  CHECK_ADD2(ONE, 0xB3000000u, ONE, NX);
  /* 1 - 3 * 2^-25: between 1 - 2^-23 (even) and 1 - 2^-24 (odd): to 1 - 2^-23. */
  CHECK_ADD2(ONE, 0xB3C00000u, 0x3F7FFFFEu, NX);
  /* (1 + 2^-23) * 1.5 = 1.5 + 1.5 ulp: up to the even 1.5 + 2 ulp. */
  CHECK_MUL2(0x3F800001u, 0x3FC00000u, 0x3FC00002u, NX);
  /* (1 + 3 * 2^-23) * 1.5 = 1.5 + 4.5 ulp: down to the even 1.5 + 4 ulp. */
  CHECK_MUL2(0x3F800003u, 0x3FC00000u, 0x3FC00004u, NX);
  CHECK_MUL2(0xBF800003u, 0x3FC00000u, 0xBFC00004u, NX);
  /* Integer significands: 4095 * 4097 = 2^24 - 1 (24 bits): exact. 4097 * 4097 =
     2^24 + 2^13 + 1 (25 bits, odd, so a tie at the 2-unit spacing above 2^24) between
     2^24 + 2^13 (fraction field 0x001000, even) and + 2 (0x001001): down.
     4097 * 4099 = 2^24 + 2^14 + 3: a tie between + 2 (fraction 0x002001, odd) and + 4
     (0x002002, even): up. */
  CHECK_MUL2(0x457FF000u, 0x45800800u, 0x4B7FFFFFu, 0);
  CHECK_MUL2(0x45800800u, 0x45800800u, 0x4B801000u, NX);
  CHECK_MUL2(0x45800800u, 0x45801800u, 0x4B802002u, NX);
}
END_TEST

START_TEST(test_tininess_after_rounding) {
  /* (1 + 2^-23) * (1 - 2^-23) * 2^-126 = (1 - 2^-46) * 2^-126. With unbounded exponent it rounds
     to 2^-126, so it is not tiny: inexact only (a before-rounding machine raises underflow). */
  CHECK_MUL2(0x3F800001u, MAX_SUBNORMAL, MIN_NORMAL, NX);
  /* (1 - 2^-24) * 2^-126 = 2^-126 - 2^-150: representable with 24 bits at exponent -127, so
     tiny; on the subnormal grid it is a tie between 0x007FFFFF (odd) and 0x00800000: up, with
     underflow, because tininess was decided before the subnormal rounding carried. */
  CHECK_MUL2(0x3F7FFFFFu, MIN_NORMAL, MIN_NORMAL, UF | NX);
  /* Exact product 2^-126 * (1 - 2^-24 - 2^-25 - 2^-28 ...) lies between (1 - 2^-24) * 2^-126
     and (1 - 2^-25) * 2^-126: rounds to 2^-126 on the subnormal grid, but with unbounded
     exponent to (1 - 2^-24) * 2^-126: tiny, so underflow. (Found and checked with exact
     rational arithmetic.) */
  CHECK_MUL2(0x3FC8DBACu, 0x005191EDu, MIN_NORMAL, UF | NX);
  /* (1 - 3 * 2^-24) * (1 + 2^-23) * 2^-126 = (1 - 2^-24 - 3 * 2^-47) * 2^-126: just below the
     tie, so down to 0x007FFFFF, tiny and inexact. */
  CHECK_MUL2(0x3F7FFFFDu, 0x00800001u, MAX_SUBNORMAL, UF | NX);
  /* Tiny but exact raises nothing. */
  CHECK_MUL2(0x3F7FFFFEu, MIN_NORMAL, MAX_SUBNORMAL, 0);
  CHECK_MUL2(ONE, MAX_SUBNORMAL, MAX_SUBNORMAL, 0);
}
END_TEST

START_TEST(test_nan_operands) {
  /* Quiet NaNs: canonical result, no flags, whatever the sign or payload. */
  CHECK_ADD2(QNAN, ONE, QNAN, 0);
  CHECK_ADD2(0xFFC00000u, ONE, QNAN, 0);
  CHECK_ADD2(0x7FC12345u, NEG_ZERO, QNAN, 0);
  CHECK_ADD2(0xFFFFFFFFu, POS_INF, QNAN, 0);
  CHECK_MUL2(0x7FFFFFFFu, POS_ZERO, QNAN, 0);
  CHECK_MUL2(0xFFC00001u, NEG_INF, QNAN, 0);
  CHECK_ADD2(QNAN, 0xFFC00000u, QNAN, 0);
  /* Signalling NaNs raise invalid, with either operand and either sign. */
  CHECK_ADD2(SNAN, ONE, QNAN, NV);
  CHECK_ADD2(0xFFBFFFFFu, MIN_SUBNORMAL, QNAN, NV);
  CHECK_MUL2(0x7FA00000u, POS_ZERO, QNAN, NV);
  CHECK_MUL2(0xFF800001u, POS_INF, QNAN, NV);
  CHECK_ADD2(SNAN, QNAN, QNAN, NV);
  CHECK_MUL2(0xFFC00000u, 0xFF812345u, QNAN, NV);
}
END_TEST

START_TEST(test_infinities) {
  CHECK_ADD(POS_INF, POS_INF, POS_INF, 0);
  CHECK_ADD(NEG_INF, NEG_INF, NEG_INF, 0);
  CHECK_ADD2(POS_INF, NEG_INF, QNAN, NV); /* inf - inf */
  CHECK_ADD2(POS_INF, 0xFF7FFFFFu, POS_INF, 0);
  CHECK_ADD2(NEG_INF, MAX_NORMAL, NEG_INF, 0);
  CHECK_ADD2(NEG_INF, NEG_ZERO, NEG_INF, 0);
  CHECK_MUL2(POS_INF, POS_ZERO, QNAN, NV); /* 0 * inf */
  CHECK_MUL2(NEG_INF, NEG_ZERO, QNAN, NV);
  CHECK_MUL2(POS_INF, NEG_ONE, NEG_INF, 0);
  CHECK_MUL2(NEG_INF, NEG_INF, POS_INF, 0);
  CHECK_MUL2(POS_INF, MIN_SUBNORMAL, POS_INF, 0);
  CHECK_MUL2(NEG_INF, 0x80000001u, POS_INF, 0);
}
END_TEST

START_TEST(test_cancellation) {
  /* 1 - (1 - 2^-24) = 2^-24, exact. */
  CHECK_ADD2(ONE, 0xBF7FFFFFu, 0x33800000u, 0);
  /* (1 + 2^-23) - 1 = 2^-23. */
  CHECK_ADD2(0x3F800001u, NEG_ONE, 0x34000000u, 0);
  /* 2^-125 - (2^-125 - 2^-149): into the subnormal range, exact. */
  CHECK_ADD2(0x01000000u, 0x80FFFFFFu, MIN_SUBNORMAL, 0);
  /* -1.5 + 1.25 = -0.25. */
  CHECK_ADD2(0xBFC00000u, 0x3FA00000u, 0xBE800000u, 0);
}
END_TEST

START_TEST(test_flags_are_sticky) {
  uint8_t flags = 0;
  ck_assert_uint_eq(sparrow_fp_add(MAX_NORMAL, MAX_NORMAL, &flags), POS_INF);
  ck_assert_uint_eq(flags, OF | NX);
  /* An exact operation leaves the collected flags alone. */
  ck_assert_uint_eq(sparrow_fp_add(ONE, ONE, &flags), TWO);
  ck_assert_uint_eq(flags, OF | NX);
  /* Flags from later operations are ORed in. */
  ck_assert_uint_eq(sparrow_fp_mul(MIN_SUBNORMAL, HALF, &flags), POS_ZERO);
  ck_assert_uint_eq(flags, OF | UF | NX);
  ck_assert_uint_eq(sparrow_fp_mul(SNAN, ONE, &flags), QNAN);
  ck_assert_uint_eq(flags, NV | OF | UF | NX);
  /* Bits the operations never raise are kept too (divide-by-zero, and the upper bits). */
  flags = SPARROW_FP_DZ | 0x80u;
  ck_assert_uint_eq(sparrow_fp_add(ONE, 0x33800000u, &flags), ONE);
  ck_assert_uint_eq(flags, SPARROW_FP_DZ | 0x80u | NX);
}
END_TEST

START_TEST(test_null_flags) {
  ck_assert_uint_eq(sparrow_fp_add(MAX_NORMAL, MAX_NORMAL, NULL), POS_INF);
  ck_assert_uint_eq(sparrow_fp_mul(POS_INF, POS_ZERO, NULL), QNAN);
  ck_assert_uint_eq(sparrow_fp_mul(0x3F800001u, 0x3FC00000u, NULL), 0x3FC00002u);
}
END_TEST

START_TEST(test_host_flags_preserved) {
  /* The model must not leak its exceptions into the host's environment ... */
  ck_assert_int_eq(feclearexcept(FE_ALL_EXCEPT), 0);
  ck_assert_uint_eq(sparrow_fp_add(MAX_NORMAL, MAX_NORMAL, NULL), POS_INF);
  ck_assert_uint_eq(sparrow_fp_mul(SNAN, ONE, NULL), QNAN);
  ck_assert_int_eq(fetestexcept(FE_ALL_EXCEPT), 0);
  /* ... nor clear the ones the caller had raised. */
  ck_assert_int_eq(feraiseexcept(FE_DIVBYZERO), 0);
  ck_assert_uint_eq(sparrow_fp_add(ONE, ONE, NULL), TWO);
  ck_assert_int_eq(fetestexcept(FE_ALL_EXCEPT), FE_DIVBYZERO);
  ck_assert_int_eq(feclearexcept(FE_ALL_EXCEPT), 0);
}
END_TEST

/*
 * The windowed outer product against its definition (sparrow_fp_mul then sparrow_fp_add on every
 * element). Operands mix special encodings with random bits; 1 x 1 products compare each element's
 * flags on their own, so an OR over a block cannot hide a wrong flag.
 */
static const uint32_t kOuterMacSpecials[] = {
    POS_ZERO, NEG_ZERO, ONE,  NEG_ONE, TWO,     HALF,    MIN_SUBNORMAL, MAX_SUBNORMAL,
    MIN_NORMAL, MAX_NORMAL, POS_INF, NEG_INF, QNAN, SNAN, 0xFFA00000u, 0x1F800000u, 0x20000000u};

static uint32_t outer_mac_operand(uint64_t *state) {
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  uint32_t bits = (uint32_t)(*state >> 32);
  size_t specials = sizeof kOuterMacSpecials / sizeof kOuterMacSpecials[0];
  return (bits & 3u) == 0 ? kOuterMacSpecials[(bits >> 2) % specials] : bits;
}

START_TEST(test_outer_mac_matches_definition) {
  uint64_t state = 12345;
  for (int trial = 0; trial < 200000; trial++) {
    uint32_t a = outer_mac_operand(&state);
    uint32_t b = outer_mac_operand(&state);
    uint32_t acc = outer_mac_operand(&state);
    uint8_t want_flags = 0;
    uint32_t want = sparrow_fp_add(acc, sparrow_fp_mul(a, b, &want_flags), &want_flags);
    uint8_t got_flags = 0;
    sparrow_fp_outer_mac(1, 1, &a, &b, &acc, 1, &got_flags);
    ck_assert_msg(acc == want && got_flags == want_flags,
                  "trial %d: got 0x%08x flags 0x%02x, want 0x%08x flags 0x%02x", trial, acc,
                  got_flags, want, want_flags);
  }
  for (int trial = 0; trial < 2000; trial++) {
    uint32_t a[8], b[8], acc[8][9], want[8][9];
    for (int i = 0; i < 8; i++) {
      a[i] = outer_mac_operand(&state);
      b[i] = outer_mac_operand(&state);
      for (int j = 0; j < 9; j++) {
        acc[i][j] = want[i][j] = outer_mac_operand(&state);
      }
    }
    uint8_t want_flags = 0;
    for (int r = 0; r < 8; r++) {
      for (int c = 0; c < 8; c++) {
        want[r][c] = sparrow_fp_add(want[r][c], sparrow_fp_mul(a[r], b[c], &want_flags),
                                    &want_flags);
      }
    }
    uint8_t got_flags = 0;
    sparrow_fp_outer_mac(8, 8, a, b, &acc[0][0], 9, &got_flags);
    ck_assert_uint_eq(got_flags, want_flags);
    for (int r = 0; r < 8; r++) {
      for (int c = 0; c < 9; c++) { /* column 8 lies outside the product and must be untouched */
        ck_assert_uint_eq(acc[r][c], want[r][c]);
      }
    }
  }
}
END_TEST

START_TEST(test_outer_mac_hand_vectors) {
  /* 0 * inf is invalid; the sum with 1 stays the canonical NaN. */
  uint32_t a = POS_ZERO, b = POS_INF, acc = ONE;
  uint8_t flags = 0;
  sparrow_fp_outer_mac(1, 1, &a, &b, &acc, 1, &flags);
  ck_assert_uint_eq(acc, QNAN);
  ck_assert_uint_eq(flags, NV);
  /* MAX_NORMAL * 2 overflows to +inf; + 1 stays +inf. */
  a = MAX_NORMAL, b = TWO, acc = ONE, flags = 0;
  sparrow_fp_outer_mac(1, 1, &a, &b, &acc, 1, &flags);
  ck_assert_uint_eq(acc, POS_INF);
  ck_assert_uint_eq(flags, OF | NX);
  /* Host flags are neither leaked nor cleared. */
  ck_assert_int_eq(feclearexcept(FE_ALL_EXCEPT), 0);
  ck_assert_int_eq(feraiseexcept(FE_DIVBYZERO), 0);
  a = SNAN, b = ONE, acc = ONE;
  sparrow_fp_outer_mac(1, 1, &a, &b, &acc, 1, NULL);
  ck_assert_uint_eq(acc, QNAN);
  ck_assert_int_eq(fetestexcept(FE_ALL_EXCEPT), FE_DIVBYZERO);
  ck_assert_int_eq(feclearexcept(FE_ALL_EXCEPT), 0);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */

static Suite *sparrow_fp_suite(void) {
  Suite *suite = suite_create("sparrow_fp");

  TCase *selfcheck = tcase_create("selfcheck");
  tcase_add_test(selfcheck, test_selfcheck_passes);
  tcase_add_test(selfcheck, test_selfcheck_detects_wrong_rounding_mode);
#if defined(__x86_64__) || defined(__SSE__)
  tcase_add_test(selfcheck, test_selfcheck_detects_flush_to_zero);
  tcase_add_test(selfcheck, test_selfcheck_detects_denormals_are_zero);
#endif
  suite_add_tcase(suite, selfcheck);

  TCase *values = tcase_create("values");
  tcase_add_test(values, test_add_signed_zeros);
  tcase_add_test(values, test_mul_signed_zeros);
  tcase_add_test(values, test_add_subnormals);
  tcase_add_test(values, test_mul_subnormals);
  tcase_add_test(values, test_min_max_normal);
  tcase_add_test(values, test_overflow);
  tcase_add_test(values, test_ties_to_even);
  tcase_add_test(values, test_tininess_after_rounding);
  tcase_add_test(values, test_cancellation);
  suite_add_tcase(suite, values);

  TCase *specials = tcase_create("specials");
  tcase_add_test(specials, test_nan_operands);
  tcase_add_test(specials, test_infinities);
  suite_add_tcase(suite, specials);

  TCase *flags = tcase_create("flags");
  tcase_add_test(flags, test_flags_are_sticky);
  tcase_add_test(flags, test_null_flags);
  tcase_add_test(flags, test_host_flags_preserved);
  suite_add_tcase(suite, flags);

  TCase *outer_mac = tcase_create("outer_mac");
  tcase_add_test(outer_mac, test_outer_mac_matches_definition);
  tcase_add_test(outer_mac, test_outer_mac_hand_vectors);
  suite_add_tcase(suite, outer_mac);

  return suite;
}

int main(void) {
  SRunner *runner = srunner_create(sparrow_fp_suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
