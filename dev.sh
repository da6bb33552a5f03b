#!/usr/bin/env bash
# One entry point for people and CI:
#   bash dev.sh serve   set up and start the hook service on localhost:8080 (default settings)
#   bash dev.sh test    set up and run the whole test suite (lint, types, import layers, tests)
# It installs what is missing: Debian packages when run as root (python3-venv, docker-registry,
# nodejs/npm), a virtual environment in .venv with the pinned requirements, and the npm `semver`
# package used by the differential tests.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
PY="$VENV/bin/python"

apt_install() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "dev.sh: missing Debian packages: $* (run as root, or install them yourself)" >&2
        return 0
    fi
    if [ -z "${APT_UPDATED:-}" ]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_python() {
    local missing=()
    command -v python3 >/dev/null || missing+=(python3)
    python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
    local stamp="$VENV/.requirements-$1"
    local want
    want=$(cat requirements.txt "requirements$2.txt" | sha256sum | cut -c1-16)
    if [ ! -x "$PY" ]; then python3 -m venv "$VENV"; fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        "$PY" -m pip install -q --disable-pip-version-check -r "requirements$2.txt"
        echo "$want" > "$stamp"
    fi
}

ensure_test_tools() {
    local missing=()
    [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
    command -v openssl >/dev/null || missing+=(openssl)
    if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
    if [ -f tests/differential/package.json ] && [ ! -d tests/differential/node_modules/semver ]; then
        (cd tests/differential && npm ci --silent --no-audit --no-fund)
    fi
}

case "${1:-}" in
    serve)
        ensure_python serve ""
        exec "$VENV/bin/gunicorn" --config python:hooks.gunicorn_config \
            --bind "${AIM_BIND:-127.0.0.1:8080}" "hooks.app:create_app()"
        ;;
    test)
        shift
        ensure_python test "-dev"
        ensure_test_tools
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        "$VENV/bin/mypy" hooks
        "$VENV/bin/lint-imports" --no-logo --no-cache
        exec "$PY" -m pytest "$@"
        ;;
    *)
        echo "usage: bash dev.sh serve|test [pytest args]" >&2
        exit 2
        ;;
esac
