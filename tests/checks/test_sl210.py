"""SL210: a DeepSpeed WarmupLR scheduler block silently replaces the Trainer's decaying schedule."""
from __future__ import annotations

from pathlib import Path

from conftest import run_scan
from stacklint.checks import training as T

_DS = ('{"zero_optimization": {"stage": 2}, '
       '"scheduler": {"type": "%s", "params": {"warmup_num_steps": "auto"}}}')
_SH = ("MODEL=Qwen/Qwen2-7B\nDS=configs/ds.json\n"
       "torchrun --nproc_per_node 8 finetune.py --model_name_or_path $MODEL --output_dir out \\\n"
       "    --learning_rate 1e-5 --lr_scheduler_type %s --deepspeed $DS\n")


def _findings(tmp_path: Path, files: dict):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    stack = run_scan(tmp_path)[1]
    return list(T.deepspeed_scheduler_overrides_lr_scheduler_type(stack))


def test_cosine_with_warmuplr_from_shell_variables(tmp_path):
    got = _findings(tmp_path, {"configs/ds.json": _DS % "WarmupLR", "train.sh": _SH % '"cosine"'})
    assert [(f.location.path, f.location.line) for f in got] == [("train.sh", 4)]
    assert "configs/ds.json" in got[0].message


def test_constant_schedule_or_decaying_ds_scheduler_not_reported(tmp_path):
    assert not _findings(tmp_path / "a", {"configs/ds.json": _DS % "WarmupLR", "train.sh": _SH % "constant_with_warmup"})
    assert not _findings(tmp_path / "b", {"configs/ds.json": _DS % "WarmupDecayLR", "train.sh": _SH % "cosine"})


def test_ds_config_without_scheduler_not_reported(tmp_path):
    assert not _findings(tmp_path, {"configs/ds.json": '{"zero_optimization": {"stage": 3}}',
                                    "train.sh": _SH % "cosine"})


def test_default_schedule_not_reported(tmp_path):
    sh = ("torchrun --nproc_per_node 8 finetune.py --model_name_or_path Qwen/Qwen2-7B --output_dir out "
          "--deepspeed configs/ds.json\n")
    assert not _findings(tmp_path, {"configs/ds.json": _DS % "WarmupLR", "train.sh": sh})
