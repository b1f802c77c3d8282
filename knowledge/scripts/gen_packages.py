#!/usr/bin/env python3
"""Generate ``knowledge/data/packages.json``: Requires-Python and Requires-Dist of every
release of the LLM-stack packages that stacklint knows about.

Everything is read from the package index through pip's command line, never by building
anything:

1. ``pip index versions NAME -vvv`` lists every file of every release of NAME (pip logs each
   link it evaluates); from the file names we learn which releases exist, which files are
   yanked, which releases have wheels and for which Python/platform tags, and the index's
   Requires-Python of each file.
2. For each release that has a wheel, ``pip install --dry-run --no-deps --report`` with
   ``--only-binary=:all:`` and target options matching that wheel returns the wheel's core
   metadata. ``--use-feature=fast-deps`` makes pip read only the end of the wheel (HTTP
   range requests), and pip >= 25.3 no longer downloads the distribution after a dry run,
   so a whole run moves a few MB per release. Many releases of *different* packages share
   one pip process (``NAME===VERSION`` pins).
3. Releases that only have an sdist are recorded with ``"requires": null`` and a note:
   their metadata needs a build, which this script never runs.

Raw pip answers are cached in ``knowledge/scripts/.cache/`` (gitignored): per-release
metadata forever (a published file never changes), file listings per run. Reruns only ask
about new releases.

Usage::

    python knowledge/scripts/gen_packages.py [--only NAME ...] [--jobs N] [--offline]

``main(argv)`` returns a short summary of what changed against the previous data file.
Needs pip >= 25.3; with an older pip a private virtualenv with a new pip is set up in the
cache directory.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from packaging import tags as _tags
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA_FILE = ROOT / "knowledge" / "data" / "packages.json"
# Extras live in their own table: most checks never need them, and a few packages declare
# hundreds (unsloth: one per CUDA x torch combination), which would make every load slow.
EXTRAS_FILE = ROOT / "knowledge" / "data" / "package_extras.json"
CACHE = HERE / ".cache"
SCRIPT_NAME = "knowledge/scripts/gen_packages.py"
MIN_PIP = (25, 3)  # first pip whose `install --dry-run` does not download the wheels

# Packages whose releases are recorded.
TRACKED: Tuple[str, ...] = (
    # training / fine-tuning
    "torch", "torchvision", "torchaudio", "transformers", "tokenizers", "accelerate",
    "peft", "trl", "datasets", "huggingface-hub", "safetensors", "bitsandbytes",
    "flash-attn", "xformers", "triton", "deepspeed", "llamafactory", "axolotl", "unsloth",
    "sentence-transformers", "liger-kernel", "torchao",
    # serving
    "vllm", "sglang", "lmdeploy", "text-generation", "llama-cpp-python",
    "xgrammar", "outlines", "outlines-core", "llguidance", "lm-format-enforcer",
    "flashinfer-python", "sgl-kernel", "vllm-flash-attn", "mistral-common", "gguf",
    # quantisation
    "autoawq", "autoawq-kernels", "auto-gptq", "gptqmodel", "optimum",
    "compressed-tensors", "llmcompressor",
    # basics
    "numpy", "protobuf", "sentencepiece", "tiktoken", "hf-xet",
)
# Dependency edges are kept when they point at a tracked package, at one of these, or at
# an ``nvidia-*`` CUDA wheel (torch pins those exactly).
EDGE_ONLY: Tuple[str, ...] = (
    "cuda-python", "cupy-cuda11x", "cupy-cuda12x", "ray", "fsspec", "jax", "jaxlib",
    "tensorflow", "onnxruntime", "onnxruntime-gpu", "intel-extension-for-pytorch",
    "flashinfer", "mamba-ssm", "causal-conv1d", "pytorch-triton-rocm",
)
EDGE_PREFIXES: Tuple[str, ...] = ("nvidia-",)

DESCRIPTION = (
    "Requires-Python and Requires-Dist of every final and post release (pre-releases only "
    "for packages that have nothing else; yanked releases left out) of LLM-stack packages, "
    "read from each release's wheel metadata on the package index (preferring a CPython "
    "3.11 Linux x86_64 wheel, else the closest other). records[name][version] = "
    "{requires_python, requires: [[dep, specifier, marker|null]], extras: {extra: [...]}, "
    "source, checked[, wheel_tag][, note]}. Only edges to tracked packages, to "
    + ", ".join(EDGE_ONLY)
    + " and to nvidia-* wheels are kept; a dependency's own extras are dropped; names and "
    "extras are canonicalised; markers never mention `extra` (extra-conditional "
    "dependencies are under `extras`). requires is null when the metadata could not be "
    "read without building (sdist-only releases); then `note` says why."
)

# --- targets ------------------------------------------------------------------------

_LINUX_X86 = (
    [f"manylinux_2_{m}_x86_64" for m in range(40, 4, -1)]
    + ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64"]
)
_OTHER = (
    list(_tags.mac_platforms((15, 0), "arm64"))
    + list(_tags.mac_platforms((15, 0), "x86_64"))
    + ["win_amd64", "win32"]
    + [f"manylinux_2_{m}_aarch64" for m in range(40, 16, -1)]
    + ["manylinux2014_aarch64", "linux_aarch64"]
)
_PYTHONS = [(3, 11), (3, 12), (3, 10), (3, 13), (3, 9), (3, 14), (3, 8), (3, 7), (3, 6),
            (3, 5), (3, 4), (2, 7)]


def _abis(py: Tuple[int, int]) -> List[str]:
    nodot = f"{py[0]}{py[1]}"
    if py == (2, 7):
        return ["cp27mu", "cp27m"]
    if py < (3, 8):
        return [f"cp{nodot}m", f"cp{nodot}"]
    return [f"cp{nodot}"]


class Target:
    def __init__(self, py: Tuple[int, int], group: str, platforms: List[str]) -> None:
        self.py = py
        self.group = group
        self.platforms = platforms
        self.label = f"cp{py[0]}{py[1]}-{group}"
        abis = _abis(py)
        self.tags = set(_tags.cpython_tags(py, abis, platforms))
        self.tags |= set(_tags.compatible_tags(py, f"cp{py[0]}{py[1]}", platforms))

    def pip_args(self) -> List[str]:
        args = ["--python-version", f"{self.py[0]}.{self.py[1]}", "--implementation", "cp"]
        for abi in _abis(self.py):
            args += ["--abi", abi]
        for plat in self.platforms:
            args += ["--platform", plat]
        return args


TARGETS: List[Target] = [Target(py, "linux", _LINUX_X86) for py in _PYTHONS] + [
    Target(py, "other", _OTHER) for py in _PYTHONS
]

# --- small helpers -------------------------------------------------------------------

_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s)]+")
_DIST_EXT = (".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz", ".egg", ".exe", ".msi")
_PRINT_LOCK = threading.Lock()


def _log(msg: str) -> None:
    with _PRINT_LOCK:
        print(msg, file=sys.stderr, flush=True)


def _today() -> str:
    return _dt.date.today().isoformat()


def _strip_urls(text: str) -> str:
    """Replace URLs by their last path segment (no host name ends up in data or logs)."""
    return _URL.sub(lambda m: urllib.parse.unquote(m.group(0).split("#")[0].rstrip("/").rsplit("/", 1)[-1]), text)


def _vkey(v: str) -> Version:
    return Version(v)


def _norm_version(v: str) -> Optional[str]:
    try:
        return str(Version(v))
    except InvalidVersion:
        return None


def _norm_requires_python(rp: Optional[str]) -> Optional[str]:
    if rp is None:
        return None
    rp = rp.strip()
    if not rp:
        return None
    try:
        return str(SpecifierSet(rp))
    except InvalidSpecifier:
        return rp


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, sort_keys=True, indent=1) + "\n", "utf-8")
    tmp.replace(path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None


# --- pip -------------------------------------------------------------------------------


def _pip_version(cmd: List[str]) -> Optional[Tuple[int, ...]]:
    try:
        out = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.match(r"pip (\d+)\.(\d+)", out.stdout.strip())
    return (int(m.group(1)), int(m.group(2))) if m else None


def find_pip(explicit: Optional[str] = None) -> List[str]:
    """A pip command line new enough for metadata-only dry runs."""
    if explicit:
        return explicit.split()
    cmd = [sys.executable, "-m", "pip"]
    ver = _pip_version(cmd)
    if ver and ver >= MIN_PIP:
        return cmd
    venv = CACHE / "pip-venv"
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    vcmd = [str(py), "-m", "pip"]
    ver = _pip_version(vcmd) if py.exists() else None
    if not ver or ver < MIN_PIP:
        _log(f"pip {ver or '?'} is older than {MIN_PIP[0]}.{MIN_PIP[1]}: setting up {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(vcmd + ["install", "-q", "--upgrade", f"pip>={MIN_PIP[0]}.{MIN_PIP[1]}"],
                       check=True)
    return vcmd


def _pip_env() -> Dict[str, str]:
    env = dict(os.environ)
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1",
                "PIP_NO_COLOR": "1", "PYTHONIOENCODING": "utf-8"})
    return env


# --- step 1: file listings ----------------------------------------------------------------


def _version_from_filename(filename: str, project: str) -> Optional[Tuple[str, str]]:
    """(kind, normalised version) of a distribution file, or None."""
    if filename.endswith(".whl"):
        try:
            name, ver, _build, _t = parse_wheel_filename(filename)
        except (InvalidWheelFilename, InvalidVersion):
            return None
        if canonicalize_name(name) != project:
            return None
        return "wheel", str(ver)
    for ext in _DIST_EXT:
        if filename.lower().endswith(ext):
            stem = filename[: -len(ext)]
            kind = "sdist" if ext in (".tar.gz", ".zip", ".tar.bz2", ".tgz", ".tar.xz") else "other"
            break
    else:
        return None
    if kind == "other":
        stem = re.sub(r"(-py\d(\.\d+)?)?(\.(linux|win|macosx)[^-]*)?$", "", stem)
        stem = re.sub(r"-py\d(\.\d+)?$", "", stem)
    for i, ch in enumerate(stem):
        if ch == "-" and canonicalize_name(stem[:i]) == project:
            ver = _norm_version(stem[i + 1:])
            if ver:
                return kind, ver
    return None


def parse_listing(text: str, project: str) -> Dict[str, Dict[str, Any]]:
    """Inventory {version: {wheels, sdists, others, yanked, requires_python}} from pip's log."""
    inv: Dict[str, Dict[str, Any]] = {}
    for line in text.splitlines():
        if " link" not in line:
            continue
        yanked = "yanked" in line.lower()
        rp_m = re.search(r"\(requires-python:([^)]*)\)", line)
        for url in _URL.findall(line):
            path = urllib.parse.urlsplit(url).path
            filename = urllib.parse.unquote(path.rsplit("/", 1)[-1])
            kv = _version_from_filename(filename, project)
            if not kv:
                continue
            kind, ver = kv
            rec = inv.setdefault(ver, {"wheels": [], "sdists": [], "others": [], "yanked": [],
                                       "requires_python": None})
            key = {"wheel": "wheels", "sdist": "sdists", "other": "others"}[kind]
            if filename not in rec[key]:
                rec[key].append(filename)
            if yanked and filename not in rec["yanked"]:
                rec["yanked"].append(filename)
            if rp_m and not yanked and rec["requires_python"] is None:
                rec["requires_python"] = rp_m.group(1).strip() or None
    for rec in inv.values():
        for key in ("wheels", "sdists", "others", "yanked"):
            rec[key].sort()
    return inv


