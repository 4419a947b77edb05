/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sparrow-fpgen's vector classes (fpgen_classes.h): exact rounding classification, constructions
 * for ties and near-ties, the per-class vector makers and the class table.
 */
#include "fpgen_classes.h"

#include "fpgen_values.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
  int exponent = lsb_exp + fpgen_bit_length(magnitude) - 1;
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

/*
 * The rounding case of a op b for finite operands, computed exactly in integers. Sums whose
 * operands are too far apart to fit 63 bits are reported as ROUNDING_BELOW_HALF (the small one is
 * then far below half an ulp); callers only use this on their own close constructions.
 */
static rounding_case_t classify_vector(fp_op_t op, uint32_t a, uint32_t b) {
  finite_parts_t x = fpgen_decode_finite(a);
  finite_parts_t y = fpgen_decode_finite(b);
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
/* Operand pairs. */

/* Operand pair in a random order: the classes must not depend on which side a value is on. */
static void set_pair_any_order(rng_t *rng, uint32_t x, uint32_t y, uint32_t *a, uint32_t *b) {
  bool swap = fpgen_rng_bool(rng);
  *a = swap ? y : x;
  *b = swap ? x : y;
}

/*
 * a = m1 * 2^e1 and b = m2 * 2^e2 with e1 + e2 = product_lsb, both exactly representable, the split
 * drawn at random; signs random. Returns false when no split fits.
 */
static bool split_product(rng_t *rng, uint32_t m1, uint32_t m2, int product_lsb, uint32_t *a,
                          uint32_t *b) {
  int top1 = MAX_NORMAL_EXP - (fpgen_bit_length(m1) - 1); /* largest e1 keeping a finite */
  int top2 = MAX_NORMAL_EXP - (fpgen_bit_length(m2) - 1);
  int low = MIN_SUBNORMAL_EXP > product_lsb - top2 ? MIN_SUBNORMAL_EXP : product_lsb - top2;
  int high = top1 < product_lsb - MIN_SUBNORMAL_EXP ? top1 : product_lsb - MIN_SUBNORMAL_EXP;
  if (low > high) {
    return false;
  }
  int e1 = fpgen_rng_range(rng, low, high);
  uint32_t x = fpgen_negate_if(fpgen_encode_scaled(m1, e1), fpgen_rng_bool(rng));
  uint32_t y = fpgen_negate_if(fpgen_encode_scaled(m2, product_lsb - e1), fpgen_rng_bool(rng));
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
  uint32_t first = fpgen_rng_with_length(rng, m1_bits, true);
  uint32_t second = (low * odd_inverse(first)) & low_mask;
  int m2_bits =
      product_bits - m1_bits + fpgen_rng_range(rng, 0, 1); /* product length is a sum +0/-1 */
  if (m2_bits > SIGNIFICAND_BITS || m2_bits < 1) {
    return false;
  }
  if (m2_bits > low_bits) {
    second |= fpgen_rng_with_length(rng, m2_bits - low_bits, false) << low_bits;
  }
  if (second == 0 || fpgen_bit_length(second) > SIGNIFICAND_BITS ||
      fpgen_bit_length((uint64_t)first * second) != product_bits) {
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
  uint32_t offset = fpgen_rng_with_length(rng, fpgen_rng_range(rng, 1, max_offset_bits), false);
  *low = fpgen_rng_bool(rng) ? half + offset : half - offset;
  return true;
}

/*
 * A mul candidate with a normal result whose rounding is a tie (or near-tie). The product of the
 * significands has 25 bits (short significands, one bit dropped: an odd product is a tie) up to
 * 48 bits (full-width significands, 24 bits dropped).
 */
static bool mul_normal_rounding_candidate(rng_t *rng, bool near, uint32_t *a, uint32_t *b) {
  int product_bits = near ? fpgen_rng_range(rng, SIGNIFICAND_BITS + 2 + NEAR_TIE_MIN_LOG2, 48)
                     : fpgen_rng_below(rng, 4) == 0 ? 25
                                                    : fpgen_rng_range(rng, 26, 48);
  int dropped = product_bits - SIGNIFICAND_BITS;
  uint32_t low;
  uint32_t m1;
  uint32_t m2;
  if (!rounding_low_bits(rng, dropped, near, &low) ||
      !significands_with_low_bits(rng, fpgen_rng_range(rng, dropped, SIGNIFICAND_BITS), dropped,
                                  low, product_bits, &m1, &m2)) {
    return false;
  }
  int result_exp = fpgen_rng_range(rng, MIN_NORMAL_EXP, MAX_NORMAL_EXP);
  return split_product(rng, m1, m2, result_exp - (product_bits - 1), a, b);
}

/*
 * A mul candidate with a subnormal result and a tie (or near-tie) at the subnormal rounding
 * position: the product m1 * m2 * 2^lsb has `dropped` bits below 2^-149.
 */
static bool mul_subnormal_rounding_candidate(rng_t *rng, bool near, uint32_t *a, uint32_t *b) {
  int dropped = fpgen_rng_range(rng, near ? 2 + NEAR_TIE_MIN_LOG2 : 1, 24);
  int product_bits = fpgen_rng_range(rng, dropped, dropped + 23); /* result below 2^-126 */
  int m1_max_bits = product_bits < SIGNIFICAND_BITS ? product_bits : SIGNIFICAND_BITS;
  uint32_t low;
  uint32_t m1;
  uint32_t m2;
  if (!rounding_low_bits(rng, dropped, near, &low) ||
      !significands_with_low_bits(rng, fpgen_rng_range(rng, 1, m1_max_bits), dropped, low,
                                  product_bits, &m1, &m2)) {
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
  int odd_bits =
      fpgen_rng_range(rng, 1, near ? SIGNIFICAND_BITS - NEAR_TIE_MIN_LOG2 : SIGNIFICAND_BITS);
  uint32_t odd = fpgen_rng_with_length(rng, odd_bits, true);
  int extra = near ? fpgen_rng_range(rng, NEAR_TIE_MIN_LOG2, SIGNIFICAND_BITS - odd_bits) : 0;
  uint32_t b_significand = odd << extra;
  if (near) {
    b_significand += fpgen_rng_bool(rng) ? 1u : UINT32_MAX; /* +1 or -1 in the last place */
  }
  int a_exp = fpgen_rng_range(rng, MIN_NORMAL_EXP + 1 + extra, MAX_NORMAL_EXP);
  uint32_t x = fpgen_finite_with_exponent(a_exp, fpgen_any_fraction(rng));
  uint32_t y = fpgen_encode_scaled(b_significand, a_exp - SIGNIFICAND_BITS - extra);
  set_pair_any_order(rng, fpgen_negate_if(x, fpgen_rng_bool(rng)),
                     fpgen_negate_if(y, fpgen_rng_bool(rng)), a, b);
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
/* Vector classes (generator_t and make_vector_fn are in fpgen_classes.h). Each maker writes the
   operands of vector number `index` of its class. */

/* Every pair from the edge table, both signs: a fixed cross product (the seed plays no part). */
static void make_edge_cross(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  (void)gen;
  *a = fpgen_edge_value((size_t)(index / EDGE_VALUES));
  *b = fpgen_edge_value((size_t)(index % EDGE_VALUES));
}

/* +0 and -0 on either side of anything (including zeros, which fpgen_random_any_value draws
   too). */
static void make_zeros(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  uint32_t zero = (index & 1) ? SIGN_BIT : 0;
  uint32_t other = fpgen_random_any_value(&gen->rng);
  bool zero_first = (index & 2) != 0;
  *a = zero_first ? zero : other;
  *b = zero_first ? other : zero;
}

static void make_subnormal_subnormal(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  (void)index;
  *a = fpgen_negate_if(fpgen_random_subnormal(&gen->rng), fpgen_rng_bool(&gen->rng));
  *b = fpgen_negate_if(fpgen_random_subnormal(&gen->rng), fpgen_rng_bool(&gen->rng));
}

/*
 * Subnormal with normal. For mul the normal spans the whole range, so products land in the
 * subnormal range, across its top and back among the normals; for add, half of the normals are
 * within 2^10 of the smallest normal, where the subnormal changes more than the sticky bit.
 */
static void make_subnormal_normal(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  uint32_t subnormal = fpgen_negate_if(fpgen_random_subnormal(rng), fpgen_rng_bool(rng));
  int high_exp = (gen->op == OP_ADD && (index & 2)) ? MIN_NORMAL_EXP + 10 : MAX_NORMAL_EXP;
  uint32_t normal =
      fpgen_negate_if(fpgen_random_normal(rng, MIN_NORMAL_EXP, high_exp), fpgen_rng_bool(rng));
  *a = (index & 1) ? subnormal : normal;
  *b = (index & 1) ? normal : subnormal;
}

/* The smallest and largest normals and their neighbours, against values near 1, anything, and each
   other. */
static uint32_t random_min_max_normal(rng_t *rng) {
  uint32_t end = fpgen_rng_bool(rng) ? MIN_NORMAL_BITS : MAX_NORMAL_BITS;
  int steps = fpgen_rng_range(rng, -3, 3);
  return fpgen_negate_if(fpgen_step_ulps(end, steps), fpgen_rng_bool(rng));
}

static void make_min_max_normal(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  uint32_t extreme = random_min_max_normal(rng);
  uint32_t other;
  switch (index % 3) {
    case 0:
      other = fpgen_negate_if(fpgen_random_normal(rng, -3, 3), fpgen_rng_bool(rng));
      break;
    case 1:
      other = fpgen_random_any_value(rng);
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
  uint32_t x = fpgen_random_normal(rng, MIN_NORMAL_EXP, 23);
  int target_exp = (index % 4 == 3) ? MIN_NORMAL_EXP - fpgen_rng_range(rng, 1, 24) : MIN_NORMAL_EXP;
  uint32_t y = fpgen_nearest_finite_bits(ldexp(1.0, target_exp) / fpgen_double_from_bits(x));
  y = fpgen_step_ulps(y, fpgen_rng_range(rng, -3, 3));
  set_pair_any_order(rng, fpgen_negate_if(x, fpgen_rng_bool(rng)),
                     fpgen_negate_if(y, fpgen_rng_bool(rng)), a, b);
}

static void make_add_underflow_boundary(generator_t *gen, uint64_t index, uint32_t *a,
                                        uint32_t *b) {
  rng_t *rng = &gen->rng;
  bool negative = fpgen_rng_bool(rng);
  uint32_t x;
  uint32_t y;
  switch (index % 4) {
    case 0: /* two subnormals summing to exactly 2^-126 */
      x = 1u + (uint32_t)fpgen_rng_below(rng, FRACTION_MASK);
      y = MIN_NORMAL_BITS - x;
      break;
    case 1: /* a small normal minus a subnormal: just under or over 2^-126 */
      x = fpgen_step_ulps(MIN_NORMAL_BITS, fpgen_rng_range(rng, 0, 1 << 12));
      y = SIGN_BIT | fpgen_random_subnormal(rng);
      break;
    case 2: /* close small normals of opposite sign */
      x = fpgen_random_normal(rng, MIN_NORMAL_EXP, -120);
      y = SIGN_BIT | fpgen_step_ulps(x, fpgen_rng_range(rng, -(1 << 20), 1 << 20));
      break;
    default: /* values near 2^-126 plus or minus a subnormal */
      x = fpgen_step_ulps(MIN_NORMAL_BITS, fpgen_rng_range(rng, -64, 64));
      y = fpgen_negate_if(fpgen_random_subnormal(rng), fpgen_rng_bool(rng));
      break;
  }
  set_pair_any_order(rng, fpgen_negate_if(x, negative), fpgen_negate_if(y, negative), a, b);
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
  bool negative = fpgen_rng_bool(rng);
  uint32_t near_max = fpgen_step_ulps(MAX_NORMAL_BITS, -fpgen_rng_range(rng, 0, 3));
  uint32_t x;
  uint32_t y;
  switch (index % 4) {
    case 0: { /* FLT_MAX + (half its ulp, 2^103, moved by 0 or a log-uniform number of ulps) */
      int distance_bits = fpgen_rng_range(rng, 0, 23);
      int64_t distance = distance_bits == 0 ? 0 : fpgen_rng_with_length(rng, distance_bits, false);
      x = near_max;
      y = fpgen_step_ulps(0x73000000u, fpgen_rng_bool(rng) ? distance : -distance);
      break;
    }
    case 1: /* FLT_MAX + a large value */
      x = near_max;
      y = fpgen_random_normal(rng, 90, MAX_NORMAL_EXP);
      break;
    case 2: /* two values near 2^127 */
      x = fpgen_random_normal(rng, 125, MAX_NORMAL_EXP);
      y = fpgen_random_normal(rng, 125, MAX_NORMAL_EXP);
      break;
    default: /* large values of opposite sign: no overflow */
      x = fpgen_random_normal(rng, 120, MAX_NORMAL_EXP);
      y = SIGN_BIT | fpgen_random_normal(rng, 120, MAX_NORMAL_EXP);
      break;
  }
  set_pair_any_order(rng, fpgen_negate_if(x, negative), fpgen_negate_if(y, negative), a, b);
}

static void make_mul_overflow_boundary(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  uint32_t x = fpgen_random_normal(rng, 0, MAX_NORMAL_EXP);
  double target = (index % 2) ? (double)FLT_MAX : ldexp(1.0, 128);
  uint32_t y = fpgen_nearest_finite_bits(target / fpgen_double_from_bits(x));
  y = fpgen_step_ulps(y, fpgen_rng_range(rng, -3, 3));
  set_pair_any_order(rng, fpgen_negate_if(x, fpgen_rng_bool(rng)),
                     fpgen_negate_if(y, fpgen_rng_bool(rng)), a, b);
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
  uint32_t nan = fpgen_random_nan(rng);
  uint32_t other = (index % 4 == 0) ? fpgen_random_nan(rng) : fpgen_random_any_value(rng);
  set_pair_any_order(rng, nan, other, a, b);
}

/* Infinities with anything, with inf - inf (add) and 0 * inf (mul) made often. */
static void make_inf_operands(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  bool negative = fpgen_rng_bool(rng);
  uint32_t infinity = fpgen_negate_if(INFINITY_BITS, negative);
  uint32_t other;
  if (index % 16 == 0) {
    other = gen->op == OP_ADD ? fpgen_negate_if(INFINITY_BITS, !negative)
                              : fpgen_negate_if(0, fpgen_rng_bool(rng));
  } else {
    other = fpgen_random_any_value(rng);
  }
  set_pair_any_order(rng, infinity, other, a, b);
}

/* add only: cancellation, from total (x + -x = +0) to partial (x - x*(1 +- k ulp)). */
static void make_cancellation(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  uint32_t x = fpgen_random_finite(rng);
  uint32_t y;
  switch (index % 4) {
    case 0: /* a few ulps apart, including 0 */
      y = fpgen_step_ulps(x, fpgen_rng_range(rng, -16, 16));
      break;
    case 1: { /* up to 2^22 ulps apart */
      int64_t steps = fpgen_rng_with_length(rng, fpgen_rng_range(rng, 1, 23), false);
      y = fpgen_step_ulps(x, fpgen_rng_bool(rng) ? steps : -steps);
      break;
    }
    case 2: { /* exponents one apart */
      int exp = fpgen_rng_range(rng, MIN_NORMAL_EXP + 1, MAX_NORMAL_EXP);
      x = fpgen_negate_if(fpgen_finite_with_exponent(exp, fpgen_any_fraction(rng)),
                          fpgen_rng_bool(rng));
      y = (x & SIGN_BIT) | fpgen_finite_with_exponent(exp - 1, fpgen_any_fraction(rng));
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
  int big_exp = fpgen_rng_range(rng, low_exp, MAX_NORMAL_EXP);
  uint32_t big =
      fpgen_negate_if(fpgen_finite_with_exponent(big_exp, fpgen_any_fraction(rng)), signs & 1);
  uint32_t small =
      fpgen_negate_if(fpgen_finite_with_exponent(big_exp - gap, fpgen_any_fraction(rng)),
                      ((signs >> 1) ^ signs) & 1);
  set_pair_any_order(rng, big, small, a, b);
}

#define SWEEP_LOW_EXP (-175)
#define SWEEP_HIGH_EXP 130
#define SWEEP_EXPONENTS (SWEEP_HIGH_EXP - SWEEP_LOW_EXP + 1)

/* Two exponents summing to `sum`, each within [low, MAX_NORMAL_EXP]. */
static void split_exponent_sum(rng_t *rng, int sum, int low, int *e1, int *e2) {
  int first_low = sum - MAX_NORMAL_EXP > low ? sum - MAX_NORMAL_EXP : low;
  int first_high = sum - low < MAX_NORMAL_EXP ? sum - low : MAX_NORMAL_EXP;
  *e1 = fpgen_rng_range(rng, first_low, first_high);
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
  *a =
      fpgen_negate_if(fpgen_finite_with_exponent(e1, fpgen_any_fraction(rng)), fpgen_rng_bool(rng));
  *b =
      fpgen_negate_if(fpgen_finite_with_exponent(e2, fpgen_any_fraction(rng)), fpgen_rng_bool(rng));
}

#define POWERS_OF_TWO (MAX_NORMAL_EXP - MIN_SUBNORMAL_EXP + 1)

/* mul only: x * 2^k for every representable power of two, in turn: exact scaling, denormalizing
   shifts with rounding, and overflow. */
static void make_power_of_two_scaling(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  rng_t *rng = &gen->rng;
  int k = MIN_SUBNORMAL_EXP + (int)(index % POWERS_OF_TWO);
  uint32_t power = fpgen_negate_if(fpgen_encode_scaled(1, k), fpgen_rng_bool(rng));
  set_pair_any_order(rng, fpgen_random_finite(rng), power, a, b);
}

/* Random suite (a): uniform bit patterns over the whole encoding space. */
static void make_random_bits(generator_t *gen, uint64_t index, uint32_t *a, uint32_t *b) {
  (void)index;
  *a = fpgen_rng_u32(&gen->rng);
  *b = fpgen_rng_u32(&gen->rng);
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
    e1 = fpgen_rng_range(rng, MIN_SUBNORMAL_EXP, MAX_NORMAL_EXP);
    e2 = e1 + fpgen_rng_range(rng, -30, 30);
    e2 = e2 < MIN_SUBNORMAL_EXP ? MIN_SUBNORMAL_EXP : e2 > MAX_NORMAL_EXP ? MAX_NORMAL_EXP : e2;
  } else {
    split_exponent_sum(rng, fpgen_rng_range(rng, SWEEP_LOW_EXP, SWEEP_HIGH_EXP), MIN_SUBNORMAL_EXP,
                       &e1, &e2);
  }
  *a = fpgen_negate_if(fpgen_finite_with_exponent(e1, fraction(rng)), fpgen_rng_bool(rng));
  *b = fpgen_negate_if(fpgen_finite_with_exponent(e2, fraction(rng)), fpgen_rng_bool(rng));
}

static uint32_t uniform_fraction(rng_t *rng) {
  return fpgen_rng_u32(rng) & FRACTION_MASK;
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
  random_interacting_pair(rng, gen->op, fpgen_sparse_or_dense_fraction, a, b);
  if (fpgen_rng_below(rng, 16) == 0) {
    *a = (*a & ~EXPONENT_MASK) | (fpgen_rng_u32(rng) & EXPONENT_MASK);
  }
  if (fpgen_rng_below(rng, 16) == 0) {
    *b = (*b & ~EXPONENT_MASK) | (fpgen_rng_u32(rng) & EXPONENT_MASK);
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* The class table. */

const vector_class_t kFpgenClasses[] = {
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

const size_t kFpgenNumClasses = ARRAY_SIZE(kFpgenClasses);

bool fpgen_class_selected(const vector_class_t *vclass, fp_op_t op, suite_t suite) {
  return (vclass->ops & (1u << op)) != 0 && (vclass->suite & suite) != 0;
}

/* The number of vectors a class contributes: random classes share --count by their weights. */
uint64_t fpgen_class_count(const vector_class_t *vclass, fp_op_t op, uint64_t random_count) {
  if (vclass->suite == SUITE_TARGETED) {
    return vclass->count;
  }
  uint64_t total_weight = 0;
  uint64_t weight_before = 0;
  for (size_t i = 0; i < ARRAY_SIZE(kFpgenClasses); i++) {
    const vector_class_t *other = &kFpgenClasses[i];
    if (!fpgen_class_selected(other, op, SUITE_RANDOM)) {
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
