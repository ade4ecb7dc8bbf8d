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
LabelKey = tuple[str, ...]  # see label_key

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK64 = (1 << 64) - 1

LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def py_fnv1a(texts: Iterable[str]) -> int:
    """64-bit FNV-1a over the UTF-8 of each text, each followed by the byte 0xff."""
    h = _FNV_OFFSET
    for byte in b"".join(b"%s\xff" % text.encode() for text in texts):
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    return h


def py_label_key(labels: Labels) -> LabelKey:
    """A hashable identity for a label set: its sorted pairs, flattened (a third of the memory
    of a tuple of pairs, and unambiguous since names and values alternate)."""
    return tuple(chain.from_iterable(sorted(labels.items())))


try:
    # Built from _labels.c when the package was installed with a C compiler at hand. In Python
    # the hash takes ~8 µs a label set, most of an evaluation that meets 100,000 new series (C:
    # ~0.2 µs; caching each string's share of the hash was only twice as fast, for a cache as
    # big as the label sets). A key is built for every series of every evaluation (C: 4x faster).
    from alerting._labels import fnv1a, label_key
except ImportError:
    fnv1a, label_key = py_fnv1a, py_label_key


def fingerprint(labels: Labels) -> int:
    """Alertmanager's fingerprint: FNV-1a 64 over sorted pairs, each part followed by 0xff.

    Callers that need it repeatedly keep it (RuleAlert does): a cache here would hold a second
    copy of every label set.
    """
    return fnv1a(label_key(labels))


def fingerprint_hex(labels: Labels) -> str:
    return f"{fingerprint(labels):016x}"


def key_fingerprint_hex(key: LabelKey) -> str:
    """The fingerprint of the label set whose `label_key` is `key`, without sorting it again."""
    return f"{fnv1a(key):016x}"


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}

# Characters Python 3.11 (Unicode 14.0) calls printable but Go 1.19, which built Alertmanager 0.25,
# does not: they are new in Unicode 14.0, and Go 1.19's tables are Unicode 13.0's, so strconv.Quote
# escapes them. Taken from amtool 0.25's `printf "%q"` over every code point (tests/test_labels.py
# checks the whole range again). Otherwise str.isprintable draws Go's unicode.IsPrint line: letters,
# marks, numbers, punctuation, symbols and the ASCII space.
_UNPRINTABLE_IN_GO_1_19 = re.compile(
    "["
    "\u061d\u0870-\u088e\u0898-\u089f\u08b5\u08c8-\u08d2\u0c3c\u0c5d\u0cdd\u170d\u1715"
    "\u171f\u180f\u1ac1-\u1ace\u1b4c\u1b7d-\u1b7e\u1dfa\u20c0\u2c2f\u2c5f\u2e53-\u2e5d"
    "\u9ffd-\u9fff\ua7c0-\ua7c1\ua7d0-\ua7d1\ua7d3\ua7d5-\ua7d9\ua7f2-\ua7f4\ufbc2"
    "\ufd40-\ufd4f\ufdcf\ufdfe-\ufdff\U00010570-\U0001057a\U0001057c-\U0001058a"
    "\U0001058c-\U00010592\U00010594-\U00010595\U00010597-\U000105a1\U000105a3-\U000105b1"
    "\U000105b3-\U000105b9\U000105bb-\U000105bc\U00010780-\U00010785\U00010787-\U000107b0"
    "\U000107b2-\U000107ba\U00010f70-\U00010f89\U00011070-\U00011075\U000110c2\U000116b9"
    "\U00011740-\U00011746\U00011ab0-\U00011abf\U00012f90-\U00012ff2\U00016a70-\U00016abe"
    "\U00016ac0-\U00016ac9\U0001aff0-\U0001aff3\U0001aff5-\U0001affb\U0001affd-\U0001affe"
    "\U0001b11f-\U0001b122\U0001cf00-\U0001cf2d\U0001cf30-\U0001cf46\U0001cf50-\U0001cfc3"
    "\U0001d1e9-\U0001d1ea\U0001df00-\U0001df1e\U0001e290-\U0001e2ae\U0001e7e0-\U0001e7e6"
    "\U0001e7e8-\U0001e7eb\U0001e7ed-\U0001e7ee\U0001e7f0-\U0001e7fe\U0001f6dd-\U0001f6df"
    "\U0001f7f0\U0001f979\U0001f9cc\U0001fa7b-\U0001fa7c\U0001faa9-\U0001faac"
    "\U0001fab7-\U0001faba\U0001fac3-\U0001fac5\U0001fad7-\U0001fad9\U0001fae0-\U0001fae7"
    "\U0001faf0-\U0001faf6\U0002a6de-\U0002a6df\U0002b735-\U0002b738"
    "]"
)


