// SPDX-License-Identifier: Apache-2.0
//
// Small integer helpers shared by the ops library's sources (the planners, builders and their
// cycle estimates). Private to host/ops: not part of the library's API, and included by .c files
// and private headers only.

#ifndef SPARROW_HOST_OPS_OPS_UTIL_H_
#define SPARROW_HOST_OPS_OPS_UTIL_H_

#include <stdint.h>

static inline uint32_t min_u32(uint32_t a, uint32_t b) {
  return a < b ? a : b;
}

static inline uint64_t min_u64(uint64_t a, uint64_t b) {
  return a < b ? a : b;
}

static inline uint64_t max_u64(uint64_t a, uint64_t b) {
  return a > b ? a : b;
}

// ceil(a / b) for b >= 1 (the sum is formed in 64 bits, so a + b - 1 cannot wrap).
static inline uint32_t ceil_div_u32(uint32_t a, uint32_t b) {
  return (uint32_t)(((uint64_t)a + b - 1u) / b);
}

// ceil(a / b) for b >= 1, for any a (no a + b - 1 to overflow).
static inline uint64_t ceil_div_u64(uint64_t a, uint64_t b) {
  return a / b + (a % b != 0);
}

// Splits `total` items into `parts` (>= 1) balanced runs; run p gets *count items starting at
// *first (the first total % parts runs one item more).
static inline void split_even(uint32_t total, uint32_t parts, uint32_t p, uint32_t *first,
                              uint32_t *count) {
  uint32_t base = total / parts;
  uint32_t extra = total % parts;
  *count = base + (p < extra ? 1u : 0u);
  *first = p * base + min_u32(p, extra);
}

#endif  // SPARROW_HOST_OPS_OPS_UTIL_H_
