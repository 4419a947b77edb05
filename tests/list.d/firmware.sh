# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154 # $suite, $BIN and $TBIN come from tests/run.sh
#
# Firmware tests: the wire codec, the firmware core against a fake chip (with a seeded fuzz of
# random and mutated frames), the core under valgrind, and the bare-metal RISC-V build.
# Sourced by tests/run.sh with $suite set.

fw_valgrind="CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all"

case "$suite" in
  quick)
    run_test unit-proto          "$TBIN/test_proto"
    run_test unit-fw             "$TBIN/test_fw"
    run_test unit-fw-valgrind    "SPARROW_FUZZ_FRAMES=10000 $fw_valgrind $TBIN/test_fw"
    run_test firmware-riscv      firmware/port/riscv/check-elf.sh
    ;;
  long)
    run_test unit-fw-valgrind-100k "SPARROW_FUZZ_FRAMES=100000 $fw_valgrind $TBIN/test_fw"
    run_test unit-fw-fuzz-1M       "SPARROW_FUZZ_FRAMES=1000000 $TBIN/test_fw"
    ;;
esac
