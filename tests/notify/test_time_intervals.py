"""Alertmanager 0.25 time intervals: parsing with its messages, and which instants they contain.

Cases marked "AM test" are the inputs and expectations of Alertmanager's own
timeinterval_test.go; messages were recorded from the Debian `amtool check-config` of 0.25.0,
and the oracle test at the end re-checks them against it when it is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from pydantic import Field, ValidationError

from alerting.configbase import Model
from alerting.notify.time_intervals import (
    IntRange,
    MuteTimeIntervalSpec,
    TimeInterval,
    TimeIntervals,
    TimeIntervalSpec,
    TimeRange,
    UnknownTimeInterval,
    duplicate_names,
    in_any,
    parse_time_of_day,
)
from alerting.validation import validate_document
from alerting.yaml_source import load_text


class _Config(Model):
    """The two sections of alertmanager.yml this module owns."""

    time_intervals: list[TimeIntervalSpec] = Field(default_factory=list)
    mute_time_intervals: list[MuteTimeIntervalSpec] = Field(default_factory=list)


def _go_time(text: str) -> float:
    """Go's time.RFC822Z ("02 Jan 06 15:04 -0700"), as Alertmanager's tests write instants."""
    return datetime.strptime(text, "%d %b %y %H:%M %z").timestamp()


def _iso(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def _interval(yaml_text: str) -> TimeInterval:
    model, problems = validate_document(TimeInterval, load_text(yaml_text, "ti.yml"))
    assert not problems, [str(p) for p in problems]
    assert model is not None
    return model


def _intervals(yaml_text: str) -> list[TimeInterval]:
    """A YAML list of intervals, as in Alertmanager's TestYamlUnmarshal."""
    doc = load_text(
        f"time_intervals:\n- name: x\n  time_intervals:\n{_indent(yaml_text)}", "am.yml"
    )
    model, problems = validate_document(_Config, doc)
    assert not problems, [str(p) for p in problems]
    assert model is not None
    return model.time_intervals[0].time_intervals


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.strip("\n").splitlines())


def _problems(yaml_text: str) -> list[str]:
    _, problems = validate_document(_Config, load_text(yaml_text, "am.yml"))
    return [str(p) for p in problems]


# ---------------------------------------------------------------- AM test: ContainsTime


CONTAINS_CASES: list[tuple[str, str, list[str], list[str]]] = [
    (
        "empty interval matches everything",
        "{}",
        ["02 Jan 06 15:04 +0000", "03 Jan 07 10:04 +0000", "04 Jan 06 09:04 +0000"],
        [],
    ),
    (
        "9am to 5pm, monday to friday",
        "times: [{start_time: '09:00', end_time: '17:00'}]\nweekdays: ['monday:friday']",
        ["04 May 20 15:04 +0000", "05 May 20 10:04 +0000", "09 Jun 20 09:04 +0000"],
        ["03 May 20 15:04 +0000", "04 May 20 08:59 +0000", "05 May 20 05:00 +0000"],
    ),
    (
        "Easter 2020",
        "days_of_month: ['4:6']\nmonths: ['april']\nyears: ['2020']",
        ["04 Apr 20 15:04 +0000", "05 Apr 20 00:00 +0000", "06 Apr 20 23:05 +0000"],
        [
            "03 May 18 15:04 +0000",
            "03 Apr 20 23:59 +0000",
            "04 Jun 20 23:59 +0000",
            "06 Apr 19 23:59 +0000",
            "07 Apr 20 00:00 +0000",
        ],
    ),
    (
        "last 3 days of each month",
        "days_of_month: ['-3:-1']",
        [
            "31 Jan 20 15:04 +0000",
            "30 Jan 20 15:04 +0000",
            "29 Jan 20 15:04 +0000",
            "30 Jun 20 00:00 +0000",
            "29 Feb 20 23:05 +0000",
        ],
        [
            "03 May 18 15:04 +0000",
            "27 Jan 20 15:04 +0000",
            "03 Apr 20 23:59 +0000",
            "04 Jun 20 23:59 +0000",
            "06 Apr 19 23:59 +0000",
            "07 Apr 20 00:00 +0000",
            "01 Mar 20 00:00 +0000",
        ],
    ),
    (
        "AEST 9am to 5pm, monday to friday",
        "times: [{start_time: '09:00', end_time: '17:00'}]\n"
        "weekdays: ['monday:friday']\nlocation: Australia/Sydney",
        ["06 Apr 21 13:00 +1000"],
        ["06 Apr 21 13:00 +0000"],
    ),
    (
        "Sydney during daylight saving time",
        "times: [{start_time: '09:00', end_time: '17:00'}]\n"
        "weekdays: ['monday:friday']\nmonths: ['november']\nlocation: Australia/Sydney",
        ["01 Nov 21 09:00 +1100", "31 Oct 21 22:00 +0000"],
        ["31 Oct 21 21:00 +0000"],
    ),
]


