"""Runs parse trees: compiles each tree once into Python closures that follow Go's exec.go rules.

Variables are resolved to frame slots at compile time (Go's lexical scoping makes this exact),
functions are looked up by name at run time (the function map is given per execution).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from alerting.template.errors import TemplateError, go_location, line_and_col
from alerting.template.gofmt import format_value, quote
from alerting.template.gotypes import (
    NIL_INTERFACE,
    GoError,
    GoFunc,
    GoNil,
    assignable,
    can_be_nil,
    go_type_name,
    go_type_of,
    is_true,
    nil_of,
    sorted_items,
)
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
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep a hostile template from hanging or exhausting the daemon."""

    output_chars: int = 1 << 20
    template_depth: int = 100
    range_iterations: int = 100_000


MISSING = object()  # Go's missingVal: no value flows in from a previous pipeline stage


class ExecError(Exception):
    def __init__(self, tree: Tree, node: Node | None, message: str) -> None:
        super().__init__(message)
        self.tree = tree
        self.node = node
        self.message = message

    def to_template_error(self) -> TemplateError:
        tree, node = self.tree, self.node
        if node is None:
            go_error = f"template: {tree.name}: {self.message}"
            return TemplateError(tree.parse_name, 0, 0, self.message, go_error)
        go_line, go_col = go_location(tree.text, node.pos)
        line, col = line_and_col(tree.text, node.pos)
        go_error = (
            f"template: {tree.parse_name}:{go_line}:{go_col}: executing {quote(tree.name)} "
            f"at <{node}>: {self.message}"
        )
        return TemplateError(tree.parse_name, line, col, self.message, go_error)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


@dataclass(slots=True)
class State:
    funcs: Mapping[str, GoFunc]
    templates: Mapping[str, CompiledTree]
    limits: Limits
    out: list[str] = field(default_factory=list)
    size: int = 0
    depth: int = 0
    iterations: int = 0


Frame = list[object]
Eval = Callable[[State, object, Frame], object]
Run = Callable[[State, object, Frame], None]


@dataclass(slots=True)
class CompiledTree:
    tree: Tree
    run: Run
    slots: int


def write(st: State, tree: Tree, node: Node, text: str) -> None:
    st.size += len(text)
    if st.size > st.limits.output_chars:
        raise ExecError(tree, node, f"output exceeds the limit of {st.limits.output_chars} bytes")
    st.out.append(text)


def print_value(value: object) -> str:
    """What an action prints: Go's fmt %v, or <no value> for an invalid value."""
    if type(value) is str:
        return value  # type: ignore[return-value]
    if value is None:
        return "<no value>"
    return format_value(value)


class _Scope:
    """Compile-time variable scopes: names to frame slots."""

    def __init__(self, bound: Sequence[str] = ()) -> None:
        # "$" is slot 0; variables the caller binds before the run take slots 1..len(bound).
        self.names: list[tuple[str, int]] = [("$", 0)]
        self.slots = 1
        for name in bound:
            self.declare(name)

    def declare(self, name: str) -> int:
        slot = self.slots
        self.slots += 1
        self.names.append((name, slot))
        return slot

    def lookup(self, name: str) -> int | None:
        """The slot of `name`; None when it is not declared here (Go fails when it runs)."""
        for declared, slot in reversed(self.names):
            if declared == name:
                return slot
        return None

    def mark(self) -> int:
        return len(self.names)

    def pop(self, mark: int) -> None:
        del self.names[mark:]


def compile_tree(tree: Tree, bound: Sequence[str] = ()) -> CompiledTree:
    """Compiles `tree`; the variables named in `bound` are in scope from the start, and
    `execute_tree` takes their values (in that order) from its caller."""
    compiler = _Compiler(tree, bound)
    run = compiler.list(tree.root)
    return CompiledTree(tree, run, compiler.scope.slots)


