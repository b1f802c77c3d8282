#!/usr/bin/env python3
"""Generate ``knowledge/data/hardware.json``: GPU models (capability, memory, feature support,
aliases) and vLLM's minimum compute capability per quantization method and release.

* **GPUs**: ``hardware_curated.yaml`` lists the models, their compute capability / gfx arch, memory
  and aliases, each with its source. The feature flags (bf16, fp8, FlashAttention-2/-3,
  bitsandbytes 4-bit / int8) are *derived* here from the capability with the sourced rules of the
  same file, so one rule change re-derives every GPU.
* **vLLM quantization minimum capability**: read from vLLM's own source at every final release
  (sdists through pip, the same cache as ``gen_api_changes.py``): the quantization registry dict in
  ``vllm/model_executor/layers/quantization/__init__.py`` (``"awq": AWQConfig`` ...; before that
  package existed, ``vllm/model_executor/quantization_utils/__init__.py``) maps each method to its
  config class; the class's ``get_min_capability()`` (inherited if the class does not define it)
  must ``return`` an integer literal (``75`` = 7.5). Methods whose value is computed are left out.

Usage::

    python knowledge/scripts/gen_hardware.py [--jobs 4] [--force-write]
"""
from __future__ import annotations

import argparse
import ast
import datetime as _dt
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from packaging.version import Version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_api_changes import ReleaseFiles, covered_releases, log  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE.parent / "data"
OUT = DATA_DIR / "hardware.json"
CURATED = HERE / "hardware_curated.yaml"
GENERATED_BY = "knowledge/scripts/gen_hardware.py"

QUANT_DIRS = ["vllm/model_executor/layers/quantization/", "vllm/model_executor/quantization_utils/"]
VLLM_FLOOR = "0.2.0"  # quantization arrived in 0.2.0


# --------------------------------------------------------------------------------------------
# GPUs
# --------------------------------------------------------------------------------------------
def _cc(v: Optional[str]) -> Optional[Version]:
    return Version(v) if v else None


def derive(gpu: Dict[str, Any], rule: Dict[str, Any]) -> Optional[bool]:
    if gpu["vendor"] == "nvidia":
        cc = _cc(gpu.get("compute_capability"))
        if cc is None:
            return None
        if "nvidia_cc" in rule:
            return any(cc == Version(x) for x in rule["nvidia_cc"])
        return cc >= Version(rule["nvidia_min_cc"])
    if gpu["vendor"] == "amd":
        return gpu.get("gfx_arch") in (rule.get("amd_gfx") or [])
    return None


def build_gpus(curated: Dict[str, Any], today: str) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    rules = curated["feature_rules"]
    alias_src = curated["alias_sources"]
    gpus: Dict[str, Any] = {}
    for g in curated["gpus"]:
        rec: Dict[str, Any] = {
            "vendor": g["vendor"],
            "architecture": g["architecture"],
            "compute_capability": g.get("compute_capability"),
            "gfx_arch": g.get("gfx_arch"),
            "memory_gb": g["memory_gb"],
        }
        if g.get("memory_note"):
            rec["memory_note"] = g["memory_note"]
        for feat, rule in rules.items():
            rec[feat] = derive(g, rule)
        rec["aliases"] = list(g.get("aliases") or [])
        rec["source"] = g.get("source") or (
            alias_src["nvidia_cuda_gpus"] if g["vendor"] == "nvidia" else alias_src["rocm_gpu_specs"])
        rec["memory_source"] = g["memory_source"]
        rec["checked"] = today
        if g["name"] in gpus:
            raise ValueError(f"duplicate GPU {g['name']}")
        gpus[g["name"]] = rec
    feature_rules = {k: dict(v, checked=today) for k, v in rules.items()}
    return gpus, feature_rules


