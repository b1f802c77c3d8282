#!/usr/bin/env python3
"""Generate ``knowledge/data/cuda.json``: official torch wheel variants (CUDA / ROCm) per torch
release, the CUDA of the default wheel on the package index, the matching torchvision / torchaudio
releases, and the minimum Linux driver of each CUDA toolkit release.

Sources, in order of authority:

* **wheel variants**: the release build matrix PyTorch's release engineering keeps in
  pytorch/test-infra, ``tools/scripts/generate_binary_build_matrix.py`` (``CUDA_ARCHES_DICT["release"]``,
  ``ROCM_ARCHES_DICT["release"]``), read at the first commit whose ``CURRENT_STABLE_VERSION`` is the
  torch release (git history of a bare clone: ``--test-infra-git DIR`` or env
  ``STACKLINT_TEST_INFRA_GIT``). Releases before that matrix existed come from
  ``cuda_curated.yaml`` (pytorch.org "previous versions" install lines).
* **default wheel CUDA**: the torch wheel's own metadata, read from ``knowledge/data/packages.json``
  (the ``nvidia-cuda-runtime-cuNN==X.Y.*`` pin); for releases without that pin (torch >= 2.11 depends on
  ``nvidia-*-cu13`` without the runtime), ``STABLE_CUDA_VERSIONS["release"]`` of the same test-infra
  commit when its major matches the ``-cuNN`` suffix of the nvidia dependencies; before 1.13 (bundled
  runtime), ``cuda_curated.yaml``.
* **companions**: torchvision / torchaudio releases whose metadata pins ``torch==<release>`` (packages.json).
* **driver minimums**: ``cuda_curated.yaml`` (NVIDIA CUDA Toolkit release notes).

Without a test-infra clone the variant records already in cuda.json are kept.

Usage::

    python knowledge/scripts/gen_cuda.py [--test-infra-git DIR] [--force-write]
"""
from __future__ import annotations

import argparse
import ast
import datetime as _dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from packaging.version import InvalidVersion, Version

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE.parent / "data"
OUT = DATA_DIR / "cuda.json"
CURATED = HERE / "cuda_curated.yaml"
GENERATED_BY = "knowledge/scripts/gen_cuda.py"
MATRIX_PATH = "tools/scripts/generate_binary_build_matrix.py"
REPO = "pytorch/test-infra"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _final(v: str) -> Optional[Version]:
    try:
        ver = Version(v)
    except InvalidVersion:
        return None
    return None if (ver.is_prerelease or ver.is_devrelease or ver.local) else ver


def cu_tag(cuda: str) -> str:
    """'12.1' -> 'cu121'."""
    major, minor = cuda.split(".")[:2]
    return f"cu{major}{minor}"


def rocm_tag(rocm: str) -> str:
    return f"rocm{rocm}"


# --------------------------------------------------------------------------------------------
# pytorch/test-infra release matrix history
# --------------------------------------------------------------------------------------------
def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, *args], capture_output=True, text=True, check=True).stdout


