// SPDX-License-Identifier: Apache-2.0
//
// The SIMD assembler (simd_asm.h, docs/simd.md).

#include "simd_asm.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

// The highest source code the lanes read (others read 0: a program never names them).
#define SRC_LAST SPARROW_SIMD_SRC_LANE
#define PRED_LAST SPARROW_SIMD_PRED_P1
#define OP_LAST SPARROW_SIMD_OP_RMAX
#define PORT_LAST SPARROW_SIMD_PORT_C
#define REG_MASK ((1u << SPARROW_SIMD_REGS) - 1u)

_Static_assert(SPARROW_SIMD_REGS <= 16, "the register bitmap is 16 bits");
_Static_assert(SPARROW_SIMD_INSNS <= 0x10000u, "a segment's first instruction has 16 bits");

static void fail(sparrow_simd_asm_t *as, sparrow_simd_asm_status_t status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(sparrow_simd_asm_t *as, sparrow_simd_asm_status_t status, const char *fmt, ...) {
  if (as->status != SPARROW_SIMD_ASM_OK) {
    return;  // the first error is the one worth reporting
  }
  as->status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(as->error, sizeof(as->error), fmt, ap);
  va_end(ap);
}

void sparrow_simd_asm_init(sparrow_simd_asm_t *as) {
  memset(as, 0, sizeof(*as));
  as->open_seg = -1;
}

sparrow_simd_asm_status_t sparrow_simd_asm_check(const sparrow_simd_asm_t *as, char *msg,
                                                 size_t msg_len) {
  sparrow_simd_asm_status_t status = as->status;
  const char *what = as->error;
  if (status == SPARROW_SIMD_ASM_OK && as->open_seg >= 0) {
    status = SPARROW_SIMD_ASM_E_SEGMENT;
    what = "a segment is still open";
  }
  if (msg != NULL && msg_len > 0) {
    snprintf(msg, msg_len, "%s", status == SPARROW_SIMD_ASM_OK ? "ok" : what);
  }
  return status;
}

const char *sparrow_simd_asm_status_name(sparrow_simd_asm_status_t status) {
  switch (status) {
    case SPARROW_SIMD_ASM_OK:
      return "ok";
    case SPARROW_SIMD_ASM_E_ARG:
      return "bad field";
    case SPARROW_SIMD_ASM_E_FULL:
      return "program memory full";
    case SPARROW_SIMD_ASM_E_SEGMENT:
      return "bad segment";
    case SPARROW_SIMD_ASM_E_REGS:
      return "out of registers";
  }
  return "unknown status";
}

// ---------------------------------------------------------------------------------------------------
// Segments.

void sparrow_simd_seg_begin(sparrow_simd_asm_t *as, uint32_t seg) {
  if (seg >= SPARROW_SIMD_SEGMENTS) {
    fail(as, SPARROW_SIMD_ASM_E_SEGMENT, "segment %u does not exist (0..%u)", seg,
         SPARROW_SIMD_SEGMENTS - 1u);
    return;
  }
  if (as->open_seg >= 0) {
    fail(as, SPARROW_SIMD_ASM_E_SEGMENT, "segment %u begun while segment %d is open", seg,
         as->open_seg);
    return;
  }
  if (as->seg_done[seg]) {
    fail(as, SPARROW_SIMD_ASM_E_SEGMENT, "segment %u emitted twice", seg);
    return;
  }
  as->open_seg = (int)seg;
  as->seg_first[seg] = as->count;
  as->seg_count[seg] = 0;
}

void sparrow_simd_seg_end(sparrow_simd_asm_t *as) {
  if (as->open_seg < 0) {
    fail(as, SPARROW_SIMD_ASM_E_SEGMENT, "segment end without a segment begun");
    return;
  }
  uint32_t seg = (uint32_t)as->open_seg;
  as->seg_count[seg] = as->count - as->seg_first[seg];
  as->seg_done[seg] = 1;
  as->open_seg = -1;
}

// ---------------------------------------------------------------------------------------------------
// Registers.

static uint32_t popcount16(uint32_t bits) {
  uint32_t n = 0;
  for (; bits != 0; bits &= bits - 1u) {
    n++;
  }
  return n;
}

uint32_t sparrow_simd_reg_alloc(sparrow_simd_asm_t *as) {
  for (uint32_t r = 0; r < SPARROW_SIMD_REGS; ++r) {
    if ((as->regs_used & (1u << r)) == 0) {
      as->regs_used = (uint16_t)(as->regs_used | (1u << r));
      uint32_t used = popcount16(as->regs_used);
      if (used > as->regs_peak) {
        as->regs_peak = used;
      }
      return r;
    }
  }
  fail(as, SPARROW_SIMD_ASM_E_REGS, "all %u registers are in use", SPARROW_SIMD_REGS);
  return 0;
}

void sparrow_simd_reg_reserve(sparrow_simd_asm_t *as, uint32_t reg) {
  if (reg >= SPARROW_SIMD_REGS || (as->regs_used & (1u << reg)) != 0) {
    fail(as, SPARROW_SIMD_ASM_E_REGS, "register r%u cannot be reserved (taken or not a register)",
         reg);
    return;
  }
  as->regs_used = (uint16_t)(as->regs_used | (1u << reg));
  uint32_t used = popcount16(as->regs_used);
  if (used > as->regs_peak) {
    as->regs_peak = used;
  }
}

void sparrow_simd_reg_free(sparrow_simd_asm_t *as, uint32_t reg) {
  if (reg >= SPARROW_SIMD_REGS || (as->regs_used & (1u << reg)) == 0) {
    fail(as, SPARROW_SIMD_ASM_E_REGS, "register r%u freed but not allocated", reg);
    return;
  }
  as->regs_used = (uint16_t)(as->regs_used & ~(1u << reg) & REG_MASK);
}

void sparrow_simd_reg_require(sparrow_simd_asm_t *as, uint32_t reg) {
  if (reg >= SPARROW_SIMD_REGS || (as->regs_used & (1u << reg)) == 0) {
    fail(as, SPARROW_SIMD_ASM_E_REGS, "r%u is an operand but not allocated", reg);
  }
}

uint32_t sparrow_simd_regs_free(const sparrow_simd_asm_t *as) {
  return SPARROW_SIMD_REGS - popcount16(as->regs_used);
}

// ---------------------------------------------------------------------------------------------------
// Emission.

static bool is_compare(uint32_t op) {
  return op == SPARROW_SIMD_OP_CLTS || op == SPARROW_SIMD_OP_CLTU || op == SPARROW_SIMD_OP_CEQ ||
         op == SPARROW_SIMD_OP_FCLT;
}

void sparrow_simd_emit(sparrow_simd_asm_t *as, uint32_t op, uint32_t dst, uint32_t src_a,
                       uint32_t src_b, uint32_t pred, uint32_t port, uint32_t imm) {
  if (as->status != SPARROW_SIMD_ASM_OK) {
    return;
  }
  if (op > OP_LAST) {
    fail(as, SPARROW_SIMD_ASM_E_ARG, "opcode %u is not defined (0..%u)", op, OP_LAST);
    return;
  }
  if (is_compare(op) ? dst > 1u : dst >= SPARROW_SIMD_REGS) {
    fail(as, SPARROW_SIMD_ASM_E_ARG, "instruction %u: destination %u out of range", as->count, dst);
    return;
  }
  if (src_a > SRC_LAST || src_b > SRC_LAST || pred > PRED_LAST || port > PORT_LAST) {
    fail(as, SPARROW_SIMD_ASM_E_ARG,
         "instruction %u: a source, the predicate or the port is out of range (%u %u %u %u)",
         as->count, src_a, src_b, pred, port);
    return;
  }
  if (as->open_seg < 0) {
    fail(as, SPARROW_SIMD_ASM_E_SEGMENT, "instruction %u emitted outside a segment", as->count);
    return;
  }
  if (as->count >= SPARROW_SIMD_INSNS) {
    fail(as, SPARROW_SIMD_ASM_E_FULL, "more than %u instructions", SPARROW_SIMD_INSNS);
    return;
  }
  sparrow_simd_insn_t *insn = &as->insn[as->count++];
  insn->op = (uint8_t)op;
  insn->dst = (uint8_t)dst;
  insn->src_a = (uint8_t)src_a;
  insn->src_b = (uint8_t)src_b;
  insn->pred = (uint8_t)pred;
  insn->port = (uint8_t)port;
  insn->imm = imm;
}

void sparrow_simd_nop(sparrow_simd_asm_t *as) {
  sparrow_simd_emit(as, SPARROW_SIMD_OP_NOP, 0, 0, 0, SPARROW_SIMD_PRED_ALWAYS, 0, 0);
}

void sparrow_simd_pop(sparrow_simd_asm_t *as, uint32_t dst, uint32_t port) {
  sparrow_simd_emit(as, SPARROW_SIMD_OP_POP, dst, 0, 0, SPARROW_SIMD_PRED_ALWAYS, port, 0);
}

void sparrow_simd_push(sparrow_simd_asm_t *as, uint32_t pred, uint32_t src, uint32_t imm) {
  sparrow_simd_emit(as, SPARROW_SIMD_OP_PUSH, 0, src, 0, pred, 0, imm);
}

#define BINARY(name, opcode)                                                                \
  void sparrow_simd_##name(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a, \
                           uint32_t b, uint32_t imm) {                                      \
    sparrow_simd_emit(as, opcode, dst, a, b, pred, 0, imm);                                 \
  }

