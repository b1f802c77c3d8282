"""The pipeline: discover -> parse -> stack model -> checks -> suppress/baseline."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Optional, Sequence, Set

from stacklint import registry
from stacklint.build import build
from stacklint.config import Config
from stacklint.discover import display_path, walk
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


def scan(opts: ScanOptions) -> "tuple[Result, Stack]":
    cwd = os.getcwd()
    paths = list(opts.paths) or ["."]
    given_files = [p for p in paths if os.path.isfile(p)]
    only: Optional[Set[str]] = None
    roots = paths
    if given_files:
        # Files (as pre-commit passes them): read the whole repository for context and
        # report what involves at least one of the given files.
        root = repo_root(given_files[0])
        roots = [root] + [p for p in paths if os.path.isdir(p)]
        only = {display_path(os.path.abspath(p), cwd) for p in given_files}
    cfg = opts.config
    w = walk(roots, cwd=cwd, excludes=cfg.exclude)
    if opts.progress:
        sys.stderr.write(f"\rstacklint: scanning {len(w.files)} files...")
        sys.stderr.flush()
    root_display = display_path(os.path.abspath(roots[0]), cwd)
    stack = build(w, root_display, cfg.limits)
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
    rules = registry.load_all()
    selected = registry.select(rules, list(opts.select) or list(cfg.select),
                               list(cfg.extend_select) + list(opts.extend_select),
                               list(cfg.ignore) + list(opts.ignore))
    result = run(stack, selected, cfg, only_paths=only, baseline=opts.baseline, scan_root=root_display)
    result.files_scanned = len(stack.kinds) if only is None else len(only)
    for path, msg in w.notes:
        if only is None or path in only:
            result.errors.append(ScanError(path, msg))
    if opts.progress:
        sys.stderr.write("\r\033[K")
        sys.stderr.flush()
    return result, stack


def rules_for_output() -> dict:
    return registry.load_all()


