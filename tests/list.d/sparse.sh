# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154,SC2015
# (SC2154: $suite, $BIN and $TBIN come from tests/run.sh, $work from e2e_run in
# tests/lib/e2e.sh; SC2015: `CHECK && pass ... || fail ...` is meant: pass always succeeds.)
#
# Block-sparse weights and operators: the BSR format (packing, validation, the transposed pattern)
# and the mask generators, each also under valgrind (every failure path must free what it took);
# the operators' suite (programs checked, then run on the golden model in-process; W's checks under
# valgrind); and the CLI end to end through the driver and sparrow-sim, golden model and RTL fabric
# on configuration S with their checksums compared.
# Sourced by tests/run.sh with $suite set; run as `bash tests/list.d/sparse.sh --sparse-cli-e2e
# [RTL]` it is the CLI end-to-end test itself (RTL=1 also runs the RTL fabric).

SPARSE_VALGRIND="CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=all"

sparse_cli_e2e() {
  local with_rtl="${1:-0}"
  local S=build/bin/sparrow

  local S_MODEL="sim:model,config=S" S_RTL="sim:rtl,config=S"
  # Every operator, a few shapes and masks: exact on the model (and the RTL, same checksum).
  local cases=(
    "spmm 20 64 48 1/2 random 8"
    "spmm 37 40 96 0.25 magnitude 8"
    "spmm 9 64 1024 1/8 random 8"
    "spmm 16 32 32 1 random 4"
    "spmm_t 20 64 48 1/2 random 8"
    "spmm_t 33 48 64 1/4 magnitude 16"
    "sddmm 20 64 48 1/2 random 8"
    "sddmm 300 40 32 1/4 random 8"
    "sddmm 7 96 64 1/16 magnitude 8"
  )
  local c
  for c in "${cases[@]}"; do
    # shellcheck disable=SC2086 # the case's fields
    set -- $c
    local op=$1 m=$2 n=$3 k=$4 d=$5 mask=$6 b=$7
    local name="$op ${m}x${n}x${k} density $d ($mask, block $b)"
    if run_json "$name (model, S)" "$work/m" \
         $S kernel "$op" --m "$m" --n "$n" --k "$k" --density "$d" --mask "$mask" --block "$b" \
         --device "$S_MODEL" --json; then
      if [[ $(jget "$work/m" exact) == True &&
            $(jget "$work/m" checksum) == $(jget "$work/m" golden_checksum) &&
            $(jget "$work/m" fabric_macs) -ge $(jget "$work/m" macs) ]]; then
        pass "$name: model exact, checksum $(jget "$work/m" checksum), $(jget "$work/m" nnz_blocks) blocks, $(jget "$work/m" cycles) cycles"
      else
        fail "$name (model): $(cat "$work/m")"
      fi
      if [[ $with_rtl == 1 ]] &&
         run_json "$name (RTL, S)" "$work/r" \
           $S kernel "$op" --m "$m" --n "$n" --k "$k" --density "$d" --mask "$mask" --block "$b" \
           --device "$S_RTL" --json; then
        if [[ $(jget "$work/r" exact) == True &&
              $(jget "$work/r" checksum) == $(jget "$work/m" checksum) ]]; then
          pass "$name: RTL exact, checksum equals the model's ($(jget "$work/r" cycles) cycles)"
        else
          fail "$name RTL vs model: $(cat "$work/r" "$work/m")"
        fi
      fi
    fi
  done

  # The JSON line: gemm's fields plus the sparse ones; density and nnz_blocks consistent.
  if run_json "spmm --json fields" "$work/j" \
       $S kernel spmm --m 8 --n 64 --k 64 --density 1/4 --device "$S_MODEL" --json; then
    local key missing=""
    for key in op m n k block mask density nnz_blocks device config fabric seed exact mismatches \
               max_rel_err tolerance cycles est_cycles macs fabric_macs peak_macs_per_cycle \
               utilization dram_bytes_read dram_bytes_written dram_bytes_weights launches \
               program_entries fp_status wall_s sim_macs_per_s checksum golden_checksum; do
      jget "$work/j" "$key" >/dev/null 2>&1 || missing="$missing $key"
    done
    [[ -z $missing ]] && pass "spmm JSON has every field" || fail "spmm JSON lacks:$missing"
    # 8x8 blocks of a 64x64 W: 64 blocks, 1/4 of them: 16, 2 per block column; macs = 16*64*8.
    [[ $(jget "$work/j" nnz_blocks) == 16 && $(jget "$work/j" density) == 0.25 &&
       $(jget "$work/j" macs) == 8192 && $(jget "$work/j" op) == spmm ]] &&
      pass "nnz_blocks 16, density 0.25, macs 8192" || fail "spmm figures: $(cat "$work/j")"
  fi
  # Determinism, and the seed changes the bits; text output.
  run_json "spmm again" "$work/j2" \
    $S kernel spmm --m 8 --n 64 --k 64 --density 1/4 --device "$S_MODEL" --json &&
    run_json "spmm seed 2" "$work/j3" \
      $S kernel spmm --m 8 --n 64 --k 64 --density 1/4 --seed 2 --device "$S_MODEL" --json &&
    [[ $(jget "$work/j2" checksum) == $(jget "$work/j" checksum) &&
       $(jget "$work/j3" checksum) != $(jget "$work/j" checksum) ]] &&
    pass "checksum: deterministic per seed" || fail "spmm determinism"
  $S kernel sddmm --m 12 --n 16 --k 32 --density 1/2 --device "$S_MODEL" >"$work/text" 2>"$work/err" &&
    grep -q "exact: 0 of 256 elements differ" "$work/text" && grep -q "4 of 8 blocks of 8x8 stored" "$work/text" &&
    pass "sddmm (text)" || fail "sddmm (text): $(cat "$work/text" "$work/err")"
  # Density 1: spmm equals the dense gemm bit for bit (same seeds: X is gemm's A, W its B).
  run_json "spmm density 1" "$work/d1" \
    $S kernel spmm --m 20 --n 40 --k 48 --density 1 --device "$S_MODEL" --json &&
    run_json "gemm 20x40x48" "$work/g" $S kernel gemm --m 20 --n 40 --k 48 --device "$S_MODEL" --json &&
    [[ $(jget "$work/d1" checksum) == $(jget "$work/g" checksum) ]] &&
    pass "spmm at density 1 = gemm, checksum $(jget "$work/g" checksum)" ||
    fail "spmm density 1 vs gemm: $(cat "$work/d1" "$work/g")"

  # The benchmark command (its short form, on the model, S): one JSON object, the files.
  if run_json "bench --quick --json (model, S)" "$work/bench.json" \
       $S bench --quick --device "$S_MODEL" --out "$work/bench" --json; then
    if python3 - "$work/bench.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rows = {(r["op"], r["m"], r["n"], r["k"]): r for r in d["rows"]}
assert d["failures"] == 0 and d["config"] == "S" and len(d["rows"]) == 5, d
for key in (("gemm", 256, 512, 512), ("gemm", 512, 512, 256), ("spmm", 256, 512, 512),
            ("spmm_t", 256, 512, 512), ("sddmm", 256, 512, 512)):
    r = rows[key]
    assert r["exact"] and r["cycles"] > 0, r
# The sparse rows at 1/8: an eighth of the dense MACs, speedup = dense cycles / cycles.
for op, ref in (("spmm", ("gemm", 256, 512, 512)), ("sddmm", ("gemm", 512, 512, 256))):
    r, g = rows[(op, 256, 512, 512)], rows[ref]
    assert r["density"] == 0.125 and r["macs"] * 8 == g["macs"], (r, g)
    assert abs(r["speedup_vs_dense"] - g["cycles"] / r["cycles"]) < 1e-3, (r, g)
assert len(d["targets"]) == 6
print(" ".join(f"{r['op']} {r['speedup_vs_dense']:.2f}x" for r in d["rows"][2:]))
PY
    then
      pass "bench --quick: rows exact, speedups consistent"
    else
      fail "bench --quick figures: $(cat "$work/bench.json")"
    fi
    [[ -s $work/bench/sparse.csv && -s $work/bench/sparse.md && -s $work/bench/sparse.png ]] &&
      [[ $(wc -l <"$work/bench/sparse.csv") -eq 6 ]] && head -c 8 "$work/bench/sparse.png" | grep -q PNG &&
      pass "bench files: sparse.csv (5 rows), sparse.md, sparse.png" ||
      fail "bench files: $(ls -l "$work/bench")"
  fi

  # Bad input: a clear message, exit 2 (1 for what only the device can tell), nothing on stdout.
  expect "density 0.3"          2 "density"                -- $S kernel spmm --density 0.3 --json
  expect "density missing"      2 "needs a value"          -- $S kernel spmm --json --density
  expect "mask unknown"         2 "not random or magnitude" -- $S kernel spmm --mask best --json
  expect "k not a block multiple" 2 "--k 100 is not a multiple of the block size 8" -- $S kernel spmm --k 100 --json
  expect "n not a block multiple" 2 "--n 40 is not a multiple of the block size 12" -- $S kernel sddmm --block 12 --n 40 --k 48 --json
  expect "block 0"              2 "out of range"           -- $S kernel spmm_t --block 0 --json
  expect "gemm has no density"  2 "unknown option"         -- $S kernel gemm --density 1/2 --json
  expect "unknown option"       2 "unknown option"         -- $S kernel sddmm --frob --json
  expect "block not a multiple of lanes" 1 "block size 6 is not a multiple of lanes 4" -- \
    $S kernel spmm --block 6 --n 48 --k 48 --device "$S_MODEL" --json
  expect "unreachable device"   1 "cannot open device"     -- $S kernel spmm --device unix:/nonexistent/sock --json
  expect "bench unknown option" 2 "unknown option"         -- $S bench --fast
}

