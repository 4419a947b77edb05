// SPDX-License-Identifier: Apache-2.0
//
// The block-sparse operators through the driver: check W, plan, pack, allocate and write, run every
// launch, read back, unpack, free. Nothing reaches the device before W has passed its checks.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparse_internal.h"

static sparrow_ops_status_t device_fail(sparrow_dev_t *dev, sparrow_status_t st,
                                        sparrow_ops_sparse_op_t op, const char *what, char *msg,
                                        size_t msg_len) {
  sparrow_ops_set_msg(msg, msg_len, "%s: %s: %s: %s", sparrow_ops_sparse_op_name(op), what,
                      sparrow_status_name(st), sparrow_last_error(dev));
  return SPARROW_OPS_E_DEVICE;
}

enum { BUF_A, BUF_B, BUF_IDX, BUF_C, BUF_COUNT };

typedef struct sparse_buffers {
  uint64_t addr[BUF_COUNT];
  int have[BUF_COUNT];
  uint32_t *host[BUF_COUNT];
} sparse_buffers_t;

static void release(sparrow_dev_t *dev, sparse_buffers_t *buf) {
  for (int i = 0; i < BUF_COUNT; ++i) {
    // A failed free loses device memory only; the run's own status already says what went wrong.
    if (buf->have[i]) {
      (void)sparrow_free(dev, buf->addr[i]);
    }
    free(buf->host[i]);
  }
}

// Moves the plan's figures into the stats and frees its details.
static void keep_figures(sparrow_ops_sparse_stats_t *stats, sparrow_ops_sparse_plan_t *plan) {
  stats->plan = *plan;
  stats->plan.tasks = NULL;
  stats->plan.slices = NULL;
  stats->plan.col_list = NULL;
  stats->plan.seg_count = NULL;
  stats->plan.pat_ptr = NULL;
  stats->plan.pat_idx = NULL;
  stats->plan.pat_blk = NULL;
  sparrow_ops_sparse_plan_free(plan);
}

