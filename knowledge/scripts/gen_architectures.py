#!/usr/bin/env python3
"""Generate ``knowledge/data/architectures.json`` and ``knowledge/data/config_features.json``.

Facts are read from the projects' own source at every final release, never from docs:

* transformers: model types = keys of ``CONFIG_MAPPING_NAMES`` (``CONFIG_MAPPING`` before 4.10;
  ``auto_mappings.py`` + ``CONFIG_MAPPING_NAMES.update(...)`` in 5.x), architecture class names =
  values of the ``MODEL_*_MAPPING_NAMES`` auto mappings in ``modeling_auto.py`` (``MODEL_*_MAPPING``
  of config->class pairs before 4.10); RoPE types = keys of ``ROPE_INIT_FUNCTIONS`` /
  ``ROPE_VALIDATION_FUNCTIONS`` plus ``_validate_<type>_rope_parameters`` methods in
  ``modeling_rope_utils.py`` (before that file existed: the types ``LlamaConfig._rope_scaling_validation``
  accepts); quantization methods = values of the ``QuantizationMethod`` enum.
* vLLM: keys of the architecture registry dicts (``_MODEL_REGISTRY`` in ``model_loader.py``,
  ``_MODELS``/``_*_MODELS`` in ``models/__init__.py`` and ``models/registry.py``), leaving out
  ``_PREVIOUSLY_SUPPORTED_MODELS``, ``_OOT_*``, ``_ROCM_*``; quantization methods from
  ``layers/quantization/__init__.py``.
* SGLang: ``EntryClass`` (and ``EntryClassRemapping``) of every top-level module in
  ``sglang/srt/models`` (names resolved the way ``__name__`` would be), plus the early
  ``if arch == "..."`` dispatch in ``model_runner.py`` (0.1.0-0.1.11).

Two ways to get the source, per package:

* a bare git dir (e.g. from the ``fetch`` tool): ``--transformers-git DIR`` / ``--vllm-git DIR`` /
  ``--sglang-git DIR`` or env ``STACKLINT_TRANSFORMERS_GIT`` etc.; release tags ``vX.Y.Z[.postN]``;
  sources cite ``https://github.com/<repo>/blob/<tag>/<path>``.
* otherwise the released distributions, through pip (``pip index versions`` for the release list,
  ``pip download --no-deps`` per release; for a release with no wheel, the sdist is unpacked by
  ``pip download --no-clean``); sources cite ``pypi:<name>==<version>#<path in the distribution>``.
  Nothing is installed or imported; files are parsed with ``ast``.

Per-release extractions are cached (``--cache``, env ``STACKLINT_GEN_CACHE``,
default ``~/.cache/stacklint/gen_architectures``), so a re-run only fetches new releases.
The script prints what changed against the committed files and leaves them untouched when no fact
changed (use ``--force-write`` to rewrite, e.g. to bump ``checked``).

Usage::

    python knowledge/scripts/gen_architectures.py [--only transformers,vllm,sglang]
        [--transformers-git DIR] [--vllm-git DIR] [--sglang-git DIR] [--jobs 3]
"""
from __future__ import annotations

import argparse
import ast
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from packaging.version import InvalidVersion, Version

EXTRACTOR_VERSION = 3  # bump when an extractor changes: invalidates the per-release cache

HERE = Path(__file__).resolve().parent
DATA_DIR = HERE.parent / "data"
OUT_ARCH = DATA_DIR / "architectures.json"
OUT_FEAT = DATA_DIR / "config_features.json"
GENERATED_BY = "knowledge/scripts/gen_architectures.py"

