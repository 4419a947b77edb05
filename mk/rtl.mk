# SPDX-License-Identifier: Apache-2.0
#
# The fabric RTL (rtl/fabric/, docs/fabric.md): one Verilated model per configuration, and its bench.
#
# For the SystemC platform: FABRIC_MDIR_<C> (add -I$(FABRIC_MDIR_<C>)), FABRIC_MODEL_<C> (the model
# archive, class Vsparrow_fabric_<C>), and VERILATOR_FST_RUNTIME (the models are built with
# --trace-fst: link that object and -lz besides $(VERILATOR_RUNTIME)).

# Order matters: packages first, helpers before the units that use them, the top last.
FABRIC_SV := $(addprefix rtl/fabric/,sparrow_fabric_pkg.sv sparrow_simd_pkg.sv \
               sparrow_fifo.sv sparrow_addr_gen.sv sparrow_agen_channel.sv \
               sparrow_switch.sv \
               sparrow_agcu.sv sparrow_pmu_gather.sv sparrow_pmu.sv \
               sparrow_pcu_simd.sv sparrow_pcu.sv \
               sparrow_perf_counters.sv \
               sparrow_fabric_ctrl.sv sparrow_fabric.sv)
LINT_TOPS_PER_CONFIG += sparrow_fabric

FABRIC_MDIR_S  := $(OBJ)/verilated/sparrow_fabric_S
FABRIC_MDIR_M  := $(OBJ)/verilated/sparrow_fabric_M
FABRIC_MODEL_S := $(FABRIC_MDIR_S)/Vsparrow_fabric_S__ALL.a
FABRIC_MODEL_M := $(FABRIC_MDIR_M)/Vsparrow_fabric_M__ALL.a

FABRIC_VFLAGS := --cc --build -j 2 -O3 --x-assign fast --x-initial fast --trace-fst -Wall \
                 rtl/lint/waivers.vlt --top-module sparrow_fabric

# $(1): configuration letter.
define fabric_model_rule
$$(FABRIC_MODEL_$(1)): $$(HW_PKG) $$(HW_VC) $$(RTL_ALL) $$(FABRIC_SV) rtl/lint/waivers.vlt | $$(DEPS_STAMP)
	@mkdir -p $$(FABRIC_MDIR_$(1))
	$$(VERILATOR) $$(FABRIC_VFLAGS) $$$$(cat $$(GEN_DIR)/sparrow_hw_$(1).vc) \
	    --prefix Vsparrow_fabric_$(1) -Mdir $$(FABRIC_MDIR_$(1)) \
	    $$(HW_PKG) $$(RTL_ALL) $$(FABRIC_SV) > $$(FABRIC_MDIR_$(1)).log 2>&1 || \
	    { cat $$(FABRIC_MDIR_$(1)).log; exit 1; }
endef
$(eval $(call fabric_model_rule,S))
$(eval $(call fabric_model_rule,M))

VERILATOR_FST_RUNTIME := $(OBJ)/verilator/verilated_fst_c.o

# The bench: one object per configuration (each includes its own model's header).
RTL_TB_OBJS := $(OBJ)/tests/rtl/fabric_tb_main.o $(OBJ)/tests/rtl/fabric_tb_s.o \
               $(OBJ)/tests/rtl/fabric_tb_m.o

$(OBJ)/tests/rtl/fabric_tb_main.o: tests/rtl/fabric_tb_main.cpp | $(DEPS_STAMP) $(HW_H)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -Isim/model $(VERILATOR_INC) -c $< -o $@

$(OBJ)/tests/rtl/fabric_tb_s.o: tests/rtl/fabric_tb_s.cpp $(FABRIC_MODEL_S) | $(HW_H)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -Isim/model -I$(FABRIC_MDIR_S) $(VERILATOR_INC) -c $< -o $@

$(OBJ)/tests/rtl/fabric_tb_m.o: tests/rtl/fabric_tb_m.cpp $(FABRIC_MODEL_M) | $(HW_H)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -Isim/model -I$(FABRIC_MDIR_M) $(VERILATOR_INC) -c $< -o $@

$(TBIN)/test_rtl_fabric: $(RTL_TB_OBJS) $(FP_MODEL_OBJS) $(FABRIC_MODEL_S) $(FABRIC_MODEL_M) \
                         $(VERILATOR_RUNTIME) $(VERILATOR_FST_RUNTIME)
	@mkdir -p $(@D)
	$(CXX) -o $@ $^ -pthread -lz $(LDLIBS)

UNIT_TESTS += $(TBIN)/test_rtl_fabric
