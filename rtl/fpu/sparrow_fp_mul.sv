// SPDX-License-Identifier: Apache-2.0
//
// IEEE-754 binary32 multiplier, combinational: round to nearest-even, subnormals in and out, tininess
// after rounding, canonical quiet NaN, IEEE exception flags.
//
// Datapath: the exact 48-bit product of the two significands (subnormals keep their leading zeros),
// normalized with a leading-zero count, then the shared rounding stage, which also performs the right
// shift of gradual underflow. The product is exact, so no sticky bit enters the rounding stage.

module sparrow_fp_mul
  import sparrow_fp_pkg::*;
(
  input  logic [31:0] a_i,
  input  logic [31:0] b_i,
  output logic [31:0] result_o,
  output fp_flags_t   flags_o
);

  localparam int unsigned ProdBits = 2 * SigBits;
  localparam int unsigned LzcBits  = $clog2(ProdBits + 1);

  fp_class_t a_class, b_class;
  assign a_class = fp_classify(a_i[30:0]);
  assign b_class = fp_classify(b_i[30:0]);

  logic sign;
  assign sign = a_i[31] ^ b_i[31];

  // Subnormals use the exponent of the smallest normal and a clear hidden bit.
  logic [ExpBits-1:0] a_exp, b_exp;
  logic [SigBits-1:0] a_sig, b_sig;
  assign a_exp = a_class.is_subnormal ? ExpBits'(1) : a_i[30:23];
  assign b_exp = b_class.is_subnormal ? ExpBits'(1) : b_i[30:23];
  assign a_sig = {a_i[30:23] != '0, a_i[22:0]};
  assign b_sig = {b_i[30:23] != '0, b_i[22:0]};

  logic [ProdBits-1:0] product, product_norm;
  assign product = ProdBits'(a_sig) * ProdBits'(b_sig);

  logic [LzcBits-1:0] lead_zeros;
  logic               product_zero;

  sparrow_fp_lzc #(
    .Width(ProdBits)
  ) u_lzc (
    .in_i   (product),
    .count_o(lead_zeros),
    .empty_o(product_zero)
  );

  // The product's MSB (bit ProdBits-1) weighs 2^(a_exp + b_exp - 2*Bias + 1); in biased form that is
  // a_exp + b_exp - Bias + 1, i.e. a_exp + b_exp - 126 before normalization.
  logic signed [ExpWideBits-1:0] product_exp;
  assign product_norm = product << lead_zeros;
  assign product_exp  = ExpWideBits'(a_exp) + ExpWideBits'(b_exp) - ExpWideBits'(Bias - 1)
                      - ExpWideBits'(lead_zeros);

  logic [31:0] rounded;
  logic        round_of, round_uf, round_nx;

  sparrow_fp_round #(
    .Width(ProdBits)
  ) u_round (
    .sign_i  (sign),
    .exp_i   (product_exp),
    .sig_i   (product_norm),
    .sticky_i(1'b0),
    .result_o(rounded),
    .of_o    (round_of),
    .uf_o    (round_uf),
    .nx_o    (round_nx)
  );

  logic any_nan, any_snan, inf_times_zero, any_inf;
  assign any_nan        = a_class.is_nan | b_class.is_nan;
  assign any_snan       = a_class.is_snan | b_class.is_snan;
  assign any_inf        = a_class.is_inf | b_class.is_inf;
  assign inf_times_zero = (a_class.is_inf & b_class.is_zero) | (a_class.is_zero & b_class.is_inf);

  always_comb begin
    flags_o = '0;
    if (any_nan || inf_times_zero) begin
      result_o   = CanonicalNaN;
      flags_o.nv = any_snan | inf_times_zero;
    end else if (any_inf) begin
      result_o = {sign, ExpMax, {ManBits{1'b0}}};
    end else if (product_zero) begin
      result_o = {sign, 31'b0};  // a zero operand: exact signed zero
    end else begin
      result_o   = rounded;
      flags_o.of = round_of;
      flags_o.uf = round_uf;
      flags_o.nx = round_nx;
    end
  end

endmodule