BINARY(fadd, SPARROW_SIMD_OP_FADD)
BINARY(fsub, SPARROW_SIMD_OP_FSUB)
BINARY(fmul, SPARROW_SIMD_OP_FMUL)
BINARY(fmax, SPARROW_SIMD_OP_FMAX)
BINARY(fmin, SPARROW_SIMD_OP_FMIN)
BINARY(sel, SPARROW_SIMD_OP_SEL)
BINARY(iadd, SPARROW_SIMD_OP_IADD)
BINARY(isub, SPARROW_SIMD_OP_ISUB)
BINARY(and, SPARROW_SIMD_OP_AND)
BINARY(or, SPARROW_SIMD_OP_OR)
BINARY(xor, SPARROW_SIMD_OP_XOR)
BINARY(shl, SPARROW_SIMD_OP_SHL)
BINARY(shr, SPARROW_SIMD_OP_SHR)
BINARY(sar, SPARROW_SIMD_OP_SAR)
BINARY(clts, SPARROW_SIMD_OP_CLTS)
BINARY(cltu, SPARROW_SIMD_OP_CLTU)
BINARY(ceq, SPARROW_SIMD_OP_CEQ)
BINARY(fclt, SPARROW_SIMD_OP_FCLT)

void sparrow_simd_mov(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a,
                      uint32_t imm) {
  sparrow_simd_emit(as, SPARROW_SIMD_OP_MOV, dst, a, 0, pred, 0, imm);
}

