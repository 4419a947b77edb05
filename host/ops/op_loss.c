// SPDX-License-Identifier: Apache-2.0
//
// Softmax cross-entropy, forward and backward, on the PCU's SIMD mode (sparrow_nn.h; docs/ops.md,
// "Loss and optimizer"): jobs of the generic runner (simd_run.h) run by the executor (nn_exec.h).
// The golden order is sparrow_ref_cross_entropy_golden (host/ref/loss_ref.c).
//
// Device images (L lanes, vp = vocab rounded up to L, nb = vp / L beats per logits row):
//   X    rows x vp words: the logits, padding +0 (never computed on: COL >= vocab is masked)
//   T    rows beats: beat i holds target i in every lane (an integer, compared with COL)
//   O    rows x ob beats: the gradient row (nb beats, when wanted), then one beat holding the
//        row's loss in every lane (when the loss or the mean is wanted)
//   MEAN one beat: the mean loss in every lane
// Job 1, one SIMD row per logits row, rows split over the tiles, two or three passes re-reading X:
//   prologue  POP the target; lane maxima -inf, lane sums +0, d_t -inf
//   pass 0    body: POP x; where COL < vocab, mx = max(mx, x)          end: m = RMAX mx
//   pass 1    body: POP x; d = x - m where COL < vocab, else -inf; where COL == t, d_t = d;
//             sum += exp(d)                                           end: s = RSUM sum,
//             d_t = RMAX d_t, loss = log(s) - d_t, r = recip(s) (each only when wanted)
//   pass 2    body: POP x; d again; g = (exp(d) * r - [COL == t]) * inv_n; PUSH g
//             end: PUSH loss
// A padding lane holds d = -inf, whose exp is +0 exactly and without flags: it adds nothing to
// the sum and pushes +0. Job 2 (the mean) runs on one tile, one SIMD row whose beats are the rows'
// loss beats in ascending order, one accumulator from +0.0 (in every lane alike), then * inv_n.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_exec.h"
#include "simd_special.h"
#include "sparrow_nn.h"
#include "sparrow_ref.h"  // 1/n: the reference defines the operator

#define AL SPARROW_SIMD_PRED_ALWAYS
#define P0 SPARROW_SIMD_PRED_P0
#define P1 SPARROW_SIMD_PRED_P1
#define IMM SPARROW_SIMD_SRC_IMM
#define COL SPARROW_SIMD_SRC_COL
#define A_PORT SPARROW_SIMD_PORT_A
#define B_PORT SPARROW_SIMD_PORT_B
#define F_ZERO 0x00000000u
#define F_ONE 0x3F800000u
#define F_NEG_INF 0xFF800000u
#define MAX_LANES 64u
#define IMAGE_LIMIT 0x80000000ull  // every image below 2 GiB: strides stay signed 32-bit

static uint32_t padded(uint32_t n, uint32_t lanes) {
  return (uint32_t)(((uint64_t)n + lanes - 1u) / lanes * lanes);
}

// What finish needs (the executor's ctx).
typedef struct ce_plan {
  sparrow_ops_ce_t ce;
  bool losses, mean, dlogits;
  uint32_t lanes, vp, nb;
  uint32_t ob;  // beats per row of O
  uint32_t buf_out, buf_mean;
} ce_plan_t;

// ---------------------------------------------------------------------------------------------------
// Programs.

// d = x - m where COL < vocab, -inf elsewhere (p0 left as COL < vocab).
static void emit_centred(sparrow_simd_asm_t *as, uint32_t d, uint32_t x, uint32_t m,
                         uint32_t vocab) {
  sparrow_simd_cltu(as, AL, 0, COL, IMM, vocab);
  sparrow_simd_mov(as, AL, d, IMM, F_NEG_INF);
  sparrow_simd_fsub(as, P0, d, x, m, 0);
}

