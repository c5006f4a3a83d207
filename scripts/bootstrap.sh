#!/usr/bin/env bash
# One idempotent set-up for binedge: Debian packages (when missing) and the .venv.
#
#   scripts/bootstrap.sh            # everything (needs root for apt, or the packages already present)
#   BINEDGE_SKIP_APT=1 scripts/bootstrap.sh   # only the Python environment
#
# Re-running it is cheap: every step checks whether its work is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  gcc-arm-none-eabi libnewlib-arm-none-eabi picolibc-arm-none-eabi picolibc-aarch64-linux-gnu
  qemu-system-arm qemu-user
  gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf
  libc6-dev-arm64-cross libc6-dev-armhf-cross
  dataset-fashion-mnist
)

missing_packages() {
  local p
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

if [ "${BINEDGE_SKIP_APT:-0}" != 1 ]; then
  mapfile -t todo < <(missing_packages)
  if [ "${#todo[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "bootstrap: missing Debian packages: ${todo[*]}" >&2
      echo "bootstrap: ask an administrator to run: apt-get install --no-install-recommends ${todo[*]}" >&2
      echo "bootstrap: (or set BINEDGE_SKIP_APT=1 to set up only the Python part)" >&2
      exit 1
    fi
    echo "bootstrap: installing Debian packages: ${todo[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${todo[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
# torch first and pinned: any other torch requirement would pull a multi-GB CUDA build.
if ! "$VPY" -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' 2>/dev/null; then
  echo "bootstrap: installing torch==2.13.0 (CPU)"
  "$VPY" -m pip install -q torch==2.13.0
fi
stamp=.venv/.binedge-deps
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements-lock.txt -nt "$stamp" ]; then
  echo "bootstrap: installing binedge (editable) with pinned dependencies"
  "$VPY" -m pip install -q -c requirements-lock.txt -e '.[test]'
  touch "$stamp"
fi
echo "bootstrap: ready (.venv)"
