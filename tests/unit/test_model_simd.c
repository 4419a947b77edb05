/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Check suite for the golden model's PCU SIMD and LOAD modes (docs/fabric.md, "PCU SIMD mode"),
 * driven through CSRs with real programs on every configuration: each program is loaded into the
 * PCU's program memory by a LOAD phase from DRAM, then run by a SIMD phase whose streams come from
 * and go to DRAM (or a PMU, where the cycle estimate must not see DRAM).
 *
 * Every expected value is computed here, independently of the model: elementwise results with the
 * sparrow_fp_* functions the doc names (or C integer arithmetic), per lane, in the order the
 * program runs them; the walk (rows, passes, beats, segments) written out as the doc's pseudo-code.
 * Values are compared bit for bit and FP_STATUS with the OR of the reference operations' flags
 * (skipped, with a notice, where the host raises no flags, as under valgrind).
 */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sim/model/sparrow_fp.h"
#include "../../sim/model/sparrow_fp_special.h"
#include "model_env.h"

/* Documented cycle-estimate constants (sim/model/README.md). */
#define ENTRY_CYCLES 1u
#define PHASE_OVERHEAD 8u

#define ADDR_CODE 0x01000u /* program words for LOAD phases */
#define ADDR_A 0x10000u    /* input a */
#define ADDR_2 0x20000u    /* the second input (b or c) */
#define ADDR_OUT 0x40000u  /* pcu_out */
#define MAX_LANES 16u      /* the model's limit; the configurations have 4 and 8 */
#define MAX_BEATS 256u     /* beats a test keeps in its own arrays */
#define INSNS (SPARROW_PCU_IMEM_WORDS / 2u)

#define SIGN 0x80000000u
#define F_ZERO 0x00000000u
#define F_ONE 0x3F800000u
#define F_ONE_HALF 0x3FC00000u /* 1.5 */
#define F_TWO 0x40000000u
#define F_TWO_1_4 0x40100000u /* 2.25 = 1.5 * 1.5, exact */
#define F_MAX 0x7F7FFFFFu     /* FLT_MAX: its square and its double overflow */
#define F_INF 0x7F800000u
#define F_NEG_INF 0xFF800000u
#define F_QNAN 0x7FC00000u
#define F_SNAN 0x7F800001u
#define F_SCALE 0x3D800000u /* 1/16 */
#define MARK 0xDEADBEEFu

/* Whether the host reports FP exception flags at all (not under valgrind): see test_model_gemm.c.
 */
static bool host_flags_observable(void) {
  uint8_t flags = 0;
  (void)sparrow_fp_mul(F_MAX, F_TWO, &flags);
  if (flags == 0) {
    fprintf(stderr, "note: host FP flags not observable (valgrind?): flag checks skipped\n");
  }
  return flags != 0;
}

static void expect_fp_status(env_t *env, uint8_t flags) {
  if (host_flags_observable()) {
    ck_assert_uint_eq(csr(env, SPARROW_CSR_FP_STATUS), flags);
  }
}

static uint32_t src_id(uint32_t tile, uint32_t kind) {
  return tile * SPARROW_SWITCH_SRC_PER_TILE + kind;
}

static uint32_t dst_id(uint32_t tile, uint32_t kind) {
  return tile * SPARROW_SWITCH_DST_PER_TILE + kind;
}

static sparrow_model_agen_cfg_t linear(uint32_t base, uint32_t count, int32_t stride) {
  sparrow_model_agen_cfg_t agen = {base, {count, 1, 1, 1}, {stride, 0, 0, 0}};
  return agen;
}

static uint32_t ceil_div(uint32_t n, uint32_t d) {
  return (n + d - 1u) / d;
}

static uint64_t unit_busy(env_t *env, uint32_t unit) {
  return csr64(env, SPARROW_CSR_UNIT_COUNTERS + 16u * unit);
}

static uint64_t unit_stall(env_t *env, uint32_t unit) {
  return csr64(env, SPARROW_CSR_UNIT_COUNTERS + 16u * unit + 8u);
}

static void put_words(env_t *env, uint32_t addr, const uint32_t *words, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    put_word(env, addr + 4u * i, words[i]);
  }
}

/* Word `lane` of output beat `beat`. */
static uint32_t out_word(env_t *env, uint32_t beat, uint32_t lane) {
  return get_word(env, ADDR_OUT + 4u * (beat * env->lanes + lane));
}

/* binary32 values with mixed signs and exponents (2^-7 .. 2^7), so that sums round often. */
static uint32_t next_value(uint32_t *state) {
  *state = *state * 1664525u + 1013904223u;
  uint32_t sign = (*state >> 31) << 31;
  uint32_t exponent = 120u + (*state >> 24) % 15u;
  uint32_t fraction = (*state * 2654435761u) >> 9;
  return sign | exponent << 23 | fraction;
}

/* ---------------------------------------------------------------------------------------------- */
/* Assembling programs. */

typedef struct {
  uint32_t words[SPARROW_PCU_IMEM_WORDS];
  uint32_t count; /* instructions */
} code_t;

static void emit(code_t *code, uint32_t op, uint32_t dst, uint32_t src_a, uint32_t src_b,
                 uint32_t pred, uint32_t port, uint32_t imm) {
  ck_assert_uint_lt(code->count, INSNS);
  sparrow_model_simd_insn_t insn = sparrow_model_simd_insn(op, dst, src_a, src_b, pred, port, imm);
  code->words[2u * code->count] = insn.word;
  code->words[2u * code->count + 1u] = insn.imm;
  code->count++;
}

/* dst = op(a, b) in every lane. */
static void alu(code_t *code, uint32_t op, uint32_t dst, uint32_t a, uint32_t b) {
  emit(code, op, dst, a, b, SPARROW_SIMD_PRED_ALWAYS, 0, 0);
}

/* dst = op(a, imm) where pred holds. */
static void alu_imm(code_t *code, uint32_t op, uint32_t dst, uint32_t a, uint32_t imm,
                    uint32_t pred) {
  emit(code, op, dst, a, SPARROW_SIMD_SRC_IMM, pred, 0, imm);
}

static void mov_imm(code_t *code, uint32_t dst, uint32_t imm, uint32_t pred) {
  emit(code, SPARROW_SIMD_OP_MOV, dst, SPARROW_SIMD_SRC_IMM, 0, pred, 0, imm);
}

static void pop(code_t *code, uint32_t dst, uint32_t port) {
  emit(code, SPARROW_SIMD_OP_POP, dst, 0, 0, SPARROW_SIMD_PRED_ALWAYS, port, 0);
}

static void push(code_t *code, uint32_t src, uint32_t pred) {
  emit(code, SPARROW_SIMD_OP_PUSH, 0, src, 0, pred, 0, 0);
}

/* Makes segment seg of cfg the instructions emitted since instruction `first`. */
static void segment(sparrow_model_simd_cfg_t *cfg, uint32_t seg, const code_t *code,
                    uint32_t first) {
  cfg->seg_first[seg] = first;
  cfg->seg_count[seg] = code->count - first;
}

static sparrow_model_simd_cfg_t walk(uint32_t rows, uint32_t beats, uint32_t passes) {
  sparrow_model_simd_cfg_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.rows = rows;
  cfg.beats = beats;
  cfg.passes = passes;
  return cfg;
}

/* ---------------------------------------------------------------------------------------------- */
/* Programs for the fabric. */

/* Adds a LOAD phase on tile 0: `words` words (zero-padded to whole beats) from DRAM through AGCU 0
 * read 0 into the program memory from word load_base. Returns the beats loaded. */
static uint32_t prog_load_words(env_t *env, const uint32_t *words, uint32_t count,
                                uint32_t load_base) {
  uint32_t beats = ceil_div(count, env->lanes);
  for (uint32_t i = 0; i < beats * env->lanes; ++i) {
    put_word(env, ADDR_CODE + 4u * i, i < count ? words[i] : 0u);
  }
  sparrow_model_agen_cfg_t rd = linear(ADDR_CODE, beats, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PCU_A),
                           src_id(0, SPARROW_SRC_AGCU_RD0));
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_RD0, &rd);
  sparrow_model_prog_simd_load(&env->prog, 0, load_base, beats);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_unroute(&env->prog, dst_id(0, SPARROW_DST_PCU_A));
  return beats;
}

