/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sparrow-fpulp's checks: what is asserted for every input of every special function.
 *
 * An input with a prescribed value (NaN, infinities, zeros, poles, the domain of rsqrt) must give
 * exactly that value and those flags. Every other input has its error measured in ulps against a
 * double-precision reference (libm's exp and tanh, 1/x and 1/sqrt(x) in double: each within about
 * 2^-52 relative, far below what is measured), must stay within the function's documented bound,
 * and must keep the flag invariants:
 *   - the result is not a NaN, and neither NV nor DZ is raised;
 *   - OF is raised exactly when the result is an infinity;
 *   - UF is raised only when the result is below 2^-126 in magnitude (tiny);
 *   - NX is raised whenever the result differs from the exact value.
 * With compare_forms the definition (op by op) must agree with the fast form in every bit of the
 * result and of the flags, and an odd function must give f(-x) = -f(x) with the same flags.
 */
#include "fpulp_check.h"

#include "../../sim/model/sparrow_fp.h"
#include "../../sim/model/sparrow_fp_special.h"

#include <math.h>
#include <string.h>

#define SIGN 0x80000000u
#define ABS 0x7FFFFFFFu
#define INF 0x7F800000u
#define ONE 0x3F800000u
#define MIN_NORMAL 0x00800000u
#define QUIET 0x00400000u
#define NAN_BITS SPARROW_FP_CANONICAL_NAN

static double value_of(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return (double)value;
}

static bool is_nan(uint32_t x) {
  return (x & ABS) > INF;
}

/* ---------------------------------------------------------------------------------------------- */
/* References, in double. */

static double ref_exp(double x) {
  return exp(x);
}

static double ref_recip(double x) {
  return 1.0 / x;
}

static double ref_rsqrt(double x) {
  return 1.0 / sqrt(x);
}

static double ref_tanh(double x) {
  return tanh(x);
}

/* ---------------------------------------------------------------------------------------------- */
/* Prescribed values (sparrow_fp_special.h, docs/numerics.md). */

static bool special_nan(uint32_t x, uint32_t *result, uint8_t *flags) {
  if (!is_nan(x)) {
    return false;
  }
  *result = NAN_BITS;
  *flags = (x & QUIET) == 0 ? SPARROW_FP_NV : 0;
  return true;
}

static bool special_exp(uint32_t x, uint32_t *result, uint8_t *flags) {
  if (special_nan(x, result, flags)) {
    return true;
  }
  *flags = 0;
  if ((x & ABS) == 0) {
    *result = ONE;
  } else if (x == INF) {
    *result = INF;
  } else if (x == (SIGN | INF)) {
    *result = 0;
  } else {
    return false;
  }
  return true;
}

/* A pole: an infinity with OF|NX (the fabric raises no DZ: docs/numerics.md). */
#define POLE_FLAGS (SPARROW_FP_OF | SPARROW_FP_NX)

static bool special_recip(uint32_t x, uint32_t *result, uint8_t *flags) {
  if (special_nan(x, result, flags)) {
    return true;
  }
  if ((x & ABS) == 0) {
    *result = (x & SIGN) | INF;
    *flags = POLE_FLAGS;
  } else if ((x & ABS) == INF) {
    *result = x & SIGN;
    *flags = 0;
  } else {
    return false;
  }
  return true;
}

static bool special_rsqrt(uint32_t x, uint32_t *result, uint8_t *flags) {
  if (special_nan(x, result, flags)) {
    return true;
  }
  if ((x & ABS) == 0) {
    *result = (x & SIGN) | INF;
    *flags = POLE_FLAGS;
  } else if ((x & SIGN) != 0) {
    *result = NAN_BITS;
    *flags = SPARROW_FP_NV;
  } else if (x == INF) {
    *result = 0;
    *flags = 0;
  } else {
    return false;
  }
  return true;
}

static bool special_tanh(uint32_t x, uint32_t *result, uint8_t *flags) {
  if (special_nan(x, result, flags)) {
    return true;
  }
  *flags = 0;
  if ((x & ABS) == 0) {
    *result = x;
  } else if ((x & ABS) == INF) {
    *result = (x & SIGN) | ONE;
  } else {
    return false;
  }
  return true;
}

/* ---------------------------------------------------------------------------------------------- */
/*
 * The table. Bounds are the documented ones (docs/numerics.md): the maximum over all 2^32 inputs,
 * rounded up to a hundredth of an ulp. The definition is deterministic, so the bound is met with
 * no margin needed; a change to an algorithm that moves its error is meant to show here.
 */

static const uint32_t kExpEdges[] = {
    0x42B17218u,              /* ln(FLT_MAX): the overflow threshold */
    0xC2AEAC50u,              /* ln(2^-126): results become subnormal */
    0xC2CE8ED0u,              /* -149 ln2: the smallest subnormal */
    0xC2CFF1B4u,              /* -150 ln2: results round to 0 */
    0x42B20000u,              /* 89 and -104: the clamps */
    0xC2D00000u, 0x33000000u, /* 2^-25: the tiny path */
    0x3EB17218u,              /* ln2/2: where n changes from 0 to 1 */
};

