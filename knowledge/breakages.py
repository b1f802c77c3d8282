"""Pins that install together but break at run time (or force a from-source build).

Reads ``data/breakages.json`` (written by ``knowledge/scripts/gen_breakages.py``). A record::

    {"id", "kind": "runtime" | "build",
     "when": [{"package": "numpy", "specifier": ">=2"}, {"package": "torch", "specifier": "<2.3"}],
     "effect", "fix", "source", "checked", "generated", ...}

A condition may also carry ``local``: an fnmatch pattern on the pinned version's local label
(``"cu11*"`` matches ``2.4.0+cu118``); a pin without a local label never matches it.

:func:`matching` takes *concrete* pins (``{"torch": "2.1.2", "numpy": "==2.0.1"}``); names are
canonicalised (``flash_attn`` = ``flash-attn``), a leading ``==`` / ``===`` is accepted, and a value
that is not one exact version (``">=2"``, ``"2.*"``) leaves its package unpinned. A record applies
only when every package it names is pinned and inside its specifier.
"""
from __future__ import annotations

import fnmatch
from typing import Any, Dict, List, Mapping, Optional

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import load_table

__all__ = ["all_breakages", "matching", "condition_holds", "get"]


def _records() -> List[Dict[str, Any]]:
    return load_table("breakages")["records"]


def all_breakages() -> List[Dict[str, Any]]:
    """Every record (copies)."""
    return [dict(r) for r in _records()]


def get(breakage_id: str) -> Optional[Dict[str, Any]]:
    for r in _records():
        if r["id"] == breakage_id:
            return dict(r)
    return None


def _pinned(value: Any) -> Optional[Version]:
    if value is None:
        return None
    s = str(value).strip()
    for prefix in ("===", "=="):
        if s.startswith(prefix):
            s = s[len(prefix):].strip()
            break
    if not s or any(ch in s for ch in "<>!~=*,; "):
        return None
    try:
        return Version(s)
    except InvalidVersion:
        return None


def condition_holds(cond: Mapping[str, Any], version: Version) -> bool:
    """Does one ``when`` entry hold for ``version``?"""
    try:
        spec = SpecifierSet(cond.get("specifier") or "")
    except InvalidSpecifier:
        return False
    if not spec.contains(Version(version.public), prereleases=True):
        return False
    local = cond.get("local")
    if local:
        return version.local is not None and fnmatch.fnmatchcase(version.local.lower(), local.lower())
    return True


def matching(pins: Mapping[str, str]) -> List[Dict[str, Any]]:
    """Records whose every condition holds for the given concrete pins."""
    versions: Dict[str, Version] = {}
    for name, value in pins.items():
        v = _pinned(value)
        if v is not None:
            versions[canonicalize_name(name)] = v
    out = []
    for r in _records():
        conds = r.get("when") or []
        if not conds:
            continue
        ok = True
        for cond in conds:
            v = versions.get(canonicalize_name(cond["package"]))
            if v is None or not condition_holds(cond, v):
                ok = False
                break
        if ok:
            out.append(dict(r))
    return out
