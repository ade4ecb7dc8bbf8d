"""Alertmanager 0.25 as the oracle for dispatch and notification: same config, same alerts and
silences at the same moments, the same webhook notifications must come out.

Every scenario of scenarios.py runs twice:

- on a real `prometheus-alertmanager` (one process per scenario, all started in parallel and
  driven concurrently on wall time: alerts and silences go to its API v2 at each step's offset);
- on our `Notifier` with a `ManualClock` that starts at the same wall-clock instant as that
  Alertmanager run (time intervals see the same weekday), stepped through the same timeline
  without real sleeping.

Both notify a loopback webhook receiver of their own. For each URL path and each group key, the
notifications must be equal and in the same order: receiver, group key, status, alerts (status,
labels and annotations, in order), groupLabels, commonLabels, commonAnnotations and
truncatedAlerts. Notifications of different groups flushed at the same instant may interleave
differently, so order is compared per group. Times are not compared: where Alertmanager fills
one in (startsAt of an alert posted without one) it is its own clock's reading.

Run one scenario: `pytest tests/differential_am -k <name>` (only the selected ones are run).
"""

from __future__ import annotations

import asyncio
import math
import shutil
import time
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web

from alerting.clock import ManualClock, settle
from alerting.config import load_config
from alerting.labels import Matcher, MatchType, parse_matchers
from alerting.model import Alert
from alerting.notifier import Notifier
from alerting.notify.silence import Silence as OurSilence
from alerting.store.sqlite_notifications import SqliteNotificationStore
from tests.differential_am.scenarios import A, Post, Scenario, Silence, all_scenarios
from tests.peers.alertmanager import AlertmanagerServer
from tests.peers.server import ServerFailed
from tests.peers.webhook import Delivery, WebhookReceiver, webhook_receiver

BINARY = "prometheus-alertmanager"
# A timer flush of ours this close to a step or the end makes the scenario's outcome depend on
# Alertmanager's jitter: a design error of the scenario, reported as such.
GUARD = 0.3
# How far our manual clock moves at a time; far below any group's flush spacing (1 s).
GRID = 0.05
# Real seconds a flush of ours may stay busy before we take it for waiting on the manual clock.
BACKOFF_PATIENCE = 0.05
# Our config needs a datasource; nothing is queried in these tests.
DATASOURCE = {"prometheus": {"url": "http://127.0.0.1:1"}}


# --- what is compared ---------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    """One notification as compared, with when it arrived (not compared)."""

    at: float  # seconds from the start; wall time for Alertmanager, manual clock for ours
    path: str
    receiver: str
    group_key: str
    status: str
    # Per alert: status, labels, annotations (the summary's pairs, plus annotations).
    alerts: tuple[tuple[str, Pairs, Pairs], ...]
    group_labels: Pairs
    common_labels: Pairs
    common_annotations: Pairs
    truncated: int

    @classmethod
    def of(cls, delivery: Delivery, at: float) -> Note:
        receiver, group_key, status, alerts = delivery.summary()
        p = delivery.payload
        annotations = [_pairs(a["annotations"]) for a in p["alerts"]]
        return cls(
            at=at,
            path=delivery.path,
            receiver=receiver,
            group_key=group_key,
            status=status,
            alerts=tuple(
                (s, _pairs(labels), notes)
                for (s, labels), notes in zip(alerts, annotations, strict=True)
            ),
            group_labels=_pairs(p["groupLabels"]),
            common_labels=_pairs(p["commonLabels"]),
            common_annotations=_pairs(p["commonAnnotations"]),
            truncated=p["truncatedAlerts"],
        )

    def compared(self) -> tuple[Any, ...]:
        return (
            self.receiver,
            self.status,
            self.alerts,
            self.group_labels,
            self.common_labels,
            self.common_annotations,
            self.truncated,
        )

    def __str__(self) -> str:
        alerts = ", ".join(
            f"{s} {_show(labels)}" + (f" annotations={_show(notes)}" if notes else "")
            for s, labels, notes in self.alerts
        )
        extra = f" truncated={self.truncated}" if self.truncated else ""
        if self.common_annotations:
            extra += f" commonAnnotations={_show(self.common_annotations)}"
        return (
            f"{self.at:+6.2f}s {self.path} {self.receiver} {self.group_key} {self.status}: "
            f"[{alerts}] groupLabels={_show(self.group_labels)} "
            f"commonLabels={_show(self.common_labels)}{extra}"
        )


