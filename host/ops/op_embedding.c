// SPDX-License-Identifier: Apache-2.0
//
// The token + position embedding, forward and backward (sparrow_nn.h; docs/ops.md, "Layernorm and
// embedding"), with the PMU's gather mode (docs/fabric.md, "Index memory and gather mode").
//
// Columns are cut into strips of L lanes (np = C rounded up to L, nstrips = np / L) and the
// strips are split over the tiles in contiguous runs; a tile works on column chunks of at most
// `cw` strips of its run, one per round, and every tile runs the same row steps in a round.
//
// Forward, per round and block of tokens (a rectangle of sequences b0.. x positions t0..):
//   fill     AGCU read 0 -> PMU write 0: the chunk's columns of every row of wte (line v*S + s);
//            AGCU read 1 -> PMU write 1 (index memory): the block's token ids
//   (index   the next block's token ids only, for the second block on)
//   compute  PMU read 0 gathers, for each token id of the list, the S lines of wte's row -> PCU a;
//            AGCU read 1 streams wpe[t]'s chunk for each (b, t) of the block -> PCU b;
//            the PCU adds, one beat per strip and token -> AGCU write: x's rows of the block
// Each element is one add, wte + wpe: the golden order.
//
// Backward, dwte (a scatter-add done as a gather): the rows of dx are cut into chunks of R rows;
// per round and chunk the PMU holds the chunk's rows (S lines each) and, from the second chunk
// on, the partial sums of every vocabulary row that the previous chunk wrote (V rows of S lines).
// The index list, built on the host from the token ids, visits the vocabulary rows in order:
// for each v, its partial sum (from the second chunk), then the rows of the chunk whose token is
// v in ascending order; a vocabulary row with neither gets one dummy entry. The PMU gathers each
// entry's line of strip s, the list once per strip (the release bit on its last word moves the
// gather to the next strip). A control stream (AGCU read 0 -> PCU b) gives each entry its flag:
//   0  add the line,   1  add the line and end the group,   3  end the group without adding;
// at the end of a group the PCU pushes its accumulator (dwte[v]'s strip) and restarts it at +0.0,
// so the output is V beats per strip, in vocabulary order (AGCU write). The accumulator of
// dwte[v][j] starts at +0.0 and adds the rows with token v in ascending order; a later chunk adds
// the previous partial sum first: +0.0 + p = p exactly and without a flag (p is never -0.0, being
// a sum that started at +0.0 in round-to-nearest; a NaN there is already the canonical quiet one),
// so the chunking changes no bit. A row of wte that no token uses gets +0.0.
// dwpe is a job of the generic runner: column sums over the sequences, one SIMD row per (t, strip)
// with the B rows dx[b][t] as its beats.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_exec.h"
#include "ops_util.h"
#include "program.h"
#include "sparrow_nn.h"

#define AL SPARROW_SIMD_PRED_ALWAYS
#define P0 SPARROW_SIMD_PRED_P0
#define P1 SPARROW_SIMD_PRED_P1
#define IMM SPARROW_SIMD_SRC_IMM
#define F_ZERO 0x00000000u
#define NONE SPARROW_SW_NO_SOURCE
#define RELEASE (1u << SPARROW_GATHER_RELEASE_BIT)
#define ADDR_LIMIT 0x80000000ull  // every buffer and stride within signed 32 bits

// Flags of the backward's control stream.
#define FLAG_ADD 0u
#define FLAG_ADD_END 1u
#define FLAG_END 3u

// One list of index words: a forward block of tokens, or a backward chunk of rows.
typedef struct emb_seg {
  uint32_t b0, nbseq, t0, nt;  // forward: sequences [b0, b0 + nbseq) x positions [t0, t0 + nt)
  uint32_t r0, rows;           // backward: rows [r0, r0 + rows)
  uint32_t count;              // index words of the list (and backward flag beats)
  uint64_t idx_off;            // byte offset of the list in the index buffer
  uint64_t flags_off;          // backward: byte offset of its flag beats
} emb_seg_t;

typedef struct emb_plan {
  bool backward;
  uint32_t B, T, V, C;
  uint32_t lanes, np, nstrips, lines;
  uint32_t tiles_used;
  uint32_t strip_first[SPARROW_MAX_TILES], strip_count[SPARROW_MAX_TILES];
  uint32_t cw;                                             // strips per column chunk, at most
  uint32_t rounds;                                         // column chunks of the busiest tile
  uint32_t buf_idx, buf_flags, buf_src, buf_wpe, buf_out;  // src: wte (forward), dx (backward)
  uint32_t nsegs;
  emb_seg_t seg[];
} emb_plan_t;

// The strips tile t works on in round j: [*s0, *s0 + return value).
static uint32_t chunk_of(const emb_plan_t *p, uint32_t t, uint32_t j, uint32_t *s0) {
  uint32_t done = j * p->cw;
  *s0 = p->strip_first[t] + done;
  return done >= p->strip_count[t] ? 0u : min_u32(p->cw, p->strip_count[t] - done);
}

// ---------------------------------------------------------------------------------------------------
// Plans.

