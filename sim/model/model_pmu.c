// SPDX-License-Identifier: Apache-2.0
//
// PMU: a scratchpad of pmu_lines lines, two read ports (sources pmu_rd0/1) and two write ports
// (destinations pmu_wr0/1), each walking its own address generator in lines, modulo the PMU's
// lines, with the N-buffer synchronization of docs/fabric.md between write port b and read port b.
// Beside the lines, an index memory of SPARROW_PMU_IDX_WORDS words: a write port whose target is
// the index memory fills it, and a read port in gather mode walks a list of its words instead of
// its affine nest (docs/fabric.md, "Index memory and gather mode").
#include <stdint.h>
#include <string.h>

#include "model_internal.h"

#define GATHER_OFFSET_MASK ((1u << SPARROW_GATHER_OFFSET_BITS) - 1u)
#define GATHER_SKIP (1u << SPARROW_GATHER_SKIP_BIT)
#define GATHER_RELEASE (1u << SPARROW_GATHER_RELEASE_BIT)

// Gather walk levels: count0/stride0 lines per word, stride1 per offset unit, count2/stride2 the
// slots, count3 passes over the list (count1 is not used).
#define LEVEL_LINE 0u
#define LEVEL_OFFSET 1u
#define LEVEL_SLOT 2u
#define LEVEL_PASS 3u

static uint32_t *line_at(sparrow_model_t *model, uint32_t tile, uint32_t address) {
  uint32_t line = address % model->pmu_lines;
  return model->pmu_mem[tile] + (size_t)line * model->config.lanes;
}

// An index write port walks index lines of lanes words, modulo the index memory's lines.
static uint32_t *index_line_at(sparrow_model_t *model, uint32_t tile, uint32_t address) {
  uint32_t line = address % model->idx_lines;
  return model->pmu_idx[tile] + (size_t)line * model->config.lanes;
}

// The sync block of buffer b applies to the read port b and the write port b, when enabled.
static sparrow_model_sync_t *sync_of(sparrow_model_t *model, uint32_t tile, uint32_t buffer) {
  sparrow_model_sync_t *sync = &model->phase.sync[tile][buffer];
  return sync->enabled ? sync : NULL;
}

static sparrow_model_fifo_t *read_output(sparrow_model_t *model, uint32_t tile, uint32_t buffer) {
  return &model->phase.src[tile * SPARROW_SWITCH_SRC_PER_TILE + SPARROW_SRC_PMU_RD0 + buffer];
}

static void push_line(sparrow_model_t *model, sparrow_model_fifo_t *out, const uint32_t *line) {
  sparrow_model_beat_t beat;
  memcpy(beat.word, line, model->config.lanes * sizeof(uint32_t));
  sparrow_model_fifo_push(out, &beat);
}

static bool affine_read_step(sparrow_model_t *model, uint32_t tile, uint32_t buffer) {
  sparrow_model_channel_t *chan = &model->phase.pmu[tile][SPARROW_PMU_PORT_RD0 + buffer];
  sparrow_model_fifo_t *out = read_output(model, tile, buffer);
  sparrow_model_sync_t *sync = sync_of(model, tile, buffer);
  if (sparrow_model_agen_finished(&chan->agen) || sparrow_model_fifo_full(out)) {
    return false;
  }
  // A read slot may begin only once the write side has filled one.
  if (sync != NULL && sync->rd_pos == 0 && sync->full == 0) {
    return false;
  }
  push_line(model, out, line_at(model, tile, sparrow_model_agen_address(&chan->agen)));
  sparrow_model_agen_advance(&chan->agen);
  chan->beats++;
  if (sync != NULL && ++sync->rd_pos == sync->rd_lines) {
    sync->rd_pos = 0;
    sync->full--;
  }
  return true;
}

// The word is over: a release moves to the next slot and frees the synchronized one (the word
// started only while a slot was full, and only this port releases its buffer, so full > 0).
static void gather_end_word(sparrow_model_gather_t *gather, const sparrow_model_agen_t *agen,
                            sparrow_model_sync_t *sync) {
  if ((gather->word & GATHER_RELEASE) != 0) {
    gather->slot = (gather->slot + 1u) % agen->count[LEVEL_SLOT];
    if (sync != NULL) {
      sync->full--;
    }
  }
  gather->word_open = false;
  gather->read = 0;
  if (++gather->entry == gather->idx_count) {
    gather->entry = 0;
    if (++gather->pass == agen->count[LEVEL_PASS]) {
      gather->finished = true;
    }
  }
}

