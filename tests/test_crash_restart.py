"""A `kill -9` at any moment loses at most the evaluation being written; the database opens cleanly.

The daemon runs as a real process on the real clock, against a real Prometheus that scrapes a small
exporter served here, and is killed with SIGKILL at different moments of its life.
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import pytest

from alerting.api.jsonfmt import rfc3339
from tests.peers.ports import free_port
from tests.peers.prometheus import PrometheusServer

T = TypeVar("T")

DEADLINE = 15.0  # for any one thing to happen; the whole module takes about 12 s
POLL = 0.01  # polling a process we started: nothing it does can notify us
METRICS = b'crash_probe{disk="a"} 1\ncrash_probe{disk="b"} 1\ncrash_probe{disk="c"} 1\n'
PROBES = 3
RULES = """
groups:
  - name: crash
    interval: 1s
    rules:
      - alert: DiskProbe
        expr: crash_probe > 0
        for: 0s
        labels: {severity: page}
        annotations: {summary: "disk {{ $labels.disk }} at {{ $value }}"}
"""

Alerts = dict[str, tuple[str, str]]  # fingerprint -> (state, activeAt in RFC 3339)


class _MetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(METRICS)))
        self.end_headers()
        self.wfile.write(METRICS)

    def log_message(self, *_: object) -> None:  # scrapes every second would flood the output
        pass


@pytest.fixture(scope="module")
def exporter() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MetricsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def prometheus(
    module_prometheus_peer: Callable[..., PrometheusServer], exporter: str
) -> PrometheusServer:
    job = {
        "job_name": "probe",
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "static_configs": [{"targets": [exporter]}],
    }
    server = module_prometheus_peer(scrape_configs=[job])
    # Prometheus 2.42 starts scraping new targets up to 5s after it starts (its scrape manager
    # reloads on a 5s tick); waiting here once keeps that out of every test's own deadlines.
    deadline = time.monotonic() + DEADLINE
    while _probes_scraped(server.url) < PROBES:
        assert time.monotonic() < deadline, f"no scrape within {DEADLINE:g}s:\n{server.log_tail()}"
        time.sleep(POLL)
    return server


def _probes_scraped(prometheus_url: str) -> int:
    query = urllib.parse.urlencode({"query": "crash_probe"})
    with urllib.request.urlopen(f"{prometheus_url}/api/v1/query?{query}", timeout=5) as response:
        return len(json.load(response)["data"]["result"])


@dataclass
class Stored:
    """What the database holds once the process is gone: exactly what a restart gets back."""

    alerts: Alerts
    last_evaluated: float | None


class Daemon:
    """`alerting run` as a child process; its JSON log lines go to a file kept for failures."""

    def __init__(self, config: Path, db: Path, listen: str) -> None:
        self.config, self.db = config, db
        self.base = f"http://{listen}"
        self.log = config.parent / "alerting.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "alerting.cli", "run", "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        wait_for(lambda: self._get("/-/ready") is not None, "the daemon to be ready", self)

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or closed."""
        process = self._running()
        process.send_signal(signal.SIGKILL)
        process.wait(DEADLINE)

    def stop(self) -> int:
        """SIGTERM, the orderly shutdown; returns the exit code."""
        process = self._running()
        process.terminate()
        return process.wait(DEADLINE)

    def ensure_gone(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def alerts(self) -> Alerts:
        body = self._get("/api/v1/alerts")
        assert body is not None, self.log_tail()
        return {
            a["fingerprint"]: (a["state"], a["activeAt"])
            for a in json.loads(body)["data"]["alerts"]
        }

    def stored(self) -> Stored:
        """The live database, read beside the running daemon."""
        return read_store(self.db)

    def crash_state(self) -> Stored:
        """The database as the kill left it, read from a copy so the restart finds it untouched.

        Reading the file itself would not do: closing the last connection checkpoints the WAL,
        and the restarted daemon would never have to recover from it.
        """
        copy = self.db.parent / f"crash-{time.monotonic_ns()}"
        copy.mkdir()
        for suffix in ("", "-wal", "-shm"):
            source = self.db.with_name(self.db.name + suffix)
            if source.exists():
                shutil.copy2(source, copy / source.name)
        return read_store(copy / self.db.name)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def _running(self) -> subprocess.Popen[bytes]:
        process = self._process
        assert process is not None and process.poll() is None, self.log_tail()
        return process

    def _get(self, path: str) -> bytes | None:
        self._running()  # fails at once, with the log, if the daemon died
        try:
            with urllib.request.urlopen(self.base + path, timeout=DEADLINE) as response:
                return response.read() if response.status == 200 else None
        except (urllib.error.URLError, OSError):
            return None


@pytest.fixture
def daemon(tmp_path: Path, prometheus: PrometheusServer) -> Iterator[Daemon]:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "crash.yaml").write_text(RULES)
    listen = f"127.0.0.1:{free_port()}"
    db = tmp_path / "state" / "alerting.db"
    config = tmp_path / "alerting.yaml"
    config.write_text(
        f"""
global: {{evaluation_interval: 1s}}
datasource: {{prometheus: {{url: "{prometheus.url}", timeout: 5s}}}}
rule_files: [rules/*.yaml]
storage: {{path: "{db}"}}
server: {{listen: "{listen}"}}
"""
    )
    process = Daemon(config, db, listen)
    yield process
    process.ensure_gone()


