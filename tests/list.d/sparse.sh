# SPDX-License-Identifier: Apache-2.0
#
# Block-sparse weights: the BSR format (packing, validation, the transposed pattern) and the mask
# generators, each also under valgrind (every failure path must free what it took).
# Sourced by tests/run.sh with $suite set.

SPARSE_VALGRIND="CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all"

case "$suite" in
  quick)
    run_test unit-bsr               "$TBIN/test_bsr"
    run_test unit-mask              "$TBIN/test_mask"
    run_test unit-bsr-valgrind      "$SPARSE_VALGRIND $TBIN/test_bsr"
    run_test unit-mask-valgrind     "$SPARSE_VALGRIND $TBIN/test_mask"
    ;;
esac
