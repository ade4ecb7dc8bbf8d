"""Rebuilds tests/template/recorded/*.json from the real Go implementations.

Needs Go (for render.go), promtool (Prometheus 2.42) and amtool (Alertmanager 0.25); the tests that
read the recorded files need none of them. Run from the repository root:

    .venv/bin/python tests/oracle/regenerate.py
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ORACLE = ROOT / "tests" / "oracle"
RECORDED = ROOT / "tests" / "template" / "recorded"
TEMPLATE_FILES = [
    ROOT / "alerting" / "template" / "default.tmpl",
    ROOT / "alerting" / "template" / "email.tmpl",
]

GO_ONLY_DATA = {
    "labels": {"instance": "[::1]:9100", "job": "api"},
    "external_labels": {"cluster": "c1"},
    "external_url": "http://prom.example:9090/sub",
    "value": "42.5",
    "eval_time": 1700000000,
}
QUERIES = {
    "up": [
        {"labels": {"__name__": "up", "instance": "b:1", "job": "j"}, "value": 1.0},
        {"labels": {"__name__": "up", "instance": "a:1", "job": "j"}, "value": 12345.0},
    ],
    "none": [],
    "strings": [{"labels": {"__value__": "hello"}, "value": 0.0}],
}
# The example data amtool renders on (see `amtool template render --help`); times are left out
# because amtool uses the current time.
AMTOOL_DATA = {
    "receiver": "receiver",
    "status": "alertstatus",
    "external_url": "https://example.com",
    "group_labels": {"grouplabelkey1": "grouplabelvalue1", "grouplabelkey2": "grouplabelvalue2"},
    "common_labels": {
        "commonlabelkey1": "commonlabelvalue1",
        "commonlabelkey2": "commonlabelvalue2",
    },
    "common_annotations": {
        "commonannotationkey1": "commonannotationvalue1",
        "commonannotationkey2": "commonannotationvalue2",
    },
    "alerts": [
        {
            "status": "alertstatus",
            "labels": {
                "commonlabelkey1": "commonlabelvalue1",
                "commonlabelkey2": "commonlabelvalue2",
                "instance": "foo.bar:1234",
                "label1": "value1",
                "label2": "value2",
            },
            "annotations": {
                "annotation1": "value1",
                "annotation2": "value2",
                "commonannotationkey1": "commonannotationvalue1",
                "commonannotationkey2": "commonannotationvalue2",
            },
            "generator_url": "https://generatorurl.com",
            "fingerprint": "fingerprint1",
        },
        {
            "status": "alertstatus",
            "labels": {
                "baz": "qux",
                "commonlabelkey1": "commonlabelvalue1",
                "commonlabelkey2": "commonlabelvalue2",
                "foo": "bar",
            },
            "annotations": {
                "aaa": "bbb",
                "ccc": "ddd",
                "commonannotationkey1": "commonannotationvalue1",
                "commonannotationkey2": "commonannotationvalue2",
            },
            "generator_url": "https://generatorurl.com",
            "fingerprint": "fingerprint2",
        },
    ],
}


def typed(value: object, top: bool = False) -> object:
    """The typed JSON form render.go decodes (see decodeTyped there and in the tests)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"b": value}
    if isinstance(value, int):
        return {"i": value}
    if isinstance(value, float):
        return {"f": value}
    if isinstance(value, str):
        return {"s": value}
    if isinstance(value, list):
        if all(isinstance(v, str) for v in value):
            return {"ss": value}
        return {"l": [typed(v) for v in value]}
    if isinstance(value, dict):
        if not top and all(isinstance(v, str) for v in value.values()):
            return {"ms": value}
        return {"m": {k: typed(v) for k, v in value.items()}}
    raise TypeError(value)


def expand(spec: dict) -> list[dict]:
    cases: list[dict] = []
    text = spec["text"]
    data = typed(text["data"], top=True)
    for i, template in enumerate(text["templates"]):
        cases.append({"id": f"text-{i}", "kind": "text", "template": template, "data": data})
    for i, template in enumerate(text["errors"]):
        cases.append({"id": f"text-err-{i}", "kind": "text", "template": template, "data": data})
    prom = spec["prom"]
    for s, sample in enumerate(prom["samples"]):
        data = {
            "labels": {**sample["labels"], "__name__": "m", "case": str(s)},
            "external_labels": {"cluster": "c1"},
            "external_url": "",
            "value": sample["value"],
            "eval_time": 0,
        }
        for t, template in enumerate(prom["templates"]):
            cases.append(
                {
                    "id": f"S{s}_t{t}",
                    "name": f"__alert_S{s}",
                    "kind": "prom",
                    "template": template,
                    "data": data,
                    "promtool": True,
                }
            )
    for g, item in enumerate(prom["go_only"] + [{"template": t} for t in prom["parse_errors"]]):
        cases.append(
            {
                "id": f"G{g}",
                "name": f"__alert_G{g}",
                "kind": "prom",
                "template": item["template"],
                "data": GO_ONLY_DATA,
                "queries": QUERIES,
            }
        )
    am = spec["am"]
    for t, template in enumerate(am["templates"]):
        for name, data in am["data"].items():
            cases.append({"id": f"am{t}_{name}", "kind": "am", "template": template, "data": data})
    for t, template in enumerate(am["amtool"]):
        cases.append(
            {"id": f"amtool{t}", "kind": "amtool", "template": template, "data": AMTOOL_DATA}
        )
    return cases


