// SPDX-License-Identifier: Apache-2.0
//
// The two small mechanisms every unit uses: the 4-level affine address generator of docs/fabric.md
// and the bounded FIFOs that hold beats on either side of the stream switch.
#include <stdint.h>
#include <string.h>

#include "model_internal.h"

void sparrow_model_agen_init(sparrow_model_agen_t *agen, const uint32_t *block, uint32_t base_reg,
                             uint32_t count_reg, uint32_t stride_reg) {
  memset(agen, 0, sizeof *agen);
  agen->base = block[base_reg];
  agen->total = 1;
  for (uint32_t level = 0; level < SPARROW_LOOP_LEVELS; ++level) {
    // A count of 0 is treated as 1 (docs/fabric.md), so every enabled generator does some work.
    uint32_t count = block[count_reg + level];
    agen->count[level] = count == 0 ? 1u : count;
    agen->stride[level] = block[stride_reg + level];
    // Saturate rather than wrap: a product beyond 2^64 accesses never finishes either way.
    if (agen->total > UINT64_MAX / agen->count[level]) {
      agen->total = UINT64_MAX;
    } else {
      agen->total *= agen->count[level];
    }
  }
}

bool sparrow_model_agen_finished(const sparrow_model_agen_t *agen) {
  return agen->done >= agen->total;
}

uint32_t sparrow_model_agen_address(const sparrow_model_agen_t *agen) {
  // Unsigned 32-bit wrap-around is the two's complement sum of the signed strides.
  uint32_t address = agen->base;
  for (uint32_t level = 0; level < SPARROW_LOOP_LEVELS; ++level) {
    address += agen->index[level] * agen->stride[level];
  }
  return address;
}

void sparrow_model_agen_advance(sparrow_model_agen_t *agen) {
  agen->done++;
  for (uint32_t level = 0; level < SPARROW_LOOP_LEVELS; ++level) {
    if (++agen->index[level] < agen->count[level]) {
      return;
    }
    agen->index[level] = 0;
  }
}

bool sparrow_model_fifo_full(const sparrow_model_fifo_t *fifo) {
  return fifo->count >= SPARROW_MODEL_FIFO_DEPTH;
}

bool sparrow_model_fifo_empty(const sparrow_model_fifo_t *fifo) {
  return fifo->count == 0;
}

sparrow_model_beat_t *sparrow_model_fifo_head(sparrow_model_fifo_t *fifo) {
  return &fifo->beat[fifo->head];
}

void sparrow_model_fifo_push(sparrow_model_fifo_t *fifo, const sparrow_model_beat_t *beat) {
  uint32_t tail = (fifo->head + fifo->count) % SPARROW_MODEL_FIFO_DEPTH;
  fifo->beat[tail] = *beat;
  fifo->count++;
}

void sparrow_model_fifo_pop(sparrow_model_fifo_t *fifo) {
  fifo->head = (fifo->head + 1) % SPARROW_MODEL_FIFO_DEPTH;
  fifo->count--;
}
