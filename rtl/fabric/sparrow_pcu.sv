// SPDX-License-Identifier: Apache-2.0
//
// PCU (docs/fabric.md, "PCU"). GEMM mode: a Lanes x Lanes array of accumulators, each cell with one
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
// SIMD and LOAD modes (mode 1 and 2): the same cells serve as Lanes lanes x Lanes issue slots (and
// the last column's adders as RSUM's tree); the sequencer, program memory, registers and the
// group-ending instructions live in sparrow_pcu_simd. Mode values above LOAD are reserved and run as
// GEMM. The mode is read when a phase starts.
//
// The inputs sit behind small FIFOs so that their ready signals never depend on another input's
// valid (a and b are taken together); that keeps the stream switch free of combinational loops.

module sparrow_pcu
  import sparrow_hw_pkg::*;
  import sparrow_fp_pkg::*;
  import sparrow_simd_pkg::*;
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
  localparam int unsigned SegBits = $clog2(SimdSegments);

  // The RSUM tree's layout in the last column: level l (1 = the lanes' pairs) starts at row
  // tree_start(l) and has Lanes >> l nodes.
  function automatic int unsigned tree_start(int unsigned lanes, int unsigned level);
    int unsigned row;
    row = 0;
    for (int unsigned l = 1; l < level; l++) begin
      row = row + (lanes >> l);
    end
    return row;
  endfunction

  function automatic int unsigned tree_level(int unsigned lanes, int unsigned row);
    int unsigned level;
    level = 1;
    while (row >= tree_start(lanes, level + 1)) begin
      level = level + 1;
    end
    return level;
  endfunction

  // -----------------------------------------------------------------------------------------------
  // Configuration registers.
  logic        enable_q;
  logic [31:0] mode_q, k_count_q, blocks_q, k_table_len_q;
  logic [31:0] simd_rows_q, simd_beats_q, simd_passes_q, simd_row_base_q, simd_col_base_q;
  logic [31:0] simd_load_base_q;
  logic [SimdSegments-1:0][31:0] simd_seg_q;
  logic [31:0] cfg_seg;  // cfg_reg_i - PcuSimdSeg: a segment register when below SimdSegments
  logic        acc_init_q;
  logic        cfg_hit;
  logic [31:0] cfg_kt;  // cfg_reg_i - PcuKTable: a table entry when below PcuKTableEntries
  logic [PcuKTableEntries-1:0][31:0] k_table_q;

  assign cfg_hit = cfg_valid_i && (cfg_unit_i == 8'(UnitPcu + Tile));
  assign cfg_kt  = 32'(cfg_reg_i) - PcuKTable;
  assign cfg_seg = 32'(cfg_reg_i) - PcuSimdSeg;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      enable_q      <= 1'b0;
      mode_q        <= '0;
      k_count_q     <= '0;
      blocks_q      <= '0;
      acc_init_q    <= 1'b0;
      k_table_len_q <= '0;
      k_table_q     <= '0;
      simd_rows_q      <= '0;
      simd_beats_q     <= '0;
      simd_passes_q    <= '0;
      simd_row_base_q  <= '0;
      simd_col_base_q  <= '0;
      simd_load_base_q <= '0;
      simd_seg_q       <= '0;
    end else if (cfg_clear_i) begin
      enable_q      <= 1'b0;
      mode_q        <= '0;
      k_count_q     <= '0;
      blocks_q      <= '0;
      acc_init_q    <= 1'b0;
      k_table_len_q <= '0;
      k_table_q     <= '0;
      simd_rows_q      <= '0;
      simd_beats_q     <= '0;
      simd_passes_q    <= '0;
      simd_row_base_q  <= '0;
      simd_col_base_q  <= '0;
      simd_load_base_q <= '0;
      simd_seg_q       <= '0;
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
          PcuSimdRows:     simd_rows_q      <= cfg_value_i;
          PcuSimdBeats:    simd_beats_q     <= cfg_value_i;
          PcuSimdPasses:   simd_passes_q    <= cfg_value_i;
          PcuSimdRowBase:  simd_row_base_q  <= cfg_value_i;
          PcuSimdColBase:  simd_col_base_q  <= cfg_value_i;
          PcuSimdLoadBase: simd_load_base_q <= cfg_value_i;
          default: ;
        endcase
        // A register below PcuKTable wraps to a large offset, so one comparison bounds the table.
        if (cfg_kt < PcuKTableEntries) begin
          k_table_q[cfg_kt[KtBits-1:0]] <= cfg_value_i;
        end
        if (cfg_seg < SimdSegments) begin
          simd_seg_q[cfg_seg[SegBits-1:0]] <= cfg_value_i;
        end
      end
    end
  end

  // The phase's mode, from the mode register when it starts.
  logic mode_simd, mode_load, start_gemm, start_simd, start_load;
  assign mode_simd  = (mode_q == PcuModeSimd);
  assign mode_load  = (mode_q == PcuModeLoad);
  assign start_gemm = start_i && enable_q && !mode_simd && !mode_load;
  assign start_simd = start_i && enable_q && mode_simd;
  assign start_load = start_i && enable_q && mode_load;

  // -----------------------------------------------------------------------------------------------
  // Input FIFOs.
  logic                a_empty, b_empty, c_empty, a_full, b_full, c_full;
  logic [BeatBits-1:0] a_head, b_head, c_head;
  logic                step, load_row;
  logic [1:0]          a_count, b_count, c_count;
  logic                simd_pop_a, simd_pop_b, simd_pop_c;  // SIMD POP (a, b, c) and LOAD (a)

  assign a_ready_o = !a_full;
  assign b_ready_o = !b_full;
  assign c_ready_o = !c_full;

  sparrow_fifo #(.Width(BeatBits), .Depth(2)) u_a_fifo (
    .clk_i, .rst_ni, .flush_i(abort_i),
    .push_i(a_valid_i), .data_i(a_data_i), .pop_i(step || simd_pop_a),
    .data_o(a_head), .empty_o(a_empty), .full_o(a_full), .count_o(a_count)
  );
  sparrow_fifo #(.Width(BeatBits), .Depth(2)) u_b_fifo (
    .clk_i, .rst_ni, .flush_i(abort_i),
    .push_i(b_valid_i), .data_i(b_data_i), .pop_i(step || simd_pop_b),
    .data_o(b_head), .empty_o(b_empty), .full_o(b_full), .count_o(b_count)
  );
  sparrow_fifo #(.Width(BeatBits), .Depth(2)) u_c_fifo (
    .clk_i, .rst_ni, .flush_i(abort_i),
    .push_i(c_valid_i), .data_i(c_data_i), .pop_i(load_row || simd_pop_c),
    .data_o(c_head), .empty_o(c_empty), .full_o(c_full), .count_o(c_count)
  );

  logic unused_fifo_count;
  assign unused_fifo_count = ^{a_count, b_count, c_count};

  // -----------------------------------------------------------------------------------------------
  // The array: Lanes x Lanes cells, each one binary32 multiplier and one adder. GEMM mode: cell (r, c)
  // computes acc[r][c] + a[r] * b[c]. SIMD mode: column c is issue slot c of the current group and
  // row r is lane r: the slot's operands come from lane r's state as the slots before it left it
  // (view), its instruction's effect (simd_slot) gives the state the next slot reads. So a group of
  // up to Lanes dependent instructions completes in one cycle, a combinational chain per lane.
  //
  // The slot logic is written per column (one block for all lanes of a slot, guarded by the mode),
  // not per cell: in GEMM mode it then costs the simulation a few moves per cell, which keeps the
  // GEMM's simulation speed close to that of a plain MAC array.
  logic [Lanes-1:0][Lanes-1:0][31:0] acc_q, acc_d, acc_next;
  logic [Lanes-1:0][Lanes-1:0][4:0]  cell_flags;
  logic [4:0]                        step_flags;

  logic                          simd_mode;
  logic [Lanes-1:0][31:0]        slot_insn, slot_imm, lane_col;
  logic [31:0]                   simd_row;
  simd_view_t [Lanes-1:0]        view_first, view_pre, view_last;  // slot 0's, after Lanes-1 / all
  logic                          tree_mode;                         // the last column adds the tree
  logic [Lanes-1:0][31:0]        tree_in;
  logic [31:0]                   tree_sum;
  fp_flags_t                     tree_flags;
  logic [Lanes-1:0][4:0]         col_flags;  // SIMD: flags of each slot, all lanes
  fp_flags_t                     chain_flags;

  for (genvar c = 0; c < Lanes; c++) begin : gen_col
    logic [Lanes-1:0][31:0] mul_a, mul_b, add_a, add_b, simd_add_b, product, sum;
    logic [Lanes-1:0][31:0] op_a, op_b;
    fp_flags_t [Lanes-1:0]  mul_flags, add_flags;
    simd_insn_t             insn;
    simd_view_t [Lanes-1:0] view_in, view_out;  // each lane's state before / after the slot
    fp_flags_t              flags;

    if (c == 0) begin : gen_first
      assign view_in = view_first;
    end else begin : gen_next
      assign view_in = gen_col[c-1].view_out;
    end

    // Operands: the slot's sources in SIMD mode, the MAC's otherwise.
    always_comb begin
      insn       = '0;
      op_a       = '0;
      op_b       = '0;
      simd_add_b = '0;
      if (simd_mode) begin
        insn = simd_decode(slot_insn[c]);
        for (int r = 0; r < Lanes; r++) begin
          op_a[r]       = simd_operand(view_in[r].r, insn.src_a, slot_imm[c], lane_col[r], simd_row,
                                       32'(r));
          op_b[r]       = simd_operand(view_in[r].r, insn.src_b, slot_imm[c], lane_col[r], simd_row,
                                       32'(r));
          // FSUB adds b with its sign flipped.
          simd_add_b[r] = (32'(insn.op) == SimdOpFsub) ? (op_b[r] ^ SignBit) : op_b[r];
        end
        mul_a = op_a;
        mul_b = op_b;
        add_a = op_a;
      end else begin
        for (int r = 0; r < Lanes; r++) begin
          mul_a[r] = a_head[32*r +: 32];
          mul_b[r] = b_head[32*c +: 32];
          add_a[r] = acc_q[r][c];
        end
      end
    end
    assign add_b = simd_mode ? simd_add_b : product;

    for (genvar r = 0; r < Lanes; r++) begin : gen_row
      logic [31:0] cell_a, cell_b;

      // The last column's adders are the RSUM tree when a group ends with RSUM (such a group has
      // at most Lanes - 1 elementwise instructions, so the last slot is free): row r < Lanes - 1 is
      // node r, level by level (rows 0 .. Lanes/2 - 1 add adjacent lanes' values, the next level's
      // rows add adjacent nodes of the level before, lower index on the left), the root in row
      // Lanes - 2: exactly sparrow_fp_reduce_sum's tree.
      if ((c == Lanes - 1) && (r < Lanes - 1)) begin : gen_node
        localparam int unsigned Level = tree_level(Lanes, r);
        localparam int unsigned Index = r - tree_start(Lanes, Level);
        logic [31:0] left, right;

        if (Level == 1) begin : gen_leaves
          assign left  = tree_in[2*Index];
          assign right = tree_in[2*Index+1];
        end else begin : gen_inner
          localparam int unsigned Child = tree_start(Lanes, Level - 1) + 2 * Index;
          assign left  = gen_row[Child].cell_sum;
          assign right = gen_row[Child+1].cell_sum;
        end
        assign cell_a = tree_mode ? left : add_a[r];
        assign cell_b = tree_mode ? right : add_b[r];
      end else begin : gen_slot
        assign cell_a = add_a[r];
        assign cell_b = add_b[r];
      end

      logic [31:0] cell_sum;

      sparrow_fp_mul u_mul (
        .a_i     (mul_a[r]),
        .b_i     (mul_b[r]),
        .result_o(product[r]),
        .flags_o (mul_flags[r])
      );

      sparrow_fp_add u_add (
        .a_i     (cell_a),
        .b_i     (cell_b),
        .result_o(cell_sum),
        .flags_o (add_flags[r])
      );

      assign sum[r]           = cell_sum;
      assign acc_next[r][c]   = cell_sum;
      assign cell_flags[r][c] = mul_flags[r] | add_flags[r];
    end

    // The slot's effect on each lane's state (SIMD mode; the views are not used otherwise).
    always_comb begin
      simd_slot_t slot;
      flags    = '0;
      slot     = '0;
      view_out = '0;
      if (simd_mode) begin
        for (int r = 0; r < Lanes; r++) begin
          slot        = simd_slot(view_in[r], insn.op, insn.dst, insn.pred, op_a[r], op_b[r],
                                  sum[r], add_flags[r], product[r], mul_flags[r]);
          view_out[r] = slot.view;
          flags       = flags | slot.flags;
        end
      end
    end
    assign col_flags[c] = flags;

    logic unused_insn;
    assign unused_insn = ^insn.port;
  end

  assign view_pre  = gen_col[Lanes-2].view_out;
  assign view_last = gen_col[Lanes-1].view_out;

  // The RSUM tree's result (the root, row Lanes - 2 of the last column) and the flags of its nodes.
  always_comb begin
    tree_sum   = gen_col[Lanes-1].sum[Lanes-2];
    tree_flags = '0;
    for (int r = 0; r < Lanes - 1; r++) begin
      tree_flags = tree_flags | gen_col[Lanes-1].add_flags[r];
    end
  end

  always_comb begin
    step_flags = '0;
    for (int r = 0; r < Lanes; r++) begin
      for (int c = 0; c < Lanes; c++) begin
        step_flags = step_flags | cell_flags[r][c];
      end
    end
    chain_flags = '0;
    for (int c = 0; c < Lanes; c++) begin
      chain_flags = chain_flags | col_flags[c];
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

  logic                gemm_out_valid;
  logic [BeatBits-1:0] gemm_out_data;
  assign gemm_out_valid = (out_left_q != '0);
  assign gemm_out_data  = out_buf_q[RowBits'(32'(Lanes) - 32'(out_left_q))];
  assign out_fire       = gemm_out_valid && out_ready_i;
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
    end else if (start_gemm) begin
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

  // -----------------------------------------------------------------------------------------------
  // SIMD and LOAD modes.
  logic                simd_active, simd_moved, simd_out_valid;
  logic [BeatBits-1:0] simd_out_data;
  fp_flags_t           simd_flags;

  sparrow_pcu_simd #(
    .Lanes(Lanes)
  ) u_simd (
    .clk_i,
    .rst_ni,
    .rows_i       (simd_rows_q),
    .beats_i      (simd_beats_q),
    .passes_i     (simd_passes_q),
    .row_base_i   (simd_row_base_q),
    .col_base_i   (simd_col_base_q),
    .load_base_i  (simd_load_base_q),
    .blocks_i     (blocks_q),
    .seg_i        (simd_seg_q),
    .start_simd_i (start_simd),
    .start_load_i (start_load),
    .abort_i,
    .a_empty_i    (a_empty),
    .b_empty_i    (b_empty),
    .c_empty_i    (c_empty),
    .a_head_i     (a_head),
    .b_head_i     (b_head),
    .c_head_i     (c_head),
    .a_pop_o      (simd_pop_a),
    .b_pop_o      (simd_pop_b),
    .c_pop_o      (simd_pop_c),
    .out_valid_o  (simd_out_valid),
    .out_data_o   (simd_out_data),
    .out_ready_i,
    .simd_o       (simd_mode),
    .slot_insn_o  (slot_insn),
    .slot_imm_o   (slot_imm),
    .col_o        (lane_col),
    .row_o        (simd_row),
    .view_o       (view_first),
    .view_pre_i   (view_pre),
    .view_i       (view_last),
    .tree_mode_o  (tree_mode),
    .tree_in_o    (tree_in),
    .tree_sum_i   (tree_sum),
    .tree_flags_i (tree_flags),
    .chain_flags_i(chain_flags),
    .active_o     (simd_active),
    .moved_o      (simd_moved),
    .flags_o      (simd_flags)
  );

  // One mode runs at a time and a phase ends only when its output has drained, so at most one of
  // the two outputs is valid.
  assign out_valid_o = gemm_out_valid || simd_out_valid;
  assign out_data_o  = simd_out_valid ? simd_out_data : gemm_out_data;

  // Busy until the last block has left the output buffer. A started phase with no blocks is idle.
  assign active_o   = (state_q != StIdle) || (out_left_q != '0) || simd_active;
  assign moved_o    = step || load_row || out_fire || (a_valid_i && !a_full) ||
                      (b_valid_i && !b_full) || (c_valid_i && !c_full) || simd_moved;
  assign mac_step_o = step;
  assign fp_flags_o = step ? step_flags : simd_flags;

endmodule
