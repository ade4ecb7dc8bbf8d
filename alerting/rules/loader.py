"""Load Prometheus 2.42 rule files, reporting every problem as file:line:col with rulefmt's words."""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterable
from pathlib import Path

import promql_parser
from pydantic import ConfigDict, Field

from alerting.configbase import Duration, Model
from alerting.labels import LABEL_NAME_RE
from alerting.rules.spec import GroupSpec, RuleSpec
from alerting.template import TemplateError
from alerting.template.prometheus import RuleTemplate, compile_rule_template
from alerting.validation import validate_document
from alerting.yaml_source import Document, Problem, YamlError, load_file


class _Rule(Model):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    record: str = ""
    alert: str = ""
    expr: str = ""
    for_: Duration = Field(default=0.0, alias="for")
    keep_firing_for: Duration = 0.0
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class _Group(Model):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    name: str = ""
    interval: Duration | None = None
    limit: int = Field(default=0, ge=0)
    rules: list[_Rule] = Field(default_factory=list)


class _RuleFile(Model):
    groups: list[_Group] = Field(default_factory=list)


_HINTS = {
    "severity": "put it under labels:",
    "summary": "put it under annotations:",
    "description": "put it under annotations:",
    "runbook_url": "put it under annotations:",
    "interval": "interval belongs to the group, not to a rule",
    "duration": "write for:",
    "keep_firing": "write keep_firing_for:",
    "expression": "write expr:",
    "query": "write expr:",
}


def _hint(parent: tuple[str | int, ...], key: str) -> str | None:
    return _HINTS.get(key) if len(parent) == 4 else None


class RuleLoadError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def expand_rule_files(patterns: Iterable[str]) -> list[str]:
    """Glob each pattern in order; like Prometheus, a pattern matching nothing is not an error."""
    files: list[str] = []
    for pattern in patterns:
        for match in sorted(glob.glob(pattern)):
            if match not in files:
                files.append(match)
    return files


def load_rule_files(
    patterns: Iterable[str], default_interval: float
) -> tuple[list[GroupSpec], list[Problem]]:
    groups: list[GroupSpec] = []
    problems: list[Problem] = []
    for file in expand_rule_files(patterns):
        found, wrong = load_rule_file(Path(file), default_interval)
        groups.extend(found)
        problems.extend(wrong)
    return groups, problems


def load_rule_file(path: Path, default_interval: float) -> tuple[list[GroupSpec], list[Problem]]:
    try:
        doc = load_file(path)
    except YamlError as exc:
        return [], exc.problems
    if doc.data is not None and not isinstance(doc.data, dict):
        return [], [doc.problem((), "a rule file must be a mapping with a groups: list")]
    parsed, problems = validate_document(_RuleFile, doc, hint=_hint)
    if parsed is None:
        return [], problems
    groups: list[GroupSpec] = []
    seen: set[str] = set()
    for gi, group in enumerate(parsed.groups):
        where = ("groups", gi)
        if not group.name:
            problems.append(doc.problem(where, "Groupname must not be empty"))
        elif group.name in seen:
            problems.append(
                doc.problem(where, f'groupname: "{group.name}" is repeated in the same file')
            )
        seen.add(group.name)
        rules = [
            _rule_spec(doc, group.name, gi, ri, rule, problems)
            for ri, rule in enumerate(group.rules)
        ]
        interval = group.interval if group.interval else default_interval
        groups.append(GroupSpec(str(path), group.name, interval, group.limit, tuple(rules)))
    return groups, sorted(problems, key=lambda p: (p.line, p.col))


def _rule_spec(
    doc: Document, group: str, gi: int, ri: int, rule: _Rule, problems: list[Problem]
) -> RuleSpec:
    where = ("groups", gi, "rules", ri)
    name = rule.alert or rule.record

    def report(field: tuple[str, ...], message: str) -> None:
        prefix = f'group "{group}", rule {ri + 1}, "{name}": '
        # A label or annotation name is reported at the name itself, anything else at its value.
        problems.append(doc.problem((*where, *field), prefix + message, key=len(field) == 2))

    for message, field in _structure_problems(rule):
        report(field, message)
    label_templates = _compile_all(rule.labels, f"__alert_{name}", "label", report)
    annotation_templates = _compile_all(rule.annotations, f"__alert_{name}", "annotation", report)
    return RuleSpec(
        name=name,
        expr=rule.expr,
        is_alert=bool(rule.alert),
        for_=rule.for_,
        keep_firing_for=rule.keep_firing_for,
        labels=dict(rule.labels),
        annotations=dict(rule.annotations),
        label_templates=label_templates,
        annotation_templates=annotation_templates,
    )


def _structure_problems(rule: _Rule) -> list[tuple[str, tuple[str, ...]]]:
    """rulefmt's RuleNode.Validate: (message, path of the field it points at)."""
    found: list[tuple[str, tuple[str, ...]]] = []
    if rule.record and rule.alert:
        found.append(("only one of 'record' and 'alert' must be set", ("record",)))
    if not rule.record and not rule.alert:
        found.append(("one of 'record' or 'alert' must be set", ()))
    if not rule.expr:
        found.append(("field 'expr' must be set in rule", ()))
    else:
        try:
            promql_parser.parse(rule.expr)
        except ValueError as exc:
            found.append((f"could not parse expression: {exc}", ("expr",)))
    if rule.record:
        if rule.annotations:
            found.append(("invalid field 'annotations' in recording rule", ("annotations",)))
        if rule.for_:
            found.append(("invalid field 'for' in recording rule", ("for",)))
        if rule.keep_firing_for:
            found.append(
                ("invalid field 'keep_firing_for' in recording rule", ("keep_firing_for",))
            )
        if not _valid_metric_name(rule.record):
            found.append((f"invalid recording rule name: {rule.record}", ("record",)))
    for label in rule.labels:
        if not LABEL_NAME_RE.match(label) or label == "__name__":
            found.append((f"invalid label name: {label}", ("labels", label)))
    for annotation in rule.annotations:
        if not LABEL_NAME_RE.match(annotation):
            found.append((f"invalid annotation name: {annotation}", ("annotations", annotation)))
    return found


def _valid_metric_name(name: str) -> bool:
    return bool(name) and LABEL_NAME_RE.match(name.replace(":", "_")) is not None


def _compile_all(
    texts: dict[str, str],
    template_name: str,
    what: str,
    report: Callable[[tuple[str, ...], str], None],
) -> dict[str, RuleTemplate]:
    compiled: dict[str, RuleTemplate] = {}
    for key, text in texts.items():
        try:
            compiled[key] = compile_rule_template(text, template_name)
        except TemplateError as exc:
            report((f"{what}s", key), f'{what} "{key}": {exc}')
    return compiled