@pytest.mark.parametrize(
    ("interval_yaml", "inside", "outside"),
    [case[1:] for case in CONTAINS_CASES],
    ids=[case[0] for case in CONTAINS_CASES],
)
def test_contains_am_cases(interval_yaml: str, inside: list[str], outside: list[str]) -> None:
    interval = _interval(interval_yaml)
    assert [s for s in inside if not interval.contains(_go_time(s))] == []
    assert [s for s in outside if interval.contains(_go_time(s))] == []


def test_out_of_bound_days_are_clamped_to_the_month() -> None:
    # AM test built this range directly: -31:31 is refused when read from a config.
    interval = TimeInterval.model_construct(
        months=[IntRange(6, 6)], days_of_month=[IntRange(-31, 31)]
    )
    assert interval.contains(_go_time("30 Jun 20 00:00 +0000"))
    assert interval.contains(_go_time("01 Jun 20 00:00 +0000"))
    assert not interval.contains(_go_time("31 May 20 00:00 +0000"))
    assert not interval.contains(_go_time("01 Jul 20 00:00 +0000"))


# ---------------------------------------------------------------- AM test: YAML unmarshal


def test_unmarshal_business_hours() -> None:
    [interval] = _intervals(
        "- weekdays: ['monday:friday']\n  times:\n    - start_time: '09:00'\n      end_time: '17:00'"
    )
    assert interval.weekdays == [IntRange(1, 5)]
    assert interval.times is not None
    assert [(r.start_minute, r.end_minute) for r in interval.times] == [(540, 1020)]
    for s in ("08 Jul 20 09:00 +0000", "08 Jul 20 16:59 +0000", "01 Apr 21 13:00 +0000"):
        assert in_any([interval], _go_time(s)), s
    for s in ("08 Jul 20 05:00 +0000", "08 Jul 20 08:59 +0000"):
        assert not in_any([interval], _go_time(s)), s


def test_unmarshal_negative_indices_and_ranges() -> None:
    # Last week, excluding Saturday, of the first quarter, business hours, 2020-2025 and 2030-2035.
    intervals = _intervals(
        """
- weekdays: ['monday:friday', 'sunday']
  months: ['january:march']
  days_of_month: ['-7:-1']
  years: ['2020:2025', '2030:2035']
  times:
    - start_time: '09:00'
      end_time: '17:00'
"""
    )
    [interval] = intervals
    assert interval.weekdays == [IntRange(1, 5), IntRange(0, 0)]
    assert interval.months == [IntRange(1, 3)]
    assert interval.days_of_month == [IntRange(-7, -1)]
    assert interval.years == [IntRange(2020, 2025), IntRange(2030, 2035)]
    contains = [
        "27 Jan 21 09:00 +0000",
        "28 Jan 21 16:59 +0000",
        "29 Jan 21 13:00 +0000",
        "31 Mar 25 13:00 +0000",
        "31 Jan 35 13:00 +0000",
    ]
    excludes = [
        "30 Jan 21 13:00 +0000",  # Saturday
        "01 Apr 21 13:00 +0000",  # 4th month
        "30 Jan 26 13:00 +0000",  # 2026
        "31 Jan 35 17:01 +0000",  # after 5pm
    ]
    assert [s for s in contains if not in_any(intervals, _go_time(s))] == []
    assert [s for s in excludes if in_any(intervals, _go_time(s))] == []


@pytest.mark.parametrize(
    ("interval_yaml", "field", "value"),
    [
        ("days_of_month: ['1:-1']", "days_of_month", [IntRange(1, -1)]),
        ("months: ['January:december']", "months", [IntRange(1, 12)]),
        ("years: ['2020:2022']", "years", [IntRange(2020, 2022)]),
    ],
)
def test_unmarshal_accepted(interval_yaml: str, field: str, value: list[IntRange]) -> None:
    assert getattr(_interval(interval_yaml), field) == value


def test_unmarshal_location() -> None:
    interval = _interval("years: ['2020:2022']\nlocation: 'Australia/Sydney'")
    assert interval.location.name == "Australia/Sydney"


def test_complete_flow() -> None:
    interval = _interval(
        """
weekdays: ['monday:wednesday', 'saturday', 'sunday']
times:
  - start_time: '13:00'
    end_time: '15:00'
days_of_month: ['1', '10', '20:-1']
years: ['2020:2023']
months: ['january:march']
"""
    )
    for s in ("10 Jan 21 13:00 +0000", "30 Jan 21 14:24 +0000"):
        assert interval.contains(_go_time(s)), s
    for s in ("09 Jan 21 13:00 +0000", "20 Jan 21 12:59 +0000", "02 Feb 21 13:00 +0000"):
        assert not interval.contains(_go_time(s)), s


def test_no_broken_clamping_of_a_begin_after_the_month() -> None:
    interval = _interval("days_of_month: ['30:31']\nyears: ['2020:2023']\nmonths: ['february']")
    assert not interval.contains(_go_time("28 Feb 21 13:00 +0000"))


