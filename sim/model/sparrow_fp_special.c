/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The PCU SIMD mode's special functions, comparisons and reduction trees (sparrow_fp_special.h,
 * docs/numerics.md "Special functions").
 *
 * Every function body is written once, against two operations fadd() and fmul() and plain integer
 * bit manipulation, and instantiated twice by sparrow_fp_twin.h (shared with sparrow_fp_log.c): the
 * definition (sparrow_fp_add/mul, flags collected per operation) and the fast form (the host's
 * arithmetic in one flag window). tests/fp/fpulp_main.c checks the two forms against each other.
 *
 * The structure the SIMD mode mirrors (docs/fabric.md, "PCU SIMD mode"): every branch, special
 * inputs included, is a straight sequence of adds, multiplies and the integer operations of the
 * lanes (AND, OR, XOR, add, subtract, shifts, compares, select); branches are predicated, so only
 * the branch taken contributes flags. Every flag comes from an add or a multiply: where a special
 * input needs a flag (a signalling NaN, a pole, a saturated result) the branch performs an
 * operation that raises it, and none can raise divide-by-zero.
 */
#include "sparrow_fp_special.h"

#include "sparrow_fp_twin.h"

/* ---------------------------------------------------------------------------------------------- */
/* Bit helpers (the "cheap integer operations" of the SIMD lanes). */

static inline bool is_signalling_nan(uint32_t x) {
  return is_nan(x) && (x & QUIET_BIT) == 0;
}

/* 2^k as a binary32 pattern, k in the normal range [-126, 127] (exponent insertion). */
static inline uint32_t pow2_bits(int k) {
  return (uint32_t)(k + EXPONENT_BIAS) << EXPONENT_SHIFT;
}

/* The unbiased exponent of a normal number (exponent extraction). */
static inline int exponent_of(uint32_t x) {
  return (int)((x & EXPONENT_MASK) >> EXPONENT_SHIFT) - EXPONENT_BIAS;
}

/* floor(v / 2): the lanes' arithmetic shift right by one, written portably. */
static inline int floor_half(int v) {
  return v >= 0 ? v / 2 : -((1 - v) / 2);
}

/*
 * A non-NaN value as a signed integer in the same order as the values (-0 and +0 both 0): the
 * comparator of the lanes.
 */
static inline int64_t order_key(uint32_t x) {
  int64_t magnitude = (int64_t)(x & ABS_MASK);
  return (x & SIGN_BIT) != 0 ? -magnitude : magnitude;
}

/* The NaN path: x + 0 is the canonical NaN, with NV exactly when x signals. */
ALWAYS_INLINE uint32_t nan_result(ctx_t *ctx, uint32_t x) {
  return fadd(ctx, x, F_ZERO);
}

/* A pole: +-inf with OF|NX (the fabric's operations have no divide-by-zero to raise). */
ALWAYS_INLINE uint32_t pole_result(ctx_t *ctx, uint32_t sign) {
  return sign | fmul(ctx, F_MAX, F_MAX);
}

/* ---------------------------------------------------------------------------------------------- */
/* exp. */

#define EXP_X_MAX 0x42B20000u   /* 89: larger inputs overflow; clamped, they still do */
#define EXP_X_MIN 0xC2D00000u   /* -104: smaller inputs round to +0; clamped, they still do */
#define EXP_TINY 0x33000000u    /* 2^-25: below it in magnitude e^x rounds to 1 */
#define EXP_LOG2E 0x3FB8AA3Bu   /* log2(e) rounded */
#define EXP_SHIFTER 0x4B400000u /* 1.5 * 2^23: adding it rounds to an integer in the low bits */
#define EXP_NEG_SHIFTER 0xCB400000u
#define EXP_NEG_LN2_HI 0xBF317200u /* -ln2 to 15 bits: n * LN2_HI is exact for |n| < 2^9 */
#define EXP_NEG_LN2_LO 0xB5BFBE8Eu /* -(ln2 - LN2_HI) rounded */
/* S(r) ~ (e^r - 1 - r) / r^2, |r| <= 0.35, minimax relative to e^r (special_coeffs.py) */
#define EXP_S0 0x3EFFFFFEu
#define EXP_S1 0x3E2AAA41u
#define EXP_S2 0x3D2AAC12u
#define EXP_S3 0x3C092265u
#define EXP_S4 0x3AB58331u

