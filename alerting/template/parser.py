"""Builds parse trees from tokens, with Go text/template's grammar, checks and error messages."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from alerting.template.errors import TemplateError, line_and_col
from alerting.template.gofmt import quote
from alerting.template.lexer import T, Token, lex
from alerting.template.nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    CommentNode,
    ContinueNode,
    DotNode,
    ElseNode,
    EndNode,
    FieldNode,
    IdentifierNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    StringNode,
    TemplateNode,
    TextNode,
    Tree,
    VariableNode,
    is_empty_tree,
)


class _ParseFailure(Exception):
    def __init__(self, message: str, token: Token) -> None:
        super().__init__(message)
        self.message = message
        self.token = token


# ---------------------------------------------------------------- Go literals

_SIMPLE = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}


def unquote(literal: str) -> str:
    """strconv.Unquote for "..." and `...` literals; raises ValueError("invalid syntax")."""
    if len(literal) < 2 or literal[0] != literal[-1] or literal[0] not in "\"`'":
        raise ValueError("invalid syntax")
    body = literal[1:-1]
    if literal[0] == "`":
        if "`" in body:
            raise ValueError("invalid syntax")
        return body.replace("\r", "")
    if literal[0] == "'":
        code, rest = unquote_char(body, "'")
        if rest:
            raise ValueError("invalid syntax")
        return chr(code)
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == '"' or ch == "\n":
            raise ValueError("invalid syntax")
        if ch != "\\":
            out += ch.encode("utf-8", "surrogatepass")
            i += 1
            continue
        value, size, is_byte = _escape(body, i, '"')
        out += bytes([value]) if is_byte else chr(value).encode("utf-8", "surrogatepass")
        i += size
    return out.decode("utf-8", "replace")


def unquote_char(body: str, quote_char: str) -> tuple[int, str]:
    """strconv.UnquoteChar for one (possibly escaped) character; returns it and the rest."""
    if not body:
        raise ValueError("invalid syntax")
    if body[0] != "\\":
        if body[0] == quote_char:
            raise ValueError("invalid syntax")
        return ord(body[0]), body[1:]
    value, size, _ = _escape(body, 0, quote_char)
    return value, body[size:]


def _escape(body: str, i: int, quote_char: str) -> tuple[int, int, bool]:
    """The escape at body[i] ('\\'): its value, its length and whether it is a raw byte."""
    if i + 1 >= len(body):
        raise ValueError("invalid syntax")
    kind = body[i + 1]
    if kind in _SIMPLE:
        return _SIMPLE[kind], 2, False
    if kind == quote_char and kind in "'\"":
        return ord(kind), 2, False
    widths = {"x": 2, "u": 4, "U": 8}
    if kind in widths:
        digits = body[i + 2 : i + 2 + widths[kind]]
        if len(digits) != widths[kind] or not re.fullmatch(r"[0-9a-fA-F]+", digits):
            raise ValueError("invalid syntax")
        value = int(digits, 16)
        if kind != "x" and (value > 0x10FFFF or 0xD800 <= value <= 0xDFFF):
            raise ValueError("invalid syntax")
        return value, 2 + widths[kind], kind == "x"
    if kind in "01234567":
        digits = body[i + 1 : i + 4]
        if len(digits) != 3 or not re.fullmatch(r"[0-7]{3}", digits) or int(digits, 8) > 255:
            raise ValueError("invalid syntax")
        return int(digits, 8), 4, True
    raise ValueError("invalid syntax")


_INT_RE = re.compile(r"[+-]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]*|[1-9][0-9_]*)")
_INT64_MIN, _INT64_MAX, _UINT64_MAX = -(1 << 63), (1 << 63) - 1, (1 << 64) - 1


def _parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64) (and ParseUint), without the range check."""
    if not _INT_RE.fullmatch(text):
        return None
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if "_" in body and not _underscores_ok(body):
        return None
    body = body.replace("_", "")
    if len(body) > 1 and body[0] == "0" and body[1] in "0123456789":
        return sign * int(body, 8)
    try:
        return sign * int(body, 0)
    except ValueError:
        return None


def _underscores_ok(body: str) -> bool:
    """Go allows '_' only between digits, or after a base prefix."""
    if len(body) > 1 and body[0] == "0" and body[1] in "xXoObB":
        body = "0" + body[2:]
    elif body[0] != "0":
        body = body  # decimal: underscores only between digits
    return "__" not in body and not body.endswith("_") and not body.startswith("_")


