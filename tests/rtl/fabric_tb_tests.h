// SPDX-License-Identifier: Apache-2.0
//
// The fabric checks, written once for any configuration's model. Every check compares with values
// computed independently here: DRAM contents word by word, GEMM results bit-exactly against the C
// arithmetic (sim/model/sparrow_fp.c) in the reduction order of docs/numerics.md, counters exactly.

#ifndef SPARROW_TESTS_RTL_FABRIC_TB_TESTS_H_
#define SPARROW_TESTS_RTL_FABRIC_TB_TESTS_H_

#include "fabric_tb.h"
#include "sparrow_fp.h"

namespace fabric_tb {

constexpr size_t kDramBytes = 1u << 20;
constexpr uint64_t kMaxCycles = 200000;

inline uint32_t unit_agcu(uint32_t t) {
  return t;
}
template <class M>
uint32_t unit_pmu(const Bench<M> &tb, uint32_t t) {
  return tb.config().tiles + t;
}
template <class M>
uint32_t unit_pcu(const Bench<M> &tb, uint32_t t) {
  return 2 * tb.config().tiles + t;
}

// Random binary32 values with magnitudes in [2^-7, 2^2): products and sums round.
inline std::vector<uint32_t> random_floats(std::mt19937 &rng, size_t n) {
  std::vector<uint32_t> v(n);
  for (auto &x : v) {
    const uint32_t r = rng();
    x = (r & 0x807FFFFFu) | ((120u + (r >> 23) % 9u) << 23);
  }
  return v;
}
inline std::vector<uint32_t> counting_words(uint32_t first, size_t n) {
  std::vector<uint32_t> v(n);
  for (size_t i = 0; i < n; i++)
    v[i] = first + static_cast<uint32_t>(i);
  return v;
}

// Every test starts from a soft reset (routes and all unit configuration cleared: routes persist
// across launches otherwise) and a watchdog that turns a hang into an error.
template <class M>
void fresh(Bench<M> &tb) {
  tb.csr_write(SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_RESET_BIT);
  tb.csr_write(SPARROW_CSR_WATCHDOG, 20000);
}

template <class M>
void expect_done(Results &res, const LaunchResult &r, const char *what) {
  res.check(r.finished, fmt("%s: no done/error within the cycle budget", what));
  res.check(r.status == (1u << SPARROW_STATUS_DONE_BIT),
            fmt("%s: status 0x%x, error code %u at entry %u", what, r.status, r.error_code,
                r.error_entry));
}

template <class M>
void expect_error(Results &res, const LaunchResult &r, uint32_t code, uint32_t entry) {
  res.check(r.finished, "no done/error within the cycle budget");
  res.check(r.status == (1u << SPARROW_STATUS_ERROR_BIT), fmt("status 0x%x, want error", r.status));
  res.check(r.error_code == code, fmt("error code %u, want %u", r.error_code, code));
  res.check(r.error_entry == entry, fmt("error entry %u, want %u", r.error_entry, entry));
}

template <class M>
void check_words(Results &res, const std::vector<uint32_t> &got, const std::vector<uint32_t> &want,
                 const char *what) {
  size_t bad = 0;
  for (size_t i = 0; i < want.size(); i++) {
    if (got[i] != want[i]) {
      if (bad < 4) {
        res.check(false, fmt("%s: word %zu is 0x%08x, want 0x%08x", what, i, got[i], want[i]));
      }
      bad++;
    }
  }
  res.check(bad == 0, fmt("%s: %zu of %zu words differ", what, bad, want.size()));
}

// ----------------------------------------------------------------------------------------------
template <class M>
void test_csr(Bench<M> &tb, Results &res) {
  res.begin(fmt("csr-id-params-%s", tb.config().name));
  fresh(tb);
  const sparrow_hw_config_t &c = tb.config();
  res.check(tb.csr_read(SPARROW_CSR_ID) == SPARROW_CSR_ID_VALUE, "ID");
  res.check(tb.csr_read(SPARROW_CSR_VERSION) == SPARROW_HW_VERSION, "VERSION");
  res.check(tb.csr_read(SPARROW_CSR_PARAM_TILES) == c.tiles, "PARAM_TILES");
  res.check(tb.csr_read(SPARROW_CSR_PARAM_LANES) == c.lanes, "PARAM_LANES");
  res.check(tb.csr_read(SPARROW_CSR_PARAM_PMU_WORDS) == c.pmu_words, "PARAM_PMU_WORDS");
  res.check(tb.csr_read(SPARROW_CSR_PARAM_PROG_ENTRIES) == c.prog_entries, "PARAM_PROG_ENTRIES");
  res.check(tb.csr_read(SPARROW_CSR_PARAM_AGCU_OUTSTANDING) == c.agcu_outstanding,
            "PARAM_AGCU_OUTSTANDING");
  res.check(tb.csr_read(SPARROW_CSR_STATUS) == 0, "STATUS idle after reset");
  tb.csr_write(SPARROW_CSR_WATCHDOG, 0x12345);
  res.check(tb.csr_read(SPARROW_CSR_WATCHDOG) == 0x12345, "WATCHDOG readback");
  tb.csr_write(SPARROW_CSR_PROG_ADDR, 7);
  tb.csr_write(SPARROW_CSR_PROG_DATA_LO, 1);
  tb.csr_write(SPARROW_CSR_PROG_DATA_HI, 2);
  res.check(tb.csr_read(SPARROW_CSR_PROG_ADDR) == 8, "PROG_ADDR advances on the HI write");
  res.check(tb.csr_read(SPARROW_CSR_CYCLES_LO) == 0, "cycles 0 before any launch");
  res.end();
}

// AGCU rd -> switch -> AGCU wr on each tile; tile 1 copies backwards through a negative stride.
template <class M>
void test_copy_dram(Bench<M> &tb, Results &res, const DramConfig &dram, const char *label) {
  res.begin(fmt("copy-dram-%s-%s", label, tb.config().name));
  fresh(tb);
  tb.set_dram(dram);
  const uint32_t bb = tb.beat_bytes(), beats = 96, tiles = tb.config().tiles;
  const uint32_t src = 0x1000, dst0 = 0x20000, dst1 = 0x40000;
  tb.dram_fill(0);
  std::vector<uint32_t> data = counting_words(0xA0000000u, beats * bb / 4);
  tb.dram_write(src, data);
  Program p;
  p.route(0, SPARROW_DST_AGCU_WR, 0, SPARROW_SRC_AGCU_RD0);
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD0, src,
              Program::loops({{beats, static_cast<int32_t>(bb)}}));
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_WR, dst0,
              Program::loops({{beats, static_cast<int32_t>(bb)}}));
  p.route(1, SPARROW_DST_AGCU_WR, 1, SPARROW_SRC_AGCU_RD1);
  // Reads the beats last to first as 2 x (beats/2): level 1 walks backwards by halves.
  p.agcu_chan(1, SPARROW_AGCU_CHANNEL_RD1, src + (beats - 1) * bb,
              Program::loops({{beats / 2, -static_cast<int32_t>(bb)},
                              {2, -static_cast<int32_t>(beats / 2 * bb)}}));
  p.agcu_chan(1, SPARROW_AGCU_CHANNEL_WR, dst1,
              Program::loops({{beats, static_cast<int32_t>(bb)}}));
  p.run();
  p.end();
  LaunchResult r = tb.run(p, kMaxCycles);
  expect_done<M>(res, r, "copy");
  check_words<M>(res, tb.dram_read(dst0, data.size()), data, "forward copy");
  std::vector<uint32_t> reversed;
  for (uint32_t b = beats; b-- > 0;) {
    reversed.insert(reversed.end(), data.begin() + b * bb / 4, data.begin() + (b + 1) * bb / 4);
  }
  check_words<M>(res, tb.dram_read(dst1, data.size()), reversed, "backward copy");
  const uint64_t bytes = uint64_t{2} * beats * bb;
  res.check(tb.csr_read64(SPARROW_CSR_DRAM_RD_LO) == bytes, "dram_rd bytes");
  res.check(tb.csr_read64(SPARROW_CSR_DRAM_WR_LO) == bytes, "dram_wr bytes");
  res.check(tb.csr_read64(SPARROW_CSR_MACS_LO) == 0, "no MACs");
  const uint64_t cycles = tb.csr_read64(SPARROW_CSR_CYCLES_LO);
  res.check(cycles > beats && cycles <= r.bench_cycles,
            fmt("cycles %llu", (unsigned long long)cycles));
  for (uint32_t t = 0; t < 2; t++) {
    res.check(tb.unit_busy(unit_agcu(t)) >= beats, fmt("AGCU %u busy counter", t));
  }
  for (uint32_t t = 0; t < tiles; t++) {
    res.check(tb.unit_busy(unit_pmu(tb, t)) == 0 && tb.unit_stall(unit_pmu(tb, t)) == 0,
              fmt("PMU %u idle", t));
  }
  res.check(tb.dram_errors() == 0, "DRAM addresses in range");
  res.end();
}

