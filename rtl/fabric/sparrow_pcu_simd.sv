// SPDX-License-Identifier: Apache-2.0
//
// The PCU's SIMD and LOAD modes (docs/fabric.md, "PCU SIMD mode"): the program memory, the walk,
// issue, the instructions that end a group, and the lanes' registers. The elementwise instructions
// run in the PCU's array (sparrow_pcu.sv), lane r through row r, issue slot c through column c.
//
// LOAD: `blocks` beats from input a; lane l of beat i goes to program word
// (simd_load_base + i*Lanes + l) mod PcuImemWords, one beat per cycle. The memory has no reset.
//
// SIMD: the walk rows x (prologue, passes x (beats x body, end of pass)), epilogue, each segment's
// instructions in order, in groups of up to Lanes consecutive instructions per cycle. A group ends
// after POP, PUSH, RSUM or RMAX, so it is up to Lanes - 1 elementwise instructions (or Lanes
// without such an ending) and at most one of those, last. Each cycle this unit reads the group's
// instructions from program memory and sends the elementwise ones to the array's slots (NOP to the
// rest); the array returns each lane's state after them, and the group's last instruction is
// applied to that state here:
//   POP    waits for a beat on its input and writes each lane's word to dst (every lane);
//   PUSH   waits, when lane 0's predicate holds, for room in the output FIFO, then pushes src_a;
//   RSUM   feeds every lane's src_a to the tree of adders that the array's last column forms then
//          (that slot is free: the group has at most Lanes - 1 elementwise instructions), RMAX to a
//          tree of max units here; the result goes to dst where the predicate holds, and the
//          tree's flags count if it holds in any lane. Both trees are sparrow_fp_reduce_sum /
//          _max's: adjacent lanes pairwise, level by level, lower index on the left.
// The group issues (state, FIFOs and FP_STATUS change together) only when its ending can go; so a
// group waits whole, and nothing depends on how long. After a segment's last group, the walk moves
// to the next segment that has instructions in the same cycle: an empty segment takes no cycle, an
// empty body is skipped with all its beats, and a row with no instruction at all skips every row.
//
// COL = simd_col_base + beat*Lanes + lane and ROW = simd_row_base + row (wrapping), with beat 0
// outside a body segment and row 0 in the epilogue.

module sparrow_pcu_simd
  import sparrow_hw_pkg::*;
  import sparrow_fp_pkg::*;
  import sparrow_simd_pkg::*;
