"""`alerting check`: every problem in configs and rule files, with its exact message and position."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from alerting.cli import main

REPO = Path(__file__).resolve().parent.parent

GOOD_CONFIG = """\
datasource:
  prometheus:
    url: http://127.0.0.1:9090
rule_files: [rules.yaml]
"""

GOOD_RULES = """\
groups:
  - name: g
    rules:
      - alert: A
        expr: up == 0
"""

CONFIG_CASES = [
    (
        "route with an undefined receiver",
        GOOD_CONFIG
        + "route:\n  receiver: team\n  routes:\n    - receiver: nobody\n"
        + "receivers:\n  - name: team\n",
        ['config.yaml:8:17: undefined receiver "nobody" used in route'],
    ),
    (
        "a foreign integration",
        GOOD_CONFIG
        + "route: {receiver: a}\nreceivers:\n  - name: a\n  - name: a\n"
        + "    opsgenie_configs: []\n",
        # Cross-references are checked once every section parses, as Alertmanager does.
        [
            'config.yaml:9:5: unknown field "opsgenie_configs" in receivers[1]; '
            "alerting does not deliver there; point a webhook_configs entry at a bridge",
        ],
    ),
    (
        "duplicate receivers",
        GOOD_CONFIG + "route: {receiver: a}\nreceivers:\n  - name: a\n  - name: a\n",
        ['config.yaml:8:11: notification config name "a" is not unique'],
    ),
    (
        "receivers without a route",
        GOOD_CONFIG + "receivers: [{name: a}]\n",
        ["config.yaml:1:1: receivers are configured but there is no route: add one"],
    ),
    (
        "webhook without url",
        GOOD_CONFIG
        + "route:\n  receiver: a\n  routes: [{receiver: a, mute_time_intervals: [night]}]\n"
        + "receivers:\n  - name: a\n    webhook_configs: [{send_resolved: false}]\n",
        ["config.yaml:10:23: receivers[0].webhook_configs[0]: missing URL in webhook config"],
    ),
    (
        "unknown time interval",
        GOOD_CONFIG
        + "route:\n  receiver: a\n  routes: [{receiver: a, mute_time_intervals: [night]}]\n"
        + "receivers: [{name: a}]\n",
        ['config.yaml:7:48: undefined time interval "night" used in route'],
    ),
    (
        "unknown top-level key with a hint",
        GOOD_CONFIG + "scrape_configs: []\n",
        [
            'config.yaml:5:1: unknown field "scrape_configs"; scraping stays with Prometheus;'
            " point datasource.prometheus.url at it"
        ],
    ),
    (
        "bad duration",
        "global:\n  evaluation_interval: 1x\n" + GOOD_CONFIG,
        ['config.yaml:2:24: global.evaluation_interval: not a valid duration string: "1x"'],
    ),
    (
        "duration given as a number",
        "global:\n  resolve_timeout: 300\n" + GOOD_CONFIG,
        [
            "config.yaml:2:20: global.resolve_timeout: not a valid duration string: 300"
            " (write it like 30s, 5m or 1h30m)"
        ],
    ),
    (
        "missing datasource",
        "rule_files: []\n",
        ['config.yaml:1:1: missing required field "datasource"'],
    ),
    (
        "several problems at once, in file order",
        "global:\n  external_labels: {bad-name: x}\ndatasource:\n  prometheus:\n"
        "    url: ftp://x\n    max_concurrent_queries: 0\nserver: {listen: nowhere}\n",
        [
            "config.yaml:2:21: global.external_labels: 'bad-name' is not a valid label name",
            "config.yaml:5:10: datasource.prometheus.url: 'ftp://x' must start with http:// or https://",
            "config.yaml:6:29: datasource.prometheus.max_concurrent_queries: Input should be greater than or equal to 1",
            "config.yaml:7:18: server.listen: 'nowhere' is not host:port",
        ],
    ),
    (
        "two authentication methods",
        GOOD_CONFIG.replace(
            "    url: http://127.0.0.1:9090\n",
            "    url: http://127.0.0.1:9090\n    bearer_token: x\n    basic_auth: {username: u}\n",
        ),
        [
            "config.yaml:3:5: datasource.prometheus: at most one of basic_auth, authorization"
            " and bearer_token(_file) must be set"
        ],
    ),
    (
        "duplicate key",
        GOOD_CONFIG + "rule_files: []\n",
        ['config.yaml:5:1: key "rule_files" is already set in this map'],
    ),
    (
        "YAML syntax error",
        "datasource: [\n",
        ["config.yaml:2:1: YAML syntax error: expected the node content, but found '<stream end>'"],
    ),
    ("not a mapping", "- a\n- b\n", ["config.yaml:1:1: the config must be a YAML mapping"]),
]

RULE_CASES = [
    (
        "unknown rule field with a hint",
        GOOD_RULES + "        severity: page\n",
        ['rules.yaml:6:9: unknown field "severity" in groups[0].rules[0]; put it under labels:'],
    ),
    (
        "PromQL syntax",
        GOOD_RULES.replace("up == 0", "sum(up"),
        [
            'rules.yaml:5:15: group "g", rule 1, "A": could not parse expression: unclosed left parenthesis'
        ],
    ),
    (
        "neither record nor alert, no expr",
        "groups:\n  - name: g\n    rules:\n      - labels: {a: b}\n",
        [
            "rules.yaml:4:9: group \"g\", rule 1, \"\": one of 'record' or 'alert' must be set",
            'rules.yaml:4:9: group "g", rule 1, "": field \'expr\' must be set in rule',
        ],
    ),
    (
        "record and alert both",
        GOOD_RULES.replace("- alert: A", "- alert: A\n        record: a:b"),
        [
            "rules.yaml:5:17: group \"g\", rule 1, \"A\": only one of 'record' and 'alert' must be set"
        ],
    ),
    (
        "recording rule with alerting fields",
        "groups:\n  - name: g\n    rules:\n      - record: 'bad name'\n        expr: up\n"
        "        for: 5m\n        annotations: {a: b}\n",
        [
            'rules.yaml:4:17: group "g", rule 1, "bad name": invalid recording rule name: bad name',
            'rules.yaml:6:14: group "g", rule 1, "bad name": invalid field \'for\' in recording rule',
            'rules.yaml:7:22: group "g", rule 1, "bad name": invalid field \'annotations\' in recording rule',
        ],
    ),
    (
        "duplicate group",
        GOOD_RULES + GOOD_RULES.removeprefix("groups:\n"),
        ['rules.yaml:6:5: groupname: "g" is repeated in the same file'],
    ),
    (
        "empty group name",
        GOOD_RULES.replace("name: g", 'name: ""'),
        ["rules.yaml:2:5: Groupname must not be empty"],
    ),
    (
        "bad for",
        GOOD_RULES + "        for: 5 minutes\n",
        ['rules.yaml:6:14: groups[0].rules[0].for: not a valid duration string: "5 minutes"'],
    ),
    (
        "invalid label and annotation names",
        GOOD_RULES + "        labels: {__name__: x, 0ok: y}\n        annotations: {bad-name: z}\n",
        [
            'rules.yaml:6:18: group "g", rule 1, "A": invalid label name: __name__',
            'rules.yaml:6:31: group "g", rule 1, "A": invalid label name: 0ok',
            'rules.yaml:7:23: group "g", rule 1, "A": invalid annotation name: bad-name',
        ],
    ),
    (
        "negative limit",
        GOOD_RULES.replace("name: g", "name: g\n    limit: -1"),
        ["rules.yaml:3:12: groups[0].limit: Input should be greater than or equal to 0"],
    ),
]


def _check(tmp_path: Path, config: str, rules: str, capsys) -> tuple[int, list[str]]:
    (tmp_path / "config.yaml").write_text(config)
    (tmp_path / "rules.yaml").write_text(rules)
    code = main(["check", "--config", str(tmp_path / "config.yaml")])
    out = capsys.readouterr().out.replace(f"{tmp_path}/", "")
    return code, out.splitlines()


@pytest.mark.parametrize(
    ("name", "config", "expected"), CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES]
)
def test_broken_config(tmp_path, capsys, name: str, config: str, expected: list[str]) -> None:
    code, lines = _check(tmp_path, config, GOOD_RULES, capsys)
    assert code == 1
    assert lines == expected


@pytest.mark.parametrize(("name", "rules", "expected"), RULE_CASES, ids=[c[0] for c in RULE_CASES])
def test_broken_rule_file(tmp_path, capsys, name: str, rules: str, expected: list[str]) -> None:
    code, lines = _check(tmp_path, GOOD_CONFIG, rules, capsys)
    assert code == 1
    assert lines == expected


def test_problems_of_several_rule_files_are_all_reported(tmp_path, capsys) -> None:
    config = GOOD_CONFIG.replace("rule_files: [rules.yaml]", "rule_files: [r*.yaml]")
    (tmp_path / "rules2.yaml").write_text(GOOD_RULES.replace("up == 0", "up =="))
    code, lines = _check(
        tmp_path, config, GOOD_RULES.replace("- alert: A", "- alert: A\n        for: x"), capsys
    )
    assert code == 1
    assert [line.split(":")[0] for line in lines] == ["rules.yaml", "rules2.yaml"]


def test_good_config_passes(tmp_path, capsys) -> None:
    code, lines = _check(tmp_path, GOOD_CONFIG, GOOD_RULES, capsys)
    assert code == 0
    assert lines == ["SUCCESS: 1 rule groups, 1 rules"]


def test_shipped_config_and_rules_pass_our_check_and_promtool(capsys) -> None:
    assert main(["check", "--config", str(REPO / "config.example.yaml")]) == 0
    promtool = shutil.which("promtool")
    assert promtool, "promtool is installed by scripts/setup.sh"
    rule_files = sorted(str(p) for p in (REPO / "rules").glob("*.yaml"))
    done = subprocess.run([promtool, "check", "rules", *rule_files], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_broken_template_file_is_reported_with_its_position(tmp_path, capsys) -> None:
    (tmp_path / "bad.tmpl").write_text('{{ define "x" }}\n{{ .Foo \n')
    code, lines = _check(tmp_path, GOOD_CONFIG + "templates: ['*.tmpl']\n", GOOD_RULES, capsys)
    assert code == 1
    assert lines == ["bad.tmpl:3:1: unclosed action started at bad.tmpl:2"]
