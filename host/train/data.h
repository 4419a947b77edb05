// SPDX-License-Identifier: Apache-2.0
//
// Training text (docs/training.md, "Data"): any file, read as bytes. The vocabulary is the set of
// byte values that occur, in ascending order (token id i is the i-th smallest byte present); the
// model pads it to a multiple of its block size. The last 10% of the text (SPARROW_TRAIN_VAL_DIV)
// is the validation split, the rest the training split; each must hold at least context + 1 bytes.
//
// Batches are B windows of T + 1 bytes at uniformly random offsets inside one split, drawn from a
// splitmix64 state (rng.h) that the caller owns: the training loop keeps it in its checkpoint.

#ifndef SPARROW_HOST_TRAIN_DATA_H_
#define SPARROW_HOST_TRAIN_DATA_H_

#include <stdbool.h>
#include <stdint.h>

#include "sparrow_train.h"

#define SPARROW_TRAIN_VAL_DIV 10u  // the validation split is the last 1/10 of the text

typedef enum sparrow_train_split {
  SPARROW_TRAIN_SPLIT_TRAIN = 0,
  SPARROW_TRAIN_SPLIT_VAL = 1,
} sparrow_train_split_t;

typedef struct sparrow_train_data {
  uint8_t *ids;        // the text as token ids, n of them
  uint64_t n;          // bytes of text
  uint64_t n_train;    // ids[0, n_train) train, ids[n_train, n) validation
  uint32_t vocab;      // distinct bytes
  uint8_t chars[256];  // chars[id]: the byte of token id (vocab entries used)
  int16_t id_of[256];  // id_of[byte]: its token id, or -1 when the byte does not occur
  uint64_t hash;       // FNV-1a 64 of the raw bytes: identifies the text in checkpoints
} sparrow_train_data_t;

// Reads path and builds vocabulary and splits. context is the model's T: both splits must hold at
// least context + 1 bytes. Fails (E_IO, E_DATA) with a message naming the file and the reason:
// missing, unreadable, empty, too short.
sparrow_train_status_t sparrow_train_data_load(const char *path, uint32_t context,
                                               sparrow_train_data_t *data, char *msg,
                                               size_t msg_len) __attribute__((warn_unused_result));

void sparrow_train_data_free(sparrow_train_data_t *data);

// B x T inputs and targets (targets[i] = the byte after inputs[i]) from split, advancing *rng by
// exactly B draws. T must not exceed the context the data was loaded for.
void sparrow_train_data_batch(const sparrow_train_data_t *data, sparrow_train_split_t split,
                              uint64_t *rng, uint32_t B, uint32_t T, uint32_t *inputs,
                              uint32_t *targets);

// The default corpus: the King James Bible of Debian's bible-kjv package, `bible -f
// gen1:1-rev22:21` with the verse references ("Ge1:1 ") stripped, one verse a line. Generated once
// into cache_path (written to a temporary file, then renamed) and reused afterwards. Fails with a
// message saying how to install the package when the `bible` command is missing.
sparrow_train_status_t sparrow_train_data_default_corpus(const char *cache_path, char *msg,
                                                         size_t msg_len)
    __attribute__((warn_unused_result));

// Strips a leading verse reference "[1-3]?Letters<chapter>:<verse> " from line (in place, the
// rest moved to the front). Returns whether there was one.
bool sparrow_train_strip_reference(char *line);

#endif  // SPARROW_HOST_TRAIN_DATA_H_
