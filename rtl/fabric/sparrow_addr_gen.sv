// SPDX-License-Identifier: Apache-2.0
//
// Affine address generator (docs/fabric.md, "Address generators"): LoopLevels nested loops, level 0
// innermost, address = base + sum(i_l * stride_l). Counts of 0 count as 1; strides are signed and the
// arithmetic wraps modulo 2^32 (PMUs use the low bits, which is the modulo-lines wrap).
//
// Instead of multiplying, the generator keeps the address at which the current iteration of each level
// started; stepping level l adds stride_l to that address and restarts every inner level there.
// The counts and strides are read live: the control block changes them only between phases.

module sparrow_addr_gen
  import sparrow_hw_pkg::*;
(
  input  logic                         clk_i,
  input  logic                         rst_ni,
  input  logic                         start_i,  // begin a walk at base_i
  input  logic                         stop_i,   // abandon the walk
  input  logic                         next_i,   // the current address was used (only while valid_o)
  input  logic [31:0]                  base_i,
  input  logic [LoopLevels-1:0][31:0]  count_i,
  input  logic [LoopLevels-1:0][31:0]  stride_i,
  output logic                         valid_o,  // addr_o is the next address of the walk
  output logic [31:0]                  addr_o
);

  localparam int unsigned LevelBits = $clog2(LoopLevels);

  logic                        active_q, active_d;
  logic [LoopLevels-1:0][31:0] idx_q, idx_d;
  logic [LoopLevels-1:0][31:0] level_addr_q, level_addr_d;
  logic [LoopLevels-1:0]       at_last;
  logic [LevelBits-1:0]        step_level;
  logic [31:0]                 step_addr;

  always_comb begin
    for (int l = 0; l < LoopLevels; l++) begin
      at_last[l] = (count_i[l] <= 32'd1) || (idx_q[l] == count_i[l] - 32'd1);
    end
  end

  // The innermost level that still has iterations left steps; all inner ones restart.
  always_comb begin
    step_level = '0;
    for (int l = LoopLevels - 1; l >= 0; l--) begin
      if (!at_last[l]) begin
        step_level = LevelBits'(l);
      end
    end
  end

  assign step_addr = level_addr_q[step_level] + stride_i[step_level];

  always_comb begin
    active_d     = active_q;
    idx_d        = idx_q;
    level_addr_d = level_addr_q;
    if (stop_i) begin
      active_d = 1'b0;
    end else if (start_i) begin
      active_d = 1'b1;
      idx_d    = '0;
      for (int l = 0; l < LoopLevels; l++) begin
        level_addr_d[l] = base_i;
      end
    end else if (next_i && active_q) begin
      if (&at_last) begin
        active_d = 1'b0;
      end else begin
        for (int l = 0; l < LoopLevels; l++) begin
          if (LevelBits'(l) < step_level) begin
            idx_d[l]        = '0;
            level_addr_d[l] = step_addr;
          end else if (LevelBits'(l) == step_level) begin
            idx_d[l]        = idx_q[l] + 32'd1;
            level_addr_d[l] = step_addr;
          end
        end
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      active_q     <= 1'b0;
      idx_q        <= '0;
      level_addr_q <= '0;
    end else begin
      active_q     <= active_d;
      idx_q        <= idx_d;
      level_addr_q <= level_addr_d;
    end
  end

  assign valid_o = active_q;
  assign addr_o  = level_addr_q[0];

endmodule
