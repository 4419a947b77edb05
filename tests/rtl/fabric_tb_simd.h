// SPDX-License-Identifier: Apache-2.0
//
// The fabric checks of the PCU's SIMD and LOAD modes (docs/fabric.md, "PCU SIMD mode"), written
// once for any configuration's model. Each program is loaded by a LOAD phase and run on streams
// from DRAM; every beat it pushes and FP_STATUS are compared bit-exactly with a reference
// interpreter written here from the contract on the C arithmetic (sim/model/sparrow_fp.c and
// sparrow_fp_special.c: add, mul, max, min, compare, the reduction trees). Programs without streams
// also have their cycle counts checked exactly: the phase takes one cycle per issue group, the
// groups the reference counts by the timing rule, over a launch whose segments are all empty.

#ifndef SPARROW_TESTS_RTL_FABRIC_TB_SIMD_H_
#define SPARROW_TESTS_RTL_FABRIC_TB_SIMD_H_

#include <array>

#include "fabric_tb.h"
#include "fabric_tb_tests.h"
#include "sparrow_fp.h"
#include "sparrow_fp_special.h"

namespace fabric_tb {

constexpr uint32_t kSimdInsns = SPARROW_PCU_IMEM_WORDS / 2;
constexpr uint32_t kSimdPorts = 3;  // POP's port field: a, b, c
constexpr uint32_t kSignBit = 0x80000000u;
using Imem = std::array<uint32_t, SPARROW_PCU_IMEM_WORDS>;
using Segments = std::array<uint32_t, SPARROW_SIMD_SEGMENTS>;

inline uint32_t simd_field(uint32_t value, uint32_t lsb, uint32_t width) {
  return (value & ((1u << width) - 1u)) << lsb;
}
inline uint32_t simd_get(uint32_t word, uint32_t lsb, uint32_t width) {
  return (word >> lsb) & ((1u << width) - 1u);
}
inline uint32_t simd_word(uint32_t op, uint32_t dst, uint32_t a, uint32_t b, uint32_t pred,
                          uint32_t port) {
  return simd_field(op, SPARROW_SIMD_FIELD_OP_LSB, SPARROW_SIMD_FIELD_OP_WIDTH) |
         simd_field(dst, SPARROW_SIMD_FIELD_DST_LSB, SPARROW_SIMD_FIELD_DST_WIDTH) |
         simd_field(a, SPARROW_SIMD_FIELD_SRC_A_LSB, SPARROW_SIMD_FIELD_SRC_A_WIDTH) |
         simd_field(b, SPARROW_SIMD_FIELD_SRC_B_LSB, SPARROW_SIMD_FIELD_SRC_B_WIDTH) |
         simd_field(pred, SPARROW_SIMD_FIELD_PRED_LSB, SPARROW_SIMD_FIELD_PRED_WIDTH) |
         simd_field(port, SPARROW_SIMD_FIELD_PORT_LSB, SPARROW_SIMD_FIELD_PORT_WIDTH);
}
inline uint32_t simd_seg(uint32_t first, uint32_t count) {
  return (first & 0xFFFFu) | (count << 16);
}

// ----------------------------------------------------------------------------------------------
// A program: instructions (word, immediate) from instruction `base` on, and its segments.
enum : uint32_t { kA = 0, kB = 1, kC = 2, kNoPort = 3 };
enum : uint32_t {
  kImm = SPARROW_SIMD_SRC_IMM,
  kCol = SPARROW_SIMD_SRC_COL,
  kRow = SPARROW_SIMD_SRC_ROW,
  kLane = SPARROW_SIMD_SRC_LANE,
  kAlways = SPARROW_SIMD_PRED_ALWAYS,
  kP0 = SPARROW_SIMD_PRED_P0,
  kNotP0 = SPARROW_SIMD_PRED_NOT_P0,
  kP1 = SPARROW_SIMD_PRED_P1,
};

struct SimdAsm {
  uint32_t base = 0;            // instruction index of the first instruction
  std::vector<uint32_t> words;  // two per instruction
  Segments seg{};
  uint32_t open_seg = 0, open_first = 0;

  uint32_t here() const { return base + static_cast<uint32_t>(words.size() / 2); }
  void begin(uint32_t s) {
    open_seg = s;
    open_first = here();
  }
  void end() { seg[open_seg] = simd_seg(open_first, here() - open_first); }
  void emit(uint32_t op, uint32_t dst, uint32_t a, uint32_t b, uint32_t pred, uint32_t imm,
            uint32_t port = 0) {
    words.push_back(simd_word(op, dst, a, b, pred, port));
    words.push_back(imm);
  }
  void op(uint32_t op, uint32_t dst, uint32_t a, uint32_t b, uint32_t pred = kAlways,
          uint32_t imm = 0) {
    emit(op, dst, a, b, pred, imm);
  }
  void pop(uint32_t dst, uint32_t port) { emit(SPARROW_SIMD_OP_POP, dst, 0, 0, kAlways, 0, port); }
  void push(uint32_t src, uint32_t pred = kAlways, uint32_t imm = 0) {
    emit(SPARROW_SIMD_OP_PUSH, 0, src, 0, pred, imm);
  }
  void mov(uint32_t dst, uint32_t src, uint32_t pred = kAlways, uint32_t imm = 0) {
    emit(SPARROW_SIMD_OP_MOV, dst, src, 0, pred, imm);
  }
  void nop() { emit(SPARROW_SIMD_OP_NOP, 0, 0, 0, kAlways, 0); }
  // Program memory image: the words padded with NOPs to whole beats of `lanes` words.
  std::vector<uint32_t> image(uint32_t lanes) const {
    std::vector<uint32_t> img(words);
    img.resize((img.size() + lanes - 1) / lanes * lanes, 0);
    return img;
  }
};

struct SimdWalk {
  uint32_t rows = 1, beats = 1, passes = 1, row_base = 0, col_base = 0;
};

// ----------------------------------------------------------------------------------------------
// The reference: the walk, the instructions and the issue groups, from docs/fabric.md.
struct SimdResult {
  std::vector<uint32_t> out;  // pushed beats, lanes words each
  uint8_t flags = 0;
  uint64_t groups = 0;
  std::array<uint32_t, kSimdPorts> popped{};  // beats taken per port
  bool stuck = false;                         // a POP found no beat: the hardware waits forever
};

class SimdRef {
 public:
  SimdRef(uint32_t lanes, const Imem &imem, const Segments &seg, const SimdWalk &walk,
          const std::array<std::vector<uint32_t>, kSimdPorts> &in)
      : lanes_(lanes), imem_(imem), seg_(seg), walk_(walk), in_(in) {
    for (auto &r : reg_)
      r.fill(0);
    for (auto &p : pred_)
      p = {false, false};
  }

  SimdResult run() {
    const uint32_t rows = walk_.rows == 0 ? 1 : walk_.rows;
    const uint32_t beats = walk_.beats == 0 ? 1 : walk_.beats;
    const uint32_t passes = walk_.passes == 0 ? 1 : std::min<uint32_t>(walk_.passes, 3);
    bool row_empty = count(0) == 0;
    for (uint32_t p = 0; p < passes; p++) {
      row_empty = row_empty && count(1 + 2 * p) == 0 && count(2 + 2 * p) == 0;
    }
    // A row without instructions changes nothing and takes no time: skip the rows loop.
    for (uint32_t row = 0; !row_empty && row < rows && !res_.stuck; row++) {
      segment(0, 0, row);
      for (uint32_t p = 0; p < passes && !res_.stuck; p++) {
        for (uint32_t beat = 0; count(1 + 2 * p) != 0 && beat < beats && !res_.stuck; beat++) {
          segment(1 + 2 * p, beat, row);
        }
        segment(2 + 2 * p, 0, row);
      }
    }
    segment(SPARROW_SIMD_SEGMENTS - 1, 0, 0);
    return res_;
  }

 private:
  uint32_t count(uint32_t s) const { return seg_[s] >> 16; }

  void segment(uint32_t s, uint32_t beat, uint32_t row) {
    uint32_t group_len = 0;
    for (uint32_t j = 0; j < count(s) && !res_.stuck; j++) {
      const uint32_t idx = ((seg_[s] & 0xFFFFu) + j) % kSimdInsns;
      const uint32_t word = imem_[2 * idx], imm = imem_[2 * idx + 1];
      const uint32_t op = simd_get(word, SPARROW_SIMD_FIELD_OP_LSB, SPARROW_SIMD_FIELD_OP_WIDTH);
      if (!execute(word, imm, beat, row)) {
        res_.stuck = true;
        return;
      }
      if (group_len == 0)
        res_.groups++;
      group_len++;
      if (group_len == lanes_ || op == SPARROW_SIMD_OP_POP || op == SPARROW_SIMD_OP_PUSH ||
          op == SPARROW_SIMD_OP_RSUM || op == SPARROW_SIMD_OP_RMAX)
        group_len = 0;
    }
  }

