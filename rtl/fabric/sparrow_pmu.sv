// SPDX-License-Identifier: Apache-2.0
//
// PMU: a scratchpad of Lines lines of Lanes words (docs/fabric.md, "PMU"), two read ports (stream
// sources pmu_rd0/1) and two write ports (destinations pmu_wr0/1), each walking its own affine
// address generator over line indices (modulo Lines), one line per port per cycle.
//
// A read port reads the array in the cycle it issues and pushes the line into a two-entry output
// FIFO at the clock edge, together with that cycle's writes: a read and a write of the same line in
// the same cycle therefore return the old line. Two entries let a port move one line every cycle.
//
// N-buffering: buffer b pairs write port b with read port b. With sync enabled, the write port starts
// a slot only while fewer than sync_slots slots are full and completes a slot with its sync_wr_lines-th
// line; the read port starts a slot only while at least one is full and releases it with its
// sync_rd_lines-th read. The full-slot count restarts at 0 every phase.
//
// Index memory and gather mode: PmuIdxWords index words, held as PmuIdxWords / Lanes index lines of
// Lanes words. A write port whose target register is PmuTargetIndex writes its lines there instead
// of the scratchpad (line address modulo the index lines). A read port whose gather register is set
// walks an index list with its own gather walker (sparrow_pmu_gather) instead of its affine nest;
// each walker reads at most one index word per cycle, combinationally, so both read ports may gather
// at once. With sync enabled a gather port begins each index word only while a slot is full and
// releases a slot on the words that carry the release bit; sync_rd_lines is not used then. Gathered
// lines go through the same array read and output FIFO as affine ones.

module sparrow_pmu
  import sparrow_hw_pkg::*;
  import sparrow_fabric_pkg::*;
