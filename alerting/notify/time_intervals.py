"""Alertmanager 0.25 time intervals: their config schema, and whether an instant falls inside one."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BeforeValidator,
    Field,
    ModelWrapValidatorHandler,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    field_validator,
    model_validator,
)

from alerting.configbase import Model
from alerting.template.gofmt import quote
from alerting.template.gostrings import to_lower

__all__ = [
    "MONTHS",
    "UTC",
    "WEEKDAYS",
    "IntRange",
    "Location",
    "MuteTimeIntervalSpec",
    "NameProblem",
    "TimeInterval",
    "TimeIntervalSpec",
    "TimeIntervals",
    "TimeRange",
    "UnknownTimeInterval",
    "duplicate_names",
    "in_any",
    "load_location",
    "parse_day_of_month_range",
    "parse_month_range",
    "parse_time_of_day",
    "parse_weekday_range",
    "parse_year_range",
]

WEEKDAYS: dict[str, int] = {
    "sunday": 0,
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
}
MONTHS: dict[str, int] = {
    name: number
    for number, name in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ),
        start=1,
    )
}
_WEEKDAY_NAMES: dict[int, str] = {number: name for name, number in WEEKDAYS.items()}
_MONTH_NAMES: dict[int, str] = {number: name for name, number in MONTHS.items()}

# Go's strconv.Atoi: an optional sign and ASCII digits only (no spaces, underscores or 0x), 64-bit.
_ATOI_RE = re.compile(r"[+-]?[0-9]+")
_INT64 = range(-(2**63), 2**63)
_TIME_OF_DAY_RE = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9]|24:00")


# ---------------------------------------------------------------- parsed forms


@dataclass(frozen=True, slots=True)
class IntRange:
    """An inclusive range of integers; a single value is a range of one."""

    begin: int
    end: int

    def contains(self, n: int) -> bool:
        return self.begin <= n <= self.end


@dataclass(frozen=True, slots=True)
class Location:
    """A time zone by its IANA name; `zone` None is the host's local zone (Go's "Local")."""

    name: str
    zone: tzinfo | None

    def localize(self, t: float) -> datetime:
        if self.zone is None:
            return datetime.fromtimestamp(t)
        return datetime.fromtimestamp(t, self.zone)


UTC = Location("UTC", dt.UTC)


# ---------------------------------------------------------------- scalar parsing


def _text(value: Any) -> str:
    """The string Go's YAML decoder hands over: any scalar as written, null as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float | date):
        return str(value)
    raise ValueError("must be a string")


GoText = Annotated[str, BeforeValidator(_text)]


def _atoi(text: str) -> int:
    if not _ATOI_RE.fullmatch(text):
        raise ValueError(f"strconv.Atoi: parsing {quote(text)}: invalid syntax")
    number = int(text)
    if number not in _INT64:
        raise ValueError(f"strconv.Atoi: parsing {quote(text)}: value out of range")
    return number


def _weekday(text: str) -> int:
    if text not in WEEKDAYS:
        raise ValueError(f"{text} is not a valid weekday")
    return WEEKDAYS[text]


def _month(text: str) -> int:
    if text in MONTHS:
        return MONTHS[text]
    try:
        return _atoi(text)
    except ValueError:
        raise ValueError(f"{text} is not a valid month") from None


def _parse_range(value: Any, member: Callable[[str], int], what: str) -> IntRange:
    # Alertmanager would read a null entry as the zero range (for weekdays: Sunday); refuse it instead.
    if value is None:
        raise ValueError(f"null is not a valid {what}")
    text = to_lower(_text(value))
    if ":" not in text:
        single = member(text)
        return IntRange(single, single)
    parts = text.split(":")
    if len(parts) != 2:
        raise ValueError(f"couldn't parse range {text}, invalid format")
    return IntRange(member(parts[0]), member(parts[1]))


def parse_weekday_range(value: Any) -> IntRange:
    """`monday`, `Monday:FRIDAY`, ... as days 0 (Sunday) to 6; names only, no numbers."""
    days = _parse_range(value, _weekday, "weekday")
    if days.begin > days.end:
        # Alertmanager's wording, although it means that the start comes after the end.
        raise ValueError("start day cannot be before end day")
    return days


def _as_in_shortest_month(day: int) -> int:
    return 28 + day if day < 0 else day


