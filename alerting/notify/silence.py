"""Silences with Alertmanager 0.25's rules: validation, Set and Expire, muting, and API v2 JSON."""

from __future__ import annotations

import bisect
import calendar
import math
import re
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from alerting.labels import (
    LABEL_NAME_RE,
    Labels,
    Matcher,
    MatchType,
    go_quote,
    label_key,
    matches_all,
)
from alerting.regex import RegexError, compile_go_regex, match_string

SilenceState = Literal["pending", "active", "expired"]
STATES: tuple[SilenceState, ...] = ("active", "pending", "expired")

# Alertmanager's --data.retention default: how long an expired silence is kept.
DEFAULT_RETENTION = 120 * 3600.0
# Label sets whose matching silences are remembered; the oldest are forgotten first.
MUTES_CACHE_SIZE = 1 << 16


class SilenceError(ValueError):
    """A silence Alertmanager would refuse. The text is what its API answers; `status` its code."""

    status: int = 400

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class SilenceNotFound(SilenceError):
    status = 404


@dataclass(frozen=True, slots=True)
class Silence:
    id: str = ""
    matchers: tuple[Matcher, ...] = ()
    starts_at: float = 0.0
    ends_at: float = 0.0
    updated_at: float = 0.0
    created_by: str = ""
    comment: str = ""

    def state(self, now: float) -> SilenceState:
        """As the API reports it: a silence ended at `now` is expired (Alertmanager's
        internal getState would still call it active for that one instant)."""
        if now < self.starts_at:
            return "pending"
        if now < self.ends_at:
            return "active"
        return "expired"

    def mutes(self, labels: Labels) -> bool:
        """Whether the matchers select `labels`, whatever the silence's state."""
        return matches_all(self.matchers, labels)


# --- validation ---------------------------------------------------------------------------


def validate_silence(silence: Silence, now: float | None = None) -> None:
    """Raise SilenceError as Alertmanager 0.25 refuses a silence.

    With `now`, first the time checks its API makes on every POST; then the checks of its
    silence store. Either way the message is the body Alertmanager answers with.
    """
    if now is not None:
        validate_post_times(silence, now)
    reason = _invalid_reason(silence)
    if reason:
        raise SilenceError(f"silence invalid: {reason}")


def validate_post_times(silence: Silence, now: float) -> None:
    """The checks of POST /api/v2/silences before the silence reaches the store."""
    if silence.starts_at >= silence.ends_at:
        raise SilenceError("Failed to create silence: start time must be before end time")
    if silence.ends_at < now:
        raise SilenceError("Failed to create silence: end time can't be in the past")


def _invalid_reason(silence: Silence) -> str:
    if not silence.matchers:
        return "at least one matcher required"
    for i, matcher in enumerate(silence.matchers):
        reason = _invalid_matcher(matcher)
        if reason:
            return f"invalid label matcher {i}: {reason}"
    if all(_matches_empty(m) for m in silence.matchers):
        return "at least one matcher must not match the empty string"
    if silence.starts_at == 0:
        return "invalid zero start timestamp"
    if silence.ends_at == 0:
        return "invalid zero end timestamp"
    if silence.ends_at < silence.starts_at:
        return "end time must not be before start time"
    return ""


def _invalid_matcher(matcher: Matcher) -> str:
    if not LABEL_NAME_RE.match(matcher.name):
        return f"invalid label name {go_quote(matcher.name)}"
    if matcher.type in (MatchType.EQUAL, MatchType.NOT_EQUAL):
        if _SURROGATE.search(matcher.value):  # not valid UTF-8
            return f"invalid label value {go_quote(matcher.value)}"
        return ""
    return _regex_error(matcher.value)


def _regex_error(pattern: str) -> str:
    # Alertmanager 0.25 compiles the pattern as written, not anchored: `a)|(b` is refused
    # here although the anchored form used for matching would compile.
    try:
        compile_go_regex(pattern)
    except RegexError as err:
        return f"invalid regular expression {go_quote(pattern)}: {err}"
    return ""


