"""The routing tree against Alertmanager 0.25: inheritance, matching, keys, group keys, checks.

Oracles: amtool 0.25 (`config routes test`, `config routes`, `check-config`) run on the same
files, and the groupKey of a real Alertmanager's webhook notifications.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from alerting.configbase import Model
from alerting.dispatch.route import (
    Route,
    RouteSpec,
    build_route_tree,
    format_label_set,
    group_key,
    group_labels,
    quote,
    route_problems,
    routes_test_output,
)
from alerting.validation import validate_document
from alerting.yaml_source import load_text
from tests.peers.alertmanager import AlertmanagerServer

needs_amtool = pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool not installed")


def tree(text: str) -> Route:
    """The routing tree of a `route:` mapping written as YAML."""
    return build_route_tree(RouteSpec.model_validate(yaml.safe_load(text)))


def receivers(root: Route, labels: dict[str, str]) -> list[str]:
    return [route.receiver for route in root.match(labels)]


def run_all(commands: Iterable[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    """Run commands side by side (amtool takes ~50 ms to start; most of it is waiting)."""

    def run(command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(run, commands))


# ---------------------------------------------------------------- options and inheritance


def test_root_defaults() -> None:
    root = tree("receiver: r")
    assert (root.group_wait, root.group_interval, root.repeat_interval) == (30.0, 300.0, 14400.0)
    assert root.group_by == frozenset()
    assert not root.group_by_all
    assert root.key == "{}"
    assert root.matchers == ()


def test_children_inherit_receiver_group_by_and_timers() -> None:
    root = tree(
        """
        receiver: top
        group_by: [alertname, job]
        group_wait: 10s
        group_interval: 1m
        repeat_interval: 1h
        routes:
          - match: {team: a}
            routes:
              - match: {sev: page}
          - match: {team: b}
            receiver: b
            group_by: [cluster]
            group_wait: 0s
            routes:
              - match: {sev: page}
                repeat_interval: 5m
        """
    )
    a, b = root.routes
    for route in (a, a.routes[0]):
        assert route.receiver == "top"
        assert route.group_by == {"alertname", "job"}
        assert (route.group_wait, route.group_interval, route.repeat_interval) == (10, 60, 3600)
    grandchild = b.routes[0]
    assert (b.receiver, grandchild.receiver) == ("b", "b")
    assert b.group_by == grandchild.group_by == {"cluster"}
    assert (grandchild.group_wait, grandchild.group_interval) == (0.0, 60.0)
    assert (b.repeat_interval, grandchild.repeat_interval) == (3600.0, 300.0)


def test_matchers_continue_and_time_intervals_are_not_inherited() -> None:
    root = tree(
        """
        receiver: r
        routes:
          - matchers: [team="a"]
            continue: true
            mute_time_intervals: [nights]
            active_time_intervals: [weekdays]
            routes:
              - receiver: child
        """
    )
    parent = root.routes[0]
    child = parent.routes[0]
    assert parent.continue_
    assert (parent.mute_time_intervals, parent.active_time_intervals) == (
        ("nights",),
        ("weekdays",),
    )
    assert child.matchers == ()
    assert not child.continue_
    assert (child.mute_time_intervals, child.active_time_intervals) == ((), ())
    assert child.key == '{}/{team="a"}/{}'


def test_group_by_all_empty_list_and_override() -> None:
    root = tree(
        """
        receiver: r
        group_by: [alertname]
        routes:
          - match: {case: empty}
            group_by: []
          - match: {case: all}
            group_by: ['...']
            routes:
              - match: {sub: inherit}
              - match: {sub: own}
                group_by: [x]
        """
    )
    empty, everything = root.routes
    inherit, own = everything.routes
    assert (empty.group_by, empty.group_by_all) == ({"alertname"}, False)  # [] is the same as unset
    assert everything.group_by_all and inherit.group_by_all
    assert (own.group_by, own.group_by_all) == ({"x"}, False)


def test_yaml_null_means_unset_and_numbers_are_text() -> None:
    root = tree(
        """
        receiver: r
        group_by: ~
        routes:
          - {match: {code: 500, up: true, gone: ~}, receiver: ~, continue: ~, routes: ~}
        """
    )
    child = root.routes[0]
    assert child.key == '{}/{code="500",gone="",up="true"}'
    assert (child.receiver, child.continue_, child.routes) == ("r", False, ())
    assert child.match({"code": "500", "up": "true"}) == [child]


# ---------------------------------------------------------------- matching

ROUTING = """
receiver: default
routes:
  - receiver: first
    match: {team: a}
  - receiver: second
    match: {team: a}
  - receiver: audit
    match_re: {env: prod|staging}
    continue: true
  - receiver: db
    matchers: ['service=~"db.*"', 'severity!="info"']
    routes:
      - receiver: db-page
        match: {severity: page}
      - receiver: db-ticket
        continue: true
        match: {severity: ticket}
      - receiver: db-ticket-2
        match: {severity: ticket}
  - receiver: audit
    continue: true
    match: {team: b}
  - receiver: audit
    match: {team: b}
  - receiver: unnamed
    matchers: ['team!~"a|b|c"', 'owner=""']
