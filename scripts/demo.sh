#!/usr/bin/env bash
# The demo: a local Prometheus scraping itself, the engine and one target that does not exist,
# the engine evaluating rules/*.yaml against it, and a webhook receiver that prints what the
# engine notifies. An InstanceDown alert appears within about a minute, and its notification
# 30 seconds later (group_wait). Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

PROMETHEUS_ADDR=127.0.0.1:19090   # must match datasource.prometheus.url in config.example.yaml
ENGINE_ADDR=127.0.0.1:9095        # must match server.listen in config.example.yaml
RECEIVER_ADDR=127.0.0.1:9099      # must match the webhook url in config.example.yaml
work=$(mktemp -d -t alerting-demo.XXXXXX)
pids=()
cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

cat >"$work/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ["$PROMETHEUS_ADDR"]}]
  - job_name: alerting
    static_configs: [{targets: ["$ENGINE_ADDR"]}]
  - job_name: node            # nothing listens here, so InstanceDown fires
    static_configs: [{targets: ["127.0.0.1:19100"]}]
YAML

prometheus --config.file="$work/prometheus.yml" --web.listen-address="$PROMETHEUS_ADDR" \
    --storage.tsdb.path="$work/tsdb" >"$work/prometheus.log" 2>&1 &
pids+=($!)
echo "demo: Prometheus on http://$PROMETHEUS_ADDR (log: $work/prometheus.log)"

.venv/bin/python scripts/demo_receiver.py "$RECEIVER_ADDR" &
pids+=($!)
echo "demo: webhook receiver on http://$RECEIVER_ADDR prints each notification"

.venv/bin/alerting check --config config.example.yaml
.venv/bin/alerting run --config config.example.yaml --log-format human &
pids+=($!)
echo "demo: engine on http://$ENGINE_ADDR — alerts at http://$ENGINE_ADDR/api/v1/alerts"

.venv/bin/python scripts/watch_alerts.py "http://$ENGINE_ADDR" &
pids+=($!)
wait "${pids[2]}"
