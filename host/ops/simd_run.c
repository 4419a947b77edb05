// SPDX-License-Identifier: Apache-2.0
//
// The generic SIMD runner (simd_run.h, docs/simd.md): plan, program builder with its cycle
// estimate, and the run through the driver.

#include "simd_run.h"

#include <stdlib.h>
#include <string.h>

#include "nn_exec.h"  // the golden model's phase estimate
#include "program.h"

#define ADDR_LIMIT 0x100000000ull

// ---------------------------------------------------------------------------------------------------
// Plan.

// The bytes a stream touches from its buffer's start: the last beat's end.
static uint64_t stream_extent(const sparrow_ops_simd_stream_t *s, uint32_t rows, uint32_t lanes) {
  return (uint64_t)(s->tensors - 1u) * s->tensor_bytes +
         (uint64_t)(s->beats - 1u) * s->beat_stride + (uint64_t)(rows - 1u) * s->row_stride +
         4ull * lanes;
}

static sparrow_ops_status_t check_stream(const sparrow_ops_simd_stream_t *s, const char *name,
                                         uint32_t rows, uint32_t lanes, char *msg, size_t msg_len) {
  if (s->tensors == 0) {
    return SPARROW_OPS_OK;
  }
  if (s->beats == 0 || s->passes == 0 || s->passes > SPARROW_SIMD_MAX_PASSES ||
      s->tensor_bytes == 0 || s->tensor_bytes % 4u != 0 || s->beat_stride % 4u != 0 ||
      s->row_stride % 4u != 0) {
    sparrow_ops_set_msg(msg, msg_len,
                        "simd: stream %s: zero count, passes above 3 or unaligned stride", name);
    return SPARROW_OPS_E_ARG;
  }
  uint64_t extent = stream_extent(s, rows, lanes);
  uint64_t buffer = (uint64_t)s->tensors * s->tensor_bytes;
  if (extent > buffer) {
    sparrow_ops_set_msg(msg, msg_len, "simd: stream %s reaches byte %llu of its %llu-byte buffer",
                        name, (unsigned long long)extent, (unsigned long long)buffer);
    return SPARROW_OPS_E_ARG;
  }
  // AGCU strides are signed 32-bit and addresses 32-bit.
  if (buffer >= ADDR_LIMIT || s->tensor_bytes > 0x7FFFFFFFull || s->beat_stride > 0x7FFFFFFFu ||
      s->row_stride > 0x7FFFFFFFu) {
    sparrow_ops_set_msg(msg, msg_len,
                        "simd: stream %s needs %llu bytes, beyond 32-bit device addresses", name,
                        (unsigned long long)buffer);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  return SPARROW_OPS_OK;
}

// Issue groups of one tile's SIMD phase with `rows` rows (docs/fabric.md, "Timing"): a row that
// runs no instruction at all is skipped by the walk; the epilogue runs once.
static uint64_t tile_groups(const sparrow_ops_simd_plan_t *plan, const sparrow_ops_simd_job_t *job,
                            uint32_t rows) {
  if (rows == 0) {
    return 0;
  }
  uint64_t per_row = plan->groups[SPARROW_SIMD_SEG_PROLOGUE];
  for (uint32_t pass = 0; pass < job->passes; ++pass) {
    per_row += (uint64_t)job->beats * plan->groups[SPARROW_SIMD_SEG_BODY(pass)] +
               plan->groups[SPARROW_SIMD_SEG_END(pass)];
  }
  return (uint64_t)rows * per_row + plan->groups[SPARROW_SIMD_SEG_EPILOGUE];
}

sparrow_ops_status_t sparrow_ops_simd_plan(const sparrow_ops_fabric_t *fabric,
                                           const sparrow_ops_simd_job_t *job,
                                           sparrow_ops_simd_plan_t *plan, char *msg,
                                           size_t msg_len) {
  if (fabric == NULL || job == NULL || plan == NULL || job->code == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "simd: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  if (fabric->tiles == 0 || fabric->tiles > SPARROW_MAX_TILES || fabric->lanes == 0 ||
      fabric->prog_entries < 2) {
    sparrow_ops_set_msg(msg, msg_len,
                        "simd: impossible fabric (%u tiles, %u lanes, %u program entries)",
                        fabric->tiles, fabric->lanes, fabric->prog_entries);
    return SPARROW_OPS_E_ARG;
  }
  char why[120];
  if (sparrow_simd_asm_check(job->code, why, sizeof(why)) != SPARROW_SIMD_ASM_OK) {
    sparrow_ops_set_msg(msg, msg_len, "simd: the program does not assemble: %s", why);
    return SPARROW_OPS_E_ARG;
  }
  if (job->rows == 0 || job->beats == 0 || job->passes == 0 ||
      job->passes > SPARROW_SIMD_MAX_PASSES || job->code->count == 0) {
    sparrow_ops_set_msg(msg, msg_len,
                        "simd: empty walk or program (rows %u, beats %u, passes %u, %u insns)",
                        job->rows, job->beats, job->passes, job->code->count);
    return SPARROW_OPS_E_ARG;
  }
  static const char *const kNames[] = {"a", "b"};
  for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
    sparrow_ops_status_t st =
        check_stream(&job->in[i], kNames[i], job->rows, fabric->lanes, msg, msg_len);
    if (st != SPARROW_OPS_OK) {
      return st;
    }
  }
  sparrow_ops_status_t st =
      check_stream(&job->out, "out", job->out_once ? 1u : job->rows, fabric->lanes, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
    if (job->in[i].tensors != 0 && job->in[i].passes > job->passes) {
      sparrow_ops_set_msg(msg, msg_len, "simd: stream %s is read in %u passes of a %u-pass walk",
                          kNames[i], job->in[i].passes, job->passes);
      return SPARROW_OPS_E_ARG;
    }
  }
  if (job->out.tensors != 0 && job->out.passes != 1) {
    sparrow_ops_set_msg(msg, msg_len, "simd: the output stream is written once (passes 1)");
    return SPARROW_OPS_E_ARG;
  }

  if (job->out_once && (job->max_tiles != 1 || job->out.row_stride != 0)) {
    sparrow_ops_set_msg(msg, msg_len,
                        "simd: an output written once needs max_tiles 1 and row_stride 0");
    return SPARROW_OPS_E_ARG;
  }

  memset(plan, 0, sizeof(*plan));
  plan->fabric = *fabric;
  uint32_t tiles = fabric->tiles;
  if (job->max_tiles != 0 && job->max_tiles < tiles) {
    tiles = job->max_tiles;  // the tiles above get no row (row_count 0: idle)
  }
  uint32_t base = job->rows / tiles, extra = job->rows % tiles;
  for (uint32_t t = 0; t < tiles; ++t) {
    plan->row_count[t] = base + (t < extra ? 1u : 0u);
    plan->row_first[t] = t * base + (t < extra ? t : extra);
    plan->busy_tiles += plan->row_count[t] != 0;
  }
  plan->insns = job->code->count;
  plan->code_beats = (2u * plan->insns + fabric->lanes - 1u) / fabric->lanes;
  plan->code_words = plan->code_beats * fabric->lanes;
  for (uint32_t seg = 0; seg < SPARROW_SIMD_SEGMENTS; ++seg) {
    plan->groups[seg] = sparrow_simd_asm_groups(job->code, seg, fabric->lanes);
  }
  plan->tile_groups_max = tile_groups(plan, job, plan->row_count[0]);  // tile 0 has the most rows
  return SPARROW_OPS_OK;
}

