"""Builds rule groups from rule-file text and feeds them query results chosen by the test."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from alerting.datasource import BadData
from alerting.model import Sample
from alerting.rules.group import Environment, RuleGroup
from alerting.rules.loader import load_rule_file

T0 = 1_700_000_000.0


@dataclass
class Series:
    """What the 'Prometheus' of a unit test answers: samples per expression, or an error."""

    results: dict[str, list[Sample]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    asked: list[tuple[str, float]] = field(default_factory=list)

    async def query(self, expr: str, at: float) -> list[Sample]:
        self.asked.append((expr, at))
        if expr in self.errors:
            raise BadData("bad_data", self.errors[expr])
        return list(self.results.get(expr, []))


def group_from(tmp_path: Path, text: str, series: Series, **env: object) -> RuleGroup:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    groups, problems = load_rule_file(path, 60.0)
    assert not problems, problems
    return RuleGroup(groups[0], Environment(query=series.query, **env))  # type: ignore[arg-type]


def sample(value: float = 1.0, **labels: str) -> Sample:
    return Sample(dict(labels), value)
