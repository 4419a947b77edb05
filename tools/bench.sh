#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# `make bench`: the figures of what exists, measured in this one run. Simulated cycles are exact;
# wall-clock figures depend on the machine and are only compared within the run.
#   1. GEMM 256x256x256 on configuration M: RTL fabric and golden model (cycles, utilization, DRAM
#      bytes, simulated MAC/s), and GEMM 128^3 on configuration S;
#   2. the block-sparse benchmark (`sparrow bench`, configuration M, RTL fabric): dense GEMMs
#      against spmm, spmm_t and sddmm at densities 1 .. 1/16 (docs/results.md); this is the long
#      part (many minutes: the RTL simulates about 1e7 MAC/s);
#   3. the execution-mode study (`sparrow bench --study`, configuration M, RTL fabric): one
#      training step of the wide and of the micro preset at sparsity 0, 0.75, 0.875 in modes kbk
#      and df (docs/results.md); also long (six RTL training steps per preset);
#   4. binary32 vectors per second through the RTL units.
# Results go to build/bench/ (one JSON line per GEMM run in gemm.jsonl; sparse.json, sparse.csv,
# sparse.md and sparse.png from the sparse benchmark; study-PRESET.json and study-PRESET/ from the
# study).
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

echo "== block-sparse operators against dense (RTL, configuration M)"
# The table goes to stdout (and sparse.md); the JSON object to sparse.json. A missed target is
# reported, not an error; a failed or inexact run is.
build/bin/sparrow bench --device "${SPARSE_DEVICE:-sim}" --out "$out" --json >"$out/sparse.json"
python3 - "$out/sparse.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(f"{'op':7} {'MxNxK':12} {'density':>8} {'cycles':>8} {'util':>6} {'W bytes':>9} "
      f"{'DRAM bytes':>10} {'speedup':>8} {'exact':>5}")
for r in d["rows"]:
    dens = "dense" if r["op"] == "gemm" else f"{r['density']:.4g}"
    print(f"{r['op']:7} {r['m']}x{r['n']}x{r['k']:<4} {dens:>8} {r['cycles']:>8} "
          f"{r['utilization']:>6.3f} {r['dram_bytes_weights']:>9} "
          f"{r['dram_bytes_read'] + r['dram_bytes_written']:>10} {r['speedup_vs_dense']:>7.2f}x "
          f"{str(r['exact']):>5}")
for t in d["targets"]:
    print(f"target {t['op']} at density {t['density']:.4g}: {t['speedup']:.2f}x "
          f"(want {t['want']:.1f}x) {'met' if t['met'] else 'MISSED'}")
PY

echo "== execution modes: KBK against DF at sparsity 0, 0.75, 0.875 (RTL, configuration M)"
# `sparrow bench --study`: one training step per configuration, six per preset (docs/results.md,
# "Execution-mode study"), wide then micro. The JSON object goes to study-PRESET.json, the files to
# study-PRESET/; the Markdown table and the targets are printed. A missed target is reported, not an
# error; a failed run or a KBK/DF difference is.
for preset in wide micro; do
  build/bin/sparrow bench --study --preset "$preset" --device "${STUDY_DEVICE:-sim}" \
    --out "$out/study-$preset" --json >"$out/study-$preset.json"
  cat "$out/study-$preset/study.md"
  echo
done

echo "== binary32 vectors through the RTL units"
count="${COUNT:-4000000}"
for op in add mul; do
  build/bin/sparrow-fpgen "$op" --count "$count" --suite random --seed 11 >"$out/$op.vec"
  build/bin/sparrow-fpvec "$op" "$out/$op.vec"
done
