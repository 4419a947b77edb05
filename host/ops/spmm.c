// SPDX-License-Identifier: Apache-2.0
//
// spmm (Y = X * W) and spmm_t (dX = dY * W^T) on the fabric: planner, packing, index lists and the
// program builder. One kernel serves both: it computes C = A * B where B's block columns have
// stored blocks (W's columns for spmm, W's rows read transposed for spmm_t). docs/ops.md,
// "Block-sparse operators", describes the schedule.

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparse_internal.h"

// First entry of [lo, hi) whose pattern index is >= key (the pattern ascends within a column).
static uint32_t lower_bound(const uint32_t *idx, uint32_t lo, uint32_t hi, uint32_t key) {
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (idx[mid] < key) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

void sparse_col_range(const sparrow_ops_sparse_plan_t *p, uint32_t j, uint32_t q, uint32_t *lo,
                      uint32_t *hi) {
  uint32_t col = j / (p->block / p->lanes);
  uint32_t kcb = p->chunk / p->block;
  uint32_t a = p->pat_ptr[col], b = p->pat_ptr[col + 1];
  *lo = lower_bound(p->pat_idx, a, b, q * kcb);
  *hi = lower_bound(p->pat_idx, *lo, b, (q + 1) * kcb);
}

// ---------------------------------------------------------------------------------------------------
// Planner.

typedef struct part {
  uint32_t j0, nb;
} part_t;

// Cuts the column lane-blocks into `count` contiguous parts of at most `cap` each, balancing their
// work (stored rows, plus the output beats of every lane-block): a part ends where the running work
// comes nearest its share. Parts may be empty (an idle tile).
static void partition(const sparrow_ops_sparse_plan_t *p, uint32_t count, uint32_t cap,
                      part_t *parts) {
  uint32_t per_col = p->block / p->lanes;
  uint64_t total = 0;
  uint64_t *prefix = malloc(((size_t)p->col_blocks + 1) * sizeof(uint64_t));
  if (prefix == NULL) {
    // Equal counts are always a valid partition; only the balance suffers.
    for (uint32_t g = 0; g < count; ++g) {
      split_even(p->col_blocks, count, g, &parts[g].j0, &parts[g].nb);
    }
    return;
  }
  prefix[0] = 0;
  for (uint32_t j = 0; j < p->col_blocks; ++j) {
    uint32_t col = j / per_col;
    total += (uint64_t)p->block * (p->pat_ptr[col + 1] - p->pat_ptr[col]) + p->lanes;
    prefix[j + 1] = total;
  }
  uint32_t j = 0;
  for (uint32_t g = 0; g < count; ++g) {
    uint32_t left = count - g;
    uint32_t remaining = p->col_blocks - j;
    uint64_t others = (uint64_t)(left - 1) * cap;
    uint32_t smin = remaining > others ? (uint32_t)(remaining - others) : 0;
    uint32_t smax = min_u32(cap, remaining);
    double target = (double)total * (g + 1) / count;
    uint32_t best = smin;
    double best_err = -1.0;
    for (uint32_t s = smin; s <= smax; ++s) {
      double err = (double)prefix[j + s] - target;
      err = err < 0 ? -err : err;
      if (best_err < 0 || err < best_err) {
        best_err = err;
        best = s;
      }
    }
    parts[g].j0 = j;
    parts[g].nb = best;
    j += best;
  }
  free(prefix);
}

// Fills the tasks of a candidate (nb, rounds): parts in round-major order, rows as the dense GEMM
// splits them, and each busy tile's stream source (the first busy tile on the same rows).
static void make_tasks(sparrow_ops_sparse_plan_t *p, const part_t *parts) {
  uint32_t unit = p->row_blocks == 1 ? 1u : 2u;
  uint32_t units = p->row_blocks / unit;
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t t = 0; t < p->tiles; ++t) {
      sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, r, t)];
      memset(task, 0, sizeof(*task));
      task->src = t;
      uint32_t g = t / p->row_groups, member = t % p->row_groups;
      if (g >= p->col_groups) {
        continue;
      }
      const part_t *part = &parts[r * p->col_groups + g];
      uint32_t u0 = 0, un = 0;
      split_even(units, p->row_groups, member, &u0, &un);
      if (part->nb == 0 || un == 0) {
        continue;
      }
      task->ib0 = u0 * unit;
      task->mb = un * unit;
      task->j0 = part->j0;
      task->nb = part->nb;
      for (uint32_t s = 0; s < t; ++s) {
        const sparrow_ops_sparse_task_t *o = &p->tasks[sparse_task_at(p, r, s)];
        if (o->mb > 0 && o->nb > 0 && o->ib0 == task->ib0 && o->mb == task->mb) {
          task->src = o->src;
          break;
        }
      }
    }
  }
}

