// SPDX-License-Identifier: Apache-2.0
//
// Dataflow sections (df_section.h, docs/dataflow.md): layout, program builder with its cycle
// estimate, and the run through the driver.

#include "df_section.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_util.h"
#include "program.h"

#define ADDR_LIMIT 0x100000000ull
#define IMEM_INSNS (SPARROW_PCU_IMEM_WORDS / 2u)
// Destinations a phase writes for every tile (so nothing an earlier program routed survives).
#define TILE_DSTS 6u

// ---------------------------------------------------------------------------------------------------
// Layout.

// Where a stream's tensors are: DRAM (the runner's way), the rows of a link in the PMU, a
// broadcast in the PMU, or rows staged from DRAM into a pair of PMU regions (double buffering).
typedef enum place { PLACE_DRAM = 0, PLACE_ROWS, PLACE_BROADCAST, PLACE_STAGED } place_t;

// One stream of one step, resolved to where its tensors live.
typedef struct stream_ref {
  const sparrow_ops_simd_stream_t *s;  // NULL: the stream is unused
  uint32_t step, buf;                  // the buffer in DRAM (inputs, and outputs sent to DRAM)
  uint64_t off;                        // byte offset of the stream in it
  place_t place;                       // inputs: where it is read from; outputs: PMU or DRAM only
  bool to_dram;                        // outputs: written to DRAM (unlinked, or a kept link)
  uint32_t region;                     // PMU line of its region (ROWS, BROADCAST, STAGED)
  uint32_t region_odd;                 // STAGED: the region of the odd chunks
  uint32_t row_lines;                  // lines of one row of one tensor (ROWS, STAGED)
  int prefetch_step;                   // STAGED: the step whose phase loads the next chunk
  uint32_t prefetch_chan;              // STAGED: the AGCU read channel that loads it
} stream_ref_t;

typedef struct lay {
  sparrow_df_layout_t pub;
  sparrow_ops_fabric_t fabric;
  uint32_t busy_tiles_mask;
  uint32_t row_first[SPARROW_MAX_TILES], row_count[SPARROW_MAX_TILES];
  uint32_t chunks;  // of the tile with the most rows
  stream_ref_t in[SPARROW_DF_MAX_STEPS][SPARROW_OPS_SIMD_INPUTS];
  stream_ref_t out[SPARROW_DF_MAX_STEPS];
  uint32_t origin[SPARROW_DF_MAX_STEPS];  // instruction origin of each step's program
} lay_t;

static const sparrow_ops_exec_job_t *step_job(const sparrow_df_section_t *sec, uint32_t s) {
  return &sec->step[s].exec->job[sec->step[s].job];
}

// The link whose target is (step, buf), or -1.
static int link_into(const sparrow_df_section_t *sec, uint32_t step, uint32_t buf) {
  for (uint32_t k = 0; k < sec->nlinks; ++k) {
    if (sec->link[k].to_step == step && sec->link[k].to_buf == buf) {
      return (int)k;
    }
  }
  return -1;
}

static bool same_geometry(const sparrow_ops_simd_stream_t *a, const sparrow_ops_simd_stream_t *b) {
  return a->tensors == b->tensors && a->tensor_bytes == b->tensor_bytes && a->beats == b->beats &&
         a->beat_stride == b->beat_stride && a->row_stride == b->row_stride;
}

// A stream of whole rows: contiguous beats, one row per walk row.
static bool row_stream(const sparrow_ops_simd_stream_t *s, uint32_t lanes) {
  return s->beat_stride == 4u * lanes && s->row_stride == (uint64_t)s->beats * 4u * lanes;
}

static sparrow_ops_status_t check_steps(const sparrow_df_section_t *sec,
                                        const sparrow_ops_fabric_t *f, char *msg, size_t msg_len) {
  if (sec->nsteps == 0 || sec->nsteps > SPARROW_DF_MAX_STEPS ||
      sec->nlinks > SPARROW_DF_MAX_LINKS) {
    sparrow_ops_set_msg(msg, msg_len, "%s: %u steps and %u links (1..%u steps, at most %u links)",
                        sec->name, sec->nsteps, sec->nlinks, SPARROW_DF_MAX_STEPS,
                        SPARROW_DF_MAX_LINKS);
    return SPARROW_OPS_E_ARG;
  }
  for (uint32_t s = 0; s < sec->nsteps; ++s) {
    const sparrow_ops_exec_t *e = sec->step[s].exec;
    if (e == NULL || sec->step[s].job >= e->njobs) {
      sparrow_ops_set_msg(msg, msg_len, "%s: step %u has no such job", sec->name, s);
      return SPARROW_OPS_E_ARG;
    }
    for (uint32_t q = 0; q < s; ++q) {
      if (sec->step[q].exec == e) {
        sparrow_ops_set_msg(msg, msg_len, "%s: steps %u and %u share an executor", sec->name, q, s);
        return SPARROW_OPS_E_ARG;
      }
    }
    const sparrow_ops_exec_job_t *j = step_job(sec, s);
    if (j->build != NULL || j->simd.max_tiles != 0 || j->simd.out_once != 0) {
      sparrow_ops_set_msg(msg, msg_len, "%s: step %u is not a row-wise runner job", sec->name, s);
      return SPARROW_OPS_E_ARG;
    }
    if (e->fabric.tiles != f->tiles || e->fabric.lanes != f->lanes) {
      sparrow_ops_set_msg(msg, msg_len, "%s: step %u was planned for another fabric", sec->name, s);
      return SPARROW_OPS_E_ARG;
    }
    if (j->simd.rows != step_job(sec, 0)->simd.rows) {
      sparrow_ops_set_msg(msg, msg_len, "%s: step %u walks %u rows, step 0 walks %u", sec->name, s,
                          j->simd.rows, step_job(sec, 0)->simd.rows);
      return SPARROW_OPS_E_ARG;
    }
  }
  return SPARROW_OPS_OK;
}