sparrow_ops_status_t sparrow_ops_simd_code(const sparrow_ops_simd_plan_t *plan,
                                           const sparrow_ops_simd_job_t *job, uint32_t *words) {
  if (plan == NULL || job == NULL || words == NULL) {
    return SPARROW_OPS_E_ARG;
  }
  memset(words, 0, plan->code_words * sizeof(uint32_t));
  return sparrow_simd_asm_encode(job->code, words, plan->code_words) == SPARROW_SIMD_ASM_OK
             ? SPARROW_OPS_OK
             : SPARROW_OPS_E_ARG;
}

// ---------------------------------------------------------------------------------------------------
// Programs.

typedef struct build_ctx {
  const sparrow_ops_simd_plan_t *plan;
  const sparrow_ops_simd_job_t *job;
  uint64_t code_addr;
  uint64_t in_addr[SPARROW_OPS_SIMD_INPUTS];
  uint64_t out_addr;
} build_ctx_t;

// The destinations of a tile and the source each takes in a phase (SPARROW_SW_NO_SOURCE: none).
// Every destination is written in every phase, so no route an earlier program or phase left
// (a GEMM's PMU feeds, a sparse operator's multicast) can stall or feed this one.
static sparrow_ops_prog_status_t routes(sparrow_ops_prog_t *prog, uint32_t tile, uint32_t to_a,
                                        uint32_t to_b, uint32_t to_wr) {
  static const uint32_t kDsts[] = {SPARROW_DST_AGCU_WR, SPARROW_DST_PMU_WR0, SPARROW_DST_PMU_WR1,
                                   SPARROW_DST_PCU_A,   SPARROW_DST_PCU_B,   SPARROW_DST_PCU_C};
  for (size_t i = 0; i < sizeof(kDsts) / sizeof(kDsts[0]); ++i) {
    uint32_t src = kDsts[i] == SPARROW_DST_PCU_A     ? to_a
                   : kDsts[i] == SPARROW_DST_PCU_B   ? to_b
                   : kDsts[i] == SPARROW_DST_AGCU_WR ? to_wr
                                                     : SPARROW_SW_NO_SOURCE;
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_route(prog, tile, kDsts[i], tile, src));
  }
  return SPARROW_OPS_PROG_OK;
}

