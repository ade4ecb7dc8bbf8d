"""How fast one rule group evaluates, stores and restores 100,000 alerts against a real Prometheus.

Run from the repository root: .venv/bin/python -m bench.eval_bench [--series 100000] [--evaluations 4]

Backfills the series into a real Prometheus (promtool, then `prometheus` on a loopback port) and
evaluates one group whose rule returns every series, with `for: 0` so all of them fire. Per
evaluation it prints the query time (HTTP and JSON decode) apart from the engine's own processing
(build, merge, alerts_to_send, to_notification), and how much of both the cyclic garbage collector
took; then resident memory with every alert firing, the store's write of each evaluation, and a
restart: loading the store and restoring the alerts, the first evaluation after it, and resident
memory then.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import alerting.template.prometheus as templates
from alerting.clock import ManualClock
from alerting.datasource import PrometheusClient
from alerting.model import AlertState, Sample
from alerting.rules.group import Environment, Outcome, RuleGroup
from alerting.rules.loader import load_rule_file
from alerting.rules.manager import RuleManager
from alerting.rules.spec import GroupSpec
from alerting.service import tune_gc
from alerting.store.sqlite import SqliteStore
from bench.gc_clock import GcClock
from tests.peers.prometheus import PrometheusServer, backfill
from tests.peers.series import BASE_TIME, to_openmetrics

METRIC = "bench_disk_usage_ratio"
STEP = 60.0  # seconds between backfilled samples, and between evaluations
RULE_FILE = f"""
groups:
  - name: bench
    interval: {STEP:g}s
    rules:
      - alert: DiskAlmostFull
        expr: {METRIC} > 0
        for: 0s
        labels: {{severity: warning}}
        annotations:
          summary: "Disk {{{{ $labels.device }}}} on {{{{ $labels.instance }}}} almost full"
          description: "{{{{ $labels.mountpoint }}}} is {{{{ $value }}}} full"
          runbook_url: "https://runbooks.example.com/node/disk-{{{{ $labels.team }}}}"
"""

# Targets on the reference 2-core machine (DESIGN.md, "Performance and reliability targets").
PROCESSING_PER_100K = 1.0  # seconds of engine work per 100,000 returned series
RSS_LIMIT_MB = 300.0
RESTART_LIMIT = 3.0  # seconds to load and restore 100,000 alerts


@dataclass
class TimedQuery:
    """Wraps the datasource so the query's share of an evaluation is measured on its own."""

    query: Callable[[str, float], Awaitable[list[Sample]]]
    elapsed: float = 0.0
    returned: int = 0

    async def __call__(self, expr: str, at: float) -> list[Sample]:
        started = time.perf_counter()
        samples = await self.query(expr, at)
        self.elapsed += time.perf_counter() - started
        self.returned += len(samples)
        return samples

    def reset(self) -> None:
        self.elapsed, self.returned = 0.0, 0


class Stopwatch:
    """Seconds spent in a `with` block, readable during and after it."""

    def __enter__(self) -> Self:
        self._started, self._stopped = time.perf_counter(), None
        return self

    def __exit__(self, *_: object) -> None:
        self._stopped = time.perf_counter()

    @property
    def seconds(self) -> float:
        return (self._stopped or time.perf_counter()) - self._started


GC = GcClock()


def figure(label: str, value: str, verdict: str = "") -> None:
    print(f"{label:<64} {value:>9}  {verdict}".rstrip(), flush=True)


def series_openmetrics(count: int, samples: int) -> str:
    """`count` series of METRIC with seven labels each, `samples` values STEP apart from BASE_TIME."""
    series = {
        f'{METRIC}{{instance="host-{n // 4:05d}.example.com:9100",job="node",'
        f'device="sd{"abcd"[n % 4]}",mountpoint="/data/{n % 4}",team="team-{n % 13}",'
        f'region="eu-west-{n % 3 + 1}",cluster="prod-{n % 7}"}}': f"0.5+0.01x{samples - 1}"
        for n in range(count)
    }
    return to_openmetrics(series, BASE_TIME, STEP)


