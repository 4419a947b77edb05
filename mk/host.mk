# SPDX-License-Identifier: Apache-2.0
#
# Host side: the ops library (host/ops), the CPU references (host/ref), the sparrow CLI (host/cli)
# and their unit tests (tests/unit/test_ops*.c). docs/ops.md describes the GEMM program.

HOST_INC      := -Idriver/include -Ihost/ops -Ihost/ref
HOST_OPS_OBJS := $(OBJ)/host/ops/gemm.o $(OBJ)/host/ops/program.o $(OBJ)/host/ops/mask.o \
                 $(addprefix $(OBJ)/host/ops/,sparse_plan.o spmm.o sddmm.o)
HOST_RUN_OBJS := $(OBJ)/host/ops/gemm_run.o $(OBJ)/host/ops/sparse_run.o
HOST_REF_OBJS := $(OBJ)/host/ref/gemm_ref.o $(OBJ)/host/ref/sparse_ref.o
HOST_CLI_OBJS := $(addprefix $(OBJ)/host/cli/,main.o cmd_info.o cmd_kernel.o cmd_devices.o json.o \
                   log.o cmd_bench.o outfiles.o kernel_common.o)

$(OBJ)/host/%.o: CFLAGS += $(HOST_INC)
$(OBJ)/tests/unit/test_ops%.o: CFLAGS += $(HOST_INC) -Isim/model

# The CLI talks to devices through the driver only (DRIVER_LIB, from mk/driver.mk).
ALL_BINS += $(BIN)/sparrow
$(BIN)/sparrow: $(HOST_CLI_OBJS) $(HOST_RUN_OBJS) $(HOST_OPS_OBJS) $(HOST_REF_OBJS) $(DRIVER_LIB) \
                $(FP_MODEL_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(DRIVER_LDLIBS) $(LDLIBS)

# The ops suites' fixture (tests/unit/ops_fixture.c; ops_fixture_simd.c, which runs SIMD jobs and
# the executor, also needs the SIMD objects of mk/simd.mk).
OPS_FIXTURE_OBJS      := $(OBJ)/tests/unit/ops_fixture.o
OPS_FIXTURE_SIMD_OBJS := $(OPS_FIXTURE_OBJS) $(OBJ)/tests/unit/ops_fixture_simd.o
$(OPS_FIXTURE_SIMD_OBJS): CFLAGS += $(HOST_INC) -Isim/model

# The GEMM unit test runs the programs on the golden model in-process (MODEL_LIB, mk/model.mk).

UNIT_TESTS += $(TBIN)/test_ops_gemm
# (The ops objects include the sparse operators, which use the driver's BSR code.)
$(TBIN)/test_ops_gemm: $(OBJ)/tests/unit/test_ops_gemm.o $(OPS_FIXTURE_OBJS) $(HOST_OPS_OBJS) \
                       $(HOST_REF_OBJS) $(FP_MODEL_OBJS) $(MODEL_LIB) $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)

.PHONY: host host-test
host: $(filter $(BIN)/sparrow,$(ALL_BINS)) $(TBIN)/test_ops_gemm
host-test: host
	$(TBIN)/test_ops_gemm