static void prog_load_code(env_t *env, const code_t *code, uint32_t load_base) {
  (void)prog_load_words(env, code->words, 2u * code->count, load_base);
}

/* The streams of a SIMD phase on tile 0: AGCU 0 read 0 -> pcu_a, AGCU 0 read 1 -> pcu_b or pcu_c,
 * pcu_out -> AGCU 0 write (out_beats beats from ADDR_OUT). */
typedef struct {
  bool a_on;
  sparrow_model_agen_cfg_t a;
  bool second_on;
  uint32_t second_kind; /* SPARROW_DST_PCU_B or SPARROW_DST_PCU_C */
  sparrow_model_agen_cfg_t second;
  uint32_t out_beats; /* 0: no output stream */
} streams_t;

/* Adds the SIMD phase and un-routes its streams afterwards; returns the op_run entry. */
static uint32_t prog_simd_phase(env_t *env, const sparrow_model_simd_cfg_t *cfg,
                                const streams_t *streams) {
  sparrow_model_prog_t *prog = &env->prog;
  if (streams->a_on) {
    sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_PCU_A), src_id(0, SPARROW_SRC_AGCU_RD0));
    sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_RD0, &streams->a);
  }
  if (streams->second_on) {
    sparrow_model_prog_route(prog, dst_id(0, streams->second_kind),
                             src_id(0, SPARROW_SRC_AGCU_RD1));
    sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_RD1, &streams->second);
  }
  if (streams->out_beats != 0) {
    sparrow_model_agen_cfg_t wr = linear(ADDR_OUT, streams->out_beats, (int32_t)env->beat_bytes);
    sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_AGCU_WR), src_id(0, SPARROW_SRC_PCU_OUT));
    sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_WR, &wr);
  }
  sparrow_model_prog_simd(prog, 0, cfg);
  uint32_t run_entry = prog->count;
  sparrow_model_prog_run(prog);
  sparrow_model_prog_unroute(prog, dst_id(0, SPARROW_DST_PCU_A));
  sparrow_model_prog_unroute(prog, dst_id(0, SPARROW_DST_PCU_B));
  sparrow_model_prog_unroute(prog, dst_id(0, SPARROW_DST_PCU_C));
  sparrow_model_prog_unroute(prog, dst_id(0, SPARROW_DST_AGCU_WR));
  return run_entry;
}

/* One launch: LOAD the code at word 0, then the SIMD phase. Returns STATUS. */
static uint32_t launch_simd(env_t *env, const code_t *code, const sparrow_model_simd_cfg_t *cfg,
                            const streams_t *streams, uint32_t *run_entry) {
  new_program(env);
  prog_load_code(env, code, 0);
  uint32_t entry = prog_simd_phase(env, cfg, streams);
  if (run_entry != NULL) {
    *run_entry = entry;
  }
  sparrow_model_prog_end(&env->prog);
  return run(env);
}

/* Input a: `beats` beats from ADDR_A, read once in order. */
static streams_t stream_a(env_t *env, uint32_t beats, uint32_t out_beats) {
  streams_t streams;
  memset(&streams, 0, sizeof streams);
  streams.a_on = true;
  streams.a = linear(ADDR_A, beats, (int32_t)env->beat_bytes);
  streams.out_beats = out_beats;
  return streams;
}

/* ---------------------------------------------------------------------------------------------- */
/* LOAD, then run. */

/* The smallest round trip: out = x * 2 + 1 per lane and beat, over a 2-row x 3-beat walk. */
START_TEST(test_load_then_run) {
  env_t *env = env_open(_i);
  const uint32_t L = env->lanes, rows = 2, beats = 3, n = rows * beats * L;
  uint32_t x[MAX_BEATS * MAX_LANES];
  uint32_t state = 5;
  for (uint32_t i = 0; i < n; ++i) {
    x[i] = next_value(&state);
  }
  put_words(env, ADDR_A, x, n);

  code_t code = {0};
  sparrow_model_simd_cfg_t cfg = walk(rows, beats, 1);
  uint32_t first = code.count;
  pop(&code, 0, SPARROW_MODEL_SIMD_PORT_A);
  alu_imm(&code, SPARROW_SIMD_OP_FMUL, 1, 0, F_TWO, SPARROW_SIMD_PRED_ALWAYS);
  alu_imm(&code, SPARROW_SIMD_OP_FADD, 1, 1, F_ONE, SPARROW_SIMD_PRED_ALWAYS);
  push(&code, 1, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 1, &code, first);
  streams_t streams = stream_a(env, rows * beats, rows * beats);
  ck_assert_uint_eq(launch_simd(env, &code, &cfg, &streams, NULL), DONE);

  uint8_t flags = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t want = sparrow_fp_add(sparrow_fp_mul(x[i], F_TWO, &flags), F_ONE, &flags);
    ck_assert_uint_eq(out_word(env, i / L, i % L), want);
  }
  expect_fp_status(env, flags);
  /* SIMD work is no multiply-accumulate. */
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_MACS_LO), 0);
  env_close(env);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Every opcode against C. */

/* Operands that reach every flag and special case: zeros of both signs, infinities, quiet and
 * signalling NaNs, FLT_MAX (overflow), the smallest subnormal (underflow), ordinary values, and
 * bit patterns whose low five bits make varied shift amounts. */
static const uint32_t kPool[] = {
    F_ONE,       0xC0200000u, F_MAX,       0x00000001u, F_ZERO,      SIGN,
    F_INF,       F_NEG_INF,   F_QNAN,      F_SNAN,      0x40490FDBu, 0x8C0B3C2Eu,
    0x3E4CCCCDu, 0xFFFFFFE5u, 0x0000001Fu, 0x7FFFFFFFu, 0x00000021u, 0x3F800001u,
};
#define POOL (sizeof kPool / sizeof kPool[0])

/* The compares, each into p0 and into p1. */
static const uint32_t kCompares[] = {SPARROW_SIMD_OP_CLTS, SPARROW_SIMD_OP_CLTU,
                                     SPARROW_SIMD_OP_CEQ, SPARROW_SIMD_OP_FCLT};
/* Elementwise two-operand ops, each as dst = op(r0, r1). */
static const uint32_t kBinary[] = {
    SPARROW_SIMD_OP_FADD, SPARROW_SIMD_OP_FSUB, SPARROW_SIMD_OP_FMUL, SPARROW_SIMD_OP_FMAX,
    SPARROW_SIMD_OP_FMIN, SPARROW_SIMD_OP_IADD, SPARROW_SIMD_OP_ISUB, SPARROW_SIMD_OP_AND,
    SPARROW_SIMD_OP_OR,   SPARROW_SIMD_OP_XOR,  SPARROW_SIMD_OP_SHL,  SPARROW_SIMD_OP_SHR,
    SPARROW_SIMD_OP_SAR,
};
#define COUNT(array) (sizeof array / sizeof array[0])

/* The per-beat program of test_every_opcode. r0 = a, r1 = b; each check leaves its result in r2
 * (or r3) and pushes it. */
