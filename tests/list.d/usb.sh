# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154 # $suite, $BIN and $TBIN come from tests/run.sh
#
# The USB path (docs/usb.md): descriptor tables and the bulk IN endpoint model (Check), and the
# libusb transport end to end against simulated devices attached by sparrow-usb-fake (umockdev is
# part of the set-up, tools/deps.sh: these tests are never skipped).
# Sourced by tests/run.sh with $suite set.

case "$suite" in
  quick)
    run_test unit-usb-desc "$TBIN/test_usb_desc"
    run_test usb-e2e       "bash tests/usb/usb_e2e.sh"
    ;;
  long)
    run_test usb-gemm-256-rtl \
      "$BIN/sparrow-usb-fake -- $BIN/sparrow kernel gemm --m 256 --n 256 --k 256 --device usb --json | \
       python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r); assert r[\"exact\"]'"
    ;;
esac
