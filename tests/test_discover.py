"""Discovery: kinds by name and content, .gitignore, default excludes, symlinks."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from stacklint import discover
from stacklint.discover import kind_by_name
from stacklint.load import sniff


@pytest.mark.parametrize("path,kind", [
    ("requirements.txt", "requirements"), ("requirements-dev.txt", "requirements"),
    ("requirements/cuda.txt", "requirements"), ("requirements/common.in", "requirements"),
    ("constraints.txt", "requirements"), ("dev-requirements.txt", "requirements"),
    ("pyproject.toml", "pyproject"), ("environment.yml", "conda"), ("conda-env.yaml", "conda"),
    ("Dockerfile", "dockerfile"), ("Dockerfile.cuda", "dockerfile"), ("Dockerfile-cu121", "dockerfile"),
    ("vllm.Dockerfile", "dockerfile"), ("Containerfile", "dockerfile"),
    ("docker-compose.yml", "compose"), ("compose.yaml", "compose"),
    ("m/config.json", "hf-config"), ("m/generation_config.json", "hf-generation-config"),
    ("m/tokenizer_config.json", "hf-tokenizer-config"), ("m/special_tokens_map.json", "hf-special-tokens"),
    ("m/adapter_config.json", "hf-adapter-config"), ("m/model.safetensors.index.json", "hf-weights-index"),
    ("m/pytorch_model.bin.index.json", "hf-weights-index"), ("m/chat_template.jinja", "hf-chat-template"),
    ("m/model-00001-of-00002.safetensors", "safetensors"), ("m/tokenizer.json", "model-asset"),
    ("train.yaml", "yaml"), ("ds.json", "json"), ("train.py", "python"), ("run.sh", "shell"),
    ("job.slurm", "shell"), ("README.md", None), ("setup.cfg", None),
])
def test_kind_by_name(path, kind):
    assert kind_by_name(path) == kind


def test_sniff_skips_generic_files_of_no_interest():
    assert sniff("yaml", "name: CI\non: push\n") is None
    assert sniff("yaml", "base_model: Qwen/Qwen2.5-7B\n") == "yaml"
    assert sniff("json", '{"compilerOptions": {}}') is None
    assert sniff("json", '{"zero_optimization": {"stage": 3}}') == "json"
    assert sniff("python", "import os\nprint(1)\n") is None
    assert sniff("python", "from transformers import AutoModel\n") == "python"


def _tree(root: Path, files: dict) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_walk_honours_gitignore_and_default_excludes(tmp_path: Path):
    _tree(tmp_path, {
        ".gitignore": "ignored/\n*.local.txt\n!keep.local.txt\n/rootonly.yaml\n",
        "requirements.txt": "torch\n",
        "ignored/requirements.txt": "x\n",
        "a/requirements.local.txt": "x\n",
        "a/keep.local.txt": "x\n",
        "rootonly.yaml": "model: x\n",
        "sub/rootonly.yaml": "model: x\n",
        ".venv/requirements.txt": "x\n",
        "node_modules/requirements.txt": "x\n",
        "build/Dockerfile": "FROM x\n",
        "sub/.gitignore": "*.json\n",
        "sub/config.json": "{}",
        "config.json": "{}",
    })
    w = discover.walk([str(tmp_path)], cwd=str(tmp_path))
    got = sorted(c.display for c in w.files)
    assert got == ["config.json", "requirements.txt", "sub/rootonly.yaml"]


def test_walk_extra_excludes(tmp_path: Path):
    _tree(tmp_path, {"requirements.txt": "x\n", "third_party/requirements.txt": "x\n"})
    w = discover.walk([str(tmp_path)], cwd=str(tmp_path), excludes=["third_party"])
    assert [c.display for c in w.files] == ["requirements.txt"]


def test_walk_symlink_loop_and_outside_link(tmp_path: Path):
    root = tmp_path / "repo"
    _tree(root, {"a/requirements.txt": "x\n"})
    os.symlink(str(root / "a"), str(root / "a" / "loop"))
    outside = tmp_path / "outside.txt"
    outside.write_text("x\n")
    os.symlink(str(outside), str(root / "requirements.txt"))
    w = discover.walk([str(root)], cwd=str(root))
    assert [c.display for c in w.files] == ["a/requirements.txt"]
    assert any("outside the scan root" in msg for _, msg in w.notes)


def test_display_paths_are_relative_to_cwd(tmp_path: Path):
    _tree(tmp_path, {"proj/requirements.txt": "x\n"})
    w = discover.walk([str(tmp_path / "proj")], cwd=str(tmp_path))
    assert [c.display for c in w.files] == ["proj/requirements.txt"]