static void opcode_program(code_t *code) {
  pop(code, 0, SPARROW_MODEL_SIMD_PORT_A);
  pop(code, 1, SPARROW_MODEL_SIMD_PORT_B);
  for (uint32_t i = 0; i < COUNT(kBinary); ++i) {
    alu(code, kBinary[i], 2, 0, 1);
    push(code, 2, SPARROW_SIMD_PRED_ALWAYS);
  }
  alu(code, SPARROW_SIMD_OP_MOV, 2, 1, 0); /* MOV: r2 = b */
  push(code, 2, SPARROW_SIMD_PRED_ALWAYS);
  mov_imm(code, 2, 0x12345678u, SPARROW_SIMD_PRED_ALWAYS); /* the immediate source */
  push(code, 2, SPARROW_SIMD_PRED_ALWAYS);
  alu(code, SPARROW_SIMD_OP_MOV, 2, 25, 0); /* an undefined source code reads 0 */
  push(code, 2, SPARROW_SIMD_PRED_ALWAYS);
  mov_imm(code, 3, 0xCAFEF00Du, SPARROW_SIMD_PRED_ALWAYS);
  emit(code, SPARROW_SIMD_OP_NOP, 3, 0, 1, SPARROW_SIMD_PRED_ALWAYS, 0, 7); /* changes nothing */
  push(code, 3, SPARROW_SIMD_PRED_ALWAYS);
  for (uint32_t i = 0; i < COUNT(kCompares); ++i) {
    /* Into p0, seen through SEL (r2 = p0 ? a : b) and through a NOT_P0-predicated MOV. */
    alu(code, kCompares[i], 0, 0, 1);
    alu(code, SPARROW_SIMD_OP_SEL, 2, 0, 1);
    push(code, 2, SPARROW_SIMD_PRED_ALWAYS);
    mov_imm(code, 2, 0, SPARROW_SIMD_PRED_ALWAYS);
    mov_imm(code, 2, 1, SPARROW_SIMD_PRED_NOT_P0);
    push(code, 2, SPARROW_SIMD_PRED_ALWAYS);
    /* Into p1 (dst bit 0 set, the other dst bits ignored), seen through a P1-predicated MOV. */
    alu(code, kCompares[i], 0xF, 0, 1);
    mov_imm(code, 2, 0, SPARROW_SIMD_PRED_ALWAYS);
    mov_imm(code, 2, 1, SPARROW_SIMD_PRED_P1);
    push(code, 2, SPARROW_SIMD_PRED_ALWAYS);
  }
  emit(code, SPARROW_SIMD_OP_RSUM, 2, 0, 0, SPARROW_SIMD_PRED_ALWAYS, 0, 0);
  push(code, 2, SPARROW_SIMD_PRED_ALWAYS);
  emit(code, SPARROW_SIMD_OP_RMAX, 2, 1, 0, SPARROW_SIMD_PRED_ALWAYS, 0, 0);
  push(code, 2, SPARROW_SIMD_PRED_ALWAYS);
}

/* Output beats per input beat of opcode_program. */
#define OPCODE_OUTS (COUNT(kBinary) + 4u + 3u * COUNT(kCompares) + 2u)

static uint32_t ref_binary(uint32_t op, uint32_t a, uint32_t b, uint8_t *flags) {
  uint32_t shift = b & 31u;
  switch (op) {
    case SPARROW_SIMD_OP_FADD:
      return sparrow_fp_add(a, b, flags);
    case SPARROW_SIMD_OP_FSUB:
      return sparrow_fp_add(a, b ^ SIGN, flags);
    case SPARROW_SIMD_OP_FMUL:
      return sparrow_fp_mul(a, b, flags);
    case SPARROW_SIMD_OP_FMAX:
      return sparrow_fp_max(a, b, flags);
    case SPARROW_SIMD_OP_FMIN:
      return sparrow_fp_min(a, b, flags);
    case SPARROW_SIMD_OP_IADD:
      return (uint32_t)((uint64_t)a + b);
    case SPARROW_SIMD_OP_ISUB:
      return (uint32_t)((uint64_t)a - b);
    case SPARROW_SIMD_OP_AND:
      return a & b;
    case SPARROW_SIMD_OP_OR:
      return a | b;
    case SPARROW_SIMD_OP_XOR:
      return a ^ b;
    case SPARROW_SIMD_OP_SHL:
      return (uint32_t)((uint64_t)a << shift);
    case SPARROW_SIMD_OP_SHR:
      return a >> shift;
    default: { /* SAR, on the 64-bit signed value, where >> of a negative is well defined here */
      int64_t wide = (int32_t)a;
      return (uint32_t)(wide < 0 ? ~(~wide >> shift) : wide >> shift);
    }
  }
}

static bool ref_compare(uint32_t op, uint32_t a, uint32_t b, uint8_t *flags) {
  switch (op) {
    case SPARROW_SIMD_OP_CLTS:
      return (int64_t)(int32_t)a < (int64_t)(int32_t)b;
    case SPARROW_SIMD_OP_CLTU:
      return a < b;
    case SPARROW_SIMD_OP_CEQ:
      return a == b;
    default:
      return sparrow_fp_cmp(a, b, flags) == SPARROW_FP_CMP_LESS;
  }
}

/* The outputs of opcode_program for one beat pair, in push order. */
static void ref_opcode_beat(uint32_t lanes, const uint32_t *a, const uint32_t *b,
                            uint32_t out[OPCODE_OUTS][MAX_LANES], uint8_t *flags) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < COUNT(kBinary); ++i, ++k) {
    for (uint32_t l = 0; l < lanes; ++l) {
      out[k][l] = ref_binary(kBinary[i], a[l], b[l], flags);
    }
  }
  for (uint32_t l = 0; l < lanes; ++l) {
    out[k][l] = b[l];
    out[k + 1][l] = 0x12345678u;
    out[k + 2][l] = 0;
    out[k + 3][l] = 0xCAFEF00Du;
  }
  k += 4;
  for (uint32_t i = 0; i < COUNT(kCompares); ++i, k += 3) {
    for (uint32_t l = 0; l < lanes; ++l) {
      bool p0 = ref_compare(kCompares[i], a[l], b[l], flags);
      bool p1 = ref_compare(kCompares[i], a[l], b[l], flags);
      out[k][l] = p0 ? a[l] : b[l];
      out[k + 1][l] = p0 ? 0u : 1u;
      out[k + 2][l] = p1 ? 1u : 0u;
    }
  }
  uint32_t sum = 0, max = 0;
  ck_assert_int_eq(sparrow_fp_reduce_sum(lanes, a, &sum, flags), SPARROW_FP_REDUCE_OK);
  ck_assert_int_eq(sparrow_fp_reduce_max(lanes, b, &max, flags), SPARROW_FP_REDUCE_OK);
  for (uint32_t l = 0; l < lanes; ++l) {
    out[k][l] = sum;
    out[k + 1][l] = max;
  }
  ck_assert_uint_eq(k + 2u, OPCODE_OUTS);
}