class _Compiler:
    def __init__(self, tree: Tree, bound: Sequence[str] = ()) -> None:
        self.tree = tree
        self.scope = _Scope(bound)

    def fail(self, node: Node | None, message: str) -> ExecError:
        return ExecError(self.tree, node, message)

    # ------------------------------------------------------------ statements

    def list(self, node: ListNode) -> Run:
        steps = [self.statement(n) for n in node.nodes if not isinstance(n, CommentNode)]
        if len(steps) == 1:
            return steps[0]

        def run_list(st: State, dot: object, frame: Frame) -> None:
            for step in steps:
                step(st, dot, frame)

        return run_list

    def statement(self, node: Node) -> Run:
        if isinstance(node, TextNode):
            return self.text(node)
        if isinstance(node, ActionNode):
            return self.action(node)
        if isinstance(node, BranchNode):
            if node.keyword == "range":
                return self.range(node)
            return self.if_or_with(node)
        if isinstance(node, TemplateNode):
            return self.template(node)
        if isinstance(node, BreakNode):
            return _raise(_Break)
        if isinstance(node, ContinueNode):
            return _raise(_Continue)
        raise self.fail(node, f"unknown node: {node}")

    def text(self, node: TextNode) -> Run:
        text, tree = node.text, self.tree

        def run_text(st: State, dot: object, frame: Frame) -> None:
            write(st, tree, node, text)

        return run_text

    def action(self, node: ActionNode) -> Run:
        pipe = self.pipeline(node.pipe)
        tree = self.tree
        if node.pipe.decl:

            def run_declaration(st: State, dot: object, frame: Frame) -> None:
                pipe(st, dot, frame)

            return run_declaration

        def run_action(st: State, dot: object, frame: Frame) -> None:
            value = pipe(st, dot, frame)
            text = value if type(value) is str else print_value(value)
            st.size += len(text)  # type: ignore[arg-type]
            if st.size > st.limits.output_chars:
                raise ExecError(
                    tree, node, f"output exceeds the limit of {st.limits.output_chars} bytes"
                )
            st.out.append(text)  # type: ignore[arg-type]

        return run_action

    def if_or_with(self, node: BranchNode) -> Run:
        mark = self.scope.mark()
        pipe = self.pipeline(node.pipe)
        body = self.list(node.body)
        else_body = self.list(node.else_body) if node.else_body is not None else None
        self.scope.pop(mark)
        is_with = node.keyword == "with"

        def run_branch(st: State, dot: object, frame: Frame) -> None:
            value = pipe(st, dot, frame)
            if is_true(value):
                body(st, value if is_with else dot, frame)
            elif else_body is not None:
                else_body(st, dot, frame)

        return run_branch

    def range(self, node: BranchNode) -> Run:
        mark = self.scope.mark()
        pipe = self.pipeline(node.pipe)
        slots = [self.scope.lookup(v.idents[0]) for v in node.pipe.decl]
        elem_slot = slots[-1] if slots else None
        index_slot = slots[0] if len(slots) > 1 else None
        at = _last_position(node.pipe)
        body = self.list(node.body)
        else_body = self.list(node.else_body) if node.else_body is not None else None
        self.scope.pop(mark)
        tree = self.tree

        def run_range(st: State, dot: object, frame: Frame) -> None:
            value = pipe(st, dot, frame)
            if isinstance(value, dict):
                items: list[tuple[object, object]] = sorted_items(value)
            elif isinstance(value, list | tuple):
                items = list(enumerate(value))
            elif value is None or isinstance(value, GoNil):
                items = []
            else:
                raise ExecError(tree, at, f"range can't iterate over {print_value(value)}")
            if not items:
                if else_body is not None:
                    else_body(st, dot, frame)
                return
            limit = st.limits.range_iterations
            try:
                for key, elem in items:
                    st.iterations += 1
                    if st.iterations > limit:
                        raise ExecError(tree, node, f"range iterations exceed the limit of {limit}")
                    if elem_slot is not None:
                        frame[elem_slot] = elem
                    if index_slot is not None:
                        frame[index_slot] = key
                    try:  # noqa: SIM105 - cheaper than contextlib.suppress in this hot loop
                        body(st, elem, frame)
                    except _Continue:
                        pass
            except _Break:
                pass

        return run_range

    def template(self, node: TemplateNode) -> Run:
        pipe = self.pipeline(node.pipe) if node.pipe is not None else None
        tree, name = self.tree, node.name

        def run_template(st: State, dot: object, frame: Frame) -> None:
            target = st.templates.get(name)
            if target is None:
                raise ExecError(tree, node, f"template {quote(name)} not defined")
            if st.depth >= st.limits.template_depth:
                raise ExecError(
                    tree, node, f"exceeded maximum template depth ({st.limits.template_depth})"
                )
            new_dot = pipe(st, dot, frame) if pipe is not None else None
            new_frame: Frame = [None] * target.slots
            new_frame[0] = new_dot
            st.depth += 1
            try:
                target.run(st, new_dot, new_frame)
            finally:
                st.depth -= 1

        return run_template

    # ------------------------------------------------------------ pipelines

    def pipeline(self, pipe: PipeNode) -> Eval:
        cmds = [self.command(c) for c in pipe.cmds]
        if pipe.is_assign:
            found = [self.scope.lookup(v.idents[0]) for v in pipe.decl]
            missing = [v for v, slot in zip(pipe.decl, found, strict=True) if slot is None]
            if missing:
                return self.fail_at_run(_last_position(pipe), f"undefined variable: {missing[0]}")
            slots = [slot for slot in found if slot is not None]
        else:
            slots = [self.scope.declare(v.idents[0]) for v in pipe.decl]
        if len(cmds) == 1 and not slots:
            only = cmds[0]

            def eval_single(st: State, dot: object, frame: Frame) -> object:
                value = only(st, dot, frame, MISSING)
                return None if value is NIL_INTERFACE else value

            return eval_single

        def eval_pipeline(st: State, dot: object, frame: Frame) -> object:
            value: object = MISSING
            for cmd in cmds:
                value = cmd(st, dot, frame, value)
                if value is NIL_INTERFACE:
                    value = None  # Go digs the value out of an interface{} between stages
            for slot in slots:
                frame[slot] = value
            return value

        return eval_pipeline

    def fail_at_run(self, node: Node, message: str) -> Eval:
        error = self.fail(node, message)

        def eval_failure(st: State, dot: object, frame: Frame) -> object:
            raise error

        return eval_failure

    def command(self, cmd: CommandNode) -> Callable[..., object]:
        word = cmd.args[0]
        if isinstance(word, FieldNode):
            return self.field_chain(word, lambda st, dot, frame: dot, word.idents, cmd.args)
        if isinstance(word, ChainNode):
            return self.chain(word, cmd.args)
        if isinstance(word, IdentifierNode):
            return self.function(word, cmd, cmd.args)
        if isinstance(word, VariableNode):
            return self.variable(word, cmd.args)
        if isinstance(word, PipeNode):
            inner = self.pipeline(word)
            check = self.not_a_function(cmd.args)

            def eval_parenthesized(st: State, dot: object, frame: Frame, final: object) -> object:
                check(final)
                return inner(st, dot, frame)

            return eval_parenthesized
        return self.constant_command(word, cmd.args)

    def not_a_function(self, args: list[Node]) -> Callable[[object], None]:
        tree = self.tree
        has_args = len(args) > 1
        first = args[0]

        def check(final: object) -> None:
            if has_args or final is not MISSING:
                raise ExecError(tree, first, f"can't give argument to non-function {first}")

        return check

    def constant_command(self, word: Node, args: list[Node]) -> Callable[..., object]:
        check = self.not_a_function(args)
        if isinstance(word, NilNode):
            tree = self.tree

            def eval_nil(st: State, dot: object, frame: Frame, final: object) -> object:
                check(final)
                raise ExecError(tree, word, "nil is not a command")

            return eval_nil
        if isinstance(word, DotNode):

            def eval_dot(st: State, dot: object, frame: Frame, final: object) -> object:
                check(final)
                return dot

            return eval_dot
        value = self.ideal_constant(word)

        def eval_constant(st: State, dot: object, frame: Frame, final: object) -> object:
            check(final)
            if isinstance(value, ExecError):
                raise value
            return value

        return eval_constant

    def ideal_constant(self, node: Node) -> object:
        """A constant's value where no type is expected: the syntax decides (Go's idealConstant)."""
        if isinstance(node, BoolNode):
            return node.value
        if isinstance(node, StringNode):
            return node.text
        if not isinstance(node, NumberNode):
            return self.fail(node, f"can't evaluate command {quote(str(node))}")
        text = node.text
        is_hex_int = text[:2] in ("0x", "0X") and not any(c in text for c in "pP")
        looks_float = any(c in text for c in ".eEpP") and not is_hex_int and text[0] != "'"
        if node.float_value is not None and looks_float:
            return node.float_value
        if node.int_value is not None:
            return node.int_value
        return self.fail(node, f"{text} overflows int")

    # ------------------------------------------------------------ operands

    def variable(self, node: VariableNode, args: list[Node] | None) -> Callable[..., object]:
        slot = self.scope.lookup(node.idents[0])
        if slot is None:
            failure = self.fail_at_run(node, f"undefined variable: {node.idents[0]}")
            return lambda st, dot, frame, final: failure(st, dot, frame)
        if len(node.idents) == 1:
            check = self.not_a_function(args) if args else None

            def eval_variable(st: State, dot: object, frame: Frame, final: object) -> object:
                if check is not None:
                    check(final)
                return frame[slot]

            return eval_variable
        return self.field_chain(node, lambda st, dot, frame: frame[slot], node.idents[1:], args)

    def chain(self, node: ChainNode, args: list[Node] | None) -> Callable[..., object]:
        if isinstance(node.node, NilNode):
            error = self.fail(node, f"indirection through explicit nil in {node}")

            def eval_nil_chain(st: State, dot: object, frame: Frame, final: object) -> object:
                raise error

            return eval_nil_chain
        base = self.arg(node.node)
        at = _last_position(node.node) if isinstance(node.node, PipeNode) else node.node
        return self.field_chain(
            at, lambda st, dot, frame: base(st, dot, frame, None), node.fields, args
        )

    def field_chain(
        self,
        node: Node,
        receiver: Callable[[State, object, Frame], object],
        idents: list[str],
        args: list[Node] | None,
    ) -> Callable[..., object]:
        """.X.Y.Z [args]: all but the last name are plain field reads; the last may be a call."""
        tree = self.tree
        path = idents[:-1]
        last = idents[-1]
        call_args = [self.arg(a) for a in args[1:]] if args else []
        arg_count = len(call_args)

        def eval_fields(st: State, dot: object, frame: Frame, final: object) -> object:
            value = receiver(st, dot, frame)
            boxed = False  # the value came out of an interface{} (a map[string]interface{})
            for name in path:
                if type(value) is dict:
                    value, boxed = value.get(name, ""), False  # type: ignore[attr-defined]
                else:
                    inner = _boxes_elements(value)
                    value = field_of(st, tree, node, dot, frame, value, name, (), MISSING, boxed)
                    boxed = inner
            if type(value) is dict and arg_count == 0 and final is MISSING:
                return value.get(last, "")  # type: ignore[attr-defined]
            return field_of(st, tree, node, dot, frame, value, last, call_args, final, boxed)

        return eval_fields

    def function(
        self, ident: IdentifierNode, cmd: Node, args: list[Node] | None
    ) -> Callable[..., object]:
        tree = self.tree
        name = ident.name
        call_args = [self.arg(a) for a in args[1:]] if args else []

        def eval_function(st: State, dot: object, frame: Frame, final: object) -> object:
            fn = st.funcs.get(name)
            if fn is None:
                raise ExecError(tree, ident, f"{quote(name)} is not a defined function")
            return call(st, tree, ident, cmd, dot, frame, fn, name, call_args, final, ())

        return eval_function

    def arg(self, node: Node) -> Callable[[State, object, Frame, str | None], object]:
        """Go's evalArg: an argument evaluated for a parameter of the given Go type."""
        tree = self.tree
        if isinstance(node, DotNode):
            return lambda st, dot, frame, typ: validate(tree, node, dot, typ)
        if isinstance(node, NilNode):

            def eval_nil(st: State, dot: object, frame: Frame, typ: str | None) -> object:
                if typ is None or can_be_nil(typ):
                    return None if typ in (None, "any", "reflect.Value") else nil_of(typ)
                raise ExecError(tree, node, f"cannot assign nil to {typ}")

            return eval_nil
        inner: Callable[..., object] | None = None
        at: Node = node
        if isinstance(node, FieldNode):
            inner = self.field_chain(node, lambda st, dot, frame: dot, node.idents, [node])
        elif isinstance(node, VariableNode):
            inner = self.variable(node, None)
        elif isinstance(node, ChainNode):
            inner = self.chain(node, None)
        elif isinstance(node, IdentifierNode):
            inner = self.function(node, node, None)
        elif isinstance(node, PipeNode):
            inner = _ignoring_final(self.pipeline(node))
            at = _last_position(node)
        if inner is not None:
            evaluate = inner

            def eval_arg(st: State, dot: object, frame: Frame, typ: str | None) -> object:
                return validate(tree, at, evaluate(st, dot, frame, MISSING), typ)

            return eval_arg
        return self.constant_arg(node)

    def constant_arg(self, node: Node) -> Callable[[State, object, Frame, str | None], object]:
        tree = self.tree
        ideal = self.ideal_constant(node)

        def eval_constant(st: State, dot: object, frame: Frame, typ: str | None) -> object:
            if typ is None or typ in ("any", "reflect.Value"):
                if isinstance(ideal, ExecError):
                    raise ideal
                return ideal
            return typed_constant(tree, node, typ)

        return eval_constant


