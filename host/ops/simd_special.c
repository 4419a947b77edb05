// SPDX-License-Identifier: Apache-2.0
//
// The special functions as SIMD instruction sequences (simd_special.h, docs/simd.md).
//
// Each macro follows its C definition (sim/model/sparrow_fp_special.c) operation for operation:
// every sparrow_fp_add / sparrow_fp_mul of the definition is one FADD / FSUB / FMUL here, with the
// same operands in the same order, and every bit manipulation is integer lane operations. The
// definition's `if` chains become branch predicates computed with integer compares on the input's
// bits (flag-free), and each branch's floating-point operations run only where its predicate
// holds. Integer operations and moves raise no flag, so they run in every lane (their results in
// other lanes are never used by an executing floating-point operation). The few places where the
// sequence differs from a literal transcription are exact by construction, and each is said where
// it happens:
//   - an operation that raises no flag for any lane that executes it and whose result is then
//     overwritten may run in more lanes than its branch (x + 0 for the NaN path);
//   - multiplying a normal number by 1.0 (or 2^0) is exact and flag-free, so where the definition
//     does it on a branch the lanes always take (recip inside tanh), it is left out;
//   - FMIN / FMAX clamp a non-NaN value exactly as the definition's integer-key comparison does;
//   - rsqrt's domain error computes inf - inf instead of 0 * inf: both give the canonical NaN with
//     exactly NV.
// tests/unit/test_simd_special.c checks every macro against its definition, value and flags, on
// the golden model.
//
// The constants are the definition's, under the same names (sparrow_fp_special.c has them as
// private #defines): tests/list.d/simd.sh compares the two files' values, and the macros' suite
// would show most differences too (not all: a coefficient's last bits may change no sampled
// result).

#include "simd_special.h"

#define AL SPARROW_SIMD_PRED_ALWAYS
#define P0 SPARROW_SIMD_PRED_P0
#define NP0 SPARROW_SIMD_PRED_NOT_P0
#define P1 SPARROW_SIMD_PRED_P1
#define IMM SPARROW_SIMD_SRC_IMM

#define SIGN_BIT 0x80000000u
#define ABS_MASK 0x7FFFFFFFu
#define FRACTION_MASK 0x007FFFFFu
#define INF_BITS 0x7F800000u
#define MIN_NORMAL_BITS 0x00800000u
#define HIGH12_MASK 0xFFFFF000u
#define F_ZERO 0x00000000u
#define F_ONE 0x3F800000u
#define F_HALF 0x3F000000u
#define F_MAX 0x7F7FFFFFu
#define F_2P64 0x5F800000u
#define EXPONENT_SHIFT 23u
#define EXPONENT_BIAS 127u

// exp
#define EXP_X_MAX 0x42B20000u
#define EXP_X_MIN 0xC2D00000u
#define EXP_TINY 0x33000000u
#define EXP_LOG2E 0x3FB8AA3Bu
#define EXP_SHIFTER 0x4B400000u
#define EXP_NEG_SHIFTER 0xCB400000u
#define EXP_NEG_LN2_HI 0xBF317200u
#define EXP_NEG_LN2_LO 0xB5BFBE8Eu
#define EXP_S0 0x3EFFFFFEu
#define EXP_S1 0x3E2AAA41u
#define EXP_S2 0x3D2AAC12u
#define EXP_S3 0x3C092265u
#define EXP_S4 0x3AB58331u

// recip
#define RECIP_R0 0x4062462Fu
#define RECIP_R1 0xC09D92D7u
#define RECIP_R2 0x4058301Cu
#define RECIP_R3 0xBF9227BCu
#define RECIP_R4 0x3E1BE61Cu

// rsqrt
#define RSQRT_MAGIC 0x5F3759DFu
#define F_THREE_HALVES 0x3FC00000u
#define F_THREE_EIGHTHS 0x3EC00000u
#define RSQRT_NEG_FIRST 0x80000001u  // the smallest negative pattern after -0
#define RSQRT_SUBNORMAL_EXTRA 32u    // 2^64 scaling of a subnormal, halved

// tanh
#define TANH_SATURATE 0x41200000u
#define TANH_SMALL 0x39800000u
#define TANH_ODD_POLY 0x3F100000u
#define TANH_MID_POLY 0x3FA00000u
#define F_NEG_TWO 0xC0000000u
#define F_2P50 0x58800000u
#define F_2PM50 0x26800000u
#define F_NEG_2PM26 0xB2800000u
#define F_2PM30 0x30800000u
#define TANH_MID_CENTRE_NEG 0xBF648000u

