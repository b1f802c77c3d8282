"""Python scripts, read with ``ast`` (never imported or run): imports and calls with literals."""
from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

from stacklint.parsers.base import LimitExceeded, ParseError


class Unknown:
    """A value that is not a literal (a variable, a call, an f-string...)."""

    __slots__ = ("source",)

    def __init__(self, source: str = "") -> None:
        self.source = source

    def __repr__(self) -> str:
        return f"Unknown({self.source!r})"


UNKNOWN = Unknown()


@dataclass(frozen=True)
class Arg:
    value: Any
    line: int
    col: int
    # keyword name position (for renames) when this is a keyword argument
    key_line: int = 0
    key_col: int = 0
    end_line: int = 0
    end_col: int = 0


@dataclass
class Call:
    name: str  # dotted as written: "AutoModelForCausalLM.from_pretrained", "LLM"
    qualname: str  # with import aliases resolved: "transformers.AutoModelForCausalLM.from_pretrained"
    line: int
    col: int
    args: List[Arg] = field(default_factory=list)
    kwargs: Dict[str, Arg] = field(default_factory=dict)
    star_kwargs: bool = False  # **kwargs present: absent keywords are unknown, not missing
    receiver: Optional[str] = None  # for method calls on a variable: the variable name

    @property
    def short(self) -> str:
        return self.name.rsplit(".", 1)[-1]


@dataclass
class PyDoc:
    path: str
    imports: Set[str]  # top-level module names and full dotted imports
    calls: List[Call]
    assigned: Dict[str, Any]  # simple name -> literal (last assignment)
    origins: Dict[str, str]  # variable -> qualname of the call that produced it
    # imports written only inside ``try: ... except ImportError`` (either branch): the file copes
    # with the name being absent, so a removed name there is not a failure
    guarded: Set[str] = field(default_factory=set)
    import_lines: Dict[str, int] = field(default_factory=dict)  # name -> line (an unguarded one first)


def parse(path: str, text: str, *, max_bytes: int = 5_000_000) -> PyDoc:
    if len(text) > max_bytes:
        raise LimitExceeded(f"Python file larger than {max_bytes} bytes")
    try:
        with warnings.catch_warnings():  # SyntaxWarning/DeprecationWarning of the scanned code
            warnings.simplefilter("ignore")
            tree = ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise ParseError(f"Python syntax error (for this interpreter): {exc.msg}", exc.lineno or 1, exc.offset or 1) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ParseError(f"cannot parse Python: {type(exc).__name__}") from None
    return _Visitor(path).run(tree)


