// SPDX-License-Identifier: Apache-2.0
//
// Layernorm, forward and backward, on the PCU's SIMD mode (sparrow_nn.h; docs/ops.md, "Layernorm
// and embedding"): jobs of the generic runner (simd_run.h) over the device images below, run by
// the executor (nn_exec.h). Each lane owns the columns j = lane, lane + L, ... of a row and sums
// them in one accumulator from +0.0 in ascending order; the lane tree (RSUM) joins the L partial
// sums. The golden order is sparrow_ref_layernorm_golden / _bwd_golden.
//
// Device images (L lanes, np = C rounded up to L, nb = np / L beats per row; padding +0):
//   forward   X   m rows of np words                      read in three passes (a)
//             GB  gamma, then beta: np words each          interleaved, every row (b)
//             Y   m rows of np + L words: the row of y, then a beat with mean in lane 0 and
//                 rstd in lane 1 (the other lanes 0)
//   backward  XD  two tensors of m rows of np + L words: x's rows each after a beat holding
//                 mean in every lane, dy's rows each after a beat holding rstd in every lane
//             G   gamma: np words
//             DX  m rows of np words
//             DGB dgamma, then dbeta: np words each
// The backward runs two jobs: dx row by row in two passes (the row sums, then dx), and the column
// sums dgamma, dbeta, one strip of L columns per SIMD row with the rows as its beats.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_exec.h"
#include "simd_special.h"
#include "sparrow_nn.h"
#include "sparrow_ref.h"  // eps and 1/C: the reference defines the operator

#define AL SPARROW_SIMD_PRED_ALWAYS
#define P0 SPARROW_SIMD_PRED_P0
#define IMM SPARROW_SIMD_SRC_IMM
#define A_PORT SPARROW_SIMD_PORT_A
#define B_PORT SPARROW_SIMD_PORT_B
#define F_ZERO 0x00000000u

static uint32_t padded(uint32_t n, uint32_t lanes) {
  return (uint32_t)(((uint64_t)n + lanes - 1u) / lanes * lanes);
}