ALWAYS_INLINE uint32_t exp_body(ctx_t *ctx, uint32_t x) {
  uint32_t magnitude = x & ABS_MASK;
  if (is_nan(x)) {
    return nan_result(ctx, x);
  }
  if (magnitude == INF_BITS) {
    return (x & SIGN_BIT) != 0 ? 0u : INF_BITS; /* exact, no flags */
  }
  if (magnitude < EXP_TINY) {
    /* e^x = 1 + x + ..., within half an ulp of 1, and so is 1 + x: 1, inexact unless x is 0. The
       datapath would give 1 too, but its polynomial terms underflow on the way for the smallest x
       and would raise a spurious UF. */
    return fadd(ctx, F_ONE, x);
  }
  if (order_key(x) > order_key(EXP_X_MAX)) {
    x = EXP_X_MAX;
  } else if (order_key(x) < order_key(EXP_X_MIN)) {
    x = EXP_X_MIN;
  }

  /* x = n ln2 + r, n = round(x log2 e), r in about [-0.35, 0.35] (Cody-Waite, two constants). */
  uint32_t t = fmul(ctx, x, EXP_LOG2E);
  uint32_t shifted = fadd(ctx, t, EXP_SHIFTER);
  uint32_t n_float = fadd(ctx, shifted, EXP_NEG_SHIFTER);
  int n = (int)shifted - (int)EXP_SHIFTER; /* the integer in the low bits */
  uint32_t r_hi = fadd(ctx, x, fmul(ctx, n_float, EXP_NEG_LN2_HI)); /* both exact */
  uint32_t r_lo = fmul(ctx, n_float, EXP_NEG_LN2_LO);
  uint32_t r = fadd(ctx, r_hi, r_lo);

  /* e^r = 1 + (r_hi + (r_lo + r^2 S(r))): the largest terms are added last. */
  uint32_t s = EXP_S4;
  s = fadd(ctx, fmul(ctx, s, r), EXP_S3);
  s = fadd(ctx, fmul(ctx, s, r), EXP_S2);
  s = fadd(ctx, fmul(ctx, s, r), EXP_S1);
  s = fadd(ctx, fmul(ctx, s, r), EXP_S0);
  uint32_t tail = fmul(ctx, fmul(ctx, r, r), s);
  uint32_t p = fadd(ctx, F_ONE, fadd(ctx, r_hi, fadd(ctx, r_lo, tail)));

  /* p * 2^n in two multiplies: the first exact (p 2^k1 is normal), the second the one rounding,
     which overflows to +inf or rounds into the subnormals exactly as IEEE prescribes. */
  int k1 = floor_half(n);
  int k2 = n - k1;
  return fmul(ctx, fmul(ctx, p, pow2_bits(k1)), pow2_bits(k2));
}

/* ---------------------------------------------------------------------------------------------- */
/* recip. */

/* R(m) ~ 1/m on [1, 2], minimax relative, about 2^-11.7 (tests/fp/special_coeffs.py) */
#define RECIP_R0 0x4062462Fu
#define RECIP_R1 0xC09D92D7u
#define RECIP_R2 0x4058301Cu
#define RECIP_R3 0xBF9227BCu
#define RECIP_R4 0x3E1BE61Cu

/*
 * 1/m for m in [1, 2): a seed y to ~12 bits, cut to 12 significant bits (y_t), then one correction
 * with an exact residual: with m = m_h + m_l split into two 12-bit halves, m_h * y_t and m_l * y_t
 * are exact products, 1 - m_h y_t is exact (Sterbenz), so e = 1 - m y_t carries one rounding of a
 * number below 2^-10. Then 1/m = y_t / (1 - e) = y_t (1 + e + e^2 + ...), to e^3 ~ 2^-31.
 */
