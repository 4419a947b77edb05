// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the special-function macros (host/ops/simd_special.c, docs/simd.md): each macro
// assembled into a SIMD program (POP x; f(x); PUSH) that runs on the golden model in-process, on
// configurations S and M, over a few hundred thousand inputs per function, compared with the C
// definition (sim/model/sparrow_fp_special.c) in value and in flags.
//
// Inputs: uniformly random bit patterns (every class, NaNs included), random values over each
// function's working range (every exponent equally likely), and a targeted set: +-0, subnormals,
// the normal range's ends, +-inf, quiet and signalling NaNs with payloads, every power of two and
// its neighbours, and every threshold of each branch of the definition with the 8 patterns on
// either side.
//
// Values are compared bit for bit, every input. Flags: FP_STATUS is one sticky register for a
// whole launch, so it cannot tell inputs apart. Three checks together:
//   1. the inputs are sorted by the flags the definition raises for them, and each group runs in
//      its own launches: FP_STATUS must equal the group's flags exactly (an input raising any
//      extra flag is caught);
//   2. every targeted input and 512 random ones run alone (one input in lane 0, the other lanes a
//      flag-free filler): FP_STATUS must equal that input's own flags (a missing flag is caught);
//   3. everything in one launch, shuffled, so that lanes of a beat take different branches.
//
// div, max and min are checked the same way on operand pairs (b over recip's targeted set, against
// the specials and a random a; then random pairs).
//
// SIMD_SPECIAL_SAMPLES=N (environment) sets the random count per kind (default 100000, so about
// 200000 + the targeted set per function); the long suite runs a larger sample.

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../host/ops/simd_asm.h"
#include "../../host/ops/simd_special.h"
#include "../../sim/model/sparrow_fp.h"
#include "../../sim/model/sparrow_fp_special.h"
#include "model_env_simd.h"

#define BATCH 16384u  // inputs per launch: operands and results fit the fixture's 1 MiB
#define ADDR_CODE 0x00000u
#define ADDR_A 0x01000u
#define ADDR_B (ADDR_A + 4u * BATCH)
#define ADDR_OUT (ADDR_B + 4u * BATCH)
#define DEFAULT_SAMPLES 100000u
#define SINGLE_RANDOM 512u
#define NEIGHBOURS 8u
#define WATCHDOG 1000000u

typedef uint32_t (*definition_fn)(uint32_t x, uint8_t *flags);
typedef void (*macro_fn)(sparrow_simd_asm_t *as, uint32_t dst, uint32_t src);
typedef uint32_t (*definition2_fn)(uint32_t a, uint32_t b, uint8_t *flags);
typedef void (*macro2_fn)(sparrow_simd_asm_t *as, uint32_t dst, uint32_t a, uint32_t b);

typedef struct function {
  const char *name;
  definition_fn definition;
  macro_fn macro;
  uint32_t filler;        // an input with no flags: what the idle lanes of a single hold
  uint32_t range_lo_exp;  // biased exponents of the random values over the working range
  uint32_t range_hi_exp;
  bool range_positive;  // the working range has one sign (rsqrt)
  const uint32_t *thresholds;
  size_t threshold_count;
  definition2_fn definition2;  // binary functions (div, max, min): a from port a, b from port b
  macro2_fn macro2;
} function_t;

