"""Prints each change of the engine's alerts, so the demo shows what happens as it happens."""

from __future__ import annotations

import json
import sys
import time
import urllib.request


def fetch(base: str) -> dict[str, dict]:
    with urllib.request.urlopen(f"{base}/api/v1/alerts", timeout=5) as response:
        alerts = json.load(response)["data"]["alerts"]
    return {a["fingerprint"]: a for a in alerts}


def describe(alert: dict) -> str:
    labels = alert["labels"]
    summary = alert["annotations"].get("summary", "")
    return f"{labels.get('alertname')} {alert['state'].upper()}: {summary}"


def main(base: str) -> None:
    seen: dict[str, str] = {}
    while True:
        try:
            current = fetch(base)
        except OSError:
            time.sleep(2)  # the engine is still starting
            continue
        for fp, alert in current.items():
            if seen.get(fp) != alert["state"]:
                print(f"[{time.strftime('%H:%M:%S')}] {describe(alert)}", flush=True)
        for fp in seen.keys() - current.keys():
            print(f"[{time.strftime('%H:%M:%S')}] alert {fp} resolved", flush=True)
        seen = {fp: a["state"] for fp, a in current.items()}
        time.sleep(5)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:9095")
