"""Validated rule groups as the evaluator consumes them (the output of the loader)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from alerting.template.prometheus import RuleTemplate


@dataclass(frozen=True, slots=True)
class RuleSpec:
    name: str
    expr: str
    is_alert: bool
    for_: float = 0.0
    keep_firing_for: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    label_templates: dict[str, RuleTemplate] = field(default_factory=dict)
    annotation_templates: dict[str, RuleTemplate] = field(default_factory=dict)

    @property
    def identity(self) -> str:
        """What keeps an alert's state across reloads and restarts: name plus raw labels."""
        return self.name + json.dumps(self.labels, sort_keys=True)


@dataclass(frozen=True, slots=True)
class GroupSpec:
    file: str
    name: str
    interval: float
    limit: int
    rules: tuple[RuleSpec, ...]

    @property
    def key(self) -> str:
        """Prometheus's GroupKey: the rule file and the group name."""
        return f"{self.file};{self.name}"
