"""torch wheel variants (CUDA / ROCm), the CUDA of the default wheel, companion torchvision /
torchaudio releases, and minimum NVIDIA drivers per CUDA toolkit.

Reads ``data/cuda.json`` (written by ``knowledge/scripts/gen_cuda.py``).

Versions may carry a local label (``2.4.0+cu121``); it is ignored for lookups. A release the table
does not cover gives ``[]`` / ``None`` / ``{}`` — never a guess.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from packaging.version import InvalidVersion, Version

from . import load_table

__all__ = [
    "torch_releases",
    "torch_record",
    "torch_cuda_variants",
    "torch_rocm_variants",
    "torch_variants",
    "torch_default_cuda",
    "torch_default_record",
    "companion_versions",
    "cuda_min_driver",
    "cuda_minor_compat_driver",
    "cuda_driver_record",
    "variant_cuda",
]


def _records() -> Dict[str, Any]:
    return load_table("cuda")["records"]


def _public(version: str) -> Optional[str]:
    try:
        return str(Version(Version(str(version).strip().lstrip("=")).public))
    except InvalidVersion:
        return None


def _key(section: Dict[str, Any], version: str) -> Optional[str]:
    v = _public(version)
    if v is None:
        return None
    if v in section:
        return v
    # "2.4" / "2.4.0" spelled differently ("2.4.0" vs "2.4") -> compare as versions
    for k in section:
        if Version(k) == Version(v):
            return k
    return None


def torch_releases() -> List[str]:
    """torch releases with a variant record, oldest first."""
    return sorted(_records()["torch"], key=Version)


def torch_record(torch_version: str) -> Optional[Dict[str, Any]]:
    sec = _records()["torch"]
    k = _key(sec, torch_version)
    return dict(sec[k]) if k else None


def torch_variants(torch_version: str) -> List[str]:
    """All official wheel variants (``cu121``, ``rocm6.1`` ...) of a torch release."""
    rec = torch_record(torch_version)
    return list(rec["variants"]) if rec else []


def torch_cuda_variants(torch_version: str) -> List[str]:
    """The CUDA wheel variants of a torch release, e.g. ``['cu118', 'cu121', 'cu124']`` for 2.4.0."""
    return [v for v in torch_variants(torch_version) if v.startswith("cu")]


def torch_rocm_variants(torch_version: str) -> List[str]:
    return [v for v in torch_variants(torch_version) if v.startswith("rocm")]


def torch_default_cuda(torch_version: str) -> Optional[str]:
    """The variant of the Linux x86_64 wheel on the package index (``cu121`` for 2.4.0)."""
    sec = _records()["torch_default"]
    k = _key(sec, torch_version)
    return sec[k]["variant"] if k else None


def torch_default_record(torch_version: str) -> Optional[Dict[str, Any]]:
    """``{cuda, variant, cuda_runtime, cudnn, source, checked}`` of the index wheel, or ``None``."""
    sec = _records()["torch_default"]
    k = _key(sec, torch_version)
    return dict(sec[k]) if k else None


def companion_versions(torch_version: str) -> Dict[str, str]:
    """``{"torchvision": "0.19.0", "torchaudio": "2.4.0"}`` for torch 2.4.0 (the releases whose metadata
    pins that torch exactly); a package is absent when no release pins it."""
    sec = _records()["companions"]
    k = _key(sec, torch_version)
    if not k:
        return {}
    return {name: rec["version"] for name, rec in sec[k].items()}


_CU = re.compile(r"^(?:cu|cuda)?\s*(\d+)(?:\.(\d+))?(?:\.\d+)?$", re.I)


def variant_cuda(cuda_version: str) -> Optional[str]:
    """Normalise ``'cu121'`` / ``'12.1'`` / ``'12.1.105'`` / ``'cuda12.1'`` to ``'12.1'``."""
    s = str(cuda_version).strip().lower()
    m = _CU.match(s)
    if not m:
        return None
    major, minor = m.group(1), m.group(2)
    if minor is None:
        if s.startswith("cu") and len(major) >= 3:  # cu121 -> 12.1, cu118 -> 11.8, cu102 -> 10.2
            major, minor = major[:-1], major[-1]
        else:
            return None
    return f"{int(major)}.{int(minor)}"


def cuda_driver_record(cuda_version: str) -> Optional[Dict[str, Any]]:
    cv = variant_cuda(cuda_version)
    if cv is None:
        return None
    rec = _records()["cuda_driver"].get(cv)
    return dict(rec) if rec else None


def cuda_min_driver(cuda_version: str) -> Optional[str]:
    """Minimum Linux x86_64 driver for the toolkit's GA release (``'550.54.14'`` for 12.4)."""
    rec = cuda_driver_record(cuda_version)
    return rec["min_driver"] if rec else None


def cuda_minor_compat_driver(cuda_version: str) -> Optional[str]:
    """Oldest driver that runs the toolkit through CUDA minor version compatibility (``525.60.13`` for
    12.x), or ``None`` when the table has none."""
    rec = cuda_driver_record(cuda_version)
    return rec.get("minor_compat_min_driver") if rec else None
