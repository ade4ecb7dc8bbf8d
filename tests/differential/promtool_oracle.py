"""`promtool test rules` as an oracle: what Prometheus 2.42 itself makes of a rule file.

promtool prints only what differs from the expectation, so every (eval_time, alertname) is asked
with `exp_alerts: []`: the FIRING alerts Prometheus has at that time are printed as `got`, and a
check that prints nothing had none. A rule that fails to evaluate ends the whole test at that
evaluation: promtool prints one `rule: R, time: T, err: E` line per failing rule and checks
nothing at or after T, so those checks are left out of the report.

Output of 2.42, on stderr (label values are Go-quoted, `time` is a model.Duration for alerts
and a time.Duration for rule errors):

      FAILED:
        alertname: A, time: 5m,
            exp:[],
            got:[
                0:
                  Labels:{alertname="A", job="c"}
                  Annotations:{summary="x"},
                ]
        rule: B, time: 6m0s, err: exceeded limit of 2 with 3 alerts
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

Pairs = tuple[tuple[str, str], ...]
Check = tuple[float, str]  # (eval_time in seconds from the first sample, alertname)


class OracleError(RuntimeError):
    """promtool said something this module does not understand; the message holds its output."""


@dataclass(frozen=True, slots=True)
class PromtoolTest:
    """One test group for promtool: the series, the rules and what to ask about."""

    rule_file: Path
    evaluation_interval: float
    interval: float  # between the input series' samples
    input_series: Mapping[str, str]
    checks: Sequence[Check]
    external_labels: Mapping[str, str] = field(default_factory=dict)
    external_url: str = ""


@dataclass(frozen=True, order=True, slots=True)
class Firing:
    labels: Pairs
    annotations: Pairs


@dataclass(frozen=True, slots=True)
class Failure:
    time: float
    rule: str
    message: str


@dataclass(frozen=True, slots=True)
class Report:
    """Firing alerts per check promtool reached, and the rule failures that stopped it, if any."""

    alerts: dict[Check, list[Firing]]
    failures: list[Failure]

    @property
    def stopped_at(self) -> float | None:
        return min((f.time for f in self.failures), default=None)


def run(test: PromtoolTest, workdir: Path) -> Report:
    """Run promtool on `test` in `workdir` and report what Prometheus evaluated."""
    test_file = workdir / "promtool-test.yaml"
    test_file.write_text(yaml.safe_dump(_test_document(test), sort_keys=False))
    done = subprocess.run(
        ["promtool", "test", "rules", test_file.name],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    try:
        reported, failures = parse_failures(done.stderr)
    except OracleError as exc:
        raise OracleError(f"{exc}\n--- stdout:\n{done.stdout}--- stderr:\n{done.stderr}") from None
    if (done.returncode == 0) != (not reported and not failures):
        raise OracleError(f"promtool exited {done.returncode}:\n{done.stdout}{done.stderr}")
    stop = min((f.time for f in failures), default=None)
    alerts = {
        check: sorted(reported.get(check, []))
        for check in test.checks
        if stop is None or check[0] < stop
    }
    return Report(alerts, failures)


def _test_document(test: PromtoolTest) -> dict[str, object]:
    group: dict[str, object] = {
        "interval": _duration(test.interval),
        "input_series": [{"series": s, "values": v} for s, v in test.input_series.items()],
        "alert_rule_test": [
            {"eval_time": _duration(t), "alertname": name, "exp_alerts": []}
            for t, name in test.checks
        ],
    }
    if test.external_labels:
        group["external_labels"] = dict(test.external_labels)
    if test.external_url:
        group["external_url"] = test.external_url
    return {
        "rule_files": [str(test.rule_file)],
        "evaluation_interval": _duration(test.evaluation_interval),
        "tests": [group],
    }


def _duration(seconds: float) -> str:
    # Milliseconds are exact and a valid model.Duration however many there are.
    return f"{round(seconds * 1000)}ms"


# --- parsing promtool's output ------------------------------------------------------------

_ALERT_HEADER = re.compile(r"alertname: (?P<name>\S+), time: (?P<time>\S+),")
_RULE_FAILURE = re.compile(r"rule: (?P<rule>\S+), time: (?P<time>\S+), err: (?P<message>.*)")
_LABELS = re.compile(r"Labels:(?P<set>\{.*\})")
_ANNOTATIONS = re.compile(r"Annotations:(?P<set>\{.*\}),?")
_NOISE = re.compile(r"FAILED:|exp:\[\],|got:\[|got:\[\],?|\d+:|\]|")


def parse_failures(text: str) -> tuple[dict[Check, list[Firing]], list[Failure]]:
    """The `got` lists and rule failures in promtool's stderr; OracleError on any other line."""
    reported: dict[Check, list[Firing]] = {}
    failures: list[Failure] = []
    current: list[Firing] | None = None
    labels: Pairs | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if match := _ALERT_HEADER.fullmatch(line):
            current = reported.setdefault((parse_go_duration(match["time"]), match["name"]), [])
        elif match := _RULE_FAILURE.fullmatch(line):
            time = parse_go_duration(match["time"])
            failures.append(Failure(time, match["rule"], match["message"]))
        elif (match := _LABELS.fullmatch(line)) and current is not None and labels is None:
            labels = parse_label_set(match["set"])
        elif (match := _ANNOTATIONS.fullmatch(line)) and current is not None and labels is not None:
            current.append(Firing(labels, parse_label_set(match["set"])))
            labels = None
        elif not _NOISE.fullmatch(line):
            raise OracleError(f"promtool output line {number} not understood: {raw!r}")
    return reported, failures


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|y|w|d|h|m|s)")
_UNIT_SECONDS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_go_duration(text: str) -> float:
    """Seconds in a model.Duration (`1h5m`, `1d`) or a time.Duration (`6m0s`, `1m0.5s`)."""
    parts = list(_DURATION_PART.finditer(text))
    if not parts or "".join(p[0] for p in parts) != text:
        raise OracleError(f"not a duration: {text!r}")
    return sum(float(p[1]) * (0.001 if p[2] == "ms" else _UNIT_SECONDS[p[2]]) for p in parts)


