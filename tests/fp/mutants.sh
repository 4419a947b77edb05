#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Tests the tests: builds deliberately broken copies of the floating-point RTL, one small bug each,
# and requires the standard vector suite to catch every one. A suite that let a mutant through would
# be a suite whose zero-mismatch verdict means less than it claims.
set -uo pipefail
cd "$(dirname "$0")/../.."

MUTANTS_DIR=build/mutants
passed=0
failed=0

# mutant NAME FILE SED_EXPRESSION: the vector suite must report mismatches for this change.
mutant() {
  local name="$1" file="$2" expression="$3"
  local dir="$MUTANTS_DIR/$name"
  rm -rf "$dir/rtl"
  mkdir -p "$dir"
  cp -r rtl "$dir/rtl"
  sed -i "$expression" "$dir/rtl/$file"
  if cmp -s "rtl/$file" "$dir/rtl/$file"; then
    failed=$((failed + 1))
    echo "FAIL $name: the mutation did not apply to rtl/$file (update this script)"
    return
  fi
  # A mutant may leave signals unused; it only has to simulate, not lint.
  if ! make -s BUILD="$dir/build" RTL_ROOT="$dir/rtl" VERILATOR_EXTRA=-Wno-fatal \
      "$dir/build/bin/sparrow-fpvec" >"$dir/build.log" 2>&1; then
    failed=$((failed + 1))
    echo "FAIL $name: mutant did not build, see $dir/build.log"
    return
  fi
  local verdicts="" killed=false
  for op in add mul; do
    local line
    line=$(build/bin/sparrow-fpgen "$op" --count 1000000 --seed 1 |
           "$dir/build/bin/sparrow-fpvec" "$op" --show 0)
    verdicts+=" $op:$(sed -E 's/.* ([0-9]+) result mismatches, ([0-9]+) flag mismatches.*/\1+\2/' <<<"$line")"
    if [[ $line != *" 0 result mismatches, 0 flag mismatches"* ]]; then
      killed=true
    fi
  done
  if $killed; then
    passed=$((passed + 1))
    echo "ok   $name killed (mismatches result+flags:$verdicts)"
  else
    failed=$((failed + 1))
    echo "FAIL $name survived:$verdicts"
  fi
}

mutant ties-away-from-zero  fpu/sparrow_fp_round.sv 's/assign round_up = guard & (sticky | kept\[0\]);/assign round_up = guard;/'
mutant tininess-before-rounding fpu/sparrow_fp_round.sv 's/assign tiny = (exp_i < 0) | ((exp_i == 0) \& ~full_carry);/assign tiny = (exp_i < 1);/'
mutant denormal-shift-drops-sticky fpu/sparrow_fp_round.sv 's/assign sticky   = sticky_i | shifted_out |/assign sticky   = sticky_i |/'
mutant overflow-one-late    fpu/sparrow_fp_round.sv 's/(packed_exp >= ExpWideBits.(ExpMax))/(packed_exp > ExpWideBits'"'"'(ExpMax))/'
mutant alignment-drops-sticky fpu/sparrow_fp_add.sv 's/smaller_aligned\[0\] | smaller_sticky/smaller_aligned[0]/g'
mutant zero-sum-sign       fpu/sparrow_fp_add.sv 's/result_o = {a_i\[31\] & b_i\[31\], 31.b0};/result_o = {a_i[31] | b_i[31], 31'"'"'b0};/'
mutant snan-not-invalid     fpu/sparrow_fp_mul.sv 's/flags_o.nv = any_snan | inf_times_zero;/flags_o.nv = inf_times_zero;/'
mutant nan-payload-kept     fpu/sparrow_fp_mul.sv 's/result_o   = CanonicalNaN;/result_o   = a_class.is_nan ? a_i | 32'"'"'h0040_0000 : CanonicalNaN;/'

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
