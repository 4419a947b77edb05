// SPDX-License-Identifier: Apache-2.0
//
// A small builder of fabric programs (docs/fabric.md, "Programs"): 64-bit entries encoded from the
// constants of the generated sparrow_hw.h, plus helpers that configure one AGCU channel, PMU port,
// PMU buffer synchronization, PCU or switch route at a time.
//
// The builder keeps a shadow of every configuration register it has written in the current program
// and skips a write whose value the register already holds: config registers persist across phases,
// so only what changes costs an entry. Enable registers are cleared by the fabric at the end of
// each phase, so the shadow forgets them at every op_run. A new program starts with an empty
// shadow, so every program is self-contained (it never relies on what an earlier launch left
// behind).

#ifndef SPARROW_HOST_OPS_PROGRAM_H_
#define SPARROW_HOST_OPS_PROGRAM_H_

#include <stddef.h>
#include <stdint.h>

#include "sparrow_hw.h"
#include "sparrow_ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sparrow_ops_prog_status {
  SPARROW_OPS_PROG_OK = 0,
  SPARROW_OPS_PROG_E_ARG,    // unit/register out of range, or a bad tile/channel/port index
  SPARROW_OPS_PROG_E_FULL,   // the program would exceed its entry limit
  SPARROW_OPS_PROG_E_NOMEM,  // host out of memory
} sparrow_ops_prog_status_t;

// Shadow dimensions: unit ids are below 0x40 (pcu + max_tiles - 1 = 0x37) and no unit has more than
// 128 registers (checked below against the generated table).
#define SPARROW_OPS_PROG_UNITS 64u
#define SPARROW_OPS_PROG_REGS 128u
_Static_assert(SPARROW_UNIT_PCU + SPARROW_MAX_TILES <= SPARROW_OPS_PROG_UNITS, "unit ids");
_Static_assert(SPARROW_AGCU_REG_COUNT <= SPARROW_OPS_PROG_REGS &&
                   SPARROW_PMU_REG_COUNT <= SPARROW_OPS_PROG_REGS &&
                   SPARROW_PCU_REG_COUNT <= SPARROW_OPS_PROG_REGS &&
                   SPARROW_MAX_TILES * SPARROW_SWITCH_DST_PER_TILE <= SPARROW_OPS_PROG_REGS,
               "register counts");

typedef struct sparrow_ops_prog {
  uint32_t tiles;      // the fabric's tile count (unit ids beyond it are refused)
  size_t max_entries;  // program memory size (prog_entries)
  uint64_t *entries;
  size_t count;
  size_t capacity;
  uint8_t known[SPARROW_OPS_PROG_UNITS][SPARROW_OPS_PROG_REGS];
  uint32_t value[SPARROW_OPS_PROG_UNITS][SPARROW_OPS_PROG_REGS];
} sparrow_ops_prog_t;

// One address generator: count[l] iterations (>= 1) and a signed stride at each loop level, level 0
// innermost.
typedef struct sparrow_ops_agen {
  uint32_t base;
  uint32_t count[SPARROW_LOOP_LEVELS];
  int32_t stride[SPARROW_LOOP_LEVELS];
} sparrow_ops_agen_t;

// Entry encodings (bits 63:60 opcode; cfg: 55:48 unit, 47:32 register, 31:0 value).
uint64_t sparrow_ops_entry_cfg(uint32_t unit, uint32_t reg, uint32_t value);
uint64_t sparrow_ops_entry_run(void);
uint64_t sparrow_ops_entry_end(void);

// Number of config registers of a unit id on a fabric with `tiles` tiles; 0 when the unit does not
// exist there.
uint32_t sparrow_ops_unit_reg_count(uint32_t tiles, uint32_t unit);

sparrow_ops_prog_status_t sparrow_ops_prog_init(sparrow_ops_prog_t *prog, uint32_t tiles,
                                                size_t max_entries)
    __attribute__((warn_unused_result));
void sparrow_ops_prog_free(sparrow_ops_prog_t *prog);
// Empties the program and forgets every register value (a new, self-contained program).
void sparrow_ops_prog_clear(sparrow_ops_prog_t *prog);

// Evaluates a builder call and, unless it gives SPARROW_OPS_PROG_OK, returns its status from the
// enclosing function (which returns a sparrow_ops_prog_status_t).
#define SPARROW_OPS_PROG_TRY(expr)          \
  do {                                      \
    sparrow_ops_prog_status_t st_ = (expr); \
    if (st_ != SPARROW_OPS_PROG_OK) {       \
      return st_;                           \
    }                                       \
  } while (0)

