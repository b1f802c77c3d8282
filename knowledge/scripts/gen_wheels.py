#!/usr/bin/env python3
"""Generate ``knowledge/data/wheels.json``: for every release of the LLM-stack packages
that ship compiled code, which platforms and CPython versions the package index has wheels
for, and whether an sdist exists.

The facts come from the package index's own file listing, read through pip's command line
(``pip index versions NAME -vvv`` logs every file link it evaluates; the parsing is shared
with ``gen_packages.py``). Nothing is downloaded or built.

records[name][version] = {
    "platforms": ["linux-x86_64", "linux-aarch64", "macos-arm64", "macos-x86_64",
                  "windows-amd64", "any"],          # platforms some wheel covers
    "pythons": {"linux-x86_64": ["3.9", ...], ...},   # CPython minors per platform ("*": any)
    "sdist": true|false,
    "source": "pypi:NAME==VERSION (file listing)", "checked": "YYYY-MM-DD"}

Usage::

    python knowledge/scripts/gen_wheels.py [--only NAME ...] [--offline]

Listings are cached in ``knowledge/scripts/.cache/files/`` (shared with gen_packages.py).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA_FILE = ROOT / "knowledge" / "data" / "wheels.json"
CACHE = HERE / ".cache"
SCRIPT_NAME = "knowledge/scripts/gen_wheels.py"

# Packages with compiled code whose wheel coverage decides where they install. Pure-Python
# packages (transformers, peft, trl, ...) install everywhere and are not listed.
TRACKED = (
    "vllm", "flash-attn", "deepspeed", "bitsandbytes", "xformers", "triton", "torch",
    "sgl-kernel", "flashinfer-python", "auto-gptq", "autoawq", "autoawq-kernels",
    "lmdeploy", "vllm-flash-attn", "llama-cpp-python", "mamba-ssm", "causal-conv1d",
)

PLATFORMS = ("linux-x86_64", "linux-aarch64", "macos-arm64", "macos-x86_64", "windows-amd64",
             "windows-arm64", "any")


def platform_of(tag_platform: str) -> Optional[str]:
    """Normalise a wheel platform tag (`manylinux_2_28_aarch64`, `macosx_11_0_arm64`, ...)."""
    p = tag_platform.lower()
    if p == "any":
        return "any"
    if p.startswith("musllinux"):
        return None  # musl (Alpine) wheels do not install on glibc distributions
    if "linux" in p:
        if p.endswith("x86_64"):
            return "linux-x86_64"
        if p.endswith("aarch64"):
            return "linux-aarch64"
        return None
    if p.startswith("macosx"):
        if p.endswith("arm64"):
            return "macos-arm64"
        if p.endswith("x86_64") or p.endswith("intel"):
            return "macos-x86_64"
        if p.endswith("universal2"):
            return "macos-universal2"
        return None
    if p == "win_amd64":
        return "windows-amd64"
    if p == "win_arm64":
        return "windows-arm64"
    return None


def python_of(interp: str) -> Optional[str]:
    """`cp311` -> "3.11"; `py3`/`py2.py3` -> "*"; others (pp, graalpy) -> None."""
    m = re.fullmatch(r"cp(\d)(\d+)", interp)
    if m:
        return f"{m.group(1)}.{m.group(2)}"
    if interp.startswith("py3") or interp == "py2.py3" or interp == "py3":
        return "*"
    return None


def summarize(files: Dict[str, Any], name: str) -> Dict[str, Any]:
    """Platform/Python coverage of one release from its file inventory."""
    live = [w for w in files.get("wheels", []) if w not in files.get("yanked", [])]
    pythons: Dict[str, Set[str]] = {}
    for w in live:
        try:
            _n, _v, _b, tags = parse_wheel_filename(w)
        except (InvalidWheelFilename, InvalidVersion):
            continue
        for t in tags:
            plat = platform_of(t.platform)
            py = python_of(t.interpreter)
            if plat is None or py is None:
                continue
            if t.abi == "abi3" and py != "*":
                py = py + "+"  # stable ABI: this minor and newer
            plats = ("macos-arm64", "macos-x86_64") if plat == "macos-universal2" else (plat,)
            for pl in plats:
                pythons.setdefault(pl, set()).add(py)
    sdists = [s for s in files.get("sdists", []) if s not in files.get("yanked", [])]

    def _key(p: str) -> Any:
        if p == "*":
            return (0, 0)
        return tuple(int(x) for x in p.rstrip("+").split("."))

    return {
        "platforms": [p for p in PLATFORMS if p in pythons],
        "pythons": {p: sorted(v, key=_key) for p, v in sorted(pythons.items())},
        "sdist": bool(sdists),
    }


def build(inventories: Dict[str, Dict[str, Any]], today: str) -> Dict[str, Any]:
    records: Dict[str, Any] = {}
    for name, inv in sorted(inventories.items()):
        out: Dict[str, Any] = {}
        for ver, files in inv.items():
            try:
                v = Version(ver)
            except InvalidVersion:
                continue
            if v.local is not None or v.is_prerelease or v.is_devrelease:
                continue
            every = files.get("wheels", []) + files.get("sdists", []) + files.get("others", [])
            if every and set(every) <= set(files.get("yanked", [])):
                continue
            rec = summarize(files, name)
            if not rec["platforms"] and not rec["sdist"]:
                continue
            rec["source"] = f"pypi:{name}=={ver} (file listing)"
            rec["checked"] = today
            out[ver] = rec
        records[name] = {k: out[k] for k in sorted(out, key=Version)}
    return records


def main(argv: Optional[Sequence[str]] = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME")
    ap.add_argument("--offline", action="store_true", help="rebuild from cached listings")
    ap.add_argument("--output", type=Path, default=DATA_FILE)
    args = ap.parse_args(list(argv) if argv is not None else None)
    sys.path.insert(0, str(HERE))
    import gen_packages as G  # the listing parser and pip discovery are shared

    today = _dt.date.today().isoformat()
    names = [canonicalize_name(n) for n in (args.only or TRACKED)]
    prev = G._read_json(args.output) or {}
    inventories: Dict[str, Dict[str, Any]] = {}
    errors: List[str] = []
    pip: List[str] = [] if args.offline else [sys.executable, "-m", "pip"]
    for name in names:
        path = CACHE / "files" / f"{name}.json"
        if not args.offline:
            try:
                inv = G.list_files(pip, name)
                G._write_json(path, {"listed": today, "files": inv})
            except Exception as exc:  # noqa: BLE001 - keep going, report at the end
                errors.append(f"{name}: {exc}")
        cached = G._read_json(path)
        if cached is not None:
            inventories[name] = cached["files"]
    records = dict(prev.get("records") or {})
    new = build(inventories, today)
    for name, rels in new.items():
        old = records.get(name, {})
        for ver, rec in rels.items():
            o = old.get(ver)
            if o is not None and {k: v for k, v in o.items() if k != "checked"} == \
                    {k: v for k, v in rec.items() if k != "checked"}:
                rec["checked"] = o["checked"]
        records[name] = rels
    env = {
        "table": "wheels", "schema": 1, "generated_by": SCRIPT_NAME, "generated": today,
        "description": ("Wheel coverage per release of LLM-stack packages with compiled code, from "
                        "the package index's file listing: platforms (linux-x86_64, linux-aarch64, "
                        "macos-arm64, macos-x86_64, windows-amd64, windows-arm64, any) some wheel "
                        "covers, CPython minors per platform ('*' pure Python, '3.9+' abi3), and "
                        "whether an sdist exists. Pre-releases, local and yanked releases left out."),
        "records": records,
    }
    lines = ["{"]
    for k in sorted(k for k in env if k != "records"):
        lines.append(f"{json.dumps(k)}: {json.dumps(env[k])},")
    lines.append('"records": {')
    for i, name in enumerate(sorted(records)):
        rels = records[name]
        lines.append(f"{json.dumps(name)}: {{")
        vers = sorted(rels, key=Version)
        for j, ver in enumerate(vers):
            body = json.dumps(rels[ver], sort_keys=True, separators=(",", ":"))
            lines.append(f" {json.dumps(ver)}: {body}{',' if j < len(vers) - 1 else ''}")
        lines.append("}" + ("," if i < len(records) - 1 else ""))
    lines.append("}}")
    text = "\n".join(lines) + "\n"
    json.loads(text)
    args.output.write_text(text, "utf-8")
    n = sum(len(v) for v in records.values())
    return "\n".join([f"wheels.json: {len(records)} packages, {n} releases"] + errors)


if __name__ == "__main__":
    print(main(sys.argv[1:]))
