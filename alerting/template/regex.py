"""Go (RE2) regular expressions on Python's `re`: translation, MatchString and ReplaceAllString.

RE2 and `re` share most syntax; this module rewrites the parts that differ (ASCII-only \\d \\w \\s
\\b, `$` meaning end of text, POSIX classes, \\Q...\\E, \\x{...}, flags in mid-pattern) and rejects
what RE2 itself rejects (back-references, look-around) or what `re` cannot express (\\p{...}),
with Go's error text where it matters.
"""

from __future__ import annotations

import re
from functools import lru_cache

from alerting.template.gotypes import GoError

_WORD = "0-9A-Za-z_"
_ESCAPES_OUTSIDE = {
    "d": "[0-9]",
    "D": "[^0-9]",
    "w": f"[{_WORD}]",
    "W": f"[^{_WORD}]",
    "s": "[\\t\\n\\f\\r ]",
    "S": "[^\\t\\n\\f\\r ]",
    "b": f"(?:(?<=[{_WORD}])(?![{_WORD}])|(?<![{_WORD}])(?=[{_WORD}]))",
    "B": f"(?:(?<=[{_WORD}])(?=[{_WORD}])|(?<![{_WORD}])(?![{_WORD}]))",
    "A": "\\A",
    "z": "\\Z",
}
_ESCAPES_IN_CLASS = {"d": "0-9", "w": _WORD, "s": "\\t\\n\\f\\r "}
_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": _WORD,
    "xdigit": "0-9A-Fa-f",
}
_LITERAL_ESCAPES = set("\\.+*?()|[]{}^$-/#&~ \"'!%,:;<=>@`")
_SIMPLE_ESCAPES = {"a": "\\x07", "f": "\\f", "t": "\\t", "n": "\\n", "r": "\\r", "v": "\\x0b"}


class RegexError(GoError):
    """A pattern Go would not compile, or that has no Python equivalent; the text is Go's."""


