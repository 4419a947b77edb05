// SPDX-License-Identifier: Apache-2.0
//
// sddmm (dW = (X^T * dY) on W's mask) on the fabric: planner, packing, index lists, the program
// builder and the unpacking of the output blocks into W's BSR order. docs/ops.md, "Block-sparse
// operators", describes the schedule.
//
// The fabric computes C = dW (K x N) = X^T * dY, reduced over M. A tile keeps the dY columns of its
// block columns resident (a chunk of M rows each) and the X strips (one lane-block of K, the
// chunk's rows) stream through a ring that one AGCU multicasts to every tile; both PMU read ports
// gather: read 0 reads the current strip once per stored output block of that strip in the tile's
// columns, read 1 reads the matching resident dY strip. Only stored blocks cost a beat pair.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparse_internal.h"

static const uint32_t *col_list_of(const sparrow_ops_sparse_plan_t *p, uint32_t round,
                                   uint32_t tile) {
  return &p->col_list[sparse_task_at(p, round, tile) * p->nb];
}

uint32_t sparse_sddmm_pairs(const sparrow_ops_sparse_plan_t *p, uint32_t round, uint32_t tile,
                            uint32_t kl, sparse_pair_fn fn, void *ctx) {
  const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, round, tile)];
  const uint32_t *cols = col_list_of(p, round, tile);
  uint32_t per = p->block / p->lanes;
  uint32_t row = kl / per;
  uint32_t e = p->pat_ptr[row], end = p->pat_ptr[row + 1];
  uint32_t n = 0;
  // Both lists ascend by block column: a merge.
  for (uint32_t jl = 0; jl < task->nb && e < end; ++jl) {
    uint32_t col = cols[jl] / per;
    while (e < end && p->pat_idx[e] < col) {
      ++e;
    }
    if (e < end && p->pat_idx[e] == col) {
      if (fn != NULL) {
        fn(ctx, jl, e);
      }
      ++n;
    }
  }
  return n;
}

// The largest slot count <= slots that divides the strips of a phase (the ring's write walk is an
// affine nest, so it must cycle through whole rounds of slots).
static uint32_t ring_slots(uint32_t strips, uint32_t slots) {
  for (uint32_t d = slots; d > 1; --d) {
    if (strips % d == 0) {
      return d;
    }
  }
  return 1;
}

// ---------------------------------------------------------------------------------------------------
// Planner.

// Deals the block columns of each round out to the column groups, `cap` at most each: every column
// goes to the group where it raises the per-strip maximum least (the tiles share one strip stream,
// so the busiest tile of each strip sets the pace), then to the one whose rows it overlaps least,
// then the least loaded. Fills col_list (lane-blocks, ascending) and the tasks' nb.
static int assign_columns(sparrow_ops_sparse_plan_t *p, uint32_t cols_per_tile) {
  uint32_t per = p->block / p->lanes;
  uint32_t njb = p->n / p->block, nkb = p->k / p->block;
  uint32_t groups = p->col_groups;
  uint32_t *cnt = calloc((size_t)groups * nkb, sizeof(uint32_t));
  uint32_t *rowmax = calloc(nkb, sizeof(uint32_t));
  uint32_t *load = calloc(groups, sizeof(uint32_t));
  uint32_t *taken = calloc(groups, sizeof(uint32_t));
  uint32_t *owner = calloc(njb, sizeof(uint32_t));
  // W's rows hold the columns; the per-column rows come from a counting pass.
  uint32_t *cptr = calloc((size_t)njb + 1, sizeof(uint32_t));
  uint32_t *crow = calloc(p->nnz_blocks == 0 ? 1 : p->nnz_blocks, sizeof(uint32_t));
  uint32_t *next = calloc(njb == 0 ? 1 : njb, sizeof(uint32_t));
  int ok = cnt && rowmax && load && taken && owner && cptr && crow && next;
  if (ok) {
    for (uint32_t e = 0; e < p->nnz_blocks; ++e) {
      cptr[p->pat_idx[e] + 1]++;
    }
    for (uint32_t c = 0; c < njb; ++c) {
      cptr[c + 1] += cptr[c];
      next[c] = cptr[c];
    }
    for (uint32_t r = 0; r < nkb; ++r) {
      for (uint32_t e = p->pat_ptr[r]; e < p->pat_ptr[r + 1]; ++e) {
        crow[next[p->pat_idx[e]]++] = r;
      }
    }
    for (uint32_t round = 0; round < p->rounds; ++round) {
      uint32_t c0 = 0, nc = 0;
      split_even(njb, p->rounds, round, &c0, &nc);
      memset(cnt, 0, (size_t)groups * nkb * sizeof(uint32_t));
      memset(rowmax, 0, nkb * sizeof(uint32_t));
      memset(load, 0, groups * sizeof(uint32_t));
      memset(taken, 0, groups * sizeof(uint32_t));
      for (uint32_t c = c0; c < c0 + nc; ++c) {
        uint32_t best = UINT32_MAX;
        uint64_t best_key[3] = {0, 0, 0};
        for (uint32_t g = 0; g < groups; ++g) {
          uint32_t first = 0, capg = 0;
          split_even(nc, groups, g, &first, &capg);
          if (taken[g] >= capg || taken[g] >= cols_per_tile) {
            continue;
          }
          uint64_t raise = 0, overlap = 0;
          for (uint32_t i = cptr[c]; i < cptr[c + 1]; ++i) {
            uint32_t r = crow[i];
            raise += cnt[(size_t)g * nkb + r] + 1 > rowmax[r];
            overlap += cnt[(size_t)g * nkb + r];
          }
          uint64_t key[3] = {raise, overlap, load[g]};
          if (best == UINT32_MAX || key[0] < best_key[0] ||
              (key[0] == best_key[0] &&
               (key[1] < best_key[1] || (key[1] == best_key[1] && key[2] < best_key[2])))) {
            best = g;
            memcpy(best_key, key, sizeof(key));
          }
        }
        owner[c] = best;
        taken[best]++;
        load[best] += cptr[c + 1] - cptr[c];
        for (uint32_t i = cptr[c]; i < cptr[c + 1]; ++i) {
          uint32_t r = crow[i];
          uint32_t v = ++cnt[(size_t)best * nkb + r];
          if (v > rowmax[r]) {
            rowmax[r] = v;
          }
        }
      }
      // Column lists: each group's columns ascending, as lane-blocks; the group's tiles share it.
      for (uint32_t t = 0; t < p->tiles; ++t) {
        sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, round, t)];
        uint32_t g = t / p->row_groups;
        task->nb = 0;
        if (g >= groups || task->mb == 0) {
          continue;
        }
        uint32_t *list = &p->col_list[sparse_task_at(p, round, t) * p->nb];
        for (uint32_t c = c0; c < c0 + nc; ++c) {
          if (owner[c] != g) {
            continue;
          }
          for (uint32_t l = 0; l < per; ++l) {
            list[task->nb++] = c * per + l;
          }
        }
      }
    }
  }
  free(cnt);
  free(rowmax);
  free(load);
  free(taken);
  free(owner);
  free(cptr);
  free(crow);
  free(next);
  return ok;
}