#define TANH_T0 0xBEAAAAAAu
#define TANH_T1 0x3E088842u
#define TANH_T2 0xBD5CFA4Bu
#define TANH_T3 0x3CB1E6BFu
#define TANH_T4 0xBC069A69u
#define TANH_T5 0x3B0E9B1Bu
#define TANH_M0 0x3F367133u
#define TANH_M0_LO 0xAFCB30C0u  // the constant term is M0 + M0_LO, M0_LO added first
#define TANH_M1 0x3EFBF5B2u
#define TANH_M2 0xBEB39017u
#define TANH_M3 0x3DAFEE46u
#define TANH_M4 0x3D641498u
#define TANH_M5 0xBD6B48D7u
#define TANH_M6 0x3C6E1299u
#define TANH_M7 0x3C28174Au
#define TANH_M8 0xBC1A9D89u
static const uint32_t kTanhT[] = {TANH_T0, TANH_T1, TANH_T2, TANH_T3, TANH_T4, TANH_T5};
static const uint32_t kTanhM[] = {TANH_M0, TANH_M1, TANH_M2, TANH_M3, TANH_M4,
                                  TANH_M5, TANH_M6, TANH_M7, TANH_M8};
#define TANH_T_LAST (sizeof(kTanhT) / sizeof(kTanhT[0]) - 1u)
#define TANH_M_LAST (sizeof(kTanhM) / sizeof(kTanhM[0]) - 1u)

// p[index] = lo <= v < hi as unsigned integers (v - lo < hi - lo, wrapping): two instructions.
static void in_range(sparrow_simd_asm_t *as, uint32_t index, uint32_t v, uint32_t lo, uint32_t hi,
                     uint32_t scratch) {
  sparrow_simd_isub(as, AL, scratch, v, IMM, lo);
  sparrow_simd_cltu(as, AL, index, scratch, IMM, hi - lo);
}

// dst = 2^k as a binary32 pattern, k an integer in the normal exponent range ((k + 127) << 23,
// written k << 23 + 127 << 23, the same bits modulo 2^32). dst may equal k.
static void pow2_bits(sparrow_simd_asm_t *as, uint32_t dst, uint32_t k) {
  sparrow_simd_shl(as, AL, dst, k, IMM, EXPONENT_SHIFT);
  sparrow_simd_iadd(as, AL, dst, dst, IMM, EXPONENT_BIAS << EXPONENT_SHIFT);
}

// The register a macro builds its result in: dst itself unless dst is also an input read after the
// result is first written (then a temporary, moved to dst at the end).
static uint32_t result_reg(sparrow_simd_asm_t *as, uint32_t dst, uint32_t src) {
  sparrow_simd_reg_require(as, dst);
  sparrow_simd_reg_require(as, src);
  return dst == src ? sparrow_simd_reg_alloc(as) : dst;
}

static void result_done(sparrow_simd_asm_t *as, uint32_t dst, uint32_t res) {
  if (res != dst) {
    sparrow_simd_mov(as, AL, dst, res, 0);
    sparrow_simd_reg_free(as, res);
  }
}

// ---------------------------------------------------------------------------------------------------
// exp

