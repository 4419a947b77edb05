// SPDX-License-Identifier: Apache-2.0
//
// Block masks for the block-sparse weights (docs/sparsity.md): which b x b blocks of a K x N
// weight matrix are stored. A mask is block_rows x block_cols bytes, row-major, 1 = stored.
//
// Both generators are balanced: every output block column (a column of the mask) gets the same
// number of blocks, so every output block column of Y = X * W costs the same work on the fabric.
// The density is 1/denominator with denominator 1, 2, 4, 8 or 16; each block column then gets
// sparrow_mask_blocks_per_col(block_rows, denominator) blocks.
//
// Every fallible call returns a sparrow_mask_status_t and, on failure, writes a one-line reason to
// msg (msg_len bytes; msg may be NULL), leaving the outputs untouched.

#ifndef SPARROW_HOST_OPS_SPARROW_MASK_H_
#define SPARROW_HOST_OPS_SPARROW_MASK_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sparrow_mask_status {
  SPARROW_MASK_OK = 0,
  SPARROW_MASK_E_ARG,    // NULL pointer, zero size, unsupported density, unparsable text
  SPARROW_MASK_E_NOMEM,  // host out of memory
  SPARROW_MASK_E_NAN,    // a block's magnitude is NaN (NaN in the weights)
} sparrow_mask_status_t;

const char *sparrow_mask_status_name(sparrow_mask_status_t status);

// Whether denominator is one of the supported densities (1, 2, 4, 8, 16).
bool sparrow_mask_density_supported(uint32_t denominator);

// Blocks per block column at density 1/denominator: round(block_rows / denominator), halves
// rounded up, and at least 1 (a block column with no block would have an output stuck at zero).
// denominator must be supported and block_rows non-zero (0 is returned otherwise).
uint32_t sparrow_mask_blocks_per_col(uint32_t block_rows, uint32_t denominator);

// Parses a density: "1", "1/2", "0.5", "1/8", "0.125", "2/4", "0.0625" ... Exactly 1, 1/2, 1/4,
// 1/8 or 1/16 is accepted (computed in integers, so "0.3" is not rounded to anything); no sign,
// no spaces, no exponent. On success *denominator is 1, 2, 4, 8 or 16.
sparrow_mask_status_t sparrow_mask_parse_density(const char *text, uint32_t *denominator, char *msg,
                                                 size_t msg_len)
    __attribute__((warn_unused_result));

// A balanced random mask: in every block column, blocks_per_col distinct block rows chosen
// uniformly at random (without replacement). The same seed gives the same mask on every host
// (the generator is the library's own, not the C library's).
sparrow_mask_status_t sparrow_mask_balanced_random(uint32_t block_rows, uint32_t block_cols,
                                                   uint32_t denominator, uint64_t seed,
                                                   uint8_t *mask, char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// Magnitude pruning: in every block column, the blocks_per_col blocks with the largest score of a
// dense row-major rows x cols matrix, where a block's score is the sum of the squares of its values
// in double precision. Equal scores go to the lower block row. A NaN score is an error.
// rows and cols must be non-zero multiples of block.
sparrow_mask_status_t sparrow_mask_magnitude(const float *dense, uint32_t rows, uint32_t cols,
                                             uint32_t block, uint32_t denominator, uint8_t *mask,
                                             char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_OPS_SPARROW_MASK_H_
