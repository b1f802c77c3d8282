"""SL134 torch-wheel-lacks-gpu-architecture: which torch builds and GPUs it judges."""
from __future__ import annotations

from pathlib import Path

from conftest import findings_of, run_scan


def _scan(tmp_path: Path, files: dict, gpu: str = None):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    result, _ = run_scan(tmp_path, gpu=gpu)
    return findings_of(result, "SL134")


HIT = [{"code": "SL134", "path": "requirements.txt", "line": 1, "col": 1}]


def test_local_label_older_than_hopper(tmp_path):
    assert _scan(tmp_path, {"requirements.txt": "torch==2.0.1+cu117\n"}, gpu="H100") == HIT


def test_pypi_default_build(tmp_path):
    # PyPI's 1.12.1 wheel is the CUDA 10.2 build (no sm_80); 2.0.1's is CUDA 11.7 (no sm_90)
    assert _scan(tmp_path, {"requirements.txt": "torch==1.12.1\n"}, gpu="A100-80GB") == HIT
    assert _scan(tmp_path, {"requirements.txt": "torch==2.0.1\n"}, gpu="H100") == HIT


def test_pypi_mirror_is_the_pypi_wheel(tmp_path):
    files = {"requirements.txt": "torch==2.0.1\n-i https://pypi.tuna.tsinghua.edu.cn/simple\n"}
    assert _scan(tmp_path, files, gpu="H100") == HIT


def test_new_enough_builds_are_not_reported(tmp_path):
    for req, gpu in (("torch==2.0.1+cu118\n", "H100"), ("torch==2.1.2\n", "H100"),
                     ("torch==2.0.1+cu117\n", "RTX 4090"),  # sm_86 kernels run on sm_89
                     ("torch==2.0.1+cu117\n", "A100-80GB"), ("torch==2.8.0\n", "RTX 5090"),
                     ("torch==1.12.1+cu102\n", "V100")):
        assert _scan(tmp_path, {"requirements.txt": req}, gpu=gpu) == [], (req, gpu)


def test_index_url_names_the_build(tmp_path):
    files = {"requirements.txt": "--extra-index-url https://download.pytorch.org/whl/cu118\ntorch==2.0.1\n"}
    assert _scan(tmp_path, files, gpu="H100") == []
    files = {"requirements.txt": "--index-url https://download.pytorch.org/whl/cu124\ntorch==2.6.0\n"}
    assert _scan(tmp_path, files, gpu="B200") == [{"code": "SL134", "path": "requirements.txt", "line": 2, "col": 1}]


def test_not_judged(tmp_path):
    # no target GPU, a range, a private index, a CPU index, an AMD GPU
    assert _scan(tmp_path / "a", {"requirements.txt": "torch==2.0.1+cu117\n"}) == []
    assert _scan(tmp_path / "b", {"requirements.txt": "torch>=2.0.1\n"}, gpu="H100") == []
    files = {"requirements.txt": "--index-url https://pypi.example.internal/simple\ntorch==2.0.1\n"}
    assert _scan(tmp_path / "c", files, gpu="H100") == []
    files = {"requirements.txt": "--index-url https://download.pytorch.org/whl/cpu\ntorch==2.0.1\n"}
    assert _scan(tmp_path / "d", files, gpu="H100") == []
    assert _scan(tmp_path / "e", {"requirements.txt": "torch==2.0.1+rocm5.4.2\n"}, gpu="MI300X") == []


def test_conda_environment_is_not_read(tmp_path):
    files = {"environment.yml": "name: x\ndependencies:\n  - python=3.10\n  - pytorch=2.0.1\n"}
    assert _scan(tmp_path, files, gpu="H100") == []


def test_image_that_ships_torch_is_not_judged_for_a_plain_pin(tmp_path):
    files = {"Dockerfile": "FROM pytorch/pytorch:2.0.1-cuda11.8-cudnn8-runtime\nCOPY requirements.txt .\n"
                           "RUN pip install -r requirements.txt\n",
             "requirements.txt": "torch==2.0.1\n"}
    assert _scan(tmp_path, files, gpu="H100") == []
    files["requirements.txt"] = "torch==2.0.1+cu117\n"  # an explicit build is installed over the image's
    assert _scan(tmp_path, files, gpu="H100") == HIT
