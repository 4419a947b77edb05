// SPDX-License-Identifier: Apache-2.0
//
// Block-sparse weights in BSR (block compressed sparse row) form (docs/sparsity.md).
//
// A weight matrix W of a linear layer Y = X * W is K x N (rows = K inputs, cols = N outputs) and is
// cut into b x b blocks: block_rows = K / b, block_cols = N / b. Only the blocks of a static mask
// are stored:
//   row_ptr[block_rows + 1]  block row r holds the stored blocks row_ptr[r] .. row_ptr[r + 1] - 1;
//   col_idx[nnz_blocks]      their block columns, strictly ascending within each block row;
//   values[nnz_blocks*b*b]   their values, one block after the other, each block row-major.
// The block size is a property of the model (default SPARROW_BSR_DEFAULT_BLOCK) and must be a
// multiple of the device's LANES, so that one checkpoint runs on every configuration.
//
// Values are binary32 bit patterns: this file copies them and never computes with them, so NaN
// payloads, signalling NaNs and negative zeros come back exactly as they went in.
//
// Every fallible call returns a sparrow_bsr_status_t and, on failure, writes a one-line reason to
// msg (msg_len bytes; msg may be NULL). Calls that fill a sparrow_bsr_t or sparrow_bsr_pattern_t
// allocate its arrays (the library owns them until sparrow_bsr_free / sparrow_bsr_pattern_free);
// on failure nothing is allocated and the output is zeroed. The library never exits or aborts.

#ifndef SPARROW_DRIVER_INCLUDE_SPARROW_BSR_H_
#define SPARROW_DRIVER_INCLUDE_SPARROW_BSR_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPARROW_BSR_DEFAULT_BLOCK 8u

typedef enum sparrow_bsr_status {
  SPARROW_BSR_OK = 0,
  SPARROW_BSR_E_ARG,      // NULL pointer, zero or mismatched size, block size not dividing K or N
  SPARROW_BSR_E_NOMEM,    // host out of memory, or the matrix too large to address
  SPARROW_BSR_E_INVALID,  // the structure breaks the format (validate says which rule and where)
} sparrow_bsr_status_t;

const char *sparrow_bsr_status_name(sparrow_bsr_status_t status);

// A K x N matrix in BSR form.
typedef struct sparrow_bsr {
  uint32_t rows;        // K
  uint32_t cols;        // N
  uint32_t block;       // b
  uint32_t block_rows;  // K / b
  uint32_t block_cols;  // N / b
  uint32_t nnz_blocks;  // stored blocks, = row_ptr[block_rows]
  uint32_t *row_ptr;
  uint32_t *col_idx;
  float *values;
} sparrow_bsr_t;

// The block pattern of a matrix whose blocks live elsewhere: entry i (in BSR order) is the stored
// block perm[i] of the matrix the pattern was derived from. This is how W^T is described without
// moving any values: the data-gradient SpMM dX = dY * W^T walks this pattern and reads W's blocks
// (each read as its transpose).
typedef struct sparrow_bsr_pattern {
  uint32_t rows;
  uint32_t cols;
  uint32_t block;
  uint32_t block_rows;
  uint32_t block_cols;
  uint32_t nnz_blocks;
  uint32_t *row_ptr;  // block_rows + 1
  uint32_t *col_idx;  // nnz_blocks
  uint32_t *perm;     // nnz_blocks: position of the stored block in the source matrix
} sparrow_bsr_pattern_t;

// Packs a dense row-major rows x cols matrix: the blocks whose mask byte (block_rows x block_cols,
// row-major) is non-zero are stored, all others dropped. rows and cols must be non-zero multiples
// of block.
sparrow_bsr_status_t sparrow_bsr_from_dense(const float *dense, uint32_t rows, uint32_t cols,
                                            uint32_t block, const uint8_t *mask, sparrow_bsr_t *out,
                                            char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// Unpacks into dense (rows x cols floats, row-major, caller-owned): absent blocks become +0.0.
sparrow_bsr_status_t sparrow_bsr_to_dense(const sparrow_bsr_t *bsr, float *dense, char *msg,
                                          size_t msg_len) __attribute__((warn_unused_result));

// The block mask of a matrix (block_rows x block_cols bytes, caller-owned): 1 where a block is
// stored, 0 elsewhere.
sparrow_bsr_status_t sparrow_bsr_mask(const sparrow_bsr_t *bsr, uint8_t *mask, char *msg,
                                      size_t msg_len) __attribute__((warn_unused_result));

// Checks every rule of the format against a device with the given LANES: sizes (non-zero, K and N
// multiples of the block size, the block size a multiple of lanes, block_rows/block_cols matching),
// row_ptr (starts at 0, never decreases, ends at nnz_blocks), col_idx (in range, strictly
// ascending per block row) and the arrays present. The first defect found is reported with where
// it is, e.g. "row_ptr[3]=7 > row_ptr[4]=5".
sparrow_bsr_status_t sparrow_bsr_validate(const sparrow_bsr_t *bsr, uint32_t lanes, char *msg,
                                          size_t msg_len) __attribute__((warn_unused_result));

// The same checks for a pattern (no lanes, no values; perm must be a permutation of
// 0 .. nnz_blocks - 1).
sparrow_bsr_status_t sparrow_bsr_pattern_validate(const sparrow_bsr_pattern_t *pattern, char *msg,
                                                  size_t msg_len)
    __attribute__((warn_unused_result));

// The transposed pattern: a description of W^T (rows = N, cols = K) whose entries refer to W's
// stored blocks through perm. Within each block row of W^T the columns ascend, as in any BSR.
sparrow_bsr_status_t sparrow_bsr_transpose_pattern(const sparrow_bsr_t *bsr,
                                                   sparrow_bsr_pattern_t *out, char *msg,
                                                   size_t msg_len)
    __attribute__((warn_unused_result));

// Transposes a pattern: perm still refers to the original stored blocks (the composition), so
// transposing W's transposed pattern gives back W's row_ptr, col_idx and the identity perm.
sparrow_bsr_status_t sparrow_bsr_pattern_transpose(const sparrow_bsr_pattern_t *pattern,
                                                   sparrow_bsr_pattern_t *out, char *msg,
                                                   size_t msg_len)
    __attribute__((warn_unused_result));

// Materializes W^T as a BSR of its own (for a kernel that wants its blocks in place): pattern
// must be bsr's transposed pattern; block i of out holds block pattern->perm[i] of bsr, transposed.
sparrow_bsr_status_t sparrow_bsr_materialize_transpose(const sparrow_bsr_t *bsr,
                                                       const sparrow_bsr_pattern_t *pattern,
                                                       sparrow_bsr_t *out, char *msg,
                                                       size_t msg_len)
    __attribute__((warn_unused_result));

// Stored blocks per block row (counts: block_rows entries) and per block column (block_cols
// entries), both caller-owned. The per-column counts are the work of each output block column.
sparrow_bsr_status_t sparrow_bsr_block_row_counts(const sparrow_bsr_t *bsr, uint32_t *counts,
                                                  char *msg, size_t msg_len)
    __attribute__((warn_unused_result));
sparrow_bsr_status_t sparrow_bsr_block_col_counts(const sparrow_bsr_t *bsr, uint32_t *counts,
                                                  char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// Frees what the library allocated and zeroes the struct (NULL and zeroed structs are fine).
void sparrow_bsr_free(sparrow_bsr_t *bsr);
void sparrow_bsr_pattern_free(sparrow_bsr_pattern_t *pattern);

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_DRIVER_INCLUDE_SPARROW_BSR_H_
