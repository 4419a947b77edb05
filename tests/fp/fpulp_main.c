/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sparrow-fpulp: measures the special functions of the PCU's SIMD mode (sim/model/
 * sparrow_fp_special.c) against double-precision references, in ulps.
 *
 *   sparrow-fpulp [FUNCTION...] [--count N] [--seed S] [--threads T]
 *   sparrow-fpulp [FUNCTION...] --exhaustive [--from X --to Y] [--compare-every K] [--threads T]
 *
 * FUNCTION is exp, recip, rsqrt or tanh (default: all). The sampled run (`make test`) checks, per
 * function, N random bit patterns, N/4 values uniform over the range where the function works, and
 * a targeted set (every power of two and its neighbours, both ends of the subnormals, the top of
 * the finite range, zeros, infinities, NaNs, and +-2048 ulps around each threshold of the
 * algorithm); every input also runs through the definition (op by op), which must agree with the
 * fast form. The exhaustive run (`make test-long`) checks all 2^32 inputs with the fast form (or
 * the patterns X..Y, both included, to look at one range), and compares the forms on every K-th
 * input (default 1021: the definition costs about 15 fast calls).
 * fpulp_check.c says what is asserted for each input.
 *
 * Prints one table row per function: inputs, maximum error and where, mean error, the share not
 * correctly rounded, the bound; then the failures, if any, and a summary line. Exit status: 0 all
 * within bounds, 1 a failure, 2 usage error or unfit host.
 */
#include "../../sim/model/sparrow_fp.h"
#include "fpgen_values.h"
#include "fpulp_check.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROGRAM "sparrow-fpulp"
#define DEFAULT_COUNT 1000000u
#define DEFAULT_SEED 1u
#define DEFAULT_COMPARE_EVERY 1021u
#define DEFAULT_THREADS 2u
#define MAX_THREADS 64u
#define EDGE_ULPS 2048
#define POW2_ULPS 8
#define CHUNK_INPUTS (1u << 16)
#define ALL_INPUTS (UINT64_C(1) << 32)

typedef struct {
  bool selected[8];
  bool any_selected;
  uint64_t count;
  uint64_t seed;
  unsigned threads;
  bool exhaustive;
  uint64_t from;
  uint64_t to;
  uint64_t compare_every;
  bool help;
} options_t;

/* ---------------------------------------------------------------------------------------------- */
/* The sampled input set. */

typedef struct {
  uint32_t *items;
  size_t count;
  size_t capacity;
  bool failed;
} input_list_t;

static void push(input_list_t *list, uint32_t x) {
  if (list->failed) {
    return;
  }
  if (list->count == list->capacity) {
    size_t capacity = list->capacity == 0 ? 1024 : list->capacity * 2;
    uint32_t *items = realloc(list->items, capacity * sizeof items[0]);
    if (items == NULL) {
      list->failed = true;
      return;
    }
    list->items = items;
    list->capacity = capacity;
  }
  list->items[list->count++] = x;
}

/* x and its neighbours up to `ulps` steps either way (staying finite), with both signs. */
static void push_around(input_list_t *list, uint32_t x, int ulps) {
  for (int step = -ulps; step <= ulps; step++) {
    uint32_t y = fpgen_step_ulps(x & 0x7FFFFFFFu, step);
    push(list, y);
    push(list, y ^ 0x80000000u);
  }
}

static bool build_sampled(const fpulp_function_t *fn, uint64_t count, uint64_t seed,
                          input_list_t *list) {
  rng_t rng;
  fpgen_rng_seed(&rng, seed, fn->name);
  for (uint64_t i = 0; i < count; i++) {
    push(list, fpgen_rng_u32(&rng));
  }
  /* Uniform values where the function works. */
  for (uint64_t i = 0; i < count / 4; i++) {
    double unit = (double)(fpgen_rng_u32(&rng) >> 8) / (double)(1u << 24);
    push(list, fpgen_nearest_finite_bits(fn->busy_low + (fn->busy_high - fn->busy_low) * unit));
  }
  /* Every power of two, normal and subnormal, with its neighbours. */
  for (int k = -149; k <= 127; k++) {
    uint32_t bits = k >= -126 ? (uint32_t)(k + 127) << 23 : 1u << (k + 149);
    push_around(list, bits, POW2_ULPS);
  }
  /* Both ends of the subnormals, the top of the finite range. */
  for (uint32_t i = 0; i < 4096; i++) {
    push(list, i);
    push(list, 0x80000000u | i);
    push(list, 0x007FFFFFu - i);
    push(list, 0x807FFFFFu - i);
    push(list, 0x7F7FFFFFu - i);
    push(list, 0xFF7FFFFFu - i);
  }
  /* Infinities and NaNs of both kinds, signs and various payloads. */
  push(list, 0x7F800000u);
  push(list, 0xFF800000u);
  for (int i = 0; i < 256; i++) {
    push(list, fpgen_random_nan(&rng));
  }
  for (size_t e = 0; e < fn->edge_count; e++) {
    push_around(list, fn->edges[e], EDGE_ULPS);
  }
  return !list->failed;
}

