"""Scenarios run both on a real Alertmanager 0.25 and on our notifier, then compared.

A scenario is an Alertmanager config plus a timeline. Webhook URLs in the config are written as
paths ("/hook"); each side prefixes its own loopback receiver. Times in the timeline are seconds
from the start of the run.

Timing rule, so that ±100 ms of jitter on the real Alertmanager cannot change an outcome: with
the usual timers (group_wait 1s, group_interval 2s) groups are created at even offsets and flush
at odd ones, so every step sits a whole second away from any flush. Scenarios with other timers
say how they keep that distance. The test checks it on our side too: a timer flush within
`GUARD` seconds of a step fails the scenario as badly designed, not as a difference.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

# Go's time.Weekday names, as Alertmanager's time intervals take them.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Default route timers: groups made at even offsets flush at odd ones.
TIMERS: dict[str, str] = {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}


@dataclass(frozen=True)
class A:
    """One alert to post. `starts` / `ends` are offsets from the start; None leaves them out."""

    labels: dict[str, str]
    starts: float | None = None
    ends: float | None = None
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Post:
    at: float
    alerts: tuple[A, ...]


@dataclass(frozen=True)
class Silence:
    """A silence created at `at`, starting then (or at offset `starts`) and ending at `ends`."""

    at: float
    matchers: tuple[str, ...]  # 'name="value"', 'name=~"re"', ... as amtool writes them
    ends: float
    starts: float | None = None


Step = Post | Silence


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    config: dict[str, Any]  # Alertmanager's schema; webhook urls are paths
    steps: tuple[Step, ...]
    until: float  # both sides stop here (mid-way between flushes too)
    xfail: str | None = None  # a known bug in our code, named; strict
    # Per webhook path, the HTTP statuses its first requests get (then 200), on both sides.
    responses: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def offsets(self) -> list[float]:
        return sorted({step.at for step in self.steps} | {self.until})


# --- building blocks --------------------------------------------------------------------


def hook(path: str, **options: Any) -> dict[str, Any]:
    return {"url": path, **options}


def receiver(name: str, *hooks: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "webhook_configs": list(hooks)} if hooks else {"name": name}


def config(
    *,
    receivers: list[dict[str, Any]] | None = None,
    routes: list[dict[str, Any]] | None = None,
    group_by: list[str] | None = None,
    timers: dict[str, str] | None = None,
    **sections: Any,
) -> dict[str, Any]:
    """A config whose root route sends to "hook" (one webhook at /hook) unless told otherwise."""
    route: dict[str, Any] = {"receiver": "hook", **TIMERS, **(timers or {})}
    if group_by is not None:
        route["group_by"] = group_by
    if routes:
        route["routes"] = routes
    return {
        "route": route,
        "receivers": receivers or [receiver("hook", hook("/hook"))],
        **sections,
    }


def alert(name: str, instance: str = "a", **labels: str) -> dict[str, str]:
    return {"alertname": name, "instance": instance, **labels}


def firing(labels: dict[str, str], at: float = 0.0, **kw: Any) -> A:
    return A(labels, starts=at, **kw)


def resolved(labels: dict[str, str], start: float, at: float) -> A:
    return A(labels, starts=start, ends=at)


# --- the scenarios ----------------------------------------------------------------------


def all_scenarios(now: datetime | None = None) -> list[Scenario]:
    """Every scenario; time intervals are built around `now` (UTC) so one covers the run."""
    now = now or datetime.now(UTC)
    return [
        _group_by_label(),
        _group_by_all(),
        _group_by_nothing(),
        _route_matchers_and_inheritance(),
        _label_quoting(),
        _alert_order(),
        _empty_label_values(),
        _group_wait_collects(),
        _group_interval_new_alert(),
        _repeat_interval(),
        _resolve_send_resolved(),
        _resolve_without_send_resolved(),
        _resolve_timeout_and_future_end(),
        _merge_updates(),
        _fired_and_resolved_between_flushes(),
        _resolved_resent(),
        _old_alert_flushes_at_once(),
        _inhibition_equal(),
        _inhibition_self(),
        _inhibition_sources(),
        _inhibition_same_group(),
        _silences(),
        _silence_pending_and_negative(),
        _time_intervals(now),
        _time_intervals_clock(now),
        _continue_two_receivers(),
        _two_integrations(),
        _delivery_errors(),
        _max_alerts(),
    ]


def _group_by_label() -> Scenario:
    disk_a, disk_b = alert("Disk", "a", cluster="x"), alert("Disk", "b", cluster="x")
    return Scenario(
        "group_by_label",
        "group_by [cluster, alertname]: one group per pair; a missing cluster is left out of "
        "the group labels",
        config(group_by=["cluster", "alertname"]),
        (
            Post(
                0,
                (
                    firing(disk_a),
                    firing(disk_b),
                    firing(alert("Disk", "c", cluster="y")),
                    firing(alert("CPU", "a", cluster="x")),
                    firing(alert("Mem", "a")),
                ),
            ),
            Post(2, (firing(alert("Disk", "d", cluster="y"), at=2), firing(alert("Mem", "b")))),
        ),
        until=4,
    )


def _group_by_all() -> Scenario:
    return Scenario(
        "group_by_all",
        "group_by ['...']: every alert its own group; a re-post of a sent alert is not news",
        config(group_by=["..."]),
        (
            Post(0, (firing(alert("Disk", "a")), firing(alert("Disk", "b")), firing(alert("CPU")))),
            Post(2, (firing(alert("Disk", "a")), firing(alert("Disk", "c", team="db"), at=2))),
        ),
        until=4,
    )


def _group_by_nothing() -> Scenario:
    return Scenario(
        "group_by_nothing",
        "no group_by: all alerts of the route in one group with the key {}:{}",
        config(),
        (
            Post(0, (firing(alert("Disk", "a")), firing(alert("CPU", "b", job="node")))),
            Post(2, (firing(alert("Mem", "c"), at=2),)),
        ),
        until=4,
    )


def _route_matchers_and_inheritance() -> Scenario:
    routes = [
        {"matchers": ['service=~"db"'], "receiver": "db"},  # anchored: not "dbx"
        {"match": {"env": "prod"}, "match_re": {"service": "api|web"}, "receiver": "prod"},
        {"matchers": ['team="a"'], "group_by": []},  # [] inherits [alertname]
        {
            "matchers": ['team="b"'],
            "group_by": ["instance"],
            "routes": [{"matchers": ['sev="x"'], "receiver": "db"}],  # inherits instance
        },
        {"matchers": ['team="c"'], "group_by": ["..."]},
        {"matchers": ['env!="staging"', 'tier!~"front.*"'], "receiver": "rest"},
    ]
    return Scenario(
        "route_matchers_and_inheritance",
        "anchored regexes, legacy match/match_re, != and !~ matching a missing label; "
        "children inherit receiver and group_by ([] inherits too), grandchildren as well",
        config(
            group_by=["alertname"],
            routes=routes,
            receivers=[
                receiver("hook", hook("/hook")),
                receiver("db", hook("/db")),
                receiver("prod", hook("/prod")),
                receiver("rest", hook("/rest")),
            ],
        ),
        (
            Post(
                0,
                (
                    firing(alert("R", "1", service="db")),
                    firing(alert("R", "2", service="dbx", env="staging")),
                    firing(alert("R", "3", env="prod", service="web")),
                    firing(alert("R", "4", env="prod", service="webx")),
                    firing(alert("R", "5", team="a", env="staging")),
                    firing(alert("R", "6", team="b", env="staging")),
                    firing(alert("R", "7", team="b", sev="x", env="staging")),
                    firing(alert("R", "8", team="c", env="staging")),
                    firing(alert("R", "9", tier="frontend")),
                    firing(alert("R", "10", tier="backend", env="staging")),
                    firing(alert("R", "11")),
                ),
            ),
        ),
        until=2,
    )


def _label_quoting() -> Scenario:
    # Group keys print label values with Go's %q; route keys print matchers the same way.
    # `a0` and `a` check that the printed pairs are sorted, not the names.
    routes = [
        {"matchers": ['a="line\\nbreak"'], "group_by": ["a", "a0"]},
        {"matchers": ['a0="é✓😀"'], "group_by": ["..."]},
    ]
    return Scenario(
        "label_quoting",
        "group keys and route keys with quotes, backslashes, control and non-ASCII characters",
        config(group_by=["a0", "a"], routes=routes),
        (
            Post(
                0,
                (
                    firing({"alertname": "Q", "a": 'say "hi" \\ back', "a0": "x"}),
                    firing({"alertname": "Q", "a": "line\nbreak", "a0": "nbsp\u00a0zw\u200b"}),
                    firing({"alertname": "Q", "a": "tab\there", "a0": "é✓😀"}),
                    firing({"alertname": "Q", "a": "ctl\x01\x7f\u2028", "a0": "x"}),
                    firing({"alertname": "Q", "a": "\\", "a0": "\ufffd"}),
                ),
            ),
        ),
        until=2,
    )


def _alert_order() -> Scenario:
    sets = [
        {"alertname": "S", "job": "b", "instance": "1"},
        {"alertname": "S", "job": "a", "instance": "2"},
        {"alertname": "S", "job": "a"},
        {"alertname": "S", "instance": "0"},
        {"alertname": "S"},
        {"alertname": "S", "zz": "1"},
        {"alertname": "S", "b": "1"},
        {"alertname": "S", "b": "1", "c": "2"},
        {"alertname": "S", "job": "a", "instance": "2", "extra": "x"},
        {"alertname": "T", "job": "a", "instance": "2"},
        {"alertname": "S", "instance": "é"},
        {"alertname": "S", "instance": "Z"},
        {"alertname": "S", "instance": "😀"},
        {"alertname": "S", "ab": "1"},
        {"alertname": "S", "a": "1", "b": "0"},
    ]
    return Scenario(
        "alert_order",
        "alerts in a notification in Alertmanager's order: job, instance (missing last), "
        "then fewer labels first, then label by label",
        config(),
        (Post(0, tuple(firing(labels) for labels in sets)),),
        until=2,
    )


def _empty_label_values() -> Scenario:
    # Alertmanager's POST /api/v2/alerts drops labels with an empty value before anything else
    # (removeEmptyLabels), so {cluster=""} is the alert without cluster.
    return Scenario(
        "empty_label_values",
        "a label with an empty value is the same as no label: same alert, same group",
        config(group_by=["cluster", "alertname"]),
        (
            Post(
                0,
                (
                    firing(alert("E", "a", cluster="")),
                    firing(alert("E", "b")),
                    firing(alert("E", "c", cluster="x", job="")),
                ),
            ),
            Post(2, (firing(alert("E", "a")),)),
        ),
        until=4,
    )


def _group_wait_collects() -> Scenario:
    # group_wait 3s, group_interval 4s: the group made at 0 flushes at 3, 7, 11; steps at
    # 0, 1, 2, 5 and the end at 8 are each at least 1 s from those.
    return Scenario(
        "group_wait_collects",
        "alerts arriving during group_wait go out together in the first notification",
        config(group_by=["alertname"], timers={"group_wait": "3s", "group_interval": "4s"}),
        (
            Post(0, (firing(alert("Disk", "a")),)),
            Post(1, (firing(alert("Disk", "b"), at=1),)),
            Post(2, (firing(alert("Disk", "c"), at=2), firing(alert("Disk", "d"), at=2))),
            Post(5, (firing(alert("Disk", "e"), at=5),)),
        ),
        until=8,
    )


def _group_interval_new_alert() -> Scenario:
    return Scenario(
        "group_interval_new_alert",
        "after the first flush a new alert waits for the next group_interval tick",
        config(group_by=["alertname"]),
        (
            Post(0, (firing(alert("Disk", "a")),)),
            Post(2, (firing(alert("Disk", "b"), at=2),)),
            Post(6, (firing(alert("Disk", "c"), at=6),)),
        ),
        until=8,
    )


def _repeat_interval() -> Scenario:
    # Flushes at 1, 3, 5, 7, 9: sent at 1; at 5 and 9 the last send is older than 3 s.
    # repeat_interval is not a multiple of group_interval, so the comparison has 1 s to spare.
    return Scenario(
        "repeat_interval",
        "an unchanged group is sent again once repeat_interval has passed",
        config(group_by=["alertname"], timers={"repeat_interval": "3s"}),
        (Post(0, (firing(alert("Disk", "a")), firing(alert("Disk", "b")))),),
        until=10,
    )


def _resolve_send_resolved() -> Scenario:
    a, b = alert("Disk", "a"), alert("Disk", "b")
    return Scenario(
        "resolve_send_resolved",
        "send_resolved true: a resolve is news; all resolved sends status resolved; re-firing",
        config(group_by=["alertname"]),
        (
            Post(0, (firing(a), firing(b))),
            Post(2, (resolved(a, 0, 2),)),
            Post(4, (resolved(b, 0, 4),)),
            Post(6, (firing(a, at=6),)),
        ),
        until=8,
    )


def _resolve_without_send_resolved() -> Scenario:
    a, b = alert("Disk", "a"), alert("Disk", "b")
    return Scenario(
        "resolve_without_send_resolved",
        "send_resolved false: resolves are not news, repeats carry the firing alerts only",
        config(
            group_by=["alertname"],
            timers={"repeat_interval": "3s"},
            receivers=[receiver("hook", hook("/hook", send_resolved=False))],
        ),
        (
            Post(0, (firing(a), firing(b))),
            Post(2, (resolved(a, 0, 2),)),
            Post(6, (resolved(b, 0, 6),)),
            Post(8, (firing(a, at=8),)),
        ),
        until=12,
    )


def _resolve_timeout_and_future_end() -> Scenario:
    # resolve_timeout 4s: "a" (no endsAt) posted at 0 and again at 2 ends at 6; "b" posted
    # once ends at 4; "c" comes with endsAt 4, "d" with only endsAt 4 (it starts then too).
    # Flushes at 1, 3, 5, 7.
    a, b, c = alert("Disk", "a"), alert("Disk", "b"), alert("Disk", "c")
    return Scenario(
        "resolve_timeout_and_future_end",
        "alerts without endsAt resolve after resolve_timeout unless re-posted; a future "
        "endsAt resolves the alert when reached",
        config(group_by=["alertname"], **{"global": {"resolve_timeout": "4s"}}),
        (
            Post(0, (A(a), A(b), A(c, starts=0, ends=4), A(alert("Disk", "d"), ends=4))),
            Post(2, (A(a),)),
        ),
        until=8,
    )


def _merge_updates() -> Scenario:
    # Alertmanager merges a re-posted alert whose active range overlaps the stored one: the
    # younger one wins but keeps the earliest start; a later explicit end is kept over an
    # earlier one, not over a timeout; a resolved update resolves. Flushes at 1, 3, 5, 7.
    a, b, c, d = (alert("Disk", x) for x in "abcd")
    return Scenario(
        "merge_updates",
        "re-posted alerts merge with the stored ones as Alertmanager's provider merges them",
        config(group_by=["alertname"]),
        (
            Post(
                0,
                (
                    A(a, starts=0, ends=6),
                    A(b, starts=0),
                    A(c, starts=0, ends=10),
                    A(d, starts=0, annotations={"summary": "v1", "team": "x"}),
                ),
            ),
            Post(
                2,
                (
                    A(a, starts=0, ends=4),
                    A(b, starts=0, ends=4),
                    A(c, starts=0, ends=1),
                    A(d, starts=-30, annotations={"summary": "v2", "team": "x"}),
                ),
            ),
        ),
        until=8,
    )


def _fired_and_resolved_between_flushes() -> Scenario:
    # Flushes at 1, 3, 5, 7. "a" fires at 2 and ends at 2.5: the receiver never heard of it
    # firing, but with send_resolved a new resolved alert next to a firing one is news.
    # "c" fires at 4 and ends at 4.5 in a group whose alerts are all resolved: not news.
    return Scenario(
        "fired_and_resolved_between_flushes",
        "an alert that fired and resolved between two flushes: news beside firing alerts, "
        "not in a group with nothing firing",
        config(group_by=["alertname"]),
        (
            Post(0, (firing(alert("Disk", "b")), firing(alert("Net", "x")))),
            Post(2, (A(alert("Disk", "a"), starts=2, ends=2.5), resolved(alert("Net", "x"), 0, 2))),
            Post(4, (A(alert("Net", "c"), starts=4, ends=4.5),)),
        ),
        until=6,
    )


def _resolved_resent() -> Scenario:
    # As Prometheus does: firing alerts and recently resolved ones are re-sent on every
    # evaluation. With repeat_interval 3s the group repeats at 7 (last sent at 3), and the
    # resolved alert, re-inserted at 6, is part of that repeat.
    a, b = alert("Disk", "a"), alert("Disk", "b")
    return Scenario(
        "resolved_resent",
        "a resolved alert posted again and again is not news, but rides along a repeat",
        config(group_by=["alertname"], timers={"repeat_interval": "3s"}),
        (
            Post(0, (firing(a), firing(b))),
            Post(2, (resolved(a, 0, 2), firing(b))),
            Post(4, (resolved(a, 0, 2), firing(b))),
            Post(6, (resolved(a, 0, 2), firing(b))),
        ),
        until=8,
    )


def _old_alert_flushes_at_once() -> Scenario:
    # An alert older than group_wait makes its new group flush at once (at 0), then at 2, 4:
    # later steps are at odd offsets.
    return Scenario(
        "old_alert_flushes_at_once",
        "a new group whose alert started before group_wait ago flushes at once; an old "
        "alert that is already resolved notifies nobody",
        config(group_by=["alertname"]),
        (
            Post(
                0,
                (
                    firing(alert("Disk", "a"), at=-10),
                    resolved(alert("Gone", "a"), -10, -5),
                    firing(alert("Mixed", "a")),
                    firing(alert("Mixed", "b"), at=-10),
                ),
            ),
            Post(1, (firing(alert("Disk", "b"), at=1), firing(alert("Gone", "b"), at=-10))),
        ),
        until=5,
    )


def _inhibition_equal() -> Scenario:
    rules = [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["cluster"],
        }
    ]
    source = alert("Down", "s", severity="critical", cluster="x")
    return Scenario(
        "inhibition_equal",
        "a warning is muted while a critical alert with the same cluster fires (a missing "
        "cluster equals a missing one); the resolved source stops inhibiting",
        config(group_by=["alertname"], inhibit_rules=rules),
        (
            Post(
                0,
                (
                    firing(source),
                    firing(alert("High", "a", severity="warning", cluster="x")),
                    firing(alert("High", "b", severity="warning", cluster="y")),
                    firing(alert("Src", "c", severity="critical")),
                    firing(alert("Tgt", "c", severity="warning")),
                ),
            ),
            Post(2, (resolved(source, 0, 2),)),
        ),
        until=4,
    )


def _inhibition_self() -> Scenario:
    rules = [
        {"source_matchers": ['src="yes"'], "target_matchers": ['tgt="yes"'], "equal": ["zone"]}
    ]
    return Scenario(
        "inhibition_self",
        "an alert matching both sides neither inhibits itself nor another two-sided alert; "
        "it does inhibit a target-only alert with the same zone",
        config(group_by=["..."], inhibit_rules=rules),
        (
            Post(
                0,
                (
                    firing(alert("X", src="yes", tgt="yes", zone="1")),
                    firing(alert("Y", tgt="yes", zone="1")),
                    firing(alert("Z", src="yes", tgt="yes", zone="1")),
                    firing(alert("W", tgt="yes", zone="2")),
                ),
            ),
        ),
        until=2,
    )


def _inhibition_sources() -> Scenario:
    rules = [  # the legacy syntax; the regex is anchored
        {
            "source_match": {"severity": "critical"},
            "target_match_re": {"severity": "warn.*"},
            "equal": ["cluster"],
        }
    ]
    return Scenario(
        "inhibition_sources",
        "a source stops inhibiting when its endsAt passes; a silenced source still inhibits; "
        "legacy source_match / target_match_re",
        config(group_by=["alertname"], inhibit_rules=rules),
        (
            Silence(0, ('alertname="Down2"',), ends=100),
            Post(
                0,
                (
                    A(alert("Down", "s", severity="critical", cluster="a"), starts=0, ends=2),
                    firing(alert("High", "1", severity="warning", cluster="a")),
                    firing(alert("Down2", "s", severity="critical", cluster="b")),
                    firing(alert("High", "2", severity="warnX", cluster="b")),
                    firing(alert("High", "3", severity="xwarning", cluster="b")),
                    firing(alert("Other", "4")),
                ),
            ),
        ),
        until=4,
    )


def _inhibition_same_group() -> Scenario:
    rules = [
        {
            "source_matchers": ['severity="critical"'],
            "target_matchers": ['severity="warning"'],
            "equal": ["cluster"],
        }
    ]
    return Scenario(
        "inhibition_same_group",
        "source and target in one group: the target is left out until the source resolves, "
        "then both go out together",
        config(group_by=["cluster"], inhibit_rules=rules),
        (
            Post(
                0,
                (
                    firing(alert("Down", "s", severity="critical", cluster="a")),
                    firing(alert("High", "t", severity="warning", cluster="a")),
                ),
            ),
            Post(2, (resolved(alert("Down", "s", severity="critical", cluster="a"), 0, 2),)),
        ),
        until=4,
    )


def _silences() -> Scenario:
    return Scenario(
        "silences",
        "a silence mutes one alert of a group; one created mid-scenario mutes another from "
        "the next flush; when it ends the alert is news again",
        config(group_by=["alertname"]),
        (
            Silence(0, ('instance="b"',), ends=100),
            Post(
                0,
                (
                    firing(alert("Disk", "a")),
                    firing(alert("Disk", "b")),
                    firing(alert("Disk", "c")),
                ),
            ),
            Silence(2, ('alertname="Disk"', 'instance=~"c|x"'), ends=6),
            Post(2, (firing(alert("Disk", "d"), at=2),)),
        ),
        until=8,
    )


def _silence_pending_and_negative() -> Scenario:
    # The silence of instance c starts at 2 (pending before), ends at 6.
    return Scenario(
        "silence_pending_and_negative",
        "a pending silence mutes nothing until it starts; != and !~ in a silence",
        config(group_by=["alertname"]),
        (
            Silence(0, ('instance="c"',), starts=2, ends=6),
            Silence(0, ('alertname="Net"', 'instance!="a"'), ends=100),
            Silence(0, ('alertname="Net2"', 'instance!~"a|b"'), ends=100),
            Post(
                0,
                (
                    firing(alert("Disk", "a")),
                    firing(alert("Disk", "c")),
                    firing(alert("Net", "a")),
                    firing(alert("Net", "b")),
                    firing(alert("Net", "c")),
                    firing(alert("Net2", "a")),
                    firing(alert("Net2", "b")),
                    firing(alert("Net2", "c")),
                ),
            ),
            Post(2, (firing(alert("Disk", "f"), at=2),)),
        ),
        until=8,
    )


def _time_intervals(now: datetime) -> Scenario:
    # "now" covers today and tomorrow (UTC), so a run across midnight stays inside it;
    # "elsewhen" is the other five days.
    today = now.weekday()
    covered = [WEEKDAYS[today], WEEKDAYS[(today + 1) % 7]]
    others = [d for d in WEEKDAYS if d not in covered]
    intervals = [
        {"name": "now", "time_intervals": [{"weekdays": covered}]},
        {"name": "elsewhen", "time_intervals": [{"weekdays": others}]},
    ]
    routes = [
        {"matchers": ['case="muted-now"'], "mute_time_intervals": ["now"]},
        {"matchers": ['case="active-elsewhen"'], "active_time_intervals": ["elsewhen"]},
        {"matchers": ['case="active-now"'], "active_time_intervals": ["now"]},
        {"matchers": ['case="muted-elsewhen"'], "mute_time_intervals": ["elsewhen"]},
        {
            "matchers": ['case="both"'],
            "active_time_intervals": ["now"],
            "mute_time_intervals": ["now"],
        },
    ]
    cases = ("muted-now", "active-elsewhen", "active-now", "muted-elsewhen", "both")
    return Scenario(
        "time_intervals",
        "mute_time_intervals covering now mute; active_time_intervals not covering now mute; "
        f"the opposite ones do not (weekdays {covered} vs {others})",
        config(group_by=["alertname"], routes=routes, time_intervals=intervals),
        (Post(0, tuple(firing(alert("T", case=c)) for c in cases)),),
        until=2,
    )


def _time_intervals_clock(now: datetime) -> Scenario:
    # In Asia/Kolkata (UTC+5:30, no DST): a window of two hours around the local time, today's
    # day (also counted from the month's end), month and year; the same window in UTC cannot
    # hold the UTC time (5.5 h away). Within 3 minutes of local midnight only weekdays are used.
    zone = "Asia/Kolkata"
    local = now.astimezone(ZoneInfo(zone))
    minute = local.hour * 60 + local.minute
    days_in_month = calendar.monthrange(local.year, local.month)[1]
    if 3 <= minute <= 1436:
        here: dict[str, Any] = {
            "weekdays": [WEEKDAYS[local.weekday()]],
            "times": [{"start_time": _hhmm(minute - 60), "end_time": _hhmm(minute + 60)}],
            "days_of_month": [str(local.day)],
            "months": [local.strftime("%B").lower()],
            "years": [str(local.year)],
        }
        from_end = {"days_of_month": [f"{local.day - days_in_month - 1}:-1"]}
    else:
        days = [WEEKDAYS[local.weekday()], WEEKDAYS[(local.weekday() + 1) % 7]]
        here = {"weekdays": days}
        from_end = {"weekdays": days}
    start = (minute + 300) % 1440
    later = {
        "times": [{"start_time": _hhmm(min(start, 1380)), "end_time": _hhmm(min(start, 1380) + 60)}]
    }
    intervals = [
        {"name": "here-now", "time_intervals": [{**here, "location": zone}]},
        {"name": "here-now-in-utc", "time_intervals": [{**here, "location": "UTC"}]},
        {"name": "here-later", "time_intervals": [{**later, "location": zone}]},
        {"name": "from-month-end", "time_intervals": [{**from_end, "location": zone}]},
    ]
    routes = [
        {"matchers": ['case="active-here-now"'], "active_time_intervals": ["here-now"]},
        {"matchers": ['case="active-utc"'], "active_time_intervals": ["here-now-in-utc"]},
        {"matchers": ['case="muted-utc"'], "mute_time_intervals": ["here-now-in-utc"]},
        {"matchers": ['case="muted-later"'], "mute_time_intervals": ["here-later"]},
        {"matchers": ['case="active-later"'], "active_time_intervals": ["here-later"]},
        {"matchers": ['case="from-month-end"'], "active_time_intervals": ["from-month-end"]},
    ]
    cases = [r["matchers"][0].split('"')[1] for r in routes]
    return Scenario(
        "time_intervals_clock",
        f"times, days_of_month (also negative), months, years in location {zone} "
        f"(local time {local:%a %Y-%m-%d %H:%M}) vs the same in UTC",
        config(group_by=["alertname"], routes=routes, time_intervals=intervals),
        (Post(0, tuple(firing(alert("T", case=c)) for c in cases)),),
        until=2,
    )


def _hhmm(minute: int) -> str:
    minute = max(0, min(1440, minute))
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _continue_two_receivers() -> Scenario:
    routes = [
        {"matchers": ['team="db"'], "receiver": "db", "continue": True},
        {
            "matchers": ['severity=~"page|critical"'],
            "receiver": "pager",
            "group_by": ["alertname", "instance"],
            "routes": [{"matchers": ['instance="c"'], "group_wait": "3s"}],
        },
        {"matchers": ['team="db"'], "receiver": "db2"},
    ]
    return Scenario(
        "continue_two_receivers",
        "continue: true sends to the db receiver and on to the pager route; children inherit "
        "receiver and group_by, and a grandchild's own group_wait (3s: flushes at 3, 5)",
        config(
            group_by=["alertname"],
            routes=routes,
            receivers=[
                receiver("hook", hook("/hook")),
                receiver("db", hook("/db")),
                receiver("pager", hook("/pager")),
                receiver("db2", hook("/db2")),
            ],
        ),
        (
            Post(
                0,
                (
                    firing(alert("Disk", "a", team="db", severity="page")),
                    firing(alert("Disk", "b", severity="critical")),
                    firing(alert("Disk", "c", team="db", severity="page")),
                    firing(alert("Disk", "d", team="db")),
                    firing(alert("Disk", "e")),
                ),
            ),
        ),
        until=6,
    )


def _two_integrations() -> Scenario:
    a, b = alert("Disk", "a"), alert("Disk", "b")
    return Scenario(
        "two_integrations",
        "one receiver, two webhooks: each keeps its own dedup (one sends resolved, one not)",
        config(
            group_by=["alertname"],
            receivers=[
                receiver("hook", hook("/one"), hook("/two", send_resolved=False)),
            ],
        ),
        (
            Post(0, (firing(a), firing(b))),
            Post(2, (resolved(a, 0, 2),)),
            Post(4, (resolved(b, 0, 4),)),
        ),
        until=6,
    )


def _delivery_errors() -> Scenario:
    # /one answers 400 at the second flush (3): not retried, the flush failed, so the resolved
    # alert stays in the group and /one is told again at 5, while /two, which got it, is not.
    # /two answers 500 at the first flush: retried after ~0.5 s (before the step at 2).
    a, b = alert("Disk", "a"), alert("Disk", "b")
    return Scenario(
        "delivery_errors",
        "a 4xx is not retried and fails the flush (resolved alerts are kept for the next "
        "one); a 5xx is retried; each integration keeps its own log",
        config(
            group_by=["alertname"],
            receivers=[receiver("hook", hook("/one"), hook("/two"))],
        ),
        (
            Post(0, (firing(a), firing(b))),
            Post(2, (resolved(a, 0, 2),)),
        ),
        until=6,
        responses={"/one": (200, 400), "/two": (500,)},
    )


def _max_alerts() -> Scenario:
    labels = [
        alert("Disk", "a", team="x", job="node"),
        alert("Disk", "b", team="x", job="node"),
        alert("Disk", "c", team="x"),
        alert("Disk", "d", team="y", job="api"),
    ]
    return Scenario(
        "max_alerts",
        "max_alerts 2: the first two alerts in Alertmanager's order go out, truncatedAlerts "
        "counts the rest, common labels and status are those of the alerts sent",
        config(
            group_by=["alertname"],
            receivers=[
                receiver(
                    "hook",
                    hook("/hook", max_alerts=2),
                    hook("/firing", max_alerts=1, send_resolved=False),
                )
            ],
        ),
        (
            Post(0, tuple(firing(x) for x in labels)),
            Post(2, (resolved(labels[3], 0, 2), resolved(labels[0], 0, 2))),
        ),
        until=4,
    )
