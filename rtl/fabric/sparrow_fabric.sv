// SPDX-License-Identifier: Apache-2.0
//
// The Sparrow fabric (docs/fabric.md): control block, stream switch and, per tile, one AGCU, one PMU
// and one PCU (GEMM, SIMD and LOAD modes). Parameters come from build/gen/sparrow_hw_<C>.vc; the
// defaults are configuration M.

module sparrow_fabric
  import sparrow_hw_pkg::*;
#(
  parameter int unsigned Tiles           = ConfigMTiles,
  parameter int unsigned Lanes           = ConfigMLanes,
  parameter int unsigned PmuWords        = ConfigMPmuWords,
  parameter int unsigned AgcuOutstanding = ConfigMAgcuOutstanding,
  parameter int unsigned ProgEntries     = ConfigMProgEntries
) (
  input  logic                            clk_i,
  input  logic                            rst_ni,
  // CSR bus.
  input  logic                            csr_req_i,
  input  logic                            csr_we_i,
  input  logic [11:0]                     csr_addr_i,
  input  logic [31:0]                     csr_wdata_i,
  output logic [31:0]                     csr_rdata_o,
  output logic                            irq_done_o,
  // DRAM, one read and one write port per AGCU.
  output logic [Tiles-1:0]                dram_rd_req_o,
  output logic [Tiles-1:0][31:0]          dram_rd_addr_o,
  input  logic [Tiles-1:0]                dram_rd_rsp_i,
  input  logic [Tiles-1:0][Lanes*32-1:0]  dram_rd_data_i,
  output logic [Tiles-1:0]                dram_wr_req_o,
  output logic [Tiles-1:0][31:0]          dram_wr_addr_o,
  output logic [Tiles-1:0][Lanes*32-1:0]  dram_wr_data_o,
  input  logic [Tiles-1:0]                dram_wr_ack_i
);

  localparam int unsigned BeatBits = Lanes * 32;
  localparam int unsigned NumSrc   = Tiles * SwitchSrcPerTile;
  localparam int unsigned NumDst   = Tiles * SwitchDstPerTile;
  localparam int unsigned NumUnits = 3 * Tiles;

  // Configuration bus and phase control.
  logic        cfg_valid, cfg_clear, start, abort;
  logic [31:0]      dram_limit;
  logic [Tiles-1:0] agcu_bad_address;
  logic [7:0]  cfg_unit;
  logic [15:0] cfg_reg;
  logic [31:0] cfg_value;

  // Switch ports.
  logic [NumSrc-1:0]               src_valid, src_ready;
  logic [NumSrc-1:0][BeatBits-1:0] src_data;
  logic [NumDst-1:0]               dst_valid, dst_ready;
  logic [NumDst-1:0][BeatBits-1:0] dst_data;
  logic                            switch_beat;

  // Unit status, indexed AGCUs, then PMUs, then PCUs (the unit counter order).
  logic [NumUnits-1:0]  unit_active, unit_moved;
  logic [Tiles-1:0]     mac_step;
  logic [Tiles-1:0][4:0] pcu_flags;
  logic [4:0]           fp_flags;
  logic                 progress;

  always_comb begin
    fp_flags = '0;
    for (int t = 0; t < Tiles; t++) begin
      fp_flags = fp_flags | pcu_flags[t];
    end
  end

  assign progress = switch_beat || (|dram_rd_req_o) || (|dram_rd_rsp_i) || (|dram_wr_req_o) ||
                    (|dram_wr_ack_i);

  sparrow_fabric_ctrl #(
    .Tiles          (Tiles),
    .Lanes          (Lanes),
    .PmuWords       (PmuWords),
    .AgcuOutstanding(AgcuOutstanding),
    .ProgEntries    (ProgEntries)
  ) u_ctrl (
    .clk_i,
    .rst_ni,
    .csr_req_i,
    .csr_we_i,
    .csr_addr_i,
    .csr_wdata_i,
    .csr_rdata_o,
    .irq_done_o,
    .cfg_valid_o   (cfg_valid),
    .cfg_unit_o    (cfg_unit),
    .cfg_reg_o     (cfg_reg),
    .cfg_value_o   (cfg_value),
    .cfg_clear_o   (cfg_clear),
    .start_o       (start),
    .abort_o       (abort),
    .dram_limit_o  (dram_limit),
    .units_active_i(|unit_active),
    .bad_address_i (|agcu_bad_address),
    .progress_i    (progress),
    .fp_flags_i    (fp_flags),
    .dram_rd_i     (dram_rd_req_o),
    .dram_wr_i     (dram_wr_req_o),
    .mac_step_i    (mac_step),
    .unit_moved_i  (unit_moved),
    .unit_active_i (unit_active)
  );

  sparrow_switch #(
    .Tiles(Tiles),
    .Lanes(Lanes)
  ) u_switch (
    .clk_i,
    .rst_ni,
    .cfg_valid_i(cfg_valid),
    .cfg_unit_i (cfg_unit),
    .cfg_reg_i  (cfg_reg),
    .cfg_value_i(cfg_value),
    .cfg_clear_i(cfg_clear),
    .src_valid_i(src_valid),
    .src_data_i (src_data),
    .src_ready_o(src_ready),
    .dst_valid_o(dst_valid),
    .dst_data_o (dst_data),
    .dst_ready_i(dst_ready),
    .beat_o     (switch_beat)
  );

  for (genvar t = 0; t < Tiles; t++) begin : gen_tile
    localparam int unsigned S = t * SwitchSrcPerTile;
    localparam int unsigned D = t * SwitchDstPerTile;

    logic [1:0]               agcu_rd_valid, pmu_rd_valid, pmu_wr_ready;
    logic [1:0][BeatBits-1:0] agcu_rd_data, pmu_rd_data;
    logic                     agcu_wr_ready, pcu_a_ready, pcu_b_ready, pcu_c_ready;
    logic                     pcu_out_valid;
    logic [BeatBits-1:0]      pcu_out_data;

    // Source and destination kinds this tile does not have: never valid, never ready.
    for (genvar k = 0; k < SwitchSrcPerTile; k++) begin : gen_src
      if (k == SrcAgcuRd0) begin : gen_agcu_rd0
        assign src_valid[S+k] = agcu_rd_valid[0];
        assign src_data[S+k]  = agcu_rd_data[0];
      end else if (k == SrcAgcuRd1) begin : gen_agcu_rd1
        assign src_valid[S+k] = agcu_rd_valid[1];
        assign src_data[S+k]  = agcu_rd_data[1];
      end else if (k == SrcPmuRd0) begin : gen_pmu_rd0
        assign src_valid[S+k] = pmu_rd_valid[0];
        assign src_data[S+k]  = pmu_rd_data[0];
      end else if (k == SrcPmuRd1) begin : gen_pmu_rd1
        assign src_valid[S+k] = pmu_rd_valid[1];
        assign src_data[S+k]  = pmu_rd_data[1];
      end else if (k == SrcPcuOut) begin : gen_pcu_out
        assign src_valid[S+k] = pcu_out_valid;
        assign src_data[S+k]  = pcu_out_data;
      end else begin : gen_none
        assign src_valid[S+k] = 1'b0;
        assign src_data[S+k]  = '0;
      end
    end

    for (genvar k = 0; k < SwitchDstPerTile; k++) begin : gen_dst
      if (k == DstAgcuWr) begin : gen_agcu_wr
        assign dst_ready[D+k] = agcu_wr_ready;
      end else if (k == DstPmuWr0) begin : gen_pmu_wr0
        assign dst_ready[D+k] = pmu_wr_ready[0];
      end else if (k == DstPmuWr1) begin : gen_pmu_wr1
        assign dst_ready[D+k] = pmu_wr_ready[1];
      end else if (k == DstPcuA) begin : gen_pcu_a
        assign dst_ready[D+k] = pcu_a_ready;
      end else if (k == DstPcuB) begin : gen_pcu_b
        assign dst_ready[D+k] = pcu_b_ready;
      end else if (k == DstPcuC) begin : gen_pcu_c
        assign dst_ready[D+k] = pcu_c_ready;
      end else begin : gen_none
        assign dst_ready[D+k] = 1'b0;
      end
    end

    sparrow_agcu #(
      .Tile           (t),
      .Lanes          (Lanes),
      .AgcuOutstanding(AgcuOutstanding)
    ) u_agcu (
      .clk_i,
      .rst_ni,
      .cfg_valid_i   (cfg_valid),
      .cfg_unit_i    (cfg_unit),
      .cfg_reg_i     (cfg_reg),
      .cfg_value_i   (cfg_value),
      .cfg_clear_i   (cfg_clear),
      .start_i       (start),
      .abort_i       (abort),
      .dram_limit_i  (dram_limit),
      .bad_address_o (agcu_bad_address[t]),
      .rd_valid_o    (agcu_rd_valid),
      .rd_data_o     (agcu_rd_data),
      .rd_ready_i    ({src_ready[S+SrcAgcuRd1], src_ready[S+SrcAgcuRd0]}),
      .wr_valid_i    (dst_valid[D+DstAgcuWr]),
      .wr_data_i     (dst_data[D+DstAgcuWr]),
      .wr_ready_o    (agcu_wr_ready),
      .dram_rd_req_o (dram_rd_req_o[t]),
      .dram_rd_addr_o(dram_rd_addr_o[t]),
      .dram_rd_rsp_i (dram_rd_rsp_i[t]),
      .dram_rd_data_i(dram_rd_data_i[t]),
      .dram_wr_req_o (dram_wr_req_o[t]),
      .dram_wr_addr_o(dram_wr_addr_o[t]),
      .dram_wr_data_o(dram_wr_data_o[t]),
      .dram_wr_ack_i (dram_wr_ack_i[t]),
      .active_o      (unit_active[t]),
      .moved_o       (unit_moved[t])
    );

    sparrow_pmu #(
      .Tile    (t),
      .Lanes   (Lanes),
      .PmuWords(PmuWords)
    ) u_pmu (
      .clk_i,
      .rst_ni,
      .cfg_valid_i(cfg_valid),
      .cfg_unit_i (cfg_unit),
      .cfg_reg_i  (cfg_reg),
      .cfg_value_i(cfg_value),
      .cfg_clear_i(cfg_clear),
      .start_i    (start),
      .abort_i    (abort),
      .rd_valid_o (pmu_rd_valid),
      .rd_data_o  (pmu_rd_data),
      .rd_ready_i ({src_ready[S+SrcPmuRd1], src_ready[S+SrcPmuRd0]}),
      .wr_valid_i ({dst_valid[D+DstPmuWr1], dst_valid[D+DstPmuWr0]}),
      .wr_data_i  ({dst_data[D+DstPmuWr1], dst_data[D+DstPmuWr0]}),
      .wr_ready_o (pmu_wr_ready),
      .active_o   (unit_active[Tiles+t]),
      .moved_o    (unit_moved[Tiles+t])
    );

    sparrow_pcu #(
      .Tile (t),
      .Lanes(Lanes)
    ) u_pcu (
      .clk_i,
      .rst_ni,
      .cfg_valid_i(cfg_valid),
      .cfg_unit_i (cfg_unit),
      .cfg_reg_i  (cfg_reg),
      .cfg_value_i(cfg_value),
      .cfg_clear_i(cfg_clear),
      .start_i    (start),
      .abort_i    (abort),
      .a_valid_i  (dst_valid[D+DstPcuA]),
      .a_data_i   (dst_data[D+DstPcuA]),
      .a_ready_o  (pcu_a_ready),
      .b_valid_i  (dst_valid[D+DstPcuB]),
      .b_data_i   (dst_data[D+DstPcuB]),
      .b_ready_o  (pcu_b_ready),
      .c_valid_i  (dst_valid[D+DstPcuC]),
      .c_data_i   (dst_data[D+DstPcuC]),
      .c_ready_o  (pcu_c_ready),
      .out_valid_o(pcu_out_valid),
      .out_data_o (pcu_out_data),
      .out_ready_i(src_ready[S+SrcPcuOut]),
      .active_o   (unit_active[2*Tiles+t]),
      .moved_o    (unit_moved[2*Tiles+t]),
      .mac_step_o (mac_step[t]),
      .fp_flags_o (pcu_flags[t])
    );
  end

endmodule
