"""How Python values stand in for Go values: type names, kinds, truth, assignability, Go functions.

Plain Python values map to Go's basic types (str → string, int → int, float → float64,
bool → bool, dict → map[string]string, list → []string, None → nil or "no value"); richer data
types register a `GoType` describing their Go name, fields and methods.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass


class GoError(Exception):
    """Raised by a Go function to return its `error` result; the text is Go's error string."""


class GoNil:
    """A typed nil (a nil pointer of a known type), as opposed to None, Go's "no value"."""

    __slots__ = ("type_name",)

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


NIL_INTERFACE = GoNil("interface {}")  # a nil interface{} value, e.g. a missing map[string]any key


@dataclass(frozen=True, slots=True)
class GoFunc:
    """A Python callable with the Go signature the template engine checks arguments against.

    `params` are Go type names; "any" is interface{}; "reflect.Value" marks builtins that take
    their arguments unconverted. A trailing variadic parameter is given as `variadic`.
    """

    fn: Callable[..., object]
    params: tuple[str, ...] = ()
    variadic: str | None = None
    result: str = "any"
    short_circuit: bool = False  # `and` / `or`: arguments are evaluated only as far as needed


@dataclass(frozen=True, slots=True)
class GoType:
    """The Go view of a Python class: its name as reflect prints it, its kind and members."""

    name: str
    kind: str  # "struct", "ptr" (pointer to struct), "map" or "slice"
    fields: Mapping[str, str] = field(default_factory=dict)  # Go field name -> Python attribute
    methods: Mapping[str, GoFunc] = field(default_factory=dict)  # first parameter is the receiver
    elem_zero: object = ""  # maps: the zero value of the element type
    underlying: str = ""  # named types: the unnamed type they are assignable with


_REGISTRY: dict[type, GoType] = {}


def register(py_type: type, go_type: GoType) -> None:
    _REGISTRY[py_type] = go_type


def go_type_of(value: object) -> GoType | None:
    return _REGISTRY.get(type(value))


_BASIC_NAMES = {str: "string", bool: "bool", int: "int", float: "float64"}


def go_type_name(value: object) -> str:
    """The type as Go's %T and error messages print it."""
    basic = _BASIC_NAMES.get(type(value))
    if basic is not None:
        return basic
    registered = _REGISTRY.get(type(value))
    if registered is not None:
        return registered.name
    if isinstance(value, GoNil):
        return value.type_name
    if isinstance(value, dict):
        return "map[string]string"
    if isinstance(value, list | tuple):
        if all(type(v) is str for v in value):
            return "[]string"
        return "[]interface {}"
    return type(value).__name__


def go_kind(value: object) -> str:
    """reflect.Kind of a value, by name; "invalid" for None."""
    if value is None:
        return "invalid"
    basic = _BASIC_NAMES.get(type(value))
    if basic is not None:
        return basic
    registered = _REGISTRY.get(type(value))
    if registered is not None:
        return registered.kind
    if isinstance(value, GoNil):
        return "ptr"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list | tuple):
        return "slice"
    return "struct"


def is_struct(value: object) -> bool:
    return go_kind(value) in ("struct", "ptr")


def struct_fields(value: object) -> list[object]:
    registered = _REGISTRY.get(type(value))
    if registered is not None and registered.fields:
        return [getattr(value, attr) for attr in registered.fields.values()]
    if is_dataclass(value):
        return [getattr(value, f.name) for f in fields(value)]
    return []


def sorted_items(mapping: Mapping[object, object]) -> list[tuple[object, object]]:
    """A map's entries in fmt's (and range's) key order."""
    return sorted(mapping.items(), key=lambda kv: _sort_key(kv[0]))


def _sort_key(key: object) -> tuple[int, object]:
    if type(key) is float and math.isnan(key):
        return (0, 0.0)
    return (1, key)


def is_true(value: object) -> bool:
    """Go template truth: not the zero value of its type (nil, false, 0, "" and empty are false)."""
    if value is None or isinstance(value, GoNil):
        return False
    kind = type(value)
    if kind is str or kind is bool or kind is int or kind is float:
        return bool(value)
    if isinstance(value, dict | list | tuple):
        return len(value) > 0
    return True


def can_be_nil(type_name: str) -> bool:
    if type_name in ("any", "reflect.Value"):
        return True
    if type_name.startswith(("[]", "map[", "*", "func")):
        return True
    return any(
        t.name == type_name and t.kind in ("map", "slice", "ptr") for t in _REGISTRY.values()
    )


def nil_of(type_name: str) -> object:
    """reflect.Zero of a nillable type, as Python data."""
    if type_name.startswith("[]"):
        return []
    if type_name.startswith("map["):
        return {}
    for py_type, go_type in _REGISTRY.items():
        if go_type.name == type_name and go_type.kind in ("map", "slice"):
            return py_type()
    if type_name in ("any", "reflect.Value"):
        return None
    return GoNil(type_name)


def assignable(value: object, type_name: str) -> bool:
    """Go assignability for the types our data and functions use."""
    actual = go_type_name(value)
    if actual == type_name:
        return True
    registered = _REGISTRY.get(type(value))
    if registered is not None and registered.underlying == type_name:
        return True
    if type(value) is dict and any(
        t.underlying == "map[string]string" and t.name == type_name for t in _REGISTRY.values()
    ):
        return True
    if isinstance(value, list) and not registered:
        # An untyped list literal built by our own code: let its elements decide.
        return type_name == "[]string" and all(type(v) is str for v in value)
    return False


def go_funcs(entries: Iterable[tuple[str, GoFunc]]) -> dict[str, GoFunc]:
    return dict(entries)
