#!/usr/bin/env bash
# A throw-away registry on 127.0.0.1:$PORT (default 5000) holding four tiny images, to try
# `python -m hooks preview` against examples/local-registry-source.yaml without a cluster.
# It runs in the foreground until Ctrl-C, then removes everything it created (a temp dir).
#
#   bash examples/local-registry.sh            # then, in another terminal, the command it prints
#
# Needs Debian's docker-registry (`apt-get install docker-registry`, or `bash dev.sh test` as
# root) and the project's .venv (`bash dev.sh test`). Variables: PORT, REGISTRY (the
# docker-registry binary), PYTHON (default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-5000}
PYTHON=${PYTHON:-.venv/bin/python}
REGISTRY=${REGISTRY:-$(command -v docker-registry || echo /usr/bin/docker-registry)}
IMAGES=(demo/aim-llama:1.0.0 demo/aim-llama:1.1.0 demo/aim-mistral:0.9.0 demo/aim-base:1.0.0)

if [ ! -x "$REGISTRY" ]; then
    echo "local-registry.sh: no docker-registry binary; apt-get install docker-registry" >&2
    exit 1
fi
if [ ! -x "$PYTHON" ]; then
    echo "local-registry.sh: no $PYTHON; run 'bash dev.sh test' once to create .venv" >&2
    exit 1
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/aim-local-registry.XXXXXX")
REGISTRY_PID=
cleanup() {
    if [ -n "$REGISTRY_PID" ]; then
        kill "$REGISTRY_PID" 2>/dev/null || true
        wait "$REGISTRY_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cat >"$WORK/config.yml" <<CONFIG
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/data
http:
  addr: 127.0.0.1:$PORT
  secret: local-only
CONFIG

"$REGISTRY" serve "$WORK/config.yml" >"$WORK/registry.log" 2>&1 &
REGISTRY_PID=$!
if ! PYTHONPATH=. "$PYTHON" examples/populate_local.py "http://127.0.0.1:$PORT" "${IMAGES[@]}"; then
    cat "$WORK/registry.log" >&2
    exit 1
fi

# The source names 127.0.0.1:5000; on another port the registry is mapped to it, as a mirror is.
COMMAND="AIM_INSECURE_REGISTRIES=127.0.0.1:5000 .venv/bin/python -m hooks preview examples/local-registry-source.yaml"
if [ "$PORT" != 5000 ]; then
    COMMAND="AIM_REGISTRY_ENDPOINTS=127.0.0.1:5000=http://127.0.0.1:$PORT $COMMAND"
fi
echo "registry on 127.0.0.1:$PORT (Ctrl-C stops it); preview the example source with:"
echo "  $COMMAND"
wait "$REGISTRY_PID"