# ---------------------------------------------------------------- AM test: time of day


TIME_RANGE_CASES: list[tuple[str, int, int]] = [
    ("times: [{start_time: '00:00', end_time: '24:00'}]", 0, 1440),
    ("times: [{start_time: '01:35', end_time: '17:39'}]", 95, 1059),
    ("times: [{start_time: '09:35', end_time: '09:39'}]", 575, 579),
    ("times: [{start_time: '23:59', end_time: '24:00'}]", 1439, 1440),
]


@pytest.mark.parametrize(("fragment", "start", "end"), TIME_RANGE_CASES)
def test_time_range_minutes(fragment: str, start: int, end: int) -> None:
    times = _interval(fragment).times
    assert times is not None
    assert (times[0].start_minute, times[0].end_minute) == (start, end)


@pytest.mark.parametrize(
    ("times", "message"),
    [
        (
            "{start_time: '17:31', end_time: '17:31'}",
            "start time cannot be equal or greater than end time",
        ),
        (
            "{start_time: '09:30', end_time: '07:41'}",
            "start time cannot be equal or greater than end time",
        ),
        (
            "{start_time: '24:00', end_time: '17:41'}",
            "start time cannot be equal or greater than end time",
        ),
        (
            "{start_time: '24:00', end_time: '24:00'}",
            "start time cannot be equal or greater than end time",
        ),
        ("{start_time: '14:03'}", "both start and end times must be provided"),
        ("{end_time: '14:03'}", "both start and end times must be provided"),
        ("{}", "both start and end times must be provided"),
        ("{start_time: '', end_time: '10:00'}", "both start and end times must be provided"),
    ],
)
def test_time_range_errors(times: str, message: str) -> None:
    assert _interval_errors(f"times: [{times}]") == [f"times[0]: {message}"]


@pytest.mark.parametrize(
    ("times", "field", "text"),
    [
        ("{start_time: '12:30', end_time: '24:01'}", "end_time", "24:01"),
        ("{start_time: '01:99', end_time: '23:59'}", "start_time", "01:99"),
        ("{start_time: '00:00', end_time: '99:99'}", "end_time", "99:99"),
        ("{start_time: '9:00', end_time: '10:00'}", "start_time", "9:00"),
        ("{start_time: '25:00', end_time: '10:00'}", "start_time", "25:00"),
        ("{start_time: '09:60', end_time: '10:00'}", "start_time", "09:60"),
        ("{start_time: '0900', end_time: '10:00'}", "start_time", "0900"),
        ("{start_time: '09:00:00', end_time: '10:00'}", "start_time", "09:00:00"),
        ("{start_time: ' 09:00', end_time: '10:00'}", "start_time", " 09:00"),
        ("{start_time: 900, end_time: '10:00'}", "start_time", "900"),
        ("{start_time: '\uff10\uff19:00', end_time: '10:00'}", "start_time", "\uff10\uff19:00"),
    ],
)
def test_time_of_day_format(times: str, field: str, text: str) -> None:
    message = f"times[0].{field}: couldn't parse timestamp {text}, invalid format"
    assert _interval_errors(f"times: [{times}]") == [message]


def test_time_of_day_values() -> None:
    assert parse_time_of_day("00:00") == 0
    assert parse_time_of_day("23:59") == 1439
    assert parse_time_of_day("24:00") == 1440


# ---------------------------------------------------------------- messages of amtool check-config