// A stream's walk for the rows [first, first + count): tensors, beats, passes, rows.
static sparrow_ops_agen_t stream_agen(const sparrow_ops_simd_stream_t *s, uint64_t addr,
                                      uint32_t first, uint32_t count) {
  sparrow_ops_agen_t g = {
      (uint32_t)(addr + (uint64_t)first * s->row_stride),
      {s->tensors, s->beats, s->passes, count},
      {(int32_t)s->tensor_bytes, (int32_t)s->beat_stride, 0, (int32_t)s->row_stride}};
  return g;
}

// The beats a stream moves for `rows` rows.
static uint64_t stream_beats(const sparrow_ops_simd_stream_t *s, uint32_t rows) {
  return (uint64_t)s->tensors * s->beats * s->passes * rows;
}

// One launch over the tiles in `mask`: the LOAD phase, then the SIMD phase.
static sparrow_ops_prog_status_t emit_launch(sparrow_ops_prog_t *prog, const build_ctx_t *c,
                                             uint32_t mask) {
  const sparrow_ops_simd_plan_t *p = c->plan;
  const sparrow_ops_simd_job_t *job = c->job;
  const uint32_t beat_bytes = 4u * p->fabric.lanes;
  const uint32_t none = SPARROW_SW_NO_SOURCE;
  for (uint32_t t = 0; t < p->fabric.tiles; ++t) {
    if ((mask & (1u << t)) == 0) {
      SPARROW_OPS_PROG_TRY(routes(prog, t, none, none, none));
      continue;
    }
    SPARROW_OPS_PROG_TRY(routes(prog, t, SPARROW_SRC_AGCU_RD0, none, none));
    sparrow_ops_agen_t code = {
        (uint32_t)c->code_addr, {p->code_beats, 1, 1, 1}, {(int32_t)beat_bytes, 0, 0, 0}};
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD0, &code));
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pcu_load(prog, t, 0, p->code_beats));
  }
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_run(prog));

  for (uint32_t t = 0; t < p->fabric.tiles; ++t) {
    if ((mask & (1u << t)) == 0) {
      continue;  // its routes are off since the LOAD phase
    }
    const sparrow_ops_simd_stream_t *a = &job->in[0], *b = &job->in[1], *out = &job->out;
    SPARROW_OPS_PROG_TRY(routes(prog, t, a->tensors ? SPARROW_SRC_AGCU_RD0 : none,
                                b->tensors ? SPARROW_SRC_AGCU_RD1 : none,
                                out->tensors ? SPARROW_SRC_PCU_OUT : none));
    uint32_t first = p->row_first[t], count = p->row_count[t];
    if (a->tensors) {
      sparrow_ops_agen_t g = stream_agen(a, c->in_addr[0], first, count);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD0, &g));
    }
    if (b->tensors) {
      sparrow_ops_agen_t g = stream_agen(b, c->in_addr[1], first, count);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD1, &g));
    }
    if (out->tensors) {
      sparrow_ops_agen_t g = stream_agen(out, c->out_addr, first, job->out_once ? 1u : count);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_WR, &g));
    }
    sparrow_ops_simd_walk_t walk;
    memset(&walk, 0, sizeof(walk));
    walk.rows = count;
    walk.beats = job->beats;
    walk.passes = job->passes;
    walk.row_base = first;
    walk.col_base = job->col_base;
    for (uint32_t seg = 0; seg < SPARROW_SIMD_SEGMENTS; ++seg) {
      walk.seg[seg] = sparrow_simd_asm_seg_reg(job->code, seg, 0);
    }
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pcu_simd(prog, t, &walk));
  }
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_run(prog));
  // Un-route what the launch routed (docs/fabric.md: programs un-route destinations they no
  // longer use; the shadow makes this cost one entry per route still enabled). A later program
  // that does not write every route would otherwise inherit them: a GEMM's phase A streams AGCU
  // read 1 into PMU write 1 only, and a leftover PCU b <- AGCU read 1 route would stall it.
  for (uint32_t t = 0; t < p->fabric.tiles; ++t) {
    SPARROW_OPS_PROG_TRY(routes(prog, t, none, none, none));
  }
  return sparrow_ops_prog_end(prog);
}

