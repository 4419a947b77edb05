# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154,SC2015
# (SC2154: $suite, $BIN and $TBIN come from tests/run.sh, $work from e2e_run in
# tests/lib/e2e.sh; SC2015: `CHECK && pass ... || fail ...` is meant: pass always succeeds.)
#
# The softmax cross-entropy (forward and backward), AdamW and the global gradient norm (docs/ops.md,
# "Loss and optimizer") and the natural logarithm they need (docs/numerics.md, "log"): the log's
# Check suite (accuracy sampled against libm, the SIMD macro on the golden model; all 2^32 inputs
# in the long run), the operators' Check suite (the programs on the golden model in-process, S and
# M, a gradient check, and through the driver and a spawned sparrow-sim), the log's constants in
# the definition and the macro, and the CLI end to end through the driver and sparrow-sim's golden
# model. Sourced by tests/run.sh with $suite set; run as `bash tests/list.d/nn_loss.sh --cli-e2e
# [RTL]` it is the CLI end-to-end test itself (RTL=1 also runs each operator on the RTL fabric, S,
# and requires the model's checksum), and with --constants the constants check.

nn_loss_cli_e2e() {
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
print(("ok exact, flags %s, worst error %.3g (%s, bound %.3g), %d cycles, %d DRAM bytes"
       % (r["fp_flags"], r["norm_rel_err"], r["worst_output"], r["tolerance"], r["cycles"],
          r["dram_bytes_read"] + r["dram_bytes_written"]))
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
  local ops="cross_entropy cross_entropy_bwd adamw grad_norm"
  # --list names the four (forward and backward apart), each once.
  local listed
  listed=$($S kernel --list | grep -cxE 'cross_entropy|cross_entropy_bwd|adamw|grad_norm')
  [[ $listed -eq 4 ]] && pass "kernel --list names cross_entropy, cross_entropy_bwd, adamw, grad_norm" ||
    fail "kernel --list: $($S kernel --list | tr '\n' ' ')"

  # Default shapes (micro: 256 rows, vocabulary 65 padded to 72; 12 tensors), odd shapes, the
  # trainer's small (8 x 128 tokens, vocabulary 80) and wide (4 x 64, 80) shapes; then M.
  local op shape
  # shellcheck disable=SC2086 # $shape is a list of options (maybe none): split on purpose
  for op in cross_entropy cross_entropy_bwd; do
    for shape in "" "--m 37 --n 45" "--m 1024 --n 80" "--m 256 --n 80 --ld 80"; do
      run_json "$op $shape" "$work/j" $S kernel $op $shape --device "$S_MODEL" --json &&
        checked "$op ${shape:-(default)} (model, S)" "$work/j"
    done
  done
  # shellcheck disable=SC2086 # $shape is a list of options (maybe none): split on purpose
  for op in adamw grad_norm; do
    for shape in "" "--m 3 --n 45" "--m 1 --n 1" "--m 40 --n 1024"; do
      run_json "$op $shape" "$work/j" $S kernel $op $shape --device "$S_MODEL" --json &&
        checked "$op ${shape:-(default)} (model, S)" "$work/j"
    done
  done
  run_json "adamw step 100" "$work/j" $S kernel adamw --step 100 --lr 3e-4 --clip 0.25 \
    --device "$S_MODEL" --json && checked "adamw --step 100 --lr 3e-4 --clip 0.25 (model, S)" "$work/j"
  if run_json "grad_norm max 100" "$work/j" $S kernel grad_norm --max-norm 100 --device "$S_MODEL" --json; then
    checked "grad_norm --max-norm 100 (model, S)" "$work/j"
    [[ $(jget "$work/j" clip) == 1 ]] && pass "grad_norm: a norm below max_norm gives clip 1" ||
      fail "grad_norm clip: $(cat "$work/j")"
  fi
  for op in $ops; do
    run_json "$op M" "$work/m" $S kernel "$op" --device sim:model --json &&
      checked "$op (default, model, M)" "$work/m"
  done
  # AdamW has no cross-lane sum: M gives S's bits. The cross-entropy's sums and the norm's lane tree
  # depend on the lanes (docs/numerics.md), so their bits may differ between S and M.
  run_json "adamw S" "$work/s" $S kernel adamw --device "$S_MODEL" --json &&
    run_json "adamw M" "$work/m" $S kernel adamw --device sim:model --json &&
    [[ $(jget "$work/s" checksum) == $(jget "$work/m" checksum) ]] &&
    pass "adamw: M gives S's bits ($(jget "$work/m" checksum))" || fail "adamw: M and S differ"
  if [[ $with_rtl == 1 ]]; then
    # shellcheck disable=SC2086 # $op is an operator and its options
    for op in "cross_entropy --m 37 --n 45" "cross_entropy_bwd --m 37 --n 45" "adamw --m 3 --n 45" \
              "grad_norm --m 3 --n 45"; do
      run_json "$op RTL" "$work/r" $S kernel $op --device sim:rtl,config=S --json &&
        run_json "$op model" "$work/j" $S kernel $op --device "$S_MODEL" --json &&
        [[ $(jget "$work/r" exact) == True && $(jget "$work/r" flags_exact) == True &&
           $(jget "$work/r" checksum) == $(jget "$work/j" checksum) ]] &&
        pass "$op: RTL exact, flags exact, the model's checksum ($(jget "$work/r" cycles) cycles)" ||
        fail "$op on RTL: $(cat "$work/r" 2>/dev/null)"
    done
  fi

  # Edge inputs: large logits, equal logits, a dominant target; zero gradients with m = v = 0 and
  # pruned elements; an all-zero gradient (norm 0, clip 1).
  for op in $ops; do
    run_json "$op --edges" "$work/j" $S kernel "$op" --edges --device "$S_MODEL" --json &&
      checked "$op --edges (model, S)" "$work/j"
  done
  if run_json "grad_norm zero" "$work/j" $S kernel grad_norm --edges --device "$S_MODEL" --json; then
    [[ $(jget "$work/j" norm) == 0 && $(jget "$work/j" clip) == 1 ]] &&
      pass "grad_norm --edges: zero gradients give norm 0 and clip 1" ||
      fail "grad_norm --edges: $(cat "$work/j")"
  fi

  # --special: NaNs and infinities among the inputs; still exact with the golden flags, the
  # non-finite results counted and reported (NV in the FP status, a warning on stderr).
  for op in $ops; do
    if run_json "$op --special" "$work/j" $S kernel "$op" --special --device "$S_MODEL" --json; then
      if [[ $(jget "$work/j" exact) == True && $(jget "$work/j" flags_exact) == True &&
            $(jget "$work/j" within) == True && $(jget "$work/j" nonfinite) -gt 0 &&
            $(( $(jget "$work/j" fp_status) & 16 )) -eq 16 ]] && grep -q "non-finite element" "$work/err"; then
        pass "$op --special: $(jget "$work/j" nonfinite) non-finite results, FP status $(jget "$work/j" fp_flags), reported"
      else
        fail "$op --special: $(cat "$work/j" "$work/err")"
      fi
    fi
  done

  # The JSON line's fields; determinism per seed; the text output.
  if run_json "cross_entropy --json fields" "$work/j" $S kernel cross_entropy --m 8 --n 9 --device "$S_MODEL" --json; then
    local key missing=""
    for key in op m n ld device config fabric seed special edges mean_loss exact mismatches elements \
               fp_status fp_flags golden_fp_status flags_exact nonfinite nans norm_rel_err tolerance \
               worst_output err_losses tol_losses err_mean tol_mean nonfinite_mismatches within cycles \
               est_cycles cycles_per_element dram_bytes_read dram_bytes_written launches jobs \
               program_entries simd_insns body_groups tiles_used wall_s checksum golden_checksum; do
      jget "$work/j" "$key" >/dev/null 2>&1 || missing="$missing $key"
    done
    [[ -z $missing ]] && pass "cross_entropy JSON has every field" || fail "cross_entropy JSON lacks:$missing"
  fi
  run_json "bwd seed 1" "$work/a" $S kernel cross_entropy_bwd --m 20 --n 30 --device "$S_MODEL" --json &&
    run_json "bwd seed 1 again" "$work/b" $S kernel cross_entropy_bwd --m 20 --n 30 --device "$S_MODEL" --json &&
    run_json "bwd seed 2" "$work/c" $S kernel cross_entropy_bwd --m 20 --n 30 --seed 2 --device "$S_MODEL" --json &&
    [[ $(jget "$work/a" checksum) == $(jget "$work/b" checksum) &&
       $(jget "$work/a" checksum) != $(jget "$work/c" checksum) ]] &&
    pass "checksum: deterministic per seed" || fail "cross_entropy_bwd determinism"
  $S kernel grad_norm --m 3 --n 10 --device "$S_MODEL" >"$work/text" 2>"$work/err" &&
    grep -q "exact: 0 of 3 elements differ" "$work/text" && grep -q "fp status      NX (golden: NX)" "$work/text" &&
    pass "grad_norm (text)" || fail "grad_norm (text): $(cat "$work/text" "$work/err")"

  # Bad input: a clear message, exit 2 (1 for what only the device can tell), nothing on stdout.
  expect "--m 0"                  2 "out of range"         -- $S kernel cross_entropy --m 0 --json
  expect "--n not a number"       2 "not a number"         -- $S kernel adamw --n x --json
  expect "--ld below --n"         2 "below the vocabulary" -- $S kernel cross_entropy --n 9 --ld 8 --json
  expect "--lr negative"          2 "positive finite"      -- $S kernel adamw --lr -1 --json
  expect "--clip not a number"    2 "positive finite"      -- $S kernel adamw --clip abc --json
  expect "--step 0"               2 "out of range"         -- $S kernel adamw --step 0 --json
  expect "--ld is the loss's"     2 "unknown option"       -- $S kernel grad_norm --ld 3 --json
  expect "--max-norm is the norm's" 2 "unknown option"     -- $S kernel adamw --max-norm 3 --json
  expect "unreachable device"     1 "cannot open device"   -- $S kernel grad_norm --device unix:/nonexistent/sock --json
  expect "too big for DRAM"       1 "bytes of device memory" -- $S kernel cross_entropy_bwd --m 16384 --n 16384 --device "$S_MODEL,dram_mb=64" --json
}

# The log's constants are the definition's (sim/model/sparrow_fp_log.c keeps them private): every
# LOG_ constant of the definition must be in host/ops/simd_special.c with the same value.
nn_loss_constants() {
  python3 - sim/model/sparrow_fp_log.c host/ops/simd_special.c <<'PY'
import re, sys
def defines(path):
    text = open(path).read().replace('\\\n', ' ')
    return {m.group(1): int(m.group(2), 16)
            for m in re.finditer(r'^#define\s+([A-Z0-9_]+)\s+0x([0-9A-Fa-f]+)u', text, re.M)}
definition, macros = defines(sys.argv[1]), defines(sys.argv[2])
bad = []
names = sorted(n for n in definition if n.startswith('LOG_'))
for name in names:
    if name not in macros:
        bad.append('%s (0x%08X) is not in the macro' % (name, definition[name]))
    elif macros[name] != definition[name]:
        bad.append('%s: 0x%08X in the definition, 0x%08X in the macro' % (name, definition[name], macros[name]))
print('%d LOG_ constants compared' % len(names))
for line in bad:
    print('MISMATCH ' + line)
sys.exit(1 if bad or not names else 0)
PY
}

if [[ "${1:-}" == "--constants" ]]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  nn_loss_constants
  exit $?
fi

if [[ "${1:-}" == "--cli-e2e" ]]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  # shellcheck source=/dev/null
  source tests/lib/e2e.sh
  e2e_run nn_loss_cli_e2e "${2:-0}"
  exit $?
fi

case "$suite" in
  quick)
    run_test log-constants       "bash tests/list.d/nn_loss.sh --constants"
    run_test unit-fp-log         "$TBIN/test_fp_log"
    run_test unit-loss-adamw     "$TBIN/test_loss_adamw"
    run_test loss-adamw-cli      "bash tests/list.d/nn_loss.sh --cli-e2e"
    ;;
  long)
    # The log over all 2^32 inputs (two threads, about two minutes), the definition on every
    # 1021st; then the operators on configuration M at the trainer's wide shape.
    run_test fp-log-exhaustive   "SPARROW_LOG_EXHAUSTIVE=1 CK_RUN_CASE=accuracy $TBIN/test_fp_log"
    for op in cross_entropy cross_entropy_bwd; do
      run_test "$op-4096x80-model" \
        "$BIN/sparrow kernel $op --m 4096 --n 80 --device sim:model --json | \
         python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r); \
                     assert r[\"exact\"] and r[\"flags_exact\"] and r[\"within\"]'"
    done
    for op in adamw grad_norm; do
      run_test "$op-64x65536-model" \
        "$BIN/sparrow kernel $op --m 64 --n 65536 --device sim:model --json | \
         python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r); \
                     assert r[\"exact\"] and r[\"flags_exact\"] and r[\"within\"]'"
    done
    ;;
esac
