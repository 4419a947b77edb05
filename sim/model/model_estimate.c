// SPDX-License-Identifier: Apache-2.0
//
// The cycle estimate of one phase, from the beats each unit moved (README.md explains the
// formula). The model does not time anything: the estimate exists so that the `cycles` counter and
// the busy-until-done behaviour of STATUS are plausible, deterministic and documented.
#include <stdint.h>

#include "model_internal.h"

static uint64_t max_u64(uint64_t a, uint64_t b) {
  return a > b ? a : b;
}

static uint64_t ceil_div(uint64_t numerator, uint64_t denominator) {
  return numerator / denominator + (numerator % denominator != 0);
}

// A channel keeps at most agcu_outstanding beats in flight, so when latency exceeds that depth
// it delivers only agcu_outstanding beats per latency.
static uint64_t latency_bound(const sparrow_model_t *model, uint64_t beats) {
  uint64_t outstanding = model->config.agcu_outstanding == 0 ? 1u : model->config.agcu_outstanding;
  return ceil_div(beats * model->dram_latency, outstanding);
}

static bool agcu_engaged(const sparrow_model_phase_t *phase, uint32_t tile) {
  for (uint32_t channel = 0; channel < SPARROW_MODEL_AGCU_CHANNELS; ++channel) {
    if (phase->agcu[tile][channel].enabled) {
      return true;
    }
  }
  return false;
}

static bool pmu_engaged(const sparrow_model_phase_t *phase, uint32_t tile) {
  for (uint32_t port = 0; port < SPARROW_MODEL_PMU_PORTS; ++port) {
    if (phase->pmu[tile][port].enabled) {
      return true;
    }
  }
  return false;
}

// Busy cycles: the two read channels share one DRAM read port; the write channel has its own.
static uint64_t agcu_busy(const sparrow_model_phase_t *phase, uint32_t tile) {
  const sparrow_model_channel_t *chan = phase->agcu[tile];
  uint64_t reads = chan[SPARROW_AGCU_CHANNEL_RD0].beats + chan[SPARROW_AGCU_CHANNEL_RD1].beats;
  return max_u64(reads, chan[SPARROW_AGCU_CHANNEL_WR].beats);
}

static uint64_t agcu_time(const sparrow_model_t *model, uint32_t tile) {
  const sparrow_model_channel_t *chan = model->phase.agcu[tile];
  uint64_t time = agcu_busy(&model->phase, tile);
  for (uint32_t channel = 0; channel < SPARROW_MODEL_AGCU_CHANNELS; ++channel) {
    time = max_u64(time, latency_bound(model, chan[channel].beats));
  }
  return time;
}

// Every PMU port moves one line per cycle, all four in parallel (an index write port one index
// line, a gather read port one gathered line).
static uint64_t pmu_busy(const sparrow_model_phase_t *phase, uint32_t tile) {
  uint64_t busy = 0;
  for (uint32_t port = 0; port < SPARROW_MODEL_PMU_PORTS; ++port) {
    busy = max_u64(busy, phase->pmu[tile][port].beats);
  }
  return busy;
}

// A gather read port also spends a cycle on each skip word, which reads no line: fetching an
// index word overlaps the previous word's reads, but a word with no read has nothing to hide
// behind.
static uint64_t pmu_time(const sparrow_model_phase_t *phase, uint32_t tile) {
  uint64_t time = pmu_busy(phase, tile);
  for (uint32_t buffer = 0; buffer < SPARROW_MODEL_PMU_BUFFERS; ++buffer) {
    const sparrow_model_gather_t *gather = &phase->gather[tile][buffer];
    const sparrow_model_channel_t *chan = &phase->pmu[tile][SPARROW_PMU_PORT_RD0 + buffer];
    if (chan->enabled && gather->enabled) {
      time = max_u64(time, chan->beats + gather->idle_words);
    }
  }
  return time;
}

// GEMM: the PCU takes one c beat or one a/b pair per cycle and drains one output row per cycle
// beside it; only the last block's drain is not hidden behind computing. SIMD: one cycle per
// issue group (docs/fabric.md, Timing); its stream waits are the other units' terms. LOAD: one
// beat per cycle.
static uint64_t pcu_busy(const sparrow_model_phase_t *phase, uint32_t tile) {
  const sparrow_model_pcu_run_t *run = &phase->pcu[tile];
  switch (run->mode) {
    case SPARROW_PCU_MODE_SIMD:
      return run->simd.groups;
    case SPARROW_PCU_MODE_LOAD:
      return run->load_beats;
    default:
      return max_u64(run->c_beats + run->ab_pairs, run->out_beats);
  }
}

// A block with no beat pair (a k_table 0 entry) costs only its lanes output rows, which the
// output side counts already. SIMD and LOAD have no output buffer to drain.
static uint64_t pcu_time(const sparrow_model_t *model, uint32_t tile) {
  const sparrow_model_pcu_run_t *run = &model->phase.pcu[tile];
  uint64_t busy = pcu_busy(&model->phase, tile);
  if (run->mode != SPARROW_PCU_MODE_GEMM) {
    return busy;
  }
  return run->out_beats == 0 ? busy : busy + model->config.lanes;
}

static void add_unit(sparrow_model_t *model, uint32_t unit, bool engaged, uint64_t busy,
                     uint64_t phase_cycles) {
  if (!engaged) {
    return;
  }
  model->unit_busy[unit] += busy;
  model->unit_stall[unit] += phase_cycles > busy ? phase_cycles - busy : 0;
}

uint64_t sparrow_model_estimate_phase(sparrow_model_t *model, bool deadlocked) {
  const sparrow_model_phase_t *phase = &model->phase;
  uint32_t tiles = model->config.tiles;
  uint64_t slowest = 0;
  for (uint32_t tile = 0; tile < tiles; ++tile) {
    slowest = max_u64(slowest, agcu_time(model, tile));
    slowest = max_u64(slowest, pmu_time(phase, tile));
    slowest = max_u64(slowest, pcu_time(model, tile));
  }
  uint64_t dram_bytes = phase->dram_rd_bytes + phase->dram_wr_bytes;
  uint32_t dram_bw = model->dram_bw == 0 ? 1u : model->dram_bw;
  slowest = max_u64(slowest, ceil_div(dram_bytes, dram_bw));

  uint64_t cycles = SPARROW_MODEL_PHASE_OVERHEAD + slowest;
  if (dram_bytes != 0) {
    cycles += model->dram_latency;
  }
  // A deadlocked phase runs until the watchdog has seen WATCHDOG cycles without progress.
  if (deadlocked) {
    cycles += model->watchdog;
  }

  for (uint32_t tile = 0; tile < tiles; ++tile) {
    add_unit(model, tile, agcu_engaged(phase, tile), agcu_busy(phase, tile), cycles);
    add_unit(model, tiles + tile, pmu_engaged(phase, tile), pmu_busy(phase, tile), cycles);
    add_unit(model, 2u * tiles + tile, phase->pcu[tile].enabled, pcu_busy(phase, tile), cycles);
  }
  return cycles;
}