// Every boundary of every branch of the definitions (magnitudes; both signs are used), plus where
// results change regime (overflow, subnormal results, saturation).
static const uint32_t kExpThresholds[] = {
    0x33000000u,  // 2^-25: the tiny branch
    0x42B20000u,  // 89: the clamp
    0x42D00000u,  // 104 (as -104: the lower clamp)
    0x42B17218u,  // ~88.72: overflow
    0x42AEAC50u,  // ~87.34: subnormal results below -this
    0x42CFF1B5u,  // ~103.97: results round to 0 below -this
    0x3F317218u,  // ln 2: n changes
    0x3EB17218u,  // ln2 / 2
    0x3F800000u,  // 1
};
static const uint32_t kRecipThresholds[] = {
    0x00800000u,  // the smallest normal: the subnormal scaling
    0x00200000u,  // 2^-128: 1/x overflows at and below
    0x00400000u,  // 2^-127
    0x7E800000u,  // 2^126: subnormal results above
    0x7F000000u,  // 2^127
    0x7F7FFFFFu,  // FLT_MAX
    0x3F800000u,  // 1
    0x3FFFFFFFu,  // just below 2
    0x00000001u,  // the smallest subnormal
};
static const uint32_t kRsqrtThresholds[] = {
    0x00800000u, 0x00000001u, 0x3F800000u, 0x40000000u, 0x40800000u,
    0x7F7FFFFFu, 0x7F000000u, 0x00400000u, 0x3E800000u,
};
static const uint32_t kTanhThresholds[] = {
    0x39800000u,  // 2^-12: the small branch
    0x3F100000u,  // 0.5625: odd polynomial / centred polynomial
    0x3F648000u,  // 457/512: the centre
    0x3FA00000u,  // 1.25: centred polynomial / exp form
    0x41200000u,  // 10: saturation
    0x41102B6Fu,  // ~9.01: rounds to 1 from here on
    0x00800000u,  // the smallest normal
    0x3F800000u,  // 1
};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static const function_t kFunctions[] = {
    {"exp", sparrow_fp_exp, sparrow_simd_exp, 0x00000000u, 100, 134, false, kExpThresholds,
     COUNT_OF(kExpThresholds), NULL, NULL},
    {"recip", sparrow_fp_recip, sparrow_simd_recip, 0x7F800000u, 0, 254, false, kRecipThresholds,
     COUNT_OF(kRecipThresholds), NULL, NULL},
    {"rsqrt", sparrow_fp_rsqrt, sparrow_simd_rsqrt, 0x7F800000u, 0, 254, true, kRsqrtThresholds,
     COUNT_OF(kRsqrtThresholds), NULL, NULL},
    {"tanh", sparrow_fp_tanh, sparrow_simd_tanh, 0x00000000u, 100, 131, false, kTanhThresholds,
     COUNT_OF(kTanhThresholds), NULL, NULL},
    // Binary: b runs over recip's inputs (div's branches are recip's), a over random patterns and
    // the specials; the filler pair is (0, +inf), 0 * recip(+inf) = 0 * 0, exact.
    {"div", NULL, NULL, 0x7F800000u, 0, 254, false, kRecipThresholds, COUNT_OF(kRecipThresholds),
     sparrow_fp_div, sparrow_simd_div},
    {"max", NULL, NULL, 0x00000000u, 0, 254, false, kRecipThresholds, COUNT_OF(kRecipThresholds),
     sparrow_fp_max, sparrow_simd_max},
    {"min", NULL, NULL, 0x00000000u, 0, 254, false, kRecipThresholds, COUNT_OF(kRecipThresholds),
     sparrow_fp_min, sparrow_simd_min},
};
#define FUNCTIONS COUNT_OF(kFunctions)
#define CONFIGS 2

