// SPDX-License-Identifier: Apache-2.0
//
// Sparrow binary32 arithmetic: shared constants and types.
//
// The exception flags use the RISC-V fflags / Berkeley TestFloat bit order so that the hardware status,
// the C model (sim/model/sparrow_fp.h) and test-vector files all agree on one encoding.

package sparrow_fp_pkg;

  localparam int unsigned ExpBits = 8;
  localparam int unsigned ManBits = 23;
  localparam int unsigned SigBits = ManBits + 1;  // significand with the hidden bit
  localparam int unsigned Bias    = 127;

  // Signed width wide enough for every intermediate biased exponent of add and mul (mul spans
  // -171 .. 382 before rounding).
  localparam int unsigned ExpWideBits = ExpBits + 2;

  localparam logic [ExpBits-1:0] ExpMax        = '1;
  localparam logic [31:0]        CanonicalNaN  = 32'h7FC0_0000;

  // Exception flags, bit 4 .. bit 0 = NV DZ OF UF NX (as fflags and TestFloat).
  typedef struct packed {
    logic nv;  // invalid operation
    logic dz;  // divide by zero (never raised by add or mul; kept so the encoding is complete)
    logic of;  // overflow
    logic uf;  // underflow: tiny after rounding and inexact
    logic nx;  // inexact
  } fp_flags_t;

  // Operand classification, computed once per input.
  typedef struct packed {
    logic is_zero;
    logic is_subnormal;
    logic is_inf;
    logic is_nan;
    logic is_snan;
  } fp_class_t;

  function automatic fp_class_t fp_classify(logic [30:0] x);  // sign not needed
    fp_class_t c;
    logic exp_zero, exp_ones, man_zero;
    exp_zero       = (x[30:23] == '0);
    exp_ones       = (x[30:23] == ExpMax);
    man_zero       = (x[22:0] == '0);
    c.is_zero      = exp_zero & man_zero;
    c.is_subnormal = exp_zero & ~man_zero;
    c.is_inf       = exp_ones & man_zero;
    c.is_nan       = exp_ones & ~man_zero;
    c.is_snan      = exp_ones & ~man_zero & ~x[22];
    return c;
  endfunction

endpackage
