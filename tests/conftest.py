"""Shared fixtures. Peers are the real Prometheus and Alertmanager; their code is in tests/peers."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any, TypeVar

import pytest

from tests.peers.alertmanager import AlertmanagerServer
from tests.peers.prometheus import PrometheusServer
from tests.peers.server import LoopbackServer

Server = TypeVar("Server", bound=LoopbackServer)


def _starter(
    kind: type[Server], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Server]]:
    """A function that starts servers of `kind`; all of them stop when the fixture ends."""
    missing = [name for name in kind.requires if shutil.which(name) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    with ExitStack() as running:

        def start(*args: Any, **kwargs: Any) -> Server:
            workdir = tmp_path_factory.mktemp(kind.binary)  # kept by pytest: logs for failures
            return running.enter_context(kind(*args, workdir=workdir, **kwargs))

        yield start


@pytest.fixture
def prometheus_peer(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., PrometheusServer]]:
    """`prometheus_peer(openmetrics="", *, scrape_configs=(), extra_args=())` → started server."""
    yield from _starter(PrometheusServer, tmp_path_factory)


@pytest.fixture(scope="module")
def module_prometheus_peer(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., PrometheusServer]]:
    """As `prometheus_peer`, for servers shared by a module's tests."""
    yield from _starter(PrometheusServer, tmp_path_factory)


@pytest.fixture
def alertmanager_peer(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., AlertmanagerServer]]:
    """`alertmanager_peer(config=DEFAULT_CONFIG, *, extra_args=())` → started server."""
    yield from _starter(AlertmanagerServer, tmp_path_factory)
