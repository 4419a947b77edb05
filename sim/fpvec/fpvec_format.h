// SPDX-License-Identifier: Apache-2.0
//
// The TestFloat test-vector line format for binary32 two-operand operations:
//
//   AAAAAAAA BBBBBBBB RRRRRRRR FF
//
// operand A, operand B, expected result (8 hex digits each) and expected exception flags (2 hex
// digits: bit0 inexact, bit1 underflow, bit2 overflow, bit3 divide-by-zero, bit4 invalid),
// separated by single spaces or tabs. This is what Berkeley TestFloat's testfloat_gen writes for
// f32_add and f32_mul, and what sparrow-fpgen writes.

#ifndef SPARROW_SIM_FPVEC_FPVEC_FORMAT_H_
#define SPARROW_SIM_FPVEC_FPVEC_FORMAT_H_

#include <stddef.h>
#include <stdint.h>

// Longest line accepted, including the newline; anything longer is malformed.
#define FPVEC_LINE_MAX 64

// The bits a flags field may hold.
#define FPVEC_FLAGS_MASK 0x1Fu

typedef struct fpvec_vector {
  uint32_t a;
  uint32_t b;
  uint32_t result;
  uint8_t flags;
} fpvec_vector_t;

typedef enum fpvec_parse_result {
  kFpvecParseOk = 0,
  kFpvecParseMalformed = 1,
} fpvec_parse_result_t;

// Parses one line (with or without its trailing "\n" or "\r\n"). On failure, *why names the defect.
fpvec_parse_result_t fpvec_parse_line(const char *line, fpvec_vector_t *vector, const char **why)
    __attribute__((warn_unused_result));

// Writes the line for `vector`, newline included, into `out` (at least FPVEC_LINE_MAX bytes).
// Returns the number of characters written.
size_t fpvec_format_line(const fpvec_vector_t *vector, char *out);

#endif  // SPARROW_SIM_FPVEC_FPVEC_FORMAT_H_