// Index words of one strip for a tile: read 0 needs one per stored block (at least one, to release
// the slot), read 1 one per stored block.
static uint32_t words_of(uint32_t blocks) {
  return (blocks == 0 ? 1u : blocks) + blocks;
}

// Cuts each (round, row group)'s strips into segments whose lists fit every tile's index memory.
// A segment that is not the last has a multiple of 4 strips when it can (the ring cycles whole
// rounds of its slots). count_only: just the largest number of segments.
static uint32_t segment(sparrow_ops_sparse_plan_t *p, int count_only) {
  uint32_t most = 0;
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t member = 0; member < p->row_groups; ++member) {
      uint32_t a = 0, n = 0;
      split_even(p->row_blocks, p->row_groups, member, &a, &n);
      uint32_t segs = 0;
      uint32_t kl = a;
      while (kl < a + n) {
        uint32_t end = kl;
        uint32_t used[SPARROW_MAX_TILES] = {0};
        for (; end < a + n; ++end) {
          int fits = 1;
          uint32_t need[SPARROW_MAX_TILES] = {0};
          for (uint32_t t = member; t < p->tiles; t += p->row_groups) {
            need[t] = words_of(sparse_sddmm_pairs(p, r, t, end, NULL, NULL));
            if (used[t] + need[t] > p->idx_words) {
              fits = 0;
            }
          }
          if (!fits) {
            break;
          }
          for (uint32_t t = member; t < p->tiles; t += p->row_groups) {
            used[t] += need[t];
          }
        }
        if (end == kl) {
          return UINT32_MAX;  // one strip's lists alone exceed the index memory
        }
        if (end < a + n && end - kl >= 4) {
          end = kl + (end - kl) / 4 * 4;
        }
        if (!count_only) {
          for (uint32_t t = member; t < p->tiles; t += p->row_groups) {
            sparrow_ops_sparse_slice_t *s = &p->slices[sparse_slice_at(p, r, t, segs)];
            s->kl0 = kl;
            s->kl1 = end;
          }
        }
        segs++;
        kl = end;
      }
      if (!count_only) {
        p->seg_count[r * p->row_groups + member] = segs;
      }
      if (segs > most) {
        most = segs;
      }
    }
  }
  return most;
}

