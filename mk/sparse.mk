# SPDX-License-Identifier: Apache-2.0
#
# Block-sparse weights and operators (docs/sparsity.md): the BSR format lives in the driver
# (driver/src/bsr.c, part of DRIVER_LIB, mk/driver.mk), the mask generators and the operators in the
# ops library (host/ops/mask.c, spmm.c, sddmm.c, sparse_plan.c, sparse_run.c, part of HOST_OPS_OBJS
# and HOST_RUN_OBJS, mk/host.mk). This fragment adds their unit tests.

SPARSE_TESTS := $(TBIN)/test_bsr $(TBIN)/test_mask $(TBIN)/test_ops_sparse
UNIT_TESTS += $(SPARSE_TESTS)

$(OBJ)/tests/unit/test_bsr.o $(OBJ)/tests/unit/test_mask.o: CFLAGS += $(HOST_INC)

$(TBIN)/test_bsr: $(OBJ)/tests/unit/test_bsr.o $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)

# The mask suite also packs its masks into BSR, to count blocks the way a kernel will see them.
$(TBIN)/test_mask: $(OBJ)/tests/unit/test_mask.o $(OBJ)/host/ops/mask.o $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)

# The operators' suite runs the programs on the golden model in-process (MODEL_LIB) and uses the
# driver's fake device (tests/unit/test_driver_fake.c) to count what reaches a device.
$(TBIN)/test_ops_sparse: $(OBJ)/tests/unit/test_ops_sparse.o $(OBJ)/tests/unit/test_driver_fake.o \
                         $(OPS_FIXTURE_OBJS) $(HOST_RUN_OBJS) $(HOST_OPS_OBJS) $(HOST_REF_OBJS) \
                         $(FP_MODEL_OBJS) $(MODEL_LIB) $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ -pthread $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)
