"""The pipeline: discover -> parse -> stack model -> checks -> suppress/baseline."""
from __future__ import annotations

import gc
import os
import re
import sys
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple

from stacklint import registry
from stacklint.build import build
from stacklint.config import Config
from stacklint.discover import Walk, display_path, walk
from stacklint.findings import Result, ScanError
from stacklint.model import Setting, Stack
from stacklint.findings import Location
from stacklint.runner import run


@dataclass
class ScanOptions:
    paths: Sequence[str]
    config: Config
    select: Sequence[str] = ()
    extend_select: Sequence[str] = ()
    ignore: Sequence[str] = ()
    gpu: Optional[str] = None
    baseline: Optional[Set[str]] = None
    progress: bool = False
    jobs: Optional[int] = None  # parse processes; None: by machine and scan size
    preview: bool = False  # also run preview rules (see registry.Rule.preview)
    # False: the caller needs only the result, so a large scan may run in batches of projects
    # (stacklint.batch) and return no stack. True (`stack`, `--fix`): one stack of everything.
    keep_stack: bool = True
    batch_min_files: Optional[int] = None  # None: batch.BATCH_MIN_FILES
    batch_files: Optional[int] = None  # None: batch.BATCH_FILES


def repo_root(path: str) -> str:
    d = os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path) or ".")
    start = d
    while True:
        if os.path.exists(os.path.join(d, ".git")):
            return d
        parent = os.path.dirname(d)
        if parent == d:
            return start
        d = parent


_PATHLIKE = re.compile(r"[\w.@+-]*(?:/[\w.@+-]+)+/?")
_REQ_DIRS = ("requirements", "reqs", "requirements.d")


def context_dirs(root: str, files: Sequence[str], max_read: int = 1 << 20) -> Set[str]:
    """The directories read for context when only some files are scanned (pre-commit).

    Proportional to the given files, not to the repository:
    - every directory from the repository root down to each file's directory (their own
      files only: the requirements, pyproject, Dockerfiles and model files that govern it);
    - ``requirements/``, ``reqs/`` and ``requirements.d/`` folders in those directories
      (targets of ``-r`` includes);
    - directories inside the repository that a given file names by a relative path
      (``model_name_or_path: ./out/qwen``), resolved from the file's directory and the
      root, with their ancestors.
    A finding that joins a given file with a file outside this context (a root
    requirements file with a model directory nobody names) shows up in the full scan only.
    """
    root = os.path.abspath(root)
    targets: List[str] = []
    for f in files:
        fabs = os.path.abspath(f)
        fdir = os.path.dirname(fabs)
        targets.append(fdir)
        try:
            with open(fabs, "rb") as fh:
                head = fh.read(max_read).decode("utf-8", "replace")
        except OSError:
            continue
        for m in _PATHLIKE.finditer(head):
            ref = m.group().rstrip("/")
            for base in (fdir, root):
                cand = os.path.normpath(os.path.join(base, ref))
                if cand != root and _under(cand, root) and os.path.isdir(cand):
                    targets.append(cand)
    out: Set[str] = set()
    for t in targets:
        d = t
        while _under(d, root) and d not in out:
            out.add(d)
            for name in _REQ_DIRS:
                sub = os.path.join(d, name)
                if os.path.isdir(sub):
                    out.add(sub)
            if d == root:
                break
            d = os.path.dirname(d)
    return out


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def scan(opts: ScanOptions) -> "tuple[Result, Stack]":
    # A scan allocates millions of small containers that all live until it ends (parsed
    # documents, positions, the stack): the cyclic collector would traverse them again and
    # again for nothing (~15 % of a corpus scan). Nothing a scan builds needs it to be freed.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _scan(opts)
    finally:
        if was_enabled:
            gc.enable()


def _scan(opts: ScanOptions) -> "tuple[Result, Stack]":
    cwd = os.getcwd()
    paths = list(opts.paths) or ["."]
    given_files = [p for p in paths if os.path.isfile(p)]
    # FIFOs, devices, sockets named on the command line: never opened, always reported.
    special = [p for p in paths if os.path.exists(p) and not os.path.isfile(p) and not os.path.isdir(p)]
    only: Optional[Set[str]] = None
    roots = paths
    only_dirs: Optional[Set[str]] = None
    if given_files:
        # Files (as pre-commit passes them): read their context and report what involves
        # at least one of the given files. See context_dirs for what the context is.
        root = repo_root(given_files[0])
        given_dirs = [p for p in paths if os.path.isdir(p)]
        roots = [root] + given_dirs
        only = {display_path(os.path.abspath(p), cwd) for p in given_files}
        if not given_dirs:
            only_dirs = context_dirs(root, given_files)
    cfg = opts.config
    w = walk(roots, cwd=cwd, excludes=cfg.exclude, only_dirs=only_dirs)
    if opts.progress:
        sys.stderr.write(f"\rstacklint: scanning {len(w.files)} files...")
        sys.stderr.flush()
    root_display = display_path(os.path.abspath(roots[0]), cwd)
    project: Optional[Dict[str, int]] = None
    if only is None:
        from stacklint import batch

        threshold = batch.BATCH_MIN_FILES if opts.batch_min_files is None else opts.batch_min_files
        if len(w.files) >= max(threshold, 2):
            projects = batch.plan(w.files, w.dir_listing)
            if len(set(projects)) > 1:
                project = {c.display: p for c, p in zip(w.files, projects)}
    stack: Optional[Stack]
    if project is not None and not opts.keep_stack:
        result = _scan_batches(opts, w, root_display, cwd, project)
        stack = None
    else:
        stack = build(w, root_display, cfg.limits, opts.jobs, project)
        _target(stack, opts, cwd)
        rules = registry.load_for(stack.kinds.values())
        result = run(stack, _select(rules, opts), cfg, only_paths=only, baseline=opts.baseline, scan_root=root_display)
        result.files_scanned = len(stack.kinds) if only is None else len(only)
    for path, msg in w.notes:
        if only is None or path in only:
            result.errors.append(ScanError(path, msg))
    for p in special:
        result.errors.append(ScanError(display_path(os.path.abspath(p), cwd), "not a regular file; skipped"))
    result.errors.sort(key=lambda e: (e.path, e.line or 0, e.message))
    if opts.progress:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
    return result, stack  # type: ignore[return-value]