static void emit_ce(sparrow_simd_asm_t *as, uint32_t vocab, bool loss, bool grad, uint32_t inv_n) {
  uint32_t tgt = sparrow_simd_reg_alloc(as);
  uint32_t mx = sparrow_simd_reg_alloc(as);   // lane maxima, then m
  uint32_t sum = sparrow_simd_reg_alloc(as);  // lane sums, then s, then (grad) recip(s)
  uint32_t dt = sparrow_simd_reg_alloc(as);   // d_t in its lane, -inf elsewhere; then the loss
  uint32_t x = sparrow_simd_reg_alloc(as);
  uint32_t d = sparrow_simd_reg_alloc(as);

  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_PROLOGUE);
  sparrow_simd_pop(as, tgt, B_PORT);
  sparrow_simd_mov(as, AL, mx, IMM, F_NEG_INF);
  sparrow_simd_mov(as, AL, sum, IMM, F_ZERO);
  sparrow_simd_mov(as, AL, dt, IMM, F_NEG_INF);
  sparrow_simd_seg_end(as);

  // Pass 0: the maximum.
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_pop(as, x, A_PORT);
  sparrow_simd_cltu(as, AL, 0, COL, IMM, vocab);
  sparrow_simd_fmax(as, P0, mx, mx, x, 0);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(0));
  sparrow_simd_rmax(as, AL, mx, mx, 0);
  sparrow_simd_seg_end(as);

  // Pass 1: the sum of exponentials, and d_t.
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(1));
  sparrow_simd_pop(as, x, A_PORT);
  emit_centred(as, d, x, mx, vocab);
  sparrow_simd_ceq(as, AL, 1, COL, tgt, 0);
  sparrow_simd_mov(as, P1, dt, d, 0);
  sparrow_simd_exp(as, x, d);
  sparrow_simd_fadd(as, AL, sum, sum, x, 0);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(1));
  sparrow_simd_rsum(as, AL, sum, sum, 0);
  if (loss) {
    sparrow_simd_rmax(as, AL, dt, dt, 0);
    sparrow_simd_log(as, x, sum);
    sparrow_simd_fsub(as, AL, dt, x, dt, 0);  // the loss
  }
  if (grad) {
    sparrow_simd_recip(as, sum, sum);
  } else if (loss) {
    sparrow_simd_push(as, AL, dt, 0);
  }
  sparrow_simd_seg_end(as);

  // Pass 2: the gradient.
  if (grad) {
    sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(2));
    sparrow_simd_pop(as, x, A_PORT);
    emit_centred(as, d, x, mx, vocab);
    sparrow_simd_exp(as, x, d);
    sparrow_simd_fmul(as, AL, x, x, sum, 0);
    sparrow_simd_ceq(as, AL, 1, COL, tgt, 0);
    sparrow_simd_fsub(as, P1, x, x, IMM, F_ONE);
    sparrow_simd_fmul(as, AL, x, x, IMM, inv_n);
    sparrow_simd_push(as, AL, x, 0);
    sparrow_simd_seg_end(as);
    if (loss) {
      sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(2));
      sparrow_simd_push(as, AL, dt, 0);
      sparrow_simd_seg_end(as);
    }
  }
}

// The mean: add the loss beat popped one iteration earlier, then pop the next (one issue group
// per beat); the first add is +0 + +0, exact and flag-free, so the accumulator goes through
// exactly the golden sums +0.0, loss_0, loss_0 + loss_1, ...
static void emit_mean(sparrow_simd_asm_t *as, uint32_t inv_n) {
  uint32_t acc = sparrow_simd_reg_alloc(as);
  uint32_t v = sparrow_simd_reg_alloc(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_PROLOGUE);
  sparrow_simd_mov(as, AL, acc, IMM, F_ZERO);
  sparrow_simd_mov(as, AL, v, IMM, F_ZERO);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_fadd(as, AL, acc, acc, v, 0);
  sparrow_simd_pop(as, v, A_PORT);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(0));
  sparrow_simd_fadd(as, AL, acc, acc, v, 0);
  sparrow_simd_fmul(as, AL, acc, acc, IMM, inv_n);
  sparrow_simd_push(as, AL, acc, 0);
  sparrow_simd_seg_end(as);
}

static sparrow_ops_simd_stream_t stream(uint32_t tensors, uint64_t tensor_bytes, uint32_t beats,
                                        uint32_t beat_stride, uint32_t passes,
                                        uint32_t row_stride) {
  sparrow_ops_simd_stream_t s;
  memset(&s, 0, sizeof(s));
  s.tensors = tensors;
  s.tensor_bytes = tensor_bytes;
  s.beats = beats;
  s.beat_stride = beat_stride;
  s.passes = passes;
  s.row_stride = row_stride;
  return s;
}

// ---------------------------------------------------------------------------------------------------
// Prepare and finish.

