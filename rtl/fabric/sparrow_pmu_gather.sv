// SPDX-License-Identifier: Apache-2.0
//
// Gather walker of one PMU read port (docs/fabric.md, "Index memory and gather mode"). Instead of the
// affine nest, the port walks an index list of idx_count words from idx_base (modulo PmuIdxWords),
// count3 times over:
//
//   slot = 0
//   for i3 < count3: for e < idx_count:
//     w = idx[(idx_base + e) mod PmuIdxWords]
//     if !skip(w): for i0 < count0: read line (base + slot*stride2 + offset(w)*stride1 + i0*stride0)
//     if release(w): slot = (slot + 1) mod count2, and release one synchronized slot
//
// Counts of 0 count as 1; idx_count 0 is an empty list (the walk never becomes active). Line addresses
// are kept modulo Lines (a power of two), so only their low LineBits bits are computed.
//
// Timing: the walker holds the current word in registers (skip, release, and offset*stride1, whose
// product is taken when the word is fetched) and fetches the next word from the index memory
// (combinational read at idx_addr_o) in the cycle the current one ends. A word of count0 reads thus
// takes count0 cycles with no bubble between words, i.e. one line per cycle; a skip word takes one
// cycle. The index memory must not change during the walk (programs load lists in an earlier phase).
//
// Synchronization: every index word (its first read, or a skip word) may begin only while
// slot_ready_i (sync off, or a slot of the buffer full); its further reads need only line_ready_i.
// release_o pulses with the word's last read, or with a skip word that has the release bit.

module sparrow_pmu_gather
  import sparrow_hw_pkg::*;
  import sparrow_fabric_pkg::*;