def _select(rules: Dict[str, "registry.Rule"], opts: ScanOptions) -> List["registry.Rule"]:
    cfg = opts.config
    return registry.select(rules, list(opts.select) or list(cfg.select),
                           list(cfg.extend_select) + list(opts.extend_select),
                           list(cfg.ignore) + list(opts.ignore), preview=opts.preview or cfg.preview)


def _target(stack: Stack, opts: ScanOptions, cwd: str) -> None:
    """The target hardware and platform from --gpu and the configuration."""
    cfg = opts.config
    gpu = opts.gpu or cfg.gpu
    if gpu:
        where = cfg.path or "--gpu"
        stack.gpus.insert(0, Setting(gpu, Location(display_path(where, cwd) if cfg.path and not opts.gpu else "--gpu", 1, 1), "config"))
    if cfg.path:
        where_cfg = Location(display_path(cfg.path, cwd), 1, 1)
        if cfg.gpu_count:
            stack.gpu_count = Setting(cfg.gpu_count, where_cfg, "gpu-count")
        if cfg.platform:
            stack.target_platform = Setting(cfg.platform, where_cfg, "platform")
        if cfg.python:
            stack.target_python = Setting(cfg.python, where_cfg, "python")


# -- batches -------------------------------------------------------------------------------

# What a batch worker needs, set before the pool forks (inherited, never pickled).
_BATCH_STATE: Optional[Tuple[ScanOptions, Walk, str, str, Dict[str, int], List["registry.Rule"]]] = None


def _scan_batches(opts: ScanOptions, w: Walk, root_display: str, cwd: str, project: Dict[str, int]) -> Result:
    """Scan project by project (stacklint.batch): the same findings as one stack of everything,
    with the memory of one batch per process, and batches spread over the usable cores."""
    global _BATCH_STATE
    from stacklint import batch
    from stacklint.build import worker_count

    # the families that can judge any file of the scan (a generic file keeps or loses its kind
    # when read, never gains another), selected once for every batch
    rules = registry.load_for({c.kind for c in w.files})
    selected = _select(rules, opts)
    groups = batch.batches([project[c.display] for c in w.files], opts.batch_files or batch.BATCH_FILES)
    _BATCH_STATE = (opts, w, root_display, cwd, project, selected)
    try:
        n = min(worker_count(len(w.files), opts.jobs), len(groups))
        if n > 1:
            # tables every batch reads: loaded once here and shared by the forked workers
            from stacklint.knowledge import load_table

            for table in ("packages", "architectures", "checkpoints", "hardware", "config_features"):
                try:
                    load_table(table)
                except (OSError, ValueError):
                    pass  # reported, as always, by the checks that need it
        parts: List[Result] = []
        if n > 1:
            from stacklint.build import _pool_context

            ctx = _pool_context()
            if ctx is not None:
                from concurrent.futures import ProcessPoolExecutor
                from concurrent.futures.process import BrokenProcessPool

                try:
                    with ProcessPoolExecutor(n, mp_context=ctx) as pool:
                        parts = list(pool.map(_scan_batch, groups))
                except (OSError, ImportError, BrokenProcessPool):
                    parts = []  # no semaphores, no fork, or a worker died: scan here
        if not parts:
            parts = [_scan_batch(g) for g in groups]
    finally:
        _BATCH_STATE = None
    out = Result()
    seen_f = set()
    seen_e = set()
    for part in parts:
        out.files_scanned += part.files_scanned
        for f in part.findings:
            k = (f.code, f.location.path, f.location.line, f.location.col, f.message)
            if k not in seen_f:
                seen_f.add(k)
                out.findings.append(f)
        for e in part.errors:
            ek = (e.path, e.message, e.line)
            if ek not in seen_e:
                seen_e.add(ek)
                out.errors.append(e)
    out.findings.sort(key=lambda f: f.sort_key())
    return out


def _scan_batch(indices: List[int]) -> Result:
    assert _BATCH_STATE is not None
    opts, w, root_display, cwd, project, selected = _BATCH_STATE
    sub = Walk([w.files[i] for i in indices], w.dir_listing, [])
    stack = build(sub, root_display, opts.config.limits, 1, project)
    _target(stack, opts, cwd)
    result = run(stack, selected, opts.config, baseline=opts.baseline, scan_root=root_display)
    result.files_scanned = len(stack.kinds)
    return result


def rules_for_output() -> dict:
    return registry.load_all()