START_TEST(test_every_opcode) {
  env_t *env = env_open(_i);
  const uint32_t L = env->lanes, beats = 5;
  uint32_t a[MAX_BEATS * MAX_LANES], b[MAX_BEATS * MAX_LANES];
  for (uint32_t i = 0; i < beats * L; ++i) {
    a[i] = kPool[i % POOL];
    b[i] = kPool[(i * 7u + 3u) % POOL];
  }
  /* Pairs that make sure of every flag: FLT_MAX + FLT_MAX overflows, the smallest subnormal times
   * 0.2 underflows, a signalling NaN is invalid; and equal pairs for CEQ and FCLT's EQUAL. */
  a[0] = F_MAX;
  b[0] = F_MAX;
  b[1] = a[1];
  a[2] = 0x00000001u;
  b[2] = 0x3E4CCCCDu;
  a[3] = F_SNAN;
  b[L + 2u] = a[L + 2u];
  put_words(env, ADDR_A, a, beats * L);
  put_words(env, ADDR_2, b, beats * L);

  code_t code = {0};
  sparrow_model_simd_cfg_t cfg = walk(1, beats, 1);
  opcode_program(&code);
  segment(&cfg, 1, &code, 0);
  streams_t streams = stream_a(env, beats, beats * OPCODE_OUTS);
  streams.second_on = true;
  streams.second_kind = SPARROW_DST_PCU_B;
  streams.second = linear(ADDR_2, beats, (int32_t)env->beat_bytes);
  ck_assert_uint_eq(launch_simd(env, &code, &cfg, &streams, NULL), DONE);

  uint8_t flags = 0;
  static uint32_t want[OPCODE_OUTS][MAX_LANES];
  for (uint32_t beat = 0; beat < beats; ++beat) {
    ref_opcode_beat(L, &a[beat * L], &b[beat * L], want, &flags);
    for (uint32_t k = 0; k < OPCODE_OUTS; ++k) {
      for (uint32_t l = 0; l < L; ++l) {
        uint32_t got = out_word(env, beat * OPCODE_OUTS + k, l);
        ck_assert_msg(got == want[k][l], "beat %u output %u lane %u: got 0x%08x, want 0x%08x", beat,
                      k, l, got, want[k][l]);
      }
    }
  }
  if (host_flags_observable()) {
    /* The pool reaches every flag but DZ, which no SIMD operation raises. */
    ck_assert_uint_eq(flags, SPARROW_FP_FLAGS_ALL & ~SPARROW_FP_DZ);
    ck_assert_uint_eq(csr(env, SPARROW_CSR_FP_STATUS), flags);
  }
  env_close(env);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Predication. */

/* Input a for the predication tests: FLT_MAX in odd lanes (its square and its sum overflow), 1.5
 * in even lanes. The prologue makes p0 = (LANE is even), p1 = false everywhere. */
static void predication_setup(env_t *env, code_t *code, sparrow_model_simd_cfg_t *cfg) {
  uint32_t x[MAX_LANES];
  for (uint32_t l = 0; l < env->lanes; ++l) {
    x[l] = l % 2u == 1u ? F_MAX : F_ONE_HALF;
  }
  put_words(env, ADDR_A, x, env->lanes);
  *cfg = walk(1, 1, 1);
  uint32_t first = code->count;
  /* POP is never predicated: p1 is false in every lane, and every lane still gets its word. */
  emit(code, SPARROW_SIMD_OP_POP, 0, 0, 0, SPARROW_SIMD_PRED_P1, SPARROW_MODEL_SIMD_PORT_A, 0);
  alu_imm(code, SPARROW_SIMD_OP_AND, 5, SPARROW_SIMD_SRC_LANE, 1, SPARROW_SIMD_PRED_ALWAYS);
  alu_imm(code, SPARROW_SIMD_OP_CEQ, 0, 5, 0, SPARROW_SIMD_PRED_ALWAYS);
  mov_imm(code, 2, MARK, SPARROW_SIMD_PRED_ALWAYS);
  segment(cfg, 0, code, first);
}

/* Predicated-off lanes change nothing and raise nothing: an FMUL and an RSUM that would overflow
 * there leave FP_STATUS clear. PUSH follows lane 0's predicate only. */
START_TEST(test_predication_no_flags_from_off_lanes) {
  env_t *env = env_open(_i);
  const uint32_t L = env->lanes;
  code_t code = {0};
  sparrow_model_simd_cfg_t cfg;
  predication_setup(env, &code, &cfg);
  uint32_t first = code.count;
  emit(&code, SPARROW_SIMD_OP_FMUL, 2, 0, 0, SPARROW_SIMD_PRED_P0, 0, 0);   /* even lanes: 2.25 */
  alu_imm(&code, SPARROW_SIMD_OP_FADD, 3, 0, F_SNAN, SPARROW_SIMD_PRED_P1); /* no lane: no NV */
  emit(&code, SPARROW_SIMD_OP_RSUM, 4, 0, 0, SPARROW_SIMD_PRED_P1, 0, 0);   /* no lane: no OF */
  push(&code, 2, SPARROW_SIMD_PRED_ALWAYS);
  push(&code, 3, SPARROW_SIMD_PRED_ALWAYS);
  push(&code, 4, SPARROW_SIMD_PRED_ALWAYS);
  push(&code, 2, SPARROW_SIMD_PRED_NOT_P0); /* lane 0 is even: no beat, though odd lanes hold */
  push(&code, 0, SPARROW_SIMD_PRED_P0);     /* lane 0 holds: a whole beat, odd lanes included */
  alu_imm(&code, SPARROW_SIMD_OP_CLTU, 1, SPARROW_SIMD_SRC_LANE, 1, SPARROW_SIMD_PRED_ALWAYS);
  push(&code, 5, SPARROW_SIMD_PRED_P1); /* p1 = (LANE < 1): lane 0 only, a whole beat */
  segment(&cfg, 1, &code, first);
  streams_t streams = stream_a(env, 1, 5);
  ck_assert_uint_eq(launch_simd(env, &code, &cfg, &streams, NULL), DONE);

  for (uint32_t l = 0; l < L; ++l) {
    bool even = l % 2u == 0;
    ck_assert_uint_eq(out_word(env, 0, l), even ? F_TWO_1_4 : MARK);
    ck_assert_uint_eq(out_word(env, 1, l), 0);
    ck_assert_uint_eq(out_word(env, 2, l), 0);
    ck_assert_uint_eq(out_word(env, 3, l), even ? F_ONE_HALF : F_MAX);
    ck_assert_uint_eq(out_word(env, 4, l), l % 2u);
  }
  /* Exactly five beats left the PCU (a sixth would have deadlocked the phase). */
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), 5u * env->beat_bytes);
  ck_assert_uint_eq(csr(env, SPARROW_CSR_FP_STATUS), 0);
  env_close(env);
}
END_TEST