static sparrow_ops_status_t check_links(const sparrow_df_section_t *sec, uint32_t lanes, char *msg,
                                        size_t msg_len) {
  for (uint32_t k = 0; k < sec->nlinks; ++k) {
    const sparrow_df_link_t *l = &sec->link[k];
    if (l->from_step >= l->to_step || l->to_step >= sec->nsteps) {
      sparrow_ops_set_msg(msg, msg_len, "%s: link %u must run from an earlier step to a later one",
                          sec->name, k);
      return SPARROW_OPS_E_ARG;
    }
    const sparrow_ops_exec_job_t *from = step_job(sec, l->from_step);
    const sparrow_ops_exec_job_t *to = step_job(sec, l->to_step);
    const sparrow_ops_exec_t *to_exec = sec->step[l->to_step].exec;
    if (from->simd.out.tensors == 0 || from->out_buf != l->from_buf || from->out_off != 0 ||
        !row_stream(&from->simd.out, lanes)) {
      sparrow_ops_set_msg(msg, msg_len, "%s: link %u: buffer %u is not step %u's whole-row output",
                          sec->name, k, l->from_buf, l->from_step);
      return SPARROW_OPS_E_ARG;
    }
    if (l->to_buf >= to_exec->nbufs || (to_exec->buf[l->to_buf].role & SPARROW_OPS_EXEC_IN) == 0 ||
        link_into(sec, l->to_step, l->to_buf) != (int)k) {
      sparrow_ops_set_msg(msg, msg_len,
                          "%s: link %u: buffer %u of step %u is not an input linked once",
                          sec->name, k, l->to_buf, l->to_step);
      return SPARROW_OPS_E_ARG;
    }
    uint32_t readers = 0;
    for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
      if (to->simd.in[i].tensors == 0 || to->in_buf[i] != l->to_buf) {
        continue;
      }
      readers++;
      if (to->in_off[i] != 0 || !same_geometry(&to->simd.in[i], &from->simd.out)) {
        sparrow_ops_set_msg(msg, msg_len, "%s: link %u: step %u reads the rows in another layout",
                            sec->name, k, l->to_step);
        return SPARROW_OPS_E_ARG;
      }
    }
    if (readers == 0) {
      sparrow_ops_set_msg(msg, msg_len, "%s: link %u: step %u does not read buffer %u", sec->name,
                          k, l->to_step, l->to_buf);
      return SPARROW_OPS_E_ARG;
    }
  }
  return SPARROW_OPS_OK;
}

// Whether step j's input stream `chan` leaves that AGCU read channel free.
static bool chan_free(const lay_t *lay, uint32_t j, uint32_t chan) {
  const stream_ref_t *r = &lay->in[j][chan];
  return r->s == NULL || r->place != PLACE_DRAM;
}

// PMU lines one row of the staged inputs needs (two regions each).
static uint32_t staged_row_lines(const lay_t *lay, uint32_t nsteps) {
  uint32_t lines = 0;
  for (uint32_t j = 0; j < nsteps; ++j) {
    for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
      const stream_ref_t *r = &lay->in[j][i];
      lines += r->s != NULL && r->place == PLACE_STAGED ? 2u * r->s->tensors * r->s->beats : 0u;
    }
  }
  return lines;
}

// Staging (double buffering): a whole-row DRAM input read in at least min_passes passes is loaded
// into a pair of PMU regions, chunk c+1's rows during one of chunk c's step phases (through PMU
// write port 1 and an AGCU read channel that phase leaves free: one staged input per phase), so
// the load overlaps the compute and a multi-pass step (a layernorm) reads DRAM once. An input that
// finds no such phase, or no room in the PMU next to one row of everything else, streams from
// DRAM as in the runner.
static void stage_inputs(const sparrow_df_section_t *sec, lay_t *lay, uint32_t min_passes,
                         uint32_t room_lines, uint32_t lanes) {
  for (uint32_t j = 0; j < sec->nsteps; ++j) {
    for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
      stream_ref_t *r = &lay->in[j][i];
      if (r->s != NULL && r->place == PLACE_DRAM && r->s->passes >= min_passes &&
          row_stream(r->s, lanes)) {
        r->place = PLACE_STAGED;
      }
    }
  }
  // Slots in the longest phases first (issue groups per row): their compute hides the load best.
  uint32_t order[SPARROW_DF_MAX_STEPS];
  uint64_t groups[SPARROW_DF_MAX_STEPS];
  for (uint32_t j = 0; j < sec->nsteps; ++j) {
    const sparrow_ops_exec_job_t *job = step_job(sec, j);
    groups[j] = sparrow_ops_exec_simd_groups(job->code, lay->fabric.lanes, 1, job->simd.beats,
                                             job->simd.passes);
    uint32_t k = j;
    for (; k > 0 && groups[order[k - 1u]] < groups[j]; --k) {
      order[k] = order[k - 1u];
    }
    order[k] = j;
  }
  for (;;) {
    bool slot_used[SPARROW_DF_MAX_STEPS] = {false};
    stream_ref_t *unstage = NULL, *last = NULL;
    for (uint32_t j = 0; j < sec->nsteps && unstage == NULL; ++j) {
      for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS && unstage == NULL; ++i) {
        stream_ref_t *r = &lay->in[j][i];
        if (r->s == NULL || r->place != PLACE_STAGED) {
          continue;
        }
        last = r;
        r->prefetch_step = -1;
        for (uint32_t q = 0; q < sec->nsteps && r->prefetch_step < 0; ++q) {
          uint32_t p = order[q];
          for (uint32_t c = 2; c-- > 0 && !slot_used[p];) {  // channel 1 first: LOAD uses 0
            if (chan_free(lay, p, c)) {
              r->prefetch_step = (int)p;
              r->prefetch_chan = c;
              slot_used[p] = true;
            }
          }
        }
        unstage = r->prefetch_step < 0 ? r : NULL;
      }
    }
    if (unstage == NULL && last != NULL && staged_row_lines(lay, sec->nsteps) >= room_lines) {
      unstage = last;  // no room for one row: the last staged input streams from DRAM instead
    }
    if (unstage == NULL) {
      return;
    }
    unstage->place = PLACE_DRAM;  // then assign the slots again: a direct stream takes a channel
  }
}

