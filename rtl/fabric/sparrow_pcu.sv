// SPDX-License-Identifier: Apache-2.0
//
// PCU, GEMM mode (docs/fabric.md, "PCU"): a Lanes x Lanes array of accumulators, each with one
// binary32 multiplier and one adder (rtl/fpu/), acc[r][c] = add(acc[r][c], mul(a[r], b[c])), both
// combinational, one step per cycle. Per output block: optionally load the accumulators from Lanes
// beats of input c, take k a/b beat pairs, then hand the block to the output buffer, which drains one
// row per beat while the next block computes.
//
// k is k_count (0 counts as 1), or, when k_table_len = n > 0, k_table[b mod n] for the phase's block b
// (n above PcuKTableEntries counts as PcuKTableEntries); a table pointer steps with each block instead
// of dividing. A table entry may be 0: the block then takes no a/b beats and no MAC step, and hands
// over its initial accumulators (+0.0, or the rows loaded from c) the cycle after it starts computing.
//
// The inputs sit behind small FIFOs so that their ready signals never depend on another input's
// valid (a and b are taken together); that keeps the stream switch free of combinational loops.

module sparrow_pcu
  import sparrow_hw_pkg::*;
  import sparrow_fp_pkg::*;
#(
  parameter int unsigned Tile  = 0,
  parameter int unsigned Lanes = ConfigMLanes,
  localparam int unsigned BeatBits = Lanes * 32
) (
  input  logic                clk_i,
  input  logic                rst_ni,
  // Configuration bus and phase control.
  input  logic                cfg_valid_i,
  input  logic [7:0]          cfg_unit_i,
  input  logic [15:0]         cfg_reg_i,
  input  logic [31:0]         cfg_value_i,
  input  logic                cfg_clear_i,
  input  logic                start_i,
  input  logic                abort_i,
  // Streams.
  input  logic                a_valid_i,
  input  logic [BeatBits-1:0] a_data_i,
  output logic                a_ready_o,
  input  logic                b_valid_i,
  input  logic [BeatBits-1:0] b_data_i,
  output logic                b_ready_o,
  input  logic                c_valid_i,
  input  logic [BeatBits-1:0] c_data_i,
  output logic                c_ready_o,
  output logic                out_valid_o,
  output logic [BeatBits-1:0] out_data_o,
  input  logic                out_ready_i,
  // Status for the control block.
  output logic                active_o,
  output logic                moved_o,
  output logic                mac_step_o,   // Lanes * Lanes multiply-accumulates this cycle
  output logic [4:0]          fp_flags_o    // flags of this cycle's operations (NV DZ OF UF NX)
);

  localparam int unsigned RowBits = $clog2(Lanes);
  localparam int unsigned KtBits  = $clog2(PcuKTableEntries);

  // -----------------------------------------------------------------------------------------------
  // Configuration registers. The mode register is stored for completeness: GEMM is the only mode.
  logic        enable_q;
  logic [31:0] mode_q, k_count_q, blocks_q, k_table_len_q;
  logic        acc_init_q;
  logic        cfg_hit;
  logic [31:0] cfg_kt;  // cfg_reg_i - PcuKTable: a table entry when below PcuKTableEntries
  logic [PcuKTableEntries-1:0][31:0] k_table_q;

  assign cfg_hit = cfg_valid_i && (cfg_unit_i == 8'(UnitPcu + Tile));
  assign cfg_kt  = 32'(cfg_reg_i) - PcuKTable;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      enable_q      <= 1'b0;
      mode_q        <= '0;
      k_count_q     <= '0;
      blocks_q      <= '0;
      acc_init_q    <= 1'b0;
      k_table_len_q <= '0;
      k_table_q     <= '0;
    end else if (cfg_clear_i) begin
      enable_q      <= 1'b0;
      mode_q        <= '0;
      k_count_q     <= '0;
      blocks_q      <= '0;
      acc_init_q    <= 1'b0;
      k_table_len_q <= '0;
      k_table_q     <= '0;
    end else begin
      if (start_i || abort_i) begin
        enable_q <= 1'b0;
      end
      if (cfg_hit) begin
        unique case (32'(cfg_reg_i))
          PcuEnable:  enable_q   <= cfg_value_i[0];
          PcuMode:    mode_q     <= cfg_value_i;
          PcuKCount:  k_count_q  <= cfg_value_i;
          PcuBlocks:  blocks_q   <= cfg_value_i;
          PcuAccInit: acc_init_q <= cfg_value_i[0];
          PcuKTableLen: k_table_len_q <= cfg_value_i;
          default: ;
        endcase
        // A register below PcuKTable wraps to a large offset, so one comparison bounds the table.
        if (cfg_kt < PcuKTableEntries) begin
          k_table_q[cfg_kt[KtBits-1:0]] <= cfg_value_i;
        end
      end
    end
  end

  logic unused_mode;
  assign unused_mode = ^mode_q;

  // -----------------------------------------------------------------------------------------------
  // Input FIFOs.
  logic                a_empty, b_empty, c_empty, a_full, b_full, c_full;
  logic [BeatBits-1:0] a_head, b_head, c_head;
  logic                step, load_row;
  logic [1:0]          a_count, b_count, c_count;

  assign a_ready_o = !a_full;
  assign b_ready_o = !b_full;
  assign c_ready_o = !c_full;

  sparrow_fifo #(.Width(BeatBits), .Depth(2)) u_a_fifo (
    .clk_i, .rst_ni, .flush_i(abort_i),
    .push_i(a_valid_i), .data_i(a_data_i), .pop_i(step),
    .data_o(a_head), .empty_o(a_empty), .full_o(a_full), .count_o(a_count)
  );
  sparrow_fifo #(.Width(BeatBits), .Depth(2)) u_b_fifo (
    .clk_i, .rst_ni, .flush_i(abort_i),
    .push_i(b_valid_i), .data_i(b_data_i), .pop_i(step),
    .data_o(b_head), .empty_o(b_empty), .full_o(b_full), .count_o(b_count)
  );
  sparrow_fifo #(.Width(BeatBits), .Depth(2)) u_c_fifo (
    .clk_i, .rst_ni, .flush_i(abort_i),
    .push_i(c_valid_i), .data_i(c_data_i), .pop_i(load_row),
    .data_o(c_head), .empty_o(c_empty), .full_o(c_full), .count_o(c_count)
  );

  logic unused_fifo_count;
  assign unused_fifo_count = ^{a_count, b_count, c_count};

  // -----------------------------------------------------------------------------------------------
  // The MAC array.
  logic [Lanes-1:0][Lanes-1:0][31:0] acc_q, acc_d, acc_next;
  logic [Lanes-1:0][Lanes-1:0][4:0]  cell_flags;
  logic [4:0]                        step_flags;

  for (genvar r = 0; r < Lanes; r++) begin : gen_row
    for (genvar c = 0; c < Lanes; c++) begin : gen_col
      logic [31:0] product;
      fp_flags_t   mul_flags, add_flags;

      sparrow_fp_mul u_mul (
        .a_i     (a_head[32*r +: 32]),
        .b_i     (b_head[32*c +: 32]),
        .result_o(product),
        .flags_o (mul_flags)
      );

      sparrow_fp_add u_add (
        .a_i     (acc_q[r][c]),
        .b_i     (product),
        .result_o(acc_next[r][c]),
        .flags_o (add_flags)
      );

      assign cell_flags[r][c] = mul_flags | add_flags;
    end
  end

  always_comb begin
    step_flags = '0;
    for (int r = 0; r < Lanes; r++) begin
      for (int c = 0; c < Lanes; c++) begin
        step_flags = step_flags | cell_flags[r][c];
      end
    end
  end

  // -----------------------------------------------------------------------------------------------
  // Block sequencing.
  typedef enum logic [1:0] {
    StIdle,
    StLoad,     // taking acc_init rows from input c
    StCompute,  // k steps
    StFinish    // block computed, waiting for the output buffer
  } state_e;

  state_e             state_q, state_d;
  logic [31:0]        k_q, k_d, block_q, block_d;
  logic [RowBits-1:0] load_row_q, load_row_d;

  // The current block's beat pairs: from the table entry the pointer names, else k_count.
  logic [KtBits-1:0] kt_ptr_q, kt_ptr_d;
  logic [31:0]       kt_len, block_k;
  assign kt_len  = (k_table_len_q > PcuKTableEntries) ? 32'(PcuKTableEntries) : k_table_len_q;
  assign block_k = (kt_len != '0) ? k_table_q[kt_ptr_q] :
                   ((k_count_q == '0) ? 32'd1 : k_count_q);

  logic [Lanes-1:0][Lanes-1:0][31:0] out_buf_q, out_buf_d;
  logic [RowBits:0]                  out_left_q, out_left_d;  // rows still to emit
  logic                              out_fire, out_free, hand_over, last_step, block_ready;

  assign out_valid_o = (out_left_q != '0);
  assign out_data_o  = out_buf_q[RowBits'(32'(Lanes) - 32'(out_left_q))];
  assign out_fire    = out_valid_o && out_ready_i;
  // The buffer takes a new block when it is empty, or emits its last row this cycle.
  assign out_free    = (out_left_q == '0) || ((out_left_q == 1) && out_fire);

  assign load_row  = (state_q == StLoad) && !c_empty;
  assign step      = (state_q == StCompute) && (k_q < block_k) && !a_empty && !b_empty;
  assign last_step = step && (k_q + 32'd1 == block_k);
  assign block_ready = last_step || ((state_q == StCompute) && (k_q >= block_k)) ||
                       (state_q == StFinish);
  assign hand_over = block_ready && out_free;

  always_comb begin
    state_d    = state_q;
    k_d        = k_q;
    block_d    = block_q;
    kt_ptr_d   = kt_ptr_q;
    load_row_d = load_row_q;
    acc_d      = acc_q;
    out_buf_d  = out_buf_q;
    out_left_d = out_left_q - (RowBits + 1)'(out_fire);

    if (load_row) begin
      acc_d[load_row_q] = c_head;
      load_row_d        = load_row_q + 1'b1;
      if (32'(load_row_q) == Lanes - 1) begin
        state_d = StCompute;
      end
    end

    if (step) begin
      acc_d = acc_next;
      k_d   = k_q + 32'd1;
    end

    if (block_ready) begin
      if (hand_over) begin
        out_buf_d  = step ? acc_next : acc_q;
        out_left_d = (RowBits + 1)'(Lanes);
        block_d    = block_q + 32'd1;
        kt_ptr_d   = (32'(kt_ptr_q) + 32'd1 >= kt_len) ? '0 : kt_ptr_q + 1'b1;
        k_d        = '0;
        load_row_d = '0;
        acc_d      = '0;
        if (block_q + 32'd1 >= blocks_q) begin
          state_d = StIdle;
        end else begin
          state_d = acc_init_q ? StLoad : StCompute;
        end
      end else begin
        state_d = StFinish;
      end
    end

    if (abort_i) begin
      state_d    = StIdle;
      out_left_d = '0;
    end else if (start_i && enable_q) begin
      block_d    = '0;
      kt_ptr_d   = '0;
      k_d        = '0;
      load_row_d = '0;
      acc_d      = '0;
      state_d    = (blocks_q == '0) ? StIdle : (acc_init_q ? StLoad : StCompute);
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      state_q    <= StIdle;
      k_q        <= '0;
      block_q    <= '0;
      kt_ptr_q   <= '0;
      load_row_q <= '0;
      acc_q      <= '0;
      out_buf_q  <= '0;
      out_left_q <= '0;
    end else begin
      state_q    <= state_d;
      k_q        <= k_d;
      block_q    <= block_d;
      kt_ptr_q   <= kt_ptr_d;
      load_row_q <= load_row_d;
      acc_q      <= acc_d;
      out_buf_q  <= out_buf_d;
      out_left_q <= out_left_d;
    end
  end

  // Busy until the last block has left the output buffer. A started phase with no blocks is idle.
  assign active_o   = (state_q != StIdle) || (out_left_q != '0);
  assign moved_o    = step || load_row || out_fire || (a_valid_i && !a_full) ||
                      (b_valid_i && !b_full) || (c_valid_i && !c_full);
  assign mac_step_o = step;
  assign fp_flags_o = step ? step_flags : 5'b0;

endmodule
