// SPDX-License-Identifier: Apache-2.0
//
// The sparrow command line: shared declarations of the subcommands and their helpers.

#ifndef SPARROW_HOST_CLI_CLI_H_
#define SPARROW_HOST_CLI_CLI_H_

#include <stdbool.h>
#include <stdint.h>

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

#endif  // SPARROW_HOST_CLI_CLI_H_
