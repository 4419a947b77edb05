/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sparrow-fpgen: the project's own binary32 test-vector generator.
 *
 *   sparrow-fpgen add|mul [--count N] [--seed S] [--suite all|random|targeted]
 *   sparrow-fpgen [add|mul] --classes [--count N] [--suite ...]
 *
 * Writes one vector a line to stdout in the TestFloat format (sim/fpvec/fpvec_format.h):
 * operand A, operand B, expected result, expected flags. Expected values come from the C side of
 * the fabric numerics (sim/model/sparrow_fp.c), after its self-check has proved the host fit.
 *
 * Two suites:
 *   targeted  fixed-size classes, each aimed at one thing the numerics promise (signed zeros,
 *             subnormals, the underflow and overflow boundaries, exact ties, NaNs, ...). Counts do
 *             not depend on the seed; the operands do.
 *   random    --count vectors split over three kinds of random operands.
 * Every class draws from its own PRNG stream (derived from the seed and the class name), so the
 * output is a pure function of (operation, seed, count, suite), and adding a class does not change
 * the vectors of the others.
 *
 * Exit status: 0 done, 1 write error, 2 usage error or unfit host.
 */
#include "../../sim/fpvec/fpvec_format.h"
#include "../../sim/model/sparrow_fp.h"

#include <assert.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(array) (sizeof(array) / sizeof((array)[0]))

#define PROGRAM "sparrow-fpgen"
#define DEFAULT_RANDOM_COUNT 1000000u
#define DEFAULT_SEED 1u

/* ---------------------------------------------------------------------------------------------- */
/* binary32 encoding. Exponents below are unbiased: a value in [2^e, 2^(e+1)) has exponent e. */

#define SIGN_BIT 0x80000000u
#define EXPONENT_MASK 0x7F800000u
#define FRACTION_MASK 0x007FFFFFu
#define HIDDEN_BIT 0x00800000u
#define QUIET_BIT 0x00400000u
#define INFINITY_BITS 0x7F800000u
#define MIN_NORMAL_BITS 0x00800000u
#define MAX_NORMAL_BITS 0x7F7FFFFFu
#define EXPONENT_BIAS 127
#define MIN_NORMAL_EXP (-126)
#define MAX_NORMAL_EXP 127
#define MIN_SUBNORMAL_EXP (-149) /* exponent of the smallest subnormal, 2^-149 */
#define SIGNIFICAND_BITS 24

static uint32_t negate_if(uint32_t bits, bool negative) {
  return negative ? bits ^ SIGN_BIT : bits;
}

static int bit_length(uint64_t value) {
  int length = 0;
  while (value != 0) {
    length++;
    value >>= 1;
  }
  return length;
}

static bool is_finite_bits(uint32_t bits) {
  return (bits & EXPONENT_MASK) != EXPONENT_MASK;
}

/*
 * The binary32 encoding of magnitude * 2^lsb_exp, which must be exactly representable: the
 * constructions below build operands from integer significands and need them exact.
 */
static uint32_t encode_scaled(uint64_t magnitude, int lsb_exp) {
  if (magnitude == 0) {
    return 0;
  }
  int length = bit_length(magnitude);
  int exponent = lsb_exp + length - 1;
  assert(length <= SIGNIFICAND_BITS && exponent <= MAX_NORMAL_EXP);
  if (exponent >= MIN_NORMAL_EXP) {
    uint32_t fraction = (uint32_t)(magnitude << (SIGNIFICAND_BITS - length)) & FRACTION_MASK;
    return (uint32_t)(exponent + EXPONENT_BIAS) << 23 | fraction;
  }
  assert(lsb_exp >= MIN_SUBNORMAL_EXP);
  return (uint32_t)(magnitude << (lsb_exp - MIN_SUBNORMAL_EXP));
}

/* A finite operand as an integer significand and the exponent of its last bit. */
typedef struct {
  bool negative;
  uint32_t significand;
  int lsb_exp;
} finite_parts_t;

static finite_parts_t decode_finite(uint32_t bits) {
  finite_parts_t parts = {(bits & SIGN_BIT) != 0, bits & FRACTION_MASK, MIN_SUBNORMAL_EXP};
  uint32_t biased = (bits & EXPONENT_MASK) >> 23;
  if (biased != 0) {
    parts.significand |= HIDDEN_BIT;
    parts.lsb_exp = (int)biased - EXPONENT_BIAS - 23;
  }
  return parts;
}

/* The finite magnitude next to `bits` by `steps` ulps, kept within [0, FLT_MAX]; sign kept. */
static uint32_t step_ulps(uint32_t bits, int64_t steps) {
  int64_t magnitude = (int64_t)(bits & ~SIGN_BIT) + steps;
  if (magnitude < 0) {
    magnitude = 0;
  }
  if (magnitude > (int64_t)MAX_NORMAL_BITS) {
    magnitude = MAX_NORMAL_BITS;
  }
  return (bits & SIGN_BIT) | (uint32_t)magnitude;
}

