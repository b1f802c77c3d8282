"""Large scans run project by project (stacklint.batch): same findings, bounded memory."""
from __future__ import annotations

import os
import shutil
import tracemalloc
from pathlib import Path
from typing import List, Tuple

import pytest

from stacklint import batch
from stacklint.config import Config
from stacklint.discover import walk

TESTS = Path(__file__).resolve().parent.parent


def _scan(root: Path, *, batched: bool, batch_files: int = 1, jobs: int = 1, select=("ALL",), gpu=None):
    from stacklint.scan import ScanOptions, scan

    old = os.getcwd()
    os.chdir(root)
    try:
        result, stack = scan(ScanOptions(["."], Config(), list(select), gpu=gpu, jobs=jobs, preview=True,
                                         keep_stack=not batched, batch_min_files=2, batch_files=batch_files))
    finally:
        os.chdir(old)
    return result, stack


def _key(result) -> Tuple[List[tuple], List[tuple], int]:
    return ([(f.code, f.location.path, f.location.line, f.location.col, f.message, str(f.severity),
              tuple((r.location.path, r.location.line, r.message) for r in f.related)) for f in result.findings],
            [(e.path, e.line, e.message) for e in result.errors], result.files_scanned)


def _projects(root: Path) -> dict:
    w = walk([str(root)], cwd=str(root))
    return {c.display: p for c, p in zip(w.files, batch.plan(w.files, w.dir_listing))}


def _write(root: Path, files: dict) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


_QWEN_CONFIG = ('{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "max_position_embeddings": 32768,'
                ' "num_attention_heads": 28, "num_key_value_heads": 4, "hidden_size": 3584,'
                ' "num_hidden_layers": 28, "vocab_size": 152064, "torch_dtype": "bfloat16"}\n')


def test_units_start_at_the_shallowest_directory_with_stack_files(tmp_path: Path) -> None:
    _write(tmp_path, {
        "a/requirements.txt": "torch==2.3.1\n",
        "a/sub/train.yaml": "model_name_or_path: x\nstage: sft\n",
        "b/requirements.txt": "vllm==0.6.3\n",
        "c/deep/er/requirements.txt": "peft\n",
    })
    p = _projects(tmp_path)
    assert p["a/requirements.txt"] == p["a/sub/train.yaml"]  # below a directory with stack files
    assert len({p["a/requirements.txt"], p["b/requirements.txt"], p["c/deep/er/requirements.txt"]}) == 3


def test_root_files_make_one_project(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "torch\n", "a/requirements.txt": "x\n", "b/requirements.txt": "y\n"})
    assert len(set(_projects(tmp_path).values())) == 1


@pytest.mark.parametrize("files, joined", [
    # a bind mount that escapes the compose file's directory
    ({"deploy/docker-compose.yml": "services:\n  vllm:\n    volumes:\n      - ../models:/models\n",
      "models/q/config.json": "{}\n"}, True),
    # an include that escapes the requirements file's directory
    ({"svc/requirements.txt": "-r ../common/requirements.txt\n", "common/requirements.txt": "torch\n"}, True),
    # a path relative to an ancestor (the repository root a script runs from)
    ({"scripts/train.sh": "deepspeed train.py --deepspeed configs/ds_z3.json\n",
      "configs/ds_z3.json": '{"zero_optimization": {"stage": 3}}\n'}, True),
    # hub ids, URLs, absolute paths and the directories holding the file join nothing
    ({"scripts/serve.sh": "vllm serve Qwen/Qwen2-7B --download-dir /models  # https://x.org/configs/a\n"
                          "cd ../.. && ls ./\n",
      "configs/ds_z3.json": '{"zero_optimization": {"stage": 3}}\n'}, False),
])
def test_units_naming_each_other_by_path_are_one_project(tmp_path: Path, files: dict, joined: bool) -> None:
    _write(tmp_path, files)
    p = _projects(tmp_path)
    a, b = (p[f] for f in files)
    assert (a == b) is joined


