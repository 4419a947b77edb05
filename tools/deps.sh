#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Installs the Debian bookworm packages Sparrow builds and tests with, when any is missing.
# Idempotent: with everything present it only checks and exits 0. `make` runs it on a fresh machine.
#
#   tools/deps.sh           install what is missing (needs root)
#   tools/deps.sh --check   only report; exit 1 if something is missing
set -euo pipefail

# Each package, and why Sparrow needs it.
PACKAGES=(
  make          # the build
  gcc           # C11: driver, host, firmware, golden model, tests
  g++           # C++17: the thin Verilator layer in sim/, and Verilator's generated model
  verilator     # RTL simulation and lint (bookworm ships 5.006)
  check         # C unit-test framework (pulls libsubunit-dev)
  pkg-config    # finds Check's compile and link flags
  python3       # tools/hwgen.py: generates the hardware header and package (tomllib, 3.11)
  libsystemc-dev          # the SystemC platform of sparrow-sim (clock, reset, DRAM model)
  zlib1g-dev              # Verilator's FST waveform writer (sparrow-sim --trace)
  gcc-riscv64-unknown-elf # proves the firmware builds for a bare-metal RISC-V target
  valgrind                # leak checks of the driver's failure paths
  libusb-1.0-0-dev        # the driver's usb transport
  umockdev                # sparrow-usb-fake: a simulated Sparrow attached as a USB device
  libumockdev-dev         #   (its library, for the ioctl handler that forwards URBs)
  gnuplot-nox             # PNG plots without X: `sparrow bench`, the trainer's loss curves
  bible-kjv               # the trainer's default corpus: the King James Bible (`bible`)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "deps: missing Debian packages: ${missing[*]}" >&2
if [[ "${1:-}" == "--check" ]]; then
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "deps: installing them needs root; run:  sudo make deps" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null; then
  echo "deps: apt-get not found; Sparrow expects Debian bookworm (install the packages above by hand)" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "deps: installed ${missing[*]}" >&2