// e^x on the definition's main path (after the special inputs and the clamp: x in [-104, 89],
// |x| >= 2^-25), floating-point operations under pred. dst may equal x. Six temporaries.
static void exp_core(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t x) {
  uint32_t t = sparrow_simd_reg_alloc(as);
  uint32_t n = sparrow_simd_reg_alloc(as);
  uint32_t nf = sparrow_simd_reg_alloc(as);
  uint32_t rh = sparrow_simd_reg_alloc(as);
  uint32_t rl = sparrow_simd_reg_alloc(as);
  uint32_t s = sparrow_simd_reg_alloc(as);
  // x = n ln2 + r: n = round(x log2 e) by the shifter; the integer n from its low bits.
  sparrow_simd_fmul(as, pred, t, x, IMM, EXP_LOG2E);
  sparrow_simd_fadd(as, pred, t, t, IMM, EXP_SHIFTER);       // shifted
  sparrow_simd_isub(as, AL, n, t, IMM, EXP_SHIFTER);         // n = (int)shifted - (int)SHIFTER
  sparrow_simd_fadd(as, pred, nf, t, IMM, EXP_NEG_SHIFTER);  // n_float
  sparrow_simd_fmul(as, pred, t, nf, IMM, EXP_NEG_LN2_HI);
  sparrow_simd_fadd(as, pred, rh, x, t, 0);                  // r_hi = x + n_float * -LN2_HI
  sparrow_simd_fmul(as, pred, rl, nf, IMM, EXP_NEG_LN2_LO);  // r_lo
  sparrow_simd_fadd(as, pred, nf, rh, rl, 0);                // r (in n_float's register)
  // S(r) by Horner, from S4.
  sparrow_simd_fmul(as, pred, s, IMM, nf, EXP_S4);
  sparrow_simd_fadd(as, pred, s, s, IMM, EXP_S3);
  sparrow_simd_fmul(as, pred, s, s, nf, 0);
  sparrow_simd_fadd(as, pred, s, s, IMM, EXP_S2);
  sparrow_simd_fmul(as, pred, s, s, nf, 0);
  sparrow_simd_fadd(as, pred, s, s, IMM, EXP_S1);
  sparrow_simd_fmul(as, pred, s, s, nf, 0);
  sparrow_simd_fadd(as, pred, s, s, IMM, EXP_S0);
  // p = 1 + (r_hi + (r_lo + r^2 S(r))).
  sparrow_simd_fmul(as, pred, t, nf, nf, 0);
  sparrow_simd_fmul(as, pred, t, t, s, 0);  // tail
  sparrow_simd_fadd(as, pred, t, rl, t, 0);
  sparrow_simd_fadd(as, pred, t, rh, t, 0);
  sparrow_simd_fadd(as, pred, t, IMM, t, F_ONE);
  // p * 2^k1 * 2^k2 with k1 = floor(n / 2) (arithmetic shift), k2 = n - k1.
  sparrow_simd_sar(as, AL, s, n, IMM, 1);
  sparrow_simd_isub(as, AL, n, n, s, 0);
  pow2_bits(as, s, s);
  pow2_bits(as, n, n);
  sparrow_simd_fmul(as, pred, t, t, s, 0);
  sparrow_simd_fmul(as, pred, dst, t, n, 0);
  sparrow_simd_reg_free(as, s);
  sparrow_simd_reg_free(as, rl);
  sparrow_simd_reg_free(as, rh);
  sparrow_simd_reg_free(as, nf);
  sparrow_simd_reg_free(as, n);
  sparrow_simd_reg_free(as, t);
}

void sparrow_simd_exp(sparrow_simd_asm_t *as, uint32_t dst, uint32_t x) {
  uint32_t res = result_reg(as, dst, x);
  uint32_t mag = sparrow_simd_reg_alloc(as);
  uint32_t c = sparrow_simd_reg_alloc(as);
  sparrow_simd_and(as, AL, mag, x, IMM, ABS_MASK);
  // p0: the main path, 2^-25 <= |x| < inf (not NaN, not infinite, not tiny).
  in_range(as, 0, mag, EXP_TINY, INF_BITS, c);
  sparrow_simd_fmin(as, P0, c, x, IMM, EXP_X_MAX);  // the clamp: exact, no flag on non-NaN
  sparrow_simd_fmax(as, P0, c, c, IMM, EXP_X_MIN);
  exp_core(as, P0, res, c);
  // Elsewhere 1 + x: for NaN the canonical NaN (NV when signalling), for a tiny x the definition's
  // 1 + x, for an infinity the infinity itself without flags (replaced below).
  sparrow_simd_fadd(as, NP0, res, IMM, x, F_ONE);
  // +-inf: max(x, 0) is +inf or +0, exactly and without flags.
  sparrow_simd_ceq(as, AL, 1, mag, IMM, INF_BITS);
  sparrow_simd_fmax(as, P1, res, x, IMM, F_ZERO);
  sparrow_simd_reg_free(as, c);
  sparrow_simd_reg_free(as, mag);
  result_done(as, dst, res);
}

// ---------------------------------------------------------------------------------------------------
// recip

// 1/m for m in [1, 2) (the definition's recip_significand), floating-point operations under pred.
// dst may equal m. Three temporaries.
static void recip_sig(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t m) {
  uint32_t y = sparrow_simd_reg_alloc(as);
  uint32_t mh = sparrow_simd_reg_alloc(as);
  uint32_t ml = sparrow_simd_reg_alloc(as);
  // The seed R(m) by Horner, from R4.
  sparrow_simd_fmul(as, pred, y, IMM, m, RECIP_R4);
  sparrow_simd_fadd(as, pred, y, y, IMM, RECIP_R3);
  sparrow_simd_fmul(as, pred, y, y, m, 0);
  sparrow_simd_fadd(as, pred, y, y, IMM, RECIP_R2);
  sparrow_simd_fmul(as, pred, y, y, m, 0);
  sparrow_simd_fadd(as, pred, y, y, IMM, RECIP_R1);
  sparrow_simd_fmul(as, pred, y, y, m, 0);
  sparrow_simd_fadd(as, pred, y, y, IMM, RECIP_R0);
  sparrow_simd_and(as, AL, y, y, IMM, HIGH12_MASK);  // y_t
  sparrow_simd_and(as, AL, mh, m, IMM, HIGH12_MASK);
  sparrow_simd_fsub(as, pred, ml, m, mh, 0);  // m_l = m + (-m_h)
  sparrow_simd_fmul(as, pred, mh, mh, y, 0);
  sparrow_simd_fsub(as, pred, mh, IMM, mh, F_ONE);  // e_h = 1 + -(m_h y_t)
  sparrow_simd_fmul(as, pred, ml, ml, y, 0);
  sparrow_simd_fsub(as, pred, mh, mh, ml, 0);  // e = e_h + -(m_l y_t)
  sparrow_simd_fmul(as, pred, ml, mh, mh, 0);
  sparrow_simd_fadd(as, pred, ml, mh, ml, 0);  // series = e + e^2
  sparrow_simd_fmul(as, pred, ml, y, ml, 0);
  sparrow_simd_fadd(as, pred, dst, y, ml, 0);  // y_t + y_t series
  sparrow_simd_reg_free(as, ml);
  sparrow_simd_reg_free(as, mh);
  sparrow_simd_reg_free(as, y);
}