def list_files(pip: List[str], name: str) -> Dict[str, Dict[str, Any]]:
    cmd = pip + ["index", "versions", name, "--ignore-requires-python", "--pre", "-vvv"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=_pip_env())
    inv = parse_listing(proc.stdout + "\n" + proc.stderr, name)
    if not inv:
        tail = _strip_urls((proc.stderr or proc.stdout).strip().splitlines()[-1:][0]
                           if (proc.stderr or proc.stdout).strip() else "no output")
        raise RuntimeError(f"no files listed for {name}: {tail}")
    return inv


# --- step 2: choosing releases and wheels --------------------------------------------------


def select_releases(inv: Dict[str, Dict[str, Any]]) -> Tuple[List[str], List[str]]:
    """(versions to record, yanked versions skipped)."""
    good: List[Version] = []
    yanked: List[str] = []
    for ver, rec in inv.items():
        v = Version(ver)
        if v.local is not None:
            continue  # a local build (e.g. from a find-links directory), not an index release
        files = rec["wheels"] + rec["sdists"] + rec["others"]
        if files and set(files) <= set(rec["yanked"]):
            yanked.append(ver)
            continue
        good.append(v)
    finals = [v for v in good if not v.is_prerelease]
    chosen = finals if finals else good
    return [str(v) for v in sorted(chosen)], sorted(yanked, key=_vkey)


