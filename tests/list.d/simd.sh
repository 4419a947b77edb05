# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154,SC2015
# (SC2154: $suite, $BIN and $TBIN come from tests/run.sh, $work from e2e_run in
# tests/lib/e2e.sh; SC2015: `CHECK && pass ... || fail ...` is meant: pass always succeeds.)
#
# SIMD operators (docs/simd.md, docs/ops.md "SIMD operators"): the special-function macros against
# their C definitions on the golden model (value and flags; a few hundred thousand inputs per
# function, S and M); the assembler, runner and operators' suite (golden model in-process); and
# the CLI end to end through the driver and sparrow-sim's golden model on configuration S.
# Sourced by tests/run.sh with $suite set; run as `bash tests/list.d/simd.sh --simd-cli-e2e [RTL]`
# it is the CLI end-to-end test itself (RTL=1 also runs every operator on the RTL fabric, S, and
# compares its checksum with the model's: for when the RTL has the SIMD mode).

simd_cli_e2e() {
  local with_rtl="${1:-0}"
  local S=build/bin/sparrow

  local S_MODEL="sim:model,config=S"
  local ops
  # The six operators of cmd_kernel_simd.c (lines 5 to 10 of --list; the operators after them
  # have their own options and tests).
  ops=$($S kernel --list | sed -n '5,10p')

  # --list: the earlier kernels first, then every SIMD operator, one a line.
  if [[ "$($S kernel --list | head -n 10 | tr '\n' ' ')" == "gemm spmm spmm_t sddmm residual_add residual_add_bwd bias_add bias_add_bwd gelu gelu_bwd " ]]; then
    pass "kernel --list: $($S kernel --list | wc -l) operators"
  else
    fail "kernel --list: $($S kernel --list | tr '\n' ' ')"
  fi

  # Every operator with its default shape (128 x 128), then odd shapes: bit-exact, the FP status
  # equal to the golden flags, within the float tolerance, the cycles equal to the runner's
  # estimate (the golden model's documented count), the checksum the golden one's.
  local op shape
  for op in $ops; do
    for shape in "128 128" "37 45"; do
      # shellcheck disable=SC2086 # m and n
      set -- $shape
      local name="$op ${1}x${2} (model, S)"
      if run_json "$name" "$work/j" $S kernel "$op" --m "$1" --n "$2" --device "$S_MODEL" --json; then
        if [[ $(jget "$work/j" exact) == True && $(jget "$work/j" flags_exact) == True &&
              $(jget "$work/j" within) == True &&
              $(jget "$work/j" cycles) == $(jget "$work/j" est_cycles) &&
              $(jget "$work/j" checksum) == $(jget "$work/j" golden_checksum) ]]; then
          pass "$name: exact, flags $(jget "$work/j" fp_flags), error $(jget "$work/j" norm_rel_err) (tolerance $(jget "$work/j" tolerance)), $(jget "$work/j" cycles) cycles"
        else
          fail "$name: $(cat "$work/j")"
        fi
      fi
    done
    if [[ $with_rtl == 1 ]] &&
       run_json "$op 37x45 (RTL, S)" "$work/r" $S kernel "$op" --m 37 --n 45 --device sim:rtl,config=S --json; then
      [[ $(jget "$work/r" exact) == True && $(jget "$work/r" flags_exact) == True &&
         $(jget "$work/r" checksum) == $(jget "$work/j" checksum) ]] &&
        pass "$op 37x45: RTL exact, flags exact, the model's checksum ($(jget "$work/r" cycles) cycles)" ||
        fail "$op 37x45 RTL vs model: $(cat "$work/r" "$work/j")"
    fi
    # No operator depends on the lanes or the tiling: configuration M gives the same bits.
    if run_json "$op 37x45 (model, M)" "$work/m" $S kernel "$op" --m 37 --n 45 --device sim:model --json; then
      [[ $(jget "$work/m" exact) == True && $(jget "$work/m" checksum) == $(jget "$work/j" checksum) ]] &&
        pass "$op 37x45: M exact, the same checksum as S ($(jget "$work/m" cycles) cycles on M)" ||
        fail "$op 37x45 on M: $(cat "$work/m" "$work/j")"
    fi
  done

  # --special: infinities and NaNs among the inputs; still exact with the golden flags, and the
  # ones the operator produces are reported: invalid (and overflow for the additions) in the FP
  # status, a warning on stderr. The copies produce nothing (no flag), yet pass them on.
  for op in $ops; do
    local name="$op --special (model, S)"
    if run_json "$name" "$work/j" $S kernel "$op" --special --device "$S_MODEL" --json; then
      local status want=16
      status=$(jget "$work/j" fp_status)
      case $op in
        residual_add | bias_add) want=20 ;;  # NV | OF
        residual_add_bwd) want=0 ;;
      esac
      local flags_ok=0
      if [[ $want -eq 0 ]]; then
        [[ $status -eq 0 ]] && flags_ok=1
      else
        [[ $((status & want)) -eq $want ]] && flags_ok=1
      fi
      if [[ $(jget "$work/j" exact) == True && $(jget "$work/j" flags_exact) == True &&
            $(jget "$work/j" within) == True && $(jget "$work/j" nonfinite) -gt 0 &&
            $flags_ok -eq 1 ]] && grep -q "non-finite element" "$work/err"; then
        pass "$name: $(jget "$work/j" nonfinite) non-finite results, FP status $(jget "$work/j" fp_flags), reported"
      else
        fail "$name: $(cat "$work/j" "$work/err")"
      fi
    fi
  done

  # The JSON line's fields.
  if run_json "gelu --json fields" "$work/j" $S kernel gelu --m 8 --n 8 --device "$S_MODEL" --json; then
    local key missing=""
    for key in op m n device config fabric seed special exact mismatches elements fp_status \
               fp_flags golden_fp_status flags_exact nonfinite nans norm_rel_err tolerance \
               nonfinite_mismatches within cycles est_cycles cycles_per_element dram_bytes_read \
               dram_bytes_written launches program_entries simd_insns body_groups tiles_used \
               wall_s checksum golden_checksum; do
      jget "$work/j" "$key" >/dev/null 2>&1 || missing="$missing $key"
    done
    [[ -z $missing ]] && pass "gelu JSON has every field" || fail "gelu JSON lacks:$missing"
  fi
  # Determinism per seed; another seed, other bits; text output.
  run_json "gelu_bwd seed 1" "$work/a" $S kernel gelu_bwd --m 20 --n 30 --device "$S_MODEL" --json &&
    run_json "gelu_bwd seed 1 again" "$work/b" $S kernel gelu_bwd --m 20 --n 30 --device "$S_MODEL" --json &&
    run_json "gelu_bwd seed 2" "$work/c" $S kernel gelu_bwd --m 20 --n 30 --seed 2 --device "$S_MODEL" --json &&
    [[ $(jget "$work/a" checksum) == $(jget "$work/b" checksum) &&
       $(jget "$work/a" checksum) != $(jget "$work/c" checksum) ]] &&
    pass "checksum: deterministic per seed" || fail "gelu_bwd determinism"
  $S kernel bias_add_bwd --m 12 --n 10 --device "$S_MODEL" >"$work/text" 2>"$work/err" &&
    grep -q "exact: 0 of 10 elements differ" "$work/text" && grep -q "fp status      NX (golden: NX)" "$work/text" &&
    pass "bias_add_bwd (text)" || fail "bias_add_bwd (text): $(cat "$work/text" "$work/err")"

  # Bad input: a clear message, exit 2 (1 for what only the device can tell), nothing on stdout.
  expect "--m 0"               2 "out of range"      -- $S kernel gelu --m 0 --json
  expect "--n not a number"    2 "not a number"      -- $S kernel residual_add --n x --json
  expect "--k is gemm's"       2 "unknown option"    -- $S kernel bias_add --k 3 --json
  expect "--m needs a value"   2 "needs a value"     -- $S kernel gelu_bwd --json --m
  expect "unknown operator"    2 "unknown operator"  -- $S kernel gelu_fwd --json
  expect "unreachable device"  1 "cannot open device" -- $S kernel gelu --device unix:/nonexistent/sock --json
  expect "too big for DRAM"    1 "bytes of device memory" -- $S kernel residual_add --m 16384 --n 16384 --device "$S_MODEL" --json
}

