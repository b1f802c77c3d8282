"""Where a package release installs: wheel coverage from the package index's file listing
(``data/wheels.json``, built by ``knowledge/scripts/gen_wheels.py``) and the hand-curated
platform limits of ``data/platform_limits.json``::

    from stacklint.knowledge import wheels
    wheels.coverage("torch", "2.1.2")["pythons"]["linux-x86_64"]   # ["3.8", ..., "3.11"]
    wheels.limit("vllm", "0.6.3", "windows-amd64")                # {"why": ..., "source": ...}

Platforms are ``linux-x86_64``, ``linux-aarch64``, ``macos-arm64``, ``macos-x86_64``,
``windows-amd64``, ``windows-arm64`` (and ``any`` for pure-Python wheels). Python entries are
CPython minors (``"3.11"``), ``"*"`` for a pure-Python wheel and ``"3.9+"`` for an abi3 wheel.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import load_table

__all__ = ["known", "releases", "coverage", "limit", "feature_limit", "python_covered", "PLATFORMS"]

PLATFORMS = ("linux-x86_64", "linux-aarch64", "macos-arm64", "macos-x86_64", "windows-amd64",
             "windows-arm64")


def _records() -> Dict[str, Dict[str, Dict[str, Any]]]:
    return load_table("wheels")["records"]  # type: ignore[no-any-return]


@lru_cache(maxsize=None)
def _index(name: str) -> Tuple[Tuple[Version, str], ...]:
    rels = _records().get(name) or {}
    out = []
    for v in rels:
        try:
            out.append((Version(v), v))
        except InvalidVersion:
            continue
    return tuple(sorted(out))


def known(name: str) -> bool:
    return bool(_records().get(canonicalize_name(name)))


def releases(name: str) -> List[str]:
    """Releases with a file listing, ascending."""
    return [k for _v, k in _index(canonicalize_name(name))]


def coverage(name: str, version: str) -> Optional[Dict[str, Any]]:
    """{platforms, pythons, sdist, source, checked} of a release, or None when unknown."""
    cname = canonicalize_name(name)
    rels = _records().get(cname) or {}
    if version in rels:
        return rels[version]
    try:
        want = Version(str(version))
    except InvalidVersion:
        return None
    for parsed, key in _index(cname):
        if parsed == want:
            return rels[key]
    return None


def limit(name: str, version: str, platform: str) -> Optional[Dict[str, Any]]:
    """The curated record saying release ``version`` cannot work on ``platform``, if any."""
    for rec in load_table("platform_limits")["records"].get(canonicalize_name(name)) or ():
        if rec.get("feature") or platform not in rec.get("platforms", ()):
            continue
        try:
            spec = SpecifierSet(rec.get("versions") or "")
        except InvalidSpecifier:
            continue
        if not str(spec) or spec.contains(version, prereleases=True):
            return rec  # type: ignore[no-any-return]
    return None


def feature_limit(name: str, feature: str, platform: str) -> Optional[Dict[str, Any]]:
    """The curated record saying ``feature`` of ``name`` is missing from its builds for ``platform``."""
    for rec in load_table("platform_limits")["records"].get(canonicalize_name(name)) or ():
        if rec.get("feature") == feature and platform in rec.get("platforms", ()):
            return rec  # type: ignore[no-any-return]
    return None


def python_covered(entries: List[str], python: str) -> bool:
    """Whether wheel Python entries (``"3.11"``, ``"*"``, ``"3.9+"``) include CPython ``python``."""
    try:
        want = tuple(int(x) for x in python.split(".")[:2])
    except ValueError:
        return True
    for e in entries:
        if e == "*":
            return True
        base = e.rstrip("+")
        try:
            got = tuple(int(x) for x in base.split(".")[:2])
        except ValueError:
            continue
        if got == want or (e.endswith("+") and want >= got):
            return True
    return False