// AGCU 0 -> PMU 1 (phase 1), PMU 1 -> AGCU 0 (phase 2): across tiles, through the scratchpad, with
// the PMU write walking a transposed pattern and the read undoing it.
template <class M>
void test_copy_via_pmu(Bench<M> &tb, Results &res) {
  res.begin(fmt("copy-via-pmu-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{60, 1, 7, 3});
  const uint32_t bb = tb.beat_bytes(), rows = 8, cols = 12, beats = rows * cols;
  const uint32_t src = 0x3000, dst = 0x50000, line0 = 200;
  std::vector<uint32_t> data = counting_words(0x5000, beats * bb / 4);
  tb.dram_write(src, data);
  Program p;
  p.route(1, SPARROW_DST_PMU_WR0, 0, SPARROW_SRC_AGCU_RD0);
  p.pmu_sync(1, 0, false, 0, 0, 0);
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD0, src,
              Program::loops({{beats, static_cast<int32_t>(bb)}}));
  // Beat (r, c) of the source lands at line line0 + c * rows + r.
  p.pmu_port(1, SPARROW_PMU_PORT_WR0, line0,
             Program::loops({{cols, static_cast<int32_t>(rows)}, {rows, 1}}));
  p.run();
  p.unroute(1, SPARROW_DST_PMU_WR0);
  p.route(0, SPARROW_DST_AGCU_WR, 1, SPARROW_SRC_PMU_RD0);
  p.pmu_port(1, SPARROW_PMU_PORT_RD0, line0,
             Program::loops({{cols, static_cast<int32_t>(rows)}, {rows, 1}}));
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_WR, dst, Program::loops({{beats, static_cast<int32_t>(bb)}}));
  p.run();
  p.end();
  LaunchResult r = tb.run(p, kMaxCycles);
  expect_done<M>(res, r, "copy via PMU");
  check_words<M>(res, tb.dram_read(dst, data.size()), data, "copy via PMU");
  res.check(tb.unit_busy(unit_pmu(tb, 1)) >= 2 * beats / 2, "PMU 1 busy");
  res.check(tb.dram_errors() == 0, "DRAM addresses in range");
  res.end();
}

