#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The USB path end to end (docs/usb.md): the unmodified sparrow CLI and libsparrow talk to
# simulated Sparrows that sparrow-usb-fake attaches as USB devices (umockdev), each backed by a
# sparrow-sim with the RTL fabric. GEMMs over usb must give the checksums of the socket transport;
# raw transfers around the packet and frame sizes must round-trip; `sparrow devices` must list the
# devices; every error that can be provoked without a board is provoked and must be reported with
# its status and message within its timeout.
#   bash tests/usb/usb_e2e.sh        (from the top of the tree; prints "N passed, N failed")

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
S=build/bin/sparrow
F=build/bin/sparrow-usb-fake
E=build/tests/test_usb_e2e
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }
jget() { python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read())[sys.argv[2]])' "$1" "$2"; }

# GEMM over usb against the socket transport (a spawned sparrow-sim on a socketpair): exact, and
# the same checksum, on both configurations.
gemm_vs_socket() {
  local config="$1" m="$2" n="$3" k="$4"
  local name="gemm ${m}x${n}x${k} (RTL, $config): usb vs socketpair"
  if $F --config "$config" -- $S kernel gemm --m "$m" --n "$n" --k "$k" --device usb --json \
       >"$work/usb.json" 2>"$work/usb.err" &&
     $S kernel gemm --m "$m" --n "$n" --k "$k" --device "sim:rtl,config=$config" --json \
       >"$work/sock.json" 2>"$work/sock.err" &&
     [[ $(wc -l <"$work/usb.json") -eq 1 ]] &&
     [[ $(jget "$work/usb.json" exact) == True && $(jget "$work/usb.json" device) == usb ]] &&
     [[ $(jget "$work/usb.json" checksum) == $(jget "$work/sock.json" checksum) ]] &&
     [[ $(jget "$work/usb.json" cycles) == $(jget "$work/sock.json" cycles) ]]; then
    pass "$name: exact, checksum $(jget "$work/usb.json" checksum), $(jget "$work/usb.json" cycles) cycles on both"
  else
    fail "$name"
    sed 's/^/     /' "$work/usb.json" "$work/usb.err" "$work/sock.json" "$work/sock.err"
  fi
}
# A block-sparse operator (gather in the PMUs) over usb against the socket transport.
sparse_vs_socket() {
  local config="$1" op="$2" m="$3" n="$4" k="$5" density="$6"
  local name="$op ${m}x${n}x${k} density $density (RTL, $config): usb vs socketpair"
  local args=(kernel "$op" --m "$m" --n "$n" --k "$k" --density "$density" --json)
  if $F --config "$config" -- $S "${args[@]}" --device usb >"$work/usb.json" 2>"$work/usb.err" &&
     $S "${args[@]}" --device "sim:rtl,config=$config" >"$work/sock.json" 2>"$work/sock.err" &&
     [[ $(wc -l <"$work/usb.json") -eq 1 ]] &&
     [[ $(jget "$work/usb.json" exact) == True && $(jget "$work/usb.json" device) == usb ]] &&
     [[ $(jget "$work/usb.json" checksum) == $(jget "$work/sock.json" checksum) ]] &&
     [[ $(jget "$work/usb.json" cycles) == $(jget "$work/sock.json" cycles) ]]; then
    pass "$name: exact, checksum $(jget "$work/usb.json" checksum), $(jget "$work/usb.json" cycles) cycles on both"
  else
    fail "$name"
    sed 's/^/     /' "$work/usb.json" "$work/usb.err" "$work/sock.json" "$work/sock.err"
  fi
}
gemm_vs_socket M 64 64 64
sparse_vs_socket S spmm 20 64 48 1/2
gemm_vs_socket S 64 64 64
gemm_vs_socket S 20 36 50
gemm_vs_socket S 9 13 1100
gemm_vs_socket S 200 3 17
gemm_vs_socket S 1 1 1

# Raw transfers: sizes around one packet and the frame limit, several frames, unaligned.
if $F --config S -- $E roundtrip usb >"$work/rt" 2>&1; then
  pass "raw write/read round trips over usb ($(tail -1 "$work/rt"))"
else
  fail "raw round trips"; sed 's/^/     /' "$work/rt"
fi

# sparrow devices: one line per device, with URI, VID:PID and serial; stdout nothing else.
$F -- $S devices >"$work/dev" 2>"$work/dev.err"
if [[ $(wc -l <"$work/dev") -eq 1 ]] &&
   grep -qE '^usb:1209:0001:SPRW-0001  1209:0001  serial SPRW-0001 ' "$work/dev"; then
  pass "devices: $(cat "$work/dev")"
else
  fail "devices (one device)"; sed 's/^/     /' "$work/dev" "$work/dev.err"
fi
$F --count 3 --serial BOARD -- $S devices >"$work/dev3" 2>"$work/dev.err"
if [[ $(wc -l <"$work/dev3") -eq 3 ]] && for i in 1 2 3; do
     grep -qE "^usb:1209:0001:BOARD-$i  1209:0001  serial BOARD-$i " "$work/dev3" || exit 1
   done; then
  pass "devices: three devices, three lines with their serials"
