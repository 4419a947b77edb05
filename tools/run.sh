#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make run`, the main job: trains the sparse (87.5 %) micro GPT on the simulated RTL chip
# (configuration M), every operator of every step on the fabric, kernel by kernel, and cross-checks
# loss and every gradient tensor against the independent CPU reference (docs/training.md).
# The RTL simulates about 1e7 MAC/s, so a sparse step takes about a minute on two cores: STEPS
# (default 6) keeps the job near ten minutes from a fresh clone, build included. The golden model
# computes the same bits much faster:
#   build/bin/sparrow train --preset micro --sparsity 0.875 --steps 300 --device sim:model
set -euo pipefail
cd "$(dirname "$0")/.."

steps="${STEPS:-6}"
out="${OUT:-build/run/micro-sparse-rtl}"
echo "== training the sparse micro GPT on the simulated RTL chip: $steps steps, checked every 2"
echo "   (outputs in $out: metrics.csv, loss.png, summary.json, checkpoint.bin)"
build/bin/sparrow train --preset micro --sparsity 0.875 --steps "$steps" --device sim \
  --check 2 --eval-every "$steps" --val-batches 2 --out "$out"
echo "== summary: $out/summary.json"
cat "$out/summary.json"
echo