void sparrow_simd_recip(sparrow_simd_asm_t *as, uint32_t dst, uint32_t x) {
  uint32_t res = result_reg(as, dst, x);
  uint32_t mag = sparrow_simd_reg_alloc(as);
  uint32_t sign = sparrow_simd_reg_alloc(as);
  uint32_t a = sparrow_simd_reg_alloc(as);
  uint32_t k = sparrow_simd_reg_alloc(as);
  // NaN: x + 0, the canonical NaN (NV when signalling). For every other x, x + 0 is exact and
  // raises nothing, and the result is replaced below.
  sparrow_simd_fadd(as, AL, res, x, IMM, F_ZERO);
  sparrow_simd_and(as, AL, mag, x, IMM, ABS_MASK);
  sparrow_simd_and(as, AL, sign, x, IMM, SIGN_BIT);
  in_range(as, 1, mag, 1u, INF_BITS, a);                    // p1: main, 0 < |x| < inf
  sparrow_simd_cltu(as, AL, 0, mag, IMM, MIN_NORMAL_BITS);  // p0: subnormal
  // a = |x| * (subnormal ? 2^64 : 1), exact.
  sparrow_simd_mov(as, AL, a, IMM, F_ONE);
  sparrow_simd_mov(as, P0, a, IMM, F_2P64);
  sparrow_simd_fmul(as, P1, a, mag, a, 0);
  // k = -e (+ 64 for a subnormal); m = a's significand with exponent 0.
  sparrow_simd_shr(as, AL, k, a, IMM, EXPONENT_SHIFT);
  sparrow_simd_isub(as, AL, k, IMM, k, EXPONENT_BIAS);
  sparrow_simd_iadd(as, P0, k, k, IMM, 64u);
  sparrow_simd_and(as, AL, a, a, IMM, FRACTION_MASK);
  sparrow_simd_or(as, AL, a, a, IMM, F_ONE);
  recip_sig(as, P1, a, a);
  // y * 2^k1 * 2^k2, k1 = floor(k / 2), k2 = k - k1: the first exact, the second the one rounding.
  uint32_t k1 = sparrow_simd_reg_alloc(as);
  sparrow_simd_sar(as, AL, k1, k, IMM, 1);
  sparrow_simd_isub(as, AL, k, k, k1, 0);
  pow2_bits(as, k1, k1);
  pow2_bits(as, k, k);
  sparrow_simd_fmul(as, P1, a, a, k1, 0);
  sparrow_simd_fmul(as, P1, a, a, k, 0);
  sparrow_simd_or(as, P1, res, a, sign, 0);
  sparrow_simd_reg_free(as, k1);
  // +-0: the pole, +-inf with OF|NX from FLT_MAX * FLT_MAX.
  sparrow_simd_ceq(as, AL, 1, mag, IMM, F_ZERO);
  sparrow_simd_fmul(as, P1, res, IMM, IMM, F_MAX);
  sparrow_simd_or(as, P1, res, res, sign, 0);
  // +-inf: +-0, no flags.
  sparrow_simd_ceq(as, AL, 1, mag, IMM, INF_BITS);
  sparrow_simd_mov(as, P1, res, sign, 0);
  sparrow_simd_reg_free(as, k);
  sparrow_simd_reg_free(as, a);
  sparrow_simd_reg_free(as, sign);
  sparrow_simd_reg_free(as, mag);
  result_done(as, dst, res);
}

// ---------------------------------------------------------------------------------------------------
// rsqrt

