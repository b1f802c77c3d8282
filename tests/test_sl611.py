"""SL611 training-template-of-another-model-family: which fine-tuning jobs and templates it judges."""
from __future__ import annotations

from pathlib import Path
from typing import Dict

from conftest import findings_of, run_scan

LF = ("model_name_or_path: {model}\n\nstage: sft\ndo_train: true\nfinetuning_type: lora\nlora_target: all\n\n"
      "dataset: alpaca_en_demo\ntemplate: {template}\ncutoff_len: 2048\n{extra}\n"
      "output_dir: saves/sft\nper_device_train_batch_size: 1\nlearning_rate: 1.0e-4\nbf16: true\n")
AXOLOTL = ("base_model: {model}\nload_in_4bit: true\nchat_template: {template}\n{extra}datasets:\n"
           "  - path: data/chats.jsonl\n    type: chat_template\nadapter: qlora\nlora_r: 16\nsequence_len: 4096\n"
           "micro_batch_size: 2\nnum_epochs: 1\noutput_dir: ./outputs\n")


def _scan(tmp_path: Path, files: Dict[str, str]):
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    result, _ = run_scan(tmp_path, select=("SL611",))
    return [f for f in result.findings if f.code == "SL611"]


def _lf(tmp_path: Path, model: str, template: str, extra: str = "", reqs: str = ""):
    files = {"train.yaml": LF.format(model=model, template=template, extra=extra)}
    if reqs:
        files["requirements.txt"] = reqs
    return _scan(tmp_path, files)


def _ax(tmp_path: Path, model: str, template: str, extra: str = ""):
    return _scan(tmp_path, {"config.yml": AXOLOTL.format(model=model, template=template, extra=extra)})


# -- reported ---------------------------------------------------------------------------------

def test_llama3_template_on_qwen_instruct(tmp_path):
    hits = _lf(tmp_path, "Qwen/Qwen2.5-7B-Instruct", "llama3")
    assert [(f.location.path, f.location.line) for f in hits] == [("train.yaml", 9)]
    msg = hits[0].message
    assert "<|start_header_id|>" in msg and "<|im_start|>" in msg and "template: qwen" in msg
    assert "makes its stop word <|eot_id|> the eos token" in msg


def test_other_families_on_instruct_models(tmp_path):
    cases = {
        "gemma-llama3": ("google/gemma-2-9b-it", "llama3", "template: gemma2"),
        "llama-qwen": ("meta-llama/Meta-Llama-3-8B-Instruct", "qwen", "template: llama3"),
        "mistral-chatml": ("mistralai/Mistral-7B-Instruct-v0.3", "chatml", "template: mistral"),
        "phi3-llama3": ("microsoft/Phi-3-mini-4k-instruct", "llama3", "template: phi"),
    }
    for name, (model, template, fix) in cases.items():
        hits = _lf(tmp_path / name, model, template)
        assert len(hits) == 1, name
        assert fix in hits[0].message, (name, hits[0].message)


def test_axolotl_chatml_on_llama3_instruct(tmp_path):
    hits = _ax(tmp_path, "meta-llama/Meta-Llama-3-8B-Instruct", "chatml")
    assert [(f.location.path, f.location.line) for f in hits] == [("config.yml", 3)]
    assert "chat_template: tokenizer_default" in hits[0].message


def test_cli_and_train_bash_launches(tmp_path):
    sh = ("llamafactory-cli train --stage sft --do_train --model_name_or_path Qwen/Qwen2.5-7B-Instruct \\\n"
          "    --dataset alpaca_en_demo --template llama3 --finetuning_type lora --output_dir saves/sft\n")
    hits = _scan(tmp_path / "cli", {"train.sh": sh})
    assert [(f.location.path, f.location.line) for f in hits] == [("train.sh", 2)]
    sh = ("CUDA_VISIBLE_DEVICES=0 python src/train_bash.py --stage sft --do_train \\\n"
          "    --model_name_or_path meta-llama/Meta-Llama-3-8B-Instruct --dataset alpaca_gpt4_en \\\n"
          "    --template qwen --finetuning_type lora --output_dir saves/sft --learning_rate 5e-5\n")
    assert len(_scan(tmp_path / "bash", {"run.sh": sh})) == 1


def test_the_pinned_release_decides(tmp_path):
    # qwen3 is registered from LLaMA-Factory 0.9.3 on: with 0.9.1 the job fails for another reason
    assert _lf(tmp_path / "old", "meta-llama/Meta-Llama-3-8B-Instruct", "qwen3", reqs="llamafactory==0.9.1\n") == []
    hits = _lf(tmp_path / "new", "meta-llama/Meta-Llama-3-8B-Instruct", "qwen3", reqs="llamafactory==0.9.3\n")
    assert len(hits) == 1 and "LLaMA-Factory v0.9.3" in hits[0].message
    # llama3 writes <|eom_id|> only from 0.9.2 on
    old = _lf(tmp_path / "tokens", "Qwen/Qwen2.5-7B-Instruct", "llama3", reqs="llamafactory==0.9.1\n")
    assert len(old) == 1 and "<|eom_id|>" not in old[0].message