# (fragment of one interval, where, message); `where` is our own addition, the path of the value.
ERROR_CASES: list[tuple[str, str, str]] = [
    ("weekdays: ['friday:monday']", "weekdays[0]", "start day cannot be before end day"),
    ("weekdays: ['saturday:sunday']", "weekdays[0]", "start day cannot be before end day"),
    ("weekdays: ['blurgsday:flurgsday']", "weekdays[0]", "blurgsday is not a valid weekday"),
    ("weekdays: ['Funday']", "weekdays[0]", "funday is not a valid weekday"),
    ("weekdays: ['1:3']", "weekdays[0]", "1 is not a valid weekday"),
    ("weekdays: ['-2:-1']", "weekdays[0]", "-2 is not a valid weekday"),
    ("weekdays: ['7']", "weekdays[0]", "7 is not a valid weekday"),
    ("weekdays: [1]", "weekdays[0]", "1 is not a valid weekday"),
    ("weekdays: ['mon']", "weekdays[0]", "mon is not a valid weekday"),
    ("weekdays: [' monday']", "weekdays[0]", " monday is not a valid weekday"),
    ("weekdays: ['']", "weekdays[0]", " is not a valid weekday"),
    ("weekdays: [':monday']", "weekdays[0]", " is not a valid weekday"),
    (
        "weekdays: ['Monday:Tuesday:Wednesday']",
        "weekdays[0]",
        "couldn't parse range monday:tuesday:wednesday, invalid format",
    ),
    ("days_of_month: ['0']", "days_of_month[0]", "0 is not a valid day of the month: out of range"),
    (
        "days_of_month: ['-0']",
        "days_of_month[0]",
        "0 is not a valid day of the month: out of range",
    ),
    (
        "days_of_month: ['-50:-20']",
        "days_of_month[0]",
        "-50 is not a valid day of the month: out of range",
    ),
    (
        "days_of_month: ['1:50']",
        "days_of_month[0]",
        "50 is not a valid day of the month: out of range",
    ),
    (
        "days_of_month: ['32']",
        "days_of_month[0]",
        "32 is not a valid day of the month: out of range",
    ),
    (
        "days_of_month: ['-15:5']",
        "days_of_month[0]",
        "end day must be negative if start day is negative",
    ),
    ("days_of_month: ['10:-25']", "days_of_month[0]", "end day -25 is always before start day 10"),
    ("days_of_month: ['-1:-3']", "days_of_month[0]", "end day -3 is always before start day -1"),
    ("days_of_month: ['-1:-31']", "days_of_month[0]", "end day -31 is always before start day -1"),
    ("days_of_month: ['5:1']", "days_of_month[0]", "end day 1 is always before start day 5"),
    ("days_of_month: ['29:-1']", "days_of_month[0]", "end day -1 is always before start day 29"),
    ("days_of_month: ['28:-1']", "days_of_month[0]", "end day -1 is always before start day 28"),
    ("days_of_month: ['1:-28']", "days_of_month[0]", "end day -28 is always before start day 1"),
    (
        "days_of_month: ['fooday']",
        "days_of_month[0]",
        'strconv.Atoi: parsing "fooday": invalid syntax',
    ),
    ("days_of_month: ['1:foo']", "days_of_month[0]", 'strconv.Atoi: parsing "foo": invalid syntax'),
    ("days_of_month: [' 1']", "days_of_month[0]", 'strconv.Atoi: parsing " 1": invalid syntax'),
    ("days_of_month: ['1.5']", "days_of_month[0]", 'strconv.Atoi: parsing "1.5": invalid syntax'),
    ("days_of_month: ['0x1f']", "days_of_month[0]", 'strconv.Atoi: parsing "0x1f": invalid syntax'),
    ("days_of_month: ['1_0']", "days_of_month[0]", 'strconv.Atoi: parsing "1_0": invalid syntax'),
    ("days_of_month: [true]", "days_of_month[0]", 'strconv.Atoi: parsing "true": invalid syntax'),
    (
        "days_of_month: ['99999999999999999999']",
        "days_of_month[0]",
        'strconv.Atoi: parsing "99999999999999999999": value out of range',
    ),
    ("months: ['martius:june']", "months[0]", "martius is not a valid month"),
    ("months: ['march:junius']", "months[0]", "junius is not a valid month"),
    ("months: ['jan']", "months[0]", "jan is not a valid month"),
    ("months: ['FOO']", "months[0]", "foo is not a valid month"),
    (
        "months: ['december:january']",
        "months[0]",
        "end month january is before start month december",
    ),
    ("months: ['12:1']", "months[0]", "end month january is before start month december"),
    # Alertmanager looks up names of numbers it never range-checked; unknown ones print empty.
    ("months: ['13:12']", "months[0]", "end month december is before start month "),
    ("years: ['2022:2020']", "years[0]", "end year 2020 is before start year 2022"),
    ("years: ['foo']", "years[0]", 'strconv.Atoi: parsing "foo": invalid syntax'),
    ("years: ['2020:']", "years[0]", 'strconv.Atoi: parsing "": invalid syntax'),
    ("location: 'Mars/Olympus'", "location", "unknown time zone Mars/Olympus"),
    ("location: 'europe/berlin'", "location", "unknown time zone europe/berlin"),
    ("location: 5", "location", "unknown time zone 5"),
    ("location: '../etc/passwd'", "location", "time: invalid location name"),
]


def _interval_errors(fragment: str) -> list[str]:
    _, problems = validate_document(TimeInterval, load_text(fragment, "ti.yml"))
    return [p.message for p in problems]


@pytest.mark.parametrize(("fragment", "where", "message"), ERROR_CASES)
def test_parse_errors(fragment: str, where: str, message: str) -> None:
    assert _interval_errors(fragment) == [f"{where}: {message}"]