static sparrow_ops_status_t lay_out(const sparrow_df_section_t *sec, const sparrow_ops_fabric_t *f,
                                    uint32_t stage_min_passes, lay_t *lay, char *msg,
                                    size_t msg_len) {
  if (sec == NULL || f == NULL || lay == NULL || f->lanes == 0 || f->tiles == 0 ||
      f->tiles > SPARROW_MAX_TILES) {
    sparrow_ops_set_msg(msg, msg_len, "dataflow section: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  sparrow_ops_status_t st = check_steps(sec, f, msg, msg_len);
  if (st == SPARROW_OPS_OK) {
    st = check_links(sec, f->lanes, msg, msg_len);
  }
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  memset(lay, 0, sizeof(*lay));
  lay->fabric = *f;
  const uint32_t lanes = f->lanes, beat_bytes = 4u * lanes;
  const uint32_t pmu_lines = f->pmu_words / lanes;

  // Linked outputs (their rows go to the PMU), then the inputs: linked ones read the producer's
  // region; broadcasts are staged in the PMU while room for one row of the linked tensors
  // remains, else they stream from DRAM as in the runner.
  uint32_t bcast_lines = 0, lines_per_row = 0;
  for (uint32_t s = 0; s < sec->nsteps; ++s) {
    const sparrow_ops_exec_job_t *j = step_job(sec, s);
    stream_ref_t *o = &lay->out[s];
    if (j->simd.out.tensors == 0) {
      continue;
    }
    o->s = &j->simd.out;
    o->step = s;
    o->buf = j->out_buf;
    o->off = j->out_off;
    o->to_dram = true;
    for (uint32_t k = 0; k < sec->nlinks; ++k) {
      if (sec->link[k].from_step == s) {
        if (o->place != PLACE_ROWS) {
          o->place = PLACE_ROWS;
          o->to_dram = false;
          o->row_lines = o->s->beats;
          lines_per_row += o->s->tensors * o->row_lines;
          lay->pub.onchip_bufs++;
        }
        o->to_dram |= sec->link[k].keep;
      }
    }
    lay->pub.kept_bufs += o->place == PLACE_ROWS && o->to_dram;
  }
  for (uint32_t s = 0; s < sec->nsteps; ++s) {
    const sparrow_ops_exec_job_t *j = step_job(sec, s);
    for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
      const sparrow_ops_simd_stream_t *in = &j->simd.in[i];
      stream_ref_t *r = &lay->in[s][i];
      if (in->tensors == 0) {
        continue;
      }
      r->s = in;
      r->step = s;
      r->buf = j->in_buf[i];
      r->off = j->in_off[i];
      int k = link_into(sec, s, j->in_buf[i]);
      uint32_t lines = in->tensors * in->beats;
      if (k >= 0) {
        r->place = PLACE_ROWS;  // its region is the producer's, set below
        r->step = sec->link[k].from_step;
        r->buf = sec->link[k].from_buf;
        r->off = 0;
      } else if (in->row_stride == 0 && j->simd.rows > 1 && in->beat_stride == beat_bytes &&
                 in->tensor_bytes == (uint64_t)in->beats * beat_bytes &&
                 (uint64_t)bcast_lines + lines + lines_per_row <= pmu_lines) {
        r->place = PLACE_BROADCAST;
        r->region = bcast_lines;
        bcast_lines += lines;
        lay->pub.broadcast_bufs++;
      }
    }
  }

  if (stage_min_passes != 0) {
    stage_inputs(
        sec, lay, stage_min_passes,
        pmu_lines > bcast_lines + lines_per_row ? pmu_lines - bcast_lines - lines_per_row : 0u,
        lanes);
  }
  lines_per_row += staged_row_lines(lay, sec->nsteps);

  const sparrow_ops_simd_plan_t *plan = &step_job(sec, 0)->plan;
  uint32_t max_rows = 0;
  for (uint32_t t = 0; t < f->tiles; ++t) {
    lay->row_first[t] = plan->row_first[t];
    lay->row_count[t] = plan->row_count[t];
    lay->busy_tiles_mask |= plan->row_count[t] != 0 ? 1u << t : 0u;
    max_rows = plan->row_count[t] > max_rows ? plan->row_count[t] : max_rows;
  }
  uint32_t chunk = max_rows;
  if (lines_per_row != 0) {
    uint32_t room = pmu_lines > bcast_lines ? pmu_lines - bcast_lines : 0;
    chunk = (uint32_t)min_u64(room / lines_per_row, max_rows);
  }
  if (chunk == 0 || bcast_lines > pmu_lines) {
    sparrow_ops_set_msg(
        msg, msg_len,
        "%s: one row of its linked tensors (%u lines) and its broadcasts (%u lines) do not fit "
        "a PMU of %u lines",
        sec->name, lines_per_row, bcast_lines, pmu_lines);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  lay->pub.chunk_rows = chunk;
  lay->chunks = (max_rows + chunk - 1u) / chunk;
  lay->pub.pmu_lines = bcast_lines + chunk * lines_per_row;

  // Linked regions, and their readers.
  uint32_t next = bcast_lines;
  for (uint32_t s = 0; s < sec->nsteps; ++s) {
    stream_ref_t *o = &lay->out[s];
    if (o->place == PLACE_ROWS) {
      o->region = next;
      next += chunk * o->s->tensors * o->row_lines;
    }
  }
  for (uint32_t s = 0; s < sec->nsteps; ++s) {
    for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
      stream_ref_t *r = &lay->in[s][i];
      if (r->s != NULL && r->place == PLACE_ROWS) {
        r->region = lay->out[r->step].region;
        r->row_lines = lay->out[r->step].row_lines;
      } else if (r->s != NULL && r->place == PLACE_STAGED) {
        r->row_lines = r->s->beats;
        r->region = next;
        r->region_odd = next + chunk * r->s->tensors * r->row_lines;
        next = r->region_odd + chunk * r->s->tensors * r->row_lines;
        lay->pub.staged_bufs++;
      }
    }
  }

  // Programs: resident when they fit the program memory together.
  uint32_t total = 0;
  for (uint32_t s = 0; s < sec->nsteps; ++s) {
    lay->origin[s] = total;
    total += step_job(sec, s)->plan.code_words / 2u;
  }
  lay->pub.programs_resident = total <= IMEM_INSNS;
  if (!lay->pub.programs_resident) {
    memset(lay->origin, 0, sizeof(lay->origin));
  }
  return SPARROW_OPS_OK;
}

static sparrow_ops_status_t choose_layout(const sparrow_df_section_t *sec,
                                          const sparrow_ops_fabric_t *f, lay_t *lay, char *msg,
                                          size_t msg_len);

sparrow_ops_status_t sparrow_df_section_layout(const sparrow_df_section_t *section,
                                               const sparrow_ops_fabric_t *fabric,
                                               sparrow_df_layout_t *layout, char *msg,
                                               size_t msg_len) {
  lay_t *lay = malloc(sizeof(*lay));
  if (lay == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "dataflow section: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  sparrow_ops_status_t st = choose_layout(section, fabric, lay, msg, msg_len);
  if (st == SPARROW_OPS_OK && layout != NULL) {
    *layout = lay->pub;
  }
  free(lay);
  return st;
}

// ---------------------------------------------------------------------------------------------------
// Programs.

typedef struct build {
  const sparrow_df_section_t *sec;
  const lay_t *lay;
  const uint64_t (*addr)[SPARROW_OPS_EXEC_MAX_BUFS];
  sparrow_ops_prog_t *prog;
  uint64_t est;                                     // of the launch being built
  sparrow_ops_exec_load_t load[SPARROW_MAX_TILES];  // of the phase being built
} build_t;

// The sources of a tile's destinations in a phase, all written (SPARROW_SW_NO_SOURCE: none).
typedef struct tile_routes {
  uint32_t src[TILE_DSTS];  // indexed by SPARROW_DST_*
} tile_routes_t;

static void routes_none(tile_routes_t *r) {
  for (uint32_t d = 0; d < TILE_DSTS; ++d) {
    r->src[d] = SPARROW_SW_NO_SOURCE;
  }
}

static sparrow_ops_prog_status_t emit_routes(sparrow_ops_prog_t *prog, uint32_t tile,
                                             const tile_routes_t *r) {
  for (uint32_t d = 0; d < TILE_DSTS; ++d) {
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_route(prog, tile, d, tile, r->src[d]));
  }
  return SPARROW_OPS_PROG_OK;
}

// Ends a phase: op_run, and its estimate.
static sparrow_ops_prog_status_t end_phase(build_t *b) {
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_run(b->prog));
  b->est += sparrow_ops_exec_estimate_phase(&b->lay->fabric, b->load, b->lay->fabric.tiles);
  memset(b->load, 0, sizeof(b->load));
  return SPARROW_OPS_PROG_OK;
}

