"""Unit tests for chat templates and control tokens (SL601-SL605) and the sandbox limits."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Dict

import pytest

from stacklint.checks import _templates as T
from tests.conftest import findings_of, run_scan

LLAMA3 = ("{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
          " + message['content'] + '<|eot_id|>' }}{% endfor %}"
          "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")
DECODER = {"128000": {"content": "<|begin_of_text|>", "special": True},
           "128001": {"content": "<|end_of_text|>", "special": True},
           "128009": {"content": "<|eot_id|>", "special": True}}


def _model(root: Path, name: str, tok: Dict[str, Any], gen: Any = None) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"model_type": "llama", "vocab_size": 128256}), encoding="utf-8")
    (d / "tokenizer_config.json").write_text(json.dumps(tok, indent=2), encoding="utf-8")
    if gen is not None:
        (d / "generation_config.json").write_text(json.dumps(gen, indent=2), encoding="utf-8")
    return d


def _codes(root: Path, code: str) -> list:
    result, _ = run_scan(root, select=[code])
    return findings_of(result, code)


def test_instruct_without_template_is_reported_once_with_short_message(tmp_path: Path) -> None:
    _model(tmp_path, "Llama-3-8B-Instruct-sft", {"eos_token": "<|eot_id|>"})
    result, _ = run_scan(tmp_path, select=["SL601"])
    [f] = result.findings
    assert f.location.path == "Llama-3-8B-Instruct-sft/tokenizer_config.json"
    assert f.message.count("Llama-3-8B-Instruct-sft") == 1  # only the name that marks it; the path is the location


def test_base_model_and_jinja_file_are_quiet(tmp_path: Path) -> None:
    _model(tmp_path, "Meta-Llama-3-8B-hf", {"eos_token": "<|end_of_text|>"})
    d = _model(tmp_path, "qwen2.5-7b-instruct-lora", {"eos_token": "<|im_end|>"})
    (d / "chat_template.jinja").write_text("{{ messages[0]['content'] }}", encoding="utf-8")
    assert _codes(tmp_path, "SL601") == []


def test_eos_missing_end_of_turn_and_good_case(tmp_path: Path) -> None:
    tok = {"added_tokens_decoder": DECODER, "chat_template": LLAMA3, "eos_token": "<|end_of_text|>"}
    _model(tmp_path, "bad/Meta-Llama-3-8B-Instruct", tok, {"eos_token_id": 128001})
    _model(tmp_path, "good/Meta-Llama-3-8B-Instruct", tok, {"eos_token_id": [128001, 128009]})
    assert [f["path"] for f in _codes(tmp_path, "SL602")] == ["bad/Meta-Llama-3-8B-Instruct/generation_config.json"]


def test_template_with_raise_exception_is_not_a_render_failure(tmp_path: Path) -> None:
    tmpl = ("{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
            "{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}")
    trial = T.trial(tmpl, ())
    assert trial.ok and "<end_of_turn>" in trial.output
    _model(tmp_path, "gemma-2-9b-it", {"chat_template": tmpl})
    assert _codes(tmp_path, "SL605") == []


def test_template_that_always_raises_is_refusal_not_failure() -> None:
    assert T.trial("{{ raise_exception('no') }}", ()).ok


def test_render_failure_and_syntax_error(tmp_path: Path) -> None:
    _model(tmp_path, "a-instruct", {"chat_template": "{{ messages[0]['content'][0]['text'] + 1 }}"})
    _model(tmp_path, "b-instruct", {"chat_template": "{% for m in messages %}{{ m['content'] }{% endfor %}"})
    assert [f["path"] for f in _codes(tmp_path, "SL605")] == ["a-instruct/tokenizer_config.json"]
    assert [f["path"] for f in _codes(tmp_path, "SL604")] == ["b-instruct/tokenizer_config.json"]


def test_huge_output_is_bounded() -> None:
    start = time.monotonic()
    tr = T.trial("{% for i in range(10**6) %}{{ 'x' * 1000 }}{% endfor %}", ())
    assert not tr.ok and ("limit" in tr.error or "longer" in tr.error or "range" in tr.error)
    assert time.monotonic() - start < 10 * T.TIME_LIMIT


def test_endless_loop_is_bounded_by_time() -> None:
    start = time.monotonic()
    tr = T.trial("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", ())
    assert not tr.ok
    assert time.monotonic() - start < 10 * T.TIME_LIMIT


@pytest.mark.parametrize("text", ["{{ ''.__class__.__mro__[1].__subclasses__() }}",
                                  "{{ cycler.__init__.__globals__.os.system('true') }}"])
def test_sandbox_refuses_unsafe_attributes(text: str) -> None:
    tr = T.trial(text, ())
    assert not tr.ok


def _st_bytes() -> bytes:
    import json as _json
    import struct

    h = _json.dumps({"__metadata__": {"format": "pt"}}).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h


def _tree_bytes(root: Path, files: dict) -> None:
    for name, data in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data if isinstance(data, bytes) else data.encode())


QWEN1_TOK = '{"tokenizer_class": "QWenTokenizer", "auto_map": {"AutoTokenizer": ["tokenization_qwen.QWenTokenizer", null]}}\n'


def test_vocab_file_missing_only_judged_with_weights(tmp_path: Path) -> None:
    from tests.conftest import findings_of, run_scan

    base = {"q/config.json": '{"model_type": "qwen"}\n', "q/tokenizer_config.json": QWEN1_TOK,
            "q/tokenization_qwen.py": "# remote code\n"}
    _tree_bytes(tmp_path, base)  # config-only mirror: not judged
    result, _ = run_scan(tmp_path, select=["SL606"])
    assert findings_of(result, "SL606") == []
    _tree_bytes(tmp_path, {"q/model.safetensors": _st_bytes()})
    result, _ = run_scan(tmp_path, select=["SL606"])
    assert [f["path"] for f in findings_of(result, "SL606")] == ["q/tokenizer_config.json"]
    _tree_bytes(tmp_path, {"q/qwen.tiktoken": "IQ== 0\n"})
    result, _ = run_scan(tmp_path, select=["SL606"])
    assert findings_of(result, "SL606") == []


def test_vocab_file_lfs_pointer_weights_do_not_count(tmp_path: Path) -> None:
    from tests.conftest import findings_of, run_scan

    ptr = "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"
    _tree_bytes(tmp_path, {"m/config.json": '{"model_type": "qwen2"}\n',
                           "m/tokenizer_config.json": '{"tokenizer_class": "Qwen2Tokenizer"}\n',
                           "m/model.safetensors": ptr})
    result, _ = run_scan(tmp_path, select=["SL606"])
    assert findings_of(result, "SL606") == []


def test_bpe_class_accepts_vocab_and_merges(tmp_path: Path) -> None:
    from tests.conftest import findings_of, run_scan

    _tree_bytes(tmp_path, {"m/config.json": '{"model_type": "qwen2"}\n',
                           "m/tokenizer_config.json": '{"tokenizer_class": "Qwen2Tokenizer"}\n',
                           "m/model.safetensors": _st_bytes(), "m/vocab.json": "{}\n"})
    result, _ = run_scan(tmp_path, select=["SL606"])
    assert len(findings_of(result, "SL606")) == 1  # vocab.json without merges.txt
    _tree_bytes(tmp_path, {"m/merges.txt": "#version: 0.2\n"})
    result, _ = run_scan(tmp_path, select=["SL606"])
    assert findings_of(result, "SL606") == []


def test_slow_llama_tokenizer_on_local_bpe_dir(tmp_path: Path) -> None:
    from tests.conftest import findings_of, run_scan

    script = "from transformers import LlamaTokenizer\ntok = LlamaTokenizer.from_pretrained('./llama3')\n"
    _tree_bytes(tmp_path, {"llama3/config.json": '{"model_type": "llama"}\n', "llama3/tokenizer.json": "{}\n",
                           "load.py": script})
    result, _ = run_scan(tmp_path, select=["SL606"])
    assert [f["line"] for f in findings_of(result, "SL606")] == [2]
    _tree_bytes(tmp_path, {"llama3/tokenizer.model": b"\x0a\x00"})
    result, _ = run_scan(tmp_path, select=["SL606"])
    assert findings_of(result, "SL606") == []