def _parse_float(text: str) -> float | None:
    body = text.lstrip("+-")
    negative = text.startswith("-")
    try:
        if body[:2].lower() == "0x":
            value = float.fromhex(body.replace("_", ""))
        elif "_" in body:
            return None
        else:
            value = float(body)
    except (ValueError, OverflowError):
        return None
    return -value if negative else value


def number_node(pos: int, text: str, kind: T) -> NumberNode:
    """A number constant, typed as Go's parse.newNumber does; raises ValueError with Go's text."""
    if kind is T.CHAR_CONSTANT:
        code, rest = unquote_char(text[1:], "'")
        if rest != "'":
            raise ValueError(f"malformed character constant: {text}")
        return NumberNode(pos, text, code, float(code))
    if kind is T.COMPLEX or text.endswith("i"):
        raise ValueError(f"illegal number syntax: {quote(text)}")
    as_int = _parse_int(text)
    if as_int is not None and not (_INT64_MIN <= as_int <= _UINT64_MAX):
        as_int = None
    if as_int is not None:
        int_value = as_int if as_int <= _INT64_MAX else None
        return NumberNode(pos, text, int_value, float(as_int))
    value = _parse_float(text)
    if value is None or value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"illegal number syntax: {quote(text)}")
    if not any(c in text for c in ".eEpP"):
        raise ValueError(f"integer overflow: {quote(text)}")
    int_value = int(value) if value.is_integer() and _INT64_MIN <= value <= _INT64_MAX else None
    return NumberNode(pos, text, int_value, value)


# ---------------------------------------------------------------- the parser


