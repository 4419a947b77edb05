// SPDX-License-Identifier: Apache-2.0
//
// One address-generating channel: the configuration registers of an AGCU channel or a PMU port
// (enable, base, count[LoopLevels], stride[LoopLevels], a block of registers at RegBase of unit Unit)
// and the affine address generator that walks them. AGCUs and PMUs lay out these registers alike
// (docs/fabric.md, "Address generators"); the offsets come from the hardware table.
//
// With PmuPort set the block also holds the PMU port registers gather, idx_base, idx_count and target
// (docs/fabric.md, "Index memory and gather mode"); an AGCU channel (PmuPort = 0) has exactly the
// affine registers, and writes to those offsets change nothing. A port whose gather register is set
// does not start its affine walk: the PMU's gather walker (sparrow_pmu_gather) drives it instead,
// from the registers this channel reports on regs_o.
//
// The enable is consumed by the phase that starts with it (start_i) and dropped on abort_i; the other
// registers persist until cfg_clear_i.

module sparrow_agen_channel
  import sparrow_hw_pkg::*;
  import sparrow_fabric_pkg::*;
#(
  parameter int unsigned Unit        = 0,  // unit id on the configuration bus
  parameter int unsigned RegBase     = 0,  // first register of this channel's block
  parameter int unsigned RegCount    = 16, // registers in the block
  parameter int unsigned EnableReg   = 0,  // offsets within the block
  parameter int unsigned BaseReg     = 1,
  parameter int unsigned CountReg    = 2,
  parameter int unsigned StrideReg   = 6,
  parameter bit          PmuPort     = 1'b0,  // add the PMU port registers below
  parameter int unsigned GatherReg   = PmuPortGather,
  parameter int unsigned IdxBaseReg  = PmuPortIdxBase,
  parameter int unsigned IdxCountReg = PmuPortIdxCount,
  parameter int unsigned TargetReg   = PmuPortTarget
) (
  input  logic        clk_i,
  input  logic        rst_ni,
  input  logic        cfg_valid_i,
  input  logic [7:0]  cfg_unit_i,
  input  logic [15:0] cfg_reg_i,
  input  logic [31:0] cfg_value_i,
  input  logic        cfg_clear_i,
  input  logic        start_i,
  input  logic        abort_i,
  input  logic        next_i,    // the current address was used
  output logic        enable_o,  // enabled for the next phase
  output logic        valid_o,   // addr_o is the next address of the running affine walk
  output logic [31:0] addr_o,
  output agen_regs_t  regs_o     // the persistent registers (PMU-only fields 0 unless PmuPort)
);

  logic                        enable_q;
  logic [31:0]                 base_q;
  logic [LoopLevels-1:0][31:0] count_q, stride_q;

  logic        cfg_hit;
  logic [31:0] cfg_offset;
  // A register below RegBase wraps to a large offset, so one comparison bounds the block.
  assign cfg_offset = 32'(cfg_reg_i) - RegBase;
  assign cfg_hit    = cfg_valid_i && (cfg_unit_i == 8'(Unit)) && (cfg_offset < RegCount);

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      enable_q <= 1'b0;
      base_q   <= '0;
      count_q  <= '0;
      stride_q <= '0;
    end else if (cfg_clear_i) begin
      enable_q <= 1'b0;
      base_q   <= '0;
      count_q  <= '0;
      stride_q <= '0;
    end else begin
      if (start_i || abort_i) begin
        enable_q <= 1'b0;
      end
      if (cfg_hit) begin
        if (cfg_offset == EnableReg) begin
          enable_q <= cfg_value_i[0];
        end
        if (cfg_offset == BaseReg) begin
          base_q <= cfg_value_i;
        end
        for (int l = 0; l < LoopLevels; l++) begin
          if (cfg_offset == CountReg + l) begin
            count_q[l] <= cfg_value_i;
          end
          if (cfg_offset == StrideReg + l) begin
            stride_q[l] <= cfg_value_i;
          end
        end
      end
    end
  end

  // PMU port registers.
  logic        gather, target;
  logic [31:0] idx_base, idx_count;

  if (PmuPort) begin : gen_pmu_regs
    logic        gather_q, target_q;
    logic [31:0] idx_base_q, idx_count_q;

    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        gather_q    <= 1'b0;
        idx_base_q  <= '0;
        idx_count_q <= '0;
        target_q    <= 1'b0;
      end else if (cfg_clear_i) begin
        gather_q    <= 1'b0;
        idx_base_q  <= '0;
        idx_count_q <= '0;
        target_q    <= 1'b0;
      end else if (cfg_hit) begin
        // Mode registers keep bit 0, like the other one-bit registers (enable, acc_init,
        // sync_enable): port_target 1 (PmuTargetIndex) selects the index memory.
        if (cfg_offset == GatherReg) begin
          gather_q <= cfg_value_i[0];
        end
        if (cfg_offset == IdxBaseReg) begin
          idx_base_q <= cfg_value_i;
        end
        if (cfg_offset == IdxCountReg) begin
          idx_count_q <= cfg_value_i;
        end
        if (cfg_offset == TargetReg) begin
          target_q <= cfg_value_i[0];
        end
      end
    end

    assign gather    = gather_q;
    assign idx_base  = idx_base_q;
    assign idx_count = idx_count_q;
    assign target    = target_q;
  end else begin : gen_no_pmu_regs
    assign gather    = 1'b0;
    assign idx_base  = '0;
    assign idx_count = '0;
    assign target    = 1'b0;
  end

  sparrow_addr_gen u_addr_gen (
    .clk_i,
    .rst_ni,
    .start_i (start_i && enable_q && !gather && !abort_i),
    .stop_i  (abort_i),
    .next_i,
    .base_i  (base_q),
    .count_i (count_q),
    .stride_i(stride_q),
    .valid_o,
    .addr_o
  );

  assign enable_o = enable_q;

  always_comb begin
    regs_o           = '0;
    regs_o.base      = base_q;
    regs_o.count     = count_q;
    regs_o.stride    = stride_q;
    regs_o.gather    = gather;
    regs_o.idx_base  = idx_base;
    regs_o.idx_count = idx_count;
    regs_o.target    = target;
  end

endmodule
