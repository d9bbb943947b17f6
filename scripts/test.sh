#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian 12 machine, starts the Docker
# engine with stand-in base images (scripts/engine-up.sh), then lints, type-checks, checks the import
# contracts (import-linter) and runs pytest.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k seccomp`).
# HARDCASE_SKIP_ENGINE_SETUP=1 skips the engine setup (engine tests then fail unless an engine is up).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

log() { printf '[test] %s\n' "$*"; }

if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  log "installing python3-venv"
  apt-get update -qq && apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
fi

# `hardcase update` merges with `git merge-file`; the custom-template tests clone local git repos.
if ! command -v git >/dev/null 2>&1; then
  log "installing git"
  apt-get update -qq && apt-get install -y -qq git >/dev/null
fi

# The node seccomp profile is proven by running a real node server under it.
if ! command -v node >/dev/null 2>&1; then
  log "installing nodejs"
  apt-get update -qq && apt-get install -y -qq nodejs >/dev/null
fi

# Generated AppArmor profiles are compiled with apparmor_parser -Q -K (the kernel need not have AppArmor).
if ! command -v apparmor_parser >/dev/null 2>&1 && [ ! -x /usr/sbin/apparmor_parser ] && [ ! -x /sbin/apparmor_parser ]; then
  log "installing apparmor"
  apt-get update -qq && apt-get install -y -qq apparmor >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  python3 -m venv .venv
fi
log "installing hardcase and test dependencies"
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# checkov pins an older `packaging` than pytest accepts, so the judge lives in its own venv.
if [ ! -x .venv-checkov/bin/checkov ]; then
  log "installing checkov into .venv-checkov"
  python3 -m venv .venv-checkov
  .venv-checkov/bin/python -m pip install -q --disable-pip-version-check 'checkov>=3.2,<4'
fi
export HARDCASE_CHECKOV="$PWD/.venv-checkov/bin/checkov"

if [ "${HARDCASE_SKIP_ENGINE_SETUP:-0}" != "1" ]; then
  log "starting the Docker engine and stand-in images"
  bash scripts/engine-up.sh
fi

log "ruff"
.venv/bin/ruff check generator tests scripts
log "mypy"
.venv/bin/mypy
log "import contracts (lint-imports)"
.venv/bin/lint-imports --no-cache
log "pytest"
.venv/bin/python -m pytest -q "$@"
log "done in $(( $(date +%s) - started )) s"