def _ignoring_final(pipe: Eval) -> Callable[..., object]:
    def eval_parenthesized(st: State, dot: object, frame: Frame, final: object) -> object:
        return pipe(st, dot, frame)

    return eval_parenthesized


def _raise(kind: type[Exception]) -> Run:
    def run_raise(st: State, dot: object, frame: Frame) -> None:
        raise kind

    return run_raise


def _last_position(pipe: PipeNode) -> Node:
    """The node Go's exec was last "at" after evaluating a parenthesized pipeline."""
    last = pipe.cmds[-1]
    return last.args[-1] if len(last.args) > 1 else last.args[0]


_CONSTANT_KINDS = {
    "bool": ("bool", lambda n: n.value if isinstance(n, BoolNode) else None),
    "string": ("string", lambda n: n.text if isinstance(n, StringNode) else None),
    "int": ("integer", lambda n: n.int_value if isinstance(n, NumberNode) else None),
    "float64": ("float", lambda n: n.float_value if isinstance(n, NumberNode) else None),
}


def typed_constant(tree: Tree, node: Node, typ: str) -> object:
    kind = _CONSTANT_KINDS.get(typ)
    if kind is None:
        raise ExecError(tree, node, f"can't handle {node} for arg of type {typ}")
    label, extract = kind
    value = extract(node)
    if value is None:
        raise ExecError(tree, node, f"expected {label}; found {node}")
    return value


