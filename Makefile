# SPDX-License-Identifier: Apache-2.0
#
# Sparrow build. Products go under build/, executables under build/bin/.
#   make            build everything (installs missing Debian packages first, see tools/deps.sh)
#   make test       lint, unit tests, RTL-vs-IEEE vector runs (the CI command)
#   make test-long  the long runs (hundreds of millions of vectors)
#   make run        the main job (for now: a GEMM on the simulated RTL chip, checked; FP vectors)
#   make bench      benchmark figures (GEMM on RTL and model, S and M; FP vector throughput)
#   make lint       Verilator -Wall over all RTL
#   make deps       install the Debian packages the project needs
#   make clean
#   make format     clang-format the C and C++ sources

.DEFAULT_GOAL := all

BUILD ?= build
BIN   := $(BUILD)/bin
OBJ   := $(BUILD)/obj
TBIN  := $(BUILD)/tests

# ---------------------------------------------------------------------------------------------------
# Tool flags. The numerics are part of the contract: no contraction, no fast-math, IEEE rounding and
# signalling NaNs honoured by the optimizer (docs/numerics.md).
CC        := gcc
CXX       := g++
FP_FLAGS  := -ffp-contract=off -fno-fast-math -frounding-math -fsignaling-nans
CFLAGS    := -std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
             -D_POSIX_C_SOURCE=200809L $(FP_FLAGS) -MMD -MP
CXXFLAGS  := -std=c++17 -O2 -g -Wall -Wextra $(FP_FLAGS) -MMD -MP
LDLIBS    := -lm
CHECK_CFLAGS = $(shell pkg-config --cflags check)
CHECK_LIBS   = $(shell pkg-config --libs check)

VERILATOR       := verilator
VERILATOR_ROOT  := /usr/share/verilator
VERILATOR_INC   := -isystem $(VERILATOR_ROOT)/include -isystem $(VERILATOR_ROOT)/include/vltstd
VERILATOR_EXTRA ?=
VERILATOR_FLAGS := --cc --build -j 2 -O3 --x-assign fast --x-initial fast -Wall \
                   rtl/lint/waivers.vlt $(VERILATOR_EXTRA)

# ---------------------------------------------------------------------------------------------------
# Sources. Packages come first: Verilator needs them declared before use.
# RTL_ROOT can point at a modified copy of rtl/ (tests/fp/mutants.sh builds deliberately broken units).
RTL_ROOT ?= rtl
RTL_PKGS := $(RTL_ROOT)/fpu/sparrow_fp_pkg.sv
RTL_SRCS := $(addprefix $(RTL_ROOT)/fpu/,sparrow_fp_lzc.sv sparrow_fp_round.sv sparrow_fp_add.sv \
              sparrow_fp_mul.sv)
RTL_ALL  := $(RTL_PKGS) $(RTL_SRCS)

# Top-level designs: each is Verilated into a model and linted with everything below it.
FPVEC_TOP := sparrow_fpvec_top
FPVEC_SV  := sim/fpvec/$(FPVEC_TOP).sv
LINT_TOPS := $(FPVEC_TOP)

# ---------------------------------------------------------------------------------------------------
# Generated hardware description (Gemmini's habit: the hardware parameters generate the C header).
GEN_DIR := $(BUILD)/gen
HW_TOML := rtl/params/sparrow_hw.toml
HW_H    := $(GEN_DIR)/sparrow_hw.h
HW_PKG  := $(GEN_DIR)/sparrow_hw_pkg.sv
HW_VC   := $(GEN_DIR)/sparrow_hw_S.vc $(GEN_DIR)/sparrow_hw_M.vc
CFLAGS   += -I$(GEN_DIR)
CXXFLAGS += -I$(GEN_DIR)

$(HW_H) $(HW_PKG) $(HW_VC) &: $(HW_TOML) tools/hwgen.py | $(DEPS_STAMP)
	tools/hwgen.py $(HW_TOML) $(GEN_DIR)

# ---------------------------------------------------------------------------------------------------
# Set-up: the first build on a fresh machine installs what is missing.
DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: all deps test test-long lint run bench clean format
# Each part of the tree adds its executables to ALL_BINS and its unit tests to UNIT_TESTS in its
# own fragment, mk/PART.mk (included at the end).
ALL_BINS   := $(BIN)/sparrow-fpvec $(BIN)/sparrow-fpgen
UNIT_TESTS :=
all: build-all

$(DEPS_STAMP): tools/deps.sh
	tools/deps.sh
	@mkdir -p $(@D) && touch $@

deps:
	tools/deps.sh
	@mkdir -p $(BUILD) && touch $(DEPS_STAMP)

# ---------------------------------------------------------------------------------------------------
# The Verilated floating-point harness and Verilator's runtime.
FPVEC_MDIR  := $(OBJ)/verilated/$(FPVEC_TOP)
FPVEC_MODEL := $(FPVEC_MDIR)/V$(FPVEC_TOP)__ALL.a

