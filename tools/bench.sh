#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make bench`: the figures of what exists, measured in this one run. Simulated cycles are exact;
# wall-clock figures depend on the machine and are only compared within the run.
#   1. GEMM 256x256x256 on configuration M: RTL fabric and golden model (cycles, utilization, DRAM
#      bytes, simulated MAC/s), and GEMM 128^3 on configuration S;
#   2. binary32 vectors per second through the RTL units.
# Results go to build/bench/ (one JSON line per GEMM run in gemm.jsonl).
set -euo pipefail
cd "$(dirname "$0")/.."

out=build/bench
mkdir -p "$out"
: >"$out/gemm.jsonl"

gemm() {
  local device="$1" size="$2"
  build/bin/sparrow kernel gemm --m "$size" --n "$size" --k "$size" --device "$device" --json \
    2>/dev/null | tee -a "$out/gemm.jsonl" >/dev/null
}

echo "== GEMM on the simulated chip"
gemm sim 256
gemm sim:model 256
gemm sim:rtl,config=S 128
gemm sim:model,config=S 128
python3 - "$out/gemm.jsonl" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print(f"{'device':24} {'m=n=k':>6} {'exact':>5} {'cycles':>8} {'util':>6} {'DRAM rd+wr':>11} "
      f"{'wall s':>7} {'sim MAC/s':>10}")
for r in rows:
    print(f"{r['device']:24} {r['m']:>6} {str(r['exact']):>5} {r['cycles']:>8} "
          f"{r['utilization']:>6.3f} {r['dram_bytes_read'] + r['dram_bytes_written']:>11} "
          f"{r['wall_s']:>7.2f} {r['sim_macs_per_s']:>10.3g}")
by = {(r['device'], r['m']): r for r in rows}
for rtl, model, size in (("sim", "sim:model", 256), ("sim:rtl,config=S", "sim:model,config=S", 128)):
    a, b = by[(rtl, size)], by[(model, size)]
    same = "same" if a["checksum"] == b["checksum"] else "DIFFERENT"
    print(f"{rtl} vs {model}: {same} checksum; model cycle estimate / RTL cycles = "
          f"{b['cycles'] / a['cycles']:.3f}; RTL wall speed / model wall speed = "
          f"{a['sim_macs_per_s'] / b['sim_macs_per_s']:.2f}")
PY

echo "== binary32 vectors through the RTL units"
count="${COUNT:-4000000}"
for op in add mul; do
  build/bin/sparrow-fpgen "$op" --count "$count" --suite random --seed 11 >"$out/$op.vec"
  build/bin/sparrow-fpvec "$op" "$out/$op.vec"
done
