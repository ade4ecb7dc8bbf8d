"""Prometheus 2.42 as the oracle: `alerting replay` must fire what `promtool test rules` fires.

Each file in scenarios/ holds a rule file and input series in promtool's notation. promtool
evaluates the rules itself; our side backfills the same series into a real Prometheus (time 0 of
the series is BASE_TIME) and runs the `alerting replay` command over them. At every eval time both
must report the same FIRING alerts, with the same labels and annotations, and the same rules
must fail at the same evaluations.

promtool evaluates every group at the test's evaluation_interval whatever the group's own
interval, so each distinct group interval gets its own promtool run with only those groups: the
groups of a rule file never see each other, so this is what one Prometheus does with all of them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.durations import parse_duration
from tests.differential import promtool_oracle as oracle
from tests.differential.promtool_oracle import Firing, PromtoolTest, Report
from tests.peers.prometheus import PrometheusServer
from tests.peers.series import BASE_TIME, parse_series, to_openmetrics

SCENARIO_DIR = Path(__file__).parent / "scenarios"
DEFAULT_EXTERNAL_URL = "http://prometheus.example:9090"
REPLAY_TIMEOUT = 60.0


# --- scenarios ----------------------------------------------------------------------------


_SCENARIO_KEYS = {
    "description",  # what the scenario covers, for people
    "evaluation_interval",  # promtool's, and our global one (default 1m)
    "interval",  # between input samples (default 1m)
    "eval_step",  # compare every this often (default evaluation_interval) ...
    "eval_until",  # ... from 0 to this
    "external_labels",
    "external_url",
    "input_series",  # [{series, values}] in promtool's notation
    "groups",  # the rule file
    "xfail",  # why replay is known to differ: a bug to fix, not an accepted difference
}


@dataclass(frozen=True)
class Scenario:
    """One file of scenarios/, with the keys in _SCENARIO_KEYS."""

    name: str
    groups: list[dict[str, Any]]
    input_series: dict[str, str]
    evaluation_interval: float
    interval: float
    eval_times: list[float]
    external_labels: dict[str, str]
    external_url: str
    xfail: str | None

    @classmethod
    def load(cls, path: Path) -> Scenario:
        doc = yaml.safe_load(path.read_text())
        if unknown := set(doc) - _SCENARIO_KEYS:
            raise ValueError(f"{path.name}: unknown keys {sorted(unknown)}")
        evaluation_interval = parse_duration(doc.get("evaluation_interval", "1m"))
        step = parse_duration(doc.get("eval_step", doc.get("evaluation_interval", "1m")))
        until = parse_duration(doc["eval_until"])
        return cls(
            name=path.stem,
            groups=doc["groups"],
            input_series={s["series"]: s["values"] for s in doc["input_series"]},
            evaluation_interval=evaluation_interval,
            interval=parse_duration(doc.get("interval", "1m")),
            eval_times=[i * step for i in range(int(until // step) + 1)],
            external_labels=doc.get("external_labels", {}),
            external_url=doc.get("external_url", DEFAULT_EXTERNAL_URL),
            xfail=doc.get("xfail"),
        )

    def interval_of(self, group: dict[str, Any]) -> float:
        return (
            parse_duration(group["interval"]) if "interval" in group else self.evaluation_interval
        )

    def groups_by_interval(self) -> dict[float, list[dict[str, Any]]]:
        runs: dict[float, list[dict[str, Any]]] = {}
        for group in self.groups:
            runs.setdefault(self.interval_of(group), []).append(group)
        return runs

    def metric_names(self) -> set[str]:
        return {parse_series(selector)[0] for selector in self.input_series}


def alertnames(groups: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["alert"] for g in groups for r in g["rules"] if "alert" in r))


SCENARIOS = [Scenario.load(path) for path in sorted(SCENARIO_DIR.glob("*.yaml"))]


def _param(scenario: Scenario) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=scenario.xfail)] if scenario.xfail else []
    return pytest.param(scenario, id=scenario.name, marks=marks)


# --- the Prometheus our side queries --------------------------------------------------------


def backfill_text(scenarios: list[Scenario]) -> str:
    """One OpenMetrics text with every scenario's series, each scenario at its own interval."""
    owner: dict[str, str] = {}
    parts: list[str] = []
    for scenario in scenarios:
        for name in scenario.metric_names():
            # A metric shared by two scenarios would leak series into the other's queries.
            if owner.setdefault(name, scenario.name) != scenario.name:
                raise ValueError(f"metric {name} used by {owner[name]} and {scenario.name}")
        text = to_openmetrics(scenario.input_series, BASE_TIME, scenario.interval)
        parts.append(text.removesuffix("# EOF\n"))
    return "".join(parts) + "# EOF\n"