class _Visitor(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.aliases: Dict[str, str] = {}
        self.imports: Set[str] = set()
        self.calls: List[Call] = []
        self.assigned: Dict[str, Any] = {}
        self.origins: Dict[str, str] = {}
        self.guard = 0
        self.unguarded: Set[str] = set()
        self.guarded: Set[str] = set()
        self.import_lines: Dict[str, int] = {}
        self.line = 0

    # ast.NodeVisitor dispatches through getattr for every node, expression contexts and
    # constants included; a per-type table and skipping childless leaves keeps the same
    # visiting order at a third of the cost.
    def visit(self, node: ast.AST) -> None:
        method = _DISPATCH.get(type(node), _GENERIC)
        if method is not None:
            method(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        cls = type(node)
        fields = _CHILD_FIELDS.get(cls)
        if fields is None:
            fields = _CHILD_FIELDS[cls] = tuple(f for f in cls._fields if f not in _SCALAR_FIELDS)
        dispatch = _DISPATCH
        for name in fields:
            value = getattr(node, name, None)
            if value is None:
                continue
            if type(value) is list:
                for item in value:
                    if isinstance(item, ast.AST):
                        method = dispatch.get(type(item), _GENERIC)
                        if method is not None:
                            method(self, item)
            elif isinstance(value, ast.AST):
                method = dispatch.get(type(value), _GENERIC)
                if method is not None:
                    method(self, value)

    def run(self, tree: ast.AST) -> PyDoc:
        try:
            self.visit(tree)
        except RecursionError:
            raise LimitExceeded("Python expression nested too deeply") from None
        return PyDoc(self.path, self.imports, self.calls, self.assigned, self.origins,
                     self.guarded - self.unguarded, self.import_lines)

    def _imported(self, name: str) -> None:
        self.imports.add(name)
        if self.guard:
            self.guarded.add(name)
            self.import_lines.setdefault(name, self.line)
        else:
            if name not in self.unguarded:
                self.import_lines[name] = self.line
            self.unguarded.add(name)

    def visit_Try(self, node: ast.Try) -> None:
        if not any(_catches_import_error(h.type) for h in node.handlers):
            self.generic_visit(node)
            return
        self.guard += 1
        try:
            self.generic_visit(node)
        finally:
            self.guard -= 1

    visit_TryStar = visit_Try

    def visit_Import(self, node: ast.Import) -> None:
        self.line = node.lineno
        for a in node.names:
            self._imported(a.name)
            self._imported(a.name.split(".")[0])
            self.aliases[(a.asname or a.name).split(".")[0] if not a.asname else a.asname] = (
                a.name if a.asname else a.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        mod = node.module or ""
        self.line = node.lineno
        if mod:
            self._imported(mod)
            self._imported(mod.split(".")[0])
        for a in node.names:
            full = f"{mod}.{a.name}" if mod else a.name
            self._imported(full)
            self.aliases[a.asname or a.name] = full

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        value = literal(node.value, self.assigned)
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.assigned[target.id] = value
                if isinstance(node.value, ast.Call):
                    self.origins[target.id] = self._qualname(dotted(node.value.func))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.generic_visit(node)
        if isinstance(node.target, ast.Name) and node.value is not None:
            self.assigned[node.target.id] = literal(node.value, self.assigned)

    def visit_Call(self, node: ast.Call) -> None:
        name = dotted(node.func)
        if name:
            call = Call(name, self._qualname(name), node.lineno, node.col_offset + 1)
            if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                call.receiver = node.func.value.id
            for a in node.args:
                if isinstance(a, ast.Starred):
                    continue
                call.args.append(_arg(a, self.assigned))
            for kw in node.keywords:
                if kw.arg is None:
                    call.star_kwargs = True
                    continue
                v = kw.value
                call.kwargs[kw.arg] = Arg(
                    literal(v, self.assigned), v.lineno, v.col_offset + 1,
                    getattr(kw, "lineno", v.lineno), getattr(kw, "col_offset", v.col_offset) + 1,
                    getattr(v, "end_lineno", 0) or 0, (getattr(v, "end_col_offset", 0) or 0) + 1)
            self.calls.append(call)
        self.generic_visit(node)

    def _qualname(self, name: str) -> str:
        head, _, rest = name.partition(".")
        base = self.aliases.get(head)
        if base is None:
            return name
        return f"{base}.{rest}" if rest else base


def _catches_import_error(t: Optional[ast.AST]) -> bool:
    """A handler that catches ImportError: bare ``except``, ImportError, ModuleNotFoundError,
    Exception/BaseException, or a tuple holding one of them."""
    if t is None:
        return True
    if isinstance(t, ast.Tuple):
        return any(_catches_import_error(e) for e in t.elts)
    name = t.attr if isinstance(t, ast.Attribute) else t.id if isinstance(t, ast.Name) else ""
    return name in ("ImportError", "ModuleNotFoundError", "Exception", "BaseException")


_GENERIC: Any = _Visitor.generic_visit
# Fields that never hold a node to visit (names, flags, operators, expression contexts).
_SCALAR_FIELDS = frozenset({"ctx", "op", "ops", "id", "attr", "arg", "name", "module", "level", "kind",
                            "type_comment", "is_async", "conversion", "simple", "asname", "tag"})
_CHILD_FIELDS: Dict[type, Tuple[str, ...]] = {}
_LEAVES = (ast.expr_context, ast.Constant, ast.Name, ast.operator, ast.unaryop, ast.cmpop, ast.boolop,
           ast.alias, ast.Pass, ast.Break, ast.Continue)
_DISPATCH: Dict[type, Any] = {}
for _cls in [c for c in vars(ast).values() if isinstance(c, type) and issubclass(c, ast.AST)]:
    _m = getattr(_Visitor, "visit_" + _cls.__name__, None)
    _DISPATCH[_cls] = _m if _m is not None else (None if issubclass(_cls, _LEAVES) else _GENERIC)
for _cls in list(_DISPATCH):  # operator singletons are instances of subclasses: cover them all
    for _sub in _cls.__subclasses__():
        _DISPATCH.setdefault(_sub, _DISPATCH[_cls])


def _arg(node: ast.AST, env: Dict[str, Any]) -> Arg:
    return Arg(literal(node, env), getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1,
               end_line=getattr(node, "end_lineno", 0) or 0, end_col=(getattr(node, "end_col_offset", 0) or 0) + 1)


def dotted(node: ast.AST) -> str:
    parts: List[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    if isinstance(node, ast.Call):  # Foo(...).bar(...)
        inner = dotted(node.func)
        return ".".join([inner + "()"] + list(reversed(parts))) if inner else ""
    return ""


def literal(node: ast.AST, env: Dict[str, Any], depth: int = 0) -> Any:
    """The value of a literal expression; names bound to literals resolve; else Unknown."""
    if depth > 50:
        return UNKNOWN
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        v = env.get(node.id, UNKNOWN)
        return v if not isinstance(v, Unknown) else Unknown(node.id)
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        items = [literal(e, env, depth + 1) for e in node.elts]
        return items if isinstance(node, ast.List) else tuple(items) if isinstance(node, ast.Tuple) else items
    if isinstance(node, ast.Dict):
        out: Dict[Any, Any] = {}
        for k, v in zip(node.keys, node.values):
            if k is None:
                return UNKNOWN
            key = literal(k, env, depth + 1)
            if isinstance(key, (str, int, float, bool)) or key is None:
                out[key] = literal(v, env, depth + 1)
        return out
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = literal(node.operand, env, depth + 1)
        return -v if isinstance(v, (int, float)) and not isinstance(v, bool) else UNKNOWN
    if isinstance(node, ast.Attribute):
        name = dotted(node)
        return Unknown(name) if name else UNKNOWN  # e.g. torch.bfloat16
    return UNKNOWN


def dotted_source(value: Any) -> str:
    """'torch.bfloat16' for Unknown(torch.bfloat16); the literal's str otherwise."""
    if isinstance(value, Unknown):
        return value.source
    return str(value)


__all__ = ["Arg", "Call", "PyDoc", "Unknown", "UNKNOWN", "parse", "literal", "dotted_source"]
_ = Tuple
