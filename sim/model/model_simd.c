// SPDX-License-Identifier: Apache-2.0
//
// PCU SIMD and LOAD modes (docs/fabric.md, "PCU SIMD mode").
//
// LOAD takes `blocks` beats from input a into the PCU's program memory. SIMD runs the program's
// eight segments over the walk rows x (prologue, passes x (beats x body, end of pass)), epilogue,
// with `lanes` lanes of sixteen registers and two predicates each. Every value comes from the
// sparrow_fp_* functions the doc names, per lane, in program order, and only executing lanes OR
// their flags into FP_STATUS, so values and flags do not depend on the order the model visits
// units in: a POP waits for its beat, a PUSH for room, and nothing else depends on timing.
//
// Issue groups (the timing rule) are counted as instructions issue: up to `lanes` consecutive
// instructions of a segment per group, a group ending after POP, PUSH, RSUM or RMAX. The count is
// the PCU's term in the cycle estimate (model_estimate.c).
#include <stdint.h>
#include <string.h>

#include "model_internal.h"
#include "sparrow_fp.h"
#include "sparrow_fp_special.h"

// Two words per instruction: word 2i the instruction, word 2i + 1 its immediate.
#define INSNS (SPARROW_PCU_IMEM_WORDS / 2u)
#define SIGN_BIT 0x80000000u
#define SEG_FIRST_MASK 0xFFFFu
#define SEG_COUNT_SHIFT 16u
#define MAX_PASSES 3u

// Load addresses wrap modulo the memory; with a power-of-two size, 32-bit wrapping arithmetic on
// simd_load_base + i*lanes + l gives the same word as the exact sum would.
_Static_assert((SPARROW_PCU_IMEM_WORDS & (SPARROW_PCU_IMEM_WORDS - 1u)) == 0,
               "program memory size must be a power of two");
_Static_assert(SPARROW_PCU_IMEM_WORDS % 2u == 0, "instructions are pairs of words");

// POP's port field: 0 = a, 1 = b, 2 = c (docs/fabric.md); 3 names no input.
static const uint32_t kPopPortKind[] = {SPARROW_DST_PCU_A, SPARROW_DST_PCU_B, SPARROW_DST_PCU_C};
#define POP_PORTS (sizeof kPopPortKind / sizeof kPopPortKind[0])

typedef struct {
  uint32_t op;
  uint32_t dst;
  uint32_t src_a;
  uint32_t src_b;
  uint32_t pred;
  uint32_t port;
  uint32_t imm;
} insn_t;

static uint32_t field(uint32_t word, uint32_t lsb, uint32_t width) {
  return (word >> lsb) & ((1u << width) - 1u);
}

static insn_t decode(const uint32_t *imem, uint32_t index) {
  uint32_t word = imem[2u * index];
  insn_t insn = {
      .op = field(word, SPARROW_SIMD_FIELD_OP_LSB, SPARROW_SIMD_FIELD_OP_WIDTH),
      .dst = field(word, SPARROW_SIMD_FIELD_DST_LSB, SPARROW_SIMD_FIELD_DST_WIDTH),
      .src_a = field(word, SPARROW_SIMD_FIELD_SRC_A_LSB, SPARROW_SIMD_FIELD_SRC_A_WIDTH),
      .src_b = field(word, SPARROW_SIMD_FIELD_SRC_B_LSB, SPARROW_SIMD_FIELD_SRC_B_WIDTH),
      .pred = field(word, SPARROW_SIMD_FIELD_PRED_LSB, SPARROW_SIMD_FIELD_PRED_WIDTH),
      .port = field(word, SPARROW_SIMD_FIELD_PORT_LSB, SPARROW_SIMD_FIELD_PORT_WIDTH),
      .imm = imem[2u * index + 1u],
  };
  return insn;
}

static uint32_t segment_of(const sparrow_model_simd_run_t *simd) {
  switch (simd->stage) {
    case SPARROW_MODEL_SIMD_PROLOGUE:
      return 0;
    case SPARROW_MODEL_SIMD_BODY:
      return 1u + 2u * simd->pass;
    case SPARROW_MODEL_SIMD_END:
      return 2u + 2u * simd->pass;
    default:
      return SPARROW_SIMD_SEGMENTS - 1u;  // the epilogue
  }
}

// A pass starts at beat 0. An empty body would run `beats` times to no effect and take no cycle,
// so the walk goes straight to the end of the pass (a huge simd_beats costs nothing).
static void enter_pass(sparrow_model_simd_run_t *simd) {
  simd->beat = 0;
  simd->stage =
      simd->seg_count[1u + 2u * simd->pass] == 0 ? SPARROW_MODEL_SIMD_END : SPARROW_MODEL_SIMD_BODY;
}

