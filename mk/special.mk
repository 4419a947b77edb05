# SPDX-License-Identifier: Apache-2.0
#
# Special functions, comparisons and reduction trees of the PCU's SIMD mode (sim/model/
# sparrow_fp_special.c, docs/numerics.md "Special functions"): linked wherever sparrow_fp.c is
# (FP_MODEL_OBJS, and the golden model's library MODEL_LIB, mk/model.mk), its ulp tool and its Check
# suite. Included right after mk/model.mk: the prerequisite added to MODEL_LIB lands in that rule's
# $^, and the fragments after this one see the longer FP_MODEL_OBJS.

SPECIAL_OBJS := $(OBJ)/sim/model/sparrow_fp_special.o
FP_MODEL_OBJS += $(SPECIAL_OBJS)
$(MODEL_LIB): $(SPECIAL_OBJS)

ALL_BINS   += $(BIN)/sparrow-fpulp
UNIT_TESTS += $(TBIN)/test_fp_special

$(BIN)/sparrow-fpulp: $(OBJ)/tests/fp/fpulp_main.o $(OBJ)/tests/fp/fpulp_check.o \
                      $(OBJ)/tests/fp/fpgen_values.o $(SPECIAL_OBJS) $(OBJ)/sim/model/sparrow_fp.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^ -pthread $(LDLIBS)

$(TBIN)/test_fp_special: $(OBJ)/tests/unit/test_fp_special.o $(SPECIAL_OBJS) \
                         $(OBJ)/sim/model/sparrow_fp.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

.PHONY: special-test
special-test: $(BIN)/sparrow-fpulp $(TBIN)/test_fp_special
	$(TBIN)/test_fp_special
	$(BIN)/sparrow-fpulp
