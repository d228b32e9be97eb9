#!/usr/bin/env bash
# Creates or reuses the project's virtualenv and prints its python path as the last line.
# The venv lives outside the checkout, keyed by a hash of the requirement files, so reruns are
# quick and any change to a requirement file builds a fresh one.
#   scripts/env.sh          runtime dependencies
#   scripts/env.sh --dev    plus test tools and Debian's chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0; [ "${1:-}" = "--dev" ] && dev=1
python_bin=${PYTHON:-python3.11}
command -v "$python_bin" >/dev/null || python_bin=python3
key=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
root=${CODEC_ARENA_VENV_ROOT:-$HOME/.cache/codec-arena}
venv="$root/venv-$key"

if [ ! -f "$venv/.runtime-ok" ]; then
  echo "Building $venv (first run: about 5 minutes, torch is large)" >&2
  rm -rf "$venv"
  "$python_bin" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade "pip>=24" wheel >&2
  # torch first: it fixes the CUDA/CPU build every other package then resolves against.
  "$venv/bin/pip" install -q torch==2.9.1 torchaudio==2.9.1 >&2
  "$venv/bin/pip" install -q -r requirements.txt >&2
  touch "$venv/.runtime-ok"
fi

if [ "$dev" = 1 ]; then
  if [ ! -f "$venv/.dev-ok" ]; then
    "$venv/bin/pip" install -q -r requirements-dev.txt >&2
    touch "$venv/.dev-ok"
  fi
  if [ ! -x /usr/bin/chromium ]; then
    echo "Installing Debian's chromium for the browser tests" >&2
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q chromium >&2 \
      || echo "chromium could not be installed: browser tests will be skipped" >&2
  fi
fi

# Point the console script `codec-arena` at this checkout (cheap; re-run on every setup). setuptools
# prints a boxed warning about editable installs each time: keep its output in a log and say one line.
log="$venv/editable-install.log"
if "$venv/bin/pip" install -q --no-deps --no-build-isolation -e . >"$log" 2>&1; then
  echo "codec-arena installed from $(pwd) (editable)" >&2
else
  cat "$log" >&2
  exit 1
fi
echo "$venv/bin/python"
