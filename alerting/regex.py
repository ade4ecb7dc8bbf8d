"""Go's regexp package on google-re2: MatchString and ReplaceAllString with Go's errors.

Go's regexp is a port of RE2, so RE2 takes Go's syntax as it is (\\pL, (?U), [[:alpha:]], \\z,
ASCII-only \\d \\w \\s \\b, `$` as end of text) with the same leftmost-first results, and in linear
time: a hostile pattern such as `(a+)+$` cannot stall the daemon as Python's backtracking `re`
can. What stays here is what Go's regexp adds around the engine: Go's wording of parse errors,
the few constructs C++ RE2 accepts and Go 1.19 does not, group names for $-expansion,
searching only at character boundaries, and ReplaceAllString's stepping over empty matches.
Texts are matched as UTF-8 bytes, so offsets are Go's byte offsets.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import re2


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a bad pattern is raised to the caller; RE2 would also log it
    # max_mem stays at RE2's 8 MiB: a cached pattern cannot grow past it, at the price of
    # rejecting a few giant ones Go takes (\\pL{1000} is a million UTF-8 instructions here).
    return options


_OPTIONS = _options()

# C++ RE2's text for a parse error code where Go's regexp/syntax words the same code differently.
_GO_WORDING = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid repetition size": "invalid repeat count",
    "no argument for repetition operator": "missing argument to repetition operator",
    "trailing \\": "trailing backslash at end of expression",
    "invalid named capture group": "invalid named capture",
}
_GO_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_")
_CLASS_ESCAPES = frozenset("dDsSwWpP")  # classes inside a class
_TOO_LARGE = ("pattern too large - compile failed", "pattern too large - reverse compile failed")


class RegexError(ValueError):
    """A pattern Go would not compile; the text is Go's."""


@dataclass(frozen=True, slots=True)
class Regexp:
    """A compiled Go regexp: RE2's program and Go's SubexpNames ("" for an unnamed group)."""

    program: Any  # an re2._Regexp; google-re2 ships no type information
    names: tuple[str, ...]


def _error(code: str, arg: str) -> RegexError:
    return RegexError(f"error parsing regexp: {code}: `{arg}`")


def _utf8(text: str) -> bytes:
    # surrogatepass: a lone surrogate (possible in a Python str, never in a Go one) must not crash
    # rendering; RE2 matches no character inside it and decoding restores it.
    return text.encode("utf-8", "surrogatepass")


