#!/usr/bin/env bash
# Creates or reuses the project's virtualenv and prints its python path as the last line.
# The venv lives outside the checkout, keyed by a hash of the requirement files, so reruns are
# quick and any change to a requirement file builds a fresh one.
#   scripts/env.sh          runtime dependencies
#   scripts/env.sh --dev    plus test tools and Debian's chromium for the browser tests
# Both install Debian's ffmpeg when it is missing and apt can run without a password (root, or sudo -n):
# Gradio encodes the Codec LM tab's live audio with it; without it that player is hidden.
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
  "$venv/bin/pip" check >&2  # the pins must agree with every package's own requirements
  touch "$venv/.runtime-ok"
fi

# apt_install PACKAGE PROGRAM WHY: Debian's PACKAGE unless PROGRAM is on PATH; a note saying WHY if it cannot be.
apt_install() {
  command -v "$2" >/dev/null && return 0
  if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "$1 is not installed (apt needs a password here): $3" >&2; return 0
  fi
  echo "Installing Debian's $1" >&2
  { $sudo apt-get install -y -q "$1" >&2 || { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q "$1" >&2; }; } \
    || echo "$1 could not be installed: $3" >&2
}
export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null; then
  apt_install ffmpeg ffmpeg "the Codec LM tab's live player stays hidden"
fi

if [ "$dev" = 1 ]; then
  if [ ! -f "$venv/.dev-ok" ]; then
    "$venv/bin/pip" install -q -r requirements-dev.txt >&2
    "$venv/bin/pip" check >&2
    touch "$venv/.dev-ok"
  fi
  if command -v apt-get >/dev/null; then
    apt_install chromium chromium "browser tests will be skipped"
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