ALWAYS_INLINE uint32_t recip_significand(ctx_t *ctx, uint32_t m) {
  uint32_t y = RECIP_R4;
  y = fadd(ctx, fmul(ctx, y, m), RECIP_R3);
  y = fadd(ctx, fmul(ctx, y, m), RECIP_R2);
  y = fadd(ctx, fmul(ctx, y, m), RECIP_R1);
  y = fadd(ctx, fmul(ctx, y, m), RECIP_R0);
  uint32_t y_t = y & HIGH12_MASK;
  uint32_t m_h = m & HIGH12_MASK;
  uint32_t m_l = fadd(ctx, m, negate(m_h));
  uint32_t e_h = fadd(ctx, F_ONE, negate(fmul(ctx, m_h, y_t)));
  uint32_t e = fadd(ctx, e_h, negate(fmul(ctx, m_l, y_t)));
  uint32_t series = fadd(ctx, e, fmul(ctx, e, e));
  return fadd(ctx, y_t, fmul(ctx, y_t, series));
}

ALWAYS_INLINE uint32_t recip_body(ctx_t *ctx, uint32_t x) {
  uint32_t sign = x & SIGN_BIT;
  uint32_t magnitude = x & ABS_MASK;
  if (is_nan(x)) {
    return nan_result(ctx, x);
  }
  if (magnitude == 0) {
    return pole_result(ctx, sign);
  }
  if (magnitude == INF_BITS) {
    return sign; /* +-0, exact, no flags */
  }
  /* A subnormal is scaled into the normal range first (exactly); the result is scaled back. */
  bool subnormal = magnitude < MIN_NORMAL_BITS;
  uint32_t a = fmul(ctx, magnitude, subnormal ? F_2P64 : F_ONE);
  int e = exponent_of(a);
  uint32_t m = (a & FRACTION_MASK) | F_ONE;
  uint32_t y = recip_significand(ctx, m); /* in (0.5, 1] */

  /* y * 2^(-e) (* 2^64): two multiplies, the first exact, the second the one rounding (overflow
     for |x| < 2^-128, subnormal results for |x| > 2^126). */
  int k = -e + (subnormal ? 64 : 0);
  int k1 = floor_half(k);
  int k2 = k - k1;
  return sign | fmul(ctx, fmul(ctx, y, pow2_bits(k1)), pow2_bits(k2));
}

/* ---------------------------------------------------------------------------------------------- */
/* rsqrt. */

#define RSQRT_MAGIC 0x5F3759DFu /* the classic seed: y0 = MAGIC - (bits >> 1), within 3.5% */
#define F_THREE_HALVES 0x3FC00000u
#define F_THREE_EIGHTHS 0x3EC00000u

/*
 * 1/sqrt(m) for m in [1, 4): the bit-trick seed, two Newton steps y (3/2 - (m/2) y^2) to ~2^-17,
 * cut to 12 significant bits (y_t), then one correction: h = y_t^2 is exact, e = 1 - m h carries
 * the one rounding of m h, and 1/sqrt(m) = y_t (1 - e)^(-1/2) = y_t (1 + e/2 + 3e^2/8 + ...).
 */
ALWAYS_INLINE uint32_t rsqrt_significand(ctx_t *ctx, uint32_t m) {
  uint32_t half_m = fmul(ctx, m, F_HALF);
  uint32_t y = RSQRT_MAGIC - (m >> 1);
  for (int step = 0; step < 2; step++) {
    uint32_t w = fmul(ctx, half_m, fmul(ctx, y, y));
    y = fmul(ctx, y, fadd(ctx, F_THREE_HALVES, negate(w)));
  }
  uint32_t y_t = y & HIGH12_MASK;
  uint32_t h = fmul(ctx, y_t, y_t);
  uint32_t e = fadd(ctx, F_ONE, negate(fmul(ctx, m, h)));
  uint32_t series = fmul(ctx, e, fadd(ctx, fmul(ctx, e, F_THREE_EIGHTHS), F_HALF));
  return fadd(ctx, y_t, fmul(ctx, y_t, series));
}

