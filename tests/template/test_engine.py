"""Behaviour the Go oracle cannot show: our limits, error positions, API and rule-template flags."""

from __future__ import annotations

import pytest

from alerting.model import Sample
from alerting.regex import RegexError, compile_go_regex, matches
from alerting.template import Limits, TemplateError, parse
from alerting.template.alertmanager import load_templates
from alerting.template.gofmt import format_float_v, sprintf
from alerting.template.prometheus import RuleTemplateData, compile_rule_template


def _data(value: float = 1.0, **labels: str) -> RuleTemplateData:
    return RuleTemplateData(labels, {}, "http://prom:9090/x", value, 1_700_000_000.0)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (3.0, "3"),
        (1e6, "1e+06"),
        (123456789.0, "1.23456789e+08"),
        (1e20, "1e+20"),
        (100000.0, "100000"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-0.0, "-0"),
        (float("nan"), "NaN"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
    ],
)
def test_float_v(value: float, text: str) -> None:
    assert format_float_v(value) == text


def test_sprintf_bad_verbs() -> None:
    assert sprintf("%d|%s", ["x", 1]) == "%!d(string=x)|%!s(int=1)"
    assert sprintf("%d %d", [1]) == "1 %!d(MISSING)"


def test_output_limit() -> None:
    template = parse('{{ range .l }}{{ printf "%0100d" 1 }}{{ end }}', "big", limits=Limits(1000))
    with pytest.raises(TemplateError, match="output exceeds the limit of 1000 bytes"):
        template.execute({"l": list(range(50))})


def test_template_depth_limit() -> None:
    template = parse('{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}', "rec")
    with pytest.raises(TemplateError, match=r"exceeded maximum template depth \(100\)"):
        template.execute(None)


def test_range_iteration_limit() -> None:
    text = "{{ range .l }}{{ range $.l }}{{ end }}{{ end }}"
    template = parse(text, "loops", limits=Limits(range_iterations=1000))
    with pytest.raises(TemplateError, match="range iterations exceed the limit of 1000"):
        template.execute({"l": list(range(100))})


def test_parse_error_position() -> None:
    with pytest.raises(TemplateError) as caught:
        parse("line one\n  {{ .a | 3 }}", "pos", funcs={})
    err = caught.value
    assert (err.line, err.col, err.message) == (2, 13, "non executable command in pipeline stage 2")
    assert str(err) == "pos:2:13: non executable command in pipeline stage 2"
    assert err.go_error == "template: pos:2: non executable command in pipeline stage 2"


def test_exec_error_position_is_in_characters() -> None:
    with pytest.raises(TemplateError) as caught:
        parse("ü {{ .x }}", "pos").execute("s")
    err = caught.value
    assert (err.line, err.col) == (1, 6)
    assert err.go_error.startswith("template: pos:1:6: executing")  # Go counts bytes


def test_rule_template_error_position_is_relative_to_user_text() -> None:
    with pytest.raises(TemplateError) as caught:
        compile_rule_template("ok {{ nosuch }}", "__alert_X")
    assert (caught.value.line, caught.value.col) == (1, 7)
    assert "error parsing template __alert_X" in caught.value.go_error


def test_rule_template_flags() -> None:
    constant = compile_rule_template("no actions here", "__alert_X")
    assert constant.is_constant and not constant.depends_on_value and not constant.uses_query
    labels_only = compile_rule_template("{{ $labels.job }} {{ .Labels.x | toUpper }}", "__alert_X")
    assert not labels_only.depends_on_value and not labels_only.is_constant
    for text in ("{{ $value }}", "{{ .Value }}", "{{ . }}", '{{ template "x" }}'):
        assert compile_rule_template(text, "__alert_X").depends_on_value, text
    assert compile_rule_template('{{ query "up" }}', "__alert_X").uses_query


def test_rule_template_query_runs_at_eval_time() -> None:
    calls: list[tuple[str, float]] = []

    def query(text: str, when: float) -> list[Sample]:
        calls.append((text, when))
        return [Sample({"instance": "a"}, 2.0)]

    data = _data()
    data.query = query
    template = compile_rule_template('{{ with query "up" }}{{ (first .).Value }}{{ end }}', "q")
    assert template.render(data) == "2"
    assert calls == [("up", 1_700_000_000.0)]


def test_rule_template_render_never_raises() -> None:
    template = compile_rule_template('{{ query "up" }}', "__alert_X")
    rendered = template.render(_data())
    assert rendered.startswith("<error expanding template: error executing template __alert_X")


def test_template_add_and_redefine() -> None:
    template = parse('{{ template "x" . }}', "main")
    template.add('{{ define "x" }}one{{ end }}', "a.tmpl")
    assert template.execute(None) == "one"
    template.add('{{ define "x" }}two{{ end }}', "b.tmpl")
    assert template.execute(None) == "two"
    template.add('{{ define "x" }}  {{ end }}', "c.tmpl")  # an empty redefinition is ignored
    assert template.execute(None) == "two"


def test_notification_templates_files(tmp_path) -> None:
    (tmp_path / "a.tmpl").write_text('{{ define "mine" }}hi {{ .Receiver }}{{ end }}')
    templates = load_templates([str(tmp_path / "*.tmpl"), str(tmp_path / "none-*.tmpl")])

    class Data:
        pass

    from alerting.template.alertmanager import notification_data

    data = notification_data("r", {}, [], "http://am", 0.0)
    assert templates.render('{{ template "mine" . }}', data) == "hi r"
    assert templates.render("", data) == ""
    del Data


@pytest.mark.parametrize("pattern", [r"\C", "(?<n>a)", "(?P<é>a)"])
def test_regex_only_cpp_re2_accepts_is_rejected(pattern: str) -> None:
    with pytest.raises(RegexError, match="error parsing regexp"):
        compile_go_regex(pattern)


def test_regex_go_semantics() -> None:
    assert not matches(compile_go_regex(r"^\d+$"), "\uff11\uff12")  # \d is ASCII-only in RE2
    assert not matches(compile_go_regex("a$"), "a\n")  # $ is end of text without (?m)
    assert matches(compile_go_regex(r"\x{263a}"), "☺")


def test_execute_with_plain_callables() -> None:
    template = parse('{{ shout "hi" 2 }}', "calls")
    assert template.execute(None, {"shout": lambda text, n: text.upper() * n}) == "HIHI"