// Per (round, tile, chunk): B lines, index words, PCU blocks, and whether the PCU needs a k table
// that it cannot hold. Returns 0 when some slice does not fit the PMU or its index memory.
static int fill_slices(sparrow_ops_sparse_plan_t *p) {
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t t = 0; t < p->tiles; ++t) {
      const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, r, t)];
      for (uint32_t q = 0; q < p->chunks; ++q) {
        sparrow_ops_sparse_slice_t *s = &p->slices[sparse_slice_at(p, r, t, q)];
        memset(s, 0, sizeof(*s));
        if (task->mb == 0) {
          continue;
        }
        uint64_t words = 0;
        uint32_t first_k = 0;
        int uniform = 1;
        for (uint32_t j = task->j0; j < task->j0 + task->nb; ++j) {
          uint32_t lo, hi;
          sparse_col_range(p, j, q, &lo, &hi);
          words += hi - lo;
          if (j == task->j0) {
            first_k = hi - lo;
          } else if (hi - lo != first_k) {
            uniform = 0;
          }
        }
        uint64_t lines = words * p->block;
        if (words > p->idx_words || p->ring_lines + lines > p->pmu_lines) {
          return 0;
        }
        if ((!uniform || first_k == 0) && task->nb > p->k_table_entries) {
          return 0;
        }
        s->b_lines = (uint32_t)lines;
        s->idx0 = words == 0 ? 1u : (uint32_t)words;
        s->blocks = task->mb * task->nb;
      }
    }
  }
  return 1;
}

// The cost model (docs/ops.md): per phase, DRAM latency, then the largest of the DRAM transfer
// time, the slowest AGCU channel and the busiest unit, then a drain.
static uint64_t estimate(const sparrow_ops_sparse_plan_t *p, const sparse_cost_t *c) {
  uint64_t beat = 4ull * p->lanes;
  uint64_t bw = c->dram_bw == 0 ? 1 : c->dram_bw;
  uint64_t total = 0;
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t q = 0; q < p->chunks; ++q) {
      uint32_t kcq = sparse_chunk_rows(p, q, NULL);
      int acc = q > 0;
      uint64_t a_bytes = 0, a_chan = 0, a_unit = 0;
      uint64_t b_bytes = 0, b_chan = 0, b_unit = 0;
      for (uint32_t t = 0; t < p->tiles; ++t) {
        const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, r, t)];
        const sparrow_ops_sparse_slice_t *s = &p->slices[sparse_slice_at(p, r, t, q)];
        if (task->mb == 0) {
          continue;
        }
        uint64_t idx_lines = ceil_div_u32(s->idx0, p->lanes);
        a_bytes += (s->b_lines + idx_lines) * beat;
        a_chan = max_u64(a_chan, sparse_channel_cycles(c, s->b_lines));
        a_chan = max_u64(a_chan, sparse_channel_cycles(c, idx_lines));
        a_unit = max_u64(a_unit, s->b_lines);
        uint64_t strip = (uint64_t)task->mb * kcq;
        if (task->src == t) {
          b_bytes += strip * beat;
          b_chan = max_u64(b_chan, sparse_channel_cycles(c, strip));
        }
        uint64_t blocks = (uint64_t)task->mb * task->nb;
        b_bytes += blocks * p->lanes * beat * (acc ? 2u : 1u);
        uint64_t per_row = 0;
        for (uint32_t j = task->j0; j < task->j0 + task->nb; ++j) {
          uint32_t lo, hi;
          sparse_col_range(p, j, q, &lo, &hi);
          per_row += max_u64((uint64_t)(hi - lo) * p->block, p->lanes);
        }
        uint64_t compute = task->mb * per_row + kcq + (acc ? blocks * p->lanes : 0);
        b_unit = max_u64(b_unit, compute);
      }
      total += c->latency + max_u64(max_u64(a_bytes / bw, a_chan), a_unit) + 16;
      total += 2 * c->latency + max_u64(max_u64(b_bytes / bw, b_chan), b_unit) + p->lanes + 16;
    }
  }
  return total;
}

