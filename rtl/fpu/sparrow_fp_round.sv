// SPDX-License-Identifier: Apache-2.0
//
// Round-and-pack stage shared by the binary32 adder and multiplier.
//
// Input: a finite, non-zero value  sig_i[Width-1].sig_i[Width-2:0] x 2^(exp_i - Bias),  normalized so
// sig_i[Width-1] = 1, plus sticky_i for any nonzero bits already dropped below sig_i. exp_i is the biased
// exponent before range reduction and may lie far outside 1..254.
//
// Output: the binary32 result rounded to nearest, ties to even, with gradual underflow, and the
// overflow / underflow / inexact flags. Tininess is detected after rounding: the value is tiny when,
// rounded to 24 bits with an unbounded exponent, it is still below 2^-126.

module sparrow_fp_round
  import sparrow_fp_pkg::*;
#(
  parameter int unsigned Width = 28  // significand bits in; at least SigBits + 2
) (
  input  logic                          sign_i,
  input  logic signed [ExpWideBits-1:0] exp_i,
  input  logic [Width-1:0]              sig_i,
  input  logic                          sticky_i,
  output logic [31:0]                   result_o,
  output logic                          of_o,
  output logic                          uf_o,
  output logic                          nx_o
);

  localparam int unsigned LowBits   = Width - SigBits;  // guard bit and the bits below it
  localparam int unsigned ShiftBits = $clog2(Width + 2);
  // Right shifts of Width + 1 or more leave only sticky bits; larger distances saturate here.
  localparam int unsigned ShiftMax  = Width + 1;
  localparam int unsigned PackBits  = ExpWideBits + ManBits;

  // ---------------------------------------------------------------------------------------------
  // Tininess: round the normalized input to 24 bits as if the exponent range were unbounded.
  logic [SigBits-1:0] full_kept;
  logic               full_guard, full_sticky, full_round_up, full_carry;
  assign full_kept     = sig_i[Width-1 -: SigBits];
  assign full_guard    = sig_i[LowBits-1];
  assign full_sticky   = sticky_i | (LowBits > 1 ? |sig_i[LowBits-2:0] : 1'b0);
  assign full_round_up = full_guard & (full_sticky | full_kept[0]);
  assign full_carry    = full_round_up & (&full_kept);

  logic tiny;
  assign tiny = (exp_i < 0) | ((exp_i == 0) & ~full_carry);

  // ---------------------------------------------------------------------------------------------
  // Gradual underflow: below the normal range, shift right so the exponent field becomes 0.
  logic                   denormal;
  logic [ShiftBits-1:0]   shift;
  logic signed [ExpWideBits:0] shift_wide;
  localparam logic signed [ExpWideBits:0] ShiftLimit = (ExpWideBits + 1)'(ShiftMax);
  assign denormal   = (exp_i < 1);
  assign shift_wide = (ExpWideBits + 1)'(1) - (ExpWideBits + 1)'(exp_i);
  assign shift      = !denormal                       ? '0 :
                      (shift_wide > ShiftLimit)       ? ShiftBits'(ShiftMax) :
                                                        ShiftBits'(shift_wide);

  logic [Width-1:0] sig_shifted, shifted_out_mask;
  logic             shifted_out;
  assign sig_shifted      = sig_i >> shift;
  assign shifted_out_mask = ~({Width{1'b1}} << shift);
  assign shifted_out      = |(sig_i & shifted_out_mask);

  // ---------------------------------------------------------------------------------------------
  // Round to nearest, ties to even, at the final precision.
  logic [SigBits-1:0] kept;
  logic               guard, sticky, round_up;
  assign kept     = sig_shifted[Width-1 -: SigBits];
  assign guard    = sig_shifted[LowBits-1];
  assign sticky   = sticky_i | shifted_out | (LowBits > 1 ? |sig_shifted[LowBits-2:0] : 1'b0);
  assign round_up = guard & (sticky | kept[0]);

  // Packing adds the rounded significand (hidden bit included) onto exponent-1: a set hidden bit
  // restores the exponent, and a rounding carry out of the significand bumps it once more. The same
  // addition turns a subnormal that rounds up to 2^-126 into the smallest normal.
  logic [PackBits-1:0] exp_base, packed_sum;
  logic [ExpWideBits-1:0] packed_exp;
  assign exp_base   = denormal ? '0 : {ExpWideBits'(exp_i - ExpWideBits'(1)), {ManBits{1'b0}}};
  assign packed_sum = exp_base + PackBits'(kept) + PackBits'(round_up);
  assign packed_exp = packed_sum[PackBits-1 -: ExpWideBits];

  logic inexact, overflow;
  assign inexact  = guard | sticky;
  assign overflow = (packed_exp >= ExpWideBits'(ExpMax));

  always_comb begin
    if (overflow) begin
      // Round to nearest sends every overflow to infinity.
      result_o = {sign_i, ExpMax, {ManBits{1'b0}}};
    end else begin
      result_o = {sign_i, packed_sum[ExpBits+ManBits-1:0]};
    end
  end

  assign of_o = overflow;
  assign uf_o = tiny & inexact;
  assign nx_o = inexact | overflow;

endmodule
