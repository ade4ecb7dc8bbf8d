"""Rule-side templates as Prometheus 2.42 expands alert labels and annotations.

Prometheus prepends variable definitions to every template, names it `__alert_<alertname>`,
runs it with missingkey=zero over {Labels, ExternalLabels, ExternalURL, Value} and, on error,
uses `<error expanding template: ...>` as the text. This module reproduces all of that.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import quote_plus, urlsplit

from alerting.durations import parse_duration
from alerting.model import Sample
from alerting.template.errors import TemplateError
from alerting.template.exec import Limits, print_value
from alerting.template.gofmt import format_float, format_value
from alerting.template.goregexp import match, re_replace_all
from alerting.template.gostrings import (
    is_ip,
    join_host_port,
    parse_float,
    split_host_port,
    strings_title,
    to_lower,
    to_upper,
)
from alerting.template.gotime import GoTime
from alerting.template.gotypes import (
    NIL_INTERFACE,
    GoError,
    GoFunc,
    GoNil,
    GoType,
    go_type_name,
    register,
)
from alerting.template.nodes import (
    ActionNode,
    BranchNode,
    ChainNode,
    CommandNode,
    CommentNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    ListNode,
    Node,
    PipeNode,
    TemplateNode,
    TextNode,
    VariableNode,
)
from alerting.template.template import Template

QueryFunc = Callable[[str, float], list[Sample]]

# Prometheus puts these in front of every alert label and annotation template.
DEFS = (
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}"
)
# The variables DEFS declares, in order; each render binds them straight from the data.
DEF_NAMES = ("$labels", "$externalLabels", "$externalURL", "$value")


@dataclass(slots=True)
class RuleTemplateData:
    """What an alert template sees; `eval_time` (unix seconds) is when `query` runs."""

    labels: dict[str, str]
    external_labels: dict[str, str]
    external_url: str
    value: float
    eval_time: float
    query: QueryFunc | None = None


register(
    RuleTemplateData,
    GoType(
        "struct { Labels map[string]string; ExternalLabels map[string]string; "
        "ExternalURL string; Value float64 }",
        "struct",
        fields={
            "Labels": "labels",
            "ExternalLabels": "external_labels",
            "ExternalURL": "external_url",
            "Value": "value",
        },
    ),
)


class QueryResult(list):
    """Prometheus's queryResult: the samples a `query` call returned."""


class ArgsMap(dict):
    """The map[string]interface{} that `args` builds."""


register(Sample, GoType("*template.sample", "ptr", fields={"Labels": "labels", "Value": "value"}))
register(QueryResult, GoType("template.queryResult", "slice"))
register(ArgsMap, GoType("map[string]interface {}", "map", elem_zero=NIL_INTERFACE))

_SAMPLE = "*template.sample"
_RESULT = "template.queryResult"
_NIL_DEREF = "runtime error: invalid memory address or nil pointer dereference"


def _sample(s: object) -> Sample:
    if not isinstance(s, Sample):
        raise GoError(_NIL_DEREF)
    return s


# ---------------------------------------------------------------- number formatting


def _to_float(value: object) -> float:
    """convertToFloat: float64, string, and Go's integer types."""
    if type(value) is float:
        return value  # type: ignore[return-value]
    if type(value) is str:
        return parse_float(value)  # type: ignore[arg-type]
    if type(value) is int:
        return float(value)  # type: ignore[arg-type]
    type_name = "<nil>" if value is None else go_type_name(value)
    raise GoError(f"can't convert {type_name} to float")


def _g4(value: float, suffix: str = "") -> str:
    # sprintf("%.4g", [value]) without parsing the format on every call: for a float64 with
    # no flags, width or padding, fmt's %.4g is strconv's.
    return format_float(value, "g", 4) + suffix


def _scaled(value: float, base: float, prefixes: tuple[str, ...]) -> tuple[float, str]:
    prefix = ""
    for p in prefixes:
        if abs(value) < base:
            break
        prefix = p
        value /= base
    return value, prefix


def _scaled_down(value: float) -> tuple[float, str]:
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(value) >= 1:
            break
        prefix = p
        value *= 1000
    return value, prefix


def humanize(raw: object) -> str:
    v = _to_float(raw)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    if abs(v) >= 1:
        scaled, prefix = _scaled(v, 1000, ("k", "M", "G", "T", "P", "E", "Z", "Y"))
        return _g4(scaled, prefix)
    scaled, prefix = _scaled_down(v)
    return _g4(scaled, prefix)


