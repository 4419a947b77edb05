// SPDX-License-Identifier: Apache-2.0
//
// The golden model's insides, shared by its source files (not part of the model's API, which is
// sparrow_model.h). The state is split in two: what persists (CSRs, counters, program, unit
// configuration registers, PMU contents) lives in sparrow_model; what exists only while a phase
// runs (address generator positions, stream FIFOs, PCU accumulators) lives in
// sparrow_model_phase_t and is rebuilt from the configuration registers at every op_run.

#ifndef SPARROW_SIM_MODEL_MODEL_INTERNAL_H_
#define SPARROW_SIM_MODEL_MODEL_INTERNAL_H_

#include <stdbool.h>
#include <stdint.h>

#include "sparrow_hw.h"
#include "sparrow_model.h"

// The PCU's k_table and SIMD segment registers must lie inside its register file.
_Static_assert(SPARROW_PCU_K_TABLE + SPARROW_PCU_K_TABLE_ENTRIES <= SPARROW_PCU_REG_COUNT,
               "k_table runs past the PCU's registers");
_Static_assert(SPARROW_PCU_SIMD_SEG + SPARROW_SIMD_SEGMENTS <= SPARROW_PCU_REG_COUNT,
               "simd_seg runs past the PCU's registers");
// The walk names its segments 0 (prologue), 1..6 (body/end of three passes) and 7 (epilogue).
_Static_assert(SPARROW_SIMD_SEGMENTS == 8u, "the SIMD walk has eight segments");

// The model keeps beats in fixed arrays; a configuration with wider lanes is refused at create.
#define SPARROW_MODEL_MAX_LANES 16u
// Stream FIFO depth on both sides of the switch. Any depth >= 1 gives the same values (the order
// of beats on a stream never depends on it); 2 keeps producer and consumer from lock-stepping.
#define SPARROW_MODEL_FIFO_DEPTH 2u
#define SPARROW_MODEL_AGCU_CHANNELS 3u
#define SPARROW_MODEL_PMU_PORTS 4u
#define SPARROW_MODEL_PMU_BUFFERS 2u
#define SPARROW_MODEL_SOURCES (SPARROW_MAX_TILES * SPARROW_SWITCH_SRC_PER_TILE)
#define SPARROW_MODEL_DESTINATIONS (SPARROW_MAX_TILES * SPARROW_SWITCH_DST_PER_TILE)
// Switch register: the source id lies below the enable bit.
#define SPARROW_MODEL_ROUTE_SOURCE_MASK ((1u << SPARROW_SWITCH_ROUTE_ENABLE_BIT) - 1u)
// Units with performance counters: AGCUs, then PMUs, then PCUs.
#define SPARROW_MODEL_COUNTED_UNITS (3u * SPARROW_MAX_TILES)
// Bytes between two units' counter blocks (BUSY_LO, BUSY_HI, STALL_LO, STALL_HI).
#define SPARROW_MODEL_UNIT_COUNTER_STRIDE 16u

// Cycle estimate constants (README.md): one cycle per program entry the control block decodes,
// and a fixed start/stop cost per phase (route set-up, pipeline fill, done collection).
#define SPARROW_MODEL_ENTRY_CYCLES 1u
#define SPARROW_MODEL_PHASE_OVERHEAD 8u

// Launch outcomes: the TOML [errors] codes.
typedef enum {
  SPARROW_MODEL_OK = SPARROW_FABRIC_ERR_NONE,
  SPARROW_MODEL_ERR_BAD_OPCODE = SPARROW_FABRIC_ERR_BAD_OPCODE,
  SPARROW_MODEL_ERR_BAD_UNIT = SPARROW_FABRIC_ERR_BAD_UNIT,
  SPARROW_MODEL_ERR_BAD_REGISTER = SPARROW_FABRIC_ERR_BAD_REGISTER,
  SPARROW_MODEL_ERR_NO_END = SPARROW_FABRIC_ERR_NO_END,
  SPARROW_MODEL_ERR_WATCHDOG = SPARROW_FABRIC_ERR_WATCHDOG,
  SPARROW_MODEL_ERR_BAD_ADDRESS = SPARROW_FABRIC_ERR_BAD_ADDRESS,
} sparrow_model_err_t;

typedef struct {
  uint32_t word[SPARROW_MODEL_MAX_LANES];
} sparrow_model_beat_t;