// One phase streams `slots_total` slots through a 2-slot ring of PMU 0 while the read side reads
// each slot twice (so it is slower than the writer): only the N-buffer sync keeps the writer from
// overwriting a slot before its second reading.
template <class M>
void test_pmu_double_buffer(Bench<M> &tb, Results &res) {
  res.begin(fmt("pmu-double-buffer-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{40, 0, 5, 9});
  const uint32_t bb = tb.beat_bytes(), slot = 16, slots_total = 6, ring = 300;
  const uint32_t src = 0x8000, dst = 0x60000;
  std::vector<uint32_t> data = counting_words(0xC0000000u, slots_total * slot * bb / 4);
  tb.dram_write(src, data);
  Program p;
  p.route(0, SPARROW_DST_PMU_WR0, 0, SPARROW_SRC_AGCU_RD0);
  p.route(0, SPARROW_DST_AGCU_WR, 0, SPARROW_SRC_PMU_RD0);
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD0, src,
              Program::loops({{slots_total * slot, static_cast<int32_t>(bb)}}));
  p.pmu_sync(0, 0, true, 2, slot, 2 * slot);
  p.pmu_port(0, SPARROW_PMU_PORT_WR0, ring,
             Program::loops({{slot, 1}, {2, static_cast<int32_t>(slot)}, {slots_total / 2, 0}}));
  p.pmu_port(
      0, SPARROW_PMU_PORT_RD0, ring,
      Program::loops({{slot, 1}, {2, 0}, {2, static_cast<int32_t>(slot)}, {slots_total / 2, 0}}));
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_WR, dst,
              Program::loops({{2 * slots_total * slot, static_cast<int32_t>(bb)}}));
  p.run();
  p.pmu_sync(0, 0, false, 0, 0, 0);
  p.unroute(0, SPARROW_DST_PMU_WR0);
  p.end();
  LaunchResult r = tb.run(p, kMaxCycles);
  expect_done<M>(res, r, "double buffer");
  std::vector<uint32_t> want;
  const uint32_t slot_words = slot * bb / 4;
  for (uint32_t s = 0; s < slots_total; s++) {
    for (int rep = 0; rep < 2; rep++) {
      want.insert(want.end(), data.begin() + s * slot_words, data.begin() + (s + 1) * slot_words);
    }
  }
  check_words<M>(res, tb.dram_read(dst, want.size()), want, "slots read twice each");
  res.end();
}

