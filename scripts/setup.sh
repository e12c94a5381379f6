#!/usr/bin/env bash
# Install everything graphdiff needs, on a fresh Debian machine or on a developer's one.
#
#   bash scripts/setup.sh          graphviz (the `dot` program), tensorflow-cpu, graphdiff
#   bash scripts/setup.sh --test   the same, plus the test extras (pytest, tf-slim, ruff) and
#                                  keras-hub for the BERT test (without its dependencies:
#                                  they would pull tensorflow-text, hence the full tensorflow
#                                  wheel over tensorflow-cpu; the few it needs are listed),
#                                  and tf_keras (tf.keras 2, --no-deps: it would pull the full
#                                  tensorflow wheel) for the tests that write tf.keras 2 files;
#                                  graphdiff itself never imports it
#
# Safe to run again: what is already there is kept. An existing `tensorflow` wheel (the GPU
# build) is used as it is; tensorflow-cpu is installed only when neither wheel is present.
set -euo pipefail

TF_CPU="tensorflow-cpu==2.21.0"
extras=""
case "${1:-}" in
  "") ;;
  --test) extras="[test]" ;;
  *) echo "usage: bash scripts/setup.sh [--test]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
python="$(command -v python3 || command -v python || true)"
if [ -z "$python" ]; then
  echo "setup.sh: no python3 on PATH; install Python 3.10 or newer first" >&2
  exit 1
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "setup.sh: run as root (or install sudo) to install: $*" >&2; exit 1
  fi
}

if ! command -v dot >/dev/null; then
  echo "setup.sh: installing graphviz (for the dot program)"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q graphviz
fi

if ! "$python" -m pip --version >/dev/null 2>&1; then
  echo "setup.sh: installing pip"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q
  as_root apt-get install -y -q python3-pip
fi

# A Debian system Python refuses pip installs (PEP 668) unless told that this is intended.
export PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
tensorflow="$TF_CPU"
if "$python" -m pip show tensorflow >/dev/null 2>&1; then
  tensorflow=""  # the full tensorflow wheel is installed; do not install tensorflow-cpu over it
fi
echo "setup.sh: pip install ${tensorflow:+$tensorflow }-e .$extras"
"$python" -m pip install -q $tensorflow -e ".$extras"
if [ -n "$extras" ] && ! "$python" -c "import keras_hub" >/dev/null 2>&1; then
  echo "setup.sh: pip install --no-deps keras-hub and what it needs"
  "$python" -m pip install -q pyyaml requests certifi
  "$python" -m pip install -q --no-deps keras-hub==0.32.0 tokenizers==0.23.3 kagglehub==1.0.3 \
    kagglesdk==0.1.38 sentencepiece==0.2.3 regex
fi
if [ -n "$extras" ] && ! "$python" -c "import tf_keras" >/dev/null 2>&1; then
  echo "setup.sh: pip install --no-deps tf_keras (tests only)"
  "$python" -m pip install -q --no-deps tf_keras==2.21.0
fi
echo "setup.sh: done"
