# SPDX-License-Identifier: Apache-2.0
#
# Firmware: the wire codec and the firmware core (host objects, linked by sparrow-sim and the driver
# through the generic rules: $(OBJ)/firmware/proto/sparrow_proto.o, $(OBJ)/firmware/core/sparrow_fw.o),
# their unit tests, and the bare-metal RISC-V image that proves the core is freestanding.
#   make firmware-riscv   build/firmware/sparrow-fw-riscv.elf, and print its size

FW_PROTO_OBJS := $(OBJ)/firmware/proto/sparrow_proto.o
FW_CORE_OBJS  := $(OBJ)/firmware/core/sparrow_fw.o $(FW_PROTO_OBJS)

UNIT_TESTS += $(TBIN)/test_proto $(TBIN)/test_fw

$(TBIN)/test_proto: $(OBJ)/tests/unit/test_proto.o $(FW_PROTO_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# test_fw links the core against a fake HAL (tests/unit/test_fw_hal.c) instead of a fabric.
$(TBIN)/test_fw: $(OBJ)/tests/unit/test_fw.o $(OBJ)/tests/unit/test_fw_hal.o $(FW_CORE_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# ---------------------------------------------------------------------------------------------------
# Bare-metal RISC-V: rv32imac, no C library. libgcc supplies the 64-bit shift helpers rv32 needs;
# firmware/port/riscv/libc_min.c the memcpy/memset GCC may emit. The image is one RAM region
# (code and data loaded together), hence the RWX segment the linker would warn about.
RV_PREFIX  := riscv64-unknown-elf-
RV_CC      := $(RV_PREFIX)gcc
RV_SIZE    := $(shell command -v $(RV_PREFIX)size >/dev/null 2>&1 && echo $(RV_PREFIX)size || echo size)
RV_DIR     := $(BUILD)/firmware
RV_OBJ     := $(RV_DIR)/obj
RV_ELF     := $(RV_DIR)/sparrow-fw-riscv.elf
RV_LDS     := firmware/port/riscv/link.ld
RV_CFLAGS  := -march=rv32imac -mabi=ilp32 -std=c11 -Os -g -ffreestanding -nostdlib \
              -fno-tree-loop-distribute-patterns -ffunction-sections -fdata-sections \
              -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -I$(GEN_DIR) -MMD -MP
RV_LDFLAGS := -march=rv32imac -mabi=ilp32 -nostdlib -nostartfiles -T $(RV_LDS) \
              -Wl,--gc-sections -Wl,--no-undefined -Wl,--no-warn-rwx-segments -Wl,-Map=$(RV_DIR)/sparrow-fw-riscv.map
RV_SRCS    := firmware/port/riscv/crt0.S firmware/port/riscv/main.c \
              firmware/port/riscv/hal_mmio.c firmware/port/riscv/libc_min.c \
              firmware/core/sparrow_fw.c firmware/proto/sparrow_proto.c
RV_OBJS    := $(patsubst %,$(RV_OBJ)/%.o,$(RV_SRCS))

.PHONY: firmware-riscv
firmware-riscv: $(RV_ELF)
	@$(RV_SIZE) $(RV_ELF)

$(RV_OBJ)/%.c.o: %.c | $(DEPS_STAMP) $(HW_H)
	@mkdir -p $(@D)
	$(RV_CC) $(RV_CFLAGS) -c $< -o $@

# crt0 writes mtvec: the assembler wants Zicsr named (binutils >= 2.38).
$(RV_OBJ)/%.S.o: %.S | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(RV_CC) -march=rv32imac_zicsr -mabi=ilp32 -c $< -o $@

$(RV_ELF): $(RV_OBJS) $(RV_LDS)
	$(RV_CC) $(RV_LDFLAGS) -o $@ $(RV_OBJS) -lgcc

-include $(shell find $(RV_OBJ) -name '*.d' 2>/dev/null)