#(
  parameter int unsigned Lanes = ConfigMLanes,
  localparam int unsigned BeatBits = Lanes * 32
) (
  input  logic                                clk_i,
  input  logic                                rst_ni,
  // The PCU's registers (they do not change while a phase runs).
  input  logic [31:0]                         rows_i,
  input  logic [31:0]                         beats_i,
  input  logic [31:0]                         passes_i,
  input  logic [31:0]                         row_base_i,
  input  logic [31:0]                         col_base_i,
  input  logic [31:0]                         load_base_i,
  input  logic [31:0]                         blocks_i,
  input  logic [SimdSegments-1:0][31:0]       seg_i,
  // Phase control: the PCU starts enabled in SIMD or LOAD mode; abort.
  input  logic                                start_simd_i,
  input  logic                                start_load_i,
  input  logic                                abort_i,
  // The PCU's input FIFOs a, b, c (POP's ports 0, 1, 2): not empty, the head beat, take it.
  input  logic                                a_empty_i,
  input  logic                                b_empty_i,
  input  logic                                c_empty_i,
  input  logic [BeatBits-1:0]                 a_head_i,
  input  logic [BeatBits-1:0]                 b_head_i,
  input  logic [BeatBits-1:0]                 c_head_i,
  output logic                                a_pop_o,
  output logic                                b_pop_o,
  output logic                                c_pop_o,
  // pcu_out.
  output logic                                out_valid_o,
  output logic [BeatBits-1:0]                 out_data_o,
  input  logic                                out_ready_i,
  // The array: SIMD mode, each slot's instruction and immediate, each lane's COL, the ROW, each
  // lane's state into slot 0, and back after the last slot, with the flags of every cell.
  output logic                                simd_o,
  output logic [Lanes-1:0][31:0]              slot_insn_o,
  output logic [Lanes-1:0][31:0]              slot_imm_o,
  output logic [Lanes-1:0][31:0]              col_o,
  output logic [31:0]                         row_o,
  output simd_view_t [Lanes-1:0]              view_o,
  input  simd_view_t [Lanes-1:0]              view_pre_i,  // after slot Lanes - 2
  input  simd_view_t [Lanes-1:0]              view_i,      // after the last slot
  // The RSUM tree in the array's last column: on, its inputs, its result and flags.
  output logic                                tree_mode_o,
  output logic [Lanes-1:0][31:0]              tree_in_o,
  input  logic [31:0]                         tree_sum_i,
  input  fp_flags_t                           tree_flags_i,
  input  fp_flags_t                           chain_flags_i,
  // Status for the control block.
  output logic                                active_o,
  output logic                                moved_o,
  output fp_flags_t                           flags_o
);

  // Fields of a segment register and the walk's pass limit (docs/fabric.md, "Walk"; the hardware
  // table does not name them); POP's ports (0 = a, 1 = b, 2 = c; 3 names no input).
  localparam int unsigned SegFirstBits = 16;
  localparam int unsigned SegCountLsb  = 16;
  localparam int unsigned MaxPasses    = 3;
  localparam int unsigned PopPorts     = 3;

  localparam int unsigned ImemBits    = $clog2(PcuImemWords);
  localparam int unsigned InsnBits    = ImemBits - 1;  // two words per instruction
  localparam int unsigned SegBits     = $clog2(SimdSegments);
  localparam int unsigned CountBits   = 32 - SegCountLsb;
  localparam int unsigned LenBits     = $clog2(Lanes + 1);
  localparam int unsigned SlotBits    = $clog2(Lanes);
  // From any segment, the next one with instructions is at most a row's segments (prologue and
  // body/end of MaxPasses passes) away, or the epilogue and the end.
  localparam int unsigned SettleSteps = 2 * MaxPasses + 2;

  // -----------------------------------------------------------------------------------------------
  // Program memory, no reset.
  logic [31:0] imem_q[PcuImemWords];

  // -----------------------------------------------------------------------------------------------
  // The walk.
  typedef enum logic [2:0] {
    WkPrologue,
    WkBody,
    WkEnd,
    WkEpilogue,
    WkDone
  } stage_e;

  typedef struct packed {
    stage_e      stage;
    logic [1:0]  pass;
    logic [31:0] beat;
    logic [31:0] row;
  } walk_t;

  typedef logic [SimdSegments-1:0][CountBits-1:0] seg_counts_t;

  localparam walk_t WalkStart = '{stage: WkPrologue, pass: '0, beat: '0, row: '0};
  localparam walk_t WalkEpilogue = '{stage: WkEpilogue, pass: '0, beat: '0, row: '0};

  function automatic logic [SegBits-1:0] seg_of(stage_e stage, logic [1:0] pass);
    logic [SegBits-1:0] seg;
    unique case (stage)
      WkPrologue: seg = '0;
      WkBody:     seg = SegBits'(32'd1 + 32'd2 * 32'(pass));
      WkEnd:      seg = SegBits'(32'd2 + 32'd2 * 32'(pass));
      default:    seg = SegBits'(SimdSegments - 1);  // the epilogue
    endcase
    return seg;
  endfunction

  // The segment after w's, empty or not.
  function automatic walk_t walk_next(walk_t w, logic [31:0] rows, logic [31:0] beats,
                                      logic [1:0] passes);
    walk_t n;
    n = w;
    unique case (w.stage)
      WkPrologue: begin
        n.stage = WkBody;
        n.pass  = '0;
        n.beat  = '0;
      end
      WkBody: begin
        // beat < beats, so beat + 1 does not wrap.
        if (w.beat + 32'd1 < beats) begin
          n.beat = w.beat + 32'd1;
        end else begin
          n.stage = WkEnd;
          n.beat  = '0;
        end
      end
      WkEnd: begin
        if (32'(w.pass) + 32'd1 < 32'(passes)) begin
          n.stage = WkBody;
          n.pass  = w.pass + 2'd1;
        end else if (w.row + 32'd1 < rows) begin
          n.stage = WkPrologue;
          n.pass  = '0;
          n.row   = w.row + 32'd1;
        end else begin
          n.stage = WkEpilogue;
          n.pass  = '0;
          n.row   = '0;
        end
      end
      default: n.stage = WkDone;
    endcase
    return n;
  endfunction

  // The first segment with instructions from w on (w itself if it has some).
  function automatic walk_t walk_settle(walk_t w, seg_counts_t counts, logic [31:0] rows,
                                        logic [31:0] beats, logic [1:0] passes);
    walk_t n;
    n = w;
    for (int i = 0; i < SettleSteps; i++) begin
      if ((n.stage != WkDone) && (counts[seg_of(n.stage, n.pass)] == '0)) begin
        if (n.stage == WkBody) begin
          n.stage = WkEnd;  // an empty body: all its beats at once
          n.beat  = '0;
        end else begin
          n = walk_next(n, rows, beats, passes);
        end
      end
    end
    return n;
  endfunction

  // Counts of 0 count as 1; passes above MaxPasses count as MaxPasses.
  logic [31:0]                      rows, beats;
  logic [1:0]                       passes;
  seg_counts_t                      seg_count;
  logic [SimdSegments-1:0][InsnBits-1:0] seg_first;
  logic                             row_empty;

  assign rows   = (rows_i == '0) ? 32'd1 : rows_i;
  assign beats  = (beats_i == '0) ? 32'd1 : beats_i;
  assign passes = (passes_i == '0) ? 2'd1 : ((passes_i > MaxPasses) ? 2'(MaxPasses) : passes_i[1:0]);

  always_comb begin
    for (int s = 0; s < SimdSegments; s++) begin
      seg_first[s] = seg_i[s][InsnBits-1:0];  // instruction addresses wrap modulo 256
      seg_count[s] = seg_i[s][SegCountLsb +: CountBits];
    end
    // A row with no instruction: the rows loop is skipped (a huge simd_rows costs nothing).
    row_empty = (seg_count[0] == '0);
    for (int p = 0; p < MaxPasses; p++) begin
      if (32'(p) < 32'(passes)) begin
        row_empty = row_empty && (seg_count[1 + 2 * p] == '0) && (seg_count[2 + 2 * p] == '0);
      end
    end
  end

  logic unused_seg_first;
  always_comb begin
    unused_seg_first = 1'b0;
    for (int s = 0; s < SimdSegments; s++) begin
      unused_seg_first = unused_seg_first ^ (^seg_i[s][SegFirstBits-1:InsnBits]);
    end
  end

  // -----------------------------------------------------------------------------------------------
  // State.
  logic                          run_q, run_d;          // a SIMD walk is in progress
  walk_t                         walk_q, walk_d;
  logic [CountBits-1:0]          issued_q, issued_d;    // instructions issued in the segment
  simd_view_t [Lanes-1:0]        reg_q;                 // each lane's r0..r15, p0, p1
  logic                          load_q, load_d;        // a LOAD phase is in progress
  logic [31:0]                   loaded_q, loaded_d;    // beats loaded in it

  assign simd_o = run_q;
  assign view_o = reg_q;

  // -----------------------------------------------------------------------------------------------
  // The group: its instructions, read from program memory from the walk's position alone.
  logic [LenBits-1:0]  glen;      // instructions in the group
  logic                has_end;   // it ends with POP, PUSH, RSUM or RMAX (then its last)
  logic [31:0]         end_word, end_imm;
  logic                seg_done;  // the group is the segment's last

  always_comb begin
    logic [SegBits-1:0]         seg;
    logic [31:0]                remaining;
    logic [InsnBits-1:0]        idx;
    logic [Lanes-1:0][31:0]     word, imm;
    logic [SlotBits-1:0]        end_slot;
    logic [LenBits-1:0]         plain;

    seg         = '0;
    remaining   = '0;
    idx         = '0;
    word        = '0;
    imm         = '0;
    end_slot    = '0;
    plain       = '0;
    glen        = '0;
    has_end     = 1'b0;
    end_word    = '0;
    end_imm     = '0;
    seg_done    = 1'b0;
    slot_insn_o = '0;
    slot_imm_o  = '0;
    col_o       = '0;
    row_o       = '0;
    if (run_q) begin
      seg       = seg_of(walk_q.stage, walk_q.pass);
      remaining = 32'(seg_count[seg]) - 32'(issued_q);  // at least 1 while the walk runs
      for (int j = 0; j < Lanes; j++) begin
        idx     = seg_first[seg] + issued_q[InsnBits-1:0] + InsnBits'(j);
        word[j] = imem_q[{idx, 1'b0}];
        imm[j]  = imem_q[{idx, 1'b1}];
        if (!has_end && (32'(j) < remaining)) begin
          glen = LenBits'(j + 1);
          if (simd_ends_group(word[j][SimdFieldOpLsb +: SimdFieldOpWidth])) begin
            has_end  = 1'b1;
            end_slot = SlotBits'(j);
          end
        end
      end
      plain    = glen - LenBits'(has_end);
      end_word = word[end_slot];
      end_imm  = imm[end_slot];
      seg_done = (32'(glen) == remaining);
      for (int j = 0; j < Lanes; j++) begin
        slot_insn_o[j] = (LenBits'(j) < plain) ? word[j] : '0;
        slot_imm_o[j]  = imm[j];
        col_o[j]       = col_base_i + walk_q.beat * Lanes + 32'(j);
      end
      row_o = row_base_i + walk_q.row;
    end
  end

  // -----------------------------------------------------------------------------------------------
  // The group's ending, on each lane's state after its elementwise instructions. They are at most
  // Lanes - 1, so that state is the one after slot Lanes - 2 (the last slot runs a NOP, and its
  // adders are RSUM's tree).
  simd_insn_t             end_insn;
  logic [Lanes-1:0][31:0] end_value;  // src_a per lane: PUSH's beat, the trees' inputs
  logic [Lanes-1:0]       end_holds;  // the predicate per lane
  logic [31:0]            tree_result;
  fp_flags_t              tree_flags;

  assign end_insn = simd_decode(end_word);

  logic unused_end_insn;
  assign unused_end_insn = ^end_insn.src_b;  // the group-ending instructions read one source

  always_comb begin
    end_value = '0;
    end_holds = '0;
    if (run_q && has_end) begin
      for (int r = 0; r < Lanes; r++) begin
        end_value[r] = simd_operand(view_pre_i[r].r, end_insn.src_a, end_imm, col_o[r], row_o,
                                    32'(r));
        end_holds[r] = simd_pred_holds(view_pre_i[r].p0, view_pre_i[r].p1, end_insn.pred);
      end
    end
  end

  assign tree_mode_o = run_q && has_end && (32'(end_insn.op) == SimdOpRsum);
  assign tree_in_o   = end_value;

  // RMAX: sparrow_fp_max over the same tree (max units need no adder); RSUM: the array's tree.
  always_comb begin
    logic [Lanes-1:0][31:0] level;
    fp_minmax_t             node;
    tree_result = tree_sum_i;
    tree_flags  = tree_flags_i;
    level       = end_value;
    node        = '0;
    if (run_q && has_end && (32'(end_insn.op) == SimdOpRmax)) begin
      tree_flags = '0;
      for (int width = Lanes; width > 1; width = width / 2) begin
        for (int i = 0; i < width / 2; i++) begin
          node          = fp_minmax(level[2*i], level[2*i+1], 1'b1);
          level[i]      = node.value;
          tree_flags.nv = tree_flags.nv | node.nv;
        end
      end
      tree_result = level[0];
    end
  end

  // -----------------------------------------------------------------------------------------------
  // Output FIFO (PUSH).
  logic       out_push, out_empty, out_full, out_fire;
  logic [1:0] out_count;

  assign out_fire    = out_valid_o && out_ready_i;
  assign out_valid_o = !out_empty;

  sparrow_fifo #(
    .Width(BeatBits),
    .Depth(2)
  ) u_out_fifo (
    .clk_i,
    .rst_ni,
    .flush_i(abort_i),
    .push_i (out_push),
    .data_i (end_value),
    .pop_i  (out_fire),
    .data_o (out_data_o),
    .empty_o(out_empty),
    .full_o (out_full),
    .count_o(out_count)
  );

  logic unused_out_count;
  assign unused_out_count = ^out_count;

  // -----------------------------------------------------------------------------------------------
  // Issue, LOAD, and the next state. The registers take the array's result and the group's ending
  // when the group issues (below, in the flop block, so that nothing copies them otherwise).
  logic                   issue, load_write;
  logic                   end_pop, end_reduce;  // the group ends with a POP / a writing RSUM, RMAX
  logic [BeatBits-1:0]    pop_beat;
  fp_flags_t              end_flags;

  logic [PopPorts-1:0] in_empty;
  assign in_empty   = {c_empty_i, b_empty_i, a_empty_i};
  assign load_write = load_q && !a_empty_i;

  always_comb begin
    logic                 ready;
    logic [PopPorts-1:0]  pop;
    walk_t                start_walk;

    ready      = 1'b1;
    pop        = '0;
    pop_beat   = '0;
    end_pop    = 1'b0;
    end_reduce = 1'b0;
    out_push   = 1'b0;
    end_flags  = '0;
    start_walk = WalkStart;
    run_d      = run_q;
    walk_d     = walk_q;
    issued_d   = issued_q;
    load_d     = load_q;
    loaded_d   = loaded_q;

    if (run_q) begin
      if (has_end) begin
        unique case (32'(end_insn.op))
          SimdOpPop: begin
            // Every lane, not predicated; port 3 names no input and waits forever.
            end_pop = 1'b1;
            unique case (32'(end_insn.port))
              0: pop_beat = a_head_i;
              1: pop_beat = b_head_i;
              2: pop_beat = c_head_i;
              default: ;
            endcase
            ready = 1'b0;
            for (int p = 0; p < PopPorts; p++) begin
              if (32'(end_insn.port) == p) begin
                ready  = !in_empty[p];
                pop[p] = !in_empty[p];
              end
            end
          end
          SimdOpPush: begin
            out_push = end_holds[0];
            ready    = !end_holds[0] || !out_full;
          end
          SimdOpRsum, SimdOpRmax: begin
            end_reduce = (end_holds != '0);
            end_flags  = end_reduce ? tree_flags : '0;
          end
          default: ;
        endcase
      end
      if (ready) begin
        issued_d = issued_q + CountBits'(glen);
        if (seg_done) begin
          issued_d = '0;
          walk_d   = walk_settle(walk_next(walk_q, rows, beats, passes), seg_count, rows, beats,
                                 passes);
          run_d    = (walk_d.stage != WkDone);
        end
      end else begin
        out_push = 1'b0;
      end
    end
    issue = run_q && ready;

    if (load_write) begin
      loaded_d = loaded_q + 32'd1;
      load_d   = (loaded_q + 32'd1 < blocks_i);
      pop[0]   = 1'b1;
    end

    a_pop_o = pop[0];
    b_pop_o = pop[1];
    c_pop_o = pop[2];

    if (abort_i) begin
      run_d  = 1'b0;
      load_d = 1'b0;
    end else if (start_simd_i) begin
      start_walk = walk_settle(row_empty ? WalkEpilogue : WalkStart, seg_count, rows, beats,
                               passes);
      run_d      = (start_walk.stage != WkDone);
      walk_d     = start_walk;
      issued_d   = '0;
    end else if (start_load_i) begin
      load_d   = (blocks_i != '0);
      loaded_d = '0;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      run_q    <= 1'b0;
      walk_q   <= WalkStart;
      issued_q <= '0;
      load_q   <= 1'b0;
      loaded_q <= '0;
    end else begin
      run_q    <= run_d;
      walk_q   <= walk_d;
      issued_q <= issued_d;
      load_q   <= load_d;
      loaded_q <= loaded_d;
    end
  end

  // Registers and predicates start at 0 in every SIMD phase.
  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      reg_q <= '0;
    end else if (start_simd_i) begin
      reg_q <= '0;
    end else if (issue) begin
      for (int r = 0; r < Lanes; r++) begin
        reg_q[r] <= view_i[r];
        if (end_pop) begin
          reg_q[r].r[end_insn.dst] <= pop_beat[32*r +: 32];
        end
        if (end_reduce && end_holds[r]) begin
          reg_q[r].r[end_insn.dst] <= tree_result;
        end
      end
    end
  end

  // LOAD writes lane l of the beat to word (simd_load_base + loaded*Lanes + l) mod PcuImemWords.
  logic [ImemBits-1:0] load_first;
  assign load_first = load_base_i[ImemBits-1:0] + ImemBits'(loaded_q * Lanes);

  always_ff @(posedge clk_i) begin
    if (load_write) begin
      for (int l = 0; l < Lanes; l++) begin
        imem_q[load_first + ImemBits'(l)] <= a_head_i[32*l +: 32];
      end
    end
  end

  logic unused_load_base;
  assign unused_load_base = ^load_base_i[31:ImemBits];

  assign active_o = run_q || !out_empty || load_q;
  assign moved_o  = issue || out_fire || load_write;
  assign flags_o  = issue ? (chain_flags_i | end_flags) : '0;

endmodule
