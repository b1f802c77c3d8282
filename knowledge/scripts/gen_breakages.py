#!/usr/bin/env python3
"""Generate ``knowledge/data/breakages.json``: package pins that install together (the metadata
allows them) but break at run time or force a source build.

Three parts:

* **curated** (``breakages_curated.yaml``): import-time and run-time failures described by the
  maintainers in an issue / PR (``source``), each checked against the released files named in
  ``evidence``.
* **transformers refuses old torch** (generated): ``transformers/utils/import_utils.py`` of every
  transformers release from 4.40 (read through pip, cache shared with ``gen_api_changes.py``) says
  ``Disabling PyTorch because PyTorch >= X is required``; transformers does not require torch in its
  metadata (only its ``[torch]`` extra does), so a plain install next to an older torch imports but
  has no PyTorch models.
* **flash-attn prebuilt wheels** (generated): the wheel build matrix of each flash-attn release,
  ``.github/workflows/publish.yml`` at the release tag (``torch-version`` x ``cuda-version`` minus
  ``exclude``), and from its ``setup.py`` whether it looks a wheel up at all and whether it needs a
  CUDA toolkit even then, from a bare clone of Dao-AILab/flash-attention (``--flash-attention-git DIR`` or env
  ``STACKLINT_FLASH_ATTENTION_GIT``; without it the committed flash-attn records are kept). flash-attn's
  setup.py downloads the wheel named after the installed torch's major.minor and CUDA major and falls
  back to compiling from source; a binary built against another torch fails at import with
  ``undefined symbol`` (ABI).

Condition format: ``when: [{package, specifier[, local]}]``; every entry must hold for the pinned
version (``local``: an fnmatch pattern on the local version label, e.g. ``cu11*`` for ``+cu118``).

Usage::

    python knowledge/scripts/gen_breakages.py [--flash-attention-git DIR] [--force-write]
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from packaging.specifiers import SpecifierSet
from packaging.version import Version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_api_changes import ReleaseFiles, covered_releases, final_version, log  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE.parent / "data"
OUT = DATA_DIR / "breakages.json"
CURATED = HERE / "breakages_curated.yaml"
GENERATED_BY = "knowledge/scripts/gen_breakages.py"
FA_REPO = "Dao-AILab/flash-attention"
FA_WORKFLOW = ".github/workflows/publish.yml"
TF_IMPORT_UTILS = "transformers/utils/import_utils.py"
TF_FLOOR = "4.40.0"


# --------------------------------------------------------------------------------------------
# flash-attn wheel matrix
# --------------------------------------------------------------------------------------------
def _minor(v: str) -> str:
    return ".".join(str(v).split(".")[:2])


def _cuda_major(v: str) -> str:
    s = str(v)
    # '113' / '116' (flash-attn 2.0.x) or '11.8.0'
    return s.split(".")[0] if "." in s else s[:-1]


def wheel_matrix(workflow_text: str) -> Dict[str, List[str]]:
    """torch minor -> CUDA majors that have a wheel, from the publish workflow."""
    import yaml

    doc = yaml.safe_load(workflow_text) or {}
    out: Dict[str, set] = {}
    for job in (doc.get("jobs") or {}).values():
        matrix = ((job or {}).get("strategy") or {}).get("matrix") or {}
        torches = matrix.get("torch-version") or []
        cudas = matrix.get("cuda-version") or []
        if not torches or not cudas or not isinstance(torches, list):
            continue
        excludes = [e for e in (matrix.get("exclude") or []) if isinstance(e, dict)]
        for t in torches:
            for c in cudas:
                dropped = any(
                    set(e) <= {"torch-version", "cuda-version"}
                    and str(e.get("torch-version", t)) == str(t) and str(e.get("cuda-version", c)) == str(c)
                    for e in excludes
                )
                if not dropped:
                    out.setdefault(_minor(t), set()).add(_cuda_major(c))
    return {k: sorted(v, key=int) for k, v in sorted(out.items(), key=lambda kv: Version(kv[0]))}


def _setup_facts(setup_py: str) -> Tuple[bool, bool]:
    """(downloads a prebuilt wheel, needs CUDA_HOME even then) from a release's setup.py: the
    wheel lookup is the CachedWheelsCommand bdist_wheel override (from 2.0.6); before 2.1.2 a
    module-level raise_if_cuda_home_none() stops the install when no CUDA toolkit is found."""
    downloads = "CachedWheelsCommand" in setup_py
    needs_home = re.search(r"^\s*raise_if_cuda_home_none\(", setup_py, re.M) is not None
    return downloads, needs_home


def flash_attn_records(git_dir: str, today: str) -> List[Dict[str, Any]]:
    tags = subprocess.run(["git", "--git-dir", git_dir, "tag", "-l"], capture_output=True, text=True, check=True).stdout.split()
    known = set(covered_releases("flash-attn"))
    per: List[Tuple[str, str, Tuple[Any, ...]]] = []
    for tag in tags:
        if not re.match(r"^v[12]\.\d+\.\d+(\.post\d+)?$", tag):
            continue
        ver = tag[1:]
        if final_version(ver) is None or ver not in known:
            continue
        setup = subprocess.run(["git", "--git-dir", git_dir, "show", f"{tag}:setup.py"], capture_output=True, text=True)
        if setup.returncode != 0:
            continue
        downloads, needs_home = _setup_facts(setup.stdout)
        m: Dict[str, List[str]] = {}
        if downloads:
            proc = subprocess.run(["git", "--git-dir", git_dir, "show", f"{tag}:{FA_WORKFLOW}"], capture_output=True, text=True)
            if proc.returncode != 0:
                continue
            m = wheel_matrix(proc.stdout)
            if not m:
                continue
        per.append((ver, tag, (downloads, needs_home, m)))
    per.sort(key=lambda x: Version(x[0]))
    groups: List[List[Tuple[str, str, Tuple[Any, ...]]]] = []
    for item in per:
        if groups and groups[-1][-1][2] == item[2]:
            groups[-1].append(item)
        else:
            groups.append([item])
    out = []
    for g in groups:
        first, last = g[0][0], g[-1][0]
        downloads, needs_home, matrix = g[0][2]
        span = f"{first}{'..' + last if last != first else ''}"
        spec = f">={first},<={last}" if first != last else f"=={first}"
        home = (" Its setup.py also stops at once when no CUDA toolkit is found (raise_if_cuda_home_none), "
                "even where a wheel exists." if needs_home else "")
        if not downloads:
            out.append({
                "id": f"flash-attn-{first}-no-wheel-for-torch",
                "kind": "build",
                "when": [{"package": "flash-attn", "specifier": spec}, {"package": "torch", "specifier": ""}],
                "effect": (f"flash-attn {span} has no prebuilt-wheel lookup in its setup.py (no CachedWheelsCommand): "
                           "pip always compiles it from source, which needs nvcc and a CUDA toolkit and can take hours."
                           + home),
                "fix": "build where nvcc is available (an nvidia/cuda -devel image), or use flash-attn 2.1.2 or newer "
                       "with a torch its wheel matrix covers",
                "torch_minors_with_wheels": [],
                "cuda_majors_with_wheels": [],
                "wheels": {},
                "needs_cuda_home": needs_home,
                "source": f"https://github.com/{FA_REPO}/blob/{g[-1][1]}/setup.py",
                "checked": today,
                "generated": True,
            })
            continue
        minors = list(matrix)
        cuda_majors = sorted({c for cs in matrix.values() for c in cs}, key=int)
        torch_spec = ",".join(f"!={m}.*" for m in minors)
        src = f"https://github.com/{FA_REPO}/blob/{g[-1][1]}/{FA_WORKFLOW}"
        out.append({
            "id": f"flash-attn-{first}-no-wheel-for-torch",
            "kind": "build",
            "when": [{"package": "flash-attn", "specifier": spec}, {"package": "torch", "specifier": torch_spec}],
            "effect": (f"flash-attn {span} publishes prebuilt wheels only for torch "
                       f"{', '.join(minors)} (CUDA {', '.join(cuda_majors)}); with another torch, its setup.py finds no wheel "
                       "and compiles from source (needs nvcc and a CUDA toolkit, can take hours), and a wheel built "
                       "against a different torch fails at import with 'undefined symbol' (C++ ABI)." + home),
            "fix": f"use torch {' / '.join(minors)} with flash-attn {span}, "
                   "or pick the flash-attn release whose wheel matrix contains your torch",
            "torch_minors_with_wheels": minors,
            "cuda_majors_with_wheels": cuda_majors,
            "wheels": matrix,
            "needs_cuda_home": needs_home,
            "source": src,
            "checked": today,
            "generated": True,
        })
        missing_cuda = [c for c in ("11", "12") if c not in cuda_majors and int(c) < int(cuda_majors[-1])]
        for c in missing_cuda:
            out.append({
                "id": f"flash-attn-{first}-no-wheel-for-cuda{c}",
                "kind": "build",
                "when": [{"package": "flash-attn", "specifier": spec},
                         {"package": "torch", "specifier": "", "local": f"cu{c}*"}],
                "effect": (f"flash-attn {span} publishes CUDA "
                           f"{', '.join(cuda_majors)} wheels only; with a CUDA {c} torch build (+cu{c}x) setup.py "
                           "compiles flash-attn from source."),
                "fix": f"use a CUDA {cuda_majors[-1]} build of torch, or an older flash-attn with CUDA {c} wheels",
                "source": src,
                "checked": today,
                "generated": True,
            })
    return out


# --------------------------------------------------------------------------------------------
# transformers: minimum torch at import
# --------------------------------------------------------------------------------------------
TORCH_MIN = re.compile(r"Disabling PyTorch because PyTorch >= ([\d.]+) is required")


def transformers_torch_records(cache: Path, jobs: int, today: str) -> Tuple[List[Dict[str, Any]], List[str]]:
    rf = ReleaseFiles("transformers", cache)
    releases = covered_releases("transformers", TF_FLOOR)
    gaps: List[str] = []

    def get(v: str):
        try:
            text = rf.files(v, [TF_IMPORT_UTILS]).get(TF_IMPORT_UTILS)
        except Exception as exc:  # left out, never guessed
            return v, None, str(exc)
        if text is None:
            return v, None, "no import_utils.py"
        m = TORCH_MIN.search(text)
        return v, (m.group(1) if m else ""), None

    per: Dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for v, thr, err in pool.map(get, releases):
            if thr is None:
                gaps.append(f"transformers=={v}: {err}")
            else:
                per[v] = thr
    covered = [v for v in releases if v in per]
    groups: List[Tuple[str, str]] = []  # (first release, threshold)
    for v in covered:
        if not groups or groups[-1][1] != per[v]:
            groups.append((v, per[v]))
    out = []
    for i, (first, thr) in enumerate(groups):
        if not thr:
            continue
        nxt = groups[i + 1][0] if i + 1 < len(groups) else None
        spec = f">={first}" + (f",<{nxt}" if nxt else "")
        out.append({
            "id": f"transformers-{first}-needs-torch-{thr}",
            "kind": "runtime",
            "when": [{"package": "transformers", "specifier": spec}, {"package": "torch", "specifier": f"<{thr}"}],
            "effect": (f"transformers {spec} does not require torch in its metadata (only its [torch] extra does) but "
                       f"disables PyTorch at import when torch < {thr} ('Disabling PyTorch because PyTorch >= {thr} is "
                       "required'): every PyTorch model class (AutoModelFor..., Trainer) is then unavailable."),
            "fix": f"upgrade torch to >={thr}, or pin transformers below {first}",
            "source": rf.source(first, TF_IMPORT_UTILS),
            "checked": today,
            "generated": True,
        })
    return out, gaps


# --------------------------------------------------------------------------------------------
def curated_records(today: str) -> List[Dict[str, Any]]:
    import yaml

    out = []
    for rec in yaml.safe_load(CURATED.read_text("utf-8")):
        r = dict(rec)
        for cond in r["when"]:
            SpecifierSet(cond.get("specifier", ""))  # validates
        r["checked"] = today
        r["generated"] = False
        out.append(r)
    return out


DESCRIPTION = (
    "Pins that pip installs together (the metadata allows them) but that break at run time (kind=runtime) "
    "or force a from-source build (kind=build). records = [{id, kind, when: [{package, specifier[, local]}], "
    "effect, fix, source, checked, generated, ...}]: a record applies when every `when` package is pinned to a "
    "version in its specifier (local: fnmatch on the local label, e.g. cu11* for +cu118). Curated records "
    "(generated=false) cite the maintainers' issue/PR and list the released files that show the cause "
    "(evidence); generated ones come from transformers' import_utils.py (minimum torch at import) and "
    "flash-attn's wheel build matrix (.github/workflows/publish.yml at each release tag). Conflicts pip "
    "already refuses are not here: xformers and vLLM pin an exact torch in their metadata, transformers "
    "bounds tokenizers/huggingface-hub (see the packages table)."
)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flash-attention-git", default=os.environ.get("STACKLINT_FLASH_ATTENTION_GIT"))
    ap.add_argument("--cache", default=os.environ.get("STACKLINT_GEN_CACHE_API",
                                                     str(Path.home() / ".cache/stacklint/gen_api_changes")))
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--force-write", action="store_true")
    args = ap.parse_args(argv)
    today = _dt.date.today().isoformat()

    old = json.loads(OUT.read_text("utf-8"))["records"] if OUT.exists() else []
    records = curated_records(today)
    tf, gaps = transformers_torch_records(Path(args.cache), args.jobs, today)
    records += tf
    if args.flash_attention_git:
        records += flash_attn_records(args.flash_attention_git, today)
    else:
        kept = [r for r in old if r["id"].startswith("flash-attn-") and r.get("generated")]
        log(f"no flash-attention clone: keeping {len(kept)} committed flash-attn records")
        records += kept
    ids = [r["id"] for r in records]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise SystemExit(f"duplicate ids: {sorted(dup)}")

    env = {"table": "breakages", "schema": 1, "generated_by": GENERATED_BY, "generated": today,
           "description": DESCRIPTION, "records": records}

    def facts(recs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "checked"} for r in recs]

    if not OUT.exists() or facts(old) != facts(records) or args.force_write:
        body = ",\n".join(" " + json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) for r in records)
        head = "".join(f' {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},\n' for k, v in env.items() if k != "records")
        OUT.write_text("{\n" + head + ' "records": [\n' + body + "\n ]\n}\n", "utf-8")
        print(f"wrote {OUT.name}: {len(records)} records")
    else:
        print("no fact changed; file left as it was")
    for r in records:
        print(f"  {r['id']}: " + "; ".join(f"{c['package']}{c.get('specifier', '')}{' +' + c['local'] if c.get('local') else ''}" for c in r["when"]))
    for g in gaps:
        print(f"gap: {g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
