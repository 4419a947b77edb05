// SPDX-License-Identifier: Apache-2.0
//
// AGCU: two DRAM read channels feeding stream sources agcu_rd0/agcu_rd1 and one write channel
// draining destination agcu_wr. DRAM is the platform's byte array, little-endian words. The model
// performs each access when the beat moves; the in-flight limit (agcu_outstanding) only shapes the
// cycle estimate, since it cannot change which beat goes where.
#include <stdint.h>

#include "model_internal.h"

static uint32_t beat_bytes(const sparrow_model_t *model) {
  return model->config.lanes * 4u;
}

// An access must lie inside DRAM and be word-aligned; anything else stops the phase with
// BAD_ADDRESS instead of clamping or wrapping, which would silently corrupt other data.
static bool address_ok(const sparrow_model_t *model, uint32_t address) {
  if (address % 4u != 0) {
    return false;
  }
  uint64_t end = (uint64_t)address + beat_bytes(model);
  if (model->dram_limit != 0 && end > model->dram_limit) {
    return false;
  }
  return end <= model->dram_bytes;
}

static void dram_read_beat(const sparrow_model_t *model, uint32_t address,
                           sparrow_model_beat_t *beat) {
  const uint8_t *bytes = model->dram + address;
  for (uint32_t lane = 0; lane < model->config.lanes; ++lane) {
    const uint8_t *p = bytes + 4u * lane;
    beat->word[lane] =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
  }
}

static void dram_write_beat(sparrow_model_t *model, uint32_t address,
                            const sparrow_model_beat_t *beat) {
  uint8_t *bytes = model->dram + address;
  for (uint32_t lane = 0; lane < model->config.lanes; ++lane) {
    uint8_t *p = bytes + 4u * lane;
    uint32_t word = beat->word[lane];
    p[0] = (uint8_t)word;
    p[1] = (uint8_t)(word >> 8);
    p[2] = (uint8_t)(word >> 16);
    p[3] = (uint8_t)(word >> 24);
  }
}

static bool read_channel_step(sparrow_model_t *model, uint32_t tile, uint32_t channel,
                              uint32_t source_kind) {
  sparrow_model_phase_t *phase = &model->phase;
  sparrow_model_channel_t *chan = &phase->agcu[tile][channel];
  sparrow_model_fifo_t *out = &phase->src[tile * SPARROW_SWITCH_SRC_PER_TILE + source_kind];
  if (!chan->enabled || sparrow_model_agen_finished(&chan->agen) || sparrow_model_fifo_full(out)) {
    return false;
  }
  uint32_t address = sparrow_model_agen_address(&chan->agen);
  if (!address_ok(model, address)) {
    phase->error = SPARROW_MODEL_ERR_BAD_ADDRESS;
    return false;
  }
  sparrow_model_beat_t beat;
  dram_read_beat(model, address, &beat);
  sparrow_model_fifo_push(out, &beat);
  sparrow_model_agen_advance(&chan->agen);
  chan->beats++;
  phase->dram_rd_bytes += beat_bytes(model);
  return true;
}

static bool write_channel_step(sparrow_model_t *model, uint32_t tile) {
  sparrow_model_phase_t *phase = &model->phase;
  sparrow_model_channel_t *chan = &phase->agcu[tile][SPARROW_AGCU_CHANNEL_WR];
  sparrow_model_fifo_t *in = &phase->dst[tile * SPARROW_SWITCH_DST_PER_TILE + SPARROW_DST_AGCU_WR];
  if (!chan->enabled || sparrow_model_agen_finished(&chan->agen) || sparrow_model_fifo_empty(in)) {
    return false;
  }
  uint32_t address = sparrow_model_agen_address(&chan->agen);
  if (!address_ok(model, address)) {
    phase->error = SPARROW_MODEL_ERR_BAD_ADDRESS;
    return false;
  }
  dram_write_beat(model, address, sparrow_model_fifo_head(in));
  sparrow_model_fifo_pop(in);
  sparrow_model_agen_advance(&chan->agen);
  chan->beats++;
  phase->dram_wr_bytes += beat_bytes(model);
  return true;
}

bool sparrow_model_agcu_step(sparrow_model_t *model, uint32_t tile) {
  bool moved = read_channel_step(model, tile, SPARROW_AGCU_CHANNEL_RD0, SPARROW_SRC_AGCU_RD0);
  moved |= read_channel_step(model, tile, SPARROW_AGCU_CHANNEL_RD1, SPARROW_SRC_AGCU_RD1);
  moved |= write_channel_step(model, tile);
  return moved;
}

bool sparrow_model_agcu_done(const sparrow_model_t *model, uint32_t tile) {
  for (uint32_t channel = 0; channel < SPARROW_MODEL_AGCU_CHANNELS; ++channel) {
    const sparrow_model_channel_t *chan = &model->phase.agcu[tile][channel];
    if (chan->enabled && !sparrow_model_agen_finished(&chan->agen)) {
      return false;
    }
  }
  return true;
}