#(
  parameter int unsigned Lines    = ConfigMPmuWords / ConfigMLanes,
  localparam int unsigned LineBits = $clog2(Lines),
  localparam int unsigned IdxBits  = $clog2(PmuIdxWords)
) (
  input  logic                clk_i,
  input  logic                rst_ni,
  input  logic                start_i,       // the port starts a phase in gather mode
  input  logic                stop_i,        // abandon the walk (abort)
  input  agen_regs_t          regs_i,        // the port's registers, stable during the walk
  output logic [IdxBits-1:0]  idx_addr_o,    // index word to fetch (read combinationally)
  input  logic [31:0]         idx_word_i,
  input  logic                slot_ready_i,  // a word may begin
  input  logic                line_ready_i,  // the port can take a line read this cycle
  output logic                active_o,      // words left to walk
  output logic                rd_o,          // read line addr_o this cycle
  output logic [LineBits-1:0] addr_o,
  output logic                release_o      // release one synchronized slot this cycle
);

  logic                active_q, active_d;
  logic [31:0]         i3_q, i3_d, e_q, e_d, i0_q, i0_d, slot_q, slot_d;
  logic [IdxBits-1:0]  ptr_q, ptr_d, next_ptr;
  logic                skip_q, skip_d, rel_q, rel_d;
  logic [LineBits-1:0] prod_q, prod_d;  // offset(w) * stride1 of the current word
  logic [LineBits-1:0] slot_addr_q, slot_addr_d, line_addr_q, line_addr_d;

  logic [31:0] count0, count2, count3;
  logic        first, word_done, last_word, last_walk;

  assign count0 = (regs_i.count[0] == '0) ? 32'd1 : regs_i.count[0];
  assign count2 = (regs_i.count[2] == '0) ? 32'd1 : regs_i.count[2];
  assign count3 = (regs_i.count[3] == '0) ? 32'd1 : regs_i.count[3];

  assign first  = (i0_q == '0);
  assign addr_o = first ? slot_addr_q + prod_q : line_addr_q;

  always_comb begin
    if (skip_q) begin
      rd_o      = 1'b0;
      word_done = active_q && !stop_i && slot_ready_i;
    end else begin
      rd_o      = active_q && !stop_i && line_ready_i && (!first || slot_ready_i);
      word_done = rd_o && (i0_q + 32'd1 >= count0);
    end
  end
  assign release_o = word_done && rel_q;

  assign last_word  = (e_q + 32'd1 >= regs_i.idx_count);
  assign last_walk  = last_word && (i3_q + 32'd1 >= count3);
  assign next_ptr   = last_word ? IdxBits'(regs_i.idx_base) : ptr_q + 1'b1;
  assign idx_addr_o = start_i ? IdxBits'(regs_i.idx_base) : next_ptr;

  always_comb begin
    active_d    = active_q;
    i3_d        = i3_q;
    e_d         = e_q;
    i0_d        = i0_q;
    slot_d      = slot_q;
    ptr_d       = ptr_q;
    skip_d      = skip_q;
    rel_d       = rel_q;
    prod_d      = prod_q;
    slot_addr_d = slot_addr_q;
    line_addr_d = line_addr_q;
    if (stop_i) begin
      active_d = 1'b0;
    end else if (start_i || word_done) begin
      // Take the word fetched at idx_addr_o: the list's first, or the one after the current.
      skip_d = idx_word_i[GatherSkipBit];
      rel_d  = idx_word_i[GatherReleaseBit];
      prod_d = LineBits'(idx_word_i[GatherOffsetBits-1:0]) * LineBits'(regs_i.stride[1]);
      i0_d   = '0;
      if (start_i) begin
        active_d    = (regs_i.idx_count != '0);
        i3_d        = '0;
        e_d         = '0;
        slot_d      = '0;
        ptr_d       = IdxBits'(regs_i.idx_base);
        slot_addr_d = LineBits'(regs_i.base);
      end else begin
        ptr_d = next_ptr;
        if (rel_q) begin
          if (slot_q + 32'd1 >= count2) begin
            slot_d      = '0;
            slot_addr_d = LineBits'(regs_i.base);
          end else begin
            slot_d      = slot_q + 32'd1;
            slot_addr_d = slot_addr_q + LineBits'(regs_i.stride[2]);
          end
        end
        if (last_walk) begin
          active_d = 1'b0;
        end else if (last_word) begin
          e_d  = '0;
          i3_d = i3_q + 32'd1;
        end else begin
          e_d = e_q + 32'd1;
        end
      end
    end else if (rd_o) begin
      i0_d        = i0_q + 32'd1;
      line_addr_d = addr_o + LineBits'(regs_i.stride[0]);
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      active_q    <= 1'b0;
      i3_q        <= '0;
      e_q         <= '0;
      i0_q        <= '0;
      slot_q      <= '0;
      ptr_q       <= '0;
      skip_q      <= 1'b0;
      rel_q       <= 1'b0;
      prod_q      <= '0;
      slot_addr_q <= '0;
      line_addr_q <= '0;
    end else begin
      active_q    <= active_d;
      i3_q        <= i3_d;
      e_q         <= e_d;
      i0_q        <= i0_d;
      slot_q      <= slot_d;
      ptr_q       <= ptr_d;
      skip_q      <= skip_d;
      rel_q       <= rel_d;
      prod_q      <= prod_d;
      slot_addr_q <= slot_addr_d;
      line_addr_q <= line_addr_d;
    end
  end

  assign active_o = active_q;

  // The gather walk ignores count1 (offsets replace it), level 3's stride, the affine-only and
  // write-only registers, and the index word's bits between the offset and the flags.
  logic unused_regs;
  assign unused_regs = ^{regs_i.count[1], regs_i.stride[3], regs_i.gather, regs_i.target,
                         regs_i.base[31:LineBits], regs_i.stride[0][31:LineBits],
                         regs_i.stride[1][31:LineBits], regs_i.stride[2][31:LineBits],
                         regs_i.idx_base[31:IdxBits],
                         idx_word_i[GatherSkipBit-1:GatherOffsetBits]};

endmodule