#(
  parameter int unsigned Tile     = 0,
  parameter int unsigned Lanes    = ConfigMLanes,
  parameter int unsigned PmuWords = ConfigMPmuWords,
  localparam int unsigned BeatBits = Lanes * 32
) (
  input  logic                     clk_i,
  input  logic                     rst_ni,
  // Configuration bus and phase control.
  input  logic                     cfg_valid_i,
  input  logic [7:0]               cfg_unit_i,
  input  logic [15:0]              cfg_reg_i,
  input  logic [31:0]              cfg_value_i,
  input  logic                     cfg_clear_i,
  input  logic                     start_i,
  input  logic                     abort_i,
  // Streams.
  output logic [1:0]               rd_valid_o,
  output logic [1:0][BeatBits-1:0] rd_data_o,
  input  logic [1:0]               rd_ready_i,
  input  logic [1:0]               wr_valid_i,
  input  logic [1:0][BeatBits-1:0] wr_data_i,
  output logic [1:0]               wr_ready_o,
  // Status for the control block.
  output logic                     active_o,
  output logic                     moved_o
);

  localparam int unsigned Lines    = PmuWords / Lanes;
  localparam int unsigned LineBits = $clog2(Lines);
  localparam int unsigned IdxLines    = PmuIdxWords / Lanes;
  localparam int unsigned IdxLineBits = $clog2(IdxLines);
  localparam int unsigned IdxBits     = $clog2(PmuIdxWords);
  localparam int unsigned LaneBits    = $clog2(Lanes);
  localparam int unsigned NumPorts = 4;
  localparam int unsigned NumSync  = 2;
  localparam int unsigned SyncRegs = 4;  // enable, slots, wr_lines, rd_lines

  // -----------------------------------------------------------------------------------------------
  // Buffer synchronization registers (the ports' own registers live in their channels below).
  logic [NumSync-1:0]                        sync_en_q;
  logic [NumSync-1:0][31:0]                  sync_slots_q, sync_wr_lines_q, sync_rd_lines_q;

  logic        cfg_hit;
  logic [15:0] cfg_sync, cfg_sync_field;
  assign cfg_hit        = cfg_valid_i && (cfg_unit_i == 8'(UnitPmu + Tile));
  assign cfg_sync       = (cfg_reg_i - 16'(PmuSyncBlock)) / 16'(SyncRegs);
  assign cfg_sync_field = (cfg_reg_i - 16'(PmuSyncBlock)) % 16'(SyncRegs);

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      sync_en_q       <= '0;
      sync_slots_q    <= '0;
      sync_wr_lines_q <= '0;
      sync_rd_lines_q <= '0;
    end else if (cfg_clear_i) begin
      sync_en_q       <= '0;
      sync_slots_q    <= '0;
      sync_wr_lines_q <= '0;
      sync_rd_lines_q <= '0;
    end else begin
      if (cfg_hit && (32'(cfg_reg_i) >= PmuSyncBlock) && (32'(cfg_sync) < NumSync)) begin
        unique case (32'(cfg_sync_field))
          PmuSyncEnable:  sync_en_q[cfg_sync[0]]       <= cfg_value_i[0];
          PmuSyncSlots:   sync_slots_q[cfg_sync[0]]    <= cfg_value_i;
          PmuSyncWrLines: sync_wr_lines_q[cfg_sync[0]] <= cfg_value_i;
          PmuSyncRdLines: sync_rd_lines_q[cfg_sync[0]] <= cfg_value_i;
          default: ;
        endcase
      end
    end
  end

  // -----------------------------------------------------------------------------------------------
  // Port configuration and address generators, one per port (index = the TOML port index).
  logic [NumPorts-1:0]       enable, run_q, run_d;
  logic [NumPorts-1:0]       gen_valid, gen_next;
  logic [NumPorts-1:0][31:0] gen_addr;
  agen_regs_t [NumPorts-1:0] port_regs;

  for (genvar p = 0; p < NumPorts; p++) begin : gen_port
    sparrow_agen_channel #(
      .Unit       (UnitPmu + Tile),
      .RegBase    (p * PmuPortBlock),
      .RegCount   (PmuPortBlock),
      .EnableReg  (PmuPortEnable),
      .BaseReg    (PmuPortBase),
      .CountReg   (PmuPortCount),
      .StrideReg  (PmuPortStride),
      .PmuPort    (1'b1),
      .GatherReg  (PmuPortGather),
      .IdxBaseReg (PmuPortIdxBase),
      .IdxCountReg(PmuPortIdxCount),
      .TargetReg  (PmuPortTarget)
    ) u_port (
      .clk_i,
      .rst_ni,
      .cfg_valid_i,
      .cfg_unit_i,
      .cfg_reg_i,
      .cfg_value_i,
      .cfg_clear_i,
      .start_i,
      .abort_i,
      .next_i     (gen_next[p]),
      .enable_o   (enable[p]),
      .valid_o    (gen_valid[p]),
      .addr_o     (gen_addr[p]),
      .regs_o     (port_regs[p])
    );
  end

  // -----------------------------------------------------------------------------------------------
  // Buffer synchronization.
  logic [NumSync-1:0][31:0] full_q, full_d, wr_line_q, wr_line_d, rd_line_q, rd_line_d;
  logic [NumSync-1:0][31:0] slots, wr_lines, rd_lines;  // 0 counts as 1
  logic [NumSync-1:0]       wr_allowed, rd_allowed, slot_ready;
  logic [1:0]               wr_fire, rd_issue, rd_fifo_full, rd_fifo_empty, rd_done, wr_done;
  logic [1:0]               rd_gather, gather_release;

  for (genvar b = 0; b < NumSync; b++) begin : gen_sync
    assign slots[b]    = (sync_slots_q[b] == '0) ? 32'd1 : sync_slots_q[b];
    assign wr_lines[b] = (sync_wr_lines_q[b] == '0) ? 32'd1 : sync_wr_lines_q[b];
    assign rd_lines[b] = (sync_rd_lines_q[b] == '0) ? 32'd1 : sync_rd_lines_q[b];
    assign wr_allowed[b] = !sync_en_q[b] || (wr_line_q[b] != '0) || (full_q[b] < slots[b]);
    assign rd_allowed[b] = !sync_en_q[b] || (rd_line_q[b] != '0) || (full_q[b] != '0);
    // Gather mode: every index word begins anew, only while a slot is full.
    assign slot_ready[b] = !sync_en_q[b] || (full_q[b] != '0);
  end

  always_comb begin
    for (int b = 0; b < NumSync; b++) begin
      logic slot_filled, slot_released;
      slot_filled   = 1'b0;
      slot_released = 1'b0;
      wr_line_d[b]  = wr_line_q[b];
      rd_line_d[b]  = rd_line_q[b];
      if (sync_en_q[b] && wr_fire[b]) begin
        if (wr_line_q[b] + 32'd1 >= wr_lines[b]) begin
          wr_line_d[b] = '0;
          slot_filled  = 1'b1;
        end else begin
          wr_line_d[b] = wr_line_q[b] + 32'd1;
        end
      end
      if (sync_en_q[b] && rd_gather[b]) begin
        // The index words say when a slot is done (sync_rd_lines is not used).
        slot_released = gather_release[b];
      end else if (sync_en_q[b] && rd_issue[b]) begin
        if (rd_line_q[b] + 32'd1 >= rd_lines[b]) begin
          rd_line_d[b]  = '0;
          slot_released = 1'b1;
        end else begin
          rd_line_d[b] = rd_line_q[b] + 32'd1;
        end
      end
      full_d[b] = full_q[b] + 32'(slot_filled) - 32'(slot_released);
      if (start_i || abort_i) begin
        full_d[b]    = '0;
        wr_line_d[b] = '0;
        rd_line_d[b] = '0;
      end
    end
  end

  // -----------------------------------------------------------------------------------------------
  // Index memory: IdxLines lines of Lanes words, no reset (programs load a list before walking it).
  // Word w is lane w mod Lanes of index line w / Lanes.
  logic [BeatBits-1:0]      idx_mem_q[IdxLines];
  logic [1:0][IdxBits-1:0]  idx_addr;
  logic [1:0][31:0]         idx_word;
  logic [1:0]               wr_index;  // write port b targets the index memory

  for (genvar b = 0; b < 2; b++) begin : gen_idx_read
    logic [BeatBits-1:0] idx_line;
    assign idx_line    = idx_mem_q[idx_addr[b][IdxBits-1:LaneBits]];
    assign idx_word[b] = idx_line[32*idx_addr[b][LaneBits-1:0] +: 32];
  end

  // -----------------------------------------------------------------------------------------------
  // Ports. Read port b is port index PmuPortRd0 + b, write port b is PmuPortWr0 + b.
  logic [1:0][BeatBits-1:0] rd_line;
  logic [BeatBits-1:0]      mem_q[Lines];
  logic [1:0][1:0]          rd_fifo_count;
  logic [1:0][LineBits-1:0] rd_addr, gather_addr;
  logic [1:0]               gather_rd, gather_active, rd_walking;

  for (genvar b = 0; b < 2; b++) begin : gen_ports
    localparam int unsigned RdPort = PmuPortRd0 + b;
    localparam int unsigned WrPort = PmuPortWr0 + b;

    assign wr_index[b] = (port_regs[WrPort].target == 1'(PmuTargetIndex));

    // Not gated by abort_i, which depends on stream progress: a line taken while aborting is kept.
    assign wr_ready_o[b] = run_q[WrPort] && gen_valid[WrPort] && wr_allowed[b];
    assign wr_fire[b]    = wr_valid_i[b] && wr_ready_o[b];
    assign wr_done[b]    = run_q[WrPort] && !gen_valid[WrPort];

    // The configuration does not change during a phase, so the gather register selects the walk.
    assign rd_gather[b] = port_regs[RdPort].gather;

    sparrow_pmu_gather #(
      .Lines(Lines)
    ) u_gather (
      .clk_i,
      .rst_ni,
      .start_i     (start_i && enable[RdPort] && rd_gather[b] && !abort_i),
      .stop_i      (abort_i),
      .regs_i      (port_regs[RdPort]),
      .idx_addr_o  (idx_addr[b]),
      .idx_word_i  (idx_word[b]),
      .slot_ready_i(slot_ready[b]),
      .line_ready_i(run_q[RdPort] && !rd_fifo_full[b] && !abort_i),
      .active_o    (gather_active[b]),
      .rd_o        (gather_rd[b]),
      .addr_o      (gather_addr[b]),
      .release_o   (gather_release[b])
    );

    assign rd_walking[b] = rd_gather[b] ? gather_active[b] : gen_valid[RdPort];
    assign rd_addr[b]    = rd_gather[b] ? gather_addr[b] : gen_addr[RdPort][LineBits-1:0];
    assign rd_issue[b]   = rd_gather[b] ? gather_rd[b] :
                           (run_q[RdPort] && gen_valid[RdPort] && rd_allowed[b] &&
                            !rd_fifo_full[b] && !abort_i);
    assign rd_done[b]    = run_q[RdPort] && !rd_walking[b] && rd_fifo_empty[b];
    assign rd_line[b]    = mem_q[rd_addr[b]];
    assign rd_valid_o[b] = !rd_fifo_empty[b];

    sparrow_fifo #(
      .Width(BeatBits),
      .Depth(2)
    ) u_rd_fifo (
      .clk_i,
      .rst_ni,
      .flush_i(abort_i),
      .push_i (rd_issue[b]),
      .data_i (rd_line[b]),
      .pop_i  (rd_ready_i[b]),
      .data_o (rd_data_o[b]),
      .empty_o(rd_fifo_empty[b]),
      .full_o (rd_fifo_full[b]),
      .count_o(rd_fifo_count[b])
    );
  end

  logic unused_rd_fifo_count;
  assign unused_rd_fifo_count = ^rd_fifo_count;

  // Port index order is rd0, rd1, wr0, wr1 (TOML [pmu_ports]).
  always_comb begin
    gen_next = '0;
    run_d    = run_q;
    for (int b = 0; b < 2; b++) begin
      gen_next[PmuPortRd0 + b] = rd_issue[b] && !rd_gather[b];
      gen_next[PmuPortWr0 + b] = wr_fire[b];
      if (rd_done[b]) begin
        run_d[PmuPortRd0 + b] = 1'b0;
      end
      if (wr_done[b]) begin
        run_d[PmuPortWr0 + b] = 1'b0;
      end
    end
    if (abort_i) begin
      run_d = '0;
    end else if (start_i) begin
      run_d = enable;
    end
  end

  // The arrays have no reset: programs write lines (and index lists) before they read them. When both
  // write ports hit one line in a cycle, port 1 (written last) wins.
  always_ff @(posedge clk_i) begin
    for (int b = 0; b < 2; b++) begin
      if (wr_fire[b] && !wr_index[b]) begin
        mem_q[gen_addr[PmuPortWr0 + b][LineBits-1:0]] <= wr_data_i[b];
      end
      if (wr_fire[b] && wr_index[b]) begin
        idx_mem_q[gen_addr[PmuPortWr0 + b][IdxLineBits-1:0]] <= wr_data_i[b];
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      run_q     <= '0;
      full_q    <= '0;
      wr_line_q <= '0;
      rd_line_q <= '0;
    end else begin
      run_q     <= run_d;
      full_q    <= full_d;
      wr_line_q <= wr_line_d;
      rd_line_q <= rd_line_d;
    end
  end

  assign active_o = |run_q;
  assign moved_o  = (|wr_fire) || (|(rd_valid_o & rd_ready_i));

  // Of the ports' registers the PMU itself reads only gather (read ports) and target (write ports);
  // the walks use the rest inside the channels and walkers.
  logic unused_port_regs;
  assign unused_port_regs = ^{port_regs[PmuPortRd0].target, port_regs[PmuPortRd1].target,
                              port_regs[PmuPortWr0].gather, port_regs[PmuPortWr1].gather,
                              port_regs[PmuPortWr0].idx_base, port_regs[PmuPortWr1].idx_base,
                              port_regs[PmuPortWr0].idx_count, port_regs[PmuPortWr1].idx_count,
                              port_regs[PmuPortWr0].base, port_regs[PmuPortWr1].base,
                              port_regs[PmuPortWr0].count, port_regs[PmuPortWr1].count,
                              port_regs[PmuPortWr0].stride, port_regs[PmuPortWr1].stride};

endmodule
