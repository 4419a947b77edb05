// SPDX-License-Identifier: Apache-2.0
//
// IEEE-754 binary32 adder, combinational: round to nearest-even, subnormals in and out, tininess after
// rounding, canonical quiet NaN, IEEE exception flags. Subtraction is addition of a negated operand.
//
// Datapath: order the operands by magnitude, align the smaller one into a significand extended by a
// guard, a round and a sticky bit (the sticky bit ORs everything shifted further out), add or subtract,
// normalize with a leading-zero count and hand the exact-or-sticky sum to the shared rounding stage.
// Three extra bits are enough: with an exponent gap of 2 or more at most one bit cancels, and with a
// gap of 0 or 1 nothing is shifted out.

module sparrow_fp_add
  import sparrow_fp_pkg::*;
(
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic [31:0] result_o,
  output fp_flags_t   flags_o
);

  localparam int unsigned ExtBits  = SigBits + 3;  // significand, guard, round, sticky
  localparam int unsigned SumBits  = ExtBits + 1;  // plus the carry of an addition
  localparam int unsigned LzcBits  = $clog2(SumBits + 1);

  fp_class_t a_class, b_class;
  assign a_class = fp_classify(a_i[30:0]);
  assign b_class = fp_classify(b_i[30:0]);

  // The datapath finds zeros and subnormals of the ordered operands itself.
  logic unused_class;
  assign unused_class = ^{a_class.is_zero, a_class.is_subnormal, b_class.is_zero, b_class.is_subnormal};

  // ---------------------------------------------------------------------------------------------
  // Order by magnitude: for finite values, the integer order of bits [30:0] is the magnitude order.
  logic        swap;
  logic [31:0] larger;
  logic [30:0] smaller;  // its sign only matters through `subtract`
  assign swap    = (b_i[30:0] > a_i[30:0]);
  assign larger  = swap ? b_i : a_i;
  assign smaller = swap ? a_i[30:0] : b_i[30:0];

  // Subnormals and zeros share the exponent of the smallest normal; only their hidden bit differs.
  logic [ExpBits-1:0] larger_exp, smaller_exp;
  logic [SigBits-1:0] larger_sig, smaller_sig;
  assign larger_exp   = (larger[30:23] == '0) ? ExpBits'(1) : larger[30:23];
  assign smaller_exp = (smaller[30:23] == '0) ? ExpBits'(1) : smaller[30:23];
  assign larger_sig   = {larger[30:23] != '0, larger[22:0]};
  assign smaller_sig = {smaller[30:23] != '0, smaller[22:0]};

  // ---------------------------------------------------------------------------------------------
  // Alignment.
  logic [ExpBits-1:0] exp_gap;
  logic [ExtBits-1:0] larger_ext, smaller_ext, smaller_aligned, smaller_lost_mask;
  logic               smaller_sticky;
  assign exp_gap         = larger_exp - smaller_exp;
  assign larger_ext         = {larger_sig, 3'b000};
  assign smaller_ext       = {smaller_sig, 3'b000};
  assign smaller_aligned   = smaller_ext >> exp_gap;
  assign smaller_lost_mask = ~({ExtBits{1'b1}} << exp_gap);
  assign smaller_sticky    = |(smaller_ext & smaller_lost_mask);

  // ---------------------------------------------------------------------------------------------
  // Add or subtract magnitudes.
  logic               subtract;
  logic [SumBits-1:0] sum;
  assign subtract = a_i[31] ^ b_i[31];
  always_comb begin
    if (subtract) begin
      sum = {1'b0, larger_ext} - {1'b0, smaller_aligned[ExtBits-1:1], smaller_aligned[0] | smaller_sticky};
    end else begin
      sum = {1'b0, larger_ext} + {1'b0, smaller_aligned[ExtBits-1:1], smaller_aligned[0] | smaller_sticky};
    end
  end

  // ---------------------------------------------------------------------------------------------
  // Normalize and round.
  logic [LzcBits-1:0]            lead_zeros;
  logic                          sum_zero;
  logic [SumBits-1:0]            sum_norm;
  logic signed [ExpWideBits-1:0] sum_exp;

  sparrow_fp_lzc #(
    .Width(SumBits)
  ) u_lzc (
    .in_i   (sum),
    .count_o(lead_zeros),
    .empty_o(sum_zero)
  );

  assign sum_norm = sum << lead_zeros;
  // The sum's MSB (bit SumBits-1) weighs 2^(larger_exp - Bias + 1).
  assign sum_exp  = ExpWideBits'(larger_exp) + ExpWideBits'(1) - ExpWideBits'(lead_zeros);

  logic [31:0] rounded;
  logic        round_of, round_uf, round_nx;

  sparrow_fp_round #(
    .Width(SumBits)
  ) u_round (
    .sign_i  (larger[31]),
    .exp_i   (sum_exp),
    .sig_i   (sum_norm),
    .sticky_i(1'b0),
    .result_o(rounded),
    .of_o    (round_of),
    .uf_o    (round_uf),
    .nx_o    (round_nx)
  );

  // ---------------------------------------------------------------------------------------------
  // Special operands and exact zero.
  logic any_nan, any_snan, inf_minus_inf;
  assign any_nan       = a_class.is_nan | b_class.is_nan;
  assign any_snan      = a_class.is_snan | b_class.is_snan;
  assign inf_minus_inf = a_class.is_inf & b_class.is_inf & subtract;

  always_comb begin
    flags_o = '0;
    if (any_nan || inf_minus_inf) begin
      result_o   = CanonicalNaN;
      flags_o.nv = any_snan | inf_minus_inf;
    end else if (a_class.is_inf || b_class.is_inf) begin
      result_o = larger;  // the infinite operand has the larger magnitude
    end else if (sum_zero) begin
      // An exact zero sum is +0 under round-to-nearest, except -0 + -0.
      result_o = {a_i[31] & b_i[31], 31'b0};
    end else begin
      result_o   = rounded;
      flags_o.of = round_of;
      flags_o.uf = round_uf;
      flags_o.nx = round_nx;
    end
  end

endmodule