  uint32_t source(uint32_t lane, uint32_t code, uint32_t imm, uint32_t beat, uint32_t row) const {
    if (code < SPARROW_SIMD_REGS)
      return reg_[lane][code];
    switch (code) {
      case SPARROW_SIMD_SRC_IMM:
        return imm;
      case SPARROW_SIMD_SRC_COL:
        return walk_.col_base + beat * lanes_ + lane;
      case SPARROW_SIMD_SRC_ROW:
        return walk_.row_base + row;
      case SPARROW_SIMD_SRC_LANE:
        return lane;
      default:
        return 0;
    }
  }
  bool holds(uint32_t lane, uint32_t pred) const {
    switch (pred) {
      case SPARROW_SIMD_PRED_P0:
        return pred_[lane][0];
      case SPARROW_SIMD_PRED_NOT_P0:
        return !pred_[lane][0];
      case SPARROW_SIMD_PRED_P1:
        return pred_[lane][1];
      default:
        return true;
    }
  }

  bool execute(uint32_t word, uint32_t imm, uint32_t beat, uint32_t row) {
    const uint32_t op = simd_get(word, SPARROW_SIMD_FIELD_OP_LSB, SPARROW_SIMD_FIELD_OP_WIDTH);
    const uint32_t dst = simd_get(word, SPARROW_SIMD_FIELD_DST_LSB, SPARROW_SIMD_FIELD_DST_WIDTH);
    const uint32_t sa =
        simd_get(word, SPARROW_SIMD_FIELD_SRC_A_LSB, SPARROW_SIMD_FIELD_SRC_A_WIDTH);
    const uint32_t sb =
        simd_get(word, SPARROW_SIMD_FIELD_SRC_B_LSB, SPARROW_SIMD_FIELD_SRC_B_WIDTH);
    const uint32_t pr = simd_get(word, SPARROW_SIMD_FIELD_PRED_LSB, SPARROW_SIMD_FIELD_PRED_WIDTH);
    const uint32_t port =
        simd_get(word, SPARROW_SIMD_FIELD_PORT_LSB, SPARROW_SIMD_FIELD_PORT_WIDTH);
    if (op == SPARROW_SIMD_OP_POP) {
      if (port >= kSimdPorts || (res_.popped[port] + 1) * lanes_ > in_[port].size())
        return false;
      for (uint32_t l = 0; l < lanes_; l++)
        reg_[l][dst] = in_[port][res_.popped[port] * lanes_ + l];
      res_.popped[port]++;
      return true;
    }
    if (op == SPARROW_SIMD_OP_PUSH) {
      if (holds(0, pr)) {
        for (uint32_t l = 0; l < lanes_; l++)
          res_.out.push_back(source(l, sa, imm, beat, row));
      }
      return true;
    }
    if (op == SPARROW_SIMD_OP_RSUM || op == SPARROW_SIMD_OP_RMAX) {
      std::vector<uint32_t> values(lanes_);
      bool any = false;
      for (uint32_t l = 0; l < lanes_; l++) {
        values[l] = source(l, sa, imm, beat, row);
        any = any || holds(l, pr);
      }
      if (!any)
        return true;
      uint32_t result = 0;
      const sparrow_fp_reduce_status_t st =
          op == SPARROW_SIMD_OP_RSUM
              ? sparrow_fp_reduce_sum(lanes_, values.data(), &result, &res_.flags)
              : sparrow_fp_reduce_max(lanes_, values.data(), &result, &res_.flags);
      if (st != SPARROW_FP_REDUCE_OK) {
        std::printf("  reference: %s\n", sparrow_fp_reduce_status_str(st));
        return false;
      }
      for (uint32_t l = 0; l < lanes_; l++) {
        if (holds(l, pr))
          reg_[l][dst] = result;
      }
      return true;
    }
    for (uint32_t l = 0; l < lanes_; l++) {
      if (!holds(l, pr))
        continue;
      const uint32_t a = source(l, sa, imm, beat, row), b = source(l, sb, imm, beat, row);
      uint32_t &d = reg_[l][dst];
      bool &p = pred_[l][dst & 1u];
      uint8_t &f = res_.flags;
      switch (op) {
        case SPARROW_SIMD_OP_FADD:
          d = sparrow_fp_add(a, b, &f);
          break;
        case SPARROW_SIMD_OP_FSUB:
          d = sparrow_fp_add(a, b ^ kSignBit, &f);
          break;
        case SPARROW_SIMD_OP_FMUL:
          d = sparrow_fp_mul(a, b, &f);
          break;
        case SPARROW_SIMD_OP_FMAX:
          d = sparrow_fp_max(a, b, &f);
          break;
        case SPARROW_SIMD_OP_FMIN:
          d = sparrow_fp_min(a, b, &f);
          break;
        case SPARROW_SIMD_OP_MOV:
          d = a;
          break;
        case SPARROW_SIMD_OP_SEL:
          d = pred_[l][0] ? a : b;
          break;
        case SPARROW_SIMD_OP_IADD:
          d = a + b;
          break;
        case SPARROW_SIMD_OP_ISUB:
          d = a - b;
          break;
        case SPARROW_SIMD_OP_AND:
          d = a & b;
          break;
        case SPARROW_SIMD_OP_OR:
          d = a | b;
          break;
        case SPARROW_SIMD_OP_XOR:
          d = a ^ b;
          break;
        case SPARROW_SIMD_OP_SHL:
          d = a << (b % 32);
          break;
        case SPARROW_SIMD_OP_SHR:
          d = a >> (b % 32);
          break;
        case SPARROW_SIMD_OP_SAR:
          d = static_cast<uint32_t>(static_cast<int32_t>(a) >> (b % 32));
          break;
        case SPARROW_SIMD_OP_CLTS:
          p = static_cast<int32_t>(a) < static_cast<int32_t>(b);
          break;
        case SPARROW_SIMD_OP_CLTU:
          p = a < b;
          break;
        case SPARROW_SIMD_OP_CEQ:
          p = a == b;
          break;
        case SPARROW_SIMD_OP_FCLT:
          p = sparrow_fp_cmp(a, b, &f) == SPARROW_FP_CMP_LESS;
          break;
        default:
          break;  // NOP and the undefined opcodes
      }
    }
    return true;
  }

  uint32_t lanes_;
  const Imem &imem_;
  const Segments &seg_;
  SimdWalk walk_;
  const std::array<std::vector<uint32_t>, kSimdPorts> &in_;
  std::array<std::array<uint32_t, SPARROW_SIMD_REGS>, 64> reg_{};
  std::array<std::array<bool, 2>, 64> pred_{};
  SimdResult res_;
};

// ----------------------------------------------------------------------------------------------
// Running programs on the fabric. Tile `tile`'s PCU runs them; input a comes from its AGCU's read
// channel 0, b from read channel 1, c from the next tile's read channel 0; pcu_out goes to its
// AGCU's write channel. Program memory images are tracked here (the memory has no reset; every
// test loads what it runs).
constexpr uint32_t kSimdImageAt = 0x10000, kSimdOutAt = 0x80000;
constexpr uint32_t kSimdInAt[kSimdPorts] = {0x20000, 0x40000, 0x60000};

inline void simd_regs(Program &p, uint32_t tile, const Segments &seg, const SimdWalk &w) {
  const uint32_t unit = SPARROW_UNIT_PCU + tile;
  p.cfg(unit, SPARROW_PCU_SIMD_ROWS, w.rows);
  p.cfg(unit, SPARROW_PCU_SIMD_BEATS, w.beats);
  p.cfg(unit, SPARROW_PCU_SIMD_PASSES, w.passes);
  p.cfg(unit, SPARROW_PCU_SIMD_ROW_BASE, w.row_base);
  p.cfg(unit, SPARROW_PCU_SIMD_COL_BASE, w.col_base);
  for (uint32_t s = 0; s < SPARROW_SIMD_SEGMENTS; s++)
    p.cfg(unit, SPARROW_PCU_SIMD_SEG + s, seg[s]);
  p.cfg(unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_SIMD);
  p.cfg(unit, SPARROW_PCU_ENABLE, 1);
}

template <class M>
class SimdRig {
 public:
  SimdRig(Bench<M> &tb, Results &res, uint32_t tile = 0)
      : tb_(tb), res_(res), tile_(tile), lanes_(tb.config().lanes) {}
  uint32_t lanes() const { return lanes_; }
  Imem &imem() { return imem_; }

