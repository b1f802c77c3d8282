"""SL417 batched-generate-without-attention-mask: which generate() calls it judges."""
from __future__ import annotations

from pathlib import Path

from conftest import findings_of, run_scan

HEAD = ("from transformers import AutoModelForCausalLM, AutoTokenizer\n"
        "tokenizer = AutoTokenizer.from_pretrained('Qwen/Qwen2.5-7B-Instruct')\n"
        "model = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-7B-Instruct')\n")


def _scan(tmp_path: Path, body: str):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "run.py").write_text(HEAD + body)
    result, _ = run_scan(tmp_path)
    return findings_of(result, "SL417")


def test_input_ids_of_a_padded_list(tmp_path):
    body = ("prompts = ['Who are you?', 'Write a long poem about the sea.']\n"
            "inputs = tokenizer(prompts, return_tensors='pt', padding=True).to('cuda')\n"
            "out = model.generate(inputs.input_ids, max_new_tokens=64)\n")
    assert _scan(tmp_path, body) == [{"code": "SL417", "path": "run.py", "line": 6, "col": 7}]


def test_other_spellings_of_the_ids(tmp_path):
    cases = {
        "subscript-keyword": ("enc = tokenizer(['a', 'bb'], return_tensors='pt', padding='longest')\n"
                              "out = model.generate(input_ids=enc['input_ids'].cuda())\n"),
        "ids-variable": ("enc = tokenizer([p for p in open('q.txt')], return_tensors='pt', padding=True)\n"
                         "input_ids = enc.input_ids.to('cuda')\nout = model.generate(input_ids)\n"),
        "inline": ("out = model.generate(tokenizer(['a', 'bb'], return_tensors='pt', padding=True).input_ids)\n"),
        "appended-list": ("texts = []\nfor line in open('q.txt'):\n    texts.append(line)\n"
                          "enc = tokenizer(texts, return_tensors='pt', padding=True)\n"
                          "out = model.generate(enc.input_ids)\n"),
        "moved-dict": ("enc = tokenizer(['a', 'bb'], return_tensors='pt', padding=True)\n"
                       "enc = {k: v.to('cuda') for k, v in enc.items()}\nout = model.generate(enc['input_ids'])\n"),
        "in-a-function": ("def run(batch_prompts):\n"
                          "    enc = tokenizer(batch_prompts, return_tensors='pt', padding=True)\n"
                          "    return model.generate(enc.input_ids, max_new_tokens=8)\n"),
        "max-length-single": ("enc = tokenizer(prompt, return_tensors='pt', padding='max_length', max_length=64)\n"
                              "out = model.generate(enc.input_ids)\n"),
    }
    for name, body in cases.items():
        assert len(_scan(tmp_path / name, body)) == 1, name


def test_pad_is_eos_is_named(tmp_path):
    tmp = tmp_path / "x"
    tmp.mkdir()
    (tmp / "run.py").write_text(HEAD + "tokenizer.pad_token = tokenizer.eos_token\n"
                                "enc = tokenizer(['a', 'bb'], return_tensors='pt', padding=True)\n"
                                "out = model.generate(enc.input_ids)\n")
    result, _ = run_scan(tmp)
    msgs = [f.message for f in result.findings if f.code == "SL417"]
    assert len(msgs) == 1 and "eos token (line 4)" in msgs[0]


def test_not_judged(tmp_path):
    tok = "enc = tokenizer(['a', 'bb'], return_tensors='pt', padding=True)\n"
    cases = {
        "star-inputs": tok + "out = model.generate(**enc)\n",
        "mask-passed": tok + "out = model.generate(enc.input_ids, attention_mask=enc.attention_mask)\n",
        "mask-kwargs": tok + "kw = dict(attention_mask=enc.attention_mask)\nout = model.generate(enc.input_ids, **kw)\n",
        "single-prompt": ("enc = tokenizer(prompt, return_tensors='pt', padding=True)\n"
                          "out = model.generate(enc.input_ids)\n"),
        "one-element-list": ("enc = tokenizer([prompt], return_tensors='pt', padding=True)\n"
                             "out = model.generate(enc.input_ids)\n"),
        "no-padding": "enc = tokenizer(['a', 'bb'], return_tensors='pt')\nout = model.generate(enc.input_ids)\n",
        "padding-false": ("enc = tokenizer(['a', 'bb'], return_tensors='pt', padding=False)\n"
                          "out = model.generate(enc.input_ids)\n"),
        "reassigned": tok + "enc = tokenizer(prompt, return_tensors='pt')\nout = model.generate(enc.input_ids)\n",
        "other-function": ("def encode():\n    return " + tok.split('= ', 1)[1]
                           + "def run(enc):\n    return model.generate(enc.input_ids)\n"),
        "vllm-prompts": ("from vllm import LLM\nllm = LLM('Qwen/Qwen2.5-7B-Instruct')\n"
                         "out = llm.generate(['a', 'bb'])\n"),
        "seq2seq": ("from transformers import AutoModelForSeq2SeqLM\n"
                    "m2 = AutoModelForSeq2SeqLM.from_pretrained('t5-small')\n" + tok
                    + "out = m2.generate(enc.input_ids)\n"),
        "generate-before-tokenize": ("out = model.generate(enc.input_ids)\n" + tok),
    }
    for name, body in cases.items():
        assert _scan(tmp_path / name, body) == [], name
