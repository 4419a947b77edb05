# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154 # $suite, $BIN and $TBIN come from tests/run.sh
#
# sparrow-sim (sim/platform/, docs/simulator.md). Sourced by tests/run.sh with $suite set.
# The device tests spawn build/bin/sparrow-sim and speak the wire protocol to it; the RTL runs
# need the Verilated fabric (mk/rtl.mk). tests/sim/valgrind_sim.sh runs the simulator under
# valgrind: a memory error or leak fails the test.

if [[ "$suite" == quick ]]; then
  run_test sim-dram                   "$TBIN/test_sim_dram"
  run_test sim-options                "$TBIN/test_sim_options"
  run_test sim-device-model-S         "$TBIN/test_sim_device $BIN/sparrow-sim model S"
  run_test sim-device-model-M         "$TBIN/test_sim_device $BIN/sparrow-sim model M"
  run_test sim-device-model-S-memchk  "$TBIN/test_sim_device tests/sim/valgrind_sim.sh model S"
  if [[ -e mk/rtl.mk ]]; then
    run_test sim-device-rtl-S         "$TBIN/test_sim_device $BIN/sparrow-sim rtl S"
    run_test sim-device-rtl-M         "$TBIN/test_sim_device $BIN/sparrow-sim rtl M"
  fi
fi
if [[ "$suite" == long && -e mk/rtl.mk ]]; then
  run_test sim-device-rtl-S-memchk    "$TBIN/test_sim_device tests/sim/valgrind_sim.sh rtl S"
fi
