"""Every transition of Prometheus 2.42's alerting-rule state machine, on chosen timestamps."""

from __future__ import annotations

import pytest

from alerting.model import AlertState
from tests.rules.harness import T0, Series, group_from, sample

RULE = """
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: {for_}
        keep_firing_for: {keep}
        labels:
          severity: page
        annotations:
          summary: "{{{{ $labels.instance }}}} is down ({{{{ $value }}}})"
"""


def make(tmp_path, series: Series, for_: str = "5m", keep: str = "0s"):
    return group_from(tmp_path, RULE.format(for_=for_, keep=keep), series)


def alerts(group):
    rule = group.alerting[0]
    return {a.labels["instance"]: a for a in rule.active.values()}


async def test_new_alert_is_pending_then_fires_once_for_has_passed(tmp_path) -> None:
    series = Series({"up == 0": [sample(0, __name__="up", instance="a", job="j")]})
    group = make(tmp_path, series)

    await group.evaluate(T0)
    a = alerts(group)["a"]
    assert a.state is AlertState.PENDING and a.active_at == T0
    assert a.labels == {"instance": "a", "job": "j", "severity": "page", "alertname": "Down"}
    assert a.annotations == {"summary": "a is down (0)"}

    await group.evaluate(T0 + 240)
    assert alerts(group)["a"].state is AlertState.PENDING
    await group.evaluate(T0 + 300)  # t - activeAt >= for: fires exactly at `for`
    a = alerts(group)["a"]
    assert a.state is AlertState.FIRING and a.fired_at == T0 + 300 and a.active_at == T0


async def test_for_zero_fires_at_once(tmp_path) -> None:
    series = Series({"up == 0": [sample(0, instance="a")]})
    group = make(tmp_path, series, for_="0s")
    outcome = await group.evaluate(T0)
    assert alerts(group)["a"].state is AlertState.FIRING
    assert [a.labels["instance"] for a in outcome.alerts] == ["a"]
    assert outcome.alerts[0].starts_at == T0


async def test_missing_pending_alert_is_dropped(tmp_path) -> None:
    series = Series({"up == 0": [sample(0, instance="a")]})
    group = make(tmp_path, series)
    await group.evaluate(T0)
    fp = alerts(group)["a"].fingerprint
    series.results.clear()
    outcome = await group.evaluate(T0 + 60)
    assert alerts(group) == {}
    assert outcome.alerts == []  # a pending alert is never sent
    assert [k.fingerprint for k in outcome.write.deletes] == [fp]


async def test_missing_firing_alert_resolves_and_is_kept_fifteen_minutes(tmp_path) -> None:
    series = Series({"up == 0": [sample(0, instance="a")]})
    group = make(tmp_path, series, for_="0s")
    await group.evaluate(T0)
    series.results.clear()
    outcome = await group.evaluate(T0 + 60)
    a = alerts(group)["a"]
    assert a.state is AlertState.INACTIVE and a.resolved_at == T0 + 60
    assert [(x.starts_at, x.ends_at) for x in outcome.alerts] == [(T0, T0 + 60)]

    await group.evaluate(T0 + 60 + 900)  # exactly 15m: still retained (strictly greater drops)
    assert "a" in alerts(group)
    outcome = await group.evaluate(T0 + 60 + 960)
    assert alerts(group) == {}
    assert len(outcome.write.deletes) == 1


async def test_returning_series_starts_a_new_pending_alert(tmp_path) -> None:
    series = Series({"up == 0": [sample(0, instance="a")]})
    group = make(tmp_path, series, for_="1m")
    await group.evaluate(T0)
    await group.evaluate(T0 + 60)
    assert alerts(group)["a"].state is AlertState.FIRING
    saved = series.results.pop("up == 0")
    await group.evaluate(T0 + 120)
    assert alerts(group)["a"].state is AlertState.INACTIVE
    series.results["up == 0"] = saved
    await group.evaluate(T0 + 180)
    a = alerts(group)["a"]
    assert a.state is AlertState.PENDING and a.active_at == T0 + 180 and a.resolved_at is None


async def test_keep_firing_for_holds_a_vanished_alert(tmp_path) -> None:
    series = Series({"up == 0": [sample(0, instance="a")]})
    group = make(tmp_path, series, for_="0s", keep="2m")
    await group.evaluate(T0)
    series.results.clear()
    await group.evaluate(T0 + 60)
    a = alerts(group)["a"]
    assert a.state is AlertState.FIRING and a.keep_firing_since == T0 + 60
    await group.evaluate(T0 + 120)
    assert alerts(group)["a"].state is AlertState.FIRING
    await group.evaluate(T0 + 180)  # 2m after keep_firing_since: no longer held
    a = alerts(group)["a"]
    assert a.state is AlertState.INACTIVE and a.resolved_at == T0 + 180


async def test_keep_firing_for_resets_when_the_series_returns(tmp_path) -> None:
    series = Series({"up == 0": [sample(0, instance="a")]})
    group = make(tmp_path, series, for_="0s", keep="2m")
    await group.evaluate(T0)
    saved = series.results.pop("up == 0")
    await group.evaluate(T0 + 60)
    series.results["up == 0"] = saved
    await group.evaluate(T0 + 120)
    a = alerts(group)["a"]
    assert a.state is AlertState.FIRING and a.keep_firing_since is None and a.fired_at == T0


