// SPDX-License-Identifier: Apache-2.0
//
// The SIMD assembler (docs/simd.md): builds a PCU SIMD program (docs/fabric.md, "PCU SIMD mode")
// instruction by instruction, keeps the eight segments' bookkeeping (prologue, body and end of each
// pass, epilogue), hands out registers, and encodes the program into program-memory words with the
// generated SPARROW_SIMD_* constants.
//
// Emitting never fails on the spot: the first error (a field out of range, a full program memory,
// an instruction outside a segment, no free register) is kept in the assembler, later calls do
// nothing, and sparrow_simd_asm_check() reports it with a message. So a macro that emits fifty
// instructions needs no error handling of its own, and nothing half-built is ever encoded.
//
// Operands: registers r0..r15 are 0..15; SPARROW_SIMD_SRC_IMM (the instruction's immediate),
// SPARROW_SIMD_SRC_COL, _ROW and _LANE are the other sources. Every emit call takes the
// immediate, used where a source is SPARROW_SIMD_SRC_IMM (both sources may name it: one value).
// Predicates: SPARROW_SIMD_PRED_ALWAYS, _P0, _NOT_P0, _P1. A compare's destination is the
// predicate index, 0 (p0) or 1 (p1).

#ifndef SPARROW_HOST_OPS_SIMD_ASM_H_
#define SPARROW_HOST_OPS_SIMD_ASM_H_

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sparrow_hw.h"

