// SPDX-License-Identifier: Apache-2.0
//
// The sparrow command line: shared declarations of the subcommands and their helpers.

#ifndef SPARROW_HOST_CLI_CLI_H_
#define SPARROW_HOST_CLI_CLI_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparrow.h"

#define SPARROW_CLI_VERSION "0.1.0"
#define SPARROW_CLI_DEFAULT_DEVICE "sim"

// Exit codes: 0 success; 1 the device failed or a result check failed; 2 bad usage.
enum {
  SPARROW_CLI_EXIT_OK = 0,
  SPARROW_CLI_EXIT_FAIL = 1,
  SPARROW_CLI_EXIT_USAGE = 2,
};

int sparrow_cli_info(int argc, char **argv);
int sparrow_cli_kernel(int argc, char **argv);
int sparrow_cli_devices(int argc, char **argv);
int sparrow_cli_bench(int argc, char **argv);
// sparrow train, sparrow sample (cmd_train.c, cmd_sample.c) and sparrow bench --study
// (cmd_study.c; argv as bench got it: the study skips its --study).
int sparrow_cli_train(int argc, char **argv);
int sparrow_cli_sample(int argc, char **argv);
int sparrow_cli_study(int argc, char **argv);

// One operator run on an open device and checked, as `sparrow kernel` and `sparrow bench` do it
// (cmd_kernel.c). Inputs come from the seed (docs/ops.md, "Checks and tolerances").
typedef enum sparrow_cli_op {
  SPARROW_CLI_OP_GEMM,
  SPARROW_CLI_OP_SPMM,
  SPARROW_CLI_OP_SPMM_T,
  SPARROW_CLI_OP_SDDMM,
} sparrow_cli_op_t;

typedef struct sparrow_cli_kernel_spec {
  sparrow_cli_op_t op;
  uint32_t m, n, k;
  uint32_t density_den;  // sparse: density 1 / density_den (1, 2, 4, 8, 16)
  bool magnitude;        // sparse: magnitude mask of the random dense W (else balanced random)
  uint32_t block;        // sparse: the BSR block size
  uint64_t seed;
} sparrow_cli_kernel_spec_t;

typedef struct sparrow_cli_kernel_result {
  bool exact, within;
  size_t mismatches, count;  // elements compared
  double max_rel_err, tolerance;
  uint64_t cycles, est_cycles;
  uint64_t macs;         // the operator's work: m*n*k, or nnz_blocks * block^2 * m
  uint64_t fabric_macs;  // what the PCUs counted
  uint64_t dram_rd, dram_wr;
  uint64_t weight_bytes;  // DRAM bytes of the weight-shaped operand (docs/ops.md)
  uint32_t launches;
  size_t entries;
  uint32_t fp_status;
  uint32_t nnz_blocks;
  double density;
  double wall_s;
  uint64_t checksum, golden_checksum;
  char tiling[200];  // the plan in words
} sparrow_cli_kernel_result_t;

const char *sparrow_cli_op_name(sparrow_cli_op_t op);
// Returns SPARROW_CLI_EXIT_OK when the device ran it (the checks are in *res: a failed check is not
// a failed run), else SPARROW_CLI_EXIT_FAIL after printing why.
int sparrow_cli_kernel_run(sparrow_dev_t *dev, const sparrow_info_t *info,
                           const sparrow_cli_kernel_spec_t *spec, sparrow_cli_kernel_result_t *res);

// Logging and progress go to stderr (stdout is reserved for results, one JSON line with --json).
void sparrow_cli_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sparrow_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

// Option parsing helpers. An option's value is either "--opt=value" or the next argument.
// Returns true when argv[*i] is option `name`; *value gets its value (or NULL when missing).
bool sparrow_cli_opt(int argc, char **argv, int *i, const char *name, const char **value);
// Parses a decimal unsigned integer in [lo, hi]; false (and an error message) otherwise.
bool sparrow_cli_parse_u64(const char *opt, const char *text, uint64_t lo, uint64_t hi,
                           uint64_t *out);

// Wall-clock seconds from a monotonic clock.
double sparrow_cli_now(void);

// Output files (outfiles.c). mkdir -p: 0 when path is (now) a directory, else -1 with errno set.
int sparrow_cli_mkdir_p(const char *path);
// Runs gnuplot on script in folder dir (NULL: the current one), after the commands defs (NULL:
// none; gnuplot -e, e.g. "out='x.png'"). gnuplot's output goes to stderr. True when it ran and
// exited 0.
bool sparrow_cli_gnuplot(const char *dir, const char *script, const char *defs);

#endif  // SPARROW_HOST_CLI_CLI_H_
