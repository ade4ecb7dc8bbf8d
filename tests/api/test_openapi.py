"""The OpenAPI document (alerting/api/openapi.json) against the daemon it describes: valid OpenAPI,
served as packaged, every route documented and every documented path served, roles as the auth
table has them, and schemathesis fuzzing the running daemon from the document with an admin
token: no 5xx, and every answer's status, content type, headers and body as documented."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import schemathesis
import yaml
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.config import SchemathesisConfig

import alerting
from alerting.api import auth
from alerting.api.app import openapi_document
from alerting.config import ServerConfig
from alerting.labels import fingerprint_hex
from alerting.service import Service
from tests.api.daemon import NOTIFY
from tests.peers.ports import free_port

T = TypeVar("T")

DOCUMENT_FILE = Path(alerting.__file__).parent / "api" / "openapi.json"
DOCUMENT: dict[str, Any] = json.loads(DOCUMENT_FILE.read_text())
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Issue 7's paths, documented before their handlers land. Each is exempt from "every documented
# path is served" while its route does not exist; once it does, every check applies to it.
DOCUMENTED_AHEAD = frozenset(
    {
        ("POST", "/api/v1/alerts/{}/acknowledge"),
        ("DELETE", "/api/v1/alerts/{}/acknowledge"),
        ("POST", "/api/v1/groups/{}/acknowledge"),
        ("DELETE", "/api/v1/groups/{}/acknowledge"),
        ("GET", "/api/v1/groups"),
        ("POST", "/api/v1/alerts/{}/suppress"),
        ("GET", "/api/v1/alerts/{}/history"),
        ("POST", "/api/v1/webhooks/pagerduty"),
        ("POST", "/api/v1/webhooks/slack"),
    }
)

TOKENS = {
    "reader": ("read", "r3ad-t0ken"),
    "ci": ("write", "wr1te-t0ken"),
    "boss": ("admin", "adm1n-t0ken"),
}
ADMIN = {"Authorization": "Bearer adm1n-t0ken"}
RULES = """\
groups:
  - name: service
    rules:
      - alert: HighLatency
        expr: histogram_quantile(0.99, rate(latency_seconds_bucket[5m])) > 2
        for: 5m
        labels: {severity: page}
        annotations: {summary: "p99 latency {{ $value }}"}
      - record: job:latency_seconds:p99
        expr: histogram_quantile(0.99, rate(latency_seconds_bucket[5m]))
"""
# What the daemon holds before schemathesis starts, so that every list it reads has members
# of each kind: a firing alert, one it inhibits, a silenced one, a resolved one.
ALERTS = [
    {"labels": {"alertname": "Disk", "severity": "critical", "instance": "a"}},
    {
        "labels": {"alertname": "Disk", "severity": "warning", "instance": "a"},
        "annotations": {"summary": "disk 90% full"},
        "generatorURL": "http://prometheus.example/graph?g0.expr=disk",
    },
    {"labels": {"alertname": "Quiet", "service": "db"}},
    {
        "labels": {"alertname": "Gone", "severity": "page"},
        "startsAt": "2024-01-01T00:00:00Z",
        "endsAt": "2024-01-01T01:00:00Z",
    },
]
# Ids of what exists, by path parameter name, mixed into the generated ones so that the calls
# on one alert, group or silence reach their handlers' work and not only their 404s.
KNOWN: dict[str, list[str]] = {}
SILENCE = {
    "matchers": [{"name": "alertname", "value": "Quiet", "isRegex": False, "isEqual": True}],
    "startsAt": "2024-01-01T00:00:00Z",
    "endsAt": "2999-01-01T00:00:00Z",
    "createdBy": "test",
    "comment": "seeded before the fuzzing",
}


def shape(path: str) -> str:
    """A path with its parameters unnamed: `{silence_id}` (aiohttp) and `{silenceID}` agree."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def documented() -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path shape) → the operation."""
    return {
        (method.upper(), shape(path)): operation
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


class DaemonThread:
    """The daemon on an event loop in a thread of its own, so that the blocking HTTP client of
    schemathesis can call it from the test's thread."""

    def __init__(self, config: Path) -> None:
        self._config = config
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="daemon", daemon=True)
        self.service: Service | None = None

    def __enter__(self) -> DaemonThread:
        self._thread.start()
        try:
            self.service = self._call(self._start())
        except BaseException:
            self._close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        try:
            if self.service is not None:
                self._call(self.service.stop())
        finally:
            self._close()

    @property
    def url(self) -> str:
        assert self.service is not None
        return "http://{}:{}".format(*self.service.listen)

    def routes(self) -> set[tuple[str, str]]:
        """(METHOD, path shape) of every route the serving app registered, but the HEADs that
        aiohttp adds to each GET."""
        assert self.service is not None and self.service._runner is not None
        return {
            (route.method, shape(route.resource.canonical))
            for route in self.service._runner.app.router.routes()
            if route.resource is not None and route.method != "HEAD"
        }

    async def _start(self) -> Service:
        service = Service(self._config)
        await service.start()
        return service

    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=60)

    def _close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=60)
        self._loop.close()


