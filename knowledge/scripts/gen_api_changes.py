#!/usr/bin/env python3
"""Generate ``knowledge/data/api_changes.json``: renamed / removed arguments, functions, classes,
modules, CLI flags and config keys of the LLM-stack packages, with the release that deprecated and
the release that removed each, computed from the packages' own source at every final release.

The rules live in ``knowledge/scripts/api_changes_rules.yaml``: per change, the package, the kind
(``keyword_argument`` of which callables, ``function``, ``class``, ``import_path``, ``cli_flag``,
``config_key``), the old and new spelling, and *probes* that say how to see, in one release's source,
whether the old spelling is still accepted, whether the new one exists and whether the old one is
flagged as deprecated. A probe is one of::

    {regex: PATTERN, files: [path, ...]}              # re.MULTILINE search in any of the files
    {param: NAME, function: CALLABLE, files: [...]}   # CALLABLE = "f" or "Class.method": NAME is a
                                                      #   parameter of it (ast; **kwargs does not count)
    {field: NAME, class: CLASS, files: [...]}         # NAME is an annotated field of class CLASS (dataclass)
    {defined: NAME, files: [...]}                     # module-level def / class / assignment / import of NAME
    {exists: path}                                    # the file exists
    {any: [probe, ...]} / {all: [probe, ...]} / {not: probe}

Paths are inside the importable package tree (``transformers/training_args.py``). For every rule
the generator scans every final release from the rule's ``floor`` (the release list is the one of
``knowledge/data/packages.json``) and records

* ``old_ranges`` / ``new_ranges``: covered releases where the old / new spelling is accepted;
* ``deprecated_in``: first release where the ``deprecated`` probe holds while the old spelling is
  still accepted (``None`` when the rule has no such probe or it never holds);
* ``removed_in``: first covered release after the last one accepting the old spelling.

Each record's ``source`` is the file that shows the removal (or, if not removed, the deprecation);
``evidence`` names the file read for each computed release. Nothing is taken from release notes;
``reference`` (optional, curated in the rules file) points at a changelog / PR for humans.

Source of the files: the released distributions through pip (wheel, or for packages marked
``sdist_first`` the sdist, unpacked without building). A per-release cache of the files read lives
in ``--cache`` (env ``STACKLINT_GEN_CACHE``, default ``~/.cache/stacklint/gen_api_changes``).

Usage::

    python knowledge/scripts/gen_api_changes.py [--only transformers,trl] [--ids RULE_ID,...] [--jobs 4] [--force-write]
    python knowledge/scripts/gen_api_changes.py --show transformers 4.41.0 transformers/training_args.py
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
import tarfile
import tempfile
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from packaging.version import InvalidVersion, Version

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE.parent / "data"
OUT = DATA_DIR / "api_changes.json"
RULES = HERE / "api_changes_rules.yaml"
GENERATED_BY = "knowledge/scripts/gen_api_changes.py"
CACHE_VERSION = 1

# distribution name -> how to get its files. ``sdist_first``: the wheels are huge (CUDA kernels),
# the sdist holds the same Python source.
DISTRIBUTIONS: Dict[str, Dict[str, Any]] = {
    "transformers": {"import": "transformers"},
    "trl": {"import": "trl"},
    "peft": {"import": "peft"},
    "accelerate": {"import": "accelerate"},
    "deepspeed": {"import": "deepspeed", "sdist_first": True},
    "vllm": {"import": "vllm", "sdist_first": True},
    "bitsandbytes": {"import": "bitsandbytes"},
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Release lists and release files (shared with gen_hardware.py)
# --------------------------------------------------------------------------------------------
def final_version(v: str) -> Optional[Version]:
    try:
        ver = Version(v)
    except InvalidVersion:
        return None
    if ver.is_prerelease or ver.is_devrelease or ver.local:
        return None
    return ver


def covered_releases(package: str, floor: Optional[str] = None) -> List[str]:
    """Final releases of ``package`` listed in the committed packages table (read from the index),
    oldest first, from ``floor`` on."""
    table = json.loads((DATA_DIR / "packages.json").read_text("utf-8"))["records"]
    out = []
    for v in table.get(package, {}):
        ver = final_version(v)
        if ver is None or (floor and ver < Version(floor)):
            continue
        out.append(v)
    return sorted(out, key=Version)


def _unpack(location: Path, prefixes: Sequence[str], import_name: str) -> Dict[str, str]:
    """``{path inside the importable tree: text}`` of the .py files under ``prefixes``."""
    raw: Dict[str, bytes] = {}
    if location.is_dir():
        for p in location.rglob("*.py"):
            raw[p.relative_to(location).as_posix()] = p.read_bytes()
    elif location.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(location) as zf:
            for name in zf.namelist():
                if name.endswith(".py"):
                    raw[name] = zf.read(name)
    else:
        with tarfile.open(location) as tf:
            for m in tf.getmembers():
                if m.isfile() and m.name.endswith(".py"):
                    fh = tf.extractfile(m)
                    if fh is not None:
                        raw[m.name] = fh.read()
    roots = [n[: -len(f"{import_name}/__init__.py")] for n in raw if n.endswith(f"{import_name}/__init__.py")]
    root = min(roots, key=len) if roots else ""
    out: Dict[str, str] = {}
    for name, data in raw.items():
        if not name.startswith(root):
            continue
        rel = name[len(root):]
        if any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in prefixes):
            out[rel] = data.decode("utf-8", "replace")
    return out


def _pip_fetch(package: str, version: str, workdir: Path, sdist_first: bool) -> Path:
    dest = workdir / "dl"
    dest.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest)]
    build_tmp = workdir / "tmp"
    build_tmp.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(build_tmp))

    def wheel() -> Optional[Path]:
        subprocess.run(base + ["--only-binary", ":all:", f"{package}=={version}"],
                       capture_output=True, text=True, timeout=1800)
        return next((p for p in dest.iterdir() if p.suffix == ".whl"), None)

    def sdist() -> Optional[Path]:
        # pip unpacks the sdist and prepares its metadata (which may fail for projects that need
        # CUDA to run setup.py); --no-clean keeps the unpacked tree either way. Nothing is built.
        subprocess.run(base + ["--no-binary", ":all:", "--no-build-isolation", "--no-clean", f"{package}=={version}"],
                       capture_output=True, text=True, timeout=1800, env=env)
        for p in dest.iterdir():
            if p.name.endswith((".tar.gz", ".zip", ".tar.bz2")):
                return p
        for p in sorted(build_tmp.glob("pip-*/*")):
            if p.is_dir() and p.name.lower().replace("-", "_").startswith(package.replace("-", "_") + "_"):
                return p
        return None

    order = (sdist, wheel) if sdist_first else (wheel, sdist)
    for get in order:
        found = get()
        if found is not None:
            return found
    raise RuntimeError(f"could not download {package}=={version}")


class ReleaseFiles:
    """Text of chosen files of one distribution at one of its releases, through pip, cached."""

    _locks: Dict[str, threading.Lock] = {}

    def __init__(self, package: str, cache_dir: Path) -> None:
        self.package = package
        self.spec = DISTRIBUTIONS[package]
        self.cache = cache_dir / package
        self.cache.mkdir(parents=True, exist_ok=True)

    def files(self, version: str, prefixes: Sequence[str]) -> Dict[str, str]:
        lock = self._locks.setdefault(f"{self.package}=={version}", threading.Lock())
        with lock:
            path = self.cache / f"{version}.json"
            cached: Dict[str, Any] = {}
            if path.exists():
                cached = json.loads(path.read_text("utf-8"))
                if cached.get("v") == CACHE_VERSION and set(prefixes) <= set(cached["prefixes"]):
                    return cached["files"]
            want = sorted(set(prefixes) | set(cached.get("prefixes", [])))
            with tempfile.TemporaryDirectory(prefix=f"stacklint-{self.package}-") as tmp:
                loc = _pip_fetch(self.package, version, Path(tmp), bool(self.spec.get("sdist_first")))
                files = _unpack(loc, want, self.spec["import"])
            if not any(n.endswith("__init__.py") or n.endswith(".py") for n in files) and not files:
                log(f"  {self.package}=={version}: none of {want} found")
            path.write_text(json.dumps({"v": CACHE_VERSION, "prefixes": want, "files": files}), "utf-8")
            return files

    def source(self, version: str, path: str) -> str:
        return f"pypi:{self.package}=={version}#{path}"


# --------------------------------------------------------------------------------------------
# Probes
# --------------------------------------------------------------------------------------------
_TREES: Dict[int, Optional[ast.Module]] = {}


def _tree(text: str) -> Optional[ast.Module]:
    key = id(text)
    if key not in _TREES:
        try:
            _TREES[key] = ast.parse(text)
        except SyntaxError:
            _TREES[key] = None
    return _TREES[key]


def _find_callable(tree: ast.Module, dotted: str) -> List[ast.AST]:
    parts = dotted.split(".")
    nodes: List[ast.AST] = [tree]
    for part in parts:
        nxt: List[ast.AST] = []
        for node in nodes:
            for child in getattr(node, "body", []):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and child.name == part:
                    nxt.append(child)
                elif isinstance(child, ast.If):  # e.g. definitions under `if is_torch_available():`
                    for sub in child.body + child.orelse:
                        if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and sub.name == part:
                            nxt.append(sub)
        nodes = nxt
    return nodes


def _params(fn: ast.AST) -> List[str]:
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    a = fn.args
    return [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]


def _fields(cls: ast.AST) -> List[str]:
    out = []
    for node in getattr(cls, "body", []):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.append(node.target.id)
    return out


def _defined(tree: ast.Module, name: str) -> bool:
    def scan(body: Iterable[ast.stmt]) -> bool:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
                return True
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return True
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.target.id == name:
                return True
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if (alias.asname or alias.name.split(".")[0]) == name:
                        return True
            if isinstance(node, (ast.If, ast.Try)):
                inner = list(node.body) + list(node.orelse)
                if isinstance(node, ast.Try):
                    inner += [s for h in node.handlers for s in h.body] + list(node.finalbody)
                if scan(inner):
                    return True
        return False

    return scan(tree.body)


def probe(spec: Any, files: Dict[str, str]) -> Tuple[bool, Optional[str]]:
    """(holds, path that shows it) for one probe against one release's files."""
    if "any" in spec:
        for sub in spec["any"]:
            ok, where = probe(sub, files)
            if ok:
                return True, where
        return False, None
    if "all" in spec:
        where = None
        for sub in spec["all"]:
            ok, w = probe(sub, files)
            if not ok:
                return False, None
            where = where or w
        return True, where
    if "not" in spec:
        ok, _ = probe(spec["not"], files)
        return (not ok), None
    if "exists" in spec:
        return (spec["exists"] in files), spec["exists"]
    for path in spec.get("files", []):
        text = files.get(path)
        if text is None:
            continue
        if "regex" in spec:
            if re.search(spec["regex"], text, re.MULTILINE):
                return True, path
            continue
        tree = _tree(text)
        if tree is None:
            continue
        if "param" in spec:
            if any(spec["param"] in _params(fn) for fn in _find_callable(tree, spec["function"])):
                return True, path
        elif "field" in spec:
            if any(spec["field"] in _fields(c) for c in _find_callable(tree, spec["class"])):
                return True, path
        elif "defined" in spec:
            if _defined(tree, spec["defined"]):
                return True, path
        else:
            raise ValueError(f"unknown probe {spec!r}")
    return False, None


