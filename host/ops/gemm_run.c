// SPDX-License-Identifier: Apache-2.0
//
// GEMM through the driver: allocate, pack and write, run every launch, read back, free.

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparrow_ops.h"

// How long one launch may take, in wall milliseconds (the simulated RTL is slow; the driver's own
// per-request timeout still bounds every exchange).
#define OPS_LAUNCH_TIMEOUT_MS (30u * 60u * 1000u)

static void set_msg(char *msg, size_t msg_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_msg(char *msg, size_t msg_len, const char *fmt, ...) {
  if (msg == NULL || msg_len == 0) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, msg_len, fmt, ap);
  va_end(ap);
}

static sparrow_ops_status_t device_fail(sparrow_dev_t *dev, sparrow_status_t st, const char *what,
                                        char *msg, size_t msg_len) {
  set_msg(msg, msg_len, "%s: %s: %s", what, sparrow_status_name(st), sparrow_last_error(dev));
  return SPARROW_OPS_E_DEVICE;
}

typedef struct gemm_buffers {
  uint64_t a, b, c;
  int have_a, have_b, have_c;
  uint32_t *host_a, *host_b, *host_c;
} gemm_buffers_t;

static void release(sparrow_dev_t *dev, gemm_buffers_t *buf) {
  // A failed free loses device memory only; the run's own status already says what went wrong.
  if (buf->have_a) {
    (void)sparrow_free(dev, buf->a);
  }
  if (buf->have_b) {
    (void)sparrow_free(dev, buf->b);
  }
  if (buf->have_c) {
    (void)sparrow_free(dev, buf->c);
  }
  free(buf->host_a);
  free(buf->host_b);
  free(buf->host_c);
}

static sparrow_ops_status_t run_programs(sparrow_dev_t *dev, const sparrow_ops_programs_t *progs,
                                         sparrow_ops_gemm_stats_t *stats, char *msg,
                                         size_t msg_len) {
  for (size_t i = 0; i < progs->count; ++i) {
    sparrow_counters_t counters;
    uint32_t fp_status = 0;
    sparrow_status_t st = sparrow_run(dev, progs->entries[i], progs->lengths[i],
                                      OPS_LAUNCH_TIMEOUT_MS, &counters, &fp_status);
    if (st != SPARROW_OK) {
      char what[64];
      snprintf(what, sizeof(what), "launch %zu of %zu", i + 1, progs->count);
      return device_fail(dev, st, what, msg, msg_len);
    }
    stats->cycles += counters.cycles;
    stats->macs += counters.macs;
    stats->dram_rd_bytes += counters.dram_rd_bytes;
    stats->dram_wr_bytes += counters.dram_wr_bytes;
    stats->fp_status |= fp_status;
    stats->launches++;
    stats->entries += progs->lengths[i];
  }
  return SPARROW_OPS_OK;
}

sparrow_ops_status_t sparrow_ops_gemm(sparrow_dev_t *dev, uint32_t m, uint32_t n, uint32_t k,
                                      const uint32_t *a, const uint32_t *b, uint32_t *c,
                                      sparrow_ops_gemm_stats_t *stats, char *msg, size_t msg_len) {
  if (dev == NULL || a == NULL || b == NULL || c == NULL || m == 0 || n == 0 || k == 0) {
    set_msg(msg, msg_len, "gemm: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_gemm_stats_t local;
  if (stats == NULL) {
    stats = &local;
  }
  memset(stats, 0, sizeof(*stats));

  sparrow_info_t info;
  sparrow_status_t st = sparrow_info(dev, &info);
  if (st != SPARROW_OK) {
    return device_fail(dev, st, "info", msg, msg_len);
  }
  sparrow_ops_fabric_t fabric;
  sparrow_ops_fabric_from_info(&info, &fabric);
  sparrow_ops_gemm_plan_t *plan = &stats->plan;
  sparrow_ops_status_t ost = sparrow_ops_gemm_plan(&fabric, m, n, k, plan);
  if (ost != SPARROW_OPS_OK) {
    set_msg(msg, msg_len, "gemm %ux%ux%u: no plan for this device (%s)", m, n, k,
            sparrow_ops_status_name(ost));
    return ost;
  }
  stats->est_cycles = plan->est_cycles;
  if (plan->a_bytes + plan->b_bytes + plan->c_bytes > info.dram_bytes) {
    set_msg(msg, msg_len, "gemm %ux%ux%u needs %llu bytes of device memory, the device has %llu", m,
            n, k, (unsigned long long)(plan->a_bytes + plan->b_bytes + plan->c_bytes),
            (unsigned long long)info.dram_bytes);
    return SPARROW_OPS_E_UNSUPPORTED;
  }

  gemm_buffers_t buf;
  memset(&buf, 0, sizeof(buf));
  buf.host_a = malloc((size_t)plan->a_bytes);
  buf.host_b = malloc((size_t)plan->b_bytes);
  buf.host_c = malloc((size_t)plan->c_bytes);
  if (buf.host_a == NULL || buf.host_b == NULL || buf.host_c == NULL) {
    release(dev, &buf);
    set_msg(msg, msg_len, "gemm: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  sparrow_ops_gemm_pack_a(plan, a, buf.host_a);
  sparrow_ops_gemm_pack_b(plan, b, buf.host_b);

  if ((st = sparrow_alloc(dev, plan->a_bytes, &buf.a)) != SPARROW_OK) {
    ost = device_fail(dev, st, "alloc A", msg, msg_len);
  } else if ((buf.have_a = 1, st = sparrow_alloc(dev, plan->b_bytes, &buf.b)) != SPARROW_OK) {
    ost = device_fail(dev, st, "alloc B", msg, msg_len);
  } else if ((buf.have_b = 1, st = sparrow_alloc(dev, plan->c_bytes, &buf.c)) != SPARROW_OK) {
    ost = device_fail(dev, st, "alloc C", msg, msg_len);
  } else if ((buf.have_c = 1, st = sparrow_write(dev, buf.a, buf.host_a, plan->a_bytes)) !=
             SPARROW_OK) {
    ost = device_fail(dev, st, "write A", msg, msg_len);
  } else if ((st = sparrow_write(dev, buf.b, buf.host_b, plan->b_bytes)) != SPARROW_OK) {
    ost = device_fail(dev, st, "write B", msg, msg_len);
  }
  if (ost != SPARROW_OPS_OK) {
    release(dev, &buf);
    return ost;
  }

  sparrow_ops_programs_t progs;
  ost = sparrow_ops_gemm_build(plan, buf.a, buf.b, buf.c, &progs);
  if (ost != SPARROW_OPS_OK) {
    set_msg(msg, msg_len, "gemm %ux%ux%u: cannot build the program (%s)", m, n, k,
            sparrow_ops_status_name(ost));
    release(dev, &buf);
    return ost;
  }
  ost = run_programs(dev, &progs, stats, msg, msg_len);
  sparrow_ops_programs_free(&progs);
  if (ost == SPARROW_OPS_OK) {
    st = sparrow_read(dev, buf.c, buf.host_c, plan->c_bytes);
    if (st != SPARROW_OK) {
      ost = device_fail(dev, st, "read C", msg, msg_len);
    } else {
      sparrow_ops_gemm_unpack_c(plan, buf.host_c, c);
    }
  }
  release(dev, &buf);
  return ost;
}