// Moves the walk to the segment after the current one. Outside its loop a counter reads 0: beat is
// 0 in the prologue and at the end of a pass, row is 0 in the epilogue (README.md).
static void next_segment(sparrow_model_simd_run_t *simd) {
  simd->issued = 0;
  simd->group_len = 0;
  switch (simd->stage) {
    case SPARROW_MODEL_SIMD_PROLOGUE:
      simd->pass = 0;
      enter_pass(simd);
      return;
    case SPARROW_MODEL_SIMD_BODY:
      if (++simd->beat < simd->beats) {
        return;
      }
      simd->beat = 0;
      simd->stage = SPARROW_MODEL_SIMD_END;
      return;
    case SPARROW_MODEL_SIMD_END:
      if (++simd->pass < simd->passes) {
        enter_pass(simd);
        return;
      }
      simd->pass = 0;
      if (++simd->row < simd->rows) {
        simd->stage = SPARROW_MODEL_SIMD_PROLOGUE;
        return;
      }
      simd->row = 0;
      simd->stage = SPARROW_MODEL_SIMD_EPILOGUE;
      return;
    default:
      simd->stage = SPARROW_MODEL_SIMD_DONE;
      return;
  }
}

// Whether a row runs any instruction at all: if not, the rows loop is skipped (it takes no cycle).
static bool row_is_empty(const sparrow_model_simd_run_t *simd) {
  if (simd->seg_count[0] != 0) {
    return false;
  }
  for (uint32_t pass = 0; pass < simd->passes; ++pass) {
    if (simd->seg_count[1u + 2u * pass] != 0 || simd->seg_count[2u + 2u * pass] != 0) {
      return false;
    }
  }
  return true;
}

void sparrow_model_simd_setup(sparrow_model_t *model, uint32_t tile) {
  const uint32_t *regs = model->pcu_regs[tile];
  sparrow_model_simd_run_t *simd = &model->phase.pcu[tile].simd;
  // The phase state was zeroed: registers, predicates, position and counts start at 0.
  simd->rows = regs[SPARROW_PCU_SIMD_ROWS] == 0 ? 1u : regs[SPARROW_PCU_SIMD_ROWS];
  simd->beats = regs[SPARROW_PCU_SIMD_BEATS] == 0 ? 1u : regs[SPARROW_PCU_SIMD_BEATS];
  uint32_t passes = regs[SPARROW_PCU_SIMD_PASSES];
  simd->passes = passes == 0 ? 1u : passes > MAX_PASSES ? MAX_PASSES : passes;
  simd->row_base = regs[SPARROW_PCU_SIMD_ROW_BASE];
  simd->col_base = regs[SPARROW_PCU_SIMD_COL_BASE];
  for (uint32_t seg = 0; seg < SPARROW_SIMD_SEGMENTS; ++seg) {
    uint32_t value = regs[SPARROW_PCU_SIMD_SEG + seg];
    simd->seg_first[seg] = value & SEG_FIRST_MASK;
    simd->seg_count[seg] = value >> SEG_COUNT_SHIFT;
  }
  simd->stage = row_is_empty(simd) ? SPARROW_MODEL_SIMD_EPILOGUE : SPARROW_MODEL_SIMD_PROLOGUE;
}

// Source operand of one lane: r0..r15, the immediate, COL, ROW, LANE; other codes read 0.
static uint32_t source(const sparrow_model_simd_run_t *simd, uint32_t lanes, uint32_t lane,
                       uint32_t code, uint32_t imm) {
  if (code < SPARROW_SIMD_REGS) {
    return simd->reg[lane][code];
  }
  switch (code) {
    case SPARROW_SIMD_SRC_IMM:
      return imm;
    case SPARROW_SIMD_SRC_COL:
      return simd->col_base + simd->beat * lanes + lane;
    case SPARROW_SIMD_SRC_ROW:
      return simd->row_base + simd->row;
    case SPARROW_SIMD_SRC_LANE:
      return lane;
    default:
      return 0;
  }
}

static bool predicate(const sparrow_model_simd_run_t *simd, uint32_t lane, uint32_t pred) {
  switch (pred) {
    case SPARROW_SIMD_PRED_P0:
      return simd->pred[lane][0];
    case SPARROW_SIMD_PRED_NOT_P0:
      return !simd->pred[lane][0];
    case SPARROW_SIMD_PRED_P1:
      return simd->pred[lane][1];
    default:
      return true;  // always
  }
}

