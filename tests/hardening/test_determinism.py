"""Identical output across runs and regardless of directory listing order; proportional context."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import List

import pytest

from conftest import CORPUS
from hardening_helpers import scan, write_good_stack

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="shared corpus not present")


def _sample(n: int = 40) -> List[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_dir())[:n]


def _copy_in_order(src_dirs: List[Path], dest: Path, reverse: bool) -> None:
    """Create files in forward or reverse order, so directory listing order differs."""
    files = []
    for d in src_dirs:
        for dirpath, _dirs, names in os.walk(d):
            for n in names:
                files.append(Path(dirpath) / n)
    files.sort(reverse=reverse)
    for f in files:
        rel = f.relative_to(CORPUS)
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        if f.is_symlink():
            continue
        shutil.copyfile(f, dest / rel)


@needs_corpus
def test_same_output_across_runs_and_listing_orders(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "repo", tmp_path / "b" / "repo"
    _copy_in_order(_sample(), a, reverse=False)
    _copy_in_order(_sample(), b, reverse=True)
    write_good_stack(a / "zz_good")
    write_good_stack(b / "zz_good")
    first = scan(a).report
    assert scan(a).report == first
    assert scan(b).report == first


def test_precommit_context_is_proportional(tmp_path: Path) -> None:
    """One changed file reads its directory chain, not the repository."""
    from stacklint.config import Config
    from stacklint.scan import ScanOptions, scan as do_scan

    (tmp_path / ".git").mkdir()
    write_good_stack(tmp_path)
    for i in range(200):
        d = tmp_path / "other" / f"p{i}"
        d.mkdir(parents=True)
        (d / "requirements.txt").write_text("torch==2.1.0\n")
        (d / "train.yaml").write_text("model_name_or_path: x\nlora_target: all\n")
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        result, stack = do_scan(ScanOptions(["models/q/config.json"], Config()))
        full, full_stack = do_scan(ScanOptions(["."], Config()))
    finally:
        os.chdir(old)
    assert [f.code for f in result.findings] == ["SL101"]
    assert len(stack.kinds) <= 5 < len(full_stack.kinds)
    # the given file's findings are the full scan's findings that involve it
    mine = [f for f in full.findings if "models/q/config.json" in f.paths()]
    assert [f.sort_key() for f in result.findings] == [f.sort_key() for f in mine]