static sparrow_ops_status_t check_ce(const sparrow_ops_fabric_t *f, const sparrow_ops_ce_t *ce,
                                     const uint32_t *logits, const uint32_t *targets, char *msg,
                                     size_t msg_len) {
  if (f == NULL || ce == NULL || logits == NULL || targets == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "cross_entropy: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  if (ce->rows == 0 || ce->vocab == 0 || ce->ld < ce->vocab) {
    sparrow_ops_set_msg(
        msg, msg_len,
        "cross_entropy: bad shape (%u rows, vocabulary %u, row stride %u: rows and vocabulary "
        "must be at least 1 and the stride at least the vocabulary)",
        ce->rows, ce->vocab, ce->ld);
    return SPARROW_OPS_E_ARG;
  }
  uint32_t lanes = f->lanes;
  if (lanes == 0 || lanes > MAX_LANES || (lanes & (lanes - 1u)) != 0) {
    sparrow_ops_set_msg(msg, msg_len,
                        "cross_entropy: needs 1 to 64 lanes, a power of two (the device has %u)",
                        lanes);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  for (uint32_t i = 0; i < ce->rows; ++i) {
    if (targets[i] >= ce->vocab) {
      sparrow_ops_set_msg(msg, msg_len,
                          "cross_entropy: target %u of row %u is outside the vocabulary of %u",
                          targets[i], i, ce->vocab);
      return SPARROW_OPS_E_ARG;
    }
  }
  uint64_t vp = padded(ce->vocab, lanes);
  if (4ull * ce->rows * (vp + lanes) >= IMAGE_LIMIT) {
    sparrow_ops_set_msg(msg, msg_len, "cross_entropy %ux%u: the device images need more than 2 GiB",
                        ce->rows, ce->vocab);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  return SPARROW_OPS_OK;
}

static sparrow_ops_status_t host_oom(sparrow_ops_exec_t *exec, sparrow_ops_status_t st, char *msg,
                                     size_t msg_len) {
  sparrow_ops_set_msg(msg, msg_len, "cross_entropy: cannot allocate the host images (%s)",
                      sparrow_ops_status_name(st));
  sparrow_ops_exec_free(exec);
  return st;
}

sparrow_ops_status_t sparrow_ops_cross_entropy_prepare(
    const sparrow_ops_fabric_t *fabric, const sparrow_ops_ce_t *ce, const uint32_t *logits,
    const uint32_t *targets, bool want_losses, bool want_mean, bool want_dlogits,
    sparrow_ops_exec_t *exec, char *msg, size_t msg_len) {
  if (exec == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "cross_entropy: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_status_t st = check_ce(fabric, ce, logits, targets, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  if (!want_losses && !want_mean && !want_dlogits) {
    sparrow_ops_set_msg(msg, msg_len, "cross_entropy: no output wanted");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_exec_init(exec, fabric);
  ce_plan_t *plan = calloc(1, sizeof(*plan));
  if (plan == NULL) {
    return host_oom(exec, SPARROW_OPS_E_NOMEM, msg, msg_len);
  }
  exec->ctx = plan;
  const uint32_t lanes = fabric->lanes, rows = ce->rows, beat = 4u * lanes;
  const bool loss = want_losses || want_mean;
  plan->ce = *ce;
  plan->losses = want_losses;
  plan->mean = want_mean;
  plan->dlogits = want_dlogits;
  plan->lanes = lanes;
  plan->vp = padded(ce->vocab, lanes);
  plan->nb = plan->vp / lanes;
  plan->ob = (want_dlogits ? plan->nb : 0u) + (loss ? 1u : 0u);
  const uint64_t x_bytes = 4ull * rows * plan->vp, o_bytes = (uint64_t)rows * plan->ob * beat;

  uint32_t bx, bt;
  if ((st = sparrow_ops_exec_add_buf(exec, "logits", x_bytes, SPARROW_OPS_EXEC_IN, &bx)) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "targets", (uint64_t)rows * beat, SPARROW_OPS_EXEC_IN,
                                     &bt)) != SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "dlogits, losses", o_bytes, SPARROW_OPS_EXEC_OUT,
                                     &plan->buf_out)) != SPARROW_OPS_OK ||
      (want_mean && (st = sparrow_ops_exec_add_buf(exec, "mean", beat, SPARROW_OPS_EXEC_OUT,
                                                   &plan->buf_mean)) != SPARROW_OPS_OK)) {
    return host_oom(exec, st, msg, msg_len);
  }
  uint32_t *xi = exec->buf[bx].image, *ti = exec->buf[bt].image;
  for (uint32_t r = 0; r < rows; ++r) {
    memcpy(xi + (size_t)r * plan->vp, logits + (size_t)r * ce->ld, 4u * (size_t)ce->vocab);
    for (uint32_t l = 0; l < lanes; ++l) {
      ti[(size_t)r * lanes + l] = targets[r];
    }
  }

  const uint32_t inv_n = sparrow_ref_inv_count(rows);
  sparrow_simd_asm_t *as = sparrow_ops_exec_new_code(exec);
  if (as == NULL) {
    return host_oom(exec, SPARROW_OPS_E_NOMEM, msg, msg_len);
  }
  emit_ce(as, ce->vocab, loss, want_dlogits, inv_n);
  const uint32_t passes = want_dlogits ? 3u : 2u;
  sparrow_ops_simd_job_t job;
  memset(&job, 0, sizeof(job));
  job.code = as;
  job.rows = rows;
  job.beats = plan->nb;
  job.passes = passes;
  job.in[0] = stream(1, x_bytes, plan->nb, beat, passes, 4u * plan->vp);
  job.in[1] = stream(1, (uint64_t)rows * beat, 1, 0, 1, beat);
  job.out = stream(1, o_bytes, plan->ob, beat, 1, plan->ob * beat);
  const uint32_t in_buf[2] = {bx, bt};
  const uint64_t in_off[2] = {0, 0};
  st = sparrow_ops_exec_add_simd(exec, &job, in_buf, in_off, plan->buf_out, 0, msg, msg_len);
  if (st == SPARROW_OPS_OK && want_mean) {
    // The loss beats, one per row, down the rows of O in ascending order.
    as = sparrow_ops_exec_new_code(exec);
    if (as == NULL) {
      return host_oom(exec, SPARROW_OPS_E_NOMEM, msg, msg_len);
    }
    emit_mean(as, inv_n);
    memset(&job, 0, sizeof(job));
    job.code = as;
    job.rows = 1;
    job.beats = rows;
    job.passes = 1;
    const uint64_t loss_at = (uint64_t)(plan->ob - 1u) * beat;
    job.in[0] = stream(1, o_bytes - loss_at, rows, plan->ob * beat, 1, 0);
    job.out = stream(1, beat, 1, beat, 1, 0);
    const uint32_t mean_buf[2] = {plan->buf_out, SPARROW_OPS_EXEC_NONE};
    const uint64_t mean_off[2] = {loss_at, 0};
    st = sparrow_ops_exec_add_simd(exec, &job, mean_buf, mean_off, plan->buf_mean, 0, msg, msg_len);
  }
  if (st != SPARROW_OPS_OK) {
    sparrow_ops_exec_free(exec);
  }
  return st;
}

