// SPDX-License-Identifier: Apache-2.0
//
// Check suite for the SIMD assembler (host/ops/simd_asm.c), the program builder's SIMD helpers
// (host/ops/program.c), the generic runner (host/ops/simd_run.c) and the SIMD operators
// (host/ops/simd_ops.c). The assembler's encodings are compared with the golden model's own
// builder (sim/model/model_prog_builder.c), its timing with the documented rule, its errors one by
// one; the runner's jobs and the operators run on the golden model in-process (through its CSR
// window, as the firmware drives it) on S and M, and every result is compared bit for bit with
// the golden-order references (host/ref/simd_ref.c), FP_STATUS with the references' flags, the
// cycle counter with the runner's estimate (the model's documented formula: equal, not close),
// the DRAM counters with the streams' beats, and DRAM outside the output buffers must stay
// untouched. The in-process model is a test harness only; the CLI goes through the driver.

#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/model_prog_builder.h"
#include "../../sim/model/sparrow_fp.h"
#include "../../sim/model/sparrow_fp_special.h"
#include "ops_fixture_simd.h"
#include "program.h"
#include "simd_asm.h"
#include "simd_ops.h"
#include "simd_run.h"
#include "simd_special.h"
#include "sparrow_model.h"
#include "sparrow_ref.h"

#define AL SPARROW_SIMD_PRED_ALWAYS
#define IMM SPARROW_SIMD_SRC_IMM
// ---------------------------------------------------------------------------------------------------
// The assembler.

// Every field lands where the hardware table says: the same words as the model's own encoder.
START_TEST(test_asm_encoding) {
  sparrow_simd_asm_t as;
  sparrow_simd_asm_init(&as);
  sparrow_simd_seg_begin(&as, SPARROW_SIMD_SEG_BODY(1));
  sparrow_simd_pop(&as, 15, SPARROW_SIMD_PORT_C);
  sparrow_simd_push(&as, SPARROW_SIMD_PRED_P1, SPARROW_SIMD_LANE, 0);
  sparrow_simd_fadd(&as, SPARROW_SIMD_PRED_NOT_P0, 3, IMM, 7, 0x3F800000u);
  sparrow_simd_fsub(&as, AL, 1, 2, 3, 0);
  sparrow_simd_fmul(&as, SPARROW_SIMD_PRED_P0, 4, SPARROW_SIMD_COL, SPARROW_SIMD_ROW, 0);
  sparrow_simd_fmax(&as, AL, 5, 6, 7, 0);
  sparrow_simd_fmin(&as, AL, 8, 9, 10, 0);
  sparrow_simd_mov(&as, AL, 11, IMM, 0xDEADBEEFu);
  sparrow_simd_sel(&as, AL, 12, 13, 14, 0);
  sparrow_simd_iadd(&as, AL, 0, 1, 2, 0);
  sparrow_simd_isub(&as, AL, 0, 1, 2, 0);
  sparrow_simd_and(&as, AL, 0, 1, 2, 0);
  sparrow_simd_or(&as, AL, 0, 1, 2, 0);
  sparrow_simd_xor(&as, AL, 0, 1, 2, 0);
  sparrow_simd_shl(&as, AL, 0, 1, IMM, 31);
  sparrow_simd_shr(&as, AL, 0, 1, IMM, 1);
  sparrow_simd_sar(&as, AL, 0, 1, IMM, 2);
  sparrow_simd_clts(&as, AL, 1, 1, 2, 0);
  sparrow_simd_cltu(&as, AL, 0, 1, 2, 0);
  sparrow_simd_ceq(&as, SPARROW_SIMD_PRED_P1, 1, 1, 2, 0);
  sparrow_simd_fclt(&as, AL, 0, 1, 2, 0);
  sparrow_simd_rsum(&as, AL, 9, 8, 0);
  sparrow_simd_rmax(&as, SPARROW_SIMD_PRED_P0, 9, 8, 0);
  sparrow_simd_nop(&as);
  sparrow_simd_seg_end(&as);
  ck_assert_int_eq(sparrow_simd_asm_check(&as, NULL, 0), SPARROW_SIMD_ASM_OK);
  ck_assert_uint_eq(as.count, 24);
  uint32_t words[2 * 24];
  ck_assert_int_eq(sparrow_simd_asm_encode(&as, words, 2 * 24 - 1), SPARROW_SIMD_ASM_E_ARG);
  ck_assert_int_eq(sparrow_simd_asm_encode(&as, words, 2 * 24), SPARROW_SIMD_ASM_OK);
  for (uint32_t i = 0; i < as.count; ++i) {
    const sparrow_simd_insn_t *in = &as.insn[i];
    sparrow_model_simd_insn_t want =
        sparrow_model_simd_insn(in->op, in->dst, in->src_a, in->src_b, in->pred, in->port, in->imm);
    ck_assert_uint_eq(words[2 * i], want.word);
    ck_assert_uint_eq(words[2 * i + 1], want.imm);
  }
  // A few by hand, from docs/fabric.md: op 5:0, dst 9:6, src_a 14:10, src_b 19:15, pred 21:20,
  // port 23:22.
  ck_assert_uint_eq(words[0], 1u | 15u << 6 | 2u << 22);                        // pop r15, c
  ck_assert_uint_eq(words[2], 2u | 19u << 10 | 3u << 20);                       // push.p1 lane
  ck_assert_uint_eq(words[4], 3u | 3u << 6 | 16u << 10 | 7u << 15 | 2u << 20);  // fadd.!p0
  ck_assert_uint_eq(words[5], 0x3F800000u);
  ck_assert_uint_eq(words[2 * 17], 18u | 1u << 6 | 1u << 10 | 2u << 15);  // clts p1
  // Segments: body of pass 1 is instructions 0..23; the others empty.
  ck_assert_uint_eq(sparrow_simd_asm_seg_reg(&as, SPARROW_SIMD_SEG_BODY(1), 0), 24u << 16);
  ck_assert_uint_eq(sparrow_simd_asm_seg_reg(&as, SPARROW_SIMD_SEG_BODY(1), 250),
                    (24u << 16) | 250u);
  ck_assert_uint_eq(sparrow_simd_asm_seg_reg(&as, SPARROW_SIMD_SEG_PROLOGUE, 5), 0);
  char text[64];
  sparrow_simd_insn_format(&as.insn[2], text, sizeof(text));
  ck_assert_str_eq(text, "fadd.!p0 r3, #0x3f800000, r7");
  sparrow_simd_insn_format(&as.insn[0], text, sizeof(text));
  ck_assert_str_eq(text, "pop r15, c");
  sparrow_simd_insn_format(&as.insn[17], text, sizeof(text));
  ck_assert_str_eq(text, "clts p1, r1, r2");
}
END_TEST

