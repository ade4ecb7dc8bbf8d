"""Parse and render time of typical alert annotations (Prometheus rule side).

.venv/bin/python bench/template_bench.py

Prints the full engine's figure for an annotation with humanize/printf, and the figure for a
template of only labels, value and text (which `RuleTemplate` renders without the engine when
it has a fast path), both per render and per 100k renders (one evaluation of 100k series).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from alerting.template.prometheus import RuleTemplateData, compile_rule_template

ANNOTATION = (
    "Instance {{ $labels.instance }} of job {{ $labels.job }} in {{ $labels.env }} "
    'is at {{ humanize $value }} ({{ printf "%.2f" $value }} req/s)'
)
SIMPLE = (
    "Instance {{ $labels.instance }} of job {{ .Labels.job }} in {{ $labels.env }} "
    "({{ $externalLabels.cluster }}) is at {{ $value }} req/s"
)


def bench(label: str, runs: int, fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    per_call = (time.perf_counter() - start) / runs
    print(f"{label}: {per_call * 1e6:.1f} µs per call ({runs} runs)")
    return per_call


def sample_data(count: int) -> list[RuleTemplateData]:
    return [
        RuleTemplateData(
            labels={"instance": f"host-{i}:9100", "job": "node", "env": "prod"},
            external_labels={"cluster": "eu-1"},
            external_url="http://prometheus:9090",
            value=1234.5678 + i,
            eval_time=1_700_000_000.0,
        )
        for i in range(count)
    ]


def bench_render(label: str, text: str, data: list[RuleTemplateData], runs: int) -> None:
    template = compile_rule_template(text, "__alert_HighLoad")
    print(f"{label} sample:", template.render(data[0]))
    best = float("inf")
    for _ in range(runs):  # best of several rounds: the least disturbed by the machine
        start = time.perf_counter()
        for item in data:
            template.render(item)
        best = min(best, (time.perf_counter() - start) / len(data))
    print(
        f"{label} render: {best * 1e6:.2f} µs per render, "
        f"{best * 1e5 * 1e3:.0f} ms per 100k (best of {runs} x {len(data)})"
    )


def main() -> None:
    bench("parse", 2_000, lambda: compile_rule_template(ANNOTATION, "__alert_HighLoad"))
    data = sample_data(10_000)
    bench_render("full-path (humanize/printf)", ANNOTATION, data, 10)
    bench_render("fast-path (labels/value)", SIMPLE, data, 10)


if __name__ == "__main__":
    main()
