// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the natural logarithm of the SIMD mode (sim/model/sparrow_fp_log.c,
// docs/numerics.md "log") and its SIMD macro (host/ops/simd_special.c, sparrow_simd_log):
//
//   - accuracy: every input through sparrow-fpulp's per-input check (tests/fp/fpulp_check.c):
//     the prescribed special values and flags, the error in ulps against libm's log in double
//     within the documented bound, the flag invariants (no NaN, NV or DZ; OF exactly with an
//     infinite result; UF only with a tiny one; NX whenever the result is not exact), and the
//     definition (op by op) equal to the fast form in every bit and flag. Sampled in `make test`
//     (a million random patterns, a quarter million values over the positive range, and a
//     targeted set); all 2^32 inputs with SPARROW_LOG_EXHAUSTIVE=1 (`make test-long`), the fast
//     form on every input and the definition on every 1021st;
//   - the macro on the golden model in-process (S and M): POP x; log; PUSH over the targeted set
//     and random inputs, compared with the definition bit for bit; FP_STATUS checked three ways
//     as tests/unit/test_simd_special.c does (inputs grouped by the flags the definition raises,
//     each group in its own launches; targeted inputs alone in lane 0; everything shuffled).

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/ops/simd_asm.h"
#include "../../host/ops/simd_special.h"
#include "../../sim/model/sparrow_fp.h"
#include "../../sim/model/sparrow_fp_log.h"
#include "../fp/fpulp_check.h"
#include "model_env_simd.h"

#define SIGN 0x80000000u
#define ABS 0x7FFFFFFFu
#define INF 0x7F800000u
#define ONE 0x3F800000u
#define QUIET 0x00400000u
#define NAN_BITS SPARROW_FP_CANONICAL_NAN
#define POLE_FLAGS (SPARROW_FP_OF | SPARROW_FP_NX)

// The documented bound (docs/numerics.md): the maximum over all 2^32 inputs, 0.8765 ulp at
// 0x3F34FBBA, rounded up to a hundredth.
#define LOG_BOUND_ULP 0.88
#define SAMPLED_RANDOM 1000000u
#define SAMPLED_RANGE 250000u
#define COMPARE_EVERY 1021u
#define EXHAUSTIVE_THREADS 2u

// ---------------------------------------------------------------------------------------------------
// The function as sparrow-fpulp describes one.

static double ref_log(double x) {
  return log(x);
}

static bool special_log(uint32_t x, uint32_t *result, uint8_t *flags) {
  if ((x & ABS) > INF) {
    *result = NAN_BITS;
    *flags = (x & QUIET) == 0 ? SPARROW_FP_NV : 0;
  } else if ((x & ABS) == 0) {
    *result = SIGN | INF;
    *flags = POLE_FLAGS;
  } else if ((x & SIGN) != 0) {
    *result = NAN_BITS;
    *flags = SPARROW_FP_NV;
  } else if (x == INF) {
    *result = INF;
    *flags = 0;
  } else if (x == ONE) {
    *result = 0;  // +0, exactly, without flags
    *flags = 0;
  } else {
    return false;
  }
  return true;
}