#ifdef __cplusplus
extern "C" {
#endif

// Program memory: two words per instruction (the instruction, then its immediate).
#define SPARROW_SIMD_INSNS (SPARROW_PCU_IMEM_WORDS / 2u)
#define SPARROW_SIMD_MAX_PASSES 3u

// Segments (docs/fabric.md, "Walk").
#define SPARROW_SIMD_SEG_PROLOGUE 0u
#define SPARROW_SIMD_SEG_BODY(pass) (1u + 2u * (pass))
#define SPARROW_SIMD_SEG_END(pass) (2u + 2u * (pass))
#define SPARROW_SIMD_SEG_EPILOGUE (SPARROW_SIMD_SEGMENTS - 1u)

// POP's port field (the hardware table has no names for it): 0 = input a, 1 = b, 2 = c.
#define SPARROW_SIMD_PORT_A 0u
#define SPARROW_SIMD_PORT_B 1u
#define SPARROW_SIMD_PORT_C 2u

// Short operand names for programs and macros.
#define SPARROW_SIMD_IMM SPARROW_SIMD_SRC_IMM
#define SPARROW_SIMD_COL SPARROW_SIMD_SRC_COL
#define SPARROW_SIMD_ROW SPARROW_SIMD_SRC_ROW
#define SPARROW_SIMD_LANE SPARROW_SIMD_SRC_LANE

typedef enum sparrow_simd_asm_status {
  SPARROW_SIMD_ASM_OK = 0,
  SPARROW_SIMD_ASM_E_ARG,      // a field out of range (opcode, register, source, predicate, port)
  SPARROW_SIMD_ASM_E_FULL,     // more than SPARROW_SIMD_INSNS instructions
  SPARROW_SIMD_ASM_E_SEGMENT,  // an instruction outside a segment, a segment opened twice, ...
  SPARROW_SIMD_ASM_E_REGS,     // no free register, or freeing one that is not allocated
} sparrow_simd_asm_status_t;

typedef struct sparrow_simd_insn {
  uint8_t op;     // SPARROW_SIMD_OP_*
  uint8_t dst;    // register, or predicate index for compares
  uint8_t src_a;  // register or SPARROW_SIMD_SRC_*
  uint8_t src_b;
  uint8_t pred;  // SPARROW_SIMD_PRED_*
  uint8_t port;  // POP: SPARROW_SIMD_PORT_*
  uint32_t imm;
} sparrow_simd_insn_t;

typedef struct sparrow_simd_asm {
  sparrow_simd_insn_t insn[SPARROW_SIMD_INSNS];
  uint32_t count;  // instructions emitted
  uint32_t seg_first[SPARROW_SIMD_SEGMENTS];
  uint32_t seg_count[SPARROW_SIMD_SEGMENTS];
  uint8_t seg_done[SPARROW_SIMD_SEGMENTS];  // closed (so it cannot be reopened)
  int open_seg;                             // the segment being emitted, -1 when none
  uint16_t regs_used;                       // bit r: register r is allocated
  uint32_t regs_peak;                       // most registers allocated at once
  sparrow_simd_asm_status_t status;         // the first error
  char error[120];                          // what it was
} sparrow_simd_asm_t;

// An empty program: no instruction, every segment empty, every register free.
void sparrow_simd_asm_init(sparrow_simd_asm_t *as);

// The first error (SPARROW_SIMD_ASM_OK when none); msg (may be NULL) gets its description.
sparrow_simd_asm_status_t sparrow_simd_asm_check(const sparrow_simd_asm_t *as, char *msg,
                                                 size_t msg_len)
    __attribute__((warn_unused_result));
const char *sparrow_simd_asm_status_name(sparrow_simd_asm_status_t status);

// Segments: instructions emitted between begin and end form segment seg (contiguous). Each
// segment is emitted at most once; one that is never begun stays empty.
void sparrow_simd_seg_begin(sparrow_simd_asm_t *as, uint32_t seg);
void sparrow_simd_seg_end(sparrow_simd_asm_t *as);

// Registers: the lowest free one (marked used), or 0 with SPARROW_SIMD_ASM_E_REGS when all sixteen
// are taken; reserve marks a chosen register used; free releases one.
uint32_t sparrow_simd_reg_alloc(sparrow_simd_asm_t *as);
void sparrow_simd_reg_reserve(sparrow_simd_asm_t *as, uint32_t reg);
void sparrow_simd_reg_free(sparrow_simd_asm_t *as, uint32_t reg);
uint32_t sparrow_simd_regs_free(const sparrow_simd_asm_t *as);
// Fails with SPARROW_SIMD_ASM_E_REGS unless reg is allocated (or reserved): a macro's operands must
// be, or the macro could hand one of them out as a temporary.
void sparrow_simd_reg_require(sparrow_simd_asm_t *as, uint32_t reg);

// Any instruction (the per-opcode calls below are this with their fields).
void sparrow_simd_emit(sparrow_simd_asm_t *as, uint32_t op, uint32_t dst, uint32_t src_a,
                       uint32_t src_b, uint32_t pred, uint32_t port, uint32_t imm);

void sparrow_simd_nop(sparrow_simd_asm_t *as);
// dst = this lane's word of the next beat on port (every lane; POP is not predicated).
void sparrow_simd_pop(sparrow_simd_asm_t *as, uint32_t dst, uint32_t port);
// One beat of src on pcu_out (when lane 0's predicate holds).
void sparrow_simd_push(sparrow_simd_asm_t *as, uint32_t pred, uint32_t src, uint32_t imm);
// dst = op(a, b) where pred holds.
void sparrow_simd_fadd(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                       uint32_t imm);
void sparrow_simd_fsub(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                       uint32_t imm);
void sparrow_simd_fmul(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                       uint32_t imm);
void sparrow_simd_fmax(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                       uint32_t imm);
void sparrow_simd_fmin(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                       uint32_t imm);
void sparrow_simd_mov(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a,
                      uint32_t imm);
// dst = p0 ? a : b where pred holds.
void sparrow_simd_sel(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                      uint32_t imm);
void sparrow_simd_iadd(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                       uint32_t imm);
void sparrow_simd_isub(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                       uint32_t imm);
void sparrow_simd_and(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                      uint32_t imm);
void sparrow_simd_or(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                     uint32_t imm);
void sparrow_simd_xor(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                      uint32_t imm);
void sparrow_simd_shl(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                      uint32_t imm);
void sparrow_simd_shr(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                      uint32_t imm);
void sparrow_simd_sar(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, uint32_t b,
                      uint32_t imm);
// p[p_index] = compare(a, b) where pred holds (p_index 0 or 1).
void sparrow_simd_clts(sparrow_simd_asm_t *as, uint32_t pred, uint32_t p_index, uint32_t a,
                       uint32_t b, uint32_t imm);
void sparrow_simd_cltu(sparrow_simd_asm_t *as, uint32_t pred, uint32_t p_index, uint32_t a,
                       uint32_t b, uint32_t imm);
void sparrow_simd_ceq(sparrow_simd_asm_t *as, uint32_t pred, uint32_t p_index, uint32_t a,
                      uint32_t b, uint32_t imm);
void sparrow_simd_fclt(sparrow_simd_asm_t *as, uint32_t pred, uint32_t p_index, uint32_t a,
                       uint32_t b, uint32_t imm);
// dst = the lane tree's sum / maximum of every lane's a, where pred holds.
void sparrow_simd_rsum(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a,
                       uint32_t imm);
void sparrow_simd_rmax(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a,
                       uint32_t imm);

// Encoding. The instruction word of one instruction (its immediate is the next word).
uint32_t sparrow_simd_insn_word(const sparrow_simd_insn_t *insn);
// The whole program as program-memory words, 2 * as->count of them (instruction i at words 2i and
// 2i + 1). Code has no jumps, so it runs wherever it is loaded; only the segment registers
// (sparrow_simd_asm_seg_reg) depend on where. Fails (with the assembler's first error, or E_ARG
// when capacity is below 2 * count) without writing.
sparrow_simd_asm_status_t sparrow_simd_asm_encode(const sparrow_simd_asm_t *as, uint32_t *words,
                                                  size_t capacity)
    __attribute__((warn_unused_result));
// The simd_seg register value of segment seg for a program loaded at instruction origin.
uint32_t sparrow_simd_asm_seg_reg(const sparrow_simd_asm_t *as, uint32_t seg, uint32_t origin);

// Timing (docs/fabric.md, "Timing"): the issue groups of segment seg on a PCU of `lanes` lanes:
// up to `lanes` consecutive instructions per group, a group ending after POP, PUSH, RSUM or RMAX.
// One group issues per cycle, so this is the segment's cycles when no stream makes it wait.
uint32_t sparrow_simd_asm_groups(const sparrow_simd_asm_t *as, uint32_t seg, uint32_t lanes);

// A readable listing of one instruction ("fadd.p1 r3, r2, #0x3f800000"), for docs and failures.
void sparrow_simd_insn_format(const sparrow_simd_insn_t *insn, char *out, size_t out_len);

#ifdef __cplusplus
}
#endif

#endif  // SPARROW_HOST_OPS_SIMD_ASM_H_
