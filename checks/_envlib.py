"""Static resolution helpers for the environment family: which known releases a set admits,
and which dependency edges of a release apply on the stack's platform."""
from __future__ import annotations

from functools import lru_cache
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from stacklint.model import Constraint, InstallSet

Edge = Tuple[str, SpecifierSet]


@lru_cache(maxsize=8192)
def V(text: str) -> Optional[Version]:
    try:
        return Version(text)
    except InvalidVersion:
        return None


@lru_cache(maxsize=8192)
def spec_of(text: str) -> Optional[SpecifierSet]:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


def base_spec(c: Constraint) -> SpecifierSet:
    """The constraint's specifier with local labels dropped (`==2.1.0+cu121` -> `==2.1.0`)."""
    if not c.local:
        return c.specifier
    parts = [f"{s.operator}{s.version.split('+', 1)[0]}" for s in c.specifier]
    return SpecifierSet(",".join(parts))


def admits(spec: SpecifierSet, version: str) -> bool:
    v = V(version)
    return v is not None and spec.contains(v, prereleases=True)


def python_of(s: InstallSet) -> str:
    """One representative Python minor for marker evaluation: the set's exact one, else 3.11."""
    for cand in ("3.11", "3.10", "3.12", "3.9", "3.13", "3.8"):
        if all(st.value.contains(cand + ".0", prereleases=True) for st in s.python):
            return cand
    return "3.11"


def exact_python(s: InstallSet) -> Optional[Tuple[str, str]]:
    """(minor, where) when the set runs exactly one Python minor (image tag, conda `python=3.8`)."""
    minors = [f"3.{n}" for n in range(6, 15)]
    if not s.python:
        return None
    ok = [m for m in minors if all(st.value.contains(m + ".0", prereleases=True)
                                   and st.value.contains(m + ".99", prereleases=True) for st in s.python)]
    return (ok[0], "") if len(ok) == 1 else None


def marker_env(python: str) -> Dict[str, str]:
    return {"python_version": python, "python_full_version": python + ".0", "sys_platform": "linux",
            "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
            "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}


@lru_cache(maxsize=4096)
def _marker_true(marker: str, python: str) -> Optional[bool]:
    try:
        from packaging.markers import Marker  # markers are rare: not imported by every scan

        return Marker(marker).evaluate(marker_env(python))
    except Exception:  # noqa: BLE001 - an unparseable marker: unknown
        return None


def constraint_applies(c: Constraint, python: str) -> bool:
    """Constraints under a marker count only when the marker holds on Linux x86_64."""
    if c.marker is None:
        return True
    return bool(_marker_true(str(c.marker), python))


@lru_cache(maxsize=65536)
def edges(name: str, version: str, python: str) -> Optional[Tuple[Edge, ...]]:
    """Dependency edges of a release that apply on Linux x86_64 (None: metadata unknown)."""
    from stacklint.knowledge import packages

    rec = packages.metadata(name, version)
    if rec is None or rec.get("requires") is None:
        return None
    out: List[Edge] = []
    for dep, spec, marker in rec["requires"]:
        if marker and not _marker_true(marker, python):
            continue
        ss = spec_of(spec or "")
        if ss is not None:
            out.append((dep, ss))
    return tuple(out)


def requirement_on(name: str, version: str, dep: str, python: str) -> Optional[SpecifierSet]:
    """The combined specifier release ``name==version`` puts on ``dep`` ('' when no edge;
    None when the release's metadata is unknown)."""
    es = edges(name, version, python)
    if es is None:
        return None
    parts = [str(s) for d, s in es if d == dep and str(s)]
    return SpecifierSet(",".join(parts)) if parts else SpecifierSet("")


def releases(name: str) -> List[str]:
    from stacklint.knowledge import packages

    return packages.releases(name)


def candidates(cs: Sequence[Constraint]) -> List[str]:
    """Known releases every constraint admits (local labels ignored)."""
    if not cs:
        return []
    return list(_candidates(cs[0].name, tuple(sorted({str(base_spec(c)) for c in cs}))))


@lru_cache(maxsize=16384)
def _candidates(name: str, specs: Tuple[str, ...]) -> Tuple[str, ...]:
    """Memoised by specifier text: the same bounds recur across a repository's manifests."""
    rels = releases(name)
    for text in specs:
        spec = spec_of(text)
        if spec is None:
            return ()
        rels = [r for r in rels if admits(spec, r)]
    return tuple(rels)


def describe(c: Constraint) -> str:
    return f"{c.name}{c.specifier}" if str(c.specifier) else c.name


def newest_where(rels: Iterable[str], pred) -> Optional[str]:  # type: ignore[no-untyped-def]
    out = None
    for r in rels:
        if pred(r):
            out = r
    return out


# -- the torch/CUDA wheel table (knowledge/data/cuda.json) --------------------------------

def torch_cuda_variants(version: str) -> Optional[List[str]]:
    """Official wheel variants (`cu121`, `rocm6.1`, ...) of a torch release; None when unknown.
    Uses the knowledge API when it exists, else reads the same table through the package data."""
    try:
        from stacklint.knowledge import cuda as K  # type: ignore[attr-defined]

        got = K.torch_cuda_variants(version)
        return list(got) if got is not None else None
    except ImportError:
        pass
    rec = _cuda_table().get("torch", {}).get(version)
    return list(rec["variants"]) if rec and rec.get("variants") else None


@lru_cache(maxsize=1)
def _cuda_table() -> Dict[str, Dict[str, dict]]:  # type: ignore[type-arg]
    import json
    from importlib import resources

    try:
        text = resources.files("stacklint.knowledge.data").joinpath("cuda.json").read_text("utf-8")
        return json.loads(text).get("records", {})
    except (OSError, ValueError, ModuleNotFoundError):
        return {}
