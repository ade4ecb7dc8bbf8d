"""Our templates against outputs recorded from Go 1.19, promtool 2.42 and amtool 0.25.

The recorded files come from tests/oracle/regenerate.py; nothing here needs Go.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from alerting.labels import fingerprint_hex
from alerting.model import Sample
from alerting.template import TemplateError, parse
from alerting.template.alertmanager import (
    KV,
    AlertData,
    Alerts,
    NotificationData,
    load_templates,
    notification_data,
)
from alerting.template.gotime import GoTime
from alerting.template.prometheus import ArgsMap, RuleTemplateData, compile_rule_template

RECORDED = Path(__file__).parent / "recorded"


def _load(name: str) -> list[dict]:
    return json.loads((RECORDED / f"{name}.json").read_text())


def _ids(cases: list[dict]) -> list[str]:
    return [c["id"] for c in cases]


def typed_value(value: object) -> object:
    """The Python form of render.go's typed JSON values."""
    if value is None:
        return None
    assert isinstance(value, dict)
    (kind, raw), *_ = value.items()
    if kind in ("s", "f", "b", "ms"):
        return float(raw) if kind == "f" else raw
    if kind == "i":
        return int(raw)
    if kind == "ss":
        return list(raw)
    if kind == "m":
        return ArgsMap({k: typed_value(v) for k, v in raw.items()})
    if kind == "l":
        return [typed_value(v) for v in raw]
    raise ValueError(kind)


def _expected(case: dict) -> str:
    expected = case["expected"]
    return expected["output"] if "output" in expected else "ERROR: " + expected["error"]


TEXT = _load("text")


@pytest.mark.parametrize("case", TEXT, ids=_ids(TEXT))
def test_text_template(case: dict) -> None:
    try:
        got = parse(case["template"], "t", funcs={}).execute(typed_value(case["data"]))
    except TemplateError as err:
        got = "ERROR: " + err.go_error
    assert got == _expected(case)


PROM = _load("prom")


def _query(queries: dict) -> object:
    def query(text: str, when: float) -> list[Sample]:
        if text not in queries:
            raise ValueError(f"unknown query {json.dumps(text)}")
        return [Sample(dict(s["labels"]), s["value"]) for s in queries[text]]

    return query


@pytest.mark.parametrize("case", PROM, ids=_ids(PROM))
def test_rule_template(case: dict) -> None:
    data = case["data"]
    rule_data = RuleTemplateData(
        labels=dict(data["labels"]),
        external_labels=dict(data["external_labels"]),
        external_url=data["external_url"],
        value=float(data["value"]),
        eval_time=float(data["eval_time"]),
        query=_query(case.get("queries") or {}),  # type: ignore[arg-type]
    )
    try:
        got = compile_rule_template(case["template"], case["name"]).render(rule_data)
    except TemplateError as err:
        got = f"<error expanding template: {err.go_error}>"
    assert got == _expected(case)


AM = _load("am")


@dataclass
class _Alert:
    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: float = 0.0
    ends_at: float = 0.0
    generator_url: str = ""

    @property
    def fingerprint(self) -> str:
        return fingerprint_hex(self.labels)


def _am_data(case: dict) -> NotificationData:
    data = case["data"]
    if case["kind"] == "amtool":
        alerts = Alerts(
            AlertData(
                a["status"],
                KV(a["labels"]),
                KV(a["annotations"]),
                GoTime.from_unix(0),
                GoTime.from_unix(0),
                a["generator_url"],
                a["fingerprint"],
            )
            for a in data["alerts"]
        )
        return NotificationData(
            data["receiver"],
            data["status"],
            alerts,
            KV(data["group_labels"]),
            KV(data["common_labels"]),
            KV(data["common_annotations"]),
            data["external_url"],
        )
    alerts = [_Alert(**{k: v for k, v in a.items()}) for a in data["alerts"]]
    return notification_data(
        data["receiver"], data["group_labels"], alerts, data["external_url"], data["now"]
    )


@pytest.fixture(scope="module")
def am_templates():
    return load_templates()


@pytest.mark.parametrize("case", AM, ids=_ids(AM))
def test_notification_template(case: dict, am_templates) -> None:
    try:
        got = am_templates.render(case["template"], _am_data(case))
    except TemplateError as err:
        got = "ERROR: " + err.go_error
    assert got == _expected(case)
