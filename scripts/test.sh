#!/usr/bin/env bash
# The test command: set up, lint, then the whole suite against real Prometheus and Alertmanager.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
status=0
.venv/bin/pytest -q "$@" || status=$?
if [[ $status -eq 5 ]]; then
    echo "test: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit $status