typedef struct {
  sparrow_model_beat_t beat[SPARROW_MODEL_FIFO_DEPTH];
  uint32_t head;
  uint32_t count;
} sparrow_model_fifo_t;

// A 4-level affine address generator (docs/fabric.md). Addresses are computed in 32-bit unsigned
// arithmetic, as a 32-bit datapath would; PMU users reduce them modulo the PMU's lines.
typedef struct {
  uint32_t base;
  uint32_t count[SPARROW_LOOP_LEVELS];
  uint32_t stride[SPARROW_LOOP_LEVELS];
  uint32_t index[SPARROW_LOOP_LEVELS];
  uint64_t done;   // accesses performed
  uint64_t total;  // accesses to perform (saturates at UINT64_MAX)
} sparrow_model_agen_t;

// One AGCU channel or PMU port during a phase.
typedef struct {
  bool enabled;
  sparrow_model_agen_t agen;
  uint64_t beats;  // beats moved this phase
} sparrow_model_channel_t;

// A PMU read port's gather walk during a phase (docs/fabric.md, "Index memory and gather mode").
// The port's address generator keeps base, counts and strides; this is the walk's position in
//   for pass < count3: for entry < idx_count: [for read < count0: one line]; release -> slot + 1
typedef struct {
  bool enabled;  // port_gather was set when the phase started
  uint32_t idx_base;
  uint32_t idx_count;
  uint32_t entry;  // e: the word's place in the list
  uint32_t pass;   // i3
  uint32_t read;   // i0: lines read for the open word
  uint32_t slot;   // slot the offsets are relative to, modulo count2
  bool word_open;  // the word at `entry` has started (it passed the sync check)
  uint32_t word;   // the open word
  bool finished;
  uint64_t idle_words;  // skip words started this phase: they cost a cycle in the estimate
} sparrow_model_gather_t;

// N-buffer synchronization of one PMU buffer (write port b with read port b).
typedef struct {
  bool enabled;
  uint32_t slots;
  uint32_t wr_lines;
  uint32_t rd_lines;
  uint32_t full;    // slots written and not yet consumed
  uint32_t wr_pos;  // lines written into the current write slot
  uint32_t rd_pos;  // lines read from the current read slot
} sparrow_model_sync_t;

// Where a SIMD walk is (docs/fabric.md, "PCU SIMD mode", Walk): the segment it runs is 0 in the
// prologue, 1 + 2*pass in a body, 2 + 2*pass at the end of a pass and 7 in the epilogue.
typedef enum {
  SPARROW_MODEL_SIMD_PROLOGUE = 0,
  SPARROW_MODEL_SIMD_BODY,
  SPARROW_MODEL_SIMD_END,
  SPARROW_MODEL_SIMD_EPILOGUE,
  SPARROW_MODEL_SIMD_DONE,
} sparrow_model_simd_stage_t;

// One PCU in SIMD mode during a phase: the walk's configuration (counts already read as the PCU
// reads them), its position, the lanes' registers and predicates, and the issue groups so far.
typedef struct {
  uint32_t rows;    // 0 already read as 1
  uint32_t beats;   // 0 already read as 1
  uint32_t passes;  // 1..3
  uint32_t row_base;
  uint32_t col_base;
  uint32_t seg_first[SPARROW_SIMD_SEGMENTS];  // first instruction (not yet reduced modulo 256)
  uint32_t seg_count[SPARROW_SIMD_SEGMENTS];  // instructions, 0 = empty
  sparrow_model_simd_stage_t stage;
  uint32_t row;
  uint32_t pass;
  uint32_t beat;
  uint32_t issued;     // instructions of the running segment issued so far
  uint32_t group_len;  // instructions in the open issue group (0: none open)
  uint32_t reg[SPARROW_MODEL_MAX_LANES][SPARROW_SIMD_REGS];
  bool pred[SPARROW_MODEL_MAX_LANES][2];  // p0, p1
  uint64_t groups;                        // issue groups: the estimate's cycles (README.md)
} sparrow_model_simd_run_t;

