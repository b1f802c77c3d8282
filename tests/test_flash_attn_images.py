"""SL108 and SL132: flash-attn installed in Docker images that cannot build it."""
from __future__ import annotations

from pathlib import Path

from conftest import findings_of, run_scan


def _scan(tmp_path: Path, text: str, code: str):
    (tmp_path / "Dockerfile").write_text(text)
    result, _ = run_scan(tmp_path)
    return findings_of(result, code)


RUNTIME = "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nRUN pip install torch==2.3.1 && pip install flash-attn==2.5.9.post1 --no-build-isolation\n"


def test_sl108_runtime_and_base_images_have_cuda_home_but_no_nvcc(tmp_path):
    assert len(_scan(tmp_path, RUNTIME, "SL108")) == 1
    assert len(_scan(tmp_path, RUNTIME.replace("-runtime-", "-base-"), "SL108")) == 1


def test_sl108_skips_images_and_stages_that_can_build_or_need_not(tmp_path):
    for text in (RUNTIME.replace("-runtime-", "-devel-"),
                 "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nENV FLASH_ATTENTION_SKIP_CUDA_BUILD=TRUE\n" + RUNTIME.split("\n", 1)[1],
                 "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nRUN apt-get install -y cuda-nvcc-12-1\n" + RUNTIME.split("\n", 1)[1],
                 "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nRUN pip install --find-links https://wheels.example.com/fa/ flash-attn==2.5.9.post1\n",
                 "FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04\nRUN pip install https://github.com/Dao-AILab/flash-attention/releases/download/v2.5.9.post1/flash_attn-2.5.9.post1+cu122torch2.3cxx11abiFALSE-cp310-cp310-linux_x86_64.whl\n"):
        assert _scan(tmp_path, text, "SL108") == [], text


SLIM = "FROM python:3.10-slim\nRUN pip install torch=={torch} && pip install flash-attn=={fa} --no-build-isolation\n"


def test_sl132_no_wheel_for_the_torch_in_an_image_without_cuda(tmp_path):
    assert len(_scan(tmp_path, SLIM.format(torch="2.4.0", fa="2.5.8"), "SL132")) == 1
    assert len(_scan(tmp_path, SLIM.format(torch="2.1.2", fa="2.8.3"), "SL132")) == 1  # 2.8.3: torch 2.4+ only
    # flash-attn before 2.1.2 needs CUDA_HOME even when a wheel exists
    assert len(_scan(tmp_path, SLIM.format(torch="2.0.1", fa="2.0.9"), "SL132")) == 1
    # the CUDA major matters: 2.8.0.post2 ships CUDA 12 wheels only
    text = ("FROM python:3.10-slim\nRUN pip install torch==2.4.1+cu118 --index-url https://download.pytorch.org/whl/cu118\n"
            "RUN pip install flash-attn==2.8.0.post2 --no-build-isolation\n")
    assert len(_scan(tmp_path, text, "SL132")) == 1


def test_sl132_quiet_when_a_wheel_matches_or_the_image_can_compile(tmp_path):
    for text in (SLIM.format(torch="2.4.0", fa="2.6.3"),
                 SLIM.format(torch="2.3.1", fa="2.5.8"),
                 SLIM.format(torch="2.4.0", fa="2.5.8").replace("python:3.10-slim", "nvidia/cuda:12.4.1-devel-ubuntu22.04"),
                 SLIM.format(torch="2.4.0", fa="2.5.8").replace("FROM python:3.10-slim", "FROM python:3.10-slim\nENV CUDA_HOME=/opt/cuda"),
                 "FROM python:3.10-slim\nRUN pip install torch>=2.1 && pip install flash-attn==2.5.8\n",  # torch not pinned exactly
                 "FROM python:3.10-slim\nRUN pip install torch==2.4.0 && pip install 'flash-attn>=2.5'\n",  # admits 2.6.x
                 "FROM python:3.10-slim\nRUN pip install torch==2.4.0+cpu --index-url https://download.pytorch.org/whl/cpu && pip install flash-attn==2.5.8\n"):
        assert _scan(tmp_path, text, "SL132") == [], text