// Fills every slice's words, blocks and offsets and the buffer sizes.
static void fill_slices(sparrow_ops_sparse_plan_t *p) {
  uint64_t beat = 4ull * p->lanes;
  uint64_t idx_off = 0, out_off = 0, b_off = 0;
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t t = 0; t < p->tiles; ++t) {
      const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, r, t)];
      uint32_t g = t / p->row_groups, member = t % p->row_groups;
      // The dY region of the tile's columns, shared by the group's tiles: nb lane-blocks of M rows.
      uint64_t region = b_off;
      if (member > 0) {
        region = p->slices[sparse_slice_at(p, r, g * p->row_groups, 0)].b_off;
      } else if (task->nb > 0) {
        b_off += (uint64_t)task->nb * p->m * beat;
      }
      uint32_t segs = p->seg_count[r * p->row_groups + member];
      for (uint32_t s = 0; s < p->segments; ++s) {
        sparrow_ops_sparse_slice_t *sl = &p->slices[sparse_slice_at(p, r, t, s)];
        sl->b_off = region;
        sl->b_lines = task->nb * p->chunk;
        sl->idx0 = sl->idx1 = sl->blocks = 0;
        if (s >= segs || task->nb == 0 || task->mb == 0) {
          sl->kl0 = sl->kl1 = 0;
          continue;
        }
        for (uint32_t kl = sl->kl0; kl < sl->kl1; ++kl) {
          uint32_t n = sparse_sddmm_pairs(p, r, t, kl, NULL, NULL);
          sl->idx0 += n == 0 ? 1u : n;
          sl->idx1 += n;
          sl->blocks += n;
        }
        if (sl->blocks == 0) {
          continue;  // idle in this segment: no list, no output
        }
        sl->idx_off = idx_off;
        idx_off += (uint64_t)ceil_div_u32(sl->idx0 + sl->idx1, p->lanes) * beat;
        sl->out_off = out_off;
        out_off += (uint64_t)sl->blocks * p->lanes * beat;
      }
    }
  }
  p->b_bytes = b_off == 0 ? beat : b_off;
  p->idx_bytes = idx_off == 0 ? beat : idx_off;
  p->c_bytes = out_off == 0 ? beat : out_off;
}

// The tile whose AGCU read 0 streams segment s's strips to `tile`: the first tile on the same rows
// that works in that segment.
static uint32_t stream_source(const sparrow_ops_sparse_plan_t *p, uint32_t round, uint32_t tile,
                              uint32_t s) {
  uint32_t member = tile % p->row_groups;
  for (uint32_t t = member; t < tile; t += p->row_groups) {
    if (p->slices[sparse_slice_at(p, round, t, s)].blocks > 0) {
      return t;
    }
  }
  return tile;
}

// Cycles of one phase B's strip stream shared by lockstepped tiles: the stream writes a strip into
// every tile's ring (write cycles each) once each tile has a free slot; a tile works on a strip
// once it has arrived and its previous strip is done, and frees its slot when done.
static uint64_t lockstep(const sparrow_ops_sparse_plan_t *p, uint32_t round, uint32_t s,
                         uint32_t member, uint32_t slots, uint64_t write, uint64_t per_block) {
  uint64_t done[SPARROW_MAX_TILES] = {0};
  uint64_t *freed = NULL;  // per tile, the time each of the last `slots` strips was released
  uint64_t stream = 0, end = 0;
  uint32_t tiles[SPARROW_MAX_TILES], nt = 0;
  const sparrow_ops_sparse_slice_t *first = NULL;
  for (uint32_t t = member; t < p->tiles; t += p->row_groups) {
    const sparrow_ops_sparse_slice_t *sl = &p->slices[sparse_slice_at(p, round, t, s)];
    if (sl->blocks > 0) {
      tiles[nt++] = t;
      first = sl;
    }
  }
  if (nt == 0) {
    return 0;
  }
  uint32_t strips = first->kl1 - first->kl0;
  uint32_t d = ring_slots(strips, slots);
  freed = calloc((size_t)d * nt, sizeof(uint64_t));
  if (freed == NULL) {
    return (uint64_t)strips * write;
  }
  for (uint32_t i = 0; i < strips; ++i) {
    uint64_t start = stream;
    for (uint32_t x = 0; x < nt; ++x) {
      if (i >= d) {
        start = max_u64(start, freed[(size_t)x * d + i % d]);
      }
    }
    stream = start + write;
    for (uint32_t x = 0; x < nt; ++x) {
      uint32_t n = sparse_sddmm_pairs(p, round, tiles[x], first->kl0 + i, NULL, NULL);
      uint64_t begin = max_u64(done[x], stream);
      done[x] = begin + (n == 0 ? 1 : n * per_block);
      freed[(size_t)x * d + i % d] = done[x];
      end = max_u64(end, done[x]);
    }
  }
  free(freed);
  return end;
}