// The shapes every layernorm program needs: lanes a power of two from 2 (lane 1 carries rstd),
// rows and columns that keep every image within 32-bit device addresses.
static sparrow_ops_status_t check_shape(const sparrow_ops_fabric_t *f, uint32_t m, uint32_t c,
                                        char *msg, size_t msg_len) {
  if (f == NULL || m == 0 || c == 0) {
    sparrow_ops_set_msg(msg, msg_len, "layernorm: empty shape (%u rows, %u columns)", m, c);
    return SPARROW_OPS_E_ARG;
  }
  uint32_t lanes = f->lanes;
  if (lanes < 2 || lanes > 64 || (lanes & (lanes - 1u)) != 0) {
    sparrow_ops_set_msg(
        msg, msg_len, "layernorm: needs 2 to 64 lanes, a power of two (the device has %u)", lanes);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  uint64_t row_bytes = 4ull * ((uint64_t)padded(c, lanes) + lanes);
  if (c > 0x7FFFFFFFu - lanes || 2ull * m * row_bytes >= 0x80000000ull) {
    sparrow_ops_set_msg(msg, msg_len, "layernorm %ux%u: the device images need more than 2 GiB", m,
                        c);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  return SPARROW_OPS_OK;
}

static uint32_t log2_u32(uint32_t v) {
  uint32_t k = 0;
  while ((1u << k) < v) {
    ++k;
  }
  return k;
}

// ---------------------------------------------------------------------------------------------------
// Programs.

// Forward, three passes. Passes 0 and 1 add the beat popped one iteration earlier before popping
// the next (one issue group per beat when the group is wide enough), under p0 = "that beat's lane
// is a real column" (COL < C); p0 starts false, so the first iteration adds nothing, and the end of
// the pass adds the last beat. Padding lanes never execute a floating-point operation.
static void emit_forward(sparrow_simd_asm_t *as, uint32_t c, uint32_t inv_c) {
  uint32_t acc = sparrow_simd_reg_alloc(as);
  uint32_t x = sparrow_simd_reg_alloc(as);
  uint32_t mean = sparrow_simd_reg_alloc(as);
  uint32_t rstd = sparrow_simd_reg_alloc(as);
  uint32_t s = sparrow_simd_reg_alloc(as);
  uint32_t d = sparrow_simd_reg_alloc(as);

  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_PROLOGUE);
  sparrow_simd_mov(as, AL, acc, IMM, F_ZERO);
  sparrow_simd_cltu(as, AL, 0, IMM, IMM, 0);  // p0 = 0 < 0: false
  sparrow_simd_seg_end(as);

  // Pass 0: the row sum.
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_fadd(as, P0, acc, acc, x, 0);
  sparrow_simd_cltu(as, AL, 0, SPARROW_SIMD_COL, IMM, c);
  sparrow_simd_pop(as, x, A_PORT);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(0));
  sparrow_simd_fadd(as, P0, acc, acc, x, 0);
  sparrow_simd_rsum(as, AL, s, acc, 0);
  sparrow_simd_fmul(as, AL, mean, s, IMM, inv_c);
  sparrow_simd_mov(as, AL, acc, IMM, F_ZERO);
  sparrow_simd_cltu(as, AL, 0, IMM, IMM, 0);
  sparrow_simd_seg_end(as);

  // Pass 1: the sum of squared deviations, then rstd.
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(1));
  sparrow_simd_fsub(as, P0, d, x, mean, 0);
  sparrow_simd_fmul(as, P0, d, d, d, 0);
  sparrow_simd_fadd(as, P0, acc, acc, d, 0);
  sparrow_simd_cltu(as, AL, 0, SPARROW_SIMD_COL, IMM, c);
  sparrow_simd_pop(as, x, A_PORT);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(1));
  sparrow_simd_fsub(as, P0, d, x, mean, 0);
  sparrow_simd_fmul(as, P0, d, d, d, 0);
  sparrow_simd_fadd(as, P0, acc, acc, d, 0);
  sparrow_simd_rsum(as, AL, s, acc, 0);
  sparrow_simd_fmul(as, AL, s, s, IMM, inv_c);
  sparrow_simd_fadd(as, AL, s, s, IMM, SPARROW_REF_LN_EPS);
  sparrow_simd_reg_free(as, acc);  // the macro's temporaries may take them
  sparrow_simd_reg_free(as, d);
  sparrow_simd_rsqrt(as, rstd, s);
  sparrow_simd_seg_end(as);

  // Pass 2: y = ((x - mean) * rstd) * gamma + beta on the real columns, +0 in the padding.
  uint32_t g = sparrow_simd_reg_alloc(as);
  uint32_t b = sparrow_simd_reg_alloc(as);
  uint32_t y = sparrow_simd_reg_alloc(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(2));
  sparrow_simd_pop(as, x, A_PORT);
  sparrow_simd_pop(as, g, B_PORT);
  sparrow_simd_pop(as, b, B_PORT);
  sparrow_simd_cltu(as, AL, 0, SPARROW_SIMD_COL, IMM, c);
  sparrow_simd_mov(as, AL, y, IMM, F_ZERO);
  sparrow_simd_fsub(as, P0, y, x, mean, 0);
  sparrow_simd_fmul(as, P0, y, y, rstd, 0);
  sparrow_simd_fmul(as, P0, y, y, g, 0);
  sparrow_simd_fadd(as, P0, y, y, b, 0);
  sparrow_simd_push(as, AL, y, 0);
  sparrow_simd_seg_end(as);
  // The row's statistics beat: lane 0 mean, lane 1 rstd, the others +0.
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(2));
  sparrow_simd_mov(as, AL, s, IMM, F_ZERO);
  sparrow_simd_ceq(as, AL, 0, SPARROW_SIMD_LANE, IMM, 0);
  sparrow_simd_mov(as, P0, s, mean, 0);
  sparrow_simd_ceq(as, AL, 0, SPARROW_SIMD_LANE, IMM, 1);
  sparrow_simd_mov(as, P0, s, rstd, 0);
  sparrow_simd_push(as, AL, s, 0);
  sparrow_simd_seg_end(as);
}