def go_quote(value: str) -> str:
    """Go's strconv.Quote (%q) as built into Alertmanager 0.25 (Go 1.19, Unicode 13.0).

    A lone surrogate, which no Go string holds, is left as it is (Python's stand-in for invalid
    UTF-8, which Go would print as `\\x..` bytes): whoever encodes the result decides about it.
    """
    if (
        value.isprintable()
        and '"' not in value
        and "\\" not in value
        and (value.isascii() or not _UNPRINTABLE_IN_GO_1_19.search(value))
    ):
        return f'"{value}"'
    return '"' + "".join(map(_go_quote_char, value)) + '"'


def _go_quote_char(ch: str) -> str:
    escaped = _GO_ESCAPES.get(ch)
    if escaped is not None:
        return escaped
    if ch.isprintable() and not _UNPRINTABLE_IN_GO_1_19.match(ch):
        return ch
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return ch
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


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
        """Alertmanager 0.25's Matcher.String(): the value in double quotes with only backslash,
        newline and double quote escaped (not Go's %q), as route keys and amtool show it."""
        value = self.value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        return f'{self.name}{self.type.value}"{value}"'


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
    # A loop, not all() over a generator: routes without matchers are the common case, and
    # making the generator cost more than matching, for every alert routed.
    for m in matchers:  # noqa: SIM110 - see above
        if not m.matches(labels):
            return False
    return True


# Go's regexp `\s` (ASCII, without \v), and the Unicode spaces strings.TrimSpace drops.
_GO_RE_SPACE = "[\t\n\f\r ]"
_GO_SPACES = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

# One comma-separated piece: spaces, name, spaces, the first operator that fits (`=~` before `=`,
# so `a==b` means a = "=b"), spaces, then the value, lazily up to trailing spaces and across lines.
_MATCHER_RE = re.compile(
    rf"{_GO_RE_SPACE}*([a-zA-Z_:][a-zA-Z0-9_:]*){_GO_RE_SPACE}*(=~|=|!=|!~){_GO_RE_SPACE}*"
    rf"(.*?){_GO_RE_SPACE}*",
    re.DOTALL,
)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def parse_matchers(text: str) -> list[Matcher]:
    """Parse `{a="b", c=~"d.*"}` or `a=b,c!=d` as Alertmanager 0.25's labels.ParseMatchers does.

    One leading `{` and one trailing `}` are dropped, each on its own and before any trimming.
    The rest is cut at commas outside double quotes; a quote after an unpaired backslash does not
    open or close, and a comma does not end a run of backslashes. The last piece is trimmed of
    Unicode spaces and dropped if empty; any other piece is parsed as it is, so an empty one is
    a "bad matcher format" and one with a leading space shows it in the message.
    """
    body = text.removeprefix("{").removesuffix("}")
    pieces: list[str] = []
    start = 0
    quoted = escaped = False
    for i, ch in enumerate(body):
        if ch == ",":
            if not quoted:
                pieces.append(body[start:i])
                start = i + 1
        elif ch == '"':
            quoted = quoted if escaped else not quoted
            escaped = False
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
    last = body[start:].strip(_GO_SPACES)
    if last:
        pieces.append(last)
    return [_parse_matcher(piece) for piece in pieces]


def _parse_matcher(piece: str) -> Matcher:
    m = _MATCHER_RE.fullmatch(piece)
    if m is None:
        raise ValueError(f"bad matcher format: {piece}")
    name, op, raw = m.groups()
    return Matcher(name, MatchType(op), _matcher_value(raw))


def _matcher_value(raw: str) -> str:
    """A value as written: in double quotes or not, with `\\n`, `\\"` and `\\\\` as the only
    escapes (any other backslash, and a final one, is itself), and no other double quote."""
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    if _SURROGATE_RE.search(body):  # what Go's invalid UTF-8 (e.g. from argv) becomes in Python
        raise ValueError(f"matcher value not valid UTF-8: {raw}")
    out: list[str] = []
    i, end = 0, len(body)
    while i < end:
        ch = body[i]
        if ch == "\\" and i + 1 < end:
            nxt = body[i + 1]
            out.append("\n" if nxt == "n" else nxt if nxt in '"\\' else ch + nxt)
            i += 2
            continue
        if ch != '"':
            out.append(ch)
        elif quoted and i + 1 == end:
            quoted = False  # the closing quote
        else:
            raise ValueError(f"matcher value contains unescaped double quote: {raw}")
        i += 1
    if quoted:
        raise ValueError(f"matcher value contains unescaped double quote: {raw}")
    return "".join(out)