// The common path. a: the streamed operand as the caller holds it; b_dense: sddmm's dY (NULL for
// spmm/spmm_t, whose B is w); out: the result (dense, or dW's values).
static sparrow_ops_status_t run_sparse(sparrow_dev_t *dev, sparrow_ops_sparse_op_t op, uint32_t m,
                                       const uint32_t *a, const uint32_t *b_dense,
                                       const sparrow_bsr_t *w, uint32_t *out,
                                       sparrow_ops_sparse_stats_t *stats, char *msg,
                                       size_t msg_len) {
  const char *name = sparrow_ops_sparse_op_name(op);
  sparrow_ops_sparse_stats_t local;
  if (stats == NULL) {
    stats = &local;
  }
  memset(stats, 0, sizeof(*stats));
  if (dev == NULL || a == NULL || out == NULL || w == NULL ||
      (op == SPARROW_OPS_SDDMM && b_dense == NULL)) {
    sparrow_ops_set_msg(msg, msg_len, "%s: bad argument (NULL %s)", name,
                        dev == NULL   ? "device"
                        : a == NULL   ? "input"
                        : out == NULL ? "output"
                        : w == NULL   ? "W"
                                      : "dY");
    return SPARROW_OPS_E_ARG;
  }
  // The device's parameters come from the open handshake (no frame is sent here), so W is checked
  // against them before the device sees anything.
  sparrow_info_t info;
  sparrow_status_t st = sparrow_info(dev, &info);
  if (st != SPARROW_OK) {
    return device_fail(dev, st, op, "info", msg, msg_len);
  }
  sparrow_ops_fabric_t fabric;
  sparrow_ops_fabric_from_info(&info, &fabric);
  sparrow_ops_sparse_plan_t plan;
  sparrow_ops_status_t ost = sparrow_ops_sparse_plan(&fabric, op, m, w, &plan, msg, msg_len);
  if (ost != SPARROW_OPS_OK) {
    return ost;
  }
  stats->est_cycles = plan.est_cycles;
  stats->nnz_blocks = plan.nnz_blocks;
  uint64_t all_blocks = (uint64_t)(w->rows / w->block) * (w->cols / w->block);
  stats->density = all_blocks == 0 ? 0.0 : (double)plan.nnz_blocks / (double)all_blocks;
  stats->weight_bytes = op == SPARROW_OPS_SDDMM ? (uint64_t)plan.nnz_blocks * plan.block *
                                                      plan.block * 4u * (2u * plan.chunks - 1u)
                                                : plan.b_read_bytes;
  uint64_t sizes[BUF_COUNT] = {plan.a_bytes, plan.b_bytes, plan.idx_bytes, plan.c_bytes};
  uint64_t need = sizes[BUF_A] + sizes[BUF_B] + sizes[BUF_IDX] + sizes[BUF_C];
  if (need > info.dram_bytes) {
    sparrow_ops_set_msg(msg, msg_len, "%s: needs %llu bytes of device memory, the device has %llu",
                        name, (unsigned long long)need, (unsigned long long)info.dram_bytes);
    keep_figures(stats, &plan);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  sparse_buffers_t buf;
  memset(&buf, 0, sizeof(buf));
  for (int i = 0; i < BUF_COUNT; ++i) {
    buf.host[i] = malloc((size_t)sizes[i]);
    if (buf.host[i] == NULL) {
      release(dev, &buf);
      sparrow_ops_sparse_plan_free(&plan);
      sparrow_ops_set_msg(msg, msg_len, "%s: host out of memory", name);
      return SPARROW_OPS_E_NOMEM;
    }
  }
  sparrow_ops_sparse_pack_a(&plan, a, buf.host[BUF_A]);
  sparrow_ops_sparse_pack_b(&plan, w, b_dense, buf.host[BUF_B]);
  sparrow_ops_sparse_pack_idx(&plan, buf.host[BUF_IDX]);

  static const char *const names[BUF_COUNT] = {"A", "B", "index lists", "C"};
  char what[48];
  for (int i = 0; i < BUF_COUNT && ost == SPARROW_OPS_OK; ++i) {
    st = sparrow_alloc(dev, sizes[i], &buf.addr[i]);
    if (st != SPARROW_OK) {
      snprintf(what, sizeof(what), "alloc %s", names[i]);
      ost = device_fail(dev, st, op, what, msg, msg_len);
      break;
    }
    buf.have[i] = 1;
    if (i == BUF_C) {
      break;  // C is written by the device
    }
    st = sparrow_write(dev, buf.addr[i], buf.host[i], sizes[i]);
    if (st != SPARROW_OK) {
      snprintf(what, sizeof(what), "write %s", names[i]);
      ost = device_fail(dev, st, op, what, msg, msg_len);
    }
  }
  if (ost == SPARROW_OPS_OK) {
    sparrow_ops_programs_t progs;
    ost = sparrow_ops_sparse_build(&plan, buf.addr[BUF_A], buf.addr[BUF_B], buf.addr[BUF_IDX],
                                   buf.addr[BUF_C], &progs);
    if (ost != SPARROW_OPS_OK) {
      sparrow_ops_set_msg(msg, msg_len, "%s: cannot build the program (%s)", name,
                          sparrow_ops_status_name(ost));
    } else {
      char prefix[32];
      snprintf(prefix, sizeof(prefix), "%s: ", name);
      sparrow_ops_run_totals_t run;
      memset(&run, 0, sizeof(run));
      ost = sparrow_ops_programs_run(dev, &progs, SPARROW_OPS_LAUNCH_TIMEOUT_MS, prefix, "", &run,
                                     msg, msg_len);
      sparrow_ops_programs_free(&progs);
      SPARROW_OPS_RUN_TOTALS_ADD(stats, &run);
      stats->macs += run.macs;
    }
  }
  if (ost == SPARROW_OPS_OK) {
    st = sparrow_read(dev, buf.addr[BUF_C], buf.host[BUF_C], sizes[BUF_C]);
    if (st != SPARROW_OK) {
      ost = device_fail(dev, st, op, "read C", msg, msg_len);
    } else {
      sparrow_ops_sparse_unpack_c(&plan, buf.host[BUF_C], out);
    }
  }
  release(dev, &buf);
  keep_figures(stats, &plan);
  return ost;
}

sparrow_ops_status_t sparrow_ops_spmm(sparrow_dev_t *dev, uint32_t m, const uint32_t *x,
                                      const sparrow_bsr_t *w, uint32_t *y,
                                      sparrow_ops_sparse_stats_t *stats, char *msg,
                                      size_t msg_len) {
  return run_sparse(dev, SPARROW_OPS_SPMM, m, x, NULL, w, y, stats, msg, msg_len);
}

sparrow_ops_status_t sparrow_ops_spmm_t(sparrow_dev_t *dev, uint32_t m, const uint32_t *dy,
                                        const sparrow_bsr_t *w, uint32_t *dx,
                                        sparrow_ops_sparse_stats_t *stats, char *msg,
                                        size_t msg_len) {
  return run_sparse(dev, SPARROW_OPS_SPMM_T, m, dy, NULL, w, dx, stats, msg, msg_len);
}

sparrow_ops_status_t sparrow_ops_sddmm(sparrow_dev_t *dev, uint32_t m, const uint32_t *x,
                                       const uint32_t *dy, const sparrow_bsr_t *w,
                                       uint32_t *dw_values, sparrow_ops_sparse_stats_t *stats,
                                       char *msg, size_t msg_len) {
  return run_sparse(dev, SPARROW_OPS_SDDMM, m, x, dy, w, dw_values, stats, msg, msg_len);
}