// Backward, dx: the row's mean and rstd arrive as the first beats of x's and dy's rows (in every
// pass: the copies at the start of pass 1 are popped and dropped at the end of pass 0).
static void emit_backward_dx(sparrow_simd_asm_t *as, uint32_t c, uint32_t inv_c) {
  uint32_t mean = sparrow_simd_reg_alloc(as), rstd = sparrow_simd_reg_alloc(as);
  uint32_t sa = sparrow_simd_reg_alloc(as), sb = sparrow_simd_reg_alloc(as);
  uint32_t x = sparrow_simd_reg_alloc(as), dy = sparrow_simd_reg_alloc(as);
  uint32_t g = sparrow_simd_reg_alloc(as), n = sparrow_simd_reg_alloc(as);
  uint32_t t = sparrow_simd_reg_alloc(as), m1 = sparrow_simd_reg_alloc(as);
  uint32_t m2 = sparrow_simd_reg_alloc(as), o = sparrow_simd_reg_alloc(as);

  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_PROLOGUE);
  sparrow_simd_pop(as, mean, A_PORT);
  sparrow_simd_pop(as, rstd, A_PORT);
  sparrow_simd_mov(as, AL, sa, IMM, F_ZERO);
  sparrow_simd_mov(as, AL, sb, IMM, F_ZERO);
  sparrow_simd_seg_end(as);

  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_pop(as, x, A_PORT);
  sparrow_simd_pop(as, dy, A_PORT);
  sparrow_simd_pop(as, g, B_PORT);
  sparrow_simd_cltu(as, AL, 0, SPARROW_SIMD_COL, IMM, c);
  sparrow_simd_fsub(as, P0, n, x, mean, 0);
  sparrow_simd_fmul(as, P0, n, n, rstd, 0);
  sparrow_simd_fmul(as, P0, g, g, dy, 0);
  sparrow_simd_fadd(as, P0, sa, sa, g, 0);
  sparrow_simd_fmul(as, P0, t, g, n, 0);
  sparrow_simd_fadd(as, P0, sb, sb, t, 0);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(0));
  sparrow_simd_rsum(as, AL, t, sa, 0);
  sparrow_simd_fmul(as, AL, m1, t, IMM, inv_c);
  sparrow_simd_rsum(as, AL, t, sb, 0);
  sparrow_simd_fmul(as, AL, m2, t, IMM, inv_c);
  sparrow_simd_pop(as, x, A_PORT);  // pass 1's copies of mean and rstd
  sparrow_simd_pop(as, x, A_PORT);
  sparrow_simd_seg_end(as);

  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(1));
  sparrow_simd_pop(as, x, A_PORT);
  sparrow_simd_pop(as, dy, A_PORT);
  sparrow_simd_pop(as, g, B_PORT);
  sparrow_simd_cltu(as, AL, 0, SPARROW_SIMD_COL, IMM, c);
  sparrow_simd_mov(as, AL, o, IMM, F_ZERO);
  sparrow_simd_fsub(as, P0, n, x, mean, 0);
  sparrow_simd_fmul(as, P0, n, n, rstd, 0);
  sparrow_simd_fmul(as, P0, g, g, dy, 0);
  sparrow_simd_fsub(as, P0, t, g, m1, 0);
  sparrow_simd_fmul(as, P0, n, n, m2, 0);
  sparrow_simd_fsub(as, P0, t, t, n, 0);
  sparrow_simd_fmul(as, P0, o, t, rstd, 0);
  sparrow_simd_push(as, AL, o, 0);
  sparrow_simd_seg_end(as);
}