static uint64_t estimate(const sparrow_ops_sparse_plan_t *p, const sparse_cost_t *c) {
  uint64_t beat = 4ull * p->lanes;
  uint64_t bw = c->dram_bw == 0 ? 1 : c->dram_bw;
  uint64_t total = 0;
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t q = 0; q < p->chunks; ++q) {
      uint32_t mcq = sparse_chunk_rows(p, q, NULL);
      int acc = q > 0;
      for (uint32_t s = 0; s < p->segments; ++s) {
        uint64_t a_bytes = 0, a_chan = 0, b_bytes = 0, b_chan = 0, work = 0;
        int any = 0;
        for (uint32_t t = 0; t < p->tiles; ++t) {
          const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, r, t)];
          const sparrow_ops_sparse_slice_t *sl = &p->slices[sparse_slice_at(p, r, t, s)];
          if (s == 0 && task->nb > 0 && task->mb > 0) {
            uint64_t dy = (uint64_t)task->nb * mcq;
            a_bytes += dy * beat;
            a_chan = max_u64(a_chan, sparse_channel_cycles(c, dy));
          }
          if (sl->blocks == 0) {
            continue;
          }
          any = 1;
          uint64_t idx_lines = ceil_div_u32(sl->idx0 + sl->idx1, p->lanes);
          a_bytes += idx_lines * beat;
          a_chan = max_u64(a_chan, sparse_channel_cycles(c, idx_lines));
          if (stream_source(p, r, t, s) == t) {
            uint64_t strip = (uint64_t)(sl->kl1 - sl->kl0) * mcq;
            b_bytes += strip * beat;
            b_chan = max_u64(b_chan, sparse_channel_cycles(c, strip));
          }
          b_bytes += (uint64_t)sl->blocks * p->lanes * beat * (acc ? 2u : 1u);
        }
        if (!any) {
          continue;
        }
        uint64_t per_block = max_u64(mcq, p->lanes) + (acc ? p->lanes : 0);
        uint64_t write = sparse_channel_cycles(c, mcq);
        for (uint32_t member = 0; member < p->row_groups; ++member) {
          work = max_u64(work, lockstep(p, r, s, member, p->slots, write, per_block));
        }
        total += c->latency + max_u64(a_bytes / bw, a_chan) + 16;
        total += 2 * c->latency + max_u64(max_u64(b_bytes / bw, b_chan), work) + p->lanes + 16;
      }
    }
  }
  return total;
}

static int alloc_details(sparrow_ops_sparse_plan_t *p) {
  free(p->tasks);
  free(p->col_list);
  free(p->seg_count);
  p->tasks = calloc((size_t)p->rounds * p->tiles, sizeof(*p->tasks));
  p->col_list = calloc((size_t)p->rounds * p->tiles * (p->nb == 0 ? 1 : p->nb), sizeof(uint32_t));
  p->seg_count = calloc((size_t)p->rounds * p->row_groups, sizeof(uint32_t));
  if (p->tasks == NULL || p->col_list == NULL || p->seg_count == NULL) {
    return 0;
  }
  // Strips: each row group's run of K lane-blocks.
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t t = 0; t < p->tiles; ++t) {
      sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, r, t)];
      split_even(p->row_blocks, p->row_groups, t % p->row_groups, &task->ib0, &task->mb);
      task->src = t;
      if (t / p->row_groups >= p->col_groups) {
        task->mb = 0;
      }
    }
  }
  return 1;
}