def write_config(directory: Path) -> Path:
    """A route and receivers, a rule file (its Prometheus never answers: the rules report the
    error), a token of each role on disk, and secrets for PagerDuty's and Slack's callbacks."""
    secrets = directory / "secrets"
    secrets.mkdir()
    tokens = []
    for name, (role, token) in TOKENS.items():
        (secrets / name).write_text(token + "\n")
        tokens.append({"name": name, "token_file": f"secrets/{name}", "role": role})
    (directory / "rules.yaml").write_text(RULES)
    document = {
        "global": {"resolve_timeout": "5m", "evaluation_interval": "1m"},
        "datasource": {"prometheus": {"url": f"http://127.0.0.1:{free_port()}"}},
        "rule_files": ["rules.yaml"],
        "storage": {"path": "state/alerting.db"},
        "server": {"listen": f"127.0.0.1:{free_port()}", "auth": {"tokens": tokens}},
        **NOTIFY,
    }
    if "callbacks" in ServerConfig.model_fields:  # issue 7's, once it is there
        document["server"]["callbacks"] = {
            "pagerduty": {"secret": "pagerduty-webhook-secret"},
            "slack": {"signing_secret": "slack-signing-secret"},
        }
    config = directory / "alerting.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return config


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonThread]:
    """The daemon, holding the alerts and the silence above. The seeding calls are checked
    against the document too: random data seldom makes a silence the daemon accepts."""
    with DaemonThread(write_config(tmp_path_factory.mktemp("openapi"))) as running:
        assert checked(running, "POST", "/api/v2/alerts", json=ALERTS).status_code == 200
        silenced = checked(running, "POST", "/api/v2/silences", json=SILENCE)
        assert silenced.status_code == 200
        KNOWN["silenceID"] = [silenced.json()["silenceID"]]
        KNOWN["fingerprint"] = [fingerprint_hex(alert["labels"]) for alert in ALERTS]
        if ("GET", "/api/v1/groups") in running.routes():  # issue 7's, once it is there
            groups = checked(running, "GET", "/api/v1/groups").json()["data"]["groups"]
            KNOWN["group_id"] = [group["id"] for group in groups]
        yield running
        KNOWN.clear()


def checked(daemon: DaemonThread, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A call as the admin, its answer's body checked against the document."""
    response = requests.request(method, daemon.url + path, headers=ADMIN, timeout=10, **kwargs)
    schema[path][method].validate_response(response)
    return response


# ---------------------------------------------------------------- the document itself


def test_document_is_valid_openapi() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate(DOCUMENT)


def test_document_version_is_the_package_version() -> None:
    assert DOCUMENT["info"]["version"] == alerting.__version__


def test_every_operation_says_its_role_and_security() -> None:
    for (method, path), operation in documented().items():
        role = operation["x-required-role"]
        assert role in ("open", "read", "write", "admin"), (method, path)
        if role == "open":
            assert operation["security"] == [], (method, path)
        else:
            assert operation["security"] == [{"bearerAuth": []}], (method, path)
            assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_documented_ahead_paths_are_documented() -> None:
    assert set(DOCUMENTED_AHEAD) <= set(documented())


# ---------------------------------------------------------------- the document and the daemon


def test_served_document_is_the_packaged_one(daemon: DaemonThread) -> None:
    response = requests.get(f"{daemon.url}/api/openapi.json", timeout=10)  # no token: open
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.content == openapi_document() == DOCUMENT_FILE.read_bytes()


def test_every_route_is_documented_and_every_documented_path_served(
    daemon: DaemonThread,
) -> None:
    served, described = daemon.routes(), set(documented())
    assert sorted(served - described) == [], "routes missing from alerting/api/openapi.json"
    assert sorted(described - served - DOCUMENTED_AHEAD) == [], "documented but not served"


def test_documented_roles_are_the_auth_tables(daemon: DaemonThread) -> None:
    served = daemon.routes()
    names = {None: "open", **{role: role.value for role in auth.Role}}
    for (method, path), operation in documented().items():
        if (method, path) not in served:
            continue  # documented ahead: checked once its route exists
        needs = names[auth.required_role(method, path.replace("{}", "{x}"))]
        assert operation["x-required-role"] == needs, (method, path)


# ---------------------------------------------------------------- schemathesis

SCHEMATHESIS = SchemathesisConfig.from_dict(
    {
        "seed": 20240501,  # with `deterministic`, the same requests on every run and machine
        "generation": {"max-examples": 50, "deterministic": True},
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "ignored_auth": {"enabled": True},
        },
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=SCHEMATHESIS)


@schema.hook("flatmap_path_parameters")
def known_ids(_: Any, path_parameters: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    """The generated parameters, or the same with one id replaced by one that exists."""
    if not path_parameters:
        return st.just(path_parameters)
    choices = [path_parameters]
    for name, values in KNOWN.items():
        if name in path_parameters:
            choices += [{**path_parameters, name: value} for value in values]
    return st.sampled_from(choices)


@schema.parametrize()
def test_daemon_answers_as_documented(case: Any, daemon: DaemonThread) -> None:
    operation = case.operation  # case.method may differ: a probe of an undocumented method
    if (operation.method.upper(), shape(operation.path)) not in daemon.routes():
        pytest.skip("documented ahead of its handler (issue 7)")
    case.call_and_validate(base_url=daemon.url, headers=ADMIN, timeout=10)


def test_times_past_year_9999_are_refused(daemon: DaemonThread) -> None:
    """Found by fuzzing by hand: a time in year 9999 whose offset puts it in year 10000 (UTC) was
    taken, and every listing showing it answered 500 from then on, shutdown's save included."""
    late = "9999-12-31T23:59:59-01:00"
    pushed = checked(
        daemon, "POST", "/api/v2/alerts", json=[{"labels": {"a": "b"}, "endsAt": late}]
    )
    assert (pushed.status_code, pushed.json()) == (
        400,
        f'alerts[0].endsAt: "{late}" is after 9999-12-31T23:59:59.999Z',
    )
    silenced = checked(daemon, "POST", "/api/v2/silences", json={**SILENCE, "endsAt": late})
    assert silenced.status_code == 400
    assert "9999-12-31T23:59:59.999Z" in silenced.json()
    for path in ("/api/v2/alerts", "/api/v2/silences", "/api/v1/alerts"):
        assert checked(daemon, "GET", path).status_code == 200