// Backward, dgamma and dbeta: a SIMD row is a strip of L columns (ROW = the strip), its beats the
// rows in order; p0 = "a real column", fixed for the strip.
static void emit_backward_dgb(sparrow_simd_asm_t *as, uint32_t c, uint32_t lanes) {
  uint32_t ag = sparrow_simd_reg_alloc(as), ab = sparrow_simd_reg_alloc(as);
  uint32_t col = sparrow_simd_reg_alloc(as), x = sparrow_simd_reg_alloc(as);
  uint32_t dy = sparrow_simd_reg_alloc(as), mb = sparrow_simd_reg_alloc(as);
  uint32_t rb = sparrow_simd_reg_alloc(as), n = sparrow_simd_reg_alloc(as);

  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_PROLOGUE);
  sparrow_simd_mov(as, AL, ag, IMM, F_ZERO);
  sparrow_simd_mov(as, AL, ab, IMM, F_ZERO);
  sparrow_simd_shl(as, AL, col, SPARROW_SIMD_ROW, IMM, log2_u32(lanes));
  sparrow_simd_iadd(as, AL, col, col, SPARROW_SIMD_LANE, 0);
  sparrow_simd_cltu(as, AL, 0, col, IMM, c);
  sparrow_simd_seg_end(as);

  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_pop(as, x, A_PORT);
  sparrow_simd_pop(as, dy, A_PORT);
  sparrow_simd_pop(as, mb, B_PORT);
  sparrow_simd_pop(as, rb, B_PORT);
  sparrow_simd_fsub(as, P0, n, x, mb, 0);
  sparrow_simd_fmul(as, P0, n, n, rb, 0);
  sparrow_simd_fmul(as, P0, n, dy, n, 0);
  sparrow_simd_fadd(as, P0, ag, ag, n, 0);
  sparrow_simd_fadd(as, P0, ab, ab, dy, 0);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(0));
  sparrow_simd_push(as, AL, ag, 0);
  sparrow_simd_push(as, AL, ab, 0);
  sparrow_simd_seg_end(as);
}

static sparrow_ops_simd_stream_t stream(uint32_t tensors, uint64_t tensor_bytes, uint32_t beats,
                                        uint32_t beat_stride, uint32_t passes,
                                        uint32_t row_stride) {
  sparrow_ops_simd_stream_t s = {tensors, tensor_bytes, beats, beat_stride, passes, row_stride};
  return s;
}