class _Parser:
    def __init__(
        self,
        tokens: list[Token],
        name: str,
        text: str,
        has_function: Callable[[str], bool],
        trees: dict[str, Tree],
    ) -> None:
        self.tokens = tokens
        self.index = 0
        self.furthest = 0
        self.name = name
        self.text = text
        self.has_function = has_function
        self.trees = trees
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.action_line = 0

    # -- token stream

    def next(self) -> Token:
        token = self.tokens[min(self.index, len(self.tokens) - 1)]
        self.index += 1
        self.furthest = max(self.furthest, self.index - 1)
        return token

    def backup(self, count: int = 1) -> None:
        self.index -= count

    def peek(self) -> Token:
        token = self.next()
        self.backup()
        return token

    def next_non_space(self) -> Token:
        token = self.next()
        while token.type is T.SPACE:
            token = self.next()
        return token

    def peek_non_space(self) -> Token:
        token = self.next_non_space()
        self.backup()
        return token

    def fail(self, message: str) -> None:
        raise _ParseFailure(message, self.tokens[min(self.furthest, len(self.tokens) - 1)])

    def expect(self, expected: T, context: str) -> Token:
        token = self.next_non_space()
        if token.type is not expected:
            self.unexpected(token, context)
        return token

    def unexpected(self, token: Token, context: str) -> None:
        if token.type is T.ERROR:
            extra = ""
            if self.action_line and self.action_line != token.line:
                extra = f" in action started at {self.name}:{self.action_line}"
                if token.value.endswith(" action"):
                    extra = extra[len(" in action") :]
            self.fail(f"{token}{extra}")
        self.fail(f"unexpected {token} in {context}")

    # -- structure

    def parse_top(self) -> ListNode:
        root = ListNode(self.peek().pos)
        while self.peek().type is not T.EOF:
            if self.peek().type is T.LEFT_DELIM:
                self.next()
                if self.next_non_space().type is T.DEFINE:
                    self.parse_definition()
                    continue
                self.backup(self._distance_to_delim())
            node = self.text_or_action()
            if isinstance(node, EndNode | ElseNode):
                self.fail(f"unexpected {node}")
            root.nodes.append(node)
        return root

    def _distance_to_delim(self) -> int:
        # backup2(delim): return to just after the left delimiter, including skipped spaces.
        back = 1
        while self.tokens[self.index - back].type is not T.LEFT_DELIM:
            back += 1
        return back

    def parse_definition(self) -> None:
        context = "define clause"
        token = self.next_non_space()
        if token.type not in (T.STRING, T.RAW_STRING):
            self.unexpected(token, context)
        name = self._unquote(token.value)
        self.expect(T.RIGHT_DELIM, context)
        saved_vars, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved_vars
        if not isinstance(end, EndNode):
            self.fail(f"unexpected {end} in {context}")
        self.add_tree(Tree(name, self.name, self.text, body))

    def add_tree(self, tree: Tree) -> None:
        existing = self.trees.get(tree.name)
        if existing is None or is_empty_tree(existing.root):
            self.trees[tree.name] = tree
        elif not is_empty_tree(tree.root):
            self.fail(f"template: multiple definition of template {quote(tree.name)}")

    def item_list(self) -> tuple[ListNode, Node]:
        items = ListNode(self.peek_non_space().pos)
        while self.peek_non_space().type is not T.EOF:
            node = self.text_or_action()
            if isinstance(node, EndNode | ElseNode):
                return items, node
            items.nodes.append(node)
        self.fail("unexpected EOF")
        raise AssertionError

    def text_or_action(self) -> Node:
        token = self.next_non_space()
        if token.type is T.TEXT:
            return TextNode(token.pos, token.value)
        if token.type is T.LEFT_DELIM:
            self.action_line = token.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        if token.type is T.COMMENT:
            return CommentNode(token.pos, token.value)
        self.unexpected(token, "input")
        raise AssertionError

    def action(self) -> Node:
        token = self.next_non_space()
        kind = token.type
        if kind is T.BLOCK:
            return self.block_control()
        if kind in (T.BREAK, T.CONTINUE):
            return self.loop_control(token)
        if kind is T.ELSE:
            return self.else_control()
        if kind is T.END:
            return EndNode(self.expect(T.RIGHT_DELIM, "end").pos)
        if kind in (T.IF, T.RANGE, T.WITH):
            return self.branch_control(token.value)
        if kind is T.TEMPLATE:
            return self.template_control()
        self.backup()
        token = self.peek()
        return ActionNode(token.pos, token.line, self.pipeline("command", T.RIGHT_DELIM))

    def loop_control(self, keyword: Token) -> Node:
        token = self.next_non_space()
        if token.type is not T.RIGHT_DELIM:
            self.unexpected(token, "{{" + keyword.value + "}}")
        if self.range_depth == 0:
            self.fail("{{" + keyword.value + "}} outside {{range}}")
        if keyword.type is T.BREAK:
            return BreakNode(keyword.pos, keyword.line)
        return ContinueNode(keyword.pos, keyword.line)

    def else_control(self) -> Node:
        peek = self.peek_non_space()
        if peek.type is T.IF:
            return ElseNode(peek.pos, peek.line)
        token = self.expect(T.RIGHT_DELIM, "else")
        return ElseNode(token.pos, token.line)

    def branch_control(self, keyword: str) -> BranchNode:
        mark = len(self.vars)
        pipe = self.pipeline(keyword, T.RIGHT_DELIM)
        if keyword == "range":
            self.range_depth += 1
        body, end = self.item_list()
        if keyword == "range":
            self.range_depth -= 1
        else_body = None
        if isinstance(end, ElseNode):
            if keyword == "if" and self.peek().type is T.IF:
                self.next()
                else_body = ListNode(end.pos, [self.branch_control("if")])
            else:
                else_body, end = self.item_list()
                if not isinstance(end, EndNode):
                    self.fail(f"expected end; found {end}")
        del self.vars[mark:]
        return BranchNode(pipe.pos, keyword, pipe.line, pipe, body, else_body)

    def block_control(self) -> TemplateNode:
        context = "block clause"
        token = self.next_non_space()
        name = self.template_name(token, context)
        pipe = self.pipeline(context, T.RIGHT_DELIM)
        saved_vars, saved_depth = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        body, end = self.item_list()
        self.vars, self.range_depth = saved_vars, saved_depth
        if not isinstance(end, EndNode):
            self.fail(f"unexpected {end} in {context}")
        self.add_tree(Tree(name, self.name, self.text, body))
        return TemplateNode(token.pos, token.line, name, pipe)

    def template_control(self) -> TemplateNode:
        context = "template clause"
        token = self.next_non_space()
        name = self.template_name(token, context)
        pipe = None
        if self.next_non_space().type is not T.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, T.RIGHT_DELIM)
        return TemplateNode(token.pos, token.line, name, pipe)

    def template_name(self, token: Token, context: str) -> str:
        if token.type not in (T.STRING, T.RAW_STRING):
            self.unexpected(token, context)
        return self._unquote(token.value)

    def _unquote(self, literal: str) -> str:
        try:
            return unquote(literal)
        except ValueError as err:
            self.fail(str(err))
            raise AssertionError from err

    # -- pipelines

    def pipeline(self, context: str, end: T) -> PipeNode:
        first = self.peek_non_space()
        pipe = PipeNode(first.pos, first.line)
        while True:
            variable = self.peek_non_space()
            if variable.type is not T.VARIABLE:
                break
            self.next_non_space()
            after_variable = self.peek()
            nxt = self.peek_non_space()
            if nxt.type in (T.ASSIGN, T.DECLARE):
                pipe.is_assign = nxt.type is T.ASSIGN
                self.next_non_space()
                pipe.decl.append(VariableNode(variable.pos, [variable.value]))
                self.vars.append(variable.value)
                break
            if nxt.type is T.CHAR and nxt.value == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(variable.pos, [variable.value]))
                self.vars.append(variable.value)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().type in (T.VARIABLE, T.RIGHT_DELIM, T.RIGHT_PAREN):
                        continue
                    self.fail("range can only initialize variables")
                self.fail(f"too many declarations in {context}")
            # Not a declaration: put the variable back for the command to use.
            del after_variable
            self._rewind_to(variable)
            break
        while True:
            token = self.next_non_space()
            if token.type is end:
                self.check_pipeline(pipe, context)
                return pipe
            if token.type in _OPERAND_STARTS:
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(token, context)

    def _rewind_to(self, token: Token) -> None:
        while self.tokens[self.index] is not token:
            self.index -= 1

    def check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            self.fail(f"missing value for {context}")
        for i, cmd in enumerate(pipe.cmds[1:]):
            if isinstance(cmd.args[0], BoolNode | DotNode | NilNode | NumberNode | StringNode):
                self.fail(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.type is T.SPACE:
                continue
            if token.type in (T.RIGHT_DELIM, T.RIGHT_PAREN):
                self.backup()
            elif token.type is not T.PIPE:
                self.unexpected(token, "operand")
            break
        if not cmd.args:
            self.fail("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().type is T.FIELD:
            fields: list[str] = []
            chain_pos = self.peek().pos
            while self.peek().type is T.FIELD:
                fields.append(self.next().value[1:])
            if isinstance(node, FieldNode):
                return FieldNode(chain_pos, node.idents + fields)
            if isinstance(node, VariableNode):
                return VariableNode(chain_pos, node.idents + fields)
            if isinstance(node, BoolNode | StringNode | NumberNode | NilNode | DotNode):
                self.fail(f"unexpected . after term {quote(str(node))}")
            return ChainNode(chain_pos, node, fields)
        return node

    def term(self) -> Node | None:
        token = self.next_non_space()
        kind = token.type
        if kind is T.IDENTIFIER:
            if not self.has_function(token.value):
                self.fail(f"function {quote(token.value)} not defined")
            return IdentifierNode(token.pos, token.value)
        if kind is T.DOT:
            return DotNode(token.pos)
        if kind is T.NIL:
            return NilNode(token.pos)
        if kind is T.VARIABLE:
            name = token.value.split(".")[0]
            if name not in self.vars:
                self.fail(f"undefined variable {quote(name)}")
            return VariableNode(token.pos, token.value.split("."))
        if kind is T.FIELD:
            return FieldNode(token.pos, token.value[1:].split("."))
        if kind is T.BOOL:
            return BoolNode(token.pos, token.value == "true")
        if kind in (T.CHAR_CONSTANT, T.COMPLEX, T.NUMBER):
            try:
                return number_node(token.pos, token.value, kind)
            except ValueError as err:
                self.fail(str(err))
        if kind is T.LEFT_PAREN:
            return self.pipeline("parenthesized pipeline", T.RIGHT_PAREN)
        if kind in (T.STRING, T.RAW_STRING):
            return StringNode(token.pos, token.value, self._unquote(token.value))
        self.backup()
        return None


_OPERAND_STARTS = {
    T.BOOL,
    T.CHAR_CONSTANT,
    T.COMPLEX,
    T.DOT,
    T.FIELD,
    T.IDENTIFIER,
    T.NUMBER,
    T.NIL,
    T.RAW_STRING,
    T.STRING,
    T.VARIABLE,
    T.LEFT_PAREN,
}


def parse_trees(
    text: str,
    name: str,
    func_names: Collection[str] | None,
    trees: dict[str, Tree] | None = None,
) -> dict[str, Tree]:
    """Parses `text` into its top-level tree (named `name`) plus one tree per define/block.

    `func_names` are the functions the text may call (Go checks this at parse time); None skips
    the check. Raises TemplateError with Go's message.
    """
    trees = {} if trees is None else trees
    has_function = (lambda _: True) if func_names is None else func_names.__contains__
    known = func_names or ()
    tokens = lex(text, break_ok="break" not in known, continue_ok="continue" not in known)
    parser = _Parser(tokens, name, text, has_function, trees)
    try:
        root = parser.parse_top()
        parser.add_tree(Tree(name, name, text, root))
    except _ParseFailure as failure:
        line, col = line_and_col(text, failure.token.pos)
        line = failure.token.line
        go_error = f"template: {name}:{line}: {failure.message}"
        raise TemplateError(name, line, col, failure.message, go_error) from None
    return trees
