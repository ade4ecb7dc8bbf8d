"""Alertmanager API v2 on the daemon: alerts pushed and listed in Alertmanager 0.25's shapes, the
filters, groups, silences and their persistence, status and receivers, and every kind of bad
input answered with a 4xx that names the problem."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from alerting.clock import ManualClock
from alerting.labels import fingerprint_hex
from alerting.notify.silence import format_api_time
from tests.api.daemon import NOTIFY, Daemon, write_config

T0 = 1_700_000_000.0
AT = format_api_time


def alert(name: str, **labels: str) -> dict[str, object]:
    return {"labels": {"alertname": name, **labels}}


def silence(*matchers: tuple[str, str], **fields: object) -> dict[str, object]:
    return {
        "matchers": [{"name": n, "value": v, "isRegex": False} for n, v in matchers],
        "startsAt": AT(T0),
        "endsAt": AT(T0 + 3600),
        "createdBy": "tests",
        "comment": "quiet please",
        **fields,
    }


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with Daemon(write_config(tmp_path), ManualClock(T0)) as running:
        yield running


async def test_pushed_alerts_list_in_alertmanagers_shape(daemon: Daemon) -> None:
    pushed = {
        **alert("Disk", instance="a", severity="warning"),
        "annotations": {"summary": "disk <full> & more"},
        "startsAt": AT(T0 - 60),
        "endsAt": AT(T0 + 600),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
    }
    assert await daemon.post("/api/v2/alerts", [pushed, alert("Bare")]) == (200, None)
    status, listed = await daemon.get("/api/v2/alerts")
    assert status == 200
    disk = fingerprint_hex(pushed["labels"])
    bare = fingerprint_hex({"alertname": "Bare"})
    assert [a["fingerprint"] for a in listed] == sorted([disk, bare])
    first = next(a for a in listed if a["fingerprint"] == disk)
    assert list(first) == [
        "annotations",
        "endsAt",
        "fingerprint",
        "receivers",
        "startsAt",
        "status",
        "updatedAt",
        "generatorURL",
        "labels",
    ]
    assert first == {
        "annotations": {"summary": "disk <full> & more"},
        "endsAt": AT(T0 + 600),
        "fingerprint": disk,
        "receivers": [{"name": "team"}],
        "startsAt": AT(T0 - 60),
        "status": {"inhibitedBy": [], "silencedBy": [], "state": "active"},
        "updatedAt": AT(T0),
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "labels": {"alertname": "Disk", "instance": "a", "severity": "warning"},
    }
    # No times given: startsAt is now, endsAt now + resolve_timeout; no generatorURL key.
    second = next(a for a in listed if a["fingerprint"] == bare)
    assert (second["startsAt"], second["endsAt"]) == (AT(T0), AT(T0 + 300))
    assert "generatorURL" not in second


async def test_an_update_continues_the_alert_it_overlaps(daemon: Daemon) -> None:
    first = {**alert("Load"), "startsAt": AT(T0 - 600), "annotations": {"v": "1"}}
    await daemon.post("/api/v2/alerts", [first])
    later = {**alert("Load"), "startsAt": AT(T0 - 60), "annotations": {"v": "2"}}
    await daemon.post("/api/v2/alerts", [later])
    _, (merged,) = await daemon.get("/api/v2/alerts")
    assert merged["startsAt"] == AT(T0 - 600) and merged["annotations"] == {"v": "2"}


async def test_invalid_alerts_are_named_by_path_and_the_valid_ones_kept(daemon: Daemon) -> None:
    batch = [
        alert("Kept1"),
        {"labels": {"a b": "x"}},
        {**alert("Bad"), "annotations": {"1": "x"}},
        None,
        {"labels": {"gone": ""}},
        {"labels": "text"},
        {"labels": {"n": 1}},
        {**alert("Bad"), "startsAt": "yesterday"},
        {**alert("Bad"), "startsAt": AT(T0), "endsAt": AT(T0 - 1)},
        {**alert("Bad"), "generatorURL": "not a url"},
        {"annotations": {}},
        {**alert("Kept2"), "empty": ""},
        {**alert("Kept3"), "labels": {"alertname": "Kept3", "dropped": ""}},
    ]
    status, body = await daemon.post("/api/v2/alerts", batch)
    assert status == 400
    assert body == "; ".join(
        [
            'alerts[1].labels: invalid label set: invalid name "a b"',
            'alerts[2].annotations: invalid annotations: invalid name "1"',
            "alerts[3]: expected an object",
            "alerts[4].labels: at least one label pair required",
            "alerts[5].labels: expected an object",
            "alerts[6].labels.n: expected a string",
            'alerts[7].startsAt: cannot parse "yesterday" as an RFC 3339 date-time',
            "alerts[8].endsAt: start time must be before end time",
            'alerts[9].generatorURL: must be of type uri: "not a url"',
            "alerts[10].labels: is required",
        ]
    )
    _, listed = await daemon.get("/api/v2/alerts")
    assert sorted(a["labels"]["alertname"] for a in listed) == ["Kept1", "Kept2", "Kept3"]
    assert next(a for a in listed if a["labels"]["alertname"] == "Kept3")["labels"] == {
        "alertname": "Kept3"
    }


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "body"),
    [
        (
            b"garbage",
            "application/json",
            400,
            {
                "code": 400,
                "message": "parsing alerts body failed: invalid JSON: Expecting value"
                " at line 1 column 1",
            },
        ),
        (
            b'{"labels": {"a": "b"}}',
            "application/json",
            400,
            {"code": 400, "message": "parsing alerts body failed: alerts: expected an array"},
        ),
        (b"[" * 100_000, "application/json", 400, None),
        (b"null", "application/json", 200, None),
        (b"[]", "application/json", 200, None),
        (
            b"[]",
            "text/plain",
            415,
            {
                "code": 415,
                "message": 'unsupported media type "text/plain", only [application/json]'
                " are allowed",
            },
        ),
        (b'[{"labels": {"a": "\xff\xfe"}}]', "application/json", 200, None),
    ],
)
async def test_bodies_that_do_not_decode(
    daemon: Daemon, raw: bytes, content_type: str, status: int, body: object
) -> None:
    answer = await daemon.request("POST", "/api/v2/alerts", raw=raw, content_type=content_type)
    assert answer[0] == status
    if body is not None:
        assert answer[1] == body
    elif status == 400:
        assert answer[1]["message"].startswith("parsing alerts body failed: invalid JSON")
    assert (await daemon.get("/-/healthy"))[0] == 200


async def test_invalid_utf8_becomes_the_replacement_character(daemon: Daemon) -> None:
    raw = b'[{"labels": {"alertname": "U", "a": "x\xffy", "b": "\\ud800"}}]'
    assert (await daemon.request("POST", "/api/v2/alerts", raw=raw))[0] == 200
    _, (listed,) = await daemon.get("/api/v2/alerts")
    assert listed["labels"] == {"alertname": "U", "a": "x\ufffdy", "b": "\ufffd"}


async def test_filters_select_as_alertmanagers_do(daemon: Daemon) -> None:
    await daemon.post(
        "/api/v2/alerts",
        [
            alert("Src", instance="a", severity="critical"),
            alert("Muted", instance="a", severity="warning"),
            alert("Db", instance="b", service="db"),
            alert("Hush", instance="c"),
        ],
    )
    status, body = await daemon.post("/api/v2/silences", silence(("alertname", "Hush")))
    assert status == 200
    silence_id = body["silenceID"]

    async def names(**params: object) -> list[str]:
        status, listed = await daemon.get("/api/v2/alerts", **params)
        assert status == 200, listed
        return sorted(a["labels"]["alertname"] for a in listed)

    assert await names() == ["Db", "Hush", "Muted", "Src"]
    assert await names(silenced=False) == ["Db", "Muted", "Src"]
    assert await names(inhibited=False) == ["Db", "Hush", "Src"]
    assert await names(active=False) == ["Hush", "Muted"]
    assert await names(active="no", silenced="0", inhibited="off") == []
    assert await names(filter=['alertname=~"S.*|D.*"', "instance!=b"]) == ["Src"]
    assert await names(filter='{alertname="Db",service="db"}') == ["Db"]
    assert await names(receiver="db") == ["Db"]
    assert await names(receiver="t.*") == ["Db", "Hush", "Muted", "Src"]
    _, listed = await daemon.get("/api/v2/alerts", filter="alertname=~M.*|H.*")
    statuses = {a["labels"]["alertname"]: a["status"] for a in listed}
    src = fingerprint_hex({"alertname": "Src", "instance": "a", "severity": "critical"})
    assert statuses == {
        "Hush": {"inhibitedBy": [], "silencedBy": [silence_id], "state": "suppressed"},
        "Muted": {"inhibitedBy": [src], "silencedBy": [], "state": "suppressed"},
    }
    assert await daemon.get("/api/v2/alerts", filter="bad") == (400, "bad matcher format: bad")
    assert await daemon.get("/api/v2/alerts", receiver="(") == (
        400,
        "failed to parse receiver param: error parsing regexp: missing closing ): `^(?:()$`",
    )
    assert (await daemon.get("/api/v2/alerts/groups", filter='a=~"("'))[0] == 400


async def test_groups_list_by_labels_then_receiver(daemon: Daemon) -> None:
    await daemon.post(
        "/api/v2/alerts",
        [
            alert("Db", instance="b", service="db"),
            alert("Api", instance="z", job="api"),
            alert("Api", instance="a", job="api"),
            {**alert("Old"), "startsAt": AT(T0 - 600), "endsAt": AT(T0 - 60)},
        ],
    )
    status, groups = await daemon.get("/api/v2/alerts/groups")
    assert status == 200
    summary = [
        (g["labels"], g["receiver"]["name"], [a["labels"]["instance"] for a in g["alerts"]])
        for g in groups
    ]
    # Resolved alerts are not listed; a group left empty by that is not either.
    assert summary == [
        ({"alertname": "Api"}, "team", ["a", "z"]),
        ({"alertname": "Db"}, "db", ["b"]),
        ({"alertname": "Db"}, "team", ["b"]),
    ]
    db_alert = groups[1]["alerts"][0]
    assert db_alert["receivers"] == [{"name": "db"}, {"name": "team"}]
    assert list(groups[0]) == ["alerts", "labels", "receiver"]
    _, only_db = await daemon.get("/api/v2/alerts/groups", receiver="db")
    assert [(g["labels"], g["receiver"]["name"]) for g in only_db] == [({"alertname": "Db"}, "db")]
    assert only_db[0]["alerts"][0]["receivers"] == [{"name": "db"}]


async def test_silences_update_in_place_or_expire_and_recreate(
    daemon: Daemon, tmp_path: Path
) -> None:
    status, body = await daemon.post("/api/v2/silences", silence(("alertname", "A")))
    assert status == 200 and list(body) == ["silenceID"]
    first = body["silenceID"]
    assert stored_silence_ids(tmp_path) == {first}  # persisted before the answer

    _, got = await daemon.get(f"/api/v2/silence/{first}")
    assert got == {
        "id": first,
        "status": {"state": "active"},
        "updatedAt": AT(T0),
        "comment": "quiet please",
        "createdBy": "tests",
        "endsAt": AT(T0 + 3600),
        "matchers": [{"isEqual": True, "isRegex": False, "name": "alertname", "value": "A"}],
        "startsAt": AT(T0),
    }
    # Same matchers, same start: updated in place.
    changed = {**silence(("alertname", "A")), "id": first, "comment": "longer"}
    assert await daemon.post("/api/v2/silences", changed) == (200, {"silenceID": first})
    # Other matchers: a new silence, and the old one expires.
    moved = {**silence(("alertname", "B")), "id": first}
    status, body = await daemon.post("/api/v2/silences", moved)
    second = body["silenceID"]
    assert status == 200 and second != first
    _, listed = await daemon.get("/api/v2/silences")
    assert [(s["id"], s["status"]["state"], s["comment"]) for s in listed] == [
        (second, "active", "quiet please"),
        (first, "expired", "longer"),
    ]
    assert stored_silence_ids(tmp_path) == {first, second}
    _, filtered = await daemon.get("/api/v2/silences", filter='alertname="B"')
    assert [s["id"] for s in filtered] == [second]

    assert (await daemon.request("DELETE", f"/api/v2/silence/{second}")) == (200, None)
    _, after = await daemon.get(f"/api/v2/silence/{second}")
    assert after["status"]["state"] == "expired"


async def test_silence_errors_answer_as_alertmanager(daemon: Daemon) -> None:
    unknown = "6a0b7a37-8c29-4a3b-9b9b-0a1b2c3d4e5f"
    cases = [
        (
            silence(("a", "")),
            400,
            "silence invalid: at least one matcher must not match the empty string",
        ),
        (
            {**silence(("a", "x")), "endsAt": AT(T0 - 1), "startsAt": AT(T0 - 10)},
            400,
            "Failed to create silence: end time can't be in the past",
        ),
        ({**silence(("a", "x")), "id": unknown}, 404, "silence not found"),
        (
            {k: v for k, v in silence(("a", "x")).items() if k != "createdBy"},
            422,
            {"code": 602, "message": "createdBy: is required"},
        ),
        ([], 400, "silence: must be a JSON object"),
    ]
    for body, status, answer in cases:
        assert await daemon.post("/api/v2/silences", body) == (status, answer), body
    garbage = await daemon.request("POST", "/api/v2/silences", raw=b"{")
    assert garbage[0] == 400 and garbage[1]["message"].startswith("parsing silence body failed")
    assert await daemon.get(f"/api/v2/silence/{unknown}") == (404, None)
    assert await daemon.request("DELETE", f"/api/v2/silence/{unknown}") == (
        404,
        "silence not found",
    )
    not_uuid = {"code": 601, "message": 'silenceID in path must be of type uuid: "nope"'}
    assert await daemon.get("/api/v2/silence/nope") == (422, not_uuid)
    assert await daemon.request("DELETE", "/api/v2/silence/nope") == (422, not_uuid)
    assert (await daemon.get("/api/v2/silences"))[1] == []


async def test_status_hides_secrets_and_receivers_follow_the_config(tmp_path: Path) -> None:
    notify = {
        **NOTIFY,
        "receivers": [
            {
                "name": "team",
                "webhook_configs": [
                    {
                        "url": "http://127.0.0.1:1/hook",
                        "http_config": {"basic_auth": {"username": "u", "password": "pw-123"}},
                    }
                ],
            },
            {"name": "db"},
            {"name": "quiet"},
        ],
    }
    config = write_config(tmp_path, notify, **{"global": {"slack_api_url": "https://s/xyz"}})
    async with Daemon(config, ManualClock(T0)) as daemon:
        status, body = await daemon.get("/api/v2/status")
        assert status == 200
        assert list(body) == ["cluster", "config", "uptime", "versionInfo"]
        assert body["cluster"] == {"peers": [], "status": "disabled"}
        assert body["uptime"] == AT(daemon.service.started_at)
        assert body["versionInfo"]["version"] == "0.25.0"
        original = body["config"]["original"]
        assert "pw-123" not in original and "xyz" not in original
        assert "password: <secret>" in original and "slack_api_url: <secret>" in original
        assert "url: http://127.0.0.1:1/hook" in original  # not a secret in 0.25
        assert await daemon.get("/api/v2/receivers") == (
            200,
            [{"name": "team"}, {"name": "db"}, {"name": "quiet"}],
        )


async def test_without_a_route_pushes_are_refused_and_silences_still_work(
    tmp_path: Path,
) -> None:
    async with Daemon(write_config(tmp_path, {}), ManualClock(T0)) as daemon:
        status, body = await daemon.post("/api/v2/alerts", [alert("A")])
        assert status == 503 and "no route" in body
        assert await daemon.get("/api/v2/alerts") == (200, [])
        assert await daemon.get("/api/v2/alerts/groups") == (200, [])
        assert await daemon.get("/api/v2/receivers") == (200, [])
        assert (await daemon.post("/api/v2/silences", silence(("a", "b"))))[0] == 200
        assert len((await daemon.get("/api/v2/silences"))[1]) == 1


def stored_silence_ids(directory: Path) -> set[str]:
    with sqlite3.connect(directory / "state" / "alerting.db") as db:
        return {row[0] for row in db.execute("SELECT id FROM silence")}
