# SPDX-License-Identifier: Apache-2.0
#
# SIMD operators (docs/simd.md, docs/ops.md): the assembler and the special-function macros
# (host/ops/simd_asm.c, simd_special.c), the generic row-wise runner and the operators built on it
# (simd_run.c, simd_ops.c), their golden-order and plain references (host/ref/simd_ref.c), the CLI
# operators (host/cli/cmd_kernel_simd.c), and their Check suites. Included after mk/host.mk: the
# sparrow executable's recipe links all of its $^, so the prerequisites added here are linked in.

SIMD_ASM_OBJS := $(OBJ)/host/ops/simd_asm.o $(OBJ)/host/ops/simd_special.o
SIMD_OPS_OBJS := $(SIMD_ASM_OBJS) $(OBJ)/host/ops/simd_run.o $(OBJ)/host/ops/simd_ops.o \
                 $(OBJ)/host/ref/simd_ref.o
SIMD_CLI_OBJS := $(OBJ)/host/cli/cmd_kernel_simd.o

$(BIN)/sparrow: $(SIMD_CLI_OBJS) $(SIMD_OPS_OBJS)

SIMD_TESTS := $(TBIN)/test_simd_special $(TBIN)/test_simd_ops
UNIT_TESTS += $(SIMD_TESTS)

$(OBJ)/tests/unit/test_simd%.o: CFLAGS += $(HOST_INC) -Isim/model

# The special functions' suite runs each macro on the golden model in-process (MODEL_LIB), with
# the model suites' fixture (tests/unit/model_env.c).
$(TBIN)/test_simd_special: $(OBJ)/tests/unit/test_simd_special.o $(OBJ)/tests/unit/model_env.o \
                           $(SIMD_ASM_OBJS) $(MODEL_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# The assembler, runner and operators' suite: programs built by the ops library run on the golden
# model in-process, compared with the golden-order references.
$(TBIN)/test_simd_ops: $(OBJ)/tests/unit/test_simd_ops.o $(SIMD_OPS_OBJS) $(HOST_OPS_OBJS) \
                       $(HOST_REF_OBJS) $(FP_MODEL_OBJS) $(MODEL_LIB) $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)

.PHONY: simd simd-test
simd: $(BIN)/sparrow $(SIMD_TESTS)
simd-test: simd
	@for t in $(SIMD_TESTS); do $$t || exit 1; done
