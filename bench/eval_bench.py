"""How fast one rule group evaluates, stores and restores 100,000 alerts against a real Prometheus.

Run from the repository root: .venv/bin/python -m bench.eval_bench [--series 100000] [--evaluations 4]

Backfills the series into a real Prometheus (promtool, then `prometheus` on a loopback port) and
evaluates one group whose rule returns every series, with `for: 0` so all of them fire. Per
evaluation it prints the query time (HTTP and JSON decode) apart from the engine's own processing
(build, merge, alerts_to_send, to_notification); then resident memory with every alert firing, the
store's write of the first evaluation, and a restart: loading the store and restoring the alerts.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import multiprocessing
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from alerting.clock import ManualClock
from alerting.datasource import PrometheusClient
from alerting.model import AlertState, Sample
from alerting.rules.group import Environment, Outcome, RuleGroup
from alerting.rules.loader import load_rule_file
from alerting.rules.manager import RuleManager
from alerting.rules.spec import GroupSpec
from alerting.store.sqlite import SqliteStore
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


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)

    def figure(self, label: str, value: str, verdict: str = "") -> None:
        line = f"{label:<52} {value:>14}  {verdict}".rstrip()
        self.lines.append(line)
        print(line, flush=True)


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


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    started = time.perf_counter()
    stopped: list[float] = []
    yield lambda: (stopped[0] if stopped else time.perf_counter()) - started
    stopped.append(time.perf_counter())


def load_group(directory: Path) -> GroupSpec:
    path = directory / "bench.yaml"
    path.write_text(RULE_FILE)
    groups, problems = load_rule_file(path, STEP)
    if problems:
        raise SystemExit("\n".join(map(str, problems)))
    return groups[0]


async def evaluate(
    group: RuleGroup, query: TimedQuery, ts: float, report: Report, n: int
) -> Outcome:
    query.reset()
    with stopwatch() as total:
        outcome = await group.evaluate(ts)
    processing = total() - query.elapsed
    per_100k = processing / max(query.returned, 1) * 100_000
    report.figure(f"evaluation {n}: query (HTTP + JSON decode)", f"{query.elapsed:.3f} s")
    report.figure(
        f"evaluation {n}: engine processing, {query.returned:,} series",
        f"{processing:.3f} s",
        verdict(per_100k <= PROCESSING_PER_100K, f"<= {PROCESSING_PER_100K:g} s per 100k"),
    )
    return outcome


async def bench_evaluations(
    spec: GroupSpec, client: PrometheusClient, store: SqliteStore, evaluations: int, report: Report
) -> RuleGroup:
    query = TimedQuery(client.query)
    group = RuleGroup(spec, Environment(query=query, external_url="http://127.0.0.1:9090"))
    for n in range(1, evaluations + 1):
        outcome = await evaluate(group, query, BASE_TIME + n * STEP, report, n)
        with stopwatch() as write:
            await store.write(outcome.write)
        # One alert can be upserted twice in a write (created pending, then firing at once).
        changed = len({id(alert) for _, alert in outcome.write.upserts})
        report.figure(
            f"evaluation {n}: store write ({changed:,} alerts changed)", f"{write():.3f} s"
        )
        del outcome  # dispatch would take the alerts; keep them out of the memory figure
    firing = sum(
        a.state is AlertState.FIRING for r in group.alerting.values() for a in r.active.values()
    )
    rss = rss_mb()
    report.figure(
        f"resident memory with {firing:,} firing alerts",
        f"{rss:.0f} MB",
        verdict(rss <= RSS_LIMIT_MB, f"<= {RSS_LIMIT_MB:g} MB"),
    )
    return group


async def bench_restart(
    spec: GroupSpec, client: PrometheusClient, db: Path, evaluations: int, report: Report
) -> None:
    """A fresh store and manager on the same file, as a restarted daemon would have them."""
    next_ts = BASE_TIME + (evaluations + 1) * STEP
    clock = ManualClock(next_ts - 1)  # never advanced, so the manager's own loop evaluates nothing
    store = SqliteStore(str(db))
    await store.open()
    query = TimedQuery(client.query)
    env = Environment(query=query, external_url="http://127.0.0.1:9090")
    manager = RuleManager(clock, store)
    with stopwatch() as restart:
        state = await store.load_rule_state()
        await manager.start([spec], env, state, tolerance=3600.0)
    restored = sum(len(r.active) for _, r in manager.alerting_rules())
    report.figure(
        f"restart: load + restore {restored:,} alerts",
        f"{restart():.3f} s",
        verdict(restart() < RESTART_LIMIT, f"< {RESTART_LIMIT:g} s"),
    )
    await manager.stop()
    # The first evaluation after a restart renders every restored alert's annotations again.
    group = manager.groups[spec.key]
    await evaluate(group, query, next_ts, report, evaluations + 1)
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
    report = Report()
    spec = load_group(directory)
    db = directory / "bench.db"
    with stopwatch() as backfilled:
        prometheus = await start_prometheus(series, evaluations + 3, directory / "prometheus")
    report.figure(f"backfill {series:,} series + start Prometheus", f"{backfilled():.1f} s")
    report.figure("resident memory before evaluating", f"{rss_mb():.0f} MB")
    try:
        async with PrometheusClient(prometheus.url, timeout=120.0) as client:
            store = SqliteStore(str(db))
            await store.open()
            group = await bench_evaluations(spec, client, store, evaluations, report)
            await store.close()
            del group
            gc.collect()
            await bench_restart(spec, client, db, evaluations, report)
    finally:
        await asyncio.to_thread(prometheus.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--evaluations", type=int, default=4, help="at least 3")
    parser.add_argument("--dir", type=Path, help="for Prometheus and the database (default: temp)")
    args = parser.parse_args()
    import alerting.template.prometheus as templates  # named so a stand-in cannot pass unseen

    print(f"template engine: {getattr(templates, '__file__', None) or 'a stand-in without a file'}")
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        asyncio.run(run(args.series, max(args.evaluations, 3), Path(directory)))


if __name__ == "__main__":
    main()
