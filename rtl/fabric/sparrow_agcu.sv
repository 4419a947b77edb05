// SPDX-License-Identifier: Apache-2.0
//
// AGCU: DMA between DRAM and the stream switch (docs/fabric.md, "AGCU"). Two read channels (stream
// sources agcu_rd0/1) and one write channel (destination agcu_wr), each walking its own affine address
// generator over byte addresses, one beat per access.
//
// Reads: a channel reserves a slot of its response FIFO before it issues, so a response is never
// refused; `reserved` counts beats issued and not yet delivered (in flight plus buffered), at most
// AgcuOutstanding. The channels share the DRAM read port, alternating when both want it. DRAM answers
// in request order, so a tag FIFO remembers the channel of each read in flight.
// Writes: each accepted beat is written with one request; the channel is done once every write has
// been acknowledged.
// An abort (watchdog, soft reset) drops the running channels; reads still in flight are then discarded
// as they return, writes still in flight are waited for by the next write phase.

module sparrow_agcu
  import sparrow_hw_pkg::*;
  import sparrow_fabric_pkg::*;
#(
  parameter int unsigned Tile            = 0,
  parameter int unsigned Lanes           = ConfigMLanes,
  parameter int unsigned AgcuOutstanding = ConfigMAgcuOutstanding,
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
  input  logic [31:0]              dram_limit_i,  // 0: no range check
  output logic                     bad_address_o, // a channel's next beat is misaligned or too high
  // Streams: read channel sources, write channel destination.
  output logic [1:0]               rd_valid_o,
  output logic [1:0][BeatBits-1:0] rd_data_o,
  input  logic [1:0]               rd_ready_i,
  input  logic                     wr_valid_i,
  input  logic [BeatBits-1:0]      wr_data_i,
  output logic                     wr_ready_o,
  // DRAM.
  output logic                     dram_rd_req_o,
  output logic [31:0]              dram_rd_addr_o,
  input  logic                     dram_rd_rsp_i,
  input  logic [BeatBits-1:0]      dram_rd_data_i,
  output logic                     dram_wr_req_o,
  output logic [31:0]              dram_wr_addr_o,
  output logic [BeatBits-1:0]      dram_wr_data_o,
  input  logic                     dram_wr_ack_i,
  // Status for the control block.
  output logic                     active_o,  // some channel enabled and unfinished
  output logic                     moved_o    // a beat moved this cycle (stream or DRAM)
);

  localparam int unsigned NumChan   = 3;
  localparam int unsigned ResBits   = $clog2(AgcuOutstanding + 1);
  localparam int unsigned TagDepth  = 2 * AgcuOutstanding;
  localparam int unsigned TagCntBits = $clog2(TagDepth + 1);

  // -----------------------------------------------------------------------------------------------
  // Channel configuration and address generators (index = the TOML channel index).
  logic [NumChan-1:0]       enable, run_q, run_d;
  logic [NumChan-1:0]       gen_valid, gen_next;
  logic [NumChan-1:0][31:0] gen_addr;
  agen_regs_t [NumChan-1:0] chan_regs;  // the affine walk uses them inside the channel

  for (genvar c = 0; c < NumChan; c++) begin : gen_chan
    sparrow_agen_channel #(
      .Unit     (UnitAgcu + Tile),
      .RegBase  (c * AgcuChanBlock),
      .RegCount (AgcuChanBlock),
      .EnableReg(AgcuChanEnable),
      .BaseReg  (AgcuChanBase),
      .CountReg (AgcuChanCount),
      .StrideReg(AgcuChanStride)
    ) u_chan (
      .clk_i,
      .rst_ni,
      .cfg_valid_i,
      .cfg_unit_i,
      .cfg_reg_i,
      .cfg_value_i,
      .cfg_clear_i,
      .start_i,
      .abort_i,
      .next_i     (gen_next[c]),
      .enable_o   (enable[c]),
      .valid_o    (gen_valid[c]),
      .addr_o     (gen_addr[c]),
      .regs_o     (chan_regs[c])
    );
  end

  logic unused_chan_regs;
  assign unused_chan_regs = ^chan_regs;

  // A beat must be 4-byte aligned and, when DRAM_LIMIT is set, end at or below it. A channel whose
  // next beat is out of range issues nothing; the control block aborts the phase with bad_address.
  localparam logic [32:0] BeatBytes = 33'(Lanes * 4);
  logic [NumChan-1:0] addr_bad;
  for (genvar c = 0; c < NumChan; c++) begin : gen_addr_check
    assign addr_bad[c] = run_q[c] && gen_valid[c] &&
                         ((gen_addr[c][1:0] != 2'b00) ||
                          ((dram_limit_i != '0) &&
                           ({1'b0, gen_addr[c]} + BeatBytes > {1'b0, dram_limit_i})));
  end
  assign bad_address_o = |addr_bad;

  // -----------------------------------------------------------------------------------------------
  // Read channels.
  logic [1:0]               rd_want, rd_grant, rd_done, rsp_push, fifo_empty;
  logic [1:0][ResBits-1:0]  reserved_q, reserved_d;
  logic                     last_grant_q, last_grant_d;
  logic                     tag_full, tag_empty, tag_head;
  logic [TagCntBits-1:0]    tag_count;
  logic [TagCntBits-1:0]    discard_q, discard_d;
  logic                     rsp_discard;
  logic [1:0]               rd_fire, rsp_fifo_full;
  logic [1:0][ResBits-1:0]  rsp_fifo_count;

  for (genvar c = 0; c < 2; c++) begin : gen_rd_chan
    assign rd_want[c] = run_q[c] && gen_valid[c] && !addr_bad[c] && !abort_i && !tag_full &&
                        (32'(reserved_q[c]) < AgcuOutstanding);
    assign rd_done[c] = run_q[c] && !gen_valid[c] && (reserved_q[c] == '0);
    assign rsp_push[c] = dram_rd_rsp_i && !rsp_discard && (tag_head == 1'(c));
    assign rd_valid_o[c] = !fifo_empty[c];
    assign rd_fire[c] = rd_valid_o[c] && rd_ready_i[c];

    sparrow_fifo #(
      .Width(BeatBits),
      .Depth(AgcuOutstanding)
    ) u_rsp_fifo (
      .clk_i,
      .rst_ni,
      .flush_i(abort_i),
      .push_i (rsp_push[c]),
      .data_i (dram_rd_data_i),
      .pop_i  (rd_ready_i[c]),
      .data_o (rd_data_o[c]),
      .empty_o(fifo_empty[c]),
      .full_o (rsp_fifo_full[c]),
      .count_o(rsp_fifo_count[c])
    );
  end

  // Reservation keeps the response FIFOs from overflowing; their fill level is not needed.
  logic unused_rsp_fifo;
  assign unused_rsp_fifo = ^{rsp_fifo_full, rsp_fifo_count};

  // Alternate when both channels want the port.
  always_comb begin
    rd_grant = '0;
    if (rd_want[0] && rd_want[1]) begin
      rd_grant[last_grant_q ? 0 : 1] = 1'b1;
    end else begin
      rd_grant = rd_want;
    end
    last_grant_d = last_grant_q;
    if (rd_grant[0]) begin
      last_grant_d = 1'b0;
    end else if (rd_grant[1]) begin
      last_grant_d = 1'b1;
    end
  end

  always_comb begin
    for (int c = 0; c < 2; c++) begin
      reserved_d[c] = reserved_q[c] + ResBits'(rd_grant[c]) - ResBits'(rd_fire[c]);
      if (abort_i) begin
        reserved_d[c] = '0;
      end
    end
  end

  sparrow_fifo #(
    .Width(1),
    .Depth(TagDepth)
  ) u_tag_fifo (
    .clk_i,
    .rst_ni,
    .flush_i(1'b0),  // reads in flight return even after an abort
    .push_i (|rd_grant),
    .data_i (rd_grant[1]),
    .pop_i  (dram_rd_rsp_i),
    .data_o (tag_head),
    .empty_o(tag_empty),
    .full_o (tag_full),
    .count_o(tag_count)
  );

  // A response with no read in flight cannot happen with a well-behaved DRAM; it is ignored.
  assign rsp_discard = (discard_q != '0) || tag_empty;

  always_comb begin
    discard_d = discard_q;
    if (abort_i) begin
      discard_d = tag_count - TagCntBits'(dram_rd_rsp_i && !tag_empty);
    end else if (dram_rd_rsp_i && (discard_q != '0)) begin
      discard_d = discard_q - 1'b1;
    end
  end

  // -----------------------------------------------------------------------------------------------
  // Write channel.
  logic [ResBits-1:0] wr_inflight_q, wr_inflight_d;
  logic               wr_fire, wr_done;

  // Not gated by abort_i (the watchdog depends on stream progress): a beat taken in the abort cycle
  // is still written, and its acknowledgement awaited like any other.
  assign wr_ready_o = run_q[2] && gen_valid[2] && !addr_bad[2] &&
                      (32'(wr_inflight_q) < AgcuOutstanding);
  assign wr_fire    = wr_valid_i && wr_ready_o;
  assign wr_done    = run_q[2] && !gen_valid[2] && (wr_inflight_q == '0);
  assign wr_inflight_d = wr_inflight_q + ResBits'(wr_fire) - ResBits'(dram_wr_ack_i &&
                                                                        (wr_inflight_q != '0));

  assign gen_next = {wr_fire, rd_grant};

  // -----------------------------------------------------------------------------------------------
  // Run state.
  always_comb begin
    run_d = run_q;
    if (abort_i) begin
      run_d = '0;
    end else if (start_i) begin
      run_d = enable;
    end else begin
      run_d = run_q & ~{wr_done, rd_done};
    end
  end

  // -----------------------------------------------------------------------------------------------
  // DRAM request registers.
  logic                rd_req_q;
  logic [31:0]         rd_addr_q;
  logic                wr_req_q;
  logic [31:0]         wr_addr_q;
  logic [BeatBits-1:0] wr_data_q;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      run_q         <= '0;
      reserved_q    <= '0;
      last_grant_q  <= 1'b1;
      discard_q     <= '0;
      wr_inflight_q <= '0;
      rd_req_q      <= 1'b0;
      rd_addr_q     <= '0;
      wr_req_q      <= 1'b0;
      wr_addr_q     <= '0;
      wr_data_q     <= '0;
    end else begin
      run_q         <= run_d;
      reserved_q    <= reserved_d;
      last_grant_q  <= last_grant_d;
      discard_q     <= discard_d;
      wr_inflight_q <= wr_inflight_d;
      rd_req_q      <= |rd_grant;
      if (|rd_grant) begin
        rd_addr_q <= rd_grant[1] ? gen_addr[1] : gen_addr[0];
      end
      wr_req_q <= wr_fire;
      if (wr_fire) begin
        wr_addr_q <= gen_addr[2];
        wr_data_q <= wr_data_i;
      end
    end
  end

  assign dram_rd_req_o  = rd_req_q;
  assign dram_rd_addr_o = rd_addr_q;
  assign dram_wr_req_o  = wr_req_q;
  assign dram_wr_addr_o = wr_addr_q;
  assign dram_wr_data_o = wr_data_q;

  assign active_o = |run_q;
  assign moved_o  = (|rd_grant) || (|rd_fire) || wr_fire || dram_rd_rsp_i || dram_wr_ack_i;

endmodule
