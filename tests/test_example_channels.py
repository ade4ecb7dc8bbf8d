"""The example receivers under channels/ load as they are, and build into working channels."""

from __future__ import annotations

from pathlib import Path

import yaml

from alerting.config import load_config
from alerting.httpclient import new_session
from alerting.notifier import build_stages
from alerting.template.alertmanager import load_templates

EXAMPLES = Path(__file__).parent.parent / "channels"


class NoState:
    async def get(self, key: str) -> str | None:
        return None

    async def put(self, key: str, value: str | None) -> None:
        pass


def write_config(tmp_path: Path) -> Path:
    receivers = []
    for file in sorted(EXAMPLES.glob("*.yaml")):
        receivers += yaml.safe_load(file.read_text())
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in ("smtp-password", "slack-bot-token", "hook-token"):
        (secrets / name).write_text("s3cret\n")
    (secrets / "slack-webhook-url").write_text("https://hooks.slack.com/services/T/B/X\n")
    (secrets / "pagerduty-routing-key").write_text("0123456789abcdef0123456789abcdef\n")
    config = {
        "datasource": {"prometheus": {"url": "http://127.0.0.1:9090"}},
        "route": {"receiver": receivers[0]["name"]},
        "receivers": receivers,
    }
    path = tmp_path / "alerting.yml"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_every_example_receiver_loads_and_builds(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    kinds = {
        receiver.name: sorted(
            kind
            for kind in ("email", "slack", "pagerduty", "webhook")
            if getattr(receiver, f"{kind}_configs")
        )
        for receiver in config.receivers
    }
    assert kinds == {
        "ops-email": ["email"],
        "team-chat": ["slack"],
        "team-chat-bot": ["slack"],
        "pager": ["pagerduty"],
        "automation": ["webhook"],
    }
    async with new_session() as session:
        stages = build_stages(config, session, load_templates(), NoState())
        built = {name: [i.name for i in ints] for name, ints in stages.receivers.items()}
    assert built["ops-email"] == ["ops-email/email/0"]
    assert built["team-chat-bot"] == ["team-chat-bot/slack/0"]
