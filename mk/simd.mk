# SPDX-License-Identifier: Apache-2.0
#
# SIMD operators (docs/simd.md, docs/ops.md): the assembler and the special-function macros
# (host/ops/simd_asm.c, simd_special.c), the generic row-wise runner and the operators built on it
# (simd_run.c, simd_ops.c), the multi-job executor and dataflow sections (nn_exec.c, df_section.c),
# their golden-order and plain references (host/ref/simd_ref.c), the CLI
# operators (host/cli/cmd_kernel_simd.c), and their Check suites. Included after mk/host.mk: the
# sparrow executable's recipe links all of its $^, so the prerequisites added here are linked in.

SIMD_ASM_OBJS := $(OBJ)/host/ops/simd_asm.o $(OBJ)/host/ops/simd_special.o
SIMD_OPS_OBJS := $(SIMD_ASM_OBJS) $(OBJ)/host/ops/simd_run.o $(OBJ)/host/ops/simd_ops.o \
                 $(OBJ)/host/ops/nn_exec.o $(OBJ)/host/ops/df_section.o $(OBJ)/host/ops/df_plan.o \
                 $(OBJ)/host/ref/simd_ref.o
SIMD_CLI_OBJS := $(OBJ)/host/cli/cmd_kernel_simd.o

$(BIN)/sparrow: $(SIMD_CLI_OBJS) $(SIMD_OPS_OBJS)

SIMD_TESTS := $(TBIN)/test_simd_special $(TBIN)/test_simd_ops
UNIT_TESTS += $(SIMD_TESTS)

$(OBJ)/tests/unit/test_simd%.o: CFLAGS += $(HOST_INC) -Isim/model

# The special functions' suite runs each macro on the golden model in-process (MODEL_LIB), with
# the model suites' fixture (tests/unit/model_env.c).
$(TBIN)/test_simd_special: $(OBJ)/tests/unit/test_simd_special.o $(OBJ)/tests/unit/model_env.o \
                           $(OBJ)/tests/unit/model_env_simd.o $(SIMD_ASM_OBJS) $(MODEL_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# The assembler, runner and operators' suite: programs built by the ops library run on the golden
# model in-process, compared with the golden-order references.
$(TBIN)/test_simd_ops: $(OBJ)/tests/unit/test_simd_ops.o $(OPS_FIXTURE_SIMD_OBJS) $(SIMD_OPS_OBJS) \
                       $(HOST_OPS_OBJS) $(HOST_REF_OBJS) $(FP_MODEL_OBJS) $(MODEL_LIB) $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)

.PHONY: simd simd-test
simd: $(BIN)/sparrow $(SIMD_TESTS)
simd-test: simd
	@for t in $(SIMD_TESTS); do $$t || exit 1; done

# Attention and softmax (host/ops/op_attention.c, op_softmax.c, sparrow_nn.h; references
# host/ref/attention_ref.c; CLI host/cli/cmd_kernel_attn.c; docs/ops.md "Attention and softmax"),
# and their Check suite: strip programs on the golden model in-process, the operators through the
# driver and sparrow-sim's golden model, gradient checks.
ATTN_OPS_OBJS := $(addprefix $(OBJ)/host/ops/,op_softmax.o op_attention.o) \
                 $(OBJ)/host/ref/attention_ref.o
$(BIN)/sparrow: $(OBJ)/host/cli/cmd_kernel_attn.o $(ATTN_OPS_OBJS)
UNIT_TESTS += $(TBIN)/test_attention
$(OBJ)/tests/unit/test_attention.o: CFLAGS += $(HOST_INC) -Isim/model
$(TBIN)/test_attention: $(OBJ)/tests/unit/test_attention.o $(OPS_FIXTURE_SIMD_OBJS) \
                        $(ATTN_OPS_OBJS) $(SIMD_OPS_OBJS) $(HOST_RUN_OBJS) $(HOST_OPS_OBJS) \
                        $(HOST_REF_OBJS) $(FP_MODEL_OBJS) $(MODEL_LIB) $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)

# Layernorm and the token + position embedding (host/ops/op_layernorm.c, op_embedding.c, on the
# executor host/ops/nn_exec.c; references host/ref/layernorm_ref.c, embedding_ref.c; CLI
# host/cli/cmd_kernel_ln_embed.c) and their suite, which runs the programs on the golden model
# in-process (tests/list.d/ln_embed.sh registers it and the CLI runs).
LN_EMBED_OPS_OBJS := $(addprefix $(OBJ)/host/ops/,op_layernorm.o op_embedding.o) \
                     $(OBJ)/host/ref/layernorm_ref.o $(OBJ)/host/ref/embedding_ref.o
$(BIN)/sparrow: $(OBJ)/host/cli/cmd_kernel_ln_embed.o $(LN_EMBED_OPS_OBJS)
UNIT_TESTS += $(TBIN)/test_ln_embed
$(OBJ)/tests/unit/test_ln_embed.o: CFLAGS += $(HOST_INC) -Isim/model
$(TBIN)/test_ln_embed: $(OBJ)/tests/unit/test_ln_embed.o $(OPS_FIXTURE_SIMD_OBJS) \
                       $(LN_EMBED_OPS_OBJS) $(SIMD_OPS_OBJS) $(HOST_OPS_OBJS) $(HOST_REF_OBJS) \
                       $(FP_MODEL_OBJS) $(MODEL_LIB) $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)

# Softmax cross-entropy, AdamW and the global gradient norm (host/ops/op_loss.c, op_adamw.c, on the
# executor host/ops/nn_exec.c; references host/ref/loss_ref.c, adamw_ref.c; CLI
# host/cli/cmd_kernel_loss.c; docs/ops.md "Loss and optimizer"; the log they need is mk/log.mk's)
# and their suite: the programs on the golden model in-process, a gradient check, and the
# operators through the driver and a spawned sparrow-sim (tests/list.d/nn_loss.sh registers it
# and the CLI runs).
LOSS_OPS_OBJS := $(addprefix $(OBJ)/host/ops/,op_loss.o op_adamw.o) \
                 $(OBJ)/host/ref/loss_ref.o $(OBJ)/host/ref/adamw_ref.o
$(BIN)/sparrow: $(OBJ)/host/cli/cmd_kernel_loss.o $(LOSS_OPS_OBJS)
UNIT_TESTS += $(TBIN)/test_loss_adamw
$(OBJ)/tests/unit/test_loss_adamw.o: CFLAGS += $(HOST_INC) -Isim/model
$(TBIN)/test_loss_adamw: $(OBJ)/tests/unit/test_loss_adamw.o $(OPS_FIXTURE_SIMD_OBJS) \
                         $(LOSS_OPS_OBJS) $(SIMD_OPS_OBJS) $(HOST_OPS_OBJS) $(HOST_REF_OBJS) \
                         $(FP_MODEL_OBJS) $(MODEL_LIB) $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)

# Dataflow sections (host/ops/df_section.c, docs/dataflow.md): their suite runs sections through
# the driver on sparrow-sim's golden model (tests/list.d/dataflow.sh registers it).
UNIT_TESTS += $(TBIN)/test_df_section
$(OBJ)/tests/unit/test_df_section.o: CFLAGS += $(HOST_INC)
$(TBIN)/test_df_section: $(OBJ)/tests/unit/test_df_section.o $(LN_EMBED_OPS_OBJS) $(SIMD_OPS_OBJS) \
                         $(HOST_OPS_OBJS) $(HOST_REF_OBJS) $(FP_MODEL_OBJS) $(MODEL_LIB) \
                         $(DRIVER_LIB) | $(BIN)/sparrow-sim
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)
