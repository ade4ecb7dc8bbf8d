"""Label matchers as Alertmanager 0.25 parses, compiles and prints them, and Go's strconv.Quote.

Regexps are "^(?:" + value + ")$" on Go's RE2; expected values were recorded from Go 1.19's
regexp package. Parsing and printing are checked against amtool 0.25 (`check-config`, `config
routes`), quoting against amtool's template `printf "%q"` over every code point.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from alerting.labels import Matcher, MatchType, go_quote, matches_all, parse_matchers

needs_amtool = pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool not installed")


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


# ---------------------------------------------------------------- parsing: Alertmanager 0.25

# Matcher lines and what Alertmanager 0.25 makes of them: the matchers as `amtool config routes`
# prints them ("" for none), or "ERROR: " and `amtool check-config`'s message. All recorded with
# amtool, which test_parse_table_is_amtools asks again.
PARSE_TABLE = [
    # plain, spaces, braces
    ("a=b", '{a="b"}'),
    ('{a="b"}', '{a="b"}'),
    ("a = b", '{a="b"}'),
    (' a=~"x|y" ', '{a=~"x|y"}'),
    ("  ", ""),
    ("", ""),
    ("{}", ""),
    ("{ }", ""),
    ("{,}", "ERROR: bad matcher format: "),
    (",", "ERROR: bad matcher format: "),
    ("a=b}", '{a="b"}'),
    ("{a=b", '{a="b"}'),
    ("{a=b}}", '{a="b}"}'),
    ("{{a=b}", "ERROR: bad matcher format: {a=b"),
    (' {a="b"} ', 'ERROR: bad matcher format: {a="b"}'),
    ("{a=b} ", '{a="b}"}'),
    ("{a=b,}", '{a="b"}'),
    ("{a=b,}}", "ERROR: bad matcher format: }"),
    ('{a="b"},{c="d"}', 'ERROR: matcher value contains unescaped double quote: "b"}'),
    ('a="x}"}', '{a="x}"}'),
    ("a={b}", '{a="{b"}'),
    ("a=}", '{a=""}'),
    # commas
    ("a=b,", '{a="b"}'),
    ("a=b,,", "ERROR: bad matcher format: "),
    ("a=b,,c=d", "ERROR: bad matcher format: "),
    (",a=b", "ERROR: bad matcher format: "),
    ("a=b, c", "ERROR: bad matcher format: c"),
    ("a=b, c ,d=e", "ERROR: bad matcher format:  c "),
    ('a="b,c"', '{a="b,c"}'),
    ("a='b,c'", "ERROR: bad matcher format: c'"),
    ('a="b", c="d"', '{a="b",c="d"}'),
    ('a="b" ,c="d"', '{a="b",c="d"}'),
    ('a="x\\,",b=c', 'ERROR: matcher value contains unescaped double quote: "x\\,",b=c'),
    ('a=b\\,"x,y"=c', 'ERROR: bad matcher format: "x'),
    ('a="x\\\\",b=c', '{a="x\\\\",b="c"}'),
    # quotes and escapes
    ("a='b'", "{a=\"'b'\"}"),
    ('a="x\\"y"', '{a="x\\"y"}'),
    ('a=x\\"y', '{a="x\\"y"}'),
    ('a="x\\\\y"', '{a="x\\\\y"}'),
    ('a="x\\ny"', '{a="x\\ny"}'),
    ("a=x\\ny", '{a="x\\ny"}'),
    ('a="x\\ty"', '{a="x\\\\ty"}'),
    ('a="\\q"', '{a="\\\\q"}'),
    ("a=x\\", '{a="x\\\\"}'),
    ('a="x\\"', 'ERROR: matcher value contains unescaped double quote: "x\\"'),
    ('a="b\\\\"', '{a="b\\\\"}'),
    ('a="b\\\\\\"', 'ERROR: matcher value contains unescaped double quote: "b\\\\\\"'),
    ('a="', 'ERROR: matcher value contains unescaped double quote: "'),
    ('a=""', '{a=""}'),
    ('a=""x', 'ERROR: matcher value contains unescaped double quote: ""x'),
    ('a="b"c"', 'ERROR: matcher value contains unescaped double quote: "b"c"'),
    ('a=b"c', 'ERROR: matcher value contains unescaped double quote: b"c'),
    ('a=x"', 'ERROR: matcher value contains unescaped double quote: x"'),
    ('a=" x "', '{a=" x "}'),
    ('a="\\u00e9"', '{a="\\\\u00e9"}'),
    # empty values, operators
    ("a=", '{a=""}'),
    ("a!~", '{a!~""}'),
    ('a=~""', '{a=~""}'),
    ("a==b", '{a="=b"}'),
    ("a=~=b", '{a=~"=b"}'),
    ("a!==b", '{a!="=b"}'),
    ("a!=~b", '{a!="~b"}'),
    ("a~=b", "ERROR: bad matcher format: a~=b"),
    ("a=!b", '{a="!b"}'),
    ("a!b", "ERROR: bad matcher format: a!b"),
    ("a", "ERROR: bad matcher format: a"),
    ("=b", "ERROR: bad matcher format: =b"),
    ("a=~1,a=1,a!~1,a!=1", '{a="1",a!="1",a=~"1",a!~"1"}'),
    ("b=1,a=2", '{a="2",b="1"}'),
    # names
    ("1a=b", "ERROR: bad matcher format: 1a=b"),
    ("a-b=c", "ERROR: bad matcher format: a-b=c"),
    ("a.b=c", "ERROR: bad matcher format: a.b=c"),
    ("é=b", "ERROR: bad matcher format: é=b"),
    ("a:b=c", '{a:b="c"}'),
    (":a=b", '{:a="b"}'),
    ("_=b", '{_="b"}'),
    ("a\x0b=b", "ERROR: bad matcher format: a\x0b=b"),
    # regexes
    ('a=~"("', "ERROR: error parsing regexp: missing closing ): `^(?:()$`"),
    ("a=~(", "ERROR: error parsing regexp: missing closing ): `^(?:()$`"),
    ('a=~"a)|(b"', '{a=~"a)|(b"}'),
    ('a=~"\\\\d+"', '{a=~"\\\\d+"}'),
    ("a=~\\d+", '{a=~"\\\\d+"}'),
    ('a!~"**"', "ERROR: error parsing regexp: missing argument to repetition operator: `*`"),
    # whitespace: Go's regexp \s is ASCII without \v; the last piece is trimmed of Unicode space
    ("a=b\t", '{a="b"}'),
    ("a= x y ", '{a="x y"}'),
    ("a=b\x0b", '{a="b"}'),
    ("a=b\x0b,c=d", '{a="b\x0b",c="d"}'),
    ("\x0ba=b", '{a="b"}'),
    ("a=b\xa0", '{a="b"}'),
    ("a=b\xa0,c=d", '{a="b\xa0",c="d"}'),
    ("c=d,\xa0a=b", '{a="b",c="d"}'),
    ("a=b\x85", '{a="b"}'),
    ("a=b\x1c", '{a="b\x1c"}'),
    ("\x1ca=b", "ERROR: bad matcher format: \x1ca=b"),
    ("a=b,\u2003", '{a="b"}'),
    ("a=b,\u2003,c=d", "ERROR: bad matcher format: \u2003"),
    ("a=\nb", '{a="b"}'),
    ("a=b\n,c=d", '{a="b",c="d"}'),
    ('a="\n"', '{a="\\n"}'),
    ("a=b\u180e", '{a="b\u180e"}'),
    ("a=b\u3000", '{a="b"}'),
    # other characters, printed raw by Matcher.String()
    ('a="é🔥\u200b"', '{a="é🔥\u200b"}'),
    ("a=\x07", '{a="\x07"}'),
    ("a=b\x7f", '{a="b\x7f"}'),
    ("a=\ufffd", '{a="\ufffd"}'),
]

_TYPE_ORDER = ["=", "!=", "=~", "!~"]


def _printed(matchers: list[Matcher]) -> str:
    """labels.Matchers.String() of a route's matchers, sorted as Alertmanager sorts them."""
    if not matchers:
        return ""
    ordered = sorted(matchers, key=lambda m: (m.name, m.value, _TYPE_ORDER.index(m.type.value)))
    return "{" + ",".join(map(str, ordered)) + "}"


