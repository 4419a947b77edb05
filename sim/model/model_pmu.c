// SPDX-License-Identifier: Apache-2.0
//
// PMU: a scratchpad of pmu_lines lines, two read ports (sources pmu_rd0/1) and two write ports
// (destinations pmu_wr0/1), each walking its own address generator in lines, modulo the PMU's
// lines, with the N-buffer synchronization of docs/fabric.md between write port b and read port b.
#include <stdint.h>
#include <string.h>

#include "model_internal.h"

static uint32_t *line_at(sparrow_model_t *model, uint32_t tile, const sparrow_model_agen_t *agen) {
  uint32_t line = sparrow_model_agen_address(agen) % model->pmu_lines;
  return model->pmu_mem[tile] + (size_t)line * model->config.lanes;
}

// The sync block of buffer b applies to the read port b and the write port b, when enabled.
static sparrow_model_sync_t *sync_of(sparrow_model_t *model, uint32_t tile, uint32_t buffer) {
  sparrow_model_sync_t *sync = &model->phase.sync[tile][buffer];
  return sync->enabled ? sync : NULL;
}

static bool read_port_step(sparrow_model_t *model, uint32_t tile, uint32_t buffer) {
  uint32_t port = SPARROW_PMU_PORT_RD0 + buffer;
  sparrow_model_channel_t *chan = &model->phase.pmu[tile][port];
  sparrow_model_fifo_t *out =
      &model->phase.src[tile * SPARROW_SWITCH_SRC_PER_TILE + SPARROW_SRC_PMU_RD0 + buffer];
  sparrow_model_sync_t *sync = sync_of(model, tile, buffer);
  if (!chan->enabled || sparrow_model_agen_finished(&chan->agen) || sparrow_model_fifo_full(out)) {
    return false;
  }
  // A read slot may begin only once the write side has filled one.
  if (sync != NULL && sync->rd_pos == 0 && sync->full == 0) {
    return false;
  }
  sparrow_model_beat_t beat;
  memcpy(beat.word, line_at(model, tile, &chan->agen), model->config.lanes * sizeof(uint32_t));
  sparrow_model_fifo_push(out, &beat);
  sparrow_model_agen_advance(&chan->agen);
  chan->beats++;
  if (sync != NULL && ++sync->rd_pos == sync->rd_lines) {
    sync->rd_pos = 0;
    sync->full--;
  }
  return true;
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
  // A write slot may begin only while a slot is free.
  if (sync != NULL && sync->wr_pos == 0 && sync->full >= sync->slots) {
    return false;
  }
  memcpy(line_at(model, tile, &chan->agen), sparrow_model_fifo_head(in)->word,
         model->config.lanes * sizeof(uint32_t));
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

bool sparrow_model_pmu_done(const sparrow_model_t *model, uint32_t tile) {
  for (uint32_t port = 0; port < SPARROW_MODEL_PMU_PORTS; ++port) {
    const sparrow_model_channel_t *chan = &model->phase.pmu[tile][port];
    if (chan->enabled && !sparrow_model_agen_finished(&chan->agen)) {
      return false;
    }
  }
  return true;
}