// Writes a config register (skipped when the shadow says it already holds the value).
sparrow_ops_prog_status_t sparrow_ops_prog_cfg(sparrow_ops_prog_t *prog, uint32_t unit,
                                               uint32_t reg, uint32_t value)
    __attribute__((warn_unused_result));
// Ends a phase (op_run) and forgets the enable registers, which the fabric clears.
sparrow_ops_prog_status_t sparrow_ops_prog_run(sparrow_ops_prog_t *prog)
    __attribute__((warn_unused_result));
// Ends the program (op_end). Always leaves room: the other calls keep one entry free for it.
sparrow_ops_prog_status_t sparrow_ops_prog_end(sparrow_ops_prog_t *prog)
    __attribute__((warn_unused_result));

// Unit helpers. chan: SPARROW_AGCU_CHANNEL_*; port: SPARROW_PMU_PORT_*; buffer 0 or 1.
sparrow_ops_prog_status_t sparrow_ops_prog_agcu(sparrow_ops_prog_t *prog, uint32_t tile,
                                                uint32_t chan, const sparrow_ops_agen_t *agen)
    __attribute__((warn_unused_result));
// An affine PMU port (port_gather 0 for a read port, port_target lines for a write port).
sparrow_ops_prog_status_t sparrow_ops_prog_pmu(sparrow_ops_prog_t *prog, uint32_t tile,
                                               uint32_t port, const sparrow_ops_agen_t *agen)
    __attribute__((warn_unused_result));
// A read port in gather mode (docs/fabric.md, "Index memory and gather mode"): it walks idx_count
// index words from idx_base, count3 times; of the generator it uses base, count0/stride0 (the lines
// of one word), stride1 (the unit of a word's offset: written as given although count1 is unused),
// count2/stride2 (the slot ring) and count3.
sparrow_ops_prog_status_t sparrow_ops_prog_pmu_gather(sparrow_ops_prog_t *prog, uint32_t tile,
                                                      uint32_t port, const sparrow_ops_agen_t *agen,
                                                      uint32_t idx_base, uint32_t idx_count)
    __attribute__((warn_unused_result));
// A write port that fills the index memory (port_target index): the generator walks index lines.
sparrow_ops_prog_status_t sparrow_ops_prog_pmu_index(sparrow_ops_prog_t *prog, uint32_t tile,
                                                     uint32_t port, const sparrow_ops_agen_t *agen)
    __attribute__((warn_unused_result));
sparrow_ops_prog_status_t sparrow_ops_prog_pmu_sync(sparrow_ops_prog_t *prog, uint32_t tile,
                                                    uint32_t buffer, uint32_t enable,
                                                    uint32_t slots, uint32_t wr_lines,
                                                    uint32_t rd_lines)
    __attribute__((warn_unused_result));
// PCU GEMM mode, every block k_count beat pairs (k_table_len 0).
sparrow_ops_prog_status_t sparrow_ops_prog_pcu_gemm(sparrow_ops_prog_t *prog, uint32_t tile,
                                                    uint32_t k_count, uint32_t blocks,
                                                    uint32_t acc_init)
    __attribute__((warn_unused_result));
// PCU GEMM mode with per-block k: block b takes k_table[b mod table_len] beat pairs (entries may be
// 0); 1 <= table_len <= SPARROW_PCU_K_TABLE_ENTRIES.
sparrow_ops_prog_status_t sparrow_ops_prog_pcu_gemm_table(sparrow_ops_prog_t *prog, uint32_t tile,
                                                          uint32_t blocks, uint32_t acc_init,
                                                          const uint32_t *k_table,
                                                          uint32_t table_len)
    __attribute__((warn_unused_result));
// PCU LOAD mode (docs/fabric.md, "PCU SIMD mode"): the phase's first `beats` beats on input a go
// to program memory, lane l of beat i to word (load_base + i*lanes + l) mod pcu_imem_words.
// beats >= 1, load_base < SPARROW_PCU_IMEM_WORDS.
sparrow_ops_prog_status_t sparrow_ops_prog_pcu_load(sparrow_ops_prog_t *prog, uint32_t tile,
                                                    uint32_t load_base, uint32_t beats)
    __attribute__((warn_unused_result));