def choose_target(rec: Dict[str, Any]) -> Optional[Tuple[Target, str]]:
    wheels = [w for w in rec["wheels"] if w not in rec["yanked"]]
    parsed = []
    for w in wheels:
        try:
            parsed.append((w, parse_wheel_filename(w)[3]))
        except (InvalidWheelFilename, InvalidVersion):
            continue
    for target in TARGETS:
        for w, wtags in parsed:
            if wtags & target.tags:
                return target, w
    return None


# --- step 3: metadata via pip install --dry-run --report -----------------------------------


def _meta_path(name: str, version: str) -> Path:
    return CACHE / "meta" / name / f"{version}.json"


def _failed_path(name: str, version: str) -> Path:
    return CACHE / "failed" / name / f"{version}.json"


class Fetcher:
    def __init__(self, pip: List[str], jobs: int, batch: int) -> None:
        self.pip = pip
        self.jobs = jobs
        self.batch = batch
        self.failures: Dict[Tuple[str, str], str] = {}
        self.done = 0
        self.total = 0
        self.calls = 0
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.last_report = 0.0
        (CACHE / "tmp").mkdir(parents=True, exist_ok=True)

    def _progress(self, n: int) -> None:
        with self.lock:
            self.done += n
            now = time.monotonic()
            if now - self.last_report < 10 and self.done < self.total:
                return
            self.last_report = now
            el = now - self.t0
            rate = self.done / el if el else 0.0
            eta = (self.total - self.done) / rate if rate else 0.0
            _log(f"  metadata {self.done}/{self.total} releases, {self.calls} pip calls, "
                 f"{el:.0f}s elapsed, ~{eta:.0f}s left")

    def _run(self, target: Target, items: List[Tuple[str, str]]) -> None:
        tmpdir = tempfile.mkdtemp(prefix="pip-", dir=str(CACHE / "tmp"))
        report = os.path.join(tmpdir, "report.json")
        cmd = self.pip + [
            "install", "--dry-run", "--no-deps", "--ignore-installed", "--ignore-requires-python",
            "--only-binary=:all:", "--no-cache-dir", "--use-feature=fast-deps", "-q",
            "--target", os.path.join(tmpdir, "target"), "--report", report,
        ] + target.pip_args() + [f"{n}==={v}" for n, v in items]
        with self.lock:
            self.calls += 1
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, env=_pip_env())
            rc, err = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired:
            rc, err = -1, "pip timed out"
        data = _read_json(Path(report)) if rc == 0 else None
        shutil.rmtree(tmpdir, ignore_errors=True)
        if data is None:
            if len(items) > 1:
                half = len(items) // 2
                self._run(target, items[:half])
                self._run(target, items[half:])
                return
            lines = [ln.strip() for ln in _strip_urls(err).splitlines()
                     if ln.strip() and not ln.startswith("WARNING")]
            why = [ln for ln in lines if re.search(r"invalid metadata|inconsistent version", ln)]
            if not why and rc not in (-1,):
                # pip says why it discarded a file only when verbose: ask once more
                try:
                    again = subprocess.run([a if a != "-q" else "-v" for a in cmd], capture_output=True,
                                           text=True, timeout=1800, env=_pip_env())
                    vlines = [ln.strip() for ln in _strip_urls(again.stdout + again.stderr).splitlines()]
                    why = [ln for ln in vlines if re.search(r"invalid metadata|inconsistent version", ln)]
                except subprocess.TimeoutExpired:
                    pass
            msg = (why or lines or [f"pip exited {rc}"])[-1]
            if "Requested " in msg:
                msg = msg[msg.index("Requested "):]
            self.failures[items[0]] = msg[:300]
            if why:  # a defect of the published file: it will not change, remember it
                _write_json(_failed_path(*items[0]), {"error": msg[:300], "fetched": _today()})
            self._progress(1)
            return
        wanted = dict(items)
        got = 0
        for entry in data.get("install", []):
            meta = dict(entry.get("metadata") or {})
            name = canonicalize_name(meta.get("name", ""))
            ver = _norm_version(str(meta.get("version", "")))
            if name not in wanted or ver != wanted[name]:
                continue
            meta.pop("description", None)
            url = (entry.get("download_info") or {}).get("url", "")
            wheel = urllib.parse.unquote(url.split("#")[0].rsplit("/", 1)[-1])
            _write_json(_meta_path(name, ver), {
                "metadata": meta, "wheel": wheel, "target": target.label, "fetched": _today(),
            })
            got += 1
            del wanted[name]
        for name, ver in wanted.items():
            self.failures[(name, ver)] = "not in pip's report"
        self._progress(got + len(wanted))

    def fetch(self, todo: List[Tuple[str, str, Target]]) -> None:
        by_target: Dict[str, Tuple[Target, Dict[str, List[str]]]] = {}
        for name, ver, target in todo:
            by_target.setdefault(target.label, (target, {}))[1].setdefault(name, []).append(ver)
        batches: List[Tuple[Target, List[Tuple[str, str]]]] = []
        for target, per_pkg in by_target.values():
            rounds = max(len(v) for v in per_pkg.values())
            for r in range(rounds):
                row = [(n, vs[r]) for n, vs in sorted(per_pkg.items()) if r < len(vs)]
                for i in range(0, len(row), self.batch):
                    batches.append((target, row[i:i + self.batch]))
        self.total = len(todo)
        self.t0 = time.monotonic()
        if not batches:
            return
        _log(f"fetching metadata of {len(todo)} releases in {len(batches)} pip calls "
             f"({self.jobs} at a time)")
        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            for fut in [pool.submit(self._run, t, items) for t, items in batches]:
                fut.result()


