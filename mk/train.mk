# SPDX-License-Identifier: Apache-2.0
#
# The GPT trainer (docs/training.md): the library host/train (data, the CPU reference GPT, AdamW,
# checkpoints, the training loop and its backend interface), the `sparrow train` and `sparrow
# sample` commands, and the trainer's unit tests (tests/unit/test_train_*.c). The library uses the
# mask generators of the ops library (host/ops/mask.c) and nothing else of host/ops or sim/.

TRAIN_OBJS := $(addprefix $(OBJ)/host/train/,common.o data.o layers.o gpt.o adamw.o \
                backend_ref.o trainer.o ckpt.o) $(OBJ)/host/ops/mask.o
TRAIN_CLI_OBJS := $(OBJ)/host/cli/cmd_train.o $(OBJ)/host/cli/cmd_sample.o
TRAIN_INC := -Ihost/train

# -O3 vectorizes the reference's independent loops (about 30% faster training on the host); the
# arithmetic is the same IEEE operations in the same order (no reassociation without fast-math).
$(OBJ)/host/train/%.o: CFLAGS += $(TRAIN_INC) -O3
$(TRAIN_CLI_OBJS): CFLAGS += $(TRAIN_INC)
$(OBJ)/tests/unit/test_train%.o: CFLAGS += $(HOST_INC) $(TRAIN_INC)

# The sparrow executable (mk/host.mk) also links the trainer: its recipe links all of $^.
$(BIN)/sparrow: $(TRAIN_CLI_OBJS) $(TRAIN_OBJS)

TRAIN_TESTS := $(TBIN)/test_train_layers $(TBIN)/test_train_data $(TBIN)/test_train_ckpt
UNIT_TESTS += $(TRAIN_TESTS)

$(TBIN)/test_train_%: $(OBJ)/tests/unit/test_train_%.o $(TRAIN_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

.PHONY: train
train: $(BIN)/sparrow $(TRAIN_TESTS)
