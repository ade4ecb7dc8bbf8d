"""The config as GET /api/v2/status shows it (and `amtool config show` prints): the YAML with every
secret replaced by `<secret>`, as Alertmanager shows its own.

What is secret is read off the config's models, not guessed from names: a value is hidden where
its field is a SecretStr, so a secret field added to any section is hidden without a change here.
Request headers are hidden too (they carry tokens), though they are plain strings.
"""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, SecretStr

from alerting.config import Config

SECRET = "<secret>"
_HIDDEN_MAPS = frozenset({"headers"})


def redacted_config(text: str) -> str:
    """`text` (the config file) with its secrets hidden; yaml.YAMLError if it does not parse."""
    data = yaml.safe_load(text)
    return yaml.safe_dump(_redact(data, Config), sort_keys=False, allow_unicode=True)


def _redact(value: Any, annotation: Any) -> Any:
    if value is None:
        return None
    for kind in _kinds(annotation):
        if kind is SecretStr:
            return SECRET
        if isinstance(kind, type) and issubclass(kind, BaseModel) and isinstance(value, dict):
            return _redact_model(value, kind)
        origin, args = get_origin(kind), get_args(kind)
        if origin is list and isinstance(value, list) and args:
            return [_redact(item, args[0]) for item in value]
        if origin is dict and isinstance(value, dict) and len(args) == 2:
            return {key: _redact(item, args[1]) for key, item in value.items()}
    return value


def _redact_model(data: dict[Any, Any], model: type[BaseModel]) -> dict[Any, Any]:
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        fields[name] = info.annotation
        if info.alias:
            fields[info.alias] = info.annotation
    out: dict[Any, Any] = {}
    for key, value in data.items():
        if key in _HIDDEN_MAPS and isinstance(value, dict):
            out[key] = dict.fromkeys(value, SECRET)
        else:
            out[key] = _redact(value, fields.get(key))
    return out


def _kinds(annotation: Any) -> list[Any]:
    """The types a field may hold: the members of a union, each without its Annotated metadata."""
    if get_origin(annotation) is Annotated:
        return _kinds(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [kind for arg in get_args(annotation) for kind in _kinds(arg)]
    return [annotation]