# --- records ------------------------------------------------------------------------------


def _interesting(name: str) -> bool:
    return name in _TRACKED_SET or name in _EDGE_SET or name.startswith(EDGE_PREFIXES)


_TRACKED_SET = frozenset(canonicalize_name(n) for n in TRACKED)
_EDGE_SET = frozenset(canonicalize_name(n) for n in EDGE_ONLY)

_TRUE, _FALSE = True, False


def _node_str(node: Any) -> str:
    ser = getattr(node, "serialize", None)
    if ser is not None:
        return str(ser())
    kind = type(node).__name__
    return f'"{node.value}"' if kind == "Value" else str(node.value)


def _is_extra_var(node: Any) -> bool:
    return type(node).__name__ == "Variable" and node.value == "extra"


def _subst(markers: Any, extra: Optional[str]) -> Any:
    """Replace `extra` comparisons by booleans and simplify; returns True, False or a tree."""
    if isinstance(markers, tuple):
        lhs, op, rhs = markers
        if _is_extra_var(lhs) or _is_extra_var(rhs):
            other = rhs if _is_extra_var(lhs) else lhs
            val = canonicalize_name(str(other.value))
            cur = canonicalize_name(extra) if extra else ""
            if op.value == "==":
                return val == cur
            if op.value == "!=":
                return val != cur
            return False
        return markers
    # list: operand (op operand)*, "and" binds tighter than "or"
    disjuncts: List[List[Any]] = [[]]
    for item in markers:
        if item == "or":
            disjuncts.append([])
        elif item == "and":
            continue
        else:
            disjuncts[-1].append(_subst(item, extra))
    out_or: List[Any] = []
    for conj in disjuncts:
        if any(x is _FALSE for x in conj):
            continue
        rest = [x for x in conj if x is not _TRUE]
        if not rest:
            return _TRUE
        out_or.append(rest)
    if not out_or:
        return _FALSE
    return ("tree", out_or)