static sparrow_ops_status_t check_common(const sparrow_ops_fabric_t *f,
                                         const sparrow_ops_embed_t *e, const uint32_t *tokens,
                                         char *msg, size_t msg_len) {
  if (f == NULL || e == NULL || tokens == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "embedding: bad argument");
    return SPARROW_OPS_E_ARG;
  }
  if (e->batch == 0 || e->seq == 0 || e->vocab == 0 || e->channels == 0) {
    sparrow_ops_set_msg(msg, msg_len, "embedding: empty shape (B %u, T %u, V %u, C %u)", e->batch,
                        e->seq, e->vocab, e->channels);
    return SPARROW_OPS_E_ARG;
  }
  if (f->tiles == 0 || f->tiles > SPARROW_MAX_TILES || f->lanes == 0 || f->pmu_words < f->lanes ||
      f->prog_entries < 16) {
    sparrow_ops_set_msg(msg, msg_len, "embedding: impossible fabric (%u tiles, %u lanes)", f->tiles,
                        f->lanes);
    return SPARROW_OPS_E_ARG;
  }
  uint64_t n = (uint64_t)e->batch * e->seq;
  uint64_t np = ((uint64_t)e->channels + f->lanes - 1u) / f->lanes * f->lanes;
  uint64_t rows = n > e->vocab ? n : e->vocab;
  if (n > 0xFFFFFFu || 4u * np * rows >= ADDR_LIMIT || e->vocab > 0xFFFFFFu) {
    sparrow_ops_set_msg(msg, msg_len,
                        "embedding: %llu tokens of %llu columns do not fit 32-bit device buffers",
                        (unsigned long long)n, (unsigned long long)np);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  for (uint64_t i = 0; i < n; ++i) {
    if (tokens[i] >= e->vocab) {
      sparrow_ops_set_msg(msg, msg_len,
                          "embedding: token %llu is %u, outside the vocabulary of %u rows",
                          (unsigned long long)i, tokens[i], e->vocab);
      return SPARROW_OPS_E_ARG;
    }
  }
  return SPARROW_OPS_OK;
}

// The strips' split over the tiles and the column chunk width for `rows_per_strip` PMU lines per
// strip (0 when they do not fit).
static void split_strips(emb_plan_t *p, const sparrow_ops_fabric_t *f, uint32_t rows_per_strip) {
  p->lanes = f->lanes;
  p->np = ceil_div_u32(p->C, f->lanes) * f->lanes;
  p->nstrips = p->np / f->lanes;
  p->lines = f->pmu_words / f->lanes;
  p->tiles_used = min_u32(f->tiles, p->nstrips);
  uint32_t base = p->nstrips / p->tiles_used, extra = p->nstrips % p->tiles_used;
  uint32_t most = 0;
  for (uint32_t t = 0; t < p->tiles_used; ++t) {
    p->strip_count[t] = base + (t < extra ? 1u : 0u);
    p->strip_first[t] = t * base + (t < extra ? t : extra);
    most = p->strip_count[t] > most ? p->strip_count[t] : most;
  }
  p->cw = min_u32(most, p->lines / rows_per_strip);
  p->rounds = p->cw == 0 ? 0 : ceil_div_u32(most, p->cw);
}

static emb_plan_t *new_plan(const sparrow_ops_embed_t *e, uint32_t nsegs) {
  emb_plan_t *p = calloc(1, sizeof(emb_plan_t) + (size_t)nsegs * sizeof(emb_seg_t));
  if (p != NULL) {
    p->B = e->batch;
    p->T = e->seq;
    p->V = e->vocab;
    p->C = e->channels;
    p->nsegs = nsegs;
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------
// The fabric programs.

typedef struct build_ctx {
  const sparrow_ops_exec_t *exec;
  const emb_plan_t *plan;
  const sparrow_ops_exec_job_t *job;
  const uint64_t *addr;
  sparrow_ops_exec_load_t load[SPARROW_MAX_TILES];
  uint64_t est;  // the phases emitted so far (entries are added per launch)
} build_ctx_t;

static sparrow_ops_agen_t agen(uint64_t base, uint32_t c0, int64_t s0, uint32_t c1, int64_t s1,
                               uint32_t c2, int64_t s2) {
  sparrow_ops_agen_t g = {
      (uint32_t)base, {c0, c1, c2, 1}, {(int32_t)s0, (int32_t)s1, (int32_t)s2, 0}};
  return g;
}

// Every destination of every tile: the ones given, the rest disabled (no route an earlier program
// left can feed or stall this phase).
static sparrow_ops_prog_status_t routes(sparrow_ops_prog_t *prog, uint32_t tile, uint32_t pmu_wr0,
                                        uint32_t pmu_wr1, uint32_t pcu_a, uint32_t pcu_b,
                                        uint32_t agcu_wr) {
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_route(prog, tile, SPARROW_DST_AGCU_WR, tile, agcu_wr));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_route(prog, tile, SPARROW_DST_PMU_WR0, tile, pmu_wr0));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_route(prog, tile, SPARROW_DST_PMU_WR1, tile, pmu_wr1));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_route(prog, tile, SPARROW_DST_PCU_A, tile, pcu_a));
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_route(prog, tile, SPARROW_DST_PCU_B, tile, pcu_b));
  return sparrow_ops_prog_route(prog, tile, SPARROW_DST_PCU_C, tile, NONE);
}

static sparrow_ops_prog_status_t end_phase(sparrow_ops_prog_t *prog, build_ctx_t *c) {
  c->est += sparrow_ops_exec_estimate_phase(&c->exec->fabric, c->load, c->exec->fabric.tiles);
  memset(c->load, 0, sizeof(c->load));
  return sparrow_ops_prog_run(prog);
}

// LOAD: the program into every PCU of the job (AGCU read 0 -> PCU a).
static sparrow_ops_prog_status_t phase_load(sparrow_ops_prog_t *prog, build_ctx_t *c) {
  const emb_plan_t *p = c->plan;
  const uint32_t beat = 4u * p->lanes;
  for (uint32_t t = 0; t < c->exec->fabric.tiles; ++t) {
    if (t >= p->tiles_used) {
      SPARROW_OPS_PROG_TRY(routes(prog, t, NONE, NONE, NONE, NONE, NONE));
      continue;
    }
    SPARROW_OPS_PROG_TRY(routes(prog, t, NONE, NONE, SPARROW_SRC_AGCU_RD0, NONE, NONE));
    sparrow_ops_agen_t code = agen(c->addr[c->job->code_buf], c->job->code_beats, beat, 1, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD0, &code));
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pcu_load(prog, t, 0, c->job->code_beats));
    c->load[t].agcu_rd[0] = c->job->code_beats;
    c->load[t].pcu = c->job->code_beats;
  }
  return end_phase(prog, c);
}