static sparrow_ops_status_t no_code(sparrow_simd_asm_t *as, char *msg, size_t msg_len) {
  if (as == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "layernorm: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  return SPARROW_OPS_OK;
}

static sparrow_ops_status_t buf_fail(sparrow_ops_status_t st, char *msg, size_t msg_len) {
  sparrow_ops_set_msg(msg, msg_len, "layernorm: cannot allocate the host images (%s)",
                      sparrow_ops_status_name(st));
  return st;
}

// ---------------------------------------------------------------------------------------------------
// Forward.

sparrow_ops_status_t sparrow_ops_layernorm_prepare(const sparrow_ops_fabric_t *fabric, uint32_t m,
                                                   uint32_t c, const uint32_t *x,
                                                   const uint32_t *gamma, const uint32_t *beta,
                                                   sparrow_ops_exec_t *exec, char *msg,
                                                   size_t msg_len) {
  sparrow_ops_status_t st = check_shape(fabric, m, c, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  if (x == NULL || gamma == NULL || beta == NULL || exec == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "layernorm: a tensor is NULL");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_exec_init(exec, fabric);
  const uint32_t lanes = fabric->lanes, np = padded(c, lanes), nb = np / lanes;
  const uint32_t beat = 4u * lanes;
  uint32_t bx, bgb, by;
  if ((st = sparrow_ops_exec_add_buf(exec, "x", 4ull * m * np, SPARROW_OPS_EXEC_IN, &bx)) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "gamma, beta", 8ull * np, SPARROW_OPS_EXEC_IN, &bgb)) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "y, mean, rstd", 4ull * m * (np + lanes),
                                     SPARROW_OPS_EXEC_OUT, &by)) != SPARROW_OPS_OK) {
    sparrow_ops_exec_free(exec);
    return buf_fail(st, msg, msg_len);
  }
  for (uint32_t r = 0; r < m; ++r) {
    memcpy(exec->buf[bx].image + (size_t)r * np, x + (size_t)r * c, 4u * (size_t)c);
  }
  memcpy(exec->buf[bgb].image, gamma, 4u * (size_t)c);
  memcpy(exec->buf[bgb].image + np, beta, 4u * (size_t)c);

  sparrow_simd_asm_t *as = sparrow_ops_exec_new_code(exec);
  if ((st = no_code(as, msg, msg_len)) != SPARROW_OPS_OK) {
    sparrow_ops_exec_free(exec);
    return st;
  }
  emit_forward(as, c, sparrow_ref_layernorm_inv_c(c));
  sparrow_ops_simd_job_t job;
  memset(&job, 0, sizeof(job));
  job.code = as;
  job.rows = m;
  job.beats = nb;
  job.passes = 3;
  job.in[0] = stream(1, 4ull * m * np, nb, beat, 3, 4u * np);
  job.in[1] = stream(2, 4ull * np, nb, beat, 1, 0);
  job.out = stream(1, 4ull * m * (np + lanes), nb + 1u, beat, 1, 4u * (np + lanes));
  const uint32_t in_buf[2] = {bx, bgb};
  const uint64_t in_off[2] = {0, 0};
  st = sparrow_ops_exec_add_simd(exec, &job, in_buf, in_off, by, 0, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    sparrow_ops_exec_free(exec);
  }
  return st;
}

void sparrow_ops_layernorm_finish(const sparrow_ops_exec_t *exec, uint32_t m, uint32_t c,
                                  uint32_t *y, uint32_t *mean, uint32_t *rstd) {
  const uint32_t lanes = exec->fabric.lanes, pitch = padded(c, lanes) + lanes;
  const uint32_t *image = exec->buf[2].image;
  for (uint32_t r = 0; r < m; ++r) {
    const uint32_t *row = image + (size_t)r * pitch;
    memcpy(y + (size_t)r * c, row, 4u * (size_t)c);
    mean[r] = row[pitch - lanes];
    rstd[r] = row[pitch - lanes + 1u];
  }
}

// ---------------------------------------------------------------------------------------------------
// Backward.

