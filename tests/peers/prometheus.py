"""A real Prometheus on a loopback port, with backfilled history and optional scrape jobs."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from .server import LoopbackServer, ServerFailed

# Time-based retention counts back from the newest block, not from the wall clock, so it
# only matters when blocks lie far apart; 100y (the maximum) keeps every block regardless.
_RETENTION = "100y"


class PrometheusServer(LoopbackServer):
    """`prometheus` serving `openmetrics` (backfilled before it starts) plus any scrape jobs.

    Query backfilled data with an explicit time inside it, e.g. `BASE_TIME` from series.py.
    """

    binary = "prometheus"
    requires = ("prometheus", "promtool")

    def __init__(
        self,
        openmetrics: str = "",
        *,
        scrape_configs: Sequence[Mapping[str, Any]] = (),
        extra_args: Sequence[str] = (),
        workdir: Path | None = None,
    ) -> None:
        super().__init__(workdir)
        self.openmetrics = openmetrics
        self.scrape_configs = list(scrape_configs)
        self.extra_args = list(extra_args)
        self.data_dir = self.workdir / "data"

    def command_line(self, port: int) -> list[str]:
        if self.openmetrics:
            backfill(self.openmetrics, self.data_dir, self.workdir / "backfill.om")
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump({"scrape_configs": self.scrape_configs}))
        return [
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir}",
            f"--storage.tsdb.retention.time={_RETENTION}",
            f"--web.listen-address=127.0.0.1:{port}",
            *self.extra_args,
        ]


def backfill(openmetrics: str, data_dir: Path, input_path: Path) -> None:
    """Write TSDB blocks for `openmetrics` into `data_dir`; Prometheus must not be running."""
    input_path.write_text(openmetrics)
    data_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(input_path), str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise ServerFailed(f"promtool backfill failed:\n{done.stdout}{done.stderr}")