ALWAYS_INLINE uint32_t rsqrt_body(ctx_t *ctx, uint32_t x) {
  uint32_t sign = x & SIGN_BIT;
  uint32_t magnitude = x & ABS_MASK;
  if (is_nan(x)) {
    return nan_result(ctx, x);
  }
  if (magnitude == 0) {
    return pole_result(ctx, sign);
  }
  if (sign != 0) {
    return fmul(ctx, F_ZERO, INF_BITS); /* outside the domain: 0 * inf, the canonical NaN with NV */
  }
  if (magnitude == INF_BITS) {
    return 0u; /* exact, no flags */
  }
  bool subnormal = magnitude < MIN_NORMAL_BITS;
  uint32_t a = fmul(ctx, magnitude, subnormal ? F_2P64 : F_ONE);
  int e = exponent_of(a);
  int odd = e & 1;
  /* x = m 2^(e - odd) with m in [1, 4) and an even exponent, whose half is exact. */
  uint32_t m = (a & FRACTION_MASK) | pow2_bits(odd);
  uint32_t y = rsqrt_significand(ctx, m); /* in (0.5, 1] */
  int k = -floor_half(e - odd) + (subnormal ? 32 : 0);
  return fmul(ctx, y, pow2_bits(k)); /* exact: the result is always normal */
}

/* ---------------------------------------------------------------------------------------------- */
/* tanh. */

#define TANH_SATURATE 0x41200000u /* 10: tanh rounds to 1 from 9.01 on */
#define TANH_SMALL 0x39800000u    /* 2^-12: below it tanh(x) rounds to x */
#define TANH_ODD_POLY                                                                            \
  0x3F100000u                     /* 0.5625: the odd polynomial below, the centred one from here \
                                   */
#define TANH_MID_POLY 0x3FA00000u /* 1.25: the centred polynomial below, the exp form from here */
#define F_NEG_TWO 0xC0000000u
#define F_2P50 0x58800000u      /* 2^50 */
#define F_2PM50 0x26800000u     /* 2^-50 */
#define F_NEG_2PM26 0xB2800000u /* -2^-26 */
#define F_2PM30 0x30800000u     /* 2^-30 */
/* T(z) ~ (tanh(a) - a) / a^3, z = a^2 <= 0.5625^2, minimax relative to tanh (special_coeffs.py) */
#define TANH_T0 0xBEAAAAAAu
#define TANH_T1 0x3E088842u
#define TANH_T2 0xBD5CFA4Bu
#define TANH_T3 0x3CB1E6BFu
#define TANH_T4 0xBC069A69u
#define TANH_T5 0x3B0E9B1Bu
/*
 * M(d) ~ tanh(c + d), c = 457/512, for c + d in [0.5625, 1.25]. Its constant term is M0 + M0_LO,
 * tanh(c) to about 2^-55, added last (M0_LO first): so a = c, where d = 0, is inexact (NX) like
 * every other input; c is where tanh lies within 2^-30.8 of a binary32 number (special_coeffs.py).
 */
#define TANH_MID_CENTRE_NEG 0xBF648000u /* -457/512 */
#define TANH_M0 0x3F367133u
#define TANH_M0_LO 0xAFCB30C0u
#define TANH_M1 0x3EFBF5B2u
#define TANH_M2 0xBEB39017u
#define TANH_M3 0x3DAFEE46u
#define TANH_M4 0x3D641498u
#define TANH_M5 0xBD6B48D7u
#define TANH_M6 0x3C6E1299u
#define TANH_M7 0x3C28174Au
#define TANH_M8 0xBC1A9D89u