// One AGCU read channel multicast to both tiles' write channels, under a slow DRAM with random
// delays that makes the two destinations refuse beats at different times.
template <class M>
void test_multicast(Bench<M> &tb, Results &res) {
  res.begin(fmt("multicast-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{300, 1, 40, 5});
  const uint32_t bb = tb.beat_bytes(), beats = 400;
  const uint32_t src = 0x10000, dst0 = 0x70000, dst1 = 0x90000;
  std::vector<uint32_t> data = counting_words(0x11110000u, beats * bb / 4);
  tb.dram_write(src, data);
  tb.dram_write(dst0, std::vector<uint32_t>(data.size(), 0));
  tb.dram_write(dst1, std::vector<uint32_t>(data.size(), 0));
  Program p;
  p.route(0, SPARROW_DST_AGCU_WR, 0, SPARROW_SRC_AGCU_RD0);
  p.route(1, SPARROW_DST_AGCU_WR, 0, SPARROW_SRC_AGCU_RD0);
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD0, src,
              Program::loops({{beats, static_cast<int32_t>(bb)}}));
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_WR, dst0,
              Program::loops({{beats, static_cast<int32_t>(bb)}}));
  p.agcu_chan(1, SPARROW_AGCU_CHANNEL_WR, dst1,
              Program::loops({{beats, static_cast<int32_t>(bb)}}));
  p.run();
  p.unroute(1, SPARROW_DST_AGCU_WR);
  p.end();
  LaunchResult r = tb.run(p, 10 * kMaxCycles);
  expect_done<M>(res, r, "multicast");
  check_words<M>(res, tb.dram_read(dst0, data.size()), data, "destination 0");
  check_words<M>(res, tb.dram_read(dst1, data.size()), data, "destination 1");
  res.check(tb.csr_read64(SPARROW_CSR_DRAM_RD_LO) == uint64_t{beats} * bb, "dram_rd bytes");
  res.check(tb.csr_read64(SPARROW_CSR_DRAM_WR_LO) == uint64_t{2} * beats * bb, "dram_wr bytes");
  res.check(tb.unit_stall(unit_agcu(0)) > 0, "back-pressure happened (AGCU 0 stalled)");
  res.end();
}

// ----------------------------------------------------------------------------------------------
// GEMM C = A * B on `tiles` tiles (each computing n / tiles columns), in the schedule of the brief:
// phase 1 loads the tile's B columns into the PMU (pmu_wr1), phase 2 streams A^T blocks, read once
// by tile 0's AGCU and multicast to every tile, through a 2-slot ring (pmu_wr0, synchronized with
// pmu_rd0 on buffer 0) into the PCU, with B from pmu_rd1.
struct Gemm {
  uint32_t m, n, k, tiles;
  uint32_t at, b, c;  // DRAM byte addresses of A^T (k x m), B (k x n), C (m x n)
};

inline Program gemm_program(const Gemm &g, uint32_t lanes) {
  const uint32_t nb = g.n / (lanes * g.tiles), mb = g.m / lanes;
  const uint32_t slots = (mb == 1) ? 1 : 2;
  const uint32_t b_line = 0, a_line = g.k * nb;
  const int32_t w = 4;
  Program p;
  for (uint32_t t = 0; t < g.tiles; t++) {
    p.route(t, SPARROW_DST_PMU_WR1, t, SPARROW_SRC_AGCU_RD0);
    p.agcu_chan(t, SPARROW_AGCU_CHANNEL_RD0, g.b + t * nb * lanes * w,
                Program::loops(
                    {{g.k, static_cast<int32_t>(g.n) * w}, {nb, static_cast<int32_t>(lanes) * w}}));
    p.pmu_port(t, SPARROW_PMU_PORT_WR1, b_line, Program::loops({{g.k * nb, 1}}));
  }
  p.run();
  for (uint32_t t = 0; t < g.tiles; t++) {
    p.unroute(t, SPARROW_DST_PMU_WR1);
    // A is read once, by tile 0, and multicast to every tile's ring.
    p.route(t, SPARROW_DST_PMU_WR0, 0, SPARROW_SRC_AGCU_RD0);
    p.route(t, SPARROW_DST_PCU_A, t, SPARROW_SRC_PMU_RD0);
    p.route(t, SPARROW_DST_PCU_B, t, SPARROW_SRC_PMU_RD1);
    p.route(t, SPARROW_DST_AGCU_WR, t, SPARROW_SRC_PCU_OUT);
    if (t == 0) {
      p.agcu_chan(t, SPARROW_AGCU_CHANNEL_RD0, g.at,
                  Program::loops({{g.k, static_cast<int32_t>(g.m) * w},
                                  {mb, static_cast<int32_t>(lanes) * w}}));
    }
    p.pmu_sync(t, 0, true, slots, g.k, g.k * nb);
    p.pmu_port(t, SPARROW_PMU_PORT_WR0, a_line,
               Program::loops({{g.k, 1}, {slots, static_cast<int32_t>(g.k)}, {mb / slots, 0}}));
    p.pmu_port(
        t, SPARROW_PMU_PORT_RD0, a_line,
        Program::loops({{g.k, 1}, {nb, 0}, {slots, static_cast<int32_t>(g.k)}, {mb / slots, 0}}));
    p.pmu_port(t, SPARROW_PMU_PORT_RD1, b_line, Program::loops({{g.k * nb, 1}, {mb, 0}}));
    p.pcu_gemm(t, g.k, mb * nb, false);
    p.agcu_chan(t, SPARROW_AGCU_CHANNEL_WR, g.c + t * nb * lanes * w,
                Program::loops({{lanes, static_cast<int32_t>(g.n) * w},
                                {nb, static_cast<int32_t>(lanes) * w},
                                {mb, static_cast<int32_t>(lanes * g.n) * w}}));
  }
  p.run();
  for (uint32_t t = 0; t < g.tiles; t++) {
    p.pmu_sync(t, 0, false, 0, 0, 0);
  }
  p.end();
  return p;
}

