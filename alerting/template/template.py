"""A set of named templates parsed once and executed many times (Go's *template.Template)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from alerting.template.builtins import BUILTINS
from alerting.template.errors import TemplateError
from alerting.template.exec import CompiledTree, Limits, compile_tree, execute_tree
from alerting.template.gofmt import quote
from alerting.template.gotypes import GoFunc
from alerting.template.nodes import ActionNode, ListNode, Node, Tree, is_empty_tree
from alerting.template.parser import parse_trees


class Template:
    """The template named `name` plus every template its text (and added texts) define."""

    def __init__(
        self,
        name: str,
        funcs: Mapping[str, GoFunc] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.name = name
        self.funcs: dict[str, GoFunc] = {**BUILTINS, **(funcs or {})}
        self.check_funcs = funcs is not None
        self.limits = limits or Limits()
        self._trees: dict[str, Tree] = {}
        self._compiled: dict[str, CompiledTree] = {}
        self._lookup = _LazyTrees(self)

    def add(self, text: str, name: str) -> None:
        """Parses `text` as template `name` into this set; its defines join (and replace) ours."""
        names = self.funcs.keys() if self.check_funcs else None
        for tree_name, tree in parse_trees(text, name, names).items():
            existing = self._trees.get(tree_name)
            if existing is not None and is_empty_tree(tree.root):
                continue  # Go keeps an existing template rather than an empty redefinition.
            self._trees[tree_name] = tree
            self._compiled.pop(tree_name, None)

    def clone(self) -> Template:
        copy = Template(self.name, limits=self.limits)
        copy.funcs, copy.check_funcs = dict(self.funcs), self.check_funcs
        copy._trees = dict(self._trees)
        copy._compiled = dict(self._compiled)
        copy._lookup = _LazyTrees(copy)
        return copy

    def trees(self) -> dict[str, Tree]:
        """The parse trees of the set, by template name."""
        return dict(self._trees)

    def names(self) -> list[str]:
        return sorted(self._trees)

    def has(self, name: str) -> bool:
        return name in self._trees

    def execute(
        self, data: object, funcs: Mapping[str, GoFunc | Callable[..., object]] | None = None
    ) -> str:
        """Runs this set's main template over `data`; raises TemplateError."""
        return self.execute_template(self.name, data, funcs)

    def execute_template(
        self,
        name: str,
        data: object,
        funcs: Mapping[str, GoFunc | Callable[..., object]] | None = None,
    ) -> str:
        compiled = self._compile(name)
        all_funcs = self.funcs if not funcs else {**self.funcs, **_as_go_funcs(funcs)}
        return execute_tree(compiled, data, all_funcs, self._lookup, self.limits)

    def compile_bound(self, names: Sequence[str]) -> CompiledTree | None:
        """The main template without its leading `{{$name := ...}}` actions, one per name.

        Those variables are bound by the caller instead: `execute_compiled` takes their values,
        which must be what the dropped pipelines would give (and these must not be able to fail).
        Only the actions are dropped; the text, and so every error position, stays as parsed.
        None when the main template does not start with exactly those declarations.
        """
        tree = self._trees.get(self.name)
        if tree is None or not _declares(tree.root.nodes[: len(names)], names):
            return None
        root = ListNode(tree.root.pos, tree.root.nodes[len(names) :])
        return compile_tree(Tree(tree.name, tree.parse_name, tree.text, root), names)

    def execute_compiled(
        self,
        compiled: CompiledTree,
        data: object,
        bound: Sequence[object],
        funcs: Mapping[str, GoFunc | Callable[..., object]] | None = None,
    ) -> str:
        """Runs a tree from `compile_bound` with its variables set to `bound`; raises TemplateError."""
        all_funcs = self.funcs if not funcs else {**self.funcs, **_as_go_funcs(funcs)}
        return execute_tree(compiled, data, all_funcs, self._lookup, self.limits, bound)

    def _compile(self, name: str) -> CompiledTree:
        compiled = self._compiled.get(name)
        if compiled is None:
            tree = self._trees.get(name)
            if tree is None:
                message = f"no template {quote(name)} associated with template {quote(self.name)}"
                raise TemplateError(name, 0, 0, message, f"template: {message}")
            compiled = self._compiled[name] = compile_tree(tree)
        return compiled


def _declares(nodes: Sequence[Node], names: Sequence[str]) -> bool:
    """Are `nodes` the actions `{{$name := ...}}`, one per name in order, printing nothing?"""
    if len(nodes) != len(names):
        return False
    for node, name in zip(nodes, names, strict=True):
        if not isinstance(node, ActionNode) or node.pipe.is_assign:
            return False
        if [v.idents for v in node.pipe.decl] != [[name]]:
            return False
    return True


def _as_go_funcs(funcs: Mapping[str, GoFunc | Callable[..., object]]) -> dict[str, GoFunc]:
    """Plain callables take any arguments (Go's ...interface{}) and may raise GoError."""
    return {
        name: fn if isinstance(fn, GoFunc) else GoFunc(fn, (), "any") for name, fn in funcs.items()
    }


class _LazyTrees(Mapping[str, CompiledTree]):
    """The set's templates, compiled on first use by a {{template}} call."""

    def __init__(self, owner: Template) -> None:
        self._owner = owner

    def __getitem__(self, name: str) -> CompiledTree:
        if not self._owner.has(name):
            raise KeyError(name)
        return self._owner._compile(name)

    def get(self, name: str, default: object = None) -> CompiledTree | None:  # type: ignore[override]
        return self[name] if self._owner.has(name) else default  # type: ignore[return-value]

    def __iter__(self):
        return iter(self._owner.names())

    def __len__(self) -> int:
        return len(self._owner.names())


def parse(
    text: str,
    name: str = "",
    funcs: Mapping[str, GoFunc] | None = None,
    limits: Limits | None = None,
) -> Template:
    """Parses `text` as template `name`. With `funcs`, calls to unknown functions fail here."""
    template = Template(name, funcs, limits)
    template.add(text, name)
    return template
