"""SL610 chat-template-bos-added-twice: which flows, templates and tokenizers it judges."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import findings_of, run_scan

BAD = Path(__file__).parent / "checks" / "SL610" / "bad"
MD = Path("models") / "Meta-Llama-3-8B-Instruct"
SINK = 'inputs = tokenizer(prompt, return_tensors="pt").to(model.device)'
SOURCE = "prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)"


def _repo(tmp_path: Path, *edits, tokenizer_config: dict = None, tokenizer_json=None, drop_json: bool = False) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(BAD, repo)
    (repo / "expected.json").unlink()
    text = (repo / "chat.py").read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    (repo / "chat.py").write_text(text)
    if tokenizer_config:
        p = repo / MD / "tokenizer_config.json"
        data = json.loads(p.read_text())
        data.update(tokenizer_config)
        p.write_text(json.dumps({k: v for k, v in data.items() if v is not ...}, indent=2))
    tj = repo / MD / "tokenizer.json"
    if tokenizer_json is not None:
        data = json.loads(tj.read_text())
        data["post_processor"] = tokenizer_json
        tj.write_text(json.dumps(data, indent=2))
    if drop_json:
        tj.unlink()
    return repo


def _hits(repo: Path):
    result, _ = run_scan(repo)
    return findings_of(result, "SL610")


LLAMA2_TEMPLATE = ("{% for message in messages %}{% if message['role'] == 'user' %}"
                   "{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}"
                   "{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'] + ' ' + eos_token }}"
                   "{% endif %}{% endfor %}")
LLAMA2 = {"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": True, "bos_token": "<s>", "eos_token": "</s>",
          "chat_template": LLAMA2_TEMPLATE}


def test_fixture_and_other_sinks(tmp_path):
    assert _hits(_repo(tmp_path / "a")) == [{"code": "SL610", "path": "chat.py", "line": 18, "col": 14}]
    enc = _repo(tmp_path / "b", (SINK, 'inputs = {"input_ids": tokenizer.encode(prompt, return_tensors="pt")}'))
    assert len(_hits(enc)) == 1
    listed = _repo(tmp_path / "c", (SINK, 'inputs = tokenizer([prompt], padding=True, return_tensors="pt")'))
    assert len(_hits(listed)) == 1
    nested = _repo(tmp_path / "d", ("    " + SOURCE + "\n", ""),
                   (SINK, "inputs = tokenizer(tokenizer.apply_chat_template(messages, tokenize=False), "
                          "return_tensors='pt')"))
    assert len(_hits(nested)) == 1


def test_llama2_style_add_bos_token(tmp_path):
    assert len(_hits(_repo(tmp_path / "json", tokenizer_config=LLAMA2))) == 1
    # the fast class rebuilds its post-processor from add_bos_token: tokenizer.json is not needed
    assert len(_hits(_repo(tmp_path / "nojson", tokenizer_config=LLAMA2, drop_json=True))) == 1


def test_training_data_flows(tmp_path):
    body = ("\n\ndef build(example):\n"
            "    text = tokenizer.apply_chat_template(example['messages'], tokenize=False)\n"
            "    text = text + example['suffix']\n"
            "    return tokenizer(text, truncation=True, max_length=2048)\n"
            "\n\ndef build_batch(batch):\n"
            "    texts = [tokenizer.apply_chat_template(m, tokenize=False) for m in batch['messages']]\n"
            "    return tokenizer(texts, truncation=True)\n")
    repo = _repo(tmp_path, ('if __name__ == "__main__":', body + '\n\nif __name__ == "__main__":'))
    assert len(_hits(repo)) == 3


def test_valid_neighbours(tmp_path):
    no_bos_template = LLAMA2_TEMPLATE.replace("bos_token + ", "")
    cases = {
        "no-special-tokens": ([(SINK, SINK.replace("tokenizer(prompt,", "tokenizer(prompt, add_special_tokens=False,"))], {}),
        "tokenize-true": ([(SOURCE, SOURCE.replace("tokenize=False, ", ""))], {}),
        "explicit-template": ([(SOURCE, SOURCE.replace("tokenize=False", "tokenize=False, chat_template='{{ x }}'"))], {}),
        "reassigned": ([(SINK, 'prompt = "Hello"\n    ' + SINK)], {}),
        "bos-removed": ([(SINK, "prompt = prompt.replace(tokenizer.bos_token, '')\n    " + SINK)], {}),
        "hub-tokenizer": ([('AutoTokenizer.from_pretrained("models/Meta-Llama-3-8B-Instruct")',
                            'AutoTokenizer.from_pretrained("meta-llama/Meta-Llama-3-8B-Instruct")')], {}),
        "template-without-bos": ([], {"tokenizer_config": dict(LLAMA2, chat_template=no_bos_template)}),
        "add-bos-false": ([], {"tokenizer_config": dict(LLAMA2, add_bos_token=False)}),
        "json-without-bos": ([], {"tokenizer_json": {"type": "ByteLevel", "add_prefix_space": True,
                                                     "trim_offsets": False, "use_regex": True}}),
        "remote-code": ([], {"tokenizer_config": {"auto_map": {"AutoTokenizer": ["tok.Tok", None]}}}),
        "other-function": ([(SINK, "inputs = None")], {}),
    }
    for name, (edits, kw) in cases.items():
        assert _hits(_repo(tmp_path / name, *edits, **kw)) == [], name
