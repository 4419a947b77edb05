# SPDX-License-Identifier: Apache-2.0
#
# Block-sparse weights (docs/sparsity.md): the BSR format lives in the driver (driver/src/bsr.c, part
# of DRIVER_LIB, mk/driver.mk) and the mask generators in the ops library (host/ops/mask.c, part of
# HOST_OPS_OBJS, mk/host.mk). This fragment adds their unit tests.

SPARSE_TESTS := $(TBIN)/test_bsr $(TBIN)/test_mask
UNIT_TESTS += $(SPARSE_TESTS)

$(OBJ)/tests/unit/test_bsr.o $(OBJ)/tests/unit/test_mask.o: CFLAGS += $(HOST_INC)

$(TBIN)/test_bsr: $(OBJ)/tests/unit/test_bsr.o $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)

# The mask suite also packs its masks into BSR, to count blocks the way a kernel will see them.
$(TBIN)/test_mask: $(OBJ)/tests/unit/test_mask.o $(OBJ)/host/ops/mask.o $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)
