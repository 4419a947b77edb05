// SPDX-License-Identifier: Apache-2.0
//
// Test bench for the Verilated fabric (rtl/fabric/sparrow_fabric.sv), driven through its ports: a
// CSR bus master and a DRAM responder with a fixed latency, an optional bandwidth limit (beats
// served per cycle, reads and writes together) and optional random extra delay per beat, answering
// each AGCU in request order. The same template drives the S and M models.

#ifndef SPARROW_TESTS_RTL_FABRIC_TB_H_
#define SPARROW_TESTS_RTL_FABRIC_TB_H_

#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "sparrow_hw.h"
#include "verilated.h"
#include "verilated_fst_c.h"

namespace fabric_tb {

// ----------------------------------------------------------------------------------------------
// Results: every check counts; a failed check prints its message and marks the current test failed.
struct Results {
  int passed = 0;
  int failed = 0;
  bool current_ok = true;
  std::string current;

  void begin(const std::string &name) {
    current = name;
    current_ok = true;
  }
  void check(bool ok, const std::string &what) {
    if (!ok) {
      std::printf("  FAIL [%s] %s\n", current.c_str(), what.c_str());
      current_ok = false;
    }
  }
  void end() {
    std::printf("%s %s\n", current_ok ? "ok  " : "FAIL", current.c_str());
    (current_ok ? passed : failed)++;
  }
};

inline std::string fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
inline std::string fmt(const char *f, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

// ----------------------------------------------------------------------------------------------
// Access to Verilator's port types: 32-bit words of a wide or 64-bit port, bits of a narrow one.
inline uint32_t word_get(uint64_t v, size_t i) {
  return static_cast<uint32_t>(v >> (32 * i));
}
template <std::size_t N>
uint32_t word_get(const VlWide<N> &v, size_t i) {
  return v[i];
}
inline void word_set(uint64_t &v, size_t i, uint32_t w) {
  v &= ~(0xFFFFFFFFull << (32 * i));
  v |= static_cast<uint64_t>(w) << (32 * i);
}
template <std::size_t N>
void word_set(VlWide<N> &v, size_t i, uint32_t w) {
  v[i] = w;
}
inline bool bit_get(uint32_t v, size_t i) {
  return (v >> i) & 1u;
}

// ----------------------------------------------------------------------------------------------
// Programs.
struct Program {
  std::vector<uint64_t> entries;

  void cfg(uint32_t unit, uint32_t reg, uint32_t value) {
    entries.push_back((uint64_t{SPARROW_OP_CFG} << 60) | (uint64_t{unit & 0xFF} << 48) |
                      (uint64_t{reg & 0xFFFF} << 32) | value);
  }
  void run() { entries.push_back(uint64_t{SPARROW_OP_RUN} << 60); }
  void end() { entries.push_back(uint64_t{SPARROW_OP_END} << 60); }
  void raw(uint64_t entry) { entries.push_back(entry); }

  // Address generator helpers; counts/strides beyond the given ones are 1 / 0.
  struct Loops {
    uint32_t count[SPARROW_LOOP_LEVELS] = {1, 1, 1, 1};
    int32_t stride[SPARROW_LOOP_LEVELS] = {0, 0, 0, 0};
  };
  static Loops loops(std::initializer_list<std::pair<uint32_t, int32_t>> levels) {
    Loops l;
    size_t i = 0;
    for (auto &lv : levels) {
      l.count[i] = lv.first;
      l.stride[i] = lv.second;
      i++;
    }
    return l;
  }
  void agcu_chan(uint32_t tile, uint32_t chan, uint32_t base, const Loops &l) {
    const uint32_t unit = SPARROW_UNIT_AGCU + tile, blk = chan * SPARROW_AGCU_CHAN_BLOCK;
    cfg(unit, blk + SPARROW_AGCU_CHAN_BASE, base);
    for (uint32_t i = 0; i < SPARROW_LOOP_LEVELS; i++) {
      cfg(unit, blk + SPARROW_AGCU_CHAN_COUNT + i, l.count[i]);
      cfg(unit, blk + SPARROW_AGCU_CHAN_STRIDE + i, static_cast<uint32_t>(l.stride[i]));
    }
    cfg(unit, blk + SPARROW_AGCU_CHAN_ENABLE, 1);
  }
  void pmu_port(uint32_t tile, uint32_t port, uint32_t base, const Loops &l) {
    const uint32_t unit = SPARROW_UNIT_PMU + tile, blk = port * SPARROW_PMU_PORT_BLOCK;
    cfg(unit, blk + SPARROW_PMU_PORT_BASE, base);
    for (uint32_t i = 0; i < SPARROW_LOOP_LEVELS; i++) {
      cfg(unit, blk + SPARROW_PMU_PORT_COUNT + i, l.count[i]);
      cfg(unit, blk + SPARROW_PMU_PORT_STRIDE + i, static_cast<uint32_t>(l.stride[i]));
    }
    cfg(unit, blk + SPARROW_PMU_PORT_ENABLE, 1);
  }
  // Read port `port` in gather mode over the list of idx_count index words from idx_base (level 1's
  // count is unused there); pmu_gather_off puts it back to its affine walk for later phases.
  void pmu_gather(uint32_t tile, uint32_t port, uint32_t base, const Loops &l, uint32_t idx_base,
                  uint32_t idx_count) {
    const uint32_t unit = SPARROW_UNIT_PMU + tile, blk = port * SPARROW_PMU_PORT_BLOCK;
    cfg(unit, blk + SPARROW_PMU_PORT_GATHER, 1);
    cfg(unit, blk + SPARROW_PMU_PORT_IDX_BASE, idx_base);
    cfg(unit, blk + SPARROW_PMU_PORT_IDX_COUNT, idx_count);
    pmu_port(tile, port, base, l);
  }
  void pmu_gather_off(uint32_t tile, uint32_t port) {
    cfg(SPARROW_UNIT_PMU + tile, port * SPARROW_PMU_PORT_BLOCK + SPARROW_PMU_PORT_GATHER, 0);
  }
  // Write port `port`'s target: SPARROW_PMU_TARGET_LINES or SPARROW_PMU_TARGET_INDEX.
  void pmu_target(uint32_t tile, uint32_t port, uint32_t target) {
    cfg(SPARROW_UNIT_PMU + tile, port * SPARROW_PMU_PORT_BLOCK + SPARROW_PMU_PORT_TARGET, target);
  }
  void pmu_sync(uint32_t tile, uint32_t buffer, bool enable, uint32_t slots, uint32_t wr_lines,
                uint32_t rd_lines) {
    const uint32_t unit = SPARROW_UNIT_PMU + tile, blk = SPARROW_PMU_SYNC_BLOCK + 4 * buffer;
    cfg(unit, blk + SPARROW_PMU_SYNC_ENABLE, enable);
    cfg(unit, blk + SPARROW_PMU_SYNC_SLOTS, slots);
    cfg(unit, blk + SPARROW_PMU_SYNC_WR_LINES, wr_lines);
    cfg(unit, blk + SPARROW_PMU_SYNC_RD_LINES, rd_lines);
  }
  void route(uint32_t dst_tile, uint32_t dst_kind, uint32_t src_tile, uint32_t src_kind) {
    cfg(SPARROW_UNIT_SWITCH, dst_tile * SPARROW_SWITCH_DST_PER_TILE + dst_kind,
        (1u << SPARROW_SWITCH_ROUTE_ENABLE_BIT) |
            (src_tile * SPARROW_SWITCH_SRC_PER_TILE + src_kind));
  }
  void unroute(uint32_t dst_tile, uint32_t dst_kind) {
    cfg(SPARROW_UNIT_SWITCH, dst_tile * SPARROW_SWITCH_DST_PER_TILE + dst_kind,
        SPARROW_SW_NO_SOURCE);
  }
  void pcu_gemm(uint32_t tile, uint32_t k_count, uint32_t blocks, bool acc_init) {
    const uint32_t unit = SPARROW_UNIT_PCU + tile;
    cfg(unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_GEMM);
    cfg(unit, SPARROW_PCU_K_COUNT, k_count);
    cfg(unit, SPARROW_PCU_BLOCKS, blocks);
    cfg(unit, SPARROW_PCU_ACC_INIT, acc_init ? 1 : 0);
    cfg(unit, SPARROW_PCU_ENABLE, 1);
  }
  // The per-block k table: `entries` from entry 0, and k_table_len = len (which may differ from the
  // number of entries written, e.g. to exceed the table).
  void pcu_k_table(uint32_t tile, const std::vector<uint32_t> &entries, uint32_t len) {
    const uint32_t unit = SPARROW_UNIT_PCU + tile;
    for (size_t i = 0; i < entries.size(); i++) {
      cfg(unit, SPARROW_PCU_K_TABLE + static_cast<uint32_t>(i), entries[i]);
    }
    cfg(unit, SPARROW_PCU_K_TABLE_LEN, len);
  }
};

// ----------------------------------------------------------------------------------------------
struct DramConfig {
  uint32_t latency = 100;        // cycles from service to response
  uint32_t beats_per_cycle = 0;  // service bandwidth, reads and writes together; 0 = unlimited
  uint32_t jitter = 0;           // random extra delay per beat, 0..jitter cycles
  uint32_t seed = 1;
};

struct LaunchResult {
  bool finished = false;  // irq within the cycle budget
  uint32_t status = 0;
  uint32_t error_code = 0;
  uint32_t error_entry = 0;
  uint64_t bench_cycles = 0;
};

template <class Model>
class Bench {
 public:
  Bench(const sparrow_hw_config_t &cfg, size_t dram_bytes)
      : cfg_(cfg),
        dram_(dram_bytes / 4, 0),
        rd_rsp_(cfg.tiles),
        wr_ack_(cfg.tiles),
        last_rd_ready_(cfg.tiles, 0),
        last_wr_ready_(cfg.tiles, 0),
        outstanding_(cfg.tiles, 0) {
    top_ = std::make_unique<Model>(&ctx_);
    if (const char *trace = std::getenv("SPARROW_TB_TRACE")) {
      ctx_.traceEverOn(true);
      fst_ = std::make_unique<VerilatedFstC>();
      top_->trace(fst_.get(), 99);
      fst_->open(trace);
    }
    top_->csr_req_i = 0;
    top_->csr_we_i = 0;
    top_->rst_ni = 0;
    clear_dram_inputs();
    top_->clk_i = 0;
    top_->eval();
    top_->rst_ni = 1;
    top_->eval();
  }
  ~Bench() {
    if (fst_)
      fst_->close();
    top_->final();
  }

  const sparrow_hw_config_t &config() const { return cfg_; }
  uint32_t beat_bytes() const { return cfg_.lanes * 4; }
  void set_dram(const DramConfig &d) {
    dcfg_ = d;
    rng_.seed(d.seed);
  }
  uint64_t now() const { return now_; }
  size_t dram_errors() const { return dram_errors_; }
  uint32_t max_outstanding_reads() const { return max_outstanding_; }

  // DRAM contents, word-addressed by byte address.
  void dram_write(uint32_t addr, const std::vector<uint32_t> &words) {
    for (size_t i = 0; i < words.size(); i++)
      dram_.at(addr / 4 + i) = words[i];
  }
  std::vector<uint32_t> dram_read(uint32_t addr, size_t words) const {
    return std::vector<uint32_t>(dram_.begin() + addr / 4, dram_.begin() + addr / 4 + words);
  }
  void dram_fill(uint32_t value) { std::fill(dram_.begin(), dram_.end(), value); }

  // One clock cycle.
  void tick() {
    drive_dram_responses();
    top_->clk_i = 0;
    top_->eval();
    if (fst_)
      fst_->dump(ctx_.time());
    ctx_.timeInc(1);
    collect_dram_requests();
    serve_dram();
    top_->clk_i = 1;
    top_->eval();
    if (fst_)
      fst_->dump(ctx_.time());
    ctx_.timeInc(1);
    now_++;
  }

  void csr_write(uint32_t addr, uint32_t value) {
    top_->csr_req_i = 1;
    top_->csr_we_i = 1;
    top_->csr_addr_i = addr;
    top_->csr_wdata_i = value;
    tick();
    top_->csr_req_i = 0;
    top_->csr_we_i = 0;
  }
  uint32_t csr_read(uint32_t addr) {
    top_->csr_req_i = 1;
    top_->csr_we_i = 0;
    top_->csr_addr_i = addr;
    tick();
    top_->csr_req_i = 0;
    return top_->csr_rdata_o;  // registered: valid after the request's cycle
  }
  uint64_t csr_read64(uint32_t lo_addr) {
    uint64_t lo = csr_read(lo_addr);
    uint64_t hi = csr_read(lo_addr + 4);
    return lo | (hi << 32);
  }
  uint64_t unit_busy(uint32_t unit) { return csr_read64(SPARROW_CSR_UNIT_COUNTERS + 16 * unit); }
  uint64_t unit_stall(uint32_t unit) {
    return csr_read64(SPARROW_CSR_UNIT_COUNTERS + 16 * unit + 8);
  }

  void load_program(const Program &p) {
    csr_write(SPARROW_CSR_PROG_ADDR, 0);
    for (uint64_t e : p.entries) {
      csr_write(SPARROW_CSR_PROG_DATA_LO, static_cast<uint32_t>(e));
      csr_write(SPARROW_CSR_PROG_DATA_HI, static_cast<uint32_t>(e >> 32));
    }
  }

  // Clears status and counters, launches, and waits for done or error.
  LaunchResult launch(uint64_t max_cycles) {
    LaunchResult r;
    const uint64_t start = now_;
    csr_write(SPARROW_CSR_CTRL, (1u << SPARROW_CTRL_CLEAR_BIT) | (1u << SPARROW_CTRL_LAUNCH_BIT));
    while (now_ - start < max_cycles) {
      tick();
      if (top_->irq_done_o) {
        r.finished = true;
        break;
      }
    }
    r.bench_cycles = now_ - start;
    r.status = csr_read(SPARROW_CSR_STATUS);
    r.error_code = csr_read(SPARROW_CSR_ERROR_CODE);
    r.error_entry = csr_read(SPARROW_CSR_ERROR_ENTRY);
    return r;
  }
  LaunchResult run(const Program &p, uint64_t max_cycles) {
    load_program(p);
    return launch(max_cycles);
  }
  // Lets in-flight DRAM traffic (for example reads abandoned by an abort) drain.
  void idle(uint64_t cycles) {
    for (uint64_t i = 0; i < cycles; i++)
      tick();
  }

 private:
  struct Pending {
    uint32_t tile;
    bool write;
    uint32_t addr;
    std::vector<uint32_t> data;
  };
  struct Response {
    uint64_t ready;
    std::vector<uint32_t> data;
  };

  void clear_dram_inputs() {
    top_->dram_rd_rsp_i = 0;
    top_->dram_wr_ack_i = 0;
  }

  bool addr_ok(uint32_t addr) const {
    return addr % 4 == 0 && uint64_t{addr} + beat_bytes() <= dram_.size() * 4;
  }

  void drive_dram_responses() {
    uint32_t rsp = 0, ack = 0;
    for (uint32_t t = 0; t < cfg_.tiles; t++) {
      if (!rd_rsp_[t].empty() && rd_rsp_[t].front().ready <= now_) {
        rsp |= 1u << t;
        for (uint32_t w = 0; w < cfg_.lanes; w++) {
          word_set(top_->dram_rd_data_i, t * cfg_.lanes + w, rd_rsp_[t].front().data[w]);
        }
        rd_rsp_[t].pop_front();
        outstanding_[t]--;
      }
      if (!wr_ack_[t].empty() && wr_ack_[t].front() <= now_) {
        ack |= 1u << t;
        wr_ack_[t].pop_front();
      }
    }
    top_->dram_rd_rsp_i = rsp;
    top_->dram_wr_ack_i = ack;
  }

  void collect_dram_requests() {
    for (uint32_t t = 0; t < cfg_.tiles; t++) {
      if (bit_get(top_->dram_rd_req_o, t)) {
        const uint32_t addr = word_get(top_->dram_rd_addr_o, t);
        queue_.push_back(Pending{t, false, addr, {}});
        outstanding_[t]++;
        max_outstanding_ = std::max(max_outstanding_, outstanding_[t]);
      }
      if (bit_get(top_->dram_wr_req_o, t)) {
        Pending p{t, true, word_get(top_->dram_wr_addr_o, t), {}};
        for (uint32_t w = 0; w < cfg_.lanes; w++) {
          p.data.push_back(word_get(top_->dram_wr_data_o, t * cfg_.lanes + w));
        }
        queue_.push_back(std::move(p));
      }
    }
  }

  uint64_t ready_time() {
    uint64_t extra = 0;
    if (dcfg_.jitter > 0) {
      extra = std::uniform_int_distribution<uint32_t>(0, dcfg_.jitter)(rng_);
    }
    return now_ + dcfg_.latency + extra;
  }

  void serve_dram() {
    uint32_t served = 0;
    while (!queue_.empty() && (dcfg_.beats_per_cycle == 0 || served < dcfg_.beats_per_cycle)) {
      Pending p = std::move(queue_.front());
      queue_.pop_front();
      served++;
      const bool ok = addr_ok(p.addr);
      if (!ok) {
        dram_errors_++;
        std::printf("  dram: AGCU %u %s at bad address 0x%08x\n", p.tile,
                    p.write ? "write" : "read", p.addr);
      }
      // Responses per AGCU stay in order and one per cycle.
      if (p.write) {
        if (ok) {
          for (uint32_t w = 0; w < cfg_.lanes; w++)
            dram_[p.addr / 4 + w] = p.data[w];
        }
        const uint64_t ready = std::max(ready_time(), last_wr_ready_[p.tile] + 1);
        last_wr_ready_[p.tile] = ready;
        wr_ack_[p.tile].push_back(ready);
      } else {
        Response r{std::max(ready_time(), last_rd_ready_[p.tile] + 1), {}};
        for (uint32_t w = 0; w < cfg_.lanes; w++) {
          r.data.push_back(ok ? dram_[p.addr / 4 + w] : 0xDEADBEEFu);
        }
        last_rd_ready_[p.tile] = r.ready;
        rd_rsp_[p.tile].push_back(std::move(r));
      }
    }
  }

  sparrow_hw_config_t cfg_;
  VerilatedContext ctx_;
  std::unique_ptr<Model> top_;
  std::unique_ptr<VerilatedFstC> fst_;
  DramConfig dcfg_;
  std::mt19937 rng_{1};
  std::vector<uint32_t> dram_;
  std::deque<Pending> queue_;
  std::vector<std::deque<Response>> rd_rsp_;
  std::vector<std::deque<uint64_t>> wr_ack_;
  std::vector<uint64_t> last_rd_ready_, last_wr_ready_;
  std::vector<uint32_t> outstanding_;
  uint32_t max_outstanding_ = 0;
  uint64_t now_ = 0;
  size_t dram_errors_ = 0;
};

}  // namespace fabric_tb

#endif  // SPARROW_TESTS_RTL_FABRIC_TB_H_
