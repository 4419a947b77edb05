// SPDX-License-Identifier: Apache-2.0
//
// Types and functions of the PCU's SIMD mode (docs/fabric.md, "PCU SIMD mode") shared by the issue
// slots of the array (sparrow_pcu) and the sequencer (sparrow_pcu_simd). The comparisons mirror
// sim/model/sparrow_fp_special.c exactly: max/min order -0 below +0 and return the canonical NaN for
// any NaN operand; the quiet compare treats -0 and +0 as equal and a NaN as unordered; all three
// raise NV for a signalling NaN and nothing else.

package sparrow_simd_pkg;
  import sparrow_hw_pkg::*;
  import sparrow_fp_pkg::*;

  localparam logic [31:0] SignBit = 32'h8000_0000;

  // One lane's state as an issue slot sees it: the registers and predicates as updated by the
  // slots before it in the group. The predicates fill a 32-bit word of their own (zero is always 0)
  // so that a lane's state is whole words: the simulation then moves it without shifting.
  typedef struct packed {
    logic [29:0]               zero;
    logic                      p1;
    logic                      p0;
    logic [SimdRegs-1:0][31:0] r;
  } simd_view_t;

  typedef struct packed {
    logic [SimdFieldOpWidth-1:0]   op;
    logic [SimdFieldDstWidth-1:0]  dst;
    logic [SimdFieldSrcAWidth-1:0] src_a;
    logic [SimdFieldSrcBWidth-1:0] src_b;
    logic [SimdFieldPredWidth-1:0] pred;
    logic [SimdFieldPortWidth-1:0] port;
  } simd_insn_t;

  function automatic simd_insn_t simd_decode(logic [31:0] word);
    simd_insn_t insn;
    logic       unused_bits;
    insn.op    = word[SimdFieldOpLsb   +: SimdFieldOpWidth];
    insn.dst   = word[SimdFieldDstLsb  +: SimdFieldDstWidth];
    insn.src_a = word[SimdFieldSrcALsb +: SimdFieldSrcAWidth];
    insn.src_b = word[SimdFieldSrcBLsb +: SimdFieldSrcBWidth];
    insn.pred  = word[SimdFieldPredLsb +: SimdFieldPredWidth];
    insn.port  = word[SimdFieldPortLsb +: SimdFieldPortWidth];
    unused_bits = ^word[31:SimdFieldPortLsb+SimdFieldPortWidth];
    return insn;
  endfunction

  // POP, PUSH, RSUM and RMAX end an issue group (docs/fabric.md, "Timing").
  function automatic logic simd_ends_group(logic [SimdFieldOpWidth-1:0] op);
    return (32'(op) == SimdOpPop) || (32'(op) == SimdOpPush) || (32'(op) == SimdOpRsum) ||
           (32'(op) == SimdOpRmax);
  endfunction

  // A source operand: r0..r15, the immediate, COL, ROW, LANE; other codes read 0.
  function automatic logic [31:0] simd_operand(logic [SimdRegs-1:0][31:0] regs,
                                               logic [SimdFieldSrcAWidth-1:0] code,
                                               logic [31:0] imm, logic [31:0] col,
                                               logic [31:0] row, logic [31:0] lane);
    logic [31:0] value;
    if (32'(code) < SimdRegs) begin
      value = regs[code[$clog2(SimdRegs)-1:0]];
    end else begin
      unique case (32'(code))
        SimdSrcImm:  value = imm;
        SimdSrcCol:  value = col;
        SimdSrcRow:  value = row;
        SimdSrcLane: value = lane;
        default:     value = '0;
      endcase
    end
    return value;
  endfunction

  function automatic logic simd_pred_holds(logic p0, logic p1,
                                           logic [SimdFieldPredWidth-1:0] pred);
    logic holds;
    unique case (32'(pred))
      SimdPredP0:    holds = p0;
      SimdPredNotP0: holds = !p0;
      SimdPredP1:    holds = p1;
      default:       holds = 1'b1;  // always
    endcase
    return holds;
  endfunction

  // ---------------------------------------------------------------------------------------------
  // Comparisons (sparrow_fp_max / _min / _cmp).
  function automatic logic fp_is_nan(logic [31:0] x);
    return (x & 32'h7FFF_FFFF) > 32'h7F80_0000;  // the sign does not matter
  endfunction

  function automatic logic fp_is_snan(logic [31:0] x);
    return fp_is_nan(x) && !x[22];
  endfunction

  // The total order with -0 < +0 (non-NaN values) as an unsigned key: negative values inverted,
  // positive ones above them.
  function automatic logic [31:0] fp_order_key(logic [31:0] x);
    return x[31] ? ~x : (x | SignBit);
  endfunction

  typedef struct packed {
    logic        nv;
    logic [31:0] value;
  } fp_minmax_t;

  // max (is_max) or min of a and b, exactly; NaN operands give the canonical NaN. Equal keys are
  // equal bit patterns, so which operand a tie returns does not matter.
  function automatic fp_minmax_t fp_minmax(logic [31:0] a, logic [31:0] b, logic is_max);
    fp_minmax_t res;
    logic       a_above;
    res.nv  = fp_is_snan(a) || fp_is_snan(b);
    a_above = fp_order_key(a) > fp_order_key(b);
    if (fp_is_nan(a) || fp_is_nan(b)) begin
      res.value = CanonicalNaN;
    end else begin
      res.value = (a_above == is_max) ? a : b;
    end
    return res;
  endfunction

  // Quiet a < b: false when unordered; -0 and +0 are equal.
  function automatic logic fp_less(logic [31:0] a, logic [31:0] b);
    logic both_zero;
    both_zero = (a[30:0] == '0) && (b[30:0] == '0);
    return !fp_is_nan(a) && !fp_is_nan(b) && !both_zero && (fp_order_key(a) < fp_order_key(b));
  endfunction

  // ---------------------------------------------------------------------------------------------
  // One issue slot of one lane: the effect of an elementwise instruction on the lane's state, given
  // its operands and the results of the slot's multiplier and adder (which computed mul(a, b) and
  // add(a, b), add(a, -b) for FSUB). Where the predicate fails, or for NOP and the opcodes the table
  // does not define, nothing changes and no flag is raised. The group-ending instructions never
  // reach a slot.
  typedef struct packed {
    simd_view_t view;
    fp_flags_t  flags;
  } simd_slot_t;

  function automatic simd_slot_t simd_slot(simd_view_t view, logic [SimdFieldOpWidth-1:0] op,
                                           logic [SimdFieldDstWidth-1:0] dst,
                                           logic [SimdFieldPredWidth-1:0] pred, logic [31:0] a,
                                           logic [31:0] b, logic [31:0] sum, fp_flags_t add_flags,
                                           logic [31:0] product, fp_flags_t mul_flags);
    simd_slot_t out;
    logic       wr;     // writes r[dst]
    logic       wr_p;   // writes p[dst bit 0]
    logic [31:0] value;
    logic       cond;
    fp_minmax_t mm;

    out.view  = view;
    out.flags = '0;
    wr        = 1'b1;
    wr_p      = 1'b0;
    value     = '0;
    cond      = 1'b0;
    mm        = fp_minmax(a, b, 32'(op) == SimdOpFmax);
    unique case (32'(op))
      SimdOpFadd, SimdOpFsub: begin
        value     = sum;
        out.flags = add_flags;
      end
      SimdOpFmul: begin
        value     = product;
        out.flags = mul_flags;
      end
      SimdOpFmax, SimdOpFmin: begin
        value        = mm.value;
        out.flags.nv = mm.nv;
      end
      SimdOpMov:  value = a;
      SimdOpSel:  value = view.p0 ? a : b;
      SimdOpIadd: value = a + b;
      SimdOpIsub: value = a - b;
      SimdOpAnd:  value = a & b;
      SimdOpOr:   value = a | b;
      SimdOpXor:  value = a ^ b;
      SimdOpShl:  value = a << b[4:0];
      SimdOpShr:  value = a >> b[4:0];
      SimdOpSar:  value = 32'($signed(a) >>> b[4:0]);
      SimdOpClts, SimdOpCltu, SimdOpCeq, SimdOpFclt: begin
        wr   = 1'b0;
        wr_p = 1'b1;
        unique case (32'(op))
          SimdOpClts: cond = $signed(a) < $signed(b);
          SimdOpCltu: cond = a < b;
          SimdOpCeq:  cond = a == b;
          default: begin
            cond         = fp_less(a, b);
            out.flags.nv = fp_is_snan(a) || fp_is_snan(b);
          end
        endcase
      end
      default: wr = 1'b0;  // NOP and the undefined opcodes
    endcase
    if (!simd_pred_holds(view.p0, view.p1, pred)) begin
      wr        = 1'b0;
      wr_p      = 1'b0;
      out.flags = '0;
    end
    if (wr) begin
      out.view.r[dst] = value;
    end
    // Compares write the predicate that bit 0 of dst names.
    if (wr_p && dst[0]) begin
      out.view.p1 = cond;
    end
    if (wr_p && !dst[0]) begin
      out.view.p0 = cond;
    end
    return out;
  endfunction

endpackage