def _tree_str(tree: Any) -> str:
    """Serialise a simplified tree (see `_subst`); nested groups are parenthesised."""
    if isinstance(tree, tuple) and tree and tree[0] == "tree":
        conjs = []
        for conj in tree[1]:
            items = []
            for x in conj:
                s = _tree_str(x)
                items.append(f"({s})" if isinstance(x, tuple) and x and x[0] == "tree" else s)
            conjs.append(" and ".join(items))
        return " or ".join(conjs)
    lhs, op, rhs = tree
    return f"{_node_str(lhs)} {op.value} {_node_str(rhs)}"


def _marker_for(marker: Optional[Marker], extra: Optional[str]) -> Any:
    """True/False, or the residual marker string, for `marker` given `extra`."""
    if marker is None:
        return _TRUE
    res = _subst(marker._markers, extra)
    if res is _TRUE or res is _FALSE:
        return res
    s = _tree_str(res)
    try:
        return str(Marker(s))
    except Exception:  # pragma: no cover - defensive
        return s


def _mentions_extra(markers: Any) -> bool:
    if isinstance(markers, tuple):
        return _is_extra_var(markers[0]) or _is_extra_var(markers[2])
    if isinstance(markers, list):
        return any(_mentions_extra(m) for m in markers)
    return False


def _extras_in(markers: Any) -> List[str]:
    out: List[str] = []
    if isinstance(markers, tuple):
        if _is_extra_var(markers[0]) or _is_extra_var(markers[2]):
            other = markers[2] if _is_extra_var(markers[0]) else markers[0]
            out.append(canonicalize_name(str(other.value)))
    elif isinstance(markers, list):
        for m in markers:
            out += _extras_in(m)
    return out


def _spec_from_url(url: str, name: str) -> str:
    """``==VERSION`` for a direct reference to a wheel or sdist file, else ``""``."""
    filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    kv = _version_from_filename(filename, name)
    return f"=={kv[1]}" if kv else ""


