"""`alerting run` as operators start it: signals, reload, exit codes, Prometheus down at start."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.peers.ports import free_port

RULES = """
groups:
  - name: g
    interval: 1s
    rules:
      - alert: Always
        expr: vector(1)
"""


def _config(tmp_path: Path, port: int, prometheus: str) -> Path:
    (tmp_path / "rules.yaml").write_text(RULES)
    config = tmp_path / "alerting.yaml"
    config.write_text(
        f"datasource: {{prometheus: {{url: '{prometheus}', timeout: 2s}}}}\n"
        f"rule_files: [rules.yaml]\nstorage: {{path: db.sqlite}}\n"
        f"server: {{listen: '127.0.0.1:{port}'}}\n"
    )
    return config


def _start(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "alerting.cli", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _run_to_exit(config: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "alerting.cli", "run", "--config", str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=30)


def _wait_for_log(process: subprocess.Popen[str], message: str) -> dict:
    """Read the daemon's JSON log lines until one says `message` (the daemon's own event)."""
    assert process.stderr is not None
    for line in process.stderr:
        entry = json.loads(line)
        if entry["msg"] == message:
            return entry
    raise AssertionError(f"daemon exited before logging {message!r}")


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def test_sighup_reloads_and_sigterm_exits_zero(tmp_path) -> None:
    port = free_port()
    config = _config(tmp_path, port, f"http://127.0.0.1:{free_port()}")
    process = _start(config)
    try:
        _wait_for_log(process, "started")
        rules = _get_json(f"http://127.0.0.1:{port}/api/v1/rules")["data"]["groups"]
        assert [r["name"] for r in rules[0]["rules"]] == ["Always"]

        (tmp_path / "rules.yaml").write_text(RULES.replace("Always", "Renamed"))
        process.send_signal(signal.SIGHUP)
        _wait_for_log(process, "reloaded")
        rules = _get_json(f"http://127.0.0.1:{port}/api/v1/rules")["data"]["groups"]
        assert [r["name"] for r in rules[0]["rules"]] == ["Renamed"]

        (tmp_path / "rules.yaml").write_text("groups: [{name: g, rules: [{alert: X}]}]\n")
        process.send_signal(signal.SIGHUP)
        rejected = _wait_for_log(process, "reload rejected")
        assert any("field 'expr' must be set in rule" in p for p in rejected["problems"])
        rules = _get_json(f"http://127.0.0.1:{port}/api/v1/rules")["data"]["groups"]
        assert [r["name"] for r in rules[0]["rules"]] == ["Renamed"]  # the old config runs on

        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_prometheus_unreachable_at_start_is_reported_not_fatal(tmp_path) -> None:
    port = free_port()
    config = _config(tmp_path, port, f"http://127.0.0.1:{free_port()}")
    process = _start(config)
    try:
        _wait_for_log(process, "started")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the first evaluation comes within one interval
            rule = _get_json(f"http://127.0.0.1:{port}/api/v1/rules")["data"]["groups"][0]["rules"][
                0
            ]
            if rule["health"] != "unknown":
                break
        assert rule["health"] == "err"
        assert "connect" in rule["lastError"].lower() or "unreachable" in rule["lastError"].lower()
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0


def test_bad_config_at_start_exits_one_with_every_problem(tmp_path) -> None:
    config = tmp_path / "alerting.yaml"
    config.write_text("global: {evaluation_interval: soon}\nstorage: {pth: x}\n")
    done = _run_to_exit(config)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f'{config}:1:1: missing required field "datasource"',
        f'{config}:1:31: global.evaluation_interval: not a valid duration string: "soon"',
        f'{config}:2:11: unknown field "pth" in storage',
    ]


def test_port_in_use_is_a_clear_error(tmp_path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        config = _config(tmp_path, port, "http://127.0.0.1:9")
        done = _run_to_exit(config)
    assert done.returncode == 1
    assert "cannot start" in done.stderr and "address already in use" in done.stderr.lower()
