"""The escalation state machine and policy checks, step by step on explicit times."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pydantic import ValidationError

from alerting.channels import Notification, template_data
from alerting.model import Alert
from alerting.notify.escalation import (
    EscalationPolicySpec,
    EscalationState,
    Policy,
    advance,
    policy_problems,
    state_from_json,
    state_to_json,
)
from alerting.template.alertmanager import Escalation, render

SPEC = {
    "name": "db",
    "levels": [
        {"after": "0s", "receivers": ["chat"]},
        {"after": "15m", "receivers": ["primary"]},
        {"after": "45m", "receivers": ["secondary", "chat"]},
    ],
}


def policy(**changes: object) -> Policy:
    return Policy.of(EscalationPolicySpec.model_validate({**SPEC, **changes}))


def look(
    state: EscalationState | None,
    p: Policy,
    at: float,
    *,
    firing: bool = True,
    needs_someone: bool = True,
) -> tuple[EscalationState | None, tuple[str, ...], int | None]:
    step = advance(state, p, "g", firing=firing, needs_someone=needs_someone, now=at)
    return step.state, step.new, step.level


def test_levels_are_reached_on_time_and_each_notifies_once() -> None:
    p = policy()
    state, new, level = look(None, p, 1000.0)
    assert (new, level) == (("chat",), 0)
    assert state is not None and state.next_due(p) == 1000.0 + 900
    state, new, level = look(state, p, 1000.0 + 899)
    assert (new, level) == ((), 0)
    state, new, level = look(state, p, 1000.0 + 900)
    assert (new, level) == (("primary",), 1)
    state, new, level = look(state, p, 1000.0 + 2700)
    assert (new, level) == (("secondary", "chat"), 2)
    assert state is not None
    assert state.notified == ("chat", "primary", "secondary")
    assert state.next_due(p) is None  # no repeat: done


def test_a_pause_stops_the_count_and_resuming_continues_it() -> None:
    p = policy()
    state, _, _ = look(None, p, 0.0)
    state, _, _ = look(state, p, 600.0, needs_someone=False)  # acknowledged after 10 minutes
    assert state is not None and state.next_due(p) is None
    state, new, level = look(state, p, 4000.0, needs_someone=False)
    assert (new, level) == ((), 0)  # an hour later, still paused: nothing escalates
    state, new, _ = look(state, p, 5000.0)  # unacknowledged: 5 minutes of level 0 remain
    assert new == () and state is not None and state.next_due(p) == 5300.0
    state, new, level = look(state, p, 5300.0)
    assert (new, level) == (("primary",), 1)


def test_repeat_loops_through_the_levels_with_a_pass_per_period() -> None:
    p = policy(repeat=1)
    assert p.period == 4500.0  # 45 minutes, then the 30 minutes the last level waited
    state, _, _ = look(None, p, 0.0)
    state, _, _ = look(state, p, 2700.0)
    assert state is not None and state.next_due(p) == 4500.0
    state, new, level = look(state, p, 4500.0)
    assert (new, level) == (("chat",), 0)
    state, new, level = look(state, p, 4500.0 + 2700)
    assert (new, level) == (("primary", "secondary", "chat"), 2)
    assert state is not None and state.next_due(p) is None


def test_steps_overdue_together_all_notify() -> None:
    p = policy()
    state, _, _ = look(None, p, 0.0)
    state, new, level = look(state, p, 10_000.0)  # e.g. the first look after a long outage
    assert (new, level) == (("primary", "secondary", "chat"), 2)


def test_resolving_resets_and_names_everyone_told() -> None:
    p = policy()
    state, _, _ = look(None, p, 0.0)
    state, _, _ = look(state, p, 900.0)
    step = advance(state, p, "g", firing=False, needs_someone=False, now=1000.0)
    assert step.state is None
    assert step.receivers == ("chat", "primary")
    _, new, level = look(None, p, 2000.0)  # fires again: a new escalation from level 0
    assert (new, level) == (("chat",), 0)


def test_a_group_first_firing_while_acknowledged_waits() -> None:
    p = policy(levels=[{"after": "5m", "receivers": ["primary"]}])
    state, new, level = look(None, p, 0.0, needs_someone=False)
    assert (new, level) == ((), None)
    state, new, _ = look(state, p, 1000.0)
    assert new == () and state is not None and state.next_due(p) == 1300.0


def test_state_round_trips_through_json() -> None:
    p = policy()
    state, _, _ = look(None, p, 0.0)
    state, _, _ = look(state, p, 100.0, needs_someone=False)
    assert state is not None
    assert state_from_json(state_to_json(state)) == state


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"levels": []}, "at least 1 item"),
        ({"levels": [{"after": "10m", "receivers": ["a"]}, {"after": "5m", "receivers": ["b"]}]},
         "level 1 comes after level 0: its `after` must be longer"),
        ({"levels": [{"after": "1m", "receivers": []}]}, "at least 1 item"),
        ({"repeat": -1}, "greater than or equal to 0"),
        ({"ack_timeout": "0s"}, "must be greater than zero"),
        ({"escalate": "x"}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_policies_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EscalationPolicySpec.model_validate({**SPEC, **changes})


def test_policy_problems_name_their_place() -> None:
    specs = [
        EscalationPolicySpec.model_validate(SPEC),
        EscalationPolicySpec.model_validate({**SPEC, "repeat": 2}),
        EscalationPolicySpec.model_validate(
            {"name": "x", "levels": [{"after": "0s", "receivers": ["chat"]}], "repeat": 1}
        ),
    ]
    problems = policy_problems(specs, {"chat", "primary"})
    assert problems == [
        ((0, "levels", 2, "receivers", 0), "undefined receiver 'secondary' used in escalation"),
        ((1, "name"), "escalation policy 'db' is not unique"),
        ((1, "levels", 2, "receivers", 0), "undefined receiver 'secondary' used in escalation"),
        ((2, "repeat"), "a repeat needs levels that take some time"),
    ]


def test_a_new_escalation_counts_from_when_its_first_alert_fired() -> None:
    p = policy()
    step = advance(None, p, "g", firing=True, needs_someone=True, now=1030.0, fired_at=1000.0)
    assert step.state is not None and step.state.next_due(p) == 1900.0
    paused = advance(None, p, "g", firing=True, needs_someone=False, now=1030.0, fired_at=1000.0)
    assert paused.state is not None and paused.state.clock(1030.0) == 0.0


def test_templates_see_the_escalation() -> None:
    escalated = Notification("r", "k", {}, [Alert({"a": "b"})], 0.0, "", Escalation("db", 2))
    text = "{{ .Escalation.Policy }}/{{ .Escalation.Level }}"
    assert render(text, template_data(escalated)) == "db/2"
    assert render(text, template_data(replace(escalated, escalation=None))) == "/0"
