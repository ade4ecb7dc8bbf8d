"""Go's regexp as template functions meet it: a bad pattern is a Go error, not an exception."""

from __future__ import annotations

from alerting.regex import RegexError, Regexp, compile_go_regex, match_string, replace_all
from alerting.template.gofmt import quote
from alerting.template.gotypes import GoError


def go_quote_pattern(pattern: str) -> str:
    """regexp's quote(): backquoted when possible, else a Go string literal."""
    if "`" not in pattern and all(
        c == "\t" or (c.isprintable() and c != "\ufeff") for c in pattern
    ):
        return "`" + pattern + "`"
    return quote(pattern)


def must_compile(pattern: str) -> Regexp:
    """regexp.MustCompile: a bad pattern panics (text/template reports the panic as the error)."""
    try:
        return compile_go_regex(pattern)
    except RegexError as err:
        raise GoError(f"regexp: Compile({go_quote_pattern(pattern)}): {err}") from None


def match(pattern: str, text: str) -> bool:
    """regexp.MatchString, whose error the template reports as it is."""
    try:
        return match_string(pattern, text)
    except RegexError as err:
        raise GoError(str(err)) from None


def re_replace_all(pattern: str, repl: str, text: str) -> str:
    """Prometheus's and Alertmanager's reReplaceAll: MustCompile, then ReplaceAllString."""
    return replace_all(must_compile(pattern), text, repl)