def _matches_empty(matcher: Matcher) -> bool:
    if matcher.type == MatchType.EQUAL:
        return matcher.value == ""
    if matcher.type == MatchType.REGEX:
        return match_string(matcher.value, "")
    return False


# --- the registry -------------------------------------------------------------------------


@dataclass(slots=True)
class _Cached:
    """The silences known to select one label set, as of sequence number `seen`."""

    seen: int
    ids: list[str]


@dataclass(slots=True)
class _Index:
    """Silences in creation order, bucketed so that a label set is checked only against the
    silences that could select it: by a `name="value"` matcher where a silence has one (only
    label sets holding that pair qualify), otherwise by its first matcher (tried once for
    all the silences sharing it)."""

    by_pair: dict[tuple[str, str], list[tuple[int, str]]] = field(default_factory=dict)
    by_matcher: dict[Matcher, list[tuple[int, str]]] = field(default_factory=dict)

    def add(self, seq: int, silence: Silence) -> None:
        pair = _index_pair(silence)
        if pair is not None:
            bucket = self.by_pair.setdefault(pair, [])
        else:
            first = silence.matchers[0] if silence.matchers else _ANYTHING
            bucket = self.by_matcher.setdefault(first, [])
        bucket.append((seq, silence.id))

    def candidates(
        self, labels: Labels, since: int, selects: Callable[[Matcher], bool]
    ) -> list[str]:
        """Ids of silences with sequence >= since that might select `labels`."""
        found: list[str] = []
        for pair in labels.items():
            bucket = self.by_pair.get(pair)
            if bucket and bucket[-1][0] >= since:
                found.extend(_since(bucket, since))
        for matcher, bucket in self.by_matcher.items():
            if bucket[-1][0] >= since and selects(matcher):
                found.extend(_since(bucket, since))
        return found


# What a silence loaded without matchers is filed under: like it, it selects every label set.
_ANYTHING = Matcher("", MatchType.EQUAL, "")


def _index_pair(silence: Silence) -> tuple[str, str] | None:
    # A non-empty `name="value"` matcher selects only label sets holding exactly that pair.
    for m in silence.matchers:
        if m.type == MatchType.EQUAL and m.value:
            return (m.name, m.value)
    return None


def _since(bucket: list[tuple[int, str]], since: int) -> list[str]:
    start = bisect.bisect_left(bucket, since, key=lambda entry: entry[0])
    return [sid for _, sid in bucket[start:]]