ALWAYS_INLINE uint32_t tanh_body(ctx_t *ctx, uint32_t x) {
  uint32_t sign = x & SIGN_BIT;
  uint32_t a = x & ABS_MASK;
  if (is_nan(x)) {
    return nan_result(ctx, x);
  }
  if (a == INF_BITS) {
    return sign | F_ONE; /* exact, no flags */
  }
  if (a >= TANH_SATURATE) {
    return sign | fadd(ctx, F_ONE, F_2PM30); /* 1, with NX */
  }
  if (a < TANH_SMALL) {
    /* tanh(a) = a (1 - a^2/3 + ...) rounds to a, inexact unless a = 0: computed as b - b 2^-26
       with b = a 2^50, which rounds to b with NX, then scaled back. The scalings are exact (b is
       normal even for a subnormal a), so no UF, not even for a subnormal result. */
    uint32_t b = fmul(ctx, a, F_2P50);
    uint32_t c = fadd(ctx, b, fmul(ctx, b, F_NEG_2PM26));
    return sign | fmul(ctx, c, F_2PM50);
  }
  uint32_t result;
  if (a < TANH_ODD_POLY) {
    /* a + a^3 T(a^2) */
    uint32_t z = fmul(ctx, a, a);
    uint32_t t = TANH_T5;
    t = fadd(ctx, fmul(ctx, t, z), TANH_T4);
    t = fadd(ctx, fmul(ctx, t, z), TANH_T3);
    t = fadd(ctx, fmul(ctx, t, z), TANH_T2);
    t = fadd(ctx, fmul(ctx, t, z), TANH_T1);
    t = fadd(ctx, fmul(ctx, t, z), TANH_T0);
    result = fadd(ctx, a, fmul(ctx, a, fmul(ctx, z, t)));
  } else if (a < TANH_MID_POLY) {
    /* M(a - c); a - c is exact (Sterbenz: c/2 <= a <= 2c). Here the exp form below would round
       five times at magnitudes near the result's and lose up to 1.4 ulp. */
    uint32_t d = fadd(ctx, a, TANH_MID_CENTRE_NEG);
    uint32_t m = TANH_M8;
    m = fadd(ctx, fmul(ctx, m, d), TANH_M7);
    m = fadd(ctx, fmul(ctx, m, d), TANH_M6);
    m = fadd(ctx, fmul(ctx, m, d), TANH_M5);
    m = fadd(ctx, fmul(ctx, m, d), TANH_M4);
    m = fadd(ctx, fmul(ctx, m, d), TANH_M3);
    m = fadd(ctx, fmul(ctx, m, d), TANH_M2);
    m = fadd(ctx, fmul(ctx, m, d), TANH_M1);
    result = fadd(ctx, fadd(ctx, fmul(ctx, m, d), TANH_M0_LO), TANH_M0);
  } else {
    /* With t = e^(-2a) in (2e-9, 0.083]: tanh(a) = (1 - t) / (1 + t) = 1 - 2 t / (1 + t). */
    uint32_t t = exp_body(ctx, fmul(ctx, a, F_NEG_TWO));
    uint32_t q = recip_body(ctx, fadd(ctx, F_ONE, t));
    uint32_t u = fmul(ctx, t, q);
    result = fadd(ctx, F_ONE, negate(fadd(ctx, u, u)));
  }
  return sign | result;
}

/* ---------------------------------------------------------------------------------------------- */
/* The two instantiations of each unary function. */

SPARROW_FP_TWIN_DEFINE(exp)
SPARROW_FP_TWIN_DEFINE(recip)
SPARROW_FP_TWIN_DEFINE(rsqrt)
SPARROW_FP_TWIN_DEFINE(tanh)

uint32_t sparrow_fp_div(uint32_t a, uint32_t b, uint8_t *flags) {
  uint8_t local = 0;
  uint32_t result = sparrow_fp_mul(a, sparrow_fp_recip(b, &local), &local);
  if (flags != NULL) {
    *flags |= local;
  }
  return result;
}

/* ---------------------------------------------------------------------------------------------- */
/* Comparisons. */

