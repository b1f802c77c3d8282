"""SL120 vllm-on-gpu-below-compute-capability-7: what it leaves alone."""
from __future__ import annotations

from pathlib import Path

from conftest import findings_of, run_scan


def _scan(tmp_path: Path, files: dict, gpu: str = None):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    result, _ = run_scan(tmp_path, gpu=gpu)
    return findings_of(result, "SL120")


SERVE = "vllm serve Qwen/Qwen2.5-7B-Instruct --dtype half\n"


def test_pascal_gpu_from_the_command_line(tmp_path):
    assert _scan(tmp_path, {"serve.sh": SERVE}, gpu="GTX 1080 Ti") == [
        {"code": "SL120", "path": "serve.sh", "line": 1, "col": 1}]


def test_volta_and_newer_are_not_reported(tmp_path):
    for gpu in ("V100", "T4", "A100-80GB", "RTX 4090"):
        assert _scan(tmp_path, {"serve.sh": SERVE}, gpu=gpu) == [], gpu


def test_cpu_device_is_not_reported(tmp_path):
    files = {"serve.sh": "vllm serve Qwen/Qwen2.5-0.5B-Instruct --device cpu\n"}
    assert _scan(tmp_path, files, gpu="P40") == []


def test_vllm_installed_from_a_url_is_not_reported(tmp_path):
    files = {"serve.sh": SERVE,
             "requirements.txt": "vllm @ https://example.org/wheels/vllm-0.6.3+sm61-cp311-cp311-linux_x86_64.whl\n"}
    assert _scan(tmp_path, files, gpu="P40") == []


def test_unknown_gpu_and_other_engines_are_not_reported(tmp_path):
    assert _scan(tmp_path, {"serve.sh": SERVE}) == []
    files = {"serve.sh": "python -m sglang.launch_server --model-path Qwen/Qwen2.5-7B-Instruct\n"}
    assert _scan(tmp_path, files, gpu="P40") == []


def test_vllm_next_to_a_third_party_index_is_not_reported(tmp_path):
    files = {"serve.sh": SERVE,
             "requirements.txt": "--extra-index-url https://sasha0552.github.io/pascal-pkgs-ci/\nvllm==0.6.4.post1\n"}
    assert _scan(tmp_path, files, gpu="P100") == []


def test_vllm_from_a_pypi_mirror_is_reported(tmp_path):
    files = {"serve.sh": SERVE,
             "requirements.txt": "-i https://pypi.tuna.tsinghua.edu.cn/simple\nvllm==0.4.0\n"}
    assert _scan(tmp_path, files, gpu="P40") == [{"code": "SL120", "path": "serve.sh", "line": 1, "col": 1}]
