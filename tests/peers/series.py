"""promtool's input-series notation, and its conversion to OpenMetrics text for backfilling.

The notation is the one `promtool test rules` reads (`input_series[].values`), as parsed by
Prometheus's `promql/parser` (lexer `lexValueSequence`, grammar rule `series_item`):

    `1 2 3`    the values one by one
    `_`        one missing sample; `_x3` is three missing samples
    `5x3`      5 repeated: 3 + 1 = four samples
    `1+2x3`    1, 3, 5, 7 (n + 1 samples; also `a-bxn`)
    numbers may be signed (`-2`), scientific (`1e21`), `Inf`, `NaN` (any case)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import promql_parser

BASE_TIME = 1_699_920_000  # 2023-11-14T00:00:00Z: a day boundary, so aligned to any step

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|(?i:inf|nan)"
_ITEM = re.compile(
    rf"(?P<blank>_)(?:x(?P<blanks>\d+))?"
    rf"|(?P<start>[+-]?(?:{_NUMBER}))(?:(?P<step>[+-](?:{_NUMBER}))?x(?P<times>\d+))?"
)


def expand(notation: str) -> list[float | None]:
    """The values of a series, one per step from time 0; None where a sample is missing."""
    values: list[float | None] = []
    for item in notation.split():
        values.extend(_expand_item(item))
    return values


def _expand_item(item: str) -> list[float | None]:
    if item.lower() == "stale":
        raise NotImplementedError(
            "'stale' cannot be backfilled: OpenMetrics has no staleness marker; "
            "end the series with '_' gaps longer than the 5m lookback instead"
        )
    match = _ITEM.fullmatch(item)
    if match is None:
        raise ValueError(f"not a series value: {item!r}")
    if match["blank"]:
        return [None] * int(match["blanks"] or 1)
    value = float(match["start"])
    if match["times"] is None:
        return [value]
    step = float(match["step"] or 0)
    out: list[float | None] = []
    for _ in range(int(match["times"]) + 1):
        out.append(value)
        value += step  # accumulated, not multiplied, so rounding matches Prometheus's
    return out


def parse_series(selector: str) -> tuple[str, dict[str, str]]:
    """`up{job="a"}` → ('up', {'job': 'a'}), with PromQL's string escapes undone."""
    node = promql_parser.parse(selector)
    if not isinstance(node, promql_parser.VectorSelector):
        raise ValueError(f"not a series: {selector!r}")
    labels: dict[str, str] = {}
    for matcher in node.matchers.matchers:
        if matcher.op != promql_parser.MatchOp.Equal:
            raise ValueError(f"only '=' may name a series: {selector!r}")
        labels[matcher.name] = matcher.value
    name = node.name or labels.pop("__name__", "")
    labels.pop("__name__", None)
    if not name:
        raise ValueError(f"series without a metric name: {selector!r}")
    return name, labels


def to_openmetrics(series: Mapping[str, str], start: float, interval: float) -> str:
    """OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.

    `series` maps a series (`up{job="a"}`) to its values in promtool's notation; value i is
    at `start + i * interval` seconds. Every family is typed gauge, so no name is special.
    """
    families: dict[str, list[str]] = {}
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for selector, notation in series.items():
        name, labels = parse_series(selector)
        identity = (name, tuple(sorted(labels.items())))
        if identity in seen:
            raise ValueError(f"series given twice: {selector!r}")
        seen.add(identity)
        lines = families.setdefault(name, [])
        head = name + _format_labels(labels)
        for i, value in enumerate(expand(notation)):
            if value is not None:
                lines.append(f"{head} {_format_value(value)} {_format_time(start + i * interval)}")
    out: list[str] = []
    for name, lines in families.items():
        out.append(f"# TYPE {name} gauge")
        out.extend(lines)
    out.append("# EOF")
    return "\n".join(out) + "\n"


def _format_labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    pairs = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return "{" + pairs + "}"


def _escape(value: str) -> str:
    # OpenMetrics knows exactly three escapes in label values.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _format_time(seconds: float) -> str:
    # Whole milliseconds written exactly, since TSDB timestamps are milliseconds.
    ms = round(seconds * 1000)
    return f"{ms // 1000}.{ms % 1000:03d}"
