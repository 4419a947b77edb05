# SPDX-License-Identifier: Apache-2.0
#
# The C golden model of the fabric (sim/model/, README there): a static library for the simulator's
# --fabric=model and for tests, and its Check suites.

MODEL_SRCS := sim/model/sparrow_model.c sim/model/model_program.c sim/model/model_phase.c \
              sim/model/model_stream.c sim/model/model_switch.c sim/model/model_agcu.c \
              sim/model/model_pmu.c sim/model/model_pcu.c sim/model/model_simd.c \
              sim/model/model_estimate.c sim/model/model_prog_builder.c
MODEL_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(MODEL_SRCS))
MODEL_LIB  := $(OBJ)/libsparrow_model.a

$(MODEL_LIB): $(MODEL_OBJS) $(FP_MODEL_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

MODEL_TESTS := $(TBIN)/test_model $(TBIN)/test_model_gemm $(TBIN)/test_model_sparse \
               $(TBIN)/test_model_simd
UNIT_TESTS  += $(MODEL_TESTS)

# The suites share one fixture (tests/unit/model_env.c).
$(TBIN)/test_model: $(OBJ)/tests/unit/test_model.o $(OBJ)/tests/unit/model_env.o $(MODEL_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

$(TBIN)/test_model_gemm: $(OBJ)/tests/unit/test_model_gemm.o $(OBJ)/tests/unit/model_env.o \
                         $(MODEL_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# Index memory, gather mode, per-block k and a block-sparse product.
$(TBIN)/test_model_sparse: $(OBJ)/tests/unit/test_model_sparse.o $(OBJ)/tests/unit/model_env.o \
                           $(MODEL_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# PCU SIMD and LOAD modes: every opcode, predication, the walk, program memory, the estimate.
$(TBIN)/test_model_simd: $(OBJ)/tests/unit/test_model_simd.o $(OBJ)/tests/unit/model_env.o \
                         $(MODEL_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

.PHONY: model model-test
model: $(MODEL_LIB) $(MODEL_TESTS)
model-test: model
	@for t in $(MODEL_TESTS); do $$t || exit 1; done
