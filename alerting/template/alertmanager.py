"""Notification-side templates as Alertmanager 0.25 renders them: data, functions, template files."""

from __future__ import annotations

import glob
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from alerting.template.exec import Limits
from alerting.template.goregexp import match, re_replace_all
from alerting.template.gostrings import cases_title, to_lower, to_upper
from alerting.template.gotime import GoTime
from alerting.template.gotypes import GoFunc, GoType, register
from alerting.template.template import Template

_HERE = Path(__file__).parent
# Alertmanager's own, then the default messages of our channels, which may use Alertmanager's.
DEFAULT_TEMPLATE_FILES = (
    _HERE / "default.tmpl",
    _HERE / "email.tmpl",
    *sorted((_HERE.parent / "channels" / "templates").glob("*.tmpl")),
)


class KV(dict):
    """A label or annotation set (template.KV); its Go methods are the functions below."""


def sorted_pairs(kv: KV) -> Pairs:
    """Pairs sorted by name, except that alertname comes first."""
    names = sorted(k for k in kv if k != "alertname")
    if "alertname" in kv:
        names.insert(0, "alertname")
    return Pairs(Pair(k, kv[k]) for k in names)


def _kv_remove(kv: KV, keys: Sequence[str]) -> KV:
    drop = set(keys)
    return KV((k, v) for k, v in kv.items() if k not in drop)


@dataclass(frozen=True, slots=True)
class Pair:
    name: str
    value: str


class Pairs(list):
    """template.Pairs."""


def _pair_names(pairs: Pairs) -> list[str]:
    return [p.name for p in pairs]


def _pair_values(pairs: Pairs) -> list[str]:
    return [p.value for p in pairs]


@dataclass(slots=True)
class AlertData:
    """One alert in notification data (template.Alert)."""

    status: str
    labels: KV
    annotations: KV
    starts_at: GoTime
    ends_at: GoTime
    generator_url: str
    fingerprint: str


class Alerts(list):
    def firing(self) -> AlertList:
        return AlertList(a for a in self if a.status == "firing")

    def resolved(self) -> AlertList:
        return AlertList(a for a in self if a.status == "resolved")


class AlertList(list):
    """[]template.Alert, what Firing and Resolved return."""


@dataclass(frozen=True, slots=True)
class Escalation:
    """Ours: where the group stands in its escalation policy. Level counts from 1; a group
    whose route has no policy shows an empty policy and level 0."""

    policy: str = ""
    level: int = 0


@dataclass(slots=True)
class NotificationData:
    """The data notification templates see (*template.Data), plus `.Escalation`."""

    receiver: str
    status: str
    alerts: Alerts
    group_labels: KV
    common_labels: KV
    common_annotations: KV
    external_url: str
    escalation: Escalation = Escalation()


register(
    KV,
    GoType(
        "template.KV",
        "map",
        methods={
            "SortedPairs": GoFunc(sorted_pairs, ("template.KV",)),
            "Remove": GoFunc(_kv_remove, ("template.KV", "[]string")),
            "Names": GoFunc(lambda kv: _pair_names(sorted_pairs(kv)), ("template.KV",)),
            "Values": GoFunc(lambda kv: _pair_values(sorted_pairs(kv)), ("template.KV",)),
        },
        underlying="map[string]string",
    ),
)
register(Pair, GoType("template.Pair", "struct", fields={"Name": "name", "Value": "value"}))
register(
    Pairs,
    GoType(
        "template.Pairs",
        "slice",
        methods={
            "Names": GoFunc(_pair_names, ("template.Pairs",)),
            "Values": GoFunc(_pair_values, ("template.Pairs",)),
        },
        underlying="[]template.Pair",
    ),
)
register(
    AlertData,
    GoType(
        "template.Alert",
        "struct",
        fields={
            "Status": "status",
            "Labels": "labels",
            "Annotations": "annotations",
            "StartsAt": "starts_at",
            "EndsAt": "ends_at",
            "GeneratorURL": "generator_url",
            "Fingerprint": "fingerprint",
        },
    ),
)
register(
    Alerts,
    GoType(
        "template.Alerts",
        "slice",
        methods={
            "Firing": GoFunc(Alerts.firing, ("template.Alerts",)),
            "Resolved": GoFunc(Alerts.resolved, ("template.Alerts",)),
        },
        underlying="[]template.Alert",
    ),
)
register(AlertList, GoType("[]template.Alert", "slice"))
register(
    Escalation,
    GoType("template.Escalation", "struct", fields={"Policy": "policy", "Level": "level"}),
)
register(
    NotificationData,
    GoType(
        "*template.Data",
        "ptr",
        fields={
            "Receiver": "receiver",
            "Status": "status",
            "Alerts": "alerts",
            "GroupLabels": "group_labels",
            "CommonLabels": "common_labels",
            "CommonAnnotations": "common_annotations",
            "ExternalURL": "external_url",
            "Escalation": "escalation",
        },
    ),
)