static sparrow_ops_prog_status_t pcu_simd(sparrow_ops_prog_t *prog, build_ctx_t *c, uint32_t t,
                                          uint32_t rows, uint32_t beats) {
  sparrow_ops_simd_walk_t walk;
  memset(&walk, 0, sizeof(walk));
  walk.rows = rows;
  walk.beats = beats;
  walk.passes = 1;
  for (uint32_t seg = 0; seg < SPARROW_SIMD_SEGMENTS; ++seg) {
    walk.seg[seg] = sparrow_simd_asm_seg_reg(c->job->code, seg, 0);
  }
  c->load[t].pcu = sparrow_ops_exec_simd_groups(c->job->code, c->plan->lanes, rows, beats, 1);
  return sparrow_ops_prog_pcu_simd(prog, t, &walk);
}

// The index list of segment k into the index memory (AGCU read 1 -> PMU write 1), tile t.
static sparrow_ops_prog_status_t load_index(sparrow_ops_prog_t *prog, build_ctx_t *c, uint32_t t,
                                            const emb_seg_t *seg) {
  const uint32_t beat = 4u * c->plan->lanes;
  uint32_t idx_lines = ceil_div_u32(seg->count, c->plan->lanes);
  sparrow_ops_agen_t rd =
      agen(c->addr[c->plan->buf_idx] + seg->idx_off, idx_lines, beat, 1, 0, 1, 0);
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD1, &rd));
  sparrow_ops_agen_t wr = agen(0, idx_lines, 1, 1, 0, 1, 0);
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_index(prog, t, SPARROW_PMU_PORT_WR1, &wr));
  c->load[t].agcu_rd[1] += idx_lines;
  c->load[t].pmu = c->load[t].pmu > idx_lines ? c->load[t].pmu : idx_lines;
  return SPARROW_OPS_PROG_OK;
}

static sparrow_ops_prog_status_t no_sync(sparrow_ops_prog_t *prog, uint32_t t) {
  SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(prog, t, 0, 0, 0, 0, 0));
  return sparrow_ops_prog_pmu_sync(prog, t, 1, 0, 0, 0, 0);
}

// Forward: fill (wte's chunk and, when `with_index`, the block's list) or index only.
static sparrow_ops_prog_status_t fwd_fill(sparrow_ops_prog_t *prog, build_ctx_t *c, uint32_t j,
                                          uint32_t k, bool with_wte) {
  const emb_plan_t *p = c->plan;
  const uint32_t beat = 4u * p->lanes;
  for (uint32_t t = 0; t < c->exec->fabric.tiles; ++t) {
    uint32_t s0 = 0;
    uint32_t S = t < p->tiles_used ? chunk_of(p, t, j, &s0) : 0u;
    if (S == 0) {
      SPARROW_OPS_PROG_TRY(routes(prog, t, NONE, NONE, NONE, NONE, NONE));
      continue;
    }
    SPARROW_OPS_PROG_TRY(routes(prog, t, with_wte ? SPARROW_SRC_AGCU_RD0 : NONE,
                                SPARROW_SRC_AGCU_RD1, NONE, NONE, NONE));
    SPARROW_OPS_PROG_TRY(no_sync(prog, t));
    if (with_wte) {
      sparrow_ops_agen_t rd =
          agen(c->addr[p->buf_src] + (uint64_t)s0 * beat, S, beat, p->V, 4ll * p->np, 1, 0);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD0, &rd));
      sparrow_ops_agen_t wr = agen(0, S * p->V, 1, 1, 0, 1, 0);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(prog, t, SPARROW_PMU_PORT_WR0, &wr));
      c->load[t].agcu_rd[0] = (uint64_t)S * p->V;
      c->load[t].pmu = (uint64_t)S * p->V;
    }
    SPARROW_OPS_PROG_TRY(load_index(prog, c, t, &p->seg[k]));
  }
  return end_phase(prog, c);
}

static sparrow_ops_prog_status_t fwd_compute(sparrow_ops_prog_t *prog, build_ctx_t *c, uint32_t j,
                                             uint32_t k) {
  const emb_plan_t *p = c->plan;
  const emb_seg_t *seg = &p->seg[k];
  const uint32_t beat = 4u * p->lanes;
  const uint64_t pitch = 4ull * p->np;
  for (uint32_t t = 0; t < c->exec->fabric.tiles; ++t) {
    uint32_t s0 = 0;
    uint32_t S = t < p->tiles_used ? chunk_of(p, t, j, &s0) : 0u;
    if (S == 0) {
      SPARROW_OPS_PROG_TRY(routes(prog, t, NONE, NONE, NONE, NONE, NONE));
      continue;
    }
    SPARROW_OPS_PROG_TRY(routes(prog, t, NONE, NONE, SPARROW_SRC_PMU_RD0, SPARROW_SRC_AGCU_RD1,
                                SPARROW_SRC_PCU_OUT));
    // For each token id w of the list, lines w*S + s, s < S: wte[w]'s strips of the chunk.
    sparrow_ops_agen_t gather = agen(0, S, 1, 1, S, 1, 0);
    SPARROW_OPS_PROG_TRY(
        sparrow_ops_prog_pmu_gather(prog, t, SPARROW_PMU_PORT_RD0, &gather, 0, seg->count));
    sparrow_ops_agen_t pe = agen(c->addr[p->buf_wpe] + seg->t0 * pitch + (uint64_t)s0 * beat, S,
                                 beat, seg->nt, (int64_t)pitch, seg->nbseq, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD1, &pe));
    sparrow_ops_agen_t out = agen(
        c->addr[p->buf_out] + ((uint64_t)seg->b0 * p->T + seg->t0) * pitch + (uint64_t)s0 * beat, S,
        beat, seg->nt, (int64_t)pitch, seg->nbseq, (int64_t)pitch * p->T);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_WR, &out));
    SPARROW_OPS_PROG_TRY(pcu_simd(prog, c, t, seg->count, S));
    uint64_t beats = (uint64_t)seg->count * S;
    c->load[t].agcu_rd[1] = beats;
    c->load[t].agcu_wr = beats;
    c->load[t].pmu = beats;
  }
  return end_phase(prog, c);
}

