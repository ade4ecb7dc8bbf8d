"""Alertmanager 0.25's routing tree: the `route` schema, its checks, and which routes an alert takes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerting.configbase import Duration, Model
from alerting.labels import LABEL_NAME_RE, Labels, Matcher, MatchType, matches_all, parse_matchers

# Go's strconv.Quote (%q), which group keys and Alertmanager's messages print values with.
from alerting.template.gofmt import quote

__all__ = [
    "DEFAULT_GROUP_INTERVAL",
    "DEFAULT_GROUP_WAIT",
    "DEFAULT_REPEAT_INTERVAL",
    "GROUP_BY_ALL",
    "Route",
    "RouteProblem",
    "RouteSpec",
    "build_route_tree",
    "format_label_set",
    "group_key",
    "group_labels",
    "matchers_string",
    "quote",
    "route_problems",
    "routes_test_output",
]

GROUP_BY_ALL = "..."
DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 5 * 60.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0

# Where a problem is, relative to the root route's mapping, and what it is.
RouteProblem = tuple[tuple[str | int, ...], str]


def _scalar_text(value: Any) -> Any:
    # Go's YAML decoder reads any scalar into a string field, so `match: {code: 500}` means "500"
    # and `match: {a: ~}` means "".
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _match_label_name(name: str) -> str:
    if not LABEL_NAME_RE.match(name):
        raise ValueError(f"invalid label name {quote(name)}")
    return name


def _group_by_entry(name: str) -> str:
    if name != GROUP_BY_ALL and not LABEL_NAME_RE.match(name):
        raise ValueError(f"invalid label name {quote(name)} in group_by list")
    return name


def _regex(pattern: str) -> str:
    Matcher("", MatchType.REGEX, pattern)  # raises Go's error, with the anchored pattern
    return pattern


def _matcher_line(line: str) -> str:
    parse_matchers(line)
    return line


ScalarText = Annotated[str, BeforeValidator(_scalar_text)]
MatchLabelName = Annotated[str, AfterValidator(_match_label_name)]
GroupByEntry = Annotated[str, AfterValidator(_group_by_entry)]
RegexText = Annotated[str, BeforeValidator(_scalar_text), AfterValidator(_regex)]
MatcherLine = Annotated[str, AfterValidator(_matcher_line)]


class RouteSpec(Model):
    """One node of alertmanager.yml's `route` as written; build_route_tree resolves inheritance."""

    receiver: ScalarText = ""
    # Ours: an escalation policy notifies more receivers while nobody reacts. Inherited like
    # the receiver; a route may have either or both.
    escalation: ScalarText = ""
    group_by: list[GroupByEntry] = Field(default_factory=list)
    continue_: bool = Field(default=False, alias="continue")
    match: dict[MatchLabelName, ScalarText] = Field(default_factory=dict)
    match_re: dict[MatchLabelName, RegexText] = Field(default_factory=dict)
    matchers: list[MatcherLine] = Field(default_factory=list)
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    mute_time_intervals: list[ScalarText] = Field(default_factory=list)
    active_time_intervals: list[ScalarText] = Field(default_factory=list)
    routes: list[RouteSpec] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _null_is_unset(cls, data: Any) -> Any:
        # In Go a YAML null leaves the field at its zero value, the same as leaving the key out.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    @field_validator("group_by")
    @classmethod
    def _group_by_set(cls, names: list[str]) -> list[str]:
        labels = [name for name in names if name != GROUP_BY_ALL]
        if labels and len(labels) != len(names):
            raise ValueError(
                "cannot have wildcard group_by (`...`) and other labels at the same time"
            )
        seen: set[str] = set()
        for name in labels:
            if name in seen:
                raise ValueError(f"duplicated label {quote(name)} in group_by")
            seen.add(name)
        return names

    @field_validator("group_interval", "repeat_interval")
    @classmethod
    def _not_zero(cls, value: float | None, info: ValidationInfo) -> float | None:
        # A zero interval would flush or repeat in a busy loop; group_wait may be zero.
        if value == 0:
            raise ValueError(f"{info.field_name} cannot be zero")
        return value

    def own_matchers(self) -> list[Matcher]:
        """match, match_re and matchers together, sorted as Alertmanager sorts them."""
        found = [Matcher(name, MatchType.EQUAL, value) for name, value in self.match.items()]
        # Alertmanager keeps the anchored text of a match_re regex, and it shows in the route key.
        found += [Matcher(n, MatchType.REGEX, f"^(?:{v})$") for n, v in self.match_re.items()]
        for line in self.matchers:
            found += parse_matchers(line)
        return sorted(found, key=_matcher_order)