ACCEPTED_CASES: list[tuple[str, str, object]] = [
    # Accepted by Alertmanager too: strconv.Atoi takes a sign and leading zeros ...
    ("days_of_month: ['+1']", "days_of_month", [IntRange(1, 1)]),
    ("days_of_month: ['01']", "days_of_month", [IntRange(1, 1)]),
    ("days_of_month: [5]", "days_of_month", [IntRange(5, 5)]),
    ("days_of_month: ['1:31']", "days_of_month", [IntRange(1, 31)]),
    ("days_of_month: ['-31:-1']", "days_of_month", [IntRange(-31, -1)]),
    # ... and month numbers and years are not range-checked at all.
    ("months: ['13']", "months", [IntRange(13, 13)]),
    ("months: ['0:13']", "months", [IntRange(0, 13)]),
    ("months: ['-1']", "months", [IntRange(-1, -1)]),
    ("months: ['January:12', 'DECEMBER']", "months", [IntRange(1, 12), IntRange(12, 12)]),
    ("years: ['-5']", "years", [IntRange(-5, -5)]),
    ("years: [2020]", "years", [IntRange(2020, 2020)]),
    ("weekdays: ['Monday', 'SUNDAY:saturday']", "weekdays", [IntRange(1, 1), IntRange(0, 6)]),
    ("weekdays: []", "weekdays", []),
    ("weekdays: ~", "weekdays", None),
]


@pytest.mark.parametrize(("fragment", "field", "value"), ACCEPTED_CASES)
def test_accepted_like_alertmanager(fragment: str, field: str, value: object) -> None:
    assert getattr(_interval(fragment), field) == value


LOCATION_CASES: list[tuple[str, str]] = [
    ("{}", "UTC"),
    ("location: ~", "UTC"),
    ("location: ''", "UTC"),
    ("location: UTC", "UTC"),
    ("location: Local", "Local"),
    ("location: EST", "EST"),
    ("location: Etc/GMT+5", "Etc/GMT+5"),
    ("location: US/Pacific", "US/Pacific"),
]


@pytest.mark.parametrize(("fragment", "name"), LOCATION_CASES)
def test_locations(fragment: str, name: str) -> None:
    assert _interval(fragment).location.name == name


def test_unknown_keys_are_refused() -> None:
    assert _interval_errors("time_zone: UTC") == ['unknown field "time_zone"']
    assert _interval_errors("times: [{start_time: '09:00', end_time: '10:00', foo: 1}]") == [
        'unknown field "foo" in times[0]'
    ]


def test_null_entries_are_refused() -> None:
    # Alertmanager reads `[~]` as a zero range (for weekdays: Sunday); we call it a mistake.
    assert _interval_errors("weekdays: [~]") == ["weekdays[0]: null is not a valid weekday"]
    assert _interval_errors("days_of_month: [~]") == [
        "days_of_month[0]: null is not a valid day of the month"
    ]


# ---------------------------------------------------------------- positions and names


def test_problems_carry_file_line_and_column() -> None:
    text = """\
time_intervals:
- name: office
  time_intervals:
  - weekdays: ['monday:friday', 'friday:monday']
    times:
    - start_time: '09:00'
      end_time: '9:00'
    - {start_time: '17:00', end_time: '08:00'}
    location: Mars/Olympus
mute_time_intervals:
- time_intervals: []
"""
    assert _problems(text) == [
        "am.yml:4:33: time_intervals[0].time_intervals[0].weekdays[1]: "
        "start day cannot be before end day",
        "am.yml:7:17: time_intervals[0].time_intervals[0].times[0].end_time: "
        "couldn't parse timestamp 9:00, invalid format",
        "am.yml:8:7: time_intervals[0].time_intervals[0].times[1]: "
        "start time cannot be equal or greater than end time",
        "am.yml:9:15: time_intervals[0].time_intervals[0].location: unknown time zone Mars/Olympus",
        "am.yml:11:3: mute_time_intervals[0].name: missing name in mute time interval",
    ]


def test_missing_names() -> None:
    assert _problems("time_intervals: [{time_intervals: []}]") == [
        "am.yml:1:18: time_intervals[0].name: missing name in time interval"
    ]
    assert _problems("time_intervals:\n- name: ''") == [
        "am.yml:2:9: time_intervals[0].name: missing name in time interval"
    ]


def test_name_and_intervals_may_be_sparse() -> None:
    doc = _Config.model_validate({"time_intervals": [{"name": 5, "time_intervals": None}]})
    assert doc.time_intervals[0].name == "5"
    assert doc.time_intervals[0].time_intervals == []


def test_duplicate_names_point_at_the_repeat() -> None:
    text = """\
mute_time_intervals:
- name: night
- name: night
time_intervals:
- name: weekend
- name: night
- name: weekend
"""
    doc = load_text(text, "am.yml")
    config, problems = validate_document(_Config, doc)
    assert config is not None and not problems
    clashes = duplicate_names(config.mute_time_intervals, config.time_intervals)
    assert [str(doc.problem(c.path, c.message)) for c in clashes] == [
        'am.yml:3:9: mute time interval "night" is not unique',
        'am.yml:6:9: time interval "night" is not unique',
        'am.yml:7:9: time interval "weekend" is not unique',
    ]


def test_no_duplicates() -> None:
    specs = [TimeIntervalSpec(name="a"), TimeIntervalSpec(name="b")]
    assert duplicate_names([MuteTimeIntervalSpec(name="c")], specs) == []


