"""Evaluation shares equal strings and dicts between alerts and evaluations instead of copying.

With 100k alerts, a copy per alert of each label set, key or annotation text is what pushes the
daemon's memory over its target (bench/eval_bench.py); these pin the sharing down.
"""

from __future__ import annotations

from alerting.model import AlertState, RuleAlert, Sample
from alerting.rules.alerting_rule import Context
from tests.rules.harness import T0, Series, group_from, sample

RULE = """
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} is down"
          runbook: "https://runbooks.example.com/{{ $labels.job }}"
          value: "{{ $value }}"
"""


def by_instance(group) -> dict[str, RuleAlert]:
    return {a.labels["instance"]: a for a in group.alerting[0].active.values()}


async def test_a_known_series_is_built_with_the_held_labels_and_key(tmp_path) -> None:
    series = Series({"up == 0": [sample(0, instance="a", job="j")]})
    group = group_from(tmp_path, RULE, series)
    await group.evaluate(T0)
    rule = group.alerting[0]
    [(held_key, alert)] = rule.active.items()

    candidates = rule.build([sample(1, instance="a", job="j")], T0 + 60, Context({}, ""))

    [(key, candidate)] = candidates.items()
    assert key is held_key and candidate.labels is alert.labels
    assert candidate.annotations["value"] == "1"


async def test_equal_annotation_texts_of_different_alerts_are_one_string(tmp_path) -> None:
    series = Series(
        {"up == 0": [sample(0, instance="a", job="j"), sample(0, instance="b", job="j")]}
    )
    group = group_from(tmp_path, RULE, series)
    await group.evaluate(T0)
    a, b = by_instance(group)["a"], by_instance(group)["b"]
    assert a.annotations["runbook"] == "https://runbooks.example.com/j"
    assert a.annotations["runbook"] is b.annotations["runbook"]
    assert a.annotations["value"] is b.annotations["value"]
    assert a.annotations["summary"] != b.annotations["summary"]


async def test_a_restored_alert_keeps_the_strings_that_render_the_same(tmp_path) -> None:
    series = Series({"up == 0": [sample(0, instance="a", job="j")]})
    group = group_from(tmp_path, RULE, series)
    summary = "".join(["a is ", "down"])  # not a constant the compiler would share
    restored = RuleAlert(
        {"alertname": "Down", "instance": "a", "job": "j", "severity": "page"},
        {"summary": summary, "runbook": "stale", "value": "0"},
        AlertState.FIRING,
        0.0,
        active_at=T0 - 60,
        fired_at=T0 - 60,
    )
    group.alerting[0].restore([restored])

    await group.evaluate(T0)

    assert restored.annotations["summary"] is summary
    assert restored.annotations["runbook"] == "https://runbooks.example.com/j"


async def test_the_answer_list_is_consumed_in_order(tmp_path) -> None:
    answer = [sample(0, instance=name, job="j") for name in "abc"]

    async def query(expr: str, at: float) -> list[Sample]:
        return answer

    group = group_from(tmp_path, RULE, Series())
    group.env.query = query
    outcome = await group.evaluate(T0)

    assert answer == []  # dropped as evaluation went, so its memory is reused right away
    assert [a.labels["instance"] for a in outcome.alerts] == ["a", "b", "c"]
