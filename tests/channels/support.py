"""What the channel tests share: amtool's verdict on a receiver entry, channel state in a dict,
and start times for alerts posted to a real Alertmanager."""

from __future__ import annotations

import math
import re
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml


def amtool_check(
    kind: str, entry: dict[str, Any], directory: Path, global_: dict[str, Any] | None = None
) -> str | None:
    """None if `amtool check-config` accepts a receiver with this `kind` entry (such as
    "webhook_configs"), else its message."""
    document: dict[str, Any] = {
        "route": {"receiver": "r"},
        "receivers": [{"name": "r", kind: [entry]}],
    }
    if global_ is not None:
        document["global"] = global_
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True))
    done = subprocess.run(
        ["amtool", "check-config", str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        return None
    match = re.search(r"FAILED: (.*)", done.stdout + done.stderr)
    assert match, done.stdout + done.stderr
    return match.group(1)


class MemoryState:
    """alerting.channels.ChannelState in a dict."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def put(self, key: str, value: str | None) -> None:
        if value is None:
            self.values.pop(key, None)
        else:
            self.values[key] = value


def starting_soon(fractions: Sequence[float]) -> list[str]:
    """RFC 3339 start times a moment ahead, `fractions` seconds after the same whole second.

    Alertmanager flushes a new group at once when its first alert is older than group_wait,
    which could be before the rest of the same POST has joined it; alerts starting now or
    later are waited for.
    """
    soon = math.floor(time.time()) + 2
    return [
        datetime.fromtimestamp(soon + f, UTC)
        .isoformat(timespec="microseconds")
        .replace("+00:00", "Z")
        for f in fractions
    ]