static const uint32_t kRecipEdges[] = {
    0x00200000u, /* 2^-128: 1/x overflows below it */
    0x00400000u, /* 2^-127: the largest subnormal power of two */
    0x7E800000u, /* 2^126: 1/x subnormal above it */
    0x7F000000u, /* 2^127 */
    0x3F800000u, /* 1 and 2: the ends of the significand range */
    0x40000000u,
};

static const uint32_t kRsqrtEdges[] = {
    0x3F800000u,                           /* 1, 2, 4: the ends of both significand ranges */
    0x40000000u, 0x40800000u, 0x00800000u, /* the smallest normal */
    0x7F7FFFFFu,                           /* the largest finite */
};

static const uint32_t kTanhEdges[] = {
    0x39800000u, /* 2^-12: the small path */
    0x3F100000u, /* 0.5625: odd polynomial / centred polynomial */
    0x3F648000u, /* 457/512: the centred polynomial at d = 0 (exact but for M0_LO) */
    0x3FA00000u, /* 1.25: centred polynomial / exp form */
    0x3F0C9F54u, /* atanh(1/2) */
    0x41102CB3u, /* 13 ln2: tanh rounds to 1 */
    0x41200000u, /* 10: saturation */
};

#define COUNT_OF(array) (sizeof(array) / sizeof((array)[0]))

const fpulp_function_t kFpulpFunctions[] = {
    {"exp", sparrow_fp_exp, sparrow_fp_exp_fast, ref_exp, 0.90, false, special_exp, kExpEdges,
     COUNT_OF(kExpEdges), -104.0, 89.0},
    {"recip", sparrow_fp_recip, sparrow_fp_recip_fast, ref_recip, 0.76, true, special_recip,
     kRecipEdges, COUNT_OF(kRecipEdges), 0.5, 4.0},
    {"rsqrt", sparrow_fp_rsqrt, sparrow_fp_rsqrt_fast, ref_rsqrt, 0.75, false, special_rsqrt,
     kRsqrtEdges, COUNT_OF(kRsqrtEdges), 0.25, 16.0},
    {"tanh", sparrow_fp_tanh, sparrow_fp_tanh_fast, ref_tanh, 0.87, true, special_tanh, kTanhEdges,
     COUNT_OF(kTanhEdges), -10.0, 10.0},
};
const size_t kFpulpFunctionCount = COUNT_OF(kFpulpFunctions);

/* ---------------------------------------------------------------------------------------------- */

/*
 * ulps of the exact value's binade: 2^(floor(log2 |ref|) - 23), never below 2^-149 (the subnormal
 * spacing). An infinite result counts as 2^128 and an exact value beyond 2^128 as 2^128, with the
 * ulp of the top binade, 2^104: overflow to infinity from above FLT_MAX + half an ulp is exact.
 */
double fpulp_ulp_error(uint32_t result, double ref) {
  const double two_128 = 0x1p128;
  double value = (result & ABS) == INF ? ((result & SIGN) ? -two_128 : two_128) : value_of(result);
  double exact = fabs(ref) > two_128 ? copysign(two_128, ref) : ref;
  /* floor(log2 |exact|) from the double's exponent field (every reference here is 0 or a normal
     double: the smallest, exp(-104), is about 2^-150); bits instead of frexp/ldexp, which cost
     more than the function under test in the exhaustive run. */
  uint64_t bits;
  memcpy(&bits, &exact, sizeof bits);
  int ulp_exp = exact == 0.0 ? -149 : (int)((bits >> 52) & 0x7FF) - 1023 - 23;
  ulp_exp = ulp_exp < -149 ? -149 : ulp_exp;
  ulp_exp = ulp_exp > 104 ? 104 : ulp_exp;
  uint64_t inverse_bits = (uint64_t)(1023 - ulp_exp) << 52; /* 2^-ulp_exp, exact */
  double inverse_ulp;
  memcpy(&inverse_ulp, &inverse_bits, sizeof inverse_ulp);
  return fabs(value - exact) * inverse_ulp;
}

static void record(fpulp_stats_t *stats, fpulp_fail_t kind, uint32_t x) {
  stats->failures[kind]++;
  if (stats->kept < FPULP_KEPT_FAILURES) {
    stats->kept_kind[stats->kept] = kind;
    stats->kept_input[stats->kept] = x;
    stats->kept++;
  }
}

static bool flags_consistent(uint32_t result, uint8_t flags, double ref) {
  bool infinite = (result & ABS) == INF;
  if (is_nan(result) || (flags & (SPARROW_FP_NV | SPARROW_FP_DZ)) != 0) {
    return false;
  }
  if (((flags & SPARROW_FP_OF) != 0) != infinite) {
    return false;
  }
  if ((flags & SPARROW_FP_UF) != 0 && (result & ABS) >= MIN_NORMAL) {
    return false;
  }
  bool exact = !infinite && value_of(result) == ref;
  return exact || (flags & SPARROW_FP_NX) != 0;
}

