#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make run` until the trainer exists: generate fresh vectors for both operations and stream them
# through the RTL floating-point units, printing what was checked.
set -euo pipefail
cd "$(dirname "$0")/../.."

seed="${SEED:-$(date +%s)}"
echo "Sparrow arithmetic core: RTL binary32 add and mul against the host's IEEE arithmetic (seed $seed)"
for op in add mul; do
  build/bin/sparrow-fpgen "$op" --count 200000 --seed "$seed" | build/bin/sparrow-fpvec "$op"
done