// POP: the next beat on the port, one word per lane, for every lane (never predicated). Returns
// false while the beat is not there; a port that names no input never delivers (deadlock).
static bool pop(sparrow_model_t *model, uint32_t tile, const insn_t *insn) {
  if (insn->port >= POP_PORTS) {
    return false;
  }
  sparrow_model_fifo_t *in =
      &model->phase.dst[tile * SPARROW_SWITCH_DST_PER_TILE + kPopPortKind[insn->port]];
  if (sparrow_model_fifo_empty(in)) {
    return false;
  }
  sparrow_model_simd_run_t *simd = &model->phase.pcu[tile].simd;
  const uint32_t *word = sparrow_model_fifo_head(in)->word;
  for (uint32_t lane = 0; lane < model->config.lanes; ++lane) {
    simd->reg[lane][insn->dst] = word[lane];
  }
  sparrow_model_fifo_pop(in);
  return true;
}

// PUSH: one beat of src_a on pcu_out if lane 0's predicate holds. Returns false while the output
// has no room.
static bool push(sparrow_model_t *model, uint32_t tile, const insn_t *insn) {
  sparrow_model_simd_run_t *simd = &model->phase.pcu[tile].simd;
  if (!predicate(simd, 0, insn->pred)) {
    return true;
  }
  sparrow_model_fifo_t *out =
      &model->phase.src[tile * SPARROW_SWITCH_SRC_PER_TILE + SPARROW_SRC_PCU_OUT];
  if (sparrow_model_fifo_full(out)) {
    return false;
  }
  uint32_t lanes = model->config.lanes;
  sparrow_model_beat_t beat;
  memset(&beat, 0, sizeof beat);
  for (uint32_t lane = 0; lane < lanes; ++lane) {
    beat.word[lane] = source(simd, lanes, lane, insn->src_a, insn->imm);
  }
  sparrow_model_fifo_push(out, &beat);
  return true;
}

// RSUM / RMAX: every lane's a goes into the tree; the result goes to the lanes where the predicate
// holds. The tree's flags count when at least one lane executes (README.md).
static void reduce(sparrow_model_t *model, uint32_t tile, const insn_t *insn) {
  sparrow_model_simd_run_t *simd = &model->phase.pcu[tile].simd;
  uint32_t lanes = model->config.lanes;
  uint32_t values[SPARROW_MODEL_MAX_LANES];
  bool any = false;
  for (uint32_t lane = 0; lane < lanes; ++lane) {
    values[lane] = source(simd, lanes, lane, insn->src_a, insn->imm);
    any |= predicate(simd, lane, insn->pred);
  }
  if (!any) {
    return;
  }
  uint32_t result = 0;
  uint8_t flags = 0;
  sparrow_fp_reduce_status_t status = insn->op == SPARROW_SIMD_OP_RSUM
                                          ? sparrow_fp_reduce_sum(lanes, values, &result, &flags)
                                          : sparrow_fp_reduce_max(lanes, values, &result, &flags);
  if (status != SPARROW_FP_REDUCE_OK) {
    return;  // not reached: sparrow_model_create refuses lanes the trees do not define
  }
  model->fp_status |= flags;
  for (uint32_t lane = 0; lane < lanes; ++lane) {
    if (predicate(simd, lane, insn->pred)) {
      simd->reg[lane][insn->dst] = result;
    }
  }
}

// One lane of an elementwise instruction whose predicate holds in that lane.
static void lane_op(sparrow_model_simd_run_t *simd, uint32_t lane, const insn_t *insn, uint32_t a,
                    uint32_t b, uint8_t *flags) {
  uint32_t *dst = &simd->reg[lane][insn->dst];
  bool *p = &simd->pred[lane][insn->dst & 1u];  // compares: dst bit 0 selects p0 / p1
  switch (insn->op) {
    case SPARROW_SIMD_OP_FADD:
      *dst = sparrow_fp_add(a, b, flags);
      break;
    case SPARROW_SIMD_OP_FSUB:
      *dst = sparrow_fp_add(a, b ^ SIGN_BIT, flags);
      break;
    case SPARROW_SIMD_OP_FMUL:
      *dst = sparrow_fp_mul(a, b, flags);
      break;
    case SPARROW_SIMD_OP_FMAX:
      *dst = sparrow_fp_max(a, b, flags);
      break;
    case SPARROW_SIMD_OP_FMIN:
      *dst = sparrow_fp_min(a, b, flags);
      break;
    case SPARROW_SIMD_OP_MOV:
      *dst = a;
      break;
    case SPARROW_SIMD_OP_SEL:
      *dst = simd->pred[lane][0] ? a : b;
      break;
    case SPARROW_SIMD_OP_IADD:
      *dst = a + b;
      break;
    case SPARROW_SIMD_OP_ISUB:
      *dst = a - b;
      break;
    case SPARROW_SIMD_OP_AND:
      *dst = a & b;
      break;
    case SPARROW_SIMD_OP_OR:
      *dst = a | b;
      break;
    case SPARROW_SIMD_OP_XOR:
      *dst = a ^ b;
      break;
    case SPARROW_SIMD_OP_SHL:
      *dst = a << (b % 32u);
      break;
    case SPARROW_SIMD_OP_SHR:
      *dst = a >> (b % 32u);
      break;
    case SPARROW_SIMD_OP_SAR:
      // Arithmetic shift written out: right-shifting a negative signed value is
      // implementation-defined in C11.
      *dst = (a >> (b % 32u)) | ((a & SIGN_BIT) != 0 ? ~(UINT32_MAX >> (b % 32u)) : 0u);
      break;
    case SPARROW_SIMD_OP_CLTS:
      *p = (int32_t)a < (int32_t)b;
      break;
    case SPARROW_SIMD_OP_CLTU:
      *p = a < b;
      break;
    case SPARROW_SIMD_OP_CEQ:
      *p = a == b;
      break;
    case SPARROW_SIMD_OP_FCLT:
      *p = sparrow_fp_cmp(a, b, flags) == SPARROW_FP_CMP_LESS;
      break;
    default:
      break;  // NOP, and the opcodes the table does not define, do nothing
  }
}

