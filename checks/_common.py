"""Helpers shared by check families: version arithmetic over the knowledge base."""
from __future__ import annotations

from functools import lru_cache
from typing import Callable, Iterable, List, Optional

from packaging.version import InvalidVersion, Version

from stacklint.model import Constraint


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


def first_where(releases: Iterable[str], pred: Callable[[str], Optional[bool]]) -> Optional[str]:
    for r in releases:
        if pred(r):
            return r
    return None


def fmt_loc(c: Constraint) -> str:
    return f"{c.location.path}:{c.location.line}"
