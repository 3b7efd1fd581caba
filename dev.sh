#!/usr/bin/env bash
# The two set-up commands of README.md:
#   ./dev.sh serve   set up (first run only) and start the service on the embedded defaults, sample lists loaded
#   ./dev.sh test    set up (first run only) and run the whole test suite
# Set-up makes .venv, installs the CPU build of torch FIRST (pinned; otherwise sentence-transformers pulls the
# multi-GB CUDA build), then the project with its dev extras. Set TORCH_INDEX_URL to take torch from another index
# (e.g. PyTorch's CPU wheel index on machines without a local torch wheel).
set -euo pipefail
cd "$(dirname "$0")"

VENV=${MATCHMAKER_VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=2.13.0

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp
  stamp="$VENV/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    if [ -n "${TORCH_INDEX_URL:-}" ]; then
      "$VENV/bin/python" -m pip install --quiet "torch==$TORCH_VERSION" --index-url "$TORCH_INDEX_URL"
    else
      "$VENV/bin/python" -m pip install --quiet "torch==$TORCH_VERSION"
    fi
    "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

command=${1:-}
[ $# -gt 0 ] && shift
case "$command" in
  serve) setup; exec "$VENV/bin/matchmaker" serve "$@" ;;
  test) setup; exec "$VENV/bin/python" -m pytest "$@" ;;
  setup) setup ;;
  *) echo "usage: ./dev.sh serve [--host H --port P --workers N] | test [pytest args] | setup" >&2; exit 2 ;;
esac