static const uint32_t kLogEdges[] = {
    0x3F800000u,  // 1: log is tiny around it
    0x3FB504F3u,  // sqrt(2): the reduction moves to the next k from here
    0x3F3504F3u,  // sqrt(1/2)
    0x00800000u,  // the smallest normal (subnormals are scaled by 2^64)
    0x7F7FFFFFu,  // the largest finite
    0x40000000u,  // 2
    0x3F000000u,  // 1/2
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static const fpulp_function_t kLog = {
    "log",       sparrow_fp_log, sparrow_fp_log_fast, ref_log, LOG_BOUND_ULP, false,
    special_log, kLogEdges,      COUNT_OF(kLogEdges), 0x1p-20, 0x1p20};

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// ---------------------------------------------------------------------------------------------------
// Inputs.

typedef struct list {
  uint32_t *x;
  size_t count, cap;
} list_t;

static void push(list_t *l, uint32_t x) {
  if (l->count == l->cap) {
    l->cap = l->cap == 0 ? 4096 : 2 * l->cap;
    l->x = realloc(l->x, l->cap * sizeof(uint32_t));
    ck_assert_ptr_nonnull(l->x);
  }
  l->x[l->count++] = x;
}

// x and its neighbours, `ulps` patterns either way (staying within the finite positives and
// their negatives), both signs.
static void push_around(list_t *l, uint32_t x, int ulps) {
  for (int d = -ulps; d <= ulps; ++d) {
    int64_t m = (int64_t)(x & ABS) + d;
    if (m >= 0 && m < (int64_t)INF) {
      push(l, (uint32_t)m);
      push(l, (uint32_t)m | SIGN);
    }
  }
}

// The targeted set: zeros, infinities, NaNs (quiet and signalling, with payloads, both signs),
// both ends of the subnormals, every power of two with 8 neighbours each way, 4096 patterns either
// side of 1 (where log is smallest), the reduction's threshold sqrt(2) in every binade with 8
// neighbours (2048 around sqrt(2) and sqrt(1/2)), the top of the finite range.
static void targeted(list_t *l) {
  static const uint32_t kSpecials[] = {
      0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u,
      0x7FC12345u, 0x7F800001u, 0xFF800001u, 0x7FA00000u, 0xFFBFFFFFu, 0x7FFFFFFFu,
  };
  for (size_t i = 0; i < COUNT_OF(kSpecials); ++i) {
    push(l, kSpecials[i]);
  }
  for (uint32_t i = 1; i < 2048; ++i) {
    push(l, i);
    push(l, 0x007FFFFFu - i);
    push(l, 0x7F7FFFFFu - i);
  }
  for (uint32_t e = 0; e < 255; ++e) {
    push_around(l, e == 0 ? 1u : e << 23, 8);
    push_around(l, (e << 23) | 0x003504F3u, 8);
  }
  push_around(l, ONE, 4096);
  push_around(l, 0x3FB504F3u, 2048);
  push_around(l, 0x3F3504F3u, 2048);
  for (size_t i = 0; i < COUNT_OF(kLogEdges); ++i) {
    push_around(l, kLogEdges[i], 64);
  }
}

// A positive finite value with every exponent equally likely.
static uint32_t positive_value(uint64_t r) {
  uint32_t exponent = (uint32_t)((r >> 32) % 255u);  // 0 (subnormal) .. 254
  uint32_t fraction = (uint32_t)r & 0x007FFFFFu;
  uint32_t x = exponent << 23 | fraction;
  return x == 0 ? 1u : x;
}

static void print_stats(const char *what, const fpulp_stats_t *s) {
  printf(
      "log %s: %llu inputs (%llu prescribed, %llu measured, %llu through both forms), max error "
      "%.4f ulp at 0x%08X, mean %.4f ulp, %.3f%% not correctly rounded, %llu measured without NX, "
      "bound %.2f, %llu failures\n",
      what, (unsigned long long)s->inputs, (unsigned long long)s->specials,
      (unsigned long long)s->measured, (unsigned long long)s->compared, s->max_ulp, s->max_at,
      fpulp_mean_ulp(s), s->measured ? 100.0 * (double)s->above_half / (double)s->measured : 0.0,
      (unsigned long long)s->without_nx, LOG_BOUND_ULP,
      (unsigned long long)fpulp_total_failures(s));
  for (size_t i = 0; i < s->kept; ++i) {
    printf("  FAIL %s:\n", fpulp_fail_name(s->kept_kind[i]));
    fpulp_describe(&kLog, s->kept_input[i], stdout);
  }
}

// ---------------------------------------------------------------------------------------------------
// Accuracy.

START_TEST(test_prescribed) {
  static const struct {
    uint32_t x, value;
    uint8_t flags;
  } kCases[] = {
      {0x3F800000u, 0x00000000u, 0},              // log 1 = +0
      {0x7F800000u, 0x7F800000u, 0},              // log +inf = +inf
      {0x00000000u, 0xFF800000u, POLE_FLAGS},     // log +0 = -inf (a pole)
      {0x80000000u, 0xFF800000u, POLE_FLAGS},     // log -0 = -inf
      {0xBF800000u, NAN_BITS, SPARROW_FP_NV},     // log -1
      {0xFF800000u, NAN_BITS, SPARROW_FP_NV},     // log -inf
      {0x80000001u, NAN_BITS, SPARROW_FP_NV},     // log of the negative subnormal
      {0x7FC00000u, NAN_BITS, 0},                 // quiet NaN
      {0xFFC12345u, NAN_BITS, 0},                 // quiet NaN, sign and payload
      {0x7F800001u, NAN_BITS, SPARROW_FP_NV},     // signalling NaN
      {0x40000000u, 0x3F317218u, SPARROW_FP_NX},  // log 2 = 0.693147182 (rounded)
      {0x7F7FFFFFu, 0x42B17218u, SPARROW_FP_NX},  // log FLT_MAX = 88.7228394
      {0x00000001u, 0xC2CE8ED0u, SPARROW_FP_NX},  // log 2^-149 = -103.278931
  };
  const char *why = NULL;
  ck_assert_msg(sparrow_fp_selfcheck(&why) == SPARROW_FP_SELFCHECK_OK, "%s", why);
  for (size_t i = 0; i < COUNT_OF(kCases); ++i) {
    for (int form = 0; form < 2; ++form) {
      uint8_t flags = 0;
      uint32_t got = form == 0 ? sparrow_fp_log(kCases[i].x, &flags)
                               : sparrow_fp_log_fast(kCases[i].x, &flags);
      ck_assert_msg(got == kCases[i].value && flags == kCases[i].flags,
                    "log(0x%08X) (%s) = 0x%08X flags %02X, want 0x%08X flags %02X", kCases[i].x,
                    form == 0 ? "definition" : "fast", got, flags, kCases[i].value,
                    kCases[i].flags);
    }
    ck_assert_uint_eq(sparrow_fp_log(kCases[i].x, NULL), kCases[i].value);  // flags may be NULL
  }
}
END_TEST

START_TEST(test_accuracy_sampled) {
  list_t l = {NULL, 0, 0};
  targeted(&l);
  size_t n_targeted = l.count;
  uint64_t state = 0x106106ull;
  for (uint32_t i = 0; i < SAMPLED_RANDOM; ++i) {
    push(&l, (uint32_t)splitmix64(&state));
  }
  for (uint32_t i = 0; i < SAMPLED_RANGE; ++i) {
    push(&l, positive_value(splitmix64(&state)));
  }
  fpulp_stats_t stats;
  memset(&stats, 0, sizeof(stats));
  for (size_t i = 0; i < l.count; ++i) {
    fpulp_check_input(&kLog, l.x[i], true, &stats);
  }
  char what[64];
  snprintf(what, sizeof(what), "sampled (%zu targeted)", n_targeted);
  print_stats(what, &stats);
  ck_assert_uint_eq(fpulp_total_failures(&stats), 0);
  ck_assert(stats.max_ulp <= LOG_BOUND_ULP);
  ck_assert(stats.max_ulp > 0.5);  // a measurement, not a no-op: log is not correctly rounded
  ck_assert_uint_eq(stats.without_nx, 0);
  free(l.x);
}
END_TEST

typedef struct slice {
  uint64_t from, to;  // patterns [from, to)
  fpulp_stats_t stats;
} slice_t;

static void *check_slice(void *arg) {
  slice_t *s = arg;
  for (uint64_t x = s->from; x < s->to; ++x) {
    fpulp_check_input(&kLog, (uint32_t)x, x % COMPARE_EVERY == 0, &s->stats);
  }
  return NULL;
}

// All 2^32 inputs; only with SPARROW_LOG_EXHAUSTIVE=1 (make test-long: about two minutes of CPU).
START_TEST(test_accuracy_exhaustive) {
  const char *on = getenv("SPARROW_LOG_EXHAUSTIVE");
  if (on == NULL || strcmp(on, "1") != 0) {
    printf("log exhaustive: skipped (SPARROW_LOG_EXHAUSTIVE=1 runs all 2^32 inputs)\n");
    return;
  }
  slice_t slices[EXHAUSTIVE_THREADS];
  pthread_t threads[EXHAUSTIVE_THREADS];
  // Interleaved halves would share cache lines of nothing; contiguous halves of the positives
  // and negatives balance the work (the negatives are cheap: prescribed NaNs).
  const uint64_t total = UINT64_C(1) << 32;
  for (uint32_t t = 0; t < EXHAUSTIVE_THREADS; ++t) {
    memset(&slices[t], 0, sizeof(slices[t]));
    slices[t].from = total * t / EXHAUSTIVE_THREADS;
    slices[t].to = total * (t + 1u) / EXHAUSTIVE_THREADS;
    ck_assert_int_eq(pthread_create(&threads[t], NULL, check_slice, &slices[t]), 0);
  }
  fpulp_stats_t stats;
  memset(&stats, 0, sizeof(stats));
  for (uint32_t t = 0; t < EXHAUSTIVE_THREADS; ++t) {
    ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
    fpulp_stats_merge(&stats, &slices[t].stats);
  }
  print_stats("exhaustive (all 2^32 inputs)", &stats);
  ck_assert_uint_eq(stats.inputs, total);
  ck_assert_uint_eq(fpulp_total_failures(&stats), 0);
  ck_assert(stats.max_ulp <= LOG_BOUND_ULP);
  ck_assert_uint_eq(stats.without_nx, 0);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// The macro on the golden model.

#define BATCH 16384u  // inputs per launch: they and the results fit the fixture's 1 MiB
#define ADDR_CODE 0x00000u
#define ADDR_IN 0x01000u
#define ADDR_OUT (ADDR_IN + 4u * BATCH)
#define MACRO_RANDOM 20000u
#define SINGLES_RANDOM 256u
#define WATCHDOG 1000000u
#define FILLER ONE  // log 1 = +0 without flags: what the idle lanes hold

typedef struct entry {
  uint32_t x, value;
  uint8_t flags;
} entry_t;

typedef struct harness {
  env_t *env;
  env_simd_t simd;  // the program
} harness_t;

static void assemble(harness_t *h, bool in_place) {
  sparrow_simd_asm_init(&h->simd.as);
  sparrow_simd_seg_begin(&h->simd.as, SPARROW_SIMD_SEG_BODY(0));
  uint32_t x = sparrow_simd_reg_alloc(&h->simd.as);
  uint32_t out = in_place ? x : sparrow_simd_reg_alloc(&h->simd.as);
  sparrow_simd_pop(&h->simd.as, x, SPARROW_SIMD_PORT_A);
  sparrow_simd_log(&h->simd.as, out, x);
  sparrow_simd_push(&h->simd.as, SPARROW_SIMD_PRED_ALWAYS, out, 0);
  sparrow_simd_seg_end(&h->simd.as);
  env_simd_encode(&h->simd, "log");
}

// Runs the program over the `count` words at ADDR_IN (a multiple of lanes) on tile 0: a LOAD
// phase, then one SIMD phase; returns FP_STATUS.
static uint32_t run_batch(harness_t *h, size_t count) {
  static const env_simd_layout_t kLayout = {ADDR_CODE, ADDR_IN, 0, ADDR_OUT, false, BATCH};
  return env_simd_run(h->env, &h->simd, &kLayout, count, WATCHDOG);
}

// Runs entries in batches padded with the filler; every value must be the definition's. Returns
// the OR of the launches' FP_STATUS.
static uint32_t run_and_compare(harness_t *h, const entry_t *e, size_t count, const char *what) {
  env_t *env = h->env;
  uint32_t status = 0;
  for (size_t first = 0; first < count; first += BATCH) {
    size_t n = count - first < BATCH ? count - first : BATCH;
    size_t padded = (n + env->lanes - 1u) / env->lanes * env->lanes;
    for (size_t i = 0; i < padded; ++i) {
      put_word(env, ADDR_IN + 4u * (uint32_t)i, i < n ? e[first + i].x : FILLER);
    }
    status |= run_batch(h, padded);
    for (size_t i = 0; i < n; ++i) {
      uint32_t got = get_word(env, ADDR_OUT + 4u * (uint32_t)i);
      ck_assert_msg(got == e[first + i].value,
                    "log on %s (%s): log(0x%08X) = 0x%08X on the fabric, the definition gives "
                    "0x%08X",
                    env->hw->name, what, e[first + i].x, got, e[first + i].value);
    }
  }
  return status;
}

static bool host_flags_observable(void) {
  uint8_t flags = 0;
  (void)sparrow_fp_mul(0x7F7FFFFFu, 0x40000000u, &flags);
  return flags != 0;
}

static int by_flags(const void *pa, const void *pb) {
  const entry_t *a = pa, *b = pb;
  if (a->flags != b->flags) {
    return a->flags < b->flags ? -1 : 1;
  }
  return a->x < b->x ? -1 : a->x > b->x;
}

START_TEST(test_macro) {
  harness_t *h = calloc(1, sizeof(*h));
  ck_assert_ptr_nonnull(h);
  h->env = env_open(_i);
  bool flags_ok = host_flags_observable();
  uint8_t filler_flags = 0;
  (void)sparrow_fp_log(FILLER, &filler_flags);
  ck_assert_uint_eq(filler_flags, 0);

  list_t l = {NULL, 0, 0};
  targeted(&l);
  size_t n_targeted = l.count;
  uint64_t state = 0x5EEDull + (uint64_t)_i;
  for (uint32_t i = 0; i < MACRO_RANDOM; ++i) {
    push(&l, (uint32_t)splitmix64(&state));
    push(&l, positive_value(splitmix64(&state)));
  }
  entry_t *e = malloc(l.count * sizeof(entry_t));
  ck_assert_ptr_nonnull(e);
  uint32_t all_flags = 0;
  for (size_t i = 0; i < l.count; ++i) {
    e[i].x = l.x[i];
    e[i].flags = 0;
    e[i].value = sparrow_fp_log(l.x[i], &e[i].flags);
    all_flags |= e[i].flags;
  }
  for (int in_place = 0; in_place < 2; ++in_place) {
    assemble(h, in_place == 1);
    // Shuffled: the lanes of a beat take different branches.
    entry_t *shuffled = malloc(l.count * sizeof(entry_t));
    ck_assert_ptr_nonnull(shuffled);
    memcpy(shuffled, e, l.count * sizeof(entry_t));
    for (size_t i = l.count - 1; i > 0; --i) {
      size_t j = (size_t)(splitmix64(&state) % (i + 1));
      entry_t tmp = shuffled[i];
      shuffled[i] = shuffled[j];
      shuffled[j] = tmp;
    }
    uint32_t status = run_and_compare(h, shuffled, l.count, "shuffled");
    free(shuffled);
    if (flags_ok) {
      ck_assert_uint_eq(status, all_flags);
    }
  }
  assemble(h, false);
  // Grouped by the definition's flags: each group raises exactly its flags.
  qsort(e, l.count, sizeof(entry_t), by_flags);
  size_t groups = 0;
  for (size_t first = 0; first < l.count;) {
    size_t end = first;
    while (end < l.count && e[end].flags == e[first].flags) {
      end++;
    }
    for (size_t b = first; b < end; b += BATCH) {
      size_t n = end - b < BATCH ? end - b : BATCH;
      uint32_t got = run_and_compare(h, &e[b], n, "grouped");
      ck_assert_msg(!flags_ok || got == e[first].flags,
                    "log on %s: %zu inputs with flags %02X (first 0x%08X) raised %02X",
                    h->env->hw->name, n, e[first].flags, e[b].x, got);
    }
    groups++;
    first = end;
  }
  // Alone in lane 0: every special input and SINGLES_RANDOM others raise exactly their flags.
  size_t singles = 0;
  for (size_t i = 0; i < l.count && flags_ok; ++i) {
    bool special = (e[i].x & ABS) >= INF || (e[i].x & ABS) == 0 || (e[i].x & SIGN) != 0;
    if (!special && i % (l.count / SINGLES_RANDOM) != 0) {
      continue;
    }
    uint32_t got = run_and_compare(h, &e[i], 1, "alone");
    ck_assert_msg(got == e[i].flags,
                  "log on %s: log(0x%08X) alone raised %02X, the definition %02X", h->env->hw->name,
                  e[i].x, got, e[i].flags);
    singles++;
  }
  printf(
      "log macro on %s: %zu inputs (%zu targeted) bit-exact, shuffled and in place; %zu flag "
      "groups exact, %zu alone; %u instructions (%u registers), %u issue groups per beat with the "
      "POP and the PUSH\n",
      h->env->hw->name, l.count, n_targeted, groups, singles, h->simd.as.count - 2u,
      h->simd.as.regs_peak,
      sparrow_simd_asm_groups(&h->simd.as, SPARROW_SIMD_SEG_BODY(0), h->env->lanes));
  free(e);
  free(l.x);
  env_close(h->env);
  free(h);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("fp_log");
  TCase *acc = tcase_create("accuracy");
  tcase_set_timeout(acc, 3600);
  tcase_add_test(acc, test_prescribed);
  tcase_add_test(acc, test_accuracy_sampled);
  tcase_add_test(acc, test_accuracy_exhaustive);
  suite_add_tcase(s, acc);
  TCase *macro = tcase_create("macro");
  tcase_set_timeout(macro, 600);
  tcase_add_loop_test(macro, test_macro, 0, SPARROW_HW_CONFIG_COUNT);
  suite_add_tcase(s, macro);
  return s;
}

int main(void) {
  SRunner *runner = srunner_create(suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
