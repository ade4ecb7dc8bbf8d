"""YAML loading that remembers where every value came from, so errors can say file:line:col."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    col: int  # 1-based


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input file, printed as `file:line:col: message`."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        if self.line <= 0:
            return f"{self.file}: {self.message}"
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


@dataclass
class Document:
    """Parsed YAML data plus the position of each value and each mapping key, by path."""

    file: str
    data: Any
    values: dict[Path_, Position] = field(default_factory=dict)
    keys: dict[Path_, Position] = field(default_factory=dict)

    def position(self, path: Sequence[str | int], *, key: bool = False) -> Position:
        """The position of `path`, or of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            probe = probe[:-1]
        return self.values.get((), Position(1, 1))

    def problem(self, path: Sequence[str | int], message: str, *, key: bool = False) -> Problem:
        pos = self.position(path, key=key)
        return Problem(self.file, pos.line, pos.col, message)


class _Loader(yaml.SafeLoader):
    """YAML 1.1 as Go's yaml.v2 reads it: no base-60 numbers, so `17:00` and `1:5` stay text."""


_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NUMBER_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


class YamlError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def load_file(path: Path, display: str | None = None) -> Document:
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise YamlError([Problem(name, 0, 0, f"cannot read file: {exc.strerror}")]) from None
    except UnicodeDecodeError as exc:
        raise YamlError([Problem(name, 0, 0, f"not UTF-8: {exc.reason}")]) from None
    return load_text(text, name)


def load_text(text: str, file: str) -> Document:
    """Parse one YAML document; syntax errors and duplicate keys raise YamlError with positions."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(file, None)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        raise YamlError([Problem(file, line, col, f"YAML syntax error: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise YamlError([Problem(file, 0, 0, f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    doc = Document(file, data)
    duplicates: list[Problem] = []
    _index(node, (), doc, duplicates)
    if duplicates:
        raise YamlError(duplicates)
    return doc


def _index(node: yaml.Node, path: Path_, doc: Document, duplicates: list[Problem]) -> None:
    doc.values[path] = Position(node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            pos = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in seen:
                duplicates.append(
                    Problem(doc.file, pos.line, pos.col, f'key "{key}" is already set in this map')
                )
            seen.add(key)
            doc.keys[child] = pos
            _index(value_node, child, doc, duplicates)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), doc, duplicates)
