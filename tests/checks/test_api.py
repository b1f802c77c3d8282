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
    _write(tmp_path, {"requirements.txt": "transformers==4.51.0\n", "train.py": TRAIN})
    assert _codes(tmp_path, "SL401") == [{"code": "SL401", "path": "train.py", "line": 2, "col": 42}]


def test_evaluation_strategy_still_accepted_until_4_51(tmp_path: Path) -> None:
    # deprecated in 4.41 ("will be removed in version 4.46"), but every release up to 4.50.3 has the field
    _write(tmp_path, {"requirements.txt": "transformers==4.50.3\n", "train.py": TRAIN})
    assert _codes(tmp_path, "SL401") == []
    _write(tmp_path, {"requirements.txt": "transformers==4.46.0\n"})
    assert _codes(tmp_path, "SL401") == []


def test_trl_config_subclass_inherits_the_removal(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers==4.51.0\n",
                      "train.py": 'from trl import SFTConfig\ncfg = SFTConfig(output_dir="o", evaluation_strategy="no")\n'})
    assert [f["line"] for f in _codes(tmp_path, "SL401")] == [2]


def test_use_auth_token_under_transformers_5(tmp_path: Path) -> None:
    script = ('from transformers import AutoTokenizer\n'
              'tok = AutoTokenizer.from_pretrained("meta-llama/Llama-2-7b-hf", use_auth_token=True)\n')
    _write(tmp_path, {"requirements.txt": "transformers==5.0.0\n", "run.py": script})
    result, _ = run_scan(tmp_path, select=["SL401"])
    [f] = result.findings
    assert f.location.line == 2 and f.fix is not None and f.fix.edits[0].new == "token"
    _write(tmp_path, {"requirements.txt": "transformers==4.57.6\n"})
    assert _codes(tmp_path, "SL401") == []


def test_dpo_trainer_tokenizer_removed_in_0_16_not_0_14(tmp_path: Path) -> None:
    script = "from trl import DPOTrainer\nDPOTrainer(model=m, args=a, tokenizer=tok)\n"
    _write(tmp_path, {"requirements.txt": "trl==0.15.2\n", "dpo.py": script})
    assert _codes(tmp_path, "SL401") == []
    _write(tmp_path, {"requirements.txt": "trl==0.16.0\n"})
    assert [f["line"] for f in _codes(tmp_path, "SL401")] == [2]


def test_same_named_class_of_another_library_is_not_judged(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers==4.51.0\n",
                      "train.py": 'from mylib import TrainingArguments\nTrainingArguments(evaluation_strategy="steps")\n'})
    assert _codes(tmp_path, "SL401") == []


