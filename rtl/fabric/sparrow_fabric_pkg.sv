// SPDX-License-Identifier: Apache-2.0
//
// Types shared by the fabric's units (the numbers themselves come from the generated
// sparrow_hw_pkg).

package sparrow_fabric_pkg;
  import sparrow_hw_pkg::LoopLevels;

  // The persistent configuration registers of one address-generating channel (an AGCU channel or a
  // PMU port; docs/fabric.md, "Address generators" and "PMU"). The gather and target fields exist
  // only on PMU ports; an AGCU channel, which has no such registers, reports them as 0.
  typedef struct packed {
    logic [31:0]                 base;
    logic [LoopLevels-1:0][31:0] count;
    logic [LoopLevels-1:0][31:0] stride;
    logic                        gather;     // read ports: walk the index list, not the affine nest
    logic [31:0]                 idx_base;   // gather: first index word of the list
    logic [31:0]                 idx_count;  // gather: index words in the list (0 = none)
    logic                        target;     // write ports: bit 0 of port_target (1 = index)
  } agen_regs_t;

endpackage