static double double_from_bits(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

/* The binary32 nearest to a double (host conversion, round to nearest), as a finite magnitude. */
static uint32_t nearest_finite_bits(double value) {
  float narrowed = (float)fabs(value);
  uint32_t bits;
  memcpy(&bits, &narrowed, sizeof bits);
  return is_finite_bits(bits) ? bits : MAX_NORMAL_BITS;
}

/* ---------------------------------------------------------------------------------------------- */
/* Exact rounding analysis, used to aim constructions at ties and near-ties and to verify them. */

typedef enum {
  ROUNDING_EXACT,
  ROUNDING_BELOW_HALF,      /* inexact, rounds toward zero */
  ROUNDING_NEAR_BELOW_HALF, /* the same, within 2^-NEAR_TIE_MIN_LOG2 of half an ulp from it */
  ROUNDING_TIE_DOWN,        /* exactly halfway, the even neighbour is toward zero */
  ROUNDING_TIE_UP,          /* exactly halfway, the even neighbour is away from zero */
  ROUNDING_NEAR_ABOVE_HALF, /* rounds away from zero, within 2^-NEAR_TIE_MIN_LOG2 of half */
  ROUNDING_ABOVE_HALF,      /* inexact, rounds away from zero */
} rounding_case_t;

/*
 * Near-ties lie within 2^-NEAR_TIE_MIN_LOG2 of half an ulp from the midpoint (and at least one unit
 * of the last exact bit away from it), on either side, at distances spread over every scale.
 */
#define NEAR_TIE_MIN_LOG2 4

/* How round-to-nearest-even binary32 (with subnormals) treats magnitude * 2^lsb_exp. */
static rounding_case_t classify_rounding(uint64_t magnitude, int lsb_exp) {
  if (magnitude == 0) {
    return ROUNDING_EXACT;
  }
  int exponent = lsb_exp + bit_length(magnitude) - 1;
  int result_lsb = exponent >= MIN_NORMAL_EXP ? exponent - 23 : MIN_SUBNORMAL_EXP;
  int dropped = result_lsb - lsb_exp;
  if (dropped <= 0) {
    return ROUNDING_EXACT;
  }
  if (dropped > 63) {
    return ROUNDING_BELOW_HALF; /* everything is below half an ulp */
  }
  uint64_t rest = magnitude & ((UINT64_C(1) << dropped) - 1);
  uint64_t half = UINT64_C(1) << (dropped - 1);
  uint64_t kept = magnitude >> dropped;
  if (rest == 0) {
    return ROUNDING_EXACT;
  }
  if (rest == half) {
    return (kept & 1) ? ROUNDING_TIE_UP : ROUNDING_TIE_DOWN;
  }
  uint64_t near_distance = half >> NEAR_TIE_MIN_LOG2;
  if (rest < half) {
    return half - rest <= near_distance ? ROUNDING_NEAR_BELOW_HALF : ROUNDING_BELOW_HALF;
  }
  return rest - half <= near_distance ? ROUNDING_NEAR_ABOVE_HALF : ROUNDING_ABOVE_HALF;
}

typedef enum { OP_ADD, OP_MUL } fp_op_t;

/*
 * The rounding case of a op b for finite operands, computed exactly in integers. Sums whose
 * operands are too far apart to fit 63 bits are reported as ROUNDING_BELOW_HALF (the small one is
 * then far below half an ulp); callers only use this on their own close constructions.
 */
static rounding_case_t classify_vector(fp_op_t op, uint32_t a, uint32_t b) {
  finite_parts_t x = decode_finite(a);
  finite_parts_t y = decode_finite(b);
  if (op == OP_MUL) {
    return classify_rounding((uint64_t)x.significand * y.significand, x.lsb_exp + y.lsb_exp);
  }
  int lsb = x.lsb_exp < y.lsb_exp ? x.lsb_exp : y.lsb_exp;
  int shift_x = x.lsb_exp - lsb;
  int shift_y = y.lsb_exp - lsb;
  if (shift_x > 38 || shift_y > 38) {
    return ROUNDING_BELOW_HALF;
  }
  int64_t sum = (x.negative ? -1 : 1) * (int64_t)((uint64_t)x.significand << shift_x) +
                (y.negative ? -1 : 1) * (int64_t)((uint64_t)y.significand << shift_y);
  return classify_rounding((uint64_t)(sum < 0 ? -sum : sum), lsb);
}

/* ---------------------------------------------------------------------------------------------- */
/* PRNG: xoshiro256** seeded through splitmix64; small, fast, and the same on every host. */

typedef struct {
  uint64_t state[4];
} rng_t;

static uint64_t splitmix64_next(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* One independent stream per (seed, stream name). */
static void rng_seed(rng_t *rng, uint64_t seed, const char *stream_name) {
  uint64_t name_hash = UINT64_C(0xCBF29CE484222325); /* FNV-1a */
  for (const char *c = stream_name; *c != '\0'; c++) {
    name_hash = (name_hash ^ (uint8_t)*c) * UINT64_C(0x100000001B3);
  }
  uint64_t mix = seed ^ splitmix64_next(&name_hash);
  for (size_t i = 0; i < ARRAY_SIZE(rng->state); i++) {
    rng->state[i] = splitmix64_next(&mix);
  }
}

static uint64_t rotate_left(uint64_t value, int bits) {
  return (value << bits) | (value >> (64 - bits));
}

static uint64_t rng_next(rng_t *rng) {
  uint64_t *s = rng->state;
  uint64_t result = rotate_left(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotate_left(s[3], 45);
  return result;
}

static uint32_t rng_u32(rng_t *rng) {
  return (uint32_t)(rng_next(rng) >> 32);
}

static bool rng_bool(rng_t *rng) {
  return (rng_next(rng) >> 63) != 0;
}

/* Uniform in [0, bound), bound > 0, without modulo bias. */
static uint64_t rng_below(rng_t *rng, uint64_t bound) {
  uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    uint64_t value = rng_next(rng);
    if (value >= threshold) {
      return value % bound;
    }
  }
}

/* Uniform in [low, high], low <= high. */
static int rng_range(rng_t *rng, int low, int high) {
  return low + (int)rng_below(rng, (uint64_t)(high - low) + 1);
}

/* A random integer of exactly `length` bits (1..32), odd when asked. */
static uint32_t rng_with_length(rng_t *rng, int length, bool odd) {
  uint32_t top = UINT32_C(1) << (length - 1);
  uint32_t value = top | (rng_u32(rng) & (top - 1));
  return odd ? value | 1u : value;
}

/* ---------------------------------------------------------------------------------------------- */
/* Operand makers. */

/*
 * 23-bit fraction fields of several shapes. Sparse (few bits set) and dense (few bits clear)
 * patterns make the exact result land on or next to rounding boundaries far more often than
 * uniform bits do.
 */
static uint32_t sparse_fraction(rng_t *rng) {
  uint32_t fraction = 0;
  int bits = rng_range(rng, 0, 3);
  for (int i = 0; i < bits; i++) {
    fraction |= UINT32_C(1) << rng_below(rng, 23);
  }
  return fraction;
}

static uint32_t dense_fraction(rng_t *rng) {
  return ~sparse_fraction(rng) & FRACTION_MASK;
}

static uint32_t sparse_or_dense_fraction(rng_t *rng) {
  return rng_bool(rng) ? sparse_fraction(rng) : dense_fraction(rng);
}

static uint32_t any_fraction(rng_t *rng) {
  switch (rng_below(rng, 8)) {
    case 0:
      return sparse_fraction(rng);
    case 1:
      return dense_fraction(rng);
    default:
      return rng_u32(rng) & FRACTION_MASK;
  }
}

/*
 * A finite magnitude with the given exponent (MIN_SUBNORMAL_EXP..MAX_NORMAL_EXP) whose bits below
 * the leading one come from `fraction`; below 2^-126 the value is subnormal and keeps only the
 * fraction bits that fit.
 */
static uint32_t finite_with_exponent(int exponent, uint32_t fraction) {
  if (exponent >= MIN_NORMAL_EXP) {
    return (uint32_t)(exponent + EXPONENT_BIAS) << 23 | (fraction & FRACTION_MASK);
  }
  return (HIDDEN_BIT | (fraction & FRACTION_MASK)) >> (MIN_NORMAL_EXP - exponent);
}

static uint32_t random_normal(rng_t *rng, int low_exp, int high_exp) {
  return finite_with_exponent(rng_range(rng, low_exp, high_exp), any_fraction(rng));
}

static uint32_t random_subnormal(rng_t *rng) {
  switch (rng_below(rng, 6)) {
    case 0:
      return 0x00000001u;
    case 1:
      return 0x007FFFFFu;
    case 2:
      return 1u + (uint32_t)rng_below(rng, FRACTION_MASK);
    default: /* log-uniform: every leading-bit position equally often */
      return finite_with_exponent(rng_range(rng, MIN_SUBNORMAL_EXP, MIN_NORMAL_EXP - 1),
                                  any_fraction(rng));
  }
}

static uint32_t random_nan(rng_t *rng) {
  uint32_t payload;
  switch (rng_below(rng, 4)) {
    case 0:
      payload = 1; /* the smallest payloads */
      break;
    case 1:
      payload = QUIET_BIT - 1; /* the largest */
      break;
    default:
      payload = rng_u32(rng) & (QUIET_BIT - 1);
      break;
  }
  if (rng_bool(rng)) {
    payload |= QUIET_BIT;
  } else if (payload == 0) {
    payload = 1; /* signalling NaNs need a non-zero payload */
  }
  return negate_if(INFINITY_BITS | payload, rng_bool(rng));
}

/* Values every class is tried against: the ends of every range and their neighbours. */
static const uint32_t kEdgeMagnitudes[] = {
    0x00000000u,                                        /* zero */
    0x00000001u,                                        /* smallest subnormal 2^-149 */
    0x00000002u, 0x00000003u, 0x003FFFFFu, 0x00400000u, /* 2^-127 */
    0x00400001u, 0x007FFFFEu, 0x007FFFFFu,              /* largest subnormal */
    0x00800000u,                                        /* smallest normal 2^-126 */
    0x00800001u, 0x00FFFFFFu, 0x01000000u, 0x33800000u, /* 2^-24: half an ulp of 1 */
    0x34000000u,                                        /* 2^-23: one ulp of 1 */
    0x3EFFFFFFu, 0x3F000000u, 0x3F7FFFFFu, 0x3F800000u, /* 1 */
    0x3F800001u, 0x3FBFFFFFu, 0x3FC00000u, 0x3FFFFFFFu, 0x40000000u, 0x4B000000u, /* 2^23 */
    0x4B800000u,                                                                  /* 2^24 */
    0x5F800000u,                                                                  /* 2^64 */
    0x7EFFFFFFu, 0x7F000000u,                                                     /* 2^127 */
    0x7F7FFFFEu, 0x7F7FFFFFu, /* largest normal */
    0x7F800000u,              /* infinity */
    0x7F800001u,              /* signalling NaNs: smallest and largest payload */
    0x7FBFFFFFu, 0x7FC00000u, /* canonical quiet NaN */
    0x7FC00001u, 0x7FFFFFFFu,
};

#define EDGE_VALUES (2 * ARRAY_SIZE(kEdgeMagnitudes)) /* both signs */

static uint32_t edge_value(size_t index) {
  return negate_if(kEdgeMagnitudes[index / 2], (index & 1) != 0);
}

/* Anything at all, weighted so that every class of operand shows up often. */
static uint32_t random_any_value(rng_t *rng) {
  uint32_t magnitude;
  switch (rng_below(rng, 10)) {
    case 0:
      magnitude = 0;
      break;
    case 1:
      magnitude = random_subnormal(rng);
      break;
    case 2:
      magnitude = random_normal(rng, MIN_NORMAL_EXP, MAX_NORMAL_EXP);
      break;
    case 3:
      magnitude = random_normal(rng, -4, 4);
      break;
    case 4:
      magnitude = INFINITY_BITS;
      break;
    case 5:
      return random_nan(rng);
    case 6:
      magnitude = kEdgeMagnitudes[rng_below(rng, ARRAY_SIZE(kEdgeMagnitudes))];
      break;
    case 7:
      magnitude = step_ulps(rng_bool(rng) ? MIN_NORMAL_BITS : MAX_NORMAL_BITS,
                            rng_bool(rng) ? -rng_range(rng, 0, 3) : rng_range(rng, 0, 3));
      break;
    default:
      return rng_u32(rng);
  }
  return negate_if(magnitude, rng_bool(rng));
}

/* Any finite value, signed. */
static uint32_t random_finite(rng_t *rng) {
  uint32_t magnitude = rng_below(rng, 8) == 0 ? random_subnormal(rng)
                                              : random_normal(rng, MIN_NORMAL_EXP, MAX_NORMAL_EXP);
  return negate_if(magnitude, rng_bool(rng));
}

/* Operand pair in a random order: the classes must not depend on which side a value is on. */
static void set_pair_any_order(rng_t *rng, uint32_t x, uint32_t y, uint32_t *a, uint32_t *b) {
  bool swap = rng_bool(rng);
  *a = swap ? y : x;
  *b = swap ? x : y;
}

/*
 * a = m1 * 2^e1 and b = m2 * 2^e2 with e1 + e2 = product_lsb, both exactly representable, the split
 * drawn at random; signs random. Returns false when no split fits.
 */
static bool split_product(rng_t *rng, uint32_t m1, uint32_t m2, int product_lsb, uint32_t *a,
                          uint32_t *b) {
  int top1 = MAX_NORMAL_EXP - (bit_length(m1) - 1); /* largest e1 keeping a finite */
  int top2 = MAX_NORMAL_EXP - (bit_length(m2) - 1);
  int low = MIN_SUBNORMAL_EXP > product_lsb - top2 ? MIN_SUBNORMAL_EXP : product_lsb - top2;
  int high = top1 < product_lsb - MIN_SUBNORMAL_EXP ? top1 : product_lsb - MIN_SUBNORMAL_EXP;
  if (low > high) {
    return false;
  }
  int e1 = rng_range(rng, low, high);
  uint32_t x = negate_if(encode_scaled(m1, e1), rng_bool(rng));
  uint32_t y = negate_if(encode_scaled(m2, product_lsb - e1), rng_bool(rng));
  set_pair_any_order(rng, x, y, a, b);
  return true;
}

/* ---------------------------------------------------------------------------------------------- */
/* Constructions for exact ties and near-ties. */

/* Inverse of an odd number modulo 2^32 (Newton's iteration doubles the correct bits each step). */
static uint32_t odd_inverse(uint32_t odd) {
  uint32_t inverse = odd; /* correct to 3 bits */
  for (int i = 0; i < 4; i++) {
    inverse *= 2u - odd * inverse;
  }
  return inverse;
}

/*
 * Two significands whose product has exactly `product_bits` bits and whose low `low_bits` bits
 * (<= 24) equal `low`: m1 is a random odd number of `m1_bits` bits, m2 is solved for modulo
 * 2^low_bits (m2 = low / m1) and given random high bits. Full-width ties and near-ties come out of
 * this: with low = 2^(low_bits-1) and low_bits bits dropped by rounding, the product is exactly
 * halfway. Returns false when the drawn numbers do not fit; the caller draws again.
 */
static bool significands_with_low_bits(rng_t *rng, int m1_bits, int low_bits, uint32_t low,
                                       int product_bits, uint32_t *m1, uint32_t *m2) {
  uint32_t low_mask = (low_bits >= 32) ? UINT32_MAX : (UINT32_C(1) << low_bits) - 1;
  uint32_t first = rng_with_length(rng, m1_bits, true);
  uint32_t second = (low * odd_inverse(first)) & low_mask;
  int m2_bits = product_bits - m1_bits + rng_range(rng, 0, 1); /* product length is a sum +0/-1 */
  if (m2_bits > SIGNIFICAND_BITS || m2_bits < 1) {
    return false;
  }
  if (m2_bits > low_bits) {
    second |= rng_with_length(rng, m2_bits - low_bits, false) << low_bits;
  }
  if (second == 0 || bit_length(second) > SIGNIFICAND_BITS ||
      bit_length((uint64_t)first * second) != product_bits) {
    return false;
  }
  *m1 = first;
  *m2 = second;
  return true;
}

/*
 * The low `dropped` bits of a product that is a tie (exactly half of 2^dropped) or, when `near`,
 * a near-tie: half plus or minus an offset below 2^(dropped - 1 - NEAR_TIE_MIN_LOG2). Returns false
 * when `dropped` is too small to hold a near-tie.
 */
static bool rounding_low_bits(rng_t *rng, int dropped, bool near, uint32_t *low) {
  uint32_t half = UINT32_C(1) << (dropped - 1);
  if (!near) {
    *low = half;
    return true;
  }
  int max_offset_bits = dropped - 1 - NEAR_TIE_MIN_LOG2;
  if (max_offset_bits < 1) {
    return false;
  }
  uint32_t offset = rng_with_length(rng, rng_range(rng, 1, max_offset_bits), false);
  *low = rng_bool(rng) ? half + offset : half - offset;
  return true;
}

/*
 * A mul candidate with a normal result whose rounding is a tie (or near-tie). The product of the
 * significands has 25 bits (short significands, one bit dropped: an odd product is a tie) up to
 * 48 bits (full-width significands, 24 bits dropped).
 */
static bool mul_normal_rounding_candidate(rng_t *rng, bool near, uint32_t *a, uint32_t *b) {
  int product_bits = near ? rng_range(rng, SIGNIFICAND_BITS + 2 + NEAR_TIE_MIN_LOG2, 48)
                     : rng_below(rng, 4) == 0 ? 25
                                              : rng_range(rng, 26, 48);
  int dropped = product_bits - SIGNIFICAND_BITS;
  uint32_t low;
  uint32_t m1;
  uint32_t m2;
  if (!rounding_low_bits(rng, dropped, near, &low) ||
      !significands_with_low_bits(rng, rng_range(rng, dropped, SIGNIFICAND_BITS), dropped, low,
                                  product_bits, &m1, &m2)) {
    return false;
  }
  int result_exp = rng_range(rng, MIN_NORMAL_EXP, MAX_NORMAL_EXP);
  return split_product(rng, m1, m2, result_exp - (product_bits - 1), a, b);
}

/*
 * A mul candidate with a subnormal result and a tie (or near-tie) at the subnormal rounding
 * position: the product m1 * m2 * 2^lsb has `dropped` bits below 2^-149.
 */
static bool mul_subnormal_rounding_candidate(rng_t *rng, bool near, uint32_t *a, uint32_t *b) {
  int dropped = rng_range(rng, near ? 2 + NEAR_TIE_MIN_LOG2 : 1, 24);
  int product_bits = rng_range(rng, dropped, dropped + 23); /* result below 2^-126 */
  int m1_max_bits = product_bits < SIGNIFICAND_BITS ? product_bits : SIGNIFICAND_BITS;
  uint32_t low;
  uint32_t m1;
  uint32_t m2;
  if (!rounding_low_bits(rng, dropped, near, &low) ||
      !significands_with_low_bits(rng, rng_range(rng, 1, m1_max_bits), dropped, low, product_bits,
                                  &m1, &m2)) {
    return false;
  }
  return split_product(rng, m1, m2, MIN_SUBNORMAL_EXP - dropped, a, b);
}

/*
 * An add candidate for a tie: b is an odd multiple of half an ulp of a, so a + b ends in exactly
 * half an ulp whenever the sum stays in a's binade (the classifier sorts out when it does not).
 * With `near` set, b is moved off the multiple by 2^-j of half an ulp, j >= NEAR_TIE_MIN_LOG2.
 */
static bool add_rounding_candidate(rng_t *rng, bool near, uint32_t *a, uint32_t *b) {
  int odd_bits = rng_range(rng, 1, near ? SIGNIFICAND_BITS - NEAR_TIE_MIN_LOG2 : SIGNIFICAND_BITS);
  uint32_t odd = rng_with_length(rng, odd_bits, true);
  int extra = near ? rng_range(rng, NEAR_TIE_MIN_LOG2, SIGNIFICAND_BITS - odd_bits) : 0;
  uint32_t b_significand = odd << extra;
  if (near) {
    b_significand += rng_bool(rng) ? 1u : UINT32_MAX; /* +1 or -1 in the last place */
  }
  int a_exp = rng_range(rng, MIN_NORMAL_EXP + 1 + extra, MAX_NORMAL_EXP);
  uint32_t x = finite_with_exponent(a_exp, any_fraction(rng));
  uint32_t y = encode_scaled(b_significand, a_exp - SIGNIFICAND_BITS - extra);
  set_pair_any_order(rng, negate_if(x, rng_bool(rng)), negate_if(y, rng_bool(rng)), a, b);
  return true;
}

typedef enum { WANT_TIE_UP, WANT_TIE_DOWN, WANT_NEAR_TIE } rounding_goal_t;

static bool meets_goal(rounding_case_t found, rounding_goal_t goal) {
  switch (goal) {
    case WANT_TIE_UP:
      return found == ROUNDING_TIE_UP;
    case WANT_TIE_DOWN:
      return found == ROUNDING_TIE_DOWN;
    case WANT_NEAR_TIE:
      return found == ROUNDING_NEAR_BELOW_HALF || found == ROUNDING_NEAR_ABOVE_HALF;
  }
  return false;
}

/* Draws candidates until one has the wanted rounding pattern (each draw succeeds often). */
static void make_rounding_case(rng_t *rng, fp_op_t op, rounding_goal_t goal, bool subnormal_result,
                               uint32_t *a, uint32_t *b) {
  bool near = goal == WANT_NEAR_TIE;
  for (;;) {
    bool built;
    if (op == OP_ADD) {
      built = add_rounding_candidate(rng, near, a, b);
    } else if (subnormal_result) {
      built = mul_subnormal_rounding_candidate(rng, near, a, b);
    } else {
      built = mul_normal_rounding_candidate(rng, near, a, b);
    }
    if (built && meets_goal(classify_vector(op, *a, *b), goal)) {
      return;
    }
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* Vector classes. Each maker writes the operands of vector number `index` of its class. */

typedef struct {
  rng_t rng;
  fp_op_t op;
} generator_t;

typedef void (*make_vector_fn)(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b);

/* Every pair from the edge table, both signs: a fixed cross product (the seed plays no part). */
static void make_edge_cross(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  (void)gen;
  *a = edge_value((size_t)(index / EDGE_VALUES));
  *b = edge_value((size_t)(index % EDGE_VALUES));
}

/* +0 and -0 on either side of anything (including zeros, which random_any_value draws too). */
static void make_zeros(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  uint32_t zero = (index & 1) ? SIGN_BIT : 0;
  uint32_t other = random_any_value(&gen->rng);
  bool zero_first = (index & 2) != 0;
  *a = zero_first ? zero : other;
  *b = zero_first ? other : zero;
}

static void make_subnormal_subnormal(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  (void)index;
  *a = negate_if(random_subnormal(&gen->rng), rng_bool(&gen->rng));
  *b = negate_if(random_subnormal(&gen->rng), rng_bool(&gen->rng));
}

/*
 * Subnormal with normal. For mul the normal spans the whole range, so products land in the
 * subnormal range, across its top and back among the normals; for add, half of the normals are
 * within 2^10 of the smallest normal, where the subnormal changes more than the sticky bit.
 */
static void make_subnormal_normal(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  uint32_t subnormal = negate_if(random_subnormal(rng), rng_bool(rng));
  int high_exp = (gen->op == OP_ADD && (index & 2)) ? MIN_NORMAL_EXP + 10 : MAX_NORMAL_EXP;
  uint32_t normal = negate_if(random_normal(rng, MIN_NORMAL_EXP, high_exp), rng_bool(rng));
  *a = (index & 1) ? subnormal : normal;
  *b = (index & 1) ? normal : subnormal;
}

/* The smallest and largest normals and their neighbours, against values near 1, anything, and each
   other. */
static uint32_t random_min_max_normal(rng_t *rng) {
  uint32_t end = rng_bool(rng) ? MIN_NORMAL_BITS : MAX_NORMAL_BITS;
  int steps = rng_range(rng, -3, 3);
  return negate_if(step_ulps(end, steps), rng_bool(rng));
}

static void make_min_max_normal(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  uint32_t extreme = random_min_max_normal(rng);
  uint32_t other;
  switch (index % 3) {
    case 0:
      other = negate_if(random_normal(rng, -3, 3), rng_bool(rng));
      break;
    case 1:
      other = random_any_value(rng);
      break;
    default:
      other = random_min_max_normal(rng);
      break;
  }
  set_pair_any_order(rng, extreme, other, a, b);
}

/*
 * Results at the subnormal/normal boundary. mul: b is chosen so that a * b lands next to 2^-126
 * (or 2^-126 * 2^-d), then moved by a few ulps, so that products fall on both sides of the point
 * where they round up to the smallest normal, with and without underflow. add: sums of subnormals
 * that make exactly 2^-126, and normals minus subnormals that fall just under it (add results this
 * small are always exact, so add never underflows).
 */
static void make_mul_underflow_boundary(generator_t *gen, uint64_t index, uint32_t *a,
                                        uint32_t *b) {
  rng_t *rng = &gen->rng;
  uint32_t x = random_normal(rng, MIN_NORMAL_EXP, 23);
  int target_exp = (index % 4 == 3) ? MIN_NORMAL_EXP - rng_range(rng, 1, 24) : MIN_NORMAL_EXP;
  uint32_t y = nearest_finite_bits(ldexp(1.0, target_exp) / double_from_bits(x));
  y = step_ulps(y, rng_range(rng, -3, 3));
  set_pair_any_order(rng, negate_if(x, rng_bool(rng)), negate_if(y, rng_bool(rng)), a, b);
}

static void make_add_underflow_boundary(generator_t *gen, uint64_t index, uint32_t *a,
                                        uint32_t *b) {
  rng_t *rng = &gen->rng;
  bool negative = rng_bool(rng);
  uint32_t x;
  uint32_t y;
  switch (index % 4) {
    case 0: /* two subnormals summing to exactly 2^-126 */
      x = 1u + (uint32_t)rng_below(rng, FRACTION_MASK);
      y = MIN_NORMAL_BITS - x;
      break;
    case 1: /* a small normal minus a subnormal: just under or over 2^-126 */
      x = step_ulps(MIN_NORMAL_BITS, rng_range(rng, 0, 1 << 12));
      y = SIGN_BIT | random_subnormal(rng);
      break;
    case 2: /* close small normals of opposite sign */
      x = random_normal(rng, MIN_NORMAL_EXP, -120);
      y = SIGN_BIT | step_ulps(x, rng_range(rng, -(1 << 20), 1 << 20));
      break;
    default: /* values near 2^-126 plus or minus a subnormal */
      x = step_ulps(MIN_NORMAL_BITS, rng_range(rng, -64, 64));
      y = negate_if(random_subnormal(rng), rng_bool(rng));
      break;
  }
  set_pair_any_order(rng, negate_if(x, negative), negate_if(y, negative), a, b);
}

static void make_underflow_boundary(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  if (gen->op == OP_MUL) {
    make_mul_underflow_boundary(gen, index, a, b);
  } else {
    make_add_underflow_boundary(gen, index, a, b);
  }
}

/*
 * Results at the normal/overflow boundary. add: FLT_MAX (and a few ulps below) plus values around
 * half its ulp (2^103, the tie that rounds up to infinity) and other large values; mul: b chosen so
 * that a * b lands next to FLT_MAX or 2^128, moved by a few ulps.
 */
static void make_add_overflow_boundary(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  bool negative = rng_bool(rng);
  uint32_t near_max = step_ulps(MAX_NORMAL_BITS, -rng_range(rng, 0, 3));
  uint32_t x;
  uint32_t y;
  switch (index % 4) {
    case 0: { /* FLT_MAX + (half its ulp, 2^103, moved by 0 or a log-uniform number of ulps) */
      int distance_bits = rng_range(rng, 0, 23);
      int64_t distance = distance_bits == 0 ? 0 : rng_with_length(rng, distance_bits, false);
      x = near_max;
      y = step_ulps(0x73000000u, rng_bool(rng) ? distance : -distance);
      break;
    }
    case 1: /* FLT_MAX + a large value */
      x = near_max;
      y = random_normal(rng, 90, MAX_NORMAL_EXP);
      break;
    case 2: /* two values near 2^127 */
      x = random_normal(rng, 125, MAX_NORMAL_EXP);
      y = random_normal(rng, 125, MAX_NORMAL_EXP);
      break;
    default: /* large values of opposite sign: no overflow */
      x = random_normal(rng, 120, MAX_NORMAL_EXP);
      y = SIGN_BIT | random_normal(rng, 120, MAX_NORMAL_EXP);
      break;
  }
  set_pair_any_order(rng, negate_if(x, negative), negate_if(y, negative), a, b);
}

static void make_mul_overflow_boundary(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  uint32_t x = random_normal(rng, 0, MAX_NORMAL_EXP);
  double target = (index % 2) ? (double)FLT_MAX : ldexp(1.0, 128);
  uint32_t y = nearest_finite_bits(target / double_from_bits(x));
  y = step_ulps(y, rng_range(rng, -3, 3));
  set_pair_any_order(rng, negate_if(x, rng_bool(rng)), negate_if(y, rng_bool(rng)), a, b);
}

static void make_overflow_boundary(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  if (gen->op == OP_MUL) {
    make_mul_overflow_boundary(gen, index, a, b);
  } else {
    make_add_overflow_boundary(gen, index, a, b);
  }
}

/* Exact ties that round to even upward / downward (normal results), and near-ties. */
static void make_tie_even_up(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  (void)index;
  make_rounding_case(&gen->rng, gen->op, WANT_TIE_UP, false, a, b);
}

static void make_tie_even_down(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  (void)index;
  make_rounding_case(&gen->rng, gen->op, WANT_TIE_DOWN, false, a, b);
}

static void make_near_tie(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  (void)index;
  make_rounding_case(&gen->rng, gen->op, WANT_NEAR_TIE, false, a, b);
}

/* mul only: ties and near-ties at the subnormal rounding position (tiny results). */
static void make_subnormal_result_rounding(generator_t *gen, uint64_t index, uint32_t *a,
                                           uint32_t *b) {
  rounding_goal_t goal = (index % 3 == 0)   ? WANT_TIE_UP
                         : (index % 3 == 1) ? WANT_TIE_DOWN
                                            : WANT_NEAR_TIE;
  make_rounding_case(&gen->rng, gen->op, goal, true, a, b);
}

/* NaN operands, quiet and signalling, both signs, any payload, on either side of anything. */
static void make_nan_operands(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  uint32_t nan = random_nan(rng);
  uint32_t other = (index % 4 == 0) ? random_nan(rng) : random_any_value(rng);
  set_pair_any_order(rng, nan, other, a, b);
}

/* Infinities with anything, with inf - inf (add) and 0 * inf (mul) made often. */
static void make_inf_operands(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  bool negative = rng_bool(rng);
  uint32_t infinity = negate_if(INFINITY_BITS, negative);
  uint32_t other;
  if (index % 16 == 0) {
    other = gen->op == OP_ADD ? negate_if(INFINITY_BITS, !negative) : negate_if(0, rng_bool(rng));
  } else {
    other = random_any_value(rng);
  }
  set_pair_any_order(rng, infinity, other, a, b);
}

/* add only: cancellation, from total (x + -x = +0) to partial (x - x*(1 +- k ulp)). */
static void make_cancellation(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  uint32_t x = random_finite(rng);
  uint32_t y;
  switch (index % 4) {
    case 0: /* a few ulps apart, including 0 */
      y = step_ulps(x, rng_range(rng, -16, 16));
      break;
    case 1: { /* up to 2^22 ulps apart */
      int64_t steps = rng_with_length(rng, rng_range(rng, 1, 23), false);
      y = step_ulps(x, rng_bool(rng) ? steps : -steps);
      break;
    }
    case 2: { /* exponents one apart */
      int exp = rng_range(rng, MIN_NORMAL_EXP + 1, MAX_NORMAL_EXP);
      x = negate_if(finite_with_exponent(exp, any_fraction(rng)), rng_bool(rng));
      y = (x & SIGN_BIT) | finite_with_exponent(exp - 1, any_fraction(rng));
      break;
    }
    default: /* total cancellation */
      y = x;
      break;
  }
  set_pair_any_order(rng, x, y ^ SIGN_BIT, a, b);
}

#define GAP_MAX 40
#define GAP_SIGN_PATTERNS 4

/* add only: every exponent difference 0..40 with every sign pattern (alignment and sticky bits). */
static void make_exponent_gap(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  int gap = (int)(index % (GAP_MAX + 1));
  unsigned signs = (unsigned)(index / (GAP_MAX + 1)) % GAP_SIGN_PATTERNS;
  /* The small operand may be subnormal, but not below 2^-149. */
  int low_exp = MIN_SUBNORMAL_EXP + gap > MIN_NORMAL_EXP ? MIN_SUBNORMAL_EXP + gap : MIN_NORMAL_EXP;
  int big_exp = rng_range(rng, low_exp, MAX_NORMAL_EXP);
  uint32_t big = negate_if(finite_with_exponent(big_exp, any_fraction(rng)), signs & 1);
  uint32_t small =
      negate_if(finite_with_exponent(big_exp - gap, any_fraction(rng)), ((signs >> 1) ^ signs) & 1);
  set_pair_any_order(rng, big, small, a, b);
}

#define SWEEP_LOW_EXP (-175)
#define SWEEP_HIGH_EXP 130
#define SWEEP_EXPONENTS (SWEEP_HIGH_EXP - SWEEP_LOW_EXP + 1)

/* Two exponents summing to `sum`, each within [low, MAX_NORMAL_EXP]. */
static void split_exponent_sum(rng_t *rng, int sum, int low, int *e1, int *e2) {
  int first_low = sum - MAX_NORMAL_EXP > low ? sum - MAX_NORMAL_EXP : low;
  int first_high = sum - low < MAX_NORMAL_EXP ? sum - low : MAX_NORMAL_EXP;
  *e1 = rng_range(rng, first_low, first_high);
  *e2 = sum - *e1;
}

/* mul only: normal operands whose exponents sum to every value from -175 to 130 in turn, so that
   products cover the underflow range, every subnormal shift, the normals and overflow. */
static void make_product_exponent_sweep(generator_t *gen, uint64_t index, uint32_t *a,
                                        uint32_t *b) {
  rng_t *rng = &gen->rng;
  int e1;
  int e2;
  split_exponent_sum(rng, SWEEP_LOW_EXP + (int)(index % SWEEP_EXPONENTS), MIN_NORMAL_EXP, &e1, &e2);
  *a = negate_if(finite_with_exponent(e1, any_fraction(rng)), rng_bool(rng));
  *b = negate_if(finite_with_exponent(e2, any_fraction(rng)), rng_bool(rng));
}

#define POWERS_OF_TWO (MAX_NORMAL_EXP - MIN_SUBNORMAL_EXP + 1)

/* mul only: x * 2^k for every representable power of two, in turn: exact scaling, denormalizing
   shifts with rounding, and overflow. */
static void make_power_of_two_scaling(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  int k = MIN_SUBNORMAL_EXP + (int)(index % POWERS_OF_TWO);
  uint32_t power = negate_if(encode_scaled(1, k), rng_bool(rng));
  set_pair_any_order(rng, random_finite(rng), power, a, b);
}

/* Random suite (a): uniform bit patterns over the whole encoding space. */
static void make_random_bits(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  (void)index;
  *a = rng_u32(&gen->rng);
  *b = rng_u32(&gen->rng);
}

/*
 * Random operand pairs with exponents that interact: for add, exponents within 30 of each other
 * (alignment, carries, cancellation); for mul, exponents whose sum is spread over the whole product
 * range, from total underflow through the subnormals to overflow. Operands may be subnormal.
 */
static void random_interacting_pair(rng_t *rng, fp_op_t op, uint32_t (*fraction)(rng_t *),
                                    uint32_t *a, uint32_t *b) {
  int e1;
  int e2;
  if (op == OP_ADD) {
    e1 = rng_range(rng, MIN_SUBNORMAL_EXP, MAX_NORMAL_EXP);
    e2 = e1 + rng_range(rng, -30, 30);
    e2 = e2 < MIN_SUBNORMAL_EXP ? MIN_SUBNORMAL_EXP : e2 > MAX_NORMAL_EXP ? MAX_NORMAL_EXP : e2;
  } else {
    split_exponent_sum(rng, rng_range(rng, SWEEP_LOW_EXP, SWEEP_HIGH_EXP), MIN_SUBNORMAL_EXP, &e1,
                       &e2);
  }
  *a = negate_if(finite_with_exponent(e1, fraction(rng)), rng_bool(rng));
  *b = negate_if(finite_with_exponent(e2, fraction(rng)), rng_bool(rng));
}

static uint32_t uniform_fraction(rng_t *rng) {
  return rng_u32(rng) & FRACTION_MASK;
}

/* Random suite (b): interacting exponents, uniform significands. */
static void make_random_interacting(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  (void)index;
  random_interacting_pair(&gen->rng, gen->op, uniform_fraction, a, b);
}

/* Random suite (c): interacting exponents with sparse or dense significands; one in 16 operands
   gets a uniformly random exponent field instead (zeros, infinities, NaNs with sparse payloads). */
static void make_random_sparse_dense(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  (void)index;
  rng_t *rng = &gen->rng;
  random_interacting_pair(rng, gen->op, sparse_or_dense_fraction, a, b);
  if (rng_below(rng, 16) == 0) {
    *a = (*a & ~EXPONENT_MASK) | (rng_u32(rng) & EXPONENT_MASK);
  }
  if (rng_below(rng, 16) == 0) {
    *b = (*b & ~EXPONENT_MASK) | (rng_u32(rng) & EXPONENT_MASK);
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* The class table. */

enum { FOR_ADD = 1u << OP_ADD, FOR_MUL = 1u << OP_MUL, FOR_BOTH = FOR_ADD | FOR_MUL };
typedef enum { SUITE_TARGETED = 1, SUITE_RANDOM = 2, SUITE_ALL = 3 } suite_t;

typedef struct {
  const char *name;
  unsigned ops;   /* FOR_ADD / FOR_MUL */
  suite_t suite;  /* SUITE_TARGETED or SUITE_RANDOM */
  uint64_t count; /* targeted: vectors; random: share of --count */
  make_vector_fn make;
  const char *summary;
} vector_class_t;

static const vector_class_t kClasses[] = {
    {"edge_cross", FOR_BOTH, SUITE_TARGETED, EDGE_VALUES *EDGE_VALUES, make_edge_cross,
     "every pair of edge values, both signs (zeros, range ends, 1, 2^127, inf, NaNs)"},
    {"zeros", FOR_BOTH, SUITE_TARGETED, 10000, make_zeros,
     "+0 and -0 on either side of anything, and of each other"},
    {"subnormal_subnormal", FOR_BOTH, SUITE_TARGETED, 10000, make_subnormal_subnormal,
     "two subnormals (min, max, uniform, log-uniform), both signs"},
    {"subnormal_normal", FOR_BOTH, SUITE_TARGETED, 10000, make_subnormal_normal,
     "a subnormal with a normal, both orders"},
    {"min_max_normal", FOR_BOTH, SUITE_TARGETED, 10000, make_min_max_normal,
     "smallest/largest normal +-3 ulps with values near 1, anything, each other"},
    {"underflow_boundary", FOR_BOTH, SUITE_TARGETED, 20000, make_underflow_boundary,
     "results next to 2^-126: round up to it or not, with or without underflow"},
    {"overflow_boundary", FOR_BOTH, SUITE_TARGETED, 20000, make_overflow_boundary,
     "results next to FLT_MAX and 2^128, incl. FLT_MAX + half an ulp"},
    {"tie_even_up", FOR_BOTH, SUITE_TARGETED, 15000, make_tie_even_up,
     "exact ties whose even neighbour is away from zero (normal results)"},
    {"tie_even_down", FOR_BOTH, SUITE_TARGETED, 15000, make_tie_even_down,
     "exact ties whose even neighbour is toward zero (normal results)"},
    {"near_tie", FOR_BOTH, SUITE_TARGETED, 15000, make_near_tie,
     "results within 1/16 of half an ulp of a midpoint, both sides"},
    {"subnormal_result_rounding", FOR_MUL, SUITE_TARGETED, 15000, make_subnormal_result_rounding,
     "ties (both ways) and near-ties at the subnormal rounding position"},
    {"nan_operands", FOR_BOTH, SUITE_TARGETED, 10000, make_nan_operands,
     "quiet and signalling NaNs, both signs, any payload, with anything"},
    {"inf_operands", FOR_BOTH, SUITE_TARGETED, 10000, make_inf_operands,
     "infinities with anything, incl. inf - inf and 0 * inf"},
    {"cancellation", FOR_ADD, SUITE_TARGETED, 20000, make_cancellation,
     "x - x*(1 +- k ulp), exponents one apart, x + -x = +0"},
    {"exponent_gap", FOR_ADD, SUITE_TARGETED, (GAP_MAX + 1) * GAP_SIGN_PATTERNS * 100,
     make_exponent_gap, "every exponent difference 0..40 with every sign pattern"},
    {"product_exponent_sweep", FOR_MUL, SUITE_TARGETED, SWEEP_EXPONENTS * 50,
     make_product_exponent_sweep, "normal operands with exponent sums -175..130, 50 each"},
    {"power_of_two_scaling", FOR_MUL, SUITE_TARGETED, POWERS_OF_TWO * 50, make_power_of_two_scaling,
     "x * +-2^k for every k in -149..127, 50 each"},
    {"random_bits", FOR_BOTH, SUITE_RANDOM, 1, make_random_bits, "uniform random 32-bit patterns"},
    {"random_close_exponents", FOR_ADD, SUITE_RANDOM, 1, make_random_interacting,
     "random operands with exponents within 30"},
    {"random_product_range", FOR_MUL, SUITE_RANDOM, 1, make_random_interacting,
     "random operands with products spread from underflow to overflow"},
    {"random_sparse_dense", FOR_BOTH, SUITE_RANDOM, 1, make_random_sparse_dense,
     "as above with few-bits-set / few-bits-clear significands"},
};

static bool class_selected(const vector_class_t *vclass, fp_op_t op, suite_t suite) {
  return (vclass->ops & (1u << op)) != 0 && (vclass->suite & suite) != 0;
}

/* The number of vectors a class contributes: random classes share --count by their weights. */
static uint64_t class_count(const vector_class_t *vclass, fp_op_t op, uint64_t random_count) {
  if (vclass->suite == SUITE_TARGETED) {
    return vclass->count;
  }
  uint64_t total_weight = 0;
  uint64_t weight_before = 0;
  for (size_t i = 0; i < ARRAY_SIZE(kClasses); i++) {
    const vector_class_t *other = &kClasses[i];
    if (!class_selected(other, op, SUITE_RANDOM)) {
      continue;
    }
    if (other == vclass) {
      weight_before = total_weight;
    }
    total_weight += other->count;
  }
  /* Cumulative split, so that the shares add up to random_count exactly. */
  uint64_t start = random_count / total_weight * weight_before +
                   random_count % total_weight * weight_before / total_weight;
  uint64_t end_weight = weight_before + vclass->count;
  uint64_t end = random_count / total_weight * end_weight +
                 random_count % total_weight * end_weight / total_weight;
  return end - start;
}

/* ---------------------------------------------------------------------------------------------- */
/* Output. */

typedef uint32_t (*fp_op_fn)(uint32_t a, uint32_t b, uint8_t *flags);

typedef struct {
  FILE *stream;
  fp_op_fn compute;
  int error; /* errno of the first failed write, 0 while all is well */
} emitter_t;

static void emit_vector(emitter_t *out, uint32_t a, uint32_t b) {
  if (out->error != 0) {
    return;
  }
  uint8_t flags = 0;
  fpvec_vector_t vector = {a, b, out->compute(a, b, &flags), flags};
  char line[FPVEC_LINE_MAX];
  size_t length = fpvec_format_line(&vector, line);
  errno = 0;
  if (length == 0 || fwrite(line, 1, length, out->stream) != length) {
    out->error = errno != 0 ? errno : EIO;
  }
}

static int generate_class(const vector_class_t *vclass, fp_op_t op, uint64_t seed, uint64_t count,
                          emitter_t *out) {
  generator_t gen;
  gen.op = op;
  rng_seed(&gen.rng, seed, vclass->name);
  for (uint64_t i = 0; i < count && out->error == 0; i++) {
    uint32_t a;
    uint32_t b;
    vclass->make(&gen, i, &a, &b);
    emit_vector(out, a, b);
  }
  return out->error;
}

/* ---------------------------------------------------------------------------------------------- */
/* Command line. */

typedef struct {
  bool have_op;
  fp_op_t op;
  uint64_t random_count;
  uint64_t seed;
  suite_t suite;
  bool list_classes;
  bool help;
} options_t;

static const char *op_name(fp_op_t op) {
  return op == OP_ADD ? "add" : "mul";
}

static void print_usage(FILE *stream) {
  fprintf(stream,
          "usage: " PROGRAM
          " add|mul [--count N] [--seed S] [--suite all|random|targeted]\n"
          "       " PROGRAM
          " [add|mul] --classes [--count N] [--suite ...]\n"
          "\n"
          "Writes binary32 test vectors for the operation to stdout, one a line, in TestFloat's\n"
          "format: A B RESULT FLAGS (hex; flags bit0 inexact, 1 underflow, 2 overflow,\n"
          "3 divide-by-zero, 4 invalid). Expected values follow Sparrow's numerics.\n"
          "\n"
          "  --count N    random vectors (default %u); the targeted classes are fixed-size\n"
          "  --seed S     PRNG seed, decimal or 0x hex (default %u); same seed, same output\n"
          "  --suite X    all (default: targeted then random), random, or targeted\n"
          "  --classes    list the classes and their vector counts on stderr, write no vectors\n",
          DEFAULT_RANDOM_COUNT, DEFAULT_SEED);
}

/* Reports a usage problem on stderr; returns the exit status for it. */
static int usage_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs(PROGRAM ": ", stderr);
  vfprintf(stderr, format, args);
  fputs("\n(run '" PROGRAM " --help' for usage)\n", stderr);
  va_end(args);
  return 2;
}

/* A whole non-negative integer: decimal, or hex with 0x when allowed; nothing else around it. */
static bool parse_u64(const char *text, bool allow_hex, uint64_t *value) {
  int base = 10;
  const char *digits = text;
  if (allow_hex && (strncmp(text, "0x", 2) == 0 || strncmp(text, "0X", 2) == 0)) {
    base = 16;
    digits = text + 2;
  }
  bool all_digits = *digits != '\0';
  for (const char *c = digits; *c != '\0'; c++) {
    bool digit = (*c >= '0' && *c <= '9') ||
                 (base == 16 && ((*c >= 'a' && *c <= 'f') || (*c >= 'A' && *c <= 'F')));
    all_digits = all_digits && digit;
  }
  if (!all_digits) {
    return false;
  }
  errno = 0;
  unsigned long long parsed = strtoull(digits, NULL, base);
  if (errno == ERANGE) {
    return false;
  }
  *value = parsed;
  return true;
}

/* "--name value" or "--name=value": the value, advancing *index past it; NULL if absent. */
static const char *option_value(int argc, char **argv, int *index, const char *name) {
  const char *arg = argv[*index];
  size_t length = strlen(name);
  if (strncmp(arg, name, length) != 0) {
    return NULL;
  }
  if (arg[length] == '=') {
    return arg + length + 1;
  }
  if (arg[length] == '\0' && *index + 1 < argc) {
    *index += 1;
    return argv[*index];
  }
  return NULL;
}

static bool option_is(const char *arg, const char *name) {
  size_t length = strlen(name);
  return strncmp(arg, name, length) == 0 && (arg[length] == '\0' || arg[length] == '=');
}

static bool parse_op(const char *text, fp_op_t *op) {
  if (strcmp(text, "add") == 0) {
    *op = OP_ADD;
  } else if (strcmp(text, "mul") == 0) {
    *op = OP_MUL;
  } else {
    return false;
  }
  return true;
}

static bool parse_suite(const char *text, suite_t *suite) {
  static const struct {
    const char *name;
    suite_t suite;
  } kSuites[] = {{"all", SUITE_ALL}, {"random", SUITE_RANDOM}, {"targeted", SUITE_TARGETED}};
  for (size_t i = 0; i < ARRAY_SIZE(kSuites); i++) {
    if (strcmp(text, kSuites[i].name) == 0) {
      *suite = kSuites[i].suite;
      return true;
    }
  }
  return false;
}

/* Returns 0 on success, or the exit status after reporting the problem. */
static int parse_options(int argc, char **argv, options_t *options) {
  *options =
      (options_t){.random_count = DEFAULT_RANDOM_COUNT, .seed = DEFAULT_SEED, .suite = SUITE_ALL};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *value;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      options->help = true;
    } else if (strcmp(arg, "--classes") == 0) {
      options->list_classes = true;
    } else if (option_is(arg, "--count")) {
      value = option_value(argc, argv, &i, "--count");
      if (value == NULL) {
        return usage_error("--count needs a number of vectors");
      }
      if (!parse_u64(value, false, &options->random_count)) {
        return usage_error("--count wants a whole number of vectors, not '%s'", value);
      }
    } else if (option_is(arg, "--seed")) {
      value = option_value(argc, argv, &i, "--seed");
      if (value == NULL) {
        return usage_error("--seed needs a number");
      }
      if (!parse_u64(value, true, &options->seed)) {
        return usage_error("--seed wants a whole number (decimal or 0x hex), not '%s'", value);
      }
    } else if (option_is(arg, "--suite")) {
      value = option_value(argc, argv, &i, "--suite");
      if (value == NULL) {
        return usage_error("--suite needs all, random or targeted");
      }
      if (!parse_suite(value, &options->suite)) {
        return usage_error("--suite wants all, random or targeted, not '%s'", value);
      }
    } else if (arg[0] == '-') {
      return usage_error("unknown option '%s'", arg);
    } else if (options->have_op) {
      return usage_error("unexpected argument '%s' (one operation at a time)", arg);
    } else if (!parse_op(arg, &options->op)) {
      return usage_error("unknown operation '%s' (want add or mul)", arg);
    } else {
      options->have_op = true;
    }
  }
  if (!options->have_op && !options->list_classes && !options->help) {
    return usage_error("which operation? (add or mul)");
  }
  return 0;
}

static void list_classes(fp_op_t op, const options_t *options) {
  uint64_t total = 0;
  fprintf(stderr, "%s classes (--count %" PRIu64 "; targeted counts are fixed):\n", op_name(op),
          options->random_count);
  for (size_t i = 0; i < ARRAY_SIZE(kClasses); i++) {
    const vector_class_t *vclass = &kClasses[i];
    if (!class_selected(vclass, op, options->suite)) {
      continue;
    }
    uint64_t count = class_count(vclass, op, options->random_count);
    total += count;
    fprintf(stderr, "  %-8s %-26s %9" PRIu64 "  %s\n",
            vclass->suite == SUITE_TARGETED ? "targeted" : "random", vclass->name, count,
            vclass->summary);
  }
  fprintf(stderr, "  %-35s %9" PRIu64 "\n", "total", total);
}

static int write_failure(int error) {
  fprintf(stderr, PROGRAM ": cannot write the vectors to standard output: %s\n", strerror(error));
  return 1;
}

static int generate(const options_t *options) {
  emitter_t out = {stdout, options->op == OP_ADD ? sparrow_fp_add : sparrow_fp_mul, 0};
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  /* A reader that goes away is a write error (EPIPE) reported like any other, not a signal. */
  signal(SIGPIPE, SIG_IGN);

  for (size_t i = 0; i < ARRAY_SIZE(kClasses); i++) {
    const vector_class_t *vclass = &kClasses[i];
    if (!class_selected(vclass, options->op, options->suite)) {
      continue;
    }
    uint64_t count = class_count(vclass, options->op, options->random_count);
    if (generate_class(vclass, options->op, options->seed, count, &out) != 0) {
      return write_failure(out.error);
    }
  }
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    return write_failure(errno != 0 ? errno : EIO);
  }
  return 0;
}

int main(int argc, char **argv) {
  options_t options;
  int status = parse_options(argc, argv, &options);
  if (status != 0) {
    return status;
  }
  if (options.help) {
    print_usage(stdout);
    return 0;
  }

  const char *why = NULL;
  if (sparrow_fp_selfcheck(&why) != SPARROW_FP_SELFCHECK_OK) {
    fprintf(stderr,
            PROGRAM
            ": this host does not compute binary32 the way Sparrow needs, "
            "refusing to write expected values: %s\n",
            why);
    return 2;
  }

  if (options.list_classes) {
    if (options.have_op) {
      list_classes(options.op, &options);
    } else {
      list_classes(OP_ADD, &options);
      list_classes(OP_MUL, &options);
    }
    return 0;
  }
  return generate(&options);
}
