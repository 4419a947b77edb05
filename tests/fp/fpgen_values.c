/* SPDX-License-Identifier: Apache-2.0 */
/* sparrow-fpgen's operand values (fpgen_values.h): encoding helpers, PRNG, value generators. */
#include "fpgen_values.h"

#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------- */
/* binary32 encoding (the constants and finite_parts_t are in fpgen_values.h). */

uint32_t fpgen_negate_if(uint32_t bits, bool negative) {
  return negative ? bits ^ SIGN_BIT : bits;
}

int fpgen_bit_length(uint64_t value) {
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
uint32_t fpgen_encode_scaled(uint64_t magnitude, int lsb_exp) {
  if (magnitude == 0) {
    return 0;
  }
  int length = fpgen_bit_length(magnitude);
  int exponent = lsb_exp + length - 1;
  assert(length <= SIGNIFICAND_BITS && exponent <= MAX_NORMAL_EXP);
  if (exponent >= MIN_NORMAL_EXP) {
    uint32_t fraction = (uint32_t)(magnitude << (SIGNIFICAND_BITS - length)) & FRACTION_MASK;
    return (uint32_t)(exponent + EXPONENT_BIAS) << 23 | fraction;
  }
  assert(lsb_exp >= MIN_SUBNORMAL_EXP);
  return (uint32_t)(magnitude << (lsb_exp - MIN_SUBNORMAL_EXP));
}

finite_parts_t fpgen_decode_finite(uint32_t bits) {
  finite_parts_t parts = {(bits & SIGN_BIT) != 0, bits & FRACTION_MASK, MIN_SUBNORMAL_EXP};
  uint32_t biased = (bits & EXPONENT_MASK) >> 23;
  if (biased != 0) {
    parts.significand |= HIDDEN_BIT;
    parts.lsb_exp = (int)biased - EXPONENT_BIAS - 23;
  }
  return parts;
}

/* The finite magnitude next to `bits` by `steps` ulps, kept within [0, FLT_MAX]; sign kept. */
uint32_t fpgen_step_ulps(uint32_t bits, int64_t steps) {
  int64_t magnitude = (int64_t)(bits & ~SIGN_BIT) + steps;
  if (magnitude < 0) {
    magnitude = 0;
  }
  if (magnitude > (int64_t)MAX_NORMAL_BITS) {
    magnitude = MAX_NORMAL_BITS;
  }
  return (bits & SIGN_BIT) | (uint32_t)magnitude;
}

double fpgen_double_from_bits(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

/* The binary32 nearest to a double (host conversion, round to nearest), as a finite magnitude. */
uint32_t fpgen_nearest_finite_bits(double value) {
  float narrowed = (float)fabs(value);
  uint32_t bits;
  memcpy(&bits, &narrowed, sizeof bits);
  return is_finite_bits(bits) ? bits : MAX_NORMAL_BITS;
}

/* ---------------------------------------------------------------------------------------------- */
/* PRNG: xoshiro256** seeded through splitmix64; small, fast, and the same on every host. */

static uint64_t splitmix64_next(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

/* One independent stream per (seed, stream name). */
void fpgen_rng_seed(rng_t *rng, uint64_t seed, const char *stream_name) {
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

uint32_t fpgen_rng_u32(rng_t *rng) {
  return (uint32_t)(rng_next(rng) >> 32);
}

bool fpgen_rng_bool(rng_t *rng) {
  return (rng_next(rng) >> 63) != 0;
}

/* Uniform in [0, bound), bound > 0, without modulo bias. */
uint64_t fpgen_rng_below(rng_t *rng, uint64_t bound) {
  uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    uint64_t value = rng_next(rng);
    if (value >= threshold) {
      return value % bound;
    }
  }
}

/* Uniform in [low, high], low <= high. */
int fpgen_rng_range(rng_t *rng, int low, int high) {
  return low + (int)fpgen_rng_below(rng, (uint64_t)(high - low) + 1);
}

/* A random integer of exactly `length` bits (1..32), odd when asked. */
uint32_t fpgen_rng_with_length(rng_t *rng, int length, bool odd) {
  uint32_t top = UINT32_C(1) << (length - 1);
  uint32_t value = top | (fpgen_rng_u32(rng) & (top - 1));
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
  int bits = fpgen_rng_range(rng, 0, 3);
  for (int i = 0; i < bits; i++) {
    fraction |= UINT32_C(1) << fpgen_rng_below(rng, 23);
  }
  return fraction;
}

static uint32_t dense_fraction(rng_t *rng) {
  return ~sparse_fraction(rng) & FRACTION_MASK;
}

uint32_t fpgen_sparse_or_dense_fraction(rng_t *rng) {
  return fpgen_rng_bool(rng) ? sparse_fraction(rng) : dense_fraction(rng);
}

uint32_t fpgen_any_fraction(rng_t *rng) {
  switch (fpgen_rng_below(rng, 8)) {
    case 0:
      return sparse_fraction(rng);
    case 1:
      return dense_fraction(rng);
    default:
      return fpgen_rng_u32(rng) & FRACTION_MASK;
  }
}

/*
 * A finite magnitude with the given exponent (MIN_SUBNORMAL_EXP..MAX_NORMAL_EXP) whose bits below
 * the leading one come from `fraction`; below 2^-126 the value is subnormal and keeps only the
 * fraction bits that fit.
 */
uint32_t fpgen_finite_with_exponent(int exponent, uint32_t fraction) {
  if (exponent >= MIN_NORMAL_EXP) {
    return (uint32_t)(exponent + EXPONENT_BIAS) << 23 | (fraction & FRACTION_MASK);
  }
  return (HIDDEN_BIT | (fraction & FRACTION_MASK)) >> (MIN_NORMAL_EXP - exponent);
}

uint32_t fpgen_random_normal(rng_t *rng, int low_exp, int high_exp) {
  return fpgen_finite_with_exponent(fpgen_rng_range(rng, low_exp, high_exp),
                                    fpgen_any_fraction(rng));
}

uint32_t fpgen_random_subnormal(rng_t *rng) {
  switch (fpgen_rng_below(rng, 6)) {
    case 0:
      return 0x00000001u;
    case 1:
      return 0x007FFFFFu;
    case 2:
      return 1u + (uint32_t)fpgen_rng_below(rng, FRACTION_MASK);
    default: /* log-uniform: every leading-bit position equally often */
      return fpgen_finite_with_exponent(fpgen_rng_range(rng, MIN_SUBNORMAL_EXP, MIN_NORMAL_EXP - 1),
                                        fpgen_any_fraction(rng));
  }
}

uint32_t fpgen_random_nan(rng_t *rng) {
  uint32_t payload;
  switch (fpgen_rng_below(rng, 4)) {
    case 0:
      payload = 1; /* the smallest payloads */
      break;
    case 1:
      payload = QUIET_BIT - 1; /* the largest */
      break;
    default:
      payload = fpgen_rng_u32(rng) & (QUIET_BIT - 1);
      break;
  }
  if (fpgen_rng_bool(rng)) {
    payload |= QUIET_BIT;
  } else if (payload == 0) {
    payload = 1; /* signalling NaNs need a non-zero payload */
  }
  return fpgen_negate_if(INFINITY_BITS | payload, fpgen_rng_bool(rng));
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

_Static_assert(ARRAY_SIZE(kEdgeMagnitudes) == EDGE_MAGNITUDES, "EDGE_MAGNITUDES is out of date");

uint32_t fpgen_edge_value(size_t index) {
  return fpgen_negate_if(kEdgeMagnitudes[index / 2], (index & 1) != 0);
}

/* Anything at all, weighted so that every class of operand shows up often. */
uint32_t fpgen_random_any_value(rng_t *rng) {
  uint32_t magnitude;
  switch (fpgen_rng_below(rng, 10)) {
    case 0:
      magnitude = 0;
      break;
    case 1:
      magnitude = fpgen_random_subnormal(rng);
      break;
    case 2:
      magnitude = fpgen_random_normal(rng, MIN_NORMAL_EXP, MAX_NORMAL_EXP);
      break;
    case 3:
      magnitude = fpgen_random_normal(rng, -4, 4);
      break;
    case 4:
      magnitude = INFINITY_BITS;
      break;
    case 5:
      return fpgen_random_nan(rng);
    case 6:
      magnitude = kEdgeMagnitudes[fpgen_rng_below(rng, ARRAY_SIZE(kEdgeMagnitudes))];
      break;
    case 7:
      magnitude = fpgen_step_ulps(
          fpgen_rng_bool(rng) ? MIN_NORMAL_BITS : MAX_NORMAL_BITS,
          fpgen_rng_bool(rng) ? -fpgen_rng_range(rng, 0, 3) : fpgen_rng_range(rng, 0, 3));
      break;
    default:
      return fpgen_rng_u32(rng);
  }
  return fpgen_negate_if(magnitude, fpgen_rng_bool(rng));
}

/* Any finite value, signed. */
uint32_t fpgen_random_finite(rng_t *rng) {
  uint32_t magnitude = fpgen_rng_below(rng, 8) == 0
                           ? fpgen_random_subnormal(rng)
                           : fpgen_random_normal(rng, MIN_NORMAL_EXP, MAX_NORMAL_EXP);
  return fpgen_negate_if(magnitude, fpgen_rng_bool(rng));
}
