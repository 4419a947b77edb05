/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sparrow-fpulp's checks (fpulp_check.c): the special functions under test with their double
 * references, documented bounds and prescribed special values; the check of one input; the
 * statistics a run gathers. The command line and the threads are in fpulp_main.c.
 */
#ifndef SPARROW_TESTS_FP_FPULP_CHECK_H_
#define SPARROW_TESTS_FP_FPULP_CHECK_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef uint32_t (*fpulp_unary_fn)(uint32_t x, uint8_t *flags);

typedef struct {
  const char *name;
  fpulp_unary_fn definition; /* op by op through sparrow_fp_add / sparrow_fp_mul */
  fpulp_unary_fn fast;       /* the same sequence on host arithmetic: must agree bit for bit */
  double (*reference)(double x);
  double bound_ulp; /* documented maximum error, docs/numerics.md */
  bool odd;         /* f(-x) is f(x) with the sign flipped, flags included */
  /* True when x has a prescribed exact result and flags (NaN, infinities, zeros, poles, domain). */
  bool (*special)(uint32_t x, uint32_t *result, uint8_t *flags);
  /* Inputs around which the targeted set samples densely (thresholds of the algorithm). */
  const uint32_t *edges;
  size_t edge_count;
  /* The range where the function does its work: the targeted set also samples it uniformly. */
  double busy_low;
  double busy_high;
} fpulp_function_t;

extern const fpulp_function_t kFpulpFunctions[];
extern const size_t kFpulpFunctionCount;

typedef enum {
  FPULP_FAIL_BACKEND, /* definition and fast form disagree */
  FPULP_FAIL_SPECIAL, /* a prescribed special value or its flags is wrong */
  FPULP_FAIL_BOUND,   /* error above the documented bound */
  FPULP_FAIL_FLAGS,   /* a flag invariant is broken (see fpulp_check.c) */
  FPULP_FAIL_ODD,     /* odd symmetry is broken */
  FPULP_FAIL_KINDS
} fpulp_fail_t;

#define FPULP_KEPT_FAILURES 8

typedef struct {
  uint64_t inputs;     /* every input checked */
  uint64_t measured;   /* inputs whose error was measured in ulps (all but the special ones) */
  uint64_t specials;   /* inputs checked against a prescribed value */
  uint64_t compared;   /* inputs run through both forms */
  uint64_t above_half; /* measured inputs not correctly rounded (error above 0.5 ulp) */
  uint64_t
      without_nx; /* measured inputs whose flags lack NX (documented: none, docs/numerics.md) */
  double max_ulp;
  uint32_t max_at;
  /* Sum of the errors in units of 2^-20 ulp, each capped at 256 ulps: an integer, so the mean does
     not depend on how the inputs were shared among threads. */
  uint64_t sum_error_fixed;
  uint64_t failures[FPULP_FAIL_KINDS];
  /* The first failing inputs, for the report. */
  size_t kept;
  fpulp_fail_t kept_kind[FPULP_KEPT_FAILURES];
  uint32_t kept_input[FPULP_KEPT_FAILURES];
} fpulp_stats_t;

/*
 * Checks one input: fast form always; with compare_forms, the definition too (bit-exact results
 * and flags) and, for an odd function and a negative x, f(|x|).
 */
void fpulp_check_input(const fpulp_function_t *fn, uint32_t x, bool compare_forms,
                       fpulp_stats_t *stats);

/* Adds b's counts into a; the maximum keeps the smaller input on ties, so runs are reproducible. */
void fpulp_stats_merge(fpulp_stats_t *a, const fpulp_stats_t *b);

uint64_t fpulp_total_failures(const fpulp_stats_t *stats);
double fpulp_mean_ulp(const fpulp_stats_t *stats);
const char *fpulp_fail_name(fpulp_fail_t kind);

/* The error of result against the exact value ref, in ulps of ref (docs/numerics.md). */
double fpulp_ulp_error(uint32_t result, double ref);

/* Prints what fn does with x (both forms, the reference, the prescribed value) on stream. */
void fpulp_describe(const fpulp_function_t *fn, uint32_t x, FILE *stream);

#endif /* SPARROW_TESTS_FP_FPULP_CHECK_H_ */