// Every misuse is refused with the first error kept, and nothing is encoded.
START_TEST(test_asm_errors) {
  sparrow_simd_asm_t as;
  char msg[160];
  struct {
    const char *what;
    sparrow_simd_asm_status_t want;
  } cases[] = {
      {"opcode", SPARROW_SIMD_ASM_E_ARG},
      {"register", SPARROW_SIMD_ASM_E_ARG},
      {"predicate index", SPARROW_SIMD_ASM_E_ARG},
      {"source", SPARROW_SIMD_ASM_E_ARG},
      {"pred", SPARROW_SIMD_ASM_E_ARG},
      {"port", SPARROW_SIMD_ASM_E_ARG},
      {"outside", SPARROW_SIMD_ASM_E_SEGMENT},
      {"nested", SPARROW_SIMD_ASM_E_SEGMENT},
      {"twice", SPARROW_SIMD_ASM_E_SEGMENT},
      {"segment 8", SPARROW_SIMD_ASM_E_SEGMENT},
      {"end alone", SPARROW_SIMD_ASM_E_SEGMENT},
      {"unclosed", SPARROW_SIMD_ASM_E_SEGMENT},
      {"full", SPARROW_SIMD_ASM_E_FULL},
      {"registers", SPARROW_SIMD_ASM_E_REGS},
      {"double free", SPARROW_SIMD_ASM_E_REGS},
      {"reserve taken", SPARROW_SIMD_ASM_E_REGS},
  };
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
    sparrow_simd_asm_init(&as);
    if (c != 6 && c != 10) {
      sparrow_simd_seg_begin(&as, SPARROW_SIMD_SEG_PROLOGUE);
    }
    switch (c) {
      case 0:
        sparrow_simd_emit(&as, SPARROW_SIMD_OP_RMAX + 1u, 0, 0, 0, AL, 0, 0);
        break;
      case 1:
        sparrow_simd_fadd(&as, AL, 16, 0, 0, 0);
        break;
      case 2:
        sparrow_simd_ceq(&as, AL, 2, 0, 0, 0);
        break;
      case 3:
        sparrow_simd_fadd(&as, AL, 0, SPARROW_SIMD_SRC_LANE + 1u, 0, 0);
        break;
      case 4:
        sparrow_simd_fadd(&as, 4, 0, 0, 0, 0);
        break;
      case 5:
        sparrow_simd_pop(&as, 0, 3);
        break;
      case 6:
        sparrow_simd_nop(&as);
        break;
      case 7:
        sparrow_simd_seg_begin(&as, SPARROW_SIMD_SEG_EPILOGUE);
        break;
      case 8:
        sparrow_simd_seg_end(&as);
        sparrow_simd_seg_begin(&as, SPARROW_SIMD_SEG_PROLOGUE);
        break;
      case 9:
        sparrow_simd_seg_end(&as);
        sparrow_simd_seg_begin(&as, SPARROW_SIMD_SEGMENTS);
        break;
      case 10:
        sparrow_simd_seg_end(&as);
        break;
      case 11:
        sparrow_simd_nop(&as);
        break;
      case 12:
        for (uint32_t i = 0; i <= SPARROW_SIMD_INSNS; ++i) {
          sparrow_simd_nop(&as);
        }
        break;
      case 13:
        for (uint32_t i = 0; i <= SPARROW_SIMD_REGS; ++i) {
          (void)sparrow_simd_reg_alloc(&as);
        }
        break;
      case 14:
        sparrow_simd_reg_free(&as, sparrow_simd_reg_alloc(&as));
        sparrow_simd_reg_free(&as, 0);
        break;
      case 15:
        sparrow_simd_reg_reserve(&as, 3);
        sparrow_simd_reg_reserve(&as, 3);
        break;
    }
    if (c != 6 && c != 10 && c != 11 && as.open_seg >= 0) {
      sparrow_simd_seg_end(&as);
    }
    sparrow_simd_asm_status_t st = sparrow_simd_asm_check(&as, msg, sizeof(msg));
    ck_assert_msg(st == cases[c].want, "%s: status %s (%s)", cases[c].what,
                  sparrow_simd_asm_status_name(st), msg);
    ck_assert_str_ne(msg, "ok");
    uint32_t words[SPARROW_PCU_IMEM_WORDS];
    ck_assert_int_eq(sparrow_simd_asm_encode(&as, words, SPARROW_PCU_IMEM_WORDS), cases[c].want);
    printf("asm error (%s): %s\n", cases[c].what, msg);
  }
  // A macro's operands must be allocated, or a temporary could be one of them.
  sparrow_simd_asm_init(&as);
  sparrow_simd_seg_begin(&as, SPARROW_SIMD_SEG_BODY(0));
  uint32_t x = sparrow_simd_reg_alloc(&as);
  sparrow_simd_exp(&as, 5, x);
  sparrow_simd_seg_end(&as);
  ck_assert_int_eq(sparrow_simd_asm_check(&as, msg, sizeof(msg)), SPARROW_SIMD_ASM_E_REGS);
  ck_assert_str_eq(msg, "r5 is an operand but not allocated");
  // Too few registers for a macro's temporaries.
  sparrow_simd_asm_init(&as);
  sparrow_simd_seg_begin(&as, SPARROW_SIMD_SEG_BODY(0));
  for (uint32_t r = 0; r < 8; ++r) {
    sparrow_simd_reg_reserve(&as, r);
  }
  sparrow_simd_tanh(&as, 0, 1);  // needs 10 temporaries
  sparrow_simd_seg_end(&as);
  ck_assert_int_eq(sparrow_simd_asm_check(&as, msg, sizeof(msg)), SPARROW_SIMD_ASM_E_REGS);
  // A full program memory is fine: exactly 256 instructions.
  sparrow_simd_asm_init(&as);
  sparrow_simd_seg_begin(&as, SPARROW_SIMD_SEG_BODY(0));
  for (uint32_t i = 0; i < SPARROW_SIMD_INSNS; ++i) {
    sparrow_simd_nop(&as);
  }
  sparrow_simd_seg_end(&as);
  ck_assert_int_eq(sparrow_simd_asm_check(&as, NULL, 0), SPARROW_SIMD_ASM_OK);
  // Registers: lowest free first, freed ones come back, the peak is kept.
  sparrow_simd_asm_init(&as);
  sparrow_simd_reg_reserve(&as, 0);
  ck_assert_uint_eq(sparrow_simd_reg_alloc(&as), 1);
  ck_assert_uint_eq(sparrow_simd_reg_alloc(&as), 2);
  sparrow_simd_reg_free(&as, 1);
  ck_assert_uint_eq(sparrow_simd_reg_alloc(&as), 1);
  ck_assert_uint_eq(sparrow_simd_regs_free(&as), SPARROW_SIMD_REGS - 3);
  ck_assert_uint_eq(as.regs_peak, 3);
}
END_TEST