else
  fail "devices (three)"; sed 's/^/     /' "$work/dev3" "$work/dev.err"
fi
$F --count 2 -- $S devices --json >"$work/devj" 2>"$work/dev.err"
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["count"]==2; assert sorted(x["serial"] for x in d["usb"])==["SPRW-0001-1","SPRW-0001-2"]; assert all(x["vid_pid"]=="1209:0001" for x in d["usb"])' "$work/devj"; then
  pass "devices --json: two devices"
else
  fail "devices --json"; sed 's/^/     /' "$work/devj" "$work/dev.err"
fi
$F --count 0 -- $S devices >"$work/dev0" 2>"$work/dev.err" && [[ ! -s "$work/dev0" ]] &&
  grep -q "no Sparrow 1209:0001 on USB" "$work/dev.err" &&
  pass "devices: none attached: empty list, a note on stderr" || fail "devices (none)"

# A chosen serial among several.
$F --count 2 --config S -- $S info --device usb:1209:0001:SPRW-0001-2 --json >"$work/info" \
  2>"$work/info.err" && [[ $(jget "$work/info" config) == S ]] &&
  pass "usb:1209:0001:SPRW-0001-2 opens the second of two devices" ||
  { fail "open by serial"; sed 's/^/     /' "$work/info" "$work/info.err"; }

# Errors: status, message, and the time it took (the default timeout is 30 s; a transfer-level
# failure must come long before it, a timeout within the one asked for).
expect_err() {
  local name="$1"
  shift
  if "$@" >"$work/err" 2>&1; then
    pass "$name: $(grep -m1 'failed after' "$work/err" | sed 's/^ *//')"
  else
    fail "$name"; sed 's/^/     /' "$work/err"
  fi
}
expect_err "no device" $F --count 0 -- $E expect usb SPARROW_E_CONNECT "no Sparrow 1209:0001 found" 5000
expect_err "several devices, no serial" $F --count 2 -- \
  $E expect usb SPARROW_E_CONNECT "2 Sparrows 1209:0001 found (serials SPRW-0001-" 5000
expect_err "unknown serial" $F -- \
  $E expect usb:1209:0001:NOPE SPARROW_E_CONNECT "no Sparrow 1209:0001 with serial NOPE (found: SPRW-0001)" 5000
expect_err "other VID:PID" $F -- $E expect usb:1d50:6018 SPARROW_E_CONNECT "no Sparrow 1d50:6018 found" 5000
expect_err "interface busy" $F --fault busy -- \
  $E expect usb SPARROW_E_CONNECT "cannot claim interface 0: busy" 5000
expect_err "device gone mid-transfer" $F --config S --fault gone-after:3 -- \
  $E expect usb SPARROW_E_CLOSED "the device is gone (unplugged or reset)" 5000
expect_err "stall on bulk IN" $F --config S --fault stall-in:2 -- \
  $E expect usb SPARROW_E_IO "bulk IN endpoint 0x81 stalled" 5000
expect_err "stall on bulk OUT" $F --config S --fault stall-out:2 -- \
  $E expect usb SPARROW_E_IO "bulk OUT endpoint 0x01 stalled" 5000
expect_err "stall during open (HELLO)" $F --config S --fault stall-in:0 -- \
  $E expect usb SPARROW_E_IO "HELLO: reading the response header" 5000
expect_err "timeout: the device stops answering (500 ms)" $F --config S --fault no-answer:2 -- \
  $E expect usb SPARROW_E_TIMEOUT "no response within 500 ms" 3000 500

# The CLI reports them as device failures: exit 1, a message, nothing on stdout.
$F --count 2 -- $S kernel gemm --device usb --json >"$work/out" 2>"$work/err"
status=$?
[[ $status -eq 1 && ! -s "$work/out" ]] && grep -q "choose one with usb:1209:0001:SERIAL" "$work/err" &&
  pass "CLI: several devices: exit 1, $(grep -m1 error "$work/err")" ||
  { fail "CLI several devices (exit $status)"; sed 's/^/     /' "$work/out" "$work/err"; }

# The fake's own bad input.
$F --count 9 -- true 2>"$work/err"; status=$?
[[ $status -eq 2 ]] && grep -q "expected a decimal integer in \[0, 8\]" "$work/err" &&
  pass "fake: --count 9 refused (exit 2)" || fail "fake --count 9 (exit $status)"
$F --fault melt -- true 2>"$work/err"; status=$?
[[ $status -eq 2 ]] && grep -q "unknown fault" "$work/err" &&
  pass "fake: unknown fault refused" || fail "fake --fault melt (exit $status)"
$F --serial "a:b" -- true 2>"$work/err"; status=$?
[[ $status -eq 2 ]] && grep -q "no ':' or space" "$work/err" &&
  pass "fake: serial with ':' refused" || fail "fake --serial a:b (exit $status)"
$F -- sh -c 'exit 7'; status=$?
[[ $status -eq 7 ]] && pass "fake: exits with the command's status" || fail "fake exit status $status"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
