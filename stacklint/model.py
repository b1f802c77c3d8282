"""The stack model: one typed view of every parsed file, with provenance on each value.

Checks read this, never raw files. How files group into one stack:

* An *install set* is what gets installed together: one requirements file with its
  ``-r``/``-c`` includes, one pyproject dependency group, one conda environment, or one
  Dockerfile stage (its ``pip install`` lines and the requirements files they name).
* The *environment of a path* is every install set declared in that path's directory or
  one of its ancestors up to the scan root (including a ``requirements/`` folder of such a
  directory). A model config two directories below a requirements.txt is judged against
  that requirements.txt; two sibling projects do not see each other's pins.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Tuple

from stacklint.findings import Location
from stacklint.parsers.base import Doc, TextFile

if TYPE_CHECKING:  # imported where used: a scan of files that need none of them skips them
    from packaging.markers import Marker
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    from stacklint.parsers.python import PyDoc
    from stacklint.parsers.shell import Command


@dataclass(frozen=True)
class Setting:
    """A value and where it was written."""

    value: Any
    location: Location
    key: str = ""


@dataclass(frozen=True)
class Constraint:
    name: str  # canonical (PEP 503) name
    specifier: SpecifierSet
    raw: str
    location: Location
    origin: str  # requirements | pyproject | conda | dockerfile | script
    extras: Tuple[str, ...] = ()
    marker: Optional[Marker] = None
    url: Optional[str] = None
    local: Optional[str] = None  # local version label, e.g. "cu121" in torch==2.1.0+cu121

    def exact(self) -> Optional[Version]:
        """The version when the constraint pins exactly one release (``==X``, ``===X``)."""
        from packaging.version import InvalidVersion, Version

        specs = list(self.specifier)
        if len(specs) != 1 or specs[0].operator not in ("==", "===") or specs[0].version.endswith(".*"):
            return None
        try:
            return Version(specs[0].version)
        except InvalidVersion:
            return None

    def allows(self, version: str) -> bool:
        from packaging.version import InvalidVersion, Version

        try:
            v = Version(version)
        except InvalidVersion:
            return False
        if self.local:
            v = Version(v.base_version if not v.local else str(v))
        return self.specifier.contains(v, prereleases=True)

    @property
    def bounded(self) -> bool:
        return bool(str(self.specifier))


@dataclass
class InstallSet:
    label: str
    location: Location  # the manifest (or Dockerfile FROM line)
    kind: str  # requirements | pyproject | conda | dockerfile
    constraints: List[Constraint] = field(default_factory=list)
    index_urls: List[Setting] = field(default_factory=list)
    python: List[Setting] = field(default_factory=list)  # value: SpecifierSet
    cuda: List[Setting] = field(default_factory=list)  # value: "12.1"
    platforms: List[Setting] = field(default_factory=list)  # value: "linux/arm64", "osx-arm64", ...
    base_image: Optional[Setting] = None
    files: Tuple[str, ...] = ()  # every file the set was read from (includes)

    def get(self, name: str) -> List[Constraint]:
        return [c for c in self.constraints if c.name == name]

    @property
    def dir(self) -> str:
        return self.location.path.rsplit("/", 1)[0] if "/" in self.location.path else "."


@dataclass(frozen=True)
class Blob:
    """What stacklint knows of a binary model file without reading it: its size, its first
    bytes (at most 512), and for ``.safetensors`` a summary of the JSON header."""

    size: int
    head: bytes
    st_header_len: Optional[int] = None  # the 8-byte little-endian header length
    st_error: Optional[str] = None  # why the safetensors header is unreadable or inconsistent
    st_data_end: Optional[int] = None  # largest data_offsets end named by the header
    # tokenizer.json only: its top-level "pre_tokenizer" / "post_processor" / "decoder" values with
    # the 1-based line of their key, ((key, line, value), ...), and ("merges", line, "pairs" | "strings") for the
    # form of its BPE merges; None for other files or when not readable
    tokenizer_parts: Optional[Tuple[Tuple[str, int, Any], ...]] = None

    @property
    def lfs_pointer(self) -> bool:
        return self.head.startswith(b"version https://git-lfs.github.com/spec/")


@dataclass
class ModelDir:
    """A Hugging Face model (or adapter) directory found in the tree."""

    dir: str
    names: Tuple[str, ...]  # file names present in the directory
    config: Optional[Doc] = None
    generation: Optional[Doc] = None
    tokenizer: Optional[Doc] = None
    special_tokens: Optional[Doc] = None
    adapter: Optional[Doc] = None
    index: Optional[Doc] = None
    chat_template_json: Optional[Doc] = None
    chat_template_file: Optional[TextFile] = None
    failed: Dict[str, str] = field(default_factory=dict)  # file name -> parse error message

    @property
    def model_type(self) -> Optional[str]:
        if self.config is not None and isinstance(self.config.data, dict):
            mt = self.config.data.get("model_type")
            return mt if isinstance(mt, str) else None
        return None

    @property
    def architectures(self) -> List[str]:
        if self.config is not None and isinstance(self.config.data, dict):
            arch = self.config.data.get("architectures")
            if isinstance(arch, list):
                return [a for a in arch if isinstance(a, str)]
        return []

    def any_doc(self) -> Optional[Doc]:
        return self.config or self.tokenizer or self.adapter or self.generation or self.special_tokens


@dataclass
class ModelRef:
    """A model named somewhere in the stack: a hub id or a local path."""

    ref: str
    location: Location
    role: str = "model"  # model | base | adapter | tokenizer | draft
    local: Optional[ModelDir] = None
    checkpoint: Optional[Dict[str, Any]] = None  # knowledge record, when the hub id is known

    @property
    def model_type(self) -> Optional[Tuple[str, Location]]:
        if self.local is not None and self.local.model_type:
            assert self.local.config is not None
            return self.local.model_type, self.local.config.loc("model_type")
        if self.checkpoint and isinstance(self.checkpoint.get("model_type"), str):
            return self.checkpoint["model_type"], self.location
        return None

    def config_value(self, key: str) -> Optional[Tuple[Any, Location]]:
        if self.local is not None and self.local.config is not None and isinstance(self.local.config.data, dict):
            if key in self.local.config.data:
                return self.local.config.data[key], self.local.config.loc(key)
        if self.checkpoint and self.checkpoint.get(key) is not None:
            return self.checkpoint[key], self.location
        return None


@dataclass
class Job:
    """A training or serving job, normalised; ``settings`` use canonical keys."""

    kind: str  # training | serving
    framework: str  # axolotl | llamafactory | torchtune | trl | deepspeed | accelerate | vllm | sglang | tgi | ...
    location: Location
    settings: Dict[str, Setting] = field(default_factory=dict)
    model: Optional[ModelRef] = None
    doc: Optional[Doc] = None
    command: Optional[Command] = None
    env: Dict[str, str] = field(default_factory=dict)
    gpus: Optional[Setting] = None  # number of GPUs made visible to the job, when known
    context: str = ""  # dockerfile | compose | k8s | shell | python | config
    extra: Dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Optional[Setting]:
        return self.settings.get(key)

    def value(self, key: str, default: Any = None) -> Any:
        s = self.settings.get(key)
        return default if s is None else s.value


@dataclass
class Stack:
    root: str  # display path of the scan root
    texts: Dict[str, TextFile] = field(default_factory=dict)
    kinds: Dict[str, str] = field(default_factory=dict)  # display path -> kind
    docs: Dict[str, List[Doc]] = field(default_factory=dict)  # display path -> YAML/JSON docs
    listing: Dict[str, Tuple[str, ...]] = field(default_factory=dict)
    install_sets: List[InstallSet] = field(default_factory=list)
    model_dirs: Dict[str, ModelDir] = field(default_factory=dict)
    models: List[ModelRef] = field(default_factory=list)
    jobs: List[Job] = field(default_factory=list)
    scripts: List[PyDoc] = field(default_factory=list)
    commands: List[Tuple[str, Command]] = field(default_factory=list)  # (path, command)
    # Target hardware, when it can be known: values are "NAME" or "NAME:COUNT" as written
    # (--gpu / [target] gpu, k8s node selectors, SkyPilot accelerators, Slurm --gres).
    gpus: List[Setting] = field(default_factory=list)
    gpu_count: Optional[Setting] = None  # [target] gpu-count
    target_platform: Optional[Setting] = None  # [target] platform, e.g. "linux/aarch64"
    target_python: Optional[Setting] = None  # [target] python, e.g. "3.11"
    failures: Dict[str, Tuple[str, str, int]] = field(default_factory=dict)  # path -> (kind, message, line)
    blobs: Dict[str, Blob] = field(default_factory=dict)  # weights / tokenizer assets: head only
    # display path -> project, in scans large enough to run in batches (stacklint.batch);
    # empty: one project. Joins by file name alone (no path) stay inside a project.
    project: Dict[str, int] = field(default_factory=dict)

    def same_project(self, a: str, b: str) -> bool:
        return not self.project or self.project.get(a) == self.project.get(b)

    # -- queries used by checks -------------------------------------------------
    def environment(self, path: str) -> List[InstallSet]:
        """The install sets that apply to ``path`` (see the module docstring)."""
        # Indexed by the directory each set applies from, so that a lookup costs the depth
        # of the path, not the number of install sets (rebuilt when sets are added).
        sets = self.install_sets
        idx = self.__dict__.get("_env_index")
        if idx is None or idx[0] != len(sets) or (sets and idx[1] is not sets[-1]):
            by_dir: Dict[str, List[int]] = {}
            for i, s in enumerate(sets):
                d = s.dir
                by_dir.setdefault(d, []).append(i)
                if d.rsplit("/", 1)[-1].lower() in ("requirements", "reqs", "requirements.d"):
                    by_dir.setdefault(_parent(d), []).append(i)
            idx = (len(sets), sets[-1] if sets else None, by_dir)
            self.__dict__["_env_index"] = idx
        hits: List[int] = []
        for d in ancestor_dirs(path):
            hits.extend(idx[2].get(d, ()))
        return [sets[i] for i in sorted(set(hits))]

    def training_jobs(self) -> Iterator[Job]:
        return (j for j in self.jobs if j.kind == "training")

    def serving_jobs(self) -> Iterator[Job]:
        return (j for j in self.jobs if j.kind == "serving")

    def of_kind(self, *kinds: str) -> List[str]:
        return [p for p, k in self.kinds.items() if k in kinds]


def _parent(d: str) -> str:
    return d.rsplit("/", 1)[0] if "/" in d else "."


def ancestor_dirs(path: str) -> Sequence[str]:
    """The directories holding ``path``, nearest first, ending with ``.``."""
    parts = path.split("/")[:-1]
    out = []
    while parts:
        out.append("/".join(parts))
        parts.pop()
    out.append(".")
    return out
