// SPDX-License-Identifier: Apache-2.0
//
// Stream switch: a crossbar of valid/ready streams. Switch register d (a destination id) holds
// `enable << SwitchRouteEnableBit | source`. A source advances only when every enabled destination
// routed to it is ready, and each of those destinations sees valid only in that cycle, so a multicast
// beat is delivered exactly once to each of them (no loss, no duplication). A source with no route
// never advances. Routes persist until rewritten or cleared by a soft reset.
//
// Purely combinational besides the route registers. This is loop-free because no unit's ready depends
// on its valid input.

module sparrow_switch
  import sparrow_hw_pkg::*;
#(
  parameter int unsigned Tiles = ConfigMTiles,
  parameter int unsigned Lanes = ConfigMLanes,
  localparam int unsigned NumSrc = Tiles * SwitchSrcPerTile,
  localparam int unsigned NumDst = Tiles * SwitchDstPerTile,
  localparam int unsigned BeatBits = Lanes * 32
) (
  input  logic                             clk_i,
  input  logic                             rst_ni,
  // Configuration bus.
  input  logic                             cfg_valid_i,
  input  logic [7:0]                       cfg_unit_i,
  input  logic [15:0]                      cfg_reg_i,
  input  logic [31:0]                      cfg_value_i,
  input  logic                             cfg_clear_i,
  // Sources.
  input  logic [NumSrc-1:0]                src_valid_i,
  input  logic [NumSrc-1:0][BeatBits-1:0]  src_data_i,
  output logic [NumSrc-1:0]                src_ready_o,
  // Destinations.
  output logic [NumDst-1:0]                dst_valid_o,
  output logic [NumDst-1:0][BeatBits-1:0]  dst_data_o,
  input  logic [NumDst-1:0]                dst_ready_i,
  // A beat left some source this cycle (watchdog progress).
  output logic                             beat_o
);

  logic [NumDst-1:0]       route_en_q;
  logic [NumDst-1:0][7:0]  route_src_q;
  logic                    cfg_hit;

  localparam int unsigned DstBits = $clog2(NumDst);

  assign cfg_hit = cfg_valid_i && (cfg_unit_i == 8'(UnitSwitch)) && (32'(cfg_reg_i) < NumDst);

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      route_en_q  <= '0;
      route_src_q <= {NumDst{8'(SwNoSource)}};
    end else if (cfg_clear_i) begin
      route_en_q  <= '0;
      route_src_q <= {NumDst{8'(SwNoSource)}};
    end else if (cfg_hit) begin
      route_en_q[cfg_reg_i[DstBits-1:0]]  <= cfg_value_i[SwitchRouteEnableBit];
      route_src_q[cfg_reg_i[DstBits-1:0]] <= cfg_value_i[7:0];
    end
  end

  // A destination with a route to a source that does not exist never receives anything.
  logic [NumDst-1:0] route_live;
  always_comb begin
    for (int d = 0; d < NumDst; d++) begin
      route_live[d] = route_en_q[d] && (32'(route_src_q[d]) < NumSrc);
    end
  end

  // Source s may advance when it has at least one live route and all its destinations are ready.
  always_comb begin
    for (int s = 0; s < NumSrc; s++) begin
      logic routed, all_ready;
      routed    = 1'b0;
      all_ready = 1'b1;
      for (int d = 0; d < NumDst; d++) begin
        if (route_live[d] && (32'(route_src_q[d]) == s)) begin
          routed    = 1'b1;
          all_ready = all_ready & dst_ready_i[d];
        end
      end
      src_ready_o[s] = routed & all_ready;
    end
  end

  localparam int unsigned SrcBits = $clog2(NumSrc);

  always_comb begin
    for (int d = 0; d < NumDst; d++) begin
      logic [SrcBits-1:0] sel;
      sel            = route_src_q[d][SrcBits-1:0];
      dst_valid_o[d] = route_live[d] && src_valid_i[sel] && src_ready_o[sel];
      dst_data_o[d]  = src_data_i[sel];
    end
  end

  assign beat_o = |(src_valid_i & src_ready_o);

endmodule
