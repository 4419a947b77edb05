// SPDX-License-Identifier: Apache-2.0
//
// Tiny JSON writer (see json.h).

#include "json.h"

#include <math.h>

void sparrow_json_write_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)(s != NULL ? s : ""); *p != '\0'; ++p) {
    switch (*p) {
      case '"':
        fputs("\\\"", out);
        break;
      case '\\':
        fputs("\\\\", out);
        break;
      case '\n':
        fputs("\\n", out);
        break;
      case '\r':
        fputs("\\r", out);
        break;
      case '\t':
        fputs("\\t", out);
        break;
      default:
        if (*p < 0x20) {
          fprintf(out, "\\u%04x", *p);
        } else {
          fputc(*p, out);
        }
    }
  }
  fputc('"', out);
}

void sparrow_json_begin(sparrow_json_t *json, FILE *out) {
  json->out = out;
  json->fields = 0;
  fputc('{', out);
}

static void key(sparrow_json_t *json, const char *name) {
  if (json->fields++ > 0) {
    fputc(',', json->out);
  }
  sparrow_json_write_string(json->out, name);
  fputc(':', json->out);
}

void sparrow_json_str(sparrow_json_t *json, const char *name, const char *value) {
  key(json, name);
  sparrow_json_write_string(json->out, value);
}

void sparrow_json_u64(sparrow_json_t *json, const char *name, uint64_t value) {
  key(json, name);
  fprintf(json->out, "%llu", (unsigned long long)value);
}

void sparrow_json_bool(sparrow_json_t *json, const char *name, bool value) {
  key(json, name);
  fputs(value ? "true" : "false", json->out);
}

void sparrow_json_f64(sparrow_json_t *json, const char *name, double value) {
  key(json, name);
  if (!isfinite(value)) {
    fputs("null", json->out);
    return;
  }
  fprintf(json->out, "%.9g", value);
}

void sparrow_json_end(sparrow_json_t *json) {
  fputs("}\n", json->out);
  fflush(json->out);
}
