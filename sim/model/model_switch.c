// SPDX-License-Identifier: Apache-2.0
//
// Stream switch: switch register d (a destination id) holds enable << 8 | source id. Each step
// moves at most one beat per source, to every enabled destination routed from it at once
// (multicast), and only when all of them can accept it, so no beat is lost or duplicated.
//
// A destination accepts only while its consuming channel is enabled in the running phase: a stale
// route to an idle unit therefore holds its source back (the phase deadlocks and reports
// `watchdog`) instead of leaving beats in the switch for a later phase to find. A source with no
// enabled route is held back likewise rather than dropping its beats.
#include <stdint.h>

#include "model_internal.h"

static bool destination_accepts(const sparrow_model_t *model, uint32_t dst) {
  const sparrow_model_phase_t *phase = &model->phase;
  uint32_t tile = dst / SPARROW_SWITCH_DST_PER_TILE;
  uint32_t kind = dst % SPARROW_SWITCH_DST_PER_TILE;
  if (sparrow_model_fifo_full(&phase->dst[dst])) {
    return false;
  }
  switch (kind) {
    case SPARROW_DST_AGCU_WR:
      return phase->agcu[tile][SPARROW_AGCU_CHANNEL_WR].enabled;
    case SPARROW_DST_PMU_WR0:
      return phase->pmu[tile][SPARROW_PMU_PORT_WR0].enabled;
    case SPARROW_DST_PMU_WR1:
      return phase->pmu[tile][SPARROW_PMU_PORT_WR1].enabled;
    case SPARROW_DST_PCU_A:
    case SPARROW_DST_PCU_B:
    case SPARROW_DST_PCU_C:
      return phase->pcu[tile].enabled;
    default:
      return false;  // ids between the defined kinds name no port
  }
}

static bool route_from(const sparrow_model_t *model, uint32_t dst, uint32_t src) {
  uint32_t reg = model->switch_regs[dst];
  bool enabled = (reg >> SPARROW_SWITCH_ROUTE_ENABLE_BIT) & 1u;
  return enabled && (reg & SPARROW_MODEL_ROUTE_SOURCE_MASK) == src;
}

void sparrow_model_switch_setup(sparrow_model_t *model) {
  sparrow_model_phase_t *phase = &model->phase;
  uint32_t sources = model->config.tiles * SPARROW_SWITCH_SRC_PER_TILE;
  uint32_t destinations = model->config.tiles * SPARROW_SWITCH_DST_PER_TILE;
  for (uint32_t src = 0; src < sources; ++src) {
    phase->route_count[src] = 0;
    for (uint32_t dst = 0; dst < destinations; ++dst) {
      if (route_from(model, dst, src)) {
        phase->route_dst[src][phase->route_count[src]++] = (uint8_t)dst;
      }
    }
  }
}

static bool source_step(sparrow_model_t *model, uint32_t src) {
  sparrow_model_phase_t *phase = &model->phase;
  uint32_t routed = phase->route_count[src];
  if (routed == 0 || sparrow_model_fifo_empty(&phase->src[src])) {
    return false;
  }
  for (uint32_t i = 0; i < routed; ++i) {
    if (!destination_accepts(model, phase->route_dst[src][i])) {
      return false;
    }
  }
  const sparrow_model_beat_t *beat = sparrow_model_fifo_head(&phase->src[src]);
  for (uint32_t i = 0; i < routed; ++i) {
    sparrow_model_fifo_push(&phase->dst[phase->route_dst[src][i]], beat);
  }
  sparrow_model_fifo_pop(&phase->src[src]);
  return true;
}

bool sparrow_model_switch_step(sparrow_model_t *model) {
  bool moved = false;
  uint32_t sources = model->config.tiles * SPARROW_SWITCH_SRC_PER_TILE;
  for (uint32_t src = 0; src < sources; ++src) {
    moved |= source_step(model, src);
  }
  return moved;
}
