// SPDX-License-Identifier: Apache-2.0
//
// AdamW and the global gradient norm on the PCU's SIMD mode (sparrow_nn.h; docs/ops.md, "Loss and
// optimizer"): jobs of the generic runner (simd_run.h) run by the executor (nn_exec.h). The golden
// order is sparrow_ref_adamw1_golden / sparrow_ref_grad_norm_golden (host/ref/adamw_ref.c).
//
// Rows are W = L * ROW_BEATS words (L lanes; W is a power of two, so an element's index is
// ROW << log2(W) + COL).
//
// The gradient norm: each tensor's gradient is padded with +0 to whole rows (a tensor starts at a
// row, so its element j is in lane j mod L); one tile runs every row in order (max_tiles 1), so
// each lane's accumulator carries from row to row of a tensor:
//   G  the padded tensors one after the other;  C  one beat per row: 1 in every lane on a
//   tensor's last row, else 0;  N  three beats written once: sumsq, norm, clip (each in every lane)
//   body       acc += v * v of the beat popped one iteration earlier; POP v (one issue group)
//   end        the last beat's square; v = 0; POP c; where c = 1: S = RSUM acc, sumsq += S,
//              acc = 0 (a lane tree per tensor, tensors added in order from +0.0)
//   epilogue   norm = sumsq * rsqrt(sumsq) (+0, +inf: themselves); clip = min(max_norm *
//              recip(norm + 1e-6), 1); PUSH sumsq, norm, clip
// The +0 squares of the padding and of the pipeline's first iteration add nothing (exact, no flag).
//
// AdamW: the tensors that decay, then the others, each packed without gaps (elements [0, n_decay)
// decay, [n_decay, n) do not), padded with +0 to whole rows; rows split over the tiles, one pass:
//   GP  g then p (two images, interleaved beat by beat);  MV  m then v;  OUT  p, m, v
//   body  POP g, p, m, v; the element's sequence (sparrow_ref_adamw1_golden); PUSH p, m, v.
// The padding (index >= n) gives recip +inf instead of the denominator: all its operations are then
// exact on zeros and raise nothing.

#include <stdlib.h>
#include <string.h>

#include "nn_exec.h"
#include "simd_special.h"
#include "sparrow_nn.h"
#include "sparrow_ref.h"  // the constants: the reference defines the operator

#define AL SPARROW_SIMD_PRED_ALWAYS
#define P0 SPARROW_SIMD_PRED_P0
#define NP0 SPARROW_SIMD_PRED_NOT_P0
#define IMM SPARROW_SIMD_SRC_IMM
#define COL SPARROW_SIMD_SRC_COL
#define ROW SPARROW_SIMD_SRC_ROW
#define A_PORT SPARROW_SIMD_PORT_A
#define B_PORT SPARROW_SIMD_PORT_B
#define F_ZERO 0x00000000u
#define F_ONE 0x3F800000u
#define ABS_MASK 0x7FFFFFFFu
#define INF_BITS 0x7F800000u
#define ROW_BEATS 16u
#define MAX_LANES 64u
#define IMAGE_LIMIT 0x80000000ull  // every image below 2 GiB: strides stay signed 32-bit