# The macros repeat the definition's constants (sim/model/sparrow_fp_special.c keeps them private):
# every algorithm constant of the definition (EXP_*, RECIP_*, RSQRT_*, TANH_*) must be in
# host/ops/simd_special.c, and every name the two share must have the same value. A refitted
# coefficient's last bits may change none of the sampled results, so this compares the sources.
simd_constants() {
  python3 - sim/model/sparrow_fp_special.c host/ops/simd_special.c <<'PY'
import re, sys
def defines(path):
    text = open(path).read().replace('\\\n', ' ')
    return {m.group(1): int(m.group(2), 16)
            for m in re.finditer(r'^#define\s+([A-Z0-9_]+)\s+0x([0-9A-Fa-f]+)u', text, re.M)}
definition, macros = defines(sys.argv[1]), defines(sys.argv[2])
bad = []
for name, value in sorted(definition.items()):
    if re.match(r'(EXP|RECIP|RSQRT|TANH)_', name) and name not in macros:
        bad.append('%s (0x%08X) is not in the macros' % (name, value))
    elif name in macros and macros[name] != value:
        bad.append('%s: 0x%08X in the definition, 0x%08X in the macros' % (name, value, macros[name]))
shared = sorted(set(definition) & set(macros))
print('%d constants shared, %d of them algorithm constants' %
      (len(shared), len([n for n in shared if re.match(r'(EXP|RECIP|RSQRT|TANH)_', n)])))
for line in bad:
    print('MISMATCH ' + line)
sys.exit(1 if bad else 0)
PY
}

if [[ "${1:-}" == "--constants" ]]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  simd_constants
  exit $?
fi

if [[ "${1:-}" == "--simd-cli-e2e" ]]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  # shellcheck source=/dev/null
  source tests/lib/e2e.sh
  e2e_run simd_cli_e2e "${2:-0}"
  exit $?
fi

case "$suite" in
  quick)
    run_test simd-special-constants "bash tests/list.d/simd.sh --constants"
    run_test unit-simd-special "$TBIN/test_simd_special"
    run_test unit-simd-ops     "$TBIN/test_simd_ops"
    run_test simd-cli          "bash tests/list.d/simd.sh --simd-cli-e2e"
    ;;
  long)
    # Two million random inputs of each kind per function and configuration (about four million
    # each; the exhaustive 2^32 would take about an hour per function on the golden model).
    run_test unit-simd-special-4M "SIMD_SPECIAL_SAMPLES=2000000 $TBIN/test_simd_special"
    # Configuration M, larger shapes, every operator.
    for op in residual_add residual_add_bwd bias_add bias_add_bwd gelu gelu_bwd; do
      run_test "simd-$op-512x768-model" \
        "$BIN/sparrow kernel $op --m 512 --n 768 --device sim:model --json | \
         python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r); \
                     assert r[\"exact\"] and r[\"flags_exact\"] and r[\"within\"]'"
    done
    ;;
esac
