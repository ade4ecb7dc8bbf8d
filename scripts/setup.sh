#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh Debian machine: Prometheus, Alertmanager
# and Chromium (a test renders the default email) from Debian, and a virtualenv with the
# project and its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for binary_package in prometheus:prometheus promtool:prometheus \
    prometheus-alertmanager:prometheus-alertmanager amtool:prometheus-alertmanager \
    chromium:chromium; do
    command -v "${binary_package%%:*}" >/dev/null || missing+=("${binary_package##*:}")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]} from Debian" >&2
    export DEBIAN_FRONTEND=noninteractive
    sudo_cmd=""
    [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u)
fi

if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
