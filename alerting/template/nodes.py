"""The parse tree of a template, with Go's String() of each node (used in error messages)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Node:
    pos: int  # character offset in the template text


@dataclass(slots=True)
class TextNode(Node):
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(slots=True)
class CommentNode(Node):
    text: str

    def __str__(self) -> str:
        return "{{" + self.text + "}}"


@dataclass(slots=True)
class DotNode(Node):
    def __str__(self) -> str:
        return "."


@dataclass(slots=True)
class NilNode(Node):
    def __str__(self) -> str:
        return "nil"


@dataclass(slots=True)
class BoolNode(Node):
    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass(slots=True)
class NumberNode(Node):
    text: str
    int_value: int | None  # set when the constant is an integer (Go's IsInt/IsUint)
    float_value: float | None  # set when it is representable as a float (IsFloat)
    is_complex: bool = False

    def __str__(self) -> str:
        return self.text


@dataclass(slots=True)
class StringNode(Node):
    quoted: str
    text: str

    def __str__(self) -> str:
        return self.quoted


@dataclass(slots=True)
class IdentifierNode(Node):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(slots=True)
class VariableNode(Node):
    idents: list[str]  # "$x" then any field names

    def __str__(self) -> str:
        return ".".join(self.idents)


@dataclass(slots=True)
class FieldNode(Node):
    idents: list[str]

    def __str__(self) -> str:
        return "".join("." + i for i in self.idents)


@dataclass(slots=True)
class ChainNode(Node):
    node: Node
    fields: list[str]

    def __str__(self) -> str:
        base = str(self.node)
        if isinstance(self.node, PipeNode):
            base = "(" + base + ")"
        return base + "".join("." + f for f in self.fields)


@dataclass(slots=True)
class CommandNode(Node):
    args: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        parts = []
        for arg in self.args:
            text = str(arg)
            parts.append("(" + text + ")" if isinstance(arg, PipeNode) else text)
        return " ".join(parts)


@dataclass(slots=True)
class PipeNode(Node):
    line: int
    is_assign: bool = False
    decl: list[VariableNode] = field(default_factory=list)
    cmds: list[CommandNode] = field(default_factory=list)

    def __str__(self) -> str:
        text = ""
        if self.decl:
            text = ", ".join(str(v) for v in self.decl)
            text += " = " if self.is_assign else " := "
        return text + " | ".join(str(c) for c in self.cmds)


@dataclass(slots=True)
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


@dataclass(slots=True)
class ActionNode(Node):
    line: int
    pipe: PipeNode

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@dataclass(slots=True)
class BranchNode(Node):
    """if, range and with: a pipeline, a body and an optional else body."""

    keyword: str
    line: int
    pipe: PipeNode
    body: ListNode
    else_body: ListNode | None

    def __str__(self) -> str:
        text = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.body)
        if self.else_body is not None:
            text += "{{else}}" + str(self.else_body)
        return text + "{{end}}"


@dataclass(slots=True)
class TemplateNode(Node):
    line: int
    name: str
    pipe: PipeNode | None

    def __str__(self) -> str:
        from alerting.template.gofmt import quote

        if self.pipe is None:
            return "{{template " + quote(self.name) + "}}"
        return "{{template " + quote(self.name) + " " + str(self.pipe) + "}}"


@dataclass(slots=True)
class BreakNode(Node):
    line: int

    def __str__(self) -> str:
        return "{{break}}"


@dataclass(slots=True)
class ContinueNode(Node):
    line: int

    def __str__(self) -> str:
        return "{{continue}}"


@dataclass(slots=True)
class EndNode(Node):
    def __str__(self) -> str:
        return "{{end}}"


@dataclass(slots=True)
class ElseNode(Node):
    line: int

    def __str__(self) -> str:
        return "{{else}}"


@dataclass(slots=True)
class Tree:
    """One named template: its body and where it was parsed from (for error locations)."""

    name: str
    parse_name: str
    text: str
    root: ListNode


def is_empty_tree(node: Node | None) -> bool:
    """Go's IsEmptyTree: only whitespace text and comments."""
    if node is None or isinstance(node, CommentNode):
        return True
    if isinstance(node, ListNode):
        return all(is_empty_tree(n) for n in node.nodes)
    if isinstance(node, TextNode):
        return node.text.strip(" \t\n\r\v\f\x85\xa0") == ""
    return False
