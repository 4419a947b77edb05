// SPDX-License-Identifier: Apache-2.0
//
// The multi-job executor (nn_exec.h): buffers, runner and custom jobs, the run through the driver,
// and the golden model's phase estimate for custom builders.

#include "nn_exec.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_util.h"
#include "program.h"

void sparrow_ops_exec_init(sparrow_ops_exec_t *exec, const sparrow_ops_fabric_t *fabric) {
  memset(exec, 0, sizeof(*exec));
  exec->fabric = *fabric;
}

void sparrow_ops_exec_free(sparrow_ops_exec_t *exec) {
  for (uint32_t i = 0; i < exec->nbufs; ++i) {
    free(exec->buf[i].image);
  }
  for (uint32_t j = 0; j < SPARROW_OPS_EXEC_MAX_JOBS; ++j) {
    free(exec->job[j].code);
  }
  free(exec->ctx);
  sparrow_ops_fabric_t fabric = exec->fabric;
  sparrow_ops_exec_init(exec, &fabric);
}

sparrow_ops_status_t sparrow_ops_exec_add_buf(sparrow_ops_exec_t *exec, const char *name,
                                              uint64_t bytes, uint32_t role, uint32_t *index) {
  if (exec->nbufs >= SPARROW_OPS_EXEC_MAX_BUFS || bytes == 0) {
    return SPARROW_OPS_E_ARG;
  }
  bytes = (bytes + 3u) / 4u * 4u;
  if (bytes > (uint64_t)SIZE_MAX) {
    return SPARROW_OPS_E_NOMEM;
  }
  uint32_t *image = calloc((size_t)(bytes / 4u), sizeof(uint32_t));
  if (image == NULL) {
    return SPARROW_OPS_E_NOMEM;
  }
  sparrow_ops_exec_buf_t *b = &exec->buf[exec->nbufs];
  b->name = name;
  b->bytes = bytes;
  b->image = image;
  b->role = role;
  *index = exec->nbufs++;
  return SPARROW_OPS_OK;
}

sparrow_simd_asm_t *sparrow_ops_exec_new_code(sparrow_ops_exec_t *exec) {
  if (exec->njobs >= SPARROW_OPS_EXEC_MAX_JOBS) {
    return NULL;
  }
  sparrow_ops_exec_job_t *job = &exec->job[exec->njobs];
  if (job->code == NULL) {
    job->code = malloc(sizeof(*job->code));
    if (job->code == NULL) {
      return NULL;
    }
  }
  sparrow_simd_asm_init(job->code);
  return job->code;
}

// The bytes a stream touches from its first byte (0 for an unused stream).
static uint64_t stream_extent(const sparrow_ops_simd_stream_t *s, uint32_t rows, uint32_t lanes) {
  if (s->tensors == 0) {
    return 0;
  }
  return (uint64_t)(s->tensors - 1u) * s->tensor_bytes +
         (uint64_t)(s->beats - 1u) * s->beat_stride + (uint64_t)(rows - 1u) * s->row_stride +
         4ull * lanes;
}