/* ---------------------------------------------------------------------------------------------- */
/* Workers: the inputs (a list, or all 2^32 patterns) are taken in chunks by whichever thread is
   free; each thread keeps its own statistics, merged at the end. */

typedef struct {
  const fpulp_function_t *fn;
  const uint32_t *list; /* NULL: input i is the pattern first + i */
  uint64_t first;
  uint64_t count;
  uint64_t compare_every;
  atomic_uint_fast64_t next_chunk;
} job_t;

typedef struct {
  job_t *job;
  fpulp_stats_t stats;
} worker_t;

static void *worker_main(void *arg) {
  worker_t *worker = arg;
  job_t *job = worker->job;
  uint64_t chunks = (job->count + CHUNK_INPUTS - 1) / CHUNK_INPUTS;
  for (;;) {
    uint64_t chunk = atomic_fetch_add(&job->next_chunk, 1);
    if (chunk >= chunks) {
      break;
    }
    uint64_t begin = chunk * CHUNK_INPUTS;
    uint64_t end = begin + CHUNK_INPUTS < job->count ? begin + CHUNK_INPUTS : job->count;
    /* Compare the forms on inputs i = 0 mod compare_every (a countdown: no division per input). */
    uint64_t until_compare = (job->compare_every - begin % job->compare_every) % job->compare_every;
    for (uint64_t i = begin; i < end; i++) {
      uint32_t x = job->list != NULL ? job->list[i] : (uint32_t)(job->first + i);
      bool compare = until_compare == 0;
      until_compare = compare ? job->compare_every - 1 : until_compare - 1;
      fpulp_check_input(job->fn, x, compare, &worker->stats);
    }
  }
  return NULL;
}

/* Runs the job on `threads` threads; returns false (with a message) if a thread cannot start. */
static bool run_job(job_t *job, unsigned threads, fpulp_stats_t *total) {
  worker_t workers[MAX_THREADS];
  pthread_t ids[MAX_THREADS];
  unsigned started = 0;
  atomic_init(&job->next_chunk, 0);
  for (unsigned t = 0; t < threads; t++) {
    workers[t] = (worker_t){.job = job};
    int error = pthread_create(&ids[t], NULL, worker_main, &workers[t]);
    if (error != 0) {
      fprintf(stderr, PROGRAM ": cannot start a thread: %s\n", strerror(error));
      break;
    }
    started++;
  }
  for (unsigned t = 0; t < started; t++) {
    pthread_join(ids[t], NULL);
  }
  if (started < threads) {
    return false;
  }
  *total = (fpulp_stats_t){0};
  for (unsigned t = 0; t < threads; t++) {
    fpulp_stats_merge(total, &workers[t].stats);
  }
  return true;
}

/* ---------------------------------------------------------------------------------------------- */
/* Report. */

static double seconds_since(const struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) * 1e-9;
}

