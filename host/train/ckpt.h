// SPDX-License-Identifier: Apache-2.0
//
// Checkpoints (docs/training.md, "Checkpoint format", byte by byte): everything a run needs to
// continue bit-identically — its definition, the step, the batch sampler's state, the identity of
// the data and its vocabulary, the parameters, the AdamW moments and the masks — in one
// little-endian file guarded by an FNV-1a 64 checksum. Written atomically: a temporary file in the
// same directory, fsync, rename, fsync of the directory; a crash leaves the old file or the new.

#ifndef SPARROW_HOST_TRAIN_CKPT_H_
#define SPARROW_HOST_TRAIN_CKPT_H_

#include <stdbool.h>
#include <stdint.h>

#include "sparrow_train.h"
#include "trainer.h"

#define SPARROW_TRAIN_CKPT_MAGIC "SPRWCKPT"
#define SPARROW_TRAIN_CKPT_VERSION 1u
#define SPARROW_TRAIN_CKPT_HEADER_BYTES 512u

typedef struct sparrow_train_ckpt {
  sparrow_train_run_t run;
  uint64_t step;        // completed steps
  uint64_t rng;         // the batch sampler's state after them
  uint64_t data_bytes;  // size of the training text
  uint64_t data_hash;   // its FNV-1a 64
  uint8_t chars[256];   // the vocabulary: byte of each token id (run.model.vocab entries)
  bool masks_active;
  uint64_t cycles;      // the run's simulated fabric cycles so far (0 on the reference)
  uint64_t dram_bytes;  // and its device DRAM bytes
  uint64_t n_params;
  uint64_t mask_bytes;
  float *params, *m, *v;  // n_params each
  uint8_t *masks;         // mask_bytes (all ones while the masks are not active)
} sparrow_train_ckpt_t;

sparrow_train_status_t sparrow_train_ckpt_write(const char *path, const sparrow_train_ckpt_t *ckpt,
                                                char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// Reads and validates a checkpoint (magic, version, sizes against the model it describes,
// checksum); allocates the arrays (sparrow_train_ckpt_free).
sparrow_train_status_t sparrow_train_ckpt_read(const char *path, sparrow_train_ckpt_t *ckpt,
                                               char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

void sparrow_train_ckpt_free(sparrow_train_ckpt_t *ckpt);

#endif  // SPARROW_HOST_TRAIN_CKPT_H_