// Allocates the detail arrays for rounds x tiles (x chunks).
static int alloc_details(sparrow_ops_sparse_plan_t *p) {
  free(p->tasks);
  free(p->slices);
  p->tasks = calloc((size_t)p->rounds * p->tiles, sizeof(*p->tasks));
  p->slices = calloc((size_t)p->rounds * p->tiles * p->chunks, sizeof(*p->slices));
  return p->tasks != NULL && p->slices != NULL;
}

// Byte offsets of every slice's B data and index list: slices of tiles that share a part (the same
// columns, other rows) share them.
static void place_slices(sparrow_ops_sparse_plan_t *p) {
  uint64_t beat = 4ull * p->lanes;
  uint64_t b_off = 0, idx_off = 0, b_read = 0;
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t t = 0; t < p->tiles; ++t) {
      const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, r, t)];
      if (task->mb == 0) {
        continue;
      }
      int shared = -1;
      for (uint32_t o = 0; o < t; ++o) {
        const sparrow_ops_sparse_task_t *ot = &p->tasks[sparse_task_at(p, r, o)];
        if (ot->mb > 0 && ot->j0 == task->j0 && ot->nb == task->nb) {
          shared = (int)o;
          break;
        }
      }
      for (uint32_t q = 0; q < p->chunks; ++q) {
        sparrow_ops_sparse_slice_t *s = &p->slices[sparse_slice_at(p, r, t, q)];
        b_read += (uint64_t)s->b_lines * beat;
        if (shared >= 0) {
          const sparrow_ops_sparse_slice_t *os =
              &p->slices[sparse_slice_at(p, r, (uint32_t)shared, q)];
          s->b_off = os->b_off;
          s->idx_off = os->idx_off;
          continue;
        }
        s->b_off = b_off;
        s->idx_off = idx_off;
        b_off += (uint64_t)s->b_lines * beat;
        idx_off += (uint64_t)ceil_div_u32(s->idx0, p->lanes) * beat;
      }
    }
  }
  // Never a zero-sized buffer: an empty W still gets one beat (nothing reads it).
  p->b_bytes = b_off == 0 ? beat : b_off;
  p->idx_bytes = idx_off == 0 ? beat : idx_off;
  p->b_read_bytes = b_read;
}