def wait_for(check: Callable[[], T], what: str, daemon: Daemon) -> T:
    """The first truthy result of `check`, polled until DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(POLL)
    pytest.fail(f"no {what} within {DEADLINE:g}s; daemon log:\n{daemon.log_tail()}")


def read_store(db: Path) -> Stored:
    """Open the database as a restart would, check it, and read the rule state in it."""
    conn = sqlite3.connect(f"file:{db}?mode=rw", uri=True)  # never create it
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = conn.execute("SELECT fingerprint, state, active_at FROM rule_alert").fetchall()
        (last,) = conn.execute("SELECT MAX(last_evaluated) FROM rule_group").fetchone()
    finally:
        conn.close()
    return Stored({fp: (state, rfc3339(at)) for fp, state, at in rows}, last)


def firing(alerts: Alerts) -> Alerts:
    """`alerts` if every probe's alert is firing; empty otherwise."""
    ok = len(alerts) == PROBES and all(state == "firing" for state, _ in alerts.values())
    return alerts if ok else {}


def assert_holds(alerts: Alerts, stored: Stored) -> None:
    """Every stored alert is in `alerts` as it was: same state, same `activeAt`.

    Straight after a restart an evaluation may already have run, but it could not have produced
    these `activeAt`s: a series that is new to the rule gets the evaluation's own time.
    """
    assert {fp: alerts.get(fp) for fp in stored.alerts} == stored.alerts


def test_kill_right_after_the_first_firing(daemon: Daemon) -> None:
    daemon.start()
    seen = wait_for(lambda: firing(daemon.alerts()), "firing alerts", daemon)
    daemon.kill()  # the evaluation that created them may still be on its way to the disk
    stored = daemon.crash_state()
    if stored.alerts:
        assert stored.alerts == seen
    else:  # that evaluation was the one being written: it, and only it, is lost
        first_active = min(datetime.fromisoformat(at).timestamp() for _, at in seen.values())
        assert stored.last_evaluated is None or stored.last_evaluated < first_active
    daemon.start()
    assert_holds(daemon.alerts(), stored)
    assert daemon.stop() == 0
    assert_holds(daemon.stored().alerts, stored)  # and an orderly stop after it keeps them


def test_kill_after_several_evaluations(daemon: Daemon) -> None:
    daemon.start()
    seen = wait_for(lambda: firing(daemon.alerts()), "firing alerts", daemon)
    first = wait_for(lambda: daemon.stored().last_evaluated, "a stored evaluation", daemon)
    wait_for(lambda: daemon.stored().last_evaluated >= first + 3, "three more evaluations", daemon)
    committed = daemon.stored().last_evaluated
    daemon.kill()
    stored = daemon.crash_state()
    assert stored.last_evaluated >= committed  # nothing committed before the kill is lost
    assert stored.alerts == seen  # every evaluation repeats them: none may be missing
    daemon.start()
    assert_holds(daemon.alerts(), stored)
    assert daemon.stop() == 0


def test_kill_again_right_after_a_restart(daemon: Daemon) -> None:
    daemon.start()
    seen = wait_for(lambda: firing(daemon.alerts()), "firing alerts", daemon)
    wait_for(lambda: daemon.stored().alerts == seen, "the alerts to be stored", daemon)
    daemon.kill()
    daemon.start()
    daemon.kill()  # moments after ready: around the first evaluation after the restore
    stored = daemon.crash_state()
    assert stored.alerts == seen
    daemon.start()
    assert_holds(daemon.alerts(), stored)
    assert daemon.stop() == 0


# ---------------------------------------------------------------- notifications across a kill


class SlowWebhook:
    """A webhook receiver in a thread whose first answer waits until `release()`."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[str]]] = []  # (Idempotency-Key, fingerprints)
        self._lock = threading.Lock()
        self._release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer._lock:
                    first = not outer.requests
                    fps = sorted(a["fingerprint"] for a in body["alerts"])
                    outer.requests.append((self.headers["Idempotency-Key"], fps))
                if first:
                    outer._release.wait(DEADLINE)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def release(self) -> None:
        self._release.set()

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


def _metric(daemon: Daemon, name: str) -> float:
    body = daemon._get("/metrics") or b""
    for line in body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_kill_while_a_webhook_is_slow_resends_only_what_was_in_flight(
    daemon: Daemon,
) -> None:
    webhook = SlowWebhook()
    daemon.config.write_text(
        daemon.config.read_text()
        + f"""
route: {{receiver: hook, group_by: [alertname], group_wait: 1s, group_interval: 1s}}
receivers: [{{name: hook, webhook_configs: [{{url: "{webhook.url}"}}]}}]
"""
    )
    try:
        daemon.start()
        wait_for(lambda: webhook.count() == 1, "a notification to be in flight", daemon)
        daemon.kill()  # the slow receiver has it, but the daemon never heard back
        webhook.release()
        daemon.start()
        wait_for(lambda: webhook.count() == 2, "the in-flight notification again", daemon)
        # Later flushes find the resend in the notification log: the receiver already knows.
        unchanged = "alerting_notifications_unchanged_total"
        wait_for(lambda: _metric(daemon, unchanged) >= 3, "three unchanged flushes", daemon)
        assert daemon.stop() == 0
    finally:
        webhook.close()
    (first_key, first), (second_key, second) = webhook.requests
    assert first == second and len(first) == PROBES
    assert first_key == second_key  # the same notification: a receiver can drop the replay