// Builds a candidate with cols_per_tile block columns per tile and round: tasks, columns, segments
// and slices. Returns an ops status; E_UNSUPPORTED when the lists of one strip cannot fit.
static sparrow_ops_status_t candidate(sparrow_ops_sparse_plan_t *p, uint32_t cols_per_tile) {
  uint32_t njb = p->n / p->block;
  p->rounds = ceil_div_u32(njb, p->col_groups * cols_per_tile);
  p->nb = cols_per_tile * (p->block / p->lanes);
  if (!alloc_details(p) || !assign_columns(p, cols_per_tile)) {
    return SPARROW_OPS_E_NOMEM;
  }
  free(p->slices);
  p->slices = NULL;
  // Segment boundaries need the slices; size them for one segment first to count.
  p->segments = 1;
  p->slices = calloc((size_t)p->rounds * p->tiles, sizeof(*p->slices));
  if (p->slices == NULL) {
    return SPARROW_OPS_E_NOMEM;
  }
  uint32_t segs = segment(p, 1);
  if (segs == UINT32_MAX) {
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  free(p->slices);
  p->segments = segs == 0 ? 1 : segs;
  p->slices = calloc((size_t)p->rounds * p->tiles * p->segments, sizeof(*p->slices));
  if (p->slices == NULL) {
    return SPARROW_OPS_E_NOMEM;
  }
  (void)segment(p, 0);
  fill_slices(p);
  return SPARROW_OPS_OK;
}

// Chunks of M for a slot count: the largest chunk whose ring and resident strips fit the PMU.
static int set_chunks(sparrow_ops_sparse_plan_t *p, uint32_t slots) {
  uint32_t mc_max = p->pmu_lines / (p->nb + slots);
  if (mc_max == 0) {
    return 0;
  }
  p->slots = slots;
  p->chunks = ceil_div_u32(p->m, mc_max);
  p->chunk = ceil_div_u32(p->m, p->chunks);
  p->ring_lines = slots * p->chunk;
  return 1;
}

sparrow_ops_status_t sparse_plan_sddmm(sparrow_ops_sparse_plan_t *p, const sparse_cost_t *cost,
                                       char *msg, size_t msg_len) {
  p->rows = p->k;
  p->cols = p->n;
  p->red = p->m;
  p->rows_p = p->k;
  p->row_blocks = p->k / p->lanes;
  p->col_blocks = p->n / p->lanes;
  p->a_bytes = 4ull * p->m * p->k;
  uint32_t njb = p->n / p->block;
  if (p->a_bytes + 4ull * p->m * p->n > 0xFFFFFFFFull || 4ull * p->m * p->lanes > 0x7FFFFFFFull ||
      4ull * p->k > 0x7FFFFFFFull) {
    sparrow_ops_set_msg(msg, msg_len, "sddmm: %ux%ux%u does not fit 32-bit device addresses", p->m,
                        p->n, p->k);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  p->col_groups = min_u32(p->tiles, njb);
  p->row_groups = min_u32(p->tiles / p->col_groups, p->row_blocks);
  if (p->row_groups == 0) {
    p->row_groups = 1;
  }
  uint32_t per_group = ceil_div_u32(njb, p->col_groups);
  uint32_t max_slots = min_u32(4, SPARROW_PMU_MAX_SLOTS);
  uint64_t best = UINT64_MAX;
  uint32_t best_cols = 0, best_slots = 0;
  for (uint32_t cols = 1; cols <= per_group; ++cols) {
    uint32_t rounds = ceil_div_u32(njb, p->col_groups * cols);
    if (ceil_div_u32(njb, p->col_groups * rounds) != cols) {
      continue;
    }
    sparrow_ops_status_t st = candidate(p, cols);
    if (st == SPARROW_OPS_E_NOMEM) {
      sparrow_ops_set_msg(msg, msg_len, "sddmm: host out of memory");
      return st;
    }
    if (st != SPARROW_OPS_OK) {
      continue;
    }
    for (uint32_t slots = 2; slots <= max_slots; ++slots) {
      if (!set_chunks(p, slots)) {
        continue;
      }
      for (uint32_t t = 0; t < p->tiles * p->rounds; ++t) {
        for (uint32_t s = 0; s < p->segments; ++s) {
          p->slices[(size_t)t * p->segments + s].b_lines = p->tasks[t].nb * p->chunk;
        }
      }
      uint64_t est = estimate(p, cost);
      if (est < best) {
        best = est;
        best_cols = cols;
        best_slots = slots;
      }
    }
  }
  if (best == UINT64_MAX) {
    sparrow_ops_set_msg(
        msg, msg_len,
        "sddmm %ux%ux%u: no tiling fits the device (the PMU or its index memory is too small)",
        p->m, p->n, p->k);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  sparrow_ops_status_t st = candidate(p, best_cols);
  if (st != SPARROW_OPS_OK || !set_chunks(p, best_slots)) {
    sparrow_ops_set_msg(msg, msg_len, "sddmm: host out of memory");
    return SPARROW_OPS_E_NOMEM;
  }
  uint64_t beat = 4ull * p->lanes;
  p->b_read_bytes = 0;
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t t = 0; t < p->tiles; ++t) {
      const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, r, t)];
      for (uint32_t s = 0; s < p->segments; ++s) {
        p->slices[sparse_slice_at(p, r, t, s)].b_lines = task->nb * p->chunk;
      }
      if (task->nb > 0 && task->mb > 0) {
        p->b_read_bytes += (uint64_t)task->nb * p->m * beat;
      }
    }
  }
  p->est_cycles = estimate(p, cost);
  for (uint32_t r = 0; r < p->rounds && !p->multicast; ++r) {
    for (uint32_t t = 0; t < p->tiles; ++t) {
      for (uint32_t s = 0; s < p->segments; ++s) {
        if (p->slices[sparse_slice_at(p, r, t, s)].blocks > 0 && stream_source(p, r, t, s) != t) {
          p->multicast = 1;
        }
      }
    }
  }
  if (p->a_bytes + p->b_bytes + p->idx_bytes + p->c_bytes > 0xFFFFFFFFull) {
    sparrow_ops_set_msg(msg, msg_len, "sddmm: %ux%ux%u does not fit 32-bit device addresses", p->m,
                        p->n, p->k);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  return SPARROW_OPS_OK;
}

// ---------------------------------------------------------------------------------------------------
// Packing.

// dY by the tiles' column lists: for each (round, column group), for each of its lane-blocks j,
// all M rows of dY's columns [j * lanes, (j + 1) * lanes), one beat per row.
void sparse_pack_b_sddmm(const sparrow_ops_sparse_plan_t *p, const uint32_t *dy, uint32_t *dev_b) {
  memset(dev_b, 0, (size_t)p->b_bytes);
  uint32_t lanes = p->lanes;
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t t = 0; t < p->tiles; t += p->row_groups) {
      const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, r, t)];
      if (task->nb == 0 || task->mb == 0) {
        continue;
      }
      const uint32_t *cols = col_list_of(p, r, t);
      uint32_t *out = dev_b + p->slices[sparse_slice_at(p, r, t, 0)].b_off / 4;
      for (uint32_t jl = 0; jl < task->nb; ++jl) {
        for (uint32_t i = 0; i < p->m; ++i) {
          memcpy(out, &dy[(size_t)i * p->n + (size_t)cols[jl] * lanes], lanes * 4u);
          out += lanes;
        }
      }
    }
  }
}

