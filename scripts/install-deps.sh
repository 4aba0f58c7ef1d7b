#!/usr/bin/env bash
# Install the Debian packages phaseflow needs. Idempotent: when everything is present it
# only checks and returns. Uses sudo only when not running as root.
set -euo pipefail

# What each package is for is explained in README.md ("Dependencies").
PACKAGES=(
  build-essential pkg-config git
  lua5.4 liblua5.4-dev lua-busted lua-check
  libopenblas-dev libopenblas0-openmp
  libgsl-dev
  libhdf5-dev hdf5-tools zlib1g-dev
  libreadline-dev
  libcfitsio-dev
  libxxhash-dev
  libopenmpi-dev openmpi-bin
  gnuplot-nox
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "phaseflow: installing missing packages: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
