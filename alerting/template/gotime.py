"""Go's time.Time as templates see it: String(), Format(layout) and a few accessors, always in UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from alerting.template.gotypes import GoFunc, GoType, register

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ZERO_UNIX = -62135596800  # 0001-01-01T00:00:00Z, Go's zero time


@dataclass(frozen=True, slots=True)
class GoTime:
    """An instant with nanosecond precision; `pointer` marks a *time.Time (for %T and errors)."""

    seconds: int
    nanos: int = 0
    pointer: bool = False

    @classmethod
    def from_unix(cls, value: float, pointer: bool = False) -> GoTime:
        """From float unix seconds, kept to the microsecond (a float's precision today).

        0 stands for Go's zero time, which is how our data says "unset".
        """
        if value == 0:
            return cls(_ZERO_UNIX, 0, pointer)
        micros = round(value * 1_000_000)
        seconds, micro = divmod(micros, 1_000_000)
        return cls(seconds, micro * 1000, pointer)

    @classmethod
    def from_unix_nanos(cls, nanos: int, pointer: bool = False) -> GoTime:
        seconds, rest = divmod(nanos, 1_000_000_000)
        return cls(seconds, rest, pointer)

    def datetime(self) -> datetime:
        return _EPOCH + timedelta(seconds=self.seconds)

    def go_string(self) -> str:
        return format_time(self, "2006-01-02 15:04:05.999999999 -0700 MST")


def format_time(t: GoTime, layout: str) -> str:
    """time.Time.Format for a UTC time."""
    moment = t.datetime()
    out: list[str] = []
    i = 0
    while i < len(layout):
        match = _CHUNK.match(layout, i)
        if match is None or not _chunk_ok(layout, match):
            out.append(layout[i])
            i += 1
            continue
        out.append(_render_chunk(match.group(0), moment, t.nanos))
        i = match.end()
    return "".join(out)


_CHUNK = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|-07:00:00|-0700|-07:00|-07|Z07:00:00|Z0700|Z07:00|Z07"
    r"|01|02|03|04|05|06|002|15|__2|_2|1|2|3|4|5|PM|pm|[.,](0+|9+)"
)


def _chunk_ok(layout: str, match: re.Match[str]) -> bool:
    chunk = match.group(0)
    following = layout[match.end() : match.end() + 1]
    if chunk in ("Jan", "Mon"):
        return not following.islower()
    if chunk[0] in ".,":
        return not following.isdigit()
    return True


_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _render_chunk(chunk: str, moment: datetime, nanos: int) -> str:
    if chunk[0] in ".,":
        digits = f"{nanos:09d}"[: len(chunk) - 1]
        if chunk[1] == "9":
            digits = digits.rstrip("0")
            return chunk[0] + digits if digits else ""
        return chunk[0] + digits
    hour12 = moment.hour % 12 or 12
    table = {
        "January": _MONTHS[moment.month - 1],
        "Jan": _MONTHS[moment.month - 1][:3],
        "Monday": _DAYS[moment.weekday()],
        "Mon": _DAYS[moment.weekday()][:3],
        "MST": "UTC",
        "2006": f"{moment.year:04d}",
        "06": f"{moment.year % 100:02d}",
        "01": f"{moment.month:02d}",
        "1": str(moment.month),
        "02": f"{moment.day:02d}",
        "_2": f"{moment.day:2d}",
        "2": str(moment.day),
        "002": f"{moment.timetuple().tm_yday:03d}",
        "__2": f"{moment.timetuple().tm_yday:3d}",
        "15": f"{moment.hour:02d}",
        "03": f"{hour12:02d}",
        "3": str(hour12),
        "04": f"{moment.minute:02d}",
        "4": str(moment.minute),
        "05": f"{moment.second:02d}",
        "5": str(moment.second),
        "PM": "PM" if moment.hour >= 12 else "AM",
        "pm": "pm" if moment.hour >= 12 else "am",
    }
    if chunk in table:
        return table[chunk]
    if chunk.startswith("Z"):
        return "Z"
    return {"-07:00:00": "+00:00:00", "-0700": "+0000", "-07:00": "+00:00", "-07": "+00"}[chunk]


def _unix(t: GoTime) -> int:
    return t.seconds


def _unix_milli(t: GoTime) -> int:
    return t.seconds * 1000 + t.nanos // 1_000_000


def _unix_nano(t: GoTime) -> int:
    return t.seconds * 1_000_000_000 + t.nanos


def _utc(t: GoTime) -> GoTime:
    return GoTime(t.seconds, t.nanos)


def _is_zero(t: GoTime) -> bool:
    return t.seconds == _ZERO_UNIX and t.nanos == 0


_METHODS = {
    "Format": GoFunc(format_time, ("time.Time", "string"), result="string"),
    "String": GoFunc(GoTime.go_string, ("time.Time",), result="string"),
    "Unix": GoFunc(_unix, ("time.Time",), result="int64"),
    "UnixMilli": GoFunc(_unix_milli, ("time.Time",), result="int64"),
    "UnixNano": GoFunc(_unix_nano, ("time.Time",), result="int64"),
    "UTC": GoFunc(_utc, ("time.Time",), result="time.Time"),
    "Local": GoFunc(_utc, ("time.Time",), result="time.Time"),
    "IsZero": GoFunc(_is_zero, ("time.Time",), result="bool"),
}


register(GoTime, GoType("time.Time", "struct", methods=_METHODS))
