# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154 # $suite, $BIN and $TBIN come from tests/run.sh
#
# The SIMD mode's special functions and reduction trees (sim/model/sparrow_fp_special.c,
# docs/numerics.md "Special functions"): special values, flags and the trees (Check suite); the ulp
# measurement against double references, sampled here and over all 2^32 inputs in the long run
# (sparrow-fpulp, tests/fp/fpulp_main.c). Sourced by tests/run.sh with $suite set.

case "$suite" in
  quick)
    run_test unit-fp-special     "$TBIN/test_fp_special"
    run_test fpulp-cli           tests/fp/test_fpulp_cli.sh
    # One million random patterns per function, a quarter million where it works, the targeted
    # set; every input also through the op-by-op definition.
    run_test fpulp-sampled       "$BIN/sparrow-fpulp --count 1000000 --seed 1"
    ;;
  long)
    # All 2^32 inputs of each function on two threads; the definition on every 1021st.
    run_test fpulp-exhaustive    "$BIN/sparrow-fpulp --exhaustive --threads 2"
    ;;
esac