void sparrow_ops_cross_entropy_finish(const sparrow_ops_exec_t *exec, uint32_t *losses,
                                      uint32_t *mean, uint32_t *dlogits) {
  const ce_plan_t *plan = exec->ctx;
  const uint32_t *o = exec->buf[plan->buf_out].image;
  const uint32_t lanes = plan->lanes, row_words = plan->ob * lanes;
  for (uint32_t r = 0; r < plan->ce.rows; ++r) {
    const uint32_t *row = o + (size_t)r * row_words;
    if (dlogits != NULL && plan->dlogits) {
      uint32_t *g = dlogits + (size_t)r * plan->ce.ld;
      memcpy(g, row, 4u * (size_t)plan->ce.vocab);
      memset(g + plan->ce.vocab, 0, 4u * (size_t)(plan->ce.ld - plan->ce.vocab));
    }
    if (losses != NULL && plan->losses) {
      losses[r] = row[row_words - lanes];
    }
  }
  if (mean != NULL && plan->mean) {
    *mean = exec->buf[plan->buf_mean].image[0];
  }
}

// ---------------------------------------------------------------------------------------------------
// Through the driver.

sparrow_ops_status_t sparrow_ops_cross_entropy(sparrow_dev_t *dev, const sparrow_ops_ce_t *ce,
                                               const uint32_t *logits, const uint32_t *targets,
                                               uint32_t *losses, uint32_t *mean, uint32_t *dlogits,
                                               sparrow_ops_simd_stats_t *stats, char *msg,
                                               size_t msg_len) {
  if (dev == NULL || ce == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "cross_entropy: bad argument");
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
    sparrow_ops_set_msg(msg, msg_len, "cross_entropy: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  st = sparrow_ops_cross_entropy_prepare(&fabric, ce, logits, targets, losses != NULL, mean != NULL,
                                         dlogits != NULL, exec, msg, msg_len);
  if (st == SPARROW_OPS_OK) {
    char name[64];
    snprintf(name, sizeof(name), "cross_entropy %ux%u", ce->rows, ce->vocab);
    st = sparrow_ops_exec_fits(exec, dram, name, msg, msg_len);
    if (st == SPARROW_OPS_OK) {
      st = sparrow_ops_exec_run(dev, exec, stats, msg, msg_len);
    }
    if (st == SPARROW_OPS_OK) {
      sparrow_ops_cross_entropy_finish(exec, losses, mean, dlogits);
    }
    sparrow_ops_exec_free(exec);
  }
  free(exec);
  return st;
}