// Runs the GEMM and checks it bit-exactly; returns the fabric's cycle count.
template <class M>
uint64_t check_gemm(Bench<M> &tb, Results &res, const Gemm &g, const std::vector<uint32_t> &a,
                    const std::vector<uint32_t> &b, uint8_t *flags_out) {
  const uint32_t lanes = tb.config().lanes;
  std::vector<uint32_t> at(g.k * g.m);
  for (uint32_t i = 0; i < g.m; i++) {
    for (uint32_t kk = 0; kk < g.k; kk++)
      at[kk * g.m + i] = a[i * g.k + kk];
  }
  tb.dram_write(g.at, at);
  tb.dram_write(g.b, b);
  tb.dram_write(g.c, std::vector<uint32_t>(g.m * g.n, 0xFFFFFFFFu));

  std::vector<uint32_t> want(g.m * g.n);
  uint8_t flags = 0;
  for (uint32_t i = 0; i < g.m; i++) {
    for (uint32_t j = 0; j < g.n; j++) {
      uint32_t acc = 0;  // +0.0
      for (uint32_t kk = 0; kk < g.k; kk++) {
        acc = sparrow_fp_add(acc, sparrow_fp_mul(a[i * g.k + kk], b[kk * g.n + j], &flags), &flags);
      }
      want[i * g.n + j] = acc;
    }
  }
  if (flags_out)
    *flags_out = flags;

  LaunchResult r = tb.run(gemm_program(g, lanes), kMaxCycles);
  expect_done<M>(res, r, "gemm");
  check_words<M>(res, tb.dram_read(g.c, want.size()), want, "C bit-exact");
  const uint64_t macs = tb.csr_read64(SPARROW_CSR_MACS_LO);
  res.check(macs == uint64_t{g.m} * g.n * g.k, fmt("macs %llu", (unsigned long long)macs));
  const uint64_t rd_bytes = 4ull * (uint64_t{g.k} * g.n + uint64_t{g.k} * g.m);
  res.check(tb.csr_read64(SPARROW_CSR_DRAM_RD_LO) == rd_bytes, "dram_rd bytes");
  res.check(tb.csr_read64(SPARROW_CSR_DRAM_WR_LO) == 4ull * g.m * g.n, "dram_wr bytes");
  const uint64_t cycles = tb.csr_read64(SPARROW_CSR_CYCLES_LO);
  res.check(cycles > 0 && cycles <= r.bench_cycles, "cycles in range");
  for (uint32_t t = 0; t < g.tiles; t++) {
    res.check(tb.unit_busy(unit_pcu(tb, t)) > 0, fmt("PCU %u busy counter", t));
  }
  tb.idle(5);
  res.check(tb.csr_read64(SPARROW_CSR_CYCLES_LO) == cycles, "cycles stable after done");
  res.check(tb.dram_errors() == 0, "DRAM addresses in range");
  const double util =
      static_cast<double>(macs) / (static_cast<double>(cycles) * tb.config().tiles * lanes * lanes);
  std::printf("  gemm %ux%ux%u on %u tiles (%s): %llu cycles, %llu MACs, PCU utilization %.1f%%\n",
              g.m, g.n, g.k, g.tiles, tb.config().name, (unsigned long long)cycles,
              (unsigned long long)macs, 100.0 * util);
  std::printf("  busy/stall per unit:");
  for (uint32_t u = 0; u < 3 * tb.config().tiles; u++) {
    std::printf(" %llu/%llu", (unsigned long long)tb.unit_busy(u),
                (unsigned long long)tb.unit_stall(u));
  }
  std::printf("\n");
  return cycles;
}

template <class M>
void test_gemm(Bench<M> &tb, Results &res, const Gemm &g, const DramConfig &dram,
               const char *label) {
  res.begin(fmt("gemm-%ux%ux%u-%s-%s", g.m, g.n, g.k, label, tb.config().name));
  fresh(tb);
  tb.set_dram(dram);
  std::mt19937 rng(g.m * 131 + g.n * 7 + g.k);
  std::vector<uint32_t> a = random_floats(rng, g.m * g.k), b = random_floats(rng, g.k * g.n);
  check_gemm(tb, res, g, a, b, nullptr);
  res.check((tb.csr_read(SPARROW_CSR_FP_STATUS) & SPARROW_FP_OF) == 0, "no overflow flagged");
  res.check((tb.csr_read(SPARROW_CSR_FP_STATUS) & SPARROW_FP_NX) != 0, "inexact flagged");
  res.end();
}

