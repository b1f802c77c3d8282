"""SL117: transformers 4.38.x logs DeepSpeed's tensor grad norm and cannot save the trainer state."""
from __future__ import annotations

from pathlib import Path

from conftest import run_scan
from stacklint.checks import training as T

_DS = '{"zero_optimization": {"stage": %d}, "train_micro_batch_size_per_gpu": "auto"}\n'
_SH = ("torchrun --nproc_per_node 2 finetune.py --model_name_or_path Qwen/Qwen-7B-Chat --output_dir out \\\n"
       "    --per_device_train_batch_size 2 %s--deepspeed ds.json\n")


def _findings(tmp_path: Path, req: str, stage: int = 2, extra: str = ""):
    files = {"requirements.txt": req, "ds.json": _DS % stage, "train.sh": _SH % extra}
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return list(T.transformers_438_deepspeed_grad_norm(run_scan(tmp_path)[1]))


def test_each_438_patch_with_zero_1_2_3(tmp_path):
    for v in ("4.38.0", "4.38.1", "4.38.2"):
        for stage in (1, 2, 3):
            got = _findings(tmp_path / f"{v}-{stage}", f"transformers=={v}\ndeepspeed\n", stage)
            assert [(f.location.path, f.location.line) for f in got] == [("requirements.txt", 1)], (v, stage)


def test_other_transformers_releases_not_reported(tmp_path):
    assert not _findings(tmp_path / "a", "transformers==4.37.2\n")
    assert not _findings(tmp_path / "b", "transformers==4.39.0\n")
    assert not _findings(tmp_path / "c", "transformers>=4.38.0\n")


def test_deepspeed_pinned_before_the_tensor_norm_not_reported(tmp_path):
    assert not _findings(tmp_path / "a", "transformers==4.38.2\ndeepspeed==0.13.1\n", stage=2)
    assert _findings(tmp_path / "b", "transformers==4.38.2\ndeepspeed==0.13.1\n", stage=3)
    assert not _findings(tmp_path / "c", "transformers==4.38.2\ndeepspeed<0.13\n", stage=3)


def test_no_zero_or_no_clipping_not_reported(tmp_path):
    assert not _findings(tmp_path / "a", "transformers==4.38.2\n", stage=0)
    assert not _findings(tmp_path / "b", "transformers==4.38.2\n", extra="--max_grad_norm 0 ")
