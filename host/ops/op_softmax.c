// SPDX-License-Identifier: Apache-2.0
//
// Softmax in strip form on the PCU's SIMD mode (sparrow_nn.h; docs/ops.md, "Attention and
// softmax"): the program (forward: three passes; backward: two), its job for the generic runner
// (simd_run.h), the run from host images, and the standalone row-wise softmax operators, whose
// rows the host lays out as the strip buffer's columns (a transpose: data movement only).
//
// Why strips: the contract's reduction rule (docs/numerics.md) wants every row sum in one
// accumulator from +0.0 in ascending order. With one row per lane, a lane's running sum over the
// beats is exactly that, and no cross-lane tree enters, so the result does not depend on the lanes
// (S and M give the same bits) or on how the strips are split over the tiles.
//
// Each lane computes its limit in the prologue: lim = (number of elements its row takes) * lanes
// + LANE, or 0 for a padding column. In a body, COL = beat * lanes + LANE (col_base 0), so
// `COL < lim` (one unsigned compare) holds exactly for the row's elements j < count. Every
// floating-point instruction is predicated on it, so a masked element (the causal future) or a
// padding column executes no floating-point operation and raises no flag; the exp macro (which
// every lane runs) gets +0 there, on which it raises nothing.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd_special.h"
#include "sparrow_nn.h"

#define AL SPARROW_SIMD_PRED_ALWAYS
#define P0 SPARROW_SIMD_PRED_P0
#define NP0 SPARROW_SIMD_PRED_NOT_P0
#define IMM SPARROW_SIMD_SRC_IMM
#define PORT_A SPARROW_SIMD_PORT_A
#define PORT_B SPARROW_SIMD_PORT_B
#define F_ZERO 0x00000000u
#define F_INF 0x7F800000u
#define F_NEG_INF 0xFF800000u
#define ADDR_LIMIT 0x100000000ull

static uint64_t padded(uint64_t n, uint32_t lanes) {
  return (n + lanes - 1u) / lanes * lanes;
}

static uint32_t log2_exact(uint32_t v) {
  uint32_t lg = 0;
  while ((1u << lg) < v) {
    lg++;
  }
  return lg;
}

uint32_t sparrow_ops_strip_width(const sparrow_ops_strip_t *strip, uint32_t lanes) {
  if (strip == NULL || lanes == 0) {
    return 0;
  }
  uint64_t width = (uint64_t)strip->groups * padded(strip->cols, lanes);
  return width > UINT32_MAX ? 0u : (uint32_t)width;
}

// ---------------------------------------------------------------------------------------------------
// The program.

// Prologue: lim = count * lanes + LANE for a real column (count = i + 1 when causal, else len;
// i = the column's index in its group), 0 for a padding column. i comes from ROW (the strip's
// index in the whole job) and LANE: i = (ROW mod strips per group) * lanes + LANE, the modulo by
// restoring division with the group's strip count shifted (two instructions per quotient bit).
static void emit_limit(sparrow_simd_asm_t *as, const sparrow_ops_strip_t *s, uint32_t lanes,
                       uint32_t lim) {
  const uint32_t lg = log2_exact(lanes);
  const uint32_t group_strips = (uint32_t)(padded(s->cols, lanes) / lanes);
  uint32_t x = sparrow_simd_reg_alloc(as);
  uint32_t t = sparrow_simd_reg_alloc(as);
  sparrow_simd_mov(as, AL, x, SPARROW_SIMD_ROW, 0);
  if (s->groups > 1) {
    uint32_t top = log2_exact(s->groups) - 1u;  // the quotient (<= groups - 1) fits top + 1 bits
    for (uint32_t k = top + 1u; k-- > 0;) {
      uint32_t d = group_strips << k;
      sparrow_simd_cltu(as, AL, 0, x, IMM, d);
      sparrow_simd_isub(as, NP0, x, x, IMM, d);
    }
  }
  sparrow_simd_shl(as, AL, x, x, IMM, lg);
  sparrow_simd_iadd(as, AL, x, x, SPARROW_SIMD_LANE, 0);  // i
  sparrow_simd_cltu(as, AL, 0, x, IMM, s->cols);          // p0: a real column
  if (s->causal) {
    sparrow_simd_iadd(as, AL, t, x, IMM, 1);
  } else {
    sparrow_simd_mov(as, AL, t, IMM, s->len);
  }
  sparrow_simd_shl(as, AL, t, t, IMM, lg);
  sparrow_simd_iadd(as, AL, t, t, SPARROW_SIMD_LANE, 0);
  sparrow_simd_sel(as, AL, lim, t, IMM, 0);
  sparrow_simd_reg_free(as, t);
  sparrow_simd_reg_free(as, x);
}

