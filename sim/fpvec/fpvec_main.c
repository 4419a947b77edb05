// SPDX-License-Identifier: Apache-2.0
//
// sparrow-fpvec: streams TestFloat-format binary32 vectors through the Verilated add/mul units and
// counts every result and flag that differs from the expectation.
//
// Exit status: 0 all vectors match; 1 some mismatch; 2 usage error, unreadable or malformed input,
// or no vectors at all.

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fpvec_format.h"
#include "fpvec_rtl.h"

enum {
  kExitMatch = 0,
  kExitMismatch = 1,
  kExitError = 2,
  kBatchVectors = 1 << 16,
  kDefaultShown = 10,
};

typedef struct options {
  fpvec_op_t op;
  const char *op_name;
  const char *path;  // NULL: standard input
  bool nan_any;      // any NaN matches any expected NaN (for suites with another NaN convention)
  bool coverage;     // also count which classes of operands, results and flags the input exercised
  long shown;        // mismatches printed in full
} options_t;

typedef struct batch {
  uint32_t a[kBatchVectors];
  uint32_t b[kBatchVectors];
  uint32_t want[kBatchVectors];
  uint8_t want_flags[kBatchVectors];
  uint32_t got[kBatchVectors];
  uint8_t got_flags[kBatchVectors];
  unsigned long line[kBatchVectors];
  size_t count;
} batch_t;

typedef struct tally {
  unsigned long vectors;
  unsigned long result_mismatches;
  unsigned long flag_mismatches;
  unsigned long vectors_wrong;  // vectors with a wrong result, wrong flags, or both
} tally_t;

// What the input exercised, by class of value and by flag (the expected side, so a suite's coverage
// does not depend on the design under test).
typedef enum value_class {
  kClassZero,
  kClassSubnormal,
  kClassNormal,
  kClassInfinite,
  kClassQuietNan,
  kClassSignallingNan,
  kClassCount,
} value_class_t;

static const char *const kClassNames[kClassCount] = {"zero", "subnormal", "normal",
                                                     "inf",  "qnan",      "snan"};
static const char *const kFlagNames[5] = {"nx", "uf", "of", "dz", "nv"};

typedef struct coverage {
  unsigned long operands[kClassCount];
  unsigned long results[kClassCount];
  unsigned long flags[5];
} coverage_t;

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: sparrow-fpvec add|mul [FILE] [--nan-any] [--show N] [--coverage]\n"
      "  Reads TestFloat lines 'A B RESULT FLAGS' (hex) from FILE or standard input, runs each\n"
      "  through the RTL binary32 unit and reports result and flag mismatches.\n"
      "  --nan-any  accept any NaN where a NaN is expected (Sparrow itself always returns\n"
      "             0x7FC00000; use this for suites generated with another NaN convention)\n"
      "  --show N   print the first N mismatches in full (default %d)\n"
      "  --coverage also print how many operands, expected results and expected flags fall\n"
      "             in each class (zero, subnormal, normal, inf, qnan, snan; nx uf of dz nv)\n",
      kDefaultShown);
}

static bool parse_options(int argc, char **argv, options_t *opts) {
  *opts = (options_t){.shown = kDefaultShown};
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--nan-any") == 0) {
      opts->nan_any = true;
    } else if (strcmp(arg, "--coverage") == 0) {
      opts->coverage = true;
    } else if (strcmp(arg, "--show") == 0) {
      if (i + 1 == argc) {
        fprintf(stderr, "sparrow-fpvec: --show needs a count\n");
        return false;
      }
      char *end;
      errno = 0;
      opts->shown = strtol(argv[++i], &end, 10);
      if (errno != 0 || *end != '\0' || opts->shown < 0) {
        fprintf(stderr, "sparrow-fpvec: --show wants a count, not '%s'\n", argv[i]);
        return false;
      }
    } else if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      usage(stdout);
      exit(kExitMatch);
    } else if (arg[0] == '-' && arg[1] != '\0') {
      fprintf(stderr, "sparrow-fpvec: unknown option '%s'\n", arg);
      return false;
    } else if (opts->op_name == NULL) {
      opts->op_name = arg;
    } else if (opts->path == NULL) {
      opts->path = strcmp(arg, "-") == 0 ? NULL : arg;
    } else {
      fprintf(stderr, "sparrow-fpvec: unexpected argument '%s'\n", arg);
      return false;
    }
  }
  if (opts->op_name == NULL) {
    fprintf(stderr, "sparrow-fpvec: which operation? (add or mul)\n");
    return false;
  }
  if (strcmp(opts->op_name, "add") == 0) {
    opts->op = kFpvecOpAdd;
  } else if (strcmp(opts->op_name, "mul") == 0) {
    opts->op = kFpvecOpMul;
  } else {
    fprintf(stderr, "sparrow-fpvec: unknown operation '%s' (add or mul)\n", opts->op_name);
    return false;
  }
  return true;
}

