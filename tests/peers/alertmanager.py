"""A real Alertmanager on a loopback port, clustering off, state in its own directory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .server import LoopbackServer

DEFAULT_CONFIG: Mapping[str, Any] = {
    "route": {"receiver": "null"},
    "receivers": [{"name": "null"}],
}


class AlertmanagerServer(LoopbackServer):
    """`prometheus-alertmanager` with `config` (YAML text or a mapping)."""

    binary = "prometheus-alertmanager"
    requires = ("prometheus-alertmanager",)

    def __init__(
        self,
        config: str | Mapping[str, Any] = DEFAULT_CONFIG,
        *,
        extra_args: Sequence[str] = (),
        workdir: Path | None = None,
    ) -> None:
        super().__init__(workdir)
        self.config = config if isinstance(config, str) else yaml.safe_dump(dict(config))
        self.extra_args = list(extra_args)

    def command_line(self, port: int) -> list[str]:
        config = self.workdir / "alertmanager.yml"
        config.write_text(self.config)
        return [
            f"--config.file={config}",
            f"--storage.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # empty: no gossip port, no peers
            *self.extra_args,
        ]