static uint32_t log2_u32(uint32_t v) {
  uint32_t k = 0;
  while ((1u << k) < v) {
    ++k;
  }
  return k;
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

// The checks both operators share: the lanes, the tensors (inside the index range, no overlap,
// not all empty). *total gets the elements.
static sparrow_ops_status_t check_segs(const char *name, const sparrow_ops_fabric_t *f, size_t nseg,
                                       const sparrow_ops_param_seg_t *segs, uint64_t *total,
                                       char *msg, size_t msg_len) {
  if (f == NULL || (nseg != 0 && segs == NULL)) {
    sparrow_ops_set_msg(msg, msg_len, "%s: bad argument", name);
    return SPARROW_OPS_E_ARG;
  }
  uint32_t lanes = f->lanes;
  if (lanes == 0 || lanes > MAX_LANES || (lanes & (lanes - 1u)) != 0) {
    sparrow_ops_set_msg(msg, msg_len, "%s: needs 1 to 64 lanes, a power of two (the device has %u)",
                        name, lanes);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  *total = 0;
  for (size_t k = 0; k < nseg; ++k) {
    if (segs[k].count > IMAGE_LIMIT || segs[k].offset > SIZE_MAX - segs[k].count) {
      sparrow_ops_set_msg(msg, msg_len, "%s: tensor %zu (%zu elements at %zu) is too large", name,
                          k, segs[k].count, segs[k].offset);
      return SPARROW_OPS_E_UNSUPPORTED;
    }
    for (size_t o = 0; o < k; ++o) {
      bool apart = segs[k].count == 0 || segs[o].count == 0 ||
                   segs[k].offset + segs[k].count <= segs[o].offset ||
                   segs[o].offset + segs[o].count <= segs[k].offset;
      if (!apart) {
        sparrow_ops_set_msg(msg, msg_len, "%s: tensors %zu and %zu overlap", name, o, k);
        return SPARROW_OPS_E_ARG;
      }
    }
    *total += segs[k].count;
  }
  if (*total == 0) {
    sparrow_ops_set_msg(msg, msg_len, "%s: no parameter element (%zu tensors, all empty)", name,
                        nseg);
    return SPARROW_OPS_E_ARG;
  }
  return SPARROW_OPS_OK;
}

static sparrow_ops_status_t host_oom(const char *name, sparrow_ops_exec_t *exec,
                                     sparrow_ops_status_t st, char *msg, size_t msg_len) {
  sparrow_ops_set_msg(msg, msg_len, "%s: cannot allocate the host images (%s)", name,
                      sparrow_ops_status_name(st));
  sparrow_ops_exec_free(exec);
  return st;
}

// dst = sqrt(x) as sparrow_ref_sqrt_rsqrt: x * rsqrt(x) where x is +0 or positive finite, x itself
// elsewhere; rsqrt takes +inf in place of +-0 (no pole). dst must differ from x. Clobbers p0, p1.
static void emit_sqrt(sparrow_simd_asm_t *as, uint32_t dst, uint32_t x) {
  sparrow_simd_and(as, AL, dst, x, IMM, ABS_MASK);
  sparrow_simd_ceq(as, AL, 0, dst, IMM, F_ZERO);
  sparrow_simd_mov(as, AL, dst, x, 0);
  sparrow_simd_mov(as, P0, dst, IMM, INF_BITS);
  sparrow_simd_rsqrt(as, dst, dst);
  sparrow_simd_cltu(as, AL, 0, x, IMM, INF_BITS);
  sparrow_simd_fmul(as, P0, dst, x, dst, 0);
  sparrow_simd_mov(as, NP0, dst, x, 0);
}

// ---------------------------------------------------------------------------------------------------
// The gradient norm.

typedef struct norm_plan {
  uint32_t buf_out;
} norm_plan_t;

static void emit_grad_norm(sparrow_simd_asm_t *as, uint32_t max_norm) {
  uint32_t acc = sparrow_simd_reg_alloc(as);
  uint32_t v = sparrow_simd_reg_alloc(as);
  uint32_t t = sparrow_simd_reg_alloc(as);
  uint32_t total = sparrow_simd_reg_alloc(as);
  // Registers start at 0 (+0.0) when the phase starts: acc, v and total need no prologue.
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_fmul(as, AL, t, v, v, 0);
  sparrow_simd_fadd(as, AL, acc, acc, t, 0);
  sparrow_simd_pop(as, v, A_PORT);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(0));
  sparrow_simd_fmul(as, AL, t, v, v, 0);
  sparrow_simd_fadd(as, AL, acc, acc, t, 0);
  sparrow_simd_mov(as, AL, v, IMM, F_ZERO);
  sparrow_simd_pop(as, t, B_PORT);
  sparrow_simd_ceq(as, AL, 0, t, IMM, 1u);
  sparrow_simd_rsum(as, P0, t, acc, 0);
  sparrow_simd_fadd(as, P0, total, total, t, 0);
  sparrow_simd_mov(as, P0, acc, IMM, F_ZERO);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_EPILOGUE);
  uint32_t norm = sparrow_simd_reg_alloc(as);
  emit_sqrt(as, norm, total);
  sparrow_simd_fadd(as, AL, t, norm, IMM, SPARROW_REF_GRAD_NORM_EPS);
  sparrow_simd_recip(as, t, t);
  sparrow_simd_fmul(as, AL, t, IMM, t, max_norm);
  sparrow_simd_fmin(as, AL, t, t, IMM, F_ONE);
  sparrow_simd_push(as, AL, total, 0);
  sparrow_simd_push(as, AL, norm, 0);
  sparrow_simd_push(as, AL, t, 0);
  sparrow_simd_seg_end(as);
}