# -- not reported -----------------------------------------------------------------------------

def test_base_models_with_any_template(tmp_path):
    for i, model in enumerate(("Qwen/Qwen2.5-7B", "meta-llama/Meta-Llama-3-8B", "mistralai/Mistral-7B-v0.1")):
        assert _lf(tmp_path / f"lf{i}", model, "llama3" if "Qwen" in model else "qwen") == [], model
        assert _ax(tmp_path / f"ax{i}", model, "chatml" if "Qwen" not in model else "llama3") == [], model


def test_generic_text_templates(tmp_path):
    for name in ("default", "empty", "alpaca", "vicuna", "llama2", "mistral"):
        assert _lf(tmp_path / name, "Qwen/Qwen2.5-7B-Instruct", name) == [], name
    assert _ax(tmp_path / "ax-alpaca", "Qwen/Qwen2.5-7B-Instruct", "alpaca") == []


def test_templates_of_the_model_or_its_format(tmp_path):
    cases = [("Qwen/Qwen2.5-7B-Instruct", "qwen"), ("Qwen/Qwen2.5-7B-Instruct", "chatml"),
             ("01-ai/Yi-1.5-9B-Chat", "qwen"), ("Qwen/Qwen3-8B", "qwen"), ("Qwen/Qwen3-8B", "qwen3"),
             ("meta-llama/Llama-3.1-8B-Instruct", "llama3"), ("google/gemma-2-9b-it", "gemma"),
             # same tokenizer lineage: R1-Distill-Qwen keeps Qwen's ChatML tokens
             ("deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "qwen")]
    for i, (model, template) in enumerate(cases):
        assert _lf(tmp_path / str(i), model, template) == [], (model, template)
    assert _ax(tmp_path / "ax", "google/gemma-3-4b-it", "gemma3") == []
    assert _ax(tmp_path / "ax-qwen", "Qwen/Qwen2.5-7B-Instruct", "qwen_25") == []


def test_axolotl_own_template_choices_and_added_tokens(tmp_path):
    for name in ("tokenizer_default", "tokenizer_default_fallback_chatml", "jinja"):
        assert _ax(tmp_path / name, "meta-llama/Meta-Llama-3-8B-Instruct", name) == [], name
    added = 'special_tokens:\n  bos_token: "<|im_start|>"\n  eos_token: "<|im_end|>"\n'
    assert _ax(tmp_path / "special", "mistralai/Mistral-7B-Instruct-v0.2", "chatml", added) == []
    tokens = 'tokens:\n  - "<|im_start|>"\n  - "<|im_end|>"\n'
    assert _ax(tmp_path / "tokens", "meta-llama/Meta-Llama-3-8B-Instruct", "chatml", tokens) == []
    lf_added = 'new_special_tokens: "<|im_start|>,<|im_end|>,<tool_response>"\nresize_vocab: true\n'
    assert _lf(tmp_path / "lf", "meta-llama/Meta-Llama-3-8B-Instruct", "qwen", lf_added) == []


def test_jobs_that_do_not_train_or_cannot_be_judged(tmp_path):
    infer = "model_name_or_path: Qwen/Qwen2.5-7B-Instruct\ntemplate: llama3\ninfer_backend: vllm\n"
    assert _scan(tmp_path / "infer", {"infer.yaml": infer}) == []
    sh = "llamafactory-cli chat --model_name_or_path Qwen/Qwen2.5-7B-Instruct --template llama3\n"
    assert _scan(tmp_path / "chat", {"chat.sh": sh}) == []
    assert _lf(tmp_path / "unknown", "someorg/unknown-7b-chat", "llama3") == []
    assert _lf(tmp_path / "placeholder", "Qwen/Qwen2.5-7B-Instruct", "${TEMPLATE}") == []
    assert _lf(tmp_path / "not-a-template", "Qwen/Qwen2.5-7B-Instruct", "no_such_template") == []


def test_fixture_findings_name_both_files(tmp_path):
    bad = Path(__file__).parent / "checks" / "SL611" / "bad"
    result, _ = run_scan(bad, select=("SL611",))
    got = {(f["path"], f["line"]) for f in findings_of(result, "SL611")}
    assert got == {("axolotl/llama3-8b-instruct-lora.yml", 6), ("configs/qwen2.5_lora_sft.yaml", 12)}
    local = next(f for f in result.findings if f.location.path.endswith(".yaml"))
    assert "models/Qwen2.5-7B-Instruct/config.json:" in local.message
    assert "are not in the tokenizer" in local.message and "LLaMA-Factory v0.9.1" in local.message
