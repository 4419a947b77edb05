// SPDX-License-Identifier: Apache-2.0
//
// A small builder for fabric programs (docs/fabric.md "Programs") and a loader that writes one
// into a golden model through its CSR program window, the way the firmware does. For tests and
// tools that drive the model directly; the ops library has its own program generator.

#ifndef SPARROW_SIM_MODEL_MODEL_PROG_BUILDER_H_
#define SPARROW_SIM_MODEL_MODEL_PROG_BUILDER_H_

#include <stdbool.h>
#include <stdint.h>

#include "sparrow_hw.h"
#include "sparrow_model.h"

typedef struct {
  uint64_t *entries;  // caller's storage
  uint32_t capacity;
  uint32_t count;
  bool overflow;  // an entry did not fit (the program is then incomplete)
} sparrow_model_prog_t;

// One address generator: base, then count and signed stride per loop level (level 0 innermost).
typedef struct {
  uint32_t base;
  uint32_t count[SPARROW_LOOP_LEVELS];
  int32_t stride[SPARROW_LOOP_LEVELS];
} sparrow_model_agen_cfg_t;

void sparrow_model_prog_init(sparrow_model_prog_t *prog, uint64_t *storage, uint32_t capacity);
uint64_t sparrow_model_prog_entry(uint32_t opcode, uint32_t unit, uint32_t reg, uint32_t value);
void sparrow_model_prog_cfg(sparrow_model_prog_t *prog, uint32_t unit, uint32_t reg,
                            uint32_t value);
void sparrow_model_prog_run(sparrow_model_prog_t *prog);
void sparrow_model_prog_end(sparrow_model_prog_t *prog);

// Switch: route source id src to destination id dst (enabled), or disable dst's route.
void sparrow_model_prog_route(sparrow_model_prog_t *prog, uint32_t dst, uint32_t src);
void sparrow_model_prog_unroute(sparrow_model_prog_t *prog, uint32_t dst);

// Configure and enable an AGCU channel / PMU port with the given address generator. A PMU port so
// configured walks its affine nest over the data lines (gather off, target lines).
void sparrow_model_prog_agcu(sparrow_model_prog_t *prog, uint32_t tile, uint32_t channel,
                             const sparrow_model_agen_cfg_t *agen);
void sparrow_model_prog_pmu(sparrow_model_prog_t *prog, uint32_t tile, uint32_t port,
                            const sparrow_model_agen_cfg_t *agen);
// A PMU write port that fills the index memory: agen walks index lines of lanes words.
void sparrow_model_prog_pmu_index(sparrow_model_prog_t *prog, uint32_t tile, uint32_t port,
                                  const sparrow_model_agen_cfg_t *agen);
// A PMU read port in gather mode over idx_count index words from word idx_base (docs/fabric.md,
// "Index memory and gather mode"): agen gives base, count0/stride0 (lines per word), stride1 (per
// offset unit), count2/stride2 (slots) and count3 (passes over the list).
void sparrow_model_prog_pmu_gather(sparrow_model_prog_t *prog, uint32_t tile, uint32_t port,
                                   const sparrow_model_agen_cfg_t *agen, uint32_t idx_base,
                                   uint32_t idx_count);
// A gather index word: offset (its low SPARROW_GATHER_OFFSET_BITS bits), skip and release bits.
uint32_t sparrow_model_gather_word(uint32_t offset, bool skip, bool release);
// N-buffer sync of PMU buffer b (enable = 0 turns it off).
void sparrow_model_prog_sync(sparrow_model_prog_t *prog, uint32_t tile, uint32_t buffer,
                             uint32_t enable, uint32_t slots, uint32_t wr_lines, uint32_t rd_lines);
// Configure and enable a PCU in GEMM mode, every block taking k_count beat pairs (k_table off).
// Both GEMM helpers write mode = gemm: the mode register persists across phases and launches.
void sparrow_model_prog_gemm(sparrow_model_prog_t *prog, uint32_t tile, uint32_t k_count,
                             uint32_t blocks, uint32_t acc_init);
// The same with per-block k: block b takes k_table[b mod table_len] beat pairs (entries may be 0).
// table_len is written as given (above SPARROW_PCU_K_TABLE_ENTRIES the PCU caps it); only the
// entries that exist are written from k_table.
void sparrow_model_prog_gemm_k_table(sparrow_model_prog_t *prog, uint32_t tile,
                                     const uint32_t *k_table, uint32_t table_len, uint32_t blocks,
                                     uint32_t acc_init);

// PCU SIMD mode (docs/fabric.md, "PCU SIMD mode").
//
// POP's port field (the TOML has no table for it): 0 = input a, 1 = b, 2 = c.
#define SPARROW_MODEL_SIMD_PORT_A 0u
#define SPARROW_MODEL_SIMD_PORT_B 1u
#define SPARROW_MODEL_SIMD_PORT_C 2u

// One SIMD instruction as it sits in program memory: word 2i and its immediate, word 2i + 1.
typedef struct {
  uint32_t word;
  uint32_t imm;
} sparrow_model_simd_insn_t;

// Encodes an instruction (SPARROW_SIMD_OP_*, register or SPARROW_SIMD_SRC_* codes,
// SPARROW_SIMD_PRED_*, a POP port); each field is cut to its width in SPARROW_SIMD_FIELD_*.
sparrow_model_simd_insn_t sparrow_model_simd_insn(uint32_t op, uint32_t dst, uint32_t src_a,
                                                  uint32_t src_b, uint32_t pred, uint32_t port,
                                                  uint32_t imm);

// The walk of a SIMD phase: simd_rows, simd_beats, simd_passes, the ROW and COL bases and the eight
// segments as (first instruction, instruction count) pairs; count 0 = empty segment.
typedef struct {
  uint32_t rows;
  uint32_t beats;
  uint32_t passes;
  uint32_t row_base;
  uint32_t col_base;
  uint32_t seg_first[SPARROW_SIMD_SEGMENTS];
  uint32_t seg_count[SPARROW_SIMD_SEGMENTS];
} sparrow_model_simd_cfg_t;

// A simd_seg register value: first instruction in bits 15:0, instruction count in bits 31:16.
uint32_t sparrow_model_simd_seg(uint32_t first, uint32_t count);
// Configures and enables a PCU in SIMD mode with the given walk (mode = simd).
void sparrow_model_prog_simd(sparrow_model_prog_t *prog, uint32_t tile,
                             const sparrow_model_simd_cfg_t *cfg);
// Configures and enables a PCU in LOAD mode (mode = load): beats beats from input a go to program
// memory words (load_base + i*lanes + l) mod SPARROW_PCU_IMEM_WORDS.
void sparrow_model_prog_simd_load(sparrow_model_prog_t *prog, uint32_t tile, uint32_t load_base,
                                  uint32_t beats);

// Writes the program into the model's program memory from entry 0 (PROG_ADDR, LO, HI per entry).
void sparrow_model_prog_load(sparrow_model_t *model, const sparrow_model_prog_t *prog);

// Loads the program, launches it and advances simulated time until STATUS is no longer busy (at
// most max_cycles, in steps of one cycle so that the done cycle is exact). Returns STATUS.
uint32_t sparrow_model_prog_launch_wait(sparrow_model_t *model, const sparrow_model_prog_t *prog,
                                        uint64_t max_cycles);

#endif  // SPARROW_SIM_MODEL_MODEL_PROG_BUILDER_H_
