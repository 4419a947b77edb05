# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154,SC2015
# (SC2154: $suite, $BIN and $TBIN come from tests/run.sh, $work from e2e_run in
# tests/lib/e2e.sh; SC2015: `CHECK && pass ... || fail ...` is meant: pass always succeeds.)
#
# Attention and softmax (docs/ops.md, "Attention and softmax"): the Check suite (strip programs on
# the golden model in-process on S and M; the operators through the driver and sparrow-sim's
# golden model; gradient checks) and the CLI end to end through the driver and sparrow-sim's golden
# model on configuration S. Sourced by tests/run.sh with $suite set; run as
# `bash tests/list.d/attention.sh --attention-cli-e2e [RTL]` it is the CLI end-to-end test itself
# (RTL=1 also runs every operator on the RTL fabric, S, and compares its checksum with the model's:
# for when the RTL has the SIMD mode).

attention_cli_e2e() {
  local with_rtl="${1:-0}"
  local S=build/bin/sparrow
  # checked NAME FILE: exact, the golden flags, within the float tolerance, the SIMD cycles the
  # runner's estimate (the golden model's count), the golden checksum.
  checked() {
    local name="$1" j="$2"
    if [[ $(jget "$j" exact) == True && $(jget "$j" flags_exact) == True &&
          $(jget "$j" within) == True &&
          $(jget "$j" simd_cycles) == $(jget "$j" simd_est_cycles) &&
          $(jget "$j" checksum) == $(jget "$j" golden_checksum) ]]; then
      pass "$name: exact, flags $(jget "$j" fp_flags), error $(jget "$j" norm_rel_err) (tolerance $(jget "$j" tolerance)), $(jget "$j" cycles) cycles ($(jget "$j" gemms) GEMMs)"
    else
      fail "$name: $(cat "$j")"
    fi
  }

  local S_MODEL="sim:model,config=S"
  local ops="attention attention_bwd softmax softmax_bwd"

  # --list names the four, one a line, in this order.
  if $S kernel --list | tr '\n' ' ' | grep -q " attention attention_bwd softmax softmax_bwd "; then
    pass "kernel --list: attention attention_bwd softmax softmax_bwd"
  else
    fail "kernel --list: $($S kernel --list | tr '\n' ' ')"
  fi

  # Every operator with its default shape (attention: 4 x 64 tokens, C 64 in 4 heads; softmax 256
  # x 72), then odd shapes; the odd shapes on M give the same bits (nothing depends on the lanes).
  local op
  # shellcheck disable=SC2086 # $odd is a list of options: split on purpose
  for op in $ops; do
    local odd
    case $op in
      attention*) odd="--b 2 --t 13 --c 12 --heads 2" ;;
      *) odd="--m 37 --n 45" ;;
    esac
    run_json "$op default (model, S)" "$work/d" $S kernel "$op" --device "$S_MODEL" --json &&
      checked "$op default (model, S)" "$work/d"
    if run_json "$op $odd (model, S)" "$work/j" $S kernel "$op" $odd --device "$S_MODEL" --json; then
      checked "$op $odd (model, S)" "$work/j"
      if run_json "$op $odd (model, M)" "$work/m" $S kernel "$op" $odd --device sim:model --json; then
        [[ $(jget "$work/m" exact) == True && $(jget "$work/m" checksum) == $(jget "$work/j" checksum) ]] &&
          pass "$op $odd: M exact, the same checksum as S ($(jget "$work/m" cycles) cycles on M)" ||
          fail "$op $odd on M: $(cat "$work/m" "$work/j")"
      fi
      if [[ $with_rtl == 1 ]] &&
         run_json "$op $odd (RTL, S)" "$work/r" $S kernel "$op" $odd --device sim:rtl,config=S --json; then
        [[ $(jget "$work/r" exact) == True && $(jget "$work/r" flags_exact) == True &&
           $(jget "$work/r" checksum) == $(jget "$work/j" checksum) ]] &&
          pass "$op $odd: RTL exact, flags exact, the model's checksum ($(jget "$work/r" cycles) cycles)" ||
          fail "$op $odd RTL vs model: $(cat "$work/r" "$work/j")"
      fi
    fi
  done

  # --special: infinities, NaNs and (forward) overflowing scores among the inputs: still exact with
  # the golden flags and within tolerance; the NaNs produced are flagged (NV) and reported.
  for op in $ops; do
    local name="$op --special (model, S)"
    if run_json "$name" "$work/j" $S kernel "$op" --special --device "$S_MODEL" --json; then
      local status want=16
      status=$(jget "$work/j" fp_status)
      [[ $op == attention ]] && want=20  # NV | OF: 2^70 * 2^70 overflows, inf - inf
      [[ $op == softmax_bwd ]] && want=0  # NaN inputs pass through quietly
      if [[ $(jget "$work/j" exact) == True && $(jget "$work/j" flags_exact) == True &&
            $(jget "$work/j" within) == True && $(jget "$work/j" nonfinite) -gt 0 &&
            $((status & want)) -eq $want ]] && grep -q "non-finite element" "$work/err"; then
        pass "$name: $(jget "$work/j" nonfinite) non-finite results, FP status $(jget "$work/j" fp_flags), reported"
      else
        fail "$name: $(cat "$work/j" "$work/err")"
      fi
    fi
  done

  # The JSON line's fields.
  if run_json "attention_bwd --json fields" "$work/j" $S kernel attention_bwd --b 1 --t 5 --c 4 --heads 2 \
       --device "$S_MODEL" --json; then
    local key missing=""
    for key in op b t c heads device config fabric seed special exact mismatches elements fp_status \
               fp_flags golden_fp_status flags_exact nonfinite nans err_dq err_dk err_dv norm_rel_err \
               tolerance nonfinite_mismatches within cycles gemm_cycles simd_cycles simd_est_cycles \
               macs dram_bytes_read dram_bytes_written gemms simd_jobs launches program_entries \
               simd_insns body_groups wall_s checksum golden_checksum; do
      jget "$work/j" "$key" >/dev/null 2>&1 || missing="$missing $key"
    done
    [[ -z $missing ]] && pass "attention_bwd JSON has every field" || fail "attention_bwd JSON lacks:$missing"
  fi
  # Determinism per seed; another seed, other bits; text output.
  run_json "attention seed 1" "$work/a" $S kernel attention --b 1 --t 9 --c 8 --heads 2 --device "$S_MODEL" --json &&
    run_json "attention seed 1 again" "$work/b" $S kernel attention --b 1 --t 9 --c 8 --heads 2 --device "$S_MODEL" --json &&
    run_json "attention seed 2" "$work/c" $S kernel attention --b 1 --t 9 --c 8 --heads 2 --seed 2 --device "$S_MODEL" --json &&
    [[ $(jget "$work/a" checksum) == $(jget "$work/b" checksum) &&
       $(jget "$work/a" checksum) != $(jget "$work/c" checksum) ]] &&
    pass "checksum: deterministic per seed" || fail "attention determinism"
  $S kernel softmax --m 6 --n 5 --device "$S_MODEL" >"$work/text" 2>"$work/err" &&
    grep -q "exact: 0 of 30 elements differ" "$work/text" && grep -q "fp status      NX (golden: NX)" "$work/text" &&
    pass "softmax (text)" || fail "softmax (text): $(cat "$work/text" "$work/err")"

  # Bad input: a clear message, exit 2 (1 for what only the device can tell), nothing on stdout.
  expect "--c not a multiple of --heads" 2 "not a multiple"  -- $S kernel attention --c 10 --heads 4 --json
  expect "--m is softmax's"              2 "unknown option"  -- $S kernel attention --m 3 --json
  expect "--heads is attention's"        2 "unknown option"  -- $S kernel softmax_bwd --heads 3 --json
  expect "--t 0"                         2 "out of range"    -- $S kernel attention_bwd --t 0 --json
  expect "--n needs a value"             2 "needs a value"   -- $S kernel softmax --json --n
  expect "unreachable device"            1 "cannot open device" -- $S kernel softmax --device unix:/nonexistent/sock --json
  expect "too big for DRAM"              1 "bytes of device memory" -- $S kernel attention --b 4096 --t 4096 --device "$S_MODEL" --json
}

if [[ "${1:-}" == "--attention-cli-e2e" ]]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  # shellcheck source=/dev/null
  source tests/lib/e2e.sh
  e2e_run attention_cli_e2e "${2:-0}"
  exit $?
fi

case "$suite" in
  quick)
    run_test unit-attention "$TBIN/test_attention"
    run_test attention-cli  "bash tests/list.d/attention.sh --attention-cli-e2e"
    ;;
  long)
    # The trainer's small and wide presets, forward and backward, on M.
    for shape in "--b 8 --t 128 --c 128 --heads 4" "--b 4 --t 64 --c 256 --heads 4"; do
      for op in attention attention_bwd; do
        run_test "attention-$op-${shape// /}-model" \
          "$BIN/sparrow kernel $op $shape --device sim:model --json | \
           python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r); \
                       assert r[\"exact\"] and r[\"flags_exact\"] and r[\"within\"]'"
      done
    done
    ;;
esac