_PAIR = re.compile(r'\s*(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)="(?P<value>(?:[^"\\]|\\.)*)"\s*(?:,|$)')


def parse_label_set(text: str) -> Pairs:
    """`{a="x", b="\\n"}` as Prometheus's labels.Labels.String() prints it → sorted pairs."""
    if not (text.startswith("{") and text.endswith("}")):
        raise OracleError(f"not a label set: {text!r}")
    body, pairs, pos = text[1:-1], [], 0
    while pos < len(body):
        match = _PAIR.match(body, pos)
        if match is None:
            raise OracleError(f"label set not understood at {pos}: {text!r}")
        pairs.append((match["name"], go_unquote(match["value"])))
        pos = match.end()
    return tuple(sorted(pairs))


_GO_ESCAPE = re.compile(
    r"\\(?:x([0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|([0-7]{3})|(.))"
)
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
}


def go_unquote(body: str) -> str:
    """The string a Go double-quoted literal (without its quotes) stands for.

    `\\xHH` and octal escapes are bytes, not characters, as strconv.Quote writes them.
    """
    out = bytearray()
    pos = 0
    for match in _GO_ESCAPE.finditer(body):
        out += body[pos : match.start()].encode()
        out += _escaped_bytes(*match.groups())
        pos = match.end()
    out += body[pos:].encode()
    return out.decode("utf-8", errors="surrogateescape")


def _escaped_bytes(
    hex_byte: str | None, u4: str | None, u8: str | None, octal: str | None, simple: str | None
) -> bytes:
    if hex_byte or octal:
        return bytes([int(hex_byte, 16) if hex_byte else int(octal or "0", 8)])
    if u4 or u8:
        return chr(int(u4 or u8 or "0", 16)).encode()
    if simple in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[simple].encode()
    raise OracleError(f"unknown escape \\{simple} in a Go string")
