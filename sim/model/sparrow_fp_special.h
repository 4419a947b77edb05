/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Special functions, comparisons and cross-lane reductions of the PCU's SIMD mode, each defined as
 * a fixed sequence of the fabric's binary32 operations (sparrow_fp_add, sparrow_fp_mul,
 * sparrow_fp.h) and cheap bit operations: exponent extraction and insertion, masks, shifts, integer
 * compare and select, sign manipulation. No division, square root, fused multiply-add or libm, so
 * that the RTL can mirror every function bit for bit. docs/numerics.md ("Special functions") gives
 * each algorithm with its constants, its accuracy as measured by sparrow-fpulp, and its flags.
 *
 * Conventions shared by every function here:
 *   - inputs and results are binary32 bit patterns; a NaN result is always 0x7FC00000;
 *   - a NaN input gives the canonical NaN, with invalid (NV) when the input is signalling;
 *   - the flags of the operations performed are ORed into *flags (sticky, as the hardware status
 *     register); flags may be NULL. Every flag comes from an add or a multiply of the sequence, so
 *     divide-by-zero (DZ) is never raised: a pole (recip(0), rsqrt(0)) gives an infinity with
 *     OF|NX, which the status reports like any other infinity. A function's branches (special
 *     inputs, ranges) are alternatives; only the branch taken contributes flags.
 *
 * Each unary function exists twice with bit-identical results and flags:
 *   sparrow_fp_NAME       the definition: every step calls sparrow_fp_add or sparrow_fp_mul;
 *   sparrow_fp_NAME_fast  the same steps on the host's binary32 arithmetic, with one flag window
 *                         per call: an order of magnitude faster (on hosts other than x86-64 it
 *                         is the definition).
 * The equality is tested over millions of inputs (tests/fp/fpulp_main.c). Both need
 * sparrow_fp_selfcheck() to pass.
 */
#ifndef SPARROW_SIM_MODEL_SPARROW_FP_SPECIAL_H_
#define SPARROW_SIM_MODEL_SPARROW_FP_SPECIAL_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * e^x. Overflows to +inf (OF|NX) above ~88.72, underflows to subnormals and to +0 (UF|NX) below
 * ~-87.34 and ~-103.97; exp(+inf) = +inf, exp(-inf) = +0, exp(+-0) = 1, all exact without flags.
 */
uint32_t sparrow_fp_exp(uint32_t x, uint8_t *flags);
uint32_t sparrow_fp_exp_fast(uint32_t x, uint8_t *flags);

/*
 * 1/x. recip(+-0) = +-inf with OF|NX (a pole; not DZ, see above); recip(+-inf) = +-0 exactly.
 * Subnormal inputs are handled at full precision: 1/x overflows to +-inf (OF|NX) for
 * |x| <= 2^-128, and results below 2^-126 (|x| > 2^126) are subnormal, correctly signed.
 */
uint32_t sparrow_fp_recip(uint32_t x, uint8_t *flags);
uint32_t sparrow_fp_recip_fast(uint32_t x, uint8_t *flags);

/*
 * 1/sqrt(x). rsqrt(+0) = +inf and rsqrt(-0) = -inf (IEEE 754's rSqrt) with OF|NX (a pole);
 * rsqrt(+inf) = +0; x < 0 (including -inf) gives the canonical NaN with NV. Finite positive inputs
 * never overflow or underflow.
 */
uint32_t sparrow_fp_rsqrt(uint32_t x, uint8_t *flags);
uint32_t sparrow_fp_rsqrt_fast(uint32_t x, uint8_t *flags);

/*
 * tanh(x), odd exactly: tanh(-x) is tanh(x) with the sign flipped, flags included. tanh(+-0) = +-0,
 * tanh(+-inf) = +-1 exactly without flags; finite |x| >= 10 gives +-1 with NX; |x| < 2^-12 gives
 * x with NX (no UF, even for a subnormal x).
 */
uint32_t sparrow_fp_tanh(uint32_t x, uint8_t *flags);
uint32_t sparrow_fp_tanh_fast(uint32_t x, uint8_t *flags);

/*
 * a * recip(b): NOT IEEE division. Its error is recip's plus one rounding, and it differs from a/b
 * beyond that where 1/b overflows (|b| < 2^-128: the result is +-inf or NaN even when a/b is
 * finite) or is subnormal (|b| > 2^126: 1/b has lost precision before the multiply). For operators
 * that divide by a sum, a count or a norm. Flags: recip's then the multiply's (so x/0 raises OF|NX,
 * and 0/0 raises OF|NX|NV).
 */
uint32_t sparrow_fp_div(uint32_t a, uint32_t b, uint8_t *flags);

/*
 * The larger / smaller of a and b, exactly (no rounding). NaN propagates: if either is a NaN the
 * result is the canonical NaN, with NV if either is signalling; so a NaN in a softmax row reaches
 * the result and the status. -0 is smaller than +0 (IEEE 754-2019 maximum / minimum), so the result
 * never depends on operand order.
 */
uint32_t sparrow_fp_max(uint32_t a, uint32_t b, uint8_t *flags);
uint32_t sparrow_fp_min(uint32_t a, uint32_t b, uint8_t *flags);

/* Quiet comparison (IEEE compareQuiet*): -0 == +0; a NaN operand is unordered; NV for sNaN only. */
typedef enum {
  SPARROW_FP_CMP_LESS = -1,
  SPARROW_FP_CMP_EQUAL = 0,
  SPARROW_FP_CMP_GREATER = 1,
  SPARROW_FP_CMP_UNORDERED = 2,
} sparrow_fp_cmp_t;

sparrow_fp_cmp_t sparrow_fp_cmp(uint32_t a, uint32_t b, uint8_t *flags);

/* ---------------------------------------------------------------------------------------------- */
/* Cross-lane reductions. */

typedef enum {
  SPARROW_FP_REDUCE_OK = 0,
  SPARROW_FP_REDUCE_BAD_LANES =
      1,                      /* lanes is not a power of two in 1..SPARROW_FP_REDUCE_MAX_LANES */
  SPARROW_FP_REDUCE_NULL = 2, /* values or result is NULL */
} sparrow_fp_reduce_status_t;

/* Widest tree defined; the configurations use LANES = 4 (S) and 8 (M). */
#define SPARROW_FP_REDUCE_MAX_LANES 64u

/*
 * The sum of values[0 .. lanes-1] by the one fixed tree for that LANES: a pairwise tree of adjacent
 * lanes, level by level, lower index as the left operand:
 *   LANES = 4:  (v0 + v1) + (v2 + v3)
 *   LANES = 8:  ((v0 + v1) + (v2 + v3)) + ((v4 + v5) + (v6 + v7))
 * Flags of every add are ORed into *flags. *result is written only on success.
 */
sparrow_fp_reduce_status_t sparrow_fp_reduce_sum(unsigned lanes, const uint32_t *values,
                                                 uint32_t *result, uint8_t *flags)
    __attribute__((warn_unused_result));

/* The maximum of values[0 .. lanes-1] by the same tree shape, with sparrow_fp_max at each node. */
sparrow_fp_reduce_status_t sparrow_fp_reduce_max(unsigned lanes, const uint32_t *values,
                                                 uint32_t *result, uint8_t *flags)
    __attribute__((warn_unused_result));

/* A readable description of a reduction status ("ok", "lanes must be ..."); never NULL. */
const char *sparrow_fp_reduce_status_str(sparrow_fp_reduce_status_t status);

#ifdef __cplusplus
}
#endif

#endif /* SPARROW_SIM_MODEL_SPARROW_FP_SPECIAL_H_ */