Pairs = tuple[tuple[str, str], ...]


def _pairs(mapping: dict[str, str]) -> Pairs:
    return tuple(sorted(mapping.items()))


def _show(pairs: Pairs) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in pairs) + "}"


def by_group(notes: list[Note]) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """Per (path, group key), the compared part of each notification, in order."""
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for note in notes:
        groups.setdefault((note.path, note.group_key), []).append(note.compared())
    return groups


@dataclass
class Side:
    notes: list[Note] = field(default_factory=list)
    error: str = ""
    # Ours only: flushes woken by a group's timer (not by an alert arriving), as offsets;
    # None where the dispatcher could not be instrumented (then nothing is checked).
    timer_flushes: list[float] | None = field(default_factory=list)


@dataclass
class Outcome:
    alertmanager: Side
    ours: Side


# --- driving both sides ---------------------------------------------------------------------


def side_config(scenario: Scenario, base_url: str) -> dict[str, Any]:
    """The scenario's config with each webhook path turned into a URL of `base_url`."""
    doc = yaml.safe_load(yaml.safe_dump(scenario.config))  # a deep copy
    for receiver in doc.get("receivers", []):
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = base_url + webhook["url"]
    return doc


def answer_and_time(
    receiver: WebhookReceiver, scenario: Scenario, now: Callable[[], float]
) -> list[float]:
    """Make the receiver answer as the scenario says (200 unless its `responses` say otherwise)
    and return the arrival offsets of its deliveries: the i-th belongs to the i-th delivery,
    as the receiver records a delivery right after its answer, without yielding."""
    times: list[float] = []
    statuses = {path: list(codes) for path, codes in scenario.responses.items()}

    async def answer(request: web.Request) -> web.StreamResponse:
        queued = statuses.get(request.path)
        status = queued.pop(0) if queued else 200
        if 200 <= status < 300:
            times.append(now())
        return web.Response(status=status)

    receiver.script = [answer] * 10_000
    return times


