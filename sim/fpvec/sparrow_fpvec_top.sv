// SPDX-License-Identifier: Apache-2.0
//
// Test harness for the binary32 units: Lanes adders and Lanes multipliers side by side, one register
// stage on the outputs, so that sparrow-fpvec can stream Lanes vectors per clock through the same
// units the fabric's PCUs instantiate.

module sparrow_fpvec_top
  import sparrow_fp_pkg::*;
#(
  parameter int unsigned Lanes = 8
) (
  input  logic                  clk_i,
  input  logic                  rst_ni,
  input  logic                  valid_i,
  input  logic                  op_mul_i,  // 0: a + b, 1: a * b
  input  logic [Lanes-1:0][31:0] a_i,
  input  logic [Lanes-1:0][31:0] b_i,
  output logic                  valid_o,
  output logic [Lanes-1:0][31:0] result_o,
  output fp_flags_t [Lanes-1:0] flags_o
);

  logic [Lanes-1:0][31:0] result_d, result_q;
  fp_flags_t [Lanes-1:0]  flags_d, flags_q;
  logic                   valid_q;

  for (genvar lane = 0; lane < Lanes; lane++) begin : gen_lane
    logic [31:0] sum, product;
    fp_flags_t   sum_flags, product_flags;

    sparrow_fp_add u_add (
      .a_i     (a_i[lane]),
      .b_i     (b_i[lane]),
      .result_o(sum),
      .flags_o (sum_flags)
    );

    sparrow_fp_mul u_mul (
      .a_i     (a_i[lane]),
      .b_i     (b_i[lane]),
      .result_o(product),
      .flags_o (product_flags)
    );

    assign result_d[lane] = op_mul_i ? product : sum;
    assign flags_d[lane]  = op_mul_i ? product_flags : sum_flags;
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      valid_q  <= 1'b0;
      result_q <= '0;
      flags_q  <= '0;
    end else begin
      valid_q <= valid_i;
      if (valid_i) begin
        result_q <= result_d;
        flags_q  <= flags_d;
      end
    end
  end

  assign valid_o  = valid_q;
  assign result_o = result_q;
  assign flags_o  = flags_q;

endmodule
