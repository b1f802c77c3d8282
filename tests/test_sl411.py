"""SL411 qwen-chat-stream-multiple-eos-ids: which scripts it judges."""
from __future__ import annotations

from pathlib import Path

from conftest import findings_of, run_scan

HEAD = ("from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig\n"
        "model = AutoModelForCausalLM.from_pretrained('Qwen-7B-Chat', trust_remote_code=True)\n")


def _scan(tmp_path: Path, body: str):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "run.py").write_text(HEAD + body)
    result, _ = run_scan(tmp_path)
    return findings_of(result, "SL411")


def test_config_variable_passed_to_chat_stream(tmp_path):
    body = ("cfg = GenerationConfig.from_pretrained('Qwen-7B-Chat')\n"
            "cfg.eos_token_id = [198, 151643]\n"
            "for r in model.chat_stream(tok, 'hi', history=None, generation_config=cfg):\n    print(r)\n")
    assert _scan(tmp_path, body) == [{"code": "SL411", "path": "run.py", "line": 4, "col": 1}]


def test_constructor_keyword_and_call_keyword_and_old_stream_api(tmp_path):
    body = ("cfg = GenerationConfig(eos_token_id=[198, 151643])\n"
            "for r in model.chat_stream(tok, 'hi', None, generation_config=cfg):\n    print(r)\n")
    assert len(_scan(tmp_path / "a", body)) == 1
    body = "for r in model.chat_stream(tok, 'hi', None, eos_token_id=[198, 151643]):\n    print(r)\n"
    assert len(_scan(tmp_path / "b", body)) == 1
    body = ("model.generation_config.eos_token_id = [198, 151643]\n"
            "for r in model.chat(tok, 'hi', history=None, stream=True):\n    print(r)\n")
    assert len(_scan(tmp_path / "c", body)) == 1


def test_not_judged(tmp_path):
    cases = {
        "single-id": "model.generation_config.eos_token_id = [151643]\nfor r in model.chat_stream(tok, 'q', None):\n    pass\n",
        "non-stream-chat": "model.generation_config.eos_token_id = [198, 151643]\nr, h = model.chat(tok, 'q', None)\n",
        "other-config": ("cfg = GenerationConfig.from_pretrained('x')\ncfg.eos_token_id = [198, 151643]\n"
                         "for r in model.chat_stream(tok, 'q', None):\n    pass\n"),
        "reset": ("model.generation_config.eos_token_id = [198, 151643]\nmodel.generation_config.eos_token_id = 151643\n"
                  "for r in model.chat_stream(tok, 'q', None):\n    pass\n"),
        "generate": "model.generation_config.eos_token_id = [198, 151643]\nout = model.generate(ids)\n",
    }
    for name, body in cases.items():
        assert _scan(tmp_path / name, body) == [], name