def _error(code: str, arg: str) -> RegexError:
    return RegexError(f"error parsing regexp: {code}: `{arg}`")


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.i = 0
        self.out: list[str] = []
        self.multiline = False
        # Open groups: the output index where each was opened, and how many scoped-flag groups
        # we opened inside it (closed together with it).
        self.groups: list[int] = [0]

    def run(self) -> str:
        src = self.src
        while self.i < len(src):
            ch = src[self.i]
            self.i += 1
            if ch == "\\":
                self.out.append(self.escape(in_class=False))
            elif ch == "[":
                self.out.append(self.char_class())
            elif ch == "(":
                self.open_group()
            elif ch == ")":
                if len(self.groups) == 1:
                    raise _error("unexpected )", src)
                self.out.append(")" * (self.groups.pop() + 1))
            elif ch == "$":
                self.out.append("(?=\\n|\\Z)" if self.multiline else "\\Z")
            elif ch == "^":
                self.out.append("(?:(?<=\\n)|\\A)" if self.multiline else "^")
            elif ch in "*+?":
                self.repetition(ch)
            elif ch == "{":
                self.braces()
            else:
                self.out.append(ch)
        if len(self.groups) > 1:
            raise _error("missing closing )", src)
        self.out.append(")" * self.groups[0])
        return "".join(self.out)

    def repetition(self, op: str) -> None:
        previous = self.out[-1] if self.out else ""
        if not previous or previous in ("|", "(") or previous.endswith(("(?:", "|")):
            raise _error("missing argument to repetition operator", op)
        repeated = previous[-1:] in "*+?" and not previous.endswith("\\" + previous[-1:])
        # A single '?' after a repetition makes it lazy; anything else repeats a repetition.
        if repeated and (op != "?" or previous[-1:] == "?"):
            raise _error("invalid nested repetition operator", previous[-1:] + op)
        self.out[-1] = previous + op

    def braces(self) -> None:
        match = re.match(r"(\d+)(,(\d*))?\}", self.src[self.i :])
        if match is None:
            self.out.append("\\{")  # RE2 treats a brace that starts no repeat as a literal
            return
        low = int(match.group(1))
        high = match.group(3)
        if low > 1000 or (high and int(high) > 1000):
            raise _error("invalid repeat count", "{" + match.group(0))
        if high and int(high) < low:
            raise _error("invalid repeat count", "{" + match.group(0))
        self.i += match.end()
        self.repetition("{" + match.group(0))

    def open_group(self) -> None:
        src = self.src
        if not src.startswith("?", self.i):
            self.out.append("(")
            self.groups.append(0)
            return
        rest = src[self.i :]
        if rest.startswith("?P<"):
            end = rest.find(">")
            name = rest[3:end] if end > 0 else ""
            if end < 0 or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                raise _error("invalid named capture", "(" + rest[: end + 1 if end > 0 else None])
            self.i += end + 1
            self.out.append(f"(?P<{name}>")
            self.groups.append(0)
            return
        flags = re.match(r"\?([imsU]*)(?:-([imsU]*))?([:)])", rest)
        if flags is None or (flags.group(2) == "" and flags.group(0).endswith("-:")):
            raise _error("invalid or unsupported Perl syntax", "(" + rest[:2])
        on, off, kind = flags.group(1), flags.group(2) or "", flags.group(3)
        if "U" in on + off:
            raise RegexError("error parsing regexp: the (?U) flag has no Python equivalent")
        self.i += flags.end()
        if "m" in on:
            self.multiline = True
        if "m" in off:
            self.multiline = False
        scoped = f"(?{on.replace('m', '') or ''}{'-' + off.replace('m', '') if off.replace('m', '') else ''}:"
        if scoped == "(?:":
            scoped = "(?:"
        if kind == ":":
            self.out.append(scoped)
            self.groups.append(0)
        else:
            # (?i) applies to the rest of the enclosing group: open a scoped group closed with it.
            self.out.append(scoped)
            self.groups[-1] += 1

    def escape(self, in_class: bool) -> str:
        src = self.src
        if self.i >= len(src):
            raise _error("trailing backslash at end of expression", "")
        ch = src[self.i]
        self.i += 1
        if in_class and ch in _ESCAPES_IN_CLASS:
            return _ESCAPES_IN_CLASS[ch]
        if not in_class and ch in _ESCAPES_OUTSIDE:
            return _ESCAPES_OUTSIDE[ch]
        if ch in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[ch]
        if ch in _LITERAL_ESCAPES or (ch in "^$" and in_class):
            return re.escape(ch)
        if ch == "x":
            return self.hex_escape()
        if ch == "Q":
            end = src.find("\\E", self.i)
            literal = src[self.i :] if end < 0 else src[self.i : end]
            self.i = len(src) if end < 0 else end + 2
            return "".join(re.escape(c) for c in literal)
        if ch in "01234567":
            digits = re.match(r"[0-7]{1,3}", src[self.i - 1 :]).group(0)  # type: ignore[union-attr]
            if ch != "0" and len(digits) == 1:
                raise _error("invalid escape sequence", "\\" + ch)
            self.i += len(digits) - 1
            return f"\\U{int(digits, 8):08x}"
        if ch in "pP":
            raise RegexError(
                "error parsing regexp: Unicode classes (\\p{...}) have no Python equivalent"
            )
        raise _error("invalid escape sequence", "\\" + ch)

    def hex_escape(self) -> str:
        src = self.src
        if src.startswith("{", self.i):
            end = src.find("}", self.i)
            digits = src[self.i + 1 : end] if end > 0 else ""
            if (
                end < 0
                or not re.fullmatch(r"[0-9A-Fa-f]{1,8}", digits)
                or int(digits, 16) > 0x10FFFF
            ):
                raise _error("invalid escape sequence", "\\x" + src[self.i : end + 1])
            self.i = end + 1
        else:
            digits = src[self.i : self.i + 2]
            if not re.fullmatch(r"[0-9A-Fa-f]{2}", digits):
                raise _error("invalid escape sequence", "\\x" + digits)
            self.i += 2
        return f"\\U{int(digits, 16):08x}"

    def char_class(self) -> str:
        src = self.src
        start = self.i - 1
        parts = ["["]
        if src.startswith("^", self.i):
            parts.append("^")
            self.i += 1
        first = True
        while True:
            if self.i >= len(src):
                raise _error("missing closing ]", src[start:])
            ch = src[self.i]
            if ch == "]" and not first:
                self.i += 1
                break
            first = False
            if src.startswith("[:", self.i):
                end = src.find(":]", self.i)
                name = src[self.i + 2 : end] if end > 0 else ""
                negated = name.startswith("^")
                if end > 0 and name.lstrip("^") in _POSIX:
                    if negated:
                        raise RegexError(
                            "error parsing regexp: negated POSIX classes are not supported"
                        )
                    parts.append(_POSIX[name])
                    self.i = end + 2
                    continue
            self.i += 1
            if ch == "\\":
                parts.append(self.escape(in_class=True))
            elif ch in "[&~|":
                parts.append("\\" + ch)
            else:
                parts.append(ch)
        parts.append("]")
        return "".join(parts)