// p0 = this lane's row takes the current beat's element.
static void emit_active(sparrow_simd_asm_t *as, uint32_t lim) {
  sparrow_simd_cltu(as, AL, 0, SPARROW_SIMD_COL, lim, 0);
}

// x = exp(x * scale - m) where active, exp(+0) = 1 (no flag) elsewhere; p0 = active after it.
static void emit_exp_term(sparrow_simd_asm_t *as, const sparrow_ops_strip_t *s, uint32_t x,
                          uint32_t m, uint32_t lim) {
  emit_active(as, lim);
  if (s->has_scale) {
    sparrow_simd_fmul(as, P0, x, x, IMM, s->scale);
  }
  sparrow_simd_fsub(as, P0, x, x, m, 0);
  sparrow_simd_sel(as, AL, x, x, IMM, F_ZERO);
  sparrow_simd_exp(as, x, x);  // clobbers p0 and p1
  emit_active(as, lim);
}

static void emit_forward(sparrow_simd_asm_t *as, const sparrow_ops_strip_t *s, uint32_t lanes) {
  uint32_t lim = sparrow_simd_reg_alloc(as);
  uint32_t m = sparrow_simd_reg_alloc(as);
  uint32_t sum = sparrow_simd_reg_alloc(as);
  uint32_t x = sparrow_simd_reg_alloc(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_PROLOGUE);
  emit_limit(as, s, lanes, lim);
  sparrow_simd_mov(as, AL, m, IMM, F_NEG_INF);
  sparrow_simd_mov(as, AL, sum, IMM, F_ZERO);
  sparrow_simd_seg_end(as);
  // Pass 0: m = max over the row of x * scale.
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_pop(as, x, PORT_A);
  emit_active(as, lim);
  if (s->has_scale) {
    sparrow_simd_fmul(as, P0, x, x, IMM, s->scale);
  }
  sparrow_simd_fmax(as, P0, m, m, x, 0);
  sparrow_simd_seg_end(as);
  // Pass 1: sum = +0 + e_0 + e_1 + ..., e_j = exp(x_j * scale - m); then sum = recip(sum), with
  // +inf in a padding column (recip(+inf) = +0 exactly, no flag). A real row's sum is at least 1
  // (its maximum's term is exp(0)) or NaN, so recip never meets its pole.
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(1));
  sparrow_simd_pop(as, x, PORT_A);
  emit_exp_term(as, s, x, m, lim);
  sparrow_simd_fadd(as, P0, sum, sum, x, 0);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(1));
  sparrow_simd_ceq(as, AL, 0, lim, IMM, 0);
  sparrow_simd_sel(as, AL, sum, IMM, sum, F_INF);
  sparrow_simd_recip(as, sum, sum);
  sparrow_simd_seg_end(as);
  // Pass 2: y_j = e_j * r (e_j computed again: the same bits and flags), +0 where masked.
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(2));
  sparrow_simd_pop(as, x, PORT_A);
  emit_exp_term(as, s, x, m, lim);
  sparrow_simd_fmul(as, P0, x, x, sum, 0);
  sparrow_simd_sel(as, AL, x, x, IMM, F_ZERO);
  sparrow_simd_push(as, AL, x, 0);
  sparrow_simd_seg_end(as);
}