/* NaN handling shared by max and min: true when the result is the canonical NaN. */
static bool nan_operands(uint32_t a, uint32_t b, uint8_t *flags) {
  if (!is_nan(a) && !is_nan(b)) {
    return false;
  }
  if ((is_signalling_nan(a) || is_signalling_nan(b)) && flags != NULL) {
    *flags |= SPARROW_FP_NV;
  }
  return true;
}

/* Total order of non-NaN values with -0 < +0: the order of the sign-flipped integer keys. */
static int64_t total_key(uint32_t x) {
  return (x & SIGN_BIT) != 0 ? -(int64_t)(x & ABS_MASK) - 1 : (int64_t)x;
}

uint32_t sparrow_fp_max(uint32_t a, uint32_t b, uint8_t *flags) {
  if (nan_operands(a, b, flags)) {
    return SPARROW_FP_CANONICAL_NAN;
  }
  return total_key(a) >= total_key(b) ? a : b;
}

uint32_t sparrow_fp_min(uint32_t a, uint32_t b, uint8_t *flags) {
  if (nan_operands(a, b, flags)) {
    return SPARROW_FP_CANONICAL_NAN;
  }
  return total_key(a) <= total_key(b) ? a : b;
}

sparrow_fp_cmp_t sparrow_fp_cmp(uint32_t a, uint32_t b, uint8_t *flags) {
  if (nan_operands(a, b, flags)) {
    return SPARROW_FP_CMP_UNORDERED;
  }
  int64_t key_a = order_key(a);
  int64_t key_b = order_key(b);
  if (key_a < key_b) {
    return SPARROW_FP_CMP_LESS;
  }
  return key_a == key_b ? SPARROW_FP_CMP_EQUAL : SPARROW_FP_CMP_GREATER;
}

/* ---------------------------------------------------------------------------------------------- */
/* Reductions. */

typedef uint32_t (*combine_fn)(uint32_t a, uint32_t b, uint8_t *flags);

/* One level at a time, as the hardware's adder stages: lane i of a level combines lanes 2i and
   2i + 1 of the level before, the lower index on the left. */
static sparrow_fp_reduce_status_t reduce_tree(unsigned lanes, const uint32_t *values,
                                              uint32_t *result, uint8_t *flags,
                                              combine_fn combine) {
  if (values == NULL || result == NULL) {
    return SPARROW_FP_REDUCE_NULL;
  }
  if (lanes == 0 || lanes > SPARROW_FP_REDUCE_MAX_LANES || (lanes & (lanes - 1)) != 0) {
    return SPARROW_FP_REDUCE_BAD_LANES;
  }
  uint32_t level[SPARROW_FP_REDUCE_MAX_LANES];
  memcpy(level, values, lanes * sizeof level[0]);
  uint8_t local = 0;
  for (unsigned width = lanes; width > 1; width /= 2) {
    for (unsigned i = 0; i < width / 2; i++) {
      level[i] = combine(level[2 * i], level[2 * i + 1], &local);
    }
  }
  *result = level[0];
  if (flags != NULL) {
    *flags |= local;
  }
  return SPARROW_FP_REDUCE_OK;
}

sparrow_fp_reduce_status_t sparrow_fp_reduce_sum(unsigned lanes, const uint32_t *values,
                                                 uint32_t *result, uint8_t *flags) {
  return reduce_tree(lanes, values, result, flags, sparrow_fp_add);
}

sparrow_fp_reduce_status_t sparrow_fp_reduce_max(unsigned lanes, const uint32_t *values,
                                                 uint32_t *result, uint8_t *flags) {
  return reduce_tree(lanes, values, result, flags, sparrow_fp_max);
}

const char *sparrow_fp_reduce_status_str(sparrow_fp_reduce_status_t status) {
  switch (status) {
    case SPARROW_FP_REDUCE_OK:
      return "ok";
    case SPARROW_FP_REDUCE_BAD_LANES:
      return "lanes must be a power of two from 1 to 64";
    case SPARROW_FP_REDUCE_NULL:
      return "values and result must not be NULL";
  }
  return "unknown reduction status";
}
