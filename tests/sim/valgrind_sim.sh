#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# sparrow-sim under valgrind, for test_sim_device: any memory error or leak fails the run
# (exit 99), so every device test doubles as a memory check of the platform and the firmware.
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  "$(dirname "$0")/../../build/bin/sparrow-sim" "$@"
