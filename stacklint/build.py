"""Build the Stack from discovered files: parse each once, then join them.

Reading and parsing is a pure function of one file (``parse_file``), so it can run in a
process pool (``jobs``); the results are applied to the stack in the walk's path order, so
the stack, and every finding, are the same whatever the number of workers. Parsers and
``packaging`` are imported only when a file of their kind is present.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from stacklint import discover as K
from stacklint.config import Limits
from stacklint.discover import Candidate, Walk, dirname
from stacklint.findings import Location
from stacklint.load import ReadError, read_blob, read_text, sniff
from stacklint.model import Constraint, InstallSet, ModelDir, Setting, Stack
from stacklint.parsers.base import Doc, LimitExceeded, ParseError, TextFile

if TYPE_CHECKING:
    from stacklint.parsers.dockerfile import DockerDoc
    from stacklint.parsers.requirements import RequirementsDoc
    from stacklint.parsers.shell import Command

_HF_ATTR = {
    K.HF_CONFIG: "config", K.HF_GENERATION: "generation", K.HF_TOKENIZER: "tokenizer",
    K.HF_SPECIAL_TOKENS: "special_tokens", K.HF_ADAPTER: "adapter", K.HF_INDEX: "index",
    K.HF_CHAT_TEMPLATE_JSON: "chat_template_json",
}
_CONDA_RENAMES = {"pytorch": "torch", "pytorch-gpu": "torch", "pytorch-cpu": "torch"}
_CUDA_PKGS = ("cudatoolkit", "pytorch-cuda", "cuda-version", "cuda-toolkit", "cuda")

# A process pool pays for itself (fork, pickling results back: ~40 % more CPU in the
# workers than parsing in place) only on large scans: below this many files, and with one
# usable core, files are parsed in this process. Measured (benchmarks/README.md) on two
# free cores: 8 % faster at 2,600 files, 17 % at 10,500; on a machine whose cores are
# busy with other work, a loss. ``--jobs 1`` opts out.
PARALLEL_MIN_FILES = 2000
_CHUNK = 16


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def build(walk: Walk, root: str, limits: Limits, jobs: Optional[int] = None,
          project: Optional[Dict[str, int]] = None) -> Stack:
    """``jobs``: worker processes for reading and parsing; None picks by the machine and the
    number of files, 1 parses in this process. The result does not depend on it.
    ``project``: display path -> project (``stacklint.batch``) in large scans; joins by file
    name stay inside a project."""
    stack = Stack(root=root, listing=walk.dir_listing, project=project or {})
    req_docs: Dict[str, RequirementsDoc] = _ReqDocs()
    req_docs.project = stack.project
    dockers: List[DockerDoc] = []
    for cand, parsed in zip(walk.files, parse_files(walk.files, limits, jobs)):
        _apply(stack, cand, parsed, req_docs, dockers)
    _model_dirs(stack)
    _requirements_sets(stack, req_docs)
    for path, kind in list(stack.kinds.items()):
        if kind == K.PYPROJECT:
            _pyproject_sets(stack, path)
        elif kind == K.CONDA:
            for doc in stack.docs.get(path, []):
                _conda_set(stack, doc)
    for d in dockers:
        _docker_sets(stack, d, req_docs)
    _script_sets(stack, req_docs)
    if stack.docs or dockers or stack.commands or stack.scripts or stack.model_dirs:
        # Jobs and models come only from these; a repository of requirements files alone
        # does not import the job extractors (and the parsers they import).
        from stacklint import jobs as J

        J.build_jobs(stack, dockers)
    return stack


@lru_cache(maxsize=None)
def _rx(pattern: str, flags: int = 0) -> "re.Pattern[str]":
    """Compiled on first use: compiling every pattern at import slows every start."""
    return re.compile(pattern, flags)


# -- reading and parsing ---------------------------------------------------------

# What parse_file returns for one candidate: (kind, text, payload, failure).
# kind None: not a stack file after all (generic name, content says otherwise), skipped.
# failure: (message, line) when the file could not be read or parsed as its kind.
Parsed = Tuple[Optional[str], Optional[str], Any, Optional[Tuple[str, int]]]
_SKIP: Parsed = (None, None, None, None)


def worker_count(n_files: int, jobs: Optional[int]) -> int:
    if jobs is not None:
        return max(1, jobs)
    if n_files < PARALLEL_MIN_FILES:
        return 1
    return max(1, min(usable_cpus(), 8, n_files // (PARALLEL_MIN_FILES // 2)))


def parse_files(files: Sequence[Candidate], limits: Limits, jobs: Optional[int] = None) -> List[Parsed]:
    """``parse_file`` over ``files``, in their order, in ``jobs`` processes."""
    n = worker_count(len(files), jobs)
    if n > 1:
        pool_ctx = _pool_context()
        if pool_ctx is not None:
            from concurrent.futures import ProcessPoolExecutor
            from concurrent.futures.process import BrokenProcessPool

            try:
                with ProcessPoolExecutor(n, mp_context=pool_ctx, initializer=_worker_init,
                                         initargs=(limits,)) as pool:
                    return list(pool.map(_parse_in_worker, files, chunksize=_CHUNK))
            except (OSError, ImportError, BrokenProcessPool):
                # No semaphores or no fork, or a worker died (killed, out of memory): a dead
                # worker must not hang the scan; parse here, as --jobs 1 would.
                pass
    return [parse_file(c, limits) for c in files]


def _pool_context() -> Any:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    # fork: workers share the imported modules and start in milliseconds; a spawned worker
    # would pay the whole start-up again.
    return multiprocessing.get_context("fork") if "fork" in methods else None


_WORKER_LIMITS: Optional[Limits] = None


def _worker_init(limits: Limits) -> None:
    global _WORKER_LIMITS
    _WORKER_LIMITS = limits


def _parse_in_worker(cand: Candidate) -> Parsed:
    assert _WORKER_LIMITS is not None
    return parse_file(cand, _WORKER_LIMITS)


def parse_file(cand: Candidate, limits: Limits) -> Parsed:
    """Read and parse one file. Never raises: a parser bug is reported against the file."""
    kind = cand.kind
    if kind in (K.SAFETENSORS, K.MODEL_ASSET):
        blob = read_blob(cand.abspath, safetensors=kind == K.SAFETENSORS, max_header=limits.max_file_size)
        return (kind, None, blob, None)
    try:
        text = read_text(cand.abspath, limits.max_file_size)
    except ReadError as exc:
        if kind in (K.YAML, K.JSON, K.PYTHON, K.SHELL) and not exc.limit:
            return _SKIP  # a generic file we could not even sniff is not ours to judge
        return (kind, None, None, (str(exc), 1))
    kind2 = sniff(kind, text)
    if kind2 is None:
        return _SKIP
    try:
        payload = _parse_text(kind2, cand, text, limits)
    except ParseError as exc:
        if kind2 == K.YAML and ("{{" in text or "{%" in text):
            return _SKIP  # Helm or Jinja templates are not YAML until rendered: not ours to judge
        return (kind2, text, None, (exc.message, exc.line))
    except Exception as exc:  # a parser bug must not take the other files' findings down
        return (kind2, text, None, (f"internal: cannot parse as {kind2}: {type(exc).__name__}: {exc}", 1))
    return (kind2, text, payload, None)


def _parse_text(kind: str, cand: Candidate, text: str, limits: Limits) -> Any:
    path = cand.display
    if kind == K.REQUIREMENTS:
        from stacklint.parsers import requirements

        return requirements.parse(path, cand.abspath, text)
    if kind == K.DOCKERFILE:
        from stacklint.parsers import dockerfile

        return dockerfile.parse(path, text)
    if kind == K.PYTHON:
        from stacklint.parsers import python

        return python.parse(path, text, max_bytes=limits.max_file_size)
    if kind == K.SHELL:
        from stacklint.parsers import shell

        return shell.parse_script(text)[0]
    if kind == K.HF_CHAT_TEMPLATE:
        _template_limit(kind, text, None, limits.max_template_size)
        return None  # kept as text
    if kind == K.PYPROJECT or kind == K.STACKLINT_CONFIG:
        return [_toml_doc(path, text)]
    if kind in (K.YAML, K.CONDA, K.COMPOSE):
        from stacklint.parsers import yamlfile

        return yamlfile.parse_all(path, text, max_nodes=limits.max_yaml_nodes, max_depth=limits.max_depth)
    from stacklint.parsers import jsonfile  # JSON kinds

    docs = [jsonfile.parse(path, text, max_depth=limits.max_depth)]
    if kind in _TEMPLATE_KINDS:
        _template_limit(kind, text, docs, limits.max_template_size)
    return docs


def _apply(stack: Stack, cand: Candidate, parsed: Parsed, req_docs: Dict[str, Any],
           dockers: List[Any]) -> None:
    kind, text, payload, failure = parsed
    if kind is None:
        return
    path = cand.display
    stack.kinds[path] = kind
    if kind in (K.SAFETENSORS, K.MODEL_ASSET):
        if payload is not None:
            stack.blobs[path] = payload
        return
    if text is not None:
        stack.texts[path] = TextFile(path, cand.abspath, text)
    if failure is not None:
        stack.failures[path] = (kind, failure[0], failure[1])
        return
    if kind == K.REQUIREMENTS:
        req_docs[path] = payload
    elif kind == K.DOCKERFILE:
        dockers.append(payload)
    elif kind == K.PYTHON:
        stack.scripts.append(payload)
    elif kind == K.SHELL:
        stack.commands.extend((path, c) for c in payload)
        assert text is not None
        _slurm_gpus(stack, path, text)
    elif payload is not None:
        stack.docs[path] = payload


_TEMPLATE_KINDS = (K.HF_CHAT_TEMPLATE, K.HF_TOKENIZER, K.HF_CHAT_TEMPLATE_JSON)


def _template_limit(kind: str, text: str, docs: Optional[List[Doc]], limit: int) -> None:
    """Chat templates are compiled by checks: refuse absurd ones here, as any limit is."""
    if kind == K.HF_CHAT_TEMPLATE:
        size = len(text)
    else:
        data = docs[0].data if docs else None
        tpl = data.get("chat_template") if isinstance(data, dict) else None
        if isinstance(tpl, str):
            size = len(tpl)
        elif isinstance(tpl, list):
            size = sum(len(t.get("template") or "") for t in tpl if isinstance(t, dict)
                       and isinstance(t.get("template") or "", str))
        else:
            size = 0
    if size > limit:
        raise LimitExceeded(f"chat template is {size} characters, over the {limit}-character limit "
                            f"(max-template-size); not checked")


_GRES = r"^#SBATCH\s+--gres[= ]gpu(?::([A-Za-z][\w.-]*))?(?::(\d+))?"


def _slurm_gpus(stack: Stack, path: str, text: str) -> None:
    """`#SBATCH --gres=gpu:a100:4` names the target GPUs of a Slurm job."""
    if "#SBATCH" not in text:
        return
    for m in _rx(_GRES, re.M).finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        name, count = m.group(1), m.group(2)
        value = f"{name}:{count}" if name and count else (name or (f"gpu:{count}" if count else "gpu"))
        stack.gpus.append(Setting(value, Location(path, line, 1), "slurm-gres"))


def _toml_doc(path: str, text: str) -> Doc:
    try:
        import tomllib  # type: ignore[import-not-found]
    except ImportError:  # Python < 3.11
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+), column (\d+)", str(exc))
        raise ParseError(f"invalid TOML: {exc}", int(m.group(1)) if m else 1, int(m.group(2)) if m else 1) from None
    except RecursionError:
        raise LimitExceeded("TOML nested too deeply for this Python to parse") from None
    return Doc(path, data, locate=partial(_toml_positions, text, data))


def _toml_positions(text: str, data: Any) -> Dict[Tuple[Any, ...], Tuple[int, int]]:
    """Approximate positions: each table header and each key/string at its first line."""
    out: Dict[Tuple[Any, ...], Tuple[int, int]] = {(): (1, 1)}
    table: Tuple[Any, ...] = ()
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        m = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", s)
        if m:
            table = tuple(p.strip().strip('"') for p in m.group(1).split("."))
            out.setdefault(table, (n, 1))
            continue
        m = re.match(r'^\s*"?([A-Za-z0-9_.-]+)"?\s*=', line)
        if m:
            key = table + tuple(p.strip('"') for p in m.group(1).split("."))
            out.setdefault(key, (n, line.find(m.group(1)) + 1))
    return out


# -- model directories ----------------------------------------------------------

def _model_dirs(stack: Stack) -> None:
    for path, kind in stack.kinds.items():
        attr = _HF_ATTR.get(kind)
        if attr is None and kind != K.HF_CHAT_TEMPLATE:
            continue
        d = dirname(path)
        md = stack.model_dirs.get(d)
        if md is None:
            md = ModelDir(d, stack.listing.get(d, ()))
            stack.model_dirs[d] = md
        if path in stack.failures:
            md.failed[path.rsplit("/", 1)[-1]] = stack.failures[path][1]
            continue
        if kind == K.HF_CHAT_TEMPLATE:
            md.chat_template_file = stack.texts.get(path)
            continue
        docs = stack.docs.get(path) or []
        if docs and attr:
            setattr(md, attr, docs[0])
    # config.json is a generic name: keep only directories that look like HF models.
    for d in list(stack.model_dirs):
        md = stack.model_dirs[d]
        cfg = md.config
        hf_like = cfg is not None and isinstance(cfg.data, dict) and (
            "model_type" in cfg.data or "architectures" in cfg.data)
        if not hf_like:
            md.config = None
        if md.any_doc() is None and md.chat_template_file is None and not md.failed:
            del stack.model_dirs[d]


# -- install sets ------------------------------------------------------------------

def _constraint(raw: str, loc: Location, origin: str, marker: Optional[str] = None) -> Optional[Constraint]:
    text = raw.strip()
    if not text or text.startswith(("-", ".", "/", "git+", "http:", "https:", "file:")):
        return None
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(text)
    except InvalidRequirement:
        return None
    return _from_requirement(req, text, loc, origin, marker)


def _from_requirement(req: Requirement, raw: str, loc: Location, origin: str,
                      marker: Optional[str] = None) -> Constraint:
    from packaging.markers import InvalidMarker, Marker
    from packaging.utils import canonicalize_name

    local = None
    for spec in req.specifier:
        if "+" in spec.version:
            local = spec.version.split("+", 1)[1]
    m = req.marker
    if m is None and marker:
        try:
            m = Marker(marker)
        except InvalidMarker:
            m = None
    return Constraint(canonicalize_name(req.name), req.specifier, raw, loc, origin,
                      tuple(sorted(req.extras)), m, req.url, local)


def _requirements_sets(stack: Stack, req_docs: Dict[str, RequirementsDoc]) -> None:
    included = set()
    for doc in req_docs.values():
        for target, _line, _c in doc.includes:
            t = _resolve(doc.path, target)
            if t:
                included.add(t)
    for path, doc in req_docs.items():
        if path in included and _is_fragment(path):
            continue
        s = InstallSet(path, Location(path, 1, 1), "requirements")
        _fill_from_requirements(s, path, req_docs, set())
        stack.install_sets.append(s)


def _is_fragment(path: str) -> bool:
    """An included file that is not a top-level requirements file by its own name."""
    name = path.rsplit("/", 1)[-1].lower()
    return not name.startswith("requirements")


def _resolve(from_path: str, target: str) -> Optional[str]:
    if "://" in target or target.startswith("$"):
        return None
    base = dirname(from_path)
    joined = os.path.normpath(os.path.join(base if base != "." else "", target)).replace(os.sep, "/")
    return joined


def _fill_from_requirements(s: InstallSet, path: str, req_docs: Dict[str, RequirementsDoc],
                            seen: set, constraints_only: bool = False) -> None:
    if path in seen or len(seen) > 64:
        return
    from packaging.markers import InvalidMarker, Marker
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.utils import canonicalize_name

    seen.add(path)
    doc = req_docs.get(path)
    if doc is None:
        return
    s.files = s.files + (path,)
    for r in doc.requirements:
        if not r.name:
            continue
        raw = r.raw.split(" #", 1)[0].strip()
        loc = Location(path, r.line, r.col)
        try:
            spec = SpecifierSet(r.specifier)
        except InvalidSpecifier:
            continue
        local = next((sp.version.split("+", 1)[1] for sp in spec if "+" in sp.version), None)
        try:
            marker = Marker(r.marker) if r.marker else None
        except InvalidMarker:
            marker = None
        s.constraints.append(Constraint(canonicalize_name(r.name), spec, raw, loc,
                                        "constraints" if constraints_only else "requirements",
                                        r.extras, marker, r.url, local))
    for url, line in doc.index_urls:
        s.index_urls.append(Setting(url, Location(path, line, 1)))
    for target, _line, is_c in doc.includes:
        t = _resolve(path, target)
        if t:
            _fill_from_requirements(s, t, req_docs, seen, constraints_only or is_c)


def _pyproject_sets(stack: Stack, path: str) -> None:
    docs = stack.docs.get(path) or []
    if not docs or not isinstance(docs[0].data, dict):
        return
    from packaging.utils import canonicalize_name

    doc = docs[0]
    project = doc.data.get("project")
    text = stack.texts[path].text
    if not isinstance(project, dict):
        poetry = doc.get("tool", "poetry", "dependencies")
        if isinstance(poetry, dict):
            s = InstallSet(f"{path} [tool.poetry.dependencies]", doc.loc("tool", "poetry", "dependencies"), "pyproject")
            for name, spec in poetry.items():
                if name.lower() == "python":
                    if isinstance(spec, str):
                        _add_python(s, _poetry_spec(spec), doc.loc("tool", "poetry", "dependencies", name))
                    continue
                ver = spec if isinstance(spec, str) else spec.get("version") if isinstance(spec, dict) else None
                if isinstance(ver, str):
                    c = _constraint(f"{name}{_poetry_spec(ver)}", doc.loc("tool", "poetry", "dependencies", name), "pyproject")
                    if c:
                        s.constraints.append(c)
            stack.install_sets.append(s)
        return
    base = InstallSet(f"{path} [project.dependencies]", doc.loc("project", "dependencies"), "pyproject", files=(path,))
    rp = project.get("requires-python")
    if isinstance(rp, str):
        _add_python(base, rp, doc.loc("project", "requires-python"))
    for dep in project.get("dependencies") or []:
        if isinstance(dep, str):
            c = _constraint(dep, _string_loc(path, text, dep, doc.loc("project", "dependencies")), "pyproject")
            if c:
                base.constraints.append(c)
    stack.install_sets.append(base)
    for group, deps in (project.get("optional-dependencies") or {}).items():
        if not isinstance(deps, list):
            continue
        s = InstallSet(f"{path} [project.optional-dependencies.{group}]",
                       doc.loc("project", "optional-dependencies", group), "pyproject", files=(path,))
        s.python = list(base.python)
        s.constraints = list(base.constraints)
        for dep in deps:
            if isinstance(dep, str):
                c = _constraint(dep, _string_loc(path, text, dep, s.location), "pyproject")
                if c and c.name != canonicalize_name(str(project.get("name", ""))):
                    s.constraints.append(c)
        stack.install_sets.append(s)


def _poetry_spec(spec: str) -> str:
    spec = spec.strip()
    if spec.startswith("^") or spec.startswith("~"):
        return f">={spec.lstrip('^~=')}"
    if spec and spec[0].isdigit():
        return f"=={spec}"
    return "" if spec == "*" else spec


def _string_loc(path: str, text: str, needle: str, fallback: Location) -> Location:
    i = text.find(f'"{needle}"')
    if i < 0:
        i = text.find(f"'{needle}'")
    if i < 0:
        return fallback
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return Location(path, line, col)


def _add_python(s: InstallSet, spec: str, loc: Location) -> None:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        s.python.append(Setting(SpecifierSet(spec), loc, spec))
    except InvalidSpecifier:
        pass


def _conda_set(stack: Stack, doc: Doc) -> None:
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("dependencies"), list):
        return
    s = InstallSet(doc.path, doc.loc(), "conda", files=(doc.path,))
    for pf in data.get("platforms") or []:
        if isinstance(pf, str):
            s.platforms.append(Setting(pf, doc.loc("platforms")))
    for i, dep in enumerate(data["dependencies"]):
        loc = doc.loc("dependencies", i)
        if isinstance(dep, dict) and isinstance(dep.get("pip"), list):
            for j, p in enumerate(dep["pip"]):
                if isinstance(p, str):
                    c = _constraint(p, doc.loc("dependencies", i, "pip", j), "conda")
                    if c:
                        s.constraints.append(c)
            continue
        if not isinstance(dep, str):
            continue
        spec = dep.split("::")[-1].strip()
        m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
        if not m:
            continue
        name, ver = m.group(1).lower(), m.group(2).strip().split(" ")[0]
        if ver and ver[0] == "=" and not ver.startswith("=="):
            ver = "==" + ver[1:].split("=")[0] + (".*" if ver.count(".") < 2 and "*" not in ver else "")
        elif ver and ver[0].isdigit():
            ver = "==" + ver.split("=")[0]
        ver = ver.replace("**", "*")
        if name == "python":
            _add_python(s, ver, loc)
            continue
        if name in _CUDA_PKGS:
            v = re.sub(r"[^0-9.]", "", ver)
            if v:
                s.cuda.append(Setting(v.rstrip("."), loc, dep))
            continue
        c = _constraint(f"{_CONDA_RENAMES.get(name, name)}{ver}", loc, "conda")
        if c:
            s.constraints.append(c)
    stack.install_sets.append(s)


_PIP_VALUE_OPTS = {"-r", "--requirement", "-c", "--constraint", "-i", "--index-url", "--extra-index-url",
                   "-f", "--find-links", "--target", "-t", "--prefix", "--root", "--python-version",
                   "--platform", "--implementation", "--abi", "--trusted-host", "--cache-dir", "--src",
                   "--progress-bar", "--config-settings", "-C", "--global-option", "--install-option",
                   "--upgrade-strategy", "--only-binary", "--no-binary", "--python", "-p", "--index-strategy",
                   "--torch-backend"}


def pip_install_args(cmd: Command) -> Optional[int]:
    """Index of the first argument after ``pip install`` / ``uv pip install`` / ``python -m pip install``."""
    w = cmd.words
    name = w[0].rsplit("/", 1)[-1] if w else ""
    if name in ("pip", "pip3") or re.match(r"^pip3\.\d+$", name):
        i = 1
    elif name.startswith("python") and w[1:3] == ["-m", "pip"]:
        i = 3
    elif name == "uv" and w[1:2] == ["pip"]:
        i = 2
    elif name in ("mamba", "micromamba", "conda"):
        return None
    else:
        return None
    while i < len(w) and w[i].startswith("-"):
        i += 1
    if i < len(w) and w[i] == "install":
        return i + 1
    return None


def add_pip_command(s: InstallSet, cmd: Command, path: str, env: Dict[str, str],
                    req_docs: Dict[str, RequirementsDoc], origin: str) -> None:
    start = pip_install_args(cmd)
    if start is None:
        return
    from stacklint.parsers import dockerfile
    argv = cmd.argv[start:]
    i = 0
    while i < len(argv):
        tok = argv[i]
        text = dockerfile.substitute(tok.text, env)
        loc = Location(path, tok.line, tok.col)
        opt, eq, val = text.partition("=")
        if text.startswith("-"):
            if opt in _PIP_VALUE_OPTS:
                if not eq and i + 1 < len(argv):
                    val = dockerfile.substitute(argv[i + 1].text, env)
                    i += 1
                if opt in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links"):
                    s.index_urls.append(Setting(val, loc, opt))
                elif opt in ("-r", "--requirement", "-c", "--constraint"):
                    target = _match_requirements(val, path, req_docs)
                    if target:
                        _fill_from_requirements(s, target, req_docs, set(s.files), opt in ("-c", "--constraint"))
            i += 1
            continue
        c = _constraint(text, loc, origin)
        if c:
            s.constraints.append(c)
        i += 1


class _ReqDocs(Dict[str, Any]):
    """Requirements documents by display path, with an index by file name."""

    _by_name: Optional[Dict[str, List[str]]] = None
    project: Dict[str, int] = {}

    def named(self, name: str) -> List[str]:
        if self._by_name is None:
            by: Dict[str, List[str]] = {}
            for p in self:
                by.setdefault(p.rsplit("/", 1)[-1], []).append(p)
            self._by_name = by
        return self._by_name.get(name, [])


def _match_requirements(target: str, from_path: str, req_docs: Dict[str, Any]) -> Optional[str]:
    """A Dockerfile's `pip install -r /app/requirements.txt` names a path inside the image;
    match it to the repository file with the same tail nearest to the Dockerfile."""
    tail = target.strip("./").split("/")
    base = dirname(from_path)
    best: Optional[str] = None
    # Every hit ends with the target's file name: look only at files of that name (a scan
    # over all requirements files per Dockerfile line grows with the square of the repo).
    pool = req_docs.named(tail[-1]) if isinstance(req_docs, _ReqDocs) else list(req_docs)
    project = getattr(req_docs, "project", None)
    if project:
        mine = project.get(from_path)
        pool = [p for p in pool if project.get(p) == mine]
    for n in range(len(tail), 0, -1):
        suffix = "/".join(tail[-n:])
        hits = [p for p in pool if p == suffix or p.endswith("/" + suffix)]
        if hits:
            hits.sort(key=lambda p: (not p.startswith(base + "/") and base != ".", len(p)))
            best = hits[0]
            break
    return best


_CUDA_TAG = r"(?:^|[-_:/])cuda[-_:]?(\d+)\.(\d+)"
_CUDA_TAG2 = r"[:-]cu(\d{2,3})(?![0-9])"
_PY_TAG = r"(?:^|/)python:(\d+\.\d+)|[-_]py(?:thon)?(3)\.?(\d{1,2})(?![0-9])"


def image_facts(image: str) -> Tuple[Optional[str], Optional[str]]:
    """(CUDA version, Python version) that an image tag states, when it does."""
    tag = image.split("@")[0]
    cuda = None
    m = _rx(_CUDA_TAG, re.I).search(tag)
    if m and ("nvidia/cuda" in tag or "pytorch" in tag or "cuda" in tag.split(":")[-1]):
        cuda = f"{m.group(1)}.{m.group(2)}"
    else:
        m2 = _rx(_CUDA_TAG2, re.I).search(tag)
        if m2 and len(m2.group(1)) >= 3:
            d = m2.group(1)
            cuda = f"{d[:-1]}.{d[-1]}"
    py = None
    m = _rx(_PY_TAG, re.I).search(tag)
    if m:
        py = m.group(1) or f"{m.group(2)}.{m.group(3)}"
    return cuda, py


def _docker_sets(stack: Stack, d: DockerDoc, req_docs: Dict[str, Any]) -> None:
    for n, st in enumerate(d.stages, 1):
        loc = Location(d.path, st.image_line, st.image_col)
        label = f"{d.path} stage {st.name or n}"
        s = InstallSet(label, loc, "dockerfile", files=(d.path,))
        s.base_image = Setting(st.image, loc)
        cuda, py = image_facts(st.image)
        if cuda:
            s.cuda.append(Setting(cuda, loc, st.image))
        if py:
            _add_python(s, f"=={py}.*", loc)
        if st.platform:
            s.platforms.append(Setting(st.platform, loc))
        env = dict(d.args)
        env.update(st.env)
        for cmd in st.run:
            add_pip_command(s, cmd, d.path, env, req_docs, "dockerfile")
        if s.constraints or s.cuda or s.python:
            stack.install_sets.append(s)


def _script_sets(stack: Stack, req_docs: Dict[str, Any]) -> None:
    by_path: Dict[str, List[Command]] = {}
    for path, cmd in stack.commands:
        by_path.setdefault(path, []).append(cmd)
    for path, cmds in by_path.items():
        s = InstallSet(path, Location(path, 1, 1), "script", files=(path,))
        for cmd in cmds:
            add_pip_command(s, cmd, path, cmd.env, req_docs, "script")
        if s.constraints:
            s.location = s.constraints[0].location
            stack.install_sets.append(s)
