"""``stacklint stack [PATH ...]``: print the stack model a scan builds, with provenance.

It answers "what did stacklint see?" when a finding is missing or unexpected: which files
formed which install sets, which models were found and resolved, which training and serving
jobs were read (with their settings and the GPUs visible to them), and the target hardware.
"""
from __future__ import annotations

import json
import sys
from typing import Any, Dict, List

from stacklint.model import Stack


def _loc(loc: Any) -> str:
    return f"{loc.path}:{loc.line}"


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


def describe(stack: Stack) -> Dict[str, Any]:
    """A JSON-ready description of the stack (stable key order, sorted where order is not meaningful)."""
    sets: List[Dict[str, Any]] = []
    for s in stack.install_sets:
        sets.append({
            "label": s.label, "kind": s.kind, "at": _loc(s.location), "files": list(s.files),
            "python": [str(p.value) for p in s.python], "cuda": [str(c.value) for c in s.cuda],
            "platforms": [str(p.value) for p in s.platforms],
            "base_image": s.base_image.value if s.base_image else None,
            "index_urls": [str(u.value) for u in s.index_urls],
            "requirements": [{"requirement": c.raw, "at": _loc(c.location)} for c in s.constraints],
        })
    models: List[Dict[str, Any]] = []
    for m in stack.models:
        mt = m.model_type
        models.append({
            "ref": m.ref, "role": m.role, "at": _loc(m.location),
            "local_dir": m.local.dir if m.local is not None else None,
            "known_checkpoint": m.checkpoint is not None,
            "model_type": mt[0] if mt else None,
        })
    jobs: List[Dict[str, Any]] = []
    for j in stack.jobs:
        jobs.append({
            "kind": j.kind, "framework": j.framework, "context": j.context, "at": _loc(j.location),
            "model": j.model.ref if j.model is not None else None,
            "visible_gpus": _plain(j.gpus.value) if j.gpus is not None else None,
            "settings": {k: {"value": _plain(s.value), "at": _loc(s.location)}
                         for k, s in sorted(j.settings.items())},
        })
    target = {
        "gpus": [{"value": str(g.value), "at": _loc(g.location)} for g in stack.gpus],
        "gpu_count": _plain(stack.gpu_count.value) if stack.gpu_count else None,
        "platform": stack.target_platform.value if stack.target_platform else None,
        "python": stack.target_python.value if stack.target_python else None,
    }
    kinds: Dict[str, int] = {}
    for k in stack.kinds.values():
        kinds[k] = kinds.get(k, 0) + 1
    return {"root": stack.root, "files_by_kind": dict(sorted(kinds.items())), "install_sets": sets,
            "models": models, "jobs": jobs, "target": target,
            "unparsed": [{"path": p, "message": m} for p, (_k, m, _l) in sorted(stack.failures.items())]}


def render_text(d: Dict[str, Any]) -> str:
    out: List[str] = []
    kinds = ", ".join(f"{n} {k}" for k, n in d["files_by_kind"].items()) or "none"
    out.append(f"stack rooted at {d['root']}: {kinds}")
    out.append("")
    out.append(f"install sets ({len(d['install_sets'])}):")
    for s in d["install_sets"]:
        extra = []
        if s["base_image"]:
            extra.append(f"image {s['base_image']}")
        if s["python"]:
            extra.append("python " + ", ".join(s["python"]))
        if s["cuda"]:
            extra.append("cuda " + ", ".join(s["cuda"]))
        if s["platforms"]:
            extra.append("platform " + ", ".join(s["platforms"]))
        out.append(f"  {s['at']}  {s['kind']} {s['label']}" + (f"  ({'; '.join(extra)})" if extra else ""))
        for r in s["requirements"]:
            out.append(f"      {r['requirement']}  [{r['at']}]")
    out.append("")
    out.append(f"models ({len(d['models'])}):")
    for m in d["models"]:
        if m["local_dir"]:
            where = "local directory" if m["local_dir"] == m["ref"] else f"local directory {m['local_dir']}"
        elif m["known_checkpoint"]:
            where = "hub id known to stacklint"
        elif m["ref"].startswith("/"):
            where = "path outside the scanned tree"
        else:
            where = "hub id not in the knowledge base"
        mt = f", model_type {m['model_type']}" if m["model_type"] else ""
        out.append(f"  {m['at']}  {m['role']} {m['ref']}  ({where}{mt})")
    out.append("")
    out.append(f"jobs ({len(d['jobs'])}):")
    for j in d["jobs"]:
        gpus = f", {j['visible_gpus']} GPU(s) visible" if j["visible_gpus"] is not None else ""
        model = f" model {j['model']}" if j["model"] else ""
        out.append(f"  {j['at']}  {j['kind']} / {j['framework']} ({j['context']}){model}{gpus}")
        for k, s in j["settings"].items():
            out.append(f"      {k} = {json.dumps(s['value'], ensure_ascii=False)}  [{s['at']}]")
    t = d["target"]
    out.append("")
    parts = [f"gpu {g['value']} [{g['at']}]" for g in t["gpus"]]
    for key in ("gpu_count", "platform", "python"):
        if t[key] is not None:
            parts.append(f"{key.replace('_', '-')} {t[key]}")
    out.append("target: " + ("; ".join(parts) if parts else "unknown (set --gpu or [target] in the configuration)"))
    if d["unparsed"]:
        out.append("")
        out.append(f"not parsed ({len(d['unparsed'])}):")
        for u in d["unparsed"]:
            out.append(f"  {u['path']}: {u['message']}")
    return "\n".join(out) + "\n"


def run(paths: List[str], config_file: Any, gpu: Any, fmt: str) -> int:
    import os

    from stacklint import config as config_mod
    from stacklint.config import ConfigError
    from stacklint.scan import ScanOptions, scan

    for p in paths:
        if not os.path.exists(p):
            raise ConfigError(f"{p}: no such file or directory")
    cfg = config_mod.load(config_file, paths[0] if paths else ".")
    _result, stack = scan(ScanOptions(paths, cfg, select=(), extend_select=(), ignore=("ALL",), gpu=gpu))
    d = describe(stack)
    if fmt == "json":
        sys.stdout.write(json.dumps(d, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_text(d))
    return 0
