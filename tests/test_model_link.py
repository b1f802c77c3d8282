"""Linking a relative model path named in a script to a model directory of the tree."""
from __future__ import annotations

from pathlib import Path

from conftest import run_scan

_CFG = '{"architectures": ["QWenLMHeadModel"], "model_type": "qwen"}\n'


def _local_of_jobs(tmp_path: Path, files: dict) -> list:
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    stack = run_scan(tmp_path)[1]
    return [(j.location.path, j.model.local.dir if j.model and j.model.local else None) for j in stack.training_jobs()]


def test_script_in_a_subfolder_names_a_model_at_the_root(tmp_path):
    # Qwen's finetune/finetune_lora_ds.sh is run from the repository root
    got = _local_of_jobs(tmp_path, {
        "requirements.txt": "transformers==4.32.0\n",
        "Qwen-7B-Chat/config.json": _CFG,
        "finetune/train.sh": "torchrun --nproc_per_node 2 finetune.py --model_name_or_path Qwen-7B-Chat --output_dir out\n"})
    assert got == [("finetune/train.sh", "Qwen-7B-Chat")]


def test_ancestor_without_stack_files_of_its_own_is_not_a_project_root(tmp_path):
    # no file of the stack sits in proj/ or above it: the two may be separate projects of a batched
    # scan, so the name is not resolved there (identical findings with and without batches)
    got = _local_of_jobs(tmp_path, {
        "proj/Qwen-7B-Chat/config.json": _CFG,
        "proj/finetune/train.sh": "torchrun --nproc_per_node 2 finetune.py --model_name_or_path Qwen-7B-Chat --output_dir out\n"})
    assert got == [("proj/finetune/train.sh", None)]


def test_directory_beside_the_script_wins_over_the_root(tmp_path):
    got = _local_of_jobs(tmp_path, {
        "Qwen-7B-Chat/config.json": _CFG,
        "finetune/Qwen-7B-Chat/config.json": _CFG,
        "finetune/train.sh": "torchrun --nproc_per_node 2 finetune.py --model_name_or_path Qwen-7B-Chat --output_dir out\n"})
    assert got == [("finetune/train.sh", "finetune/Qwen-7B-Chat")]


def test_sibling_projects_and_missing_paths_stay_unlinked(tmp_path):
    got = _local_of_jobs(tmp_path, {
        "a/Qwen-7B-Chat/config.json": _CFG,
        "b/train.sh": "torchrun --nproc_per_node 2 finetune.py --model_name_or_path Qwen-7B-Chat --output_dir out\n",
        "c/train.sh": "torchrun --nproc_per_node 2 finetune.py --model_name_or_path ../Qwen-14B --output_dir out\n"})
    assert sorted(got) == [("b/train.sh", None), ("c/train.sh", None)]