// A launch's estimate (sim/model/README.md, "Cycle estimate"): its entries, then its two phases
// from what each tile moves (AGCU reads and writes, PCU LOAD beats or SIMD issue groups; the PMUs
// move nothing).
static uint64_t estimate_launch(const build_ctx_t *c, uint32_t mask, size_t entries) {
  const sparrow_ops_simd_plan_t *p = c->plan;
  const sparrow_ops_simd_job_t *job = c->job;
  sparrow_ops_exec_load_t load[SPARROW_MAX_TILES], simd[SPARROW_MAX_TILES];
  memset(load, 0, sizeof(load));
  memset(simd, 0, sizeof(simd));
  for (uint32_t t = 0; t < p->fabric.tiles; ++t) {
    if ((mask & (1u << t)) == 0) {
      continue;
    }
    load[t].agcu_rd[0] = p->code_beats;
    load[t].pcu = p->code_beats;
    uint32_t rows = p->row_count[t];
    simd[t].agcu_rd[0] = stream_beats(&job->in[0], rows);
    simd[t].agcu_rd[1] = stream_beats(&job->in[1], rows);
    simd[t].agcu_wr = stream_beats(&job->out, job->out_once && rows != 0 ? 1u : rows);
    simd[t].pcu = tile_groups(p, job, rows);
  }
  return (uint64_t)entries * SPARROW_OPS_MODEL_ENTRY_CYCLES +
         sparrow_ops_exec_estimate_phase(&p->fabric, load, p->fabric.tiles) +
         sparrow_ops_exec_estimate_phase(&p->fabric, simd, p->fabric.tiles);
}

// One launch over mask into the list (a new, self-contained program).
static sparrow_ops_status_t add_launch(sparrow_ops_prog_t *prog, const build_ctx_t *c,
                                       uint32_t mask, sparrow_ops_programs_t *out, uint64_t *est) {
  sparrow_ops_prog_clear(prog);
  sparrow_ops_prog_status_t st = emit_launch(prog, c, mask);
  if (st != SPARROW_OPS_PROG_OK) {
    return sparrow_ops_prog_status(st);
  }
  *est += estimate_launch(c, mask, prog->count);
  return sparrow_ops_programs_push(out, prog);
}

sparrow_ops_status_t sparrow_ops_simd_build(const sparrow_ops_simd_plan_t *plan,
                                            const sparrow_ops_simd_job_t *job, uint64_t code_addr,
                                            const uint64_t in_addr[SPARROW_OPS_SIMD_INPUTS],
                                            uint64_t out_addr, sparrow_ops_programs_t *programs,
                                            uint64_t *est_cycles) {
  if (plan == NULL || job == NULL || in_addr == NULL || programs == NULL) {
    return SPARROW_OPS_E_ARG;
  }
  memset(programs, 0, sizeof(*programs));
  const uint32_t beat_bytes = 4u * plan->fabric.lanes;
  uint64_t ends[] = {code_addr + (uint64_t)plan->code_beats * beat_bytes,
                     in_addr[0] + (uint64_t)job->in[0].tensors * job->in[0].tensor_bytes,
                     in_addr[1] + (uint64_t)job->in[1].tensors * job->in[1].tensor_bytes,
                     out_addr + (uint64_t)job->out.tensors * job->out.tensor_bytes};
  for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); ++i) {
    if (ends[i] > ADDR_LIMIT) {
      return SPARROW_OPS_E_UNSUPPORTED;
    }
  }
  if ((code_addr | in_addr[0] | in_addr[1] | out_addr) % 4u != 0) {
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_prog_t *prog = malloc(sizeof(*prog));
  if (prog == NULL) {
    return SPARROW_OPS_E_NOMEM;
  }
  sparrow_ops_status_t status = sparrow_ops_prog_status(
      sparrow_ops_prog_init(prog, plan->fabric.tiles, plan->fabric.prog_entries));
  build_ctx_t ctx = {plan, job, code_addr, {in_addr[0], in_addr[1]}, out_addr};
  uint64_t est = 0;
  if (status == SPARROW_OPS_OK) {
    uint32_t all = 0;
    for (uint32_t t = 0; t < plan->fabric.tiles; ++t) {
      all |= plan->row_count[t] != 0 ? 1u << t : 0u;
    }
    status = add_launch(prog, &ctx, all, programs, &est);
    if (status == SPARROW_OPS_E_UNSUPPORTED && plan->busy_tiles > 1) {
      // Too long for program memory with every tile at once: one launch per tile (each loads the
      // program again, so each is self-contained).
      sparrow_ops_programs_free(programs);
      est = 0;
      status = SPARROW_OPS_OK;
      for (uint32_t t = 0; t < plan->fabric.tiles && status == SPARROW_OPS_OK; ++t) {
        if (plan->row_count[t] != 0) {
          status = add_launch(prog, &ctx, 1u << t, programs, &est);
        }
      }
    }
  }
  sparrow_ops_prog_free(prog);
  free(prog);
  if (status != SPARROW_OPS_OK) {
    sparrow_ops_programs_free(programs);
    return status;
  }
  if (est_cycles != NULL) {
    *est_cycles = est;
  }
  return SPARROW_OPS_OK;
}

