# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154 # $suite, $BIN and $TBIN come from tests/run.sh
#
# Dataflow execution (docs/dataflow.md): the section runner's suite (sections through the driver on
# sparrow-sim's golden model, S and M, bit for bit against the operators kernel by kernel; launch
# splitting and refusals). Sourced by tests/run.sh with $suite set.

case "$suite" in
  quick)
    run_test unit-df-section "$TBIN/test_df_section"
    ;;
esac