sparrow_ops_status_t sparse_plan_spmm(sparrow_ops_sparse_plan_t *p, const sparse_cost_t *cost,
                                      char *msg, size_t msg_len) {
  const char *name = sparrow_ops_sparse_op_name(p->op);
  uint32_t lanes = p->lanes;
  p->rows = p->m;
  p->cols = p->op == SPARROW_OPS_SPMM ? p->n : p->k;
  p->red = p->op == SPARROW_OPS_SPMM ? p->k : p->n;
  p->row_blocks = ceil_div_u32(p->rows, lanes);
  if (p->row_blocks > 1 && p->row_blocks % 2 != 0) {
    p->row_blocks += 1;  // the ring's two slots take row blocks in pairs
  }
  p->rows_p = p->row_blocks * lanes;
  p->col_blocks = p->cols / lanes;
  p->slots = 2;
  p->segments = 1;
  p->a_bytes = 4ull * p->red * p->rows_p;
  p->c_bytes = 4ull * p->rows_p * p->cols;
  if (p->a_bytes + p->c_bytes > 0xFFFFFFFFull || 4ull * p->cols * lanes > 0x7FFFFFFFull ||
      4ull * p->rows_p > 0x7FFFFFFFull) {
    sparrow_ops_set_msg(msg, msg_len, "%s: %ux%ux%u does not fit 32-bit device addresses", name,
                        p->m, p->n, p->k);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  p->col_groups = min_u32(p->tiles, p->col_blocks);
  uint32_t row_units = p->row_blocks == 1 ? 1u : p->row_blocks / 2u;
  p->row_groups = min_u32(p->tiles / p->col_groups, row_units);
  if (p->row_groups == 0) {
    p->row_groups = 1;
  }
  uint32_t red_blocks = p->red / p->block;
  uint32_t per_group = ceil_div_u32(p->col_blocks, p->col_groups);
  uint32_t max_groups = ceil_div_u32(p->col_blocks, 1) + p->col_groups;
  part_t *parts = calloc(max_groups, sizeof(part_t));
  if (parts == NULL) {
    sparrow_ops_set_msg(msg, msg_len, "%s: host out of memory", name);
    return SPARROW_OPS_E_NOMEM;
  }
  uint64_t best = UINT64_MAX;
  uint32_t best_nb = 0, best_chunks = 0;
  for (uint32_t nb = 1; nb <= per_group; ++nb) {
    uint32_t rounds = ceil_div_u32(p->col_blocks, p->col_groups * nb);
    if (ceil_div_u32(p->col_blocks, p->col_groups * rounds) != nb) {
      continue;  // the same balanced split as a smaller nb
    }
    p->nb = nb;
    p->rounds = rounds;
    partition(p, rounds * p->col_groups, nb, parts);
    // Chunks: from the fewest the ring allows, the first that fits and the next one.
    uint32_t ring_max_kcb = (p->pmu_lines / 2u) / p->block;
    if (ring_max_kcb == 0) {
      break;
    }
    uint32_t tried = 0, last_kcb = 0;
    for (uint32_t chunks = ceil_div_u32(red_blocks, ring_max_kcb);
         chunks <= red_blocks && tried < 2; ++chunks) {
      uint32_t kcb = ceil_div_u32(red_blocks, chunks);
      if (kcb == last_kcb || ceil_div_u32(red_blocks, kcb) != chunks) {
        continue;
      }
      last_kcb = kcb;
      p->chunks = chunks;
      p->chunk = kcb * p->block;
      p->ring_lines = 2u * p->chunk;
      if (!alloc_details(p)) {
        free(parts);
        sparrow_ops_set_msg(msg, msg_len, "%s: host out of memory", name);
        return SPARROW_OPS_E_NOMEM;
      }
      make_tasks(p, parts);
      if (!fill_slices(p)) {
        continue;
      }
      tried++;
      uint64_t est = estimate(p, cost);
      if (est < best) {
        best = est;
        best_nb = nb;
        best_chunks = chunks;
      }
    }
  }
  if (best == UINT64_MAX) {
    free(parts);
    sparrow_ops_set_msg(
        msg, msg_len,
        "%s %ux%ux%u: no tiling fits the device (a block column's stored blocks exceed the "
        "PMU or its index memory)",
        name, p->m, p->n, p->k);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  // Rebuild the winner's details.
  p->nb = best_nb;
  p->rounds = ceil_div_u32(p->col_blocks, p->col_groups * best_nb);
  p->chunks = best_chunks;
  p->chunk = ceil_div_u32(red_blocks, best_chunks) * p->block;
  p->ring_lines = 2u * p->chunk;
  partition(p, p->rounds * p->col_groups, p->nb, parts);
  int ok = alloc_details(p);
  if (ok) {
    make_tasks(p, parts);
    ok = fill_slices(p);  // fits: it did when the candidate was tried
  }
  free(parts);
  if (!ok) {
    sparrow_ops_set_msg(msg, msg_len, "%s: host out of memory", name);
    return SPARROW_OPS_E_NOMEM;
  }
  place_slices(p);
  p->est_cycles = estimate(p, cost);
  for (size_t i = 0; i < (size_t)p->rounds * p->tiles; ++i) {
    if (p->tasks[i].mb > 0 && p->tasks[i].src != i % p->tiles) {
      p->multicast = 1;
    }
  }
  if (p->a_bytes + p->b_bytes + p->idx_bytes + p->c_bytes > 0xFFFFFFFFull) {
    sparrow_ops_set_msg(msg, msg_len, "%s: %ux%ux%u does not fit 32-bit device addresses", name,
                        p->m, p->n, p->k);
    return SPARROW_OPS_E_UNSUPPORTED;
  }
  return SPARROW_OPS_OK;
}

// ---------------------------------------------------------------------------------------------------
// Packing.

static uint32_t float_bits(const float *f) {
  uint32_t bits;
  memcpy(&bits, f, sizeof(bits));
  return bits;
}

// Each busy slice's B data in the order its PCU takes b beats: for each of the tile's column
// lane-blocks j, for each stored block of j's block column in the chunk (ascending block row), the
// block's `block` rows restricted to j's lanes (spmm), or its columns (spmm_t: W^T's rows are W's
// columns, so each W block is read transposed). Only copies.
void sparse_pack_b_spmm(const sparrow_ops_sparse_plan_t *p, const sparrow_bsr_t *w,
                        uint32_t *dev_b) {
  memset(dev_b, 0, (size_t)p->b_bytes);
  uint32_t bs = p->block, lanes = p->lanes, per_col = bs / lanes;
  int transposed = p->op == SPARROW_OPS_SPMM_T;
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t t = 0; t < p->tiles; ++t) {
      const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, r, t)];
      if (task->mb == 0) {
        continue;
      }
      for (uint32_t q = 0; q < p->chunks; ++q) {
        const sparrow_ops_sparse_slice_t *s = &p->slices[sparse_slice_at(p, r, t, q)];
        uint32_t *out = dev_b + s->b_off / 4;
        for (uint32_t j = task->j0; j < task->j0 + task->nb; ++j) {
          uint32_t lo, hi;
          sparse_col_range(p, j, q, &lo, &hi);
          uint32_t lane0 = (j % per_col) * lanes;
          for (uint32_t e = lo; e < hi; ++e) {
            const float *blk = w->values + (size_t)p->pat_blk[e] * bs * bs;
            for (uint32_t i = 0; i < bs; ++i) {
              for (uint32_t l = 0; l < lanes; ++l) {
                *out++ = transposed ? float_bits(&blk[(size_t)(lane0 + l) * bs + i])
                                    : float_bits(&blk[(size_t)i * bs + lane0 + l]);
              }
            }
          }
        }
      }
    }
  }
}