// The timing rule: up to `lanes` instructions per group, a group ending after POP, PUSH, RSUM or
// RMAX.
START_TEST(test_asm_groups) {
  sparrow_simd_asm_t as;
  sparrow_simd_asm_init(&as);
  sparrow_simd_seg_begin(&as, SPARROW_SIMD_SEG_PROLOGUE);
  for (int i = 0; i < 9; ++i) {
    sparrow_simd_nop(&as);  // 9 plain instructions
  }
  sparrow_simd_seg_end(&as);
  sparrow_simd_seg_begin(&as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_fadd(&as, AL, 0, 0, 1, 0);
  sparrow_simd_pop(&as, 1, SPARROW_SIMD_PORT_A);  // [fadd pop]
  sparrow_simd_pop(&as, 2, SPARROW_SIMD_PORT_B);  // [pop]
  sparrow_simd_fmul(&as, AL, 0, 0, 1, 0);
  sparrow_simd_rsum(&as, AL, 3, 0, 0);  // [fmul rsum]
  sparrow_simd_push(&as, AL, 3, 0);     // [push]
  sparrow_simd_seg_end(&as);
  sparrow_simd_seg_begin(&as, SPARROW_SIMD_SEG_END(0));
  sparrow_simd_rmax(&as, AL, 3, 0, 0);
  sparrow_simd_seg_end(&as);
  ck_assert_uint_eq(sparrow_simd_asm_groups(&as, SPARROW_SIMD_SEG_PROLOGUE, 4), 3);  // 4 4 1
  ck_assert_uint_eq(sparrow_simd_asm_groups(&as, SPARROW_SIMD_SEG_PROLOGUE, 8), 2);  // 8 1
  ck_assert_uint_eq(sparrow_simd_asm_groups(&as, SPARROW_SIMD_SEG_BODY(0), 4), 4);
  ck_assert_uint_eq(sparrow_simd_asm_groups(&as, SPARROW_SIMD_SEG_BODY(0), 1), 6);
  ck_assert_uint_eq(sparrow_simd_asm_groups(&as, SPARROW_SIMD_SEG_END(0), 4), 1);
  ck_assert_uint_eq(sparrow_simd_asm_groups(&as, SPARROW_SIMD_SEG_EPILOGUE, 4), 0);
}
END_TEST

// The program builder's SIMD helpers write the registers the doc names, and refuse bad walks.
START_TEST(test_prog_simd_helpers) {
  sparrow_ops_prog_t prog;
  ck_assert_int_eq(sparrow_ops_prog_init(&prog, 2, 64), SPARROW_OPS_PROG_OK);
  ck_assert_int_eq(sparrow_ops_prog_pcu_load(&prog, 1, 6, 0), SPARROW_OPS_PROG_E_ARG);
  ck_assert_int_eq(sparrow_ops_prog_pcu_load(&prog, 2, 6, 3), SPARROW_OPS_PROG_E_ARG);
  ck_assert_int_eq(sparrow_ops_prog_pcu_load(&prog, 1, SPARROW_PCU_IMEM_WORDS, 3),
                   SPARROW_OPS_PROG_E_ARG);
  ck_assert_int_eq(sparrow_ops_prog_pcu_load(&prog, 1, 6, 3), SPARROW_OPS_PROG_OK);
  uint32_t unit = SPARROW_UNIT_PCU + 1;
  ck_assert_uint_eq(prog.count, 4);
  ck_assert_int_eq(sparrow_ops_prog_run(&prog), SPARROW_OPS_PROG_OK);
  ck_assert(prog.entries[0] ==
            sparrow_ops_entry_cfg(unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_LOAD));
  ck_assert(prog.entries[1] == sparrow_ops_entry_cfg(unit, SPARROW_PCU_SIMD_LOAD_BASE, 6));
  ck_assert(prog.entries[2] == sparrow_ops_entry_cfg(unit, SPARROW_PCU_BLOCKS, 3));
  ck_assert(prog.entries[3] == sparrow_ops_entry_cfg(unit, SPARROW_PCU_ENABLE, 1));
  sparrow_ops_simd_walk_t walk = {5, 7, 2, 100, 200, {1, 2, 3, 4, 5, 6, 7, 8}};
  sparrow_ops_simd_walk_t bad = walk;
  bad.passes = 4;
  ck_assert_int_eq(sparrow_ops_prog_pcu_simd(&prog, 1, &bad), SPARROW_OPS_PROG_E_ARG);
  bad = walk;
  bad.rows = 0;
  ck_assert_int_eq(sparrow_ops_prog_pcu_simd(&prog, 1, &bad), SPARROW_OPS_PROG_E_ARG);
  ck_assert_int_eq(sparrow_ops_prog_pcu_simd(&prog, 1, &walk), SPARROW_OPS_PROG_OK);
  // mode, rows, beats, passes, row_base, col_base, 8 segments, enable
  ck_assert_uint_eq(prog.count, 5 + 15);
  ck_assert(prog.entries[5] ==
            sparrow_ops_entry_cfg(unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_SIMD));
  ck_assert(prog.entries[6] == sparrow_ops_entry_cfg(unit, SPARROW_PCU_SIMD_ROWS, 5));
  ck_assert(prog.entries[10] == sparrow_ops_entry_cfg(unit, SPARROW_PCU_SIMD_COL_BASE, 200));
  ck_assert(prog.entries[18] == sparrow_ops_entry_cfg(unit, SPARROW_PCU_SIMD_SEG + 7, 8));
  ck_assert(prog.entries[19] == sparrow_ops_entry_cfg(unit, SPARROW_PCU_ENABLE, 1));
  // The shadow: the same walk again costs only the enable (cleared by the phase's end).
  ck_assert_int_eq(sparrow_ops_prog_run(&prog), SPARROW_OPS_PROG_OK);
  size_t before = prog.count;
  ck_assert_int_eq(sparrow_ops_prog_pcu_simd(&prog, 1, &walk), SPARROW_OPS_PROG_OK);
  ck_assert_uint_eq(prog.count, before + 1);
  sparrow_ops_prog_free(&prog);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// Running jobs on the golden model.

typedef struct buffers {
  uint8_t *dram;
  uint64_t dram_bytes;
  uint64_t code_addr, in_addr[SPARROW_OPS_SIMD_INPUTS], out_addr;
  uint64_t out_bytes;
} buffers_t;

// Lays out the job's buffers at odd (aligned) places in a DRAM filled with FILL.
static void layout(const sparrow_ops_simd_plan_t *plan, const sparrow_ops_simd_job_t *job,
                   buffers_t *b) {
  memset(b, 0, sizeof(*b));
  uint64_t at = 0x340;
  b->code_addr = at;
  at += 4ull * plan->code_words + 0x1C4;
  for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
    b->in_addr[i] = at;
    at += (uint64_t)job->in[i].tensors * job->in[i].tensor_bytes + 0x84;
  }
  b->out_addr = at;
  b->out_bytes = (uint64_t)job->out.tensors * job->out.tensor_bytes;
  at += b->out_bytes + 0x400;
  b->dram_bytes = at;
  b->dram = malloc(at);
  ck_assert_ptr_nonnull(b->dram);
  memset(b->dram, FILL, at);
}

static model_run_t run_job(const sparrow_hw_config_t *cfg, const sparrow_ops_fabric_t *fab,
                           const sparrow_ops_simd_plan_t *plan, const sparrow_ops_simd_job_t *job,
                           buffers_t *b) {
  model_run_t r = run_simd_job(cfg, fab, plan, job, b->dram, b->dram_bytes, b->code_addr,
                               b->in_addr, b->out_addr);
  ck_assert_uint_eq(r.macs, 0);  // SIMD work is not counted as MACs
  // Nothing outside the output buffer was written (the code and inputs are still what was put).
  for (uint64_t i = 0; i < b->code_addr; ++i) {
    ck_assert_uint_eq(b->dram[i], FILL);
  }
  for (uint64_t i = b->out_addr + b->out_bytes; i < b->dram_bytes; ++i) {
    ck_assert_uint_eq(b->dram[i], FILL);
  }
  return r;
}

// The beats a job's streams move: every input beat once per pass, every output beat once, and
// the LOAD phases' program beats per launch and tile.
static uint64_t expected_dram_rd(const sparrow_ops_simd_plan_t *plan,
                                 const sparrow_ops_simd_job_t *job) {
  uint64_t beats = (uint64_t)plan->busy_tiles * plan->code_beats;
  for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
    beats += (uint64_t)job->in[i].tensors * job->in[i].beats * job->in[i].passes * job->rows;
  }
  return beats * 4u * plan->fabric.lanes;
}