static void emit_backward(sparrow_simd_asm_t *as, const sparrow_ops_strip_t *s, uint32_t lanes) {
  uint32_t lim = sparrow_simd_reg_alloc(as);
  uint32_t dot = sparrow_simd_reg_alloc(as);
  uint32_t y = sparrow_simd_reg_alloc(as);
  uint32_t g = sparrow_simd_reg_alloc(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_PROLOGUE);
  emit_limit(as, s, lanes, lim);
  sparrow_simd_mov(as, AL, dot, IMM, F_ZERO);
  sparrow_simd_seg_end(as);
  // Pass 0: dot = +0 + y_0 dy_0 + y_1 dy_1 + ...
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_pop(as, y, PORT_A);
  sparrow_simd_pop(as, g, PORT_B);
  emit_active(as, lim);
  sparrow_simd_fmul(as, P0, g, y, g, 0);
  sparrow_simd_fadd(as, P0, dot, dot, g, 0);
  sparrow_simd_seg_end(as);
  // Pass 1: dx_j = y_j * (dy_j - dot) (* scale), +0 where masked.
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(1));
  sparrow_simd_pop(as, y, PORT_A);
  sparrow_simd_pop(as, g, PORT_B);
  emit_active(as, lim);
  sparrow_simd_fsub(as, P0, g, g, dot, 0);
  sparrow_simd_fmul(as, P0, g, y, g, 0);
  if (s->has_scale) {
    sparrow_simd_fmul(as, P0, g, g, IMM, s->scale);
  }
  sparrow_simd_sel(as, AL, g, g, IMM, F_ZERO);
  sparrow_simd_push(as, AL, g, 0);
  sparrow_simd_seg_end(as);
}

static sparrow_ops_simd_stream_t strip_stream(uint32_t len, uint32_t width, uint32_t lanes,
                                              uint32_t passes) {
  sparrow_ops_simd_stream_t st;
  memset(&st, 0, sizeof(st));
  st.tensors = 1;
  st.tensor_bytes = 4ull * len * width;
  st.beats = len;               // down the strip
  st.beat_stride = 4u * width;  // one line
  st.passes = passes;
  st.row_stride = 4u * lanes;  // the next strip
  return st;
}