sparrow_ops_status_t sparrow_ops_grad_norm_prepare(const sparrow_ops_fabric_t *fabric, size_t nseg,
                                                   const sparrow_ops_param_seg_t *segs,
                                                   const uint32_t *grads, uint32_t max_norm,
                                                   sparrow_ops_exec_t *exec, char *msg,
                                                   size_t msg_len) {
  uint64_t total = 0;
  sparrow_ops_status_t st = check_segs("grad_norm", fabric, nseg, segs, &total, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  if (grads == NULL || exec == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "grad_norm: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  const uint32_t lanes = fabric->lanes, beat = 4u * lanes, w = ROW_BEATS * lanes;
  uint64_t rows = 0;
  for (size_t k = 0; k < nseg; ++k) {
    rows += (segs[k].count + w - 1u) / w;
  }
  if (rows * w * 4u >= IMAGE_LIMIT) {
    sparrow_ops_set_msg(msg, msg_len,
                        "grad_norm: %llu elements need more than 2 GiB of device images",
                        (unsigned long long)total);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  sparrow_ops_exec_init(exec, fabric);
  norm_plan_t *plan = calloc(1, sizeof(*plan));
  if (plan == NULL) {
    return host_oom("grad_norm", exec, SPARROW_OPS_E_NOMEM, msg, msg_len);
  }
  exec->ctx = plan;
  uint32_t bg, bc;
  if ((st = sparrow_ops_exec_add_buf(exec, "gradients", rows * w * 4u, SPARROW_OPS_EXEC_IN, &bg)) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "tensor ends", rows * beat, SPARROW_OPS_EXEC_IN, &bc)) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "sumsq, norm, clip", 3u * beat, SPARROW_OPS_EXEC_OUT,
                                     &plan->buf_out)) != SPARROW_OPS_OK) {
    return host_oom("grad_norm", exec, st, msg, msg_len);
  }
  uint32_t *gi = exec->buf[bg].image, *ci = exec->buf[bc].image;
  uint64_t row = 0;
  for (size_t k = 0; k < nseg; ++k) {
    uint64_t n = segs[k].count, kr = (n + w - 1u) / w;
    if (n == 0) {
      continue;
    }
    memcpy(gi + row * w, grads + segs[k].offset, 4u * (size_t)n);
    for (uint32_t l = 0; l < lanes; ++l) {
      ci[(row + kr - 1u) * lanes + l] = 1u;
    }
    row += kr;
  }
  sparrow_simd_asm_t *as = sparrow_ops_exec_new_code(exec);
  if (as == NULL) {
    return host_oom("grad_norm", exec, SPARROW_OPS_E_NOMEM, msg, msg_len);
  }
  emit_grad_norm(as, max_norm);
  sparrow_ops_simd_job_t job;
  memset(&job, 0, sizeof(job));
  job.code = as;
  job.rows = (uint32_t)rows;
  job.beats = ROW_BEATS;
  job.passes = 1;
  job.max_tiles = 1;
  job.out_once = 1;
  job.in[0] = stream(1, rows * w * 4u, ROW_BEATS, beat, 1, 4u * w);
  job.in[1] = stream(1, rows * beat, 1, 0, 1, beat);
  job.out = stream(1, 3u * beat, 3, beat, 1, 0);
  const uint32_t in_buf[2] = {bg, bc};
  const uint64_t in_off[2] = {0, 0};
  st = sparrow_ops_exec_add_simd(exec, &job, in_buf, in_off, plan->buf_out, 0, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    sparrow_ops_exec_free(exec);
  }
  return st;
}