sparrow_ops_status_t sparrow_ops_layernorm_bwd_prepare(const sparrow_ops_fabric_t *fabric,
                                                       uint32_t m, uint32_t c, const uint32_t *x,
                                                       const uint32_t *gamma, const uint32_t *mean,
                                                       const uint32_t *rstd, const uint32_t *dy,
                                                       sparrow_ops_exec_t *exec, char *msg,
                                                       size_t msg_len) {
  sparrow_ops_status_t st = check_shape(fabric, m, c, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  if (x == NULL || gamma == NULL || mean == NULL || rstd == NULL || dy == NULL || exec == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "layernorm_bwd: a tensor is NULL");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_exec_init(exec, fabric);
  const uint32_t lanes = fabric->lanes, np = padded(c, lanes), nb = np / lanes;
  const uint32_t beat = 4u * lanes, pitch = np + lanes;
  const uint64_t tensor = 4ull * m * pitch;
  uint32_t bxd, bg, bdx, bdgb;
  if ((st = sparrow_ops_exec_add_buf(exec, "x, dy", 2u * tensor, SPARROW_OPS_EXEC_IN, &bxd)) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "gamma", 4ull * np, SPARROW_OPS_EXEC_IN, &bg)) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "dx", 4ull * m * np, SPARROW_OPS_EXEC_OUT, &bdx)) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "dgamma, dbeta", 8ull * np, SPARROW_OPS_EXEC_OUT,
                                     &bdgb)) != SPARROW_OPS_OK) {
    sparrow_ops_exec_free(exec);
    return buf_fail(st, msg, msg_len);
  }
  uint32_t *xs = exec->buf[bxd].image, *dys = xs + tensor / 4u;
  for (uint32_t r = 0; r < m; ++r) {
    uint32_t *xr = xs + (size_t)r * pitch, *dr = dys + (size_t)r * pitch;
    for (uint32_t l = 0; l < lanes; ++l) {
      xr[l] = mean[r];
      dr[l] = rstd[r];
    }
    memcpy(xr + lanes, x + (size_t)r * c, 4u * (size_t)c);
    memcpy(dr + lanes, dy + (size_t)r * c, 4u * (size_t)c);
  }
  memcpy(exec->buf[bg].image, gamma, 4u * (size_t)c);

  // Job 1: dx.
  sparrow_simd_asm_t *as = sparrow_ops_exec_new_code(exec);
  if ((st = no_code(as, msg, msg_len)) != SPARROW_OPS_OK) {
    sparrow_ops_exec_free(exec);
    return st;
  }
  const uint32_t inv_c = sparrow_ref_layernorm_inv_c(c);
  emit_backward_dx(as, c, inv_c);
  sparrow_ops_simd_job_t job;
  memset(&job, 0, sizeof(job));
  job.code = as;
  job.rows = m;
  job.beats = nb;
  job.passes = 2;
  job.in[0] = stream(2, tensor, nb + 1u, beat, 2, 4u * pitch);
  job.in[1] = stream(1, 4ull * np, nb, beat, 2, 0);
  job.out = stream(1, 4ull * m * np, nb, beat, 1, 4u * np);
  const uint32_t in_buf1[2] = {bxd, bg};
  const uint64_t in_off1[2] = {0, 0};
  st = sparrow_ops_exec_add_simd(exec, &job, in_buf1, in_off1, bdx, 0, msg, msg_len);

  // Job 2: dgamma and dbeta, column strips over the same image (x and dy from the second beat
  // of each row, the statistics beats from the first).
  if (st == SPARROW_OPS_OK) {
    as = sparrow_ops_exec_new_code(exec);
    st = no_code(as, msg, msg_len);
  }
  if (st == SPARROW_OPS_OK) {
    emit_backward_dgb(as, c, lanes);
    memset(&job, 0, sizeof(job));
    job.code = as;
    job.rows = nb;
    job.beats = m;
    job.passes = 1;
    job.in[0] = stream(2, tensor, m, 4u * pitch, 1, beat);
    job.in[1] = stream(2, tensor, m, 4u * pitch, 1, 0);
    job.out = stream(2, 4ull * np, 1, 0, 1, beat);
    const uint32_t in_buf2[2] = {bxd, bxd};
    const uint64_t in_off2[2] = {beat, 0};
    st = sparrow_ops_exec_add_simd(exec, &job, in_buf2, in_off2, bdgb, 0, msg, msg_len);
  }
  if (st != SPARROW_OPS_OK) {
    sparrow_ops_exec_free(exec);
  }
  return st;
}

void sparrow_ops_layernorm_bwd_finish(const sparrow_ops_exec_t *exec, uint32_t m, uint32_t c,
                                      uint32_t *dx, uint32_t *dgamma, uint32_t *dbeta) {
  const uint32_t np = padded(c, exec->fabric.lanes);
  const uint32_t *dxi = exec->buf[2].image, *dgb = exec->buf[3].image;
  for (uint32_t r = 0; dx != NULL && r < m; ++r) {
    memcpy(dx + (size_t)r * c, dxi + (size_t)r * np, 4u * (size_t)c);
  }
  if (dgamma != NULL && dbeta != NULL) {
    memcpy(dgamma, dgb, 4u * (size_t)c);
    memcpy(dbeta, dgb + np, 4u * (size_t)c);
  }
}

