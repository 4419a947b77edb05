// SPDX-License-Identifier: Apache-2.0
//
// The fabric checks of the sparse features (docs/fabric.md, "Index memory and gather mode" and
// "Per-block k"), written once for any configuration's model: gathered line sequences against the
// walk computed here from the same index words, N-buffer sync driven by index words, the PCU's
// k table, and a small block-sparse product checked bit-exactly against the C arithmetic
// (sim/model/sparrow_fp.c) summed in ascending k.

#ifndef SPARROW_TESTS_RTL_FABRIC_TB_SPARSE_H_
#define SPARROW_TESTS_RTL_FABRIC_TB_SPARSE_H_

#include "fabric_tb.h"
#include "fabric_tb_tests.h"
#include "sparrow_fp.h"

namespace fabric_tb {

inline uint32_t pmu_lines(const sparrow_hw_config_t &c) {
  return c.pmu_words / c.lanes;
}
inline uint32_t idx_lines(const sparrow_hw_config_t &c) {
  return SPARROW_PMU_IDX_WORDS / c.lanes;
}
inline uint32_t gather_word(uint32_t offset, bool skip, bool release) {
  return offset | (skip ? 1u << SPARROW_GATHER_SKIP_BIT : 0u) |
         (release ? 1u << SPARROW_GATHER_RELEASE_BIT : 0u);
}

// A gather read port's configuration, and the lines it reads, in order, by the walk of
// docs/fabric.md (unsigned arithmetic modulo 2^32, then modulo the PMU's lines, a power of two).
struct GatherSpec {
  uint32_t base;
  Program::Loops loops;
  uint32_t idx_base, idx_count;
};

inline std::vector<uint32_t> gather_walk(const std::vector<uint32_t> &idx, const GatherSpec &g,
                                         uint32_t lines) {
  auto at_least_1 = [](uint32_t n) { return n == 0 ? 1u : n; };
  const uint32_t count0 = at_least_1(g.loops.count[0]), count2 = at_least_1(g.loops.count[2]);
  const uint32_t count3 = at_least_1(g.loops.count[3]);
  const uint32_t offset_mask = (1u << SPARROW_GATHER_OFFSET_BITS) - 1;
  std::vector<uint32_t> out;
  uint32_t slot = 0;
  for (uint32_t i3 = 0; i3 < count3; i3++) {
    for (uint32_t e = 0; e < g.idx_count; e++) {
      const uint32_t w = idx[(g.idx_base + e) % SPARROW_PMU_IDX_WORDS];
      if (!bit_get(w, SPARROW_GATHER_SKIP_BIT)) {
        for (uint32_t i0 = 0; i0 < count0; i0++) {
          const uint32_t addr = g.base + slot * static_cast<uint32_t>(g.loops.stride[2]) +
                                (w & offset_mask) * static_cast<uint32_t>(g.loops.stride[1]) +
                                i0 * static_cast<uint32_t>(g.loops.stride[0]);
          out.push_back(addr % lines);
        }
      }
      if (bit_get(w, SPARROW_GATHER_RELEASE_BIT)) {
        slot = (slot + 1) % count2;
      }
    }
  }
  return out;
}

// The words of the given lines of `mem` (a PMU image, line after line), in order.
inline std::vector<uint32_t> lines_of(const std::vector<uint32_t> &mem,
                                      const std::vector<uint32_t> &lines, uint32_t lanes) {
  std::vector<uint32_t> out;
  for (uint32_t l : lines) {
    out.insert(out.end(), mem.begin() + l * lanes, mem.begin() + (l + 1) * lanes);
  }
  return out;
}

// One launch that fills every line of PMU `tile` with `data` (through write port 1) and `idx_beats`
// (whole index lines) into its index memory from index line `idx_line0` on (through write port 0,
// target index, then back to lines), from DRAM at data_at and idx_at. Returns the index memory
// image as the fabric lays it out: beat j lands on index line (idx_line0 + j) mod the index lines.
template <class M>
std::vector<uint32_t> load_pmu(Bench<M> &tb, Results &res, uint32_t tile,
                               const std::vector<uint32_t> &data,
                               const std::vector<uint32_t> &idx_beats, uint32_t idx_line0,
                               uint32_t data_at, uint32_t idx_at) {
  const sparrow_hw_config_t &c = tb.config();
  const int32_t bb = static_cast<int32_t>(tb.beat_bytes());
  const uint32_t lines = pmu_lines(c), ilines = idx_lines(c);
  const uint32_t idx_beat_count = static_cast<uint32_t>(idx_beats.size() / c.lanes);
  tb.dram_write(data_at, data);
  tb.dram_write(idx_at, idx_beats);
  Program p;
  p.route(tile, SPARROW_DST_PMU_WR1, tile, SPARROW_SRC_AGCU_RD0);
  p.agcu_chan(tile, SPARROW_AGCU_CHANNEL_RD0, data_at, Program::loops({{lines, bb}}));
  p.pmu_port(tile, SPARROW_PMU_PORT_WR1, 0, Program::loops({{lines, 1}}));
  p.route(tile, SPARROW_DST_PMU_WR0, tile, SPARROW_SRC_AGCU_RD1);
  p.agcu_chan(tile, SPARROW_AGCU_CHANNEL_RD1, idx_at, Program::loops({{idx_beat_count, bb}}));
  p.pmu_target(tile, SPARROW_PMU_PORT_WR0, SPARROW_PMU_TARGET_INDEX);
  p.pmu_port(tile, SPARROW_PMU_PORT_WR0, idx_line0, Program::loops({{idx_beat_count, 1}}));
  p.run();
  p.pmu_target(tile, SPARROW_PMU_PORT_WR0, SPARROW_PMU_TARGET_LINES);
  p.unroute(tile, SPARROW_DST_PMU_WR0);
  p.unroute(tile, SPARROW_DST_PMU_WR1);
  p.end();
  expect_done<M>(res, tb.run(p, kMaxCycles), "load PMU lines and index memory");
  std::vector<uint32_t> idx(SPARROW_PMU_IDX_WORDS, 0);
  for (uint32_t j = 0; j < idx_beat_count; j++) {
    for (uint32_t w = 0; w < c.lanes; w++) {
      idx[((idx_line0 + j) % ilines) * c.lanes + w] = idx_beats[j * c.lanes + w];
    }
  }
  return idx;
}

// ----------------------------------------------------------------------------------------------
// Index memory load (its address generator wrapping past the last index line) and two read ports
// gathering at once: port 0 over a list that wraps past the last index word, with count0 3,
// negative stride0, slots moved by release bits (count2 3), the list walked twice (count3 2) and
// the line addresses wrapping past the last line; port 1 over a list of single lines (count0 1).
// The index words are random (offsets over all 24 bits, the unused bits 29:24 set at random, skip
// and release at random); every PMU line holds distinct words, so the output names the lines read.
// A third phase reads port 0 affinely again.
template <class M>
void test_gather_pattern(Bench<M> &tb, Results &res) {
  res.begin(fmt("gather-pattern-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{30, 0, 6, 21});
  const sparrow_hw_config_t &c = tb.config();
  const uint32_t lanes = c.lanes, lines = pmu_lines(c), ilines = idx_lines(c);
  const int32_t bb = static_cast<int32_t>(tb.beat_bytes());
  const uint32_t data_at = 0x10000, idx_at = 0x40000, out0 = 0x60000, out1 = 0x80000;
  const uint32_t out2 = 0x90000;
  std::vector<uint32_t> data = counting_words(0x51000000u, lines * lanes);
  std::mt19937 rng(lanes * 1000 + 17);
  std::vector<uint32_t> beats(SPARROW_PMU_IDX_WORDS);
  for (auto &w : beats) {
    w = rng() & 0x3FFFFFFFu;
    const uint32_t r = rng() % 15;
    w |= (r % 5 == 0 ? 1u << SPARROW_GATHER_SKIP_BIT : 0u) |
         (r % 3 == 0 ? 1u << SPARROW_GATHER_RELEASE_BIT : 0u);
  }
  const std::vector<uint32_t> idx = load_pmu(tb, res, 0, data, beats, ilines - 2, data_at, idx_at);

  // count1 (77) and stride3 (12345) must not matter.
  const GatherSpec ga{lines - 3, Program::loops({{3, -2}, {77, 5}, {3, 7}, {2, 12345}}),
                      SPARROW_PMU_IDX_WORDS - 5, 13};
  const GatherSpec gb{0, Program::loops({{1, 0}, {0, 1}}), 100, 40};
  const std::vector<uint32_t> la = gather_walk(idx, ga, lines), lb = gather_walk(idx, gb, lines);
  res.check(!la.empty() && !lb.empty(), "both walks read lines");
  const uint32_t na = static_cast<uint32_t>(la.size()), nb = static_cast<uint32_t>(lb.size());
  tb.dram_write(out0, std::vector<uint32_t>(na * lanes, 0xFFFFFFFFu));
  tb.dram_write(out1, std::vector<uint32_t>(nb * lanes, 0xFFFFFFFFu));

  Program p;
  p.route(0, SPARROW_DST_AGCU_WR, 0, SPARROW_SRC_PMU_RD0);
  p.route(1, SPARROW_DST_AGCU_WR, 0, SPARROW_SRC_PMU_RD1);
  p.pmu_gather(0, SPARROW_PMU_PORT_RD0, ga.base, ga.loops, ga.idx_base, ga.idx_count);
  p.pmu_gather(0, SPARROW_PMU_PORT_RD1, gb.base, gb.loops, gb.idx_base, gb.idx_count);
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_WR, out0, Program::loops({{na, bb}}));
  p.agcu_chan(1, SPARROW_AGCU_CHANNEL_WR, out1, Program::loops({{nb, bb}}));
  p.run();
  p.pmu_gather_off(0, SPARROW_PMU_PORT_RD0);
  p.unroute(1, SPARROW_DST_AGCU_WR);
  p.pmu_port(0, SPARROW_PMU_PORT_RD0, 10, Program::loops({{4, 3}}));
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_WR, out2, Program::loops({{4, bb}}));
  p.run();
  p.unroute(0, SPARROW_DST_AGCU_WR);
  p.end();
  expect_done<M>(res, tb.run(p, kMaxCycles), "gather");
  check_words<M>(res, tb.dram_read(out0, na * lanes), lines_of(data, la, lanes),
                 "port 0 gathered lines");
  check_words<M>(res, tb.dram_read(out1, nb * lanes), lines_of(data, lb, lanes),
                 "port 1 gathered lines");
  check_words<M>(res, tb.dram_read(out2, 4 * lanes), lines_of(data, {10, 13, 16, 19}, lanes),
                 "port 0 affine again");
  res.check(tb.csr_read64(SPARROW_CSR_DRAM_WR_LO) == uint64_t{na + nb + 4} * tb.beat_bytes(),
            "dram_wr bytes");
  res.check(tb.dram_errors() == 0, "DRAM addresses in range");
  std::printf("  gathered %u + %u lines from %u + %u index words\n", na, nb, ga.idx_count * 2,
              gb.idx_count);
  res.end();
}

// An empty list (idx_count 0) ends its port at once, even with sync enabled and no slot ever
// filled; then one line per cycle: a list of single-line words (count0 1) gathered into an AGCU
// write channel that takes a beat every cycle, next to the empty list on the other port, so the
// PMU's stall counter shows any bubble between index words.
template <class M>
void test_gather_rate(Bench<M> &tb, Results &res) {
  res.begin(fmt("gather-empty-and-rate-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{100, 0, 0, 1});
  const sparrow_hw_config_t &c = tb.config();
  const uint32_t lanes = c.lanes, lines = pmu_lines(c), words = 64;
  const int32_t bb = static_cast<int32_t>(tb.beat_bytes());
  const uint32_t data_at = 0x10000, idx_at = 0x40000, out = 0x60000, out1 = 0x70000;
  std::vector<uint32_t> data = counting_words(0x62000000u, lines * lanes);
  std::mt19937 rng(lanes + 5);
  std::vector<uint32_t> beats(words);
  for (auto &w : beats) {
    w = rng() % lines;
  }
  const std::vector<uint32_t> idx = load_pmu(tb, res, 1, data, beats, 0, data_at, idx_at);
  tb.dram_write(out1, std::vector<uint32_t>(lanes, 0xFFFFFFFFu));

  Program e;
  e.route(1, SPARROW_DST_AGCU_WR, 1, SPARROW_SRC_PMU_RD1);
  e.pmu_sync(1, 1, true, 2, 4, 4);
  e.pmu_gather(1, SPARROW_PMU_PORT_RD1, 0, Program::loops({{2, 1}}), 0, 0);
  e.run();
  e.end();
  expect_done<M>(res, tb.run(e, 1000), "empty list");
  const uint64_t empty_stall = tb.unit_stall(unit_pmu(tb, 1));
  res.check(empty_stall <= 1, fmt("empty list: PMU stalled %llu cycles",
                                  static_cast<unsigned long long>(empty_stall)));
  res.check(tb.unit_busy(unit_pmu(tb, 1)) == 0, "empty list moved no line");
  res.check(tb.dram_read(out1, 1)[0] == 0xFFFFFFFFu, "empty list wrote nothing");

  const GatherSpec g{0, Program::loops({{1, 0}, {1, 1}}), 0, words};
  const std::vector<uint32_t> want = gather_walk(idx, g, lines);
  Program p;
  p.route(1, SPARROW_DST_AGCU_WR, 1, SPARROW_SRC_PMU_RD0);
  p.pmu_gather(1, SPARROW_PMU_PORT_RD0, g.base, g.loops, g.idx_base, g.idx_count);
  p.pmu_gather(1, SPARROW_PMU_PORT_RD1, 0, Program::loops({{2, 1}}), 0, 0);
  p.agcu_chan(1, SPARROW_AGCU_CHANNEL_WR, out, Program::loops({{words, bb}}));
  p.run();
  p.pmu_sync(1, 1, false, 0, 0, 0);
  p.end();
  expect_done<M>(res, tb.run(p, kMaxCycles), "gather");
  check_words<M>(res, tb.dram_read(out, words * lanes), lines_of(data, want, lanes),
                 "gathered lines");
  const uint64_t busy = tb.unit_busy(unit_pmu(tb, 1)), stall = tb.unit_stall(unit_pmu(tb, 1));
  // Busy: one cycle per line (one port moves). Stall: the cycle the first line is read, before it
  // leaves the output FIFO; a bubble per index word would add `words` more.
  res.check(busy == words,
            fmt("PMU busy %llu cycles for %u lines", static_cast<unsigned long long>(busy), words));
  res.check(stall <= 2, fmt("PMU stalled %llu cycles", static_cast<unsigned long long>(stall)));
  std::printf(
      "  empty list: PMU stall %llu; gather rate: %u lines (count0 1) in %llu PMU cycles "
      "(busy %llu, stall %llu)\n",
      static_cast<unsigned long long>(empty_stall), words,
      static_cast<unsigned long long>(busy + stall), static_cast<unsigned long long>(busy),
      static_cast<unsigned long long>(stall));
  res.end();
}

// A synchronized 2-slot ring (buffer 0) streams 6 strips of 6 lines while read port 0 gathers
// them with per-strip lists of different lengths, count0 3 and stride0 -1 (so a release word reads
// the slot's first line last: a release before its last read would let the waiting writer overwrite
// that line first): strip 0 is read by 3 words (9 lines, more than its writer writes, so the writer
// waits for its release), strip 1 only released by a bare
// skip|release word, strip 2 by 1 word, strip 3 by 2 words around a plain skip, strip 4 by the same
// word 3 times, strip 5 by a plain skip and 1 word. The ring sits across the end of the PMU, so
// slot addresses wrap. sync_rd_lines (5) must not matter.
template <class M>
void test_gather_sync(Bench<M> &tb, Results &res, const DramConfig &dram, const char *label,
                      uint32_t tag) {
  res.begin(fmt("gather-sync-ring-%s-%s", label, tb.config().name));
  fresh(tb);
  tb.set_dram(dram);
  const sparrow_hw_config_t &c = tb.config();
  const uint32_t lanes = c.lanes, lines = pmu_lines(c), strips = 6, slot = 6;
  const int32_t bb = static_cast<int32_t>(tb.beat_bytes());
  const uint32_t ring = lines - 8, src = 0x10000, idx_at = 0x30000, out = 0x50000;
  const std::vector<uint32_t> list = {
      gather_word(5, false, false), gather_word(3, false, false), gather_word(2, false, true),
      gather_word(0, true, true),   gather_word(4, false, true),  gather_word(2, false, false),
      gather_word(7, true, false),  gather_word(5, false, true),  gather_word(2, false, false),
      gather_word(2, false, false), gather_word(2, false, true),  gather_word(5, true, false),
      gather_word(3, false, true)};
  const uint32_t n_list = static_cast<uint32_t>(list.size());
  std::vector<uint32_t> idx_beats(list);
  idx_beats.resize((n_list + lanes - 1) / lanes * lanes, 0);
  std::vector<uint32_t> strip_data = counting_words(tag << 24, strips * slot * lanes);
  tb.dram_write(src, strip_data);
  tb.dram_write(idx_at, idx_beats);

  // Expected: the walk over a ring whose slot s holds strip s (the walk's slot counter counts
  // strips, modulo nothing: count2 is the ring's 2, so map the strip number separately).
  std::vector<uint32_t> want;
  {
    uint32_t strip = 0;
    for (uint32_t w : list) {
      if (!bit_get(w, SPARROW_GATHER_SKIP_BIT)) {
        for (uint32_t i0 = 0; i0 < 3; i0++) {
          const uint32_t line = (w & 0xFFFFFFu) - i0;
          want.insert(want.end(), strip_data.begin() + (strip * slot + line) * lanes,
                      strip_data.begin() + (strip * slot + line + 1) * lanes);
        }
      }
      strip += bit_get(w, SPARROW_GATHER_RELEASE_BIT) ? 1 : 0;
    }
    res.check(strip == strips, "the list releases every strip");
  }
  const uint32_t n_out = static_cast<uint32_t>(want.size() / lanes);

  Program p;
  // Phase 1: the list, through write port 1 (target index), at index line 5.
  const uint32_t idx_line0 = 5;
  p.route(0, SPARROW_DST_PMU_WR1, 0, SPARROW_SRC_AGCU_RD1);
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD1, idx_at,
              Program::loops({{static_cast<uint32_t>(idx_beats.size() / lanes), bb}}));
  p.pmu_target(0, SPARROW_PMU_PORT_WR1, SPARROW_PMU_TARGET_INDEX);
  p.pmu_port(0, SPARROW_PMU_PORT_WR1, idx_line0,
             Program::loops({{static_cast<uint32_t>(idx_beats.size() / lanes), 1}}));
  p.run();
  p.pmu_target(0, SPARROW_PMU_PORT_WR1, SPARROW_PMU_TARGET_LINES);
  p.unroute(0, SPARROW_DST_PMU_WR1);
  // Phase 2: the ring.
  p.route(0, SPARROW_DST_PMU_WR0, 0, SPARROW_SRC_AGCU_RD0);
  p.route(0, SPARROW_DST_AGCU_WR, 0, SPARROW_SRC_PMU_RD0);
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD0, src, Program::loops({{strips * slot, bb}}));
  p.pmu_sync(0, 0, true, 2, slot, 5);
  p.pmu_port(0, SPARROW_PMU_PORT_WR0, ring,
             Program::loops({{slot, 1}, {2, static_cast<int32_t>(slot)}, {strips / 2, 0}}));
  p.pmu_gather(0, SPARROW_PMU_PORT_RD0, ring,
               Program::loops({{3, -1}, {0, 1}, {2, static_cast<int32_t>(slot)}, {1, 0}}),
               idx_line0 * lanes, n_list);
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_WR, out, Program::loops({{n_out, bb}}));
  p.run();
  p.pmu_sync(0, 0, false, 0, 0, 0);
  p.pmu_gather_off(0, SPARROW_PMU_PORT_RD0);
  p.unroute(0, SPARROW_DST_PMU_WR0);
  p.unroute(0, SPARROW_DST_AGCU_WR);
  p.end();
  expect_done<M>(res, tb.run(p, 4 * kMaxCycles), "gather ring");
  check_words<M>(res, tb.dram_read(out, want.size()), want, "lines read per strip");
  res.check(tb.dram_errors() == 0, "DRAM addresses in range");
  res.end();
}