def parse_matrix(text: str) -> Dict[str, Any]:
    """Literal top-level assignments of the release matrix script (nothing is executed)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return {}
    wanted = {"CUDA_ARCHES_DICT", "ROCM_ARCHES_DICT", "STABLE_CUDA_VERSIONS", "CURRENT_STABLE_VERSION"}
    out: Dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in wanted:
                try:
                    out[name] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    return out


def matrix_history(git_dir: str) -> List[Tuple[str, Dict[str, Any]]]:
    """(commit, parsed matrix) oldest first, for every commit that touched the script."""
    commits = _git(git_dir, "log", "--format=%H", "--reverse", "HEAD", "--", MATRIX_PATH).split()
    out = []
    for c in commits:
        try:
            text = _git(git_dir, "show", f"{c}:{MATRIX_PATH}")
        except subprocess.CalledProcessError:
            continue
        parsed = parse_matrix(text)
        if parsed:
            out.append((c, parsed))
    return out


def variants_from_matrix(history: List[Tuple[str, Dict[str, Any]]]) -> Dict[str, Dict[str, Any]]:
    """torch release -> {cuda, rocm, stable_cuda, commit}: the release matrix at the first commit that
    names the release as CURRENT_STABLE_VERSION (the state when it was promoted)."""
    out: Dict[str, Dict[str, Any]] = {}
    for commit, m in history:
        ver = m.get("CURRENT_STABLE_VERSION")
        cuda = (m.get("CUDA_ARCHES_DICT") or {}).get("release")
        if not isinstance(ver, str) or ver in out or not isinstance(cuda, list):
            continue
        rocm = (m.get("ROCM_ARCHES_DICT") or {}).get("release") or []
        stable = (m.get("STABLE_CUDA_VERSIONS") or {}).get("release")
        out[ver] = {"cuda": list(cuda), "rocm": list(rocm), "stable_cuda": stable, "commit": commit}
    return out


# --------------------------------------------------------------------------------------------
# Package metadata (knowledge/data/packages.json)
# --------------------------------------------------------------------------------------------
RUNTIME = re.compile(r"^nvidia-cuda-runtime-cu(\d+)$")
NV_SUFFIX = re.compile(r"^nvidia-[a-z0-9-]+-cu(\d+)$")


def default_from_metadata(rec: Dict[str, Any]) -> Tuple[Optional[str], Optional[str], Optional[str]]:
    """(cuda 'X.Y' from the runtime pin, runtime version, CUDA major from nvidia-* suffixes)."""
    majors = set()
    for dep, spec, marker in rec.get("requires") or []:
        m = RUNTIME.match(dep)
        if m and spec.startswith("=="):
            runtime = spec[2:]
            parts = runtime.split(".")
            return f"{parts[0]}.{parts[1]}", runtime, parts[0]
        m = NV_SUFFIX.match(dep)
        if m and (marker is None or "Linux" in marker):
            majors.add(m.group(1))
    return None, None, (majors.pop() if len(majors) == 1 else None)


def companions(packages: Dict[str, Any], torch_releases: List[str]) -> Dict[str, Dict[str, Any]]:
    out: Dict[str, Dict[str, Any]] = {t: {} for t in torch_releases}
    for comp in ("torchvision", "torchaudio"):
        for ver, rec in sorted(packages.get(comp, {}).items(), key=lambda kv: Version(kv[0])):
            if _final(ver) is None:
                continue
            for dep, spec, _marker in rec.get("requires") or []:
                if dep != "torch" or not spec.startswith("==") or "," in spec:
                    continue
                pinned = spec[2:].rstrip(".*")
                for t in torch_releases:
                    if Version(t) == Version(pinned):
                        # the newest companion release pinning this torch wins (sorted ascending)
                        out[t][comp] = {"version": ver, "source": rec["source"], "checked": rec["checked"]}
    return out


# --------------------------------------------------------------------------------------------
def build(test_infra_git: Optional[str], today: str) -> Tuple[Dict[str, Any], List[str]]:
    import yaml

    curated = yaml.safe_load(CURATED.read_text("utf-8"))
    packages = json.loads((DATA_DIR / "packages.json").read_text("utf-8"))["records"]
    torch_releases = sorted((v for v in packages["torch"] if _final(v)), key=Version)
    notes: List[str] = []

    old = json.loads(OUT.read_text("utf-8"))["records"] if OUT.exists() else {}
    matrix: Dict[str, Dict[str, Any]] = {}
    if test_infra_git:
        matrix = variants_from_matrix(matrix_history(test_infra_git))
        log(f"test-infra: release matrix for {len(matrix)} torch releases")

    torch: Dict[str, Any] = {}
    for t in torch_releases:
        rec: Optional[Dict[str, Any]] = None
        if t in matrix:
            m = matrix[t]
            rec = {
                "cuda": m["cuda"], "rocm": m["rocm"],
                "variants": [cu_tag(c) for c in m["cuda"]] + [rocm_tag(r) for r in m["rocm"]],
                "source": f"https://github.com/{REPO}/blob/{m['commit']}/{MATRIX_PATH}",
                "checked": today,
            }
        elif t in (curated.get("torch_variants") or {}):
            c = curated["torch_variants"][t]
            rec = {"cuda": c["cuda"], "rocm": c["rocm"],
                   "variants": [cu_tag(x) for x in c["cuda"]] + [rocm_tag(r) for r in c["rocm"]],
                   "source": c["source"], "checked": today, "curated": True}
        elif not test_infra_git and t in old.get("torch", {}):
            rec = old["torch"][t]
        if rec is not None:
            torch[t] = rec

    default: Dict[str, Any] = {}
    for t in torch_releases:
        meta = packages["torch"][t]
        cuda, runtime, major = default_from_metadata(meta)
        cudnn = next((spec[2:] for dep, spec, _m in meta.get("requires") or []
                      if dep.startswith("nvidia-cudnn-cu") and spec.startswith("==")), None)
        if cuda:
            default[t] = {"cuda": cuda, "variant": cu_tag(cuda), "cuda_runtime": runtime, "cudnn": cudnn,
                          "source": meta["source"], "checked": meta["checked"]}
            stable = matrix.get(t, {}).get("stable_cuda")
            if stable and stable != cuda:
                notes.append(f"torch {t}: metadata runtime {cuda} but test-infra STABLE_CUDA_VERSIONS {stable}")
        elif major and t in matrix and (matrix[t].get("stable_cuda") or "").split(".")[0] == major:
            st = matrix[t]["stable_cuda"]
            default[t] = {"cuda": st, "variant": cu_tag(st), "cuda_runtime": None,
                          "cudnn": cudnn,
                          "source": f"https://github.com/{REPO}/blob/{matrix[t]['commit']}/{MATRIX_PATH}",
                          "checked": today, "metadata": meta["source"]}
        elif t in (curated.get("torch_default") or {}):
            c = curated["torch_default"][t]
            default[t] = {"cuda": c["cuda"], "variant": cu_tag(c["cuda"]), "cuda_runtime": None,
                          "source": c["source"], "checked": today, "curated": True}
        elif not test_infra_git and t in old.get("torch_default", {}):
            default[t] = old["torch_default"][t]

    comps = {t: c for t, c in companions(packages, torch_releases).items() if c}

    drivers = {}
    for cuda, c in sorted((curated.get("cuda_driver") or {}).items(), key=lambda kv: Version(kv[0])):
        drivers[cuda] = {"toolkit": c["toolkit"], "min_driver": c["min_driver"],
                         "minor_compat_min_driver": c.get("minor_compat_min_driver"),
                         "source": c["source"], "checked": today, "curated": True}

    for t, rec in torch.items():
        if t in default and default[t]["variant"] not in rec["variants"]:
            notes.append(f"torch {t}: default {default[t]['variant']} not among variants {rec['variants']}")
    records = {"torch": torch, "torch_default": default, "companions": comps, "cuda_driver": drivers}
    return records, notes


DESCRIPTION = (
    "torch wheel variants and CUDA driver minimums. records.torch[<torch release>] = {cuda: ['X.Y'...], "
    "rocm: [...], variants: ['cu121', 'rocm6.1', ...]}: the official CUDA/ROCm wheel variants (the "
    "download.pytorch.org/whl/<variant> indexes, local version +<variant>), read from PyTorch's release "
    "build matrix (pytorch/test-infra generate_binary_build_matrix.py, CUDA_ARCHES_DICT/ROCM_ARCHES_DICT "
    "['release'] at the commit that made the release current), curated=true for releases before that matrix. "
    "records.torch_default[<torch release>] = {cuda, variant, cuda_runtime, cudnn}: the CUDA (and the "
    "nvidia-cudnn pin, when the wheel has one) of the Linux x86_64 wheel on the package index (from the "
    "wheel's nvidia-cuda-runtime pin, else the matrix's "
    "STABLE_CUDA_VERSIONS['release'] when it agrees with the -cuNN nvidia dependencies, else curated). "
    "records.companions[<torch release>] = {torchvision|torchaudio: {version}}: the newest release whose "
    "metadata pins torch==<release> (torchaudio >= 2.11 pins no exact torch and is absent). "
    "records.cuda_driver['X.Y'] = {toolkit, min_driver, minor_compat_min_driver}: minimum Linux x86_64 driver "
    "for the toolkit's GA release and for CUDA minor version compatibility (NVIDIA release notes, curated)."
)


def _dump(env: Dict[str, Any]) -> str:
    lines = ["{"]
    for k, v in env.items():
        if k != "records":
            lines.append(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    lines.append(' "records": {')
    sections = []
    for name, sec in env["records"].items():
        body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False, separators=(', ', ': '))}"
                          for k, v in sec.items())
        sections.append(f"  {json.dumps(name)}: {{\n{body}\n  }}")
    lines.append(",\n".join(sections))
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--test-infra-git", default=os.environ.get("STACKLINT_TEST_INFRA_GIT"),
                    help="bare git dir of pytorch/test-infra (else: keep the committed variant records)")
    ap.add_argument("--force-write", action="store_true")
    args = ap.parse_args(argv)
    today = _dt.date.today().isoformat()
    records, notes = build(args.test_infra_git, today)
    env = {"table": "cuda", "schema": 1, "generated_by": GENERATED_BY, "generated": today,
           "description": DESCRIPTION, "records": records}

    def facts(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: facts(v) for k, v in x.items() if k != "checked"}
        return x

    old = json.loads(OUT.read_text("utf-8")) if OUT.exists() else None
    if old is None or facts(old["records"]) != facts(records) or args.force_write:
        OUT.write_text(_dump(env), "utf-8")
        print(f"wrote {OUT.name}: " + ", ".join(f"{len(v)} {k}" for k, v in records.items()))
    else:
        print("no fact changed; file left as it was")
    for n in notes:
        print(f"note: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
