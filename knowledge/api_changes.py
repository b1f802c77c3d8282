"""Renamed / removed arguments, functions, classes, modules, CLI flags and config keys of the
LLM-stack packages, with the release that deprecated and the release that removed each.

Reads ``data/api_changes.json`` (written by ``knowledge/scripts/gen_api_changes.py`` from each
package's source at every final release). A record::

    {"id", "package", "kind", "name", "callables"?, "replacement", "deprecated_in", "removed_in",
     "replacement_since", "old_ranges", "new_ranges", "scanned", "source", "checked", ...}

``kind`` is one of ``keyword_argument`` (of ``callables``), ``function``, ``class``, ``module``,
``cli_flag``, ``config_key``, ``generation_strategy``.

:func:`lookup` matches names loosely: ``"--use-v2-block-manager"``, ``"use-v2-block-manager"`` and
``"use_v2_block_manager"`` (the ``EngineArgs`` field) are one flag; ``"AdamW"`` and
``"transformers.AdamW"`` one class; ``"cpu_offload"`` finds ``zero_optimization.cpu_offload``.
``callable=`` narrows keyword arguments: ``"SFTConfig"``, ``"trl.SFTConfig"`` or
``"AutoModelForCausalLM.from_pretrained"`` (matched against patterns such as
``AutoModel*.from_pretrained``).
"""
from __future__ import annotations

import fnmatch
from typing import Any, Dict, Iterable, List, Optional

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from . import load_table

__all__ = ["changes", "lookup", "lookup_all", "status", "KINDS"]

KINDS = ("keyword_argument", "function", "class", "module", "cli_flag", "config_key", "generation_strategy")


def _records() -> List[Dict[str, Any]]:
    return load_table("api_changes")["records"]


def changes(package: Optional[str] = None) -> List[Dict[str, Any]]:
    """All records (copies), optionally of one package (name compared canonicalised)."""
    want = canonicalize_name(package) if package else None
    return [dict(r) for r in _records() if want is None or canonicalize_name(r["package"]) == want]


def _name_keys(name: str, package: str) -> Iterable[str]:
    n = name.strip()
    keys = {n}
    # "transformers.AdamW" -> "AdamW"; "zero_optimization.cpu_offload" -> "cpu_offload"
    if "." in n and " " not in n:
        keys.add(n.rsplit(".", 1)[-1])
        if n.startswith(package + "."):
            keys.add(n[len(package) + 1:])
    out = set()
    for k in keys:
        k = k.lstrip("-")
        out.add(k.lower())
        out.add(k.lower().replace("-", "_"))
    return out


def _callable_matches(pattern: str, given: str) -> bool:
    p, g = pattern.lower(), given.strip().lower()
    if fnmatch.fnmatchcase(g, p):
        return True
    # "trl.SFTConfig" / "transformers.TrainingArguments" -> drop the leading module path
    tail = g.split(".")
    for i in range(1, len(tail)):
        if fnmatch.fnmatchcase(".".join(tail[i:]), p):
            return True
    # "from_pretrained" alone matches "X.from_pretrained"
    return "." in p and "." not in g and fnmatch.fnmatchcase(g, p.rsplit(".", 1)[-1])


def lookup_all(package: str, name: str, callable: Optional[str] = None) -> List[Dict[str, Any]]:
    """Every record of ``package`` whose old spelling is ``name`` (and, with ``callable``, whose
    ``callables`` include it; records without callables are kept)."""
    pkg = canonicalize_name(package)
    want = set(_name_keys(name, package))
    out = []
    for r in _records():
        if canonicalize_name(r["package"]) != pkg:
            continue
        if not want & set(_name_keys(r["name"], r["package"])):
            continue
        if callable is not None and r.get("callables"):
            if not any(_callable_matches(c, callable) for c in r["callables"]):
                continue
        out.append(dict(r))
    return out


def lookup(package: str, name: str, callable: Optional[str] = None) -> Optional[Dict[str, Any]]:
    """The one record for ``name`` in ``package`` (see :func:`lookup_all`); ``None`` when there is
    none, or when several match (e.g. trl's ``max_seq_length`` of ``SFTTrainer`` and of
    ``SFTConfig``) and ``callable`` does not tell them apart."""
    found = lookup_all(package, name, callable)
    return found[0] if len(found) == 1 else None


def _v(version: str) -> Optional[Version]:
    try:
        return Version(Version(str(version)).public)
    except InvalidVersion:
        return None


def status(record: Dict[str, Any], version: str) -> Optional[str]:
    """What ``version`` of the record's package does with the old spelling: ``"removed"``,
    ``"deprecated"`` (accepted, flagged), ``"supported"`` (accepted, not flagged) or ``None`` when the
    data cannot tell (before the old spelling was seen, or between the last release seen accepting it
    and ``removed_in`` without being a scanned release)."""
    v = _v(version)
    if v is None:
        return None
    for lo, hi in record.get("old_ranges") or []:
        if Version(lo) <= v and (hi is None or v <= Version(hi)):
            dep = record.get("deprecated_in")
            return "deprecated" if dep and v >= Version(dep) else "supported"
    removed = record.get("removed_in")
    if removed and v >= Version(removed):
        return "removed"
    return None