void sparrow_ops_grad_norm_finish(const sparrow_ops_exec_t *exec, sparrow_ops_grad_norm_t *out) {
  const norm_plan_t *plan = exec->ctx;
  const uint32_t *o = exec->buf[plan->buf_out].image;
  const uint32_t lanes = exec->fabric.lanes;
  out->sumsq = o[0];
  out->norm = o[lanes];
  out->clip = o[2u * lanes];
}

// ---------------------------------------------------------------------------------------------------
// AdamW.

typedef struct adamw_plan {
  uint32_t buf_out;
  uint64_t words;  // of one image (p, m or v)
} adamw_plan_t;

static void emit_adamw(sparrow_simd_asm_t *as, const sparrow_ref_adamw_consts_t *c, uint32_t log2_w,
                       uint32_t n_total, uint32_t n_decay) {
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  uint32_t g = sparrow_simd_reg_alloc(as);
  uint32_t p = sparrow_simd_reg_alloc(as);
  uint32_t m = sparrow_simd_reg_alloc(as);
  uint32_t v = sparrow_simd_reg_alloc(as);
  uint32_t t = sparrow_simd_reg_alloc(as);
  sparrow_simd_pop(as, g, A_PORT);
  sparrow_simd_pop(as, p, A_PORT);
  sparrow_simd_pop(as, m, B_PORT);
  sparrow_simd_pop(as, v, B_PORT);
  sparrow_simd_fmul(as, AL, g, g, IMM, c->clip);
  sparrow_simd_fmul(as, AL, m, IMM, m, c->beta1);
  sparrow_simd_fmul(as, AL, t, IMM, g, c->one_minus_beta1);
  sparrow_simd_fadd(as, AL, m, m, t, 0);  // m = beta1 m + (1 - beta1) g
  sparrow_simd_fmul(as, AL, t, g, g, 0);
  sparrow_simd_fmul(as, AL, t, IMM, t, c->one_minus_beta2);
  sparrow_simd_fmul(as, AL, v, IMM, v, c->beta2);
  sparrow_simd_fadd(as, AL, v, v, t, 0);  // v = beta2 v + (1 - beta2) g^2
  // g is free from here: mhat in g, vhat in t.
  sparrow_simd_fmul(as, AL, g, m, IMM, c->bc1);
  sparrow_simd_fmul(as, AL, t, v, IMM, c->bc2);
  uint32_t d = sparrow_simd_reg_alloc(as);
  emit_sqrt(as, d, t);
  sparrow_simd_fadd(as, AL, d, d, IMM, c->eps);  // the denominator
  // The element's index: ROW * W + COL; the padding (>= n_total) gives recip +inf.
  uint32_t idx = sparrow_simd_reg_alloc(as);
  sparrow_simd_shl(as, AL, idx, ROW, IMM, log2_w);
  sparrow_simd_iadd(as, AL, idx, idx, COL, 0);
  sparrow_simd_cltu(as, AL, 0, idx, IMM, n_total);
  sparrow_simd_sel(as, AL, d, d, IMM, INF_BITS);
  sparrow_simd_recip(as, t, d);
  sparrow_simd_fmul(as, AL, g, g, t, 0);  // u = mhat * recip(denominator)
  sparrow_simd_cltu(as, AL, 0, idx, IMM, n_decay);
  sparrow_simd_fmul(as, P0, t, IMM, p, c->weight_decay);
  sparrow_simd_fadd(as, P0, g, g, t, 0);  // + weight_decay p, where the tensor decays
  sparrow_simd_fmul(as, AL, t, IMM, g, c->lr);
  sparrow_simd_fsub(as, AL, p, p, t, 0);
  sparrow_simd_push(as, AL, p, 0);
  sparrow_simd_push(as, AL, m, 0);
  sparrow_simd_push(as, AL, v, 0);
  sparrow_simd_seg_end(as);
}