static uint64_t buf_addr(const build_t *b, uint32_t step, uint32_t buf) {
  return b->addr[step][buf];
}

// LOAD of step s's program into tile t's PCU (read 0 -> PCU a).
static sparrow_ops_prog_status_t emit_load(build_t *b, uint32_t s, uint32_t t,
                                           tile_routes_t *routes) {
  const sparrow_ops_exec_job_t *j = step_job(b->sec, s);
  uint32_t beat_bytes = 4u * b->lay->fabric.lanes;
  routes->src[SPARROW_DST_PCU_A] = SPARROW_SRC_AGCU_RD0;
  sparrow_ops_agen_t code = {(uint32_t)buf_addr(b, s, j->code_buf),
                             {j->code_beats, 1, 1, 1},
                             {(int32_t)beat_bytes, 0, 0, 0}};
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(b->prog, t, SPARROW_AGCU_CHANNEL_RD0, &code));
  SPARROW_OPS_PROG_TRY(
      sparrow_ops_prog_pcu_load(b->prog, t, 2u * b->lay->origin[s], j->code_beats));
  b->load[t].agcu_rd[0] += j->code_beats;
  b->load[t].pcu += j->code_beats;
  return SPARROW_OPS_PROG_OK;
}

// A broadcast input into tile t's PMU region (read 1 -> PMU write 1).
static sparrow_ops_prog_status_t emit_broadcast(build_t *b, const stream_ref_t *r, uint32_t t,
                                                tile_routes_t *routes) {
  uint32_t lines = r->s->tensors * r->s->beats;
  uint32_t beat_bytes = 4u * b->lay->fabric.lanes;
  routes->src[SPARROW_DST_PMU_WR1] = SPARROW_SRC_AGCU_RD1;
  sparrow_ops_agen_t rd = {(uint32_t)(buf_addr(b, r->step, r->buf) + r->off),
                           {lines, 1, 1, 1},
                           {(int32_t)beat_bytes, 0, 0, 0}};
  sparrow_ops_agen_t wr = {r->region, {lines, 1, 1, 1}, {1, 0, 0, 0}};
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(b->prog, t, SPARROW_AGCU_CHANNEL_RD1, &rd));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(b->prog, t, SPARROW_PMU_PORT_WR1, &wr));
  b->load[t].agcu_rd[1] += lines;
  b->load[t].pmu = max_u64(b->load[t].pmu, lines);
  return SPARROW_OPS_PROG_OK;
}

// The launch's preamble: resident programs and broadcasts, paired in phases.
static sparrow_ops_prog_status_t emit_preamble(build_t *b) {
  const lay_t *lay = b->lay;
  const stream_ref_t *bcast[SPARROW_DF_MAX_STEPS * SPARROW_OPS_SIMD_INPUTS];
  uint32_t nb = 0;
  for (uint32_t s = 0; s < b->sec->nsteps; ++s) {
    for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
      if (lay->in[s][i].s != NULL && lay->in[s][i].place == PLACE_BROADCAST) {
        bcast[nb++] = &lay->in[s][i];
      }
    }
  }
  uint32_t loads = lay->pub.programs_resident ? b->sec->nsteps : 0;
  uint32_t phases = loads > nb ? loads : nb;
  // The PMU ports run unsynchronized: an earlier program (a GEMM's N-buffering) may have left
  // buffer synchronization on, and config registers persist across launches.
  for (uint32_t t = 0; t < lay->fabric.tiles; ++t) {
    if ((lay->busy_tiles_mask & (1u << t)) != 0) {
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(b->prog, t, 0, 0, 1, 1, 1));
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(b->prog, t, 1, 0, 1, 1, 1));
    }
  }
  for (uint32_t p = 0; p < phases; ++p) {
    for (uint32_t t = 0; t < lay->fabric.tiles; ++t) {
      tile_routes_t routes;
      routes_none(&routes);
      if ((lay->busy_tiles_mask & (1u << t)) != 0) {
        if (p < loads) {
          SPARROW_OPS_PROG_TRY(emit_load(b, p, t, &routes));
        }
        if (p < nb) {
          SPARROW_OPS_PROG_TRY(emit_broadcast(b, bcast[p], t, &routes));
        }
      }
      SPARROW_OPS_PROG_TRY(emit_routes(b->prog, t, &routes));
    }
    SPARROW_OPS_PROG_TRY(end_phase(b));
  }
  return SPARROW_OPS_PROG_OK;
}