typedef struct list_ctx {
  uint32_t *w0, *w1;  // read 0's and read 1's lists
  uint32_t n0, n1;
} list_ctx_t;

static void list_pair(void *vctx, uint32_t jl, uint32_t entry) {
  list_ctx_t *ctx = vctx;
  (void)entry;
  ctx->w0[ctx->n0++] = 0;   // the whole current strip (offset 0, count0 = the chunk's rows)
  ctx->w1[ctx->n1++] = jl;  // the resident dY strip of lane-block jl (stride1 = chunk rows)
}

// Each working slice's lists, read 0's then read 1's: per strip, one read-0 word per stored output
// block (the last releases the strip's slot; skip | release when there is none) and one read-1
// word naming the resident dY strip of the block's column.
void sparse_pack_idx_sddmm(const sparrow_ops_sparse_plan_t *p, uint32_t *dev_idx) {
  memset(dev_idx, 0, (size_t)p->idx_bytes);
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t t = 0; t < p->tiles; ++t) {
      for (uint32_t s = 0; s < p->segments; ++s) {
        const sparrow_ops_sparse_slice_t *sl = &p->slices[sparse_slice_at(p, r, t, s)];
        if (sl->blocks == 0) {
          continue;
        }
        list_ctx_t ctx;
        ctx.w0 = dev_idx + sl->idx_off / 4;
        ctx.w1 = ctx.w0 + sl->idx0;
        ctx.n0 = ctx.n1 = 0;
        for (uint32_t kl = sl->kl0; kl < sl->kl1; ++kl) {
          uint32_t n = sparse_sddmm_pairs(p, r, t, kl, list_pair, &ctx);
          if (n == 0) {
            ctx.w0[ctx.n0++] = SPARSE_IDX_SKIP;
          }
          ctx.w0[ctx.n0 - 1] |= SPARSE_IDX_RELEASE;
        }
      }
    }
  }
}

typedef struct unpack_ctx {
  const sparrow_ops_sparse_plan_t *p;
  const uint32_t *src;  // the next output block (lanes beats)
  uint32_t *dw;
  uint32_t kl;
  const uint32_t *cols;
} unpack_ctx_t;

static void unpack_pair(void *vctx, uint32_t jl, uint32_t entry) {
  unpack_ctx_t *ctx = vctx;
  const sparrow_ops_sparse_plan_t *p = ctx->p;
  uint32_t bs = p->block, lanes = p->lanes;
  uint32_t r0 = ctx->kl * lanes % bs;        // rows of the lane-block within the BSR block
  uint32_t c0 = ctx->cols[jl] * lanes % bs;  // columns likewise
  uint32_t *blk = ctx->dw + (size_t)p->pat_blk[entry] * bs * bs;
  for (uint32_t r = 0; r < lanes; ++r) {
    memcpy(&blk[(size_t)(r0 + r) * bs + c0], ctx->src + (size_t)r * lanes, lanes * 4u);
  }
  ctx->src += (size_t)lanes * lanes;
}