sparrow_ops_status_t sparrow_ops_adamw_prepare(
    const sparrow_ops_fabric_t *fabric, const sparrow_ops_adamw_hp_t *hp, size_t nseg,
    const sparrow_ops_param_seg_t *segs, const uint32_t *params, const uint32_t *grads,
    const uint32_t *m, const uint32_t *v, sparrow_ops_exec_t *exec, char *msg, size_t msg_len) {
  uint64_t total = 0;
  sparrow_ops_status_t st = check_segs("adamw", fabric, nseg, segs, &total, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  if (hp == NULL || params == NULL || grads == NULL || m == NULL || v == NULL || exec == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "adamw: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  if (hp->step == 0) {
    sparrow_ops_set_msg(msg, msg_len,
                        "adamw: the step counts from 1 (the bias corrections divide by 0)");
    return SPARROW_OPS_E_ARG;
  }
  const uint32_t lanes = fabric->lanes, beat = 4u * lanes, w = ROW_BEATS * lanes;
  const uint64_t rows = (total + w - 1u) / w, words = rows * w;
  if (words * 4u * 3u >= IMAGE_LIMIT) {
    sparrow_ops_set_msg(msg, msg_len, "adamw: %llu elements need more than 2 GiB of device images",
                        (unsigned long long)total);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  sparrow_ops_exec_init(exec, fabric);
  adamw_plan_t *plan = calloc(1, sizeof(*plan));
  if (plan == NULL) {
    return host_oom("adamw", exec, SPARROW_OPS_E_NOMEM, msg, msg_len);
  }
  exec->ctx = plan;
  plan->words = words;
  uint32_t bgp, bmv;
  if ((st = sparrow_ops_exec_add_buf(exec, "g, p", 2u * words * 4u, SPARROW_OPS_EXEC_IN, &bgp)) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "m, v", 2u * words * 4u, SPARROW_OPS_EXEC_IN, &bmv)) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "p, m, v", 3u * words * 4u, SPARROW_OPS_EXEC_OUT,
                                     &plan->buf_out)) != SPARROW_OPS_OK) {
    return host_oom("adamw", exec, st, msg, msg_len);
  }
  // The decaying tensors first, then the others, each in the given order.
  uint32_t *gi = exec->buf[bgp].image, *pi = gi + words;
  uint32_t *mi = exec->buf[bmv].image, *vi = mi + words;
  uint64_t at = 0, n_decay = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t k = 0; k < nseg; ++k) {
      if (segs[k].decay != (pass == 0) || segs[k].count == 0) {
        continue;
      }
      size_t o = segs[k].offset, n = segs[k].count;
      memcpy(gi + at, grads + o, 4u * n);
      memcpy(pi + at, params + o, 4u * n);
      memcpy(mi + at, m + o, 4u * n);
      memcpy(vi + at, v + o, 4u * n);
      at += n;
    }
    if (pass == 0) {
      n_decay = at;
    }
  }
  sparrow_ref_adamw_consts_t c;
  sparrow_ref_adamw_consts(hp->lr, hp->beta1, hp->beta2, hp->eps, hp->weight_decay, hp->step,
                           hp->clip_scale, &c);
  sparrow_simd_asm_t *as = sparrow_ops_exec_new_code(exec);
  if (as == NULL) {
    return host_oom("adamw", exec, SPARROW_OPS_E_NOMEM, msg, msg_len);
  }
  emit_adamw(as, &c, log2_u32(w), (uint32_t)total, (uint32_t)n_decay);
  sparrow_ops_simd_job_t job;
  memset(&job, 0, sizeof(job));
  job.code = as;
  job.rows = (uint32_t)rows;
  job.beats = ROW_BEATS;
  job.passes = 1;
  job.in[0] = stream(2, words * 4u, ROW_BEATS, beat, 1, 4u * w);
  job.in[1] = stream(2, words * 4u, ROW_BEATS, beat, 1, 4u * w);
  job.out = stream(3, words * 4u, ROW_BEATS, beat, 1, 4u * w);
  const uint32_t in_buf[2] = {bgp, bmv};
  const uint64_t in_off[2] = {0, 0};
  st = sparrow_ops_exec_add_simd(exec, &job, in_buf, in_off, plan->buf_out, 0, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    sparrow_ops_exec_free(exec);
  }
  return st;
}

