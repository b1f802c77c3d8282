"""Parallel parsing changes nothing in the report; work grows linearly with the repository.

Growth is measured in function calls (deterministic), never in wall-clock time.
"""
from __future__ import annotations

import cProfile
import os
import pstats
from pathlib import Path

import pytest

from conftest import CORPUS
from hardening_helpers import write_good_stack


def _project(root: Path, i: int) -> None:
    """One project of a monorepo: pins, an image installing them, a model, scripts, configs."""
    write_good_stack(root)
    (root / "requirements-dev.txt").write_text("-r requirements.txt\npytest>=7\nnumpy>=2 ; python_version >= '3.9'\n")
    (root / "Dockerfile").write_text(
        "FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\n"
        "COPY requirements.txt requirements-dev.txt /app/\n"
        "RUN pip install -r /app/requirements.txt && pip install -r /app/requirements-dev.txt\n")
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "p{i}"\nrequires-python = ">=3.9"\ndependencies = ["peft>=0.7", "accelerate"]\n')
    (root / "train.yaml").write_text(
        f"model_name_or_path: models/q\nstage: sft\nfinetuning_type: lora\nlora_target: q_proj,v_proj\n"
        f"cutoff_len: {1024 + i}\nper_device_train_batch_size: 2\nbf16: true\n")
    (root / "run.sh").write_text("#!/bin/sh\npip install vllm==0.4.0\nvllm serve models/q --tensor-parallel-size 2\n")


def _monorepo(root: Path, n: int) -> Path:
    (root / ".git").mkdir(parents=True)
    for i in range(n):
        _project(root / "projects" / f"p{i:03d}", i)
    return root


def _calls(root: Path) -> int:
    from stacklint import config
    from stacklint.scan import ScanOptions, scan

    old = os.getcwd()
    os.chdir(root)
    try:
        cfg = config.load(None, ".")
        prof = cProfile.Profile()
        prof.enable()
        result, _stack = scan(ScanOptions(["."], cfg, ["ALL"], jobs=1))
        prof.disable()
    finally:
        os.chdir(old)
    assert result.findings  # the projects are not empty of problems
    return pstats.Stats(prof).total_calls  # type: ignore[attr-defined]


def test_work_grows_linearly_with_the_repository(tmp_path: Path) -> None:
    """4x the projects may cost at most ~4x the calls: a join over all install sets or all
    requirements files per file (quadratic) shows up as a ratio far above 4."""
    small = _monorepo(tmp_path / "small", 10)
    large = _monorepo(tmp_path / "large", 40)
    _calls(small)  # knowledge tables and caches warm, as in one long scan
    n_small = _calls(small)
    n_large = _calls(large)
    ratio = n_large / n_small
    assert ratio < 4.3, f"4x the files took {ratio:.2f}x the calls ({n_small} -> {n_large})"


def _cli(root: Path, *extra: str) -> bytes:
    import subprocess
    import sys

    env = dict(os.environ, NO_COLOR="1")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-m", "stacklint", "scan", ".", "--format", "json", "--select", "ALL",
                           "--exit-zero", *extra], cwd=str(root), capture_output=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return proc.stdout


def _hostile_few(root: Path) -> None:
    (root / "bad").mkdir()
    (root / "bad" / "config.json").write_bytes(b"\x00\x01binary\xff")
    (root / "bad" / "requirements.txt").write_bytes(b"torch==2.1\n\xff\xfe\n")
    (root / "bad" / "train.yaml").write_text("model_name_or_path: [unclosed\n")
    (root / "bad" / "deep.json").write_text('{"model_type": ' + "[" * 5000 + "]" * 5000 + "}")
    (root / "bad" / "broken.py").write_text("import transformers\ndef f(:\n")


def test_jobs_do_not_change_the_report(tmp_path: Path) -> None:
    root = _monorepo(tmp_path / "repo", 12)
    _hostile_few(root)
    if CORPUS.is_dir():  # real files too, when the corpus is beside the checkout
        import shutil

        for d in sorted(p for p in CORPUS.iterdir() if p.is_dir())[:30]:
            shutil.copytree(d, root / "corpus" / d.name, symlinks=True)
    one = _cli(root, "--jobs", "1")
    assert b'"findings"' in one
    assert _cli(root, "--jobs", "2") == one
    assert _cli(root, "--jobs", "3") == one
    assert _cli(root) == one  # automatic choice


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_jobs_must_be_a_positive_integer(tmp_path: Path, value: str) -> None:
    from stacklint.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["scan", str(tmp_path), "--jobs", value])
    assert exc.value.code == 2


def _all_positions(doc):  # type: ignore[no-untyped-def]
    pos = doc._positions()
    return pos if isinstance(pos, dict) else pos.all()  # a lazy JSON locator: run it to the end


def test_parse_files_keeps_order_and_content(tmp_path: Path) -> None:
    """The pool returns each file's result in the walk's order, identical to a serial parse."""
    from stacklint import build
    from stacklint.config import Limits
    from stacklint.discover import walk

    root = _monorepo(tmp_path / "repo", 6)
    _hostile_few(root)
    w = walk([str(root)], cwd=str(root))
    serial = build.parse_files(w.files, Limits(), 1)
    pooled = build.parse_files(w.files, Limits(), 2)

    def canonical(obj):  # type: ignore[no-untyped-def]
        # A set's iteration order depends on its insertion history, which a pickle round trip
        # through a worker does not keep: compare sets as sorted lists.
        import dataclasses

        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return (type(obj).__name__, [(f.name, canonical(getattr(obj, f.name))) for f in dataclasses.fields(obj)])
        if isinstance(obj, (set, frozenset)):
            return sorted(repr(canonical(x)) for x in obj)
        if isinstance(obj, dict):
            return sorted((repr(k), canonical(v)) for k, v in obj.items())
        if isinstance(obj, (list, tuple)):
            return [canonical(x) for x in obj]
        return obj

    def comparable(parsed):  # type: ignore[no-untyped-def]
        kind, text, payload, failure = parsed
        if isinstance(payload, list):  # documents: their data and where each value sits
            payload = [(d.path, d.data, _all_positions(d)) if hasattr(d, "data") else d for d in payload]
        return kind, text, repr(canonical(payload)), failure

    assert [comparable(p) for p in pooled] == [comparable(p) for p in serial]
    assert any(p[3] is not None for p in serial)  # the hostile files are reported, not dropped


def test_a_dead_worker_does_not_hang_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker killed mid-scan (out of memory, a crash in a C parser) costs the pool, not the
    scan: the files are parsed in the scanning process instead, with the same result."""
    from stacklint import build
    from stacklint.config import Limits
    from stacklint.discover import walk

    root = _monorepo(tmp_path / "repo", 3)
    w = walk([str(root)], cwd=str(root))
    serial = [repr(p[:2]) + repr(p[3]) for p in build.parse_files(w.files, Limits(), 1)]
    parent = os.getpid()
    real = build.parse_file

    def dies_in_workers(cand, limits):  # type: ignore[no-untyped-def]
        if os.getpid() != parent and cand.relpath.endswith("train.yaml"):
            os._exit(70)
        return real(cand, limits)

    monkeypatch.setattr(build, "parse_file", dies_in_workers)
    pooled = [repr(p[:2]) + repr(p[3]) for p in build.parse_files(w.files, Limits(), 2)]
    assert pooled == serial
