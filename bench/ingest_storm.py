"""An alert storm pushed to a real Alertmanager 0.25 and to the daemon, one after the other.

Run from the repository root: .venv/bin/python -m bench.ingest_storm [--alerts 100000]

Each server gets 100,000 distinct alerts in batches of 500 on `POST /api/v2/alerts`, one batch
after another as Prometheus sends them, grouped by alertname into 20 groups, delivered to a
webhook receiver on loopback (a process of its own) with group_wait and group_interval 1 s.
Printed for both: time to accept (first POST sent -> last 200 received), time until the last
alert reached the receiver (first POST sent -> the receiver has seen every alert), and resident
memory after delivery. The daemon answers each POST only once its batch is in the SQLite store.

The batches are encoded before the clock starts, so the figures are the servers' own. The two
servers take turns for several rounds (--rounds, 3 by default), each round with fresh state, so
that a slow spell of a shared machine does not fall on one of them only; the medians are judged.
Exit status 0 when the daemon's median times are no longer than Alertmanager's and its median
memory no larger, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import aiohttp
from aiohttp import web

ALERT_NAMES = 20
BATCH = 500
GROUPING = {"group_by": ["alertname"], "group_wait": "1s", "group_interval": "1s"}


# ---------------------------------------------------------------- the load


def batches(count: int, now: float) -> list[bytes]:
    """The storm as POST bodies; distinct alerts with an hour's validity, as Prometheus sends."""
    starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600))
    bodies = []
    for first in range(0, count, BATCH):
        alerts = [_alert(n, starts, ends) for n in range(first, min(first + BATCH, count))]
        bodies.append(json.dumps(alerts).encode())
    return bodies


def _alert(n: int, starts: str, ends: str) -> dict[str, object]:
    name = f"Storm{n % ALERT_NAMES:02d}"
    instance = f"host-{n // ALERT_NAMES:05d}.example.com:9100"
    return {
        "labels": {
            "alertname": name,
            "instance": instance,
            "job": "node",
            "severity": ("warning", "critical")[n % 2],
        },
        "annotations": {"summary": f"{name} on {instance}"},
        "startsAt": starts,
        "endsAt": ends,
        "generatorURL": f"http://prometheus.example.com:9090/graph?g0.expr=storm_{n % ALERT_NAMES}",
    }


# ---------------------------------------------------------------- the receiver process


# Each alert's fingerprint in a webhook message, found without decoding the message: the
# receiver shares the machine's two cores with the server measured, and decoding every
# megabyte-sized message of a 20-group storm took it seconds of CPU.
_FINGERPRINT = re.compile(rb'"fingerprint":"([0-9a-f]{16})"')


def run_receiver(conn: Connection, expected: int) -> None:
    """Child process: count distinct alerts delivered; report when the last one arrived."""
    asyncio.run(_receive(conn, expected))


async def _receive(conn: Connection, expected: int) -> None:
    seen: set[str] = set()
    done = asyncio.Event()
    last = 0.0

    async def handle(request: web.Request) -> web.Response:
        nonlocal last
        body = await request.read()
        arrived = time.time()
        before = len(seen)
        seen.update(_FINGERPRINT.findall(body))
        if len(seen) > before:
            last = arrived
        if len(seen) >= expected:
            done.set()
        return web.Response()

    app = web.Application(client_max_size=1 << 30)
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    conn.send(runner.addresses[0][1])
    await done.wait()
    conn.send(last)
    await asyncio.to_thread(conn.recv)
    await runner.cleanup()


class Receiver:
    def __init__(self, expected: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=run_receiver, args=(child, expected), daemon=True)
        self._process.start()
        self.url = f"http://127.0.0.1:{self._conn.recv()}/hook"

    async def last_arrival(self, within: float) -> float | None:
        if not await asyncio.to_thread(self._conn.poll, within):
            return None
        return float(self._conn.recv())

    def stop(self) -> None:
        self._conn.send("stop")
        self._process.join(10)
        if self._process.is_alive():
            self._process.kill()