// ---------------------------------------------------------------------------------------------------
// The operators.

#define SPECIALS 12u
static const uint32_t kSpecialValues[SPECIALS] = {
    0x7F800000u, 0xFF800000u, 0x7FC00000u, 0x7F800001u, 0x80000000u, 0x00000001u,
    0x7F7FFFFFu, 0xFF7FFFFFu, 0x00800000u, 0x7F123456u, 0x3F800000u, 0xC1200000u,
};

static void make_input(sparrow_ops_simd_op_t op, uint32_t which, size_t count, uint64_t seed,
                       bool special, uint32_t *x) {
  sparrow_ref_fill_uniform(seed, count, x);
  bool gelu_x = (op == SPARROW_OPS_GELU || op == SPARROW_OPS_GELU_BWD) && which == 0;
  for (size_t i = 0; i < count && gelu_x; ++i) {
    // [-8, 8): every branch of tanh (small, odd, centred, exp form, saturated) is reached.
    x[i] = x[i] == 0 ? 0 : x[i] + (3u << 23);
  }
  for (size_t i = 0; special && i < count && i < SPECIALS; ++i) {
    x[(i * 7919u + which * 31u) % count] = kSpecialValues[(i + which) % SPECIALS];
  }
}

typedef struct op_result {
  model_run_t run;
  size_t mismatches, count;
  uint8_t golden_flags;
} op_result_t;

static op_result_t check_op(const sparrow_hw_config_t *cfg, sparrow_ops_simd_op_t op, uint32_t m,
                            uint32_t n, uint64_t seed, bool special, uint32_t prog_entries) {
  const sparrow_ops_simd_op_info_t *info = sparrow_ops_simd_info(op);
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  if (prog_entries != 0) {
    fab.prog_entries = prog_entries;
  }
  sparrow_simd_asm_t code;
  sparrow_ops_simd_job_t job;
  ck_assert_int_eq(sparrow_ops_simd_job(op, fab.lanes, m, n, &code, &job), SPARROW_OPS_OK);
  sparrow_ops_simd_plan_t plan;
  char msg[200];
  ck_assert_msg(sparrow_ops_simd_plan(&fab, &job, &plan, msg, sizeof(msg)) == SPARROW_OPS_OK, "%s",
                msg);
  buffers_t b;
  layout(&plan, &job, &b);
  uint32_t *in[SPARROW_OPS_SIMD_MAX_TENSORS] = {NULL, NULL};
  uint32_t *out[SPARROW_OPS_SIMD_MAX_TENSORS] = {NULL, NULL};
  uint32_t *gold[SPARROW_OPS_SIMD_MAX_TENSORS] = {NULL, NULL};
  for (uint32_t i = 0; i < info->inputs; ++i) {
    size_t count = sparrow_ops_simd_elems(info->in_shape[i], m, n);
    in[i] = malloc(count * 4 + 4);
    ck_assert_ptr_nonnull(in[i]);
    make_input(op, i, count, seed + 977u * i, special, in[i]);
    sparrow_ops_simd_pack(info->in_shape[i], fab.lanes, m, n, in[i],
                          (uint32_t *)(b.dram + b.in_addr[i]));
  }
  model_run_t run = run_job(cfg, &fab, &plan, &job, &b);
  op_result_t res;
  memset(&res, 0, sizeof(res));
  res.run = run;
  uint8_t flags = 0;
  size_t count0 = sparrow_ops_simd_elems(info->out_shape[0], m, n);
  for (uint32_t j = 0; j < info->outputs; ++j) {
    size_t count = sparrow_ops_simd_elems(info->out_shape[j], m, n);
    out[j] = malloc(count * 4 + 4);
    gold[j] = malloc(count * 4 + 4);
    ck_assert(out[j] != NULL && gold[j] != NULL);
    sparrow_ops_simd_unpack(info->out_shape[j], fab.lanes, m, n,
                            (const uint32_t *)(b.dram + b.out_addr + j * job.out.tensor_bytes),
                            out[j]);
  }
  switch (op) {
    case SPARROW_OPS_RESIDUAL_ADD:
      sparrow_ref_residual_add_golden(count0, in[0], in[1], gold[0], &flags);
      break;
    case SPARROW_OPS_RESIDUAL_ADD_BWD:
      memcpy(gold[0], in[0], count0 * 4);
      memcpy(gold[1], in[0], count0 * 4);
      break;
    case SPARROW_OPS_BIAS_ADD:
      sparrow_ref_bias_add_golden(m, n, in[0], in[1], gold[0], &flags);
      break;
    case SPARROW_OPS_BIAS_ADD_BWD:
      sparrow_ref_bias_add_bwd_golden(m, n, in[0], gold[0], &flags);
      break;
    case SPARROW_OPS_GELU:
      sparrow_ref_gelu_golden(count0, in[0], gold[0], &flags);
      break;
    case SPARROW_OPS_GELU_BWD:
      sparrow_ref_gelu_bwd_golden(count0, in[0], in[1], gold[0], &flags);
      break;
    default:
      ck_abort();
  }
  for (uint32_t j = 0; j < info->outputs; ++j) {
    size_t count = sparrow_ops_simd_elems(info->out_shape[j], m, n);
    size_t bad = sparrow_ref_count_mismatches(count, out[j], gold[j]);
    for (size_t e = 0; e < count && bad != 0; ++e) {
      if (out[j][e] != gold[j][e]) {
        fprintf(stderr, "%s %ux%u on %s: %s[%zu] = 0x%08x, golden 0x%08x\n", info->name, m, n,
                cfg->name, info->out_names[j], e, out[j][e], gold[j][e]);
        break;
      }
    }
    res.mismatches += bad;
    res.count += count;
  }
  res.golden_flags = flags;
  ck_assert_msg(res.mismatches == 0, "%s %ux%u on %s: %zu of %zu elements differ", info->name, m, n,
                cfg->name, res.mismatches, res.count);
  if (host_flags_observable()) {
    ck_assert_msg(run.fp_status == flags, "%s %ux%u on %s: FP_STATUS 0x%x, golden flags 0x%x",
                  info->name, m, n, cfg->name, run.fp_status, flags);
  }
  ck_assert_msg(run.cycles == run.est_cycles, "%s %ux%u on %s: %llu cycles, estimate %llu",
                info->name, m, n, cfg->name, (unsigned long long)run.cycles,
                (unsigned long long)run.est_cycles);
  ck_assert_uint_eq(run.dram_rd, expected_dram_rd(&plan, &job));
  ck_assert_uint_eq(run.dram_wr,
                    (uint64_t)job.out.tensors * job.out.beats * job.rows * 4u * fab.lanes);
  printf(
      "%-16s %5ux%-5u on %s%s: exact, flags 0x%02x, %llu cycles (= estimate), %u launch(es), "
      "%u insns, %u groups per beat\n",
      info->name, m, n, cfg->name, special ? " (specials)" : "", flags,
      (unsigned long long)run.cycles, run.launches, plan.insns,
      plan.groups[SPARROW_SIMD_SEG_BODY(0)]);
  for (uint32_t k = 0; k < SPARROW_OPS_SIMD_MAX_TENSORS; ++k) {
    free(in[k]);
    free(out[k]);
    free(gold[k]);
  }
  free(b.dram);
  return res;
}