// Executes one instruction; false when it must wait for a stream (nothing has changed then).
static bool execute(sparrow_model_t *model, uint32_t tile, const insn_t *insn) {
  switch (insn->op) {
    case SPARROW_SIMD_OP_POP:
      return pop(model, tile, insn);
    case SPARROW_SIMD_OP_PUSH:
      return push(model, tile, insn);
    case SPARROW_SIMD_OP_RSUM:
    case SPARROW_SIMD_OP_RMAX:
      reduce(model, tile, insn);
      return true;
    default:
      break;
  }
  sparrow_model_simd_run_t *simd = &model->phase.pcu[tile].simd;
  uint32_t lanes = model->config.lanes;
  for (uint32_t lane = 0; lane < lanes; ++lane) {
    if (predicate(simd, lane, insn->pred)) {
      uint32_t a = source(simd, lanes, lane, insn->src_a, insn->imm);
      uint32_t b = source(simd, lanes, lane, insn->src_b, insn->imm);
      lane_op(simd, lane, insn, a, b, &model->fp_status);
    }
  }
  return true;
}

static bool ends_group(uint32_t op) {
  return op == SPARROW_SIMD_OP_POP || op == SPARROW_SIMD_OP_PUSH || op == SPARROW_SIMD_OP_RSUM ||
         op == SPARROW_SIMD_OP_RMAX;
}

// Counts an issued instruction into the issue groups (the timing rule of docs/fabric.md).
static void count_issue(sparrow_model_simd_run_t *simd, uint32_t op, uint32_t lanes) {
  if (simd->group_len == 0) {
    simd->groups++;
  }
  simd->group_len++;
  if (simd->group_len >= lanes || ends_group(op)) {
    simd->group_len = 0;
  }
}

bool sparrow_model_simd_step(sparrow_model_t *model, uint32_t tile) {
  sparrow_model_simd_run_t *simd = &model->phase.pcu[tile].simd;
  const uint32_t *imem = model->pcu_imem[tile];
  bool moved = false;
  // Runs until an instruction waits for a stream: values do not depend on how far a round gets.
  while (simd->stage != SPARROW_MODEL_SIMD_DONE) {
    uint32_t seg = segment_of(simd);
    if (simd->issued >= simd->seg_count[seg]) {
      next_segment(simd);
      moved = true;
      continue;
    }
    // Instruction addresses wrap modulo the memory's 256 instructions.
    insn_t insn = decode(imem, (simd->seg_first[seg] + simd->issued) % INSNS);
    if (!execute(model, tile, &insn)) {
      return moved;
    }
    count_issue(simd, insn.op, model->config.lanes);
    simd->issued++;
    moved = true;
  }
  return moved;
}

bool sparrow_model_load_step(sparrow_model_t *model, uint32_t tile) {
  sparrow_model_pcu_run_t *run = &model->phase.pcu[tile];
  sparrow_model_fifo_t *a =
      &model->phase.dst[tile * SPARROW_SWITCH_DST_PER_TILE + SPARROW_DST_PCU_A];
  if (run->load_beats >= run->blocks || sparrow_model_fifo_empty(a)) {
    return false;
  }
  uint32_t lanes = model->config.lanes;
  const uint32_t *word = sparrow_model_fifo_head(a)->word;
  // Lane l of beat i goes to word (simd_load_base + i*lanes + l) mod pcu_imem_words.
  uint32_t first = run->load_base + (uint32_t)run->load_beats * lanes;
  for (uint32_t lane = 0; lane < lanes; ++lane) {
    model->pcu_imem[tile][(first + lane) % SPARROW_PCU_IMEM_WORDS] = word[lane];
  }
  sparrow_model_fifo_pop(a);
  run->load_beats++;
  return true;
}