PACKAGES: Dict[str, Dict[str, str]] = {
    # git_prefix: where the importable package lives inside the repository
    "transformers": {"repo": "huggingface/transformers", "git_prefix": "src/", "min": "4.0.0"},
    "vllm": {"repo": "vllm-project/vllm", "git_prefix": "", "min": "0.1.0"},
    "sglang": {"repo": "sgl-project/sglang", "git_prefix": "python/", "min": "0.1.0"},
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Snapshots: one release of one package, readable by path inside the importable package tree
# --------------------------------------------------------------------------------------------
class Snapshot:
    package: str
    version: str

    def read(self, path: str) -> Optional[str]:  # pragma: no cover - interface
        raise NotImplementedError

    def listdir(self, directory: str) -> List[str]:  # pragma: no cover - interface
        """File names (not sub-directories) directly inside ``directory``."""
        raise NotImplementedError

    def source(self, path: str) -> str:  # pragma: no cover - interface
        raise NotImplementedError


class GitSnapshot(Snapshot):
    def __init__(self, git_dir: str, package: str, version: str, tag: str) -> None:
        self.git_dir, self.package, self.version, self.tag = git_dir, package, version, tag
        self.prefix = PACKAGES[package]["git_prefix"]
        self.repo = PACKAGES[package]["repo"]

    def _git(self, *args: str) -> Optional[str]:
        proc = subprocess.run(["git", "--git-dir", self.git_dir, *args], capture_output=True)
        if proc.returncode != 0:
            return None
        return proc.stdout.decode("utf-8", "replace")

    def read(self, path: str) -> Optional[str]:
        return self._git("show", f"{self.tag}:{self.prefix}{path}")

    def listdir(self, directory: str) -> List[str]:
        out = self._git("ls-tree", self.tag, f"{self.prefix}{directory.rstrip('/')}/")
        names = []
        for line in (out or "").splitlines():
            meta, _, name = line.partition("\t")
            if meta.split()[1:2] == ["blob"]:
                names.append(name.rsplit("/", 1)[-1])
        return names

    def source(self, path: str) -> str:
        return f"https://github.com/{self.repo}/blob/{self.tag}/{self.prefix}{path}"


class DistSnapshot(Snapshot):
    """A wheel, an sdist archive or an unpacked sdist directory."""

    def __init__(self, package: str, version: str, location: Path) -> None:
        self.package, self.version, self.location = package, version, location
        self._files: Dict[str, Callable[[], bytes]] = {}
        if location.is_dir():
            for p in location.rglob("*"):
                if p.is_file():
                    rel = p.relative_to(location).as_posix()
                    self._files[rel] = (lambda q=p: q.read_bytes())
        elif location.suffix == ".whl" or location.suffix == ".zip":
            zf = zipfile.ZipFile(location)
            for name in zf.namelist():
                if not name.endswith("/"):
                    self._files[name] = (lambda n=name: zf.read(n))
        else:
            tf = tarfile.open(location)
            for member in tf.getmembers():
                if member.isfile():
                    self._files[member.name] = (lambda m=member: tf.extractfile(m).read())  # type: ignore[union-attr]
        # the importable package may sit under "<name>-<version>/", "src/", "python/" ...
        roots = [n[: -len(f"{package}/__init__.py")] for n in self._files if n.endswith(f"{package}/__init__.py")]
        self.root = min(roots, key=len) if roots else ""
        self.kind = "wheel" if location.suffix == ".whl" else "sdist"

    def read(self, path: str) -> Optional[str]:
        getter = self._files.get(self.root + path)
        return getter().decode("utf-8", "replace") if getter else None

    def listdir(self, directory: str) -> List[str]:
        pre = self.root + directory.rstrip("/") + "/"
        return sorted(n[len(pre):] for n in self._files if n.startswith(pre) and "/" not in n[len(pre):])

    def source(self, path: str) -> str:
        return f"pypi:{self.package}=={self.version}#{path}"


# --------------------------------------------------------------------------------------------
# AST helpers
# --------------------------------------------------------------------------------------------
def _parse(text: Optional[str]) -> Optional[ast.Module]:
    if text is None:
        return None
    try:
        return ast.parse(text)
    except SyntaxError:
        return None


def _assignments(tree: ast.Module) -> Iterable[Tuple[str, ast.AST]]:
    """Top-level ``NAME = value`` / ``NAME: T = value`` and ``NAME.update(value)``."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.value is not None:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    yield target.id, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None and isinstance(node.target, ast.Name):
            yield node.target.id, node.value
        elif (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr == "update"
            and isinstance(node.value.func.value, ast.Name)
        ):
            for arg in node.value.args:
                yield node.value.func.value.id, arg


def _str(node: ast.AST) -> Optional[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _pairs(value: ast.AST) -> Iterable[Tuple[str, ast.AST]]:
    """(key, value-node) pairs of an ``OrderedDict([(k, v), ...])`` / ``{k: v}`` / ``dict(**{...})``
    expression. Keys are string constants; comprehensions are skipped (computed keys)."""
    if isinstance(value, ast.Dict):
        for k, v in zip(value.keys, value.values):
            if k is None:  # **{...}
                yield from _pairs(v)
            elif _str(k) is not None:
                yield _str(k), v  # type: ignore[misc]
    elif isinstance(value, (ast.List, ast.Tuple)):
        for elt in value.elts:
            if isinstance(elt, ast.Tuple) and len(elt.elts) == 2 and _str(elt.elts[0]) is not None:
                yield _str(elt.elts[0]), elt.elts[1]  # type: ignore[misc]
    elif isinstance(value, ast.Call):
        for arg in value.args:
            yield from _pairs(arg)
        for kw in value.keywords:
            if kw.arg is None:
                yield from _pairs(kw.value)


def _name_pairs(value: ast.AST) -> Iterable[Tuple[str, ast.AST]]:
    """``OrderedDict([(ConfigClass, ModelClass), ...])`` (transformers < 4.10)."""
    for node in ast.walk(value):
        if isinstance(node, ast.Tuple) and len(node.elts) == 2 and isinstance(node.elts[0], ast.Name):
            yield node.elts[0].id, node.elts[1]


def _strings(node: ast.AST) -> List[str]:
    if _str(node) is not None:
        return [_str(node)]  # type: ignore[list-item]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [s for e in node.elts for s in _strings(e)]
    return []


def _names(node: ast.AST) -> List[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [s for e in node.elts for s in _names(e)]
    return []


# --------------------------------------------------------------------------------------------
# Extractors: Snapshot -> facts of one release
# --------------------------------------------------------------------------------------------
TF_CONFIG_FILES = ["transformers/models/auto/configuration_auto.py", "transformers/models/auto/auto_mappings.py"]
TF_MODELING_FILES = ["transformers/models/auto/modeling_auto.py", "transformers/models/auto/auto_mappings.py"]
TF_NEW_MAPPING = re.compile(r"^MODEL(_[A-Z0-9]+)*_NAMES$")
TF_OLD_MAPPING = re.compile(r"^MODEL(_[A-Z0-9]+)*_MAPPING$")
TF_ROPE_FILE = "transformers/modeling_rope_utils.py"
TF_LLAMA_CONFIG = "transformers/models/llama/configuration_llama.py"
TF_QUANT_FILE = "transformers/utils/quantization_config.py"


def extract_transformers(snap: Snapshot) -> Dict[str, Any]:
    model_types: Dict[str, str] = {}
    config_class_to_type: Dict[str, str] = {}
    for path in TF_CONFIG_FILES:
        tree = _parse(snap.read(path))
        if tree is None:
            continue
        for name, value in _assignments(tree):
            if name not in ("CONFIG_MAPPING_NAMES", "CONFIG_MAPPING"):
                continue
            for key, val in _pairs(value):
                model_types.setdefault(key, path)
                cls = _str(val) or (val.id if isinstance(val, ast.Name) else None)
                if cls:
                    config_class_to_type.setdefault(cls, key)

    archs: Dict[str, Dict[str, Any]] = {}

    def add(cls: str, model_type: Optional[str], mapping: str, path: str) -> None:
        rec = archs.setdefault(cls, {"path": path, "model_types": [], "mappings": []})
        if model_type and model_type not in rec["model_types"]:
            rec["model_types"].append(model_type)
        if mapping not in rec["mappings"]:
            rec["mappings"].append(mapping)

    for path in TF_MODELING_FILES:
        tree = _parse(snap.read(path))
        if tree is None:
            continue
        for name, value in _assignments(tree):
            if TF_NEW_MAPPING.match(name):
                for key, val in _pairs(value):
                    for cls in _strings(val):
                        add(cls, key, name, path)
            elif TF_OLD_MAPPING.match(name):
                for config_cls, val in _name_pairs(value):
                    for cls in _names(val):
                        add(cls, config_class_to_type.get(config_cls), name, path)

    rope: Dict[str, str] = {}
    tree = _parse(snap.read(TF_ROPE_FILE))
    if tree is not None:
        for name, value in _assignments(tree):
            if name in ("ROPE_INIT_FUNCTIONS", "ROPE_VALIDATION_FUNCTIONS"):
                for key, _ in _pairs(value):
                    rope.setdefault(key, TF_ROPE_FILE)
        for node in tree.body:  # 5.x: RotaryEmbeddingConfigMixin._validate_<type>_rope_parameters
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    m = re.match(r"^_validate_(\w+?)_rope_parameters$", getattr(item, "name", ""))
                    if isinstance(item, ast.FunctionDef) and m:
                        rope.setdefault(m.group(1), TF_ROPE_FILE)
    else:
        tree = _parse(snap.read(TF_LLAMA_CONFIG))
        for node in ast.walk(tree) if tree is not None else []:
            if isinstance(node, ast.FunctionDef) and node.name == "_rope_scaling_validation":
                for sub in ast.walk(node):
                    if isinstance(sub, (ast.List, ast.Tuple, ast.Set)):
                        for elt in sub.elts:
                            if _str(elt):
                                rope.setdefault(_str(elt), TF_LLAMA_CONFIG)  # type: ignore[arg-type]

    quant: Dict[str, str] = {}
    tree = _parse(snap.read(TF_QUANT_FILE))
    for node in tree.body if tree is not None else []:
        if isinstance(node, ast.ClassDef) and node.name == "QuantizationMethod":
            for item in node.body:
                if isinstance(item, ast.Assign) and _str(item.value):
                    quant.setdefault(_str(item.value), TF_QUANT_FILE)  # type: ignore[arg-type]

    return {"model_types": model_types, "architectures": archs, "rope_types": rope, "quant_methods": quant}


VLLM_ARCH_FILES = [
    "vllm/model_executor/models/registry.py",
    "vllm/model_executor/models/__init__.py",
    "vllm/model_executor/model_loader.py",
    "vllm/model_executor/model_loader/__init__.py",
    "vllm/model_executor/model_loader/utils.py",
]
VLLM_REGISTRY_NAME = re.compile(r"^(_[A-Z0-9_]*MODELS|_MODEL_REGISTRY)$")
VLLM_REGISTRY_EXCLUDE = re.compile(r"ROCM|PREVIOUSLY|OOT|UNSUPPORTED|PARTIALLY|^_VLLM_MODELS$")
VLLM_QUANT_FILES = [
    "vllm/model_executor/layers/quantization/__init__.py",
    "vllm/model_executor/quantization_utils/__init__.py",
]
VLLM_QUANT_NAMES = {"_QUANTIZATION_REGISTRY", "_QUANTIZATION_CONFIG_REGISTRY", "QUANTIZATION_METHODS", "QuantizationMethods"}


def _vllm_kind(name: str) -> str:
    kind = name.strip("_").lower()
    for suffix in ("_models", "models", "_registry"):
        if kind.endswith(suffix):
            kind = kind[: -len(suffix)]
            break
    return "models" if kind in ("", "model") else kind


def extract_vllm(snap: Snapshot) -> Dict[str, Any]:
    archs: Dict[str, Dict[str, Any]] = {}
    previously: Dict[str, str] = {}
    for path in VLLM_ARCH_FILES:
        tree = _parse(snap.read(path))
        if tree is None:
            continue
        for name, value in _assignments(tree):
            if name == "_PREVIOUSLY_SUPPORTED_MODELS":
                for key, val in _pairs(value):
                    previously[key] = _str(val) or ""
                continue
            if not VLLM_REGISTRY_NAME.match(name) or VLLM_REGISTRY_EXCLUDE.search(name):
                continue
            kind = _vllm_kind(name)
            for key, _ in _pairs(value):
                rec = archs.setdefault(key, {"path": path, "kinds": []})
                if kind not in rec["kinds"]:
                    rec["kinds"].append(kind)
    quant: Dict[str, str] = {}
    for path in VLLM_QUANT_FILES:
        tree = _parse(snap.read(path))
        if tree is None:
            continue
        for name, value in _assignments(tree):
            if name not in VLLM_QUANT_NAMES:
                continue
            if isinstance(value, ast.Subscript):  # Literal["awq", ...]
                value = value.slice
                index_cls = getattr(ast, "Index", None)  # Python < 3.9 ASTs wrap the slice
                if index_cls is not None and isinstance(value, index_cls):
                    value = value.value  # type: ignore[attr-defined]
            keys = [k for k, _ in _pairs(value)] if isinstance(value, ast.Dict) else _strings(value)
            for key in keys:
                quant.setdefault(key, path)
    return {"architectures": archs, "quant_methods": quant, "previously_supported": previously}


SGLANG_MODELS_DIR = "sglang/srt/models"
SGLANG_RUNNERS = [
    "sglang/srt/managers/router/model_runner.py",
    "sglang/srt/managers/controller/model_runner.py",
    "sglang/srt/model_executor/model_runner.py",
]


def _resolve_class_name(tree: ast.Module, name: str, depth: int = 0) -> str:
    """What ``<name>.__name__`` is at module level: follow ``X = Y`` and ``import Y as X``."""
    if depth > 5:
        return name
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return name
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return _resolve_class_name(tree, node.value.id, depth + 1)
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.asname == name:
                    return alias.name
    return name


def extract_sglang(snap: Snapshot) -> Dict[str, Any]:
    archs: Dict[str, Dict[str, Any]] = {}
    for fname in snap.listdir(SGLANG_MODELS_DIR):
        if not fname.endswith(".py") or fname == "__init__.py":
            continue
        path = f"{SGLANG_MODELS_DIR}/{fname}"
        tree = _parse(snap.read(path))
        if tree is None:
            continue
        for name, value in _assignments(tree):
            if name == "EntryClass":
                for node in ast.walk(value):
                    if isinstance(node, ast.Name):
                        archs.setdefault(_resolve_class_name(tree, node.id), {"path": path})
            elif name == "EntryClassRemapping":
                for node in ast.walk(value):
                    if isinstance(node, ast.Tuple) and node.elts and _str(node.elts[0]):
                        archs.setdefault(_str(node.elts[0]), {"path": path})  # type: ignore[arg-type]
    for path in SGLANG_RUNNERS:  # 0.1.0-0.1.11: `if arch == "LlamaForCausalLM": ...`
        tree = _parse(snap.read(path))
        for node in ast.walk(tree) if tree is not None else []:
            if (
                isinstance(node, ast.Compare)
                and isinstance(node.left, ast.Name)
                and node.left.id == "arch"
                and len(node.ops) == 1
                and isinstance(node.ops[0], ast.Eq)
                and _str(node.comparators[0])
            ):
                archs.setdefault(_str(node.comparators[0]), {"path": path})  # type: ignore[arg-type]
    return {"architectures": archs}


EXTRACTORS: Dict[str, Callable[[Snapshot], Dict[str, Any]]] = {
    "transformers": extract_transformers,
    "vllm": extract_vllm,
    "sglang": extract_sglang,
}


def _sane(package: str, facts: Dict[str, Any]) -> bool:
    if package == "transformers":
        return len(facts["model_types"]) > 10 and len(facts["architectures"]) > 10
    return len(facts["architectures"]) >= 3


# --------------------------------------------------------------------------------------------
# Release lists and fetching
# --------------------------------------------------------------------------------------------
def _final(v: str) -> Optional[Version]:
    try:
        ver = Version(v)
    except InvalidVersion:
        return None
    if ver.is_prerelease or ver.is_devrelease or ver.local:
        return None
    return ver


def git_releases(git_dir: str, package: str) -> Dict[str, str]:
    out = subprocess.run(["git", "--git-dir", git_dir, "tag", "-l"], capture_output=True, text=True, check=True).stdout
    found: Dict[str, str] = {}
    floor = Version(PACKAGES[package]["min"])
    for tag in out.split():
        if not re.match(r"^v?\d+(\.\d+)+(\.post\d+)?$", tag):
            continue
        ver = _final(tag.lstrip("v"))
        if ver is None or ver < floor:
            continue
        found.setdefault(str(ver), tag)
    return found


def pip_yanked(package: str, releases: List[str]) -> List[str]:
    """Which of ``releases`` are yanked: the ones ``pip index versions`` (which hides yanked files)
    does not list."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", package], capture_output=True, text=True, timeout=600
    )
    m = re.search(r"Available versions:\s*(.+)", proc.stdout)
    if not m:
        return []
    listed = {Version(v.strip()) for v in m.group(1).split(",") if _final(v.strip())}
    return [v for v in releases if Version(v) not in listed]


