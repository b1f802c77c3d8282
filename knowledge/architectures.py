"""Which release of transformers / vLLM / SGLang first supports a model type or architecture.

Reads ``data/architectures.json`` and ``data/config_features.json`` (both written by
``knowledge/scripts/gen_architectures.py`` from each project's own source at every final release).
Each key has ``ranges``: ``[[first, last_or_null], ...]`` over the covered release list
(``releases(package)``); ``null`` means still present in the newest covered release.

Semantics of :func:`supported`:

* a covered release: exact (presence in that release's source);
* a release between covered ones, or newer than the newest covered release: decided by the ranges
  (an open range counts as still supported);
* older than the oldest covered release: ``False`` when the key first appears later, ``None`` when it
  is already present in the oldest covered release (it may be older still);
* a pre-/dev-release of the version that first ships the key (e.g. ``4.51.0.dev0`` for qwen3): ``None``;
* a key the package never had in any covered release: ``None`` (unknown, not "unsupported": it may be
  a remote-code model, or newer than the data).

Local version labels (``+cu121``) are ignored. All comparisons use ``packaging.version``.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple

from packaging.version import InvalidVersion, Version

from . import load_table

__all__ = [
    "PACKAGES",
    "min_version",
    "supported",
    "record",
    "releases",
    "rope_type_min_version",
    "rope_type_supported",
    "quant_method_min_version",
    "quant_method_supported",
    "feature_record",
]

PACKAGES = ("transformers", "vllm", "sglang")


def _records() -> Dict[str, Any]:
    return load_table("architectures")["records"]


def _features() -> Dict[str, Any]:
    return load_table("config_features")["records"]


def _check_package(package: str) -> None:
    if package not in PACKAGES:
        raise ValueError(f"unknown package {package!r}; expected one of {PACKAGES}")


@lru_cache(maxsize=None)
def _release_versions(package: str) -> Tuple[Version, ...]:
    return tuple(Version(v) for v in _records()["releases"].get(package, []))


def releases(package: str) -> List[str]:
    """Covered final releases of ``package``, oldest first."""
    _check_package(package)
    return list(_records()["releases"].get(package, []))


def _key(model_type: Optional[str], architecture: Optional[str]) -> Tuple[str, str]:
    if (model_type is None) == (architecture is None):
        raise TypeError("pass exactly one of model_type= or architecture=")
    if model_type is not None:
        return "model_types", model_type
    return "architectures", architecture  # type: ignore[return-value]


def _raw(package: str, model_type: Optional[str], architecture: Optional[str]) -> Optional[Dict[str, Any]]:
    _check_package(package)
    kind, key = _key(model_type, architecture)
    return _records().get(package, {}).get(kind, {}).get(key)


def record(package: str, *, model_type: Optional[str] = None, architecture: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """The stored record (``ranges``, ``source``, ``checked``, extras) plus computed
    ``min_version``, ``max_version`` (last release present, ``None`` if still present),
    ``removed_in`` (first covered release after the last range, if any) and ``first_is_floor``
    (present in the oldest covered release, so it may be older). ``None`` if unknown."""
    raw = _raw(package, model_type, architecture)
    if raw is None:
        return None
    return _annotate(raw, _records()["releases"].get(package, []))


def _annotate(raw: Dict[str, Any], rel: List[str]) -> Dict[str, Any]:
    out = dict(raw)
    out["ranges"] = [list(r) for r in raw["ranges"]]
    last = raw["ranges"][-1][1]
    out["min_version"] = raw["ranges"][0][0]
    out["max_version"] = last
    removed = None
    if last is not None and last in rel and rel.index(last) + 1 < len(rel):
        removed = rel[rel.index(last) + 1]
    out["removed_in"] = removed
    out["first_is_floor"] = bool(rel) and raw["ranges"][0][0] == rel[0]
    return out


def min_version(package: str, *, model_type: Optional[str] = None, architecture: Optional[str] = None) -> Optional[str]:
    """First covered release of ``package`` that supports the key natively (``None`` if it never did)."""
    raw = _raw(package, model_type, architecture)
    return raw["ranges"][0][0] if raw else None


def _parse(version: str) -> Optional[Version]:
    try:
        return Version(Version(str(version)).public)
    except InvalidVersion:
        return None


def _in_ranges(ranges: List[List[Optional[str]]], version: str, covered: Tuple[Version, ...]) -> Optional[bool]:
    v = _parse(version)
    if v is None:
        return None
    first = Version(ranges[0][0])  # type: ignore[arg-type]
    if (v.is_prerelease or v.is_devrelease) and Version(v.base_version) in {Version(r[0]) for r in ranges}:  # type: ignore[arg-type]
        return None  # a pre-release of the release that introduced it: may or may not have it
    if covered and v < covered[0]:
        return None if first == covered[0] else False
    for lo, hi in ranges:
        if Version(lo) <= v and (hi is None or v <= Version(hi)):  # type: ignore[arg-type]
            return True
    return False


def supported(
    package: str, version: str, *, model_type: Optional[str] = None, architecture: Optional[str] = None
) -> Optional[bool]:
    """Does ``package==version`` support the key natively? ``None`` = unknown (see module doc)."""
    raw = _raw(package, model_type, architecture)
    if raw is None:
        return None
    return _in_ranges(raw["ranges"], version, _release_versions(package))


# ---------------------------------------------------------------------------------------------
# config_features
# ---------------------------------------------------------------------------------------------
def feature_record(package: str, feature: str, name: str) -> Optional[Dict[str, Any]]:
    """``feature`` is ``rope_type`` (transformers) or ``quant_method`` (transformers, vllm)."""
    _check_package(package)
    raw = _features().get(package, {}).get(feature, {}).get(name)
    if raw is None:
        return None
    return _annotate(raw, _features()["releases"].get(package, []))


def rope_type_min_version(rope_type: str) -> Optional[str]:
    """First transformers release whose RoPE code accepts ``rope_scaling.rope_type == rope_type``."""
    raw = _features().get("transformers", {}).get("rope_type", {}).get(rope_type)
    return raw["ranges"][0][0] if raw else None


def rope_type_supported(version: str, rope_type: str) -> Optional[bool]:
    raw = _features().get("transformers", {}).get("rope_type", {}).get(rope_type)
    if raw is None:
        return None
    return _in_ranges(raw["ranges"], version, _release_versions("transformers"))


def quant_method_min_version(package: str, quant_method: str) -> Optional[str]:
    """First release of transformers/vLLM that knows ``quantization_config.quant_method``."""
    _check_package(package)
    raw = _features().get(package, {}).get("quant_method", {}).get(quant_method)
    return raw["ranges"][0][0] if raw else None


def quant_method_supported(package: str, version: str, quant_method: str) -> Optional[bool]:
    _check_package(package)
    raw = _features().get(package, {}).get("quant_method", {}).get(quant_method)
    if raw is None:
        return None
    return _in_ranges(raw["ranges"], version, _release_versions(package))
