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
 * output of a given build is a pure function of (operation, seed, count, suite), and adding a class
 * does not change the vectors of the others. (A few constructions draw twice within one call's
 * arguments, an order C leaves to the compiler: another compiler may pick other vectors.)
 *
 * This file holds the output and the command line; the classes are in fpgen_classes.c, the
 * operand values and the PRNG in fpgen_values.c.
 *
 * Exit status: 0 done, 1 write error, 2 usage error or unfit host.
 */
#include "../../sim/fpvec/fpvec_format.h"
#include "../../sim/model/sparrow_fp.h"
#include "fpgen_classes.h"
#include "fpgen_values.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRAM "sparrow-fpgen"
#define DEFAULT_RANDOM_COUNT 1000000u
#define DEFAULT_SEED 1u

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
  fpgen_rng_seed(&gen.rng, seed, vclass->name);
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
  for (size_t i = 0; i < kFpgenNumClasses; i++) {
    const vector_class_t *vclass = &kFpgenClasses[i];
    if (!fpgen_class_selected(vclass, op, options->suite)) {
      continue;
    }
    uint64_t count = fpgen_class_count(vclass, op, options->random_count);
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

  for (size_t i = 0; i < kFpgenNumClasses; i++) {
    const vector_class_t *vclass = &kFpgenClasses[i];
    if (!fpgen_class_selected(vclass, options->op, options->suite)) {
      continue;
    }
    uint64_t count = fpgen_class_count(vclass, options->op, options->random_count);
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
