#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make bench` until the fabric exists: throughput of the vector runner through the Verilated units,
# measured on a vector file generated beforehand so that generation does not count.
set -euo pipefail
cd "$(dirname "$0")/../.."

count="${COUNT:-4000000}"
mkdir -p build/bench
for op in add mul; do
  build/bin/sparrow-fpgen "$op" --count "$count" --suite random --seed 11 >"build/bench/$op.vec"
  build/bin/sparrow-fpvec "$op" "build/bench/$op.vec"
done