/* The same operations where they execute in the overflowing lanes: OF and NX, and the values. */
START_TEST(test_predication_flags_from_on_lanes) {
  env_t *env = env_open(_i);
  const uint32_t L = env->lanes;
  bool flags_seen = host_flags_observable();
  for (uint32_t variant = 0; variant < 2; ++variant) {
    ctrl(env, SPARROW_CTRL_CLEAR_BIT);
    code_t code = {0};
    sparrow_model_simd_cfg_t cfg;
    predication_setup(env, &code, &cfg);
    uint32_t first = code.count;
    if (variant == 0) {
      emit(&code, SPARROW_SIMD_OP_FMUL, 2, 0, 0, SPARROW_SIMD_PRED_NOT_P0, 0, 0); /* odd lanes */
    } else {
      emit(&code, SPARROW_SIMD_OP_RSUM, 2, 0, 0, SPARROW_SIMD_PRED_P0, 0, 0); /* even lanes */
    }
    push(&code, 2, SPARROW_SIMD_PRED_ALWAYS);
    segment(&cfg, 1, &code, first);
    streams_t streams = stream_a(env, 1, 1);
    ck_assert_uint_eq(launch_simd(env, &code, &cfg, &streams, NULL), DONE);
    for (uint32_t l = 0; l < L; ++l) {
      bool odd = l % 2u == 1u;
      uint32_t want = variant == 0 ? (odd ? F_INF : MARK) : (odd ? MARK : F_INF);
      ck_assert_uint_eq(out_word(env, 0, l), want);
    }
    if (flags_seen) {
      ck_assert_uint_eq(csr(env, SPARROW_CSR_FP_STATUS), SPARROW_FP_OF | SPARROW_FP_NX);
    }
  }
  env_close(env);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* The walk: COL, ROW, LANE, segments and counts. */

/* The doc's walk written out, recording what each segment pushes: the prologue ROW and COL, a
 * pass-0 body COL, ROW and LANE, its end COL, a pass-1 body COL + ROW, the epilogue ROW and COL.
 * Outside its loop a counter reads 0 (beat outside a body, row in the epilogue). */
static uint32_t ref_walk(uint32_t lanes, uint32_t rows, uint32_t beats, uint32_t row_base,
                         uint32_t col_base, uint32_t out[][MAX_LANES]) {
  uint32_t n = 0;
  for (uint32_t row = 0; row < rows; ++row) {
    for (uint32_t l = 0; l < lanes; ++l) {
      out[n][l] = row_base + row;
      out[n + 1][l] = col_base + l;
    }
    n += 2;
    for (uint32_t pass = 0; pass < 2; ++pass) {
      for (uint32_t beat = 0; beat < beats; ++beat) {
        uint32_t col0 = col_base + beat * lanes;
        for (uint32_t l = 0; l < lanes; ++l) {
          if (pass == 0) {
            out[n][l] = col0 + l;
            out[n + 1][l] = row_base + row;
            out[n + 2][l] = l;
          } else {
            out[n][l] = col0 + l + row_base + row;
          }
        }
        n += pass == 0 ? 3u : 1u;
      }
      if (pass == 0) {
        for (uint32_t l = 0; l < lanes; ++l) {
          out[n][l] = col_base + l;
        }
        n++;
      }
    }
  }
  for (uint32_t l = 0; l < lanes; ++l) {
    out[n][l] = row_base;
    out[n + 1][l] = col_base + l;
  }
  return n + 2;
}

START_TEST(test_col_row_lane) {
  env_t *env = env_open(_i);
  const uint32_t L = env->lanes, rows = 3, beats = 2;
  const uint32_t row_base = 1000, col_base = 0xFFFFFFFAu; /* COL wraps past 2^32 */
  code_t code = {0};
  sparrow_model_simd_cfg_t cfg = walk(rows, beats, 2);
  cfg.row_base = row_base;
  cfg.col_base = col_base;
  uint32_t first = code.count;
  alu(&code, SPARROW_SIMD_OP_MOV, 0, SPARROW_SIMD_SRC_ROW, 0);
  push(&code, 0, SPARROW_SIMD_PRED_ALWAYS);
  alu(&code, SPARROW_SIMD_OP_MOV, 0, SPARROW_SIMD_SRC_COL, 0);
  push(&code, 0, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 0, &code, first);
  first = code.count;
  alu(&code, SPARROW_SIMD_OP_MOV, 0, SPARROW_SIMD_SRC_COL, 0);
  push(&code, 0, SPARROW_SIMD_PRED_ALWAYS);
  alu(&code, SPARROW_SIMD_OP_MOV, 0, SPARROW_SIMD_SRC_ROW, 0);
  push(&code, 0, SPARROW_SIMD_PRED_ALWAYS);
  alu(&code, SPARROW_SIMD_OP_MOV, 0, SPARROW_SIMD_SRC_LANE, 0);
  push(&code, 0, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 1, &code, first);
  first = code.count;
  alu(&code, SPARROW_SIMD_OP_MOV, 0, SPARROW_SIMD_SRC_COL, 0);
  push(&code, 0, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 2, &code, first);
  first = code.count;
  alu(&code, SPARROW_SIMD_OP_IADD, 0, SPARROW_SIMD_SRC_COL, SPARROW_SIMD_SRC_ROW);
  push(&code, 0, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 3, &code, first);
  first = code.count;
  alu(&code, SPARROW_SIMD_OP_MOV, 0, SPARROW_SIMD_SRC_ROW, 0);
  push(&code, 0, SPARROW_SIMD_PRED_ALWAYS);
  alu(&code, SPARROW_SIMD_OP_MOV, 0, SPARROW_SIMD_SRC_COL, 0);
  push(&code, 0, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 7, &code, first);
  /* Pass 2's segments must not run with simd_passes = 2: their pushes would shift the output
   * and leave a beat the write channel never takes (an error). */
  first = code.count;
  push(&code, 0, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 5, &code, first);
  segment(&cfg, 6, &code, first);

  static uint32_t want[64][MAX_LANES];
  uint32_t n = ref_walk(L, rows, beats, row_base, col_base, want);
  ck_assert_uint_eq(n, rows * (2u + 3u * beats + 1u + beats) + 2u);
  streams_t streams;
  memset(&streams, 0, sizeof streams);
  streams.out_beats = n;
  ck_assert_uint_eq(launch_simd(env, &code, &cfg, &streams, NULL), DONE);
  for (uint32_t k = 0; k < n; ++k) {
    for (uint32_t l = 0; l < L; ++l) {
      ck_assert_msg(out_word(env, k, l) == want[k][l], "beat %u lane %u: got %u, want %u", k, l,
                    out_word(env, k, l), want[k][l]);
    }
  }
  env_close(env);
}
END_TEST

/* simd_rows 0 and simd_beats 0 count as 1, simd_passes above 3 as 3; every segment pushes its own
 * number (segment 7 after the single row). */
START_TEST(test_walk_counts) {
  env_t *env = env_open(_i);
  code_t code = {0};
  sparrow_model_simd_cfg_t cfg = walk(0, 0, 9);
  for (uint32_t seg = 0; seg < SPARROW_SIMD_SEGMENTS; ++seg) {
    uint32_t first = code.count;
    mov_imm(&code, 0, 100u + seg, SPARROW_SIMD_PRED_ALWAYS);
    push(&code, 0, SPARROW_SIMD_PRED_ALWAYS);
    segment(&cfg, seg, &code, first);
  }
  streams_t streams;
  memset(&streams, 0, sizeof streams);
  streams.out_beats = SPARROW_SIMD_SEGMENTS;
  ck_assert_uint_eq(launch_simd(env, &code, &cfg, &streams, NULL), DONE);
  for (uint32_t seg = 0; seg < SPARROW_SIMD_SEGMENTS; ++seg) {
    ck_assert_uint_eq(out_word(env, seg, env->lanes - 1u), 100u + seg);
  }
  env_close(env);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Programs of the kind the operators need. */

/* A row-wise softmax-like program over rows of beats * lanes values, each row read three times:
 *   prologue: r1 = -inf, r4 = +0
 *   pass 0:   body: r0 = pop a; r1 = max(r1, r0)          end: r2 = RMAX(r1)
 *   pass 1:   body: r0 = pop a; r3 = r0 - r2; r4 += r3     end: r5 = RSUM(r4); r6 = r5 * 1/16
 *   pass 2:   body: r0 = pop a; r3 = r0 - r2; r7 = r3 * r6; push r7
 * checked bit for bit against the same sequence written in C from the doc. */
START_TEST(test_softmax_like_rows) {
  env_t *env = env_open(_i);
  const uint32_t L = env->lanes, rows = 3, beats = 4, n = rows * beats * L;
  uint32_t x[MAX_BEATS * MAX_LANES];
  uint32_t state = 77;
  for (uint32_t i = 0; i < n; ++i) {
    x[i] = next_value(&state);
  }
  put_words(env, ADDR_A, x, n);

  code_t code = {0};
  sparrow_model_simd_cfg_t cfg = walk(rows, beats, 3);
  uint32_t first = code.count;
  mov_imm(&code, 1, F_NEG_INF, SPARROW_SIMD_PRED_ALWAYS);
  mov_imm(&code, 4, F_ZERO, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 0, &code, first);
  first = code.count;
  pop(&code, 0, SPARROW_MODEL_SIMD_PORT_A);
  alu(&code, SPARROW_SIMD_OP_FMAX, 1, 1, 0);
  segment(&cfg, 1, &code, first);
  first = code.count;
  emit(&code, SPARROW_SIMD_OP_RMAX, 2, 1, 0, SPARROW_SIMD_PRED_ALWAYS, 0, 0);
  segment(&cfg, 2, &code, first);
  first = code.count;
  pop(&code, 0, SPARROW_MODEL_SIMD_PORT_A);
  alu(&code, SPARROW_SIMD_OP_FSUB, 3, 0, 2);
  alu(&code, SPARROW_SIMD_OP_FADD, 4, 4, 3);
  segment(&cfg, 3, &code, first);
  first = code.count;
  emit(&code, SPARROW_SIMD_OP_RSUM, 5, 4, 0, SPARROW_SIMD_PRED_ALWAYS, 0, 0);
  alu_imm(&code, SPARROW_SIMD_OP_FMUL, 6, 5, F_SCALE, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 4, &code, first);
  first = code.count;
  pop(&code, 0, SPARROW_MODEL_SIMD_PORT_A);
  alu(&code, SPARROW_SIMD_OP_FSUB, 3, 0, 2);
  alu(&code, SPARROW_SIMD_OP_FMUL, 7, 3, 6);
  push(&code, 7, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 5, &code, first);

  /* Input a: each row's beats three times over (count1 = passes with stride 0). */
  streams_t streams = stream_a(env, beats, rows * beats);
  streams.a.count[1] = 3;
  streams.a.stride[1] = 0;
  streams.a.count[2] = rows;
  streams.a.stride[2] = (int32_t)(beats * env->beat_bytes);
  ck_assert_uint_eq(launch_simd(env, &code, &cfg, &streams, NULL), DONE);

  uint8_t flags = 0;
  for (uint32_t row = 0; row < rows; ++row) {
    const uint32_t *xr = &x[row * beats * L];
    uint32_t lane_max[MAX_LANES], lane_sum[MAX_LANES], max = 0, sum = 0;
    for (uint32_t l = 0; l < L; ++l) {
      lane_max[l] = F_NEG_INF;
      lane_sum[l] = F_ZERO;
    }
    for (uint32_t beat = 0; beat < beats; ++beat) {
      for (uint32_t l = 0; l < L; ++l) {
        lane_max[l] = sparrow_fp_max(lane_max[l], xr[beat * L + l], &flags);
      }
    }
    ck_assert_int_eq(sparrow_fp_reduce_max(L, lane_max, &max, &flags), SPARROW_FP_REDUCE_OK);
    for (uint32_t beat = 0; beat < beats; ++beat) {
      for (uint32_t l = 0; l < L; ++l) {
        uint32_t d = sparrow_fp_add(xr[beat * L + l], max ^ SIGN, &flags);
        lane_sum[l] = sparrow_fp_add(lane_sum[l], d, &flags);
      }
    }
    ck_assert_int_eq(sparrow_fp_reduce_sum(L, lane_sum, &sum, &flags), SPARROW_FP_REDUCE_OK);
    uint32_t scale = sparrow_fp_mul(sum, F_SCALE, &flags);
    for (uint32_t beat = 0; beat < beats; ++beat) {
      for (uint32_t l = 0; l < L; ++l) {
        uint32_t d = sparrow_fp_add(xr[beat * L + l], max ^ SIGN, &flags);
        uint32_t want = sparrow_fp_mul(d, scale, &flags);
        ck_assert_uint_eq(out_word(env, row * beats + beat, l), want);
      }
    }
  }
  expect_fp_status(env, flags);
  /* The code's beats, then every row three times. */
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_RD_LO),
                    ((uint64_t)ceil_div(2u * code.count, L) + rows * 3u * beats) * env->beat_bytes);
  env_close(env);
}
END_TEST

