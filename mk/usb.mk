# SPDX-License-Identifier: Apache-2.0
#
# The USB path (docs/usb.md): the firmware's descriptor tables (firmware/usb/), sparrow-usb-fake
# (sim/usb/: a umockdev testbed that attaches simulated Sparrows as USB devices, each backed by a
# sparrow-sim), and their tests (tests/usb/, run by tests/list.d/usb.sh). The driver's libusb
# transport itself is part of DRIVER_LIB (mk/driver.mk).

USB_DESC_OBJS := $(OBJ)/firmware/usb/sparrow_usb_desc.o
USB_EP_OBJS   := $(OBJ)/sim/usb/usb_endpoint.o

# umockdev and GLib only here; their headers as system headers (their warnings are not ours).
UMOCKDEV_CFLAGS = $(patsubst -I%,-isystem %,$(shell pkg-config --cflags umockdev-1.0 glib-2.0))
UMOCKDEV_LIBS   = $(shell pkg-config --libs umockdev-1.0 glib-2.0 gobject-2.0)
$(OBJ)/sim/usb/usb_fake.o: CFLAGS += $(UMOCKDEV_CFLAGS)

ALL_BINS += $(BIN)/sparrow-usb-fake
$(BIN)/sparrow-usb-fake: $(OBJ)/sim/usb/usb_fake.o $(USB_EP_OBJS) $(USB_DESC_OBJS) $(FW_PROTO_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(UMOCKDEV_LIBS) $(LDLIBS)

# Unit tests: the descriptor tables and the bulk IN endpoint model.
UNIT_TESTS += $(TBIN)/test_usb_desc
$(OBJ)/tests/usb/%.o: tests/usb/%.c | $(DEPS_STAMP) $(HW_H)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(CHECK_CFLAGS) -c $< -o $@

$(TBIN)/test_usb_desc: $(OBJ)/tests/usb/test_usb_desc.o $(USB_DESC_OBJS) $(USB_EP_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

# A test program that drives the usb transport through the public API (raw write/read round trips
# larger than a frame, and the error paths), run under sparrow-usb-fake.
UNIT_TESTS += $(TBIN)/test_usb_e2e
$(OBJ)/tests/usb/test_usb_e2e.o: CFLAGS += -Idriver/include
$(TBIN)/test_usb_e2e: $(OBJ)/tests/usb/test_usb_e2e.o $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(DRIVER_LDLIBS) $(LDLIBS)