"""


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({}, ["unnamed"]),
        ({"owner": "x"}, ["default"]),
        ({"team": "a"}, ["first"]),  # first match wins: `second` is never reached
        ({"team": "a", "env": "prod"}, ["first"]),
        ({"env": "prod"}, ["audit", "unnamed"]),  # continue goes on to the next sibling
        ({"env": "prod", "team": "c", "owner": "o"}, ["audit"]),  # a continue match still counts
        ({"env": "production", "team": "c", "owner": "o"}, ["default"]),  # anchored
        ({"service": "db1", "severity": "page", "owner": "o"}, ["db-page"]),
        ({"service": "db1", "severity": "ticket", "owner": "o"}, ["db-ticket", "db-ticket-2"]),
        ({"service": "db1", "severity": "warn", "owner": "o"}, ["db"]),  # no child: the parent
        ({"service": "db1", "severity": "info", "owner": "o"}, ["default"]),
        ({"service": "xdb", "owner": "o"}, ["default"]),
        ({"team": "b"}, ["audit", "audit"]),  # a receiver reached twice is listed twice
    ],
)
def test_match(labels: dict[str, str], expected: list[str]) -> None:
    assert receivers(tree(ROUTING), labels) == expected


def test_a_route_whose_matchers_fail_matches_nothing() -> None:
    root = tree("receiver: r\nmatchers: [a=b]\nroutes: [{receiver: c}]")
    assert root.match({"a": "c"}) == []
    assert receivers(root, {"a": "b"}) == ["c"]


@pytest.mark.parametrize(
    ("route", "value", "expected"),
    [
        ({"match_re": {"a": "b"}}, "abc", False),
        ({"match_re": {"a": "b"}}, "b", True),
        ({"match_re": {"a": "x|y"}}, "xy", False),
        ({"match_re": {"a": "x|y"}}, "y", True),
        ({"matchers": ['a=~"b"']}, "abc", False),
        ({"matchers": ['a=~"b.*"']}, "bc", True),
        ({"matchers": ['a!~"b"']}, "abc", True),
        ({"matchers": ['a!~"b"']}, "b", False),
        ({"matchers": ["a!=b"]}, "b", False),
        ({"matchers": ["a!=b"]}, "c", True),
        ({"match": {"a": "b"}}, "b ", False),
    ],
)
def test_matcher_kinds(route: dict[str, Any], value: str, expected: bool) -> None:
    root = build_route_tree(RouteSpec(receiver="r", routes=[RouteSpec(receiver="x", **route)]))
    assert (receivers(root, {"a": value}) == ["x"]) is expected


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        ({"matchers": ['a=""']}, True),
        ({"matchers": ['a!~".+"']}, True),
        ({"matchers": ["a!=x"]}, True),
        ({"matchers": ['a=~"x|"']}, True),
        ({"match_re": {"a": ".*"}}, True),
        ({"match": {"a": ""}}, True),
        ({"matchers": ['a=~".+"']}, False),
        ({"matchers": ['a!=""']}, False),
    ],
)
def test_a_missing_label_matches_as_empty(route: dict[str, Any], expected: bool) -> None:
    root = build_route_tree(RouteSpec(receiver="r", routes=[RouteSpec(receiver="x", **route)]))
    assert (receivers(root, {"b": "1"}) == ["x"]) is expected


@pytest.mark.parametrize(
    ("line", "labels"),
    [
        ('a="b,c"', {"a": "b,c"}),
        ('{x="1", y=~"2|3"}', {"x": "1", "y": "3"}),
        ('a = "b c"', {"a": "b c"}),
        ("a=b c", {"a": "b c"}),
        ('a="say \\"hi\\""', {"a": 'say "hi"'}),
        ('a="back\\\\slash"', {"a": "back\\slash"}),
        ('a="line\\nbreak"', {"a": "line\nbreak"}),
        ("{a=b,}", {"a": "b"}),
        ("a==b", {"a": "=b"}),
        ('a=~"\\\\d+"', {"a": "42"}),
    ],
)
def test_matcher_strings(line: str, labels: dict[str, str]) -> None:
    root = build_route_tree(
        RouteSpec(receiver="r", routes=[RouteSpec(receiver="x", matchers=[line])])
    )
    assert receivers(root, labels) == ["x"]


# ---------------------------------------------------------------- keys and group keys


def test_key_sorts_matchers_and_keeps_match_re_anchored() -> None:
    root = tree(
        """
        receiver: r
        routes:
          - match: {b: "2", a: "1"}
            match_re: {a: "x|y"}
            matchers: ['a=~"1"', 'a!="1"', 'a!~"1"', 'c="3"']
        """
    )
    assert root.routes[0].key == '{}/{a="1",a!="1",a=~"1",a!~"1",a=~"^(?:x|y)$",b="2",c="3"}'


def test_key_escapes_only_backslash_newline_and_quote() -> None:
    route = build_route_tree(
        RouteSpec(receiver="r", routes=[RouteSpec(match={"t": 'a\tb\x07c\\d"e\nf\u200bg'})])
    ).routes[0]
    assert route.key == '{}/{t="a\tb\x07c\\\\d\\"e\\nf\u200bg"}'


def test_sibling_routes_with_equal_matchers_share_a_key_but_not_identity() -> None:
    first, second = tree(ROUTING).routes[:2]
    assert first.key == second.key == '{}/{team="a"}'
    assert first != second
    assert len({first, second}) == 2


def test_walk_is_depth_first_in_order() -> None:
    names = [route.receiver for route in tree(ROUTING).walk()]
    assert names[:6] == ["default", "first", "second", "audit", "db", "db-page"]
    assert len(names) == 11


def test_group_labels() -> None:
    root = tree(
        """
        receiver: r
        group_by: [alertname, missing]
        routes: [{match: {all: "yes"}, group_by: ['...']}]
        """
    )
    labels = {"alertname": "X", "job": "api", "all": "yes"}
    assert group_labels(root, {"alertname": "X", "job": "api"}) == {"alertname": "X"}
    assert group_labels(root.routes[0], labels) == labels
    assert group_labels(tree("receiver: r"), labels) == {}


def test_group_key_format() -> None:
    root = tree("receiver: r\nroutes: [{match: {severity: page}}]")
    assert group_key(root, {}) == "{}:{}"
    labels = {"alertname": "X", "a": "1", "a0": "2", "a_": "3"}
    expected = '{}/{severity="page"}:{a0="2", a="1", a_="3", alertname="X"}'
    assert group_key(root.routes[0], labels) == expected  # Go sorts `name="value"` strings


def test_label_set_values_are_go_quoted() -> None:
    value = 'q"b\\c\nd\té\u200b\u00a0\x07\x7f🔥'
    assert format_label_set({"v": value}) == '{v="q\\"b\\\\c\\nd\\té\\u200b\\u00a0\\a\\x7f🔥"}'


def test_quote_agrees_with_the_template_engines_strconv_quote() -> None:
    from alerting.template.gofmt import quote as template_quote

    every = "".join(map(chr, range(0x20000)))
    assert quote(every) == template_quote(every)


def test_routes_test_output() -> None:
    assert routes_test_output(tree(ROUTING), {"team": "b"}) == "audit,audit\n"
    assert routes_test_output(tree(ROUTING), {"owner": "o"}) == "default\n"


# ---------------------------------------------------------------- oracle: amtool

AMTOOL_CONFIG = {
    "route": yaml.safe_load(ROUTING),
    "receivers": [
        {"name": name}
        for name in (
            "default",
            "first",
            "second",
            "audit",
            "db",
            "db-page",
            "db-ticket",
            "db-ticket-2",
            "unnamed",
        )
    ],
}
AMTOOL_LABEL_SETS: list[dict[str, str]] = [
    {},
    {"owner": "x"},
    {"team": "a"},
    {"team": "a", "env": "prod"},
    {"env": "prod"},
    {"env": "staging", "team": "c", "owner": "o"},
    {"env": "production", "team": "c", "owner": "o"},
    {"env": "prod|staging", "owner": "o"},
    {"service": "db1", "severity": "page", "owner": "o"},
    {"service": "db1", "severity": "ticket", "owner": "o"},
    {"service": "db1", "severity": "ticket", "env": "prod"},
    {"service": "db1", "severity": "warn", "owner": "o"},
    {"service": "db1", "severity": "info", "owner": "o"},
    {"service": "xdb", "owner": "o"},
    {"service": "db", "team": "a"},
    {"team": "b"},
    {"team": "b", "env": "staging"},
    {"team": "c"},
    {"team": "a|b"},
    {"owner": ""},
    {"owner": "o", "team": "b c"},
    {"team": "é", "owner": "ü,x"},
]


@needs_amtool
def test_routes_test_output_matches_amtool(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump(AMTOOL_CONFIG))
    root = tree(yaml.safe_dump(AMTOOL_CONFIG["route"]))
    commands = [
        ["amtool", "config", "routes", "test", f"--config.file={config}"]
        + [f"{name}={value}" for name, value in labels.items()]
        for labels in AMTOOL_LABEL_SETS
    ]
    for labels, result in zip(AMTOOL_LABEL_SETS, run_all(commands), strict=True):
        assert result.returncode == 0, result.stderr
        assert routes_test_output(root, labels) == result.stdout, labels


# Matcher lines on which labels.parse_matchers agrees with Alertmanager 0.25's parser.
KEY_LINES = [
    "a=b",
    '{a="b"}',
    "a = b",
    ' a=~"x|y" ',
    "a!=b,c=~d",
    'a="b,c"',
    '{a="b", c="d",}',
    'a="x\\"y"',
    'a="x\\\\y"',
    'a="x\\ny"',
    "a=b c",
    'a="b" , c="d"',
    "a=",
    'a=~""',
    'a="é🔥\u200b"',
    "a=b\\",
    "a:b=c",
    'a="b=c"',
    "a==b",
    'a="\\u00e9"',
    "b=1,a=2",
    "a=2,a=1",
    "a=~1,a=1,a!~1,a!=1",
    'a=~"\\\\d+"',
    '{ a="b" }',
]


def amtool_tree_segments(config: Path) -> list[str]:
    """The matchers text of every route below the root, from `amtool config routes`."""
    result = run_all([["amtool", "config", "routes", f"--config.file={config}"]])[0]
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "── " in line][1:]
    return [line.split("── ", 1)[1].rsplit("  receiver: ", 1)[0] for line in lines]


@needs_amtool
def test_route_keys_match_amtool(tmp_path: Path) -> None:
    spec = {"receiver": "r", "routes": [{"matchers": [line]} for line in KEY_LINES]}
    spec["routes"].append({"match": {"z": "1"}, "match_re": {"y": "a|b", "x": "\\d"}})
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump({"route": spec, "receivers": [{"name": "r"}]}))
    root = build_route_tree(RouteSpec.model_validate(spec))
    ours = [route.key.removeprefix("{}/") for route in root.routes]
    assert ours == amtool_tree_segments(config)


DIVERGENT_LINES = [
    # Where labels.parse_matchers once differed from Alertmanager 0.25 (amtool's result after |).
    'a="x\\ty"',  # | {a="x\\ty"}: only \n, \" and \\ are escapes
    "a='b'",  # | {a="'b'"}: single quotes are not quotes
    "a='b,c'",  # | bad matcher format: c'
    'a="b\\"',  # | matcher value contains unescaped double quote
    'a="b"c"',  # | matcher value contains unescaped double quote
    'a=b"c',  # | matcher value contains unescaped double quote
    "a=b}",  # | {a="b"}: a leading { and a trailing } are dropped independently
    "{a=b",  # | {a="b"}
    ' {a="b"} ',  # | bad matcher format: {a="b"}
    "1a=b",  # | bad matcher format: names are [a-zA-Z_:][a-zA-Z0-9_:]*
    "a-b=c",  # | bad matcher format
    "a.b=c",  # | bad matcher format
]


@needs_amtool
@pytest.mark.parametrize("line", DIVERGENT_LINES)
def test_matcher_lines_where_parsing_differs(tmp_path: Path, line: str) -> None:
    spec = {"receiver": "r", "routes": [{"matchers": [line]}]}
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump({"route": spec, "receivers": [{"name": "r"}]}))
    result = run_all([["amtool", "check-config", str(config)]])[0]
    _, problems = validate_document(RouteDoc, load_text(yaml.safe_dump({"route": spec}), "c.yml"))
    assert (result.returncode != 0) == bool(problems)
    if not problems:
        ours = build_route_tree(RouteSpec.model_validate(spec)).routes[0].key.removeprefix("{}/")
        assert [ours] == amtool_tree_segments(config)


# ---------------------------------------------------------------- oracle: webhook groupKey

WEBHOOK_ROUTE = r"""
receiver: hook-root
group_by: [alertname, missing]
group_wait: 0s
routes:
  - match_re: {team: "x|y"}
    receiver: hook-team
    group_by: ['...']
    continue: true
    routes:
      - matchers: ['sev=~"p.*"', 'a0!="q\"\n"', 'b!~"é x"', "c=\"tab\there\""]
        receiver: hook-page
        group_by: [alertname, v, a, a0, a_]
  - match: {k: "1"}
    receiver: hook-k