static uint64_t stream_beats(const sparrow_ops_simd_stream_t *s, uint32_t rows) {
  return (uint64_t)s->tensors * s->beats * s->passes * rows;
}

// A stream's DRAM walk for `rows` rows from global row `first` (as the runner walks it, in
// `passes` passes).
static sparrow_ops_agen_t dram_agen(const stream_ref_t *r, uint64_t addr, uint32_t first,
                                    uint32_t rows, uint32_t passes) {
  const sparrow_ops_simd_stream_t *s = r->s;
  sparrow_ops_agen_t g = {
      (uint32_t)(addr + r->off + (uint64_t)first * s->row_stride),
      {s->tensors, s->beats, passes, rows},
      {(int32_t)s->tensor_bytes, (int32_t)s->beat_stride, 0, (int32_t)s->row_stride}};
  return g;
}

// The PMU region of a stream's rows in chunk c.
static uint32_t region_of(const stream_ref_t *r, uint32_t c) {
  return r->place == PLACE_STAGED && (c & 1u) != 0 ? r->region_odd : r->region;
}

// A stream's PMU walk for `rows` rows of chunk c: tensors, beats, passes, rows.
static sparrow_ops_agen_t pmu_agen(const stream_ref_t *r, uint32_t chunk_rows, uint32_t c,
                                   uint32_t rows, uint32_t passes) {
  const sparrow_ops_simd_stream_t *s = r->s;
  if (r->place == PLACE_BROADCAST) {
    sparrow_ops_agen_t g = {
        r->region, {s->tensors, s->beats, passes, rows}, {(int32_t)s->beats, 1, 0, 0}};
    return g;
  }
  sparrow_ops_agen_t g = {region_of(r, c),
                          {s->tensors, s->beats, passes, rows},
                          {(int32_t)(chunk_rows * r->row_lines), 1, 0, (int32_t)r->row_lines}};
  return g;
}

// The rows of tile t in chunk c (0: none).
static uint32_t chunk_rows(const lay_t *lay, uint32_t t, uint32_t c, uint32_t *first) {
  uint64_t start = (uint64_t)c * lay->pub.chunk_rows;
  if (start >= lay->row_count[t]) {
    return 0;
  }
  *first = lay->row_first[t] + (uint32_t)start;
  return (uint32_t)min_u64(lay->pub.chunk_rows, lay->row_count[t] - start);
}

// A staged input's rows of chunk c into tile t's PMU: AGCU read channel `chan` -> PMU write 1,
// one pass (the step reads them as often as it needs from the PMU).
static sparrow_ops_prog_status_t emit_stage(build_t *b, const stream_ref_t *r, uint32_t c,
                                            uint32_t t, uint32_t chan, tile_routes_t *routes) {
  uint32_t first = 0, rows = chunk_rows(b->lay, t, c, &first);
  if (rows == 0) {
    return SPARROW_OPS_PROG_OK;
  }
  const sparrow_ops_simd_stream_t *s = r->s;
  routes->src[SPARROW_DST_PMU_WR1] = chan == 0 ? SPARROW_SRC_AGCU_RD0 : SPARROW_SRC_AGCU_RD1;
  sparrow_ops_agen_t rd = dram_agen(r, buf_addr(b, r->step, r->buf), first, rows, 1);
  sparrow_ops_agen_t wr = pmu_agen(r, b->lay->pub.chunk_rows, c, rows, 1);
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(
      b->prog, t, chan == 0 ? SPARROW_AGCU_CHANNEL_RD0 : SPARROW_AGCU_CHANNEL_RD1, &rd));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(b->prog, t, SPARROW_PMU_PORT_WR1, &wr));
  uint64_t lines = (uint64_t)s->tensors * s->beats * rows;
  b->load[t].agcu_rd[chan] += lines;
  b->load[t].pmu = max_u64(b->load[t].pmu, lines);
  return SPARROW_OPS_PROG_OK;
}

// The staged inputs of chunk c, loaded before its first step (a launch's first chunk: nothing
// loaded them during an earlier chunk of the same launch). One phase per staged input.
static sparrow_ops_prog_status_t emit_stage_chunk(build_t *b, uint32_t c) {
  const lay_t *lay = b->lay;
  for (uint32_t s = 0; s < b->sec->nsteps; ++s) {
    for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
      const stream_ref_t *r = &lay->in[s][i];
      if (r->s == NULL || r->place != PLACE_STAGED) {
        continue;
      }
      for (uint32_t t = 0; t < lay->fabric.tiles; ++t) {
        tile_routes_t routes;
        routes_none(&routes);
        SPARROW_OPS_PROG_TRY(emit_stage(b, r, c, t, 1, &routes));
        SPARROW_OPS_PROG_TRY(emit_routes(b->prog, t, &routes));
      }
      SPARROW_OPS_PROG_TRY(end_phase(b));
    }
  }
  return SPARROW_OPS_PROG_OK;
}