async def test_query_error_changes_no_state_and_marks_rule_unhealthy(tmp_path) -> None:
    series = Series({"up == 0": [sample(0, instance="a")]})
    group = make(tmp_path, series, for_="0s")
    await group.evaluate(T0)
    series.errors["up == 0"] = "boom"
    outcome = await group.evaluate(T0 + 60)
    status = group.status[0]
    assert status.health == "err" and "boom" in status.last_error
    assert alerts(group)["a"].state is AlertState.FIRING  # no false resolve
    assert outcome.write.upserts == [] and outcome.write.deletes == []
    del series.errors["up == 0"]
    await group.evaluate(T0 + 120)
    assert group.status[0].health == "ok" and group.status[0].last_error == ""


async def test_limit_exceeded_fails_the_rule_and_clears_its_alerts(tmp_path) -> None:
    text = RULE.format(for_="0s", keep="0s").replace("- name: g", "- name: g\n    limit: 1")
    series = Series({"up == 0": [sample(0, instance="a")]})
    group = group_from(tmp_path, text, series)
    await group.evaluate(T0)
    assert group.status[0].health == "ok"
    series.results["up == 0"].append(sample(0, instance="b"))
    outcome = await group.evaluate(T0 + 60)
    assert group.status[0].last_error == "exceeded limit of 1 with 2 alerts"
    assert alerts(group) == {}
    assert outcome.alerts == []
    assert {k.fingerprint for k in outcome.write.deletes}  # the store forgets them too


async def test_two_samples_with_one_label_set_is_a_rule_error(tmp_path) -> None:
    text = RULE.format(for_="0s", keep="0s").replace("severity: page", "instance: same")
    series = Series({"up == 0": [sample(0, instance="a"), sample(0, instance="b")]})
    group = group_from(tmp_path, text, series)
    await group.evaluate(T0)
    assert "same labelset after applying alert labels" in group.status[0].last_error
    assert group.alerting[0].active == {}


async def test_label_templated_from_value_changes_identity(tmp_path) -> None:
    text = RULE.format(for_="0s", keep="0s").replace("severity: page", 'v: "{{ $value }}"')
    series = Series({"up == 0": [sample(1, instance="a")]})
    group = group_from(tmp_path, text, series)
    await group.evaluate(T0)
    series.results["up == 0"] = [sample(2, instance="a")]
    await group.evaluate(T0 + 60)
    states = {a.labels["v"]: a.state for a in group.alerting[0].active.values()}
    assert states == {"1": AlertState.INACTIVE, "2": AlertState.FIRING}


async def test_label_templated_to_empty_is_removed(tmp_path) -> None:
    text = RULE.format(for_="0s", keep="0s").replace("severity: page", 'job: ""')
    series = Series({"up == 0": [sample(0, instance="a", job="j")]})
    group = group_from(tmp_path, text, series)
    await group.evaluate(T0)
    assert "job" not in alerts(group)["a"].labels


async def test_annotations_render_every_evaluation(tmp_path) -> None:
    series = Series({"up == 0": [sample(0, instance="a")]})
    group = make(tmp_path, series)
    await group.evaluate(T0)
    series.results["up == 0"] = [sample(1e6, instance="a")]
    await group.evaluate(T0 + 60)
    a = alerts(group)["a"]
    assert a.annotations["summary"] == "a is down (1e+06)" and a.value == 1e6


async def test_template_error_still_fires(tmp_path) -> None:
    text = RULE.format(for_="0s", keep="0s").replace(
        "{{ $labels.instance }}", "{{ $labels.instance.nope }}"
    )
    series = Series({"up == 0": [sample(0, instance="a")]})
    group = group_from(tmp_path, text, series)
    await group.evaluate(T0)
    a = alerts(group)["a"]
    assert a.state is AlertState.FIRING
    assert a.annotations["summary"].startswith("<error expanding template: ")


async def test_resend_delay_and_valid_until(tmp_path) -> None:
    series = Series({"up == 0": [sample(0, instance="a")]})
    group = make(tmp_path, series, for_="0s")
    first = await group.evaluate(T0)
    assert first.alerts[0].ends_at == T0 + 4 * 60  # 4 * max(resend_delay, interval)
    assert (await group.evaluate(T0 + 60)).alerts == []  # sent 60s ago: not yet due
    assert len((await group.evaluate(T0 + 120)).alerts) == 1


@pytest.mark.parametrize("bad", ["up ==", "sum(", "rate(x)"])
async def test_bad_expression_is_reported_at_load(tmp_path, bad: str) -> None:
    from alerting.rules.loader import load_rule_file

    path = tmp_path / "r.yaml"
    path.write_text(f"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: {bad}\n")
    _, problems = load_rule_file(path, 60)
    assert len(problems) == 1
    assert str(problems[0]).startswith(f'{path}:5:15: group "g", rule 1, "A": could not parse')