# ---------------------------------------------------------------- the servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    command: list[str]
    url: str
    process: subprocess.Popen[bytes] | None = None

    def start(self, log: Path) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=log.open("wb")
        )

    def rss_mb(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def alertmanager(directory: Path, hook: str) -> Server:
    port = free_port()
    config = {
        "route": {"receiver": "hook", **GROUPING},
        "receivers": [{"name": "hook", "webhook_configs": [{"url": hook}]}],
    }
    (directory / "alertmanager.yml").write_text(json.dumps(config))
    command = [
        "prometheus-alertmanager",
        f"--config.file={directory / 'alertmanager.yml'}",
        f"--storage.path={directory / 'am-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    return Server("Alertmanager 0.25", command, f"http://127.0.0.1:{port}")


def daemon(directory: Path, hook: str) -> Server:
    port = free_port()
    config = {
        "datasource": {"prometheus": {"url": "http://127.0.0.1:9"}},
        "storage": {"path": str(directory / "alerting.db")},
        "server": {"listen": f"127.0.0.1:{port}"},
        "route": {"receiver": "hook", **GROUPING},
        "receivers": [{"name": "hook", "webhook_configs": [{"url": hook}]}],
    }
    (directory / "alerting.yml").write_text(json.dumps(config))
    executable = Path(sys.executable).with_name("alerting")
    command = [str(executable), "run", "--config", str(directory / "alerting.yml")]
    return Server("alerting", command, f"http://127.0.0.1:{port}")


async def wait_ready(session: aiohttp.ClientSession, server: Server) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            async with session.get(server.url + "/-/ready") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)  # polling another process's start-up: no event to wait on
    raise SystemExit(f"FAIL: {server.name} did not become ready")


# ---------------------------------------------------------------- one run


@dataclass
class Result:
    accepted: float
    delivered: float | None
    rss_mb: float


async def storm(server: Server, receiver: Receiver, bodies: list[bytes]) -> Result:
    async with aiohttp.ClientSession() as session:
        await wait_ready(session, server)
        headers = {"Content-Type": "application/json"}
        started = time.time()
        for body in bodies:
            async with session.post(server.url + "/api/v2/alerts", data=body, headers=headers) as r:
                if r.status != 200:
                    raise SystemExit(f"FAIL: {server.name} answered {r.status}: {await r.text()}")
        accepted = time.time() - started
    last = await receiver.last_arrival(within=120.0)
    delivered = last - started if last is not None else None
    return Result(accepted, delivered, server.rss_mb())


def run_one(
    make: Callable[[Path, str], Server], directory: Path, alerts: int, bodies: list[bytes]
) -> Result:
    receiver = Receiver(alerts)
    server = make(directory, receiver.url)
    server.start(directory / f"{server.name.split()[0]}.log")
    try:
        return asyncio.run(storm(server, receiver, bodies))
    finally:
        server.stop()
        receiver.stop()


def report(name: str, result: Result) -> None:
    delivered = f"{result.delivered:.2f} s" if result.delivered is not None else "not all"
    print(
        f"{name:<24} accepted in {result.accepted:6.2f} s   delivered in {delivered:>8}"
        f"   resident {result.rss_mb:5.0f} MB"
    )


def median_result(results: list[Result]) -> Result:
    delivered = [r.delivered for r in results]
    return Result(
        statistics.median(r.accepted for r in results),
        None if None in delivered else statistics.median(d for d in delivered if d is not None),
        statistics.median(r.rss_mb for r in results),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("prometheus-alertmanager") is None:
        raise SystemExit("needs prometheus-alertmanager (Debian package prometheus-alertmanager)")
    bodies = batches(args.alerts, time.time())
    print(f"{args.alerts:,} alerts in {len(bodies)} batches of {BATCH}, {ALERT_NAMES} groups")
    servers = {"Alertmanager 0.25": alertmanager, "alerting": daemon}
    results: dict[str, list[Result]] = {name: [] for name in servers}
    for round_ in range(1, args.rounds + 1):
        for name, make in servers.items():
            with tempfile.TemporaryDirectory() as temp:
                result = run_one(make, Path(temp), args.alerts, bodies)
            results[name].append(result)
            report(f"{name} ({round_})", result)
    theirs, ours = (median_result(results[name]) for name in servers)
    report("Alertmanager, median", theirs)
    report("alerting, median", ours)
    ok = (
        ours.delivered is not None
        and theirs.delivered is not None
        and ours.accepted <= theirs.accepted
        and ours.delivered <= theirs.delivered
        and ours.rss_mb <= theirs.rss_mb
    )
    print("PASS" if ok else "FAIL", "(target: accept and deliver at least as fast, no more memory)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