sparrow_ops_status_t sparrow_ops_strip_job(const sparrow_ops_strip_t *strip, bool backward,
                                           uint32_t lanes, sparrow_simd_asm_t *code,
                                           sparrow_ops_simd_job_t *job) {
  if (strip == NULL || code == NULL || job == NULL || lanes == 0 || strip->len == 0 ||
      strip->cols == 0 || strip->groups == 0) {
    return SPARROW_OPS_E_ARG;
  }
  if ((lanes & (lanes - 1u)) != 0) {
    return SPARROW_OPS_E_UNSUPPORTED;  // the limits are built with shifts
  }
  uint32_t width = sparrow_ops_strip_width(strip, lanes);
  // Byte strides and the buffer must fit the AGCU's 32-bit addresses; COL and the limits the
  // lanes' 32-bit integers.
  if (width == 0 || 4ull * strip->len * width >= ADDR_LIMIT || 4ull * width > INT32_MAX ||
      ((uint64_t)strip->len + 1u) * lanes >= ADDR_LIMIT) {
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  memset(job, 0, sizeof(*job));
  sparrow_simd_asm_init(code);
  if (backward) {
    emit_backward(code, strip, lanes);
  } else {
    emit_forward(code, strip, lanes);
  }
  job->code = code;
  job->rows = width / lanes;
  job->beats = strip->len;
  job->passes = backward ? 2u : 3u;
  job->col_base = 0;
  job->in[0] = strip_stream(strip->len, width, lanes, job->passes);
  if (backward) {
    job->in[1] = strip_stream(strip->len, width, lanes, job->passes);
  }
  job->out = strip_stream(strip->len, width, lanes, 1);
  return sparrow_simd_asm_check(code, NULL, 0) == SPARROW_SIMD_ASM_OK ? SPARROW_OPS_OK
                                                                      : SPARROW_OPS_E_ARG;
}

// ---------------------------------------------------------------------------------------------------
// Through the driver.

static sparrow_ops_status_t device_fail(sparrow_dev_t *dev, sparrow_status_t st, const char *what,
                                        char *msg, size_t msg_len) {
  sparrow_ops_set_msg(msg, msg_len, "%s: %s: %s", what, sparrow_status_name(st),
                      sparrow_last_error(dev));
  return SPARROW_OPS_E_DEVICE;
}

sparrow_ops_status_t sparrow_ops_strip_run(sparrow_dev_t *dev, const sparrow_ops_strip_t *strip,
                                           bool backward, const uint32_t *in0, const uint32_t *in1,
                                           uint32_t *out, sparrow_ops_attn_stats_t *stats,
                                           char *msg, size_t msg_len) {
  if (dev == NULL || strip == NULL || in0 == NULL || (backward && in1 == NULL) || out == NULL ||
      stats == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "softmax: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_info_t info;
  sparrow_status_t st = sparrow_info(dev, &info);
  if (st != SPARROW_OK) {
    return device_fail(dev, st, "info", msg, msg_len);
  }
  sparrow_simd_asm_t *code = malloc(sizeof(*code));
  if (code == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "softmax: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  sparrow_ops_simd_job_t job;
  sparrow_ops_status_t ost = sparrow_ops_strip_job(strip, backward, info.lanes, code, &job);
  if (ost != SPARROW_OPS_OK) {
    char why[120] = "";
    if (sparrow_simd_asm_check(code, why, sizeof(why)) == SPARROW_SIMD_ASM_OK) {
      why[0] = '\0';
    }
    sparrow_ops_set_msg(msg, msg_len,
                        "softmax%s: no program for %u groups of %u rows of %u on %u lanes (%s%s%s)",
                        backward ? " backward" : "", strip->groups, strip->cols, strip->len,
                        info.lanes, sparrow_ops_status_name(ost), why[0] ? ": " : "", why);
    free(code);
    return ost;
  }
  const uint64_t bytes = job.in[0].tensor_bytes;
  const uint32_t buffers = backward ? 3u : 2u;  // in0, (in1,) out
  if (bytes * buffers > info.dram_bytes) {
    sparrow_ops_set_msg(msg, msg_len,
                        "softmax: %llu bytes of device memory needed, the device has %llu",
                        (unsigned long long)(bytes * buffers), (unsigned long long)info.dram_bytes);
    free(code);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  uint64_t addr[3] = {0, 0, 0};
  uint32_t have = 0;
  const uint32_t *src[2] = {in0, in1};
  for (uint32_t i = 0; i < buffers && ost == SPARROW_OPS_OK; ++i) {
    if ((st = sparrow_alloc(dev, bytes, &addr[i])) != SPARROW_OK) {
      ost = device_fail(dev, st, "softmax: alloc", msg, msg_len);
      break;
    }
    have++;
    if (i + 1u < buffers && (st = sparrow_write(dev, addr[i], src[i], bytes)) != SPARROW_OK) {
      ost = device_fail(dev, st, "softmax: write input", msg, msg_len);
    }
  }
  sparrow_ops_simd_stats_t ss;
  memset(&ss, 0, sizeof(ss));
  if (ost == SPARROW_OPS_OK) {
    const uint64_t in_addr[SPARROW_OPS_SIMD_INPUTS] = {addr[0], backward ? addr[1] : 0};
    ost = sparrow_ops_simd_exec(dev, &job, in_addr, addr[buffers - 1u], &ss, msg, msg_len);
  }
  if (ost == SPARROW_OPS_OK &&
      (st = sparrow_read(dev, addr[buffers - 1u], out, bytes)) != SPARROW_OK) {
    ost = device_fail(dev, st, "softmax: read output", msg, msg_len);
  }
  for (uint32_t i = 0; i < have; ++i) {
    (void)sparrow_free(dev, addr[i]);  // a failed free loses device memory only
  }
  if (ost == SPARROW_OPS_OK) {
    stats->cycles += ss.cycles;
    stats->simd_cycles += ss.cycles;
    stats->simd_est_cycles += ss.est_cycles;
    stats->dram_rd_bytes += ss.dram_rd_bytes;
    stats->dram_wr_bytes += ss.dram_wr_bytes;
    stats->launches += ss.launches;
    stats->entries += ss.entries;
    stats->fp_status |= ss.fp_status;
    stats->simd_jobs += ss.jobs;
    stats->simd_insns = ss.insns;
    uint32_t groups = 0;
    for (uint32_t p = 0; p < job.passes; ++p) {
      uint32_t g = ss.plan.groups[SPARROW_SIMD_SEG_BODY(p)];
      groups = g > groups ? g : groups;
    }
    stats->simd_body_groups = groups;
  }
  free(code);
  return ost;
}

// ---------------------------------------------------------------------------------------------------
// The standalone operators: row r of the m x n input is column r of the strip buffer (n lines of
// mp words; the host transposes in and out).

static sparrow_ops_status_t softmax_common(sparrow_dev_t *dev, bool backward, uint32_t m,
                                           uint32_t n, const uint32_t *a, const uint32_t *b,
                                           uint32_t *out, sparrow_ops_attn_stats_t *stats,
                                           char *msg, size_t msg_len) {
  const char *name = backward ? "softmax_bwd" : "softmax";
  if (dev == NULL || a == NULL || (backward && b == NULL) || out == NULL || m == 0 || n == 0) {
    sparrow_ops_set_msg(msg, msg_len, "%s: bad argument", name);
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_attn_stats_t local;
  if (stats == NULL) {
    stats = &local;
  }
  memset(stats, 0, sizeof(*stats));
  sparrow_info_t info;
  sparrow_status_t st = sparrow_info(dev, &info);
  if (st != SPARROW_OK) {
    return device_fail(dev, st, "info", msg, msg_len);
  }
  sparrow_ops_strip_t strip = {n, m, 1, false, false, 0};
  uint32_t width = sparrow_ops_strip_width(&strip, info.lanes);
  if (width == 0) {
    sparrow_ops_set_msg(msg, msg_len, "%s %ux%u: too large", name, m, n);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  size_t words = (size_t)n * width;
  uint32_t *img[3] = {calloc(words, 4), backward ? calloc(words, 4) : NULL, calloc(words, 4)};
  if (img[0] == NULL || (backward && img[1] == NULL) || img[2] == NULL) {
    free(img[0]);
    free(img[1]);
    free(img[2]);
    sparrow_ops_set_msg(msg, msg_len, "%s: host out of memory", name);
    return SPARROW_OPS_E_NOMEM;
  }
  for (uint32_t r = 0; r < m; ++r) {
    for (uint32_t j = 0; j < n; ++j) {
      img[0][(size_t)j * width + r] = a[(size_t)r * n + j];
      if (backward) {
        img[1][(size_t)j * width + r] = b[(size_t)r * n + j];
      }
    }
  }
  sparrow_ops_status_t ost =
      sparrow_ops_strip_run(dev, &strip, backward, img[0], img[1], img[2], stats, msg, msg_len);
  if (ost == SPARROW_OPS_OK) {
    for (uint32_t r = 0; r < m; ++r) {
      for (uint32_t j = 0; j < n; ++j) {
        out[(size_t)r * n + j] = img[2][(size_t)j * width + r];
      }
    }
  } else {
    char why[300];
    snprintf(why, sizeof(why), "%s", msg != NULL ? msg : "");
    sparrow_ops_set_msg(msg, msg_len, "%s %ux%u: %s", name, m, n, why);
  }
  free(img[0]);
  free(img[1]);
  free(img[2]);
  return ost;
}

sparrow_ops_status_t sparrow_ops_softmax(sparrow_dev_t *dev, uint32_t m, uint32_t n,
                                         const uint32_t *x, uint32_t *y,
                                         sparrow_ops_attn_stats_t *stats, char *msg,
                                         size_t msg_len) {
  return softmax_common(dev, false, m, n, x, NULL, y, stats, msg, msg_len);
}

sparrow_ops_status_t sparrow_ops_softmax_bwd(sparrow_dev_t *dev, uint32_t m, uint32_t n,
                                             const uint32_t *y, const uint32_t *dy, uint32_t *dx,
                                             sparrow_ops_attn_stats_t *stats, char *msg,
                                             size_t msg_len) {
  return softmax_common(dev, true, m, n, y, dy, dx, stats, msg, msg_len);
}
