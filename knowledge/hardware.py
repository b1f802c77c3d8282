"""GPU models and what they support; vLLM's minimum compute capability per quantization method.

Reads ``data/hardware.json`` (written by ``knowledge/scripts/gen_hardware.py``).

* :func:`gpu` resolves what users write — ``"a100"``, ``"A100-SXM4-80GB"``, ``"NVIDIA H100 80GB HBM3"``
  (``nvidia-smi`` / ``torch.cuda.get_device_name()``), ``"nvidia-tesla-t4"`` / ``"nvidia-l4"`` (GKE
  ``cloud.google.com/gke-accelerator``), ``"A100-80GB:8"`` / ``"H100:8"`` (SkyPilot) — case- and
  punctuation-insensitively, ignoring vendor words (NVIDIA, Tesla, GeForce, AMD, Instinct) and a
  ``:<count>`` / ``<count>x`` multiplier. An ambiguous or unknown name gives ``None``.
* :func:`quant_min_capability` gives the capability (``7.5`` = sm75) vLLM's config class for a
  ``--quantization`` method asks for, at a vLLM release (default: the newest covered one).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple

from packaging.version import InvalidVersion, Version

from . import load_table

__all__ = [
    "gpu",
    "gpus",
    "gpu_names",
    "normalize_gpu_name",
    "compute_capability",
    "supports",
    "feature_rule",
    "quant_min_capability",
    "quant_record",
    "quant_methods",
    "vllm_releases",
    "FEATURES",
]

FEATURES = ("bf16", "fp8", "flash_attention_2", "flash_attention_3", "bitsandbytes_4bit", "bitsandbytes_int8")

_VENDOR_WORDS = {"nvidia", "tesla", "geforce", "amd", "instinct"}
_INTERFACE_WORDS = {"sxm", "sxm2", "sxm4", "sxm5", "pcie", "hbm2", "hbm2e", "hbm3", "hbm3e", "generation"}


def _records() -> Dict[str, Any]:
    return load_table("hardware")["records"]


def _tokens(name: str) -> List[str]:
    s = name.strip().lower()
    s = re.sub(r"\s*:\s*\d+\s*$", "", s)          # SkyPilot "A100:8"
    s = re.sub(r"^\s*\d+\s*[x×]\s*", "", s)        # "8x A100", "8 x H100"
    s = re.sub(r"\s+[x×]\s*\d+\s*$", "", s)        # "A100 x 8" (not the x of "RTX 4090")
    toks = [t for t in re.split(r"[^a-z0-9]+", s) if t]
    toks = [re.sub(r"^(\d+)g$", r"\1gb", t) for t in toks]  # "80g" -> "80gb"
    return [t for t in toks if t not in _VENDOR_WORDS]


def normalize_gpu_name(name: str) -> str:
    """The key aliases are compared by: lower-case alphanumerics without vendor words."""
    return "".join(_tokens(name))


@lru_cache(maxsize=None)
def _index() -> Tuple[Dict[str, str], Dict[str, str]]:
    """(exact key -> GPU, key without interface words -> GPU); keys that two GPUs share are dropped
    from the loose index (an alias clash in the exact index is a data error, caught by the tests)."""
    exact: Dict[str, str] = {}
    loose: Dict[str, Optional[str]] = {}
    for name, rec in _records()["gpus"].items():
        for alias in [name, *rec.get("aliases", [])]:
            exact.setdefault(normalize_gpu_name(alias), name)
            key = "".join(t for t in _tokens(alias) if t not in _INTERFACE_WORDS)
            if key in loose and loose[key] != name:
                loose[key] = None
            else:
                loose.setdefault(key, name)
    return exact, {k: v for k, v in loose.items() if v is not None}


def gpu_names() -> List[str]:
    return list(_records()["gpus"])


def gpus() -> Dict[str, Dict[str, Any]]:
    """All GPU records by canonical name (copies)."""
    return {k: dict(v, name=k) for k, v in _records()["gpus"].items()}


def gpu(name: str) -> Optional[Dict[str, Any]]:
    """The record of the GPU ``name`` designates (with ``name`` set to the canonical name), or ``None``."""
    if not name or not name.strip():
        return None
    exact, loose = _index()
    key = normalize_gpu_name(name)
    bare = "".join(t for t in _tokens(name) if t not in _INTERFACE_WORDS)
    canonical = exact.get(key) or exact.get(bare) or loose.get(bare)
    if canonical is None:
        return None
    return dict(_records()["gpus"][canonical], name=canonical)


def compute_capability(name: str) -> Optional[float]:
    """NVIDIA compute capability as a float (``8.0``), ``None`` for AMD or unknown GPUs."""
    rec = gpu(name)
    if rec is None or not rec.get("compute_capability"):
        return None
    return float(rec["compute_capability"])


def supports(name: str, feature: str) -> Optional[bool]:
    """``bf16``, ``fp8``, ``flash_attention_2``, ``flash_attention_3``, ``bitsandbytes_4bit`` or
    ``bitsandbytes_int8`` on GPU ``name``; ``None`` if the GPU is unknown."""
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; expected one of {FEATURES}")
    rec = gpu(name)
    return None if rec is None else rec.get(feature)


def feature_rule(feature: str) -> Optional[Dict[str, Any]]:
    """The sourced rule a feature flag is derived from."""
    rule = _records()["feature_rules"].get(feature)
    return dict(rule) if rule else None


# ---------------------------------------------------------------------------------------------
# vLLM quantization
# ---------------------------------------------------------------------------------------------
def vllm_releases() -> List[str]:
    return list(_records()["vllm_quant"]["releases"])


def quant_methods() -> List[str]:
    return list(_records()["vllm_quant"]["methods"])


def _method_key(method: str) -> Optional[str]:
    methods = _records()["vllm_quant"]["methods"]
    m = method.strip().lower()
    for cand in (m, m.replace("-", "_"), m.replace("_", "-")):
        if cand in methods:
            return cand
    return None


def quant_record(method: str) -> Optional[List[Dict[str, Any]]]:
    """``[{first, last|None, min_capability, source, checked}, ...]`` for ``method``, or ``None``."""
    key = _method_key(method)
    if key is None:
        return None
    return [dict(r) for r in _records()["vllm_quant"]["methods"][key]]


def _version(v: str) -> Optional[Version]:
    try:
        return Version(Version(str(v)).public)
    except InvalidVersion:
        return None


def quant_min_capability(method: str, vllm_version: Optional[str] = None) -> Optional[float]:
    """Minimum compute capability (``8.0``) vLLM asks for to run ``--quantization method``.

    ``vllm_version=None``: the newest covered release. ``None`` when the method is unknown, not
    registered (with a literal capability) in that release, asks for no GPU capability (CPU/XPU
    methods), or the version is unparsable."""
    ranges = quant_record(method)
    if not ranges:
        return None
    if vllm_version is None:
        last = ranges[-1]
        return last["min_capability"] if last["last"] is None else None
    v = _version(vllm_version)
    if v is None:
        return None
    for r in ranges:
        if Version(r["first"]) <= v and (r["last"] is None or v <= Version(r["last"])):
            return r["min_capability"]
    return None