@pytest.fixture(scope="module")
def prometheus_url(module_prometheus_peer: Callable[..., PrometheusServer]) -> str:
    return module_prometheus_peer(backfill_text(SCENARIOS)).url


# --- our side: `alerting replay` ------------------------------------------------------------


@dataclass(frozen=True)
class Replayed:
    """What replay printed, with times as seconds after BASE_TIME."""

    firing: dict[tuple[float, str, str], list[Firing]]  # (time, group, rule) → alerts
    failures: dict[tuple[float, str], list[tuple[str, str]]]  # (time, group) → (rule, message)


_FAILURE_LINE = re.compile(
    r"(?P<ts>\S+) group (?P<group>'.*'|\".*\") rule (?P<rule>\S+): (?P<msg>.*)"
)


def replay(scenario: Scenario, prometheus_url: str, workdir: Path) -> Replayed:
    config = _write_config(scenario, prometheus_url, workdir)
    end = BASE_TIME + max(scenario.eval_times)
    command = [sys.executable, "-m", "alerting.cli", "replay", "--config", str(config)]
    command += ["--start", str(BASE_TIME), "--end", str(end)]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=REPLAY_TIMEOUT, check=False
    )
    assert done.returncode == 0, f"replay exited {done.returncode}:\n{done.stderr}"
    return Replayed(_firing(done.stdout), _failures(done.stderr))


def _write_config(scenario: Scenario, prometheus_url: str, workdir: Path) -> Path:
    (workdir / "rules.yaml").write_text(yaml.safe_dump({"groups": scenario.groups}))
    config = {
        "global": {
            "evaluation_interval": f"{round(scenario.evaluation_interval * 1000)}ms",
            "external_labels": scenario.external_labels,
        },
        "datasource": {
            "prometheus": {"url": prometheus_url, "external_url": scenario.external_url}
        },
        "rule_files": ["rules.yaml"],
        "storage": {"path": str(workdir / "alerting.db")},
    }
    path = workdir / "alerting.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _firing(stdout: str) -> dict[tuple[float, str, str], list[Firing]]:
    firing: dict[tuple[float, str, str], list[Firing]] = {}
    for text in stdout.splitlines():
        line = json.loads(text)
        if line["state"] == "firing":
            key = (line["ts"] - BASE_TIME, line["group"], line["rule"])
            alert = Firing(_pairs(line["labels"]), _pairs(line["annotations"]))
            firing.setdefault(key, []).append(alert)
    return firing


def _failures(stderr: str) -> dict[tuple[float, str], list[tuple[str, str]]]:
    failures: dict[tuple[float, str], list[tuple[str, str]]] = {}
    for text in stderr.splitlines():
        match = _FAILURE_LINE.fullmatch(text)
        assert match, f"replay wrote an unexpected line to stderr: {text!r}"
        ts = datetime.fromisoformat(match["ts"].replace("Z", "+00:00")).timestamp() - BASE_TIME
        rule = match["rule"][1:-1]  # printed with repr(), so quoted
        failures.setdefault((ts, match["group"][1:-1]), []).append((rule, match["msg"]))
    return failures


def _pairs(mapping: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(mapping.items()))


# --- the comparison -------------------------------------------------------------------------