def probe_paths(spec: Any) -> List[str]:
    if isinstance(spec, dict):
        out = list(spec.get("files", []))
        if "exists" in spec:
            out.append(spec["exists"])
        for key in ("any", "all"):
            for sub in spec.get(key, []):
                out += probe_paths(sub)
        if "not" in spec:
            out += probe_paths(spec["not"])
        return out
    return []


# --------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------
def compress(present: List[bool], releases: List[str]) -> List[List[Optional[str]]]:
    ranges: List[List[Optional[str]]] = []
    start: Optional[int] = None
    for i, here in enumerate(present + [False]):
        if here and start is None:
            start = i
        elif not here and start is not None:
            ranges.append([releases[start], None if i == len(releases) else releases[i - 1]])
            start = None
    return ranges


def evaluate_rule(rule: Dict[str, Any], releases: List[str], per_release: Dict[str, Dict[str, str]],
                  fetcher: ReleaseFiles, today: str) -> Dict[str, Any]:
    rel = [v for v in releases if v in per_release and Version(v) >= Version(rule.get("floor", "0"))]
    old_hits = [probe(rule["old"], per_release[v]) for v in rel]
    new_hits = [probe(rule["new"], per_release[v]) if rule.get("new") else (False, None) for v in rel]
    dep_hits = [probe(rule["deprecated"], per_release[v]) if rule.get("deprecated") else (False, None) for v in rel]
    old = [h[0] for h in old_hits]
    new = [h[0] for h in new_hits]
    evidence: Dict[str, str] = {}

    deprecated_in = None
    if rule.get("deprecated"):
        for i, v in enumerate(rel):
            if dep_hits[i][0] and old[i]:
                deprecated_in = v
                evidence["deprecated_in"] = fetcher.source(v, dep_hits[i][1])
                break

    removed_in = None
    if any(old) and not old[-1]:
        last = max(i for i, x in enumerate(old) if x)
        removed_in = rel[last + 1]
        paths = [p for p in probe_paths(rule["old"]) if p in per_release[removed_in]] or probe_paths(rule["old"])
        evidence["removed_in"] = fetcher.source(removed_in, paths[0])
    new_since = None
    if any(new):
        first = new.index(True)
        new_since = rel[first]
        evidence["replacement_since"] = fetcher.source(new_since, new_hits[first][1])
    if any(old):
        first = old.index(True)
        evidence["old_seen"] = fetcher.source(rel[first], old_hits[first][1])

    out: Dict[str, Any] = {
        "id": rule["id"], "package": rule["package"], "kind": rule["kind"], "name": rule["name"],
    }
    for key in ("callables", "module", "replacement", "replacement_kind", "note"):
        if rule.get(key) is not None:
            out[key] = rule[key]
    out.update({
        "deprecated_in": deprecated_in,
        "removed_in": removed_in,
        "replacement_since": new_since,
        "old_ranges": compress(old, rel),
        "new_ranges": compress(new, rel) if rule.get("new") else None,
        "scanned": [rel[0], rel[-1]] if rel else None,
        # the old spelling / its deprecation already in the first scanned release: may be older
        "old_at_floor": bool(rel) and old[0],
        "deprecated_at_floor": bool(rel) and deprecated_in == rel[0],
    })
    if rule.get("reference"):
        out["reference"] = rule["reference"]
    out["evidence"] = evidence
    out["source"] = evidence.get("removed_in") or evidence.get("deprecated_in") or evidence.get("replacement_since") \
        or evidence.get("old_seen")
    out["checked"] = today
    return out