$(FPVEC_MODEL): $(RTL_ALL) $(FPVEC_SV) rtl/lint/waivers.vlt | $(DEPS_STAMP)
	@mkdir -p $(FPVEC_MDIR)
	$(VERILATOR) $(VERILATOR_FLAGS) -Mdir $(FPVEC_MDIR) --top-module $(FPVEC_TOP) \
	    $(RTL_ALL) $(FPVEC_SV) > $(FPVEC_MDIR).log 2>&1 || { cat $(FPVEC_MDIR).log; exit 1; }

VERILATOR_RUNTIME := $(OBJ)/verilator/verilated.o $(OBJ)/verilator/verilated_threads.o
$(OBJ)/verilator/%.o: $(VERILATOR_ROOT)/include/%.cpp | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -w $(VERILATOR_INC) -c $< -o $@

$(OBJ)/sim/fpvec/fpvec_rtl.o: sim/fpvec/fpvec_rtl.cpp $(FPVEC_MODEL)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -I$(FPVEC_MDIR) $(VERILATOR_INC) -c $< -o $@

# ---------------------------------------------------------------------------------------------------
# C objects: one rule for every C file of the tree.
$(OBJ)/%.o: %.c | $(DEPS_STAMP) $(HW_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

$(OBJ)/%.o: %.cpp | $(DEPS_STAMP) $(HW_H)
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS) -c $< -o $@

$(OBJ)/tests/unit/%.o: tests/unit/%.c | $(DEPS_STAMP) $(HW_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -c $< -o $@

FP_MODEL_OBJS := $(OBJ)/sim/model/sparrow_fp.o
FPVEC_FORMAT  := $(OBJ)/sim/fpvec/fpvec_format.o

$(BIN)/sparrow-fpvec: $(OBJ)/sim/fpvec/fpvec_main.o $(FPVEC_FORMAT) $(OBJ)/sim/fpvec/fpvec_rtl.o \
                      $(FPVEC_MODEL) $(VERILATOR_RUNTIME)
	@mkdir -p $(@D)
	$(CXX) -o $@ $^ -pthread $(LDLIBS)

$(BIN)/sparrow-fpgen: $(OBJ)/tests/fp/fpgen_main.o $(OBJ)/tests/fp/fpgen_values.o \
                      $(OBJ)/tests/fp/fpgen_classes.o $(FPVEC_FORMAT) $(FP_MODEL_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(LDLIBS)

# ---------------------------------------------------------------------------------------------------
# Tests.
UNIT_TESTS += $(TBIN)/test_sparrow_fp $(TBIN)/test_fpvec_format

$(TBIN)/test_sparrow_fp: $(OBJ)/tests/unit/test_sparrow_fp.o $(FP_MODEL_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

$(TBIN)/test_fpvec_format: $(OBJ)/tests/unit/test_fpvec_format.o $(FPVEC_FORMAT)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)


test: lint build-all
	tests/run.sh quick

test-long: lint build-all
	tests/run.sh long

# Every top is linted with all RTL; the fabric once per configuration (LINT_TOPS_PER_CONFIG, whose
# parameters come from the generated sparrow_hw_<C>.vc files).
LINT_SRCS = rtl/lint/waivers.vlt $(HW_PKG) $(RTL_ALL) $(FPVEC_SV) $(FABRIC_SV)
lint: $(HW_PKG) | $(DEPS_STAMP)
	@for top in $(LINT_TOPS); do \
	  echo "lint: verilator --lint-only -Wall ($$top)"; \
	  $(VERILATOR) --lint-only -Wall $(LINT_SRCS) --top-module $$top || exit 1; \
	done
	@for top in $(LINT_TOPS_PER_CONFIG); do for vc in $(HW_VC); do \
	  echo "lint: verilator --lint-only -Wall ($$top, $$(basename $$vc .vc))"; \
	  $(VERILATOR) --lint-only -Wall $$(cat $$vc) $(LINT_SRCS) --top-module $$top || exit 1; \
	done; done
	@echo "lint: clean"

run: all
	tools/run.sh

bench: all
	tools/bench.sh

clean:
	rm -rf $(BUILD)

# Reformat C and C++ sources with the project's .clang-format (clang-format is not a build dependency).
format:
	clang-format -i $$(git ls-files '*.c' '*.h' '*.cpp')

# Each fragment may use the libraries of those before it: keep this order.
include mk/model.mk mk/special.mk mk/log.mk mk/firmware.mk mk/rtl.mk mk/driver.mk mk/host.mk mk/sim.mk mk/usb.mk mk/sparse.mk mk/train.mk mk/simd.mk

# Defined last, so that every fragment's ALL_BINS and UNIT_TESTS are in.
.PHONY: build-all
build-all: $(ALL_BINS) $(UNIT_TESTS)

# Header dependencies of our own objects (Verilator's model directory keeps its own).
-include $(shell find $(OBJ) -path '$(OBJ)/verilated' -prune -o -name '*.d' -print 2>/dev/null)
