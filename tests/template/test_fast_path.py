"""RuleTemplate's shortcuts against the plain engine: byte-identical output, errors included.

The reference renders DEFS + text with the engine as it stands, every declaration executed;
RuleTemplate renders the same text through its fast path or with DEFS's variables pre-bound.
"""

from __future__ import annotations

import json
import math
import random
import struct
from pathlib import Path

import pytest
import yaml

from alerting.model import Sample
from alerting.template import Limits, TemplateError, parse
from alerting.template.exec import print_value
from alerting.template.gofmt import format_float_v, sprintf
from alerting.template.prometheus import (
    DEF_NAMES,
    DEFS,
    STATIC_FUNCS,
    RuleTemplate,
    RuleTemplateData,
    _dynamic_funcs,
    _g4,
    compile_rule_template,
    format_sample_value,
)

RECORDED = Path(__file__).parent / "recorded" / "prom.json"
SCENARIOS = Path(__file__).parents[1] / "differential" / "scenarios"
NAME = "__alert_Fast"
PARSE_ERROR = "<parse error>"

# Templates within the fast-path grammar, trimming and comments included.
FAST = [
    "{{ $value }}",
    "{{ .Value }}",
    "{{ $labels.instance }} {{ $labels.job }} [{{ $labels.missing }}]",
    "Instance {{ .Labels.instance }} of {{ $labels.job }} is at {{ $value }} req/s",
    "{{ $externalLabels.cluster }}/{{ .ExternalLabels.nope }} at {{ $externalURL }}{{ .ExternalURL }}",
    "a  {{- $labels.job -}}  b",
    "{{- $value }} x {{ $value -}} \n y",
    "a  {{- /* comment */ -}}  b{{/* c */}}c {{ $labels.job }}",
    "{{/* only a comment */}}",
    "100% {x} }} { %s %v {} {0} {{ $labels.job }}",
    "line one\n{{ $labels.instance }}\nline three {{ $value }}",
    "ünïcödé ✓ {{ $labels.job }}",
]
# Templates the fast path must leave to the engine.
SLOW = [
    "{{ $labels }}",
    "{{ $externalLabels }}",
    "{{ . }}",
    "{{ $ }}",
    "{{ $.Labels.job }}",
    "{{ $labels.job | toUpper }}",
    "{{ ($labels.job) }}",
    "{{ $labels.job.x }}",
    "{{ .Labels.job.x }}",
    "{{ .Value.x }}",
    "{{ .Foo }}",
    "{{ $value.x }}",
    '{{ "literal" }}',
    "{{ 1 }}",
    "{{ humanize $value }}",
    "{{ $x := 1 }}{{ $x }}",
    "{{ $value = 5 }}{{ $value }}",
    "{{ $labels := .ExternalLabels }}{{ $labels.cluster }}",
    "{{ if $labels.job }}{{ $labels.job }}{{ end }}",
    "{{ with $labels.instance }}{{ . }}{{ end }}",
    "{{ range $k, $v := $labels }}{{ $k }}{{ end }}",
    '{{ define "x" }}{{ $value }}{{ end }}{{ template "x" . }}',
    "{{ $labels.job }}{{ externalURL }}",
]
LABEL_SETS = [
    {"instance": "host-1.example.com:9100", "job": "node", "__name__": "m"},
    {"instance": "[::1]:9100", "job": "ünïcödé ✓"},
    {"job": ""},
    {},
]
EXTERNAL = [{"cluster": "eu-1"}, {}]
VALUES = [
    0.0,
    -0.0,
    3.0,
    1e-5,
    0.00012345,
    0.5,
    1234.5678,
    -1234.5678,
    999999.9999,
    1e6,
    123456789.0,
    1e21,
    1.7e308,
    5e-324,
    math.nan,
    math.inf,
    -math.inf,
]


def _recorded_templates() -> list[str]:
    return sorted({case["template"] for case in json.loads(RECORDED.read_text())})


def _scenario_templates() -> list[str]:
    found: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)
        elif isinstance(node, str) and "{{" in node:
            found.add(node)

    for path in sorted(SCENARIOS.glob("*.yaml")):
        groups = yaml.safe_load(path.read_text()).get("groups") or []
        for group in groups:
            for rule in group.get("rules") or []:
                visit(rule.get("labels"))
                visit(rule.get("annotations"))
    return sorted(found)


CORPUS = sorted({*FAST, *SLOW, *_recorded_templates(), *_scenario_templates()})


def _query(text: str, when: float) -> list[Sample]:
    if text == "none":
        return []
    return [Sample({"instance": "b", "job": "x"}, 2.0), Sample({"instance": "a"}, 1.5)]


def _data(labels: dict[str, str], external: dict[str, str], value: float) -> RuleTemplateData:
    url = "http://prom.example.org:9090/prometheus"
    return RuleTemplateData(dict(labels), dict(external), url, value, 1_700_000_000.0, _query)