// Backward (dwte): the chunk's rows (and the index list), then the partial sums, then compute.
static sparrow_ops_prog_status_t bwd_fill(sparrow_ops_prog_t *prog, build_ctx_t *c, uint32_t j,
                                          uint32_t k) {
  const emb_plan_t *p = c->plan;
  const emb_seg_t *seg = &p->seg[k];
  const uint32_t beat = 4u * p->lanes;
  const uint64_t pitch = 4ull * p->np;
  for (uint32_t t = 0; t < c->exec->fabric.tiles; ++t) {
    uint32_t s0 = 0;
    uint32_t S = t < p->tiles_used ? chunk_of(p, t, j, &s0) : 0u;
    if (S == 0) {
      SPARROW_OPS_PROG_TRY(routes(prog, t, NONE, NONE, NONE, NONE, NONE));
      continue;
    }
    SPARROW_OPS_PROG_TRY(
        routes(prog, t, SPARROW_SRC_AGCU_RD0, SPARROW_SRC_AGCU_RD1, NONE, NONE, NONE));
    SPARROW_OPS_PROG_TRY(no_sync(prog, t));
    sparrow_ops_agen_t rd = agen(c->addr[p->buf_src] + seg->r0 * pitch + (uint64_t)s0 * beat, S,
                                 beat, seg->rows, (int64_t)pitch, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD0, &rd));
    sparrow_ops_agen_t wr = agen(0, S * seg->rows, 1, 1, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(prog, t, SPARROW_PMU_PORT_WR0, &wr));
    c->load[t].agcu_rd[0] = (uint64_t)S * seg->rows;
    c->load[t].pmu = (uint64_t)S * seg->rows;
    SPARROW_OPS_PROG_TRY(load_index(prog, c, t, seg));
  }
  SPARROW_OPS_PROG_TRY(end_phase(prog, c));
  if (k == 0) {
    return SPARROW_OPS_PROG_OK;
  }
  // The partial sums of the previous chunk: lines (rows + v)*S + s.
  for (uint32_t t = 0; t < c->exec->fabric.tiles; ++t) {
    uint32_t s0 = 0;
    uint32_t S = t < p->tiles_used ? chunk_of(p, t, j, &s0) : 0u;
    if (S == 0) {
      SPARROW_OPS_PROG_TRY(routes(prog, t, NONE, NONE, NONE, NONE, NONE));
      continue;
    }
    SPARROW_OPS_PROG_TRY(routes(prog, t, SPARROW_SRC_AGCU_RD0, NONE, NONE, NONE, NONE));
    sparrow_ops_agen_t rd =
        agen(c->addr[p->buf_out] + (uint64_t)s0 * beat, S, beat, p->V, (int64_t)pitch, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD0, &rd));
    sparrow_ops_agen_t wr = agen(S * seg->rows, S * p->V, 1, 1, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(prog, t, SPARROW_PMU_PORT_WR0, &wr));
    c->load[t].agcu_rd[0] = (uint64_t)S * p->V;
    c->load[t].pmu = (uint64_t)S * p->V;
  }
  return end_phase(prog, c);
}

static sparrow_ops_prog_status_t bwd_compute(sparrow_ops_prog_t *prog, build_ctx_t *c, uint32_t j,
                                             uint32_t k) {
  const emb_plan_t *p = c->plan;
  const emb_seg_t *seg = &p->seg[k];
  const uint32_t beat = 4u * p->lanes;
  const uint64_t pitch = 4ull * p->np;
  for (uint32_t t = 0; t < c->exec->fabric.tiles; ++t) {
    uint32_t s0 = 0;
    uint32_t S = t < p->tiles_used ? chunk_of(p, t, j, &s0) : 0u;
    if (S == 0) {
      SPARROW_OPS_PROG_TRY(routes(prog, t, NONE, NONE, NONE, NONE, NONE));
      continue;
    }
    SPARROW_OPS_PROG_TRY(routes(prog, t, NONE, NONE, SPARROW_SRC_PMU_RD0, SPARROW_SRC_AGCU_RD0,
                                SPARROW_SRC_PCU_OUT));
    // Entry offset w, pass s (the slot, moved on by the release on the list's last word): line
    // w*S + s.
    sparrow_ops_agen_t gather = agen(0, 1, 0, 1, S, S, 1);
    gather.count[3] = S;
    SPARROW_OPS_PROG_TRY(
        sparrow_ops_prog_pmu_gather(prog, t, SPARROW_PMU_PORT_RD0, &gather, 0, seg->count));
    sparrow_ops_agen_t flags =
        agen(c->addr[p->buf_flags] + seg->flags_off, seg->count, beat, S, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD0, &flags));
    sparrow_ops_agen_t out =
        agen(c->addr[p->buf_out] + (uint64_t)s0 * beat, p->V, (int64_t)pitch, S, beat, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_WR, &out));
    SPARROW_OPS_PROG_TRY(pcu_simd(prog, c, t, S, seg->count));
    uint64_t beats = (uint64_t)seg->count * S;
    c->load[t].agcu_rd[0] = beats;
    c->load[t].agcu_wr = (uint64_t)p->V * S;
    c->load[t].pmu = beats;
  }
  return end_phase(prog, c);
}

// One step (round j, segment k): its fill phase(s) when `fresh` (the first step of a launch or of
// a round) or the index only, then its compute phase.
static sparrow_ops_prog_status_t emit_step(sparrow_ops_prog_t *prog, build_ctx_t *c, uint32_t j,
                                           uint32_t k, bool fresh) {
  if (c->plan->backward) {
    SPARROW_OPS_PROG_TRY(bwd_fill(prog, c, j, k));
    return bwd_compute(prog, c, j, k);
  }
  SPARROW_OPS_PROG_TRY(fwd_fill(prog, c, j, k, fresh));
  return fwd_compute(prog, c, j, k);
}

