// SPDX-License-Identifier: Apache-2.0
//
// Causal multi-head self-attention on the fabric, forward and backward (sparrow_nn.h; docs/ops.md,
// "Attention and softmax"; the golden order in host/ref/attention_ref.c).
//
// Per (batch, head) pair, with Q, K, V the pair's T x hs slices of qkv:
//   forward   S^T = K Q^T          GEMM (T x T, reduced over hs)
//             P^T = softmax        SIMD, strip form, every pair in one job: row i of S (column i
//                                  of S^T) scaled by 1/sqrt(hs), keys j <= i only
//             O   = P V            GEMM (T x hs, reduced over all T keys; masked P are +0)
//   backward  dP^T = V dO^T        GEMM
//             G^T = softmax bwd    SIMD, strip form: G = (P * (dP - rowsum(P * dP))) * scale
//             dQ = G K, dK = G^T Q, dV = P^T dO   GEMMs (reduced over T)
// The GEMMs produce S and dP transposed because the strip form wants each softmax row in a column
// (one row per lane, summed in one accumulator in ascending key order). Between the launches the
// host only moves data: it slices qkv and dout, transposes, and lays the pairs' T x T matrices
// side by side in the strip buffer (T lines of pairs * Tp words, Tp = T rounded up to lanes).

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparrow_nn.h"
#include "sparrow_ref.h"  // the scale's definition

size_t sparrow_ops_attention_att_elems(uint32_t B, uint32_t T, uint32_t NH) {
  return (size_t)B * NH * T * T;
}

// The shapes an attention call accepts: every size and index fits the host's and the device's
// arithmetic (the strip buffer's bytes, 32-bit, are the tightest).
static sparrow_ops_status_t check_shape(const char *name, uint32_t B, uint32_t T, uint32_t C,
                                        uint32_t NH, char *msg, size_t msg_len) {
  if (B == 0 || T == 0 || C == 0 || NH == 0) {
    sparrow_ops_set_msg(msg, msg_len, "%s: a zero dimension (B %u, T %u, C %u, heads %u)", name, B,
                        T, C, NH);
    return SPARROW_OPS_E_ARG;
  }
  if (C % NH != 0) {
    sparrow_ops_set_msg(msg, msg_len, "%s: C = %u is not a multiple of the %u heads", name, C, NH);
    return SPARROW_OPS_E_ARG;
  }
  if ((uint64_t)B * NH * T * T * 4u >= 0x80000000ull || (uint64_t)B * T * 3u * C >= 0x80000000ull) {
    sparrow_ops_set_msg(msg, msg_len, "%s: B %u x T %u x C %u with %u heads is too large", name, B,
                        T, C, NH);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  return SPARROW_OPS_OK;
}

// One GEMM through sparrow_ops_gemm, its counters added to *stats.
static sparrow_ops_status_t gemm(sparrow_dev_t *dev, uint32_t m, uint32_t n, uint32_t k,
                                 const uint32_t *a, const uint32_t *b, uint32_t *c,
                                 sparrow_ops_attn_stats_t *stats, const char *what, char *msg,
                                 size_t msg_len) {
  sparrow_ops_gemm_stats_t gs;
  char why[300] = "";
  sparrow_ops_status_t ost = sparrow_ops_gemm(dev, m, n, k, a, b, c, &gs, why, sizeof(why));
  if (ost != SPARROW_OPS_OK) {
    sparrow_ops_set_msg(msg, msg_len, "%s: %s", what, why);
    return ost;
  }
  stats->cycles += gs.cycles;
  stats->gemm_cycles += gs.cycles;
  stats->macs += gs.macs;
  stats->dram_rd_bytes += gs.dram_rd_bytes;
  stats->dram_wr_bytes += gs.dram_wr_bytes;
  stats->launches += gs.launches;
  stats->entries += gs.entries;
  stats->fp_status |= gs.fp_status;
  stats->gemms++;
  return SPARROW_OPS_OK;
}

// Data movement helpers. Column block [col, col + width) of rows [row0, row0 + rows) of a
// row-major matrix with `stride` columns, copied out (optionally transposed) or back in.
static void slice_out(const uint32_t *src, size_t stride, uint32_t row0, uint32_t rows,
                      uint32_t col, uint32_t width, uint32_t *dst) {
  for (uint32_t r = 0; r < rows; ++r) {
    memcpy(&dst[(size_t)r * width], &src[(size_t)(row0 + r) * stride + col], 4u * (size_t)width);
  }
}

static void slice_out_t(const uint32_t *src, size_t stride, uint32_t row0, uint32_t rows,
                        uint32_t col, uint32_t width, uint32_t *dst) {
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint32_t c = 0; c < width; ++c) {
      dst[(size_t)c * rows + r] = src[(size_t)(row0 + r) * stride + col + c];
    }
  }
}