def load_rules(path: Path = RULES) -> List[Dict[str, Any]]:
    import yaml

    rules = yaml.safe_load(path.read_text("utf-8"))
    seen = set()
    for r in rules:
        for key in ("id", "package", "kind", "name", "old"):
            if key not in r:
                raise ValueError(f"rule {r.get('id')!r}: missing {key}")
        if r["id"] in seen:
            raise ValueError(f"duplicate rule id {r['id']}")
        seen.add(r["id"])
    return rules


def _dump(env: Dict[str, Any]) -> str:
    head = {k: v for k, v in env.items() if k != "records"}
    lines = ["{"]
    for k, v in head.items():
        lines.append(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},")
    lines.append(' "records": [')
    recs = [" " + json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) for r in env["records"]]
    lines.append(",\n".join(recs))
    lines.append(" ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


DESCRIPTION = (
    "Renamed / removed API of LLM-stack packages, computed from each package's source at every final "
    "release from the rule's floor (rules: knowledge/scripts/api_changes_rules.yaml). Per record: kind "
    "(keyword_argument of `callables`, function, class, import_path, module, cli_flag, config_key), name "
    "(old spelling), replacement (human-readable new spelling), deprecated_in (first release whose source "
    "flags the old spelling as deprecated; null = no deprecation marker found/probed), removed_in "
    "(first release that no longer accepts the old spelling), replacement_since (first release with the new "
    "spelling), old_ranges/new_ranges (covered releases accepting each, [first, last|null]), scanned "
    "([first, last] release read), old_at_floor/deprecated_at_floor (already so in the first scanned release, "
    "so possibly older). A version between old_ranges' last release and removed_in that is not a covered "
    "release is undecided. source = the file at removed_in (else at deprecated_in); evidence = the "
    "file read for each computed release (pypi:<dist>==<version>#<path>). reference = changelog/PR for humans."
)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="packages to recompute (default: all); others are kept")
    ap.add_argument("--ids", default="", help="rule ids to recompute (default: every rule of --only); "
                    "others are kept as they are in the table")
    ap.add_argument("--cache", default=os.environ.get("STACKLINT_GEN_CACHE_API",
                                                     str(Path.home() / ".cache/stacklint/gen_api_changes")))
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--force-write", action="store_true")
    ap.add_argument("--show", nargs=3, metavar=("PACKAGE", "VERSION", "PATH"), help="print one file of one release")
    args = ap.parse_args(argv)
    cache = Path(args.cache)

    if args.show:
        pkg, ver, path = args.show
        files = ReleaseFiles(pkg, cache).files(ver, [path])
        sys.stdout.write(files.get(path, f"<{path} not in {pkg}=={ver}>\n"))
        return 0

    today = _dt.date.today().isoformat()
    rules = load_rules()
    ids = {i for i in args.ids.split(",") if i}
    unknown = ids - {r["id"] for r in rules}
    if unknown:
        ap.error(f"unknown rule ids {sorted(unknown)}")
    only = {p for p in args.only.split(",") if p} or {r["package"] for r in rules if not ids or r["id"] in ids}
    old_records = []
    if OUT.exists():
        old_records = json.loads(OUT.read_text("utf-8"))["records"]
    kept = {r["id"]: r for r in old_records if r["package"] not in only or (ids and r["id"] not in ids)}

    records: Dict[str, Dict[str, Any]] = {}
    gaps: List[str] = []
    for pkg in sorted(only):
        pkg_rules = [r for r in rules if r["package"] == pkg and (not ids or r["id"] in ids)]
        if not pkg_rules:
            continue
        floor = min((r.get("floor", "0") for r in pkg_rules), key=Version)
        releases = covered_releases(pkg, floor)
        prefixes = sorted({p for r in pkg_rules for key in ("old", "new", "deprecated") for p in probe_paths(r.get(key))})
        fetcher = ReleaseFiles(pkg, cache)
        log(f"{pkg}: {len(pkg_rules)} rules, {len(releases)} releases {releases[0]}..{releases[-1]}, files {prefixes}")
        per_release: Dict[str, Dict[str, str]] = {}

        def get(v: str) -> Tuple[str, Optional[Dict[str, str]], Optional[str]]:
            try:
                return v, fetcher.files(v, prefixes), None
            except Exception as exc:  # a release that cannot be read is left out, never guessed
                return v, None, str(exc)

        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            for v, files, err in pool.map(get, releases):
                if files is None:
                    gaps.append(f"{pkg}=={v}: {err}")
                    continue
                if not files:
                    gaps.append(f"{pkg}=={v}: none of the probed files")
                    continue
                per_release[v] = files
        for rule in pkg_rules:
            records[rule["id"]] = evaluate_rule(rule, releases, per_release, fetcher, today)

    order = [r["id"] for r in rules]
    final = [records.get(i) or kept.get(i) for i in order]
    final = [r for r in final if r is not None]
    env = {"table": "api_changes", "schema": 1, "generated_by": GENERATED_BY, "generated": today,
           "description": DESCRIPTION, "records": final}
    old_env = json.loads(OUT.read_text("utf-8")) if OUT.exists() else None

    def facts(recs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "checked"} for r in recs]

    if old_env is None or facts(old_env["records"]) != facts(final) or args.force_write:
        OUT.write_text(_dump(env), "utf-8")
        print(f"wrote {OUT.relative_to(HERE.parent.parent)}: {len(final)} records")
    else:
        print("no fact changed; file left as it was")
    for r in final:
        print(f"{r['id']:60s} dep={r['deprecated_in']} rm={r['removed_in']} new={r['replacement_since']}")
    for g in gaps:
        print(f"gap: {g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