def rfc3339(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_json(alert: A, t0: float) -> dict[str, Any]:
    body: dict[str, Any] = {"labels": alert.labels, "annotations": alert.annotations}
    if alert.starts is not None:
        body["startsAt"] = rfc3339(t0 + alert.starts)
    if alert.ends is not None:
        body["endsAt"] = rfc3339(t0 + alert.ends)
    return body


def our_alert(alert: A, t0: float) -> Alert:
    return Alert(
        dict(alert.labels),
        dict(alert.annotations),
        starts_at=0.0 if alert.starts is None else t0 + alert.starts,
        ends_at=0.0 if alert.ends is None else t0 + alert.ends,
    )


def matchers_of(silence: Silence) -> tuple[Matcher, ...]:
    return tuple(m for text in silence.matchers for m in parse_matchers(text))


def silence_json(silence: Silence, t0: float, name: str) -> dict[str, Any]:
    return {
        "matchers": [
            {
                "name": m.name,
                "value": m.value,
                "isRegex": m.type in (MatchType.REGEX, MatchType.NOT_REGEX),
                "isEqual": m.type in (MatchType.EQUAL, MatchType.REGEX),
            }
            for m in matchers_of(silence)
        ],
        "startsAt": rfc3339(time.time() if silence.starts is None else t0 + silence.starts),
        "endsAt": rfc3339(t0 + silence.ends),
        "createdBy": "differential test",
        "comment": name,
    }


@dataclass
class Peer:
    """One scenario's Alertmanager and the receiver it notifies."""

    server: AlertmanagerServer | None = None
    receiver: WebhookReceiver | None = None
    error: str = ""


async def start_peer(scenario: Scenario, workdir: Path, stack: AsyncExitStack) -> Peer:
    peer = Peer()
    try:
        peer.receiver = await stack.enter_async_context(webhook_receiver())
        doc = side_config(scenario, peer.receiver.url)
        text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        for attempt in range(2):  # a free port can be taken between choosing and binding it
            server = AlertmanagerServer(text, workdir=workdir / f"try{attempt}")
            try:
                peer.server = await stack.enter_async_context(server)
                break
            except ServerFailed as exc:
                peer.error = f"Alertmanager did not start: {exc}"
                if "address already in use" not in str(exc):
                    break
        if peer.server is not None:
            peer.error = ""
    except Exception as exc:  # reported by this scenario's test, not by the whole module
        peer.error = f"{type(exc).__name__}: {exc}"
    return peer


async def drive_alertmanager(
    scenario: Scenario, peer: Peer, session: aiohttp.ClientSession
) -> tuple[Side, float]:
    """Play the timeline on wall time; returns the side and the wall-clock start."""
    loop = asyncio.get_running_loop()
    t0 = round(time.time(), 3)
    base = loop.time()
    side = Side()
    if peer.error or peer.server is None or peer.receiver is None:
        side.error = peer.error or "no Alertmanager"
        return side, t0
    arrivals = answer_and_time(peer.receiver, scenario, lambda: time.time() - t0)
    url = peer.server.url
    try:
        for step in sorted(scenario.steps, key=lambda s: s.at):
            await asyncio.sleep(max(0.0, base + step.at - loop.time()))
            if isinstance(step, Post):
                path, body = "/api/v2/alerts", [alert_json(a, t0) for a in step.alerts]
            else:
                path, body = "/api/v2/silences", silence_json(step, t0, scenario.name)
            async with session.post(url + path, json=body) as response:
                if response.status != 200:
                    text = await response.text()
                    raise AssertionError(f"POST {path} at +{step.at}s: {response.status} {text}")
        await asyncio.sleep(max(0.0, base + scenario.until - loop.time()))
    except Exception as exc:
        side.error = f"{type(exc).__name__}: {exc}"
    side.notes = [Note.of(d, at) for d, at in zip(peer.receiver.deliveries, arrivals, strict=False)]
    return side, t0


def write_our_config(scenario: Scenario, base_url: str, workdir: Path) -> Path:
    """Our config file: the scenario's sections and the datasource we require."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "alerting.yml"
    doc = {"datasource": DATASOURCE, **side_config(scenario, base_url)}
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    return path


async def run_ours(scenario: Scenario, t0: float, workdir: Path) -> Side:
    """Play the timeline on a manual clock starting at `t0`."""
    side = Side()
    try:
        async with webhook_receiver() as receiver:
            clock = ManualClock(t0)
            arrivals = answer_and_time(receiver, scenario, lambda: clock.now() - t0)
            config = write_our_config(scenario, receiver.url, workdir)
            store = SqliteNotificationStore(str(workdir / "notify.db"))
            await store.open()
            notifier = Notifier(clock, store)
            await notifier.start(load_config(config))
            try:
                await _play(scenario, notifier, clock, t0, side)
            finally:
                await notifier.stop()
                await store.close()
            side.notes = [
                Note.of(d, at) for d, at in zip(receiver.deliveries, arrivals, strict=False)
            ]
    except Exception as exc:
        side.error = f"{type(exc).__name__}: {exc}"
    return side


async def _play(
    scenario: Scenario, notifier: Notifier, clock: ManualClock, t0: float, side: Side
) -> None:
    dispatcher = notifier.dispatcher
    assert dispatcher is not None
    phase = ["timer"]
    # Test instrumentation: see every flush the groups start, and whether a group's timer or an
    # arriving alert (an immediate flush) started it. The dispatcher keeps the pipeline's flush
    # in a private attribute; should that change, only this check is lost.
    inner = getattr(dispatcher, "_notify", None)
    if inner is None:
        side.timer_flushes = None
    else:

        async def notify(flush: Any) -> bool:
            if phase[0] == "timer" and side.timer_flushes is not None:
                side.timer_flushes.append(flush.now - t0)
            return await inner(flush)

        dispatcher._notify = notify

    async def advance(offset: float) -> None:
        # Through points a hair past each multiple of GRID, so that a flush due at a whole
        # offset (t0 + 1.0 computed as (t0 + 0) + 1.0, say) is woken at its own time, not one
        # step late for want of a unit in the last place.
        while clock.now() < t0 + offset:
            k = math.floor((clock.now() - t0) / GRID + 1e-6) + 1
            await clock.set(min(t0 + offset, t0 + k * GRID + 1e-6))
            await quiet()

    async def quiet() -> None:
        # Until the flushes in progress finish, or, when they are still busy after a moment of
        # real time, take them for waiting on our clock (a retry's backoff) and move on.
        with suppress(TimeoutError):
            async with asyncio.timeout(BACKOFF_PATIENCE):
                await dispatcher.wait_idle()

    for step in sorted(scenario.steps, key=lambda s: s.at):
        await advance(step.at)
        phase[0] = "step"
        now = clock.now()
        if isinstance(step, Post):
            await notifier.ingest([our_alert(a, t0) for a in step.alerts])
        else:
            silence = OurSilence(
                matchers=matchers_of(step),
                starts_at=now if step.starts is None else t0 + step.starts,
                ends_at=t0 + step.ends,
                created_by="differential test",
                comment=scenario.name,
            )
            notifier.silences.set(silence, now)
        await settle()
        await quiet()
        phase[0] = "timer"
    await advance(scenario.until)


async def run_all(scenarios: list[Scenario], tmp: Path) -> dict[str, Outcome]:
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        peers = await asyncio.gather(
            *(start_peer(s, tmp / "am" / s.name, stack) for s in scenarios)
        )
        played = await asyncio.gather(
            *(drive_alertmanager(s, p, session) for s, p in zip(scenarios, peers, strict=True))
        )
    outcomes: dict[str, Outcome] = {}
    # Ours after every Alertmanager timeline is over, so they never compete for the loop.
    for scenario, (am_side, t0) in zip(scenarios, played, strict=True):
        ours = await run_ours(scenario, t0, tmp / "ours" / scenario.name)
        outcomes[scenario.name] = Outcome(am_side, ours)
    return outcomes


# --- the tests ------------------------------------------------------------------------------

SCENARIOS = all_scenarios()


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Outcome]:
    """Every selected scenario, run on both sides (all Alertmanagers at once)."""
    if shutil.which(BINARY) is None:
        pytest.skip(f"not installed: {BINARY}")
    selected = {
        item.callspec.params["name"]
        for item in request.session.items
        if item.module is request.module and hasattr(item, "callspec")
    }
    tmp = tmp_path_factory.mktemp("differential_am")
    # Rebuilt now: the time intervals must cover the moment the scenarios run.
    scenarios = [s for s in all_scenarios() if s.name in selected]
    return asyncio.run(run_all(scenarios, tmp))


def _param(scenario: Scenario) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=scenario.xfail)] if scenario.xfail else []
    return pytest.param(scenario.name, marks=marks, id=scenario.name)


def _timeline(notes: list[Note]) -> str:
    return "\n".join(f"    {n}" for n in notes) or "    (nothing)"


@pytest.mark.parametrize("name", [_param(s) for s in SCENARIOS])
def test_same_notifications_as_alertmanager(outcomes: dict[str, Outcome], name: str) -> None:
    outcome = outcomes[name]
    am, ours = outcome.alertmanager, outcome.ours
    assert not am.error, f"Alertmanager side failed: {am.error}"
    assert not ours.error, f"our side failed: {ours.error}"
    steps = next(s for s in SCENARIOS if s.name == name).offsets
    flushes = ours.timer_flushes or []
    close = [(f, s) for f in flushes for s in steps if abs(f - s) < GUARD]
    assert not close, (
        f"scenario design: timer flushes at {close} (flush, step) are within {GUARD}s of a "
        "step, so Alertmanager's jitter decides the outcome"
    )
    assert am.notes, "Alertmanager sent nothing: the scenario shows nothing"
    mismatched = [
        key
        for key in sorted(set(by_group(am.notes)) | set(by_group(ours.notes)))
        if by_group(am.notes).get(key) != by_group(ours.notes).get(key)
    ]
    if mismatched:
        pytest.fail(
            f"{name}: notifications differ for (path, group key) {mismatched}\n"
            f"  Alertmanager 0.25:\n{_timeline(am.notes)}\n"
            f"  ours:\n{_timeline(ours.notes)}",
            pytrace=False,
        )
