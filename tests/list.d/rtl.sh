# SPDX-License-Identifier: Apache-2.0
#
# The fabric RTL bench (tests/rtl/): CSRs, copies, N-buffering, multicast, bit-exact GEMMs on S and
# M, counters, errors and the watchdog, driven through the Verilated fabric's ports.
case "$suite" in
  quick)
    run_test rtl-fabric "$TBIN/test_rtl_fabric all"
    ;;
  long) ;;
esac