// One PCU during a phase: GEMM mode, or SIMD mode (simd), or LOAD mode (load_*).
typedef struct {
  bool enabled;
  uint32_t mode;        // SPARROW_PCU_MODE_*; the reserved values above load already read as GEMM
  uint32_t load_base;   // LOAD: simd_load_base
  uint64_t load_beats;  // LOAD: beats written into program memory this phase
  sparrow_model_simd_run_t simd;
  bool acc_init;
  uint32_t k_count;      // 0 already read as 1
  uint32_t k_table_len;  // 0: every block takes k_count; already capped at the table's size
  uint32_t k_table[SPARROW_PCU_K_TABLE_ENTRIES];
  uint32_t blocks;
  uint32_t blocks_done;
  bool block_open;
  uint32_t block_k;   // beat pairs the open block takes
  uint32_t c_loaded;  // accumulator rows loaded from c in the open block
  uint32_t k_done;    // beat pairs accumulated in the open block
  uint32_t acc[SPARROW_MODEL_MAX_LANES][SPARROW_MODEL_MAX_LANES];
  uint32_t out[SPARROW_MODEL_MAX_LANES][SPARROW_MODEL_MAX_LANES];
  uint32_t out_pending;  // rows of out not yet sent
  uint32_t out_next;     // next row of out to send
  uint64_t c_beats;
  uint64_t ab_pairs;
  uint64_t out_beats;
} sparrow_model_pcu_run_t;

typedef struct {
  sparrow_model_channel_t agcu[SPARROW_MAX_TILES][SPARROW_MODEL_AGCU_CHANNELS];
  sparrow_model_channel_t pmu[SPARROW_MAX_TILES][SPARROW_MODEL_PMU_PORTS];
  sparrow_model_sync_t sync[SPARROW_MAX_TILES][SPARROW_MODEL_PMU_BUFFERS];
  sparrow_model_gather_t gather[SPARROW_MAX_TILES][SPARROW_MODEL_PMU_BUFFERS];  // read port b
  bool index_target[SPARROW_MAX_TILES][SPARROW_MODEL_PMU_BUFFERS];  // write port b -> index memory
  sparrow_model_pcu_run_t pcu[SPARROW_MAX_TILES];
  sparrow_model_fifo_t src[SPARROW_MODEL_SOURCES];       // a unit's output, before the switch
  sparrow_model_fifo_t dst[SPARROW_MODEL_DESTINATIONS];  // a unit's input, after the switch
  // Routes are fixed during a phase: each source's enabled destinations, listed once at setup.
  uint8_t route_dst[SPARROW_MODEL_SOURCES][SPARROW_MODEL_DESTINATIONS];
  uint32_t route_count[SPARROW_MODEL_SOURCES];
  sparrow_model_err_t error;  // set by a unit that cannot go on (bad address)
  uint64_t dram_rd_bytes;
  uint64_t dram_wr_bytes;
  uint64_t macs;
} sparrow_model_phase_t;

struct sparrow_model {
  sparrow_hw_config_t config;
  uint32_t pmu_lines;
  uint32_t idx_lines;  // index memory lines of lanes words (an index write port's modulus)
  uint8_t *dram;
  uint64_t dram_bytes;
  uint32_t dram_bw;
  uint32_t dram_latency;

  // Control block CSRs.
  uint64_t *program;
  uint32_t prog_addr;
  uint32_t prog_data_lo;
  uint32_t status;
  uint32_t error_code;
  uint32_t error_entry;
  uint32_t watchdog;
  uint32_t dram_limit;  // CSR DRAM_LIMIT: bytes the AGCUs may touch; 0 = no limit beyond DRAM
  uint8_t fp_status;

  // Counters. cycles_base holds the finished launches; a running launch adds its elapsed cycles.
  uint64_t cycles_base;
  uint64_t dram_rd;
  uint64_t dram_wr;
  uint64_t macs;
  uint64_t unit_busy[SPARROW_MODEL_COUNTED_UNITS];
  uint64_t unit_stall[SPARROW_MODEL_COUNTED_UNITS];

  // The running launch: its result is known at launch, its STATUS shows after its cycles.
  uint64_t launch_cycles;
  uint64_t launch_elapsed;
  uint32_t launch_final_status;  // STATUS once launch_cycles have elapsed
  uint32_t launch_error_code;
  uint32_t launch_error_entry;

