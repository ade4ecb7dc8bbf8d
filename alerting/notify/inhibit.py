"""Inhibition with Alertmanager 0.25's rules: an unresolved source alert mutes matching targets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from alerting.configbase import Model
from alerting.labels import (
    LABEL_NAME_RE,
    Labels,
    Matcher,
    MatchType,
    go_quote,
    matches_all,
    parse_matchers,
)
from alerting.model import Alert


def _scalar_text(value: Any) -> Any:
    # YAML scalars decode into Go strings as written: `severity: 1` means "1".
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _match_name(name: str) -> str:
    if not LABEL_NAME_RE.match(name):
        raise ValueError(f"invalid label name {go_quote(name)}")
    return name


def _anchored_regex(pattern: str) -> str:
    Matcher("", MatchType.REGEX, pattern)  # raises Go's error, which shows the anchored pattern
    return pattern


def _matchers_text(text: str) -> str:
    parse_matchers(text)
    return text


def _equal_name(name: str) -> str:
    if not LABEL_NAME_RE.match(name):
        raise ValueError(f"{go_quote(name)} is not a valid label name")
    return name


# Each entry validated on its own, so that an error points at the entry's line.
MatchName = Annotated[str, AfterValidator(_match_name)]
MatchValue = Annotated[str, BeforeValidator(_scalar_text)]
RegexValue = Annotated[str, BeforeValidator(_scalar_text), AfterValidator(_anchored_regex)]
MatchersText = Annotated[str, BeforeValidator(_scalar_text), AfterValidator(_matchers_text)]
EqualName = Annotated[str, BeforeValidator(_scalar_text), AfterValidator(_equal_name)]


class InhibitRuleSpec(Model):
    """One entry of alertmanager.yml's `inhibit_rules`."""

    source_match: dict[MatchName, MatchValue] = {}
    source_match_re: dict[MatchName, RegexValue] = {}
    source_matchers: list[MatchersText] = []
    target_match: dict[MatchName, MatchValue] = {}
    target_match_re: dict[MatchName, RegexValue] = {}
    target_matchers: list[MatchersText] = []
    equal: list[EqualName] = []

    def source_side(self) -> tuple[Matcher, ...]:
        return _side(self.source_match, self.source_match_re, self.source_matchers)

    def target_side(self) -> tuple[Matcher, ...]:
        return _side(self.target_match, self.target_match_re, self.target_matchers)


def _side(match: dict[str, str], match_re: dict[str, str], texts: list[str]) -> tuple[Matcher, ...]:
    equal = [Matcher(n, MatchType.EQUAL, v) for n, v in match.items()]
    regex = [Matcher(n, MatchType.REGEX, v) for n, v in match_re.items()]
    parsed = [m for text in texts for m in parse_matchers(text)]
    return (*equal, *regex, *parsed)


@dataclass(slots=True)
class _Source:
    alert: Alert
    matches_target: bool  # its labels never change, so this is decided once


@dataclass(slots=True)
class _Rule:
    """One rule and its source alerts, bucketed by their values of the `equal` labels."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]
    sources: dict[tuple[str, ...], dict[str, _Source]] = field(default_factory=dict)

    def key(self, labels: Labels) -> tuple[str, ...]:
        # A missing label equals the empty string, as Alertmanager compares them.
        return tuple(labels.get(name, "") for name in self.equal)

    def observe(self, alert: Alert) -> None:
        bucket = self.sources.setdefault(self.key(alert.labels), {})
        known = bucket.get(alert.fingerprint)
        if known is not None:
            known.alert = alert
        else:
            bucket[alert.fingerprint] = _Source(alert, matches_all(self.target, alert.labels))

    def inhibiting(self, labels: Labels, two_sided: bool, now: float) -> str | None:
        """A source that mutes `labels`. When `labels` could be a source of this rule too,
        sources that could be targets are passed over, so no alert inhibits itself."""
        bucket = self.sources.get(self.key(labels))
        if not bucket:
            return None
        for fingerprint, source in bucket.items():
            if source.alert.resolved_at(now) or (two_sided and source.matches_target):
                continue
            return fingerprint
        return None

    def gc(self, now: float) -> int:
        dropped = 0
        for key, bucket in list(self.sources.items()):
            resolved = [fp for fp, s in bucket.items() if s.alert.resolved_at(now)]
            for fp in resolved:
                del bucket[fp]
            dropped += len(resolved)
            if not bucket:
                del self.sources[key]
        return dropped


class Inhibitor:
    """Remembers source alerts as they arrive and answers which one mutes a label set."""

    def __init__(self, specs: Sequence[InhibitRuleSpec]) -> None:
        self._rules = [
            _Rule(spec.source_side(), spec.target_side(), tuple(sorted(set(spec.equal))))
            for spec in specs
        ]

    def observe(self, alert: Alert) -> None:
        """Record a new or updated alert; a later update of a fingerprint replaces the earlier."""
        for rule in self._rules:
            if matches_all(rule.source, alert.labels):
                rule.observe(alert)

    def unmuted(self, alerts: Sequence[Alert], now: float) -> list[Alert]:
        """Those of `alerts` that no source alert inhibits at `now`."""
        if not self._rules:  # the common case, and a large group's alerts need no look each
            return list(alerts)
        return [a for a in alerts if self.mutes(a.labels, now) is None]

    def mutes(self, labels: Labels, now: float) -> str | None:
        """The fingerprint of a source alert that inhibits `labels` at `now`, if any."""
        for rule in self._rules:
            if not matches_all(rule.target, labels):
                continue
            found = rule.inhibiting(labels, matches_all(rule.source, labels), now)
            if found is not None:
                return found
        return None

    def gc(self, now: float) -> int:
        """Forget source alerts resolved by `now`; returns how many entries were dropped."""
        return sum(rule.gc(now) for rule in self._rules)