// The steps in order, as many per launch as the program memory holds; every launch first loads
// the SIMD program (and, in the forward, refills wte's chunk), so it relies on nothing an earlier
// one left.
static sparrow_ops_status_t build(const sparrow_ops_exec_t *exec, uint32_t jn, const uint64_t *addr,
                                  sparrow_ops_programs_t *programs, uint64_t *est_cycles) {
  const emb_plan_t *p = exec->ctx;
  memset(programs, 0, sizeof(*programs));
  sparrow_ops_prog_t *prog = malloc(sizeof(*prog));
  sparrow_ops_prog_mark_t *mark = malloc(sizeof(*mark));
  build_ctx_t *c = calloc(1, sizeof(*c));
  if (prog == NULL || mark == NULL || c == NULL) {
    free(prog), free(mark), free(c);
    return SPARROW_OPS_E_NOMEM;
  }
  c->exec = exec;
  c->plan = p;
  c->job = &exec->job[jn];
  c->addr = addr;
  sparrow_ops_status_t status = sparrow_ops_prog_status(
      sparrow_ops_prog_init(prog, exec->fabric.tiles, exec->fabric.prog_entries));
  uint64_t est = 0;
  bool open = false;  // a launch is being written
  for (uint32_t j = 0; j < p->rounds && status == SPARROW_OPS_OK; ++j) {
    for (uint32_t k = 0; k < p->nsegs && status == SPARROW_OPS_OK; ++k) {
      for (int attempt = 0; attempt < 2; ++attempt) {
        if (!open) {
          sparrow_ops_prog_clear(prog);
          c->est = 0;
          memset(c->load, 0, sizeof(c->load));
          status = sparrow_ops_prog_status(phase_load(prog, c));
          if (status != SPARROW_OPS_OK) {
            break;
          }
          open = true;
        }
        sparrow_ops_prog_mark(prog, mark);
        uint64_t est_mark = c->est;
        bool fresh = attempt == 1 || k == 0;
        sparrow_ops_prog_status_t pst = emit_step(prog, c, j, k, fresh);
        if (pst == SPARROW_OPS_PROG_OK) {
          break;
        }
        if (pst != SPARROW_OPS_PROG_E_FULL || attempt == 1) {
          status =
              sparrow_ops_prog_status(pst);  // a step alone does not fit an empty launch: refused
          break;
        }
        // Full: close this launch before the step and start the next one with it.
        sparrow_ops_prog_rollback(prog, mark);
        c->est = est_mark;
        memset(c->load, 0, sizeof(c->load));
        status = sparrow_ops_prog_status(sparrow_ops_prog_end(prog));
        if (status == SPARROW_OPS_OK) {
          est += c->est + (uint64_t)prog->count * SPARROW_OPS_MODEL_ENTRY_CYCLES;
          status = sparrow_ops_programs_push(programs, prog);
        }
        open = false;
        if (status != SPARROW_OPS_OK) {
          break;
        }
      }
    }
  }
  if (status == SPARROW_OPS_OK && open) {
    status = sparrow_ops_prog_status(sparrow_ops_prog_end(prog));
    if (status == SPARROW_OPS_OK) {
      est += c->est + (uint64_t)prog->count * SPARROW_OPS_MODEL_ENTRY_CYCLES;
      status = sparrow_ops_programs_push(programs, prog);
    }
  }
  sparrow_ops_prog_free(prog);
  free(prog), free(mark), free(c);
  if (status != SPARROW_OPS_OK) {
    sparrow_ops_programs_free(programs);
    return status;
  }
  *est_cycles = est;
  return SPARROW_OPS_OK;
}

// ---------------------------------------------------------------------------------------------------
// Forward.

static sparrow_ops_status_t fail(sparrow_ops_exec_t *exec, sparrow_ops_status_t st,
                                 const char *what, char *msg, size_t msg_len) {
  if (what != NULL) {
    sparrow_ops_set_msg(msg, msg_len, "embedding: %s (%s)", what, sparrow_ops_status_name(st));
  }
  sparrow_ops_exec_free(exec);
  return st;
}