/* A segmented sum: input c carries one control word per beat (1 = a segment ends with this beat).
 * Each lane accumulates a; at a segment's end the PCU pushes the lanes' partial sums and their
 * RSUM, then restarts from +0, all under predicate p0 = (control == 1). */
START_TEST(test_segmented_sum) {
  env_t *env = env_open(_i);
  const uint32_t L = env->lanes, beats = 10;
  const bool ends[10] = {false, true, true, false, false, true, true, false, false, true};
  uint32_t x[MAX_BEATS * MAX_LANES], control[MAX_BEATS * MAX_LANES];
  uint32_t state = 31, segments = 0;
  for (uint32_t i = 0; i < beats * L; ++i) {
    x[i] = next_value(&state);
    control[i] = ends[i / L] ? 1u : 0u;
  }
  for (uint32_t beat = 0; beat < beats; ++beat) {
    segments += ends[beat];
  }
  put_words(env, ADDR_A, x, beats * L);
  put_words(env, ADDR_2, control, beats * L);

  code_t code = {0};
  sparrow_model_simd_cfg_t cfg = walk(1, beats, 1);
  pop(&code, 0, SPARROW_MODEL_SIMD_PORT_A);
  pop(&code, 1, SPARROW_MODEL_SIMD_PORT_C);
  alu(&code, SPARROW_SIMD_OP_FADD, 2, 2, 0);
  alu_imm(&code, SPARROW_SIMD_OP_CEQ, 0, 1, 1, SPARROW_SIMD_PRED_ALWAYS);
  emit(&code, SPARROW_SIMD_OP_RSUM, 3, 2, 0, SPARROW_SIMD_PRED_P0, 0, 0);
  push(&code, 2, SPARROW_SIMD_PRED_P0);
  push(&code, 3, SPARROW_SIMD_PRED_P0);
  mov_imm(&code, 2, F_ZERO, SPARROW_SIMD_PRED_P0);
  segment(&cfg, 1, &code, 0);
  streams_t streams = stream_a(env, beats, 2u * segments);
  streams.second_on = true;
  streams.second_kind = SPARROW_DST_PCU_C;
  streams.second = linear(ADDR_2, beats, (int32_t)env->beat_bytes);
  ck_assert_uint_eq(launch_simd(env, &code, &cfg, &streams, NULL), DONE);

  uint8_t flags = 0;
  uint32_t acc[MAX_LANES] = {0}, k = 0;
  for (uint32_t beat = 0; beat < beats; ++beat) {
    for (uint32_t l = 0; l < L; ++l) {
      acc[l] = sparrow_fp_add(acc[l], x[beat * L + l], &flags);
    }
    if (!ends[beat]) {
      continue;
    }
    uint32_t total = 0;
    ck_assert_int_eq(sparrow_fp_reduce_sum(L, acc, &total, &flags), SPARROW_FP_REDUCE_OK);
    for (uint32_t l = 0; l < L; ++l) {
      ck_assert_uint_eq(out_word(env, k, l), acc[l]);
      ck_assert_uint_eq(out_word(env, k + 1u, l), total);
      acc[l] = F_ZERO;
    }
    k += 2;
  }
  ck_assert_uint_eq(k, 2u * segments);
  expect_fp_status(env, flags);
  env_close(env);
}
END_TEST

/* The epilogue runs once, after the last row: a global sum over every row, lane by lane in stream
 * order and then across the lanes, pushed as a single beat. */
START_TEST(test_epilogue_global_sum) {
  env_t *env = env_open(_i);
  const uint32_t L = env->lanes, rows = 4, beats = 3, n = rows * beats * L;
  uint32_t x[MAX_BEATS * MAX_LANES];
  uint32_t state = 1234;
  for (uint32_t i = 0; i < n; ++i) {
    x[i] = next_value(&state);
  }
  put_words(env, ADDR_A, x, n);
  code_t code = {0};
  sparrow_model_simd_cfg_t cfg = walk(rows, beats, 1);
  pop(&code, 0, SPARROW_MODEL_SIMD_PORT_A);
  alu(&code, SPARROW_SIMD_OP_FADD, 1, 1, 0);
  segment(&cfg, 1, &code, 0);
  uint32_t first = code.count;
  emit(&code, SPARROW_SIMD_OP_RSUM, 2, 1, 0, SPARROW_SIMD_PRED_ALWAYS, 0, 0);
  push(&code, 2, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 7, &code, first);
  streams_t streams = stream_a(env, rows * beats, 1);
  ck_assert_uint_eq(launch_simd(env, &code, &cfg, &streams, NULL), DONE);

  uint8_t flags = 0;
  uint32_t acc[MAX_LANES] = {0}, total = 0;
  for (uint32_t i = 0; i < n; ++i) {
    acc[i % L] = sparrow_fp_add(acc[i % L], x[i], &flags);
  }
  ck_assert_int_eq(sparrow_fp_reduce_sum(L, acc, &total, &flags), SPARROW_FP_REDUCE_OK);
  for (uint32_t l = 0; l < L; ++l) {
    ck_assert_uint_eq(out_word(env, 0, l), total);
  }
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), env->beat_bytes);
  expect_fp_status(env, flags);
  env_close(env);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Program memory. */

/* The program memory keeps its contents across launches, and ctrl.reset, until written; the
 * registers start at 0 in every phase (r9 counts the beats of this phase only); a LOAD phase with
 * blocks = 0 takes nothing and writes nothing. */
