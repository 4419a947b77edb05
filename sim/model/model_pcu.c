// SPDX-License-Identifier: Apache-2.0
//
// PCU in GEMM mode (docs/fabric.md; SIMD and LOAD modes are in model_simd.c): per output block,
// optionally load the accumulators from c, then k outer-product steps acc[r][c] = add(acc[r][c],
// mul(a[r], b[c])) (k = k_count, or the block's k_table entry, which may be 0), then hand the block
// to the output buffer, which drains row by row on pcu_out while the next block computes. Every
// value is sparrow_fp_mul then sparrow_fp_add in exactly that order (sparrow_fp_outer_mac computes
// the whole beat in one flag window), so it is bit-identical
// to the RTL's multiplier/adder pair whatever order the model visits units in.
#include <stdint.h>
#include <string.h>

#include "model_internal.h"
#include "sparrow_fp.h"

static sparrow_model_fifo_t *input(sparrow_model_t *model, uint32_t tile, uint32_t kind) {
  return &model->phase.dst[tile * SPARROW_SWITCH_DST_PER_TILE + kind];
}

static bool drain_step(sparrow_model_t *model, uint32_t tile) {
  sparrow_model_pcu_run_t *run = &model->phase.pcu[tile];
  sparrow_model_fifo_t *out =
      &model->phase.src[tile * SPARROW_SWITCH_SRC_PER_TILE + SPARROW_SRC_PCU_OUT];
  if (run->out_pending == 0 || sparrow_model_fifo_full(out)) {
    return false;
  }
  sparrow_model_beat_t beat;
  memcpy(beat.word, run->out[run->out_next], model->config.lanes * sizeof(uint32_t));
  sparrow_model_fifo_push(out, &beat);
  run->out_next++;
  run->out_pending--;
  run->out_beats++;
  return true;
}

// Block b of the phase takes k_table[b mod n] beat pairs when the table is on, else k_count.
static uint32_t block_k(const sparrow_model_pcu_run_t *run, uint32_t block) {
  if (run->k_table_len == 0) {
    return run->k_count;
  }
  return run->k_table[block % run->k_table_len];
}

static void open_block(sparrow_model_pcu_run_t *run) {
  // Without acc_init every accumulator starts at +0.0 (bits 0), the reduction-order rule's start.
  memset(run->acc, 0, sizeof run->acc);
  run->block_open = true;
  run->block_k = block_k(run, run->blocks_done);
  run->c_loaded = 0;
  run->k_done = 0;
}

static bool load_c_step(sparrow_model_t *model, uint32_t tile) {
  sparrow_model_pcu_run_t *run = &model->phase.pcu[tile];
  sparrow_model_fifo_t *c = input(model, tile, SPARROW_DST_PCU_C);
  if (sparrow_model_fifo_empty(c)) {
    return false;
  }
  memcpy(run->acc[run->c_loaded], sparrow_model_fifo_head(c)->word,
         model->config.lanes * sizeof(uint32_t));
  sparrow_model_fifo_pop(c);
  run->c_loaded++;
  run->c_beats++;
  return true;
}

static bool mac_step(sparrow_model_t *model, uint32_t tile) {
  sparrow_model_pcu_run_t *run = &model->phase.pcu[tile];
  sparrow_model_fifo_t *a = input(model, tile, SPARROW_DST_PCU_A);
  sparrow_model_fifo_t *b = input(model, tile, SPARROW_DST_PCU_B);
  // a and b are taken together: one beat pair per step.
  if (sparrow_model_fifo_empty(a) || sparrow_model_fifo_empty(b)) {
    return false;
  }
  const uint32_t *a_word = sparrow_model_fifo_head(a)->word;
  const uint32_t *b_word = sparrow_model_fifo_head(b)->word;
  uint32_t lanes = model->config.lanes;
  sparrow_fp_outer_mac(lanes, lanes, a_word, b_word, &run->acc[0][0],
                       (uint32_t)(sizeof run->acc[0] / sizeof run->acc[0][0]), &model->fp_status);
  sparrow_model_fifo_pop(a);
  sparrow_model_fifo_pop(b);
  run->k_done++;
  run->ab_pairs++;
  model->phase.macs += (uint64_t)lanes * lanes;
  return true;
}

// The block's accumulators move to the output buffer once the previous block has fully drained.
static bool finish_block_step(sparrow_model_pcu_run_t *run, uint32_t lanes) {
  if (run->out_pending != 0) {
    return false;
  }
  memcpy(run->out, run->acc, sizeof run->out);
  run->out_pending = lanes;
  run->out_next = 0;
  run->block_open = false;
  run->blocks_done++;
  return true;
}

bool sparrow_model_pcu_step(sparrow_model_t *model, uint32_t tile) {
  sparrow_model_pcu_run_t *run = &model->phase.pcu[tile];
  if (!run->enabled) {
    return false;
  }
  // SIMD and LOAD modes live in model_simd.c.
  if (run->mode == SPARROW_PCU_MODE_SIMD) {
    return sparrow_model_simd_step(model, tile);
  }
  if (run->mode == SPARROW_PCU_MODE_LOAD) {
    return sparrow_model_load_step(model, tile);
  }
  bool moved = drain_step(model, tile);
  if (run->blocks_done >= run->blocks) {
    return moved;
  }
  if (!run->block_open) {
    open_block(run);
    moved = true;
  }
  if (run->acc_init && run->c_loaded < model->config.lanes) {
    return load_c_step(model, tile) || moved;
  }
  if (run->k_done < run->block_k) {
    return mac_step(model, tile) || moved;
  }
  return finish_block_step(run, model->config.lanes) || moved;
}

bool sparrow_model_pcu_done(const sparrow_model_t *model, uint32_t tile) {
  const sparrow_model_pcu_run_t *run = &model->phase.pcu[tile];
  if (!run->enabled) {
    return true;
  }
  switch (run->mode) {
    case SPARROW_PCU_MODE_SIMD:
      // PUSH hands its beat straight to pcu_out: the switch check covers what is left there.
      return run->simd.stage == SPARROW_MODEL_SIMD_DONE;
    case SPARROW_PCU_MODE_LOAD:
      return run->load_beats >= run->blocks;
    default:
      return run->blocks_done >= run->blocks && run->out_pending == 0;
  }
}