// Step s's SIMD phase on tile t for the rows [first, first + rows) of chunk c.
static sparrow_ops_prog_status_t emit_simd(build_t *b, uint32_t s, uint32_t t, uint32_t c,
                                           uint32_t first, uint32_t rows, tile_routes_t *routes) {
  const lay_t *lay = b->lay;
  const sparrow_ops_exec_job_t *j = step_job(b->sec, s);
  static const uint32_t kPcuDst[SPARROW_OPS_SIMD_INPUTS] = {SPARROW_DST_PCU_A, SPARROW_DST_PCU_B};
  static const uint32_t kAgcuSrc[SPARROW_OPS_SIMD_INPUTS] = {SPARROW_SRC_AGCU_RD0,
                                                             SPARROW_SRC_AGCU_RD1};
  static const uint32_t kAgcuChan[SPARROW_OPS_SIMD_INPUTS] = {SPARROW_AGCU_CHANNEL_RD0,
                                                              SPARROW_AGCU_CHANNEL_RD1};
  static const uint32_t kPmuSrc[SPARROW_OPS_SIMD_INPUTS] = {SPARROW_SRC_PMU_RD0,
                                                            SPARROW_SRC_PMU_RD1};
  static const uint32_t kPmuPort[SPARROW_OPS_SIMD_INPUTS] = {SPARROW_PMU_PORT_RD0,
                                                             SPARROW_PMU_PORT_RD1};
  sparrow_ops_exec_load_t *load = &b->load[t];
  for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
    const stream_ref_t *r = &lay->in[s][i];
    if (r->s == NULL) {
      continue;
    }
    uint64_t beats = stream_beats(r->s, rows);
    if (r->place == PLACE_DRAM) {
      routes->src[kPcuDst[i]] = kAgcuSrc[i];
      sparrow_ops_agen_t g = dram_agen(r, buf_addr(b, r->step, r->buf), first, rows, r->s->passes);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(b->prog, t, kAgcuChan[i], &g));
      load->agcu_rd[i] += beats;
    } else {
      routes->src[kPcuDst[i]] = kPmuSrc[i];
      sparrow_ops_agen_t g = pmu_agen(r, lay->pub.chunk_rows, c, rows, r->s->passes);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(b->prog, t, kPmuPort[i], &g));
      load->pmu = max_u64(load->pmu, beats);
    }
  }
  const stream_ref_t *o = &lay->out[s];
  if (o->s != NULL) {
    uint64_t beats = stream_beats(o->s, rows);
    if (o->to_dram) {
      routes->src[SPARROW_DST_AGCU_WR] = SPARROW_SRC_PCU_OUT;
      sparrow_ops_agen_t g = dram_agen(o, buf_addr(b, o->step, o->buf), first, rows, 1);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(b->prog, t, SPARROW_AGCU_CHANNEL_WR, &g));
      load->agcu_wr += beats;
    }
    if (o->place == PLACE_ROWS) {
      routes->src[SPARROW_DST_PMU_WR0] = SPARROW_SRC_PCU_OUT;
      sparrow_ops_agen_t g = pmu_agen(o, lay->pub.chunk_rows, c, rows, 1);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(b->prog, t, SPARROW_PMU_PORT_WR0, &g));
      load->pmu = max_u64(load->pmu, beats);
    }
  }
  sparrow_ops_simd_walk_t walk;
  memset(&walk, 0, sizeof(walk));
  walk.rows = rows;
  walk.beats = j->simd.beats;
  walk.passes = j->simd.passes;
  walk.row_base = first;
  walk.col_base = j->simd.col_base;
  for (uint32_t seg = 0; seg < SPARROW_SIMD_SEGMENTS; ++seg) {
    walk.seg[seg] = sparrow_simd_asm_seg_reg(j->code, seg, lay->origin[s]);
  }
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pcu_simd(b->prog, t, &walk));
  load->pcu +=
      sparrow_ops_exec_simd_groups(j->code, lay->fabric.lanes, rows, j->simd.beats, j->simd.passes);
  return SPARROW_OPS_PROG_OK;
}

// Every step of chunk c, one phase each (a LOAD phase before each when programs are not
// resident).
static sparrow_ops_prog_status_t emit_chunk(build_t *b, uint32_t c) {
  const lay_t *lay = b->lay;
  for (uint32_t s = 0; s < b->sec->nsteps; ++s) {
    for (int load = lay->pub.programs_resident ? 1 : 0; load < 2; ++load) {
      for (uint32_t t = 0; t < lay->fabric.tiles; ++t) {
        tile_routes_t routes;
        routes_none(&routes);
        uint32_t first = 0, rows = chunk_rows(lay, t, c, &first);
        if (rows != 0) {
          SPARROW_OPS_PROG_TRY(load == 0 ? emit_load(b, s, t, &routes)
                                         : emit_simd(b, s, t, c, first, rows, &routes));
        }
        for (uint32_t k = 0; load == 1 && c + 1u < lay->chunks &&
                             k < SPARROW_DF_MAX_STEPS * SPARROW_OPS_SIMD_INPUTS;
             ++k) {
          // The next chunk's staged input whose slot is this step's phase.
          const stream_ref_t *r =
              &lay->in[k / SPARROW_OPS_SIMD_INPUTS][k % SPARROW_OPS_SIMD_INPUTS];
          if (k / SPARROW_OPS_SIMD_INPUTS < b->sec->nsteps && r->s != NULL &&
              r->place == PLACE_STAGED && r->prefetch_step == (int)s) {
            SPARROW_OPS_PROG_TRY(emit_stage(b, r, c + 1u, t, r->prefetch_chan, &routes));
          }
        }
        SPARROW_OPS_PROG_TRY(emit_routes(b->prog, t, &routes));
      }
      SPARROW_OPS_PROG_TRY(end_phase(b));
    }
  }
  return SPARROW_OPS_PROG_OK;
}

static sparrow_ops_prog_status_t emit_unroute(build_t *b) {
  tile_routes_t none;
  routes_none(&none);
  for (uint32_t t = 0; t < b->lay->fabric.tiles; ++t) {
    SPARROW_OPS_PROG_TRY(emit_routes(b->prog, t, &none));
  }
  return SPARROW_OPS_PROG_OK;
}