def test_lower_bound_at_removal_counts_as_pinned(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers>=4.51\n", "train.py": TRAIN})
    assert len(_codes(tmp_path, "SL401")) == 1


def test_unpinned_and_upper_bounded_are_not_judged(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers\n", "train.py": TRAIN})
    assert _codes(tmp_path, "SL401") == []
    _write(tmp_path, {"requirements.txt": "transformers<4.51\n"})
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


def test_removed_import_as_import_error_fallback_is_not_reported(tmp_path: Path) -> None:
    """The LLaMA-Factory pattern: new location first, the removed module as the fallback."""
    shim = ("try:\n"
            "    from transformers.integrations import unset_hf_deepspeed_config\n"
            "except ImportError:\n"
            "    from transformers.deepspeed import unset_hf_deepspeed_config\n")
    _write(tmp_path, {"requirements.txt": "transformers==4.57.1\n", "ds.py": shim})
    assert _codes(tmp_path, "SL402") == []
    # the same import outside the guard, or under a handler that does not catch ImportError, breaks
    _write(tmp_path, {"ds.py": shim.replace("except ImportError", "except KeyError")})
    assert [f["line"] for f in _codes(tmp_path, "SL402")] == [4]
    _write(tmp_path, {"ds.py": shim + "from transformers.deepspeed import HfDeepSpeedConfig\n"})
    assert [f["line"] for f in _codes(tmp_path, "SL402")] == [5]  # the unguarded import


def test_half_on_4bit_model(tmp_path: Path) -> None:
    _write(tmp_path, {"run.py": "from transformers import AutoModelForCausalLM\n"
                                "model = AutoModelForCausalLM.from_pretrained('x', load_in_4bit=True)\n"
                                "model = model.half()\n"})
    assert [f["line"] for f in _codes(tmp_path, "SL403")] == [3]


QWEN1_CONFIG = '{"model_type": "qwen", "auto_map": {"AutoConfig": "configuration_qwen.QWenConfig"}, "bf16": false, "fp16": false, "fp32": false}\n'


def test_precision_flag_accepted_by_qwen1_config(tmp_path: Path) -> None:
    script = ('from transformers import AutoModelForCausalLM\n'
              'm = AutoModelForCausalLM.from_pretrained("Qwen-7B-Chat", trust_remote_code=True, bf16=True)\n')
    _write(tmp_path, {"Qwen-7B-Chat/config.json": QWEN1_CONFIG, "run.py": script})
    assert _codes(tmp_path, "SL406") == []
    _write(tmp_path, {"run.py": script.replace("bf16=True", "use_bf16=True")})
    result, _ = run_scan(tmp_path, select=["SL406"])
    [f] = result.findings
    assert "spells it bf16=True" in f.message


def test_precision_flag_on_known_hub_id(tmp_path: Path) -> None:
    _write(tmp_path, {"run.py": 'from transformers import AutoModelForCausalLM\n'
                                'm = AutoModelForCausalLM.from_pretrained("Qwen/Qwen1.5-7B-Chat", bf16=True)\n'})
    assert [f["line"] for f in _codes(tmp_path, "SL406")] == [2]


def test_precision_flag_unknown_model_is_not_judged(tmp_path: Path) -> None:
    _write(tmp_path, {"run.py": 'from transformers import AutoModelForCausalLM\nimport sys\n'
                                'm = AutoModelForCausalLM.from_pretrained(sys.argv[1], bf16=True)\n'
                                'n = AutoModelForCausalLM.from_pretrained("someone/unknown-model", use_bf16=True)\n'})
    assert _codes(tmp_path, "SL406") == []


GEN = ('from transformers import AutoModelForCausalLM, AutoTokenizer\n'
       'tok = AutoTokenizer.from_pretrained("m")\n'
       'model = AutoModelForCausalLM.from_pretrained("m")\n')


def test_generation_prompt_followed_through_assignments(tmp_path: Path) -> None:
    script = GEN + ('text = tok.apply_chat_template(msgs, tokenize=False)\n'
                    'inputs = tok([text], return_tensors="pt").to(model.device)\n'
                    'out = model.generate(**inputs, max_new_tokens=64)\n')
    _write(tmp_path, {"infer.py": script})
    assert [f["line"] for f in _codes(tmp_path, "SL407")] == [4]
    _write(tmp_path, {"infer.py": script.replace("tokenize=False)", "tokenize=False, add_generation_prompt=True)")})
    assert _codes(tmp_path, "SL407") == []


def test_generation_prompt_not_judged_for_training_or_unrelated_generate(tmp_path: Path) -> None:
    calib = GEN + ('def prep(ex):\n    return {"text": tok.apply_chat_template(ex["messages"], tokenize=False)}\n'
                   'ids = tok("Hello", return_tensors="pt").input_ids\n'
                   'print(model.generate(ids))\n')
    _write(tmp_path, {"calib.py": calib})
    assert _codes(tmp_path, "SL407") == []
    train = GEN + ('from trl import SFTTrainer\n'
                   'text = tok.apply_chat_template(msgs, tokenize=False)\n'
                   'out = model.generate(tok(text))\nSFTTrainer(model=model)\n')
    _write(tmp_path, {"calib.py": train})
    assert _codes(tmp_path, "SL407") == []


def test_generation_prompt_reassignment_ends_the_flow(tmp_path: Path) -> None:
    script = GEN + ('text = tok.apply_chat_template(done_conversation, tokenize=False)\n'
                    'n = len(text)\n'
                    'text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)\n'
                    'out = model.generate(tok(text, return_tensors="pt").input_ids)\n')
    _write(tmp_path, {"infer.py": script})
    assert _codes(tmp_path, "SL407") == []


def test_generation_prompt_template_without_the_flag_is_not_judged(tmp_path: Path) -> None:
    tok_cfg = '{"chat_template": "{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}"}\n'
    script = ('from transformers import AutoModelForCausalLM, AutoTokenizer\n'
              'tok = AutoTokenizer.from_pretrained("./llama2-chat")\n'
              'model = AutoModelForCausalLM.from_pretrained("./llama2-chat")\n'
              'ids = tok.apply_chat_template(msgs, return_tensors="pt")\n'
              'out = model.generate(ids)\n')
    _write(tmp_path, {"llama2-chat/config.json": '{"model_type": "llama"}\n',
                      "llama2-chat/tokenizer_config.json": tok_cfg, "infer.py": script})
    assert _codes(tmp_path, "SL407") == []
