"""The daemon's own metrics, in a registry per service so tests can run several side by side."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        group = ["rule_group"]
        self.evaluations = Counter(
            "alerting_rule_evaluations", "Rule evaluations.", group, registry=r
        )
        self.evaluation_failures = Counter(
            "alerting_rule_evaluation_failures", "Rule evaluations that failed.", group, registry=r
        )
        self.group_duration = Histogram(
            "alerting_rule_group_duration_seconds",
            "Time to evaluate a rule group, queries included.",
            group,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )
        self.iterations_missed = Counter(
            "alerting_rule_group_iterations_missed",
            "Group evaluations skipped because the previous one ran too long.",
            group,
            registry=r,
        )
        self.last_evaluation = Gauge(
            "alerting_rule_group_last_evaluation_timestamp_seconds",
            "When the group was last evaluated.",
            group,
            registry=r,
        )
        self.store_write_failures = Counter(
            "alerting_store_write_failures", "Store writes that failed.", registry=r
        )
        self.reloads = Counter(
            "alerting_config_reloads", "Configuration reloads by result.", ["result"], registry=r
        )
        self.alerts_received = Counter(
            "alerting_alerts_received",
            "Alerts handed to dispatch, from rules or pushes.",
            registry=r,
        )
        # Alertmanager labels these by integration kind only; a receiver label says whom a
        # failure leaves uninformed. Receivers are few and configured, so the series stay few.
        by = ["receiver", "integration"]
        self.notifications = Counter(
            "alerting_notifications",
            "Notifications attempted (each with its retries).",
            by,
            registry=r,
        )
        self.notifications_failed = Counter(
            "alerting_notifications_failed",
            "Notifications given up on: not retryable, or the flush deadline passed.",
            by,
            registry=r,
        )
        self.notification_requests = Counter(
            "alerting_notification_requests",
            "Delivery attempts, retries included.",
            by,
            registry=r,
        )
        self.notifications_unchanged = Counter(
            "alerting_notifications_unchanged",
            "Flushes not sent because the notification log shows the receiver already knows.",
            by,
            registry=r,
        )
        self.notification_latency = Histogram(
            "alerting_notification_latency_seconds",
            "Time from the first attempt of a notification to its success or abandonment.",
            by,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=r,
        )

    def count_alerts_with(self, count: Callable[[], dict[str, int]]) -> None:
        """Report `alerting_alerts{state}` from one walk over the alerts per scrape."""
        self.registry.register(_AlertsByState(count))


class _AlertsByState(Collector):
    def __init__(self, count: Callable[[], dict[str, int]]) -> None:
        self._count = count

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("alerting_alerts", "Rule alerts by state.", labels=["state"])
        for state, number in self._count().items():
            family.add_metric([state], number)
        yield family