def promtool_reports(scenario: Scenario, workdir: Path) -> dict[float, Report]:
    """One promtool run per distinct group interval, keyed by that interval."""
    reports: dict[float, Report] = {}
    for interval, groups in scenario.groups_by_interval().items():
        rundir = workdir / f"promtool-{round(interval * 1000)}ms"
        rundir.mkdir()
        (rundir / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
        names = alertnames(groups)
        test = PromtoolTest(
            rule_file=Path("rules.yaml"),
            evaluation_interval=interval,
            interval=scenario.interval,
            input_series=scenario.input_series,
            checks=[(t, name) for t in scenario.eval_times for name in names],
            external_labels=scenario.external_labels,
            external_url=scenario.external_url,
        )
        reports[interval] = oracle.run(test, rundir)
    return reports


def differences(scenario: Scenario, reports: dict[float, Report], ours: Replayed) -> Iterator[str]:
    for interval, groups in scenario.groups_by_interval().items():
        names = [g["name"] for g in groups]
        report = reports[interval]
        yield from _alert_differences(report, ours, names, interval)
        yield from _failure_differences(report, ours, names, interval, max(scenario.eval_times))


def _alert_differences(
    report: Report, ours: Replayed, groups: list[str], interval: float
) -> Iterator[str]:
    for (t, alertname), expected in report.alerts.items():
        # Both sides show, at t, the state of the group's last evaluation at or before t.
        evaluated = t // interval * interval
        got = sorted(a for g in groups for a in ours.firing.get((evaluated, g, alertname), []))
        if got != expected:
            yield _describe(f"{alertname} at {t:g}s", expected, got)


def _failure_differences(
    report: Report, ours: Replayed, groups: list[str], interval: float, until: float
) -> Iterator[str]:
    stop = report.stopped_at
    last = until if stop is None else min(until, stop)
    for i in range(int(last // interval) + 1):
        t = i * interval
        expected = sorted((f.rule, f.message) for f in report.failures if f.time == t)
        got = sorted(failure for g in groups for failure in ours.failures.get((t, g), []))
        if not _same_failures(expected, got):
            yield f"rule failures at {t:g}s:\n  promtool: {expected}\n  replay:   {got}"
    for failure in report.failures:
        # Prometheus empties a rule's alerts when it exceeds its limit.
        if failure.message.startswith("exceeded limit"):
            left = [a for g in groups for a in ours.firing.get((failure.time, g, failure.rule), [])]
            if left:
                yield _describe(f"{failure.rule} over its limit at {failure.time:g}s", [], left)


# Prometheus lists the series that clash in a binary operation in map order.
_SERIES_LIST = re.compile(r"\[\{.*?\}\]")


def _same_failures(expected: list[tuple[str, str]], got: list[tuple[str, str]]) -> bool:
    if [rule for rule, _ in expected] != [rule for rule, _ in got]:
        return False
    return all(
        _same_message(theirs, ours) for (_, theirs), (_, ours) in zip(expected, got, strict=True)
    )


def _same_message(theirs: str, ours: str) -> bool:
    return _SERIES_LIST.sub("[...]", theirs) == _SERIES_LIST.sub("[...]", ours)


def _describe(what: str, expected: list[Firing], got: list[Firing]) -> str:
    lines = [f"{what}:"]
    lines += [f"  only promtool: {a}" for a in expected if a not in got]
    lines += [f"  only replay:   {a}" for a in got if a not in expected]
    return "\n".join(lines)


@pytest.mark.parametrize("scenario", [_param(s) for s in SCENARIOS])
def test_replay_fires_what_promtool_fires(
    scenario: Scenario, prometheus_url: str, tmp_path: Path
) -> None:
    reports = promtool_reports(scenario, tmp_path)
    # A scenario in which nothing ever fires would agree with anything.
    assert any(any(r.alerts.values()) for r in reports.values()), "promtool fires nothing"
    ours = replay(scenario, prometheus_url, tmp_path)
    problems = list(differences(scenario, reports, ours))
    assert not problems, "\n".join(problems)
