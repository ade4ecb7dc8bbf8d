"""The audit log: one JSON line per write request (who, what, when, with what outcome), appended
to a file by a thread of its own so that a slow disk never stalls the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from aiohttp import web

from alerting.api.auth import identity
from alerting.config import Config

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

FILE_NAME = "audit.log"
_READS = frozenset({"GET", "HEAD"})


def log_path(config: Config, config_dir: Path) -> Path:
    """`server.audit_log`, by default `audit.log` beside the SQLite store (under the config's
    `data/` when state is in PostgreSQL, where the store's own default would be)."""
    if config.server.audit_log:
        return Path(config.server.audit_log)
    if config.storage.path.startswith(("postgres://", "postgresql://")):
        return config_dir / "data" / FILE_NAME
    return Path(config.storage.path).parent / FILE_NAME


class AuditLog:
    """Lines are queued by the event loop and written and flushed by the writer thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._queue: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self._file: IO[str] | None = None
        self._writer: threading.Thread | None = None

    def open(self) -> None:
        """Open (creating it readable by its owner only) at start, so a bad path fails the start."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(  # noqa: SIM115 - closed by close(), after the writer has finished
            self.path, "a", encoding="utf-8", opener=lambda p, f: os.open(p, f, 0o600)
        )
        self._writer = threading.Thread(target=self._write_lines, name="audit-log", daemon=True)
        self._writer.start()

    def record(self, entry: dict[str, Any]) -> None:
        self._queue.put(entry)

    def close(self) -> None:
        """Write what is queued, then close; blocks, so call it from a thread."""
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None
        if self._file is not None:
            self._file.close()
            self._file = None

    async def lifetime(self, _: web.Application) -> AsyncIterator[None]:
        """For `app.cleanup_ctx`: open as the app starts, close once it has stopped serving."""
        self.open()
        yield
        await asyncio.to_thread(self.close)

    def _write_lines(self) -> None:
        assert self._file is not None
        while (entry := self._queue.get()) is not None:
            try:
                self._file.write(json.dumps(entry, ensure_ascii=False) + "\n")
                if self._queue.empty():  # a burst is flushed once, at its end
                    self._file.flush()
            except OSError as exc:
                log.error("cannot write the audit log %s: %s", self.path, exc)
        self._file.flush()


def middleware(audit: AuditLog) -> Middleware:
    """Records every request that is not a read, refused ones included. Put it outside the auth
    middleware (to see refusals) and inside the error one (to see the statuses clients get)."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method in _READS:
            return await handler(request)
        received = datetime.now(UTC)
        status: int | None = None  # stays None when the client goes away before an answer
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except Exception:
            status = 500
            raise
        finally:
            audit.record(_entry(request, received, status))

    return record


def _entry(request: web.Request, received: datetime, status: int | None) -> dict[str, Any]:
    return {
        "ts": received.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "identity": identity(request),
        "remote": request.remote,
        "method": request.method,
        # As sent: the decoded forms would hide the difference between "/" and "%2F".
        "path": request.rel_url.raw_path,
        "query": request.rel_url.raw_query_string,
        "status": status,
    }
