"""Package-requirements table: Requires-Python and Requires-Dist per release.

Reads ``data/packages.json`` (built by ``knowledge/scripts/gen_packages.py``) lazily on
first use::

    from stacklint.knowledge import packages
    packages.requires("vllm", "0.6.3")        # [("torch", "==2.4.0", None), ...]
    packages.requires_python("transformers", "4.51.0")   # ">=3.9.0"

Names are canonicalised (``Flash_Attn`` == ``flash-attn``) and versions normalised
(``0.6.3.0``/``v0.6.3`` find the ``0.6.3`` record). Only releases in the table are known;
``requires`` is empty for a release whose metadata could not be read (see the record's
``note``; ``metadata(...)["requires"]`` is then ``None``).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import load_table

__all__ = ["releases", "metadata", "requires", "requires_python", "latest", "known"]

Requirement = Tuple[str, str, Optional[str]]


def _records() -> Dict[str, Dict[str, Dict[str, Any]]]:
    return load_table("packages")["records"]  # type: ignore[no-any-return]


@lru_cache(maxsize=None)
def _sorted_versions(name: str) -> Tuple[Tuple[Version, str], ...]:
    """(parsed, key) pairs of a package's releases, ascending; parsed once per package."""
    rels = _records().get(name)
    if not rels:
        return ()
    return tuple(sorted((Version(v), v) for v in rels))


@lru_cache(maxsize=None)
def _index(name: str) -> Dict[Version, str]:
    return {parsed: key for parsed, key in _sorted_versions(name)}


def _canon(name: str) -> str:
    return canonicalize_name(name)


def _key(name: str, version: str) -> Optional[str]:
    rels = _records().get(name)
    if not rels:
        return None
    if version in rels:
        return version
    try:
        parsed = Version(str(version).strip())
    except InvalidVersion:
        return None
    return _index(name).get(parsed)


def known(name: str) -> bool:
    """Whether the table has any release of ``name``."""
    return bool(_records().get(_canon(name)))


def releases(name: str) -> List[str]:
    """The package's releases in the table, ascending by ``packaging.version.Version``."""
    return [key for _parsed, key in _sorted_versions(_canon(name))]


def latest(name: str) -> Optional[str]:
    """The highest release in the table (pre-releases only where a package has nothing else)."""
    vs = _sorted_versions(_canon(name))
    return vs[-1][1] if vs else None


def metadata(name: str, version: str) -> Optional[Dict[str, Any]]:
    """The whole record of ``name`` ``version``, or None when the table lacks it."""
    cname = _canon(name)
    key = _key(cname, version)
    return _records()[cname][key] if key is not None else None


def requires(name: str, version: str, extra: Optional[str] = None) -> List[Requirement]:
    """``(dependency, specifier, marker-or-None)`` edges of a release.

    With ``extra``, the edges that extra adds come after the unconditional ones (as pip
    would install them for ``name[extra]``). Unknown releases, unknown extras and releases
    whose metadata could not be read give an empty list.
    """
    rec = metadata(name, version)
    if rec is None:
        return []
    out: List[Requirement] = [(r[0], r[1], r[2]) for r in rec.get("requires") or ()]
    if extra is not None:
        ex_rec = load_table("package_extras")["records"].get(_canon(name), {}).get(_key(_canon(name), version) or "")
        extras = (ex_rec or {}).get("extras") or {}
        for r in extras.get(canonicalize_name(extra)) or ():
            out.append((r[0], r[1], r[2]))
    return out


def requires_python(name: str, version: str) -> Optional[str]:
    """The release's Requires-Python specifier, or None (none declared, or unknown release)."""
    rec = metadata(name, version)
    return rec.get("requires_python") if rec is not None else None
