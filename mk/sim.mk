# SPDX-License-Identifier: Apache-2.0
#
# sparrow-sim (sim/platform/, docs/simulator.md): the SystemC platform that runs the firmware on the
# Verilated fabric or the golden model, and its tests (tests/sim/).

SYSTEMC_INC  = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags systemc))
SYSTEMC_LIBS = $(shell pkg-config --libs systemc)

SIM_DIR      := sim/platform
SIM_C_OBJS   := $(addprefix $(OBJ)/$(SIM_DIR)/,sim_dram.o sim_options.o sim_serve.o)
SIM_CXX_OBJS := $(addprefix $(OBJ)/$(SIM_DIR)/,sim_main.o hal_sim.o fabric_model.o)

SIM_RTL_OBJS := $(addprefix $(OBJ)/$(SIM_DIR)/,fabric_rtl_select.o fabric_rtl_s.o fabric_rtl_m.o)
SIM_RTL_LIBS := $(FABRIC_MODEL_S) $(FABRIC_MODEL_M) $(VERILATOR_RUNTIME) $(VERILATOR_FST_RUNTIME)

SIM_CXXFLAGS = $(CXXFLAGS) $(SYSTEMC_INC) $(VERILATOR_INC)

# The simulator's C++ needs SystemC's and Verilator's headers (as system headers: their warnings
# are not ours).
$(OBJ)/$(SIM_DIR)/%.o: $(SIM_DIR)/%.cpp | $(DEPS_STAMP) $(HW_H)
	@mkdir -p $(@D)
	$(CXX) $(SIM_CXXFLAGS) -c $< -o $@

# Each configuration's adapter sees only its own Verilated model's directory.
$(OBJ)/$(SIM_DIR)/fabric_rtl_s.o: $(SIM_DIR)/fabric_rtl_s.cpp $(FABRIC_MODEL_S) | $(HW_H)
	@mkdir -p $(@D)
	$(CXX) $(SIM_CXXFLAGS) -I$(FABRIC_MDIR_S) -c $< -o $@

$(OBJ)/$(SIM_DIR)/fabric_rtl_m.o: $(SIM_DIR)/fabric_rtl_m.cpp $(FABRIC_MODEL_M) | $(HW_H)
	@mkdir -p $(@D)
	$(CXX) $(SIM_CXXFLAGS) -I$(FABRIC_MDIR_M) -c $< -o $@

ALL_BINS += $(BIN)/sparrow-sim

$(BIN)/sparrow-sim: $(SIM_CXX_OBJS) $(SIM_RTL_OBJS) $(SIM_C_OBJS) $(FW_CORE_OBJS) $(MODEL_LIB) \
                    $(SIM_RTL_LIBS)
	@mkdir -p $(@D)
	$(CXX) -o $@ $^ $(SYSTEMC_LIBS) -lz -pthread $(LDLIBS)

# ---------------------------------------------------------------------------------------------------
# Tests: the DRAM model's timing and the option parser as Check suites, and the device test client
# that drives a running sparrow-sim over its sockets (tests/list.d/sim.sh runs it per fabric).
SIM_TESTS := $(TBIN)/test_sim_dram $(TBIN)/test_sim_options $(TBIN)/test_sim_device
UNIT_TESTS += $(SIM_TESTS)

$(OBJ)/tests/sim/%.o: tests/sim/%.c | $(DEPS_STAMP) $(HW_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -c $< -o $@

$(TBIN)/test_sim_dram: $(OBJ)/tests/sim/test_sim_dram.o $(OBJ)/$(SIM_DIR)/sim_dram.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

$(TBIN)/test_sim_options: $(OBJ)/tests/sim/test_sim_options.o $(OBJ)/$(SIM_DIR)/sim_options.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

$(TBIN)/test_sim_device: $(OBJ)/tests/sim/test_sim_device.o $(FW_PROTO_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)
