#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Builds the bare-metal RISC-V firmware and checks the image: a RISC-V ELF, entry point _start,
# the core and codec linked in, and not one undefined symbol (no hidden libc dependency).
#   firmware/port/riscv/check-elf.sh [ELF]
set -euo pipefail
cd "$(dirname "$0")/../../.."

elf="${1:-build/firmware/sparrow-fw-riscv.elf}"
make --no-print-directory -s firmware-riscv

fail() {
  echo "check-elf: $*" >&2
  exit 1
}

header=$(riscv64-unknown-elf-readelf -h "$elf" 2>/dev/null || readelf -h "$elf")
grep -q 'Machine:[[:space:]]*RISC-V' <<<"$header" || fail "$elf is not a RISC-V ELF"
grep -q 'Class:[[:space:]]*ELF32' <<<"$header" || fail "$elf is not a 32-bit (rv32) image"

undefined=$(riscv64-unknown-elf-nm -u "$elf")
[[ -z "$undefined" ]] || fail "undefined symbols in $elf: $(tr '\n' ' ' <<<"$undefined")"

symbols=$(riscv64-unknown-elf-nm "$elf")
for sym in _start main sparrow_fw_handle_frame sparrow_fw_reject_header sparrow_proto_crc32 \
  sparrow_hal_csr_read; do
  grep -qE "[[:space:]]$sym\$" <<<"$symbols" || fail "symbol $sym missing from $elf"
done
entry=$(grep -E 'Entry point address' <<<"$header" | awk '{print $NF}')
start=$(grep -E '[[:space:]]_start$' <<<"$symbols" | awk '{print $1}')
[[ $((entry)) -eq $((16#$start)) ]] || fail "entry point $entry is not _start (0x$start)"

read -r text data bss _ < <(riscv64-unknown-elf-size "$elf" | tail -1)
echo "sparrow-fw-riscv: RISC-V ELF32, 0 undefined symbols, text $text data $data bss $bss bytes"
