"""Validate a positioned YAML document against a pydantic model, reporting every problem at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from alerting.yaml_source import Document, Problem

M = TypeVar("M", bound=BaseModel)

# A hint for an unknown key, looked up by (parent path, key); returns extra advice or None.
HintLookup = Callable[[tuple[str | int, ...], str], str | None]


def validate_document(
    model: type[M],
    doc: Document,
    *,
    context: Mapping[str, Any] | None = None,
    hint: HintLookup | None = None,
) -> tuple[M | None, list[Problem]]:
    data = doc.data if doc.data is not None else {}
    try:
        return model.model_validate(data, context=dict(context or {})), []
    except ValidationError as exc:
        problems = [_problem(doc, err, hint) for err in exc.errors(include_url=False)]
        return None, sorted(problems, key=lambda p: (p.line, p.col))


def _problem(doc: Document, err: Any, hint: HintLookup | None) -> Problem:
    loc: tuple[str | int, ...] = tuple(err["loc"])
    kind: str = err["type"]
    where = _dotted(loc)
    if kind == "extra_forbidden":
        parent, key = loc[:-1], str(loc[-1])
        message = f'unknown field "{key}"' + (f" in {_dotted(parent)}" if parent else "")
        advice = hint(parent, key) if hint else None
        if advice:
            message += f"; {advice}"
        return doc.problem(loc, message, key=True)
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
        return doc.problem(loc, f"{_dotted(loc[:-1])}: {_clean(err['msg'])}", key=True)
    if kind == "missing":
        return doc.problem(loc[:-1], f'missing required field "{where}"')
    message = _clean(err["msg"])
    return doc.problem(loc, f"{where}: {message}" if where else message)


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _clean(msg: str) -> str:
    # Our own validators raise ValueError; pydantic prefixes those with "Value error, ".
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
