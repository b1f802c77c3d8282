"""SL135 deepspeed-fused-adam-built-without-nvcc: which DeepSpeed configs and images it judges."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import findings_of, run_scan

BAD = Path(__file__).parent / "checks" / "SL135" / "bad"


def _repo(tmp_path: Path, ds: dict = None, docker_extra: str = "", image: str = None) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(BAD, repo)
    (repo / "expected.json").unlink()
    if ds is not None:
        (repo / "ds_config_zero2.json").write_text(json.dumps(ds, indent=2))
    text = (repo / "Dockerfile").read_text()
    if image:
        text = text.replace("nvidia/cuda:12.1.1-runtime-ubuntu22.04", image)
    if docker_extra:
        text = text.replace("RUN pip3 install", docker_extra + "\nRUN pip3 install", 1)
    (repo / "Dockerfile").write_text(text)
    return repo


def _hits(repo: Path):
    result, _ = run_scan(repo)
    return findings_of(result, "SL135")


ADAMW = {"optimizer": {"type": "AdamW", "params": {"lr": "auto"}}, "zero_optimization": {"stage": 2}}


def test_adam_and_adamw_build_fused_adam(tmp_path):
    assert len(_hits(_repo(tmp_path / "a", ADAMW))) == 1
    adam = {"optimizer": {"type": "Adam", "params": {"lr": 1e-5}}, "zero_optimization": {"stage": 3}}
    assert len(_hits(_repo(tmp_path / "b", adam))) == 1
    assert len(_hits(_repo(tmp_path / "c", ADAMW, image="nvidia/cuda:11.8.0-cudnn8-base-ubuntu22.04"))) == 1


def test_configs_that_need_no_compiled_op(tmp_path):
    torch_adam = {"optimizer": {"type": "AdamW", "params": {"lr": "auto", "torch_adam": True}}}
    offload = {"optimizer": {"type": "AdamW", "params": {"lr": "auto"}},
               "zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu"}}}
    no_opt = {"zero_optimization": {"stage": 2}}
    sgd = {"optimizer": {"type": "SGD", "params": {"lr": 0.1}}}
    for i, ds in enumerate((torch_adam, offload, no_opt, sgd)):
        assert _hits(_repo(tmp_path / str(i), ds)) == [], ds


def test_images_that_can_compile_or_ops_prebuilt(tmp_path):
    assert _hits(_repo(tmp_path / "a", ADAMW, image="nvidia/cuda:12.1.1-devel-ubuntu22.04")) == []
    assert _hits(_repo(tmp_path / "b", ADAMW, docker_extra="ENV DS_BUILD_FUSED_ADAM=1")) == []
    assert _hits(_repo(tmp_path / "c", ADAMW, docker_extra="RUN apt-get install -y cuda-nvcc-12-1")) == []


def test_a_stage_without_deepspeed_is_not_the_training_image(tmp_path):
    repo = _repo(tmp_path, ADAMW)
    (repo / "requirements.txt").write_text("vllm==0.6.3\n")
    assert _hits(repo) == []


def test_a_serving_image_sharing_the_requirements_is_skipped(tmp_path):
    repo = _repo(tmp_path, ADAMW)
    text = (repo / "Dockerfile").read_text().replace('CMD ["bash", "finetune.sh"]',
                                                     'CMD ["uvicorn", "app:api", "--host", "0.0.0.0"]')
    (repo / "Dockerfile").write_text(text)
    assert _hits(repo) == []