def pip_releases(package: str) -> List[str]:
    """Every version the index lists, yanked ones included (``pip index versions`` hides those, but
    a yanked release is still installable with an exact pin): ask pip for a version that cannot
    exist and read the "from versions:" list of its error."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, f"{package}==0.0.0.dev999999"],
            capture_output=True, text=True, timeout=600,
        )
    m = re.search(r"from versions:\s*([^)]*)\)", proc.stderr + proc.stdout)
    if not m:
        raise RuntimeError(f"could not list the releases of {package}: {proc.stderr.strip()[-500:]}")
    floor = Version(PACKAGES[package]["min"])
    out = []
    for v in m.group(1).split(","):
        ver = _final(v.strip())
        if ver is not None and ver >= floor and ver != Version("0.0.1"):
            out.append(v.strip())
    return out


def _pip_download(package: str, version: str, workdir: Path) -> Path:
    dest = workdir / "dl"
    dest.mkdir(parents=True, exist_ok=True)
    base = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest)]
    proc = subprocess.run(
        base + ["--only-binary", ":all:", f"{package}=={version}"], capture_output=True, text=True, timeout=1800
    )
    for p in dest.iterdir():
        if p.suffix == ".whl":
            return p
    # No wheel for this interpreter: take the sdist. pip prepares its metadata (which may fail for
    # projects that need CUDA to run setup.py); --no-clean keeps the unpacked tree either way.
    build_tmp = workdir / "tmp"
    build_tmp.mkdir(exist_ok=True)
    env = dict(os.environ, TMPDIR=str(build_tmp))
    proc = subprocess.run(
        base + ["--no-binary", ":all:", "--no-build-isolation", "--no-clean", f"{package}=={version}"],
        capture_output=True, text=True, timeout=1800, env=env,
    )
    for p in dest.iterdir():
        if p.name.endswith((".tar.gz", ".zip", ".tar.bz2")):
            return p
    for p in sorted(build_tmp.glob(f"pip-*/{package}_*")):
        if p.is_dir():
            return p
    raise RuntimeError(f"could not download {package}=={version}: {proc.stderr.strip()[-300:]}")


class Fetcher:
    def __init__(self, package: str, git_dir: Optional[str], cache_dir: Path) -> None:
        self.package, self.git_dir = package, git_dir
        self.backend = "git" if git_dir else "pypi"
        self.cache = cache_dir / self.backend / package
        self.cache.mkdir(parents=True, exist_ok=True)
        self.tags = git_releases(git_dir, package) if git_dir else {}

    def releases(self) -> List[str]:
        versions = list(self.tags) if self.git_dir else pip_releases(self.package)
        return sorted(set(versions), key=Version)

    def yanked(self, releases: List[str]) -> Optional[List[str]]:
        return None if self.git_dir else pip_yanked(self.package, releases)

    def facts(self, version: str) -> Tuple[Dict[str, Any], bool]:
        """(facts, from_cache). Facts carry ``source_prefix`` info via a per-path ``sources`` map."""
        cache_file = self.cache / f"{version}.json"
        if cache_file.exists():
            cached = json.loads(cache_file.read_text("utf-8"))
            if cached.get("extractor") == EXTRACTOR_VERSION:
                return cached, True
        if self.git_dir:
            snap: Snapshot = GitSnapshot(self.git_dir, self.package, version, self.tags[version])
            facts = self._extract(snap)
        else:
            with tempfile.TemporaryDirectory(prefix=f"stacklint-{self.package}-") as tmp:
                location = _pip_download(self.package, version, Path(tmp))
                snap = DistSnapshot(self.package, version, location)
                facts = self._extract(snap)
                facts["distribution"] = snap.kind
        if not _sane(self.package, facts):
            raise RuntimeError(f"{self.package}=={version}: extraction found too little; not cached")
        cache_file.write_text(json.dumps(facts, sort_keys=True), "utf-8")
        return facts, False

    def _extract(self, snap: Snapshot) -> Dict[str, Any]:
        facts = EXTRACTORS[self.package](snap)
        paths = set()
        for name, section in facts.items():
            if name == "previously_supported":
                continue
            for val in section.values():
                paths.add(val["path"] if isinstance(val, dict) else val)
        facts["sources"] = {p: snap.source(p) for p in paths if p}
        facts["extractor"] = EXTRACTOR_VERSION
        return facts


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
            last = None if i == len(releases) else releases[i - 1]
            ranges.append([releases[start], last])
            start = None
    return ranges


def build_section(
    releases: List[str],
    per_release: Dict[str, Dict[str, Any]],
    section: str,
    today: str,
    extras: Optional[Callable[[Any], Dict[str, Any]]] = None,
) -> Dict[str, Dict[str, Any]]:
    keys = sorted({k for v in releases for k in per_release[v].get(section, {})})
    out: Dict[str, Dict[str, Any]] = {}
    for key in keys:
        present = [key in per_release[v].get(section, {}) for v in releases]
        ranges = compress(present, releases)
        first = ranges[0][0]
        entry = per_release[first][section][key]
        path = entry["path"] if isinstance(entry, dict) else entry
        rec: Dict[str, Any] = {"ranges": ranges, "source": per_release[first]["sources"][path], "checked": today}
        if extras is not None:
            last_present = [v for v, p in zip(releases, present) if p][-1]
            rec.update(extras(per_release[last_present][section][key]))
        out[key] = rec
    return out


def _dump(obj: Any, indent: int = 0) -> str:
    """JSON with one record (a dict holding "ranges") or one list per line: small, diff-friendly."""
    pad = " " * indent
    if isinstance(obj, dict) and obj and not ("ranges" in obj):
        items = [f'{pad} {json.dumps(k)}: {_dump(v, indent + 1).lstrip()}' for k, v in obj.items()]
        return pad + "{\n" + ",\n".join(items) + "\n" + pad + "}"
    return pad + json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def _facts_only(records: Any) -> Any:
    """Records without their ``checked`` dates, to tell a fact change from a re-check."""
    if isinstance(records, dict):
        return {k: _facts_only(v) for k, v in records.items() if k != "checked"}
    return records


def _diff(old: Any, new: Any, path: str, out: List[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict) and not ("ranges" in new or "ranges" in old):
        for k in sorted(set(old) | set(new)):
            if k not in old:
                out.append(f"+ {path}/{k}: {json.dumps(_facts_only(new[k]))[:160]}")
            elif k not in new:
                out.append(f"- {path}/{k}")
            else:
                _diff(old[k], new[k], f"{path}/{k}", out)
    elif _facts_only(old) != _facts_only(new):
        out.append(f"~ {path}: {json.dumps(_facts_only(old))[:120]} -> {json.dumps(_facts_only(new))[:160]}")


def write_table(path: Path, envelope: Dict[str, Any], force: bool) -> List[str]:
    changes: List[str] = []
    old = None
    if path.exists():
        try:
            old = json.loads(path.read_text("utf-8"))
        except ValueError:
            old = None
    if old is None:
        changes.append(f"new table {path.name}")
    else:
        _diff(old.get("records", {}), envelope["records"], path.stem, changes)
        if old.get("description") != envelope["description"]:
            changes.append(f"~ {path.stem}: description")
    if changes or force:
        path.write_text(_dump(envelope) + "\n", "utf-8")
    return changes


ARCH_DESCRIPTION = (
    "Native support for HF model types and architecture class names, per release, computed from each "
    "project's own source at every final release (see generated_by). records.<package>.<kind>.<key>.ranges "
    "is the sorted list of covered releases in which the key is present, compressed to [first, last] pairs "
    "over records.releases.<package> (last null = still present in the newest covered release). "
    "transformers: model_types = CONFIG_MAPPING_NAMES keys; architectures = classes of the PyTorch "
    "MODEL_*_MAPPING_NAMES auto mappings (extra: model_types, mappings at the last release present). "
    "vllm: architecture registry keys (extra: kinds = registry dict, e.g. text_generation, multimodal, "
    "embedding, transformers_supported = served through the Transformers backend). sglang: EntryClass "
    "names of sglang/srt/models. A key present in the oldest covered release may be older than it. "
    "source = file read at the first release (pypi:<dist>==<version>#<path> when read from the released "
    "distribution through pip). records.yanked.<package>: covered releases the index marks yanked (still "
    "installable with an exact pin, so they are covered). Pre-releases (rc, dev) are not covered."
)
FEAT_DESCRIPTION = (
    "Config-format features that older releases reject, computed from source at every final release, "
    "same ranges encoding as architectures.json. transformers.rope_type: rope_scaling/rope_parameters "
    "'rope_type' (or legacy 'type') values accepted (ROPE_INIT_FUNCTIONS / ROPE_VALIDATION_FUNCTIONS / "
    "_validate_<type>_rope_parameters in modeling_rope_utils.py; before that file existed, what "
    "LlamaConfig._rope_scaling_validation accepts). transformers.quant_method: QuantizationMethod enum "
    "values (config.json quantization_config.quant_method). vllm.quant_method: --quantization / "
    "quant_method values vLLM knows (quantization registry)."
)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for pkg in PACKAGES:
        ap.add_argument(f"--{pkg}-git", default=os.environ.get(f"STACKLINT_{pkg.upper()}_GIT"),
                        help=f"bare git dir of {PACKAGES[pkg]['repo']} (else: released distributions via pip)")
    ap.add_argument("--only", default="transformers,vllm,sglang", help="packages to (re)compute; others are kept")
    ap.add_argument("--cache", default=os.environ.get("STACKLINT_GEN_CACHE", str(Path.home() / ".cache/stacklint/gen_architectures")))
    ap.add_argument("--jobs", type=int, default=3)
    ap.add_argument("--out-dir", default=str(DATA_DIR), help="where to write the two tables (default: knowledge/data)")
    ap.add_argument("--force-write", action="store_true", help="rewrite even if no fact changed (bumps dates)")
    args = ap.parse_args(argv)

    out_arch = Path(args.out_dir) / OUT_ARCH.name
    out_feat = Path(args.out_dir) / OUT_FEAT.name
    started = time.monotonic()
    today = _dt.date.today().isoformat()
    cache = Path(args.cache)
    only = [p.strip() for p in args.only.split(",") if p.strip()]

    old_arch = json.loads(out_arch.read_text("utf-8"))["records"] if out_arch.exists() else {}
    old_feat = json.loads(out_feat.read_text("utf-8"))["records"] if out_feat.exists() else {}
    arch_records: Dict[str, Any] = {"releases": dict(old_arch.get("releases", {})), "yanked": dict(old_arch.get("yanked", {}))}
    feat_records: Dict[str, Any] = {"releases": dict(old_feat.get("releases", {}))}
    for pkg in PACKAGES:
        if pkg not in only:
            if pkg in old_arch:
                arch_records[pkg] = old_arch[pkg]
            if pkg in old_feat:
                feat_records[pkg] = old_feat[pkg]

    gaps: List[str] = []
    notes: List[str] = []
    for pkg in only:
        fetcher = Fetcher(pkg, getattr(args, f"{pkg}_git"), cache)
        releases = fetcher.releases()
        log(f"{pkg}: {len(releases)} final releases {releases[0]} .. {releases[-1]} via {fetcher.backend}")
        per_release: Dict[str, Dict[str, Any]] = {}
        fetched = 0
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(fetcher.facts, v): v for v in releases}
            for fut in as_completed(futures):
                v = futures[fut]
                try:
                    facts, cached = fut.result()
                except Exception as exc:  # a release we cannot read is left out, never guessed
                    gaps.append(f"{pkg}=={v}: {exc}")
                    log(f"  ! {pkg}=={v}: {exc}")
                    continue
                per_release[v] = facts
                if not cached:
                    fetched += 1
                    log(f"  {pkg}=={v} ({facts.get('distribution', fetcher.backend)}): "
                        f"{len(facts.get('architectures', {}))} architectures")
        covered = [v for v in releases if v in per_release]
        log(f"{pkg}: {len(covered)} releases read ({fetched} fetched, {len(covered) - fetched} from cache)")
        arch_records["releases"][pkg] = covered
        feat_records["releases"][pkg] = covered
        yanked = fetcher.yanked(covered)
        if yanked is not None:
            arch_records.setdefault("yanked", {})[pkg] = yanked
        if pkg == "transformers":
            arch_records[pkg] = {
                "model_types": build_section(covered, per_release, "model_types", today),
                "architectures": build_section(
                    covered, per_release, "architectures", today,
                    lambda e: {"model_types": sorted(e["model_types"]), "mappings": sorted(e["mappings"])},
                ),
            }
            feat_records[pkg] = {
                "rope_type": build_section(covered, per_release, "rope_types", today),
                "quant_method": build_section(covered, per_release, "quant_methods", today),
            }
        elif pkg == "vllm":
            arch_records[pkg] = {
                "architectures": build_section(
                    covered, per_release, "architectures", today, lambda e: {"kinds": sorted(e["kinds"])}
                )
            }
            feat_records[pkg] = {"quant_method": build_section(covered, per_release, "quant_methods", today)}
            _check_previously_supported(covered, per_release, arch_records[pkg]["architectures"], notes)
        else:
            arch_records[pkg] = {"architectures": build_section(covered, per_release, "architectures", today)}

    order = ["transformers", "vllm", "sglang", "releases", "yanked"]
    arch_env = {
        "table": "architectures", "schema": 1, "generated_by": GENERATED_BY, "generated": today,
        "description": ARCH_DESCRIPTION,
        "records": {k: arch_records[k] for k in order if k in arch_records},
    }
    feat_env = {
        "table": "config_features", "schema": 1, "generated_by": GENERATED_BY, "generated": today,
        "description": FEAT_DESCRIPTION,
        "records": {k: feat_records[k] for k in order if k in feat_records},
    }
    changed = write_table(out_arch, arch_env, args.force_write) + write_table(out_feat, feat_env, args.force_write)
    for line in changed[:300]:
        print(line)
    if len(changed) > 300:
        print(f"... and {len(changed) - 300} more changes")
    if not changed:
        print("no fact changed" + ("; files rewritten (--force-write)" if args.force_write else "; files left as they were"))
    for pkg in PACKAGES:
        if pkg in arch_records:
            counts = ", ".join(f"{len(v)} {k}" for k, v in arch_records[pkg].items())
            rel = arch_records["releases"].get(pkg, [])
            print(f"{pkg}: {counts}; {len(rel)} releases {rel[0] if rel else ''}..{rel[-1] if rel else ''}")
    for n in notes:
        print(f"note: {n}")
    for g in gaps:
        print(f"gap: {g}")
    print(f"done in {time.monotonic() - started:.0f}s")
    return 0


def _check_previously_supported(
    releases: List[str], per_release: Dict[str, Dict[str, Any]], archs: Dict[str, Any], notes: List[str]
) -> None:
    """vLLM's own ``_PREVIOUSLY_SUPPORTED_MODELS`` (newest release) names the last release of removed
    architectures. Report where the minor release line disagrees with our ranges (read from the
    registry itself, which is what vLLM serves)."""
    if not releases:
        return
    prev = per_release[releases[-1]].get("previously_supported", {})
    for arch, last in sorted(prev.items()):
        rec = archs.get(arch)
        if rec is None:
            continue  # never in a registry dict we read
        ours = rec["ranges"][-1][1]
        if ours is None or (last and Version(ours).release[:2] != Version(last).release[:2]):
            notes.append(
                f"vllm {arch}: its _PREVIOUSLY_SUPPORTED_MODELS says last {last}; the registry source says {rec['ranges']}"
            )


if __name__ == "__main__":
    sys.exit(main())