void sparrow_simd_rsum(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a,
                       uint32_t imm) {
  sparrow_simd_emit(as, SPARROW_SIMD_OP_RSUM, dst, a, 0, pred, 0, imm);
}

void sparrow_simd_rmax(sparrow_simd_asm_t *as, uint32_t pred, uint32_t dst, uint32_t a,
                       uint32_t imm) {
  sparrow_simd_emit(as, SPARROW_SIMD_OP_RMAX, dst, a, 0, pred, 0, imm);
}

// ---------------------------------------------------------------------------------------------------
// Encoding and timing.

static uint32_t field(uint32_t value, uint32_t lsb, uint32_t width) {
  return (value & ((1u << width) - 1u)) << lsb;
}

uint32_t sparrow_simd_insn_word(const sparrow_simd_insn_t *insn) {
  return field(insn->op, SPARROW_SIMD_FIELD_OP_LSB, SPARROW_SIMD_FIELD_OP_WIDTH) |
         field(insn->dst, SPARROW_SIMD_FIELD_DST_LSB, SPARROW_SIMD_FIELD_DST_WIDTH) |
         field(insn->src_a, SPARROW_SIMD_FIELD_SRC_A_LSB, SPARROW_SIMD_FIELD_SRC_A_WIDTH) |
         field(insn->src_b, SPARROW_SIMD_FIELD_SRC_B_LSB, SPARROW_SIMD_FIELD_SRC_B_WIDTH) |
         field(insn->pred, SPARROW_SIMD_FIELD_PRED_LSB, SPARROW_SIMD_FIELD_PRED_WIDTH) |
         field(insn->port, SPARROW_SIMD_FIELD_PORT_LSB, SPARROW_SIMD_FIELD_PORT_WIDTH);
}