# ---------------------------------------------------------------- semantics beyond AM's tests


def test_24_00_ends_the_day() -> None:
    interval = _interval("times: [{start_time: '22:00', end_time: '24:00'}]")
    assert interval.contains(_iso("2024-05-01T23:59:59+00:00"))
    assert interval.contains(_iso("2024-05-01T22:00:00+00:00"))
    assert not interval.contains(_iso("2024-05-02T00:00:00+00:00"))
    assert not interval.contains(_iso("2024-05-01T21:59:59+00:00"))


def test_end_minute_is_exclusive_and_seconds_do_not_count() -> None:
    interval = _interval("times: [{start_time: '09:00', end_time: '09:01'}]")
    assert interval.contains(_iso("2024-05-01T09:00:59.999+00:00"))
    assert not interval.contains(_iso("2024-05-01T09:01:00+00:00"))


def test_any_range_of_a_field_may_match() -> None:
    interval = _interval(
        "times: [{start_time: '00:00', end_time: '06:00'}, {start_time: '22:00', end_time: '24:00'}]"
    )
    assert interval.contains(_iso("2024-05-01T05:00:00+00:00"))
    assert interval.contains(_iso("2024-05-01T23:00:00+00:00"))
    assert not interval.contains(_iso("2024-05-01T12:00:00+00:00"))


def test_an_empty_list_matches_nothing() -> None:
    # Go's YAML decoder makes `[]` a non-nil empty slice, which no instant satisfies.
    assert not _interval("weekdays: []").contains(_iso("2024-05-01T12:00:00+00:00"))
    assert not _interval("times: []").contains(_iso("2024-05-01T12:00:00+00:00"))


@pytest.mark.parametrize(
    ("fragment", "inside", "outside"),
    [
        (
            "weekdays: ['SATURDAY', 'Sunday']",
            ["2024-06-01T12:00", "2024-06-02T23:59"],  # Saturday, Sunday
            ["2024-06-03T00:00", "2024-05-31T23:59"],  # Monday, Friday
        ),
        (
            "months: ['DECEMBER:december', 'January']",
            ["2023-12-31T23:59", "2024-01-01T00:00", "2024-01-31T12:00"],
            ["2024-02-01T00:00", "2023-11-30T23:59"],
        ),
    ],
)
def test_names_in_any_case(fragment: str, inside: list[str], outside: list[str]) -> None:
    interval = _interval(fragment)
    assert all(interval.contains(_iso(f"{s}+00:00")) for s in inside)
    assert not any(interval.contains(_iso(f"{s}+00:00")) for s in outside)


@pytest.mark.parametrize(
    ("days", "month", "inside", "outside"),
    [
        # The last day in months of 31, 30, 29 and 28 days.
        ("-1", "2024-01", [31], [30]),
        ("-1", "2024-04", [30], [29]),
        ("-1", "2024-02", [29], [28]),
        ("-1", "2023-02", [28], [27]),
        # -31:-1 is "the whole month" however long it is.
        ("-31:-1", "2023-02", [1, 14, 28], []),
        ("-31:-1", "2024-04", [1, 30], []),
        # A positive range past the month's end stops at its last day.
        ("1:31", "2024-04", [1, 30], []),
        ("15:31", "2023-02", [15, 28], [14]),
        # A range starting after the month's end matches nothing in it.
        ("29:31", "2023-02", [], [1, 27, 28]),
        ("29:31", "2024-02", [29], [28]),
        ("31", "2024-06", [], [30]),
        # Mixed: from the 20th to the second-last day.
        ("20:-2", "2024-02", [20, 28], [19, 29]),
        ("20:-2", "2024-03", [20, 30], [19, 31]),
        # Negative ranges resolve against each month's own length.
        ("-30:-29", "2024-03", [2, 3], [1, 4]),
        ("-30:-29", "2024-02", [1], [2, 29]),
        ("-30:-29", "2023-02", [], list(range(1, 29))),
    ],
)
def test_days_of_month(days: str, month: str, inside: list[int], outside: list[int]) -> None:
    interval = _interval(f"days_of_month: ['{days}']")
    for day in inside:
        assert interval.contains(_iso(f"{month}-{day:02d}T12:00:00+00:00")), day
    for day in outside:
        assert not interval.contains(_iso(f"{month}-{day:02d}T12:00:00+00:00")), day


def test_location_with_daylight_saving_time() -> None:
    interval = _interval(
        "times: [{start_time: '09:00', end_time: '17:00'}]\nlocation: Europe/Berlin"
    )
    assert interval.contains(_iso("2024-01-15T08:30:00+00:00"))  # 09:30 CET
    assert interval.contains(_iso("2024-07-15T07:30:00+00:00"))  # 09:30 CEST
    assert not interval.contains(_iso("2024-07-15T15:30:00+00:00"))  # 17:30 CEST
    assert interval.contains(_iso("2024-01-15T15:30:00+00:00"))  # 16:30 CET