// ----------------------------------------------------------------------------------------------
// PCU per-block k: a and b straight from tile 0's AGCU read channels, c from tile 1's, blocks of
// table[b mod n] beat pairs (n = k_table_len, at most the table's size), k_count otherwise (0
// counting as 1). Entries of 0 take no beats and emit +0.0 or the loaded c rows.
struct KTableCase {
  const char *label;
  std::vector<uint32_t> table;  // entries written from 0
  uint32_t table_len;           // k_table_len register
  uint32_t k_count;
  uint32_t blocks;
  bool acc_init;
};

template <class M>
void test_pcu_k_table(Bench<M> &tb, Results &res, const KTableCase &kc) {
  res.begin(fmt("pcu-k-table-%s-%s", kc.label, tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{40, 0, 7, 3});
  const uint32_t lanes = tb.config().lanes;
  const int32_t bb = static_cast<int32_t>(tb.beat_bytes());
  const uint32_t at = 0x10000, b = 0x20000, c0 = 0x30000, out = 0x40000;
  const uint32_t n = std::min<uint32_t>(kc.table_len, SPARROW_PCU_K_TABLE_ENTRIES);
  std::vector<uint32_t> ks(kc.blocks);
  uint32_t pairs = 0;
  for (uint32_t blk = 0; blk < kc.blocks; blk++) {
    ks[blk] = n > 0 ? kc.table.at(blk % n) : std::max<uint32_t>(kc.k_count, 1);
    pairs += ks[blk];
  }
  res.check(pairs > 0, "the case takes beats");
  std::mt19937 rng(kc.blocks * 31 + pairs);
  std::vector<uint32_t> a_t = random_floats(rng, pairs * lanes),
                        bv = random_floats(rng, pairs * lanes);
  std::vector<uint32_t> cv = random_floats(rng, kc.blocks * lanes * lanes);
  tb.dram_write(at, a_t);
  tb.dram_write(b, bv);
  tb.dram_write(c0, cv);
  tb.dram_write(out, std::vector<uint32_t>(cv.size(), 0xFFFFFFFFu));
  std::vector<uint32_t> want(cv.size());
  uint8_t flags = 0;
  for (uint32_t blk = 0, k0 = 0; blk < kc.blocks; k0 += ks[blk], blk++) {
    for (uint32_t r = 0; r < lanes; r++) {
      for (uint32_t col = 0; col < lanes; col++) {
        uint32_t acc = kc.acc_init ? cv[(blk * lanes + r) * lanes + col] : 0;
        for (uint32_t kk = k0; kk < k0 + ks[blk]; kk++) {
          acc = sparrow_fp_add(
              acc, sparrow_fp_mul(a_t[kk * lanes + r], bv[kk * lanes + col], &flags), &flags);
        }
        want[(blk * lanes + r) * lanes + col] = acc;
      }
    }
  }
  Program p;
  p.route(0, SPARROW_DST_PCU_A, 0, SPARROW_SRC_AGCU_RD0);
  p.route(0, SPARROW_DST_PCU_B, 0, SPARROW_SRC_AGCU_RD1);
  p.route(0, SPARROW_DST_AGCU_WR, 0, SPARROW_SRC_PCU_OUT);
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD0, at, Program::loops({{pairs, bb}}));
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD1, b, Program::loops({{pairs, bb}}));
  if (kc.acc_init) {
    p.route(0, SPARROW_DST_PCU_C, 1, SPARROW_SRC_AGCU_RD0);
    p.agcu_chan(1, SPARROW_AGCU_CHANNEL_RD0, c0, Program::loops({{kc.blocks * lanes, bb}}));
  }
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_WR, out, Program::loops({{kc.blocks * lanes, bb}}));
  p.pcu_k_table(0, kc.table, kc.table_len);
  p.pcu_gemm(0, kc.k_count, kc.blocks, kc.acc_init);
  p.run();
  p.end();
  // Twice, the second launch with the table left as the first one left it: block 0 of every phase
  // takes entry 0.
  tb.load_program(p);
  for (int launch = 0; launch < 2; launch++) {
    tb.dram_write(out, std::vector<uint32_t>(cv.size(), 0xFFFFFFFFu));
    expect_done<M>(res, tb.launch(kMaxCycles), "k table");
    check_words<M>(res, tb.dram_read(out, want.size()), want, "blocks bit-exact");
  }
  const uint64_t macs = tb.csr_read64(SPARROW_CSR_MACS_LO);
  res.check(macs == uint64_t{pairs} * lanes * lanes,
            fmt("macs %llu, want %llu", static_cast<unsigned long long>(macs),
                static_cast<unsigned long long>(uint64_t{pairs} * lanes * lanes)));
  const uint32_t status = tb.csr_read(SPARROW_CSR_FP_STATUS);
  res.check(status == flags, fmt("FP_STATUS 0x%x, reference flags 0x%x", status, flags));
  res.end();
}