// 1/sqrt(m) for m in [1, 4) (the definition's rsqrt_significand), floating-point operations under
// pred. dst may equal m. Three temporaries.
static void rsqrt_sig(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t m) {
  uint32_t hm = sparrow_simd_reg_alloc(as);
  uint32_t y = sparrow_simd_reg_alloc(as);
  uint32_t t = sparrow_simd_reg_alloc(as);
  sparrow_simd_fmul(as, pred, hm, m, IMM, F_HALF);
  sparrow_simd_shr(as, AL, y, m, IMM, 1);
  sparrow_simd_isub(as, AL, y, IMM, y, RSQRT_MAGIC);  // MAGIC - (m >> 1)
  for (int step = 0; step < 2; ++step) {
    sparrow_simd_fmul(as, pred, t, y, y, 0);
    sparrow_simd_fmul(as, pred, t, hm, t, 0);                // w = (m/2) y^2
    sparrow_simd_fsub(as, pred, t, IMM, t, F_THREE_HALVES);  // 3/2 + -w
    sparrow_simd_fmul(as, pred, y, y, t, 0);
  }
  sparrow_simd_and(as, AL, y, y, IMM, HIGH12_MASK);  // y_t
  sparrow_simd_fmul(as, pred, t, y, y, 0);           // h
  sparrow_simd_fmul(as, pred, t, m, t, 0);
  sparrow_simd_fsub(as, pred, hm, IMM, t, F_ONE);  // e = 1 + -(m h)
  sparrow_simd_fmul(as, pred, t, hm, IMM, F_THREE_EIGHTHS);
  sparrow_simd_fadd(as, pred, t, t, IMM, F_HALF);
  sparrow_simd_fmul(as, pred, t, hm, t, 0);  // series
  sparrow_simd_fmul(as, pred, t, y, t, 0);
  sparrow_simd_fadd(as, pred, dst, y, t, 0);
  sparrow_simd_reg_free(as, t);
  sparrow_simd_reg_free(as, y);
  sparrow_simd_reg_free(as, hm);
}

void sparrow_simd_rsqrt(sparrow_simd_asm_t *as, uint32_t dst, uint32_t x) {
  uint32_t res = result_reg(as, dst, x);
  uint32_t mag = sparrow_simd_reg_alloc(as);
  uint32_t sign = sparrow_simd_reg_alloc(as);
  uint32_t a = sparrow_simd_reg_alloc(as);
  uint32_t e = sparrow_simd_reg_alloc(as);
  uint32_t odd = sparrow_simd_reg_alloc(as);
  sparrow_simd_fadd(as, AL, res, x, IMM, F_ZERO);  // NaN; exact and flag-free otherwise (recip)
  sparrow_simd_and(as, AL, mag, x, IMM, ABS_MASK);
  sparrow_simd_and(as, AL, sign, x, IMM, SIGN_BIT);
  in_range(as, 1, x, 1u, INF_BITS, a);  // p1: main, 0 < x < inf (the sign bit clear)
  sparrow_simd_cltu(as, AL, 0, mag, IMM, MIN_NORMAL_BITS);  // p0: subnormal
  sparrow_simd_mov(as, AL, a, IMM, F_ONE);
  sparrow_simd_mov(as, P0, a, IMM, F_2P64);
  sparrow_simd_fmul(as, P1, a, mag, a, 0);
  // e = a's exponent, odd = e & 1; m = a's significand with exponent odd (so m in [1, 4));
  // k = -(e - odd) / 2 (+ 32 for a subnormal).
  sparrow_simd_shr(as, AL, e, a, IMM, EXPONENT_SHIFT);
  sparrow_simd_isub(as, AL, e, e, IMM, EXPONENT_BIAS);
  sparrow_simd_and(as, AL, odd, e, IMM, 1u);
  sparrow_simd_isub(as, AL, e, e, odd, 0);
  sparrow_simd_sar(as, AL, e, e, IMM, 1);
  sparrow_simd_isub(as, AL, e, IMM, e, 0);
  sparrow_simd_iadd(as, P0, e, e, IMM, RSQRT_SUBNORMAL_EXTRA);
  pow2_bits(as, odd, odd);
  sparrow_simd_and(as, AL, a, a, IMM, FRACTION_MASK);
  sparrow_simd_or(as, AL, a, a, odd, 0);
  rsqrt_sig(as, P1, a, a);
  pow2_bits(as, e, e);
  sparrow_simd_fmul(as, P1, res, a, e, 0);  // exact: the result is always normal
  // +-0: the pole, +-inf with OF|NX.
  sparrow_simd_ceq(as, AL, 1, mag, IMM, F_ZERO);
  sparrow_simd_fmul(as, P1, res, IMM, IMM, F_MAX);
  sparrow_simd_or(as, P1, res, res, sign, 0);
  // x < 0 (not -0, not NaN; -inf included): the canonical NaN with NV. The definition computes
  // 0 * inf; inf - inf gives the same NaN and the same single flag with one immediate.
  in_range(as, 1, x, RSQRT_NEG_FIRST, INF_BITS | SIGN_BIT | 1u, a);
  sparrow_simd_fsub(as, P1, res, IMM, IMM, INF_BITS);
  // +inf: +0, no flags.
  sparrow_simd_ceq(as, AL, 1, x, IMM, INF_BITS);
  sparrow_simd_mov(as, P1, res, IMM, F_ZERO);
  sparrow_simd_reg_free(as, odd);
  sparrow_simd_reg_free(as, e);
  sparrow_simd_reg_free(as, a);
  sparrow_simd_reg_free(as, sign);
  sparrow_simd_reg_free(as, mag);
  result_done(as, dst, res);
}

