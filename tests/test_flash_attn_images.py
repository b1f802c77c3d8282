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


DEVEL = "FROM nvidia/cuda:{cuda}-devel-ubuntu22.04\nRUN pip install {torch} && pip install flash-attn=={fa} --no-build-isolation\n"


def test_sl133_nvcc_major_differs_from_the_torch_build_that_compiles_flash_attn(tmp_path):
    assert len(_scan(tmp_path, DEVEL.format(cuda="11.8.0", torch="torch==2.4.0", fa="2.5.8"), "SL133")) == 1
    # a cu118 torch in a CUDA 12 image, flash-attn release that never downloads wheels
    text = ("FROM nvidia/cuda:12.1.1-devel-ubuntu22.04\n"
            "RUN pip install torch==2.0.1+cu118 --index-url https://download.pytorch.org/whl/cu118\n"
            "RUN pip install flash-attn==2.0.4 --no-build-isolation\n")
    assert len(_scan(tmp_path, text, "SL133")) == 1


def test_sl133_quiet_when_majors_match_or_a_wheel_is_downloaded(tmp_path):
    for text in (DEVEL.format(cuda="12.4.1", torch="torch==2.4.0", fa="2.5.8"),  # minor mismatch only warns
                 DEVEL.format(cuda="11.8.0", torch="torch==2.3.1", fa="2.5.8"),  # 2.5.8 ships a torch 2.3 / CUDA 12 wheel
                 DEVEL.format(cuda="11.8.0", torch="torch>=2.3", fa="2.5.8"),  # torch not pinned exactly
                 DEVEL.format(cuda="11.8.0", torch="torch==2.4.0", fa="2.5.8").replace("-devel-", "-runtime-")):
        assert _scan(tmp_path, text, "SL133") == [], text


def test_image_tags_state_their_cuda_version():
    from stacklint.build import image_facts

    assert image_facts("nvidia/cuda:11.8.0-cudnn8-devel-ubuntu22.04") == ("11.8", None)
    assert image_facts("nvcr.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04@sha256:00") == ("12.4", None)
    assert image_facts("pytorch/pytorch:2.1.0-cuda12.1-cudnn8-devel") == ("12.1", None)
    assert image_facts("ghcr.io/acme/cuda-tools:1.2") == (None, None)