def run_go(cases: list[dict]) -> dict[str, dict]:
    return _go([c for c in cases if c["kind"] != "amtool"])


def _go(cases: list[dict]) -> dict[str, dict]:
    command = ["go", "run", str(ORACLE / "render.go"), *map(str, TEMPLATE_FILES)]
    done = subprocess.run(
        command, input=json.dumps(cases), capture_output=True, text=True, check=True, cwd=ORACLE
    )
    return json.loads(done.stdout)


# ---------------------------------------------------------------- promtool


def go_unquote(literal: str) -> str:
    """Undo strconv.Quote."""
    body = literal[1:-1]
    out = bytearray()
    i = 0
    simple = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode()
            i += 1
            continue
        kind = body[i + 1]
        if kind in simple:
            out.append(simple[kind])
            i += 2
        elif kind == "x":
            out.append(int(body[i + 2 : i + 4], 16))
            i += 4
        elif kind in "uU":
            width = 4 if kind == "u" else 8
            out += chr(int(body[i + 2 : i + 2 + width], 16)).encode()
            i += 2 + width
        else:
            raise ValueError(literal)
    return out.decode("utf-8", "replace")


_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*")')


def run_promtool(cases: list[dict], spec: dict) -> dict[str, dict]:
    prom = spec["prom"]
    rules, tests = [], []
    series = []
    for s, sample in enumerate(prom["samples"]):
        annotations = {f"t{t}": template for t, template in enumerate(prom["templates"])}
        rules.append({"alert": f"S{s}", "expr": f'm{{case="{s}"}}', "annotations": annotations})
        labels = ",".join(
            f"{k}={json.dumps(v)}" for k, v in {**sample["labels"], "case": str(s)}.items()
        )
        series.append({"series": "m{" + labels + "}", "values": sample["value"]})
        tests.append(
            {
                "eval_time": "0m",
                "alertname": f"S{s}",
                "exp_alerts": [{"exp_labels": {}, "exp_annotations": {}}],
            }
        )
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "rules.yml").write_text(
            yaml.safe_dump({"groups": [{"name": "g", "rules": rules}]})
        )
        test = {
            "rule_files": ["rules.yml"],
            "evaluation_interval": "1m",
            "tests": [
                {
                    "interval": "1m",
                    "external_labels": {"cluster": "c1"},
                    "input_series": series,
                    "alert_rule_test": tests,
                }
            ],
        }
        Path(tmp, "test.yml").write_text(yaml.safe_dump(test, allow_unicode=True))
        done = subprocess.run(
            ["promtool", "test", "rules", "test.yml"],
            capture_output=True,
            text=True,
            cwd=tmp,
            check=False,
        )
    got: dict[str, dict[str, str]] = {}
    current = None
    in_got = False
    for line in (done.stdout + done.stderr).splitlines():
        head = re.match(r"\s*alertname: (S\d+),", line)
        if head:
            current, in_got = head.group(1), False
        elif line.strip().startswith("got:"):
            in_got = True
        elif in_got and current and line.strip().startswith("Annotations:{"):
            got[current] = {k: go_unquote(v) for k, v in _PAIR.findall(line)}
    results = {}
    for case in cases:
        if case.get("promtool"):
            sample, template = case["id"].split("_t")
            results[case["id"]] = {"output": got[sample][f"t{template}"]}
    return results


# ---------------------------------------------------------------- amtool


def run_amtool(cases: list[dict]) -> dict[str, dict]:
    results = {}
    for case in cases:
        if case["kind"] != "amtool":
            continue
        done = subprocess.run(
            [
                "amtool",
                "template",
                "render",
                f"--template.glob={TEMPLATE_FILES[0]}",
                f"--template.text={case['template']}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            results[case["id"]] = {"output": done.stdout}
        else:
            results[case["id"]] = {"error": done.stderr.strip().removeprefix("amtool: error: ")}
    return results


def main() -> None:
    spec = yaml.safe_load((ORACLE / "cases.yaml").read_text())
    cases = expand(spec)
    go_results = run_go(cases)
    prom_results = run_promtool(cases, spec)
    amtool_results = run_amtool(cases)
    mismatches = 0
    RECORDED.mkdir(parents=True, exist_ok=True)
    files: dict[str, list[dict]] = {"text": [], "prom": [], "am": []}
    for case in cases:
        record = dict(case)
        if case.get("promtool"):
            record["expected"], record["source"] = prom_results[case["id"]], "promtool"
            if go_results[case["id"]] != record["expected"]:
                mismatches += 1
                print(
                    "render.go differs from promtool:",
                    case["id"],
                    go_results[case["id"]],
                    record["expected"],
                    file=sys.stderr,
                )
        elif case["kind"] == "amtool":
            record["expected"], record["source"] = amtool_results[case["id"]], "amtool"
        else:
            record["expected"], record["source"] = go_results[case["id"]], "go"
        files["am" if case["kind"] in ("am", "amtool") else case["kind"]].append(record)
    for name, records in files.items():
        path = RECORDED / f"{name}.json"
        path.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n")
        print(f"{path.relative_to(ROOT)}: {len(records)} cases")
    print(f"render.go vs promtool mismatches: {mismatches}")


if __name__ == "__main__":
    main()