// ---------------------------------------------------------------------------------------------------
// Inputs.

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One input: x (a binary function's second operand b is y), and what the definition gives.
typedef struct entry {
  uint32_t x, y, value;
  uint8_t flags;
} entry_t;

typedef struct inputs {
  entry_t *e;
  size_t count, cap;
  size_t targeted;  // e[0 .. targeted) is the targeted set
} inputs_t;

static void add(inputs_t *in, uint32_t x, uint32_t y) {
  if (in->count == in->cap) {
    in->cap = in->cap == 0 ? 4096 : 2 * in->cap;
    in->e = realloc(in->e, in->cap * sizeof(entry_t));
    ck_assert_ptr_nonnull(in->e);
  }
  entry_t *e = &in->e[in->count++];
  memset(e, 0, sizeof(*e));
  e->x = x;
  e->y = y;
}

static const uint32_t kSpecials[] = {
    0x00000000u, 0x80000000u, 0x00000001u, 0x80000001u, 0x007FFFFFu, 0x807FFFFFu, 0x00400000u,
    0x00000002u, 0x00012345u, 0x80654321u, 0x00800000u, 0x80800000u, 0x7F7FFFFFu, 0xFF7FFFFFu,
    0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u, 0x7FC12345u, 0xFFFFFFFFu, 0x7FFFFFFFu,
    0x7F800001u, 0xFF800001u, 0x7FA00000u, 0xFFBFFFFFu, 0x7F812345u, 0x3F800000u, 0xBF800000u,
};

// The targeted operands of a function: the specials, every power of two with 2 neighbours each
// side, every threshold with NEIGHBOURS each side; both signs. Returns the count written to out.
static size_t targeted_operands(const function_t *f, uint32_t *out, size_t cap) {
  size_t n = 0;
#define PUT(v)          \
  do {                  \
    ck_assert(n < cap); \
    out[n++] = (v);     \
  } while (0)
  for (size_t i = 0; i < COUNT_OF(kSpecials); ++i) {
    PUT(kSpecials[i]);
  }
  for (uint32_t e = 0; e < 255; ++e) {
    uint32_t p = e == 0 ? 1u : e << 23;
    for (int d = -2; d <= 2; ++d) {
      int64_t m = (int64_t)p + d;
      if (m >= 0 && m < 0x7F800000) {
        PUT((uint32_t)m);
        PUT((uint32_t)m | 0x80000000u);
      }
    }
  }
  for (size_t i = 0; i < f->threshold_count; ++i) {
    for (int d = -(int)NEIGHBOURS; d <= (int)NEIGHBOURS; ++d) {
      int64_t m = (int64_t)f->thresholds[i] + d;
      if (m >= 0 && m <= 0x7FFFFFFF) {
        PUT((uint32_t)m);
        PUT((uint32_t)m | 0x80000000u);
      }
    }
  }
#undef PUT
  return n;
}

static size_t samples(void) {
  const char *text = getenv("SIMD_SPECIAL_SAMPLES");
  if (text == NULL || *text == '\0') {
    return DEFAULT_SAMPLES;
  }
  char *end = NULL;
  unsigned long long v = strtoull(text, &end, 10);
  ck_assert_msg(end != NULL && *end == '\0' && v > 0 && v <= 1000000000ull,
                "SIMD_SPECIAL_SAMPLES must be a count, not '%s'", text);
  return (size_t)v;
}

// A random value over the function's working range: every exponent equally likely.
static uint32_t range_value(const function_t *f, uint64_t r) {
  uint32_t span = f->range_hi_exp - f->range_lo_exp + 1u;
  uint32_t exponent = f->range_lo_exp + (uint32_t)((r >> 32) % span);
  uint32_t sign = f->range_positive ? 0u : (uint32_t)(r >> 31) & 0x80000000u;
  return sign | exponent << 23 | ((uint32_t)r & 0x007FFFFFu);
}

static inputs_t make_inputs(const function_t *f, uint64_t seed) {
  inputs_t in;
  memset(&in, 0, sizeof(in));
  uint32_t targeted[4096];
  size_t nt = targeted_operands(f, targeted, COUNT_OF(targeted));
  uint64_t state = seed;
  if (f->definition2 == NULL) {
    for (size_t i = 0; i < nt; ++i) {
      add(&in, targeted[i], 0);
    }
  } else {
    // Every special a against every targeted b, and each targeted b with a random a.
    for (size_t i = 0; i < nt; ++i) {
      for (size_t j = 0; j < COUNT_OF(kSpecials); j += 3) {
        add(&in, kSpecials[j], targeted[i]);
      }
      add(&in, (uint32_t)splitmix64(&state), targeted[i]);
    }
  }
  in.targeted = in.count;
  // Random bit patterns, then random values over the working range.
  size_t n = samples();
  for (size_t i = 0; i < n; ++i) {
    uint64_t r = splitmix64(&state);
    add(&in, (uint32_t)r, (uint32_t)(r >> 32));
  }
  for (size_t i = 0; i < n; ++i) {
    uint64_t r = splitmix64(&state);
    add(&in, range_value(f, r), range_value(f, splitmix64(&state)));
  }
  for (size_t i = 0; i < in.count; ++i) {
    entry_t *e = &in.e[i];
    e->value = f->definition2 != NULL ? f->definition2(e->x, e->y, &e->flags)
                                      : f->definition(e->x, &e->flags);
  }
  return in;
}

// ---------------------------------------------------------------------------------------------------
// Running a macro on the golden model.

typedef struct harness {
  env_t *env;
  const function_t *f;
  env_simd_t simd;  // the program
} harness_t;

// body: POP r_a (and POP r_b); f(r_out, r_a[, r_b]); PUSH r_out. in_place: the result goes to the
// first operand's register.
static void assemble(harness_t *h, bool in_place) {
  const function_t *f = h->f;
  sparrow_simd_asm_init(&h->simd.as);
  sparrow_simd_seg_begin(&h->simd.as, SPARROW_SIMD_SEG_BODY(0));
  uint32_t a = sparrow_simd_reg_alloc(&h->simd.as);
  uint32_t b = f->macro2 != NULL ? sparrow_simd_reg_alloc(&h->simd.as) : a;
  uint32_t out = in_place ? a : sparrow_simd_reg_alloc(&h->simd.as);
  sparrow_simd_pop(&h->simd.as, a, SPARROW_SIMD_PORT_A);
  if (f->macro2 != NULL) {
    sparrow_simd_pop(&h->simd.as, b, SPARROW_SIMD_PORT_B);
    f->macro2(&h->simd.as, out, a, b);
  } else {
    f->macro(&h->simd.as, out, a);
  }
  sparrow_simd_push(&h->simd.as, SPARROW_SIMD_PRED_ALWAYS, out, 0);
  sparrow_simd_seg_end(&h->simd.as);
  env_simd_encode(&h->simd, f->name);
}

// Runs the program over count inputs already in DRAM at ADDR_A (and ADDR_B), count a multiple of
// lanes, at most BATCH, on tile 0: a LOAD phase, then one SIMD phase (AGCU 0 read 0 -> pcu_a,
// read 1 -> pcu_b, pcu_out -> AGCU 0 write to ADDR_OUT). Returns FP_STATUS.
static uint32_t run_batch(harness_t *h, size_t count) {
  env_simd_layout_t layout = {ADDR_CODE, ADDR_A, ADDR_B, ADDR_OUT, h->f->macro2 != NULL, BATCH};
  return env_simd_run(h->env, &h->simd, &layout, count, WATCHDOG);
}

// ---------------------------------------------------------------------------------------------------
// The checks.

static int by_flags(const void *pa, const void *pb) {
  const entry_t *a = pa, *b = pb;
  if (a->flags != b->flags) {
    return a->flags < b->flags ? -1 : 1;
  }
  if (a->x != b->x) {
    return a->x < b->x ? -1 : 1;
  }
  return a->y < b->y ? -1 : a->y > b->y;
}

static void flags_name(uint32_t flags, char *out, size_t len) {
  snprintf(out, len, "%s%s%s%s%s%s", flags == 0 ? "none" : "", flags & SPARROW_FP_NV ? "NV " : "",
           flags & SPARROW_FP_DZ ? "DZ " : "", flags & SPARROW_FP_OF ? "OF " : "",
           flags & SPARROW_FP_UF ? "UF " : "", flags & SPARROW_FP_NX ? "NX" : "");
}

// Whether the host reports FP flags at all (valgrind does not): flag checks are skipped then.
static bool host_flags_observable(void) {
  uint8_t flags = 0;
  (void)sparrow_fp_mul(0x7F7FFFFFu, 0x40000000u, &flags);
  return flags != 0;
}

static void describe(const harness_t *h, const entry_t *e, char *out, size_t len) {
  if (h->f->definition2 != NULL) {
    snprintf(out, len, "%s(0x%08X, 0x%08X)", h->f->name, e->x, e->y);
  } else {
    snprintf(out, len, "%s(0x%08X)", h->f->name, e->x);
  }
}

// Runs entries (any count) in batches padded with the filler; compares every value and returns
// the OR of the launches' FP_STATUS.
static uint32_t run_and_compare(harness_t *h, const entry_t *e, size_t count, const char *what) {
  env_t *env = h->env;
  uint32_t lanes = env->lanes;
  uint32_t status = 0;
  for (size_t first = 0; first < count; first += BATCH) {
    size_t n = count - first < BATCH ? count - first : BATCH;
    size_t padded = (n + lanes - 1u) / lanes * lanes;
    for (size_t i = 0; i < padded; ++i) {
      bool real = i < n;
      put_word(env, ADDR_A + 4u * (uint32_t)i,
               real ? e[first + i].x : (h->f->macro2 != NULL ? 0u : h->f->filler));
      put_word(env, ADDR_B + 4u * (uint32_t)i, real ? e[first + i].y : h->f->filler);
    }
    status |= run_batch(h, padded);
    for (size_t i = 0; i < n; ++i) {
      const entry_t *want = &e[first + i];
      uint32_t got = get_word(env, ADDR_OUT + 4u * (uint32_t)i);
      if (got != want->value) {
        char call[64];
        describe(h, want, call, sizeof(call));
        ck_abort_msg("%s on %s (%s): %s = 0x%08X on the fabric, the definition gives 0x%08X",
                     h->f->name, env->hw->name, what, call, got, want->value);
      }
    }
  }
  return status;
}

static void check_function(const function_t *f, int config) {
  harness_t h;
  memset(&h, 0, sizeof(h));
  h.env = env_open(config);
  h.f = f;
  bool flags_ok = host_flags_observable();
  if (!flags_ok) {
    fprintf(stderr, "note: host FP flags not observable (valgrind?): flag checks skipped\n");
  }
  // The filler must itself be flag-free, or the singles would prove nothing.
  uint8_t filler_flags = 0;
  (void)(f->definition2 != NULL ? f->definition2(0, f->filler, &filler_flags)
                                : f->definition(f->filler, &filler_flags));
  ck_assert_uint_eq(filler_flags, 0);

  inputs_t in = make_inputs(f, 0x5EED0000ull + (uint64_t)config * 131u + (uint64_t)f->name[0]);
  uint32_t all_flags = 0;
  for (size_t i = 0; i < in.count; ++i) {
    all_flags |= in.e[i].flags;
  }

  for (int variant = 0; variant < 2; ++variant) {
    assemble(&h, variant == 1);
    // 3. All inputs, in a random order.
    entry_t *shuffled = malloc(in.count * sizeof(entry_t));
    ck_assert_ptr_nonnull(shuffled);
    memcpy(shuffled, in.e, in.count * sizeof(entry_t));
    uint64_t state = 0xC0FFEEull + (uint64_t)variant;
    for (size_t i = in.count - 1; i > 0; --i) {
      size_t j = (size_t)(splitmix64(&state) % (i + 1));
      entry_t tmp = shuffled[i];
      shuffled[i] = shuffled[j];
      shuffled[j] = tmp;
    }
    uint32_t status = run_and_compare(&h, shuffled, in.count, "shuffled");
    free(shuffled);
    if (flags_ok) {
      ck_assert_uint_eq(status, all_flags);
    }
    if (variant == 1) {
      continue;  // the in-place form: values checked; flags come from the same instructions
    }
    // 1. Grouped by the definition's flags.
    entry_t *sorted = malloc(in.count * sizeof(entry_t));
    ck_assert_ptr_nonnull(sorted);
    memcpy(sorted, in.e, in.count * sizeof(entry_t));
    qsort(sorted, in.count, sizeof(entry_t), by_flags);
    size_t groups = 0;
    for (size_t first = 0; first < in.count;) {
      size_t end = first;
      while (end < in.count && sorted[end].flags == sorted[first].flags) {
        end++;
      }
      char name[32];
      flags_name(sorted[first].flags, name, sizeof(name));
      for (size_t b = first; b < end; b += BATCH) {
        size_t n = end - b < BATCH ? end - b : BATCH;
        uint32_t got = run_and_compare(&h, &sorted[b], n, name);
        if (flags_ok && got != sorted[first].flags) {
          char got_name[32], call[64];
          flags_name(got, got_name, sizeof(got_name));
          describe(&h, &sorted[b], call, sizeof(call));
          ck_abort_msg("%s on %s: %zu inputs whose flags are %s (first %s) raised %s", f->name,
                       h.env->hw->name, n, name, call, got_name);
        }
      }
      groups++;
      first = end;
    }
    free(sorted);
    // 2. Alone: the targeted set and SINGLE_RANDOM random inputs, each in lane 0 of its own
    // launch (the other lanes hold the filler).
    size_t singles =
        in.targeted + SINGLE_RANDOM < in.count ? in.targeted + SINGLE_RANDOM : in.count;
    for (size_t i = 0; i < singles && flags_ok; ++i) {
      uint32_t got = run_and_compare(&h, &in.e[i], 1, "alone");
      if (got != in.e[i].flags) {
        char want_name[32], got_name[32], call[64];
        flags_name(in.e[i].flags, want_name, sizeof(want_name));
        flags_name(got, got_name, sizeof(got_name));
        describe(&h, &in.e[i], call, sizeof(call));
        ck_abort_msg("%s on %s: %s raised %s, the definition %s", f->name, h.env->hw->name, call,
                     got_name, want_name);
      }
    }
    char all_name[32];
    flags_name(all_flags, all_name, sizeof(all_name));
    uint32_t pops = f->macro2 != NULL ? 2u : 1u;
    printf(
        "%s on %s: %zu inputs (%zu targeted) bit-exact, %zu flag groups exact, %zu alone; "
        "%u instructions (%u registers), %u issue groups per beat with the POPs and the PUSH; "
        "flags seen: %s\n",
        f->name, h.env->hw->name, in.count, in.targeted, groups, singles,
        h.simd.as.count - pops - 1u, h.simd.as.regs_peak,
        sparrow_simd_asm_groups(&h.simd.as, SPARROW_SIMD_SEG_BODY(0), h.env->lanes), all_name);
  }
  free(in.e);
  env_close(h.env);
}

START_TEST(test_exp) {
  check_function(&kFunctions[0], _i);
}
END_TEST

START_TEST(test_recip) {
  check_function(&kFunctions[1], _i);
}
END_TEST

START_TEST(test_rsqrt) {
  check_function(&kFunctions[2], _i);
}
END_TEST

START_TEST(test_tanh) {
  check_function(&kFunctions[3], _i);
}
END_TEST

START_TEST(test_div) {
  check_function(&kFunctions[4], _i);
}
END_TEST

START_TEST(test_max_min) {
  check_function(&kFunctions[5], _i);
  check_function(&kFunctions[6], _i);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("simd_special");
  TCase *tc = tcase_create("functions");
  tcase_set_timeout(tc, 1200);
  tcase_add_loop_test(tc, test_exp, 0, CONFIGS);
  tcase_add_loop_test(tc, test_recip, 0, CONFIGS);
  tcase_add_loop_test(tc, test_rsqrt, 0, CONFIGS);
  tcase_add_loop_test(tc, test_tanh, 0, CONFIGS);
  tcase_add_loop_test(tc, test_div, 0, CONFIGS);
  tcase_add_loop_test(tc, test_max_min, 0, CONFIGS);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  const char *why = NULL;
  if (sparrow_fp_selfcheck(&why) != SPARROW_FP_SELFCHECK_OK) {
    fprintf(stderr, "host arithmetic unsuitable: %s\n", why);
    return 1;
  }
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
