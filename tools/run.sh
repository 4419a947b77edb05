#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make run`, the main job until the trainer exists: a dense GEMM through the whole stack (sparrow CLI
# -> libsparrow -> wire protocol -> firmware -> Verilated RTL fabric, configuration M), checked
# bit-exactly against the golden arithmetic, then fresh random vectors through the RTL binary32 units.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== GEMM 256x256x256 on the simulated RTL chip (configuration M)"
build/bin/sparrow kernel gemm --m 256 --n 256 --k 256 --device sim

seed="${SEED:-$(date +%s)}"
echo "== RTL binary32 add and mul against the host's IEEE arithmetic (seed $seed)"
for op in add mul; do
  build/bin/sparrow-fpgen "$op" --count 200000 --seed "$seed" | build/bin/sparrow-fpvec "$op"
done