// One round of a gather walk: start the next index word if none is open (with sync, only while a
// slot is full), then read at most one line of it. A skip word ends as it starts.
static bool gather_read_step(sparrow_model_t *model, uint32_t tile, uint32_t buffer) {
  sparrow_model_channel_t *chan = &model->phase.pmu[tile][SPARROW_PMU_PORT_RD0 + buffer];
  sparrow_model_gather_t *gather = &model->phase.gather[tile][buffer];
  sparrow_model_fifo_t *out = read_output(model, tile, buffer);
  sparrow_model_sync_t *sync = sync_of(model, tile, buffer);
  const sparrow_model_agen_t *agen = &chan->agen;
  if (gather->finished) {
    return false;
  }
  bool moved = false;
  if (!gather->word_open) {
    if (sync != NULL && sync->full == 0) {
      return false;
    }
    // idx_base + entry in 32 bits: the index memory's size divides 2^32, so the wrap agrees.
    gather->word = model->pmu_idx[tile][(gather->idx_base + gather->entry) % SPARROW_PMU_IDX_WORDS];
    gather->word_open = true;
    moved = true;
    if ((gather->word & GATHER_SKIP) != 0) {
      gather->idle_words++;
      gather_end_word(gather, agen, sync);
      return true;
    }
  }
  if (sparrow_model_fifo_full(out)) {
    return moved;
  }
  // The same 32-bit wrap-around arithmetic as the affine generator, then modulo the lines.
  uint32_t offset = gather->word & GATHER_OFFSET_MASK;
  uint32_t address = agen->base + gather->slot * agen->stride[LEVEL_SLOT] +
                     offset * agen->stride[LEVEL_OFFSET] + gather->read * agen->stride[LEVEL_LINE];
  push_line(model, out, line_at(model, tile, address));
  chan->beats++;
  if (++gather->read == agen->count[LEVEL_LINE]) {
    gather_end_word(gather, agen, sync);
  }
  return true;
}

static bool read_port_step(sparrow_model_t *model, uint32_t tile, uint32_t buffer) {
  if (!model->phase.pmu[tile][SPARROW_PMU_PORT_RD0 + buffer].enabled) {
    return false;
  }
  if (model->phase.gather[tile][buffer].enabled) {
    return gather_read_step(model, tile, buffer);
  }
  return affine_read_step(model, tile, buffer);
}

static bool write_port_step(sparrow_model_t *model, uint32_t tile, uint32_t buffer) {
  uint32_t port = SPARROW_PMU_PORT_WR0 + buffer;
  sparrow_model_channel_t *chan = &model->phase.pmu[tile][port];
  sparrow_model_fifo_t *in =
      &model->phase.dst[tile * SPARROW_SWITCH_DST_PER_TILE + SPARROW_DST_PMU_WR0 + buffer];
  sparrow_model_sync_t *sync = sync_of(model, tile, buffer);
  if (!chan->enabled || sparrow_model_agen_finished(&chan->agen) || sparrow_model_fifo_empty(in)) {
    return false;
  }
  // A write slot may begin only while a slot is free. The sync counts the lines a write port
  // writes whichever memory it targets.
  if (sync != NULL && sync->wr_pos == 0 && sync->full >= sync->slots) {
    return false;
  }
  uint32_t address = sparrow_model_agen_address(&chan->agen);
  uint32_t *line = model->phase.index_target[tile][buffer] ? index_line_at(model, tile, address)
                                                           : line_at(model, tile, address);
  memcpy(line, sparrow_model_fifo_head(in)->word, model->config.lanes * sizeof(uint32_t));
  sparrow_model_fifo_pop(in);
  sparrow_model_agen_advance(&chan->agen);
  chan->beats++;
  if (sync != NULL && ++sync->wr_pos == sync->wr_lines) {
    sync->wr_pos = 0;
    sync->full++;
  }
  return true;
}

bool sparrow_model_pmu_step(sparrow_model_t *model, uint32_t tile) {
  // Reads before writes: a read and a write of one line in one cycle read the old value.
  bool moved = false;
  for (uint32_t buffer = 0; buffer < SPARROW_MODEL_PMU_BUFFERS; ++buffer) {
    moved |= read_port_step(model, tile, buffer);
  }
  for (uint32_t buffer = 0; buffer < SPARROW_MODEL_PMU_BUFFERS; ++buffer) {
    moved |= write_port_step(model, tile, buffer);
  }
  return moved;
}

static bool port_finished(const sparrow_model_t *model, uint32_t tile, uint32_t port) {
  const sparrow_model_channel_t *chan = &model->phase.pmu[tile][port];
  if (!chan->enabled) {
    return true;
  }
  if (port < SPARROW_PMU_PORT_RD0 + SPARROW_MODEL_PMU_BUFFERS) {
    const sparrow_model_gather_t *gather = &model->phase.gather[tile][port - SPARROW_PMU_PORT_RD0];
    if (gather->enabled) {
      return gather->finished;
    }
  }
  return sparrow_model_agen_finished(&chan->agen);
}

bool sparrow_model_pmu_done(const sparrow_model_t *model, uint32_t tile) {
  for (uint32_t port = 0; port < SPARROW_MODEL_PMU_PORTS; ++port) {
    if (!port_finished(model, tile, port)) {
      return false;
    }
  }
  return true;
}
