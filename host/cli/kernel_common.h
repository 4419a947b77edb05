// SPDX-License-Identifier: Apache-2.0
//
// The harness the `sparrow kernel OP` commands share (cmd_kernel*.c), written once: the common
// options (--device, --seed, --json, --special, the shape dimensions), the seeded inputs, opening
// the device and describing it, checking the device's outputs against the golden and plain
// references (bits, FP flags, normwise error, checksum), and the parts of the report and of the
// one-line JSON result that every command writes alike. Prefix sparrow_cli_kc_ ("kernel command").

#ifndef SPARROW_HOST_CLI_KERNEL_COMMON_H_
#define SPARROW_HOST_CLI_KERNEL_COMMON_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "sparrow.h"

// ---------------------------------------------------------------------------------------------------
// Operator names.

// The index of name in names[0 .. count), or -1.
int sparrow_cli_kc_find(const char *const *names, unsigned count, const char *name);
// The names, one a line.
void sparrow_cli_kc_list(FILE *out, const char *const *names, unsigned count);

// ---------------------------------------------------------------------------------------------------
// Options.

typedef struct sparrow_cli_kc_opts {
  const char *device;
  uint64_t seed;
  bool json;
  bool special;
  bool special_ok;  // whether the command takes --special
} sparrow_cli_kc_opts_t;

// The defaults: the default device, seed 1, text output, no special values.
void sparrow_cli_kc_opts_init(sparrow_cli_kc_opts_t *opts, bool special_ok);
// Whether argv[*i] is one of the common options (--json, --device, --seed and, when the command
// takes it, --special); if so it is parsed into *opts, and *rc is set to SPARROW_CLI_EXIT_USAGE
// (after an error message) when its value is bad.
bool sparrow_cli_kc_common_opt(int argc, char **argv, int *i, sparrow_cli_kc_opts_t *opts, int *rc);
// Whether argv[*i] is the dimension option `name`; if so its value (in [1, hi]) goes to *out, and
// *rc is set to SPARROW_CLI_EXIT_USAGE (after an error message) when it is bad.
bool sparrow_cli_kc_dim_opt(int argc, char **argv, int *i, const char *name, uint64_t hi,
                            uint32_t *out, int *rc);

// ---------------------------------------------------------------------------------------------------
// Inputs.

// count words uniform in [-2^e, 2^e) from seed (sparrow_ref_fill_uniform scaled by 2^e: exact).
void sparrow_cli_kc_fill(uint64_t seed, size_t count, int e, uint32_t *words);
uint32_t sparrow_cli_kc_fbits(float f);
float sparrow_cli_kc_bitsf(uint32_t bits);

// ---------------------------------------------------------------------------------------------------
// The device.

typedef struct sparrow_cli_kc_dev {
  sparrow_dev_t *dev;
  sparrow_info_t info;
  char config[sizeof(((sparrow_info_t *)0)->config) + 1];  // info.config, terminated
  const char *fabric;                                      // info.fabric, or "?"
} sparrow_cli_kc_dev_t;

// Checks that this host's binary32 arithmetic suits the golden check, then opens the device and
// reads its description. Returns SPARROW_CLI_EXIT_OK, else the exit code after printing why (a
// malformed URI is bad usage; anything else the device's or the transport's failure).
int sparrow_cli_kc_open(const char *uri, sparrow_cli_kc_dev_t *kd)
    __attribute__((warn_unused_result));
// Closes the device (once; a closed one is left alone).
void sparrow_cli_kc_close(sparrow_cli_kc_dev_t *kd);
// Whether the device's memory holds need bytes; if not, prints "WHAT needs [at least ]NEED bytes
// of device memory; the device has N" and closes the device.
bool sparrow_cli_kc_fits(sparrow_cli_kc_dev_t *kd, const char *what, uint64_t need, bool at_least)
    __attribute__((warn_unused_result));
// Logs "WHAT on URI (configuration C, F fabric, T tiles x L lanes)".
void sparrow_cli_kc_log_device(const sparrow_cli_kc_dev_t *kd, const char *what, const char *uri);

// ---------------------------------------------------------------------------------------------------
// Checks.

#define SPARROW_CLI_KC_MAX_TENSORS 8u