def parse_day_of_month_range(value: Any) -> IntRange:
    """`1`, `1:15`, `-1` (the last day), `-7:-1`; negative days count from the month's end."""
    days = _parse_range(value, _atoi, "day of the month")
    for day in (days.begin, days.end):
        if day == 0 or not -31 <= day <= 31:
            raise ValueError(f"{day} is not a valid day of the month: out of range")
    if days.begin < 0 < days.end:
        raise ValueError("end day must be negative if start day is negative")
    # Month lengths vary, so only ranges that are empty even in a 28-day month are refused.
    if _as_in_shortest_month(days.begin) > _as_in_shortest_month(days.end):
        raise ValueError(f"end day {days.end} is always before start day {days.begin}")
    return days


def parse_month_range(value: Any) -> IntRange:
    """`january`, `1:3`, `March:june`. Like Alertmanager, numbers are not range-checked."""
    months = _parse_range(value, _month, "month")
    if months.begin > months.end:
        end, begin = _MONTH_NAMES.get(months.end, ""), _MONTH_NAMES.get(months.begin, "")
        raise ValueError(f"end month {end} is before start month {begin}")
    return months


def parse_year_range(value: Any) -> IntRange:
    """`2024`, `2020:2025`."""
    years = _parse_range(value, _atoi, "year")
    if years.begin > years.end:
        raise ValueError(f"end year {years.end} is before start year {years.begin}")
    return years


def parse_time_of_day(text: str) -> int:
    """ "HH:MM" (two digits each, 00:00 to 23:59, or 24:00) as minutes since midnight."""
    if not _TIME_OF_DAY_RE.fullmatch(text):
        raise ValueError(f"couldn't parse timestamp {text}, invalid format")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def load_location(value: Any) -> Location:
    """An IANA zone name as Go's time.LoadLocation takes it: "" and "UTC" are UTC, "Local" the host's."""
    name = _text(value)
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return Location(name, None)
    if ".." in name or name.startswith(("/", "\\")):
        raise ValueError("time: invalid location name")
    try:
        return Location(name, ZoneInfo(name))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name}") from None


def _range_text(r: IntRange, name: Callable[[int], str] = str) -> str:
    # Dumped as Alertmanager writes them back, so a dumped config loads again unchanged.
    return name(r.begin) if r.begin == r.end else f"{name(r.begin)}:{name(r.end)}"


def _weekday_range_text(r: IntRange) -> str:
    return _range_text(r, _WEEKDAY_NAMES.__getitem__)


_NumberRange = PlainSerializer(_range_text, return_type=str)
WeekdayRange = Annotated[
    IntRange,
    PlainValidator(parse_weekday_range),
    PlainSerializer(_weekday_range_text, return_type=str),
]
DayOfMonthRange = Annotated[IntRange, PlainValidator(parse_day_of_month_range), _NumberRange]
MonthRange = Annotated[IntRange, PlainValidator(parse_month_range), _NumberRange]
YearRange = Annotated[IntRange, PlainValidator(parse_year_range), _NumberRange]
LocationField = Annotated[
    Location, PlainValidator(load_location), PlainSerializer(lambda loc: loc.name, return_type=str)
]


# ---------------------------------------------------------------- config models


class TimeRange(Model):
    """Minutes of the day from start_time up to, not including, end_time ("24:00" ends the day)."""

    start_time: GoText = ""
    end_time: GoText = ""

    _start: int = PrivateAttr(0)
    _end: int = PrivateAttr(0)

    @model_validator(mode="wrap")
    @classmethod
    def _both_given(cls, data: Any, handler: ModelWrapValidatorHandler[TimeRange]) -> TimeRange:
        # Alertmanager asks for both times before it looks at either one's format.
        if isinstance(data, dict) and any(
            data.get(k) in (None, "") for k in ("start_time", "end_time")
        ):
            raise ValueError("both start and end times must be provided")
        return handler(data)

    @field_validator("start_time", "end_time")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        parse_time_of_day(value)
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> TimeRange:
        self._start, self._end = (
            parse_time_of_day(self.start_time),
            parse_time_of_day(self.end_time),
        )
        if self._start >= self._end:
            raise ValueError("start time cannot be equal or greater than end time")
        return self

    @property
    def start_minute(self) -> int:
        return self._start

    @property
    def end_minute(self) -> int:
        return self._end