def validate(tree: Tree, node: Node, value: object, typ: str | None) -> object:
    """Go's validateType: the value must be assignable to the parameter type."""
    if typ is None or typ == "any" or typ == "reflect.Value":
        return value
    if value is None:
        if can_be_nil(typ):
            return nil_of(typ)
        raise ExecError(tree, node, f"invalid value; expected {typ}")
    kind = type(value)
    if (kind is str and typ == "string") or (kind is float and typ == "float64"):
        return value
    if assignable(value, typ):
        return value
    raise ExecError(tree, node, f"wrong type for value; expected {typ}; got {go_type_name(value)}")


def _boxes_elements(value: object) -> bool:
    go_type = go_type_of(value)
    return go_type is not None and go_type.kind == "map" and go_type.elem_zero is NIL_INTERFACE


def field_of(
    st: State,
    tree: Tree,
    node: Node,
    dot: object,
    frame: Frame,
    receiver: object,
    name: str,
    call_args: list | tuple,
    final: object,
    boxed: bool = False,
) -> object:
    """Go's evalField: a method call, struct field or map entry named `name` on `receiver`.

    `boxed` says the receiver was read from an interface{}, which changes Go's error texts.
    """
    if receiver is None:
        return None  # missingkey=zero: fields of "no value" are no value
    go_type = go_type_of(receiver)
    if go_type is not None:
        method = go_type.methods.get(name)
        if method is not None:
            return call(
                st, tree, node, node, dot, frame, method, name, call_args, final, (receiver,)
            )
    has_args = len(call_args) > 0 or final is not MISSING
    if isinstance(receiver, dict):
        if has_args:
            raise ExecError(tree, node, f"{name} is not a method but has arguments")
        zero = go_type.elem_zero if go_type is not None else ""
        return receiver.get(name, zero)
    if go_type is not None and name in go_type.fields:
        if has_args:
            raise ExecError(tree, node, f"{name} has arguments but cannot be invoked as function")
        return getattr(receiver, go_type.fields[name])
    if isinstance(receiver, GoNil):
        raise ExecError(tree, node, f"nil pointer evaluating {receiver.type_name}.{name}")
    type_name = "interface {}" if boxed else go_type_name(receiver)
    raise ExecError(tree, node, f"can't evaluate field {name} in type {type_name}")