def parse_requires(requires_dist: Optional[Iterable[str]], provides_extra: Optional[Iterable[str]],
                   project: Optional[str] = None,
                   ) -> Tuple[List[List[Any]], Dict[str, List[List[Any]]], int]:
    """(base requirements, {extra: requirements}, number of unparsable lines).

    An extra lists only what it adds to the base requirements. An extra that pulls in other
    extras of the same project (``unsloth[colab]`` -> ``unsloth[huggingface]``) gets their
    requirements merged in, as pip would install them.
    """
    me = canonicalize_name(project) if project else None
    base: List[List[Any]] = []
    extras: Dict[str, List[List[Any]]] = {canonicalize_name(e): [] for e in (provides_extra or [])}
    self_refs: Dict[str, List[str]] = {}
    bad = 0
    for line in requires_dist or []:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            bad += 1
            continue
        name = canonicalize_name(req.name)
        spec = _spec_from_url(req.url, name) if req.url else str(req.specifier)
        marker = req.marker
        if marker is None or not _mentions_extra(marker._markers):
            if _interesting(name) and name != me:
                base.append([name, spec, str(marker) if marker is not None else None])
            continue
        in_base = _marker_for(marker, None)
        if in_base is not _FALSE and _interesting(name) and name != me:
            base.append([name, spec, None if in_base is _TRUE else in_base])
        for ex in sorted(set(_extras_in(marker._markers))):
            res = _marker_for(marker, ex)
            extras.setdefault(ex, [])
            if res is _FALSE:
                continue
            if name == me and res is _TRUE and not spec:
                self_refs.setdefault(ex, []).extend(canonicalize_name(e) for e in req.extras)
                continue
            if not _interesting(name):
                continue
            entry = [name, spec, None if res is _TRUE else res]
            if in_base is not _FALSE and entry[2] == (None if in_base is _TRUE else in_base):
                continue  # already unconditional
            extras[ex].append(entry)

    def _expand(ex: str, seen: set) -> List[List[Any]]:
        rows = list(extras.get(ex, []))
        for other in self_refs.get(ex, []):
            if other not in seen:
                seen.add(other)
                rows += _expand(other, seen)
        return rows

    flat = {ex: _expand(ex, {ex}) for ex in extras}
    base_keys = {json.dumps(r) for r in base}

    def _dedupe(rows: List[List[Any]], drop: Iterable[str] = ()) -> List[List[Any]]:
        seen, out = set(drop), []
        for r in rows:
            k = json.dumps(r)
            if k not in seen:
                seen.add(k)
                out.append(r)
        return sorted(out, key=lambda r: (r[0], r[1], r[2] or ""))

    return (_dedupe(base),
            {k: _dedupe(v, base_keys) for k, v in sorted(flat.items())},
            bad)


def build_record(name: str, ver: str, rec: Dict[str, Any], meta: Optional[Dict[str, Any]],
                 failure: Optional[str]) -> Dict[str, Any]:
    out: Dict[str, Any] = {"source": f"pypi:{name}=={ver}"}
    if meta is not None:
        md = meta["metadata"]
        base, extras, bad = parse_requires(md.get("requires_dist"), md.get("provides_extra"), name)
        out["requires_python"] = _norm_requires_python(md.get("requires_python"))
        out["requires"] = base
        if extras:
            out["extras"] = extras
        if not meta["target"].startswith("cp311-linux"):
            parts = meta["wheel"][:-4].split("-") if meta["wheel"].endswith(".whl") else []
            out["wheel_tag"] = "-".join(parts[-3:]) if len(parts) >= 5 else meta["target"]
            if not re.search(r"linux|-any$", out["wheel_tag"]):
                out["note"] = ("metadata read from a non-Linux wheel (no Linux or pure-Python "
                               "wheel on the package index); Linux builds may declare other "
                               "dependencies")
        if bad:
            out["note"] = (out.get("note", "") + "; " if out.get("note") else "") + (
                f"{bad} Requires-Dist line(s) could not be parsed and were skipped")
        out["_checked"] = meta.get("fetched")
        return out
    out["requires_python"] = _norm_requires_python(rec.get("requires_python"))
    out["requires"] = None
    live = lambda files: [f for f in files if f not in rec["yanked"]]  # noqa: E731
    if failure is not None:
        out["note"] = "metadata could not be read: " + failure
    elif live(rec["wheels"]):
        out["note"] = "metadata not fetched (run without --offline)"
    elif live(rec["sdists"]):
        out["note"] = ("sdist only on the package index; its metadata needs a build, "
                       "which the generator does not run")
    else:
        out["note"] = "no wheel or sdist on the package index (only legacy formats)"
    return out