START_TEST(test_imem_persists_registers_do_not) {
  env_t *env = env_open(_i);
  const uint32_t beats = 3;
  code_t code = {0};
  sparrow_model_simd_cfg_t cfg = walk(1, beats, 1);
  alu_imm(&code, SPARROW_SIMD_OP_IADD, 9, 9, 1, SPARROW_SIMD_PRED_ALWAYS);
  push(&code, 9, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 1, &code, 0);
  streams_t streams;
  memset(&streams, 0, sizeof streams);
  streams.out_beats = beats;
  ck_assert_uint_eq(launch_simd(env, &code, &cfg, &streams, NULL), DONE);
  for (uint32_t beat = 0; beat < beats; ++beat) {
    ck_assert_uint_eq(out_word(env, beat, 0), beat + 1u);
  }

  /* ctrl.reset clears the configuration, not the program memory. A LOAD phase of 0 beats with
   * nothing routed finishes at once; then the same program runs again without being loaded. */
  ctrl(env, SPARROW_CTRL_RESET_BIT);
  memset(env->dram + ADDR_OUT, 0, 64u * env->beat_bytes);
  new_program(env);
  sparrow_model_prog_simd_load(&env->prog, 0, 0, 0);
  sparrow_model_prog_run(&env->prog);
  prog_simd_phase(env, &cfg, &streams);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  for (uint32_t beat = 0; beat < beats; ++beat) {
    ck_assert_uint_eq(out_word(env, beat, env->lanes - 1u), beat + 1u);
  }
  env_close(env);
}
END_TEST

/* Load addresses wrap modulo pcu_imem_words (simd_load_base far beyond it), and so do a segment's
 * instruction addresses (modulo 256 instructions): a three-instruction program loaded across the
 * end of the memory runs as instructions 255, 0, 1. A later load overwrites only its own words. */
START_TEST(test_imem_wrap_and_partial_overwrite) {
  env_t *env = env_open(_i);
  const uint32_t L = env->lanes;
  code_t code = {0};
  mov_imm(&code, 0, 11, SPARROW_SIMD_PRED_ALWAYS);
  alu_imm(&code, SPARROW_SIMD_OP_IADD, 0, 0, 5, SPARROW_SIMD_PRED_ALWAYS);
  push(&code, 0, SPARROW_SIMD_PRED_ALWAYS);
  sparrow_model_simd_cfg_t cfg = walk(1, 1, 1);
  cfg.seg_first[1] = INSNS - 1u + 3u * INSNS; /* instruction 255, from a first beyond 256 */
  cfg.seg_count[1] = 3;
  streams_t streams;
  memset(&streams, 0, sizeof streams);
  streams.out_beats = 1;

  new_program(env);
  /* Word 510 of the memory, written as 5 * 512 + 510. */
  prog_load_code(env, &code, 5u * SPARROW_PCU_IMEM_WORDS + SPARROW_PCU_IMEM_WORDS - 2u);
  prog_simd_phase(env, &cfg, &streams);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  ck_assert_uint_eq(out_word(env, 0, 0), 16u);

  /* One beat at word 0 replaces instruction 0 (IADD 5 -> IADD 7) and instruction 1 with itself;
   * M's longer beat also zeroes instructions 2 and 3, which nothing runs. Instruction 255 stays. */
  uint32_t words[2u * MAX_LANES] = {0};
  sparrow_model_simd_insn_t add7 = sparrow_model_simd_insn(
      SPARROW_SIMD_OP_IADD, 0, 0, SPARROW_SIMD_SRC_IMM, SPARROW_SIMD_PRED_ALWAYS, 0, 7);
  words[0] = add7.word;
  words[1] = add7.imm;
  words[2] = code.words[4];
  words[3] = code.words[5];
  new_program(env);
  ck_assert_uint_eq(prog_load_words(env, words, L, 0), 1u);
  prog_simd_phase(env, &cfg, &streams);
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  ck_assert_uint_eq(out_word(env, 0, L - 1u), 18u);
  env_close(env);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Errors and modes. */

/* A POP from an input nothing is routed to never completes: the model reports the deadlock as
 * `watchdog` at the phase's op_run (whatever WATCHDOG holds). So does POP's undefined port 3. */
START_TEST(test_pop_unrouted_deadlocks) {
  env_t *env = env_open(_i);
  for (uint32_t port = SPARROW_MODEL_SIMD_PORT_B; port <= 3u; port += 2u) {
    ctrl(env, SPARROW_CTRL_CLEAR_BIT);
    code_t code = {0};
    sparrow_model_simd_cfg_t cfg = walk(1, 2, 1);
    pop(&code, 0, SPARROW_MODEL_SIMD_PORT_A);
    pop(&code, 1, port);
    push(&code, 1, SPARROW_SIMD_PRED_ALWAYS);
    segment(&cfg, 1, &code, 0);
    streams_t streams = stream_a(env, 2, 2);
    uint32_t run_entry = 0;
    ck_assert_uint_eq(launch_simd(env, &code, &cfg, &streams, &run_entry), ERROR);
    ck_assert_uint_eq(csr(env, SPARROW_CSR_ERROR_CODE), SPARROW_FABRIC_ERR_WATCHDOG);
    ck_assert_uint_eq(csr(env, SPARROW_CSR_ERROR_ENTRY), run_entry);
    ck_assert_uint_eq(csr64(env, SPARROW_CSR_DRAM_WR_LO), 0);
  }
  env_close(env);
}
END_TEST

/* mode values above load are reserved and run GEMM: one block of k = 1 is the outer product. */
START_TEST(test_reserved_mode_is_gemm) {
  env_t *env = env_open(_i);
  const uint32_t L = env->lanes;
  uint32_t a[MAX_LANES], b[MAX_LANES];
  uint32_t state = 9;
  for (uint32_t l = 0; l < L; ++l) {
    a[l] = next_value(&state);
    b[l] = next_value(&state);
  }
  put_words(env, ADDR_A, a, L);
  put_words(env, ADDR_2, b, L);
  new_program(env);
  sparrow_model_prog_t *prog = &env->prog;
  sparrow_model_agen_cfg_t rd_a = linear(ADDR_A, 1, 0), rd_b = linear(ADDR_2, 1, 0);
  sparrow_model_agen_cfg_t wr = linear(ADDR_OUT, L, (int32_t)env->beat_bytes);
  sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_PCU_A), src_id(0, SPARROW_SRC_AGCU_RD0));
  sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_PCU_B), src_id(0, SPARROW_SRC_AGCU_RD1));
  sparrow_model_prog_route(prog, dst_id(0, SPARROW_DST_AGCU_WR), src_id(0, SPARROW_SRC_PCU_OUT));
  sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_RD0, &rd_a);
  sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_RD1, &rd_b);
  sparrow_model_prog_agcu(prog, 0, SPARROW_AGCU_CHANNEL_WR, &wr);
  sparrow_model_prog_gemm(prog, 0, 1, 1, 0);
  sparrow_model_prog_cfg(prog, SPARROW_UNIT_PCU, SPARROW_PCU_MODE, SPARROW_PCU_MODE_LOAD + 1u);
  sparrow_model_prog_run(prog);
  sparrow_model_prog_end(prog);
  ck_assert_uint_eq(run(env), DONE);
  for (uint32_t r = 0; r < L; ++r) {
    for (uint32_t c = 0; c < L; ++c) {
      uint32_t want = sparrow_fp_add(F_ZERO, sparrow_fp_mul(a[r], b[c], NULL), NULL);
      ck_assert_uint_eq(out_word(env, r, c), want);
    }
  }
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_MACS_LO), (uint64_t)L * L);
  env_close(env);
}
END_TEST

/* ---------------------------------------------------------------------------------------------- */
/* Cycle estimate. */

/* The documented estimate, with no DRAM in the measured launches: PMU 0 holds the program (and
 * zeros as data). A LOAD phase costs its beats; a SIMD phase one cycle per issue group, where a
 * group is up to `lanes` consecutive instructions of a segment and ends after POP, PUSH, RSUM or
 * RMAX. The program, over rows = 2 x beats = 3:
 *   prologue  MOV                                   1 group
 *   body      POP | 6 ALU + PUSH                    1 + ceil(7 / lanes) groups
 *   end       RSUM | MOV MOV                        2 groups
 *   epilogue  5 NOPs                                ceil(5 / lanes) groups
 * so S (lanes 4) issues 2 * (1 + 3 * 3 + 2) + 2 = 26 groups and M (lanes 8) 2 * (1 + 3 * 2 + 2)
 * + 1 = 19. */
