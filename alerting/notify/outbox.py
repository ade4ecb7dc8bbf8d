"""Notifications in flight, written down before sending so a crash mid-send re-sends them at start.

A notification is stored as a head (who it goes to, the flush, and its alerts' fingerprints in
order) and its alerts, which live in segments kept per group and integration from one
notification to the next. A group flushes every group_interval, mostly with the alerts it had
last time: a write appends a segment of the alerts that changed since the group's last one, and
writes them all as one segment again only once the segments hold twice what the group has.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass
from typing import Any

from alerting.channels import Notification
from alerting.model import Alert, encoded
from alerting.plaindata import dump, load
from alerting.template.alertmanager import Escalation

# Heads and segments are alerting.plaindata pickles of tuples, dicts, strings and floats: a
# group of 5,000 alerts encodes in a small part of the time json.dumps of dicts took.

# The first element of every head. Format 1, written before the store kept alerts in segments
# (up to schema version 5), held the alerts in the head itself; such rows are still read, so
# that a notification in flight at an upgrade is not lost. (Format 2 never left development.)
_WHOLE = 1
_FORMAT = 3

Key = tuple[str, str]  # (group key, integration)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    integration: str  # "<receiver>/<kind>/<index>"
    notification: Notification

    @property
    def key(self) -> Key:
        return (self.notification.group_key, self.integration)


def encode_head(notification: Notification, fingerprints: list[str]) -> bytes:
    """The notification without its alerts; `fingerprints` are theirs, in order."""
    row = (
        _FORMAT,
        notification.receiver,
        notification.group_key,
        dict(notification.group_labels),
        fingerprints,
        notification.now,
        notification.external_url,
        astuple(notification.escalation) if notification.escalation else None,
    )
    return dump(row)


Fields = tuple[object, ...]  # an alert as stored: labels, annotations, times, URL, fingerprint


def _fields(a: Alert) -> Fields:
    return (
        a.labels,
        a.annotations,
        a.starts_at,
        a.ends_at,
        a.generator_url,
        a.updated_at,
        a.fingerprint,
    )


@dataclass(frozen=True, slots=True)
class _Kept:
    alerts: dict[str, Fields]  # by fingerprint, as of the group's last notification
    stored: int  # alerts in all its segments, each version counted
    next_seq: int


@dataclass(frozen=True, slots=True)
class SegmentWrite:
    """What one notification adds to its group's segments."""

    seq: int  # the segment's number: of an alert, the highest-numbered segment holds the latest
    segment: bytes | None  # None: no alert changed since the last write
    replace: bool  # the group's earlier segments are deleted first
    kept: _Kept | None  # what the segments hold once this is written; None: not kept track of


class Segments:
    """What each group's segments hold, so that a write adds only the alerts that changed.

    From a group's second notification on (Notification.keep_encodings), each alert's fields
    are one tuple kept on the alert for as long as it is unchanged, so the same tuple means the
    same version and a write adds the alerts whose tuple the segments do not hold. A group's
    first notification, and one whose key is not known (at start, after a failed write), is
    written whole. The store plans a write, and calls written() or forget() after it, under
    the lock that orders its transactions: what is known of a key is what the file holds.
    """

    def __init__(self) -> None:
        self._kept: dict[Key, _Kept] = {}

    def plan(self, key: Key, notification: Notification, fingerprints: list[str]) -> SegmentWrite:
        """`fingerprints`: those of the notification's alerts, in order."""
        keep = notification.keep_encodings
        fields = encoded(notification.alerts, "outbox", _fields, keep)
        if not keep:
            return SegmentWrite(0, dump(fields), True, None)
        current = dict(zip(fingerprints, fields, strict=True))
        kept = self._kept.get(key)
        if kept is not None:
            changed = [f for fp, f in current.items() if kept.alerts.get(fp) is not f]
            stored = kept.stored + len(changed)
            if stored <= 2 * len(current):
                segment = dump(changed) if changed else None
                after = _Kept(current, stored, kept.next_seq + 1)
                return SegmentWrite(kept.next_seq, segment, False, after)
        return SegmentWrite(0, dump(fields), True, _Kept(current, len(current), 1))

    def written(self, key: Key, write: SegmentWrite) -> None:
        if write.kept is None:
            self._kept.pop(key, None)
        else:
            self._kept[key] = write.kept

    def forget(self, key: Key) -> None:
        self._kept.pop(key, None)


def decode_notification(head: bytes, segments: Sequence[bytes]) -> Notification:
    """The notification of `head`; its alerts come from its group's `segments`, in order."""
    version, receiver, group_key, group_labels, members, now, external_url, escalation = load(head)
    if version == _WHOLE:
        fields = members
    elif version == _FORMAT:
        latest = {values[-1]: values for values in _segment_alerts(segments)}
        missing = [fingerprint for fingerprint in members if fingerprint not in latest]
        if missing:
            raise ValueError(f"outbox of {group_key} lacks its alerts {', '.join(missing[:5])}")
        fields = [latest[fingerprint] for fingerprint in members]
    else:
        raise ValueError(f"outbox row of unknown format {version!r}")
    return Notification(
        receiver=receiver,
        group_key=group_key,
        group_labels=group_labels,
        alerts=[Alert(*values) for values in fields],
        now=now,
        external_url=external_url,
        escalation=Escalation(*escalation) if escalation else None,
    )


def _segment_alerts(segments: Sequence[bytes]) -> Iterator[tuple[Any, ...]]:
    """Each alert's fields (its fingerprint last), segment by segment."""
    for segment in segments:
        yield from load(segment)
