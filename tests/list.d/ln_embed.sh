# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154,SC2015
# (SC2154: $suite, $BIN and $TBIN come from tests/run.sh, $work from e2e_run in
# tests/lib/e2e.sh; SC2015: `CHECK && pass ... || fail ...` is meant: pass always succeeds.)
#
# Layernorm and the token + position embedding, forward and backward (docs/ops.md, "Layernorm and
# embedding"): the Check suite (the programs on the golden model in-process, S and M, with the
# gradient checks) and the CLI end to end through the driver and sparrow-sim's golden model.
# Sourced by tests/run.sh with $suite set; run as `bash tests/list.d/ln_embed.sh --cli-e2e [RTL]`
# it is the CLI end-to-end test itself (RTL=1 also runs each operator on the RTL fabric, S, and
# requires the model's checksum).

ln_embed_cli_e2e() {
  local with_rtl="${1:-0}"
  local S=build/bin/sparrow
  # checked NAME FILE: bit-exact, the golden flags, within every bound, the estimate's cycles (the
  # golden model counts them by its documented formula), the golden checksum.
  checked() {
    local name="$1" f="$2" verdict
    verdict=$(python3 - "$f" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read())
good = (r["exact"] and r["flags_exact"] and r["within"] and r["cycles"] == r["est_cycles"]
        and r["checksum"] == r["golden_checksum"])
print(("ok exact, flags %s, worst error %.3g (%s, bound %.3g), %d cycles"
       % (r["fp_flags"], r["norm_rel_err"], r["worst_output"], r["tolerance"], r["cycles"]))
      if good else "FAIL")
PY
)
    if [[ $verdict == ok* ]]; then
      pass "$name: ${verdict#ok }"
    else
      fail "$name: $(cat "$f")"
    fi
  }

  local S_MODEL="sim:model,config=S"
  # --list names the four, each once.
  local listed
  listed=$($S kernel --list | grep -cxE 'layernorm|layernorm_bwd|embedding|embedding_bwd')
  [[ $listed -eq 4 ]] && pass "kernel --list names layernorm, layernorm_bwd, embedding, embedding_bwd" ||
    fail "kernel --list: $($S kernel --list | tr '\n' ' ')"

  # Default shapes (micro: 256 x 64; 4 x 64 tokens, V 72, C 64), odd shapes, the trainer's small
  # and wide shapes; then configuration M.
  local op shape
  # shellcheck disable=SC2086 # $shape is a list of options (maybe none): split on purpose
  for op in layernorm layernorm_bwd; do
    for shape in "" "--m 37 --n 45" "--m 1024 --n 128" "--m 256 --n 256"; do
      run_json "$op $shape" "$work/j" $S kernel $op $shape --device "$S_MODEL" --json &&
        checked "$op ${shape:-(default)} (model, S)" "$work/j"
    done
    run_json "$op M" "$work/m" $S kernel $op --m 37 --n 45 --device sim:model --json &&
      checked "$op --m 37 --n 45 (model, M)" "$work/m"
  done
  # shellcheck disable=SC2086 # $shape is a list of options (maybe none): split on purpose
  for op in embedding embedding_bwd; do
    for shape in "" "--b 3 --t 7 --v 13 --c 45" "--b 8 --t 128 --v 80 --c 128" \
                 "--b 4 --t 64 --v 80 --c 256"; do
      run_json "$op $shape" "$work/j" $S kernel $op $shape --device "$S_MODEL" --json &&
        checked "$op ${shape:-(default)} (model, S)" "$work/j"
    done
    # No operator depends on the lanes: the embedding's bits are the same on M.
    if run_json "$op M" "$work/m" $S kernel $op --b 3 --t 7 --v 13 --c 45 --device sim:model --json; then
      checked "$op --b 3 --t 7 --v 13 --c 45 (model, M)" "$work/m"
      run_json "$op S again" "$work/s" $S kernel $op --b 3 --t 7 --v 13 --c 45 --device "$S_MODEL" --json &&
        [[ $(jget "$work/m" checksum) == $(jget "$work/s" checksum) ]] &&
        pass "$op: M gives S's bits ($(jget "$work/m" checksum))" || fail "$op: M and S differ"
    fi
  done
  if [[ $with_rtl == 1 ]]; then
    # shellcheck disable=SC2086 # $op is an operator and its options
    for op in "layernorm --m 37 --n 45" "layernorm_bwd --m 37 --n 45" "embedding --b 3 --t 7 --v 13 --c 45" \
              "embedding_bwd --b 3 --t 7 --v 13 --c 45"; do
      run_json "$op RTL" "$work/r" $S kernel $op --device sim:rtl,config=S --json &&
        run_json "$op model" "$work/j" $S kernel $op --device "$S_MODEL" --json &&
        [[ $(jget "$work/r" exact) == True && $(jget "$work/r" flags_exact) == True &&
           $(jget "$work/r" checksum) == $(jget "$work/j" checksum) ]] &&
        pass "$op: RTL exact, flags exact, the model's checksum ($(jget "$work/r" cycles) cycles)" ||
        fail "$op on RTL: $(cat "$work/r" 2>/dev/null)"
    done
  fi

  # Edge inputs. Layernorm: rows of equal values and of large and tiny values (underflow).
  for op in layernorm layernorm_bwd; do
    run_json "$op --edges" "$work/j" $S kernel $op --edges --device "$S_MODEL" --json &&
      checked "$op --edges (model, S)" "$work/j"
  done
  # Embedding backward: vocabulary rows no token uses get +0.0.
  if run_json "embedding_bwd unused" "$work/j" $S kernel embedding_bwd --device "$S_MODEL" --json; then
    [[ $(jget "$work/j" unused_rows) -gt 0 && $(jget "$work/j" unused_rows_zero) == True ]] &&
      pass "embedding_bwd: $(jget "$work/j" unused_rows) unused vocabulary rows, gradient +0.0" ||
      fail "embedding_bwd unused rows: $(cat "$work/j")"
  fi
  # --special: infinities and NaNs among the inputs; still exact with the golden flags, and the
  # non-finite results are reported: invalid (and, for the embedding, overflow) in the FP status,
  # a warning on stderr.
  for op in layernorm layernorm_bwd embedding embedding_bwd; do
    if run_json "$op --special" "$work/j" $S kernel $op --special --device "$S_MODEL" --json; then
      local want=16 status
      [[ $op == embedding* ]] && want=20  # NV | OF
      status=$(jget "$work/j" fp_status)
      if [[ $(jget "$work/j" exact) == True && $(jget "$work/j" flags_exact) == True &&
            $(jget "$work/j" within) == True && $(jget "$work/j" nonfinite) -gt 0 &&
            $((status & want)) -eq $want ]] && grep -q "non-finite element" "$work/err"; then
        pass "$op --special: $(jget "$work/j" nonfinite) non-finite results, FP status $(jget "$work/j" fp_flags), reported"
      else
        fail "$op --special: $(cat "$work/j" "$work/err")"
      fi
    fi
  done

  # The text form.
  $S kernel embedding_bwd --b 2 --t 3 --v 9 --c 5 --device "$S_MODEL" >"$work/text" 2>"$work/err" &&
    grep -q "exact: 0 of 60 elements differ" "$work/text" && grep -q "unused rows .* +0.0 (ok)" "$work/text" &&
    pass "embedding_bwd (text)" || fail "embedding_bwd (text): $(cat "$work/text" "$work/err")"
  # Determinism per seed; another seed, other bits.
  run_json "layernorm seed 1" "$work/a" $S kernel layernorm --m 20 --n 30 --device "$S_MODEL" --json &&
    run_json "layernorm seed 1 again" "$work/b" $S kernel layernorm --m 20 --n 30 --device "$S_MODEL" --json &&
    run_json "layernorm seed 2" "$work/c" $S kernel layernorm --m 20 --n 30 --seed 2 --device "$S_MODEL" --json &&
    [[ $(jget "$work/a" checksum) == $(jget "$work/b" checksum) &&
       $(jget "$work/a" checksum) != $(jget "$work/c" checksum) ]] &&
    pass "checksum: deterministic per seed" || fail "layernorm determinism"

  # Bad input: a clear message, exit 2 (1 for what only the device can tell), nothing on stdout.
  expect "--m 0"                 2 "out of range"         -- $S kernel layernorm --m 0 --json
  expect "--edges is layernorm's" 2 "unknown option"      -- $S kernel embedding --edges --json
  expect "--m is layernorm's"    2 "unknown option"       -- $S kernel embedding_bwd --m 4 --json
  expect "--v needs a value"     2 "needs a value"        -- $S kernel embedding --json --v
  expect "unreachable device"    1 "cannot open device"   -- $S kernel layernorm --device unix:/nonexistent/sock --json
  expect "vocabulary too large"  1 "does not fit a PMU"   -- $S kernel embedding --v 2000 --device "$S_MODEL" --json
  expect "backward vocabulary"   1 "must be below the index memory" -- $S kernel embedding_bwd --v 1500 --device "$S_MODEL" --json
  expect "too big for DRAM"      1 "bytes of device memory" -- $S kernel layernorm --m 16384 --n 16384 --device "$S_MODEL" --json
}

if [[ "${1:-}" == "--cli-e2e" ]]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  # shellcheck source=/dev/null
  source tests/lib/e2e.sh
  e2e_run ln_embed_cli_e2e "${2:-0}"
  exit $?
fi

case "$suite" in
  quick)
    run_test unit-ln-embed "$TBIN/test_ln_embed"
    run_test ln-embed-cli  "bash tests/list.d/ln_embed.sh --cli-e2e"
    ;;
  long)
    # Configuration M at the trainer's small and wide shapes, and larger ones.
    for spec in "layernorm --m 4096 --n 768" "layernorm_bwd --m 4096 --n 768" \
                "embedding --b 16 --t 256 --v 256 --c 768" "embedding_bwd --b 16 --t 256 --v 256 --c 768"; do
      # shellcheck disable=SC2086 # the operator, then its options
      set -- $spec
      run_test "ln-embed-$1-M" \
        "$BIN/sparrow kernel $spec --device sim:model --json | \
         python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r); \
                     assert r[\"exact\"] and r[\"flags_exact\"] and r[\"within\"]'"
    done
    ;;
esac
