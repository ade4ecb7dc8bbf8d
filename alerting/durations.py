"""Prometheus duration syntax (`1h30m`, `250ms`, `1w`) and its formatting."""

from __future__ import annotations

import re

_UNITS: list[tuple[str, float]] = [
    ("y", 365 * 86400.0),
    ("w", 7 * 86400.0),
    ("d", 86400.0),
    ("h", 3600.0),
    ("m", 60.0),
    ("s", 1.0),
    ("ms", 0.001),
]
_DURATION_RE = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)


def parse_duration(text: str) -> float:
    """Seconds in `text`; raises ValueError with Prometheus's wording on bad input."""
    if text == "0":
        return 0.0
    match = _DURATION_RE.match(text) if text else None
    if match is None or not any(match.groups()):
        raise ValueError(f'not a valid duration string: "{text}"')
    return sum(int(g) * unit for g, (_, unit) in zip(match.groups(), _UNITS, strict=True) if g)


def format_duration(seconds: float) -> str:
    """Prometheus's String() of a model.Duration: `1h30m`, `0s`, `250ms`."""
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    parts: list[str] = []
    for suffix, unit in _UNITS:
        unit_ms = round(unit * 1000)
        count, ms = divmod(ms, unit_ms)
        if count:
            parts.append(f"{count}{suffix}")
    return "".join(parts)