if [[ "${1:-}" == "--sparse-cli-e2e" ]]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  # shellcheck source=/dev/null
  source tests/lib/e2e.sh
  e2e_run sparse_cli_e2e "${2:-0}"
  exit $?
fi

case "$suite" in
  quick)
    run_test unit-bsr               "$TBIN/test_bsr"
    run_test unit-mask              "$TBIN/test_mask"
    run_test unit-bsr-valgrind      "$SPARSE_VALGRIND $TBIN/test_bsr"
    run_test unit-mask-valgrind     "$SPARSE_VALGRIND $TBIN/test_mask"
    run_test unit-ops-sparse        "$TBIN/test_ops_sparse"
    run_test unit-ops-sparse-valgrind "CK_RUN_CASE=checks $SPARSE_VALGRIND $TBIN/test_ops_sparse"
    run_test sparse-cli             "bash tests/list.d/sparse.sh --sparse-cli-e2e 1"
    ;;
  long)
    # The benchmark shapes on configuration M, golden model: every operator exact at 1/8.
    for op in spmm spmm_t sddmm; do
      run_test "sparse-$op-256x512x512-model" \
        "$BIN/sparrow kernel $op --m 256 --n 512 --k 512 --density 1/8 --device sim:model --json | \
         python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r); assert r[\"exact\"]'"
    done
    ;;
esac