class TimeInterval(Model):
    """One element of a named entry's `time_intervals`; every field given must match."""

    times: list[TimeRange] | None = None
    weekdays: list[WeekdayRange] | None = None
    days_of_month: list[DayOfMonthRange] | None = None
    months: list[MonthRange] | None = None
    years: list[YearRange] | None = None
    location: LocationField = UTC

    def contains(self, t: float) -> bool:
        """Whether unix time `t`, seen in this interval's location, lies inside the interval."""
        moment = self.location.localize(t)
        minute = moment.hour * 60 + moment.minute
        return (
            (self.times is None or any(r.start_minute <= minute < r.end_minute for r in self.times))
            and _day_of_month_matches(self.days_of_month, moment)
            and _matches(self.months, moment.month)
            and _matches(self.weekdays, moment.isoweekday() % 7)
            and _matches(self.years, moment.year)
        )


def _matches(ranges: Sequence[IntRange] | None, n: int) -> bool:
    # An omitted field matches everything; a field given as [] matches nothing, as in Alertmanager.
    return ranges is None or any(r.contains(n) for r in ranges)


def _day_of_month_matches(ranges: Sequence[IntRange] | None, moment: datetime) -> bool:
    if ranges is None:
        return True
    # Calendar length, not Alertmanager 0.25's elapsed-hours length, which makes a location's
    # spring-forward month a day short (-1 would be March 30 in Europe/Berlin); fixed upstream later.
    length = calendar.monthrange(moment.year, moment.month)[1]
    # Alertmanager also clamps to the month and skips ranges starting after its end; for a day
    # within 1..length neither changes the outcome, so resolving negative days is all it takes.
    return any(
        _resolve_day(r.begin, length) <= moment.day <= _resolve_day(r.end, length) for r in ranges
    )


def _resolve_day(day: int, length: int) -> int:
    return length + day + 1 if day < 0 else day


def _none_as_empty(value: Any) -> Any:
    return [] if value is None else value


class TimeIntervalSpec(Model):
    """One entry of the top-level `time_intervals:` list: a name and its intervals."""

    kind: ClassVar[str] = "time interval"

    name: GoText = Field(default="", validate_default=True)
    time_intervals: Annotated[list[TimeInterval], BeforeValidator(_none_as_empty)] = Field(
        default_factory=list
    )

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value:
            raise ValueError(f"missing name in {cls.kind}")
        return value


class MuteTimeIntervalSpec(TimeIntervalSpec):
    """One entry of the legacy `mute_time_intervals:` list; differs only in its messages."""

    kind: ClassVar[str] = "mute time interval"


# ---------------------------------------------------------------- lookups


def in_any(intervals: Iterable[TimeInterval], t: float) -> bool:
    return any(interval.contains(t) for interval in intervals)


@dataclass(frozen=True, slots=True)
class NameProblem:
    """A name clash, at a path (relative to the document holding both lists) for Document.problem."""

    path: tuple[str | int, ...]
    message: str


def duplicate_names(
    mute_time_intervals: Sequence[TimeIntervalSpec],
    time_intervals: Sequence[TimeIntervalSpec],
) -> list[NameProblem]:
    """Every repeated name; Alertmanager reads the mute list first and both share one namespace."""
    seen: set[str] = set()
    problems: list[NameProblem] = []
    sections = (
        ("mute_time_intervals", "mute time interval", mute_time_intervals),
        ("time_intervals", "time interval", time_intervals),
    )
    for section, kind, specs in sections:
        for index, spec in enumerate(specs):
            if spec.name in seen:
                message = f"{kind} {quote(spec.name)} is not unique"
                problems.append(NameProblem((section, index, "name"), message))
            seen.add(spec.name)
    return problems


class UnknownTimeInterval(LookupError):
    """A route names a time interval the config does not define."""


class TimeIntervals:
    """The named time intervals of one config, as routes refer to them."""

    def __init__(self, specs: Iterable[TimeIntervalSpec] = ()) -> None:
        self._by_name: dict[str, list[TimeInterval]] = {}
        for spec in specs:
            if spec.name in self._by_name:
                raise ValueError(f"time interval {quote(spec.name)} is not unique")
            self._by_name[spec.name] = list(spec.time_intervals)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> list[TimeInterval]:
        if name not in self._by_name:
            raise UnknownTimeInterval(f"time interval {name} doesn't exist in config")
        return self._by_name[name]

    def muted(self, names: Iterable[str], t: float) -> bool:
        """A route's mute_time_intervals: muted while t is inside any interval of any name."""
        # Names are checked in order and the first hit wins, so, as in Alertmanager, an unknown
        # name after a matching one goes unnoticed here (config validation catches it).
        return any(in_any(self.get(name), t) for name in names)

    def active(self, names: Iterable[str], t: float) -> bool:
        """A route's active_time_intervals: always active without names, else as `muted`."""
        listed = list(names)
        return not listed or self.muted(listed, t)
