"""SL408: transformers 4.35.x calls the remote model's old _set_gradient_checkpointing hook with enable=."""
from __future__ import annotations

from pathlib import Path

from conftest import run_scan
from stacklint.checks import api as A

_CFG = ('{"architectures": ["QWenLMHeadModel"], "model_type": "qwen",\n'
        ' "auto_map": {"AutoModelForCausalLM": "modeling_qwen.QWenLMHeadModel"}}\n')
_OLD = ("from transformers import PreTrainedModel\n\n\n"
        "class QWenPreTrainedModel(PreTrainedModel):\n"
        "    def _set_gradient_checkpointing(self, module, value=False):\n"
        "        module.gradient_checkpointing = value\n\n\n"
        "class QWenLMHeadModel(QWenPreTrainedModel):\n    pass\n")
_SH = ("torchrun --nproc_per_node 2 finetune.py --model_name_or_path Qwen-7B-Chat --use_lora %s "
       "--output_dir out\n")


def _findings(tmp_path: Path, req: str, hook: str = _OLD, flag: str = "--gradient_checkpointing"):
    files = {"requirements.txt": req, "Qwen-7B-Chat/config.json": _CFG,
             "Qwen-7B-Chat/modeling_qwen.py": hook, "train.sh": _SH % flag}
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    stack = run_scan(tmp_path)[1]
    return list(A.remote_gradient_checkpointing_hook_under_transformers_435(stack))


def test_old_hook_under_each_435_patch(tmp_path):
    for v in ("4.35.0", "4.35.1", "4.35.2"):
        got = _findings(tmp_path / v, f"transformers=={v}\n")
        assert [(f.location.path, f.location.line) for f in got] == [("train.sh", 1)], v
        assert "modeling_qwen.py:5" in got[0].message


def test_other_releases_or_open_ranges_not_reported(tmp_path):
    assert not _findings(tmp_path / "a", "transformers==4.34.1\n")
    assert not _findings(tmp_path / "b", "transformers==4.36.0\n")
    assert not _findings(tmp_path / "c", "transformers>=4.35.0\n")  # admits 4.36+, which calls the old hook the old way


def test_new_style_hook_or_no_checkpointing_not_reported(tmp_path):
    new = _OLD.replace("(self, module, value=False)", "(self, enable=True, gradient_checkpointing_func=None)")
    kw = _OLD.replace("(self, module, value=False)", "(self, module=None, value=False, **kwargs)")
    assert not _findings(tmp_path / "a", "transformers==4.35.0\n", hook=new)
    assert not _findings(tmp_path / "b", "transformers==4.35.0\n", hook=kw)
    assert not _findings(tmp_path / "c", "transformers==4.35.0\n", flag="--gradient_checkpointing False")
    assert not _findings(tmp_path / "d", "transformers==4.35.0\n", hook="from transformers import PreTrainedModel\n\n\nclass QWenLMHeadModel(PreTrainedModel):\n    pass\n")


def test_trainingarguments_gradient_checkpointing_in_a_script(tmp_path):
    script = ("from transformers import AutoModelForCausalLM, TrainingArguments, Trainer\n\n"
              "model = AutoModelForCausalLM.from_pretrained(\"./Qwen-7B-Chat\", trust_remote_code=True)\n"
              "args = TrainingArguments(output_dir=\"out\", gradient_checkpointing=True)\n"
              "Trainer(model=model, args=args).train()\n")
    files = {"requirements.txt": "transformers==4.35.2\n", "Qwen-7B-Chat/config.json": _CFG,
             "Qwen-7B-Chat/modeling_qwen.py": _OLD, "train.py": script}
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    got = list(A.remote_gradient_checkpointing_hook_under_transformers_435(run_scan(tmp_path)[1]))
    assert [(f.location.path, f.location.line) for f in got] == [("train.py", 4)]