static const struct {
  uint32_t m, n;
} kShapes[] = {{1, 1}, {3, 5}, {17, 64}, {64, 37}, {40, 300}, {130, 8}};
#define SHAPES (sizeof(kShapes) / sizeof(kShapes[0]))

START_TEST(test_ops_exact) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  for (unsigned op = 0; op < SPARROW_OPS_SIMD_OP_COUNT; ++op) {
    for (size_t s = 0; s < SHAPES; ++s) {
      (void)check_op(cfg, (sparrow_ops_simd_op_t)op, kShapes[s].m, kShapes[s].n, 100 + s, false, 0);
    }
  }
}
END_TEST

// Infinities, NaNs (quiet and signalling), the largest values, -0 and subnormals among the
// inputs: still exact, and the NaNs and infinities produced raise the golden flags (overflow,
// invalid) in FP_STATUS.
START_TEST(test_ops_specials) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  for (unsigned op = 0; op < SPARROW_OPS_SIMD_OP_COUNT; ++op) {
    op_result_t r = check_op(cfg, (sparrow_ops_simd_op_t)op, 9, 23, 7, true, 0);
    if (op != SPARROW_OPS_RESIDUAL_ADD_BWD) {
      ck_assert_msg(r.golden_flags & SPARROW_FP_NV, "%s: no invalid operation among the specials",
                    sparrow_ops_simd_info((sparrow_ops_simd_op_t)op)->name);
    }
  }
  // FLT_MAX + FLT_MAX: the infinity produced is reported (OF|NX).
  op_result_t r = check_op(cfg, SPARROW_OPS_RESIDUAL_ADD, 4, 4, 7, true, 0);
  ck_assert_uint_eq(r.golden_flags & (SPARROW_FP_OF | SPARROW_FP_NX),
                    SPARROW_FP_OF | SPARROW_FP_NX);
}
END_TEST

// Exactly representable sums raise no flag at all: so the padding lanes (n not a multiple of
// lanes: zeros) raise none either, or FP_STATUS would not be 0.
START_TEST(test_padding_raises_nothing) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  const uint32_t m = 5, n = 3 * fab.lanes + 1;
  sparrow_simd_asm_t code;
  sparrow_ops_simd_job_t job;
  ck_assert_int_eq(sparrow_ops_simd_job(SPARROW_OPS_GELU, fab.lanes, m, n, &code, &job),
                   SPARROW_OPS_OK);
  sparrow_ops_simd_plan_t plan;
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &job, &plan, NULL, 0), SPARROW_OPS_OK);
  buffers_t b;
  layout(&plan, &job, &b);
  uint32_t x[5 * 25];
  ck_assert_uint_le(m * n, sizeof(x) / sizeof(x[0]));
  for (uint32_t i = 0; i < m * n; ++i) {
    x[i] = (i % 3 == 0) ? 0x80000000u : 0;  // gelu(+-0) = +-0 exactly
  }
  sparrow_ops_simd_pack(SPARROW_OPS_SIMD_MATRIX, fab.lanes, m, n, x,
                        (uint32_t *)(b.dram + b.in_addr[0]));
  model_run_t r = run_job(cfg, &fab, &plan, &job, &b);
  ck_assert_uint_eq(r.fp_status, 0);
  free(b.dram);
}
END_TEST

// A small program memory: the job is cut into one launch per tile, each loading the program
// again; the same bits, and the cycles still equal the estimate.
static size_t one_launch_entries(const sparrow_hw_config_t *cfg, sparrow_ops_simd_op_t op,
                                 uint32_t m, uint32_t n, uint32_t prog_entries, size_t *launches) {
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  fab.prog_entries = prog_entries;
  sparrow_simd_asm_t code;
  sparrow_ops_simd_job_t job;
  ck_assert_int_eq(sparrow_ops_simd_job(op, fab.lanes, m, n, &code, &job), SPARROW_OPS_OK);
  sparrow_ops_simd_plan_t plan;
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &job, &plan, NULL, 0), SPARROW_OPS_OK);
  sparrow_ops_programs_t progs;
  const uint64_t in_addr[2] = {0x10000, 0x20000};
  sparrow_ops_status_t st = sparrow_ops_simd_build(&plan, &job, 0, in_addr, 0x40000, &progs, NULL);
  if (st != SPARROW_OPS_OK) {
    *launches = 0;
    return 0;
  }
  size_t longest = 0;
  for (size_t i = 0; i < progs.count; ++i) {
    longest = progs.lengths[i] > longest ? progs.lengths[i] : longest;
  }
  *launches = progs.count;
  sparrow_ops_programs_free(&progs);
  return longest;
}

START_TEST(test_ops_many_launches) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  size_t launches = 0;
  size_t all = one_launch_entries(cfg, SPARROW_OPS_GELU_BWD, 21, 19, cfg->prog_entries, &launches);
  ck_assert_uint_eq(launches, 1);
  size_t per_tile =
      one_launch_entries(cfg, SPARROW_OPS_GELU_BWD, 21, 19, (uint32_t)all - 1, &launches);
  ck_assert_uint_eq(launches, cfg->tiles);
  ck_assert_uint_lt(per_tile, all);
  printf("gelu_bwd on %s: one launch of %zu entries, or %u of at most %zu\n", cfg->name, all,
         cfg->tiles, per_tile);
  op_result_t r = check_op(cfg, SPARROW_OPS_GELU_BWD, 21, 19, 3, false, (uint32_t)all - 1);
  ck_assert_uint_eq(r.run.launches, cfg->tiles);
  size_t all_sums =
      one_launch_entries(cfg, SPARROW_OPS_BIAS_ADD_BWD, 33, 50, cfg->prog_entries, &launches);
  r = check_op(cfg, SPARROW_OPS_BIAS_ADD_BWD, 33, 50, 3, false, (uint32_t)all_sums - 1);
  ck_assert_uint_eq(r.run.launches, cfg->tiles);
  // Too small even for one tile: refused, not truncated.
  (void)one_launch_entries(cfg, SPARROW_OPS_GELU_BWD, 21, 19, (uint32_t)per_tile - 1, &launches);
  ck_assert_uint_eq(launches, 0);
}
END_TEST

// Bigger shapes, the bias gradient's long columns (more rows than any buffer), on S and M.
START_TEST(test_ops_larger) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  (void)check_op(cfg, SPARROW_OPS_BIAS_ADD_BWD, 2000, 24, 5, false, 0);
  (void)check_op(cfg, SPARROW_OPS_GELU, 64, 256, 6, false, 0);
  (void)check_op(cfg, SPARROW_OPS_GELU_BWD, 64, 256, 7, false, 0);
  (void)check_op(cfg, SPARROW_OPS_RESIDUAL_ADD_BWD, 100, 100, 8, false, 0);
}
END_TEST