// ---------------------------------------------------------------------------------------------------
// Through the driver.

sparrow_ops_status_t sparrow_ops_layernorm(sparrow_dev_t *dev, uint32_t m, uint32_t c,
                                           const uint32_t *x, const uint32_t *gamma,
                                           const uint32_t *beta, uint32_t *y, uint32_t *mean,
                                           uint32_t *rstd, sparrow_ops_simd_stats_t *stats,
                                           char *msg, size_t msg_len) {
  if (dev == NULL || y == NULL || mean == NULL || rstd == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "layernorm: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_simd_stats_t local;
  stats = stats != NULL ? stats : &local;
  memset(stats, 0, sizeof(*stats));
  sparrow_ops_fabric_t fabric;
  uint64_t dram = 0;
  sparrow_ops_status_t st = sparrow_ops_exec_device(dev, &fabric, &dram, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  sparrow_ops_exec_t *exec = malloc(sizeof(*exec));
  if (exec == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "layernorm: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  st = sparrow_ops_layernorm_prepare(&fabric, m, c, x, gamma, beta, exec, msg, msg_len);
  if (st == SPARROW_OPS_OK) {
    char name[64];
    snprintf(name, sizeof(name), "layernorm %ux%u", m, c);
    st = sparrow_ops_exec_fits(exec, dram, name, msg, msg_len);
    if (st == SPARROW_OPS_OK) {
      st = sparrow_ops_exec_run(dev, exec, stats, msg, msg_len);
    }
    if (st == SPARROW_OPS_OK) {
      sparrow_ops_layernorm_finish(exec, m, c, y, mean, rstd);
    }
    sparrow_ops_exec_free(exec);
  }
  free(exec);
  return st;
}

sparrow_ops_status_t sparrow_ops_layernorm_bwd(sparrow_dev_t *dev, uint32_t m, uint32_t c,
                                               const uint32_t *x, const uint32_t *gamma,
                                               const uint32_t *mean, const uint32_t *rstd,
                                               const uint32_t *dy, uint32_t *dx, uint32_t *dgamma,
                                               uint32_t *dbeta, sparrow_ops_simd_stats_t *stats,
                                               char *msg, size_t msg_len) {
  if (dev == NULL || dx == NULL || dgamma == NULL || dbeta == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "layernorm_bwd: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_simd_stats_t local;
  stats = stats != NULL ? stats : &local;
  memset(stats, 0, sizeof(*stats));
  sparrow_ops_fabric_t fabric;
  uint64_t dram = 0;
  sparrow_ops_status_t st = sparrow_ops_exec_device(dev, &fabric, &dram, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  sparrow_ops_exec_t *exec = malloc(sizeof(*exec));
  if (exec == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "layernorm_bwd: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  st = sparrow_ops_layernorm_bwd_prepare(&fabric, m, c, x, gamma, mean, rstd, dy, exec, msg,
                                         msg_len);
  if (st == SPARROW_OPS_OK) {
    char name[64];
    snprintf(name, sizeof(name), "layernorm_bwd %ux%u", m, c);
    st = sparrow_ops_exec_fits(exec, dram, name, msg, msg_len);
    if (st == SPARROW_OPS_OK) {
      st = sparrow_ops_exec_run(dev, exec, stats, msg, msg_len);
    }
    if (st == SPARROW_OPS_OK) {
      sparrow_ops_layernorm_bwd_finish(exec, m, c, dx, dgamma, dbeta);
    }
    sparrow_ops_exec_free(exec);
  }
  free(exec);
  return st;
}