void fpulp_check_input(const fpulp_function_t *fn, uint32_t x, bool compare_forms,
                       fpulp_stats_t *stats) {
  uint8_t flags = 0;
  uint32_t result = fn->fast(x, &flags);
  stats->inputs++;

  if (compare_forms) {
    stats->compared++;
    uint8_t definition_flags = 0;
    uint32_t definition = fn->definition(x, &definition_flags);
    if (definition != result || definition_flags != flags) {
      record(stats, FPULP_FAIL_BACKEND, x);
    }
    if (fn->odd && (x & SIGN) != 0 && !is_nan(x)) {
      uint8_t positive_flags = 0;
      uint32_t positive = fn->fast(x & ABS, &positive_flags);
      if ((positive ^ SIGN) != result || positive_flags != flags) {
        record(stats, FPULP_FAIL_ODD, x);
      }
    }
  }

  uint32_t want;
  uint8_t want_flags;
  if (fn->special(x, &want, &want_flags)) {
    stats->specials++;
    if (result != want || flags != want_flags) {
      record(stats, FPULP_FAIL_SPECIAL, x);
    }
    return;
  }

  double ref = fn->reference(value_of(x));
  double error = fpulp_ulp_error(result, ref);
  stats->measured++;
  stats->sum_error_fixed += (uint64_t)(fmin(error, 256.0) * 0x1p20);
  if (error > 0.5) {
    stats->above_half++;
  }
  if ((flags & SPARROW_FP_NX) == 0) {
    stats->without_nx++;
  }
  if (error > stats->max_ulp || (error == stats->max_ulp && x < stats->max_at)) {
    stats->max_ulp = error;
    stats->max_at = x;
  }
  /* NaN compares false: a NaN error (a NaN result) is a bound failure too. */
  if (!(error <= fn->bound_ulp)) {
    record(stats, FPULP_FAIL_BOUND, x);
  }
  if (!flags_consistent(result, flags, ref)) {
    record(stats, FPULP_FAIL_FLAGS, x);
  }
}

void fpulp_stats_merge(fpulp_stats_t *a, const fpulp_stats_t *b) {
  a->inputs += b->inputs;
  a->measured += b->measured;
  a->specials += b->specials;
  a->compared += b->compared;
  a->above_half += b->above_half;
  a->without_nx += b->without_nx;
  a->sum_error_fixed += b->sum_error_fixed;
  if (b->measured > 0 && (a->measured == b->measured || b->max_ulp > a->max_ulp ||
                          (b->max_ulp == a->max_ulp && b->max_at < a->max_at))) {
    a->max_ulp = b->max_ulp;
    a->max_at = b->max_at;
  }
  for (int kind = 0; kind < FPULP_FAIL_KINDS; kind++) {
    a->failures[kind] += b->failures[kind];
  }
  for (size_t i = 0; i < b->kept && a->kept < FPULP_KEPT_FAILURES; i++) {
    a->kept_kind[a->kept] = b->kept_kind[i];
    a->kept_input[a->kept] = b->kept_input[i];
    a->kept++;
  }
}

uint64_t fpulp_total_failures(const fpulp_stats_t *stats) {
  uint64_t total = 0;
  for (int kind = 0; kind < FPULP_FAIL_KINDS; kind++) {
    total += stats->failures[kind];
  }
  return total;
}

double fpulp_mean_ulp(const fpulp_stats_t *stats) {
  return stats->measured > 0 ? (double)stats->sum_error_fixed * 0x1p-20 / (double)stats->measured
                             : 0.0;
}

const char *fpulp_fail_name(fpulp_fail_t kind) {
  switch (kind) {
    case FPULP_FAIL_BACKEND:
      return "definition and fast form differ";
    case FPULP_FAIL_SPECIAL:
      return "prescribed special value or flags wrong";
    case FPULP_FAIL_BOUND:
      return "error above the documented bound";
    case FPULP_FAIL_FLAGS:
      return "flag invariant broken";
    case FPULP_FAIL_ODD:
      return "odd symmetry broken";
    case FPULP_FAIL_KINDS:
      break;
  }
  return "unknown failure";
}

void fpulp_describe(const fpulp_function_t *fn, uint32_t x, FILE *stream) {
  uint8_t fast_flags = 0;
  uint8_t definition_flags = 0;
  uint32_t fast = fn->fast(x, &fast_flags);
  uint32_t definition = fn->definition(x, &definition_flags);
  double ref = fn->reference(value_of(x));
  fprintf(stream, "  %s(0x%08X = %.9g): definition 0x%08X flags %02X, fast 0x%08X flags %02X",
          fn->name, (unsigned)x, value_of(x), (unsigned)definition, (unsigned)definition_flags,
          (unsigned)fast, (unsigned)fast_flags);
  uint32_t want;
  uint8_t want_flags;
  if (fn->special(x, &want, &want_flags)) {
    fprintf(stream, "; prescribed 0x%08X flags %02X\n", (unsigned)want, (unsigned)want_flags);
  } else {
    fprintf(stream, "; exact %.17g, error %.4f ulp (bound %.2f)\n", ref, fpulp_ulp_error(fast, ref),
            fn->bound_ulp);
  }
}