def _fixture_union(dst: Path) -> Path:
    """Every bad and good example of the rules and regressions, side by side in one tree."""
    for kind in ("checks", "regressions"):
        for case in sorted((TESTS / kind).iterdir()):
            for side in ("bad", "good"):
                src = case / side
                if src.is_dir():
                    shutil.copytree(src, dst / f"{kind}-{case.name}-{side}", symlinks=True)
    return dst


def test_batched_scan_reports_what_one_stack_reports(tmp_path: Path) -> None:
    root = _fixture_union(tmp_path / "u")
    one, stack = _scan(root, batched=False)
    assert stack is not None and len(set(stack.project.values())) > 50
    assert one.findings  # the bad examples are not silent
    for batch_files, jobs in ((1, 1), (40, 1), (40, 2)):
        many, none = _scan(root, batched=True, batch_files=batch_files, jobs=jobs)
        assert none is None
        assert _key(many) == _key(one), (batch_files, jobs)


def test_joins_across_projects_survive_batching(tmp_path: Path) -> None:
    """A compose service in deploy/ serving ../models/q: its max_model_len is judged against the
    model's config.json in another top-level directory, with one project per batch."""
    _write(tmp_path, {
        "deploy/docker-compose.yml": (
            "services:\n  vllm:\n    image: vllm/vllm-openai:v0.6.3\n"
            "    command: --model /models/q --max-model-len 65536\n"
            "    volumes:\n      - ../models:/models\n"),
        "models/q/config.json": _QWEN_CONFIG,
        "other/requirements.txt": "torch==2.3.1\n",
    })
    one, _ = _scan(tmp_path, batched=False)
    many, _ = _scan(tmp_path, batched=True, batch_files=1)
    assert any(f.location.path == "deploy/docker-compose.yml" for f in one.findings)
    assert _key(many) == _key(one)


def test_image_paths_match_requirements_of_their_own_project(tmp_path: Path) -> None:
    """`pip install -r /app/requirements.txt` in a project without that file does not borrow a
    sibling project's pins."""
    _write(tmp_path, {
        "a/Dockerfile": "FROM python:3.11\nRUN pip install -r /app/requirements.txt\n",
        "b/requirements.txt": "vllm==0.6.3\ntorch==2.3.1\n",
    })
    _, stack = _scan(tmp_path, batched=False)
    docker_sets = [s for s in stack.install_sets if s.kind == "dockerfile"]
    assert all(not s.constraints for s in docker_sets)
    # one project: the image's requirements are found where they are
    _write(tmp_path, {"a/requirements.txt": "torch==2.3.1\n"})
    _, stack = _scan(tmp_path, batched=False)
    pins = {c.location.path for s in stack.install_sets if s.kind == "dockerfile" for c in s.constraints}
    assert pins == {"a/requirements.txt"}


def _peak(root: Path) -> int:
    tracemalloc.start()
    try:
        _scan(root, batched=True, batch_files=30, select=())
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_of_a_batched_scan_does_not_grow_with_the_tree(tmp_path: Path) -> None:
    one = _fixture_union(tmp_path / "one" / "c0")
    four = tmp_path / "four"
    for i in range(4):
        shutil.copytree(one, four / f"c{i}", symlinks=True)
    _peak(one.parent)  # caches and lazily imported modules, as in one long scan
    small = _peak(one.parent)
    large = _peak(four)
    assert large < 1.6 * small, f"4x the files took {large / small:.2f}x the peak memory ({small} -> {large})"


def test_hostile_files_in_batches_change_nothing(tmp_path: Path) -> None:
    """Every hostile case of test_hostile in one tree, one project per batch, in worker processes:
    the report equals that of one stack of everything (a bad file stays in its batch's errors)."""
    from hardening_helpers import write_good_stack
    from test_hostile import CASES

    write_good_stack(tmp_path)
    for name in sorted(CASES):
        sub = tmp_path / "cases" / name
        sub.mkdir(parents=True)
        try:
            CASES[name](sub)
        except pytest.skip.Exception:
            continue
    one, _ = _scan(tmp_path, batched=False)
    many, _ = _scan(tmp_path, batched=True, batch_files=1, jobs=2)
    assert _key(many) == _key(one)
    assert one.errors and not [e for e in one.errors if e.message.startswith("internal:")]
