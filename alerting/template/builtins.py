"""The functions every Go text/template has: and, or, not, len, index, slice, print*, eq..., escapers."""

from __future__ import annotations

import math
from urllib.parse import quote_plus

from alerting.template.gofmt import format_value, sprint, sprintf, sprintln
from alerting.template.gotypes import (
    NIL_INTERFACE,
    GoError,
    GoFunc,
    GoNil,
    go_kind,
    go_type_name,
    is_true,
)

VALUE = "reflect.Value"


def _unboxed(value: object) -> object:
    """Go's indirectInterface: a nil interface{} is no value at all."""
    return None if value is NIL_INTERFACE else value


def _not(value: object) -> bool:
    return not is_true(value)


def _len(item: object) -> int:
    if isinstance(item, GoNil):
        raise GoError("len of nil pointer")
    if item is None:
        raise GoError("reflect: call of reflect.Value.Type on zero Value")
    if type(item) is str:
        return len(item.encode("utf-8", "surrogatepass"))
    if isinstance(item, dict | list | tuple):
        return len(item)
    raise GoError(f"len of type {go_type_name(item)}")


def _index_arg(index: object, size: int) -> int:
    if index is None:
        raise GoError("cannot index slice/array with nil")
    if type(index) is not int:
        raise GoError(f"cannot index slice/array with type {go_type_name(index)}")
    if index < 0 or index > size:
        raise GoError(f"index out of range: {index}")
    return index


def _index(item: object, *indexes: object) -> object:
    item = _unboxed(item)
    if item is None:
        raise GoError("index of untyped nil")
    for index in indexes:
        index = _unboxed(index)
        if isinstance(item, GoNil):
            raise GoError("index of nil pointer")
        if isinstance(item, list | tuple | str):
            data = item.encode() if isinstance(item, str) else item
            position = _index_arg(index, len(data))
            if position == len(data):
                raise GoError("reflect: slice index out of range")
            item = data[position]
        elif isinstance(item, dict):
            if index is None:
                index = ""
            elif type(index) is not str:
                raise GoError(f"value has type {go_type_name(index)}; should be string")
            item = item.get(index, _map_zero(item))
        else:
            raise GoError(f"can't index item of type {go_type_name(item)}")
    return item


def _map_zero(mapping: dict) -> object:
    from alerting.template.gotypes import go_type_of

    go_type = go_type_of(mapping)
    return go_type.elem_zero if go_type is not None else ""


def _slice(item: object, *indexes: object) -> object:
    item = _unboxed(item)
    if item is None:
        raise GoError("slice of untyped nil")
    if len(indexes) > 3:
        raise GoError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise GoError("cannot 3-index slice a string")
        data: bytes | list | tuple = item.encode()
    elif isinstance(item, list | tuple):
        data = item
    else:
        raise GoError(f"can't slice item of type {go_type_name(item)}")
    bounds = [0, len(data), len(data)]
    for i, index in enumerate(indexes):
        bounds[i] = _index_arg(index, len(data))
    if bounds[0] > bounds[1]:
        raise GoError(f"invalid slice index: {bounds[0]} > {bounds[1]}")
    if len(indexes) == 3 and bounds[1] > bounds[2]:
        raise GoError(f"invalid slice index: {bounds[1]} > {bounds[2]}")
    result = data[bounds[0] : bounds[1]]
    if isinstance(result, bytes):
        return result.decode("utf-8", "replace")
    return type(item)(result) if isinstance(item, list) else result


# ---------------------------------------------------------------- comparison

_BASIC_KINDS = {bool: "bool", int: "int", float: "float", str: "string", complex: "complex"}
_BAD_TYPE = "invalid type for comparison"
_INCOMPATIBLE = "incompatible types for comparison"


def _basic_kind(value: object) -> str | None:
    return _BASIC_KINDS.get(type(value))


def _eq(arg1: object, *others: object) -> bool:
    if not others:
        raise GoError("missing argument for comparison")
    arg1 = _unboxed(arg1)
    k1 = _basic_kind(arg1)
    for arg in map(_unboxed, others):
        k2 = _basic_kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise GoError(_INCOMPATIBLE)
            truth = False
        elif k1 is not None:
            truth = arg1 == arg
        else:
            truth = _eq_composite(arg1, arg)
        if truth:
            return True
    return False


def _eq_composite(arg1: object, arg: object) -> bool:
    if go_kind(arg1) != go_kind(arg) and arg1 is not None and arg is not None:
        raise GoError(
            f"non-comparable types {format_value(arg1)}: {go_type_name(arg1)}, "
            f"{go_type_name(arg)}: {format_value(arg)}"
        )
    nil1 = arg1 is None or isinstance(arg1, GoNil)
    nil2 = arg is None or isinstance(arg, GoNil)
    if nil1 or nil2:
        return nil1 == nil2
    if isinstance(arg, dict | list):
        raise GoError(f"non-comparable type {format_value(arg)}: {go_type_name(arg)}")
    return arg1 is arg or arg1 == arg