class Silences:
    """The silences, in memory, with Alertmanager 0.25's Set and Expire.

    Persistence belongs to the caller: `version` changes on every mutation, `snapshot()`
    and `load()` carry the whole state.
    """

    def __init__(self, cache_size: int = MUTES_CACHE_SIZE) -> None:
        self._by_id: dict[str, Silence] = {}
        self._seq: dict[str, int] = {}
        self._next_seq = 0
        self._index = _Index()
        self._cache: OrderedDict[tuple[str, ...], _Cached] = OrderedDict()
        self._cache_size = cache_size
        self.version = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, silence_id: str) -> Silence | None:
        return self._by_id.get(silence_id)

    def set(self, silence: Silence, now: float) -> str:
        """Create or update; returns the id the silence is stored under.

        An update keeps its id only where Alertmanager updates in place (same matchers; an
        active silence keeps its start second and does not end in the past; a pending one
        does not start in the past). Otherwise a new silence is created, starting no earlier
        than now, and the old one, unless already expired, is expired. Unlike 0.25, which
        expired the old silence before validating the new one, a refused update changes
        nothing (as later Alertmanager releases do).
        """
        prev = self._previous(silence.id)
        if prev is not None and _can_update(prev, silence, now):
            updated = replace(silence, updated_at=now)
            validate_silence(updated)
            self._by_id[updated.id] = updated
            self.version += 1
            return updated.id
        created = replace(
            silence,
            id=str(uuid.uuid4()),
            starts_at=max(silence.starts_at, now),
            updated_at=now,
        )
        validate_silence(created)
        if prev is not None:
            self._expire(prev, now)
        self._add(created)
        return created.id

    def expire(self, silence_id: str, now: float) -> None:
        """End a silence now; a pending one gets start = end = now. Expired ones stay as they are."""
        silence = self._by_id.get(silence_id)
        if silence is None:
            raise SilenceNotFound("silence not found")
        self._expire(silence, now)

    def query(self, state: SilenceState | None = None, now: float | None = None) -> list[Silence]:
        """All silences in creation order, or those in `state` at `now`."""
        if state is None:
            return list(self._by_id.values())
        if now is None:
            raise ValueError("a query by state needs now")
        return [s for s in self._by_id.values() if s.state(now) == state]

    def mutes(self, labels: Labels, now: float) -> list[str]:
        """Sorted ids of the silences active at `now` that select `labels`."""
        cached = self._matching(labels)
        active: list[str] = []
        collected = False
        for sid in cached.ids:
            silence = self._by_id.get(sid)
            if silence is None:
                collected = True
            elif silence.state(now) == "active":
                active.append(sid)
        if collected:
            cached.ids = [sid for sid in cached.ids if sid in self._by_id]
        active.sort()
        return active

    def gc(self, now: float, retention: float = DEFAULT_RETENTION) -> int:
        """Drop silences that ended at least `retention` ago; returns how many."""
        doomed = [sid for sid, s in self._by_id.items() if s.ends_at + retention <= now]
        for sid in doomed:
            del self._by_id[sid]
            del self._seq[sid]
        if doomed:
            self._reindex()
            self.version += 1
        return len(doomed)

    def snapshot(self) -> list[Silence]:
        return list(self._by_id.values())

    def load(self, silences: Iterable[Silence]) -> None:
        """Replace the whole state (as read back from storage)."""
        self._by_id = {}
        self._seq = {}
        for silence in silences:
            self._by_id[silence.id] = silence
            self._seq[silence.id] = self._next_seq
            self._next_seq += 1
        self._reindex()
        self._cache.clear()  # an id may now carry other matchers
        self.version += 1

    def _previous(self, silence_id: str) -> Silence | None:
        if not silence_id:
            return None
        prev = self._by_id.get(silence_id)
        if prev is None:
            raise SilenceNotFound("silence not found")
        return prev

    def _add(self, silence: Silence) -> None:
        seq = self._next_seq
        self._next_seq += 1
        self._by_id[silence.id] = silence
        self._seq[silence.id] = seq
        self._index.add(seq, silence)
        self.version += 1

    def _expire(self, silence: Silence, now: float) -> None:
        match silence.state(now):
            case "expired":
                return
            case "active":
                ended = replace(silence, ends_at=now, updated_at=now)
            case "pending":
                ended = replace(silence, starts_at=now, ends_at=now, updated_at=now)
        self._by_id[silence.id] = ended
        self.version += 1

    def _reindex(self) -> None:
        self._index = _Index()
        for sid in sorted(self._by_id, key=self._seq.__getitem__):  # buckets stay in seq order
            self._index.add(self._seq[sid], self._by_id[sid])

    def _matching(self, labels: Labels) -> _Cached:
        # An id's matchers never change (an update in place requires equal matchers), so
        # what is cached stays true and only silences created since need checking.
        key = label_key(labels)
        cached = self._cache.get(key)
        if cached is None:
            cached = _Cached(seen=0, ids=[])
            self._cache[key] = cached
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        if cached.seen < self._next_seq:
            selects = _memoized(labels)
            for sid in self._index.candidates(labels, cached.seen, selects):
                silence = self._by_id.get(sid)
                if silence is not None and all(map(selects, silence.matchers)):
                    cached.ids.append(sid)
            cached.seen = self._next_seq
        return cached