// Each busy slice's gather list for PMU read 0 (the strip ring): one word per (column lane-block,
// stored block) in the PCU's order, whose offset is the block row within the chunk (the port's
// stride1 is one block of lines); the last word releases the strip's slot. A slice without stored
// blocks releases the slot at once (skip | release).
void sparse_pack_idx_spmm(const sparrow_ops_sparse_plan_t *p, uint32_t *dev_idx) {
  memset(dev_idx, 0, (size_t)p->idx_bytes);
  uint32_t kcb = p->chunk / p->block;
  for (uint32_t r = 0; r < p->rounds; ++r) {
    for (uint32_t t = 0; t < p->tiles; ++t) {
      const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, r, t)];
      if (task->mb == 0) {
        continue;
      }
      for (uint32_t q = 0; q < p->chunks; ++q) {
        const sparrow_ops_sparse_slice_t *s = &p->slices[sparse_slice_at(p, r, t, q)];
        uint32_t *out = dev_idx + s->idx_off / 4;
        uint32_t n = 0;
        for (uint32_t j = task->j0; j < task->j0 + task->nb; ++j) {
          uint32_t lo, hi;
          sparse_col_range(p, j, q, &lo, &hi);
          for (uint32_t e = lo; e < hi; ++e) {
            out[n++] = p->pat_idx[e] - q * kcb;
          }
        }
        if (n == 0) {
          out[n++] = SPARSE_IDX_SKIP;
        }
        out[n - 1] |= SPARSE_IDX_RELEASE;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Program builder.

typedef struct spmm_ctx {
  const sparrow_ops_sparse_plan_t *plan;
  uint64_t a_addr, b_addr, idx_addr, c_addr;
} spmm_ctx_t;

// Phase A of (round, chunk): every busy tile loads its B slice (AGCU read 1 -> PMU write 1, lines
// ring_lines..) and its gather list (AGCU read 0 -> PMU write 0 into the index memory).
static sparrow_ops_prog_status_t emit_phase_a(sparrow_ops_prog_t *prog, const spmm_ctx_t *ctx,
                                              uint32_t round, uint32_t q) {
  const sparrow_ops_sparse_plan_t *p = ctx->plan;
  const uint64_t beat = 4ull * p->lanes;
  sparse_routes_t routes;
  sparse_routes_clear(&routes);
  for (uint32_t t = 0; t < p->tiles; ++t) {
    const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, round, t)];
    if (task->mb == 0) {
      continue;
    }
    const sparrow_ops_sparse_slice_t *s = &p->slices[sparse_slice_at(p, round, t, q)];
    sparse_routes_set(&routes, t, SPARROW_DST_PMU_WR0, t, SPARROW_SRC_AGCU_RD0);
    if (s->b_lines > 0) {
      sparse_routes_set(&routes, t, SPARROW_DST_PMU_WR1, t, SPARROW_SRC_AGCU_RD1);
    }
  }
  SPARROW_OPS_PROG_TRY(sparse_routes_emit(prog, &routes));
  for (uint32_t t = 0; t < p->tiles; ++t) {
    const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, round, t)];
    if (task->mb == 0) {
      continue;
    }
    const sparrow_ops_sparse_slice_t *s = &p->slices[sparse_slice_at(p, round, t, q)];
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(prog, t, 0, 0, 0, 0, 0));
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(prog, t, 1, 0, 0, 0, 0));
    uint32_t idx_lines = ceil_div_u32(s->idx0, p->lanes);
    sparrow_ops_agen_t idx_rd =
        sparse_agen(ctx->idx_addr + s->idx_off, idx_lines, (int64_t)beat, 1, 0, 1, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD0, &idx_rd));
    sparrow_ops_agen_t idx_wr = sparse_agen(0, idx_lines, 1, 1, 0, 1, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_index(prog, t, SPARROW_PMU_PORT_WR0, &idx_wr));
    if (s->b_lines > 0) {
      sparrow_ops_agen_t b_rd =
          sparse_agen(ctx->b_addr + s->b_off, s->b_lines, (int64_t)beat, 1, 0, 1, 0, 1, 0);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD1, &b_rd));
      sparrow_ops_agen_t b_wr = sparse_agen(p->ring_lines, s->b_lines, 1, 1, 0, 1, 0, 1, 0);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(prog, t, SPARROW_PMU_PORT_WR1, &b_wr));
    }
  }
  return sparrow_ops_prog_run(prog);
}

