"""Parse and render time of a typical alert annotation (Prometheus rule side).

.venv/bin/python bench/template_bench.py
"""

from __future__ import annotations

import time

from alerting.template.prometheus import RuleTemplateData, compile_rule_template

ANNOTATION = (
    "Instance {{ $labels.instance }} of job {{ $labels.job }} in {{ $labels.env }} "
    'is at {{ humanize $value }} ({{ printf "%.2f" $value }} req/s)'
)


def bench(label: str, runs: int, fn) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        fn()
    per_call = (time.perf_counter() - start) / runs
    print(f"{label}: {per_call * 1e6:.1f} µs per call ({runs} runs)")
    return per_call


def main() -> None:
    bench("parse", 2_000, lambda: compile_rule_template(ANNOTATION, "__alert_HighLoad"))
    template = compile_rule_template(ANNOTATION, "__alert_HighLoad")
    data = [
        RuleTemplateData(
            labels={"instance": f"host-{i}:9100", "job": "node", "env": "prod"},
            external_labels={},
            external_url="http://prometheus:9090",
            value=1234.5678 + i,
            eval_time=1_700_000_000.0,
        )
        for i in range(1000)
    ]
    print("sample:", template.render(data[0]))
    runs = 100
    start = time.perf_counter()
    for _ in range(runs):
        for item in data:
            template.render(item)
    per_render = (time.perf_counter() - start) / (runs * len(data))
    print(f"render: {per_render * 1e6:.1f} µs per render ({runs * len(data)} renders)")


if __name__ == "__main__":
    main()
