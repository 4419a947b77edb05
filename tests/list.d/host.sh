# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash disable=SC2154,SC2015
# (SC2154: $suite, $BIN and $TBIN come from tests/run.sh, $work from e2e_run in
# tests/lib/e2e.sh; SC2015: `CHECK && pass ... || fail ...` is meant: pass always succeeds.)
#
# Host tests: the ops library's unit suite (programs checked, then run on the golden model
# in-process) and the sparrow CLI end to end through the driver and sparrow-sim.
#
# Sourced by tests/run.sh with $suite set; run as `bash tests/list.d/host.sh --host-cli-e2e [RTL]`
# it is the CLI end-to-end test itself (RTL=1 also runs the RTL fabric and compares checksums).

host_cli_e2e() {
  local with_rtl="${1:-0}"
  local S=build/bin/sparrow

  local S_MODEL="sim:model,config=S" S_RTL="sim:rtl,config=S"
  if run_json_pass "info --json (model, S)" "$work/info" $S info --device "$S_MODEL" --json; then
    [[ $(jget "$work/info" tiles) == 2 && $(jget "$work/info" lanes) == 4 &&
       $(jget "$work/info" peak_macs_per_cycle) == 32 && $(jget "$work/info" fabric) == model ]] &&
      pass "info reports S: 2 tiles, 4 lanes, 32 MAC/cycle" || fail "info fields: $(cat "$work/info")"
  fi
  $S info --device "$S_MODEL" >"$work/info.txt" 2>&1 && grep -q "MAC/cycle" "$work/info.txt" &&
    pass "info (text)" || fail "info (text): $(cat "$work/info.txt")"

  if run_json_pass "kernel gemm 20x36x50 --json (model, S)" "$work/g_model" \
       $S kernel gemm --m 20 --n 36 --k 50 --device "$S_MODEL" --json; then
    echo "     $(cat "$work/g_model")"
    [[ $(jget "$work/g_model" exact) == True && $(jget "$work/g_model" mismatches) == 0 ]] &&
      pass "model gemm bit-exact" || fail "model gemm not exact"
    [[ $(jget "$work/g_model" checksum) == $(jget "$work/g_model" golden_checksum) ]] &&
      pass "checksum equals the golden GEMM's" || fail "checksum differs from golden"
    for key in op m n k device exact mismatches max_rel_err cycles macs utilization \
               dram_bytes_read dram_bytes_written wall_s sim_macs_per_s checksum; do
      jget "$work/g_model" "$key" >/dev/null 2>&1 || fail "JSON lacks $key"
    done
    [[ $(jget "$work/g_model" macs) == 36000 ]] && pass "macs = m*n*k" || fail "macs"
  fi
  # Same seed, same bits; another seed, other bits; K in chunks (larger than a PMU holds).
  run_json_pass "gemm again, same seed" "$work/g_again" \
    $S kernel gemm --m 20 --n 36 --k 50 --device "$S_MODEL" --json
  run_json_pass "gemm, other seed" "$work/g_seed" \
    $S kernel gemm --m 20 --n 36 --k 50 --seed 2 --device "$S_MODEL" --json
  [[ $(jget "$work/g_again" checksum) == $(jget "$work/g_model" checksum) &&
     $(jget "$work/g_seed" checksum) != $(jget "$work/g_model" checksum) ]] &&
    pass "checksum: deterministic per seed" || fail "checksum determinism"
  run_json_pass "gemm 9x13x1100 (K chunked, model, S)" "$work/g_chunk" \
    $S kernel gemm --m 9 --n 13 --k 1100 --device "$S_MODEL" --json &&
    [[ $(jget "$work/g_chunk" exact) == True ]] && pass "chunked K exact" ||
    fail "chunked K: $(cat "$work/g_chunk")"
  $S kernel gemm --m 12 --n 8 --k 16 --device "$S_MODEL" >"$work/text" 2>"$work/err" &&
    grep -q "exact: 0 of 96 elements differ" "$work/text" && pass "gemm (text)" ||
    fail "gemm (text): $(cat "$work/text" "$work/err")"

  if [[ $with_rtl == 1 ]]; then
    if run_json_pass "kernel gemm 20x36x50 --json (RTL, S)" "$work/g_rtl" \
         $S kernel gemm --m 20 --n 36 --k 50 --device "$S_RTL" --json; then
      echo "     $(cat "$work/g_rtl")"
      [[ $(jget "$work/g_rtl" exact) == True ]] && pass "RTL gemm bit-exact" ||
        fail "RTL gemm not exact"
      [[ $(jget "$work/g_rtl" checksum) == $(jget "$work/g_model" checksum) ]] &&
        pass "RTL and model checksums equal" || fail "RTL and model checksums differ"
    fi
    # K in chunks (partial sums through DRAM) and rows split over tiles: same bits on both fabrics.
    local shape
    for shape in "9 13 1100" "200 3 17" "1 1 1"; do
      # shellcheck disable=SC2086 # m, n and k
      set -- $shape
      run_json_pass "gemm $1x$2x$3 (RTL, S)" "$work/r" \
        $S kernel gemm --m "$1" --n "$2" --k "$3" --device "$S_RTL" --json &&
        run_json_pass "gemm $1x$2x$3 (model, S)" "$work/m" \
          $S kernel gemm --m "$1" --n "$2" --k "$3" --device "$S_MODEL" --json &&
        [[ $(jget "$work/r" exact) == True &&
           $(jget "$work/r" checksum) == $(jget "$work/m" checksum) ]] &&
        pass "gemm $1x$2x$3: RTL exact, checksum equals the model's" ||
        fail "gemm $1x$2x$3 RTL vs model: $(cat "$work/r" "$work/m")"
    done
    # The reduction order does not depend on timing: other DRAM bandwidth and latency change the
    # cycles, never the bits.
    run_json_pass "gemm 20x36x50 (RTL, S, DRAM 8 B/cycle, latency 400)" "$work/g_slow" \
      $S kernel gemm --m 20 --n 36 --k 50 --device "$S_RTL,dram_bw=8,dram_latency=400" --json &&
      [[ $(jget "$work/g_slow" exact) == True &&
         $(jget "$work/g_slow" checksum) == $(jget "$work/g_model" checksum) &&
         $(jget "$work/g_slow" cycles) -gt $(jget "$work/g_rtl" cycles) ]] &&
      pass "slow DRAM: $(jget "$work/g_slow" cycles) cycles instead of $(jget "$work/g_rtl" cycles), same checksum" ||
      fail "slow DRAM changed the result or not the cycles: $(cat "$work/g_slow")"
    # A sparrow-sim started by hand, listening on TCP, serves the same GEMM.
    build/bin/sparrow-sim --listen tcp:127.0.0.1:0 --fabric rtl --config S 2>"$work/sim.err" &
    local sim_pid=$! port=""
    for _ in $(seq 100); do
      port=$(sed -n 's/.*listening on tcp:127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/sim.err")
      [[ -n $port ]] && break
      sleep 0.1
    done
    run_json_pass "gemm 20x36x50 over tcp:127.0.0.1:$port (RTL, S)" "$work/g_tcp" \
      $S kernel gemm --m 20 --n 36 --k 50 --device "tcp:127.0.0.1:$port" --json &&
      [[ $(jget "$work/g_tcp" checksum) == $(jget "$work/g_model" checksum) ]] &&
      pass "tcp device: checksum equals the model's" || fail "tcp device: $(cat "$work/g_tcp" "$work/sim.err")"
    kill "$sim_pid" 2>/dev/null
    wait "$sim_pid" 2>/dev/null

    # The simulator killed in the middle of a command: the CLI reports it promptly, never hangs.
    $S kernel gemm --m 512 --n 512 --k 512 --device "$S_RTL" --json >"$work/killed.out" \
      2>"$work/killed.err" &
    local cli_pid=$! victim="" start_s
    for _ in $(seq 100); do
      victim=$(pgrep -P "$cli_pid" sparrow-sim || true)
      [[ -n $victim ]] && break
      sleep 0.1
    done
    sleep 1  # let the GEMM get going on the device
    kill -9 "$victim" 2>/dev/null
    start_s=$SECONDS
    local status=0
    wait "$cli_pid" || status=$?
    if [[ -n $victim && $status -eq 1 && $((SECONDS - start_s)) -le 5 && ! -s "$work/killed.out" ]] &&
       grep -qiE "closed|died|signal" "$work/killed.err"; then
      pass "simulator killed mid-command: exit 1 within $((SECONDS - start_s)) s: $(tail -1 "$work/killed.err")"
    else
      fail "simulator killed mid-command: pid '$victim', exit $status after $((SECONDS - start_s)) s: $(cat "$work/killed.err")"
    fi
  fi

  # Bad input: a clear message, exit 2 (1 for device failures), nothing on stdout.
  expect "no command"           2 "usage"              -- $S
  expect "unknown command"      2 "unknown command"    -- $S frobnicate
  expect "kernel without op"    2 "which operator"     -- $S kernel
  expect "unknown operator"     2 "unknown operator"   -- $S kernel conv --json
  expect "--m 0"                2 "out of range"       -- $S kernel gemm --m 0 --json
  expect "--m abc"              2 "not a number"       -- $S kernel gemm --m abc --json
  expect "--k missing value"    2 "needs a value"      -- $S kernel gemm --json --k
  expect "--n too large"        2 "out of range"       -- $S kernel gemm --n 99999999 --json
  expect "--seed negative"      2 "not a number"       -- $S kernel gemm --seed -1 --json
  expect "unknown option"       2 "unknown option"     -- $S kernel gemm --mm 3 --json
  expect "info unknown option"  2 "unknown option"     -- $S info --fast
  expect "unreachable unix"     1 "cannot open device" -- $S kernel gemm --device unix:/nonexistent/sock --json
  expect "unreachable tcp"      1 "cannot open device" -- $S info --device tcp:127.0.0.1:1 --json
  expect "malformed URI"        2 "unknown device URI" -- $S info --device bogus:thing --json
  expect "too big for DRAM"     1 "bytes of device memory" -- $S kernel gemm --m 16384 --n 16384 --k 16384 --device "$S_MODEL" --json
}

if [[ "${1:-}" == "--host-cli-e2e" ]]; then
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  # shellcheck source=/dev/null
  source tests/lib/e2e.sh
  e2e_run host_cli_e2e "${2:-0}"
  exit $?
fi

case "$suite" in
  quick)
    run_test unit-ops-gemm "$TBIN/test_ops_gemm"
    run_test host-cli "bash tests/list.d/host.sh --host-cli-e2e 1"
    ;;
  long)
    # The benchmark figure: 256^3 on configuration M, golden-model and RTL fabrics.
    run_test host-gemm-256-model \
      "$BIN/sparrow kernel gemm --m 256 --n 256 --k 256 --device sim:model --json | \
       python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r); \
                   assert r[\"exact\"] and r[\"utilization\"] >= 0.85'"
    run_test host-gemm-256-rtl \
      "$BIN/sparrow kernel gemm --m 256 --n 256 --k 256 --device sim --json | \
       python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(r); \
                   assert r[\"exact\"] and r[\"utilization\"] >= 0.85'"
    ;;
esac
