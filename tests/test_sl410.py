"""SL410 qwen1-generate-kwarg-on-native-model: which models and calls it judges."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import findings_of, run_scan

QWEN2 = json.dumps({"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]})
QWEN1 = json.dumps({"model_type": "qwen", "architectures": ["QWenLMHeadModel"],
                    "auto_map": {"AutoModelForCausalLM": "modeling_qwen.QWenLMHeadModel"}})


def _script(path: str, kw: str = "stop_words_ids=[[151645]]") -> str:
    return ("from transformers import AutoModelForCausalLM\n"
            f"model = AutoModelForCausalLM.from_pretrained({path!r}, device_map='auto')\n"
            f"out = model.generate(ids, max_new_tokens=64, {kw})\n")


def _scan(tmp_path: Path, files: dict):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    result, _ = run_scan(tmp_path)
    return findings_of(result, "SL410")


def test_native_local_dir(tmp_path):
    found = _scan(tmp_path, {"m/config.json": QWEN2, "run.py": _script("m")})
    assert found == [{"code": "SL410", "path": "run.py", "line": 3, "col": 46}]


def test_known_hub_id(tmp_path):
    assert len(_scan(tmp_path, {"run.py": _script("Qwen/Qwen1.5-7B-Chat")})) == 1


def test_not_judged(tmp_path):
    cases = {
        "remote-code": {"m/config.json": QWEN1, "run.py": _script("m")},
        "unknown-hub": {"run.py": _script("someone/unknown-model")},
        "other-kwarg": {"m/config.json": QWEN2, "run.py": _script("m", "eos_token_id=[151645]")},
        "old-transformers": {"m/config.json": QWEN2, "run.py": _script("m"), "requirements.txt": "transformers==4.25.1\n"},
        "variable-path": {"m/config.json": QWEN2,
                          "run.py": "from transformers import AutoModelForCausalLM\nimport sys\n"
                                    "model = AutoModelForCausalLM.from_pretrained(sys.argv[1])\n"
                                    "model.generate(ids, stop_words_ids=[[1]])\n"},
    }
    for name, files in cases.items():
        assert _scan(tmp_path / name, files) == [], name
