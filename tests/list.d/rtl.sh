# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154 # $suite, $BIN and $TBIN come from tests/run.sh
#
# The fabric RTL bench (tests/rtl/): CSRs, copies, N-buffering, multicast, bit-exact GEMMs on S and
# M, counters, errors and the watchdog; PMU index memory and gather (line sequences, sync by index
# words, gather rate), the PCU's per-block k table and a bit-exact block-sparse product; the PCU's
# SIMD and LOAD modes (every opcode, predication and flags, walk, program memory, exact issue-group
# timing, two PCUs with back-pressure, watchdog); driven through the Verilated fabric's ports.
case "$suite" in
  quick)
    run_test rtl-fabric "$TBIN/test_rtl_fabric all"
    ;;
  long) ;;
esac