def _memoized(labels: Labels) -> Callable[[Matcher], bool]:
    """Matcher.matches for one label set, remembering results: silences often share a
    matcher (the same regex over `instance`, say), and regexes are the costly part."""
    results: dict[Matcher, bool] = {}

    def selects(matcher: Matcher) -> bool:
        found = results.get(matcher)
        if found is None:
            found = results[matcher] = matcher.matches(labels)
        return found

    return selects


def _can_update(prev: Silence, new: Silence, now: float) -> bool:
    """Alertmanager's canUpdate: whether `new` may overwrite `prev` without rewriting history."""
    if new.matchers != prev.matchers:
        return False
    match prev.state(now):
        case "active":
            # Compared to the second, as the installed Alertmanager 0.25 does: a start read back
            # from the API (milliseconds) still updates in place.
            return math.floor(new.starts_at) == math.floor(prev.starts_at) and new.ends_at >= now
        case "pending":
            return new.starts_at >= now
        case _:
            return False


def sort_silences(silences: Iterable[Silence], now: float) -> list[Silence]:
    """The order of GET /api/v2/silences: active ones ending first, pending ones starting
    first, then expired ones, most recently ended first."""

    def key(s: Silence) -> tuple[int, float]:
        state = s.state(now)
        if state == "active":
            return (0, s.ends_at)
        if state == "pending":
            return (1, s.starts_at)
        return (2, -s.ends_at)

    return sorted(silences, key=key)


# --- API v2 JSON --------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1)
_SURROGATE = re.compile("[\ud800-\udfff]")


def format_api_time(t: float) -> str:
    """go-openapi's DateTime: RFC 3339 in UTC with milliseconds, truncated, as Go formats it."""
    ms = round(t * 1_000_000) // 1000  # to the microsecond first: floats are not exact
    stamp = _EPOCH + timedelta(milliseconds=ms)
    return f"{stamp:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


_API_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:\d{2})?|(Z)?)"
    r"| (\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?)"
)


def parse_api_time(text: str) -> float:
    """The date-times go-openapi accepts: RFC 3339 (any fraction, `.` or `,`), and without a
    zone (UTC) `2006-01-02T15:04:05`, `2006-01-02T15:04`, `2006-01-02T15:04Z` or
    `2006-01-02 15:04:05`. Raises ValueError."""
    m = _API_TIME.fullmatch(text)
    if m is None:
        raise ValueError(f"cannot parse {go_quote(text)} as an RFC 3339 date-time")
    g = m.groups()
    if g[3] is not None:
        clock, fraction, zone = (g[3], g[4], g[5] or "0"), g[6], g[7] or g[8]
    else:
        clock, fraction, zone = (g[9], g[10], g[11]), g[12], None
    try:
        fields = datetime(int(g[0]), int(g[1]), int(g[2]), *map(int, clock))
    except ValueError:
        raise ValueError(f"{go_quote(text)} is out of range") from None
    seconds = calendar.timegm(fields.timetuple())
    return seconds + _fraction(fraction) - _offset(zone)


def _fraction(digits: str | None) -> float:
    return int(digits[:9].ljust(9, "0")) / 1e9 if digits else 0.0


def _offset(zone: str | None) -> int:
    if not zone or zone == "Z":
        return 0
    sign = -1 if zone[0] == "-" else 1
    return sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)


def silence_to_api(silence: Silence, now: float) -> dict[str, Any]:
    """A GettableSilence, keys in Alertmanager's order."""
    return {
        "id": silence.id,
        "status": {"state": silence.state(now)},
        "updatedAt": format_api_time(silence.updated_at),
        "comment": silence.comment,
        "createdBy": silence.created_by,
        "endsAt": format_api_time(silence.ends_at),
        "matchers": [_matcher_to_api(m) for m in silence.matchers],
        "startsAt": format_api_time(silence.starts_at),
    }


