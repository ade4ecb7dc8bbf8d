"""Running a real server binary on a free loopback port: start, wait until ready, stop."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Self

from .ports import free_port

READY_TIMEOUT = 30.0
_POLL_INTERVAL = 0.02
_STOP_TIMEOUT = 10.0
_LOG_TAIL = 3000


class ServerFailed(RuntimeError):
    """The server exited or never became ready; the message ends with its log."""


class LoopbackServer:
    """One server process for a test. Subclasses name the binary and write its files.

    Use as a context manager, sync or async; `url` is set once it is ready.
    """

    binary: str = ""
    requires: tuple[str, ...] = ()  # every executable it needs, for skipping where absent

    def __init__(self, workdir: Path | None = None) -> None:
        self._owns_workdir = workdir is None
        self.workdir = (
            Path(tempfile.mkdtemp(prefix=f"{self.binary}-")) if workdir is None else workdir
        )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / f"{self.binary}.log"
        self.port = 0
        self.url = ""
        self._process: subprocess.Popen[bytes] | None = None

    def command_line(self, port: int) -> list[str]:
        """The arguments after the binary; subclasses also write config and data here."""
        raise NotImplementedError

    def start(self) -> Self:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            executable = shutil.which(self.binary)
            if executable is None:
                raise ServerFailed(f"{self.binary} is not installed")
            args = [executable, *self.command_line(self.port)]
            with self.log_path.open("wb") as log:
                self._process = subprocess.Popen(
                    args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
                )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-_LOG_TAIL:]
        except FileNotFoundError:
            return ""

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise ServerFailed(f"{self.binary} exited with {code}:\n{self.log_tail()}")
            if _answers_ok(f"{self.url}/-/ready"):
                return
            time.sleep(_POLL_INTERVAL)  # polling a process we started, not waiting on an event
        raise ServerFailed(f"{self.binary} not ready after {READY_TIMEOUT:g}s:\n{self.log_tail()}")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


def _answers_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
