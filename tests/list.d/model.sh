# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154 # $suite, $BIN and $TBIN come from tests/run.sh
#
# The golden model's tests (sim/model/, mk/model.mk). Sourced by tests/run.sh with $suite set.
case "$suite" in
  quick)
    run_test unit-model        "$TBIN/test_model"
    run_test unit-model-gemm   "$TBIN/test_model_gemm"
    run_test unit-model-sparse "$TBIN/test_model_sparse"
    run_test unit-model-simd   "$TBIN/test_model_simd"
    # The suites again under valgrind, without fork so that every allocation is tracked: no
    # invalid access, no leak. Valgrind does not raise host FP flags, so the GEMM and SIMD suites
    # skip their flag checks there (and say so); values are still compared bit for bit.
    if command -v valgrind >/dev/null; then
      for t in test_model test_model_gemm test_model_sparse test_model_simd; do
        run_test "valgrind-${t#test_}" \
          "CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all $TBIN/$t"
      done
    fi
    ;;
esac