// Encodes the job's program into a new code buffer of whole beats.
static sparrow_ops_status_t add_code_buf(sparrow_ops_exec_t *exec, sparrow_ops_exec_job_t *job,
                                         char *msg, size_t msg_len) {
  char why[120];
  if (sparrow_simd_asm_check(job->code, why, sizeof(why)) != SPARROW_SIMD_ASM_OK) {
    sparrow_ops_set_msg(msg, msg_len, "the SIMD program does not assemble: %s", why);
    return SPARROW_OPS_E_ARG;
  }
  uint32_t lanes = exec->fabric.lanes;
  job->code_beats = (2u * job->code->count + lanes - 1u) / lanes;
  if (job->code_beats == 0) {
    sparrow_ops_set_msg(msg, msg_len, "empty SIMD program");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_status_t st = sparrow_ops_exec_add_buf(
      exec, "program", 4ull * job->code_beats * lanes, SPARROW_OPS_EXEC_IN, &job->code_buf);
  if (st != SPARROW_OPS_OK) {
    sparrow_ops_set_msg(msg, msg_len, "no room for the program buffer (%s)",
                        sparrow_ops_status_name(st));
    return st;
  }
  const sparrow_ops_exec_buf_t *b = &exec->buf[job->code_buf];
  if (sparrow_simd_asm_encode(job->code, b->image, b->bytes / 4u) != SPARROW_SIMD_ASM_OK) {
    sparrow_ops_set_msg(msg, msg_len, "the SIMD program does not encode");
    return SPARROW_OPS_E_ARG;
  }
  job->body_groups = sparrow_simd_asm_groups(job->code, SPARROW_SIMD_SEG_BODY(0), lanes);
  return SPARROW_OPS_OK;
}

sparrow_ops_status_t sparrow_ops_exec_add_simd(sparrow_ops_exec_t *exec,
                                               const sparrow_ops_simd_job_t *simd,
                                               const uint32_t in_buf[SPARROW_OPS_SIMD_INPUTS],
                                               const uint64_t in_off[SPARROW_OPS_SIMD_INPUTS],
                                               uint32_t out_buf, uint64_t out_off, char *msg,
                                               size_t msg_len) {
  if (exec->njobs >= SPARROW_OPS_EXEC_MAX_JOBS || simd == NULL ||
      simd->code != exec->job[exec->njobs].code || simd->code == NULL) {
    sparrow_ops_set_msg(msg, msg_len,
                        "exec: a runner job needs the program of sparrow_ops_exec_new_code");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_exec_job_t *job = &exec->job[exec->njobs];
  sparrow_ops_status_t st = sparrow_ops_simd_plan(&exec->fabric, simd, &job->plan, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  // Each stream must stay inside the buffer it reads or writes.
  const sparrow_ops_simd_stream_t *streams[] = {&simd->in[0], &simd->in[1], &simd->out};
  const uint32_t bufs[] = {in_buf[0], in_buf[1], out_buf};
  const uint64_t offs[] = {in_off[0], in_off[1], out_off};
  for (int i = 0; i < 3; ++i) {
    if (streams[i]->tensors == 0) {
      continue;
    }
    if (bufs[i] >= exec->nbufs) {
      sparrow_ops_set_msg(msg, msg_len, "exec: stream %d has no buffer", i);
      return SPARROW_OPS_E_ARG;
    }
    uint64_t end = offs[i] + stream_extent(streams[i], simd->rows, exec->fabric.lanes);
    if (offs[i] % 4u != 0 || end > exec->buf[bufs[i]].bytes) {
      sparrow_ops_set_msg(msg, msg_len,
                          "exec: stream %d reaches byte %llu of its %llu-byte buffer %s", i,
                          (unsigned long long)end, (unsigned long long)exec->buf[bufs[i]].bytes,
                          exec->buf[bufs[i]].name);
      return SPARROW_OPS_E_ARG;
    }
  }
  job->simd = *simd;
  job->build = NULL;
  for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
    job->in_buf[i] = in_buf[i];
    job->in_off[i] = in_off[i];
  }
  job->out_buf = out_buf;
  job->out_off = out_off;
  st = add_code_buf(exec, job, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  if (job->plan.code_beats != job->code_beats) {
    sparrow_ops_set_msg(msg, msg_len, "exec: program sizes disagree");
    return SPARROW_OPS_E_ARG;
  }
  exec->busy_tiles =
      job->plan.busy_tiles > exec->busy_tiles ? job->plan.busy_tiles : exec->busy_tiles;
  exec->njobs++;
  return SPARROW_OPS_OK;
}

sparrow_ops_status_t sparrow_ops_exec_add_custom(sparrow_ops_exec_t *exec, sparrow_simd_asm_t *code,
                                                 sparrow_ops_exec_build_fn build, uint32_t tiles,
                                                 char *msg, size_t msg_len) {
  if (exec->njobs >= SPARROW_OPS_EXEC_MAX_JOBS || code == NULL ||
      code != exec->job[exec->njobs].code || build == NULL) {
    sparrow_ops_set_msg(msg, msg_len,
                        "exec: a custom job needs the program of sparrow_ops_exec_new_code");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_exec_job_t *job = &exec->job[exec->njobs];
  memset(&job->simd, 0, sizeof(job->simd));
  memset(&job->plan, 0, sizeof(job->plan));
  job->build = build;
  sparrow_ops_status_t st = add_code_buf(exec, job, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  exec->busy_tiles = tiles > exec->busy_tiles ? tiles : exec->busy_tiles;
  exec->njobs++;
  return SPARROW_OPS_OK;
}

sparrow_ops_status_t sparrow_ops_exec_programs(const sparrow_ops_exec_t *exec, uint32_t j,
                                               const uint64_t *addr,
                                               sparrow_ops_programs_t *programs,
                                               uint64_t *est_cycles) {
  if (j >= exec->njobs || addr == NULL || programs == NULL) {
    return SPARROW_OPS_E_ARG;
  }
  const sparrow_ops_exec_job_t *job = &exec->job[j];
  uint64_t est = 0;
  sparrow_ops_status_t st;
  if (job->build != NULL) {
    st = job->build(exec, j, addr, programs, &est);
  } else {
    uint64_t in_addr[SPARROW_OPS_SIMD_INPUTS];
    for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
      in_addr[i] = job->simd.in[i].tensors != 0 ? addr[job->in_buf[i]] + job->in_off[i] : 0;
    }
    uint64_t out_addr = job->simd.out.tensors != 0 ? addr[job->out_buf] + job->out_off : 0;
    st = sparrow_ops_simd_build(&job->plan, &job->simd, addr[job->code_buf], in_addr, out_addr,
                                programs, &est);
  }
  if (st == SPARROW_OPS_OK && est_cycles != NULL) {
    *est_cycles = est;
  }
  return st;
}

// ---------------------------------------------------------------------------------------------------
// Through the driver.

static sparrow_ops_status_t device_fail(sparrow_dev_t *dev, sparrow_status_t st, const char *what,
                                        const char *name, char *msg, size_t msg_len) {
  sparrow_ops_set_msg(msg, msg_len, "%s %s: %s: %s", what, name, sparrow_status_name(st),
                      sparrow_last_error(dev));
  return SPARROW_OPS_E_DEVICE;
}

static sparrow_ops_status_t run_job(sparrow_dev_t *dev, const sparrow_ops_exec_t *exec, uint32_t j,
                                    const uint64_t *addr, sparrow_ops_simd_stats_t *stats,
                                    char *msg, size_t msg_len) {
  sparrow_ops_programs_t progs;
  memset(&progs, 0, sizeof(progs));
  uint64_t est = 0;
  sparrow_ops_status_t st = sparrow_ops_exec_programs(exec, j, addr, &progs, &est);
  if (st != SPARROW_OPS_OK) {
    sparrow_ops_set_msg(msg, msg_len, "job %u of %u: cannot build the fabric program (%s)", j + 1,
                        exec->njobs, sparrow_ops_status_name(st));
    return st;
  }
  char prefix[32];
  snprintf(prefix, sizeof(prefix), "job %u of %u, ", j + 1, exec->njobs);
  sparrow_ops_run_totals_t run;
  memset(&run, 0, sizeof(run));
  st = sparrow_ops_programs_run(dev, &progs, SPARROW_OPS_LAUNCH_TIMEOUT_MS, prefix, ": run", &run,
                                msg, msg_len);
  sparrow_ops_programs_free(&progs);
  SPARROW_OPS_RUN_TOTALS_ADD(stats, &run);
  if (st == SPARROW_OPS_OK) {
    const sparrow_ops_exec_job_t *job = &exec->job[j];
    stats->est_cycles += est;
    stats->jobs++;
    stats->insns = job->code->count;
    stats->body_groups = job->body_groups;
    if (job->build == NULL) {
      stats->plan = job->plan;
    } else {
      memset(&stats->plan, 0, sizeof(stats->plan));
      stats->plan.fabric = exec->fabric;
      stats->plan.insns = job->code->count;
      stats->plan.code_beats = job->code_beats;
      stats->plan.code_words = job->code_beats * exec->fabric.lanes;
    }
    stats->plan.busy_tiles = exec->busy_tiles;
  }
  return st;
}

// Whether jobs [first, first + count) write buffer i: a runner job writes its out buffer; a custom
// builder may write any OUT buffer.
static bool jobs_write(const sparrow_ops_exec_t *exec, uint32_t first, uint32_t count, uint32_t i) {
  for (uint32_t j = first; j < first + count; ++j) {
    const sparrow_ops_exec_job_t *job = &exec->job[j];
    if (job->build != NULL || (job->simd.out.tensors != 0 && job->out_buf == i)) {
      return true;
    }
  }
  return false;
}

sparrow_ops_status_t sparrow_ops_exec_run_jobs(sparrow_dev_t *dev, sparrow_ops_exec_t *exec,
                                               uint32_t first, uint32_t count,
                                               sparrow_ops_simd_stats_t *stats, char *msg,
                                               size_t msg_len) {
  if (dev == NULL || exec == NULL || stats == NULL || first > exec->njobs ||
      count > exec->njobs - first) {
    sparrow_ops_set_msg(msg, msg_len, "exec: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  uint64_t addr[SPARROW_OPS_EXEC_MAX_BUFS];
  bool have[SPARROW_OPS_EXEC_MAX_BUFS];
  memset(have, 0, sizeof(have));
  sparrow_ops_status_t st = SPARROW_OPS_OK;
  for (uint32_t i = 0; i < exec->nbufs && st == SPARROW_OPS_OK; ++i) {
    const sparrow_ops_exec_buf_t *b = &exec->buf[i];
    sparrow_status_t ds = sparrow_alloc(dev, b->bytes, &addr[i]);
    if (ds != SPARROW_OK) {
      st = device_fail(dev, ds, "alloc", b->name, msg, msg_len);
      break;
    }
    have[i] = true;
    if ((b->role & SPARROW_OPS_EXEC_IN) != 0) {
      ds = sparrow_write(dev, addr[i], b->image, (size_t)b->bytes);
      if (ds != SPARROW_OK) {
        st = device_fail(dev, ds, "write", b->name, msg, msg_len);
      }
    }
  }
  for (uint32_t j = first; j < first + count && st == SPARROW_OPS_OK; ++j) {
    st = run_job(dev, exec, j, addr, stats, msg, msg_len);
  }
  for (uint32_t i = 0; i < exec->nbufs && st == SPARROW_OPS_OK; ++i) {
    const sparrow_ops_exec_buf_t *b = &exec->buf[i];
    if ((b->role & SPARROW_OPS_EXEC_OUT) != 0 && jobs_write(exec, first, count, i)) {
      sparrow_status_t ds = sparrow_read(dev, addr[i], b->image, (size_t)b->bytes);
      if (ds != SPARROW_OK) {
        st = device_fail(dev, ds, "read", b->name, msg, msg_len);
      }
    }
  }
  for (uint32_t i = 0; i < exec->nbufs; ++i) {
    if (have[i]) {
      (void)sparrow_free(dev, addr[i]);  // a failed free loses device memory only
    }
  }
  return st;
}

sparrow_ops_status_t sparrow_ops_exec_run(sparrow_dev_t *dev, sparrow_ops_exec_t *exec,
                                          sparrow_ops_simd_stats_t *stats, char *msg,
                                          size_t msg_len) {
  if (exec == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "exec: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  return sparrow_ops_exec_run_jobs(dev, exec, 0, exec->njobs, stats, msg, msg_len);
}

// The device's fabric, and a refusal when the images do not fit its memory.
sparrow_ops_status_t sparrow_ops_exec_device(sparrow_dev_t *dev, sparrow_ops_fabric_t *fabric,
                                             uint64_t *dram_bytes, char *msg, size_t msg_len) {
  sparrow_info_t info;
  sparrow_status_t st = sparrow_info(dev, &info);
  if (st != SPARROW_OK) {
    sparrow_ops_set_msg(msg, msg_len, "info: %s: %s", sparrow_status_name(st),
                        sparrow_last_error(dev));
    return SPARROW_OPS_E_DEVICE;
  }
  sparrow_ops_fabric_from_info(&info, fabric);
  *dram_bytes = info.dram_bytes;
  return SPARROW_OPS_OK;
}

sparrow_ops_status_t sparrow_ops_exec_fits(const sparrow_ops_exec_t *exec, uint64_t dram_bytes,
                                           const char *name, char *msg, size_t msg_len) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < exec->nbufs; ++i) {
    total += exec->buf[i].bytes;
  }
  if (total > dram_bytes) {
    sparrow_ops_set_msg(msg, msg_len, "%s needs %llu bytes of device memory, the device has %llu",
                        name, (unsigned long long)total, (unsigned long long)dram_bytes);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  return SPARROW_OPS_OK;
}

// ---------------------------------------------------------------------------------------------------
// Estimates (sim/model/README.md, "Cycle estimate"); the SIMD runner's phases too (simd_run.c,
// whose tiles move no PMU lines).

uint64_t sparrow_ops_exec_estimate_phase(const sparrow_ops_fabric_t *f,
                                         const sparrow_ops_exec_load_t *tile_load, uint32_t tiles) {
  uint64_t outstanding = f->agcu_outstanding == 0 ? 1u : f->agcu_outstanding;
  uint64_t bw = f->dram_bw == 0 ? 1u : f->dram_bw;
  uint64_t slowest = 0, beats = 0;
  for (uint32_t t = 0; t < tiles; ++t) {
    const sparrow_ops_exec_load_t *l = &tile_load[t];
    slowest = max_u64(slowest, max_u64(l->agcu_rd[0] + l->agcu_rd[1], l->agcu_wr));
    slowest = max_u64(slowest, ceil_div_u64(l->agcu_rd[0] * f->dram_latency, outstanding));
    slowest = max_u64(slowest, ceil_div_u64(l->agcu_rd[1] * f->dram_latency, outstanding));
    slowest = max_u64(slowest, ceil_div_u64(l->agcu_wr * f->dram_latency, outstanding));
    slowest = max_u64(slowest, l->pmu);
    slowest = max_u64(slowest, l->pcu);
    beats += l->agcu_rd[0] + l->agcu_rd[1] + l->agcu_wr;
  }
  uint64_t bytes = beats * 4u * f->lanes;
  slowest = max_u64(slowest, ceil_div_u64(bytes, bw));
  return SPARROW_OPS_MODEL_PHASE_OVERHEAD + slowest + (bytes != 0 ? f->dram_latency : 0);
}

uint64_t sparrow_ops_exec_simd_groups(const sparrow_simd_asm_t *code, uint32_t lanes, uint32_t rows,
                                      uint32_t beats, uint32_t passes) {
  if (rows == 0) {
    return 0;
  }
  uint64_t per_row = sparrow_simd_asm_groups(code, SPARROW_SIMD_SEG_PROLOGUE, lanes);
  for (uint32_t pass = 0; pass < passes; ++pass) {
    per_row += (uint64_t)beats * sparrow_simd_asm_groups(code, SPARROW_SIMD_SEG_BODY(pass), lanes) +
               sparrow_simd_asm_groups(code, SPARROW_SIMD_SEG_END(pass), lanes);
  }
  return (uint64_t)rows * per_row + sparrow_simd_asm_groups(code, SPARROW_SIMD_SEG_EPILOGUE, lanes);
}