def humanize1024(raw: object) -> str:
    v = _to_float(raw)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return _g4(v)
    scaled, prefix = _scaled(v, 1024, ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"))
    return _g4(scaled, prefix)


def _go_int64(v: float) -> int:
    """Go's int64(v) on amd64: out-of-range values become the minimum int64."""
    if not -(2.0**63) <= v < 2.0**63:
        return -(2**63)
    return int(v)


def _quo(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _rem(a: int, b: int) -> int:
    return a - b * _quo(a, b)


def humanize_duration(raw: object) -> str:
    v = _to_float(raw)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    if v == 0:
        return _g4(v, "s")
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        whole = _go_int64(v)
        seconds, minutes = _rem(whole, 60), _rem(_quo(whole, 60), 60)
        hours, days = _rem(_quo(whole, 3600), 24), _quo(whole, 86400)
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return sign + _g4(v, "s")
    scaled, prefix = _scaled_down(v)
    return _g4(scaled, prefix + "s")


def humanize_percentage(raw: object) -> str:
    return _g4(_to_float(raw) * 100, "%")


def _float_to_time(v: float) -> GoTime:
    if math.isnan(v) or math.isinf(v):
        raise GoError("value is NaN or Inf")
    nanos = v * 1e9
    if nanos > 2**63 - 1 or nanos < -(2**63):
        raise GoError(
            f"{format_value(v)} cannot be represented as a nanoseconds timestamp since it "
            "overflows int64"
        )
    millis = int(int(nanos) / 1_000_000)  # model.TimeFromUnixNano truncates to milliseconds
    return GoTime.from_unix_nanos(millis * 1_000_000, pointer=True)


def humanize_timestamp(raw: object) -> str:
    v = _to_float(raw)
    if math.isnan(v) or math.isinf(v):
        return _g4(v)
    return _float_to_time(v).go_string()


def to_time(raw: object) -> GoTime:
    return _float_to_time(_to_float(raw))


# ---------------------------------------------------------------- other functions


def _first(result: list) -> Sample:
    if result:
        return result[0]
    raise GoError("first() called on vector with no elements")


def _label(name: str, s: object) -> str:
    return _sample(s).labels.get(name, "")


def _value(s: object) -> float:
    return _sample(s).value


def _strvalue(s: object) -> str:
    return _sample(s).labels.get("__value__", "")


def _args(*values: object) -> ArgsMap:
    return ArgsMap((f"arg{i}", v) for i, v in enumerate(values))


def _sort_by_label(name: str, result: list) -> list:
    if any(isinstance(s, GoNil) or s is None for s in result):
        raise GoError(_NIL_DEREF)
    result.sort(key=lambda s: s.labels.get(name, "").encode("utf-8", "surrogatepass"))
    return result


def strip_port(hostport: str) -> str:
    try:
        host, _ = split_host_port(hostport)
    except ValueError:
        return hostport
    return host


def strip_domain(hostport: str) -> str:
    try:
        host, port = split_host_port(hostport)
    except ValueError:
        host, port = hostport, ""
    if is_ip(host):
        return hostport
    host = host.split(".")[0]
    return join_host_port(host, port) if port else host


def graph_link(expr: str) -> str:
    return f"/graph?g0.expr={quote_plus(expr, safe='-_.~')}&g0.tab=0"


def table_link(expr: str) -> str:
    return f"/graph?g0.expr={quote_plus(expr, safe='-_.~')}&g0.tab=1"


def _parse_duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise GoError(str(err)) from None


STATIC_FUNCS: dict[str, GoFunc] = {
    "first": GoFunc(_first, (_RESULT,)),
    "label": GoFunc(_label, ("string", _SAMPLE)),
    "value": GoFunc(_value, (_SAMPLE,)),
    "strvalue": GoFunc(_strvalue, (_SAMPLE,)),
    "args": GoFunc(_args, (), "any"),
    "reReplaceAll": GoFunc(re_replace_all, ("string", "string", "string")),
    "safeHtml": GoFunc(lambda text: text, ("string",)),
    "match": GoFunc(match, ("string", "string")),
    "title": GoFunc(strings_title, ("string",)),
    "toUpper": GoFunc(to_upper, ("string",)),
    "toLower": GoFunc(to_lower, ("string",)),
    "graphLink": GoFunc(graph_link, ("string",)),
    "tableLink": GoFunc(table_link, ("string",)),
    "sortByLabel": GoFunc(_sort_by_label, ("string", _RESULT)),
    "stripPort": GoFunc(strip_port, ("string",)),
    "stripDomain": GoFunc(strip_domain, ("string",)),
    "humanize": GoFunc(humanize, ("any",)),
    "humanize1024": GoFunc(humanize1024, ("any",)),
    "humanizeDuration": GoFunc(humanize_duration, ("any",)),
    "humanizePercentage": GoFunc(humanize_percentage, ("any",)),
    "humanizeTimestamp": GoFunc(humanize_timestamp, ("any",)),
    "toTime": GoFunc(to_time, ("any",)),
    "parseDuration": GoFunc(_parse_duration, ("string",)),
}
_DYNAMIC = ("query", "pathPrefix", "externalURL")
FUNC_NAMES = frozenset(STATIC_FUNCS) | frozenset(_DYNAMIC)


def _unbound(*_: object) -> object:
    raise GoError("needs the data of a render")  # render() always binds these first


# Placeholders so that parsing knows the names; each render supplies the real functions.
_UNBOUND = {name: GoFunc(_unbound, ("string",) if name == "query" else ()) for name in _DYNAMIC}


def _dynamic_funcs(data: RuleTemplateData) -> dict[str, GoFunc]:
    def query(text: str) -> QueryResult:
        if data.query is None:
            raise GoError("query is not available here")
        try:
            return QueryResult(data.query(text, data.eval_time))
        except GoError:
            raise
        except Exception as err:  # the query function reports failures as exceptions
            raise GoError(str(err)) from None

    return {
        "query": GoFunc(query, ("string",)),
        "pathPrefix": GoFunc(lambda: urlsplit(data.external_url).path, ()),
        "externalURL": GoFunc(lambda: data.external_url, ()),
    }


# ---------------------------------------------------------------- template analysis


def _walk(node: Node | None) -> Iterator[Node]:
    if node is None:
        return
    yield node
    children: list[Node | None] = []
    if isinstance(node, ListNode):
        children = list(node.nodes)
    elif isinstance(node, BranchNode):
        children = [node.pipe, node.body, node.else_body]
    elif isinstance(node, PipeNode):
        children = [*node.decl, *node.cmds]
    elif isinstance(node, CommandNode):
        children = list(node.args)
    elif isinstance(node, ChainNode):
        children = [node.node]
    elif isinstance(node, TemplateNode):
        children = [node.pipe]
    elif hasattr(node, "pipe"):
        children = [node.pipe]  # type: ignore[attr-defined]
    for child in children:
        yield from _walk(child)


def _reads_value(node: Node) -> bool:
    """Could this node observe the sample value (or anything else outside the labels)?"""
    if isinstance(node, DotNode):
        return True
    if isinstance(node, VariableNode):
        return node.idents[0] in ("$", "$value") or "Value" in node.idents
    if isinstance(node, FieldNode):
        return "Value" in node.idents
    if isinstance(node, ChainNode):
        return "Value" in node.fields
    if isinstance(node, IdentifierNode):
        return node.name in ("query", "value", "args")
    return isinstance(node, TemplateNode)


# ---------------------------------------------------------------- fast path

# What a fast-path part reads from the data; the part's argument is the literal text or name.
_TEXT, _LABEL, _EXTERNAL_LABEL, _VALUE, _URL = range(5)
FastPart = tuple[int, str]

# {{ $x }} / {{ .X }} actions the fast path handles, by the idents of the variable or field.
_WHOLE_READS = {
    ("$value",): _VALUE,
    ("Value",): _VALUE,
    ("$externalURL",): _URL,
    ("ExternalURL",): _URL,
}
# {{ $x.NAME }} / {{ .X.NAME }} actions: map reads, by the idents before NAME.
_MAP_READS = {
    "$labels": _LABEL,
    "Labels": _LABEL,
    "$externalLabels": _EXTERNAL_LABEL,
    "ExternalLabels": _EXTERNAL_LABEL,
}


def _fast_part(node: Node) -> FastPart | None:
    """The part that prints what `node` prints, or None when only the engine can run it."""
    if isinstance(node, TextNode):
        return _TEXT, node.text  # the parser has already applied any {{- / -}} trimming
    if not isinstance(node, ActionNode) or node.pipe.decl or len(node.pipe.cmds) != 1:
        return None
    args = node.pipe.cmds[0].args
    if len(args) != 1 or not isinstance(args[0], VariableNode | FieldNode):
        return None
    idents = tuple(args[0].idents)
    if idents in _WHOLE_READS:
        return _WHOLE_READS[idents], ""
    if len(idents) == 2 and idents[0] in _MAP_READS:
        return _MAP_READS[idents[0]], idents[1]
    return None


def fast_parts(nodes: list[Node]) -> list[FastPart] | None:
    """The user's top-level nodes as fast-path parts; None if any of them needs the engine.

    Only the main template's own nodes matter: nothing in the grammar calls another template.
    """
    parts: list[FastPart] = []
    for node in nodes:
        if isinstance(node, CommentNode):
            continue
        part = _fast_part(node)
        if part is None:
            return None
        parts.append(part)
    return parts


def format_sample_value(value: object) -> str:
    """What `{{ $value }}` prints (Go's %v), as print_value gives it but faster for most values.

    Python's repr and Go's strconv pick the same shortest digits, and both print them without
    an exponent for decimal exponents -4..5; there repr differs only by a trailing ".0".
    """
    if type(value) is float and -1e6 < value < 1e6:  # NaN fails the comparison
        text = repr(value)
        if "e" not in text:
            return text[:-2] if text.endswith(".0") else text
    return print_value(value)


def render_fast(parts: list[FastPart], data: RuleTemplateData) -> str:
    """The text the engine would print for a template made of `parts` (missingkey=zero)."""
    labels, external = data.labels, data.external_labels
    out: list[str] = []
    for kind, arg in parts:
        if kind == _TEXT:
            out.append(arg)
        elif kind == _LABEL:
            out.append(labels.get(arg, ""))  # a missing key reads as map[string]string's zero: ""
        elif kind == _VALUE:
            out.append(format_sample_value(data.value))
        elif kind == _EXTERNAL_LABEL:
            out.append(external.get(arg, ""))
        else:
            out.append(data.external_url)
    return "".join(out)


# ---------------------------------------------------------------- rule templates


class RuleTemplate:
    """One alert label or annotation template, parsed once (with Prometheus's prefix).

    Renders take the fastest way that gives the engine's output: the text itself when there are
    no actions, `render_fast` when there are only label, value and URL reads, else the engine,
    with DEFS's variables bound directly rather than evaluated on every render.
    """

    def __init__(self, text: str, name: str, limits: Limits | None = None) -> None:
        self.text = text
        self.name = name
        self.is_constant = "{{" not in text
        self._template = Template(name, {**STATIC_FUNCS, **_UNBOUND}, limits)
        self._template.add(DEFS + text, name)
        self._limit = self._template.limits.output_chars
        self._bound = self._template.compile_bound(DEF_NAMES)
        self.fast_parts = self._fast_parts()
        user_nodes = self._user_nodes()
        identifiers = {n.name for n in user_nodes if isinstance(n, IdentifierNode)}
        self.uses_query = "query" in identifiers
        self._dynamic = bool(identifiers & set(_DYNAMIC))
        self.depends_on_value = any(_reads_value(n) for n in user_nodes)

    def _fast_parts(self) -> list[FastPart] | None:
        if self._bound is None:
            return None  # DEFS did not parse as its four declarations: let the engine run it
        return fast_parts(self._bound.tree.root.nodes)

    def _user_nodes(self) -> list[Node]:
        nodes: list[Node] = []
        for tree_name, tree in self._template.trees().items():
            top = tree.root.nodes if tree_name == self.name else [tree.root]
            for node in top:
                if tree_name == self.name and node.pos < len(DEFS):
                    continue  # Prometheus's own variable definitions
                nodes.extend(_walk(node))
        return nodes

    def render(self, data: RuleTemplateData) -> str:
        """The expanded text, or Prometheus's `<error expanding template: ...>` text; never raises."""
        if self.is_constant:
            return self.text
        if self.fast_parts is not None:
            text = render_fast(self.fast_parts, data)
            if len(text) <= self._limit:
                return text
            # Over the output limit: the engine produces the error text for it.
        return self._render_engine(data)

    def _render_engine(self, data: RuleTemplateData) -> str:
        funcs = _dynamic_funcs(data) if self._dynamic else None
        try:
            if self._bound is None:
                return self._template.execute(data, funcs)
            bound = (data.labels, data.external_labels, data.external_url, data.value)
            return self._template.execute_compiled(self._bound, data, bound, funcs)
        except TemplateError as err:
            return (
                f"<error expanding template: error executing template {self.name}: {err.go_error}>"
            )

    def error_position(self, err: TemplateError) -> tuple[int, int]:
        """Line and column of an error in the user's text (Prometheus's prefix removed)."""
        if err.line == 1:
            return 1, max(err.col - len(DEFS), 1)
        return err.line, err.col


def compile_rule_template(text: str, name: str, limits: Limits | None = None) -> RuleTemplate:
    """Parses a rule template; raises TemplateError positioned in the user's text.

    `name` should be Prometheus's template name, `__alert_<alertname>`, which appears in errors.
    """
    try:
        return RuleTemplate(text, name, limits)
    except TemplateError as err:
        line = err.line
        col = max(err.col - len(DEFS), 1) if line == 1 else err.col
        go_error = f"error parsing template {name}: {err.go_error}"
        raise TemplateError(name, line, col, err.message, go_error) from None