void sparrow_ops_adamw_finish(const sparrow_ops_exec_t *exec, size_t nseg,
                              const sparrow_ops_param_seg_t *segs, uint32_t *params, uint32_t *m,
                              uint32_t *v) {
  const adamw_plan_t *plan = exec->ctx;
  const uint32_t *po = exec->buf[plan->buf_out].image;
  const uint32_t *mo = po + plan->words, *vo = mo + plan->words;
  uint64_t at = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t k = 0; k < nseg; ++k) {
      if (segs[k].decay != (pass == 0) || segs[k].count == 0) {
        continue;
      }
      size_t o = segs[k].offset, n = segs[k].count;
      memcpy(params + o, po + at, 4u * n);
      memcpy(m + o, mo + at, 4u * n);
      memcpy(v + o, vo + at, 4u * n);
      at += n;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Through the driver.

static sparrow_ops_status_t run_exec(sparrow_dev_t *dev, const char *name, sparrow_ops_exec_t *exec,
                                     uint64_t dram, sparrow_ops_simd_stats_t *stats, char *msg,
                                     size_t msg_len) {
  sparrow_ops_status_t st = sparrow_ops_exec_fits(exec, dram, name, msg, msg_len);
  if (st == SPARROW_OPS_OK) {
    st = sparrow_ops_exec_run(dev, exec, stats, msg, msg_len);
  }
  return st;
}

sparrow_ops_status_t sparrow_ops_grad_norm(sparrow_dev_t *dev, size_t nseg,
                                           const sparrow_ops_param_seg_t *segs,
                                           const uint32_t *grads, uint32_t max_norm,
                                           sparrow_ops_grad_norm_t *out,
                                           sparrow_ops_simd_stats_t *stats, char *msg,
                                           size_t msg_len) {
  if (dev == NULL || out == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "grad_norm: bad argument");
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
    sparrow_ops_set_msg(msg, msg_len, "grad_norm: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  st = sparrow_ops_grad_norm_prepare(&fabric, nseg, segs, grads, max_norm, exec, msg, msg_len);
  if (st == SPARROW_OPS_OK) {
    st = run_exec(dev, "grad_norm", exec, dram, stats, msg, msg_len);
    if (st == SPARROW_OPS_OK) {
      sparrow_ops_grad_norm_finish(exec, out);
    }
    sparrow_ops_exec_free(exec);
  }
  free(exec);
  return st;
}

sparrow_ops_status_t sparrow_ops_adamw(sparrow_dev_t *dev, const sparrow_ops_adamw_hp_t *hp,
                                       size_t nseg, const sparrow_ops_param_seg_t *segs,
                                       uint32_t *params, const uint32_t *grads, uint32_t *m,
                                       uint32_t *v, sparrow_ops_simd_stats_t *stats, char *msg,
                                       size_t msg_len) {
  if (dev == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "adamw: bad argument");
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
    sparrow_ops_set_msg(msg, msg_len, "adamw: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  st = sparrow_ops_adamw_prepare(&fabric, hp, nseg, segs, params, grads, m, v, exec, msg, msg_len);
  if (st == SPARROW_OPS_OK) {
    st = run_exec(dev, "adamw", exec, dram, stats, msg, msg_len);
    if (st == SPARROW_OPS_OK) {
      sparrow_ops_adamw_finish(exec, nseg, segs, params, m, v);
    }
    sparrow_ops_exec_free(exec);
  }
  free(exec);
  return st;
}
