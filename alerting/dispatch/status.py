"""What the APIs report of an alert beside the alert itself: the receivers its labels reach, and
the silences and inhibition muting it at a given moment.

Alertmanager keeps this in a marker that its pipeline and API update as they go; here it is
computed when asked, from the same silences and inhibitor the pipeline consults, so the answer
can never lag behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from alerting.dispatch.route import Route
from alerting.labels import Labels
from alerting.notify.inhibit import Inhibitor
from alerting.notify.silence import Silences

State = Literal["active", "suppressed", "unprocessed"]


@dataclass(frozen=True, slots=True)
class AlertStatus:
    """Alertmanager's AlertStatus: `suppressed` while any silence or inhibition mutes it."""

    state: State
    silenced_by: tuple[str, ...] = ()  # ids of the active silences selecting it, sorted
    inhibited_by: tuple[str, ...] = ()  # fingerprint of the source alert inhibiting it


ACTIVE = AlertStatus("active")


@dataclass(frozen=True, slots=True)
class Muting:
    """The silences and, while notifications run, the inhibition rules and routing tree."""

    silences: Silences
    inhibitor: Inhibitor | None = None
    route: Route | None = None

    def status(self, labels: Labels, now: float) -> AlertStatus:
        # Without silences there is nothing to match, and no reason to fill the silences'
        # cache with every label set a listing walks over.
        silenced = tuple(self.silences.mutes(labels, now)) if len(self.silences) else ()
        source = self.inhibitor.mutes(labels, now) if self.inhibitor is not None else None
        inhibited = (source,) if source is not None else ()
        if not silenced and not inhibited:
            return ACTIVE
        return AlertStatus("suppressed", silenced, inhibited)

    def receivers(self, labels: Labels) -> list[str]:
        """The receiver of every route the labels take, in routing order (repeats kept, as
        Alertmanager lists them)."""
        if self.route is None:
            return []
        return [route.receiver for route in self.route.match(labels)]