def _from_utf8(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def _message(err: re2.error) -> str:
    raw = err.args[0] if err.args else ""
    return _from_utf8(raw) if isinstance(raw, bytes) else str(raw)


def _go_error(err: re2.error, pattern: str) -> RegexError:
    """RE2's "code: arg" message in Go's words (both parsers report the same code and arg)."""
    message = _message(err)
    if message in _TOO_LARGE:
        return _error("expression too large", pattern)  # Go's ErrLarge quotes the whole pattern
    code, _, arg = message.partition(": ")
    return _error(_GO_WORDING.get(code, code), arg)


def _go_only(pattern: str, i: int) -> RegexError | None:
    """Go's error for a construct at i that C++ RE2 accepts and Go 1.19 does not."""
    if pattern.startswith("\\C", i):
        return _error("invalid escape sequence", "\\C")  # one byte, a unit Go does not match
    if pattern.startswith("(?<", i):
        # Go takes (?<name> from 1.22 on; Prometheus 2.42 and Alertmanager 0.25 do not. RE2
        # rejects look-behind, (?<= and (?<!, too, but Go stops at the < and quotes less.
        return _error("invalid or unsupported Perl syntax", "(?<")
    name = _capture_name(pattern, i)
    if name and not set(name) <= _GO_NAME_CHARS:  # RE2 also takes non-ASCII letters
        return _error("invalid named capture", f"(?P<{name}>")
    return None


def _capture_name(pattern: str, i: int) -> str | None:
    """The name in a (?P<name> at i, or None."""
    end = pattern.find(">", i)
    return pattern[i + 4 : end] if pattern.startswith("(?P<", i) and end >= 0 else None


def _escape_end(pattern: str, i: int) -> int:
    """The end of the escape at i: \\Q...\\E runs to its \\E, \\x{..} and \\p{..} to the brace."""
    kind = pattern[i + 1 : i + 2]
    if kind == "Q":
        end = pattern.find("\\E", i + 2)
        return len(pattern) if end < 0 else end + 2
    if kind in ("x", "p", "P") and pattern.startswith("{", i + 2):
        end = pattern.find("}", i + 2)
        return len(pattern) if end < 0 else end + 1
    return i + 2


def _class_item_end(pattern: str, j: int) -> int:
    """The end of the class item at j: [:name:], a character or range, or an escaped class."""
    if pattern.startswith("[:", j) and (posix_end := pattern.find(":]", j + 2)) >= 0:
        return posix_end + 2  # both parsers take the first :] as its end
    end = _escape_end(pattern, j) if pattern[j] == "\\" else j + 1
    if pattern[j] == "\\" and pattern[j + 1 : j + 2] in _CLASS_ESCAPES:
        return end  # \\d or \\pL cannot start a range: a - after it is a literal
    if pattern.startswith("-", end) and pattern[end + 1 : end + 2] not in ("", "]"):
        return _escape_end(pattern, end + 1) if pattern[end + 1] == "\\" else end + 2
    return end


def _class_end(pattern: str, i: int) -> int:
    """The end of the character class opening at i (past the pattern if it never closes)."""
    j = i + 2 if pattern.startswith("[^", i) else i + 1
    first = True  # a ] right after [ or [^ is a literal
    while j < len(pattern) and (first or pattern[j] != "]"):
        j = _class_item_end(pattern, j)
        first = False
    return j + 1


def _scan(pattern: str) -> tuple[tuple[str, ...], tuple[int, RegexError] | None]:
    """Go's SubexpNames ("" for an unnamed group, the whole match first) and the first construct
    Go rejects that C++ RE2 accepts, with its position; the names are complete if there is none.
    """
    names = [""]
    i = 0
    while i < len(pattern):
        if (go_error := _go_only(pattern, i)) is not None:
            return tuple(names), (i, go_error)
        if pattern[i] == "\\":
            i = _escape_end(pattern, i)
        elif pattern[i] == "[":
            i = _class_end(pattern, i)
        else:
            if pattern[i] == "(" and not pattern.startswith("(?", i):
                names.append("")
            elif (name := _capture_name(pattern, i)) is not None:
                names.append(name)
            i += 1
    return tuple(names), None


def _rejects_before(pattern: str, pos: int) -> bool:
    """Whether RE2 finds an error before pos, which Go would report first. An unclosed group is
    not one: both parsers report that only at the end."""
    try:
        re2.compile(_utf8(pattern[:pos]), _OPTIONS)
    except re2.error as err:
        return not _message(err).startswith("missing )")
    return False


@lru_cache(maxsize=1024)
def compile_go_regex(pattern: str) -> Regexp:
    """regexp.Compile(pattern), raising RegexError with Go's message."""
    names, go_only = _scan(pattern)
    try:
        program = re2.compile(_utf8(pattern), _OPTIONS)
    except re2.error as err:
        if go_only is None or _rejects_before(pattern, go_only[0]):
            raise _go_error(err, pattern) from None
        raise go_only[1] from None
    if go_only is not None:
        raise go_only[1]
    return Regexp(program, names)


def _search(regexp: Regexp, src: bytes, pos: int) -> Any:
    """The leftmost match at or after pos that starts on a character boundary, or None.

    C++ RE2 steps through bytes, so \\B can hold between the bytes of one character, giving an
    empty match there; Go steps through characters and never sees that position.
    """
    while (match := regexp.program.search(src, pos)) is not None:
        start = match.start()
        if start == len(src) or not 0x80 <= src[start] < 0xC0:
            return match
        pos = start + 1
    return None


def matches(regexp: Regexp, text: str) -> bool:
    """Regexp.MatchString: whether the pattern matches anywhere in text."""
    return _search(regexp, _utf8(text), 0) is not None


def match_string(pattern: str, text: str) -> bool:
    """regexp.MatchString."""
    return matches(compile_go_regex(pattern), text)


def replace_all(regexp: Regexp, text: str, template: str) -> str:
    """Regexp.ReplaceAllString, including Go's handling of empty matches next to matches."""
    src = _utf8(text)
    literal = None if "$" in template else _utf8(template)
    out = bytearray()
    last_end = search_pos = 0
    while search_pos <= len(src):
        match = _search(regexp, src, search_pos)
        if match is None:
            break
        start, end = match.span()
        out += src[last_end:start]
        # No replacement for an empty match right after a match (it would replace twice).
        if end > last_end or start == 0:
            out += literal if literal is not None else _expand(template, regexp, src, match)
        last_end = end
        search_pos = _advance(src, search_pos, end)
    out += src[last_end:]
    return _from_utf8(bytes(out))


def _rune_width(src: bytes, pos: int) -> int:
    """Bytes in the UTF-8 sequence starting at pos (0 at the end), as utf8.DecodeRune counts."""
    if pos >= len(src):
        return 0
    lead = src[pos]
    return 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def _advance(src: bytes, search_pos: int, match_end: int) -> int:
    """Where Go's ReplaceAll searches next: past the match, and always at least one character."""
    width = _rune_width(src, search_pos)
    if search_pos + width > match_end:
        return search_pos + width
    if search_pos + 1 > match_end:
        return search_pos + 1  # only at the end of the text, where the width is 0
    return match_end


def _expand(template: str, regexp: Regexp, src: bytes, match: Any) -> bytes:
    """Regexp.Expand: $1, ${1}, $name, ${name}; $$ is a dollar; a malformed $ stays literal."""
    out = bytearray()
    rest = template
    while (dollar := rest.find("$")) >= 0:
        out += _utf8(rest[:dollar])
        rest = rest[dollar + 1 :]
        if rest.startswith("$"):
            out += b"$"
            rest = rest[1:]
            continue
        reference = _extract(rest)
        if reference is None:
            out += b"$"
            continue
        name, rest = reference
        out += _group_text(name, regexp, src, match)
    return bytes(out + _utf8(rest))


def _extract(text: str) -> tuple[str, str] | None:
    """Go's extract(): the name after a $ (letters, digits, _; maybe in braces) and what follows."""
    braced = text.startswith("{")
    body = text[1:] if braced else text
    end = 0
    while end < len(body) and (body[end].isalpha() or body[end].isdecimal() or body[end] == "_"):
        end += 1
    if end == 0:
        return None
    if braced:
        if not body.startswith("}", end):
            return None
        return body[:end], body[end + 1 :]
    return body[:end], body[end:]


def _group_number(name: str) -> int | None:
    """A group number as Go reads one: ASCII digits without a leading zero."""
    if not name.isascii() or not name.isdigit() or (name[0] == "0" and len(name) > 1):
        return None
    return int(name) if len(name) <= 9 else None  # Go gives up on a tenth digit


def _group_text(name: str, regexp: Regexp, src: bytes, match: Any) -> bytes:
    """A group's text; empty for an unknown group or one that did not take part in the match.
    By name, the first group of that name that took part (Go allows a name twice)."""
    number = _group_number(name)
    if number is None:
        candidates = [i for i, group in enumerate(regexp.names) if group == name]
    else:
        candidates = [number]
    for index in candidates:
        if index <= regexp.program.groups and (span := match.span(index))[0] >= 0:
            return src[span[0] : span[1]]
    return b""