def _ne(arg1: object, arg2: object) -> bool:
    return not _eq(arg1, arg2)


def _lt(arg1: object, arg2: object) -> bool:
    arg1, arg2 = _unboxed(arg1), _unboxed(arg2)
    k1 = _basic_kind(arg1)
    k2 = _basic_kind(arg2)
    if k1 is None or k2 is None:
        raise GoError(_BAD_TYPE)
    if k1 != k2:
        raise GoError(_INCOMPATIBLE)
    if k1 in ("bool", "complex"):
        raise GoError(_BAD_TYPE)
    if k1 == "string":
        return arg1.encode("utf-8", "surrogatepass") < arg2.encode("utf-8", "surrogatepass")  # type: ignore[union-attr]
    return arg1 < arg2  # type: ignore[operator]


def _le(arg1: object, arg2: object) -> bool:
    return _lt(arg1, arg2) or _eq(arg1, arg2)


def _gt(arg1: object, arg2: object) -> bool:
    return not _le(arg1, arg2)


def _ge(arg1: object, arg2: object) -> bool:
    return not _lt(arg1, arg2)


# ---------------------------------------------------------------- escaping


def _printable(args: tuple[object, ...]) -> str:
    """Go's evalArgs: fmt.Sprint, except that "no value" prints as <no value>."""
    if len(args) == 1 and type(args[0]) is str:
        return args[0]  # type: ignore[return-value]
    parts: list[object] = ["<no value>" if a is None or a is NIL_INTERFACE else a for a in args]
    return sprint(parts)


_HTML = {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"}


def html_escape(text: str) -> str:
    return "".join(_HTML.get(c, c) for c in text)


_JS = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def js_escape(text: str) -> str:
    out = []
    for c in text:
        if c in _JS:
            out.append(_JS[c])
        elif c < " ":
            out.append(f"\\u{ord(c):04X}")
        elif ord(c) < 0x80 or c.isprintable():
            out.append(c)
        else:
            out.append(f"\\u{ord(c):04X}")
    return "".join(out)


def _html(*args: object) -> str:
    return html_escape(_printable(args))


def _js(*args: object) -> str:
    return js_escape(_printable(args))


def _urlquery(*args: object) -> str:
    return quote_plus(_printable(args).encode("utf-8", "surrogatepass"), safe="-_.~")


def _print(*args: object) -> str:
    return sprint(args)


def _printf(fmt: str, *args: object) -> str:
    return sprintf(fmt, args)


def _println(*args: object) -> str:
    return sprintln(args)


def _call(fn: object, *args: object) -> object:
    if fn is None:
        raise GoError("call of nil")
    if not isinstance(fn, GoFunc):
        raise GoError(f"non-function of type {go_type_name(fn)}")
    want = len(fn.params)
    if fn.variadic is None and len(args) != want:
        raise GoError(f"wrong number of args: got {len(args)} want {want}")
    return fn.fn(*args)


def _finite(x: float) -> bool:
    return not (math.isnan(x) or math.isinf(x))


BUILTINS: dict[str, GoFunc] = {
    "and": GoFunc(lambda *a: None, (VALUE,), VALUE, short_circuit=True),
    "or": GoFunc(lambda *a: None, (VALUE,), VALUE, short_circuit=True),
    "not": GoFunc(_not, (VALUE,)),
    "len": GoFunc(_len, (VALUE,)),
    "index": GoFunc(_index, (VALUE,), VALUE),
    "slice": GoFunc(_slice, (VALUE,), VALUE),
    "call": GoFunc(_call, (VALUE,), VALUE),
    "html": GoFunc(_html, (), "any"),
    "js": GoFunc(_js, (), "any"),
    "urlquery": GoFunc(_urlquery, (), "any"),
    "print": GoFunc(_print, (), "any"),
    "printf": GoFunc(_printf, ("string",), "any"),
    "println": GoFunc(_println, (), "any"),
    "eq": GoFunc(_eq, (VALUE,), VALUE),
    "ne": GoFunc(_ne, (VALUE, VALUE)),
    "lt": GoFunc(_lt, (VALUE, VALUE)),
    "le": GoFunc(_le, (VALUE, VALUE)),
    "gt": GoFunc(_gt, (VALUE, VALUE)),
    "ge": GoFunc(_ge, (VALUE, VALUE)),
}