// acc_init = 1: each block's accumulators start from `lanes` beats on input c (tile 1's AGCU,
// across the switch), A^T and B stream straight from tile 0's two AGCU read channels.
template <class M>
void test_gemm_acc_init(Bench<M> &tb, Results &res) {
  res.begin(fmt("gemm-acc-init-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{50, 0, 9, 11});
  const uint32_t lanes = tb.config().lanes, k = 7, blocks = 3, bb = tb.beat_bytes();
  const uint32_t at = 0x10000, b = 0x20000, c0 = 0x30000, out = 0x40000;
  std::mt19937 rng(5);
  std::vector<uint32_t> a_t = random_floats(rng, blocks * k * lanes);
  std::vector<uint32_t> bv = random_floats(rng, blocks * k * lanes);
  std::vector<uint32_t> cv = random_floats(rng, blocks * lanes * lanes);
  tb.dram_write(at, a_t);
  tb.dram_write(b, bv);
  tb.dram_write(c0, cv);
  tb.dram_write(out, std::vector<uint32_t>(cv.size(), 0xFFFFFFFFu));
  std::vector<uint32_t> want(cv.size());
  for (uint32_t blk = 0; blk < blocks; blk++) {
    for (uint32_t r = 0; r < lanes; r++) {
      for (uint32_t c = 0; c < lanes; c++) {
        uint32_t acc = cv[(blk * lanes + r) * lanes + c];
        for (uint32_t kk = 0; kk < k; kk++) {
          acc = sparrow_fp_add(acc,
                               sparrow_fp_mul(a_t[(blk * k + kk) * lanes + r],
                                              bv[(blk * k + kk) * lanes + c], nullptr),
                               nullptr);
        }
        want[(blk * lanes + r) * lanes + c] = acc;
      }
    }
  }
  Program p;
  p.route(0, SPARROW_DST_PCU_A, 0, SPARROW_SRC_AGCU_RD0);
  p.route(0, SPARROW_DST_PCU_B, 0, SPARROW_SRC_AGCU_RD1);
  p.route(0, SPARROW_DST_PCU_C, 1, SPARROW_SRC_AGCU_RD0);
  p.route(0, SPARROW_DST_AGCU_WR, 0, SPARROW_SRC_PCU_OUT);
  const int32_t s = static_cast<int32_t>(bb);
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD0, at, Program::loops({{blocks * k, s}}));
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD1, b, Program::loops({{blocks * k, s}}));
  p.agcu_chan(1, SPARROW_AGCU_CHANNEL_RD0, c0, Program::loops({{blocks * lanes, s}}));
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_WR, out, Program::loops({{blocks * lanes, s}}));
  p.pcu_gemm(0, k, blocks, true);
  p.run();
  p.end();
  LaunchResult r = tb.run(p, kMaxCycles);
  expect_done<M>(res, r, "gemm acc_init");
  check_words<M>(res, tb.dram_read(out, want.size()), want, "C = C0 + A*B bit-exact");
  res.check(tb.csr_read64(SPARROW_CSR_MACS_LO) == uint64_t{blocks} * k * lanes * lanes, "macs");
  res.end();
}