sparrow_ops_status_t sparrow_ops_embedding_prepare(const sparrow_ops_fabric_t *fabric,
                                                   const sparrow_ops_embed_t *e,
                                                   const uint32_t *tokens, const uint32_t *wte,
                                                   const uint32_t *wpe, sparrow_ops_exec_t *exec,
                                                   char *msg, size_t msg_len) {
  sparrow_ops_status_t st = check_common(fabric, e, tokens, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  if (wte == NULL || wpe == NULL || exec == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "embedding: a tensor is NULL");
    return SPARROW_OPS_E_ARG;
  }
  const uint32_t B = e->batch, T = e->seq, V = e->vocab, C = e->channels;
  const uint32_t idx_words = SPARROW_PMU_IDX_WORDS;
  // Blocks of whole sequences when a sequence fits the index memory, else pieces of sequences.
  uint32_t per_block = T <= idx_words ? min_u32(B, idx_words / T) : 1u;
  uint32_t t_pieces = T <= idx_words ? 1u : ceil_div_u32(T, idx_words);
  uint32_t nsegs = ceil_div_u32(B, per_block) * t_pieces;
  emb_plan_t *p = new_plan(e, nsegs);
  if (p == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "embedding: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  sparrow_ops_exec_init(exec, fabric);
  exec->ctx = p;
  split_strips(p, fabric, V);
  if (p->cw == 0) {
    sparrow_ops_set_msg(
        msg, msg_len,
        "embedding: the vocabulary (%u rows) does not fit a PMU of %u lines (one line per "
        "row and strip of %u columns)",
        V, p->lines, fabric->lanes);
    return fail(exec, SPARROW_OPS_E_UNSUPPORTED, NULL, msg, msg_len);
  }
  const uint32_t lanes = fabric->lanes, np = p->np;
  uint64_t idx_bytes = 0;
  uint32_t k = 0;
  for (uint32_t b0 = 0; b0 < B; b0 += per_block) {
    for (uint32_t t0 = 0; t0 < T; t0 += idx_words) {
      emb_seg_t *s = &p->seg[k++];
      s->b0 = b0;
      s->nbseq = min_u32(per_block, B - b0);
      s->t0 = t0;
      s->nt = min_u32(T - t0, idx_words);
      s->count = s->nbseq * s->nt;
      s->idx_off = idx_bytes;
      idx_bytes += 4ull * ceil_div_u32(s->count, lanes) * lanes;
    }
  }
  const uint64_t pitch = 4ull * np;
  uint32_t bufs[4];
  if ((st = sparrow_ops_exec_add_buf(exec, "token ids", idx_bytes, SPARROW_OPS_EXEC_IN,
                                     &bufs[0])) != SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "wte", V * pitch, SPARROW_OPS_EXEC_IN, &bufs[1])) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "wpe", T * pitch, SPARROW_OPS_EXEC_IN, &bufs[2])) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "x", (uint64_t)B * T * pitch, SPARROW_OPS_EXEC_OUT,
                                     &bufs[3])) != SPARROW_OPS_OK) {
    return fail(exec, st, "cannot allocate the host images", msg, msg_len);
  }
  p->buf_idx = bufs[0];
  p->buf_src = bufs[1];
  p->buf_wpe = bufs[2];
  p->buf_out = bufs[3];
  for (k = 0; k < nsegs; ++k) {
    const emb_seg_t *s = &p->seg[k];
    uint32_t *list = exec->buf[p->buf_idx].image + s->idx_off / 4u;
    uint32_t at = 0;
    for (uint32_t b = s->b0; b < s->b0 + s->nbseq; ++b) {
      for (uint32_t t = s->t0; t < s->t0 + s->nt; ++t) {
        list[at++] = tokens[(size_t)b * T + t];
      }
    }
  }
  for (uint32_t v = 0; v < V; ++v) {
    memcpy(exec->buf[p->buf_src].image + (size_t)v * np, wte + (size_t)v * C, 4u * (size_t)C);
  }
  for (uint32_t t = 0; t < T; ++t) {
    memcpy(exec->buf[p->buf_wpe].image + (size_t)t * np, wpe + (size_t)t * C, 4u * (size_t)C);
  }
  sparrow_simd_asm_t *as = sparrow_ops_exec_new_code(exec);
  if (as == NULL) {
    return fail(exec, SPARROW_OPS_E_NOMEM, "host out of memory", msg, msg_len);
  }
  uint32_t w = sparrow_simd_reg_alloc(as), pe = sparrow_simd_reg_alloc(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_pop(as, w, SPARROW_SIMD_PORT_A);
  sparrow_simd_pop(as, pe, SPARROW_SIMD_PORT_B);
  sparrow_simd_fadd(as, AL, w, w, pe, 0);
  sparrow_simd_push(as, AL, w, 0);
  sparrow_simd_seg_end(as);
  st = sparrow_ops_exec_add_custom(exec, as, build, p->tiles_used, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return fail(exec, st, NULL, msg, msg_len);
  }
  return SPARROW_OPS_OK;
}

void sparrow_ops_embedding_finish(const sparrow_ops_exec_t *exec, uint32_t *x) {
  const emb_plan_t *p = exec->ctx;
  const uint32_t *image = exec->buf[p->buf_out].image;
  for (size_t r = 0; r < (size_t)p->B * p->T; ++r) {
    memcpy(x + r * p->C, image + r * p->np, 4u * (size_t)p->C);
  }
}

// ---------------------------------------------------------------------------------------------------
// Backward.