# --------------------------------------------------------------------------------------------
# vLLM quantization minimum capability
# --------------------------------------------------------------------------------------------
def _classes(files: Dict[str, str]) -> Dict[str, Tuple[str, ast.ClassDef]]:
    out: Dict[str, Tuple[str, ast.ClassDef]] = {}
    for path, text in files.items():
        if not any(path.startswith(d) for d in QUANT_DIRS):
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                out.setdefault(node.name, (path, node))
    return out


def _literal_return(fn: ast.FunctionDef) -> Optional[Any]:
    returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
    if len(returns) != 1 or returns[0].value is None:
        return None
    try:
        return ast.literal_eval(returns[0].value)
    except ValueError:
        return None


def _method(classes: Dict[str, Tuple[str, ast.ClassDef]], cls: str, name: str, depth: int = 0
            ) -> Tuple[Optional[str], Optional[ast.FunctionDef]]:
    if cls not in classes or depth > 8:
        return None, None
    path, node = classes[cls]
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == name:
            return path, item
    for base in node.bases:
        bname = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else None
        if bname:
            p, fn = _method(classes, bname, name, depth + 1)
            if fn is not None:
                return p, fn
    return None, None


def _registry(files: Dict[str, str]) -> Dict[str, str]:
    """method name -> config class name, from the dict literal(s) of the quantization package's
    __init__.py (``{"awq": AWQConfig, ...}``)."""
    for d in QUANT_DIRS:
        text = files.get(d + "__init__.py")
        if not text:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        best: Dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Dict):
                pairs = {}
                for k, v in zip(node.keys, node.values):
                    if isinstance(k, ast.Constant) and isinstance(k.value, str) and isinstance(v, ast.Name):
                        pairs[k.value] = v.id
                if len(pairs) > len(best):
                    best = pairs
        if best:
            return best
    return {}


def quant_caps(files: Dict[str, str]) -> Dict[str, Tuple[int, str]]:
    """method -> (min capability as int, path of the defining file)."""
    classes = _classes(files)
    out: Dict[str, Tuple[int, str]] = {}
    for method, cls in _registry(files).items():
        path, fn = _method(classes, cls, "get_min_capability")
        if fn is None:
            continue
        val = _literal_return(fn)
        if isinstance(val, int) and not isinstance(val, bool):
            out[method] = (val, path)  # type: ignore[assignment]
    return out


def build_quant(cache: Path, jobs: int, today: str) -> Tuple[Dict[str, Any], List[str], List[str]]:
    releases = covered_releases("vllm", VLLM_FLOOR)
    rf = ReleaseFiles("vllm", cache)
    gaps: List[str] = []
    per: Dict[str, Dict[str, Tuple[int, str]]] = {}

    def get(v: str):
        try:
            return v, rf.files(v, QUANT_DIRS), None
        except Exception as exc:  # left out, never guessed
            return v, None, str(exc)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for v, files, err in pool.map(get, releases):
            if files is None:
                gaps.append(f"vllm=={v}: {err}")
                continue
            caps = quant_caps(files)
            if not caps:
                gaps.append(f"vllm=={v}: no quantization registry found")
                continue
            per[v] = caps
    covered = [v for v in releases if v in per]
    methods = sorted({m for caps in per.values() for m in caps})
    out: Dict[str, Any] = {}
    for m in methods:
        ranges: List[Dict[str, Any]] = []
        prev_val = None
        for v in covered:
            hit = per[v].get(m)
            val = hit[0] if hit else None
            if val is None:
                prev_val = None
                continue
            if ranges and prev_val == val:
                ranges[-1]["last"] = v
            else:
                rec = {"first": v, "last": v, "min_capability": round(val / 10, 1) if val >= 0 else None}
                if val < 0:
                    rec["note"] = f"get_min_capability() returns {val}: no GPU capability requirement (CPU/XPU method)"
                rec.update({"source": rf.source(v, hit[1]), "checked": today})
                ranges.append(rec)
            prev_val = val
        for r in ranges:
            if r["last"] == covered[-1]:
                r["last"] = None
        out[m] = ranges
    return {"releases": covered, "methods": out}, gaps, covered