// The PCUs' output blocks, in their order (per slice: strips ascending, the column list inner),
// placed into dW's BSR values: a permutation, no arithmetic.
void sparse_unpack_sddmm(const sparrow_ops_sparse_plan_t *p, const uint32_t *dev_c,
                         uint32_t *dw_values) {
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t t = 0; t < p->tiles; ++t) {
      for (uint32_t s = 0; s < p->segments; ++s) {
        const sparrow_ops_sparse_slice_t *sl = &p->slices[sparse_slice_at(p, r, t, s)];
        if (sl->blocks == 0) {
          continue;
        }
        unpack_ctx_t ctx = {p, dev_c + sl->out_off / 4, dw_values, 0, col_list_of(p, r, t)};
        for (uint32_t kl = sl->kl0; kl < sl->kl1; ++kl) {
          ctx.kl = kl;
          (void)sparse_sddmm_pairs(p, r, t, kl, unpack_pair, &ctx);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Program builder.

typedef struct sddmm_ctx {
  const sparrow_ops_sparse_plan_t *plan;
  uint64_t a_addr, b_addr, idx_addr, c_addr;
} sddmm_ctx_t;

// Phase A of (round, chunk, segment): the working tiles load their lists into the index memory
// (AGCU read 0 -> PMU write 0); with load_b, every tile of the round also loads the chunk's rows of
// its resident dY strips (AGCU read 1 -> PMU write 1, lines ring_lines + jl * chunk rows).
static sparrow_ops_prog_status_t emit_phase_a(sparrow_ops_prog_t *prog, const sddmm_ctx_t *ctx,
                                              uint32_t round, uint32_t q, uint32_t s, int load_b) {
  const sparrow_ops_sparse_plan_t *p = ctx->plan;
  const uint64_t beat = 4ull * p->lanes;
  uint32_t m0 = 0;
  uint32_t mcq = sparse_chunk_rows(p, q, &m0);
  sparse_routes_t routes;
  sparse_routes_clear(&routes);
  for (uint32_t t = 0; t < p->tiles; ++t) {
    const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, round, t)];
    const sparrow_ops_sparse_slice_t *sl = &p->slices[sparse_slice_at(p, round, t, s)];
    if (sl->blocks > 0) {
      sparse_routes_set(&routes, t, SPARROW_DST_PMU_WR0, t, SPARROW_SRC_AGCU_RD0);
    }
    if (load_b && task->nb > 0 && task->mb > 0) {
      sparse_routes_set(&routes, t, SPARROW_DST_PMU_WR1, t, SPARROW_SRC_AGCU_RD1);
    }
  }
  SPARROW_OPS_PROG_TRY(sparse_routes_emit(prog, &routes));
  for (uint32_t t = 0; t < p->tiles; ++t) {
    const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, round, t)];
    const sparrow_ops_sparse_slice_t *sl = &p->slices[sparse_slice_at(p, round, t, s)];
    int lists = sl->blocks > 0;
    int dy = load_b && task->nb > 0 && task->mb > 0;
    if (!lists && !dy) {
      continue;
    }
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(prog, t, 0, 0, 0, 0, 0));
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(prog, t, 1, 0, 0, 0, 0));
    if (lists) {
      uint32_t idx_lines = ceil_div_u32(sl->idx0 + sl->idx1, p->lanes);
      sparrow_ops_agen_t idx_rd =
          sparse_agen(ctx->idx_addr + sl->idx_off, idx_lines, (int64_t)beat, 1, 0, 1, 0, 1, 0);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD0, &idx_rd));
      sparrow_ops_agen_t idx_wr = sparse_agen(0, idx_lines, 1, 1, 0, 1, 0, 1, 0);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_index(prog, t, SPARROW_PMU_PORT_WR0, &idx_wr));
    }
    if (dy) {
      sparrow_ops_agen_t b_rd =
          sparse_agen(ctx->b_addr + sl->b_off + (uint64_t)m0 * beat, mcq, (int64_t)beat, task->nb,
                      (int64_t)p->m * (int64_t)beat, 1, 0, 1, 0);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD1, &b_rd));
      sparrow_ops_agen_t b_wr = sparse_agen(p->ring_lines, task->nb * mcq, 1, 1, 0, 1, 0, 1, 0);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(prog, t, SPARROW_PMU_PORT_WR1, &b_wr));
    }
  }
  return sparrow_ops_prog_run(prog);
}

// Phase B of (round, chunk, segment): each row group's first working tile streams the segment's X
// strips (the chunk's rows of one lane-block of K each) into the ring of every working tile on the
// same rows (multicast; PMU write 0, synchronized with read 0); read 0 gathers the strip once per
// stored block -> PCU a, read 1 the block's resident dY strip -> PCU b; the PCU takes the chunk's
// rows per block; the blocks go to the tile's run of the output buffer (reloaded from the second
// chunk of M on).
static sparrow_ops_prog_status_t emit_phase_b(sparrow_ops_prog_t *prog, const sddmm_ctx_t *ctx,
                                              uint32_t round, uint32_t q, uint32_t s) {
  const sparrow_ops_sparse_plan_t *p = ctx->plan;
  const uint64_t beat = 4ull * p->lanes;
  const uint64_t row_x = 4ull * p->k;
  uint32_t m0 = 0;
  uint32_t mcq = sparse_chunk_rows(p, q, &m0);
  int acc_init = q > 0;
  sparse_routes_t routes;
  sparse_routes_clear(&routes);
  for (uint32_t t = 0; t < p->tiles; ++t) {
    const sparrow_ops_sparse_slice_t *sl = &p->slices[sparse_slice_at(p, round, t, s)];
    if (sl->blocks == 0) {
      continue;
    }
    sparse_routes_set(&routes, t, SPARROW_DST_PMU_WR0, stream_source(p, round, t, s),
                      SPARROW_SRC_AGCU_RD0);
    sparse_routes_set(&routes, t, SPARROW_DST_PCU_A, t, SPARROW_SRC_PMU_RD0);
    sparse_routes_set(&routes, t, SPARROW_DST_PCU_B, t, SPARROW_SRC_PMU_RD1);
    if (acc_init) {
      sparse_routes_set(&routes, t, SPARROW_DST_PCU_C, t, SPARROW_SRC_AGCU_RD1);
    }
    sparse_routes_set(&routes, t, SPARROW_DST_AGCU_WR, t, SPARROW_SRC_PCU_OUT);
  }
  SPARROW_OPS_PROG_TRY(sparse_routes_emit(prog, &routes));
  for (uint32_t t = 0; t < p->tiles; ++t) {
    const sparrow_ops_sparse_slice_t *sl = &p->slices[sparse_slice_at(p, round, t, s)];
    if (sl->blocks == 0) {
      continue;
    }
    uint32_t strips = sl->kl1 - sl->kl0;
    uint32_t slots = ring_slots(strips, p->slots);
    if (stream_source(p, round, t, s) == t) {
      sparrow_ops_agen_t x_rd =
          sparse_agen(ctx->a_addr + (uint64_t)m0 * row_x + (uint64_t)sl->kl0 * beat, mcq,
                      (int64_t)row_x, strips, (int64_t)beat, 1, 0, 1, 0);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD0, &x_rd));
    }
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(prog, t, 0, 1, slots, mcq, 1));
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(prog, t, 1, 0, 0, 0, 0));
    sparrow_ops_agen_t ring_wr = sparse_agen(0, mcq, 1, slots, mcq, strips / slots, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(prog, t, SPARROW_PMU_PORT_WR0, &ring_wr));
    sparrow_ops_agen_t ring_rd = sparse_agen(0, mcq, 1, 1, 0, slots, mcq, 1, 0);
    SPARROW_OPS_PROG_TRY(
        sparrow_ops_prog_pmu_gather(prog, t, SPARROW_PMU_PORT_RD0, &ring_rd, 0, sl->idx0));
    sparrow_ops_agen_t dy_rd = sparse_agen(p->ring_lines, mcq, 1, 1, mcq, 1, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(
        sparrow_ops_prog_pmu_gather(prog, t, SPARROW_PMU_PORT_RD1, &dy_rd, sl->idx0, sl->idx1));
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pcu_gemm(prog, t, mcq, sl->blocks, acc_init));
    sparrow_ops_agen_t out = sparse_agen(ctx->c_addr + sl->out_off, sl->blocks * p->lanes,
                                         (int64_t)beat, 1, 0, 1, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_WR, &out));
    if (acc_init) {
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD1, &out));
    }
  }
  return sparrow_ops_prog_run(prog);
}

