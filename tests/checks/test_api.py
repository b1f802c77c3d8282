"""Unit tests for the Python API family (SL401-SL403) on small stacks written to tmp_path."""
from __future__ import annotations

from pathlib import Path
from typing import Dict, List

from tests.conftest import findings_of, run_scan


def _write(root: Path, files: Dict[str, str]) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return root


def _codes(root: Path, select: str) -> List[dict]:
    result, _ = run_scan(root, select=[select])
    return findings_of(result, select)


TRAIN = 'from transformers import TrainingArguments\nargs = TrainingArguments(output_dir="o", evaluation_strategy="steps")\n'


def test_old_transformers_pin_keeps_evaluation_strategy(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers==4.40.0\n", "train.py": TRAIN})
    assert _codes(tmp_path, "SL401") == []


def test_new_transformers_pin_flags_evaluation_strategy(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers==4.46.0\n", "train.py": TRAIN})
    assert _codes(tmp_path, "SL401") == [{"code": "SL401", "path": "train.py", "line": 2, "col": 42}]


def test_lower_bound_at_removal_counts_as_pinned(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers>=4.47\n", "train.py": TRAIN})
    assert len(_codes(tmp_path, "SL401")) == 1


def test_unpinned_and_upper_bounded_are_not_judged(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers\n", "train.py": TRAIN})
    assert _codes(tmp_path, "SL401") == []
    _write(tmp_path, {"requirements.txt": "transformers<4.46\n"})
    assert _codes(tmp_path, "SL401") == []


def test_unsloth_import_exempts_trl_tokenizer(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "trl==0.16.0\n",
                      "train.py": "import unsloth\nfrom trl import SFTTrainer\nSFTTrainer(model=m, tokenizer=tok)\n"})
    assert _codes(tmp_path, "SL401") == []


def test_rename_fix_only_for_plain_renames(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers==5.0.0\n",
                      "infer.py": "from transformers import AutoModelForCausalLM\n"
                                  "m = AutoModelForCausalLM.from_pretrained('x', load_in_8bit=True)\n"})
    result, _ = run_scan(tmp_path, select=["SL401"])
    [f] = result.findings
    assert f.fix is None  # changes the value, not only the name: no automatic fix


def test_removed_import(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "peft==0.10.0\n",
                      "ft.py": "from peft import prepare_model_for_int8_training\n"})
    assert _codes(tmp_path, "SL402") == [{"code": "SL402", "path": "ft.py", "line": 1, "col": 18}]
    _write(tmp_path, {"requirements.txt": "peft==0.9.0\n"})
    assert _codes(tmp_path, "SL402") == []


def test_half_on_4bit_model(tmp_path: Path) -> None:
    _write(tmp_path, {"run.py": "from transformers import AutoModelForCausalLM\n"
                                "model = AutoModelForCausalLM.from_pretrained('x', load_in_4bit=True)\n"
                                "model = model.half()\n"})
    assert [f["line"] for f in _codes(tmp_path, "SL403")] == [3]