static void slice_in(const uint32_t *src, uint32_t rows, uint32_t width, uint32_t *dst,
                     size_t stride, uint32_t row0, uint32_t col) {
  for (uint32_t r = 0; r < rows; ++r) {
    memcpy(&dst[(size_t)(row0 + r) * stride + col], &src[(size_t)r * width], 4u * (size_t)width);
  }
}

static void transpose(const uint32_t *src, uint32_t rows, uint32_t cols, uint32_t *dst) {
  for (uint32_t r = 0; r < rows; ++r) {
    for (uint32_t c = 0; c < cols; ++c) {
      dst[(size_t)c * rows + r] = src[(size_t)r * cols + c];
    }
  }
}

// The pair's T x T matrix m[j][i] into / out of the strip buffer's columns pair * tp ... (line j).
static void strip_put(uint32_t *strip, uint32_t width, uint32_t pair, uint32_t tp, uint32_t T,
                      const uint32_t *m) {
  for (uint32_t j = 0; j < T; ++j) {
    memcpy(&strip[(size_t)j * width + (size_t)pair * tp], &m[(size_t)j * T], 4u * (size_t)T);
  }
}

static void strip_get(const uint32_t *strip, uint32_t width, uint32_t pair, uint32_t tp, uint32_t T,
                      uint32_t *m) {
  for (uint32_t j = 0; j < T; ++j) {
    memcpy(&m[(size_t)j * T], &strip[(size_t)j * width + (size_t)pair * tp], 4u * (size_t)T);
  }
}

typedef struct work {
  uint32_t *strip[3];      // strip images: input(s) and output
  uint32_t *t1, *t2, *t3;  // T x T
  uint32_t *h1, *h2, *h3;  // T x hs
} work_t;

static void work_free(work_t *w) {
  for (int i = 0; i < 3; ++i) {
    free(w->strip[i]);
  }
  free(w->t1);
  free(w->t2);
  free(w->t3);
  free(w->h1);
  free(w->h2);
  free(w->h3);
}

static bool work_alloc(work_t *w, size_t strip_words, uint32_t strips, uint32_t T, uint32_t hs) {
  memset(w, 0, sizeof(*w));
  bool ok = true;
  for (uint32_t i = 0; i < strips; ++i) {
    w->strip[i] = calloc(strip_words, 4);
    ok &= w->strip[i] != NULL;
  }
  size_t tt = (size_t)T * T, th = (size_t)T * hs;
  w->t1 = malloc(4 * tt);
  w->t2 = malloc(4 * tt);
  w->t3 = malloc(4 * tt);
  w->h1 = malloc(4 * th);
  w->h2 = malloc(4 * th);
  w->h3 = malloc(4 * th);
  ok &= w->t1 && w->t2 && w->t3 && w->h1 && w->h2 && w->h3;
  if (!ok) {
    work_free(w);
  }
  return ok;
}

typedef struct attn_ctx {
  const char *name;
  uint32_t B, T, C, NH, hs, C3, pairs, tp, width;
  sparrow_ops_strip_t strip;
} attn_ctx_t;