static bool is_nan(uint32_t bits) {
  return (bits & 0x7F800000u) == 0x7F800000u && (bits & 0x007FFFFFu);
}

static value_class_t classify(uint32_t bits) {
  uint32_t exponent = (bits >> 23) & 0xFFu;
  uint32_t fraction = bits & 0x007FFFFFu;
  if (exponent == 0) {
    return fraction == 0 ? kClassZero : kClassSubnormal;
  }
  if (exponent != 0xFFu) {
    return kClassNormal;
  }
  if (fraction == 0) {
    return kClassInfinite;
  }
  return (fraction & 0x00400000u) ? kClassQuietNan : kClassSignallingNan;
}

static void count_coverage(const batch_t *batch, coverage_t *coverage) {
  for (size_t i = 0; i < batch->count; i++) {
    coverage->operands[classify(batch->a[i])]++;
    coverage->operands[classify(batch->b[i])]++;
    coverage->results[classify(batch->want[i])]++;
    for (int bit = 0; bit < 5; bit++) {
      coverage->flags[bit] += (batch->want_flags[i] >> bit) & 1u;
    }
  }
}

static void print_coverage(const coverage_t *coverage) {
  printf("coverage: operands");
  for (int c = 0; c < kClassCount; c++) {
    printf(" %s=%lu", kClassNames[c], coverage->operands[c]);
  }
  printf("; results");
  for (int c = 0; c < kClassCount; c++) {
    printf(" %s=%lu", kClassNames[c], coverage->results[c]);
  }
  printf("; flags");
  for (int bit = 0; bit < 5; bit++) {
    printf(" %s=%lu", kFlagNames[bit], coverage->flags[bit]);
  }
  printf("\n");
}

static void check_batch(const options_t *opts, const batch_t *batch, tally_t *tally) {
  for (size_t i = 0; i < batch->count; i++) {
    bool result_ok = batch->got[i] == batch->want[i] ||
                     (opts->nan_any && is_nan(batch->got[i]) && is_nan(batch->want[i]));
    bool flags_ok = batch->got_flags[i] == batch->want_flags[i];
    if (result_ok && flags_ok) {
      continue;
    }
    tally->result_mismatches += !result_ok;
    tally->flag_mismatches += !flags_ok;
    if (tally->vectors_wrong++ < (unsigned long)opts->shown) {
      fprintf(stderr, "line %lu: %s %08X %08X: rtl %08X flags %02X, expected %08X flags %02X%s%s\n",
              batch->line[i], opts->op_name, (unsigned)batch->a[i], (unsigned)batch->b[i],
              (unsigned)batch->got[i], (unsigned)batch->got_flags[i], (unsigned)batch->want[i],
              (unsigned)batch->want_flags[i], result_ok ? "" : " [result]",
              flags_ok ? "" : " [flags]");
    }
  }
  tally->vectors += batch->count;
}

typedef struct session {
  const options_t *opts;
  fpvec_rtl_t *rtl;
  batch_t *batch;
  tally_t tally;
  coverage_t coverage;
} session_t;