// One launch from chunk *next: the preamble, then as many chunks as fit. *next advances.
static sparrow_ops_status_t build_launch(build_t *b, uint32_t *next,
                                         sparrow_ops_programs_t *programs, uint64_t *est) {
  sparrow_ops_prog_clear(b->prog);
  b->est = 0;
  memset(b->load, 0, sizeof(b->load));
  if (emit_preamble(b) != SPARROW_OPS_PROG_OK ||
      emit_stage_chunk(b, *next) != SPARROW_OPS_PROG_OK) {
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  // Room for the un-routing at the end: one entry per destination at most.
  const size_t reserve = (size_t)b->lay->fabric.tiles * TILE_DSTS + 1u;
  sparrow_ops_prog_mark_t *mark = malloc(sizeof(*mark));
  if (mark == NULL) {
    return SPARROW_OPS_E_NOMEM;
  }
  uint32_t first = *next;
  while (*next < b->lay->chunks) {
    sparrow_ops_prog_mark(b->prog, mark);
    uint64_t est_mark = b->est;
    sparrow_ops_prog_status_t st = emit_chunk(b, *next);
    if (st != SPARROW_OPS_PROG_OK || b->prog->count + reserve > b->prog->max_entries) {
      sparrow_ops_prog_rollback(b->prog, mark);
      b->est = est_mark;
      break;
    }
    (*next)++;
  }
  free(mark);
  if (*next == first) {
    return SPARROW_OPS_E_UNSUPPORTED;  // not even one chunk fits a program
  }
  if (emit_unroute(b) != SPARROW_OPS_PROG_OK ||
      sparrow_ops_prog_end(b->prog) != SPARROW_OPS_PROG_OK) {
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  *est += b->est + (uint64_t)b->prog->count * SPARROW_OPS_MODEL_ENTRY_CYCLES;
  return sparrow_ops_programs_push(programs, b->prog);
}

static sparrow_ops_status_t build_all(const sparrow_df_section_t *sec, const lay_t *lay,
                                      const uint64_t addr[][SPARROW_OPS_EXEC_MAX_BUFS],
                                      sparrow_ops_programs_t *programs, uint64_t *est_cycles,
                                      char *msg, size_t msg_len) {
  memset(programs, 0, sizeof(*programs));
  build_t *b = calloc(1, sizeof(*b));
  sparrow_ops_prog_t *prog = malloc(sizeof(*prog));
  sparrow_ops_status_t st = b == NULL || prog == NULL ? SPARROW_OPS_E_NOMEM : SPARROW_OPS_OK;
  if (st == SPARROW_OPS_OK) {
    st = sparrow_ops_prog_status(
        sparrow_ops_prog_init(prog, lay->fabric.tiles, lay->fabric.prog_entries));
    if (st != SPARROW_OPS_OK) {
      free(prog);
      prog = NULL;
    }
  }
  uint64_t est = 0;
  if (st == SPARROW_OPS_OK) {
    b->sec = sec;
    b->lay = lay;
    b->addr = addr;
    b->prog = prog;
    uint32_t next = 0;
    while (st == SPARROW_OPS_OK && next < lay->chunks) {
      st = build_launch(b, &next, programs, &est);
    }
    if (st == SPARROW_OPS_E_UNSUPPORTED) {
      sparrow_ops_set_msg(msg, msg_len,
                          "%s: one chunk of %u rows needs more than the %u program entries",
                          sec->name, lay->pub.chunk_rows, lay->fabric.prog_entries);
    }
  }
  if (prog != NULL) {
    sparrow_ops_prog_free(prog);
    free(prog);
  }
  free(b);
  if (st != SPARROW_OPS_OK) {
    sparrow_ops_programs_free(programs);
    if (st == SPARROW_OPS_E_NOMEM) {
      sparrow_ops_set_msg(msg, msg_len, "%s: host out of memory", sec->name);
    }
    return st;
  }
  if (est_cycles != NULL) {
    *est_cycles = est;
  }
  return SPARROW_OPS_OK;
}

// The layout the section runs with: without staging, staging the multi-pass inputs, or staging
// every whole-row input, whichever the golden model's estimate (the model's cycle count) says is
// fastest. Staging trades chunk size (more phases, more program entries, more launches) for
// overlapped and fewer DRAM reads, which pays only where the steps are long enough.
static sparrow_ops_status_t choose_layout(const sparrow_df_section_t *sec,
                                          const sparrow_ops_fabric_t *f, lay_t *lay, char *msg,
                                          size_t msg_len) {
  static const uint32_t kStaging[] = {0, 2, 1};  // off, multi-pass inputs, every input
  static const uint64_t kNoAddr[SPARROW_DF_MAX_STEPS][SPARROW_OPS_EXEC_MAX_BUFS];
  lay_t *trial = malloc(sizeof(*trial));
  if (trial == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "dataflow section: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  sparrow_ops_status_t best_st = SPARROW_OPS_E_UNSUPPORTED;
  uint64_t best = UINT64_MAX;
  for (size_t v = 0; v < sizeof(kStaging) / sizeof(kStaging[0]); ++v) {
    char why[200] = "";
    sparrow_ops_status_t st =
        lay_out(sec, f, kStaging[v], trial, v == 0 ? msg : why, v == 0 ? msg_len : sizeof(why));
    if (st != SPARROW_OPS_OK) {
      best_st = v == 0 ? st : best_st;
      if (v == 0 && st != SPARROW_OPS_E_UNSUPPORTED) {
        break;  // a malformed section: no variant can fix it
      }
      continue;
    }
    if (v != 0 && trial->pub.staged_bufs == 0) {
      continue;  // nothing to stage: the same layout as without
    }
    sparrow_ops_programs_t progs;
    uint64_t est = 0;
    st = build_all(sec, trial, kNoAddr, &progs, &est, v == 0 ? msg : why,
                   v == 0 ? msg_len : sizeof(why));
    if (st == SPARROW_OPS_OK) {
      sparrow_ops_programs_free(&progs);
      if (est < best) {
        best = est;
        best_st = SPARROW_OPS_OK;
        *lay = *trial;
      }
    } else if (v == 0) {
      best_st = st;
    }
  }
  free(trial);
  return best_st;
}

sparrow_ops_status_t sparrow_df_section_build(const sparrow_df_section_t *section,
                                              const sparrow_ops_fabric_t *fabric,
                                              const uint64_t addr[][SPARROW_OPS_EXEC_MAX_BUFS],
                                              sparrow_ops_programs_t *programs,
                                              uint64_t *est_cycles, char *msg, size_t msg_len) {
  if (addr == NULL || programs == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "dataflow section: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  lay_t *lay = malloc(sizeof(*lay));
  if (lay == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "dataflow section: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  sparrow_ops_status_t st = choose_layout(section, fabric, lay, msg, msg_len);
  if (st == SPARROW_OPS_OK) {
    st = build_all(section, lay, addr, programs, est_cycles, msg, msg_len);
  }
  free(lay);
  return st;
}

// ---------------------------------------------------------------------------------------------------
// Through the driver.

// Which buffers of the steps' executors the section needs in DRAM, and which it reads back.
typedef struct dram_use {
  bool need[SPARROW_DF_MAX_STEPS][SPARROW_OPS_EXEC_MAX_BUFS];
  bool write[SPARROW_DF_MAX_STEPS][SPARROW_OPS_EXEC_MAX_BUFS];
  bool read[SPARROW_DF_MAX_STEPS][SPARROW_OPS_EXEC_MAX_BUFS];
} dram_use_t;

static void dram_use(const sparrow_df_section_t *sec, const lay_t *lay, dram_use_t *u) {
  memset(u, 0, sizeof(*u));
  for (uint32_t s = 0; s < sec->nsteps; ++s) {
    const sparrow_ops_exec_job_t *j = step_job(sec, s);
    const sparrow_ops_exec_t *e = sec->step[s].exec;
    u->need[s][j->code_buf] = u->write[s][j->code_buf] = true;
    for (uint32_t i = 0; i < SPARROW_OPS_SIMD_INPUTS; ++i) {
      const stream_ref_t *r = &lay->in[s][i];
      if (r->s != NULL && r->place != PLACE_ROWS) {
        u->need[s][r->buf] = true;
        u->write[s][r->buf] = (e->buf[r->buf].role & SPARROW_OPS_EXEC_IN) != 0;
      }
    }
    const stream_ref_t *o = &lay->out[s];
    if (o->s != NULL && o->to_dram) {
      u->need[s][o->buf] = true;
      u->read[s][o->buf] = (e->buf[o->buf].role & SPARROW_OPS_EXEC_OUT) != 0;
    }
  }
}

static sparrow_ops_status_t device_fail(sparrow_dev_t *dev, sparrow_status_t st, const char *what,
                                        const char *name, char *msg, size_t msg_len) {
  sparrow_ops_set_msg(msg, msg_len, "%s %s: %s: %s", what, name, sparrow_status_name(st),
                      sparrow_last_error(dev));
  return SPARROW_OPS_E_DEVICE;
}

static sparrow_ops_status_t run_programs(sparrow_dev_t *dev, const sparrow_df_section_t *sec,
                                         const sparrow_ops_programs_t *progs,
                                         sparrow_ops_simd_stats_t *stats, char *msg,
                                         size_t msg_len) {
  char prefix[96];
  snprintf(prefix, sizeof(prefix), "%s, ", sec->name);
  sparrow_ops_run_totals_t run;
  memset(&run, 0, sizeof(run));
  sparrow_ops_status_t st = sparrow_ops_programs_run(dev, progs, SPARROW_OPS_LAUNCH_TIMEOUT_MS,
                                                     prefix, ": run", &run, msg, msg_len);
  SPARROW_OPS_RUN_TOTALS_ADD(stats, &run);
  return st;
}

sparrow_ops_status_t sparrow_df_section_run(sparrow_dev_t *dev, const sparrow_df_section_t *section,
                                            sparrow_ops_simd_stats_t *stats, char *msg,
                                            size_t msg_len) {
  if (dev == NULL || section == NULL || section->nsteps == 0 || section->step[0].exec == NULL ||
      stats == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "dataflow section: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  lay_t *lay = malloc(sizeof(*lay));
  dram_use_t *use = malloc(sizeof(*use));
  uint64_t(*addr)[SPARROW_OPS_EXEC_MAX_BUFS] = calloc(SPARROW_DF_MAX_STEPS, sizeof(*addr));
  bool(*have)[SPARROW_OPS_EXEC_MAX_BUFS] = calloc(SPARROW_DF_MAX_STEPS, sizeof(*have));
  sparrow_ops_status_t st = SPARROW_OPS_OK;
  if (lay == NULL || use == NULL || addr == NULL || have == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "dataflow section: host out of memory");
    st = SPARROW_OPS_E_NOMEM;
  }
  if (st == SPARROW_OPS_OK) {
    st = choose_layout(section, &section->step[0].exec->fabric, lay, msg, msg_len);
  }
  if (st == SPARROW_OPS_OK) {
    dram_use(section, lay, use);
  }
  for (uint32_t s = 0; s < section->nsteps && st == SPARROW_OPS_OK; ++s) {
    const sparrow_ops_exec_t *e = section->step[s].exec;
    for (uint32_t i = 0; i < e->nbufs && st == SPARROW_OPS_OK; ++i) {
      if (!use->need[s][i]) {
        continue;
      }
      sparrow_status_t ds = sparrow_alloc(dev, e->buf[i].bytes, &addr[s][i]);
      if (ds != SPARROW_OK) {
        st = device_fail(dev, ds, "alloc", e->buf[i].name, msg, msg_len);
        break;
      }
      have[s][i] = true;
      if (addr[s][i] + e->buf[i].bytes > ADDR_LIMIT) {
        sparrow_ops_set_msg(msg, msg_len, "%s: buffer %s lies beyond 32-bit device addresses",
                            section->name, e->buf[i].name);
        st = SPARROW_OPS_E_UNSUPPORTED;
      } else if (use->write[s][i]) {
        ds = sparrow_write(dev, addr[s][i], e->buf[i].image, (size_t)e->buf[i].bytes);
        if (ds != SPARROW_OK) {
          st = device_fail(dev, ds, "write", e->buf[i].name, msg, msg_len);
        }
      }
    }
  }
  sparrow_ops_programs_t progs;
  memset(&progs, 0, sizeof(progs));
  uint64_t est = 0;
  if (st == SPARROW_OPS_OK) {
    st = build_all(section, lay, (const uint64_t(*)[SPARROW_OPS_EXEC_MAX_BUFS])addr, &progs, &est,
                   msg, msg_len);
  }
  if (st == SPARROW_OPS_OK) {
    st = run_programs(dev, section, &progs, stats, msg, msg_len);
  }
  sparrow_ops_programs_free(&progs);
  for (uint32_t s = 0; s < section->nsteps && st == SPARROW_OPS_OK; ++s) {
    const sparrow_ops_exec_t *e = section->step[s].exec;
    for (uint32_t i = 0; i < e->nbufs && st == SPARROW_OPS_OK; ++i) {
      if (use->read[s][i]) {
        sparrow_status_t ds =
            sparrow_read(dev, addr[s][i], e->buf[i].image, (size_t)e->buf[i].bytes);
        if (ds != SPARROW_OK) {
          st = device_fail(dev, ds, "read", e->buf[i].name, msg, msg_len);
        }
      }
    }
  }
  if (st == SPARROW_OPS_OK) {
    stats->est_cycles += est;
    stats->jobs += section->nsteps;
  }
  for (uint32_t s = 0; have != NULL && s < section->nsteps; ++s) {
    const sparrow_ops_exec_t *e = section->step[s].exec;
    for (uint32_t i = 0; i < e->nbufs; ++i) {
      if (have[s][i]) {
        (void)sparrow_free(dev, addr[s][i]);  // a failed free loses device memory only
      }
    }
  }
  free(have);
  free(addr);
  free(use);
  free(lay);
  return st;
}