def _ours(line: str) -> str:
    try:
        return _printed(parse_matchers(line))
    except ValueError as err:
        return f"ERROR: {err}"


@pytest.mark.parametrize(("line", "expected"), PARSE_TABLE)
def test_parse_matchers_as_alertmanager(line: str, expected: str) -> None:
    assert _ours(line) == expected


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def _route_file(path: Path, lines: list[str]) -> str:
    routes = [{"matchers": [line]} for line in lines]
    config = {"route": {"receiver": "r", "routes": routes}, "receivers": [{"name": "r"}]}
    path.write_text(yaml.safe_dump(config))
    return str(path)


@needs_amtool
def test_parse_table_is_amtools(tmp_path: Path) -> None:
    lines = [line for line, _ in PARSE_TABLE]
    # One file per line, as Alertmanager stops at the first bad matcher; amtool runs side by side.
    files = [_route_file(tmp_path / f"{i}.yml", [line]) for i, line in enumerate(lines)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        checks = list(pool.map(_run, [["amtool", "check-config", file] for file in files]))
    found: dict[str, str] = {}
    for line, result in zip(lines, checks, strict=True):
        if result.returncode != 0:
            failed = re.search(r"FAILED: (.*)\n\n", result.stdout, re.DOTALL)
            assert failed, result.stdout + result.stderr
            found[line] = f"ERROR: {failed.group(1)}"
    # The accepted lines all in one file, a child route each, printed by `config routes`.
    accepted = [line for line in lines if line not in found]
    tree = _run(
        [
            "amtool",
            "config",
            "routes",
            f"--config.file={_route_file(tmp_path / 'ok.yml', accepted)}",
        ]
    )
    assert tree.returncode == 0, tree.stderr
    nodes = [row for row in tree.stdout.split("\n") if "── " in row][1:]  # not the root
    assert len(nodes) == len(accepted)
    for line, node in zip(accepted, nodes, strict=True):
        printed = node.split("── ", 1)[1].rsplit("  receiver: ", 1)[0]
        found[line] = "" if printed == "default-route" else printed
    assert [(line, found[line]) for line in lines] == PARSE_TABLE


def test_invalid_utf8_value() -> None:
    # A lone surrogate is what Python makes of bytes that are not UTF-8 (argv, surrogateescape).
    with pytest.raises(ValueError) as info:
        parse_matchers('a="x\udcff"')
    assert str(info.value) == 'matcher value not valid UTF-8: "x\udcff"'


def test_parsed_matchers_keep_order_and_values() -> None:
    parsed = parse_matchers('{b=~"x|y", a!="q\\"\\\\", c=\'d\', e=}')
    assert parsed == [
        Matcher("b", MatchType.REGEX, "x|y"),
        Matcher("a", MatchType.NOT_EQUAL, 'q"\\'),
        Matcher("c", MatchType.EQUAL, "'d'"),
        Matcher("e", MatchType.EQUAL, ""),
    ]


# ---------------------------------------------------------------- printing


@pytest.mark.parametrize(
    ("matcher", "text"),
    [
        (Matcher("a", MatchType.EQUAL, "b"), 'a="b"'),
        (Matcher("a", MatchType.NOT_REGEX, ""), 'a!~""'),
        # Only backslash, newline and double quote are escaped; all else is as it is.
        (Matcher("a", MatchType.NOT_EQUAL, 'x\\y\n"z"'), 'a!="x\\\\y\\n\\"z\\""'),
        (
            Matcher("a", MatchType.EQUAL, "\t\r\x07\x7f\u200b\u00a0é🔥"),
            'a="\t\r\x07\x7f\u200b\u00a0é🔥"',
        ),
    ],
)
def test_matcher_prints_as_alertmanager(matcher: Matcher, text: str) -> None:
    assert str(matcher) == text
    assert parse_matchers(text) == [matcher]


# ---------------------------------------------------------------- go_quote: strconv.Quote


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("", '""'),
        ("plain text", '"plain text"'),
        ('q"b\\c', '"q\\"b\\\\c"'),
        ("\a\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'),
        ("\x00\x1b\x7f", '"\\x00\\x1b\\x7f"'),
        ("\x80\x9f\u00a0\u00ad", '"\\u0080\\u009f\\u00a0\\u00ad"'),
        ("\u200b\u2028\ufeff\U000e0001", '"\\u200b\\u2028\\ufeff\\U000e0001"'),
        ("é\u00e9\u0301ü🔥\ufffd", '"éé\u0301ü🔥\ufffd"'),
        # New in Unicode 14.0, so not printable to Go 1.19, which is on Unicode 13.0.
        ("\u061d\U0001fae0\u9fff", '"\\u061d\\U0001fae0\\u9fff"'),
        ("\U000f0000\U0010ffff\U0001fffe", '"\\U000f0000\\U0010ffff\\U0001fffe"'),
        # A lone surrogate (no Go string has one) is left as it is.
        ("a\ud800b\udcff", '"a\ud800b\udcff"'),
    ],
)
def test_go_quote(value: str, quoted: str) -> None:
    assert go_quote(value) == quoted


_CHUNK = 256


@needs_amtool
def test_go_quote_is_amtools_printf_q_on_every_code_point(tmp_path: Path) -> None:
    starts = [s for s in range(0, 0x110000, _CHUNK) if not 0xD800 <= s < 0xE000]
    chunks = ["".join(map(chr, range(start, start + _CHUNK))) for start in starts]
    # Go's template strings take \U escapes, so the file itself is ASCII.
    actions = [
        '{{ printf "%q" "' + "".join(f"\\U{ord(ch):08x}" for ch in chunk) + '" }}'
        for chunk in chunks
    ]
    glob = tmp_path / "all.tmpl"
    glob.write_text('{{ define "all" }}' + "\n".join(actions) + "\n{{ end }}")
    result = _run(
        [
            "amtool",
            "template",
            "render",
            f"--template.glob={glob}",
            '--template.text={{ template "all" . }}',
        ]
    )
    assert result.returncode == 0, result.stderr
    theirs = result.stdout.split("\n")[: len(chunks)]
    for start, chunk, quoted in zip(starts, chunks, theirs, strict=True):
        assert go_quote(chunk) == quoted, hex(start)