// ---------------------------------------------------------------------------------------------------
// Through the driver.

static sparrow_ops_status_t device_fail(sparrow_dev_t *dev, sparrow_status_t st, const char *what,
                                        char *msg, size_t msg_len) {
  sparrow_ops_set_msg(msg, msg_len, "%s: %s: %s", what, sparrow_status_name(st),
                      sparrow_last_error(dev));
  return SPARROW_OPS_E_DEVICE;
}

sparrow_ops_status_t sparrow_ops_simd_exec(sparrow_dev_t *dev, const sparrow_ops_simd_job_t *job,
                                           const uint64_t in_addr[SPARROW_OPS_SIMD_INPUTS],
                                           uint64_t out_addr, sparrow_ops_simd_stats_t *stats,
                                           char *msg, size_t msg_len) {
  if (dev == NULL || job == NULL || in_addr == NULL || stats == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "simd: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_info_t info;
  sparrow_status_t st = sparrow_info(dev, &info);
  if (st != SPARROW_OK) {
    return device_fail(dev, st, "info", msg, msg_len);
  }
  sparrow_ops_fabric_t fabric;
  sparrow_ops_fabric_from_info(&info, &fabric);
  sparrow_ops_simd_plan_t plan;
  sparrow_ops_status_t ost = sparrow_ops_simd_plan(&fabric, job, &plan, msg, msg_len);
  if (ost != SPARROW_OPS_OK) {
    return ost;
  }
  uint32_t *words = malloc(plan.code_words * sizeof(uint32_t));
  if (words == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "simd: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  ost = sparrow_ops_simd_code(&plan, job, words);
  uint64_t code_addr = 0;
  size_t code_bytes = plan.code_words * sizeof(uint32_t);
  if (ost != SPARROW_OPS_OK) {
    sparrow_ops_set_msg(msg, msg_len, "simd: the program does not encode");
    free(words);
    return ost;
  }
  if ((st = sparrow_alloc(dev, code_bytes, &code_addr)) != SPARROW_OK) {
    free(words);
    return device_fail(dev, st, "alloc program", msg, msg_len);
  }
  st = sparrow_write(dev, code_addr, words, code_bytes);
  free(words);
  if (st != SPARROW_OK) {
    ost = device_fail(dev, st, "write program", msg, msg_len);
  }
  sparrow_ops_programs_t progs;
  memset(&progs, 0, sizeof(progs));
  uint64_t est = 0;
  if (ost == SPARROW_OPS_OK) {
    ost = sparrow_ops_simd_build(&plan, job, code_addr, in_addr, out_addr, &progs, &est);
    if (ost != SPARROW_OPS_OK) {
      sparrow_ops_set_msg(msg, msg_len, "simd: cannot build the fabric program (%s)",
                          sparrow_ops_status_name(ost));
    }
  }
  if (ost == SPARROW_OPS_OK) {
    sparrow_ops_run_totals_t run;
    memset(&run, 0, sizeof(run));
    ost = sparrow_ops_programs_run(dev, &progs, SPARROW_OPS_LAUNCH_TIMEOUT_MS, "", "", &run, msg,
                                   msg_len);
    SPARROW_OPS_RUN_TOTALS_ADD(stats, &run);
  }
  sparrow_ops_programs_free(&progs);
  // A failed free loses device memory only; the run's own status says what went wrong.
  (void)sparrow_free(dev, code_addr);
  if (ost == SPARROW_OPS_OK) {
    stats->est_cycles += est;
    stats->jobs++;
    stats->insns = plan.insns;
    stats->body_groups = plan.groups[SPARROW_SIMD_SEG_BODY(0)];
    stats->plan = plan;
  }
  return ost;
}
