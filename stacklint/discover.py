"""Walk the scan roots and say what kind of stack file each path is."""
from __future__ import annotations

import fnmatch
import os
import re
import stat
from dataclasses import dataclass
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

from stacklint.ignore import IgnoreFile, IgnoreStack

DEFAULT_EXCLUDES = (
    ".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__",
    "build", "dist", ".mypy_cache", ".pytest_cache", ".ruff_cache", "site-packages", ".eggs",
)

# Kinds decided by the file name alone.
REQUIREMENTS = "requirements"
PYPROJECT = "pyproject"
CONDA = "conda"
DOCKERFILE = "dockerfile"
COMPOSE = "compose"
HF_CONFIG = "hf-config"
HF_GENERATION = "hf-generation-config"
HF_TOKENIZER = "hf-tokenizer-config"
HF_SPECIAL_TOKENS = "hf-special-tokens"
HF_ADAPTER = "hf-adapter-config"
HF_INDEX = "hf-weights-index"
HF_CHAT_TEMPLATE = "hf-chat-template"
HF_CHAT_TEMPLATE_JSON = "hf-chat-template-json"
SAFETENSORS = "safetensors"
MODEL_ASSET = "model-asset"  # tokenizer.json, tokenizer.model, ... (presence only)
# Kinds that need a look at the content.
YAML = "yaml"
JSON = "json"
PYTHON = "python"
SHELL = "shell"
STACKLINT_CONFIG = "stacklint-config"

MODEL_ASSETS = frozenset({
    "tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt", "vocab.txt",
    "qwen.tiktoken", "tiktoken.model", "tekken.json", "spiece.model", "sentencepiece.bpe.model",
    "added_tokens.json", "pytorch_model.bin", "model.safetensors", "params.json",
    "preprocessor_config.json", "processor_config.json", "consolidated.00.pth",
})

_EXACT: Dict[str, str] = {
    "pyproject.toml": PYPROJECT,
    "stacklint.toml": STACKLINT_CONFIG,
    "Containerfile": DOCKERFILE,
    "Dockerfile": DOCKERFILE,
    "config.json": HF_CONFIG,
    "generation_config.json": HF_GENERATION,
    "tokenizer_config.json": HF_TOKENIZER,
    "special_tokens_map.json": HF_SPECIAL_TOKENS,
    "adapter_config.json": HF_ADAPTER,
    "chat_template.jinja": HF_CHAT_TEMPLATE,
    "chat_template.json": HF_CHAT_TEMPLATE_JSON,
}
_REQ_RE = re.compile(r"^(?:.*[-_.])?(?:requirements|constraints|reqs)(?:[-_.].*)?\.(?:txt|in|pip)$", re.I)
_DOCKER_RE = re.compile(r"^(?:(?:Docker|Container)file(?:[-._].+)?|.+\.(?:docker|container)file)$", re.I)
_COMPOSE_RE = re.compile(r"^(?:docker-)?compose(?:[-._].+)?\.ya?ml$", re.I)
_CONDA_RE = re.compile(r"^(?:environment|conda|env)(?:[-_.].*)?\.ya?ml$", re.I)
_INDEX_RE = re.compile(r".+\.(?:safetensors|bin)\.index\.json$")
# torch checkpoint shards (read like MODEL_ASSETS: size and first bytes only)
_TORCH_SHARD_RE = re.compile(r"^(?:consolidated\.\d+\.pth|pytorch_model-\d+-of-\d+\.bin|adapter_model\.bin)$")


def kind_by_name(relpath: str) -> Optional[str]:
    name = relpath.rsplit("/", 1)[-1]
    kind = _EXACT.get(name)
    if kind:
        return kind
    lower = name.lower()
    if _DOCKER_RE.match(name):
        return DOCKERFILE
    if _REQ_RE.match(lower):
        return REQUIREMENTS
    parent = relpath.rsplit("/", 2)[-2].lower() if "/" in relpath else ""
    if parent in ("requirements", "reqs", "requirements.d") and lower.endswith((".txt", ".in")):
        return REQUIREMENTS
    if _COMPOSE_RE.match(lower):
        return COMPOSE
    if _CONDA_RE.match(lower):
        return CONDA
    if _INDEX_RE.match(name):
        return HF_INDEX
    if lower.endswith(".safetensors"):
        return SAFETENSORS
    if name in MODEL_ASSETS or _TORCH_SHARD_RE.match(name):
        return MODEL_ASSET
    if lower.endswith((".yaml", ".yml")):
        return YAML
    if lower.endswith(".json"):
        return JSON
    if lower.endswith(".py"):
        return PYTHON
    if lower.endswith((".sh", ".bash", ".slurm", ".sbatch")):
        return SHELL
    return None


@dataclass(frozen=True)
class Candidate:
    relpath: str  # '/'-separated, relative to the root it was found under
    abspath: str
    display: str  # path shown to the user (relative to cwd when possible)
    kind: str


@dataclass
class Walk:
    files: List[Candidate]
    dir_listing: Dict[str, Tuple[str, ...]]  # display dir -> names of the files in it
    notes: List[Tuple[str, str]]  # (display path, message) for paths passed over


