# SPDX-License-Identifier: Apache-2.0
#
# libsparrow (driver/): the static library DRIVER_LIB, and its unit tests.
# Hosts link $(DRIVER_LIB) $(DRIVER_LDLIBS) (libusb-1.0, for the usb transport); -pthread is not
# needed by the library itself (only by the tests).

DRIVER_SRCS := $(addprefix driver/src/,sparrow.c devmem.c uri.c transport_fd.c transport_sim.c \
                 transport_unix.c transport_tcp.c transport_usb.c bsr.c)
DRIVER_LDLIBS = $(shell pkg-config --libs libusb-1.0)
$(OBJ)/driver/src/transport_usb.o: CFLAGS += $(patsubst -I%,-isystem %,$(shell pkg-config --cflags libusb-1.0))
DRIVER_OBJS := $(patsubst %.c,$(OBJ)/%.o,$(DRIVER_SRCS)) $(OBJ)/firmware/proto/sparrow_proto.o
DRIVER_LIB  := $(OBJ)/libsparrow.a

$(DRIVER_LIB): $(DRIVER_OBJS)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

DRIVER_TESTS := $(TBIN)/test_driver_uri $(TBIN)/test_driver_devmem $(TBIN)/test_driver_proto \
                $(TBIN)/test_driver_sim \
                $(TBIN)/test_driver_e2e
UNIT_TESTS += $(DRIVER_TESTS)

# The protocol and sim suites share the fake device (tests/unit/test_driver_fake.c).
$(TBIN)/test_driver_proto $(TBIN)/test_driver_sim: $(OBJ)/tests/unit/test_driver_fake.o

$(DRIVER_TESTS): $(TBIN)/%: $(OBJ)/tests/unit/%.o $(DRIVER_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ -pthread $(CHECK_LIBS) $(DRIVER_LDLIBS) $(LDLIBS)
