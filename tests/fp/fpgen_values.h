/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sparrow-fpgen's operand values: the binary32 encoding helpers, the seeded PRNG and the random
 * value generators the vector classes draw their operands from (fpgen_values.c).
 */
#ifndef SPARROW_TESTS_FP_FPGEN_VALUES_H_
#define SPARROW_TESTS_FP_FPGEN_VALUES_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(array) (sizeof(array) / sizeof((array)[0]))

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

/* A finite operand as an integer significand and the exponent of its last bit. */
typedef struct {
  bool negative;
  uint32_t significand;
  int lsb_exp;
} finite_parts_t;

uint32_t fpgen_negate_if(uint32_t bits, bool negative);
int fpgen_bit_length(uint64_t value);
uint32_t fpgen_encode_scaled(uint64_t magnitude, int lsb_exp);
finite_parts_t fpgen_decode_finite(uint32_t bits);
uint32_t fpgen_step_ulps(uint32_t bits, int64_t steps);
double fpgen_double_from_bits(uint32_t bits);
uint32_t fpgen_nearest_finite_bits(double value);

/* ---------------------------------------------------------------------------------------------- */
/* PRNG: xoshiro256** seeded through splitmix64; small, fast, and the same on every host. */

typedef struct {
  uint64_t state[4];
} rng_t;

void fpgen_rng_seed(rng_t *rng, uint64_t seed, const char *stream_name);
uint32_t fpgen_rng_u32(rng_t *rng);
bool fpgen_rng_bool(rng_t *rng);
uint64_t fpgen_rng_below(rng_t *rng, uint64_t bound);
int fpgen_rng_range(rng_t *rng, int low, int high);
uint32_t fpgen_rng_with_length(rng_t *rng, int length, bool odd);

/* ---------------------------------------------------------------------------------------------- */
/* Operand makers. */

/* The edge table (fpgen_edge_value): its magnitudes, and its values with both signs. */
#define EDGE_MAGNITUDES 37
#define EDGE_VALUES (2 * EDGE_MAGNITUDES) /* both signs */

uint32_t fpgen_sparse_or_dense_fraction(rng_t *rng);
uint32_t fpgen_any_fraction(rng_t *rng);
uint32_t fpgen_finite_with_exponent(int exponent, uint32_t fraction);
uint32_t fpgen_random_normal(rng_t *rng, int low_exp, int high_exp);
uint32_t fpgen_random_subnormal(rng_t *rng);
uint32_t fpgen_random_nan(rng_t *rng);
uint32_t fpgen_edge_value(size_t index);
uint32_t fpgen_random_any_value(rng_t *rng);
uint32_t fpgen_random_finite(rng_t *rng);

#endif /* SPARROW_TESTS_FP_FPGEN_VALUES_H_ */