  // A LOAD phase: `image` (whole beats) into program memory from word `load_base` on.
  void load_phase(Program &p, const std::vector<uint32_t> &image, uint32_t load_base,
                  uint32_t at = kSimdImageAt) {
    const uint32_t beats = static_cast<uint32_t>(image.size() / lanes_);
    tb_.dram_write(at, image);
    const uint32_t unit = SPARROW_UNIT_PCU + tile_;
    p.route(tile_, SPARROW_DST_PCU_A, tile_, SPARROW_SRC_AGCU_RD0);
    p.agcu_chan(tile_, SPARROW_AGCU_CHANNEL_RD0, at,
                Program::loops({{beats, static_cast<int32_t>(tb_.beat_bytes())}}));
    p.cfg(unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_LOAD);
    p.cfg(unit, SPARROW_PCU_BLOCKS, beats);
    p.cfg(unit, SPARROW_PCU_SIMD_LOAD_BASE, load_base);
    p.cfg(unit, SPARROW_PCU_ENABLE, 1);
    p.run();
    p.unroute(tile_, SPARROW_DST_PCU_A);
    for (uint32_t i = 0; i < image.size(); i++)
      imem_[(load_base + i) % SPARROW_PCU_IMEM_WORDS] = image[i];
  }
  void load_phase(Program &p, const SimdAsm &as) { load_phase(p, as.image(lanes_), 2 * as.base); }

  // A SIMD phase over the inputs the reference says it pops, pushing what it pushes.
  void simd_phase(Program &p, const Segments &seg, const SimdWalk &w, const SimdResult &ref) {
    const int32_t bb = static_cast<int32_t>(tb_.beat_bytes());
    const uint32_t tiles = tb_.config().tiles;
    const uint32_t src_tile[kSimdPorts] = {tile_, tile_, (tile_ + 1) % tiles};
    const uint32_t chan[kSimdPorts] = {SPARROW_AGCU_CHANNEL_RD0, SPARROW_AGCU_CHANNEL_RD1,
                                       SPARROW_AGCU_CHANNEL_RD0};
    const uint32_t src_kind[kSimdPorts] = {SPARROW_SRC_AGCU_RD0, SPARROW_SRC_AGCU_RD1,
                                           SPARROW_SRC_AGCU_RD0};
    const uint32_t dst_kind[kSimdPorts] = {SPARROW_DST_PCU_A, SPARROW_DST_PCU_B, SPARROW_DST_PCU_C};
    for (uint32_t port = 0; port < kSimdPorts; port++) {
      if (ref.popped[port] == 0)
        continue;
      p.route(tile_, dst_kind[port], src_tile[port], src_kind[port]);
      p.agcu_chan(src_tile[port], chan[port], kSimdInAt[port],
                  Program::loops({{ref.popped[port], bb}}));
    }
    const uint32_t out_beats = static_cast<uint32_t>(ref.out.size() / lanes_);
    if (out_beats > 0) {
      p.route(tile_, SPARROW_DST_AGCU_WR, tile_, SPARROW_SRC_PCU_OUT);
      p.agcu_chan(tile_, SPARROW_AGCU_CHANNEL_WR, kSimdOutAt, Program::loops({{out_beats, bb}}));
    }
    simd_regs(p, tile_, seg, w);
    p.run();
    for (uint32_t port = 0; port < kSimdPorts; port++) {
      if (ref.popped[port] != 0)
        p.unroute(tile_, dst_kind[port]);
    }
    if (out_beats > 0)
      p.unroute(tile_, SPARROW_DST_AGCU_WR);
  }

  SimdResult reference(const Segments &seg, const SimdWalk &w,
                       const std::array<std::vector<uint32_t>, kSimdPorts> &in) const {
    return SimdRef(lanes_, imem_, seg, w, in).run();
  }

  // Loads `as`, runs it over `in`, and checks its output and FP_STATUS against the reference.
  SimdResult check(const SimdAsm &as, const SimdWalk &w,
                   const std::array<std::vector<uint32_t>, kSimdPorts> &in, const char *what) {
    Program p;
    load_phase(p, as);
    SimdResult ref = reference(as.seg, w, in);
    res_.check(!ref.stuck, fmt("%s: the reference program runs out of input", what));
    for (uint32_t port = 0; port < kSimdPorts; port++) {
      res_.check(ref.popped[port] * lanes_ == in[port].size(),
                 fmt("%s: port %u: the program pops %u of %zu beats", what, port, ref.popped[port],
                     in[port].size() / lanes_));
      tb_.dram_write(kSimdInAt[port], in[port]);
    }
    tb_.dram_write(kSimdOutAt, std::vector<uint32_t>(ref.out.size() + lanes_, 0xFFFFFFFFu));
    simd_phase(p, as.seg, w, ref);
    p.end();
    tb_.csr_write(SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_CLEAR_BIT);
    expect_done<M>(res_, tb_.run(p, kMaxCycles), what);
    check_words<M>(res_, tb_.dram_read(kSimdOutAt, ref.out.size()), ref.out, what);
    res_.check(tb_.dram_read(kSimdOutAt + 4 * ref.out.size(), 1)[0] == 0xFFFFFFFFu,
               fmt("%s: nothing pushed past the last beat", what));
    const uint32_t status = tb_.csr_read(SPARROW_CSR_FP_STATUS);
    res_.check(status == ref.flags,
               fmt("%s: FP_STATUS 0x%02x, reference flags 0x%02x", what, status, ref.flags));
    res_.check(tb_.csr_read64(SPARROW_CSR_MACS_LO) == 0, fmt("%s: SIMD work is not MACs", what));
    return ref;
  }

