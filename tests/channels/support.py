"""What the channel tests share: amtool's verdict on a receiver entry, and channel state in a dict."""

from __future__ import annotations

import re
import subprocess
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
