"""amtool 0.25 against the daemon, as a user points it at an Alertmanager: alerts added and
queried, silences added, queried, expired and imported, and the config shown without secrets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.api.daemon import NOTIFY, Daemon, run, write_config

pytestmark = pytest.mark.skipif(shutil.which("amtool") is None, reason="amtool not installed")


async def amtool(daemon: Daemon, *args: str, stdin: bytes | None = None) -> str:
    code, out, err = await run("amtool", f"--alertmanager.url={daemon.url}", *args, stdin=stdin)
    assert code == 0, f"amtool {' '.join(args)}: {err}"
    return out


async def amtool_json(daemon: Daemon, *args: str) -> Any:
    return json.loads(await amtool(daemon, "-o", "json", *args))


async def test_amtool_adds_queries_silences_and_imports(tmp_path: Path) -> None:
    async with Daemon(write_config(tmp_path)) as daemon:
        await amtool(
            daemon,
            "alert",
            "add",
            "alertname=Amtool",
            "severity=warning",
            "--annotation=summary=hi",
        )
        await amtool(daemon, "alert", "add", "alertname=Other", "job=x")
        (added,) = await amtool_json(daemon, "alert", "query", "alertname=Amtool")
        assert added["labels"] == {"alertname": "Amtool", "severity": "warning"}
        assert added["annotations"] == {"summary": "hi"}
        assert added["receivers"] == [{"name": "team"}]
        assert len(await amtool_json(daemon, "alert", "query")) == 2

        silence_id = (
            await amtool(
                daemon, "silence", "add", "alertname=Amtool", "-c", "by amtool", "-d", "1h"
            )
        ).strip()
        # amtool shows only unsilenced alerts unless asked (-s) for silenced ones.
        assert await amtool_json(daemon, "alert", "query", "alertname=Amtool") == []
        (silenced,) = await amtool_json(daemon, "alert", "query", "-s", "alertname=Amtool")
        assert silenced["status"] == {
            "inhibitedBy": [],
            "silencedBy": [silence_id],
            "state": "suppressed",
        }
        exported = await amtool(daemon, "-o", "json", "silence", "query")
        (listed,) = json.loads(exported)
        assert (listed["id"], listed["comment"], listed["matchers"]) == (
            silence_id,
            "by amtool",
            [{"isEqual": True, "isRegex": False, "name": "alertname", "value": "Amtool"}],
        )
        assert await amtool_json(daemon, "silence", "query", "alertname=Other") == []

        await amtool(daemon, "silence", "expire", silence_id)
        assert await amtool_json(daemon, "silence", "query") == []
        (expired,) = await amtool_json(daemon, "silence", "query", "--expired")
        assert expired["id"] == silence_id and expired["status"] == {"state": "expired"}
        assert len(await amtool_json(daemon, "alert", "query", "alertname=Amtool")) == 1

        await amtool(daemon, "silence", "import", stdin=exported.encode())
        (imported,) = await amtool_json(daemon, "silence", "query")
        assert imported["id"] != silence_id and imported["comment"] == "by amtool"

        code, _, err = await run(
            "amtool", f"--alertmanager.url={daemon.url}", "silence", "add", 'foo=""', "-c", "x"
        )
        assert code != 0
        assert "at least one matcher must not match the empty string" in err


async def test_amtool_config_show_hides_secrets(tmp_path: Path) -> None:
    notify = {
        **NOTIFY,
        "receivers": [
            {
                "name": "team",
                "webhook_configs": [
                    {
                        "url": "http://127.0.0.1:1/hook",
                        "http_config": {"authorization": {"credentials": "t0ps3cret"}},
                    }
                ],
            },
            {"name": "db"},
            {"name": "quiet"},
        ],
    }
    async with Daemon(write_config(tmp_path, notify)) as daemon:
        shown = await amtool(daemon, "config", "show")
        assert "t0ps3cret" not in shown
        assert "credentials: <secret>" in shown
        assert "receiver: team" in shown
        status = await amtool_json(daemon, "config", "show")
        assert status["cluster"]["status"] == "disabled"