 private:
  Bench<M> &tb_;
  Results &res_;
  uint32_t tile_, lanes_;
  Imem imem_{};
};

// Input words: random floats with magnitudes around 1, and the special values every operation must
// get right (zeros, infinities, quiet and signalling NaNs, subnormals, extremes) at random places.
inline std::vector<uint32_t> simd_inputs(std::mt19937 &rng, size_t n, bool specials) {
  static const uint32_t kSpecial[] = {
      0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC12345u,
      0x7F800001u, 0xFFA00000u, 0x00000001u, 0x807FFFFFu, 0x00800000u, 0x7F7FFFFFu,
      0xFF7FFFFFu, 0x3F800000u, 0xBF800000u, 0x71800000u, 0x0C800000u, 0x0000001Fu,
      0x00000020u, 0x00000021u, 0xFFFFFFFFu, 0x80000001u};
  std::vector<uint32_t> v = random_floats(rng, n);
  if (specials) {
    for (auto &x : v) {
      if (rng() % 3 == 0)
        x = kSpecial[rng() % (sizeof kSpecial / sizeof kSpecial[0])];
    }
  }
  return v;
}

// ----------------------------------------------------------------------------------------------
// LOAD then run: every opcode on pairs of inputs with special values. Per beat: POP a, b and c,
// then each elementwise operation's result pushed; the compares observed through SEL (p0) and a
// predicated MOV (p1); RSUM and RMAX; NOP and two undefined opcodes, which change nothing.
template <class M>
void test_simd_opcodes(Bench<M> &tb, Results &res) {
  res.begin(fmt("simd-every-opcode-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{40, 0, 5, 3});
  SimdRig<M> rig(tb, res);
  const uint32_t lanes = rig.lanes(), beats = 12;
  SimdAsm as;
  as.base = 3;
  as.begin(1);
  as.pop(0, kA);
  as.pop(1, kB);
  as.pop(3, kC);
  for (uint32_t op :
       {SPARROW_SIMD_OP_FADD, SPARROW_SIMD_OP_FSUB, SPARROW_SIMD_OP_FMUL, SPARROW_SIMD_OP_FMAX,
        SPARROW_SIMD_OP_FMIN, SPARROW_SIMD_OP_IADD, SPARROW_SIMD_OP_ISUB, SPARROW_SIMD_OP_AND,
        SPARROW_SIMD_OP_OR, SPARROW_SIMD_OP_XOR, SPARROW_SIMD_OP_SHL, SPARROW_SIMD_OP_SHR,
        SPARROW_SIMD_OP_SAR}) {
    as.op(op, 2, 0, 1);
    as.push(2);
  }
  as.op(SPARROW_SIMD_OP_FSUB, 2, 1, 0);  // the other order: b - a
  as.push(2);
  as.mov(2, 3);
  as.push(2);
  // Compares into p0 (dst 0 or any even register) and p1 (dst 1, or 5: bit 0 selects).
  for (uint32_t op :
       {SPARROW_SIMD_OP_CLTS, SPARROW_SIMD_OP_CLTU, SPARROW_SIMD_OP_CEQ, SPARROW_SIMD_OP_FCLT}) {
    as.op(op, 0, 0, 1);
    as.op(SPARROW_SIMD_OP_SEL, 2, 0, 1);  // p0 ? a : b
    as.push(2);
    as.op(op, 5, 1, 0);  // p1 = b < a
    as.mov(2, kImm, kAlways, 0x11111111u);
    as.mov(2, kImm, kP1, 0x22222222u);
    as.push(2);
  }
  as.op(SPARROW_SIMD_OP_CEQ, 4, 0, 0);  // p0 = a == a: bits, so true for NaNs too
  as.op(SPARROW_SIMD_OP_SEL, 2, kImm, 3, kAlways, 0x5A5A5A5Au);
  as.push(2);
  as.op(SPARROW_SIMD_OP_RSUM, 6, 0, 0);
  as.push(6);
  as.op(SPARROW_SIMD_OP_RMAX, 6, 1, 0);
  as.push(6);
  // NOP, 24 and 63 with fields that would write r2 if they did anything.
  as.mov(2, kImm, kAlways, 0x600DF00Du);
  as.nop();
  as.emit(24, 2, 0, 1, kAlways, 0);
  as.emit(63, 2, 0, 1, kAlways, 0);
  as.push(2);
  as.end();
  std::mt19937 rng(lanes * 13 + 1);
  std::array<std::vector<uint32_t>, kSimdPorts> in = {simd_inputs(rng, beats * lanes, true),
                                                      simd_inputs(rng, beats * lanes, true),
                                                      simd_inputs(rng, beats * lanes, false)};
  // The first beats hold the pairs where the operations' corners are: signed zeros both ways
  // (max/min order -0 below +0, the quiet compare and the bit compare disagree), NaNs against
  // numbers, infinities against each other, signed against unsigned order, shifts by 31 .. 33.
  const uint32_t kPairs[][2] = {
      {0x80000000u, 0x00000000u}, {0x00000000u, 0x80000000u}, {0x7FC00000u, 0x3F800000u},
      {0x3F800000u, 0x7F800001u}, {0x7F800000u, 0x7F800000u}, {0xFF800000u, 0x7F800000u},
      {0x7F7FFFFFu, 0xFF7FFFFFu}, {0xFFFFFFFFu, 0x00000001u}, {0x80000000u, 0x0000001Fu},
      {0xC0000000u, 0x00000021u}, {0x12345678u, 0x00000020u}, {0x00800000u, 0x80800000u},
      {0x00000001u, 0x80000001u}, {0xFF800000u, 0xFF800000u}, {0x7F800000u, 0xFFC00000u},
      {0x3F800000u, 0x3F800000u}};
  const size_t n_pairs = sizeof kPairs / sizeof kPairs[0];
  for (size_t i = 0; i < n_pairs && i < in[0].size(); i++) {
    in[0][i] = kPairs[i][0];
    in[1][i] = kPairs[i][1];
  }
  const SimdResult ref = rig.check(as, SimdWalk{1, beats, 1, 0, 0}, in, "opcodes");
  res.check((ref.flags & SPARROW_FP_NV) != 0, "the inputs raise NV (signalling NaNs)");
  std::printf("  %zu beats pushed, %llu issue groups, flags 0x%02x\n", ref.out.size() / lanes,
              static_cast<unsigned long long>(ref.groups), ref.flags);
  res.end();
}

// Predication: p0 and p1 from the lanes' data, then operations that raise flags only in the lanes
// that execute them (overflowing products, signalling NaNs in adds, compares and max), PUSH taking
// its predicate from lane 0, and RSUM/RMAX over lanes none or some of which hold the predicate.
template <class M>
void test_simd_predication(Bench<M> &tb, Results &res) {
  res.begin(fmt("simd-predication-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{});
  SimdRig<M> rig(tb, res);
  const uint32_t lanes = rig.lanes();
  const uint32_t kHuge = 0x7E000000u, kSnan = 0x7F800001u;
  // Each lane's pair, per beat: huge values and sNaNs in the odd lanes (beat 0), in lane 1 only
  // (beat 1), nowhere (beat 2).
  std::vector<uint32_t> a, b;
  for (uint32_t beat = 0; beat < 3; beat++) {
    for (uint32_t l = 0; l < lanes; l++) {
      const bool bad = beat == 0 ? (l % 2 == 1) : beat == 1 ? l == 1 : false;
      a.push_back(bad ? kHuge : 0x3FC00000u + l);
      b.push_back(bad ? kSnan : 0x40000000u + l);
    }
  }
  SimdAsm as;
  as.base = 40;
  as.begin(1);
  as.pop(0, kA);
  as.pop(1, kB);
  as.op(SPARROW_SIMD_OP_AND, 2, kLane, kImm, kAlways, 1);
  as.op(SPARROW_SIMD_OP_CEQ, 0, 2, kImm, kAlways, 0);       // p0 = even lane
  as.op(SPARROW_SIMD_OP_CLTU, 1, kLane, kImm, kAlways, 1);  // p1 = lane 0
  as.op(SPARROW_SIMD_OP_FMUL, 3, 0, 0, kP0);                // even lanes only
  as.op(SPARROW_SIMD_OP_FADD, 4, 0, 1, kP0);
  as.op(SPARROW_SIMD_OP_FCLT, 0, 0, 1, kAlways);  // recomputes p0: NV where b is sNaN
  as.push(3);
  as.push(4);
  as.op(SPARROW_SIMD_OP_RSUM, 5, 1, 0, kP1);  // lane 0 holds; the tree reads every lane's b
  as.push(5);
  as.op(SPARROW_SIMD_OP_CLTU, 1, kLane, kImm, kAlways, 0);  // p1 = false everywhere
  as.mov(6, kImm, kAlways, 0x12345678u);
  as.op(SPARROW_SIMD_OP_RMAX, 6, 1, 0, kP1);  // no lane: no write, no flag
  as.push(6);
  as.push(6, kP1);  // lane 0's p1 is false: no beat
  as.op(SPARROW_SIMD_OP_FMAX, 7, 0, 1, kNotP0);
  as.push(7, kNotP0);  // lane 0's p0 decides
  as.end();
  const SimdResult ref = rig.check(as, SimdWalk{1, 3, 1, 0, 0}, {a, b, {}}, "predication");
  res.check(
      (ref.flags & SPARROW_FP_NV) != 0 && (ref.flags & SPARROW_FP_OF) == 0,
      fmt("NV from executing lanes, no OF from the predicated-off products (0x%02x)", ref.flags));
  std::printf("  %zu beats pushed, flags 0x%02x\n", ref.out.size() / lanes, ref.flags);
  res.end();

  res.begin(fmt("simd-predication-flags-off-lanes-%s", tb.config().name));
  fresh(tb);
  SimdRig<M> rig2(tb, res);
  SimdAsm q;
  q.base = 100;
  q.begin(0);
  q.pop(0, kA);
  q.pop(1, kB);
  q.op(SPARROW_SIMD_OP_CEQ, 0, kLane, kImm, kAlways, 0);  // p0 = lane 0
  q.op(SPARROW_SIMD_OP_FMUL, 2, 0, 0, kP0);
  q.op(SPARROW_SIMD_OP_FADD, 3, 1, 1, kP0);
  q.op(SPARROW_SIMD_OP_FMAX, 3, 1, 1, kP0);
  q.op(SPARROW_SIMD_OP_FCLT, 1, 1, 0, kP0);
  q.op(SPARROW_SIMD_OP_RSUM, 4, 1, 1, kP1);  // p1 is 0 everywhere
  q.push(2);
  q.end();
  std::vector<uint32_t> qa(lanes, kHuge), qb(lanes, kSnan);
  qa[0] = 0x3F800000u;
  qb[0] = 0x40000000u;
  const SimdResult r2 = rig2.check(q, SimdWalk{}, {qa, qb, {}}, "off-lane flags");
  res.check(r2.flags == 0, fmt("no flag from predicated-off lanes (reference 0x%02x)", r2.flags));
  res.end();
}

// COL, ROW and LANE over rows, passes and beats, with bases that wrap at 2^32: COL uses beat 0
// outside a body, ROW uses row 0 in the epilogue.
template <class M>
void test_simd_col_row_lane(Bench<M> &tb, Results &res) {
  res.begin(fmt("simd-col-row-lane-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{});
  SimdRig<M> rig(tb, res);
  SimdAsm as;
  as.base = 250;  // segments run across the end of program memory
  as.begin(0);
  as.push(kRow);
  as.push(kCol);
  as.end();
  as.begin(1);
  as.push(kCol);
  as.end();
  as.begin(2);
  as.push(kCol);
  as.push(kLane);
  as.end();
  as.begin(3);
  as.op(SPARROW_SIMD_OP_IADD, 1, kCol, kRow);
  as.push(1);
  as.end();
  as.begin(5);  // pass 2's body; passes = 3
  as.op(SPARROW_SIMD_OP_XOR, 2, kCol, kLane);
  as.push(2);
  as.end();
  as.begin(7);
  as.push(kRow);
  as.push(kCol);
  as.end();
  // The program runs from instruction 250 across the end of program memory (loaded from word 500,
  // wrapping), so several segments' first instruction is above 255.
  const SimdWalk w{3, 4, 6, 0xFFFFFFFEu, 0xFFFFFFF0u};  // 6 passes count as 3
  const SimdResult ref = rig.check(as, w, {}, "COL/ROW/LANE");
  std::printf("  %zu beats pushed over 3 rows x 3 passes x 4 beats\n",
              ref.out.size() / rig.lanes());
  res.end();
}

// Passes, segments and the epilogue: a row of `beats` inputs read in three passes (max, then the
// sum of exp-like terms, then the scaled outputs: a softmax-like row with a polynomial standing in
// for exp), and a global sum over all rows in the epilogue.
template <class M>
void test_simd_softmax_like(Bench<M> &tb, Results &res) {
  res.begin(fmt("simd-softmax-like-rows-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{60, 1, 7, 9});
  SimdRig<M> rig(tb, res);
  const uint32_t lanes = rig.lanes(), rows = 3, beats = 5;
  const uint32_t kNegInf = 0xFF800000u, kOne = 0x3F800000u, kHalf = 0x3F000000u;
  SimdAsm as;
  as.base = 17;
  as.begin(0);  // prologue: running max = -inf, sum = 0
  as.mov(1, kImm, kAlways, kNegInf);
  as.mov(2, kImm, kAlways, 0);
  as.end();
  as.begin(1);  // pass 0 body: running max per lane
  as.pop(0, kA);
  as.op(SPARROW_SIMD_OP_FMAX, 1, 1, 0);
  as.end();
  as.begin(2);  // end of pass 0: the row max in every lane
  as.op(SPARROW_SIMD_OP_RMAX, 1, 1, 0);
  as.end();
  as.begin(3);  // pass 1 body: t = x - max; e = 1 + t + t*t/2; sum += e
  as.pop(0, kA);
  as.op(SPARROW_SIMD_OP_FSUB, 3, 0, 1);
  as.op(SPARROW_SIMD_OP_FMUL, 4, 3, 3);
  as.op(SPARROW_SIMD_OP_FMUL, 4, 4, kImm, kAlways, kHalf);
  as.op(SPARROW_SIMD_OP_FADD, 4, 4, 3);
  as.op(SPARROW_SIMD_OP_FADD, 4, 4, kImm, kAlways, kOne);
  as.op(SPARROW_SIMD_OP_FADD, 2, 2, 4);
  as.end();
  as.begin(4);  // end of pass 1: the row sum, its scale
  as.op(SPARROW_SIMD_OP_RSUM, 2, 2, 0);
  as.op(SPARROW_SIMD_OP_FMUL, 5, 2, kImm, kAlways, 0x3D800000u);  // sum / 16
  as.op(SPARROW_SIMD_OP_FADD, 9, 9, 2);                           // global sum (epilogue)
  as.end();
  as.begin(5);  // pass 2 body: recompute e, push e * scale
  as.pop(0, kA);
  as.op(SPARROW_SIMD_OP_FSUB, 3, 0, 1);
  as.op(SPARROW_SIMD_OP_FMUL, 4, 3, 3);
  as.op(SPARROW_SIMD_OP_FMUL, 4, 4, kImm, kAlways, kHalf);
  as.op(SPARROW_SIMD_OP_FADD, 4, 4, 3);
  as.op(SPARROW_SIMD_OP_FADD, 4, 4, kImm, kAlways, kOne);
  as.op(SPARROW_SIMD_OP_FMUL, 4, 4, 5);
  as.push(4);
  as.end();
  as.begin(6);  // end of pass 2: push the row's sum
  as.push(2);
  as.end();
  as.begin(7);  // epilogue: the sum over rows, and ROW (0 here)
  as.push(9);
  as.push(kRow);
  as.end();
  std::mt19937 rng(lanes + 77);
  std::vector<uint32_t> a;
  for (uint32_t r = 0; r < rows; r++) {
    std::vector<uint32_t> row = random_floats(rng, beats * lanes);
    for (int pass = 0; pass < 3; pass++)  // the row, once per pass
      a.insert(a.end(), row.begin(), row.end());
  }
  const SimdResult ref =
      rig.check(as, SimdWalk{rows, beats, 3, 1000, 0}, {a, {}, {}}, "softmax-like");
  std::printf("  %u rows x 3 passes x %u beats: %zu beats pushed, %llu issue groups\n", rows, beats,
              ref.out.size() / lanes, static_cast<unsigned long long>(ref.groups));
  res.end();
}

// A segmented sum: inputs in segments of 3 beats (COL tells where one ends); the running sum of a
// segment is reduced across lanes and pushed only at the segment's last beat (a predicated PUSH,
// lane 0 deciding), then reset by predicated moves.
template <class M>
void test_simd_segmented_sum(Bench<M> &tb, Results &res) {
  res.begin(fmt("simd-segmented-sum-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{30, 0, 3, 4});
  SimdRig<M> rig(tb, res);
  const uint32_t lanes = rig.lanes(), beats = 12;
  const uint32_t shift = lanes == 4 ? 2 : 3;
  SimdAsm as;
  as.base = 0;
  as.begin(1);
  as.pop(0, kA);
  as.op(SPARROW_SIMD_OP_FADD, 1, 1, 0);
  as.op(SPARROW_SIMD_OP_SHR, 2, kCol, kImm, kAlways, shift);  // the beat
  as.op(SPARROW_SIMD_OP_IADD, 3, 3, kImm, kAlways, 1);        // beats seen in the segment
  as.op(SPARROW_SIMD_OP_CEQ, 1, 3, kImm, kAlways, 3);         // p1: the segment's last beat
  as.op(SPARROW_SIMD_OP_RSUM, 4, 1, 0, kP1);
  as.push(4, kP1);
  as.mov(1, kImm, kP1, 0);
  as.mov(3, kImm, kP1, 0);
  as.push(2, kP1);  // and the beat it ended at
  as.end();
  std::mt19937 rng(lanes * 3 + 2);
  const std::vector<uint32_t> a = random_floats(rng, beats * lanes);
  const SimdResult ref =
      rig.check(as, SimdWalk{1, beats, 1, 0, 5 * lanes}, {a, {}, {}}, "segmented sum");
  res.check(ref.out.size() == 2 * (beats / 3) * lanes, "one sum and one beat per segment");
  res.end();
}

// The reduction trees' flags come from every node: one launch per beat whose flags arise at one
// node only (an overflow or an invalid inf - inf where two exact halves meet, an inexact sum only
// at the root, a signalling NaN in the last lane), for RSUM and RMAX; exact sums raise nothing.
template <class M>
void test_simd_reduce_flags(Bench<M> &tb, Results &res) {
  res.begin(fmt("simd-reduce-flags-per-node-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{});
  SimdRig<M> rig(tb, res);
  const uint32_t lanes = rig.lanes(), half = lanes / 2;
  const uint32_t kMax = 0x7F7FFFFFu, kInf = 0x7F800000u, kOne = 0x3F800000u;
  std::vector<std::vector<uint32_t>> beats;
  std::vector<uint32_t> v(lanes, kOne);  // exact: no flag
  beats.push_back(v);
  v.assign(lanes, 0);
  v[0] = kMax;  // max + 0 exact at the first level, max + max overflows at the second
  v[2] = kMax;
  beats.push_back(v);
  v.assign(lanes, 0);
  v[0] = kInf;  // inf - inf at the second level
  v[2] = kInf | kSignBit;
  beats.push_back(v);
  v.assign(lanes, 0);
  v[0] = kOne;  // the first half sums to 1 exactly, the second to 2^-30: the root rounds
  v[half] = 0x30800000u;
  beats.push_back(v);
  v.assign(lanes, kOne);
  v[lanes - 1] = 0x7F800001u;  // a signalling NaN in the last lane
  beats.push_back(v);
  const uint32_t expect[] = {0, SPARROW_FP_OF | SPARROW_FP_NX, SPARROW_FP_NV, SPARROW_FP_NX,
                             SPARROW_FP_NV};
  for (uint32_t op : {SPARROW_SIMD_OP_RSUM, SPARROW_SIMD_OP_RMAX}) {
    SimdAsm as;
    as.base = 200;
    as.begin(0);
    as.pop(0, kA);
    as.op(op, 1, 0, 0);
    as.push(1);
    as.end();
    for (size_t i = 0; i < beats.size(); i++) {
      const char *what = op == SPARROW_SIMD_OP_RSUM ? "RSUM" : "RMAX";
      const SimdResult ref = rig.check(as, SimdWalk{}, {beats[i], {}, {}}, what);
      if (op == SPARROW_SIMD_OP_RSUM) {
        res.check(ref.flags == expect[i], fmt("RSUM case %zu: reference flags 0x%02x, want 0x%02x",
                                              i, ref.flags, expect[i]));
      }
    }
  }
  res.end();
}

// Program memory: it keeps its contents across launches and a soft reset; a LOAD at a base near
// the end wraps to word 0; a LOAD phase with blocks 0 loads nothing; segments wrap past the last
// instruction (first = 255, and first above 255). Registers start at 0 in every SIMD phase.
template <class M>
void test_simd_imem(Bench<M> &tb, Results &res) {
  res.begin(fmt("simd-imem-persist-wrap-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{});
  SimdRig<M> rig(tb, res);
  const uint32_t lanes = rig.lanes();
  // A whole memory of instructions "r1 = r1 + i" (immediate i), PUSH r1 at the very end.
  SimdAsm full;
  full.base = 0;
  for (uint32_t i = 0; i < kSimdInsns - 1; i++)
    full.op(SPARROW_SIMD_OP_IADD, 1, 1, kImm, kAlways, i + 1);
  full.push(1);
  {
    Program p;
    rig.load_phase(p, full.image(lanes), 0);
    p.end();
    expect_done<M>(res, tb.run(p, kMaxCycles), "load the whole memory");
  }
  tb.csr_write(SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_RESET_BIT);  // keeps program memory
  tb.csr_write(SPARROW_CSR_WATCHDOG, 20000);
  // Run without loading: segment 0 = instructions 250..255 (5 adds and the PUSH), then the
  // epilogue at first 0x1FD (wraps to 253): 2 adds and the PUSH again; then a second phase reads
  // r1 before writing it (0: registers restart at 0).
  auto run = [&](const Segments &seg, const SimdWalk &w, const char *what) {
    SimdResult ref = rig.reference(seg, w, {});
    Program p;
    tb.dram_write(kSimdOutAt, std::vector<uint32_t>(ref.out.size() + lanes, 0xFFFFFFFFu));
    rig.simd_phase(p, seg, w, ref);
    p.end();
    tb.csr_write(SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_CLEAR_BIT);
    expect_done<M>(res, tb.run(p, kMaxCycles), what);
    check_words<M>(res, tb.dram_read(kSimdOutAt, ref.out.size()), ref.out, what);
    return ref;
  };
  Segments seg{};
  seg[0] = simd_seg(250, 6);
  seg[7] = simd_seg(0x1FD, 3);
  const SimdResult r1 = run(seg, SimdWalk{}, "run the persisted program");
  res.check(r1.out.size() == 2 * lanes && r1.out[0] == (251 + 252 + 253 + 254 + 255),
            fmt("persisted sums: %u", r1.out.empty() ? 0 : r1.out[0]));
  Segments seg2{};
  seg2[7] = simd_seg(255, 1);  // PUSH r1 alone: r1 restarted at 0
  const SimdResult r2 = run(seg2, SimdWalk{}, "registers restart at 0");
  res.check(r2.out == std::vector<uint32_t>(lanes, 0), "r1 reads 0 in a new phase");

  // LOAD with blocks 0 loads nothing; a LOAD at base 510 wraps: words 510, 511, 0, 1, ...
  {
    Program p;
    const uint32_t unit = SPARROW_UNIT_PCU;
    p.cfg(unit, SPARROW_PCU_MODE, SPARROW_PCU_MODE_LOAD);
    p.cfg(unit, SPARROW_PCU_BLOCKS, 0);
    p.cfg(unit, SPARROW_PCU_SIMD_LOAD_BASE, 0);
    p.cfg(unit, SPARROW_PCU_ENABLE, 1);
    p.run();
    SimdAsm part;
    part.base = 255;
    part.op(SPARROW_SIMD_OP_IADD, 1, 1, kImm, kAlways, 1000);  // instruction 255
    part.op(SPARROW_SIMD_OP_IADD, 1, 1, kImm, kAlways, 2000);  // instruction 0
    part.push(1);                                              // instruction 1
    rig.load_phase(p, part.image(lanes), 2 * 255);
    p.end();
    LaunchResult r = tb.run(p, kMaxCycles);
    expect_done<M>(res, r, "LOAD blocks 0, LOAD wrapping");
  }
  Segments seg3{};
  seg3[7] = simd_seg(255 + 256 * 3, 3);  // first above 255 wraps too
  const SimdResult r3 = run(seg3, SimdWalk{}, "wrapped load and segment");
  res.check(r3.out == std::vector<uint32_t>(lanes, 3000), "1000 + 2000 across the wrap");
  // The wrapped load's padding made instruction 2 a NOP; instruction 3 on are still the
  // whole-memory program ("r1 += 4", ...); the PUSH at instruction 1 ends the epilogue.
  Segments seg4{};
  seg4[0] = simd_seg(2, 3);
  seg4[7] = simd_seg(1, 1);
  const SimdResult r4 = run(seg4, SimdWalk{}, "memory outside the wrapped load");
  res.check(r4.out == std::vector<uint32_t>(lanes, 4 + 5), "NOP, + 4, + 5");
  res.end();
}

// Dependent chains: every instruction reads the one before it, within a group (Lanes chained
// slots) and across groups; groups of exactly Lanes instructions, and a group cut short by each
// ending instruction with the chain continuing in the next group.
template <class M>
void test_simd_chains(Bench<M> &tb, Results &res) {
  res.begin(fmt("simd-dependent-chains-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{});
  SimdRig<M> rig(tb, res);
  const uint32_t lanes = rig.lanes();
  SimdAsm as;
  as.base = 128;
  as.begin(1);
  as.pop(0, kA);
  for (uint32_t i = 0; i < 3 * lanes + 1; i++) {  // x = x * 1.5 + lane, alternating
    if (i % 2 == 0)
      as.op(SPARROW_SIMD_OP_FMUL, 0, 0, kImm, kAlways, 0x3FC00000u);
    else
      as.op(SPARROW_SIMD_OP_FADD, 0, 0, 1);
    if (i == 2)
      as.op(SPARROW_SIMD_OP_RMAX, 1, 0, 0);  // a group ends here; the chain goes on
    if (i == lanes)
      as.push(0);
    if (i == lanes + 3)
      as.op(SPARROW_SIMD_OP_RSUM, 2, 0, 0);
  }
  as.op(SPARROW_SIMD_OP_CLTS, 1, 0, kImm, kAlways, 0x40000000u);  // p1 = x < 2.0 (as integers)
  as.op(SPARROW_SIMD_OP_SEL, 3, 0, 2);                            // p0 is 0: r2
  as.op(SPARROW_SIMD_OP_ISUB, 3, 3, kLane, kP1);
  as.push(3);
  as.push(2);
  as.end();
  std::mt19937 rng(lanes * 5 + 3);
  const SimdResult ref =
      rig.check(as, SimdWalk{1, 6, 1, 0, 0}, {random_floats(rng, 6 * lanes), {}, {}}, "chains");
  std::printf("  %u beats x %u instructions: %llu issue groups\n", 6, as.seg[1] >> 16,
              static_cast<unsigned long long>(ref.groups));
  res.end();
}

// Timing (docs/fabric.md, "Timing"): a program without streams keeps the PCU active exactly one
// cycle per issue group, so the launch takes the groups' count more cycles than the same launch
// with every segment empty, the PCU is busy in each of those cycles and never stalls. The groups
// are counted by the reference: up to Lanes instructions, a group ending after POP, PUSH, RSUM or
// RMAX (a PUSH whose lane-0 predicate fails pushes nothing but still ends its group), undefined
// opcodes issuing like NOPs, empty segments (and empty bodies of any length, and rows with no
// instruction at all, however many) taking no cycle.
struct SimdTiming {
  const char *label;
  SimdWalk walk;
  std::vector<std::pair<uint32_t, std::vector<uint32_t>>> segs;  // segment, opcodes
};

template <class M>
void test_simd_timing(Bench<M> &tb, Results &res) {
  res.begin(fmt("simd-timing-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{});
  SimdRig<M> rig(tb, res);
  const uint32_t lanes = rig.lanes();
  const uint32_t kAdd = SPARROW_SIMD_OP_IADD, kF = SPARROW_SIMD_OP_FADD;
  const uint32_t kSum = SPARROW_SIMD_OP_RSUM, kMax = SPARROW_SIMD_OP_RMAX;
  const uint32_t kPush = SPARROW_SIMD_OP_PUSH;  // predicated on p0, which stays 0: no beat
  auto run_of = [](uint32_t op, uint32_t n) { return std::vector<uint32_t>(n, op); };
  std::vector<SimdTiming> cases = {
      {"chain", SimdWalk{}, {{0, run_of(kAdd, 2 * lanes + 1)}}},
      {"walk",
       SimdWalk{3, 5, 2, 0, 0},
       {{0, {kAdd}},
        {1, run_of(kF, lanes + 1)},
        {4, {kSum, kAdd, kMax, kPush, kAdd}},
        {7, {kPush, 0, 24, 63}}}},
      {"endings",
       SimdWalk{2, 3, 3, 0, 0},
       {{1, {kAdd, kSum, kAdd, kAdd, kPush, kMax, kMax}},
        {3, run_of(24, lanes)},
        {5, run_of(kAdd, lanes - 1)},
        {6, {kPush}}}},
      {"empty-bodies", SimdWalk{2, 0xFFFFFFFFu, 3, 0, 0}, {{2, {kAdd}}, {6, {kAdd, kAdd}}}},
      {"empty-rows", SimdWalk{0xFFFFFFFFu, 0xFFFFFFFFu, 3, 0, 0}, {{7, run_of(kAdd, 3)}}},
      {"nothing", SimdWalk{0xFFFFFFFFu, 7, 9, 0, 0}, {}},
  };
  // One program memory image holding every case's segments.
  SimdAsm as;
  as.base = 20;
  std::vector<Segments> segs;
  for (const SimdTiming &t : cases) {
    Segments seg{};
    for (const auto &sg : t.segs) {
      as.begin(sg.first);
      for (uint32_t op : sg.second) {
        if (op == kPush)
          as.push(1, kP0);
        else
          as.op(op, 1, 1, kImm, kAlways, 0x3F800000u);
      }
      as.end();
      seg[sg.first] = as.seg[sg.first];
    }
    segs.push_back(seg);
  }
  {
    Program p;
    rig.load_phase(p, as);
    p.end();
    expect_done<M>(res, tb.run(p, kMaxCycles), "load");
  }
  const uint32_t pcu = unit_pcu(tb, 0);
  auto launch = [&](const Segments &seg, const SimdWalk &w) {
    Program p;
    simd_regs(p, 0, seg, w);
    p.run();
    p.end();
    LaunchResult r = tb.run(p, kMaxCycles);
    expect_done<M>(res, r, "timing launch");
    return std::array<uint64_t, 3>{tb.csr_read64(SPARROW_CSR_CYCLES_LO), tb.unit_busy(pcu),
                                   tb.unit_stall(pcu)};
  };
  const std::array<uint64_t, 3> empty = launch(Segments{}, SimdWalk{});
  res.check(empty[1] == 0 && empty[2] == 0, "an empty SIMD phase: PCU neither busy nor stalled");
  for (size_t i = 0; i < cases.size(); i++) {
    const SimdResult ref = rig.reference(segs[i], cases[i].walk, {});
    res.check(!ref.stuck && ref.out.empty(), fmt("%s: no stream", cases[i].label));
    const std::array<uint64_t, 3> got = launch(segs[i], cases[i].walk);
    const uint64_t extra = got[0] - empty[0];
    res.check(
        extra == ref.groups,
        fmt("%s: %llu cycles more than an empty phase, %llu issue groups", cases[i].label,
            static_cast<unsigned long long>(extra), static_cast<unsigned long long>(ref.groups)));
    res.check(
        got[1] == ref.groups && got[2] == 0,
        fmt("%s: PCU busy %llu, stall %llu", cases[i].label,
            static_cast<unsigned long long>(got[1]), static_cast<unsigned long long>(got[2])));
    res.check(tb.csr_read(SPARROW_CSR_FP_STATUS) == ref.flags,
              fmt("%s: FP_STATUS 0x%x, reference 0x%x", cases[i].label,
                  tb.csr_read(SPARROW_CSR_FP_STATUS), ref.flags));
    std::printf("  %-12s %6llu issue groups, %6llu cycles (empty phase %llu)\n", cases[i].label,
                static_cast<unsigned long long>(ref.groups),
                static_cast<unsigned long long>(got[0]), static_cast<unsigned long long>(empty[0]));
  }
  res.end();
}

// Waits that never end: a POP from an input nothing is routed to, a POP from port 3 (no input),
// and a program that computes for longer than WATCHDOG without moving a beat; the watchdog stops
// each at its op_run, and the PCU then runs a program normally.
template <class M>
void test_simd_watchdog(Bench<M> &tb, Results &res) {
  res.begin(fmt("simd-watchdog-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{});
  const uint32_t wd = 200;
  SimdRig<M> rig(tb, res);
  const uint32_t lanes = rig.lanes();
  SimdAsm as;
  as.base = 60;
  as.begin(0);
  as.pop(0, kB);
  as.end();
  const uint32_t pop_b = as.seg[0];
  as.begin(0);
  as.pop(0, kNoPort);
  as.end();
  const uint32_t pop_none = as.seg[0];
  as.begin(0);
  for (uint32_t i = 0; i < lanes; i++)  // one group per row
    as.op(SPARROW_SIMD_OP_IADD, 1, 1, kImm, kAlways, 1);
  as.end();
  const uint32_t compute = as.seg[0];
  as.begin(7);
  as.push(1);
  as.end();
  const uint32_t push_r1 = as.seg[7];
  {
    Program p;
    rig.load_phase(p, as);
    p.end();
    expect_done<M>(res, tb.run(p, kMaxCycles), "load");
  }
  tb.csr_write(SPARROW_CSR_WATCHDOG, wd);
  auto expect_watchdog = [&](uint32_t seg0, uint32_t rows, const char *what) {
    Program p;
    Segments seg{};
    seg[0] = seg0;
    simd_regs(p, 0, seg, SimdWalk{rows, 1, 1, 0, 0});
    p.run();
    p.end();
    const LaunchResult r = tb.run(p, 20 * wd + rows);
    res.check(r.finished && r.error_code == SPARROW_FABRIC_ERR_WATCHDOG &&
                  r.error_entry == p.entries.size() - 2,
              fmt("%s: status 0x%x, error %u at entry %u after %llu cycles", what, r.status,
                  r.error_code, r.error_entry, static_cast<unsigned long long>(r.bench_cycles)));
  };
  expect_watchdog(pop_b, 1, "POP from an unrouted input");
  expect_watchdog(pop_none, 1, "POP from port 3");
  expect_watchdog(compute, 3 * wd, "computing without a beat for longer than WATCHDOG");
  // Under WATCHDOG groups between beats is fine; the PCU works normally after the aborts.
  Segments seg{};
  seg[0] = compute;
  seg[7] = push_r1;
  const SimdWalk w{wd / 2, 1, 1, 0, 0};
  const SimdResult ref = rig.reference(seg, w, {});
  Program p;
  tb.dram_write(kSimdOutAt, std::vector<uint32_t>(2 * lanes, 0xFFFFFFFFu));
  rig.simd_phase(p, seg, w, ref);
  p.end();
  expect_done<M>(res, tb.run(p, kMaxCycles), "after the watchdog");
  check_words<M>(res, tb.dram_read(kSimdOutAt, ref.out.size()), ref.out, "r1 after the rows");
  res.check(ref.out.size() == lanes && ref.out[0] == (wd / 2) * lanes, "one add per instruction");
  tb.csr_write(SPARROW_CSR_WATCHDOG, 20000);
  res.end();
}

// Two PCUs in SIMD mode at once: tile 0 pushes beats (scaled inputs) straight into tile 1's input
// a, tile 1 spends several groups on each beat before popping the next, so tile 0's PUSHes wait
// for room in its output; tile 1's results go to DRAM. The program memories are loaded in one
// LOAD phase by multicast (the same image to both PCUs) and two segments sets select each program.
template <class M>
void test_simd_pipeline(Bench<M> &tb, Results &res) {
  res.begin(fmt("simd-two-pcus-backpressure-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{20, 0, 2, 6});
  const uint32_t lanes = tb.config().lanes, beats = 16;
  const int32_t bb = static_cast<int32_t>(tb.beat_bytes());
  SimdAsm as;
  as.base = 7;
  as.begin(1);  // producer body
  as.pop(0, kA);
  as.op(SPARROW_SIMD_OP_FMUL, 0, 0, kImm, kAlways, 0x40400000u);  // * 3
  as.push(0);
  as.end();
  const uint32_t producer = as.seg[1];
  as.begin(1);  // consumer body: 3 * lanes dependent adds per beat
  as.pop(0, kA);
  for (uint32_t i = 0; i < 3 * lanes; i++)
    as.op(SPARROW_SIMD_OP_FADD, 0, 0, kCol);
  as.push(0);
  as.end();
  const uint32_t consumer = as.seg[1];
  std::mt19937 rng(lanes + 900);
  const std::vector<uint32_t> a = random_floats(rng, beats * lanes);
  // References: the producer's output is the consumer's input; COL is an integer read as a float.
  Imem imem{};
  const std::vector<uint32_t> img = as.image(lanes);
  for (size_t i = 0; i < img.size(); i++)
    imem[(2 * as.base + i) % SPARROW_PCU_IMEM_WORDS] = img[i];
  Segments sp{}, sc{};
  sp[1] = producer;
  sc[1] = consumer;
  const SimdWalk w{1, beats, 1, 0, 0};
  const SimdResult rp = SimdRef(lanes, imem, sp, w, {a, {}, {}}).run();
  const SimdResult rc = SimdRef(lanes, imem, sc, w, {rp.out, {}, {}}).run();
  res.check(rc.popped[0] == beats && rc.out.size() == a.size(), "the references agree in shape");
  tb.dram_write(kSimdImageAt, img);
  tb.dram_write(kSimdInAt[0], a);
  tb.dram_write(kSimdOutAt, std::vector<uint32_t>(a.size() + lanes, 0xFFFFFFFFu));
  Program p;
  const uint32_t img_beats = static_cast<uint32_t>(img.size() / lanes);
  for (uint32_t t = 0; t < 2; t++) {
    p.route(t, SPARROW_DST_PCU_A, 0, SPARROW_SRC_AGCU_RD0);
    p.cfg(SPARROW_UNIT_PCU + t, SPARROW_PCU_MODE, SPARROW_PCU_MODE_LOAD);
    p.cfg(SPARROW_UNIT_PCU + t, SPARROW_PCU_BLOCKS, img_beats);
    p.cfg(SPARROW_UNIT_PCU + t, SPARROW_PCU_SIMD_LOAD_BASE, 2 * as.base);
    p.cfg(SPARROW_UNIT_PCU + t, SPARROW_PCU_ENABLE, 1);
  }
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD0, kSimdImageAt, Program::loops({{img_beats, bb}}));
  p.run();
  p.route(1, SPARROW_DST_PCU_A, 0, SPARROW_SRC_PCU_OUT);
  p.route(1, SPARROW_DST_AGCU_WR, 1, SPARROW_SRC_PCU_OUT);
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD0, kSimdInAt[0], Program::loops({{beats, bb}}));
  p.agcu_chan(1, SPARROW_AGCU_CHANNEL_WR, kSimdOutAt, Program::loops({{beats, bb}}));
  simd_regs(p, 0, sp, w);
  simd_regs(p, 1, sc, w);
  p.run();
  p.unroute(0, SPARROW_DST_PCU_A);
  p.unroute(1, SPARROW_DST_PCU_A);
  p.unroute(1, SPARROW_DST_AGCU_WR);
  p.end();
  tb.csr_write(SPARROW_CSR_CTRL, 1u << SPARROW_CTRL_CLEAR_BIT);
  expect_done<M>(res, tb.run(p, kMaxCycles), "pipeline");
  check_words<M>(res, tb.dram_read(kSimdOutAt, rc.out.size()), rc.out, "consumer output");
  const uint32_t status = tb.csr_read(SPARROW_CSR_FP_STATUS);
  res.check(status == (rp.flags | rc.flags),
            fmt("FP_STATUS 0x%x, reference 0x%x", status, rp.flags | rc.flags));
  const uint64_t stall0 = tb.unit_stall(unit_pcu(tb, 0));
  res.check(stall0 > 0, fmt("the producer waited for room (PCU 0 stalled %llu cycles)",
                            static_cast<unsigned long long>(stall0)));
  std::printf(
      "  %u beats through two PCUs: %llu cycles, consumer %llu issue groups, producer "
      "stalled %llu cycles\n",
      beats, static_cast<unsigned long long>(tb.csr_read64(SPARROW_CSR_CYCLES_LO)),
      static_cast<unsigned long long>(rc.groups), static_cast<unsigned long long>(stall0));
  res.end();
}

// Reserved mode values (above LOAD) run as GEMM: one block of one beat pair, acc = a[r] * b[c].
template <class M>
void test_pcu_reserved_mode(Bench<M> &tb, Results &res) {
  res.begin(fmt("pcu-reserved-mode-is-gemm-%s", tb.config().name));
  fresh(tb);
  tb.set_dram(DramConfig{});
  const uint32_t lanes = tb.config().lanes;
  const int32_t bb = static_cast<int32_t>(tb.beat_bytes());
  std::mt19937 rng(lanes + 4);
  const std::vector<uint32_t> a = random_floats(rng, lanes), b = random_floats(rng, lanes);
  std::vector<uint32_t> want(lanes * lanes);
  uint8_t flags = 0;
  for (uint32_t r = 0; r < lanes; r++) {
    for (uint32_t c = 0; c < lanes; c++)
      want[r * lanes + c] = sparrow_fp_add(0, sparrow_fp_mul(a[r], b[c], &flags), &flags);
  }
  tb.dram_write(kSimdInAt[0], a);
  tb.dram_write(kSimdInAt[1], b);
  tb.dram_write(kSimdOutAt, std::vector<uint32_t>(want.size(), 0xFFFFFFFFu));
  Program p;
  p.route(0, SPARROW_DST_PCU_A, 0, SPARROW_SRC_AGCU_RD0);
  p.route(0, SPARROW_DST_PCU_B, 0, SPARROW_SRC_AGCU_RD1);
  p.route(0, SPARROW_DST_AGCU_WR, 0, SPARROW_SRC_PCU_OUT);
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD0, kSimdInAt[0], Program::loops({{1, bb}}));
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_RD1, kSimdInAt[1], Program::loops({{1, bb}}));
  p.agcu_chan(0, SPARROW_AGCU_CHANNEL_WR, kSimdOutAt, Program::loops({{lanes, bb}}));
  p.pcu_gemm(0, 1, 1, false);
  p.cfg(SPARROW_UNIT_PCU, SPARROW_PCU_MODE, 3);
  p.cfg(SPARROW_UNIT_PCU, SPARROW_PCU_ENABLE, 1);
  p.run();
  p.end();
  expect_done<M>(res, tb.run(p, kMaxCycles), "mode 3");
  check_words<M>(res, tb.dram_read(kSimdOutAt, want.size()), want, "a * b");
  res.check(tb.csr_read64(SPARROW_CSR_MACS_LO) == uint64_t{lanes} * lanes, "MACs counted");
  res.end();
}

template <class M>
void test_simd_all(Bench<M> &tb, Results &res) {
  test_simd_opcodes(tb, res);
  test_simd_predication(tb, res);
  test_simd_col_row_lane(tb, res);
  test_simd_chains(tb, res);
  test_simd_softmax_like(tb, res);
  test_simd_segmented_sum(tb, res);
  test_simd_reduce_flags(tb, res);
  test_simd_imem(tb, res);
  test_simd_timing(tb, res);
  test_simd_pipeline(tb, res);
  test_simd_watchdog(tb, res);
  test_pcu_reserved_mode(tb, res);
}

}  // namespace fabric_tb

#endif  // SPARROW_TESTS_RTL_FABRIC_TB_SIMD_H_
