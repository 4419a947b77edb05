/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The natural logarithm of the PCU's SIMD mode (sparrow_fp_log.h, docs/numerics.md "log").
 *
 * Written the way sparrow_fp_special.c writes its functions, with the same machinery
 * (sparrow_fp_twin.h): the body is written once against fadd() and fmul() and plain integer bit
 * manipulation, and instantiated as the definition and as the fast form in one MXCSR flag window.
 * tests/unit/test_fp_log.c checks the two forms against each other and both against libm's log.
 *
 * The algorithm (every step is one operation of the SIMD lanes, host/ops/simd_special.c):
 *   x = 2^k m with m in [sqrt(1/2), sqrt(2)) (integer operations on the bits; a subnormal x is
 *   first scaled by 2^64, exactly); f = m - 1, exact (Sterbenz); then
 *     log(x) = k ln2 + log1p(f),   log1p(f) = f - f^2/2 + f^3 Q(f),
 *   Q of degree 7 (tests/fp/log_coeffs.py). The quadratic term is computed exactly in three parts,
 *   f_h^2/2 + f_h f_l + f_l^2/2 with f_h = f's 12 leading bits and f_l = f - f_h (the first two
 *   exact products, the third tiny), and the terms are added smallest first, f and the exact
 *   k LN2_HI last: so the result carries about one rounding of its own size (the last add) plus
 *   small ones (measured: below one ulp everywhere, docs/numerics.md).
 */
#include "sparrow_fp_log.h"

#include "sparrow_fp_twin.h"

#define F_NEG_ONE 0xBF800000u

/* The reduction: adding LOG_REDUCE_OFFSET to the bits carries into the exponent exactly when the
   significand is at least sqrt(2) (bits 0x3504F3 and up), and the fraction plus LOG_SQRT_HALF is
   then m in [sqrt(1/2), sqrt(2)): musl's logf reduction, all integer operations. */
#define LOG_SQRT_HALF 0x3F3504F3u     /* sqrt(1/2) rounded down */
#define LOG_REDUCE_OFFSET 0x004AFB0Du /* F_ONE - LOG_SQRT_HALF */
#define LOG_SUBNORMAL_EXTRA 64u       /* the 2^64 scaling of a subnormal input */
/* k as a binary32 number: (SHIFTER's bits + k) is 1.5 * 2^23 + k exactly, minus SHIFTER exact. */
#define LOG_SHIFTER 0x4B400000u
#define LOG_NEG_SHIFTER 0xCB400000u
#define LOG_LN2_HI 0x3F317200u /* ln2 to 15 bits: k LN2_HI is exact for |k| < 2^9 */
#define LOG_LN2_LO 0x35BFBE8Eu /* ln2 - LN2_HI, rounded */
/* Q(f) ~ (log1p(f) - f + f^2/2) / f^3 on [sqrt(1/2) - 1, sqrt(2) - 1], weighted relative to
   log1p(f): 2^-27.3 (tests/fp/log_coeffs.py). */
#define LOG_Q0 0x3EAAAAAAu
#define LOG_Q1 0xBE800114u
#define LOG_Q2 0x3E4CD01Cu
#define LOG_Q3 0xBE2A38F8u
#define LOG_Q4 0x3E116AABu
#define LOG_Q5 0xBE06C1C6u
#define LOG_Q6 0x3E02BF5Au
#define LOG_Q7 0xBD9C8EDEu

/* ---------------------------------------------------------------------------------------------- */
/* log. */

ALWAYS_INLINE uint32_t log_body(ctx_t *ctx, uint32_t x) {
  if (is_nan(x)) {
    return fadd(ctx, x, F_ZERO); /* the canonical NaN, NV exactly when x signals */
  }
  if ((x & ABS_MASK) == 0) {
    return SIGN_BIT | fmul(ctx, F_MAX, F_MAX); /* the pole: -inf with OF|NX */
  }
  if ((x & SIGN_BIT) != 0) {
    return fadd(ctx, INF_BITS, negate(INF_BITS)); /* outside the domain: inf - inf, NaN with NV */
  }
  if (x == INF_BITS) {
    return INF_BITS; /* exact, no flags */
  }
  bool subnormal = x < MIN_NORMAL_BITS;
  uint32_t a = fmul(ctx, x, subnormal ? F_2P64 : F_ONE); /* exact */
  uint32_t reduced = a + LOG_REDUCE_OFFSET;
  /* k: the exponent of the reduced bits, unbiased (and unscaled); m: their fraction with the
     exponent of sqrt(1/2) added back, in [sqrt(1/2), sqrt(2)). */
  uint32_t k_bits = (reduced >> EXPONENT_SHIFT) - EXPONENT_BIAS;
  if (subnormal) {
    k_bits -= LOG_SUBNORMAL_EXTRA;
  }
  uint32_t m = (reduced & FRACTION_MASK) + LOG_SQRT_HALF;
  uint32_t f = fadd(ctx, m, F_NEG_ONE); /* exact */

  /* f^2/2 = f_h^2/2 + f_h f_l + f_l^2/2: the first two exact, the last tiny. */
  uint32_t f_h = f & HIGH12_MASK;
  uint32_t f_l = fadd(ctx, f, negate(f_h)); /* exact */
  uint32_t hh = fmul(ctx, fmul(ctx, f_h, F_HALF), f_h);
  uint32_t hl = fmul(ctx, f_h, f_l);
  uint32_t ll = fmul(ctx, fmul(ctx, f_l, F_HALF), f_l);

  /* f^3 Q(f), Q by Horner from Q7. */
  uint32_t f3 = fmul(ctx, fmul(ctx, f, f), f);
  uint32_t q = fmul(ctx, LOG_Q7, f);
  q = fmul(ctx, fadd(ctx, q, LOG_Q6), f);
  q = fmul(ctx, fadd(ctx, q, LOG_Q5), f);
  q = fmul(ctx, fadd(ctx, q, LOG_Q4), f);
  q = fmul(ctx, fadd(ctx, q, LOG_Q3), f);
  q = fmul(ctx, fadd(ctx, q, LOG_Q2), f);
  q = fmul(ctx, fadd(ctx, q, LOG_Q1), f);
  q = fadd(ctx, q, LOG_Q0);
  uint32_t t = fmul(ctx, f3, q);

  /* Smallest terms first: ((t - (hl + ll)) - hh) + k LN2_LO, then f, then k LN2_HI (exact). */
  uint32_t w = fadd(ctx, t, negate(fadd(ctx, hl, ll)));
  w = fadd(ctx, w, negate(hh));
  uint32_t k = fadd(ctx, LOG_SHIFTER + k_bits, LOG_NEG_SHIFTER); /* k as a float, exact */
  w = fadd(ctx, w, fmul(ctx, k, LOG_LN2_LO));
  uint32_t v = fadd(ctx, f, w);
  return fadd(ctx, v, fmul(ctx, k, LOG_LN2_HI));
}

SPARROW_FP_TWIN_DEFINE(log)
