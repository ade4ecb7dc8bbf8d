"""One alerting rule's state machine, exactly as Prometheus 2.42's AlertingRule.Eval behaves.

Evaluation is split in two so the slow part can run off the event loop when a template queries
Prometheus: `build` turns query samples into candidate alerts (pure, renders templates) and
`merge` folds the candidates into the rule's active alerts (fast, mutates state).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote_plus

from alerting.labels import LabelKey, key_fingerprint_hex, label_key
from alerting.model import Alert, AlertState, RuleAlert, Sample
from alerting.rules.spec import RuleSpec
from alerting.template.prometheus import RuleTemplateData

RESOLVED_RETENTION = 15 * 60.0

QueryFn = Callable[[str, float], list[Sample]]


class RuleEvalError(Exception):
    """The rule failed this evaluation; its message is what /api/v1/rules shows as lastError."""


@dataclass(slots=True)
class Candidate:
    labels: dict[str, str]
    annotations: dict[str, str]
    value: float


@dataclass(slots=True)
class RuleChanges:
    """What one evaluation changed that the store must remember (keyed by fingerprint)."""

    upserts: list[RuleAlert] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Context:
    external_labels: dict[str, str]
    external_url: str
    query: QueryFn | None = None


class AlertingRule:
    def __init__(self, spec: RuleSpec) -> None:
        self.spec = spec
        self.active: dict[LabelKey, RuleAlert] = {}
        # Alerts restored from elsewhere whose annotations this rule has not rendered yet.
        self._stale: set[LabelKey] = set()
        self.generator_path = "/graph?g0.expr=" + quote_plus(spec.expr, safe="") + "&g0.tab=1"
        self._generator = ("", self.generator_path)  # (external URL, generator URL)
        self._needs_thread = any(
            t.uses_query
            for t in (*spec.label_templates.values(), *spec.annotation_templates.values())
        )

    @property
    def needs_thread(self) -> bool:
        """True when a template calls `query`, which blocks, so `build` must run in a thread."""
        return self._needs_thread

    def build(
        self, samples: Iterable[Sample], ts: float, ctx: Context
    ) -> dict[LabelKey, Candidate]:
        candidates: dict[LabelKey, Candidate] = {}
        # A known series' key as held in `active`, so the equal one built below is freed at once.
        held_keys = {key: key for key in self.active}
        # One string per distinct annotation text: a rule's alerts often render the same text (a
        # runbook link, a summary by job), and 100k copies of it would each take memory.
        texts: dict[str, str] = {}
        for sample in samples:
            # Templates see every sample label, __name__ included, as in Prometheus.
            data = RuleTemplateData(
                sample.labels, ctx.external_labels, ctx.external_url, sample.value, ts, ctx.query
            )
            labels = self._labels(data)
            key = label_key(labels)
            key = held_keys.get(key, key)
            if key in candidates:
                raise RuleEvalError(
                    "vector contains metrics with the same labelset after applying alert labels"
                )
            previous = self.active.get(key)
            annotations = self._annotations(data, key, previous, texts)
            if previous is not None:
                labels = previous.labels  # equal: share the held dict, drop the copy just built
            candidates[key] = Candidate(labels, annotations, sample.value)
        return candidates

    def _labels(self, data: RuleTemplateData) -> dict[str, str]:
        labels = dict(data.labels)  # a copy: the templates still see __name__
        labels.pop("__name__", None)
        for name, template in self.spec.label_templates.items():
            rendered = template.render(data)
            if rendered:
                labels[name] = rendered
            else:  # Prometheus's labels.Builder drops a label set to ""
                labels.pop(name, None)
        labels["alertname"] = self.spec.name
        return labels

    def _annotations(
        self,
        data: RuleTemplateData,
        key: LabelKey,
        previous: RuleAlert | None,
        texts: dict[str, str],
    ) -> dict[str, str]:
        before = previous.annotations if previous is not None else {}
        reusable = (
            previous is not None
            and previous.state is not AlertState.INACTIVE
            and key not in self._stale
        )
        out: dict[str, str] = {}
        for name, template in self.spec.annotation_templates.items():
            if reusable and not template.depends_on_value and name in before:
                out[name] = before[name]  # same labels, same output: skip the render
                continue
            text = template.render(data)
            if before.get(name) == text:
                # Keep the held string (a restored alert's, say): the equal new one is freed at
                # once, instead of replacing it and leaving a hole in the heap.
                text = before[name]
            out[name] = texts.setdefault(text, text)
        return out

    def merge(self, candidates: dict[LabelKey, Candidate], ts: float, limit: int) -> RuleChanges:
        changes = RuleChanges()
        if self._stale:  # else the update would still walk every candidate
            self._stale.difference_update(candidates)
        for key, c in candidates.items():
            alert = self.active.get(key)
            if alert is not None and alert.state is not AlertState.INACTIVE:
                alert.value = c.value
                alert.annotations = c.annotations
                continue
            fresh = RuleAlert(
                c.labels,
                c.annotations,
                AlertState.PENDING,
                c.value,
                active_at=ts,
                cached_fingerprint=key_fingerprint_hex(key),  # from the key: no second sort
            )
            self.active[key] = fresh
            changes.upserts.append(fresh)

        active_or_pending = 0
        for key, alert in list(self.active.items()):
            if key not in candidates:
                keep = self._absent(key, alert, ts, changes)
                if not keep:
                    continue
            elif alert.keep_firing_since is not None:
                alert.keep_firing_since = None
                changes.upserts.append(alert)
            active_or_pending += 1
            if alert.state is AlertState.PENDING and ts - alert.active_at >= self.spec.for_:
                alert.state = AlertState.FIRING
                alert.fired_at = ts
                changes.upserts.append(alert)

        if 0 < limit < active_or_pending:
            changes.deletes.extend(a.fingerprint for a in self.active.values())
            changes.upserts.clear()
            self.active.clear()
            raise LimitExceeded(
                f"exceeded limit of {limit} with {active_or_pending} alerts", changes
            )
        return changes

    def _absent(self, key: LabelKey, alert: RuleAlert, ts: float, changes: RuleChanges) -> bool:
        """Handle an alert whose series is gone; True if keep_firing_for holds it firing."""
        keep_firing = False
        if alert.state is AlertState.FIRING and self.spec.keep_firing_for > 0:
            if alert.keep_firing_since is None:
                alert.keep_firing_since = ts
                changes.upserts.append(alert)
            keep_firing = ts - alert.keep_firing_since < self.spec.keep_firing_for
        expired = alert.resolved_at is not None and ts - alert.resolved_at > RESOLVED_RETENTION
        if alert.state is AlertState.PENDING or expired:
            del self.active[key]
            changes.deletes.append(alert.fingerprint)
        if alert.state is not AlertState.INACTIVE and not keep_firing:
            alert.state = AlertState.INACTIVE
            alert.resolved_at = ts
            if key in self.active:
                changes.upserts.append(alert)
        return keep_firing

    def clear(self) -> list[str]:
        gone = [a.fingerprint for a in self.active.values()]
        self.active.clear()
        return gone

    def restore(self, alerts: Iterable[RuleAlert]) -> None:
        for alert in alerts:
            key = label_key(alert.labels)
            self.active[key] = alert
            self._stale.add(key)

    def alerts_to_send(self, ts: float, resend_delay: float, interval: float) -> list[RuleAlert]:
        """Prometheus's sendAlerts: firing and recently resolved alerts due for (re)sending."""
        due: list[RuleAlert] = []
        for alert in self.active.values():
            if _needs_sending(alert, ts, resend_delay):
                alert.last_sent_at = ts
                alert.valid_until = ts + 4 * max(resend_delay, interval)
                due.append(alert)
        return due

    def to_notification(self, alert: RuleAlert, external_url: str) -> Alert:
        """The Alertmanager-shaped alert Prometheus's notifier would send for `alert`."""
        ends_at = alert.resolved_at if alert.resolved_at is not None else alert.valid_until
        return Alert(
            labels=alert.labels,  # shared, not copied: alerts are read-only downstream
            annotations=alert.annotations,
            starts_at=alert.fired_at or alert.active_at,
            ends_at=ends_at or 0.0,
            generator_url=self._generator_url(external_url),
            cached_fingerprint=alert.fingerprint,
        )

    def _generator_url(self, external_url: str) -> str:
        # One string for all of the rule's alerts, not a concatenation per alert and sending.
        if self._generator[0] != external_url:
            self._generator = (external_url, external_url + self.generator_path)
        return self._generator[1]


class LimitExceeded(RuleEvalError):
    """Raised after `limit` cleared the rule's alerts; carries the deletes the store must apply."""

    def __init__(self, message: str, changes: RuleChanges) -> None:
        super().__init__(message)
        self.changes = changes


def _needs_sending(alert: RuleAlert, ts: float, resend_delay: float) -> bool:
    if alert.state is AlertState.PENDING:
        return False
    if alert.resolved_at is not None and (
        alert.last_sent_at is None or alert.resolved_at > alert.last_sent_at
    ):
        return True
    return alert.last_sent_at is None or alert.last_sent_at + resend_delay < ts
