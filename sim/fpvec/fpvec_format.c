// SPDX-License-Identifier: Apache-2.0

#include "fpvec_format.h"

#include <stdio.h>

static int hex_digit_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// Reads exactly `digits` hex digits at *cursor; advances the cursor on success.
static int parse_hex_field(const char **cursor, int digits, uint32_t *value) {
  uint32_t accumulated = 0;
  for (int i = 0; i < digits; i++) {
    int nibble = hex_digit_value((*cursor)[i]);
    if (nibble < 0) {
      return 0;
    }
    accumulated = (accumulated << 4) | (uint32_t)nibble;
  }
  *cursor += digits;
  *value = accumulated;
  return 1;
}

static int is_separator(char c) {
  return c == ' ' || c == '\t';
}

static int is_line_end(const char *cursor) {
  return cursor[0] == '\0' || (cursor[0] == '\n' && cursor[1] == '\0') ||
         (cursor[0] == '\r' && cursor[1] == '\n' && cursor[2] == '\0');
}

fpvec_parse_result_t fpvec_parse_line(const char *line, fpvec_vector_t *vector, const char **why) {
  static const struct {
    int digits;
    const char *name;
  } kFields[] = {{8, "operand A"}, {8, "operand B"}, {8, "result"}, {2, "flags"}};
  uint32_t values[4];
  const char *cursor = line;

  if (is_line_end(cursor)) {
    *why = "empty line";
    return kFpvecParseMalformed;
  }

  for (size_t i = 0; i < sizeof(kFields) / sizeof(kFields[0]); i++) {
    if (i > 0) {
      if (!is_separator(*cursor)) {
        *why = is_line_end(cursor) ? "too few fields (want: A B RESULT FLAGS)"
                                   : "fields must be separated by one space or tab";
        return kFpvecParseMalformed;
      }
      cursor++;
    }
    if (!parse_hex_field(&cursor, kFields[i].digits, &values[i])) {
      *why = i == 3 ? "flags must be exactly 2 hex digits"
                    : "operands and result must be exactly 8 hex digits";
      return kFpvecParseMalformed;
    }
  }
  if (!is_line_end(cursor)) {
    *why = hex_digit_value(*cursor) >= 0 ? "field too long" : "unexpected text after the flags";
    return kFpvecParseMalformed;
  }
  if (values[3] & ~FPVEC_FLAGS_MASK) {
    *why = "flags use bits above bit 4";
    return kFpvecParseMalformed;
  }
  vector->a = values[0];
  vector->b = values[1];
  vector->result = values[2];
  vector->flags = (uint8_t)values[3];
  return kFpvecParseOk;
}

size_t fpvec_format_line(const fpvec_vector_t *vector, char *out) {
  int written = snprintf(out, FPVEC_LINE_MAX, "%08X %08X %08X %02X\n", (unsigned)vector->a,
                         (unsigned)vector->b, (unsigned)vector->result, (unsigned)vector->flags);
  return written < 0 ? 0 : (size_t)written;
}