sparrow_ops_status_t sparrow_ops_embedding_bwd_prepare(const sparrow_ops_fabric_t *fabric,
                                                       const sparrow_ops_embed_t *e,
                                                       const uint32_t *tokens, const uint32_t *dx,
                                                       uint32_t max_chunk_rows,
                                                       sparrow_ops_exec_t *exec, char *msg,
                                                       size_t msg_len) {
  sparrow_ops_status_t st = check_common(fabric, e, tokens, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return st;
  }
  if (dx == NULL || exec == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "embedding_bwd: a tensor is NULL");
    return SPARROW_OPS_E_ARG;
  }
  const uint32_t B = e->batch, T = e->seq, V = e->vocab, C = e->channels, N = B * T;
  const uint32_t idx_words = SPARROW_PMU_IDX_WORDS, lines = fabric->pmu_words / fabric->lanes;
  // A chunk's list holds its rows plus at most one entry per vocabulary row; the PMU its rows
  // and the V partial sums, S lines each.
  if (V >= idx_words || V >= lines) {
    sparrow_ops_set_msg(
        msg, msg_len,
        "embedding_bwd: the vocabulary (%u rows) must be below the index memory (%u words) "
        "and the PMU (%u lines)",
        V, idx_words, lines);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  uint32_t R = min_u32(N, min_u32(idx_words - V, lines - V));
  if (max_chunk_rows != 0) {
    R = min_u32(R, max_chunk_rows);  // tests: force several chunks
  }
  uint32_t nsegs = ceil_div_u32(N, R);
  emb_plan_t *p = new_plan(e, nsegs);
  if (p == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "embedding_bwd: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  sparrow_ops_exec_init(exec, fabric);
  exec->ctx = p;
  p->backward = true;
  split_strips(p, fabric, R + V);
  const uint32_t lanes = fabric->lanes, np = p->np;
  const uint64_t pitch = 4ull * np;
  // The lists: per chunk, for each v: the partial sum (from the second chunk), the chunk's rows
  // with token v in ascending order, or one dummy entry.
  uint32_t *count_v = calloc(V, sizeof(uint32_t));
  if (count_v == NULL) {
    return fail(exec, SPARROW_OPS_E_NOMEM, "host out of memory", msg, msg_len);
  }
  uint64_t idx_bytes = 0, flag_bytes = 0;
  for (uint32_t k = 0; k < nsegs; ++k) {
    emb_seg_t *s = &p->seg[k];
    s->r0 = k * R;
    s->rows = min_u32(R, N - s->r0);
    memset(count_v, 0, V * sizeof(uint32_t));
    for (uint32_t r = s->r0; r < s->r0 + s->rows; ++r) {
      count_v[tokens[r]]++;
    }
    s->count = 0;
    for (uint32_t v = 0; v < V; ++v) {
      s->count += (k > 0 ? 1u : 0u) + count_v[v];
      s->count += (k == 0 && count_v[v] == 0) ? 1u : 0u;
    }
    s->idx_off = idx_bytes;
    s->flags_off = flag_bytes;
    idx_bytes += 4ull * ceil_div_u32(s->count, lanes) * lanes;
    flag_bytes += 4ull * s->count * lanes;
  }
  uint32_t bufs[5];
  if ((st = sparrow_ops_exec_add_buf(exec, "index lists", idx_bytes, SPARROW_OPS_EXEC_IN,
                                     &bufs[0])) != SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "flags", flag_bytes, SPARROW_OPS_EXEC_IN, &bufs[1])) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "dx", (uint64_t)N * pitch, SPARROW_OPS_EXEC_IN,
                                     &bufs[2])) != SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "dwte", V * pitch, SPARROW_OPS_EXEC_OUT, &bufs[3])) !=
          SPARROW_OPS_OK ||
      (st = sparrow_ops_exec_add_buf(exec, "dwpe", T * pitch, SPARROW_OPS_EXEC_OUT, &bufs[4])) !=
          SPARROW_OPS_OK) {
    free(count_v);
    return fail(exec, st, "cannot allocate the host images", msg, msg_len);
  }
  p->buf_idx = bufs[0];
  p->buf_flags = bufs[1];
  p->buf_src = bufs[2];
  p->buf_out = bufs[3];
  // The rows of a chunk by token (a counting sort: ascending rows within each token).
  uint32_t *first = calloc((size_t)V + 1u, sizeof(uint32_t));
  uint32_t *order = calloc((size_t)R + 1u, sizeof(uint32_t));
  if (first == NULL || order == NULL) {
    free(count_v), free(first), free(order);
    return fail(exec, SPARROW_OPS_E_NOMEM, "host out of memory", msg, msg_len);
  }
  for (uint32_t k = 0; k < nsegs; ++k) {
    const emb_seg_t *s = &p->seg[k];
    memset(first, 0, ((size_t)V + 1u) * sizeof(uint32_t));
    for (uint32_t r = s->r0; r < s->r0 + s->rows; ++r) {
      first[tokens[r] + 1u]++;
    }
    for (uint32_t v = 0; v < V; ++v) {
      first[v + 1u] += first[v];
    }
    memcpy(count_v, first, V * sizeof(uint32_t));  // the next free place of each token
    for (uint32_t r = s->r0; r < s->r0 + s->rows; ++r) {
      order[count_v[tokens[r]]++] = r - s->r0;
    }
    uint32_t *list = exec->buf[p->buf_idx].image + s->idx_off / 4u;
    uint32_t *flags = exec->buf[p->buf_flags].image + s->flags_off / 4u;
    uint32_t at = 0;
    for (uint32_t v = 0; v < V; ++v) {
      uint32_t n = first[v + 1u] - first[v];
      uint32_t start = at;
      if (k > 0) {
        list[at] = s->rows + v;  // the partial sum's lines
        flags[at++] = FLAG_ADD;
      }
      for (uint32_t i = 0; i < n; ++i) {
        list[at] = order[first[v] + i];
        flags[at++] = FLAG_ADD;
      }
      if (at == start) {
        list[at] = 0;  // any row: not added
        flags[at++] = FLAG_END;
      } else {
        flags[at - 1u] = FLAG_ADD_END;
      }
    }
    list[at - 1u] |= RELEASE;  // the next pass over the list reads the next strip
    // Each flag fills its beat (every lane decides alike); expand in place from the back.
    for (uint32_t i = at; i-- > 0;) {
      uint32_t f = flags[i];
      for (uint32_t l = 0; l < lanes; ++l) {
        flags[(size_t)i * lanes + l] = f;
      }
    }
  }
  free(count_v), free(first), free(order);
  for (uint32_t r = 0; r < N; ++r) {
    memcpy(exec->buf[p->buf_src].image + (size_t)r * np, dx + (size_t)r * C, 4u * (size_t)C);
  }

  // Job 1: dwte.
  sparrow_simd_asm_t *as = sparrow_ops_exec_new_code(exec);
  if (as == NULL) {
    return fail(exec, SPARROW_OPS_E_NOMEM, "host out of memory", msg, msg_len);
  }
  uint32_t acc = sparrow_simd_reg_alloc(as), v = sparrow_simd_reg_alloc(as);
  uint32_t f = sparrow_simd_reg_alloc(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_PROLOGUE);
  sparrow_simd_mov(as, AL, acc, IMM, F_ZERO);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_pop(as, v, SPARROW_SIMD_PORT_A);
  sparrow_simd_pop(as, f, SPARROW_SIMD_PORT_B);
  sparrow_simd_cltu(as, AL, 0, f, IMM, 2);  // p0: add
  sparrow_simd_fadd(as, P0, acc, acc, v, 0);
  sparrow_simd_cltu(as, AL, 1, IMM, f, 0);  // p1: end of the group
  sparrow_simd_push(as, P1, acc, 0);
  sparrow_simd_mov(as, P1, acc, IMM, F_ZERO);
  sparrow_simd_seg_end(as);
  st = sparrow_ops_exec_add_custom(exec, as, build, p->tiles_used, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return fail(exec, st, NULL, msg, msg_len);
  }

  // Job 2: dwpe, column sums over b: SIMD row (t, strip) = t * nstrips + strip (one beat apart:
  // the strips of row t are contiguous), beats dx[b][t]'s strip for b ascending. The body adds
  // the beat popped one iteration earlier (+0.0 at first: +0 + +0 = +0, exact) before popping the
  // next; the end of the pass adds the last.
  as = sparrow_ops_exec_new_code(exec);
  if (as == NULL) {
    return fail(exec, SPARROW_OPS_E_NOMEM, "host out of memory", msg, msg_len);
  }
  acc = sparrow_simd_reg_alloc(as);
  v = sparrow_simd_reg_alloc(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_PROLOGUE);
  sparrow_simd_mov(as, AL, acc, IMM, F_ZERO);
  sparrow_simd_mov(as, AL, v, IMM, F_ZERO);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_BODY(0));
  sparrow_simd_fadd(as, AL, acc, acc, v, 0);
  sparrow_simd_pop(as, v, SPARROW_SIMD_PORT_A);
  sparrow_simd_seg_end(as);
  sparrow_simd_seg_begin(as, SPARROW_SIMD_SEG_END(0));
  sparrow_simd_fadd(as, AL, acc, acc, v, 0);
  sparrow_simd_push(as, AL, acc, 0);
  sparrow_simd_seg_end(as);
  sparrow_ops_simd_job_t job;
  memset(&job, 0, sizeof(job));
  job.code = as;
  job.rows = T * p->nstrips;
  job.beats = B;
  job.passes = 1;
  const uint32_t beat = 4u * lanes;
  sparrow_ops_simd_stream_t in = {1, (uint64_t)N * pitch, B, (uint32_t)(T * pitch), 1, beat};
  sparrow_ops_simd_stream_t out = {1, T * pitch, 1, 0, 1, beat};
  job.in[0] = in;
  job.out = out;
  const uint32_t in_buf[2] = {p->buf_src, SPARROW_OPS_EXEC_NONE};
  const uint64_t in_off[2] = {0, 0};
  st = sparrow_ops_exec_add_simd(exec, &job, in_buf, in_off, bufs[4], 0, msg, msg_len);
  if (st != SPARROW_OPS_OK) {
    return fail(exec, st, NULL, msg, msg_len);
  }
  p->buf_wpe = bufs[4];
  return SPARROW_OPS_OK;
}