// ---------------------------------------------------------------------------------------------------
// The runner beyond the operators: three passes over a row (softmax: max, sum of exponentials,
// scaled output), inputs interleaved on one channel, a per-row scalar, ROW and COL.

// softmax over rows of n, with the fabric's reductions: per lane a running max / sum over the
// beats, then the lane tree (RMAX / RSUM) at the end of the pass. Padding lanes (COL >= n) are
// -inf, whose exp is +0 exactly. Then y = e * recip(sum).
static void emit_softmax(sparrow_simd_asm_t *as, uint32_t n) {
  uint32_t x = sparrow_simd_reg_alloc(as), mx = sparrow_simd_reg_alloc(as);
  uint32_t sum = sparrow_simd_reg_alloc(as), r = sparrow_simd_reg_alloc(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_PROLOGUE);
  sparrow_simd_mov(as, AL, mx, IMM, F_NINF);
  sparrow_simd_mov(as, AL, sum, IMM, 0);
  sparrow_simd_seg_end(as);
  // pass 0: max
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_pop(as, x, SPARROW_SIMD_PORT_A);
  sparrow_simd_cltu(as, AL, 0, SPARROW_SIMD_COL, IMM, n);
  sparrow_simd_sel(as, AL, x, x, IMM, F_NINF);
  sparrow_simd_fmax(as, AL, mx, mx, x, 0);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(0));
  sparrow_simd_rmax(as, AL, mx, mx, 0);
  sparrow_simd_seg_end(as);
  // pass 1: sum of exp(x - max)
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(1));
  sparrow_simd_pop(as, x, SPARROW_SIMD_PORT_A);
  sparrow_simd_cltu(as, AL, 0, SPARROW_SIMD_COL, IMM, n);
  sparrow_simd_sel(as, AL, x, x, IMM, F_NINF);
  sparrow_simd_fsub(as, AL, x, x, mx, 0);
  sparrow_simd_exp(as, x, x);
  sparrow_simd_fadd(as, AL, sum, sum, x, 0);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(1));
  sparrow_simd_rsum(as, AL, sum, sum, 0);
  sparrow_simd_recip(as, r, sum);
  sparrow_simd_seg_end(as);
  // pass 2: y = exp(x - max) * r
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(2));
  sparrow_simd_pop(as, x, SPARROW_SIMD_PORT_A);
  sparrow_simd_cltu(as, AL, 0, SPARROW_SIMD_COL, IMM, n);
  sparrow_simd_sel(as, AL, x, x, IMM, F_NINF);
  sparrow_simd_fsub(as, AL, x, x, mx, 0);
  sparrow_simd_exp(as, x, x);
  sparrow_simd_fmul(as, AL, x, x, r, 0);
  sparrow_simd_push(as, AL, x, 0);
  sparrow_simd_seg_end(as);
}

static void softmax_golden(uint32_t n, uint32_t lanes, const uint32_t *x, uint32_t *y,
                           uint8_t *flags) {
  uint32_t np = (n + lanes - 1) / lanes * lanes;
  uint32_t mx[16], sum[16], e;
  for (uint32_t l = 0; l < lanes; ++l) {
    mx[l] = F_NINF;
    sum[l] = 0;
  }
  for (uint32_t c = 0; c < np; ++c) {
    mx[c % lanes] = sparrow_fp_max(mx[c % lanes], c < n ? x[c] : F_NINF, flags);
  }
  uint32_t m_all, s_all;
  ck_assert_int_eq(sparrow_fp_reduce_max(lanes, mx, &m_all, flags), SPARROW_FP_REDUCE_OK);
  for (uint32_t c = 0; c < np; ++c) {
    e = sparrow_fp_exp(sparrow_fp_add(c < n ? x[c] : F_NINF, m_all ^ 0x80000000u, flags), flags);
    sum[c % lanes] = sparrow_fp_add(sum[c % lanes], e, flags);
  }
  ck_assert_int_eq(sparrow_fp_reduce_sum(lanes, sum, &s_all, flags), SPARROW_FP_REDUCE_OK);
  uint32_t r = sparrow_fp_recip(s_all, flags);
  for (uint32_t c = 0; c < n; ++c) {
    e = sparrow_fp_exp(sparrow_fp_add(x[c], m_all ^ 0x80000000u, flags), flags);
    y[c] = sparrow_fp_mul(e, r, flags);
  }
}

START_TEST(test_runner_three_passes) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  const uint32_t m = 11, n = 45;  // n not a multiple of lanes: the masked padding
  uint32_t np = (n + fab.lanes - 1) / fab.lanes * fab.lanes;
  sparrow_simd_asm_t code;
  sparrow_simd_asm_init(&code);
  emit_softmax(&code, n);
  char msg[200];
  ck_assert_msg(sparrow_simd_asm_check(&code, msg, sizeof(msg)) == SPARROW_SIMD_ASM_OK, "%s", msg);
  sparrow_ops_simd_job_t job;
  memset(&job, 0, sizeof(job));
  job.code = &code;
  job.rows = m;
  job.beats = np / fab.lanes;
  job.passes = 3;
  job.in[0] =
      (sparrow_ops_simd_stream_t){1, 4ull * m * np, np / fab.lanes, 4u * fab.lanes, 3, 4u * np};
  job.out =
      (sparrow_ops_simd_stream_t){1, 4ull * m * np, np / fab.lanes, 4u * fab.lanes, 1, 4u * np};
  sparrow_ops_simd_plan_t plan;
  ck_assert_msg(sparrow_ops_simd_plan(&fab, &job, &plan, msg, sizeof(msg)) == SPARROW_OPS_OK, "%s",
                msg);
  buffers_t b;
  layout(&plan, &job, &b);
  uint32_t x[11 * 45], y[11 * 45], g[11 * 45];
  sparrow_ref_fill_uniform(42, m * n, x);
  for (uint32_t i = 0; i < m * n; ++i) {
    x[i] += x[i] == 0 ? 0 : 4u << 23;  // [-16, 16)
  }
  x[3 * n + 7] = 0x7F800000u;  // a row with +inf: NaNs (inf - inf), reported as invalid
  sparrow_ops_simd_pack(SPARROW_OPS_SIMD_MATRIX, fab.lanes, m, n, x,
                        (uint32_t *)(b.dram + b.in_addr[0]));
  model_run_t r = run_job(cfg, &fab, &plan, &job, &b);
  sparrow_ops_simd_unpack(SPARROW_OPS_SIMD_MATRIX, fab.lanes, m, n,
                          (const uint32_t *)(b.dram + b.out_addr), y);
  uint8_t flags = 0;
  for (uint32_t i = 0; i < m; ++i) {
    softmax_golden(n, fab.lanes, &x[i * n], &g[i * n], &flags);
  }
  ck_assert_uint_eq(sparrow_ref_count_mismatches(m * n, y, g), 0);
  if (host_flags_observable()) {
    ck_assert_uint_eq(r.fp_status, flags);
    ck_assert(flags & SPARROW_FP_NV);
  }
  ck_assert_uint_eq(r.cycles, r.est_cycles);
  // The row is read three times.
  ck_assert_uint_eq(r.dram_rd, expected_dram_rd(&plan, &job));
  ck_assert_uint_eq(r.dram_rd - 4ull * fab.lanes * plan.busy_tiles * plan.code_beats,
                    3ull * 4 * m * np);
  // The rows sum to 1 within a few ulps (the ones without the infinity).
  for (uint32_t i = 0; i < m; ++i) {
    if (i == 3) {
      continue;
    }
    double s = 0;
    for (uint32_t c = 0; c < n; ++c) {
      float f;
      memcpy(&f, &y[i * n + c], 4);
      s += f;
    }
    ck_assert_msg(fabs(s - 1.0) < 1e-5, "row %u sums to %.9g", i, s);
  }
  printf("softmax %ux%u on %s: exact, 3 passes, %llu cycles (= estimate), %u insns\n", m, n,
         cfg->name, (unsigned long long)r.cycles, plan.insns);
  free(b.dram);
}
END_TEST