def _join(sep: str, items: list[str]) -> str:
    return sep.join(items)


# Alertmanager 0.25's DefaultFuncs, exactly (no trimSpace: that came later).
FUNCS: dict[str, GoFunc] = {
    "toUpper": GoFunc(to_upper, ("string",)),
    "toLower": GoFunc(to_lower, ("string",)),
    "title": GoFunc(cases_title, ("string",)),
    "join": GoFunc(_join, ("string", "[]string")),
    "match": GoFunc(match, ("string", "string")),
    "safeHtml": GoFunc(lambda text: text, ("string",)),
    "reReplaceAll": GoFunc(re_replace_all, ("string", "string", "string")),
    "stringSlice": GoFunc(lambda *items: list(items), (), "string"),
}


# ---------------------------------------------------------------- building the data


class AlertLike(Protocol):
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float
    ends_at: float
    generator_url: str

    @property
    def fingerprint(self) -> str: ...


_QUOTE_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def quote_meta(text: str) -> str:
    """regexp.QuoteMeta, which Alertmanager applies to the receiver name."""
    return _QUOTE_META.sub(r"\\\1", text)


def alert_status(alert: AlertLike, now: float) -> str:
    return "resolved" if 0 < alert.ends_at <= now else "firing"


def _common(sets: list[dict[str, str]]) -> KV:
    if not sets:
        return KV()
    common = dict(sets[0])
    for other in sets[1:]:
        common = {k: v for k, v in common.items() if other.get(k) == v}
    return KV(common)


def notification_data(
    receiver: str,
    group_labels: dict[str, str],
    alerts: Iterable[AlertLike],
    external_url: str,
    now: float,
    escalation: Escalation | None = None,
) -> NotificationData:
    """Alertmanager's template.Data for a group of alerts at time `now` (unix seconds)."""
    items = list(alerts)
    rendered = Alerts(
        AlertData(
            status=alert_status(a, now),
            labels=KV(a.labels),
            annotations=KV(a.annotations),
            starts_at=GoTime.from_unix(a.starts_at),
            # As Alertmanager: an end time not reached yet is not shown (the zero time).
            ends_at=GoTime.from_unix(a.ends_at if 0 < a.ends_at <= now else 0.0),
            generator_url=a.generator_url,
            fingerprint=a.fingerprint,
        )
        for a in items
    )
    status = "resolved" if rendered and all(a.status == "resolved" for a in rendered) else "firing"
    return NotificationData(
        receiver=quote_meta(receiver),
        status=status,
        alerts=rendered,
        group_labels=KV(group_labels),
        common_labels=_common([a.labels for a in items]),
        common_annotations=_common([a.annotations for a in items]),
        external_url=external_url,
        escalation=escalation or Escalation(),
    )


# ---------------------------------------------------------------- template files


class NotificationTemplates:
    """Alertmanager's template set: default.tmpl, email.tmpl, then the `templates:` files."""

    def __init__(self, limits: Limits | None = None) -> None:
        self._base = Template("", FUNCS, limits)
        self._texts: OrderedDict[str, Template] = OrderedDict()

    def add_file(self, path: str | Path) -> None:
        """Parses one file; the template it defines are named as in it, the file by its basename."""
        path = Path(path)
        self._base.add(path.read_text(encoding="utf-8"), path.name)
        self._texts.clear()

    def add_glob(self, pattern: str) -> None:
        """Like a `templates:` entry: every matching file, in name order; no match is fine."""
        for name in sorted(glob.glob(pattern)):
            self.add_file(name)

    def render(self, text: str, data: object) -> str:
        """ExecuteTextString: `text` may call any template of the set. Raises TemplateError."""
        if text == "":
            return ""
        template = self._texts.get(text)
        if template is None:
            template = self._base.clone()
            template.add(text, "")
            self._texts[text] = template
            if len(self._texts) > 1024:
                self._texts.popitem(last=False)
        return template.execute_template("", data)


def load_templates(
    patterns: Sequence[str] = (), limits: Limits | None = None
) -> NotificationTemplates:
    """The set a configuration's `templates:` globs give, after Alertmanager's defaults."""
    templates = NotificationTemplates(limits)
    for path in DEFAULT_TEMPLATE_FILES:
        templates.add_file(path)
    for pattern in patterns:
        templates.add_glob(pattern)
    return templates


def render(text: str, data: object, templates: NotificationTemplates | None = None) -> str:
    """Renders one notification field (e.g. a receiver's `title:`) over `data`."""
    return (templates or _default_templates()).render(text, data)


_DEFAULTS: list[NotificationTemplates] = []


def _default_templates() -> NotificationTemplates:
    if not _DEFAULTS:
        _DEFAULTS.append(load_templates())
    return _DEFAULTS[0]