// Products near the top of the range overflow: the sticky status must say so, and the results are
// still those of the C arithmetic (infinities).
template <class M>
void test_gemm_overflow(Bench<M> &tb, Results &res) {
  res.begin(fmt("gemm-overflow-fp-status-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{});
  const uint32_t lanes = tb.config().lanes;
  Gemm g{2 * lanes, lanes * tb.config().tiles, 3, tb.config().tiles, 0x10000, 0x20000, 0x30000};
  std::mt19937 rng(77);
  std::vector<uint32_t> a = random_floats(rng, g.m * g.k), b = random_floats(rng, g.k * g.n);
  a[0] = 0x7E800000u;  // 2^126
  b[0] = 0x7E800000u;
  uint8_t flags = 0;
  check_gemm(tb, res, g, a, b, &flags);
  const uint32_t status = tb.csr_read(SPARROW_CSR_FP_STATUS);
  res.check((flags & SPARROW_FP_OF) != 0, "reference overflows");
  res.check(status == flags, fmt("FP_STATUS 0x%x, reference flags 0x%x", status, flags));
  tb.csr_write(SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_CLEAR_BIT);
  res.check(tb.csr_read(SPARROW_CSR_FP_STATUS) == 0, "CTRL.clear clears FP_STATUS");
  res.check(tb.csr_read(SPARROW_CSR_MACS_LO) == 0, "CTRL.clear clears counters");
  res.check(tb.csr_read(SPARROW_CSR_STATUS) == 0, "CTRL.clear clears STATUS");
  res.end();
}

// ----------------------------------------------------------------------------------------------
template <class M>
void test_errors(Bench<M> &tb, Results &res) {
  const uint32_t tiles = tb.config().tiles;
  {
    res.begin(fmt("error-bad-unit-%s", tb.config().name));
    fresh(tb);
    Program p;
    p.cfg(SPARROW_UNIT_PCU, SPARROW_PCU_MODE, 0);
    p.cfg(SPARROW_UNIT_AGCU + tiles, 0, 0);  // one past the last AGCU
    p.end();
    expect_error<M>(res, tb.run(p, 1000), SPARROW_FABRIC_ERR_BAD_UNIT, 1);
    Program q;
    q.cfg(0x7F, 0, 0);
    q.end();
    expect_error<M>(res, tb.run(q, 1000), SPARROW_FABRIC_ERR_BAD_UNIT, 0);
    res.check(tb.csr_read(SPARROW_CSR_CYCLES_LO) > 0, "cycles counted up to the error");
    res.end();
  }
  {
    res.begin(fmt("error-bad-register-%s", tb.config().name));
    fresh(tb);
    Program p;
    p.cfg(SPARROW_UNIT_PCU, SPARROW_PCU_REG_COUNT - 1, 0);
    p.cfg(SPARROW_UNIT_PMU + tiles - 1, SPARROW_PMU_REG_COUNT - 1, 0);
    p.cfg(SPARROW_UNIT_AGCU, SPARROW_AGCU_REG_COUNT - 1, 0);
    p.cfg(SPARROW_UNIT_PCU + 1, SPARROW_PCU_REG_COUNT, 0);
    p.end();
    expect_error<M>(res, tb.run(p, 1000), SPARROW_FABRIC_ERR_BAD_REGISTER, 3);
    Program q;
    q.cfg(SPARROW_UNIT_SWITCH, tiles * SPARROW_SWITCH_DST_PER_TILE, 0);
    q.end();
    expect_error<M>(res, tb.run(q, 1000), SPARROW_FABRIC_ERR_BAD_REGISTER, 0);
    res.end();
  }
  {
    res.begin(fmt("error-bad-opcode-%s", tb.config().name));
    fresh(tb);
    Program p;
    p.run();
    p.cfg(SPARROW_UNIT_PCU, SPARROW_PCU_MODE, 0);
    p.raw(uint64_t{0xF} << 60);
    p.end();
    expect_error<M>(res, tb.run(p, 1000), SPARROW_FABRIC_ERR_BAD_OPCODE, 2);
    Program q;
    q.raw(0);
    expect_error<M>(res, tb.run(q, 1000), SPARROW_FABRIC_ERR_BAD_OPCODE, 0);
    res.check((tb.csr_read(SPARROW_CSR_STATUS) & 1) == 0, "not busy after the error");
    res.end();
  }
  {
    res.begin(fmt("error-no-end-%s", tb.config().name));
    fresh(tb);
    Program p;
    p.cfg(SPARROW_UNIT_PCU, SPARROW_PCU_MODE, 0);
    p.run();
    p.cfg(SPARROW_UNIT_PCU, SPARROW_PCU_MODE, 0);
    expect_error<M>(res, tb.run(p, 1000), SPARROW_FABRIC_ERR_NO_END, 3);
    Program q;  // an empty program
    expect_error<M>(res, tb.run(q, 1000), SPARROW_FABRIC_ERR_NO_END, 0);
    res.end();
  }
  {
    res.begin(fmt("empty-phases-%s", tb.config().name));
    fresh(tb);
    Program p;
    p.run();
    p.run();
    p.end();
    LaunchResult r = tb.run(p, 1000);
    expect_done<M>(res, r, "phases with nothing enabled end at once");
    res.check(r.bench_cycles < 20, fmt("took %llu cycles", (unsigned long long)r.bench_cycles));
    res.end();
  }
}

// A write channel whose destination has no route never gets a beat: the watchdog stops the launch.
// Then a read channel whose beats go to a destination that never takes them: the watchdog stops it
// with reads in flight, which must be discarded, and the next launch must work normally.
template <class M>
void test_watchdog(Bench<M> &tb, Results &res) {
  res.begin(fmt("watchdog-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{});
  const uint32_t bb = tb.beat_bytes(), wd = 300;
  tb.csr_write(SPARROW_CSR_WATCHDOG, wd);
  {
    Program p;
    p.unroute(0, SPARROW_DST_AGCU_WR);
    p.agcu_chan(0, SPARROW_AGCU_CHANNEL_WR, 0x1000,
                Program::loops({{4, static_cast<int32_t>(bb)}}));
    p.run();
    p.end();
    const size_t run_entry = p.entries.size() - 2;
    LaunchResult r = tb.run(p, 10 * wd);
    expect_error<M>(res, r, SPARROW_FABRIC_ERR_WATCHDOG, static_cast<uint32_t>(run_entry));
    res.check(r.bench_cycles >= wd && r.bench_cycles < wd + 100,
              fmt("fired after %llu cycles", (unsigned long long)r.bench_cycles));
  }
  {
    // AGCU 1 rd0 feeds PCU 1's a input, but the PCU is not enabled: its input FIFO fills and stays
    // full while reads are still in flight (latency 100 > watchdog... no: progress continues while
    // responses arrive, so the watchdog fires once they stop).
    Program p;
    p.route(1, SPARROW_DST_PCU_A, 1, SPARROW_SRC_AGCU_RD0);
    p.agcu_chan(1, SPARROW_AGCU_CHANNEL_RD0, 0x2000,
                Program::loops({{tb.config().agcu_outstanding * 2, static_cast<int32_t>(bb)}}));
    p.run();
    p.end();
    LaunchResult r = tb.run(p, 20 * wd);
    expect_error<M>(res, r, SPARROW_FABRIC_ERR_WATCHDOG,
                    static_cast<uint32_t>(p.entries.size() - 2));
  }
  {
    // Abort while reads are in flight: a long DRAM latency keeps them out past the watchdog.
    tb.set_dram(DramConfig{2 * wd, 0, 0, 1});
    Program p;
    p.route(1, SPARROW_DST_PCU_A, 1, SPARROW_SRC_AGCU_RD1);
    p.agcu_chan(1, SPARROW_AGCU_CHANNEL_RD1, 0x2000,
                Program::loops({{64, static_cast<int32_t>(bb)}}));
    p.run();
    p.end();
    LaunchResult r = tb.run(p, 20 * wd);
    expect_error<M>(res, r, SPARROW_FABRIC_ERR_WATCHDOG,
                    static_cast<uint32_t>(p.entries.size() - 2));
    p.entries.clear();
    p.unroute(1, SPARROW_DST_PCU_A);
    p.end();
    tb.set_dram(DramConfig{});
  }
  tb.csr_write(SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_RESET_BIT);  // drops the PCU's stuck inputs
  res.check(tb.csr_read(SPARROW_CSR_STATUS) == 0, "soft reset clears STATUS");
  res.check(tb.csr_read(SPARROW_CSR_ERROR_CODE) == SPARROW_FABRIC_ERR_NONE,
            "soft reset clears ERROR_CODE");
  res.end();
  // The reads abandoned above are answered while the next test runs; tile 1 must discard them.
}

// DRAM_LIMIT: a read beat reaching past the limit, a misaligned write beat, each stops the phase with
// bad_address at its op_run before touching DRAM; a copy that ends exactly at the limit is fine.
template <class M>
void test_bad_address(Bench<M> &tb, Results &res) {
  res.begin(fmt("bad-address-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{});
  const uint32_t bb = tb.beat_bytes(), limit = 0x8000, beats = 8;
  tb.csr_write(SPARROW_CSR_DRAM_LIMIT, limit);
  res.check(tb.csr_read(SPARROW_CSR_DRAM_LIMIT) == limit, "DRAM_LIMIT readback");
  auto copy = [&](uint32_t src, uint32_t dst) {
    Program p;
    p.route(0, SPARROW_DST_AGCU_WR, 0, SPARROW_SRC_AGCU_RD0);
    p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD0, src,
                Program::loops({{beats, static_cast<int32_t>(bb)}}));
    p.agcu_chan(0, SPARROW_AGCU_CHANNEL_WR, dst,
                Program::loops({{beats, static_cast<int32_t>(bb)}}));
    p.run();
    p.end();
    return std::make_pair(tb.run(p, kMaxCycles), static_cast<uint32_t>(p.entries.size() - 2));
  };
  tb.dram_fill(0);
  std::vector<uint32_t> data = counting_words(0xB0000000u, beats * bb / 4);
  tb.dram_write(0x1000, data);
  auto [past, past_entry] = copy(limit - (beats - 1) * bb, 0x2000);  // its last beat crosses
  expect_error<M>(res, past, SPARROW_FABRIC_ERR_BAD_ADDRESS, past_entry);
  fresh(tb);
  tb.csr_write(SPARROW_CSR_DRAM_LIMIT, limit);
  auto [misaligned, mis_entry] = copy(0x1000, 0x3002);
  expect_error<M>(res, misaligned, SPARROW_FABRIC_ERR_BAD_ADDRESS, mis_entry);
  res.check(tb.dram_read(0x3000, 4)[1] == 0, "the misaligned write touched nothing");
  fresh(tb);
  tb.csr_write(SPARROW_CSR_DRAM_LIMIT, limit);
  auto [edge, edge_entry] = copy(0x1000, limit - beats * bb);  // ends exactly at the limit
  (void)edge_entry;
  expect_done<M>(res, edge, "copy ending at DRAM_LIMIT");
  check_words<M>(res, tb.dram_read(limit - beats * bb, data.size()), data, "copy at the limit");
  tb.csr_write(SPARROW_CSR_DRAM_LIMIT, 0);
  res.end();
}

}  // namespace fabric_tb

#endif  // SPARROW_TESTS_RTL_FABRIC_TB_TESTS_H_