void sparrow_ops_embedding_bwd_finish(const sparrow_ops_exec_t *exec, uint32_t *dwte,
                                      uint32_t *dwpe) {
  const emb_plan_t *p = exec->ctx;
  const uint32_t *we = exec->buf[p->buf_out].image, *pe = exec->buf[p->buf_wpe].image;
  for (size_t v = 0; v < p->V; ++v) {
    memcpy(dwte + v * p->C, we + v * p->np, 4u * (size_t)p->C);
  }
  for (size_t t = 0; t < p->T; ++t) {
    memcpy(dwpe + t * p->C, pe + t * p->np, 4u * (size_t)p->C);
  }
}

// ---------------------------------------------------------------------------------------------------
// Through the driver.

static sparrow_ops_status_t run(sparrow_dev_t *dev, bool backward, const sparrow_ops_embed_t *e,
                                const uint32_t *tokens, const uint32_t *in0, const uint32_t *in1,
                                uint32_t *out0, uint32_t *out1, sparrow_ops_simd_stats_t *stats,
                                char *msg, size_t msg_len) {
  const char *name = backward ? "embedding_bwd" : "embedding";
  if (dev == NULL || e == NULL || out0 == NULL || (backward && out1 == NULL)) {
    sparrow_ops_set_msg(msg, msg_len, "%s: bad argument", name);
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
    sparrow_ops_set_msg(msg, msg_len, "%s: host out of memory", name);
    return SPARROW_OPS_E_NOMEM;
  }
  st = backward ? sparrow_ops_embedding_bwd_prepare(&fabric, e, tokens, in0, 0, exec, msg, msg_len)
                : sparrow_ops_embedding_prepare(&fabric, e, tokens, in0, in1, exec, msg, msg_len);
  if (st == SPARROW_OPS_OK) {
    char what[96];
    snprintf(what, sizeof(what), "%s B %u T %u V %u C %u", name, e->batch, e->seq, e->vocab,
             e->channels);
    st = sparrow_ops_exec_fits(exec, dram, what, msg, msg_len);
    if (st == SPARROW_OPS_OK) {
      st = sparrow_ops_exec_run(dev, exec, stats, msg, msg_len);
    }
    if (st == SPARROW_OPS_OK) {
      if (backward) {
        sparrow_ops_embedding_bwd_finish(exec, out0, out1);
      } else {
        sparrow_ops_embedding_finish(exec, out0);
      }
    }
    sparrow_ops_exec_free(exec);
  }
  free(exec);
  return st;
}

sparrow_ops_status_t sparrow_ops_embedding(sparrow_dev_t *dev, const sparrow_ops_embed_t *e,
                                           const uint32_t *tokens, const uint32_t *wte,
                                           const uint32_t *wpe, uint32_t *x,
                                           sparrow_ops_simd_stats_t *stats, char *msg,
                                           size_t msg_len) {
  return run(dev, false, e, tokens, wte, wpe, x, NULL, stats, msg, msg_len);
}

sparrow_ops_status_t sparrow_ops_embedding_bwd(sparrow_dev_t *dev, const sparrow_ops_embed_t *e,
                                               const uint32_t *tokens, const uint32_t *dx,
                                               uint32_t *dwte, uint32_t *dwpe,
                                               sparrow_ops_simd_stats_t *stats, char *msg,
                                               size_t msg_len) {
  return run(dev, true, e, tokens, dx, NULL, dwte, dwpe, stats, msg, msg_len);
}
