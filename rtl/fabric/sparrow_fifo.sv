// SPDX-License-Identifier: Apache-2.0
//
// Synchronous FIFO: first-word-fall-through (data_o shows the head while not empty). A push and a pop
// in the same cycle are both honoured, also when full (the pop frees the slot the push fills).
// flush_i empties the FIFO; a push in the same cycle is dropped.

module sparrow_fifo #(
  parameter int unsigned Width = 32,
  parameter int unsigned Depth = 2,  // at least 2
  localparam int unsigned PtrBits   = $clog2(Depth),
  localparam int unsigned CountBits = $clog2(Depth + 1)
) (
  input  logic                 clk_i,
  input  logic                 rst_ni,
  input  logic                 flush_i,
  input  logic                 push_i,
  input  logic [Width-1:0]     data_i,
  input  logic                 pop_i,   // only while !empty_o
  output logic [Width-1:0]     data_o,
  output logic                 empty_o,
  output logic                 full_o,
  output logic [CountBits-1:0] count_o
);

  logic [Width-1:0]     mem_q[Depth];
  logic [PtrBits-1:0]   rd_ptr_q, rd_ptr_d, wr_ptr_q, wr_ptr_d;
  logic [CountBits-1:0] count_q, count_d;
  logic                 do_push, do_pop;

  function automatic logic [PtrBits-1:0] ptr_next(logic [PtrBits-1:0] ptr);
    return (ptr == PtrBits'(Depth - 1)) ? '0 : ptr + 1'b1;
  endfunction

  assign empty_o = (count_q == '0);
  assign full_o  = (count_q == CountBits'(Depth));
  assign count_o = count_q;
  assign data_o  = mem_q[rd_ptr_q];

  assign do_pop  = pop_i & ~empty_o;
  assign do_push = push_i & (~full_o | do_pop);

  always_comb begin
    rd_ptr_d = rd_ptr_q;
    wr_ptr_d = wr_ptr_q;
    count_d  = count_q;
    if (flush_i) begin
      rd_ptr_d = '0;
      wr_ptr_d = '0;
      count_d  = '0;
    end else begin
      if (do_pop) begin
        rd_ptr_d = ptr_next(rd_ptr_q);
      end
      if (do_push) begin
        wr_ptr_d = ptr_next(wr_ptr_q);
      end
      count_d = count_q + CountBits'(do_push) - CountBits'(do_pop);
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      rd_ptr_q <= '0;
      wr_ptr_q <= '0;
      count_q  <= '0;
    end else begin
      rd_ptr_q <= rd_ptr_d;
      wr_ptr_q <= wr_ptr_d;
      count_q  <= count_d;
    end
  end

  // Storage needs no reset: count_q says which entries hold data.
  always_ff @(posedge clk_i) begin
    if (do_push && !flush_i) begin
      mem_q[wr_ptr_q] <= data_i;
    end
  end

endmodule