static sparrow_ops_status_t setup(sparrow_dev_t *dev, const char *name, uint32_t B, uint32_t T,
                                  uint32_t C, uint32_t NH, attn_ctx_t *cx,
                                  sparrow_ops_attn_stats_t **stats, sparrow_ops_attn_stats_t *local,
                                  char *msg, size_t msg_len) {
  if (*stats == NULL) {
    *stats = local;
  }
  memset(*stats, 0, sizeof(**stats));
  sparrow_ops_status_t ost = check_shape(name, B, T, C, NH, msg, msg_len);
  if (ost != SPARROW_OPS_OK) {
    return ost;
  }
  sparrow_info_t info;
  sparrow_status_t st = sparrow_info(dev, &info);
  if (st != SPARROW_OK) {
    sparrow_ops_set_msg(msg, msg_len, "%s: info: %s: %s", name, sparrow_status_name(st),
                        sparrow_last_error(dev));
    return SPARROW_OPS_E_DEVICE;
  }
  memset(cx, 0, sizeof(*cx));
  cx->name = name;
  cx->B = B;
  cx->T = T;
  cx->C = C;
  cx->NH = NH;
  cx->hs = C / NH;
  cx->C3 = 3 * C;
  cx->pairs = B * NH;
  cx->strip =
      (sparrow_ops_strip_t){T, T, cx->pairs, true, true, sparrow_ref_attention_scale(cx->hs)};
  cx->width = sparrow_ops_strip_width(&cx->strip, info.lanes);
  cx->tp = info.lanes == 0 ? 0 : cx->width / cx->pairs;
  if (cx->width == 0) {
    sparrow_ops_set_msg(msg, msg_len, "%s: the strip buffer does not fit 32 bits", name);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  return SPARROW_OPS_OK;
}

sparrow_ops_status_t sparrow_ops_attention(sparrow_dev_t *dev, uint32_t B, uint32_t T, uint32_t C,
                                           uint32_t NH, const uint32_t *qkv, uint32_t *out,
                                           uint32_t *att, sparrow_ops_attn_stats_t *stats,
                                           char *msg, size_t msg_len) {
  if (dev == NULL || qkv == NULL || out == NULL || att == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "attention: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  attn_ctx_t cx;
  sparrow_ops_attn_stats_t local;
  sparrow_ops_status_t ost =
      setup(dev, "attention", B, T, C, NH, &cx, &stats, &local, msg, msg_len);
  if (ost != SPARROW_OPS_OK) {
    return ost;
  }
  const uint32_t hs = cx.hs, C3 = cx.C3;
  work_t w;
  if (!work_alloc(&w, (size_t)T * cx.width, 2, T, hs)) {
    sparrow_ops_set_msg(msg, msg_len, "attention: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  char what[96];
  // S^T = K Q^T per pair, into the strip buffer.
  for (uint32_t p = 0; p < cx.pairs && ost == SPARROW_OPS_OK; ++p) {
    uint32_t b = p / NH, h = p % NH;
    slice_out(qkv, C3, b * T, T, C + h * hs, hs, w.h1);  // K: T x hs
    slice_out_t(qkv, C3, b * T, T, h * hs, hs, w.h2);    // Q^T: hs x T
    snprintf(what, sizeof(what), "attention: S^T = K Q^T (batch %u, head %u)", b, h);
    ost = gemm(dev, T, T, hs, w.h1, w.h2, w.t1, stats, what, msg, msg_len);
    if (ost == SPARROW_OPS_OK) {
      strip_put(w.strip[0], cx.width, p, cx.tp, T, w.t1);
    }
  }
  // P^T = the causal softmax of every pair's rows, one SIMD job.
  if (ost == SPARROW_OPS_OK) {
    char why[300] = "";
    ost = sparrow_ops_strip_run(dev, &cx.strip, false, w.strip[0], NULL, w.strip[1], stats, why,
                                sizeof(why));
    if (ost != SPARROW_OPS_OK) {
      sparrow_ops_set_msg(msg, msg_len, "attention: softmax: %s", why);
    }
  }
  // att = P; O = P V per pair.
  for (uint32_t p = 0; p < cx.pairs && ost == SPARROW_OPS_OK; ++p) {
    uint32_t b = p / NH, h = p % NH;
    uint32_t *pm = &att[(size_t)p * T * T];
    strip_get(w.strip[1], cx.width, p, cx.tp, T, w.t1);  // P^T
    transpose(w.t1, T, T, pm);
    slice_out(qkv, C3, b * T, T, 2 * C + h * hs, hs, w.h1);  // V: T x hs
    snprintf(what, sizeof(what), "attention: O = P V (batch %u, head %u)", b, h);
    ost = gemm(dev, T, hs, T, pm, w.h1, w.h2, stats, what, msg, msg_len);
    if (ost == SPARROW_OPS_OK) {
      slice_in(w.h2, T, hs, out, C, b * T, h * hs);
    }
  }
  work_free(&w);
  return ost;
}

sparrow_ops_status_t sparrow_ops_attention_bwd(sparrow_dev_t *dev, uint32_t B, uint32_t T,
                                               uint32_t C, uint32_t NH, const uint32_t *qkv,
                                               const uint32_t *att, const uint32_t *dout,
                                               uint32_t *dqkv, sparrow_ops_attn_stats_t *stats,
                                               char *msg, size_t msg_len) {
  if (dev == NULL || qkv == NULL || att == NULL || dout == NULL || dqkv == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "attention_bwd: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  attn_ctx_t cx;
  sparrow_ops_attn_stats_t local;
  sparrow_ops_status_t ost =
      setup(dev, "attention_bwd", B, T, C, NH, &cx, &stats, &local, msg, msg_len);
  if (ost != SPARROW_OPS_OK) {
    return ost;
  }
  const uint32_t hs = cx.hs, C3 = cx.C3;
  work_t w;
  if (!work_alloc(&w, (size_t)T * cx.width, 3, T, hs)) {
    sparrow_ops_set_msg(msg, msg_len, "attention_bwd: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  char what[96];
  // The strip buffers: P^T (from att) and dP^T = V dO^T per pair.
  for (uint32_t p = 0; p < cx.pairs && ost == SPARROW_OPS_OK; ++p) {
    uint32_t b = p / NH, h = p % NH;
    transpose(&att[(size_t)p * T * T], T, T, w.t1);
    strip_put(w.strip[0], cx.width, p, cx.tp, T, w.t1);
    slice_out(qkv, C3, b * T, T, 2 * C + h * hs, hs, w.h1);  // V: T x hs
    slice_out_t(dout, C, b * T, T, h * hs, hs, w.h2);        // dO^T: hs x T
    snprintf(what, sizeof(what), "attention_bwd: dP^T = V dO^T (batch %u, head %u)", b, h);
    ost = gemm(dev, T, T, hs, w.h1, w.h2, w.t2, stats, what, msg, msg_len);
    if (ost == SPARROW_OPS_OK) {
      strip_put(w.strip[1], cx.width, p, cx.tp, T, w.t2);
    }
  }
  // G^T = the softmax backward, scaled, one SIMD job.
  if (ost == SPARROW_OPS_OK) {
    char why[300] = "";
    ost = sparrow_ops_strip_run(dev, &cx.strip, true, w.strip[0], w.strip[1], w.strip[2], stats,
                                why, sizeof(why));
    if (ost != SPARROW_OPS_OK) {
      sparrow_ops_set_msg(msg, msg_len, "attention_bwd: softmax backward: %s", why);
    }
  }
  // dQ = G K, dK = G^T Q, dV = P^T dO per pair, into dqkv.
  for (uint32_t p = 0; p < cx.pairs && ost == SPARROW_OPS_OK; ++p) {
    uint32_t b = p / NH, h = p % NH;
    strip_get(w.strip[2], cx.width, p, cx.tp, T, w.t1);  // G^T
    transpose(w.t1, T, T, w.t2);                         // G
    slice_out(qkv, C3, b * T, T, C + h * hs, hs, w.h1);  // K
    snprintf(what, sizeof(what), "attention_bwd: dQ = G K (batch %u, head %u)", b, h);
    ost = gemm(dev, T, hs, T, w.t2, w.h1, w.h3, stats, what, msg, msg_len);
    if (ost != SPARROW_OPS_OK) {
      break;
    }
    slice_in(w.h3, T, hs, dqkv, C3, b * T, h * hs);
    slice_out(qkv, C3, b * T, T, h * hs, hs, w.h1);  // Q
    snprintf(what, sizeof(what), "attention_bwd: dK = G^T Q (batch %u, head %u)", b, h);
    ost = gemm(dev, T, hs, T, w.t1, w.h1, w.h3, stats, what, msg, msg_len);
    if (ost != SPARROW_OPS_OK) {
      break;
    }
    slice_in(w.h3, T, hs, dqkv, C3, b * T, C + h * hs);
    transpose(&att[(size_t)p * T * T], T, T, w.t3);  // P^T
    slice_out(dout, C, b * T, T, h * hs, hs, w.h2);  // dO
    snprintf(what, sizeof(what), "attention_bwd: dV = P^T dO (batch %u, head %u)", b, h);
    ost = gemm(dev, T, hs, T, w.t3, w.h2, w.h3, stats, what, msg, msg_len);
    if (ost == SPARROW_OPS_OK) {
      slice_in(w.h3, T, hs, dqkv, C3, b * T, 2 * C + h * hs);
    }
  }
  work_free(&w);
  return ost;
}