_TYPE_ORDER = {
    MatchType.EQUAL: 0,
    MatchType.NOT_EQUAL: 1,
    MatchType.REGEX: 2,
    MatchType.NOT_REGEX: 3,
}


def _matcher_order(matcher: Matcher) -> tuple[str, str, int]:
    # Python compares str by code point, which is the UTF-8 byte order Go compares by.
    return matcher.name, matcher.value, _TYPE_ORDER[matcher.type]


def route_problems(
    spec: RouteSpec,
    receivers: set[str],
    time_intervals: set[str],
    policies: set[str] | None = None,
) -> list[RouteProblem]:
    """What Alertmanager rejects about a routing tree once the whole config is known, and
    escalation policies that do not exist."""
    names = _Names(receivers, time_intervals, policies or set())
    return [*_root_problems(spec), *_reference_problems(spec, (), names)]


@dataclass(frozen=True, slots=True)
class _Names:
    receivers: set[str]
    time_intervals: set[str]
    policies: set[str]


def _root_problems(root: RouteSpec) -> list[RouteProblem]:
    # The root is the fallback for every alert, so it must take all of them, at all times.
    problems: list[RouteProblem] = []
    if not root.receiver and not root.escalation:
        problems.append((("receiver",), "root route must specify a default receiver"))
    matcher_keys = [key for key in ("match", "match_re", "matchers") if getattr(root, key)]
    if matcher_keys:
        problems.append(((matcher_keys[0],), "root route must not have any matchers"))
    if root.mute_time_intervals:
        problems.append(
            (("mute_time_intervals",), "root route must not have any mute time intervals")
        )
    if root.active_time_intervals:
        problems.append(
            (("active_time_intervals",), "root route must not have any active time intervals")
        )
    return problems


def _reference_problems(
    spec: RouteSpec, path: tuple[str | int, ...], names: _Names
) -> list[RouteProblem]:
    problems: list[RouteProblem] = []
    if spec.receiver and spec.receiver not in names.receivers:
        message = f"undefined receiver {quote(spec.receiver)} used in route"
        problems.append(((*path, "receiver"), message))
    if spec.escalation and spec.escalation not in names.policies:
        message = f"undefined escalation policy {quote(spec.escalation)} used in route"
        problems.append(((*path, "escalation"), message))
    for key in ("mute_time_intervals", "active_time_intervals"):
        for i, name in enumerate(getattr(spec, key)):
            if name not in names.time_intervals:
                message = f"undefined time interval {quote(name)} used in route"
                problems.append(((*path, key, i), message))
    for i, child in enumerate(spec.routes):
        problems += _reference_problems(child, (*path, "routes", i), names)
    return problems


@dataclass(frozen=True, eq=False, slots=True)
class Route:
    """A routing tree node with its options resolved.

    Compared by identity, as Alertmanager keys aggregation groups by route pointer: two
    siblings with the same matchers share a key but are still two routes.
    """

    receiver: str
    group_by: frozenset[str]
    group_by_all: bool
    group_wait: float
    group_interval: float
    repeat_interval: float
    matchers: tuple[Matcher, ...]
    escalation: str
    continue_: bool
    mute_time_intervals: tuple[str, ...]
    active_time_intervals: tuple[str, ...]
    key: str
    routes: tuple[Route, ...] = ()

    def match(self, labels: Labels) -> list[Route]:
        """The routes an alert with `labels` ends at: depth first, first match wins unless continue."""
        if not matches_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found += matched
            if matched and not child.continue_:
                break
        return found or [self]

    def walk(self) -> Iterator[Route]:
        """This route and all below it, parents before children, children in order."""
        yield self
        for child in self.routes:
            yield from child.walk()