DATA = [
    _data(labels, EXTERNAL[i % 2], value) for i, labels in enumerate(LABEL_SETS) for value in VALUES
]


def _reference(text: str, data: RuleTemplateData, limits: Limits | None = None) -> str:
    """The engine with Prometheus's declarations executed, errors as RuleTemplate words them."""
    funcs = {**STATIC_FUNCS, **_dynamic_funcs(data)}
    try:
        template = parse(DEFS + text, NAME, funcs, limits)
    except TemplateError:
        return PARSE_ERROR  # parsing is the same code either way; the recorded tests check it
    try:
        return template.execute(data)
    except TemplateError as err:
        return f"<error expanding template: error executing template {NAME}: {err.go_error}>"


def _render(text: str, data: RuleTemplateData, limits: Limits | None = None) -> str:
    try:
        template = compile_rule_template(text, NAME, limits)
    except TemplateError:
        return PARSE_ERROR
    return template.render(data)


def _is_fast(text: str) -> bool:
    try:
        return compile_rule_template(text, NAME).fast_parts is not None
    except TemplateError:
        return False


@pytest.mark.parametrize("text", CORPUS)
def test_render_matches_engine(text: str) -> None:
    for data in DATA:
        assert _render(text, data) == _reference(text, data), (text, data)


def test_corpus_exercises_both_paths() -> None:
    fast = [t for t in CORPUS if _is_fast(t)]
    assert len(fast) >= len(FAST) + 3  # the recorded and scenario texts add some of their own
    assert len(CORPUS) - len(fast) >= len(SLOW) + 40


@pytest.mark.parametrize("text", FAST)
def test_fast_path_applies(text: str) -> None:
    assert _is_fast(text)


@pytest.mark.parametrize("text", SLOW)
def test_other_templates_fall_back(text: str) -> None:
    assert not _is_fast(text)


def test_fast_path_over_the_output_limit_gives_the_engine_error() -> None:
    limits = Limits(output_chars=10)
    text = "{{ $labels.instance }}!"
    data = _data({"instance": "a-long-instance-name"}, {}, 1.0)
    assert compile_rule_template(text, NAME, limits).fast_parts is not None
    got = _render(text, data, limits)
    assert "output exceeds the limit of 10 bytes" in got
    assert got == _reference(text, data, limits)
    assert _render(text, _data({"instance": "short"}, {}, 1.0), limits) == "short!"


def test_missing_label_renders_empty_like_the_engine() -> None:
    data = _data({}, {}, 1.0)
    assert _render("[{{ $labels.nope }}|{{ .Labels.nope }}]", data) == "[|]"
    assert _reference("[{{ $labels.nope }}|{{ .Labels.nope }}]", data) == "[|]"


def test_prometheus_declarations_are_bound_not_run() -> None:
    template = RuleTemplate("{{ $value }}", NAME)
    assert template._template.compile_bound(DEF_NAMES) is not None
    # Only a template that starts with exactly these declarations can be bound.
    other = parse("{{$a := 1}}{{$b := 2}}{{ $a }}{{ $b }}", "t", funcs={})
    assert other.compile_bound(("$a", "$c")) is None
    assert other.compile_bound(("$a", "$b", "$c")) is None
    compiled = other.compile_bound(("$a", "$b"))
    assert compiled is not None
    assert other.execute_compiled(compiled, None, ("x", "y")) == "xy"


def test_bound_run_keeps_error_positions() -> None:
    text = "line one\n{{ .Nope }} {{ humanize $labels.job }}"
    data = _data({"job": "x"}, {}, 1.0)
    got = _render(text, data)
    assert got == _reference(text, data)
    assert f"template: {NAME}:2:3: executing" in got


def _random_floats(count: int) -> list[float]:
    rng = random.Random(20240501)
    floats = [
        struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0] for _ in range(count)
    ]
    floats += [rng.uniform(-2e6, 2e6) for _ in range(count)]
    floats += [rng.uniform(-1e-3, 1e-3) for _ in range(count)]
    floats += [float(rng.randint(-(10**7), 10**7)) for _ in range(count)]
    floats += [round(rng.uniform(0, 1000), rng.randint(0, 6)) for _ in range(count)]
    edges = [1e-4, 1e6, 999999.9999999999, 0.00009999999999999999, 0.0001000000000000001]
    return floats + VALUES + edges + [-x for x in edges]


def test_sample_value_format_is_gos_v() -> None:
    for value in _random_floats(20_000):
        assert format_sample_value(value) == format_float_v(value), repr(value)
    for other in (3, -7, True, "text", None):
        assert format_sample_value(other) == print_value(other)


def test_g4_is_sprintf() -> None:
    for value in _random_floats(5_000):
        assert _g4(value) == sprintf("%.4g", [value]), repr(value)
        assert _g4(value, "ki") == sprintf("%.4g", [value]) + "ki"