// Phase B of (round, chunk): the strips (A^T row blocks, the chunk's rows) stream from each row
// group's source AGCU read 0 into every busy tile's ring (PMU write 0, synchronized with read 0);
// PMU read 0 gathers, per strip, the rows of each stored block (the index list) -> PCU a; PMU read
// 1 reads the B slice once per strip -> PCU b; the PCU takes k_table[j] = block * (stored blocks of
// j's column in the chunk) beat pairs per output block; outputs (and, from the second chunk on, the
// reloaded partial sums) as the dense GEMM.
static sparrow_ops_prog_status_t emit_phase_b(sparrow_ops_prog_t *prog, const spmm_ctx_t *ctx,
                                              uint32_t round, uint32_t q) {
  const sparrow_ops_sparse_plan_t *p = ctx->plan;
  const uint64_t beat = 4ull * p->lanes;
  const uint64_t row_a = 4ull * p->rows_p;
  const uint64_t row_c = 4ull * p->cols;
  uint32_t k0 = 0;
  uint32_t kcq = sparse_chunk_rows(p, q, &k0);
  int acc_init = q > 0;
  sparse_routes_t routes;
  sparse_routes_clear(&routes);
  for (uint32_t t = 0; t < p->tiles; ++t) {
    const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, round, t)];
    if (task->mb == 0) {
      continue;
    }
    const sparrow_ops_sparse_slice_t *s = &p->slices[sparse_slice_at(p, round, t, q)];
    sparse_routes_set(&routes, t, SPARROW_DST_PMU_WR0, task->src, SPARROW_SRC_AGCU_RD0);
    sparse_routes_set(&routes, t, SPARROW_DST_PCU_A, t, SPARROW_SRC_PMU_RD0);
    if (s->b_lines > 0) {
      sparse_routes_set(&routes, t, SPARROW_DST_PCU_B, t, SPARROW_SRC_PMU_RD1);
    }
    if (acc_init) {
      sparse_routes_set(&routes, t, SPARROW_DST_PCU_C, t, SPARROW_SRC_AGCU_RD1);
    }
    sparse_routes_set(&routes, t, SPARROW_DST_AGCU_WR, t, SPARROW_SRC_PCU_OUT);
  }
  SPARROW_OPS_PROG_TRY(sparse_routes_emit(prog, &routes));
  uint32_t k_table[SPARROW_PCU_K_TABLE_ENTRIES];
  for (uint32_t t = 0; t < p->tiles; ++t) {
    const sparrow_ops_sparse_task_t *task = &p->tasks[sparse_task_at(p, round, t)];
    if (task->mb == 0) {
      continue;
    }
    const sparrow_ops_sparse_slice_t *s = &p->slices[sparse_slice_at(p, round, t, q)];
    uint32_t slots = task->mb == 1 ? 1u : 2u;
    if (task->src == t) {
      sparrow_ops_agen_t a_rd =
          sparse_agen(ctx->a_addr + (uint64_t)k0 * row_a + (uint64_t)task->ib0 * beat, kcq,
                      (int64_t)row_a, task->mb, (int64_t)beat, 1, 0, 1, 0);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD0, &a_rd));
    }
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(prog, t, 0, 1, slots, kcq, 1));
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu_sync(prog, t, 1, 0, 0, 0, 0));
    sparrow_ops_agen_t ring_wr = sparse_agen(0, kcq, 1, slots, kcq, task->mb / slots, 0, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(prog, t, SPARROW_PMU_PORT_WR0, &ring_wr));
    sparrow_ops_agen_t ring_rd = sparse_agen(0, p->block, 1, 1, p->block, slots, kcq, task->mb, 0);
    SPARROW_OPS_PROG_TRY(
        sparrow_ops_prog_pmu_gather(prog, t, SPARROW_PMU_PORT_RD0, &ring_rd, 0, s->idx0));
    if (s->b_lines > 0) {
      sparrow_ops_agen_t b_rd = sparse_agen(p->ring_lines, s->b_lines, 1, task->mb, 0, 1, 0, 1, 0);
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pmu(prog, t, SPARROW_PMU_PORT_RD1, &b_rd));
    }
    // Beat pairs per output block: one k per column lane-block (the blocks go row block by row
    // block, lane-block j inner, so block b takes k_table[b mod nb]).
    int uniform = 1;
    uint32_t k_first = 0;
    for (uint32_t jj = 0; jj < task->nb; ++jj) {
      uint32_t lo, hi;
      sparse_col_range(p, task->j0 + jj, q, &lo, &hi);
      uint32_t kj = (hi - lo) * p->block;
      if (jj < SPARROW_PCU_K_TABLE_ENTRIES) {
        k_table[jj] = kj;
      }
      if (jj == 0) {
        k_first = kj;
      } else if (kj != k_first) {
        uniform = 0;
      }
    }
    if (uniform && k_first > 0) {
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_pcu_gemm(prog, t, k_first, s->blocks, acc_init));
    } else {
      SPARROW_OPS_PROG_TRY(
          sparrow_ops_prog_pcu_gemm_table(prog, t, s->blocks, acc_init, k_table, task->nb));
    }
    sparrow_ops_agen_t c_walk = sparse_agen(
        ctx->c_addr + (uint64_t)task->ib0 * p->lanes * row_c + (uint64_t)task->j0 * beat, p->lanes,
        (int64_t)row_c, task->nb, (int64_t)beat, task->mb, (int64_t)p->lanes * row_c, 1, 0);
    SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_WR, &c_walk));
    if (acc_init) {
      SPARROW_OPS_PROG_TRY(sparrow_ops_prog_agcu(prog, t, SPARROW_AGCU_CHANNEL_RD1, &c_walk));
    }
  }
  return sparrow_ops_prog_run(prog);
}

