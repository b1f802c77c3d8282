"""Helpers shared by check families: version arithmetic over the knowledge base."""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterable, List, Optional, Sequence

from packaging.version import InvalidVersion, Version

from stacklint.model import Constraint

if TYPE_CHECKING:
    from stacklint.model import Stack


@lru_cache(maxsize=4096)
def V(text: str) -> Optional[Version]:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def allowed(constraint: Constraint, releases: Iterable[str]) -> List[str]:
    """Known releases the constraint admits (final releases only unless it names a pre-release)."""
    rel = releases if isinstance(releases, tuple) else tuple(releases)
    return list(_allowed(str(constraint.specifier), rel))


@lru_cache(maxsize=8192)
def _allowed(spec: str, releases: tuple) -> tuple:
    # the same few specifiers meet the same release lists thousands of times in a large scan
    from packaging.specifiers import SpecifierSet

    ss = SpecifierSet(spec)
    out = []
    for r in releases:
        v = V(r)
        if v is not None and ss.contains(v, prereleases=True):
            out.append(r)
    return tuple(out)


def confining_pin(stack: "Stack", path: str, name: str, releases: Sequence[str],
                  pred: Callable[[str], bool]) -> Optional[Constraint]:
    """The first constraint on ``name`` in the environment of ``path`` (no marker, no URL) whose
    admitted known releases are not empty and all satisfy ``pred``: whatever pip picks for it,
    the stack gets such a release."""
    for iset in stack.environment(path):
        for c in iset.get(name):
            if c.marker is not None or c.url:
                continue
            ok = allowed(c, releases)
            if ok and all(pred(v) for v in ok):
                return c
    return None


def first_where(releases: Iterable[str], pred: Callable[[str], Optional[bool]]) -> Optional[str]:
    for r in releases:
        if pred(r):
            return r
    return None


def fmt_loc(c: Constraint) -> str:
    return f"{c.location.path}:{c.location.line}"


def script_tree(stack: "Stack", path: str) -> Optional[Any]:
    """The ``ast`` tree of a Python file of the stack, parsed once per stack whichever rules ask
    (None when it is not in the stack or does not parse). Never executed: ``ast.parse`` only."""
    cache = stack.__dict__.setdefault("_script_trees", {})
    if path in cache:
        return cache[path]
    tree = None
    tf = stack.texts.get(path)
    if tf is not None:
        import ast
        import warnings

        try:
            with warnings.catch_warnings():  # SyntaxWarning/DeprecationWarning of the scanned code
                warnings.simplefilter("ignore")
                tree = ast.parse(tf.text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
    cache[path] = tree
    return tree
