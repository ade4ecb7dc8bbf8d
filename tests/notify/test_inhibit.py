"""Inhibition: Alertmanager 0.25's rule config, its inhibit tests as facts, and a table of rules,
source alerts and targets run through the real Alertmanager and through ours."""

from __future__ import annotations

import json
import random
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from alerting.labels import Matcher, MatchType, fingerprint_hex, matches_all
from alerting.model import Alert
from alerting.notify.inhibit import Inhibitor, InhibitRuleSpec
from tests.peers.alertmanager import AlertmanagerServer

NOW = 1_700_000_000.0
MIN, HOUR = 60.0, 3600.0


def firing(labels: dict[str, str]) -> Alert:
    return Alert(labels, starts_at=NOW - MIN, ends_at=NOW + HOUR)


def resolved(labels: dict[str, str]) -> Alert:
    return Alert(labels, starts_at=NOW - MIN, ends_at=NOW - 1)


def rule(**fields: Any) -> InhibitRuleSpec:
    return InhibitRuleSpec.model_validate(fields)


def inhibitor(rules: list[InhibitRuleSpec], *alerts: Alert) -> Inhibitor:
    ih = Inhibitor(rules)
    for alert in alerts:
        ih.observe(alert)
    return ih


# --- config -------------------------------------------------------------------------------


def test_spec_builds_both_sides_from_old_and_new_style_matchers() -> None:
    spec = rule(
        source_match={"a": "1"},
        source_match_re={"b": "x|y"},
        source_matchers=['c!="z", d=~"w.*"', "e!~v"],
        target_match={"f": 2},
        target_matchers=["g=h"],
        equal=["i", "j"],
    )
    assert spec.source_side() == (
        Matcher("a", MatchType.EQUAL, "1"),
        Matcher("b", MatchType.REGEX, "x|y"),
        Matcher("c", MatchType.NOT_EQUAL, "z"),
        Matcher("d", MatchType.REGEX, "w.*"),
        Matcher("e", MatchType.NOT_REGEX, "v"),
    )
    assert spec.target_side() == (
        Matcher("f", MatchType.EQUAL, "2"),
        Matcher("g", MatchType.EQUAL, "h"),
    )
    assert rule().source_side() == () and rule().equal == []