def rss_mb() -> float:
    """This process's resident set, after a full collection so garbage does not count."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def verdict(ok: bool, target: str) -> str:
    return f"{'PASS' if ok else 'MISS'} (target {target})"


def load_group(directory: Path) -> GroupSpec:
    path = directory / "bench.yaml"
    path.write_text(RULE_FILE)
    groups, problems = load_rule_file(path, STEP)
    if problems:
        raise SystemExit("\n".join(map(str, problems)))
    return groups[0]


async def evaluate(group: RuleGroup, query: TimedQuery, ts: float, name: str) -> Outcome:
    query.reset()
    gc_before = GC.seconds
    with Stopwatch() as total:
        outcome = await group.evaluate(ts)
    processing = total.seconds - query.elapsed
    per_100k = processing / max(query.returned, 1) * 100_000
    figure(f"{name}: query (HTTP + JSON decode)", f"{query.elapsed:.3f} s")
    figure(
        f"{name}: engine processing, {query.returned:,} series",
        f"{processing:.3f} s",
        verdict(per_100k <= PROCESSING_PER_100K, f"<= {PROCESSING_PER_100K:g} s per 100k"),
    )
    figure(f"{name}: of both, cyclic GC", f"{GC.seconds - gc_before:.3f} s")
    return outcome


async def bench_evaluations(
    spec: GroupSpec, client: PrometheusClient, store: SqliteStore, evaluations: int
) -> RuleGroup:
    query = TimedQuery(client.query)
    group = RuleGroup(spec, Environment(query=query, external_url="http://127.0.0.1:9090"))
    for n in range(1, evaluations + 1):
        outcome = await evaluate(group, query, BASE_TIME + n * STEP, f"evaluation {n}")
        with Stopwatch() as write:
            await store.write(outcome.write)
        # One alert can be upserted twice in a write (created pending, then firing at once).
        changed = len({id(alert) for _, alert in outcome.write.upserts})
        figure(f"evaluation {n}: store write, {changed:,} alerts changed", f"{write.seconds:.3f} s")
        del outcome  # dispatch would take the alerts; keep them out of the memory figure
    firing = sum(
        a.state is AlertState.FIRING for r in group.alerting.values() for a in r.active.values()
    )
    rss = rss_mb()
    figure(
        f"resident memory with {firing:,} firing alerts",
        f"{rss:.0f} MB",
        verdict(rss <= RSS_LIMIT_MB, f"<= {RSS_LIMIT_MB:g} MB"),
    )
    return group


async def bench_restart(
    spec: GroupSpec, client: PrometheusClient, db: Path, evaluations: int
) -> None:
    """A fresh store and manager on the same file, as a restarted daemon would have them."""
    next_ts = BASE_TIME + (evaluations + 1) * STEP
    clock = ManualClock(next_ts - 1)  # never advanced, so the manager's own loop evaluates nothing
    store = SqliteStore(str(db))
    await store.open()
    query = TimedQuery(client.query)
    env = Environment(query=query, external_url="http://127.0.0.1:9090")
    manager = RuleManager(clock, store)
    with Stopwatch() as restart:
        state = await store.load_rule_state()
        await manager.start([spec], env, state, tolerance=3600.0)
    restored = sum(len(r.active) for _, r in manager.alerting_rules())
    figure(
        f"restart: load + restore {restored:,} alerts",
        f"{restart.seconds:.3f} s",
        verdict(restart.seconds < RESTART_LIMIT, f"< {RESTART_LIMIT:g} s"),
    )
    await manager.stop()
    # It renders every restored alert's annotations again: the store does not keep them fresh.
    await evaluate(
        manager.groups[spec.key], query, next_ts, f"evaluation {evaluations + 1}, after restart"
    )
    # Restored alerts are decoded from the store, not built from answers: their own footprint.
    rss = rss_mb()
    figure(
        f"restart: resident memory with {restored:,} restored alerts",
        f"{rss:.0f} MB",
        verdict(rss <= RSS_LIMIT_MB, f"<= {RSS_LIMIT_MB:g} MB"),
    )
    await store.close()


def backfill_series(count: int, samples: int, data_dir: Path) -> None:
    """Runs in a child process, so the text's memory never counts in this process's RSS."""
    openmetrics = series_openmetrics(count, samples)
    backfill(openmetrics, data_dir, data_dir.parent / "backfill.om")


async def start_prometheus(series: int, samples: int, workdir: Path) -> PrometheusServer:
    server = PrometheusServer(workdir=workdir)  # no openmetrics: the child backfills data_dir
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as child:
        await asyncio.get_running_loop().run_in_executor(
            child, backfill_series, series, samples, server.data_dir
        )
    return await asyncio.to_thread(server.start)


async def run(series: int, evaluations: int, directory: Path) -> None:
    spec = load_group(directory)
    db = directory / "bench.db"
    with Stopwatch() as backfilled:
        prometheus = await start_prometheus(series, evaluations + 3, directory / "prometheus")
    figure(f"backfill {series:,} series + start Prometheus", f"{backfilled.seconds:.1f} s")
    figure("resident memory before evaluating", f"{rss_mb():.0f} MB")
    try:
        async with PrometheusClient(prometheus.url, timeout=120.0) as client:
            store = SqliteStore(str(db))
            await store.open()
            group = await bench_evaluations(spec, client, store, evaluations)
            await store.close()
            del group  # as gone as in a restarted process
            await bench_restart(spec, client, db, evaluations)
    finally:
        await asyncio.to_thread(prometheus.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--evaluations", type=int, default=4, help="at least 3")
    parser.add_argument("--dir", type=Path, help="for Prometheus and the database (default: temp)")
    args = parser.parse_args()
    # Named, so figures from a stand-in for the template engine cannot pass for the real thing.
    print(f"template engine: {getattr(templates, '__file__', None) or 'a stand-in without a file'}")
    tune_gc()  # as `alerting run` does
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        asyncio.run(run(args.series, max(args.evaluations, 3), Path(directory)))


if __name__ == "__main__":
    main()