START_TEST(test_cycle_estimate) {
  env_t *env = env_open(_i);
  const uint32_t L = env->lanes, rows = 2, beats = 3, pcu_unit = 2u * env->hw->tiles;
  code_t code = {0};
  sparrow_model_simd_cfg_t cfg = walk(rows, beats, 1);
  uint32_t first = code.count;
  mov_imm(&code, 1, 0, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 0, &code, first);
  first = code.count;
  pop(&code, 0, SPARROW_MODEL_SIMD_PORT_A);
  alu(&code, SPARROW_SIMD_OP_FADD, 1, 1, 0);
  alu(&code, SPARROW_SIMD_OP_MOV, 2, 0, 0);
  alu_imm(&code, SPARROW_SIMD_OP_IADD, 3, 3, 1, SPARROW_SIMD_PRED_ALWAYS);
  alu(&code, SPARROW_SIMD_OP_XOR, 4, 2, 3);
  alu(&code, SPARROW_SIMD_OP_MOV, 5, SPARROW_SIMD_SRC_LANE, 0);
  emit(&code, SPARROW_SIMD_OP_NOP, 0, 0, 0, SPARROW_SIMD_PRED_ALWAYS, 0, 0);
  push(&code, 1, SPARROW_SIMD_PRED_ALWAYS);
  segment(&cfg, 1, &code, first);
  first = code.count;
  emit(&code, SPARROW_SIMD_OP_RSUM, 6, 1, 0, SPARROW_SIMD_PRED_ALWAYS, 0, 0);
  alu(&code, SPARROW_SIMD_OP_MOV, 7, 6, 0);
  alu(&code, SPARROW_SIMD_OP_MOV, 8, 6, 0);
  segment(&cfg, 2, &code, first);
  first = code.count;
  for (uint32_t i = 0; i < 5; ++i) {
    emit(&code, SPARROW_SIMD_OP_NOP, 0, 0, 0, SPARROW_SIMD_PRED_ALWAYS, 0, 0);
  }
  segment(&cfg, 7, &code, first);
  const uint64_t groups = L == 4 ? 26u : 19u;
  ck_assert_uint_eq(groups, rows * (1u + beats * (1u + ceil_div(7, L)) + 2u) + ceil_div(5, L));

  /* Stage the program in PMU 0's lines 0.. (through DRAM; not measured). */
  const uint32_t code_beats = ceil_div(2u * code.count, L);
  put_words(env, ADDR_CODE, code.words, code_beats * L);
  new_program(env);
  sparrow_model_agen_cfg_t rd = linear(ADDR_CODE, code_beats, (int32_t)env->beat_bytes);
  sparrow_model_agen_cfg_t lines = linear(0, code_beats, 1);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PMU_WR0),
                           src_id(0, SPARROW_SRC_AGCU_RD0));
  sparrow_model_prog_agcu(&env->prog, 0, SPARROW_AGCU_CHANNEL_RD0, &rd);
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_WR0, &lines);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_unroute(&env->prog, dst_id(0, SPARROW_DST_PMU_WR0));
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);

  /* LOAD from PMU 0 read 0: 8 + code_beats cycles (PMU port and PCU move one beat per cycle). */
  ctrl(env, SPARROW_CTRL_CLEAR_BIT);
  new_program(env);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PCU_A),
                           src_id(0, SPARROW_SRC_PMU_RD0));
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_RD0, &lines);
  sparrow_model_prog_simd_load(&env->prog, 0, 0, code_beats);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_unroute(&env->prog, dst_id(0, SPARROW_DST_PCU_A));
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  uint64_t phase = PHASE_OVERHEAD + code_beats;
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_CYCLES_LO), phase + env->prog.count * ENTRY_CYCLES);
  ck_assert_uint_eq(unit_busy(env, pcu_unit), code_beats);
  ck_assert_uint_eq(unit_stall(env, pcu_unit), phase - code_beats);

  /* SIMD: PMU 0 read 0 (zeros from line 200) -> pcu_a; pcu_out -> PMU 0 write 1 (line 300). */
  ctrl(env, SPARROW_CTRL_CLEAR_BIT);
  new_program(env);
  sparrow_model_agen_cfg_t in = linear(200, rows * beats, 1);
  sparrow_model_agen_cfg_t out = linear(300, rows * beats, 1);
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PCU_A),
                           src_id(0, SPARROW_SRC_PMU_RD0));
  sparrow_model_prog_route(&env->prog, dst_id(0, SPARROW_DST_PMU_WR1),
                           src_id(0, SPARROW_SRC_PCU_OUT));
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_RD0, &in);
  sparrow_model_prog_pmu(&env->prog, 0, SPARROW_PMU_PORT_WR1, &out);
  sparrow_model_prog_simd(&env->prog, 0, &cfg);
  sparrow_model_prog_run(&env->prog);
  sparrow_model_prog_unroute(&env->prog, dst_id(0, SPARROW_DST_PCU_A));
  sparrow_model_prog_unroute(&env->prog, dst_id(0, SPARROW_DST_PMU_WR1));
  sparrow_model_prog_end(&env->prog);
  ck_assert_uint_eq(run(env), DONE);
  /* The PMU ports move rows * beats lines each, fewer than the groups: the PCU sets the pace. */
  ck_assert_uint_lt(rows * beats, groups);
  phase = PHASE_OVERHEAD + groups;
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_CYCLES_LO), phase + env->prog.count * ENTRY_CYCLES);
  ck_assert_uint_eq(unit_busy(env, pcu_unit), groups);
  ck_assert_uint_eq(unit_stall(env, pcu_unit), phase - groups);
  ck_assert_uint_eq(csr64(env, SPARROW_CSR_MACS_LO), 0);
  env_close(env);
}
END_TEST

static Suite *model_simd_suite(void) {
  Suite *suite = suite_create("sparrow_model_simd");
  int configs = (int)SPARROW_HW_CONFIG_COUNT;
  TCase *basic = tcase_create("basic");
  tcase_add_loop_test(basic, test_load_then_run, 0, configs);
  tcase_add_loop_test(basic, test_every_opcode, 0, configs);
  tcase_add_loop_test(basic, test_predication_no_flags_from_off_lanes, 0, configs);
  tcase_add_loop_test(basic, test_predication_flags_from_on_lanes, 0, configs);
  suite_add_tcase(suite, basic);

  TCase *walk_case = tcase_create("walk");
  tcase_add_loop_test(walk_case, test_col_row_lane, 0, configs);
  tcase_add_loop_test(walk_case, test_walk_counts, 0, configs);
  tcase_add_loop_test(walk_case, test_softmax_like_rows, 0, configs);
  tcase_add_loop_test(walk_case, test_segmented_sum, 0, configs);
  tcase_add_loop_test(walk_case, test_epilogue_global_sum, 0, configs);
  suite_add_tcase(suite, walk_case);

  TCase *imem = tcase_create("program memory");
  tcase_add_loop_test(imem, test_imem_persists_registers_do_not, 0, configs);
  tcase_add_loop_test(imem, test_imem_wrap_and_partial_overwrite, 0, configs);
  suite_add_tcase(suite, imem);

  TCase *errors = tcase_create("errors, modes, estimate");
  tcase_add_loop_test(errors, test_pop_unrouted_deadlocks, 0, configs);
  tcase_add_loop_test(errors, test_reserved_mode_is_gemm, 0, configs);
  tcase_add_loop_test(errors, test_cycle_estimate, 0, configs);
  suite_add_tcase(suite, errors);
  return suite;
}

int main(void) {
  SRunner *runner = srunner_create(model_simd_suite());
  srunner_run_all(runner, CK_NORMAL);
  int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
