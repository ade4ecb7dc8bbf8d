"""Go standard-library string functions templates call: case mapping, ParseFloat, host:port."""

from __future__ import annotations

import ipaddress
import math
import re

from alerting.template.gofmt import quote
from alerting.template.gotypes import GoError


def _simple(ch: str, mapped: str) -> str:
    """Go maps rune by rune (simple case mapping); Python may expand one letter into several."""
    return mapped if len(mapped) == 1 else ch


def to_upper(text: str) -> str:
    """strings.ToUpper."""
    if text.isascii():
        return text.upper()
    return "".join(_simple(c, c.upper()) for c in text)


def to_lower(text: str) -> str:
    """strings.ToLower."""
    if text.isascii():
        return text.lower()
    return "".join("i" if c == "\u0130" else _simple(c, c.lower()) for c in text)


def _is_separator(ch: str) -> bool:
    if ch.isascii():
        return not (ch.isalnum() or ch == "_")
    if ch.isalpha() or ch.isdecimal() or ch.isnumeric():
        return False
    return ch.isspace()


def strings_title(text: str) -> str:
    """strings.Title (Prometheus 2.42's `title`): upper-case letters that follow a separator."""
    out = []
    previous = " "
    for ch in text:
        out.append(_simple(ch, ch.title()) if _is_separator(previous) else ch)
        previous = ch
    return "".join(out)


def _in_word(ch: str) -> bool:
    return ch.isalnum() or ch in "_'\u2019"


def cases_title(text: str) -> str:
    """cases.Title(language.AmericanEnglish) (Alertmanager 0.25's `title`), approximately.

    Words start upper-case and continue lower-case; word boundaries follow the common cases of
    Unicode word segmentation (letters, digits, '_' and apostrophes inside a word).
    """
    out = []
    in_word = False
    seen_cased = False
    for ch in text:
        if _in_word(ch) and not (ch in "'\u2019" and not in_word):
            if not in_word:
                in_word, seen_cased = True, False
            if ch.isalpha() and not seen_cased:
                out.append(_simple(ch, ch.title()))
                seen_cased = True
            else:
                out.append(_simple(ch, ch.lower()) if ch.isalpha() else ch)
        else:
            in_word = False
            out.append(ch)
    return "".join(out)


_DECIMAL = re.compile(r"[+-]?(?:\d+(?:_\d+)*\.?(?:\d+(?:_\d+)*)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+)?")
_HEX = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F_]+\.?[0-9a-fA-F_]*|\.[0-9a-fA-F_]+)[pP][+-]?\d+")
_SPECIAL = re.compile(r"([+-]?)(inf|infinity)|nan", re.IGNORECASE)


def parse_float(text: str) -> float:
    """strconv.ParseFloat(text, 64), with Go's error text."""
    value: float
    if _DECIMAL.fullmatch(text) and "_" not in text:
        value = float(text)
    elif _HEX.fullmatch(text):
        body = text.lstrip("+-").replace("_", "")
        value = float.fromhex(body)
        value = -value if text.startswith("-") else value
    elif special := _SPECIAL.fullmatch(text):
        if special.group(2) is None:
            return math.nan
        return -math.inf if special.group(1) == "-" else math.inf
    else:
        raise GoError(f"strconv.ParseFloat: parsing {quote(text)}: invalid syntax")
    if math.isinf(value):
        raise GoError(f"strconv.ParseFloat: parsing {quote(text)}: value out of range")
    return value


def split_host_port(hostport: str) -> tuple[str, str]:
    """net.SplitHostPort; raises ValueError on a malformed address."""
    i = hostport.rfind(":")
    if i < 0:
        raise ValueError("missing port in address")
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError("missing ']' in address")
        if end + 1 == len(hostport):
            raise ValueError("missing port in address")
        if end + 1 != i:
            if hostport[end + 1] == ":":
                raise ValueError("too many colons in address")
            raise ValueError("missing port in address")
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            raise ValueError("too many colons in address")
    if "[" in hostport[j:]:
        raise ValueError("unexpected '[' in address")
    if "]" in hostport[k:]:
        raise ValueError("unexpected ']' in address")
    return host, hostport[i + 1 :]


def is_ip(host: str) -> bool:
    """net.ParseIP(host) != nil."""
    if "%" in host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def join_host_port(host: str, port: str) -> str:
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"