static sparrow_ops_prog_status_t emit_pair(sparrow_ops_prog_t *prog, const spmm_ctx_t *ctx,
                                           uint32_t round, uint32_t q) {
  SPARROW_OPS_PROG_TRY(emit_phase_a(prog, ctx, round, q));
  return emit_phase_b(prog, ctx, round, q);
}

sparrow_ops_status_t sparse_build_spmm(const sparrow_ops_sparse_plan_t *plan, uint64_t a_addr,
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
  spmm_ctx_t ctx = {plan, a_addr, b_addr, idx_addr, c_addr};
  for (uint32_t r = 0; r < plan->rounds && status == SPARROW_OPS_OK; ++r) {
    for (uint32_t q = 0; q < plan->chunks && status == SPARROW_OPS_OK; ++q) {
      sparrow_ops_prog_mark(prog, mark);
      sparrow_ops_prog_status_t st = emit_pair(prog, &ctx, r, q);
      if (st == SPARROW_OPS_PROG_E_FULL && mark->count > 0) {
        // Full: end this launch and start a new, self-contained one with the pair.
        sparrow_ops_prog_rollback(prog, mark);
        st = sparrow_ops_prog_end(prog);
        if (st == SPARROW_OPS_PROG_OK) {
          status = sparrow_ops_programs_push(programs, prog);
          sparrow_ops_prog_clear(prog);
          if (status == SPARROW_OPS_OK) {
            st = emit_pair(prog, &ctx, r, q);
          }
        }
      }
      if (status == SPARROW_OPS_OK && st != SPARROW_OPS_PROG_OK) {
        status = sparrow_ops_prog_status(st);
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