@dataclass(frozen=True, slots=True)
class _Inherited:
    """The options a child takes from its parent unless it sets them (Alertmanager's RouteOpts)."""

    receiver: str = ""
    escalation: str = ""
    group_by: frozenset[str] = frozenset()
    group_by_all: bool = False
    group_wait: float = DEFAULT_GROUP_WAIT
    group_interval: float = DEFAULT_GROUP_INTERVAL
    repeat_interval: float = DEFAULT_REPEAT_INTERVAL


def build_route_tree(spec: RouteSpec) -> Route:
    """The resolved tree of a validated root route."""
    return _build(spec, _Inherited(), None)


def _build(spec: RouteSpec, parent: _Inherited, parent_key: str | None) -> Route:
    opts = _inherit(spec, parent)
    matchers = tuple(spec.own_matchers())
    own = matchers_string(matchers)
    key = own if parent_key is None else f"{parent_key}/{own}"
    return Route(
        receiver=opts.receiver,
        group_by=opts.group_by,
        group_by_all=opts.group_by_all,
        group_wait=opts.group_wait,
        group_interval=opts.group_interval,
        repeat_interval=opts.repeat_interval,
        matchers=matchers,
        escalation=opts.escalation,
        continue_=spec.continue_,
        mute_time_intervals=tuple(spec.mute_time_intervals),
        active_time_intervals=tuple(spec.active_time_intervals),
        key=key,
        routes=tuple(_build(child, opts, key) for child in spec.routes),
    )


def _inherit(spec: RouteSpec, parent: _Inherited) -> _Inherited:
    group_by, group_by_all = _resolve_group_by(spec.group_by, parent)
    return _Inherited(
        receiver=spec.receiver or parent.receiver,
        escalation=spec.escalation or parent.escalation,
        group_by=group_by,
        group_by_all=group_by_all,
        group_wait=_or(spec.group_wait, parent.group_wait),
        group_interval=_or(spec.group_interval, parent.group_interval),
        repeat_interval=_or(spec.repeat_interval, parent.repeat_interval),
    )


def _resolve_group_by(names: list[str], parent: _Inherited) -> tuple[frozenset[str], bool]:
    labels = frozenset(name for name in names if name != GROUP_BY_ALL)
    if labels:
        return labels, False
    # `['...']` turns grouping by all on but, as in Alertmanager, leaves the inherited names in
    # place; `[]` is the same as leaving group_by out.
    return parent.group_by, parent.group_by_all or GROUP_BY_ALL in names


def _or(value: float | None, inherited: float) -> float:
    return inherited if value is None else value


def matchers_string(matchers: tuple[Matcher, ...] | list[Matcher]) -> str:
    """Alertmanager 0.25's labels.Matchers.String(), the text of a route key's segment."""
    return "{" + ",".join(map(str, matchers)) + "}"


def group_labels(route: Route, labels: Labels) -> dict[str, str]:
    """The labels of an alert that name its aggregation group on `route`."""
    if route.group_by_all:
        return dict(labels)
    return {name: value for name, value in labels.items() if name in route.group_by}


def group_key(route: Route, labels: Mapping[str, str]) -> str:
    """The groupKey of the aggregation group with `labels` (its group labels) on `route`."""
    return f"{route.key}:{format_label_set(labels)}"


def format_label_set(labels: Mapping[str, str]) -> str:
    """Prometheus's model.LabelSet.String(): `{a="1", b="2"}`, Go-quoted values."""
    # Go sorts the printed pairs, not the names, so `a0="x"` comes before `a="x"`.
    pairs = sorted(f"{name}={quote(value)}" for name, value in labels.items())
    return "{" + ", ".join(pairs) + "}"


def routes_test_output(root: Route, labels: Labels) -> str:
    """What `amtool config routes test` prints: matched routes' receivers, repeats kept."""
    return ",".join(route.receiver for route in root.match(labels)) + "\n"