@pytest.mark.parametrize(
    ("fields", "loc", "message"),
    [  # messages as `amtool check-config` prints them
        (
            {"source_match_re": {"severity": "(crit"}},
            ("source_match_re", "severity"),
            "error parsing regexp: missing closing ): `^(?:(crit)$`",
        ),
        (
            {"source_match": {"1sev": "x"}},
            ("source_match", "1sev", "[key]"),
            'invalid label name "1sev"',
        ),
        (
            {"target_match_re": {"bad-name": "x"}},
            ("target_match_re", "bad-name", "[key]"),
            'invalid label name "bad-name"',
        ),
        (
            {"source_matchers": ['foo=~"("']},
            ("source_matchers", 0),
            "error parsing regexp: missing closing ): `^(?:()$`",
        ),
        ({"source_matchers": ["a=b", "foo"]}, ("source_matchers", 1), "bad matcher format: foo"),
        ({"target_matchers": [1]}, ("target_matchers", 0), "bad matcher format: 1"),
        ({"equal": ["a", "1a"]}, ("equal", 1), '"1a" is not a valid label name'),
        ({"equal": [""]}, ("equal", 0), '"" is not a valid label name'),
    ],
)
def test_spec_errors(fields: dict[str, Any], loc: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        InhibitRuleSpec.model_validate(fields)
    [error] = caught.value.errors()
    assert (error["loc"], error["msg"]) == (loc, f"Value error, {message}")


def test_spec_takes_yaml_scalars_as_text_and_refuses_unknown_keys() -> None:
    spec = rule(source_match={"a": 1, "b": True, "c": 1.5}, source_match_re={"d": 2})
    assert spec.source_match == {"a": "1", "b": "true", "c": "1.5"} and spec.source_match_re == {
        "d": "2"
    }
    assert rule(source_match_re={"a": "a)|(b"}).source_match_re == {
        "a": "a)|(b"
    }  # anchored, it compiles
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        rule(source_match={"a": "b"}, foo="bar")
    with pytest.raises(ValidationError, match="valid list"):
        rule(equal="abc")


# --- Alertmanager's inhibit tests as facts ---------------------------------------------------

S, T = {"s": "1"}, {"t": "1"}  # makes AM's bare source caches into the source side of a rule


@pytest.mark.parametrize(
    ("sources", "equal", "target", "inhibited"),
    [  # Alertmanager's TestInhibitRuleHasEqual
        ([], [], {"a": "b"}, False),
        ([Alert({})], [], {"a": "b"}, True),  # no equal labels: any source; no end: unresolved
        (
            [resolved({"a": "b", "b": "f"}), resolved({"a": "b", "b": "c"})],
            ["a", "b"],
            {"a": "b", "b": "c"},
            False,
        ),
        ([resolved({"a": "b", "c": "d"}), firing({"a": "b", "c": "f"})], ["a"], {"a": "b"}, True),
        (
            [resolved({"a": "c", "c": "d"}), resolved({"a": "c", "c": "f"})],
            ["a"],
            {"a": "b"},
            False,
        ),
    ],
)
def test_has_equal(
    sources: list[Alert], equal: list[str], target: dict[str, str], inhibited: bool
) -> None:
    ih = inhibitor(
        [rule(source_match=S, target_match=T, equal=equal)],
        *(Alert({**a.labels, **S}, ends_at=a.ends_at) for a in sources),
    )
    assert (ih.mutes({**target, **T}, NOW) is not None) is inhibited


SOURCE_1 = {"s1": "1", "t1": "2", "e": "1"}  # matches the source side of rule 1 only
SOURCE_2 = {"s2": "1", "t2": "1", "e": "1"}  # matches both sides of rule 2


@pytest.mark.parametrize(
    ("target", "by"),
    [  # Alertmanager's TestInhibitRuleMatches
        ({"t1": "1", "e": "1"}, SOURCE_1),
        ({"t2": "1", "e": "1"}, SOURCE_2),
        ({"t1": "1", "t3": "1", "e": "1"}, SOURCE_1),
        ({"t1": "1", "t2": "1", "e": "1"}, SOURCE_1),  # rule 1 is asked first
        ({"t1": "0", "e": "1"}, None),
        ({"s1": "1", "t1": "1", "e": "1"}, SOURCE_1),  # both sides, but its source only one
        ({"s2": "1", "t2": "1", "e": "1"}, None),  # both sides, and so is its only source
        ({"t1": "1", "e": "0"}, None),
    ],
)
def test_rule_matches(target: dict[str, str], by: dict[str, str] | None) -> None:
    rules = [
        rule(source_match={"s1": "1"}, target_match={"t1": "1"}, equal=["e"]),
        rule(source_match={"s2": "1"}, target_match={"t2": "1"}, equal=["e"]),
    ]
    ih = inhibitor(rules, firing(SOURCE_1), firing(SOURCE_2))
    assert ih.mutes(target, NOW) == (by and fingerprint_hex(by))


@pytest.mark.parametrize(
    ("target", "inhibited"),
    [  # Alertmanager's TestInhibitRuleMatchers: rule 1's target is t1!="1"
        ({"t1": "1", "e": "1"}, False),
        ({"t2": "1", "e": "1"}, True),
        ({"t1": "1", "t3": "1", "e": "1"}, False),
        ({"t1": "1", "t2": "1", "e": "1"}, True),
        ({"t1": "0", "e": "1"}, True),
        ({"s1": "1", "t1": "1", "e": "1"}, False),
        ({"s2": "1", "t2": "1", "e": "1"}, True),  # rule 1 inhibits it, though rule 2 would not
        ({"t1": "1", "e": "0"}, False),
    ],
)
def test_rule_matchers(target: dict[str, str], inhibited: bool) -> None:
    rules = [
        rule(source_matchers=['s1="1"'], target_matchers=['t1!="1"'], equal=["e"]),
        rule(source_matchers=['s2="1"'], target_matchers=['t2="1"'], equal=["e"]),
    ]
    ih = inhibitor(rules, firing(SOURCE_1), firing(SOURCE_2))
    assert (ih.mutes(target, NOW) is not None) is inhibited


def test_inhibit_follows_updates() -> None:
    """Alertmanager's TestInhibit: a later update of the source replaces the earlier one."""
    rules = [rule(source_match={"s": "1"}, target_match={"t": "1"}, equal=["e"])]
    one, two = {"t": "1", "e": "f"}, {"s": "1", "e": "f"}
    assert inhibitor(rules, firing(one)).mutes(one, NOW) is None
    ih = inhibitor(rules, firing(one), firing(two))
    assert ih.mutes(one, NOW) == fingerprint_hex(two) and ih.mutes(two, NOW) is None
    ih.observe(resolved(two))
    assert ih.mutes(one, NOW) is None and ih.mutes(two, NOW) is None


def test_a_source_resolves_by_time_alone() -> None:
    ih = inhibitor([rule(source_match={"s": "1"})], Alert({"s": "1", "a": "x"}, ends_at=NOW + 10))
    assert ih.mutes({"b": "y"}, NOW + 9.9) is not None
    assert ih.mutes({"b": "y"}, NOW + 10) is None  # ends_at <= now: resolved


def test_a_missing_label_equals_the_empty_string() -> None:
    rules = [rule(source_match={"s": "1"}, target_match={"t": "1"}, equal=["zone", "zone"])]
    ih = inhibitor(rules, firing({"s": "1", "zone": ""}))
    assert ih.mutes({"t": "1"}, NOW) is not None
    assert ih.mutes({"t": "1", "zone": ""}, NOW) is not None
    assert ih.mutes({"t": "1", "zone": "eu"}, NOW) is None


def test_no_alert_inhibits_itself_but_another_source_may() -> None:
    rules = [
        rule(
            source_matchers=['severity="critical"'],
            target_matchers=['severity=~"critical|warning"'],
            equal=["alertname"],
        )
    ]
    crit = {"alertname": "A", "severity": "critical"}
    ih = inhibitor(rules, firing(crit))
    assert ih.mutes(crit, NOW) is None
    assert ih.mutes({"alertname": "A", "severity": "warning"}, NOW) == fingerprint_hex(crit)
    # A source that is not itself a target does inhibit a two-sided alert.
    wide = [
        rule(
            source_matchers=['severity=~"critical|major"'],
            target_matchers=['severity=~"critical|warning"'],
            equal=["alertname"],
        )
    ]
    major = {"alertname": "A", "severity": "major"}
    assert inhibitor(wide, firing(crit), firing(major)).mutes(crit, NOW) == fingerprint_hex(major)


def test_gc_drops_resolved_sources() -> None:
    rules = [
        rule(source_match={"s": "1"}, equal=["n"]),
        rule(source_match={"s": "1"}, target_match={"t": "1"}),
    ]
    ih = inhibitor(
        rules,
        firing({"s": "1", "n": "a"}),
        resolved({"s": "1", "n": "b"}),
        Alert({"s": "1", "n": "c"}, ends_at=NOW + 5),
    )
    assert ih.gc(NOW) == 2  # one alert, in both rules' caches
    assert ih.gc(NOW) == 0
    assert ih.mutes({"n": "a"}, NOW) is not None
    assert ih.gc(NOW + 5) == 2
    assert ih.mutes({"n": "c"}, NOW) is None  # forgotten for good once collected


Side = tuple[tuple[Matcher, ...], tuple[Matcher, ...], list[str]]


def reference_mutes(
    rules: list[Side], alerts: list[Alert], labels: dict[str, str], now: float
) -> set[str]:
    """Alertmanager 0.25's Mutes, transliterated: every source alert that would do."""
    for source, target, equal in rules:
        if not matches_all(target, labels):
            continue
        two_sided = matches_all(source, labels)
        found = {
            a.fingerprint
            for a in alerts
            if matches_all(source, a.labels)
            and not a.resolved_at(now)
            and all(a.labels.get(n, "") == labels.get(n, "") for n in equal)
            and not (two_sided and matches_all(target, a.labels))
        }
        if found:
            return found
    return set()


def test_thousands_of_sources_agree_with_a_direct_reading_of_alertmanager() -> None:
    rng = random.Random(3)
    specs = [
        rule(
            source_matchers=['severity="critical"'],
            target_matchers=['severity=~"warning|critical"'],
            equal=["cluster", "service"],
        ),
        rule(
            source_matchers=['alertname="NodeDown"'],
            target_matchers=['alertname!="NodeDown"'],
            equal=["node"],
        ),
        rule(source_matchers=['severity=~"crit.*"'], target_matchers=['team="a"'], equal=[]),
    ]

    def labels() -> dict[str, str]:
        out = {
            "alertname": rng.choice(["NodeDown", "HighCPU", "DiskFull"]),
            "severity": rng.choice(["critical", "warning", "info", "critical2"]),
            "cluster": rng.choice(["eu", "us", ""]),
            "service": f"s{rng.randrange(40)}",
            "node": f"n{rng.randrange(300)}",
            "team": rng.choice(["a", "b"]),
        }
        return {k: v for k, v in out.items() if v}

    alerts: dict[str, Alert] = {}
    ih = Inhibitor(specs)
    for _ in range(2000):
        alert = Alert(labels(), starts_at=NOW - HOUR, ends_at=NOW + rng.choice([-MIN, MIN, HOUR]))
        alerts[alert.fingerprint] = alert  # a later update replaces the earlier
        ih.observe(alert)
    targets = [labels() for _ in range(200)]
    sides = [(spec.source_side(), spec.target_side(), spec.equal) for spec in specs]
    for now in (NOW, NOW + 2 * MIN):
        ih.gc(now)
        for target in targets:
            expected = reference_mutes(sides, list(alerts.values()), target, now)
            found = ih.mutes(target, now)
            assert (found in expected) if expected else found is None


# --- against the real Alertmanager 0.25 ----------------------------------------------------


@dataclass(frozen=True)
class Case:
    """Rules, and alerts (`None` ends: resolved an hour ago); every firing alert is checked.
    `exact`: at most one source can mute each alert, so the fingerprints must agree too."""

    rules: list[dict[str, Any]]
    alerts: list[tuple[dict[str, str], bool]]
    exact: bool = True


def fire(**labels: str) -> tuple[dict[str, str], bool]:
    return labels, True


def gone(**labels: str) -> tuple[dict[str, str], bool]:
    return labels, False


SEVERITY = {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"']}

CASES: dict[str, Case] = {
    "equal labels": Case(
        [{**SEVERITY, "equal": ["alertname", "cluster"]}],
        [
            fire(alertname="A", severity="critical", cluster="c1"),
            fire(alertname="A", severity="warning", cluster="c1"),
            fire(alertname="A", severity="warning", cluster="c2"),
            fire(alertname="B", severity="warning", cluster="c1"),
            fire(alertname="A", severity="warning"),
        ],
    ),
    "missing equals missing": Case(
        [{**SEVERITY, "equal": ["cluster"]}],
        [
            fire(alertname="S", severity="critical"),
            fire(alertname="T", severity="warning"),
            fire(alertname="U", severity="warning", cluster="x"),
        ],
    ),
    "resolved source": Case(
        [{**SEVERITY, "equal": ["alertname"]}],
        [
            gone(alertname="A", severity="critical"),
            fire(alertname="A", severity="warning"),
            fire(alertname="B", severity="critical"),
            fire(alertname="B", severity="warning"),
        ],
    ),
    "no self inhibition": Case(
        [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity=~"critical|warning"'],
                "equal": ["alertname"],
            }
        ],
        [fire(alertname="A", severity="critical"), fire(alertname="A", severity="warning")],
    ),
    "two-sided sources never mute two-sided alerts": Case(
        [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity=~"critical|warning"'],
                "equal": ["alertname"],
            }
        ],
        [
            fire(alertname="A", severity="critical", i="1"),
            fire(alertname="A", severity="critical", i="2"),
        ],
    ),
    "a one-sided source mutes a two-sided alert": Case(
        [
            {
                "source_matchers": ['severity=~"critical|major"'],
                "target_matchers": ['severity=~"critical|warning"'],
                "equal": ["alertname"],
            }
        ],
        [fire(alertname="A", severity="critical"), fire(alertname="A", severity="major")],
    ),
    "alertmanager's rule matches": Case(
        [
            {"source_match": {"s1": "1"}, "target_match": {"t1": "1"}, "equal": ["e"]},
            {"source_match": {"s2": "1"}, "target_match": {"t2": "1"}, "equal": ["e"]},
        ],
        [
            fire(**SOURCE_1),
            fire(**SOURCE_2),
            fire(t1="1", e="1"),
            fire(t2="1", e="1"),
            fire(t1="1", t3="1", e="1"),
            fire(t1="1", t2="1", e="1"),
            fire(t1="0", e="1"),
            fire(s1="1", t1="1", e="1"),
            fire(t1="1", e="0"),
        ],
        exact=False,
    ),
    "alertmanager's rule matchers": Case(
        [
            {"source_matchers": ['s1="1"'], "target_matchers": ['t1!="1"'], "equal": ["e"]},
            {"source_matchers": ['s2="1"'], "target_matchers": ['t2="1"'], "equal": ["e"]},
        ],
        [
            fire(**SOURCE_1),
            fire(**SOURCE_2),
            fire(t1="1", e="1"),
            fire(t2="1", e="1"),
            fire(t1="1", t3="1", e="1"),
            fire(t1="1", t2="1", e="1"),
            fire(t1="0", e="1"),
            fire(s1="1", t1="1", e="1"),
            fire(t1="1", e="0"),
        ],
        exact=False,
    ),
    "regexes are anchored": Case(
        [
            {
                "source_match_re": {"severity": "crit"},
                "target_match": {"level": "low"},
                "equal": ["alertname"],
            }
        ],
        [
            fire(alertname="A", severity="critical"),
            fire(alertname="A", level="low"),
            fire(alertname="B", severity="crit"),
            fire(alertname="B", level="low"),
        ],
    ),
    "old and new style together": Case(
        [
            {
                "source_match": {"a": "1"},
                "source_matchers": ['b=~"x|y"'],
                "target_match_re": {"c": ".+"},
                "target_matchers": ['d!="no"'],
                "equal": ["e"],
            }
        ],
        [
            fire(a="1", b="x", e="1"),
            fire(a="1", b="z", e="2"),
            fire(c="z", e="1"),
            fire(c="z", d="no", e="1"),
            fire(d="yes", e="1"),
            fire(c="z", e="2"),
        ],
    ),
    "any alert is a target": Case(
        [{"source_matchers": ['severity="critical"'], "equal": ["alertname"]}],
        [
            fire(alertname="A", severity="critical"),
            fire(alertname="A", severity="info"),
            fire(alertname="B", severity="info"),
        ],
    ),
    "first rule wins": Case(
        [
            {"source_match": {"a": "1"}, "target_match": {"t": "1"}},
            {"source_match": {"b": "1"}, "target_match": {"t": "1"}},
        ],
        [fire(a="1"), fire(b="1"), fire(t="1")],
    ),
    "negative regex target": Case(
        [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity!~"crit.*"'],
                "equal": ["alertname"],
            }
        ],
        [
            fire(alertname="A", severity="critical"),
            fire(alertname="A", severity="warning"),
            fire(alertname="A", severity="critical2"),
            fire(alertname="A"),
        ],
    ),
}

