// SPDX-License-Identifier: Apache-2.0
//
// GEMM through the driver: allocate, pack and write, run every launch, read back, free.

#include <stdlib.h>
#include <string.h>

#include "program.h"
#include "sparrow_ops.h"

static sparrow_ops_status_t device_fail(sparrow_dev_t *dev, sparrow_status_t st, const char *what,
                                        char *msg, size_t msg_len) {
  sparrow_ops_set_msg(msg, msg_len, "%s: %s: %s", what, sparrow_status_name(st),
                      sparrow_last_error(dev));
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

sparrow_ops_status_t sparrow_ops_gemm(sparrow_dev_t *dev, uint32_t m, uint32_t n, uint32_t k,
                                      const uint32_t *a, const uint32_t *b, uint32_t *c,
                                      sparrow_ops_gemm_stats_t *stats, char *msg, size_t msg_len) {
  if (dev == NULL || a == NULL || b == NULL || c == NULL || m == 0 || n == 0 || k == 0) {
    sparrow_ops_set_msg(msg, msg_len, "gemm: bad argument");
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
    sparrow_ops_set_msg(msg, msg_len, "gemm %ux%ux%u: no plan for this device (%s)", m, n, k,
                        sparrow_ops_status_name(ost));
    return ost;
  }
  stats->est_cycles = plan->est_cycles;
  if (plan->a_bytes + plan->b_bytes + plan->c_bytes > info.dram_bytes) {
    sparrow_ops_set_msg(msg, msg_len,
                        "gemm %ux%ux%u needs %llu bytes of device memory, the device has %llu", m,
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
    sparrow_ops_set_msg(msg, msg_len, "gemm: host out of memory");
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
    sparrow_ops_set_msg(msg, msg_len, "gemm %ux%ux%u: cannot build the program (%s)", m, n, k,
                        sparrow_ops_status_name(ost));
    release(dev, &buf);
    return ost;
  }
  sparrow_ops_run_totals_t run;
  memset(&run, 0, sizeof(run));
  ost = sparrow_ops_programs_run(dev, &progs, SPARROW_OPS_LAUNCH_TIMEOUT_MS, "", "", &run, msg,
                                 msg_len);
  sparrow_ops_programs_free(&progs);
  SPARROW_OPS_RUN_TOTALS_ADD(stats, &run);
  stats->macs += run.macs;
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
