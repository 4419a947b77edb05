// SPDX-License-Identifier: Apache-2.0
//
// Leading-zero counter: the number of zero bits above the most significant one of in_i.
// An all-zero input yields Width and raises empty_o.

module sparrow_fp_lzc #(
  parameter int unsigned Width    = 32,
  localparam int unsigned CntBits = $clog2(Width + 1)
) (
  input  logic [Width-1:0]   in_i,
  output logic [CntBits-1:0] count_o,
  output logic               empty_o
);

  // A priority scan from the LSB upwards leaves the position of the highest set bit; synthesis turns
  // it into the usual log-depth tree.
  always_comb begin
    count_o = CntBits'(Width);
    for (int unsigned i = 0; i < Width; i++) begin
      if (in_i[i]) begin
        count_o = CntBits'(Width - 1 - i);
      end
    end
  end

  assign empty_o = (in_i == '0);

endmodule