def _matcher_to_api(matcher: Matcher) -> dict[str, Any]:
    return {
        "isEqual": matcher.type in (MatchType.EQUAL, MatchType.REGEX),
        "isRegex": matcher.type in (MatchType.REGEX, MatchType.NOT_REGEX),
        "name": matcher.name,
        "value": matcher.value,
    }


_MATCH_TYPES = {
    (True, False): MatchType.EQUAL,
    (False, False): MatchType.NOT_EQUAL,
    (True, True): MatchType.REGEX,
    (False, True): MatchType.NOT_REGEX,
}


def silence_from_api(obj: Any) -> Silence:
    """A PostableSilence (or a GettableSilence read back from storage) as a Silence.

    Errors name the JSON path; `status` is 422 where Alertmanager's API answers 422 (a
    required field missing or no matchers), 400 otherwise. Unknown fields are ignored, as
    there. Only shape is checked here; `validate_silence` and `Silences.set` do the rest.
    """
    if not isinstance(obj, Mapping):
        raise SilenceError("silence: must be a JSON object")
    return Silence(
        id=_optional_str(obj, "id"),
        matchers=_matchers_from_api(obj.get("matchers")),
        starts_at=_time(obj, "startsAt"),
        ends_at=_time(obj, "endsAt"),
        updated_at=_time(obj, "updatedAt") if obj.get("updatedAt") is not None else 0.0,
        created_by=_str(obj, "createdBy"),
        comment=_str(obj, "comment"),
    )


def _matchers_from_api(raw: Any) -> tuple[Matcher, ...]:
    if raw is None:
        raise SilenceError("matchers: is required", 422)
    if not isinstance(raw, list):
        raise SilenceError("matchers: must be a list")
    if not raw:
        raise SilenceError("matchers: must have at least 1 item", 422)
    return tuple(_matcher_from_api(i, item) for i, item in enumerate(raw))


def _matcher_from_api(i: int, obj: Any) -> Matcher:
    path = f"matchers[{i}]"
    if not isinstance(obj, Mapping):
        raise SilenceError(f"{path}: must be a JSON object")
    name = _str(obj, "name", path)
    value = _str(obj, "value", path)
    is_regex = _bool(obj, "isRegex", path, default=None)
    is_equal = _bool(obj, "isEqual", path, default=True)  # absent in clients before 0.22
    match_type = _MATCH_TYPES[(is_equal, is_regex)]
    try:
        return Matcher(name, match_type, value)
    except ValueError as err:
        # Only a regex that does not compile gets here; report it as the store would.
        reason = _regex_error(value) or f"invalid regular expression {go_quote(value)}: {err}"
        raise SilenceError(f"silence invalid: invalid label matcher {i}: {reason}") from None


def _field(obj: Mapping[str, Any], key: str, path: str) -> tuple[str, Any]:
    where = f"{path}.{key}" if path else key
    value = obj.get(key)
    if value is None:
        raise SilenceError(f"{where}: is required", 422)
    return where, value


def _str(obj: Mapping[str, Any], key: str, path: str = "") -> str:
    where, value = _field(obj, key, path)
    if not isinstance(value, str):
        raise SilenceError(f"{where}: must be a string")
    return _go_string(value)


def _optional_str(obj: Mapping[str, Any], key: str) -> str:
    return _str(obj, key) if obj.get(key) is not None else ""


def _bool(obj: Mapping[str, Any], key: str, path: str, default: bool | None) -> bool:
    if default is not None and obj.get(key) is None:
        return default
    where, value = _field(obj, key, path)
    if not isinstance(value, bool):
        raise SilenceError(f"{where}: must be true or false")
    return value


def _time(obj: Mapping[str, Any], key: str) -> float:
    where, value = _field(obj, key, "")
    if not isinstance(value, str):
        raise SilenceError(f"{where}: must be a string")
    try:
        return parse_api_time(value)
    except ValueError as err:
        raise SilenceError(f"{where}: {err}") from None


def _go_string(text: str) -> str:
    # Go's JSON decoder turns an unpaired surrogate escape into U+FFFD; Python keeps it.
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)