@lru_cache(maxsize=1024)
def compile_go_regex(pattern: str) -> re.Pattern[str]:
    """A compiled Python pattern matching as Go's regexp.Compile(pattern) does."""
    try:
        translated = _Translator(pattern).run()
    except RegexError:
        raise
    try:
        return re.compile(translated)
    except re.error as err:
        raise RegexError(f"error parsing regexp: {err.msg}: `{pattern}`") from None


def go_quote_pattern(pattern: str) -> str:
    """regexp's quote(): backquoted when possible, else a Go string literal."""
    from alerting.template.gofmt import quote

    if "`" not in pattern and all(
        c == "\t" or (c.isprintable() and c != "\ufeff") for c in pattern
    ):
        return "`" + pattern + "`"
    return quote(pattern)


def must_compile(pattern: str) -> re.Pattern[str]:
    """regexp.MustCompile: a bad pattern panics (text/template reports the panic as the error)."""
    try:
        return compile_go_regex(pattern)
    except RegexError as err:
        raise GoError(f"regexp: Compile({go_quote_pattern(pattern)}): {err}") from None


def match_string(pattern: str, text: str) -> bool:
    """regexp.MatchString."""
    return compile_go_regex(pattern).search(text) is not None


_TEMPLATE_NAME = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def _expand(template: str, match: re.Match[str]) -> str:
    """Regexp.Expand: $1, ${1}, $name, ${name}; $$ is a dollar; unknown groups are empty."""
    out: list[str] = []
    i = 0
    while True:
        j = template.find("$", i)
        if j < 0:
            out.append(template[i:])
            return "".join(out)
        out.append(template[i:j])
        if template.startswith("$$", j):
            out.append("$")
            i = j + 2
            continue
        named = _TEMPLATE_NAME.match(template, j)
        if named is None:
            out.append("$")
            i = j + 1
            continue
        out.append(_group(match, named.group(1) or named.group(2)))
        i = named.end()


def _group(match: re.Match[str], name: str) -> str:
    try:
        if name.isdigit():
            number = int(name)
            if number > match.re.groups:
                return ""
            return match.group(number) or ""
        return match.group(name) or ""
    except (IndexError, ValueError):
        return ""


def replace_all(pattern: re.Pattern[str], text: str, template: str) -> str:
    """Regexp.ReplaceAllString, including Go's handling of empty matches next to matches."""
    out: list[str] = []
    last_end = 0
    search_pos = 0
    simple = "$" not in template
    while search_pos <= len(text):
        match = pattern.search(text, search_pos)
        if match is None:
            break
        start, end = match.span()
        out.append(text[last_end:start])
        if end > last_end or start == 0:
            out.append(template if simple else _expand(template, match))
        last_end = end
        search_pos = search_pos + 1 if search_pos + 1 > end else end
    out.append(text[last_end:])
    return "".join(out)
