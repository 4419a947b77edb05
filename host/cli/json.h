// SPDX-License-Identifier: Apache-2.0
//
// A tiny JSON writer for the CLI's --json output: one object, on one line, written as it goes.

#ifndef SPARROW_HOST_CLI_JSON_H_
#define SPARROW_HOST_CLI_JSON_H_

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct sparrow_json {
  FILE *out;
  int fields;
} sparrow_json_t;

void sparrow_json_begin(sparrow_json_t *json, FILE *out);
void sparrow_json_str(sparrow_json_t *json, const char *key, const char *value);
void sparrow_json_u64(sparrow_json_t *json, const char *key, uint64_t value);
void sparrow_json_bool(sparrow_json_t *json, const char *key, bool value);
// Non-finite values are written as null (JSON has no infinity or NaN).
void sparrow_json_f64(sparrow_json_t *json, const char *key, double value);
// Ends the object and the line, and flushes.
void sparrow_json_end(sparrow_json_t *json);

// Writes s as a JSON string literal (quotes and escapes included).
void sparrow_json_write_string(FILE *out, const char *s);

#endif  // SPARROW_HOST_CLI_JSON_H_