  // Unit configuration registers.
  uint32_t switch_regs[SPARROW_MODEL_DESTINATIONS];
  uint32_t agcu_regs[SPARROW_MAX_TILES][SPARROW_AGCU_REG_COUNT];
  uint32_t pmu_regs[SPARROW_MAX_TILES][SPARROW_PMU_REG_COUNT];
  uint32_t pcu_regs[SPARROW_MAX_TILES][SPARROW_PCU_REG_COUNT];
  uint32_t *pmu_mem[SPARROW_MAX_TILES];  // pmu_lines * lanes words each
  uint32_t *pmu_idx[SPARROW_MAX_TILES];  // index memory: SPARROW_PMU_IDX_WORDS words each
  // PCU program memory (SIMD mode): no reset, kept across phases and launches until written.
  uint32_t pcu_imem[SPARROW_MAX_TILES][SPARROW_PCU_IMEM_WORDS];

  sparrow_model_phase_t phase;  // scratch for the running phase (too big for the stack)
};

// Outcome of executing a program (model_program.c).
typedef struct {
  sparrow_model_err_t error;
  uint32_t entry;   // entry index of the failure
  uint64_t cycles;  // estimated cycles from launch to done or error
} sparrow_model_launch_result_t;

// Executes the whole program from entry 0 (model_program.c).
sparrow_model_launch_result_t sparrow_model_program_execute(sparrow_model_t *model);

// Clears every unit configuration register (ctrl.reset) (model_program.c).
void sparrow_model_config_reset(sparrow_model_t *model);

// Runs one phase from the configuration registers; fills model->phase (model_phase.c).
sparrow_model_err_t sparrow_model_phase_run(sparrow_model_t *model);

// Estimated cycles of the phase in model->phase, and per-unit busy/stall added to the counters
// (model_estimate.c). deadlocked: the phase stopped without finishing.
uint64_t sparrow_model_estimate_phase(sparrow_model_t *model, bool deadlocked);

// Address generators and FIFOs (model_stream.c).
void sparrow_model_agen_init(sparrow_model_agen_t *agen, const uint32_t *block, uint32_t base_reg,
                             uint32_t count_reg, uint32_t stride_reg);
bool sparrow_model_agen_finished(const sparrow_model_agen_t *agen);
uint32_t sparrow_model_agen_address(const sparrow_model_agen_t *agen);
void sparrow_model_agen_advance(sparrow_model_agen_t *agen);

bool sparrow_model_fifo_full(const sparrow_model_fifo_t *fifo);
bool sparrow_model_fifo_empty(const sparrow_model_fifo_t *fifo);
sparrow_model_beat_t *sparrow_model_fifo_head(sparrow_model_fifo_t *fifo);
void sparrow_model_fifo_push(sparrow_model_fifo_t *fifo, const sparrow_model_beat_t *beat);
void sparrow_model_fifo_pop(sparrow_model_fifo_t *fifo);

// Unit steps (model_agcu.c, model_pmu.c, model_pcu.c, model_switch.c): each moves at most one beat
// per port and returns whether anything changed, so that a round without change means deadlock.
bool sparrow_model_agcu_step(sparrow_model_t *model, uint32_t tile);
bool sparrow_model_pmu_step(sparrow_model_t *model, uint32_t tile);
bool sparrow_model_pcu_step(sparrow_model_t *model, uint32_t tile);
bool sparrow_model_switch_step(sparrow_model_t *model);
void sparrow_model_switch_setup(sparrow_model_t *model);

// The PCU's SIMD and LOAD modes (model_simd.c): the walk's set-up from the PCU's registers, and
// steps called by sparrow_model_pcu_step: SIMD issues instructions until one waits for a stream
// (or the walk is over), LOAD takes at most one beat.
void sparrow_model_simd_setup(sparrow_model_t *model, uint32_t tile);
bool sparrow_model_simd_step(sparrow_model_t *model, uint32_t tile);
bool sparrow_model_load_step(sparrow_model_t *model, uint32_t tile);

// Whether a unit channel/port is done for this phase (nothing left to do, or not enabled).
bool sparrow_model_agcu_done(const sparrow_model_t *model, uint32_t tile);
bool sparrow_model_pmu_done(const sparrow_model_t *model, uint32_t tile);
bool sparrow_model_pcu_done(const sparrow_model_t *model, uint32_t tile);

#endif  // SPARROW_SIM_MODEL_MODEL_INTERNAL_H_
