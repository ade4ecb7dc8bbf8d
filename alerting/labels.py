"""Label sets, label matchers and Alertmanager's alert fingerprint."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from itertools import chain

from alerting.regex import RegexError, Regexp, compile_go_regex, matches

Labels = Mapping[str, str]

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK64 = (1 << 64) - 1

LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def _fnv1a(data: bytes, h: int) -> int:
    for byte in data:
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    return h


def fingerprint(labels: Labels) -> int:
    """Alertmanager's fingerprint: FNV-1a 64 over sorted pairs, each part followed by 0xff.

    Callers that need it repeatedly keep it (RuleAlert does): a cache here would hold a second
    copy of every label set.
    """
    data = b"".join(
        b"%s\xff%s\xff" % (name.encode(), value.encode()) for name, value in sorted(labels.items())
    )
    return _fnv1a(data, _FNV_OFFSET)


def fingerprint_hex(labels: Labels) -> str:
    return f"{fingerprint(labels):016x}"


def label_key(labels: Labels) -> tuple[str, ...]:
    """A hashable identity for a label set: its sorted pairs, flattened (a third of the memory
    of a tuple of pairs, and unambiguous since names and values alternate)."""
    return tuple(chain.from_iterable(sorted(labels.items())))


def go_quote(value: str) -> str:
    """strconv.Quote for the characters label values realistically hold."""
    out = ['"']
    for ch in value:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    """A label matcher; regexes are anchored at both ends, as in Prometheus and Alertmanager."""

    name: str
    type: MatchType
    value: str

    def __post_init__(self) -> None:
        if self.type in (MatchType.REGEX, MatchType.NOT_REGEX):
            _compile_anchored(self.value)  # raises ValueError early, with the pattern

    def matches(self, labels: Labels) -> bool:
        return self.matches_value(labels.get(self.name, ""))

    def matches_value(self, value: str) -> bool:
        match self.type:
            case MatchType.EQUAL:
                return value == self.value
            case MatchType.NOT_EQUAL:
                return value != self.value
            case MatchType.REGEX:
                return matches(_compile_anchored(self.value), value)
            case MatchType.NOT_REGEX:
                return not matches(_compile_anchored(self.value), value)

    def __str__(self) -> str:
        return f"{self.name}{self.type.value}{go_quote(self.value)}"


@lru_cache(maxsize=4096)
def _compile_anchored(pattern: str) -> Regexp:
    """Alertmanager's NewMatcher: regexp.Compile("^(?:" + pattern + ")$"), pasted as text.

    No (?s): `.` stops at a newline, as in Alertmanager (current Prometheus adds (?s) to its own).
    Pasting rather than anchoring the match keeps Go's result for a value such as `a)|(b`, and
    Go's error text. RE2, Go's engine, matches in linear time whatever the pattern.
    """
    try:
        return compile_go_regex(f"^(?:{pattern})$")
    except RegexError as err:
        raise ValueError(str(err)) from None


def matches_all(matchers: Iterable[Matcher], labels: Labels) -> bool:
    return all(m.matches(labels) for m in matchers)


_MATCHER_RE = re.compile(
    r"""\s*(?P<name>[^\s=!~{},"']+)\s*(?P<op>=~|!~|!=|=)\s*"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^,}]*?)\s*(?:,|$)"""
)


def parse_matchers(text: str) -> list[Matcher]:
    """Parse `{a="b", c=~"d.*"}` or `a=b,c!=d` as Alertmanager 0.25's matcher parser does."""
    body = text.strip()
    if body.startswith("{") != body.endswith("}"):
        raise ValueError(f"bad matcher format: {text}")
    if body.startswith("{"):
        body = body[1:-1]
    body = body.strip()
    if body.endswith(","):
        body = body[:-1]
    matchers: list[Matcher] = []
    pos = 0
    while pos < len(body):
        m = _MATCHER_RE.match(body, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"bad matcher format: {body[pos:]}")
        matchers.append(_matcher_from(m))
        pos = m.end()
    if not matchers and text.strip() not in ("", "{}"):
        raise ValueError(f"bad matcher format: {text}")
    return matchers


def _matcher_from(m: re.Match[str]) -> Matcher:
    raw = m.group("value").strip()
    value = _unescape(raw[1:-1]) if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'" else raw
    return Matcher(m.group("name"), MatchType(m.group("op")), value)


def _unescape(text: str) -> str:
    out: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch != "\\":
            out.append(ch)
            continue
        nxt = next(chars, "")
        out.append({"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}.get(nxt, "\\" + nxt))
    return "".join(out)
