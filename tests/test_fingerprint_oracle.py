"""Our alert fingerprint against the one a real Alertmanager 0.25 reports for the same labels."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from alerting.labels import fingerprint_hex, label_key
from tests.peers.alertmanager import AlertmanagerServer

LABEL_SETS: list[dict[str, str]] = [
    {"a": "b"},
    {"alertname": "Plain"},
    {"alertname": "HighLatency", "job": "api", "instance": "10.0.0.1:9090", "severity": "page"},
    {"alertname": "Unicode", "city": "Zürich", "emoji": "🔥", "cjk": "警报", "rtl": "שלום"},
    {"alertname": "Normalisation", "v": "é"},
    {"alertname": "Normalisation", "v": "e\u0301"},
    {"alertname": "LatinSmallYDiaeresis", "v": "ÿÿ"},  # U+00FF is 0xC3 0xBF, not the separator
    {"alertname": "Quotes", "v": "say \"hi\" and 'bye'"},
    {"alertname": "Backslashes", "path": "C:\\Users\\x", "re": "\\d+\\.\\d+", "end": "\\"},
    {"alertname": "Whitespace", "nl": "one\ntwo", "tab": "a\tb", "cr": "x\r\n", "sp": "  "},
    {"alertname": "Control", "v": "\x01\x1f\x7f", "nul": "a\x00b"},
    {"alertname": "ZeroWidth", "v": "\u200b", "bom": "\ufeff"},
    {"alertname": "Syntax", "m": 'a="b",c!~"d.*"}{', "json": '{"k": [1, 2]}'},
    {"alertname": "Numbers", "zero": "0", "neg": "-1.5e10", "inf": "+Inf", "nan": "NaN"},
    {"alertname": "Long", "v": "x" * 10_000},
    {"alertname": "LongName", "n" * 300: "v"},
    {"alertname": "Many", **{f"label_{i:03d}": f"value {i}" for i in range(128)}},
    {"alertname": "Order", "ab": "c"},
    {"alertname": "Order", "a": "bc"},
    {"alertname": "Order", "a": "b", "c": "x"},
    {"alertname": "Swap", "x": "1", "y": "2"},
    {"alertname": "Swap", "x": "2", "y": "1"},
    {"alertname": "Case", "Env": "prod"},
    {"alertname": "Case", "env": "prod"},
    {"alertname": "Prefix", "a": "1", "aa": "1", "a_": "1", "A": "1", "_a": "1"},
    {"alertname": "Reserved", "__name__": "up", "__meta_x": "y"},
    {"alertname": "NameAsValue", "alertname_": "alertname"},
    {"alertname": "Tab\tIn\tName"},
    {"Z": "1", "_": "2", "a": "3", "B": "4", "z0": "5", "z_": "6"},
    {"alertname": "Separators", "v": "a\xfeb", "w": "\u0080\u07ff\u0800\uffff\U0010ffff"},
]


async def test_fingerprints_match_alertmanager(
    alertmanager_peer: Callable[..., AlertmanagerServer],
) -> None:
    returned = await post_and_read_back(alertmanager_peer().url, LABEL_SETS)
    assert sorted(label_key(labels) for labels, _ in returned) == sorted(map(label_key, LABEL_SETS))
    for labels, fingerprint in returned:
        assert fingerprint_hex(labels) == fingerprint, labels


async def test_empty_values_are_dropped_before_fingerprinting(
    alertmanager_peer: Callable[..., AlertmanagerServer],
) -> None:
    # Alertmanager removes empty-valued labels on ingest, so they never reach the fingerprint.
    posted = {"alertname": "EmptyValue", "gone": "", "kept": "x"}
    stored = {"alertname": "EmptyValue", "kept": "x"}
    returned = await post_and_read_back(alertmanager_peer().url, [posted])
    assert returned == [(stored, fingerprint_hex(stored))]


async def post_and_read_back(
    url: str, label_sets: list[dict[str, str]]
) -> list[tuple[dict[str, str], str]]:
    """POST the alerts, then GET them back: (labels as Alertmanager stored them, fingerprint)."""
    async with aiohttp.ClientSession() as session:
        alerts = [{"labels": labels} for labels in label_sets]
        async with session.post(f"{url}/api/v2/alerts", json=alerts) as response:
            assert response.status == 200, await response.text()
        async with session.get(f"{url}/api/v2/alerts") as response:
            assert response.status == 200, await response.text()
            found = await response.json()
    return [(alert["labels"], alert["fingerprint"]) for alert in found]