// ---------------------------------------------------------------------------------------------------
// tanh

void sparrow_simd_tanh(sparrow_simd_asm_t *as, uint32_t dst, uint32_t x) {
  uint32_t res = result_reg(as, dst, x);
  uint32_t a = sparrow_simd_reg_alloc(as);
  uint32_t sign = sparrow_simd_reg_alloc(as);
  uint32_t t = sparrow_simd_reg_alloc(as);
  uint32_t u = sparrow_simd_reg_alloc(as);
  sparrow_simd_and(as, AL, a, x, IMM, ABS_MASK);
  sparrow_simd_and(as, AL, sign, x, IMM, SIGN_BIT);
  // |x| = inf: 1 exactly; every other branch replaces it (NaN at the very end).
  sparrow_simd_mov(as, AL, res, IMM, F_ONE);
  // 10 <= |x| < inf: 1 + 2^-30, which is 1 with NX.
  in_range(as, 1, a, TANH_SATURATE, INF_BITS, t);
  sparrow_simd_fadd(as, P1, res, res, IMM, F_2PM30);
  // |x| < 2^-12 (zero and subnormals included): ((b + b * -2^-26) * 2^-50, b = |x| 2^50.
  sparrow_simd_cltu(as, AL, 1, a, IMM, TANH_SMALL);
  sparrow_simd_fmul(as, P1, t, a, IMM, F_2P50);
  sparrow_simd_fmul(as, P1, u, t, IMM, F_NEG_2PM26);
  sparrow_simd_fadd(as, P1, t, t, u, 0);
  sparrow_simd_fmul(as, P1, res, t, IMM, F_2PM50);
  // 2^-12 <= |x| < 0.5625: a + a (z T(z)), z = a^2, T by Horner from T5.
  in_range(as, 1, a, TANH_SMALL, TANH_ODD_POLY, t);
  sparrow_simd_fmul(as, P1, t, a, a, 0);  // z
  sparrow_simd_fmul(as, P1, u, IMM, t, kTanhT[TANH_T_LAST]);
  for (int i = (int)TANH_T_LAST - 1; i >= 0; --i) {
    sparrow_simd_fadd(as, P1, u, u, IMM, kTanhT[i]);
    if (i > 0) {
      sparrow_simd_fmul(as, P1, u, u, t, 0);
    }
  }
  sparrow_simd_fmul(as, P1, u, t, u, 0);
  sparrow_simd_fmul(as, P1, u, a, u, 0);
  sparrow_simd_fadd(as, P1, res, a, u, 0);
  // 0.5625 <= |x| < 1.25: M(d), d = a - 457/512 (exact), M by Horner from M8, the constant term
  // as M0_LO then M0.
  in_range(as, 1, a, TANH_ODD_POLY, TANH_MID_POLY, t);
  sparrow_simd_fadd(as, P1, t, a, IMM, TANH_MID_CENTRE_NEG);  // d
  sparrow_simd_fmul(as, P1, u, IMM, t, kTanhM[TANH_M_LAST]);
  for (int i = (int)TANH_M_LAST - 1; i >= 1; --i) {
    sparrow_simd_fadd(as, P1, u, u, IMM, kTanhM[i]);
    sparrow_simd_fmul(as, P1, u, u, t, 0);
  }
  sparrow_simd_fadd(as, P1, u, u, IMM, TANH_M0_LO);
  sparrow_simd_fadd(as, P1, res, u, IMM, kTanhM[0]);
  // 1.25 <= |x| < 10: 1 - 2 t q, t = e^(-2a) (exp's main path: -2a in (-20, -2.5], so no special
  // input and no clamp), q = 1 / (1 + t) (recip's main path on [1, 1.084): exponent 0, so the
  // definition's multiplications by 1.0 and by 2^0 are exact and left out).
  in_range(as, 1, a, TANH_MID_POLY, TANH_SATURATE, t);
  sparrow_simd_fmul(as, P1, t, a, IMM, F_NEG_TWO);
  exp_core(as, P1, t, t);
  sparrow_simd_fadd(as, P1, u, IMM, t, F_ONE);
  recip_sig(as, P1, u, u);
  sparrow_simd_fmul(as, P1, u, t, u, 0);
  sparrow_simd_fadd(as, P1, u, u, u, 0);
  sparrow_simd_fsub(as, P1, res, IMM, u, F_ONE);
  // tanh is odd: the sign goes back on every branch's magnitude.
  sparrow_simd_or(as, AL, res, res, sign, 0);
  // NaN (|x| above the infinity's bits): x + 0, the canonical NaN without the sign.
  sparrow_simd_cltu(as, AL, 1, IMM, a, INF_BITS);
  sparrow_simd_fadd(as, P1, res, x, IMM, F_ZERO);
  sparrow_simd_reg_free(as, u);
  sparrow_simd_reg_free(as, t);
  sparrow_simd_reg_free(as, sign);
  sparrow_simd_reg_free(as, a);
  result_done(as, dst, res);
}

