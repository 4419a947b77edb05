# SPDX-License-Identifier: Apache-2.0
#
# The natural logarithm of the PCU's SIMD mode (sim/model/sparrow_fp_log.c, docs/numerics.md
# "log"), which the softmax cross-entropy needs: linked wherever sparrow_fp.c is (FP_MODEL_OBJS,
# and the golden model's library MODEL_LIB), as mk/special.mk links the other special functions;
# and its Check suite (tests/unit/test_fp_log.c): the accuracy against libm's log over a sample
# (all 2^32 inputs with SPARROW_LOG_EXHAUSTIVE=1, make test-long) and the SIMD macro
# (host/ops/simd_special.c) against the definition on the golden model in-process. Included right
# after mk/special.mk, for the same reasons.

LOG_OBJS := $(OBJ)/sim/model/sparrow_fp_log.o
FP_MODEL_OBJS += $(LOG_OBJS)
$(MODEL_LIB): $(LOG_OBJS)

UNIT_TESTS += $(TBIN)/test_fp_log

# (The fragments after this one define the host objects' variables; the paths are spelled out.)
$(TBIN)/test_fp_log: $(OBJ)/tests/unit/test_fp_log.o $(OBJ)/tests/unit/model_env.o \
                     $(OBJ)/tests/unit/model_env_simd.o \
                     $(OBJ)/tests/fp/fpulp_check.o $(OBJ)/host/ops/simd_asm.o \
                     $(OBJ)/host/ops/simd_special.o $(MODEL_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) -pthread $(LDLIBS)
