# SPDX-License-Identifier: Apache-2.0
#
# The GPT trainer (docs/training.md): the library host/train (data, the CPU reference GPT, AdamW,
# checkpoints, the training loop and its backend interface), the chip backend and the device
# selection, the `sparrow train`, `sparrow sample` and `sparrow bench --study` commands (the
# execution-mode study trains one step per configuration), and the trainer's unit tests
# (tests/unit/test_train_*.c). The library proper (TRAIN_OBJS, what the unit suites link) uses the
# mask generators of the ops library (host/ops/mask.c) and nothing else of host/ops or sim/; the
# chip backend (TRAIN_DEV_OBJS) uses the ops library and the driver, which the sparrow executable
# links anyway.

TRAIN_OBJS := $(addprefix $(OBJ)/host/train/,common.o data.o layers.o gpt.o adamw.o \
                backend_ref.o trainer.o ckpt.o) $(OBJ)/host/ops/mask.o
TRAIN_DEV_OBJS := $(addprefix $(OBJ)/host/train/,backend.o backend_chip.o backend_chip_block.o)
TRAIN_CLI_OBJS := $(addprefix $(OBJ)/host/cli/,cmd_train.o cmd_sample.o cmd_study.o)
TRAIN_INC := -Ihost/train

# -O3 vectorizes the reference's independent loops (about 30% faster training on the host); the
# arithmetic is the same IEEE operations in the same order (no reassociation without fast-math).
$(OBJ)/host/train/%.o: CFLAGS += $(TRAIN_INC) -O3
$(TRAIN_CLI_OBJS): CFLAGS += $(TRAIN_INC)
$(OBJ)/tests/unit/test_train%.o: CFLAGS += $(HOST_INC) $(TRAIN_INC)

# The sparrow executable (mk/host.mk) also links the trainer: its recipe links all of $^.
$(BIN)/sparrow: $(TRAIN_CLI_OBJS) $(TRAIN_DEV_OBJS) $(TRAIN_OBJS)

TRAIN_TESTS := $(TBIN)/test_train_layers $(TBIN)/test_train_data $(TBIN)/test_train_ckpt
UNIT_TESTS += $(TRAIN_TESTS)

$(TBIN)/test_train_%: $(OBJ)/tests/unit/test_train_%.o $(TRAIN_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# The chip backend's suite links the ops library and the driver. The fragments that define the
# operators' object lists come after this one, so their paths are spelled out here: every
# operator (host/ops/op_*.c on the executor nn_exec.c), the SIMD runner and assembler, and the
# references whose constants the operators use (host/ref/*_ref.c).
TRAIN_CHIP_TEST_OBJS := $(TRAIN_DEV_OBJS) $(TRAIN_OBJS) $(HOST_RUN_OBJS) $(HOST_OPS_OBJS) \
    $(addprefix $(OBJ)/host/ops/,simd_asm.o simd_special.o simd_run.o simd_ops.o nn_exec.o df_section.o df_plan.o) \
    $(patsubst %.c,$(OBJ)/%.o,$(wildcard host/ops/op_*.c host/ref/*_ref.c)) $(FP_MODEL_OBJS) \
    $(DRIVER_LIB)
UNIT_TESTS += $(TBIN)/test_train_chip
$(TBIN)/test_train_chip: $(OBJ)/tests/unit/test_train_chip.o $(TRAIN_CHIP_TEST_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)

.PHONY: train
train: $(BIN)/sparrow $(TRAIN_TESTS) $(TBIN)/test_train_chip