sparrow_simd_asm_status_t sparrow_simd_asm_encode(const sparrow_simd_asm_t *as, uint32_t *words,
                                                  size_t capacity) {
  sparrow_simd_asm_status_t status = sparrow_simd_asm_check(as, NULL, 0);
  if (status != SPARROW_SIMD_ASM_OK) {
    return status;
  }
  if (words == NULL || capacity < 2u * (size_t)as->count) {
    return SPARROW_SIMD_ASM_E_ARG;
  }
  for (uint32_t i = 0; i < as->count; ++i) {
    words[2u * i] = sparrow_simd_insn_word(&as->insn[i]);
    words[2u * i + 1u] = as->insn[i].imm;
  }
  return SPARROW_SIMD_ASM_OK;
}

uint32_t sparrow_simd_asm_seg_reg(const sparrow_simd_asm_t *as, uint32_t seg, uint32_t origin) {
  if (seg >= SPARROW_SIMD_SEGMENTS || as->seg_count[seg] == 0) {
    return 0;  // empty: count 0 (the first instruction does not matter)
  }
  uint32_t first = (as->seg_first[seg] + origin) % SPARROW_SIMD_INSNS;
  return first | as->seg_count[seg] << 16;
}

static bool ends_group(uint32_t op) {
  return op == SPARROW_SIMD_OP_POP || op == SPARROW_SIMD_OP_PUSH || op == SPARROW_SIMD_OP_RSUM ||
         op == SPARROW_SIMD_OP_RMAX;
}

uint32_t sparrow_simd_asm_groups(const sparrow_simd_asm_t *as, uint32_t seg, uint32_t lanes) {
  if (seg >= SPARROW_SIMD_SEGMENTS || lanes == 0) {
    return 0;
  }
  uint32_t groups = 0;
  uint32_t in_group = 0;
  for (uint32_t j = 0; j < as->seg_count[seg]; ++j) {
    const sparrow_simd_insn_t *insn = &as->insn[as->seg_first[seg] + j];
    if (in_group == 0) {
      groups++;
    }
    in_group++;
    if (in_group >= lanes || ends_group(insn->op)) {
      in_group = 0;
    }
  }
  return groups;
}

static const char *op_name(uint32_t op) {
  static const char *const names[] = {
      "nop", "pop", "push", "fadd", "fsub", "fmul", "fmax", "fmin", "mov", "sel",  "iadd", "isub",
      "and", "or",  "xor",  "shl",  "shr",  "sar",  "clts", "cltu", "ceq", "fclt", "rsum", "rmax",
  };
  return op < sizeof(names) / sizeof(names[0]) ? names[op] : "op?";
}

static void format_src(uint32_t src, uint32_t imm, char *out, size_t len) {
  switch (src) {
    case SPARROW_SIMD_SRC_IMM:
      snprintf(out, len, "#0x%08x", imm);
      return;
    case SPARROW_SIMD_SRC_COL:
      snprintf(out, len, "col");
      return;
    case SPARROW_SIMD_SRC_ROW:
      snprintf(out, len, "row");
      return;
    case SPARROW_SIMD_SRC_LANE:
      snprintf(out, len, "lane");
      return;
    default:
      snprintf(out, len, "r%u", src);
      return;
  }
}

void sparrow_simd_insn_format(const sparrow_simd_insn_t *insn, char *out, size_t out_len) {
  static const char *const preds[] = {"", ".p0", ".!p0", ".p1"};
  char a[16], b[16];
  format_src(insn->src_a, insn->imm, a, sizeof(a));
  format_src(insn->src_b, insn->imm, b, sizeof(b));
  const char *name = op_name(insn->op);
  const char *pred = preds[insn->pred & 3u];
  switch (insn->op) {
    case SPARROW_SIMD_OP_NOP:
      snprintf(out, out_len, "nop");
      return;
    case SPARROW_SIMD_OP_POP:
      snprintf(out, out_len, "pop r%u, %c", insn->dst, "abc?"[insn->port & 3u]);
      return;
    case SPARROW_SIMD_OP_PUSH:
      snprintf(out, out_len, "push%s %s", pred, a);
      return;
    case SPARROW_SIMD_OP_MOV:
    case SPARROW_SIMD_OP_RSUM:
    case SPARROW_SIMD_OP_RMAX:
      snprintf(out, out_len, "%s%s r%u, %s", name, pred, insn->dst, a);
      return;
    default:
      if (is_compare(insn->op)) {
        snprintf(out, out_len, "%s%s p%u, %s, %s", name, pred, insn->dst & 1u, a, b);
      } else {
        snprintf(out, out_len, "%s%s r%u, %s, %s", name, pred, insn->dst, a, b);
      }
      return;
  }
}