// ---------------------------------------------------------------------------------------------------
// The rest.

void sparrow_simd_div(sparrow_simd_asm_t *as, uint32_t dst, uint32_t a, uint32_t b) {
  sparrow_simd_reg_require(as, a);
  uint32_t r = sparrow_simd_reg_alloc(as);
  sparrow_simd_recip(as, r, b);
  sparrow_simd_fmul(as, AL, dst, a, r, 0);
  sparrow_simd_reg_free(as, r);
}

void sparrow_simd_max(sparrow_simd_asm_t *as, uint32_t dst, uint32_t a, uint32_t b) {
  sparrow_simd_fmax(as, AL, dst, a, b, 0);
}

void sparrow_simd_min(sparrow_simd_asm_t *as, uint32_t dst, uint32_t a, uint32_t b) {
  sparrow_simd_fmin(as, AL, dst, a, b, 0);
}

// ---------------------------------------------------------------------------------------------------
// log (the definition is sim/model/sparrow_fp_log.c; its constants under the same names, checked
// against that file by tests/list.d/nn_loss.sh)

#define F_NEG_ONE 0xBF800000u
#define LOG_SQRT_HALF 0x3F3504F3u
#define LOG_REDUCE_OFFSET 0x004AFB0Du
#define LOG_SUBNORMAL_EXTRA 64u
#define LOG_SHIFTER 0x4B400000u
#define LOG_NEG_SHIFTER 0xCB400000u
#define LOG_LN2_HI 0x3F317200u
#define LOG_LN2_LO 0x35BFBE8Eu
#define LOG_Q0 0x3EAAAAAAu
#define LOG_Q1 0xBE800114u
#define LOG_Q2 0x3E4CD01Cu
#define LOG_Q3 0xBE2A38F8u
#define LOG_Q4 0x3E116AABu
#define LOG_Q5 0xBE06C1C6u
#define LOG_Q6 0x3E02BF5Au
#define LOG_Q7 0xBD9C8EDEu
static const uint32_t kLogQ[] = {LOG_Q0, LOG_Q1, LOG_Q2, LOG_Q3, LOG_Q4, LOG_Q5, LOG_Q6, LOG_Q7};
#define LOG_Q_LAST (sizeof(kLogQ) / sizeof(kLogQ[0]) - 1u)
#define LOG_NEG_FIRST 0x80000001u  // the smallest negative pattern after -0
#define LOG_NEG_END 0xFF800001u    // one past -inf