// PCU SIMD mode: the walk (simd_rows, simd_beats, simd_passes, the ROW and COL bases) and the
// eight simd_seg registers (first instruction | count << 16; sparrow_simd_asm_seg_reg).
typedef struct sparrow_ops_simd_walk {
  uint32_t rows;    // >= 1
  uint32_t beats;   // >= 1
  uint32_t passes;  // 1 .. 3
  uint32_t row_base;
  uint32_t col_base;
  uint32_t seg[SPARROW_SIMD_SEGMENTS];
} sparrow_ops_simd_walk_t;
sparrow_ops_prog_status_t sparrow_ops_prog_pcu_simd(sparrow_ops_prog_t *prog, uint32_t tile,
                                                    const sparrow_ops_simd_walk_t *walk)
    __attribute__((warn_unused_result));
// Routes destination (tile, dst kind) from source (src_tile, src kind); src_kind
// SPARROW_SW_NO_SOURCE disables the route.
sparrow_ops_prog_status_t sparrow_ops_prog_route(sparrow_ops_prog_t *prog, uint32_t tile,
                                                 uint32_t dst_kind, uint32_t src_tile,
                                                 uint32_t src_kind)
    __attribute__((warn_unused_result));

// Snapshot / rollback, so that a caller can try to append a group of phases and undo it when the
// program would overflow. A snapshot copies the shadow (about 40 KiB).
typedef struct sparrow_ops_prog_mark {
  size_t count;
  uint8_t known[SPARROW_OPS_PROG_UNITS][SPARROW_OPS_PROG_REGS];
  uint32_t value[SPARROW_OPS_PROG_UNITS][SPARROW_OPS_PROG_REGS];
} sparrow_ops_prog_mark_t;
void sparrow_ops_prog_mark(const sparrow_ops_prog_t *prog, sparrow_ops_prog_mark_t *mark);
void sparrow_ops_prog_rollback(sparrow_ops_prog_t *prog, const sparrow_ops_prog_mark_t *mark);

// The ops status for a builder status (a full program means the shape needs more entries than the
// device has: unsupported).
sparrow_ops_status_t sparrow_ops_prog_status(sparrow_ops_prog_status_t st);

// Appends a copy of the finished program to the launch list (out keeps it until
// sparrow_ops_programs_free).
sparrow_ops_status_t sparrow_ops_programs_push(sparrow_ops_programs_t *out,
                                               const sparrow_ops_prog_t *prog)
    __attribute__((warn_unused_result));

// How long one launch may take, in wall milliseconds: the simulated RTL is slow (the driver's own
// per-request timeout still bounds every exchange).
#define SPARROW_OPS_LAUNCH_TIMEOUT_MS (30u * 60u * 1000u)

// What the fabric counted over the launches of a run: the driver's counters summed, the sticky FP
// flags (SPARROW_FP_*) ORed, the launches and their program entries counted.
typedef struct sparrow_ops_run_totals {
  uint64_t cycles;
  uint64_t macs;
  uint64_t dram_rd_bytes;
  uint64_t dram_wr_bytes;
  uint32_t fp_status;
  uint32_t launches;
  size_t entries;
} sparrow_ops_run_totals_t;

// Runs the programs in order through the driver, each launch with timeout_ms, and adds what each
// completed launch counted to *totals (the caller zeroes it; launches completed before a failure
// are in it too). The first failed launch ends the run with SPARROW_OPS_E_DEVICE and msg
// "<prefix>launch I of N<suffix>: <driver status>: <driver error>" (prefix and suffix: the caller's
// context, "" for none).
sparrow_ops_status_t sparrow_ops_programs_run(sparrow_dev_t *dev,
                                              const sparrow_ops_programs_t *progs,
                                              uint32_t timeout_ms, const char *prefix,
                                              const char *suffix, sparrow_ops_run_totals_t *totals,
                                              char *msg, size_t msg_len)
    __attribute__((warn_unused_result));

// Adds run totals to an operator's stats, which have the same field names (the GEMM, sparse and
// SIMD stats; macs, which the SIMD stats do not have, is left to the caller).
#define SPARROW_OPS_RUN_TOTALS_ADD(stats, totals)      \
  do {                                                 \
    (stats)->cycles += (totals)->cycles;               \
    (stats)->dram_rd_bytes += (totals)->dram_rd_bytes; \
    (stats)->dram_wr_bytes += (totals)->dram_wr_bytes; \
    (stats)->fp_status |= (totals)->fp_status;         \
    (stats)->launches += (totals)->launches;           \
    (stats)->entries += (totals)->entries;             \
  } while (0)

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_OPS_PROGRAM_H_