def test_wall_clock_hours_skipped_and_repeated_by_dst() -> None:
    interval = _interval(
        "times: [{start_time: '02:00', end_time: '03:00'}]\nlocation: Europe/Berlin"
    )
    # 2024-03-31: clocks jump from 02:00 CET to 03:00 CEST, so the hour never happens.
    assert not interval.contains(_iso("2024-03-31T00:59:59+00:00"))  # 01:59:59 CET
    assert not interval.contains(_iso("2024-03-31T01:00:00+00:00"))  # 03:00 CEST
    # 2024-10-27: 02:00-03:00 happens twice, once in CEST and once in CET.
    assert interval.contains(_iso("2024-10-27T00:30:00+00:00"))
    assert interval.contains(_iso("2024-10-27T01:30:00+00:00"))
    assert not interval.contains(_iso("2024-10-27T02:00:00+00:00"))


def test_location_decides_the_day_too() -> None:
    interval = _interval("weekdays: ['monday']\ndays_of_month: ['-1']\nlocation: America/New_York")
    # 2024-09-30 is a Monday and the last day of September in New York until 04:00 UTC next day.
    assert interval.contains(_iso("2024-10-01T03:59:00+00:00"))
    assert not interval.contains(_iso("2024-10-01T04:00:00+00:00"))
    assert not interval.contains(_iso("2024-09-30T03:59:00+00:00"))  # still Sunday 29th there


def test_last_day_of_a_spring_forward_month() -> None:
    # Deliberate difference: Alertmanager 0.25 takes March in Berlin to have 30 days (it measures
    # 743 hours), so its -1 is March 30; we use the calendar, as Alertmanager does since the fix.
    interval = _interval("days_of_month: ['-1']\nlocation: Europe/Berlin")
    assert interval.contains(_iso("2024-03-31T12:00:00+00:00"))
    assert not interval.contains(_iso("2024-03-30T12:00:00+00:00"))


def test_years_are_seen_in_the_location() -> None:
    interval = _interval("years: ['2025']\nlocation: Asia/Tokyo")
    assert interval.contains(_iso("2024-12-31T15:00:00+00:00"))  # 00:00 on 2025-01-01 in Tokyo
    assert not interval.contains(_iso("2024-12-31T14:59:59+00:00"))