// The main path (0 < x < inf) is a literal transcription of the definition under p1; the special
// inputs follow it and overwrite their lanes: NaN (x + 0 runs first in every lane, exact and
// flag-free for any other x), +-0 (the pole), x < 0 (inf - inf, as the definition), +inf.
void sparrow_simd_log(sparrow_simd_asm_t *as, uint32_t dst, uint32_t x) {
  uint32_t res = result_reg(as, dst, x);
  uint32_t a = sparrow_simd_reg_alloc(as);
  uint32_t k = sparrow_simd_reg_alloc(as);
  uint32_t f = sparrow_simd_reg_alloc(as);
  uint32_t u = sparrow_simd_reg_alloc(as);
  uint32_t hh = sparrow_simd_reg_alloc(as);
  uint32_t hl = sparrow_simd_reg_alloc(as);
  sparrow_simd_fadd(as, AL, res, x, IMM, F_ZERO);         // NaN: the canonical NaN
  in_range(as, 1, x, 1u, INF_BITS, a);                    // p1: main, 0 < x < inf
  sparrow_simd_cltu(as, AL, 0, x, IMM, MIN_NORMAL_BITS);  // p0: subnormal (in the main lanes)
  // a = x * (subnormal ? 2^64 : 1), exact; then the reduction on its bits.
  sparrow_simd_mov(as, AL, a, IMM, F_ONE);
  sparrow_simd_mov(as, P0, a, IMM, F_2P64);
  sparrow_simd_fmul(as, P1, a, x, a, 0);
  sparrow_simd_iadd(as, AL, a, a, IMM, LOG_REDUCE_OFFSET);
  sparrow_simd_shr(as, AL, k, a, IMM, EXPONENT_SHIFT);
  sparrow_simd_isub(as, AL, k, k, IMM, EXPONENT_BIAS);
  sparrow_simd_isub(as, P0, k, k, IMM, LOG_SUBNORMAL_EXTRA);
  sparrow_simd_and(as, AL, a, a, IMM, FRACTION_MASK);
  sparrow_simd_iadd(as, AL, a, a, IMM, LOG_SQRT_HALF);  // m
  sparrow_simd_fadd(as, P1, f, a, IMM, F_NEG_ONE);      // f = m - 1, exact
  // f^2/2 = f_h^2/2 + f_h f_l + f_l^2/2.
  sparrow_simd_and(as, AL, a, f, IMM, HIGH12_MASK);  // f_h
  sparrow_simd_fsub(as, P1, u, f, a, 0);             // f_l, exact
  sparrow_simd_fmul(as, P1, hh, a, IMM, F_HALF);
  sparrow_simd_fmul(as, P1, hh, hh, a, 0);  // f_h^2/2
  sparrow_simd_fmul(as, P1, hl, a, u, 0);   // f_h f_l
  sparrow_simd_fmul(as, P1, a, u, IMM, F_HALF);
  sparrow_simd_fmul(as, P1, a, a, u, 0);    // f_l^2/2
  sparrow_simd_fadd(as, P1, hl, hl, a, 0);  // hl + ll
  sparrow_simd_fmul(as, P1, a, f, f, 0);
  sparrow_simd_fmul(as, P1, a, a, f, 0);  // f^3
  // Q by Horner from Q7: q = Q7 f; q = (q + Q_i) f down to Q1; q + Q0.
  sparrow_simd_fmul(as, P1, u, IMM, f, kLogQ[LOG_Q_LAST]);
  for (int i = (int)LOG_Q_LAST - 1; i >= 1; --i) {
    sparrow_simd_fadd(as, P1, u, u, IMM, kLogQ[i]);
    sparrow_simd_fmul(as, P1, u, u, f, 0);
  }
  sparrow_simd_fadd(as, P1, u, u, IMM, kLogQ[0]);
  sparrow_simd_fmul(as, P1, a, a, u, 0);   // t = f^3 Q(f)
  sparrow_simd_fsub(as, P1, a, a, hl, 0);  // t - (hl + ll)
  sparrow_simd_fsub(as, P1, a, a, hh, 0);  // - hh
  sparrow_simd_iadd(as, AL, k, k, IMM, LOG_SHIFTER);
  sparrow_simd_fadd(as, P1, k, k, IMM, LOG_NEG_SHIFTER);  // k as a float, exact
  sparrow_simd_fmul(as, P1, u, k, IMM, LOG_LN2_LO);
  sparrow_simd_fadd(as, P1, a, a, u, 0);  // + k LN2_LO
  sparrow_simd_fadd(as, P1, a, f, a, 0);  // f + ...
  sparrow_simd_fmul(as, P1, u, k, IMM, LOG_LN2_HI);
  sparrow_simd_fadd(as, P1, res, a, u, 0);  // + k LN2_HI
  // +-0: the pole, -inf with OF|NX from FLT_MAX * FLT_MAX.
  sparrow_simd_and(as, AL, a, x, IMM, ABS_MASK);
  sparrow_simd_ceq(as, AL, 1, a, IMM, F_ZERO);
  sparrow_simd_fmul(as, P1, res, IMM, IMM, F_MAX);
  sparrow_simd_or(as, P1, res, res, IMM, SIGN_BIT);
  // x < 0 (not -0, not NaN; -inf included): inf - inf, the canonical NaN with NV.
  in_range(as, 1, x, LOG_NEG_FIRST, LOG_NEG_END, a);
  sparrow_simd_fsub(as, P1, res, IMM, IMM, INF_BITS);
  // +inf: +inf, no flags.
  sparrow_simd_ceq(as, AL, 1, x, IMM, INF_BITS);
  sparrow_simd_mov(as, P1, res, IMM, INF_BITS);
  sparrow_simd_reg_free(as, hl);
  sparrow_simd_reg_free(as, hh);
  sparrow_simd_reg_free(as, u);
  sparrow_simd_reg_free(as, f);
  sparrow_simd_reg_free(as, k);
  sparrow_simd_reg_free(as, a);
  result_done(as, dst, res);
}