static void run_batch(session_t *session) {
  batch_t *batch = session->batch;
  fpvec_rtl_run(session->rtl, session->opts->op, batch->a, batch->b, batch->got, batch->got_flags,
                batch->count);
  check_batch(session->opts, batch, &session->tally);
  if (session->opts->coverage) {
    count_coverage(batch, &session->coverage);
  }
  batch->count = 0;
}

// Reads every vector, running full batches as they fill. Returns false on unreadable or malformed
// input, after saying why.
static bool stream_vectors(FILE *in, const char *in_name, session_t *session) {
  batch_t *batch = session->batch;
  char line[FPVEC_LINE_MAX + 2];
  unsigned long line_number = 0;
  while (fgets(line, sizeof line, in) != NULL) {
    line_number++;
    size_t length = strlen(line);
    if (length == sizeof line - 1 && line[length - 1] != '\n') {
      fprintf(stderr, "sparrow-fpvec: %s:%lu: malformed line: longer than %d characters\n", in_name,
              line_number, FPVEC_LINE_MAX);
      return false;
    }
    fpvec_vector_t vector;
    const char *why = NULL;
    if (fpvec_parse_line(line, &vector, &why) != kFpvecParseOk) {
      fprintf(stderr, "sparrow-fpvec: %s:%lu: malformed line: %s\n", in_name, line_number, why);
      return false;
    }
    size_t slot = batch->count++;
    batch->a[slot] = vector.a;
    batch->b[slot] = vector.b;
    batch->want[slot] = vector.result;
    batch->want_flags[slot] = vector.flags;
    batch->line[slot] = line_number;
    if (batch->count == kBatchVectors) {
      run_batch(session);
    }
  }
  if (ferror(in)) {
    fprintf(stderr, "sparrow-fpvec: %s: read error: %s\n", in_name, strerror(errno));
    return false;
  }
  if (batch->count > 0) {
    run_batch(session);
  }
  return true;
}

static double seconds_now(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  options_t opts;
  if (!parse_options(argc, argv, &opts)) {
    usage(stderr);
    return kExitError;
  }

  const char *in_name = opts.path != NULL ? opts.path : "<stdin>";
  FILE *in = opts.path != NULL ? fopen(opts.path, "r") : stdin;
  if (in == NULL) {
    fprintf(stderr, "sparrow-fpvec: cannot open '%s': %s\n", opts.path, strerror(errno));
    return kExitError;
  }

  session_t session = {.opts = &opts, .batch = calloc(1, sizeof(batch_t)), .rtl = fpvec_rtl_open()};
  if (session.batch == NULL || session.rtl == NULL) {
    fprintf(stderr, "sparrow-fpvec: out of memory\n");
    free(session.batch);
    fpvec_rtl_close(session.rtl);
    return kExitError;
  }

  double start = seconds_now();
  bool read_ok = stream_vectors(in, in_name, &session);
  double elapsed = seconds_now() - start;
  uint64_t cycles = fpvec_rtl_cycles(session.rtl);
  size_t lanes = fpvec_rtl_lanes(session.rtl);
  fpvec_rtl_close(session.rtl);
  free(session.batch);
  if (in != stdin) {
    fclose(in);
  }
  const tally_t tally = session.tally;

  if (!read_ok) {
    return kExitError;
  }
  if (tally.vectors == 0) {
    fprintf(stderr, "sparrow-fpvec: %s: no vectors\n", in_name);
    return kExitError;
  }
  printf(
      "sparrow-fpvec %s: %lu vectors, %lu result mismatches, %lu flag mismatches, "
      "%.0f vectors/s (%zu lanes, %llu cycles)\n",
      opts.op_name, tally.vectors, tally.result_mismatches, tally.flag_mismatches,
      elapsed > 0 ? (double)tally.vectors / elapsed : 0.0, lanes, (unsigned long long)cycles);
  if (opts.coverage) {
    print_coverage(&session.coverage);
  }
  return tally.result_mismatches == 0 && tally.flag_mismatches == 0 ? kExitMatch : kExitMismatch;
}
