"""Alerts as clients send them, decoded and checked by hand: API v2's PostableAlert, which is also
the shape of the alerts in Alertmanager's webhook payload.

Each problem is named by its JSON path (`alerts[3].labels: expected an object`), and one bad
alert does not spoil the rest of its batch. The checks are Alertmanager 0.25's (Alert.Validate,
with labels of empty value dropped first), with its wording after the path. By hand rather than
a model per alert: a push of 500 alerts must be checked in about a millisecond.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from alerting.labels import LABEL_NAME_RE, go_quote
from alerting.model import Alert
from alerting.notify.silence import parse_api_time

# Go's zero time.Time (0001-01-01T00:00:00Z), which Alertmanager's webhook writes for "no time".
ZERO_TIME = -62135596800.0
# 9999-12-31T23:59:59.999Z: the last time the API can print (RFC 3339 has four-digit years).
LAST_TIME = 253402300799.999

_SURROGATE = re.compile("[\ud800-\udfff]")
# The RFC 3339 form every client sends; datetime parses it ten times faster than the general
# parser, which still decides every other form (and words the errors).
_COMMON_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)")
# go-openapi's "uri" format (Go's url.ParseRequestURI): an absolute URI or an absolute path,
# no control characters, and no space in a host.
_URI = re.compile(r"(?:/|[A-Za-z][A-Za-z0-9+.\-]*:)[^\x00-\x1f\x7f]*")
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://([^/?#]*)")


class InputError(ValueError):
    """A request body that is not JSON."""


class _Invalid(ValueError):
    """One alert is refused: `where` is the path below the alert, `message` why."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


@dataclass(slots=True)
class ParsedAlerts:
    alerts: list[Alert]
    problems: list[str]  # "alerts[i].field: message", one per refused alert


def decode_json(body: bytes) -> Any:
    """The JSON value of a request body. Invalid UTF-8 becomes U+FFFD, as Go's decoder makes it,
    rather than refusing the body."""
    try:
        return json.loads(body.decode("utf-8", "replace"))
    except json.JSONDecodeError as err:
        raise InputError(
            f"invalid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        ) from None
    except RecursionError:
        raise InputError("invalid JSON: nested too deeply") from None


def parse_alerts(items: list[Any], path: str) -> ParsedAlerts:
    """Every alert of `items` (the JSON array at `path`) that passes, and a problem per one that
    does not."""
    parsed = ParsedAlerts([], [])
    for index, item in enumerate(items):
        try:
            parsed.alerts.append(_alert(item))
        except _Invalid as err:
            parsed.problems.append(f"{path}[{index}]{err.where}: {err.message}")
    return parsed


def _alert(obj: Any) -> Alert:
    if type(obj) is not dict:
        raise _Invalid("", "expected an object")
    labels = _labels(obj.get("labels"))
    annotations = _annotations(obj.get("annotations"))
    starts_at = _time(obj, "startsAt")
    ends_at = _time(obj, "endsAt")
    if starts_at and ends_at and ends_at < starts_at:
        raise _Invalid(".endsAt", "start time must be before end time")
    return Alert(labels, annotations, starts_at, ends_at, _generator_url(obj.get("generatorURL")))


def _labels(raw: Any) -> dict[str, str]:
    if raw is None:
        raise _Invalid(".labels", "is required")
    if type(raw) is not dict:
        raise _Invalid(".labels", "expected an object")
    # Names need no interning: the JSON decoder shares equal keys across a batch. Values are
    # interned, since alert names, jobs and severities repeat across batches.
    labels: dict[str, str] = {}
    for name, value in raw.items():
        if type(value) is not str:
            raise _Invalid(f".labels{_member(name)}", "expected a string")
        if not value:  # no label at all, as Alertmanager drops it before validating
            continue
        if not _valid_name(name):
            raise _Invalid(".labels", f"invalid label set: invalid name {go_quote(name)}")
        labels[name] = sys.intern(value if value.isascii() else _go_string(value))
    if not labels:
        raise _Invalid(".labels", "at least one label pair required")
    return labels


def _annotations(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if type(raw) is not dict:
        raise _Invalid(".annotations", "expected an object")
    annotations: dict[str, str] = {}
    for name, value in raw.items():
        if type(value) is not str:
            raise _Invalid(f".annotations{_member(name)}", "expected a string")
        if not _valid_name(name):
            raise _Invalid(".annotations", f"invalid annotations: invalid name {go_quote(name)}")
        annotations[name] = value if value.isascii() else _go_string(value)
    return annotations


def _time(obj: dict[str, Any], key: str) -> float:
    """Unix seconds, or 0.0 where the alert gives no time (absent, null or Go's zero time)."""
    raw = obj.get(key)
    if raw is None:
        return 0.0
    if type(raw) is not str:
        raise _Invalid(f".{key}", "expected a string")
    try:
        seconds = _parse_time(raw)
    except ValueError as err:
        raise _Invalid(f".{key}", str(err)) from None
    if seconds == ZERO_TIME:
        return 0.0
    if seconds <= 0:
        # Our alerts take 0 for "unset" and resolve only at positive times.
        raise _Invalid(f".{key}", f"{go_quote(raw)} is before 1970-01-01T00:00:00Z")
    if seconds > LAST_TIME:  # taken, it would break every listing that shows it
        raise _Invalid(f".{key}", f"{go_quote(raw)} is after 9999-12-31T23:59:59.999Z")
    return seconds


@lru_cache(maxsize=4096)  # the alerts of one evaluation share their endsAt, often startsAt too
def _parse_time(text: str) -> float:
    if _COMMON_TIME.fullmatch(text):
        try:
            return datetime.fromisoformat(text).timestamp()
        except ValueError:
            pass  # out of range: the general parser says so in its words
    return parse_api_time(text)


def _generator_url(raw: Any) -> str:
    if raw is None:
        return ""
    if type(raw) is not str:
        raise _Invalid(".generatorURL", "expected a string")
    if raw and not _valid_uri(raw):
        raise _Invalid(".generatorURL", f"must be of type uri: {go_quote(raw)}")
    return raw


@lru_cache(maxsize=1024)  # the alerts of a rule share their generator URL
def _valid_uri(text: str) -> bool:
    if not _URI.fullmatch(text):
        return False
    authority = _AUTHORITY.match(text)
    return authority is None or " " not in authority.group(1)


@lru_cache(maxsize=4096)
def _valid_name(name: str) -> bool:
    return LABEL_NAME_RE.match(name) is not None


def _member(name: str) -> str:
    """The path step to a member: `.name`, or `["name"]` where the name needs quoting."""
    return f".{name}" if _valid_name(name) else f"[{json.dumps(name)}]"


def _go_string(text: str) -> str:
    # An escaped lone surrogate decodes to U+FFFD in Go; Python would keep it.
    return _SURROGATE.sub("\ufffd", text)