# Posted after everything else: once its target shows inhibited, Alertmanager's inhibitor has
# taken in every alert before it (one subscriber, fed in order).
SENTINEL_RULE = {"source_matchers": ['sentinel="source"'], "target_matchers": ['sentinel="target"']}
SENTINEL = [{"sentinel": "source"}, {"sentinel": "target"}]


def in_case(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """Confine a case's rule to its own alerts, so all cases share one Alertmanager."""
    marker = f'case="{name}"'
    return {
        **spec,
        "source_matchers": [*spec.get("source_matchers", []), marker],
        "target_matchers": [*spec.get("target_matchers", []), marker],
    }


def case_rules() -> list[dict[str, Any]]:
    return [in_case(name, spec) for name, case in CASES.items() for spec in case.rules] + [
        SENTINEL_RULE
    ]


def case_alerts(now: float) -> list[Alert]:
    def alert(labels: dict[str, str], firing: bool) -> Alert:
        ends = now + HOUR if firing else now - HOUR
        return Alert(labels, starts_at=now - 2 * HOUR, ends_at=ends)

    return [
        alert({**labels, "case": name}, on)
        for name, case in CASES.items()
        for labels, on in case.alerts
    ]


def http(method: str, url: str, body: Any = None) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def to_api(alert: Alert) -> dict[str, Any]:
    return {"labels": alert.labels, "startsAt": iso(alert.starts_at), "endsAt": iso(alert.ends_at)}


@pytest.fixture(scope="module")
def am(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertmanagerServer]:
    if shutil.which(AlertmanagerServer.binary) is None:
        pytest.skip("not installed: prometheus-alertmanager")
    config = {
        "route": {"receiver": "null"},
        "receivers": [{"name": "null"}],
        "inhibit_rules": case_rules(),
    }
    with AlertmanagerServer(config, workdir=tmp_path_factory.mktemp("alertmanager")) as server:
        yield server


def inhibited_by(am: AlertmanagerServer, now: float) -> dict[str, list[str]]:
    """Post every case's alerts, then the sentinel; inhibitedBy of every firing alert."""
    assert http("POST", f"{am.url}/api/v2/alerts", [to_api(a) for a in case_alerts(now)])[0] == 200
    sentinel = [
        to_api(Alert(labels, starts_at=now - MIN, ends_at=now + HOUR)) for labels in SENTINEL
    ]
    assert http("POST", f"{am.url}/api/v2/alerts", sentinel)[0] == 200
    target = fingerprint_hex(SENTINEL[1])
    deadline = time.monotonic() + 10
    while True:
        listed = json.loads(http("GET", f"{am.url}/api/v2/alerts")[1])
        by = {a["fingerprint"]: a["status"]["inhibitedBy"] for a in listed}
        if by.get(target) or time.monotonic() > deadline:
            return by
        time.sleep(0.01)  # Alertmanager's inhibitor takes alerts in on its own goroutine


def test_inhibition_matches_alertmanager(am: AlertmanagerServer) -> None:
    now = time.time()
    theirs = inhibited_by(am, now)
    assert theirs.get(fingerprint_hex(SENTINEL[1])) == [fingerprint_hex(SENTINEL[0])]
    ours = Inhibitor([InhibitRuleSpec.model_validate(r) for r in case_rules()])
    alerts = case_alerts(now)
    for alert in alerts:
        ours.observe(alert)
    checked = inhibited = 0
    for alert in alerts:
        if alert.resolved_at(now):
            continue
        case = CASES[alert.labels["case"]]
        found = ours.mutes(alert.labels, now)
        assert (found is not None) == bool(theirs[alert.fingerprint]), alert.labels
        if case.exact:
            assert ([found] if found else []) == theirs[alert.fingerprint], alert.labels
        checked += 1
        inhibited += found is not None
    assert (checked, inhibited) == (55, 21)  # counted by hand from the cases