"""
TAB = {"c": "tab\there"}
WEBHOOK_ALERTS: list[dict[str, str]] = [
    {"alertname": "Plain", "job": "api"},
    {"alertname": "K", "k": "1", "v": "x"},
    {"alertname": "Team", "team": "y", "v": 'q"b\\c\nd\té\u200b\u00a0\x07\x7f🔥'},
    {"alertname": "Team", "team": "x", "a0": "1", "a": "2", "a_": "3"},
    {"alertname": "Page", "team": "x", "sev": "page", "a0": "z", "a": "1", "a_": "2", "v": "€"}
    | TAB,
    {"alertname": "Page", "team": "x", "sev": "page", "v": "w"} | TAB,
]


@pytest.fixture
async def webhook() -> AsyncIterator[tuple[str, list[dict[str, Any]], asyncio.Event]]:
    """A loopback webhook receiver: (url, payloads received, an event set on each one)."""
    received: list[dict[str, Any]] = []
    arrived = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        arrived.set()
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook", received, arrived
    finally:
        await runner.cleanup()


async def test_group_keys_match_alertmanager_webhooks(
    alertmanager_peer: Callable[..., AlertmanagerServer],
    webhook: tuple[str, list[dict[str, Any]], asyncio.Event],
) -> None:
    url, received, arrived = webhook
    route = yaml.safe_load(WEBHOOK_ROUTE)
    names = ["hook-root", "hook-team", "hook-page", "hook-k"]
    hooks = [{"name": name, "webhook_configs": [{"url": url}]} for name in names]
    root = build_route_tree(RouteSpec.model_validate(route))
    expected = {
        (
            r.receiver,
            group_key(r, group_labels(r, labels)),
            format_label_set(group_labels(r, labels)),
        )
        for labels in WEBHOOK_ALERTS
        for r in root.match(labels)
    }
    assert len(expected) == 6
    server = alertmanager_peer({"route": route, "receivers": hooks})
    async with aiohttp.ClientSession() as session:
        alerts = [{"labels": labels} for labels in WEBHOOK_ALERTS]
        async with session.post(f"{server.url}/api/v2/alerts", json=alerts) as response:
            assert response.status == 200, await response.text()
    async with asyncio.timeout(20):
        while len(received) < len(expected):
            arrived.clear()
            await arrived.wait()
    got = {(p["receiver"], p["groupKey"], format_label_set(p["groupLabels"])) for p in received}
    assert got == expected


# ---------------------------------------------------------------- validation


class RouteDoc(Model):
    route: RouteSpec


def route_check(text: str) -> list[str]:
    """Every problem with `route:` in `text`, as `alerting check` prints them."""
    doc = load_text(text, "c.yml")
    config, problems = validate_document(RouteDoc, doc)
    if config is not None:
        found = route_problems(config.route, {"r", "s"}, {"ti"})
        problems = [doc.problem(("route", *path), message) for path, message in found]
    return [str(problem) for problem in problems]


# (route YAML, our problems, Alertmanager's message or None where it accepts the file)
BAD_ROUTES: list[tuple[str, list[str], str | None]] = [
    (
        "route: {receiver: r, group_by: [a, a]}",
        ['c.yml:1:32: route.group_by: duplicated label "a" in group_by'],
        'duplicated label "a" in group_by',
    ),
    (
        "route: {receiver: r, group_by: [a-b]}",
        ['c.yml:1:33: route.group_by[0]: invalid label name "a-b" in group_by list'],
        'invalid label name "a-b" in group_by list',
    ),
    (
        'route: {receiver: r, group_by: [""]}',
        ['c.yml:1:33: route.group_by[0]: invalid label name "" in group_by list'],
        'invalid label name "" in group_by list',
    ),
    (
        'route: {receiver: r, group_by: ["...", a]}',
        [
            "c.yml:1:32: route.group_by: cannot have wildcard group_by (`...`) and other labels"
            " at the same time"
        ],
        "cannot have wildcard group_by (`...`) and other other labels at the same time",
    ),
    (
        "route: {receiver: r, group_interval: 0s}",
        ["c.yml:1:38: route.group_interval: group_interval cannot be zero"],
        "group_interval cannot be zero",
    ),
    (
        "route: {receiver: r, routes: [{repeat_interval: 0s}]}",
        ["c.yml:1:49: route.routes[0].repeat_interval: repeat_interval cannot be zero"],
        "repeat_interval cannot be zero",
    ),
    (
        "route: {receiver: r, group_wait: 1.5s}",
        ['c.yml:1:34: route.group_wait: not a valid duration string: "1.5s"'],
        'not a valid duration string: "1.5s"',
    ),
    (
        'route: {receiver: r, routes: [{match_re: {a: "("}}]}',
        [
            "c.yml:1:46: route.routes[0].match_re.a: error parsing regexp: missing closing ): `^(?:()$`"
        ],
        "error parsing regexp: missing closing ): `^(?:()$`",
    ),
    (
        'route: {receiver: r, routes: [{match: {a-b: "x"}}]}',
        ['c.yml:1:40: route.routes[0].match: invalid label name "a-b"'],
        'invalid label name "a-b"',
    ),
    (
        'route: {receiver: r, routes: [{match_re: {a-b: "x"}}]}',
        ['c.yml:1:43: route.routes[0].match_re: invalid label name "a-b"'],
        'invalid label name "a-b"',
    ),
    (
        'route: {receiver: r, routes: [{matchers: ["a"]}]}',
        ["c.yml:1:43: route.routes[0].matchers[0]: bad matcher format: a"],
        "bad matcher format: a",
    ),
    (
        'route: {receiver: r, routes: [{matchers: [b=c, "a=~\\"(\\""]}]}',
        [
            "c.yml:1:48: route.routes[0].matchers[1]: error parsing regexp: "
            "missing closing ): `^(?:()$`"
        ],
        "error parsing regexp: missing closing ): `^(?:()$`",
    ),
    (
        "route: {receiver: r, foo: 1}",
        ['c.yml:1:22: unknown field "foo" in route'],
        "field foo not found",
    ),
    (
        "route: {receiver: r, routes: [{continue: maybe}]}",
        [
            "c.yml:1:42: route.routes[0].continue: Input should be a valid boolean,"
            " unable to interpret input"
        ],
        "cannot unmarshal !!str `maybe` into bool",
    ),
    (
        "route: {group_by: [a]}",
        ["c.yml:1:8: root route must specify a default receiver"],
        "root route must specify a default receiver",
    ),
    (
        "route: {receiver: r, match: {a: b}}",
        ["c.yml:1:29: root route must not have any matchers"],
        "root route must not have any matchers",
    ),
    (
        "route: {receiver: r, match_re: {a: b}}",
        ["c.yml:1:32: root route must not have any matchers"],
        "root route must not have any matchers",
    ),
    (
        "route: {receiver: r, matchers: [a=b]}",
        ["c.yml:1:32: root route must not have any matchers"],
        "root route must not have any matchers",
    ),
    (
        "route: {receiver: r, mute_time_intervals: [ti]}",
        ["c.yml:1:43: root route must not have any mute time intervals"],
        "root route must not have any mute time intervals",
    ),
    (
        "route: {receiver: r, active_time_intervals: [ti]}",
        ["c.yml:1:45: root route must not have any active time intervals"],
        "root route must not have any active time intervals",
    ),
    (
        "route: {receiver: x}",
        ['c.yml:1:19: undefined receiver "x" used in route'],
        'undefined receiver "x" used in route',
    ),
    (
        "route:\n  receiver: r\n  routes:\n    - routes:\n        - receiver: nobody\n",
        ['c.yml:5:21: undefined receiver "nobody" used in route'],
        'undefined receiver "nobody" used in route',
    ),
    (
        "route: {receiver: r, routes: [{mute_time_intervals: [ti, x]}]}",
        ['c.yml:1:58: undefined time interval "x" used in route'],
        'undefined time interval "x" used in route',
    ),
    (
        "route: {receiver: r, routes: [{active_time_intervals: [y]}]}",
        ['c.yml:1:56: undefined time interval "y" used in route'],
        'undefined time interval "y" used in route',
    ),
    (
        "route: {receiver: x, match: {a: b}, routes: [{receiver: y}]}",
        [
            "c.yml:1:29: root route must not have any matchers",
            'c.yml:1:19: undefined receiver "x" used in route',
            'c.yml:1:57: undefined receiver "y" used in route',
        ],
        "root route must not have any matchers",
    ),
]
GOOD_ROUTES = [
    "route: {receiver: r, group_wait: 0s, group_by: ['...', '...']}",
    "route: {receiver: r, group_by: ~, routes: [{match_re: ~, match: {a: 1}}]}",
    "route: {receiver: r, routes: [{mute_time_intervals: [ti], active_time_intervals: [ti]}]}",
    "route: {receiver: r, group_wait: 1h30m100ms, routes: [{receiver: s, continue: true}]}",
]


@pytest.mark.parametrize(("text", "expected", "alertmanager"), BAD_ROUTES)
def test_bad_routes(text: str, expected: list[str], alertmanager: str | None) -> None:
    assert route_check(text) == expected


@pytest.mark.parametrize("text", GOOD_ROUTES)
def test_good_routes(text: str) -> None:
    assert route_check(text) == []


@needs_amtool
def test_alertmanager_agrees_on_bad_and_good_routes(tmp_path: Path) -> None:
    cases = [(text, message) for text, _, message in BAD_ROUTES]
    cases += [(text, None) for text in GOOD_ROUTES]
    files: list[Path] = []
    for i, (text, _) in enumerate(cases):
        files.append(tmp_path / f"{i}.yml")
        files[-1].write_text(
            text + "\nreceivers: [{name: r}, {name: s}]\ntime_intervals: [{name: ti}]\n"
        )
    results = run_all([["amtool", "check-config", str(file)] for file in files])
    for (text, message), result in zip(cases, results, strict=True):
        if message is None:
            assert result.returncode == 0, (text, result.stdout)
        else:
            assert result.returncode != 0, text
            assert message in result.stdout, (text, result.stdout)