static float float_of(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

static void print_header(void) {
  printf("%-6s %11s %9s %-26s %9s %9s %6s %9s %9s %6s %8s\n", "func", "inputs", "max ulp",
         "at input", "mean ulp", ">0.5 ulp", "bound", "specials", "compared", "no NX", "failures");
}

static void print_row(const fpulp_function_t *fn, const fpulp_stats_t *stats) {
  char at[40];
  if (stats->measured > 0) {
    snprintf(at, sizeof at, "0x%08X (%.6g)", (unsigned)stats->max_at,
             (double)float_of(stats->max_at));
  } else {
    snprintf(at, sizeof at, "-");
  }
  double mean = fpulp_mean_ulp(stats);
  double above =
      stats->measured > 0 ? 100.0 * (double)stats->above_half / (double)stats->measured : 0.0;
  printf("%-6s %11" PRIu64 " %9.4f %-26s %9.4f %8.3f%% %6.2f %9" PRIu64 " %9" PRIu64 " %6" PRIu64
         " %8" PRIu64 "\n",
         fn->name, stats->inputs, stats->max_ulp, at, mean, above, fn->bound_ulp, stats->specials,
         stats->compared, stats->without_nx, fpulp_total_failures(stats));
}

static void print_failures(const fpulp_function_t *fn, const fpulp_stats_t *stats) {
  for (int kind = 0; kind < FPULP_FAIL_KINDS; kind++) {
    if (stats->failures[kind] > 0) {
      fprintf(stderr, "%s: %" PRIu64 " inputs: %s\n", fn->name, stats->failures[kind],
              fpulp_fail_name((fpulp_fail_t)kind));
    }
  }
  for (size_t i = 0; i < stats->kept; i++) {
    fprintf(stderr, "%s (%s):\n", fn->name, fpulp_fail_name(stats->kept_kind[i]));
    fpulp_describe(fn, stats->kept_input[i], stderr);
  }
}

/* ---------------------------------------------------------------------------------------------- */
/* Command line. */

static void print_usage(FILE *stream) {
  fprintf(stream,
          "usage: " PROGRAM
          " [FUNCTION...] [--count N] [--seed S] [--threads T]\n"
          "       " PROGRAM
          " [FUNCTION...] --exhaustive [--from X --to Y] [--compare-every K] [--threads T]\n"
          "\n"
          "Measures Sparrow's special functions (exp, recip, rsqrt, tanh; default all) in ulps\n"
          "against double-precision references, checks their prescribed special values and flags,\n"
          "and that the op-by-op definition and the fast form agree bit for bit.\n"
          "\n"
          "  --count N          random bit patterns per function (default %u), plus N/4 uniform\n"
          "                     values and a fixed targeted set\n"
          "  --seed S           PRNG seed, decimal or 0x hex (default %u)\n"
          "  --exhaustive       all 2^32 inputs instead\n"
          "  --from X --to Y    exhaustive: only the bit patterns X..Y (both included, 0x hex)\n"
          "  --compare-every K  exhaustive: run the definition on every K-th input (default %u)\n"
          "  --threads T        worker threads, 1..%u (default %u)\n",
          DEFAULT_COUNT, DEFAULT_SEED, DEFAULT_COMPARE_EVERY, MAX_THREADS, DEFAULT_THREADS);
}

static int usage_error(const char *message, const char *detail) {
  fprintf(stderr, PROGRAM ": %s%s\n(run '" PROGRAM " --help' for usage)\n", message, detail);
  return 2;
}

static bool parse_u64(const char *text, uint64_t *value) {
  if (text == NULL || *text == '\0') {
    return false;
  }
  int base = 10;
  if (strncmp(text, "0x", 2) == 0 || strncmp(text, "0X", 2) == 0) {
    base = 16;
    text += 2;
  }
  char *end = NULL;
  errno = 0;
  unsigned long long parsed = strtoull(text, &end, base);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || text[0] == '+') {
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

/* Returns 0 on success, or the exit status after reporting the problem. */
static int parse_options(int argc, char **argv, options_t *options) {
  *options = (options_t){.count = DEFAULT_COUNT,
                         .seed = DEFAULT_SEED,
                         .threads = DEFAULT_THREADS,
                         .from = 0,
                         .to = ALL_INPUTS - 1,
                         .compare_every = DEFAULT_COMPARE_EVERY};
  bool have_range = false;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    uint64_t number = 0;
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      options->help = true;
    } else if (strcmp(arg, "--exhaustive") == 0) {
      options->exhaustive = true;
    } else if (option_is(arg, "--count")) {
      const char *value = option_value(argc, argv, &i, "--count");
      if (!parse_u64(value, &number) || number == 0 || number > (UINT64_C(1) << 30)) {
        return usage_error("--count needs a whole number from 1 to 2^30, not ",
                           value != NULL ? value : "nothing");
      }
      options->count = number;
    } else if (option_is(arg, "--seed")) {
      const char *value = option_value(argc, argv, &i, "--seed");
      if (!parse_u64(value, &number)) {
        return usage_error("--seed needs a whole number, not ", value != NULL ? value : "nothing");
      }
      options->seed = number;
    } else if (option_is(arg, "--threads")) {
      const char *value = option_value(argc, argv, &i, "--threads");
      if (!parse_u64(value, &number) || number == 0 || number > MAX_THREADS) {
        return usage_error("--threads needs a whole number from 1 to 64, not ",
                           value != NULL ? value : "nothing");
      }
      options->threads = (unsigned)number;
    } else if (option_is(arg, "--from") || option_is(arg, "--to")) {
      bool from = option_is(arg, "--from");
      const char *value = option_value(argc, argv, &i, from ? "--from" : "--to");
      if (!parse_u64(value, &number) || number >= ALL_INPUTS) {
        return usage_error(from ? "--from needs a bit pattern (0 to 0xFFFFFFFF), not "
                                : "--to needs a bit pattern (0 to 0xFFFFFFFF), not ",
                           value != NULL ? value : "nothing");
      }
      *(from ? &options->from : &options->to) = number;
      have_range = true;
    } else if (option_is(arg, "--compare-every")) {
      const char *value = option_value(argc, argv, &i, "--compare-every");
      if (!parse_u64(value, &number) || number == 0) {
        return usage_error("--compare-every needs a whole number of at least 1, not ",
                           value != NULL ? value : "nothing");
      }
      options->compare_every = number;
    } else if (arg[0] == '-') {
      return usage_error("unknown option ", arg);
    } else {
      bool found = false;
      for (size_t f = 0; f < kFpulpFunctionCount; f++) {
        if (strcmp(arg, kFpulpFunctions[f].name) == 0) {
          options->selected[f] = true;
          options->any_selected = true;
          found = true;
        }
      }
      if (!found) {
        return usage_error("unknown function (exp, recip, rsqrt or tanh): ", arg);
      }
    }
  }
  if (have_range && !options->exhaustive) {
    return usage_error("--from and --to need --exhaustive", "");
  }
  if (options->from > options->to) {
    return usage_error("--from must not be above --to", "");
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
    fprintf(stderr, PROGRAM ": this host cannot compute Sparrow's arithmetic: %s\n", why);
    return 2;
  }

  if (!options.exhaustive) {
    printf(PROGRAM ": sampled inputs, %u threads\n", options.threads);
  } else if (options.from == 0 && options.to == ALL_INPUTS - 1) {
    printf(PROGRAM ": all 2^32 inputs per function, %u threads\n", options.threads);
  } else {
    printf(PROGRAM ": inputs 0x%08" PRIX64 "..0x%08" PRIX64 " per function, %u threads\n",
           options.from, options.to, options.threads);
  }
  print_header();
  fflush(stdout);
  uint64_t failures = 0;
  uint64_t inputs = 0;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (size_t f = 0; f < kFpulpFunctionCount; f++) {
    const fpulp_function_t *fn = &kFpulpFunctions[f];
    if (options.any_selected && !options.selected[f]) {
      continue;
    }
    input_list_t list = {0};
    job_t job = {.fn = fn, .compare_every = 1};
    if (options.exhaustive) {
      job.first = options.from;
      job.count = options.to - options.from + 1;
      job.compare_every = options.compare_every;
    } else {
      if (!build_sampled(fn, options.count, options.seed, &list)) {
        free(list.items);
        fprintf(stderr, PROGRAM ": out of memory for the inputs of %s\n", fn->name);
        return 2;
      }
      job.list = list.items;
      job.count = list.count;
    }
    struct timespec function_start;
    clock_gettime(CLOCK_MONOTONIC, &function_start);
    fpulp_stats_t stats;
    bool ran = run_job(&job, options.threads, &stats);
    free(list.items);
    if (!ran) {
      return 2;
    }
    double seconds = seconds_since(&function_start);
    print_row(fn, &stats);
    fprintf(stderr, "%s: %.1f s, %.3g inputs/s\n", fn->name, seconds,
            seconds > 0 ? (double)stats.inputs / seconds : 0.0);
    fflush(stdout);
    print_failures(fn, &stats);
    failures += fpulp_total_failures(&stats);
    inputs += stats.inputs;
  }
  double seconds = seconds_since(&start);
  printf(PROGRAM ": %" PRIu64 " inputs, %" PRIu64 " failures, %.3g inputs/s (%u threads)\n", inputs,
         failures, seconds > 0 ? (double)inputs / seconds : 0.0, options.threads);
  return failures == 0 ? 0 : 1;
}