@pytest.fixture
def new_york_local_time() -> Iterator[None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.mark.usefixtures("new_york_local_time")
def test_local_is_the_hosts_zone() -> None:
    local = _interval("times: [{start_time: '09:00', end_time: '10:00'}]\nlocation: Local")
    utc = _interval("times: [{start_time: '09:00', end_time: '10:00'}]")
    at = _iso("2024-07-15T13:30:00+00:00")  # 09:30 EDT
    assert local.contains(at)
    assert not utc.contains(at)


def test_dump_loads_back() -> None:
    interval = _interval(
        """
times: [{start_time: '09:00', end_time: '24:00'}]
weekdays: ['Monday:FRIDAY', 'sunday']
days_of_month: ['-3:-1', '1']
months: ['march:May']
years: ['2020:2025']
location: Europe/Berlin
"""
    )
    dumped = interval.model_dump()
    assert dumped == {
        "times": [{"start_time": "09:00", "end_time": "24:00"}],
        "weekdays": ["monday:friday", "sunday"],
        "days_of_month": ["-3:-1", "1"],
        "months": ["3:5"],
        "years": ["2020:2025"],
        "location": "Europe/Berlin",
    }
    assert TimeInterval.model_validate(dumped) == interval


def test_unquoted_times_and_ranges() -> None:
    # YAML 1.1 would read these as base-60 numbers; Go's yaml.v2, and our loader, keep the text.
    interval = _interval(
        "times: [{start_time: 09:00, end_time: 17:00}]\ndays_of_month: [1:5]\nmonths: [1:3]"
    )
    assert interval.times is not None
    assert interval.times[0].end_minute == 1020
    assert interval.days_of_month == [IntRange(1, 5)]


# ---------------------------------------------------------------- the registry


def _registry() -> TimeIntervals:
    config = _Config.model_validate(
        {
            "mute_time_intervals": [
                {
                    "name": "night",
                    "time_intervals": [{"times": [{"start_time": "22:00", "end_time": "24:00"}]}],
                },
            ],
            "time_intervals": [
                {"name": "weekend", "time_intervals": [{"weekdays": ["saturday", "sunday"]}]},
                {"name": "never", "time_intervals": []},
            ],
        }
    )
    return TimeIntervals([*config.mute_time_intervals, *config.time_intervals])


SATURDAY_NOON = _iso("2024-06-01T12:00:00+00:00")
MONDAY_NOON = _iso("2024-06-03T12:00:00+00:00")
MONDAY_NIGHT = _iso("2024-06-03T23:00:00+00:00")


def test_muted() -> None:
    registry = _registry()
    assert registry.muted(["weekend"], SATURDAY_NOON)
    assert not registry.muted(["weekend"], MONDAY_NOON)
    assert registry.muted(["weekend", "night"], MONDAY_NIGHT)
    assert not registry.muted(["never"], MONDAY_NOON)
    assert not registry.muted([], MONDAY_NOON)


def test_active() -> None:
    registry = _registry()
    assert registry.active([], MONDAY_NOON)
    assert registry.active(["weekend"], SATURDAY_NOON)
    assert not registry.active(["weekend"], MONDAY_NOON)
    assert registry.active(["never", "night"], MONDAY_NIGHT)
    assert not registry.active(["never"], SATURDAY_NOON)


def test_unknown_names() -> None:
    registry = _registry()
    assert "weekend" in registry and "holidays" not in registry
    assert registry.names() == ["night", "weekend", "never"]
    with pytest.raises(UnknownTimeInterval, match="time interval holidays doesn't exist in config"):
        registry.muted(["weekend", "holidays"], MONDAY_NOON)
    # As in Alertmanager, the first match ends the search before the unknown name is reached.
    assert registry.muted(["weekend", "holidays"], SATURDAY_NOON)


def test_registry_refuses_duplicates() -> None:
    with pytest.raises(ValueError, match='time interval "a" is not unique'):
        TimeIntervals([TimeIntervalSpec(name="a"), MuteTimeIntervalSpec(name="a")])


def test_in_any_of_nothing() -> None:
    assert not in_any([], MONDAY_NOON)


def test_spec_requires_a_name_in_python_too() -> None:
    with pytest.raises(ValidationError, match="missing name in time interval"):
        TimeIntervalSpec()


# ---------------------------------------------------------------- oracle: the real amtool


def _with_interval(fragment: str) -> str:
    return (
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
        f"time_intervals:\n- name: ti\n  time_intervals:\n  - {fragment}\n"
    )


def _amtool_verdicts(configs: list[str], workdir: Path) -> list[str]:
    """amtool check-config's verdict on each config: "SUCCESS" or its (first) error message."""
    files = []
    for i, config in enumerate(configs):
        path = workdir / f"c{i}.yml"
        path.write_text(config)
        files.append(path)
    run = subprocess.run(
        ["amtool", "check-config", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    verdicts = {}
    for line in run.stdout.splitlines():
        if line.startswith("Checking '"):
            name, _, rest = line.removeprefix("Checking '").partition("'")
            verdicts[name] = rest.lstrip().removeprefix("FAILED: ")
    return [verdicts[str(path)] for path in files]


needs_amtool = pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool is not installed")


@needs_amtool
def test_messages_match_amtool(tmp_path: Path) -> None:
    configs = [_with_interval(case[0]) for case in ERROR_CASES]
    assert _amtool_verdicts(configs, tmp_path) == [case[2] for case in ERROR_CASES]


@needs_amtool
def test_accepted_by_amtool(tmp_path: Path) -> None:
    fragments = [case[0] for case in ACCEPTED_CASES + LOCATION_CASES + TIME_RANGE_CASES]
    verdicts = _amtool_verdicts([_with_interval(f) for f in fragments], tmp_path)
    assert dict(zip(fragments, verdicts, strict=True)) == dict.fromkeys(fragments, "SUCCESS")


@needs_amtool
def test_name_messages_match_amtool(tmp_path: Path) -> None:
    head = "route: {receiver: r}\nreceivers: [{name: r}]\n"
    configs = {
        "mute_time_intervals: [{name: a}]\ntime_intervals: [{name: a}]": 'time interval "a" is not unique',
        "mute_time_intervals: [{name: a}, {name: a}]": 'mute time interval "a" is not unique',
        "time_intervals: [{name: b}, {name: b}]": 'time interval "b" is not unique',
        "time_intervals: [{time_intervals: []}]": "missing name in time interval",
        "mute_time_intervals: [{name: ''}]": "missing name in mute time interval",
    }
    verdicts = _amtool_verdicts([head + body for body in configs], tmp_path)
    ours = [_first_name_problem(body) for body in configs]
    assert verdicts == list(configs.values())
    assert ours == list(configs.values())


def _first_name_problem(body: str) -> str:
    config, problems = validate_document(_Config, load_text(body, "am.yml"))
    if problems:
        return problems[0].message.partition(": ")[2]
    assert config is not None
    return duplicate_names(config.mute_time_intervals, config.time_intervals)[0].message


def test_built_in_python() -> None:
    interval = TimeInterval(
        times=[TimeRange(start_time="22:00", end_time="24:00")],
        weekdays=["Friday"],
        location="Europe/Berlin",
    )
    assert interval.times is not None and interval.times[0].start_minute == 1320
    assert interval.contains(_iso("2024-06-07T21:30:00+00:00"))  # Friday 23:30 CEST
    assert not interval.contains(_iso("2024-06-07T22:30:00+00:00"))  # Saturday 00:30 CEST