template <class M>
void test_pcu_k_tables(Bench<M> &tb, Results &res) {
  std::vector<uint32_t> full(SPARROW_PCU_K_TABLE_ENTRIES);
  for (uint32_t i = 0; i < full.size(); i++) {
    full[i] = i % 3;
  }
  const KTableCase cases[] = {
      {"zeros", {3, 0, 5, 1, 0}, 5, 9, 7, false},
      {"zeros-acc-init", {0, 2, 0, 0, 4}, 5, 9, 6, true},
      // k_table_len above the table counts as the table's size: blocks 32 and 33 take entries 0, 1.
      {"len-over", full, SPARROW_PCU_K_TABLE_ENTRIES + 8, 9, SPARROW_PCU_K_TABLE_ENTRIES + 2,
       false},
      {"k-count-0", {7, 7}, 0, 0, 3, true},
  };
  for (const KTableCase &kc : cases) {
    test_pcu_k_table(tb, res, kc);
  }
}

// ----------------------------------------------------------------------------------------------
// Block-sparse Y = X W (X: m x k dense, W: k x n in lanes x lanes blocks, some stored) on every
// tile, each computing nbt column blocks. Phase 1 loads each tile's W blocks, packed per column
// block in ascending block row, and its index list (one word per stored block: its block row; the
// last word releases the strip) through write port 0 targeting the index memory. Phase 2 streams
// X^T strips (lanes rows of X, all of k) from tile 0's AGCU, multicast into every tile's
// synchronized 2-slot ring; read port 0 gathers each stored block's lanes lines of the strip, read
// port 1 streams the packed W once per strip, and the PCU's k table gives column block j its stored
// blocks x lanes beat pairs (k_count, 999, is not used). An empty column block emits +0.0.
template <class M>
void test_spmm(Bench<M> &tb, Results &res) {
  res.begin(fmt("spmm-gather-k-table-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{100, 2, 10, 8});
  const sparrow_hw_config_t &c = tb.config();
  const uint32_t lanes = c.lanes, tiles = c.tiles, lines = pmu_lines(c);
  const uint32_t mb = 4, kb = 8, nbt = 4, nb = nbt * tiles;
  const uint32_t m = mb * lanes, k = kb * lanes, n = nb * lanes;
  const int32_t w4 = 4, bb = static_cast<int32_t>(tb.beat_bytes());
  const uint32_t xt_at = 0x10000, w_at = 0x20000, w_tile_bytes = 0x8000, idx_at = 0x60000;
  const uint32_t idx_tile_bytes = 0x1000, y_at = 0x80000;
  const uint32_t w_line = 0, a_line = lines / 2, idx_line0 = 3;

  std::mt19937 rng(lanes * 7 + tiles);
  std::vector<uint32_t> x = random_floats(rng, m * k), w = random_floats(rng, k * n);
  // The mask: about 40% of the blocks; per tile column block 1 empty, column block 2 full.
  std::vector<std::vector<uint32_t>> stored(nb);  // block rows of column block j, ascending
  for (uint32_t j = 0; j < nb; j++) {
    for (uint32_t r = 0; r < kb; r++) {
      const bool keep = (j % nbt == 2) || (j % nbt != 1 && rng() % 5 < 2);
      if (keep) {
        stored[j].push_back(r);
      }
    }
  }
  std::vector<uint32_t> xt(k * m);
  for (uint32_t i = 0; i < m; i++) {
    for (uint32_t kk = 0; kk < k; kk++) {
      xt[kk * m + i] = x[i * k + kk];
    }
  }
  tb.dram_write(xt_at, xt);
  tb.dram_write(y_at, std::vector<uint32_t>(m * n, 0xFFFFFFFFu));

  // Reference: each output block sums its stored blocks' products in ascending k from +0.0.
  std::vector<uint32_t> want(m * n);
  uint64_t nnz = 0;
  for (uint32_t j = 0; j < nb; j++) {
    nnz += stored[j].size();
    for (uint32_t i = 0; i < m; i++) {
      for (uint32_t col = j * lanes; col < (j + 1) * lanes; col++) {
        uint32_t acc = 0;
        for (uint32_t r : stored[j]) {
          for (uint32_t kk = r * lanes; kk < (r + 1) * lanes; kk++) {
            acc = sparrow_fp_add(acc, sparrow_fp_mul(x[i * k + kk], w[kk * n + col], nullptr),
                                 nullptr);
          }
        }
        want[i * n + col] = acc;
      }
    }
  }

  Program p;
  std::vector<uint32_t> w_lines(tiles), list_len(tiles);
  std::vector<std::vector<uint32_t>> k_table(tiles);
  for (uint32_t t = 0; t < tiles; t++) {
    std::vector<uint32_t> packed, list;
    for (uint32_t jl = 0; jl < nbt; jl++) {
      const uint32_t j = t * nbt + jl;
      for (uint32_t r : stored[j]) {
        for (uint32_t kk = r * lanes; kk < (r + 1) * lanes; kk++) {
          packed.insert(packed.end(), w.begin() + kk * n + j * lanes,
                        w.begin() + kk * n + (j + 1) * lanes);
        }
        list.push_back(gather_word(r, false, false));
      }
      k_table[t].push_back(static_cast<uint32_t>(stored[j].size()) * lanes);
    }
    list.back() |= 1u << SPARROW_GATHER_RELEASE_BIT;
    list_len[t] = static_cast<uint32_t>(list.size());
    w_lines[t] = static_cast<uint32_t>(packed.size() / lanes);
    list.resize((list.size() + lanes - 1) / lanes * lanes, 0);
    tb.dram_write(w_at + t * w_tile_bytes, packed);
    tb.dram_write(idx_at + t * idx_tile_bytes, list);
    const uint32_t list_lines = static_cast<uint32_t>(list.size() / lanes);
    p.route(t, SPARROW_DST_PMU_WR1, t, SPARROW_SRC_AGCU_RD0);
    p.agcu_chan(t, SPARROW_AGCU_CHANNEL_RD0, w_at + t * w_tile_bytes,
                Program::loops({{w_lines[t], bb}}));
    p.pmu_port(t, SPARROW_PMU_PORT_WR1, w_line, Program::loops({{w_lines[t], 1}}));
    p.route(t, SPARROW_DST_PMU_WR0, t, SPARROW_SRC_AGCU_RD1);
    p.agcu_chan(t, SPARROW_AGCU_CHANNEL_RD1, idx_at + t * idx_tile_bytes,
                Program::loops({{list_lines, bb}}));
    p.pmu_target(t, SPARROW_PMU_PORT_WR0, SPARROW_PMU_TARGET_INDEX);
    p.pmu_port(t, SPARROW_PMU_PORT_WR0, idx_line0, Program::loops({{list_lines, 1}}));
  }
  p.run();
  for (uint32_t t = 0; t < tiles; t++) {
    p.unroute(t, SPARROW_DST_PMU_WR1);
    p.pmu_target(t, SPARROW_PMU_PORT_WR0, SPARROW_PMU_TARGET_LINES);
    p.route(t, SPARROW_DST_PMU_WR0, 0, SPARROW_SRC_AGCU_RD0);
    p.route(t, SPARROW_DST_PCU_A, t, SPARROW_SRC_PMU_RD0);
    p.route(t, SPARROW_DST_PCU_B, t, SPARROW_SRC_PMU_RD1);
    p.route(t, SPARROW_DST_AGCU_WR, t, SPARROW_SRC_PCU_OUT);
    if (t == 0) {
      p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD0, xt_at,
                  Program::loops(
                      {{k, static_cast<int32_t>(m) * w4}, {mb, static_cast<int32_t>(lanes) * w4}}));
    }
    p.pmu_sync(t, 0, true, 2, k, 0);
    p.pmu_port(t, SPARROW_PMU_PORT_WR0, a_line,
               Program::loops({{k, 1}, {2, static_cast<int32_t>(k)}, {mb / 2, 0}}));
    p.pmu_gather(
        t, SPARROW_PMU_PORT_RD0, a_line,
        Program::loops(
            {{lanes, 1}, {0, static_cast<int32_t>(lanes)}, {2, static_cast<int32_t>(k)}, {mb, 0}}),
        idx_line0 * lanes, list_len[t]);
    p.pmu_port(t, SPARROW_PMU_PORT_RD1, w_line, Program::loops({{w_lines[t], 1}, {mb, 0}}));
    p.pcu_k_table(t, k_table[t], nbt);
    p.pcu_gemm(t, 999, mb * nbt, false);
    p.agcu_chan(t, SPARROW_AGCU_CHANNEL_WR, y_at + t * nbt * lanes * w4,
                Program::loops({{lanes, static_cast<int32_t>(n) * w4},
                                {nbt, static_cast<int32_t>(lanes) * w4},
                                {mb, static_cast<int32_t>(lanes * n) * w4}}));
  }
  p.run();
  for (uint32_t t = 0; t < tiles; t++) {
    p.pmu_sync(t, 0, false, 0, 0, 0);
    p.pmu_gather_off(t, SPARROW_PMU_PORT_RD0);
    p.unroute(t, SPARROW_DST_PMU_WR0);
  }
  p.end();
  LaunchResult r = tb.run(p, kMaxCycles);
  expect_done<M>(res, r, "spmm");
  check_words<M>(res, tb.dram_read(y_at, want.size()), want, "Y bit-exact");
  const uint64_t macs = tb.csr_read64(SPARROW_CSR_MACS_LO);
  const uint64_t want_macs = nnz * mb * lanes * lanes * lanes;
  res.check(macs == want_macs, fmt("macs %llu, want %llu", static_cast<unsigned long long>(macs),
                                   static_cast<unsigned long long>(want_macs)));
  uint64_t rd_bytes = uint64_t{k} * m * 4;
  for (uint32_t t = 0; t < tiles; t++) {
    rd_bytes += (uint64_t{w_lines[t]} + (list_len[t] + lanes - 1) / lanes) * tb.beat_bytes();
  }
  res.check(tb.csr_read64(SPARROW_CSR_DRAM_RD_LO) == rd_bytes, "dram_rd bytes");
  res.check(tb.csr_read64(SPARROW_CSR_DRAM_WR_LO) == uint64_t{m} * n * 4, "dram_wr bytes");
  res.check(tb.dram_errors() == 0, "DRAM addresses in range");
  const uint64_t cycles = tb.csr_read64(SPARROW_CSR_CYCLES_LO);
  std::printf(
      "  spmm %ux%ux%u, %llu of %u blocks stored, on %u tiles (%s): %llu cycles, %llu MACs\n", m, n,
      k, static_cast<unsigned long long>(nnz), kb * nb, tiles, c.name,
      static_cast<unsigned long long>(cycles), static_cast<unsigned long long>(macs));
  res.end();
}

}  // namespace fabric_tb

#endif  // SPARROW_TESTS_RTL_FABRIC_TB_SPARSE_H_
