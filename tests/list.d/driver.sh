# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154 # $suite, $BIN and $TBIN come from tests/run.sh
#
# libsparrow tests: URI parser, device-memory allocator, the protocol and transport failure paths
# against fake devices (also under valgrind: every failure path must free what it took), the sim
# transport's spawning and reaping, and an end-to-end run on the real sparrow-sim.
# Sourced by tests/run.sh with $suite set.

DRIVER_VALGRIND="CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all"

case "$suite" in
  quick)
    run_test unit-driver-uri             "$TBIN/test_driver_uri"
    run_test unit-driver-devmem          "$TBIN/test_driver_devmem"
    run_test unit-driver-proto           "$TBIN/test_driver_proto"
    run_test unit-driver-sim             "$TBIN/test_driver_sim"
    run_test unit-driver-proto-valgrind  "$DRIVER_VALGRIND $TBIN/test_driver_proto"
    run_test unit-driver-sim-valgrind    "$DRIVER_VALGRIND $TBIN/test_driver_sim"
    if [[ -x "$BIN/sparrow-sim" ]]; then
      run_test driver-e2e-sim-model      "$TBIN/test_driver_e2e sim:model,config=S,dram_mb=2"
    else
      echo "SKIP  driver-e2e-sim-model: $BIN/sparrow-sim not built"
    fi
    ;;
  long)
    run_test unit-driver-devmem-valgrind "$DRIVER_VALGRIND $TBIN/test_driver_devmem"
    run_test unit-driver-uri-valgrind    "$DRIVER_VALGRIND $TBIN/test_driver_uri"
    if [[ -x "$BIN/sparrow-sim" ]]; then
      run_test driver-e2e-sim-rtl-S      "$TBIN/test_driver_e2e sim:rtl,config=S"
      run_test driver-e2e-sim-model-M    "$TBIN/test_driver_e2e sim:model"
    fi
    ;;
esac