DESCRIPTION = (
    "GPU models and what they support. records.gpus[<name>] = {vendor, architecture, compute_capability "
    "('X.Y', NVIDIA) | gfx_arch (AMD), memory_gb, bf16, fp8, flash_attention_2, flash_attention_3, "
    "bitsandbytes_4bit, bitsandbytes_int8, aliases}: capability/arch, memory and aliases are curated "
    "(source = NVIDIA CUDA GPUs list / ROCm GPU specs, memory_source = datasheet); the feature flags are "
    "derived from the capability by records.feature_rules (each with its source). records.vllm_quant."
    "methods[<method>] = [{first, last|null, min_capability}]: vLLM's get_min_capability() of the config "
    "class registered for the --quantization method, per covered release range (records.vllm_quant.releases; "
    "null = the method asks for no GPU capability, e.g. CPU/XPU methods; a release outside every range does not "
    "register the method with a literal value), "
    "read from the vLLM sdist of each final release (source = the file at `first`). min_capability 7.5 = sm75."
)


def _dump(env: Dict[str, Any]) -> str:
    lines = ["{"]
    for k, v in env.items():
        if k != "records":
            lines.append(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    lines.append(' "records": {')
    secs = []
    for name, sec in env["records"].items():
        if name == "vllm_quant":
            inner = [f'   "releases": {json.dumps(sec["releases"])}']
            inner.append('   "methods": {\n' + ",\n".join(
                f"    {json.dumps(m)}: {json.dumps(r, ensure_ascii=False, separators=(', ', ': '))}"
                for m, r in sec["methods"].items()) + "\n   }")
            secs.append(f'  "vllm_quant": {{\n' + ",\n".join(inner) + "\n  }")
        else:
            body = ",\n".join(f"   {json.dumps(k)}: {json.dumps(v, ensure_ascii=False, separators=(', ', ': '))}"
                              for k, v in sec.items())
            secs.append(f"  {json.dumps(name)}: {{\n{body}\n  }}")
    lines.append(",\n".join(secs))
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    import yaml

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", default=os.environ.get("STACKLINT_GEN_CACHE_API",
                                                     str(Path.home() / ".cache/stacklint/gen_api_changes")))
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--force-write", action="store_true")
    ap.add_argument("--gpus-only", action="store_true",
                    help="rebuild the GPU records from hardware_curated.yaml and keep the vLLM "
                         "quantization section of the current table (offline, seconds)")
    args = ap.parse_args(argv)
    today = _dt.date.today().isoformat()
    curated = yaml.safe_load(CURATED.read_text("utf-8"))
    gpus, rules = build_gpus(curated, today)
    if args.gpus_only and OUT.exists():
        quant, gaps = json.loads(OUT.read_text("utf-8"))["records"]["vllm_quant"], []
    else:
        quant, gaps, covered = build_quant(Path(args.cache), args.jobs, today)
        log(f"vllm: {len(covered)} releases read, {len(quant['methods'])} quantization methods")
    records = {"gpus": gpus, "feature_rules": rules, "vllm_quant": quant}
    env = {"table": "hardware", "schema": 1, "generated_by": GENERATED_BY, "generated": today,
           "description": DESCRIPTION, "records": records}

    def facts(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: facts(v) for k, v in x.items() if k != "checked"}
        if isinstance(x, list):
            return [facts(v) for v in x]
        return x

    old = json.loads(OUT.read_text("utf-8")) if OUT.exists() else None
    if old is None or facts(old["records"]) != facts(records) or args.force_write:
        OUT.write_text(_dump(env), "utf-8")
        print(f"wrote {OUT.name}: {len(gpus)} GPUs, {len(quant['methods'])} vLLM quantization methods")
    else:
        print("no fact changed; file left as it was")
    for m, ranges in quant["methods"].items():
        print(f"  {m:24s} " + "; ".join(f"{r['first']}..{r['last'] or 'now'}: {r['min_capability']}" for r in ranges))
    for g in gaps:
        print(f"gap: {g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