// Two tensors interleaved on each read channel (one buffer, tensors tensor_bytes apart), three
// interleaved outputs, ROW and COL (with a col_base): out0 = a0 + 2 a1, out1 = b0 - b1, out2 = ROW
// * 1000 + COL (integers).
START_TEST(test_runner_interleaved) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  const uint32_t m = 13, n = 3 * fab.lanes, lanes = fab.lanes;
  const uint32_t beats = n / lanes;
  sparrow_simd_asm_t code;
  sparrow_simd_asm_init(&code);
  sparrow_simd_seg_begin(&code, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_pop(&code, 0, SPARROW_SIMD_PORT_A);  // a0
  sparrow_simd_pop(&code, 1, SPARROW_SIMD_PORT_A);  // a1
  sparrow_simd_pop(&code, 2, SPARROW_SIMD_PORT_B);  // b0
  sparrow_simd_pop(&code, 3, SPARROW_SIMD_PORT_B);  // b1
  sparrow_simd_fmul(&code, AL, 1, 1, 4, 0);
  sparrow_simd_fadd(&code, AL, 0, 0, 1, 0);
  sparrow_simd_fsub(&code, AL, 2, 2, 3, 0);
  sparrow_simd_mov(&code, AL, 5, SPARROW_SIMD_ROW, 0);
  // ROW * 1000 by shifts and adds: 1000 = 1024 - 16 - 8.
  sparrow_simd_shl(&code, AL, 6, 5, IMM, 10);
  sparrow_simd_shl(&code, AL, 7, 5, IMM, 4);
  sparrow_simd_isub(&code, AL, 6, 6, 7, 0);
  sparrow_simd_shl(&code, AL, 7, 5, IMM, 3);
  sparrow_simd_isub(&code, AL, 6, 6, 7, 0);
  sparrow_simd_iadd(&code, AL, 6, 6, SPARROW_SIMD_COL, 0);
  sparrow_simd_push(&code, AL, 0, 0);
  sparrow_simd_push(&code, AL, 2, 0);
  sparrow_simd_push(&code, AL, 6, 0);
  sparrow_simd_seg_end(&code);
  // r4 = 2.0 for every row (the per-row scalar stream has its own test below).
  sparrow_simd_seg_begin(&code, SPARROW_SIMD_SEG_PROLOGUE);
  sparrow_simd_mov(&code, AL, 4, IMM, 0x40000000u);
  sparrow_simd_seg_end(&code);
  char msg[200];
  ck_assert_msg(sparrow_simd_asm_check(&code, msg, sizeof(msg)) == SPARROW_SIMD_ASM_OK, "%s", msg);
  sparrow_ops_simd_job_t job;
  memset(&job, 0, sizeof(job));
  job.code = &code;
  job.rows = m;
  job.beats = beats;
  job.passes = 1;
  job.col_base = 500;
  uint64_t tb = 4ull * m * n;
  job.in[0] = (sparrow_ops_simd_stream_t){2, tb, beats, 4u * lanes, 1, 4u * n};
  job.in[1] = (sparrow_ops_simd_stream_t){2, tb, beats, 4u * lanes, 1, 4u * n};
  job.out = (sparrow_ops_simd_stream_t){3, tb, beats, 4u * lanes, 1, 4u * n};
  sparrow_ops_simd_plan_t plan;
  ck_assert_msg(sparrow_ops_simd_plan(&fab, &job, &plan, msg, sizeof(msg)) == SPARROW_OPS_OK, "%s",
                msg);
  buffers_t b;
  layout(&plan, &job, &b);
  uint32_t *ina = (uint32_t *)(b.dram + b.in_addr[0]), *inb = (uint32_t *)(b.dram + b.in_addr[1]);
  sparrow_ref_fill_uniform(1, 2 * m * n, ina);
  sparrow_ref_fill_uniform(2, 2 * m * n, inb);
  model_run_t r = run_job(cfg, &fab, &plan, &job, &b);
  const uint32_t *out = (const uint32_t *)(b.dram + b.out_addr);
  uint8_t flags = 0;
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t c = 0; c < n; ++c) {
      size_t e = (size_t)i * n + c;
      uint32_t want0 =
          sparrow_fp_add(ina[e], sparrow_fp_mul(ina[m * n + e], 0x40000000u, &flags), &flags);
      uint32_t want1 = sparrow_fp_add(inb[e], inb[m * n + e] ^ 0x80000000u, &flags);
      ck_assert_uint_eq(out[e], want0);
      ck_assert_uint_eq(out[m * n + e], want1);
      ck_assert_uint_eq(out[2 * m * n + e], i * 1000u + 500u + c);
    }
  }
  if (host_flags_observable()) {
    ck_assert_uint_eq(r.fp_status, flags);
  }
  ck_assert_uint_eq(r.cycles, r.est_cycles);
  free(b.dram);
}
END_TEST

