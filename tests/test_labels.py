"""Label matchers' regexps as Alertmanager compiles them: "^(?:" + value + ")$" on Go's RE2.

Expected values were recorded from Go 1.19's regexp package.
"""

from __future__ import annotations

import pytest

from alerting.labels import Matcher, MatchType, matches_all, parse_matchers


def _regex(pattern: str) -> Matcher:
    return Matcher("x", MatchType.REGEX, pattern)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("a", "a", True),
        ("a", "ba", False),
        ("a", "ab", False),
        ("a.*", "abc", True),
        ("a|b", "b", True),
        ("a|b", "ab", False),
        ("api|web", "web", True),
        ("", "", True),
        ("", "x", False),
        # The value is pasted into the pattern, so this is ^(?:a)|(b)$.
        ("a)|(b", "axyz", True),
        ("a)|(b", "zzb", True),
        ("a)|(b", "zz", False),
        # No (?s) in Alertmanager: `.` stops at a newline unless the pattern asks.
        ("a.*", "a\nb", False),
        ("(?s)a.*", "a\nb", True),
        # Go syntax: Unicode classes, ungreedy flag; \d is ASCII only.
        (r"\pL+", "héllo", True),
        ("(?U)a+", "aaa", True),
        (r"\d+", "١٢٣", False),
    ],
)
def test_regex_matcher_as_alertmanager(pattern: str, value: str, expected: bool) -> None:
    assert _regex(pattern).matches_value(value) is expected
    assert Matcher("x", MatchType.NOT_REGEX, pattern).matches_value(value) is not expected


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("(a+)+$", "a" * 50_000 + "b"),
        ("(a|aa)+$", "a" * 50_000 + "b"),
        ("(x+x+)+y", "x" * 50_000),
    ],
)
def test_hostile_pattern_finishes(pattern: str, text: str) -> None:
    assert not _regex(pattern).matches({"x": text})
    assert Matcher("x", MatchType.NOT_REGEX, pattern).matches({"x": text})


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        ("(", "missing closing ): `^(?:()$`"),
        ("[", "missing closing ]: `[)$`"),
        ("\\", "missing closing ): `^(?:\\)$`"),
        ("a**", "invalid nested repetition operator: `**`"),
        (r"\C", r"invalid escape sequence: `\C`"),
    ],
)
def test_invalid_regex_is_rejected_with_gos_error(pattern: str, error: str) -> None:
    with pytest.raises(ValueError) as info:
        _regex(pattern)
    assert str(info.value) == "error parsing regexp: " + error


def test_missing_label_matches_as_empty() -> None:
    assert _regex("a*").matches({})
    assert not _regex("a+").matches({})


def test_parsed_regex_matchers() -> None:
    matchers = parse_matchers('{job=~"api|web", env!~"dev.*"}')
    assert matches_all(matchers, {"job": "web", "env": "prod"})
    assert not matches_all(matchers, {"job": "webx", "env": "prod"})
    assert not matches_all(matchers, {"job": "api", "env": "dev-1"})
