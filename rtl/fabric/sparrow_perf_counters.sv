// SPDX-License-Identifier: Apache-2.0
//
// Performance counters (docs/fabric.md, "Control block and CSRs"), 64 bits each: cycles of the launch,
// DRAM bytes read and written, multiply-accumulates, and per unit (AGCUs, then PMUs, then PCUs) busy
// cycles (moved at least one beat) and stall cycles (an enabled, unfinished channel but no beat).
// Time-based counters run only during a launch; event counters count every event, and events only
// happen during a launch, so all counters are stable once it ends.

module sparrow_perf_counters
  import sparrow_hw_pkg::*;
#(
  parameter int unsigned Tiles = ConfigMTiles,
  parameter int unsigned Lanes = ConfigMLanes,
  localparam int unsigned NumUnits = 3 * Tiles
) (
  input  logic                         clk_i,
  input  logic                         rst_ni,
  input  logic                         clear_i,
  input  logic                         launch_busy_i,
  input  logic [Tiles-1:0]             dram_rd_i,     // one read beat requested per set bit
  input  logic [Tiles-1:0]             dram_wr_i,     // one write beat requested per set bit
  input  logic [Tiles-1:0]             mac_step_i,    // Lanes * Lanes MACs per set bit
  input  logic [NumUnits-1:0]          unit_moved_i,
  input  logic [NumUnits-1:0]          unit_active_i,
  output logic [63:0]                  cycles_o,
  output logic [63:0]                  dram_rd_bytes_o,
  output logic [63:0]                  dram_wr_bytes_o,
  output logic [63:0]                  macs_o,
  output logic [NumUnits-1:0][63:0]    unit_busy_o,
  output logic [NumUnits-1:0][63:0]    unit_stall_o
);

  localparam logic [63:0] BeatBytes = 64'(Lanes * 4);
  localparam logic [63:0] StepMacs  = 64'(Lanes * Lanes);

  function automatic logic [63:0] popcount(logic [Tiles-1:0] bits);
    logic [63:0] n;
    n = '0;
    for (int t = 0; t < Tiles; t++) begin
      n = n + 64'(bits[t]);
    end
    return n;
  endfunction

  logic [63:0]               cycles_q, dram_rd_q, dram_wr_q, macs_q;
  logic [NumUnits-1:0][63:0] busy_q, stall_q;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      cycles_q  <= '0;
      dram_rd_q <= '0;
      dram_wr_q <= '0;
      macs_q    <= '0;
      busy_q    <= '0;
      stall_q   <= '0;
    end else if (clear_i) begin
      cycles_q  <= '0;
      dram_rd_q <= '0;
      dram_wr_q <= '0;
      macs_q    <= '0;
      busy_q    <= '0;
      stall_q   <= '0;
    end else begin
      dram_rd_q <= dram_rd_q + popcount(dram_rd_i) * BeatBytes;
      dram_wr_q <= dram_wr_q + popcount(dram_wr_i) * BeatBytes;
      macs_q    <= macs_q + popcount(mac_step_i) * StepMacs;
      if (launch_busy_i) begin
        cycles_q <= cycles_q + 64'd1;
        for (int u = 0; u < NumUnits; u++) begin
          if (unit_moved_i[u]) begin
            busy_q[u] <= busy_q[u] + 64'd1;
          end else if (unit_active_i[u]) begin
            stall_q[u] <= stall_q[u] + 64'd1;
          end
        end
      end
    end
  end

  assign cycles_o        = cycles_q;
  assign dram_rd_bytes_o = dram_rd_q;
  assign dram_wr_bytes_o = dram_wr_q;
  assign macs_o          = macs_q;
  assign unit_busy_o     = busy_q;
  assign unit_stall_o    = stall_q;

endmodule
