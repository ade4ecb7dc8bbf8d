"""PromQL syntax checking agrees with Prometheus 2.42 (promtool) on valid and invalid expressions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from alerting.rules.loader import load_rule_file

VALID = [
    "up == 0",
    'rate(http_requests_total{code=~"5.."}[5m]) / rate(http_requests_total[5m]) > 0.05',
    "sum by (job) (up) < count by (job) (up)",
    "sum(up) by (job)",
    'up{job=~"a.*"} offset 5m',
    "up @ 1700000000",
    "max_over_time(up[10m:1m])",
    'absent(up{job="x"})',
    "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m]))) > 1",
    'label_replace(up, "host", "$1", "instance", "([^:]+):.*")',
    "predict_linear(node_filesystem_free_bytes[1h], 4 * 3600) < 0",
    "up and on () vector(1)",
    'count_values("v", up)',
    "topk(3, up)",
    "time() - process_start_time_seconds > 3600",
    "-up",
    "up ^ 2 % 3",
    "up atan2 up",
    '{__name__=~"up|down"}',
    "up == bool 1",
    "last_over_time(up[5m])",
    "quantile_over_time(0.5, x[5m])",
    "present_over_time(up[5m])",
    "clamp(up, 0, 1)",
    "group without (instance) (up)",
    "sort_desc(up)",
    "1",
    "scalar(up)",
]
INVALID = [
    "up ==",
    "sum(up",
    "rate(up)",
    "up{job=}",
    "foo bar",
    "up[5m] > 0",
    'label_replace(up, "a")',
]


def _rule_file(tmp_path: Path, exprs: list[str]) -> Path:
    rules = [{"alert": f"A{i}", "expr": e} for i, e in enumerate(exprs)]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": rules}]}))
    return path


def _promtool_accepts(tmp_path: Path, expr: str) -> bool:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is installed by scripts/setup.sh"
    path = _rule_file(tmp_path, [expr])
    return (
        subprocess.run([promtool, "check", "rules", str(path)], capture_output=True).returncode == 0
    )


def test_valid_expressions_load(tmp_path) -> None:
    _, problems = load_rule_file(_rule_file(tmp_path, VALID), 60)
    assert problems == []


@pytest.mark.parametrize("expr", VALID + INVALID)
def test_we_agree_with_promtool(tmp_path, expr: str) -> None:
    _, problems = load_rule_file(_rule_file(tmp_path, [expr]), 60)
    assert (not problems) == _promtool_accepts(tmp_path, expr)
