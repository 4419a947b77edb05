// SPDX-License-Identifier: Apache-2.0
//
// Logging, option helpers and the clock for the CLI.

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

void sparrow_cli_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("sparrow: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

void sparrow_cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("sparrow: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

bool sparrow_cli_opt(int argc, char **argv, int *i, const char *name, const char **value) {
  const char *arg = argv[*i];
  size_t len = strlen(name);
  if (strncmp(arg, name, len) != 0) {
    return false;
  }
  if (arg[len] == '=') {
    *value = arg + len + 1;
    return true;
  }
  if (arg[len] != '\0') {
    return false;
  }
  if (*i + 1 < argc) {
    *i += 1;
    *value = argv[*i];
  } else {
    *value = NULL;
  }
  return true;
}

bool sparrow_cli_parse_u64(const char *opt, const char *text, uint64_t lo, uint64_t hi,
                           uint64_t *out) {
  if (text == NULL) {
    sparrow_cli_error("%s needs a value", opt);
    return false;
  }
  if (text[0] < '0' || text[0] > '9') {
    sparrow_cli_error("%s: '%s' is not a number", opt, text);
    return false;
  }
  errno = 0;
  char *end = NULL;
  unsigned long long v = strtoull(text, &end, 10);
  if (*end != '\0') {
    sparrow_cli_error("%s: '%s' is not a number", opt, text);
    return false;
  }
  if (errno == ERANGE || v < lo || v > hi) {
    sparrow_cli_error("%s: %s is out of range [%llu, %llu]", opt, text, (unsigned long long)lo,
                      (unsigned long long)hi);
    return false;
  }
  *out = v;
  return true;
}

double sparrow_cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