static int segment_works(const sparrow_ops_sparse_plan_t *p, uint32_t round, uint32_t s) {
  for (uint32_t t = 0; t < p->tiles; ++t) {
    if (p->slices[sparse_slice_at(p, round, t, s)].blocks > 0) {
      return 1;
    }
  }
  return 0;
}

sparrow_ops_status_t sparse_build_sddmm(const sparrow_ops_sparse_plan_t *plan, uint64_t a_addr,
                                        uint64_t b_addr, uint64_t idx_addr, uint64_t c_addr,
                                        sparrow_ops_programs_t *programs) {
  sparrow_ops_prog_t *prog = malloc(sizeof(*prog));
  sparrow_ops_prog_mark_t *mark = malloc(sizeof(*mark));
  if (prog == NULL || mark == NULL) {
    free(prog);
    free(mark);
    return SPARROW_OPS_E_NOMEM;
  }
  sparrow_ops_status_t status =
      sparrow_ops_prog_status(sparrow_ops_prog_init(prog, plan->tiles, plan->prog_entries));
  sddmm_ctx_t ctx = {plan, a_addr, b_addr, idx_addr, c_addr};
  for (uint32_t r = 0; r < plan->rounds && status == SPARROW_OPS_OK; ++r) {
    for (uint32_t q = 0; q < plan->chunks && status == SPARROW_OPS_OK; ++q) {
      // dY is loaded with the first segment of (round, chunk) in a launch: a new launch reloads it
      // rather than trust what an earlier launch left in the PMUs.
      int b_loaded = 0;
      for (uint32_t s = 0; s < plan->segments && status == SPARROW_OPS_OK; ++s) {
        if (!segment_works(plan, r, s)) {
          continue;
        }
        sparrow_ops_prog_mark(prog, mark);
        sparrow_ops_prog_status_t st = emit_phase_a(prog, &ctx, r, q, s, !b_loaded);
        if (st == SPARROW_OPS_PROG_OK) {
          st = emit_phase_b(prog, &ctx, r, q, s);
        }
        if (st == SPARROW_OPS_PROG_E_FULL && mark->count > 0) {
          sparrow_ops_prog_rollback(prog, mark);
          st = sparrow_ops_prog_end(prog);
          if (st == SPARROW_OPS_PROG_OK) {
            status = sparrow_ops_programs_push(programs, prog);
            sparrow_ops_prog_clear(prog);
            if (status == SPARROW_OPS_OK) {
              st = emit_phase_a(prog, &ctx, r, q, s, 1);
              if (st == SPARROW_OPS_PROG_OK) {
                st = emit_phase_b(prog, &ctx, r, q, s);
              }
            }
          }
        }
        if (status == SPARROW_OPS_OK && st != SPARROW_OPS_PROG_OK) {
          status = sparrow_ops_prog_status(st);
        }
        b_loaded = 1;
      }
    }
  }
  if (status == SPARROW_OPS_OK) {
    status = sparrow_ops_prog_status(sparrow_ops_prog_end(prog));
  }
  if (status == SPARROW_OPS_OK) {
    status = sparrow_ops_programs_push(programs, prog);
  }
  sparrow_ops_prog_free(prog);
  free(prog);
  free(mark);
  return status;
}
