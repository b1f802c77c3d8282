"""knowledge/data/chat_templates.json: facts read by gen_chat_templates.py from the frameworks' source.

Where to look each one up: LLaMA-Factory src/llamafactory/data/template.py (src/llmtuner/... before
v0.8) and src/llamafactory/extras/constants.py at the tag; axolotl src/axolotl/utils/chat_templates.py
(to v0.10) or src/axolotl/utils/chat_templates/templates/*.jinja (from v0.11)."""
from __future__ import annotations

from stacklint.knowledge import chat_templates as KT
from stacklint.knowledge import load_table


def test_envelope_and_sources():
    env = load_table("chat_templates")
    assert env["generated_by"] == "knowledge/scripts/gen_chat_templates.py"
    for framework, tags in env["records"].items():
        for tag, rec in tags.items():
            assert f"/{tag}/" in rec["source"], (framework, tag)
            assert rec["templates"], (framework, tag)


def test_llamafactory_templates():
    llama3, tag = KT.template("llamafactory", "llama3")
    assert {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"} <= set(llama3["tokens"])
    assert llama3["stop_words"][0] == "<|eot_id|>" and llama3["replace_eos"] is True
    assert "meta-llama/Meta-Llama-3-8B-Instruct" in llama3["models"]
    qwen, _ = KT.template("llamafactory", "qwen", "0.8.3")
    assert qwen["tokens"] == ["<|im_start|>", "<|im_end|>"]
    for generic in ("default", "empty", "alpaca", "vicuna", "llama2", "mistral"):
        assert KT.template("llamafactory", generic)[0]["tokens"] == [], generic
    # registered from v0.9.3 on (not in v0.9.1), <|eom_id|> added to llama3 in v0.9.2
    assert KT.template("llamafactory", "qwen3", "0.9.1") is None
    assert KT.template("llamafactory", "qwen3", "0.9.3") is not None
    assert "<|eom_id|>" not in KT.template("llamafactory", "llama3", "0.9.1")[0]["tokens"]
    # before the oldest recorded release nothing is judged
    assert KT.template("llamafactory", "llama3", "0.5.0") is None


def test_paired_templates():
    assert KT.paired_templates("Qwen/Qwen2.5-7B-Instruct") == ["qwen"]
    assert KT.paired_templates("meta-llama/Meta-Llama-3-8B-Instruct") == ["llama3"]
    assert "mistral" in KT.paired_templates(family="mistral")


def test_axolotl_templates():
    chatml, _ = KT.template("axolotl", "chatml")
    assert chatml["tokens"] == ["<|im_start|>", "<|im_end|>"] and "qwen" in chatml["like"]
    assert KT.template("axolotl", "llama3", "0.5.0")[0]["tokens"][:3] == ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    assert KT.template("axolotl", "alpaca")[0]["tokens"] == []
    assert KT.template("axolotl", "qwen3", "0.5.0") is None