typedef struct sparrow_cli_kc_check {
  // Bits, over the outputs in order: elements that differ from the golden result, elements that
  // are not finite (and of those NaNs), all elements.
  size_t mismatches, nonfinite, nans, elements;
  // Normwise errors against the plain reference, one per checked tensor, with their bounds; the
  // largest error (a NaN sticks) and the tensor whose error is the largest fraction of its bound.
  uint32_t tensors;
  const char *name[SPARROW_CLI_KC_MAX_TENSORS];
  double err[SPARROW_CLI_KC_MAX_TENSORS], tol[SPARROW_CLI_KC_MAX_TENSORS];
  double err_max, worst_ratio;
  uint32_t worst;
  size_t nonfinite_mismatches;  // elements finite in one result and not in the other
  // The verdicts (sparrow_cli_kc_check_finish) and their words.
  bool exact, flags_exact, within;
  uint32_t fp_status, golden_flags;
  char flags[32], golden_flags_text[32];
  uint64_t checksum, golden_checksum;
  char checksum_hex[19], golden_hex[19];
} sparrow_cli_kc_check_t;

void sparrow_cli_kc_check_init(sparrow_cli_kc_check_t *c);
// Adds one output's bits: its mismatches against the golden result and its non-finite elements.
void sparrow_cli_kc_check_bits(sparrow_cli_kc_check_t *c, size_t count, const uint32_t *dev,
                               const uint32_t *golden);
// Adds one tensor's normwise error against the plain reference, within tol (at most
// SPARROW_CLI_KC_MAX_TENSORS of them).
void sparrow_cli_kc_check_norm(sparrow_cli_kc_check_t *c, const char *name, size_t count,
                               const uint32_t *dev, const uint32_t *plain, double tol);
// The FNV-1a 64 checksums of the outputs and of the golden outputs, each taken in order as one
// array. False (after "NAME: host out of memory") when the host has no memory for them.
bool sparrow_cli_kc_checksums(sparrow_cli_kc_check_t *c, const char *name, uint32_t outputs,
                              const size_t *count, uint32_t *const *dev, uint32_t *const *golden)
    __attribute__((warn_unused_result));
// The verdicts: exact bits, the device's FP status equal to the golden flags; and the words.
void sparrow_cli_kc_check_finish(sparrow_cli_kc_check_t *c, uint32_t fp_status,
                                 uint8_t golden_flags);
// "NV DZ OF UF NX" (those raised), or "none".
void sparrow_cli_kc_flags_text(uint32_t flags, char *out, size_t len);
// 16 lower-case hex digits.
void sparrow_cli_kc_hex64(uint64_t v, char out[19]);

// ---------------------------------------------------------------------------------------------------
// The report.

// "WHAT on URI (configuration C, F fabric), seed S" then the two suffixes (NULL: none), a line.
void sparrow_cli_kc_print_title(const sparrow_cli_kc_opts_t *opts, const sparrow_cli_kc_dev_t *kd,
                                const char *what, const char *suffix1, const char *suffix2);
// The "golden check" and "fp status" lines.
void sparrow_cli_kc_print_bits(const sparrow_cli_kc_check_t *c);
// The "DRAM", "wall time" and "checksum" lines (the checksum of `of`: "result", "outputs").
void sparrow_cli_kc_print_tail(const sparrow_cli_kc_check_t *c, uint64_t rd, uint64_t wr,
                               double wall_s, const char *of);
// The warning when the result holds non-finite elements, then the verdict: SPARROW_CLI_EXIT_OK,
// or SPARROW_CLI_EXIT_FAIL after "NAME SHAPE: why" (extra_ok false: extra_why, checked last).
int sparrow_cli_kc_verdict(const sparrow_cli_kc_check_t *c, const char *name, const char *shape,
                           bool extra_ok, const char *extra_why);

// JSON fields: device, config, fabric, seed (and special when the command takes it).
void sparrow_cli_kc_json_run(sparrow_json_t *j, const sparrow_cli_kc_opts_t *opts,
                             const sparrow_cli_kc_dev_t *kd);
// exact, mismatches, elements, fp_status, fp_flags, golden_fp_status, flags_exact, nonfinite, nans.
void sparrow_cli_kc_json_bits(sparrow_json_t *j, const sparrow_cli_kc_check_t *c);
// Per tensor, err_NAME (and tol_NAME when with_tol).
void sparrow_cli_kc_json_errs(sparrow_json_t *j, const sparrow_cli_kc_check_t *c, bool with_tol);
// nonfinite_mismatches, within.
void sparrow_cli_kc_json_within(sparrow_json_t *j, const sparrow_cli_kc_check_t *c);
// wall_s, checksum, golden_checksum, and the end of the line.
void sparrow_cli_kc_json_end(sparrow_json_t *j, const sparrow_cli_kc_check_t *c, double wall_s);

#endif  // SPARROW_HOST_CLI_KERNEL_COMMON_H_
