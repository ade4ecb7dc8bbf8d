"""Go regexps on RE2: hostile patterns finish, and results are Go's where C++ RE2 alone differs.

Expected values were recorded from Go 1.19's regexp package (MatchString, ReplaceAllString).
"""

from __future__ import annotations

import pytest

from alerting.regex import (
    RegexError,
    compile_go_regex,
    match_string,
    matches,
    replace_all,
)
from alerting.template.alertmanager import render
from alerting.template.prometheus import RuleTemplateData, compile_rule_template

# Exponential for a backtracking engine on these texts; linear for RE2.
HOSTILE = [
    ("(a+)+$", "a" * 50_000 + "b"),
    ("(a|aa)+$", "a" * 50_000 + "b"),
    ("(x+x+)+y", "x" * 50_000),
]


@pytest.mark.parametrize(("pattern", "text"), HOSTILE)
def test_hostile_pattern_in_rule_template_finishes(pattern: str, text: str) -> None:
    template = compile_rule_template(
        f'{{{{ reReplaceAll "{pattern}" "X" $labels.v }}}}', "__alert_Hostile"
    )
    data = RuleTemplateData({"v": text}, {}, "http://prom:9090", 1.0, 1_700_000_000.0)
    assert template.render(data) == text  # nothing matches, so nothing is replaced


@pytest.mark.parametrize(("pattern", "text"), HOSTILE)
def test_hostile_pattern_in_notification_template_finishes(pattern: str, text: str) -> None:
    rendered = render(
        f'{{{{ match "{pattern}" . }}}} {{{{ reReplaceAll "{pattern}" "X" . }}}}', text
    )
    assert rendered == "false " + text


@pytest.mark.parametrize(
    ("pattern", "text", "template", "replaced"),
    [
        # Syntax Python's `re` lacks, which the old translation rejected.
        (r"\pL+", "héllo wörld 123", "<$0>", "<héllo> <wörld> 123"),
        (r"\p{Greek}+", "abc αβγ", "[$0]", "abc [αβγ]"),
        ("(?U)a+", "aaa", "<$0>", "<a><a><a>"),
        ("(?U)a+?", "aaa", "<$0>", "<aaa>"),
        ("[[:^alpha:]]+", "ab12cd", "-", "ab-cd"),
        ("(?i)k", "K k \u212a", "x", "x x x"),  # Kelvin sign folds to k
        # Go steps through characters: no \B between the two bytes of é.
        (r"\B", "héllo", "|", "hél|l|o"),
        ("x*", "aé", "-", "-a-é-"),
        # Go's $-expansion: leading zeros and letters after a number make it a (missing) name;
        # a name used twice takes the group that matched.
        ("(a)(b)?", "ab a", "[$01|$1é|${1}é|$2]", "[||aé|b] [||aé|]"),
        ("(?P<n>a)|(?P<n>b)", "ab", "$n", "ab"),
        (r"(?P<word>\w+)", "hi there", "${word}!$$", "hi!$ there!$"),
        # ASCII-only \d; $ at the end of text only.
        (r"^\d+$", "\uff11\uff12", "x", "\uff11\uff12"),
        ("a$", "a\n", "x", "a\n"),
        (r"\QA.B\E", "A.B AxB", "ok", "ok AxB"),
    ],
)
def test_replace_all_as_go(pattern: str, text: str, template: str, replaced: str) -> None:
    assert replace_all(compile_go_regex(pattern), text, template) == replaced


@pytest.mark.parametrize(
    ("pattern", "text", "matched"),
    [
        (r"\pL", "123 é", True),
        (r"\B", "aéa", False),  # only between the bytes of é, where Go never looks
        (r"\B", "éé", True),
        (r"^\d+$", "\uff11\uff12", False),
        ("a$", "a\n", False),
        ("(?m)a$", "a\n", True),
    ],
)
def test_match_string_as_go(pattern: str, text: str, matched: bool) -> None:
    assert match_string(pattern, text) is matched


@pytest.mark.parametrize(
    ("pattern", "error"),
    [
        ("(", "missing closing ): `(`"),
        ("[", "missing closing ]: `[`"),
        ("a**", "invalid nested repetition operator: `**`"),
        ("*", "missing argument to repetition operator: `*`"),
        ("\\", "trailing backslash at end of expression: ``"),
        (r"\8", r"invalid escape sequence: `\8`"),
        ("a{1001}", "invalid repeat count: `{1001}`"),
        # Accepted by C++ RE2, not by Go 1.19.
        (r"\C", r"invalid escape sequence: `\C`"),
        ("(?<n>a)", "invalid or unsupported Perl syntax: `(?<`"),
        ("(?<=a)b", "invalid or unsupported Perl syntax: `(?<`"),
        ("(?P<é>a)", "invalid named capture: `(?P<é>`"),
        # Go reports the first error in the pattern.
        ("(?<n>a)(", "invalid or unsupported Perl syntax: `(?<`"),
        (r"a**\C", "invalid nested repetition operator: `**`"),
    ],
)
def test_compile_errors_are_gos(pattern: str, error: str) -> None:
    with pytest.raises(RegexError) as info:
        compile_go_regex(pattern)
    assert str(info.value) == "error parsing regexp: " + error


def test_lone_surrogate_survives() -> None:
    # Impossible in a Go string, possible in a Python one: matched around, never a crash.
    assert replace_all(compile_go_regex("a"), "a\ud800b", "x") == "x\ud800b"
    assert matches(compile_go_regex("b$"), "\ud800b")