# --- output -------------------------------------------------------------------------------


def dumps_table(env: Dict[str, Any]) -> str:
    """Compact, diff-friendly JSON: one line per release."""
    head = {k: v for k, v in env.items() if k != "records"}
    lines = ["{"]
    for k in sorted(head):
        lines.append(f"{json.dumps(k)}: {json.dumps(head[k], ensure_ascii=False)},")
    lines.append('"records": {')
    names = sorted(env["records"])
    for i, name in enumerate(names):
        rel = env["records"][name]
        lines.append(f"{json.dumps(name)}: {{")
        vers = sorted(rel, key=_vkey)
        for j, ver in enumerate(vers):
            body = json.dumps(rel[ver], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            lines.append(f" {json.dumps(ver)}: {body}{',' if j < len(vers) - 1 else ''}")
        lines.append("}" + ("," if i < len(names) - 1 else ""))
    lines.append("}}")
    return "\n".join(lines) + "\n"


def split_extras(records: Dict[str, Dict[str, Any]]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """(records without extras, {name: {version: {extras, source, checked}}})."""
    base: Dict[str, Any] = {}
    extras: Dict[str, Any] = {}
    for name, rels in records.items():
        base[name] = {}
        for ver, rec in rels.items():
            rec = dict(rec)
            ex = rec.pop("extras", None)
            base[name][ver] = rec
            if ex:
                extras.setdefault(name, {})[ver] = {"extras": ex, "source": rec["source"],
                                                    "checked": rec.get("checked")}
    return base, extras


def merge_extras(records: Dict[str, Any], extras_env: Dict[str, Any]) -> Dict[str, Any]:
    out = {n: {v: dict(r) for v, r in rels.items()} for n, rels in records.items()}
    for name, rels in (extras_env.get("records") or {}).items():
        for ver, rec in rels.items():
            if ver in out.get(name, {}):
                out[name][ver]["extras"] = rec["extras"]
    return out


def _strip_checked(rec: Dict[str, Any]) -> Dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in ("checked", "_checked")}


def summarize(old: Dict[str, Dict[str, Any]], new: Dict[str, Dict[str, Any]]) -> List[str]:
    out = []
    for name in sorted(set(old) | set(new)):
        o, n = old.get(name, {}), new.get(name, {})
        added = sorted(set(n) - set(o), key=_vkey)
        removed = sorted(set(o) - set(n), key=_vkey)
        changed = sorted((v for v in set(o) & set(n) if _strip_checked(o[v]) != _strip_checked(n[v])),
                         key=_vkey)
        if not (added or removed or changed):
            continue
        bits = []
        for label, vs in (("added", added), ("removed", removed), ("changed", changed)):
            if vs:
                show = ", ".join(vs[-6:]) if len(vs) <= 6 else f"{len(vs)} ({vs[0]} .. {vs[-1]})"
                bits.append(f"{label} {show}")
        out.append(f"  {name}: " + "; ".join(bits))
    return out


# --- main ---------------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="refresh only these packages")
    ap.add_argument("--jobs", type=int, default=8, help="concurrent pip processes (default 8)")
    ap.add_argument("--batch", type=int, default=12, help="releases per pip call (default 12)")
    ap.add_argument("--offline", action="store_true",
                    help="no network: rebuild the table from the cache")
    ap.add_argument("--pip", help="pip command line to use (default: this Python's pip if >= 25.3)")
    ap.add_argument("--output", type=Path, default=DATA_FILE)
    args = ap.parse_args(list(argv) if argv is not None else None)

    t0 = time.monotonic()
    today = _today()
    prev_env = _read_json(args.output) or {}
    prev: Dict[str, Dict[str, Any]] = prev_env.get("records", {}) if isinstance(prev_env, dict) else {}
    extras_path = args.output.with_name(EXTRAS_FILE.name)
    prev = merge_extras(prev, _read_json(extras_path) or {})
    names = [canonicalize_name(n) for n in (args.only or TRACKED)]
    unknown = [n for n in names if n not in _TRACKED_SET]
    if unknown:
        _log(f"note: {', '.join(unknown)} not in TRACKED; recorded anyway for this run")

    pip: List[str] = [] if args.offline else find_pip(args.pip)

    # 1. listings
    inventories: Dict[str, Dict[str, Dict[str, Any]]] = {}
    list_errors: Dict[str, str] = {}

    def _list(name: str) -> None:
        path = CACHE / "files" / f"{name}.json"
        if args.offline:
            cached = _read_json(path)
            if cached is None:
                list_errors[name] = "no cached listing"
            else:
                inventories[name] = cached["files"]
            return
        try:
            inv = list_files(pip, name)
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
            list_errors[name] = str(exc)
            cached = _read_json(path)
            if cached is not None:
                inventories[name] = cached["files"]
            return
        _write_json(path, {"listed": today, "files": inv})
        inventories[name] = inv

    _log(f"listing files of {len(names)} packages")
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        list(pool.map(_list, names))
    _log(f"  listed in {time.monotonic() - t0:.0f}s")

    # 2. choose releases and wheels
    plan: Dict[str, List[Tuple[str, Optional[Target]]]] = {}
    yanked_skipped: Dict[str, List[str]] = {}
    todo: List[Tuple[str, str, Target]] = []
    for name in names:
        inv = inventories.get(name)
        if inv is None:
            continue
        versions, yanked = select_releases(inv)
        if yanked:
            yanked_skipped[name] = yanked
        plan[name] = []
        for ver in versions:
            choice = choose_target(inv[ver])
            target = choice[0] if choice else None
            plan[name].append((ver, target))
            if (target is not None and not args.offline and not _meta_path(name, ver).exists()
                    and not _failed_path(name, ver).exists()):
                todo.append((name, ver, target))

    # 3. metadata
    fetcher = Fetcher(pip, max(1, args.jobs), max(1, args.batch))
    t1 = time.monotonic()
    fetcher.fetch(todo)
    fetch_time = time.monotonic() - t1

    # 4. records
    new: Dict[str, Dict[str, Any]] = {k: v for k, v in prev.items() if k not in plan}
    for name, rels in plan.items():
        out: Dict[str, Any] = {}
        for ver, target in rels:
            meta = _read_json(_meta_path(name, ver)) if target is not None else None
            failure = fetcher.failures.get((name, ver))
            if failure is None and meta is None and target is not None:
                failed = _read_json(_failed_path(name, ver))
                failure = failed.get("error") if isinstance(failed, dict) else None
            rec = build_record(name, ver, inventories[name][ver], meta, failure)
            fetched = rec.pop("_checked", None)
            old = prev.get(name, {}).get(ver)
            if old is not None and _strip_checked(old) == _strip_checked(rec) and old.get("checked"):
                rec["checked"] = old["checked"]
            else:
                rec["checked"] = fetched or today
            out[ver] = rec
        if not out and name in prev:
            out = prev[name]  # keep what we had rather than dropping a package
        new[name] = out

    changes = summarize(prev, new)
    generated = prev_env.get("generated") if (not changes and prev_env.get("generated")) else today
    env = {
        "table": "packages", "schema": 1, "generated_by": SCRIPT_NAME, "generated": generated,
        "description": DESCRIPTION, "records": new,
    }
    base, extras = split_extras(new)
    env["records"] = base
    text = dumps_table(env)
    extras_text = dumps_table({
        "table": "package_extras", "schema": 1, "generated_by": SCRIPT_NAME, "generated": generated,
        "description": "Requirements each extra adds, per release (see the packages table).",
        "records": extras,
    })
    json.loads(text)  # sanity
    json.loads(extras_text)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    for path, body in ((args.output, text), (extras_path, extras_text)):
        if not path.exists() or path.read_text("utf-8") != body:
            path.write_text(body, "utf-8")

    n_rel = sum(len(v) for v in new.values())
    n_null = sum(1 for v in new.values() for r in v.values() if r.get("requires") is None)
    lines = [
        f"packages.json: {len(new)} packages, {n_rel} releases "
        f"({n_null} without readable metadata), {len(text.encode()) / 1e6:.2f} MB; "
        f"{len(todo)} releases fetched in {fetcher.calls} pip calls ({fetch_time:.0f}s), "
        f"total {time.monotonic() - t0:.0f}s",
    ]
    lines += changes[:60] or ["  no changes"]
    if len(changes) > 60:
        lines.append(f"  ... and {len(changes) - 60} more packages changed")
    for name, err in sorted(list_errors.items()):
        lines.append(f"  listing failed: {name}: {err}")
    for (name, ver), err in sorted(fetcher.failures.items()):
        lines.append(f"  metadata failed: {name}=={ver}: {err}")
    if yanked_skipped:
        lines.append("  yanked releases skipped: " + "; ".join(
            f"{n} {', '.join(v)}" for n, v in sorted(yanked_skipped.items())))
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(sys.argv[1:]))