def display_path(abspath: str, cwd: str) -> str:
    try:
        rel = os.path.relpath(abspath, cwd)
    except ValueError:  # another drive on Windows
        rel = abspath
    return rel.replace(os.sep, "/")


def walk(roots: Sequence[str], *, cwd: str, excludes: Sequence[str] = (),
         use_gitignore: bool = True, max_files: int = 200_000,
         only_dirs: Optional[Set[str]] = None) -> Walk:
    """``only_dirs``: absolute directories to enter below the roots (pre-commit context);
    None enters every directory."""
    files: List[Candidate] = []
    listing: Dict[str, Tuple[str, ...]] = {}
    notes: List[Tuple[str, str]] = []
    seen_dirs: Set[Tuple[int, int]] = set()
    seen_files: Set[str] = set()
    exclude_globs = tuple(DEFAULT_EXCLUDES) + tuple(excludes)
    # One compiled alternation instead of two fnmatch calls per glob and per entry.
    exclude_rx = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in exclude_globs))

    def excluded(rel: str, name: str) -> bool:
        return exclude_rx.match(name) is not None or exclude_rx.match(rel) is not None

    for root in roots:
        root_abs = os.path.abspath(root)
        if os.path.isfile(root_abs):
            rel = os.path.basename(root_abs)
            kind = kind_by_name(rel)
            if root_abs not in seen_files and kind is not None:
                seen_files.add(root_abs)
                files.append(Candidate(rel, root_abs, display_path(root_abs, cwd), kind))
            continue
        if not os.path.isdir(root_abs):
            notes.append((display_path(root_abs, cwd), "no such file or directory"))
            continue
        ignores = IgnoreStack()
        stack: List[Tuple[str, str, IgnoreStack]] = [(root_abs, "", ignores)]
        while stack:
            dabs, drel, ign = stack.pop()
            try:
                st = os.stat(dabs)
            except OSError as exc:
                notes.append((display_path(dabs, cwd), f"cannot read directory: {exc.strerror}"))
                continue
            ident = (st.st_dev, st.st_ino)
            if ident in seen_dirs:
                continue
            seen_dirs.add(ident)
            try:
                entries = sorted(os.scandir(dabs), key=lambda e: e.name)
            except OSError as exc:
                notes.append((display_path(dabs, cwd), f"cannot read directory: {exc.strerror}"))
                continue
            if use_gitignore and any(e.name == ".gitignore" for e in entries):
                try:
                    with open(os.path.join(dabs, ".gitignore"), encoding="utf-8", errors="replace") as fh:
                        ign = _extend(ign, IgnoreFile(drel, fh.read(65536)))
                except OSError:
                    pass
            names: List[str] = []
            subdirs: List[Tuple[str, str]] = []
            for e in entries:
                rel = f"{drel}/{e.name}" if drel else e.name
                try:
                    is_link = e.is_symlink()
                    is_dir = e.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_link:
                    target = os.path.realpath(e.path)
                    if not _inside(target, root_abs):
                        notes.append((display_path(e.path, cwd), "symlink points outside the scan root; not followed"))
                        continue
                    if os.path.isdir(target):
                        continue  # directories are reached through their real path only
                if excluded(rel, e.name) or ign.ignored(rel, is_dir):
                    continue
                if is_dir:
                    if only_dirs is None or e.path in only_dirs:
                        subdirs.append((e.path, rel))
                    continue
                names.append(e.name)
                kind = kind_by_name(rel)
                if kind is None:
                    continue
                try:
                    mode = e.stat(follow_symlinks=True).st_mode
                except OSError as exc:
                    notes.append((display_path(e.path, cwd), f"cannot stat: {exc.strerror}"))
                    continue
                if not stat.S_ISREG(mode):
                    notes.append((display_path(e.path, cwd), "not a regular file; skipped"))
                    continue
                real = os.path.realpath(e.path)
                if real in seen_files:
                    continue
                seen_files.add(real)
                files.append(Candidate(rel, e.path, display_path(e.path, cwd), kind))
                if len(files) >= max_files:
                    notes.append((display_path(dabs, cwd), f"stopped after {max_files} files"))
                    return Walk(files, listing, notes)
            listing[display_path(dabs, cwd)] = tuple(names)
            for sub in reversed(subdirs):
                stack.append((sub[0], sub[1], ign))
    files.sort(key=lambda c: c.display)
    return Walk(files, listing, notes)


def _extend(ign: IgnoreStack, f: IgnoreFile) -> IgnoreStack:
    new = IgnoreStack()
    new.files = ign.files + [f]
    return new


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([path, root]) == root
    except ValueError:
        return False


def iter_parents(display: str) -> Iterator[str]:
    """'a/b/c.json' -> 'a/b', 'a', '.' (display dirs)."""
    parts = display.split("/")[:-1]
    while parts:
        yield "/".join(parts)
        parts.pop()
    yield "."


def dirname(display: str) -> str:
    return display.rsplit("/", 1)[0] if "/" in display else "."


def unique(items: Iterable[str]) -> List[str]:
    return list(dict.fromkeys(items))