// A per-row scalar: one word per row, read as a beat whose lane 0 is the row's (beat stride 0, row
// stride 4 bytes; the buffer has lanes - 1 words of slack after the last). POP it in the prologue,
// spread lane 0 to all lanes with RMAX over a masked copy, multiply the row by it.
START_TEST(test_runner_row_scalar) {
  const sparrow_hw_config_t *cfg = &kSparrowHwConfigs[_i];
  sparrow_ops_fabric_t fab = fabric_of(cfg);
  const uint32_t m = 9, lanes = fab.lanes, n = 2 * lanes, beats = 2;
  sparrow_simd_asm_t code;
  sparrow_simd_asm_init(&code);
  sparrow_simd_seg_begin(&code, SPARROW_SIMD_SEG_PROLOGUE);
  sparrow_simd_pop(&code, 1, SPARROW_SIMD_PORT_B);
  sparrow_simd_ceq(&code, AL, 0, SPARROW_SIMD_LANE, IMM, 0);
  sparrow_simd_sel(&code, AL, 1, 1, IMM, F_NINF);  // -inf except lane 0: max = lane 0's
  sparrow_simd_rmax(&code, AL, 1, 1, 0);
  sparrow_simd_seg_end(&code);
  sparrow_simd_seg_begin(&code, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_pop(&code, 0, SPARROW_SIMD_PORT_A);
  sparrow_simd_fmul(&code, AL, 0, 0, 1, 0);
  sparrow_simd_push(&code, AL, 0, 0);
  sparrow_simd_seg_end(&code);
  ck_assert_int_eq(sparrow_simd_asm_check(&code, NULL, 0), SPARROW_SIMD_ASM_OK);
  sparrow_ops_simd_job_t job;
  memset(&job, 0, sizeof(job));
  job.code = &code;
  job.rows = m;
  job.beats = beats;
  job.passes = 1;
  job.in[0] = (sparrow_ops_simd_stream_t){1, 4ull * m * n, beats, 4u * lanes, 1, 4u * n};
  job.in[1] = (sparrow_ops_simd_stream_t){1, 4ull * (m + lanes - 1), 1, 0, 1, 4u};
  job.out = job.in[0];
  sparrow_ops_simd_plan_t plan;
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &job, &plan, NULL, 0), SPARROW_OPS_OK);
  // Without the slack the last row's beat would read past the buffer: refused.
  sparrow_ops_simd_job_t tight = job;
  tight.in[1].tensor_bytes = 4ull * m;
  char msg[200];
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &tight, &plan, msg, sizeof(msg)), SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "stream b reaches") != NULL, "%s", msg);
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &job, &plan, NULL, 0), SPARROW_OPS_OK);
  buffers_t b;
  layout(&plan, &job, &b);
  uint32_t *x = (uint32_t *)(b.dram + b.in_addr[0]), *s = (uint32_t *)(b.dram + b.in_addr[1]);
  sparrow_ref_fill_uniform(5, m * n, x);
  sparrow_ref_fill_uniform(6, m + lanes - 1, s);
  model_run_t r = run_job(cfg, &fab, &plan, &job, &b);
  const uint32_t *y = (const uint32_t *)(b.dram + b.out_addr);
  for (uint32_t i = 0; i < m; ++i) {
    for (uint32_t c = 0; c < n; ++c) {
      ck_assert_uint_eq(y[i * n + c], sparrow_fp_mul(x[i * n + c], s[i], NULL));
    }
  }
  ck_assert_uint_eq(r.cycles, r.est_cycles);
  free(b.dram);
}
END_TEST

// The plan: balanced contiguous rows; bad jobs refused with a reason.
START_TEST(test_runner_plan) {
  sparrow_ops_fabric_t fab = fabric_of(&kSparrowHwConfigs[1]);  // M: 4 tiles
  sparrow_simd_asm_t code;
  sparrow_ops_simd_job_t job;
  ck_assert_int_eq(sparrow_ops_simd_job(SPARROW_OPS_GELU, fab.lanes, 10, 8, &code, &job),
                   SPARROW_OPS_OK);
  sparrow_ops_simd_plan_t plan;
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &job, &plan, NULL, 0), SPARROW_OPS_OK);
  uint32_t want_count[] = {3, 3, 2, 2}, want_first[] = {0, 3, 6, 8};
  for (uint32_t t = 0; t < 4; ++t) {
    ck_assert_uint_eq(plan.row_count[t], want_count[t]);
    ck_assert_uint_eq(plan.row_first[t], want_first[t]);
  }
  ck_assert_uint_eq(plan.busy_tiles, 4);
  job.rows = 2;
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &job, &plan, NULL, 0), SPARROW_OPS_OK);
  ck_assert_uint_eq(plan.busy_tiles, 2);
  ck_assert_uint_eq(plan.row_count[2], 0);
  char msg[200];
  sparrow_ops_simd_job_t bad = job;
  bad.passes = 4;
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &bad, &plan, msg, sizeof(msg)), SPARROW_OPS_E_ARG);
  bad = job;
  bad.in[0].row_stride += 4;  // the last row would read past the buffer
  bad.rows = 10;
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &bad, &plan, msg, sizeof(msg)), SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "stream a reaches") != NULL, "%s", msg);
  bad = job;
  bad.in[0].passes = 2;  // a one-pass walk would leave the second copy unread
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &bad, &plan, msg, sizeof(msg)), SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "2 passes of a 1-pass walk") != NULL, "%s", msg);
  bad = job;
  bad.out.passes = 2;
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &bad, &plan, msg, sizeof(msg)), SPARROW_OPS_E_ARG);
  bad = job;
  bad.in[0].tensor_bytes = 0x80000000ull;
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &bad, &plan, msg, sizeof(msg)),
                   SPARROW_OPS_E_UNSUPPORTED);
  sparrow_simd_asm_t broken;
  sparrow_simd_asm_init(&broken);
  sparrow_simd_nop(&broken);  // outside a segment
  bad = job;
  bad.code = &broken;
  ck_assert_int_eq(sparrow_ops_simd_plan(&fab, &bad, &plan, msg, sizeof(msg)), SPARROW_OPS_E_ARG);
  ck_assert_msg(strstr(msg, "outside a segment") != NULL, "%s", msg);
  // Unknown operators and names.
  ck_assert_ptr_null(sparrow_ops_simd_info(SPARROW_OPS_SIMD_OP_COUNT));
  sparrow_ops_simd_op_t op;
  ck_assert(!sparrow_ops_simd_find("softmax", &op));
  ck_assert(sparrow_ops_simd_find("gelu_bwd", &op) && op == SPARROW_OPS_GELU_BWD);
  ck_assert_int_eq(sparrow_ops_simd_job(SPARROW_OPS_GELU, fab.lanes, 0, 8, &code, &job),
                   SPARROW_OPS_E_ARG);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("simd_ops");
  TCase *tasm = tcase_create("asm");
  tcase_add_test(tasm, test_asm_encoding);
  tcase_add_test(tasm, test_asm_errors);
  tcase_add_test(tasm, test_asm_groups);
  tcase_add_test(tasm, test_prog_simd_helpers);
  suite_add_tcase(s, tasm);
  TCase *trun = tcase_create("runner");
  tcase_set_timeout(trun, 300);
  tcase_add_test(trun, test_runner_plan);
  tcase_add_loop_test(trun, test_runner_three_passes, 0, 2);
  tcase_add_loop_test(trun, test_runner_interleaved, 0, 2);
  tcase_add_loop_test(trun, test_runner_row_scalar, 0, 2);
  suite_add_tcase(s, trun);
  TCase *tops = tcase_create("ops");
  tcase_set_timeout(tops, 600);
  tcase_add_loop_test(tops, test_ops_exact, 0, 2);
  tcase_add_loop_test(tops, test_ops_specials, 0, 2);
  tcase_add_loop_test(tops, test_padding_raises_nothing, 0, 2);
  tcase_add_loop_test(tops, test_ops_many_launches, 0, 2);
  tcase_add_loop_test(tops, test_ops_larger, 0, 2);
  suite_add_tcase(s, tops);
  return s;
}

int main(void) {
  const char *why = NULL;
  if (sparrow_fp_selfcheck(&why) != SPARROW_FP_SELFCHECK_OK) {
    fprintf(stderr, "host arithmetic unsuitable: %s\n", why);
    return 1;
  }
  SRunner *sr = srunner_create(suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
