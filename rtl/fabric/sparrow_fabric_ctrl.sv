// SPDX-License-Identifier: Apache-2.0
//
// Control block (docs/fabric.md, "Programs" and "Control block and CSRs"): the CSR bus, the program
// memory behind the PROG_ADDR / PROG_DATA window, and the sequencer that executes a launch.
//
// The sequencer takes one entry per cycle. op_cfg drives the configuration bus (valid, unit, register,
// value) after checking unit and register against this configuration; op_run pulses start_o (every
// unit starts its enabled channels and consumes its enables) and waits until no unit is active;
// op_end finishes the launch. The program is the PROG_ADDR entries loaded before the launch (the window
// position at launch time): running past them without op_end is the no_end error.
// The watchdog aborts a phase in which nothing moved for WATCHDOG consecutive cycles.

module sparrow_fabric_ctrl
  import sparrow_hw_pkg::*;
#(
  parameter int unsigned Tiles           = ConfigMTiles,
  parameter int unsigned Lanes           = ConfigMLanes,
  parameter int unsigned PmuWords        = ConfigMPmuWords,
  parameter int unsigned AgcuOutstanding = ConfigMAgcuOutstanding,
  parameter int unsigned ProgEntries     = ConfigMProgEntries,
  localparam int unsigned NumUnits = 3 * Tiles
) (
  input  logic                       clk_i,
  input  logic                       rst_ni,
  // CSR bus.
  input  logic                       csr_req_i,
  input  logic                       csr_we_i,
  input  logic [11:0]                csr_addr_i,
  input  logic [31:0]                csr_wdata_i,
  output logic [31:0]                csr_rdata_o,
  output logic                       irq_done_o,
  // Configuration bus and phase control.
  output logic                       cfg_valid_o,
  output logic [7:0]                 cfg_unit_o,
  output logic [15:0]                cfg_reg_o,
  output logic [31:0]                cfg_value_o,
  output logic                       cfg_clear_o,
  output logic                       start_o,
  output logic                       abort_o,
  output logic [31:0]                dram_limit_o,    // CSR DRAM_LIMIT, for the AGCUs' range check
  // Unit status.
  input  logic                       units_active_i,
  input  logic                       bad_address_i,   // an AGCU met a beat outside DRAM_LIMIT
  input  logic                       progress_i,
  input  logic [4:0]                 fp_flags_i,
  // Counter events.
  input  logic [Tiles-1:0]           dram_rd_i,
  input  logic [Tiles-1:0]           dram_wr_i,
  input  logic [Tiles-1:0]           mac_step_i,
  input  logic [NumUnits-1:0]        unit_moved_i,
  input  logic [NumUnits-1:0]        unit_active_i
);

  localparam int unsigned PcBits  = $clog2(ProgEntries + 1);  // counts up to ProgEntries
  localparam int unsigned IdxBits = $clog2(ProgEntries);

  // -----------------------------------------------------------------------------------------------
  // CSR writes.
  logic csr_write;
  logic ctrl_launch, ctrl_reset, ctrl_clear;
  assign csr_write   = csr_req_i && csr_we_i;
  assign ctrl_launch = csr_write && (csr_addr_i == 12'(CsrCtrl)) && csr_wdata_i[CtrlLaunchBit];
  assign ctrl_reset  = csr_write && (csr_addr_i == 12'(CsrCtrl)) && csr_wdata_i[CtrlResetBit];
  assign ctrl_clear  = csr_write && (csr_addr_i == 12'(CsrCtrl)) && csr_wdata_i[CtrlClearBit];

  logic [31:0]       watchdog_q, dram_limit_q, prog_addr_q, prog_lo_q;
  logic [63:0]       prog_mem_q[ProgEntries];
  logic              prog_store;

  assign prog_store = csr_write && (csr_addr_i == 12'(CsrProgDataHi)) &&
                      (prog_addr_q < ProgEntries);

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      watchdog_q   <= '0;
      dram_limit_q <= '0;
      prog_addr_q  <= '0;
      prog_lo_q   <= '0;
    end else if (csr_write) begin
      if (csr_addr_i == 12'(CsrWatchdog)) begin
        watchdog_q <= csr_wdata_i;
      end
      if (csr_addr_i == 12'(CsrDramLimit)) begin
        dram_limit_q <= csr_wdata_i;
      end
      if (csr_addr_i == 12'(CsrProgAddr)) begin
        prog_addr_q <= csr_wdata_i;
      end
      if (csr_addr_i == 12'(CsrProgDataLo)) begin
        prog_lo_q <= csr_wdata_i;
      end
      if (prog_store) begin
        prog_addr_q <= prog_addr_q + 32'd1;
      end
    end
  end

  // Program storage has no reset; PROG_ADDR bounds what a launch may execute.
  always_ff @(posedge clk_i) begin
    if (prog_store) begin
      prog_mem_q[prog_addr_q[IdxBits-1:0]] <= {csr_wdata_i, prog_lo_q};
    end
  end

  // -----------------------------------------------------------------------------------------------
  // Sequencer.
  typedef enum logic [1:0] {
    StIdle,
    StExec,   // decode the entry at pc
    StStart,  // start pulse of a phase
    StWait    // phase running
  } state_e;

  state_e            state_q, state_d;
  logic [PcBits-1:0] pc_q, pc_d, prog_len_q, prog_len_d;
  logic [31:0]       wd_count_q, wd_count_d;
  logic              busy_q, busy_d, done_q, done_d, error_q, error_d;
  logic [31:0]       error_code_q, error_code_d, error_entry_q, error_entry_d;
  logic [4:0]        fp_status_q, fp_status_d;

  logic [63:0] entry;
  logic [3:0]  entry_op;
  logic [7:0]  entry_unit;
  logic [15:0] entry_reg;
  logic        unit_ok, reg_ok;
  logic [31:0] unit_regs;

  assign entry      = prog_mem_q[pc_q[IdxBits-1:0]];
  assign entry_op   = entry[63:60];
  assign entry_unit = entry[55:48];
  assign entry_reg  = entry[47:32];

  logic unused_entry;
  assign unused_entry = ^entry[59:56];

  // Which units this configuration has, and how many registers each one holds.
  always_comb begin
    unit_ok   = 1'b0;
    unit_regs = '0;
    if (32'(entry_unit) == UnitSwitch) begin
      unit_ok   = 1'b1;
      unit_regs = Tiles * SwitchDstPerTile;
    end else if ((32'(entry_unit) >= UnitAgcu) && (32'(entry_unit) < UnitAgcu + Tiles)) begin
      unit_ok   = 1'b1;
      unit_regs = AgcuRegCount;
    end else if ((32'(entry_unit) >= UnitPmu) && (32'(entry_unit) < UnitPmu + Tiles)) begin
      unit_ok   = 1'b1;
      unit_regs = PmuRegCount;
    end else if ((32'(entry_unit) >= UnitPcu) && (32'(entry_unit) < UnitPcu + Tiles)) begin
      unit_ok   = 1'b1;
      unit_regs = PcuRegCount;
    end
  end
  assign reg_ok = 32'(entry_reg) < unit_regs;

  logic exec_cfg, watchdog_fire;
  assign exec_cfg = (state_q == StExec) && (pc_q < prog_len_q) && (32'(entry_op) == OpCfg) &&
                    unit_ok && reg_ok;
  assign watchdog_fire = (state_q == StWait) && units_active_i && !progress_i &&
                         (watchdog_q != '0) && (wd_count_q + 32'd1 >= watchdog_q);

  always_comb begin
    state_d       = state_q;
    pc_d          = pc_q;
    prog_len_d    = prog_len_q;
    wd_count_d    = wd_count_q;
    busy_d        = busy_q;
    done_d        = done_q;
    error_d       = error_q;
    error_code_d  = error_code_q;
    error_entry_d = error_entry_q;
    fp_status_d   = fp_status_q | fp_flags_i;

    if (ctrl_clear || ctrl_reset) begin
      done_d        = 1'b0;
      error_d       = 1'b0;
      error_code_d  = FabricErrNone;
      error_entry_d = '0;
      fp_status_d   = '0;
    end

    unique case (state_q)
      StIdle: ;
      StExec: begin
        if (pc_q >= prog_len_q) begin
          state_d       = StIdle;
          error_d       = 1'b1;
          error_code_d  = FabricErrNoEnd;
          error_entry_d = 32'(pc_q);
        end else begin
          unique case (32'(entry_op))
            OpCfg: begin
              if (!unit_ok || !reg_ok) begin
                state_d       = StIdle;
                error_d       = 1'b1;
                error_code_d  = unit_ok ? FabricErrBadRegister : FabricErrBadUnit;
                error_entry_d = 32'(pc_q);
              end else begin
                pc_d = pc_q + 1'b1;
              end
            end
            OpRun: state_d = StStart;
            OpEnd: begin
              state_d = StIdle;
              done_d  = 1'b1;
            end
            default: begin
              state_d       = StIdle;
              error_d       = 1'b1;
              error_code_d  = FabricErrBadOpcode;
              error_entry_d = 32'(pc_q);
            end
          endcase
        end
      end
      StStart: begin
        state_d    = StWait;
        wd_count_d = '0;
      end
      StWait: begin
        if (bad_address_i) begin
          state_d       = StIdle;
          error_d       = 1'b1;
          error_code_d  = FabricErrBadAddress;
          error_entry_d = 32'(pc_q);
        end else if (!units_active_i) begin
          state_d = StExec;
          pc_d    = pc_q + 1'b1;
        end else if (watchdog_fire) begin
          state_d       = StIdle;
          error_d       = 1'b1;
          error_code_d  = FabricErrWatchdog;
          error_entry_d = 32'(pc_q);
        end else begin
          wd_count_d = progress_i ? '0 : wd_count_q + 32'd1;
        end
      end
      default: state_d = StIdle;
    endcase

    busy_d = (state_d != StIdle);

    // A soft reset stops any launch; a launch starts only from idle (and after a clear in the same
    // write, so "clear | launch" starts from zeroed counters).
    if (ctrl_reset) begin
      state_d = StIdle;
      busy_d  = 1'b0;
    end else if (ctrl_launch && (state_q == StIdle)) begin
      state_d       = StExec;
      busy_d        = 1'b1;
      done_d        = 1'b0;
      error_d       = 1'b0;
      error_code_d  = FabricErrNone;
      error_entry_d = '0;
      pc_d          = '0;
      prog_len_d    = (prog_addr_q < ProgEntries) ? prog_addr_q[PcBits-1:0] : PcBits'(ProgEntries);
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      state_q       <= StIdle;
      pc_q          <= '0;
      prog_len_q    <= '0;
      wd_count_q    <= '0;
      busy_q        <= 1'b0;
      done_q        <= 1'b0;
      error_q       <= 1'b0;
      error_code_q  <= FabricErrNone;
      error_entry_q <= '0;
      fp_status_q   <= '0;
    end else begin
      state_q       <= state_d;
      pc_q          <= pc_d;
      prog_len_q    <= prog_len_d;
      wd_count_q    <= wd_count_d;
      busy_q        <= busy_d;
      done_q        <= done_d;
      error_q       <= error_d;
      error_code_q  <= error_code_d;
      error_entry_q <= error_entry_d;
      fp_status_q   <= fp_status_d;
    end
  end

  assign cfg_valid_o = exec_cfg;
  assign cfg_unit_o  = entry_unit;
  assign cfg_reg_o   = entry_reg;
  assign cfg_value_o = entry[31:0];
  assign cfg_clear_o = ctrl_reset;
  assign start_o     = (state_q == StStart) && !ctrl_reset;
  assign abort_o     = watchdog_fire || ctrl_reset || (state_q == StWait && bad_address_i);
  assign dram_limit_o = dram_limit_q;
  assign irq_done_o  = done_q || error_q;

  // -----------------------------------------------------------------------------------------------
  // Counters.
  logic [63:0]               cycles, dram_rd_bytes, dram_wr_bytes, macs;
  logic [NumUnits-1:0][63:0] unit_busy, unit_stall;

  sparrow_perf_counters #(
    .Tiles(Tiles),
    .Lanes(Lanes)
  ) u_counters (
    .clk_i,
    .rst_ni,
    .clear_i        (ctrl_clear || ctrl_reset),
    .launch_busy_i  (busy_q),
    .dram_rd_i,
    .dram_wr_i,
    .mac_step_i,
    .unit_moved_i,
    .unit_active_i,
    .cycles_o       (cycles),
    .dram_rd_bytes_o(dram_rd_bytes),
    .dram_wr_bytes_o(dram_wr_bytes),
    .macs_o         (macs),
    .unit_busy_o    (unit_busy),
    .unit_stall_o   (unit_stall)
  );

  // -----------------------------------------------------------------------------------------------
  // CSR reads, registered.
  logic [31:0] rdata_d, rdata_q;
  logic [31:0] unit_offset;
  logic [31:0] unit_index;
  logic [63:0] unit_value;

  assign unit_offset = 32'(csr_addr_i) - CsrUnitCounters;
  assign unit_index  = unit_offset / 32'd16;
  always_comb begin
    unit_value = '0;
    for (int u = 0; u < NumUnits; u++) begin
      if (unit_index == 32'(u)) begin
        unit_value = unit_offset[3] ? unit_stall[u] : unit_busy[u];
      end
    end
  end

  always_comb begin
    rdata_d = '0;
    if ((32'(csr_addr_i) >= CsrUnitCounters) && (unit_index < NumUnits)) begin
      rdata_d = unit_offset[2] ? unit_value[63:32] : unit_value[31:0];
    end else begin
      unique case (32'(csr_addr_i))
        CsrId:                   rdata_d = CsrIdValue;
        CsrVersion:              rdata_d = HwVersion;
        CsrParamTiles:           rdata_d = Tiles;
        CsrParamLanes:           rdata_d = Lanes;
        CsrParamPmuWords:        rdata_d = PmuWords;
        CsrParamProgEntries:     rdata_d = ProgEntries;
        CsrParamAgcuOutstanding: rdata_d = AgcuOutstanding;
        CsrStatus: begin
          rdata_d[StatusBusyBit]  = busy_q;
          rdata_d[StatusDoneBit]  = done_q;
          rdata_d[StatusErrorBit] = error_q;
        end
        CsrFpStatus:   rdata_d = 32'(fp_status_q);
        CsrWatchdog:   rdata_d = watchdog_q;
        CsrDramLimit:  rdata_d = dram_limit_q;
        CsrErrorCode:  rdata_d = error_code_q;
        CsrErrorEntry: rdata_d = error_entry_q;
        CsrProgAddr:   rdata_d = prog_addr_q;
        CsrProgDataLo: rdata_d = prog_lo_q;
        CsrCyclesLo:   rdata_d = cycles[31:0];
        CsrCyclesHi:   rdata_d = cycles[63:32];
        CsrDramRdLo:   rdata_d = dram_rd_bytes[31:0];
        CsrDramRdHi:   rdata_d = dram_rd_bytes[63:32];
        CsrDramWrLo:   rdata_d = dram_wr_bytes[31:0];
        CsrDramWrHi:   rdata_d = dram_wr_bytes[63:32];
        CsrMacsLo:     rdata_d = macs[31:0];
        CsrMacsHi:     rdata_d = macs[63:32];
        default:       rdata_d = '0;
      endcase
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      rdata_q <= '0;
    end else if (csr_req_i && !csr_we_i) begin
      rdata_q <= rdata_d;
    end
  end

  assign csr_rdata_o = rdata_q;

endmodule