def call(
    st: State,
    tree: Tree,
    at: Node,
    node: Node,
    dot: object,
    frame: Frame,
    fn: GoFunc,
    name: str,
    call_args: list | tuple,
    final: object,
    bound: tuple[object, ...],
) -> object:
    """Go's evalCall: arity and type checks, and/or short-circuit, then the call itself."""
    params = fn.params[len(bound) :]
    num_in = len(call_args) + (final is not MISSING)
    variadic = fn.variadic
    if variadic is not None:
        if num_in < len(params):
            raise ExecError(
                tree,
                at,
                f"wrong number of args for {name}: want at least {len(params)} "
                f"got {len(call_args)}",
            )
    elif num_in != len(params):
        raise ExecError(
            tree, at, f"wrong number of args for {name}: want {len(params)} got {num_in}"
        )
    if fn.short_circuit:
        return _and_or(st, dot, frame, name, call_args, final)
    argv = list(bound)
    fixed = len(params)
    for index, arg in enumerate(call_args):
        typ = params[index] if index < fixed else variadic
        argv.append(arg(st, dot, frame, typ))
    if final is not MISSING:
        # The piped value fills the last parameter, or joins the variadic ones.
        typ = variadic if variadic is not None and num_in - 1 >= fixed else params[num_in - 1]
        argv.append(validate(tree, at, final, typ))
    try:
        return fn.fn(*argv)
    except GoError as err:
        raise ExecError(tree, node, f"error calling {name}: {err}") from None
    except RecursionError:
        raise ExecError(tree, node, f"error calling {name}: stack overflow") from None


def _and_or(
    st: State, dot: object, frame: Frame, name: str, call_args: list | tuple, final: object
) -> object:
    want = name == "or"
    value: object = None
    for arg in call_args:
        value = arg(st, dot, frame, "reflect.Value")
        if is_true(value) == want:
            return value
    if final is not MISSING:
        value = final
    return value


def execute_tree(
    compiled: CompiledTree,
    data: object,
    funcs: Mapping[str, GoFunc],
    templates: Mapping[str, CompiledTree],
    limits: Limits,
    bound: Sequence[object] = (),
) -> str:
    """Runs one compiled tree over `data`; raises TemplateError with Go's message on failure.

    `bound` holds the values of the variables the tree was compiled with as bound.
    """
    st = State(funcs, templates, limits)
    frame: Frame = [None] * compiled.slots
    frame[0] = data
    if bound:
        frame[1 : len(bound) + 1] = bound
    try:
        compiled.run(st, data, frame)
    except ExecError as err:
        raise err.to_template_error() from None
    except RecursionError:
        error = ExecError(compiled.tree, None, "template nesting too deep")
        raise error.to_template_error() from None
    return "".join(st.out)
