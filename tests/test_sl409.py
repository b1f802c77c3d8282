"""SL409 r1-reasoning-parser-misses-template-think: which vLLM launches, pins and templates it judges."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import findings_of, run_scan

_BASE = ("{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}"
         "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
         "{{ '<｜User｜>' + message['content'] }}{% endif %}{% if message['role'] == 'assistant' %}"
         "{{ '<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>' }}{% endif %}{% endfor %}")
THINK = _BASE + "{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\\n' }}{% endif %}"
PLAIN = _BASE + "{% if add_generation_prompt %}{{ '<｜Assistant｜>' }}{% endif %}"
LAUNCH = "vllm serve ./r1 --enable-reasoning --reasoning-parser deepseek_r1\n"


def _model(template: str) -> dict:
    return {"r1/config.json": json.dumps({"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}),
            "r1/tokenizer_config.json": json.dumps({"bos_token": "<｜begin▁of▁sentence｜>",
                                                    "chat_template": template})}


def _scan(tmp_path: Path, files: dict):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    result, _ = run_scan(tmp_path)
    return findings_of(result, "SL409")


def test_pinned_072_with_think_template(tmp_path):
    files = {"requirements.txt": "vllm==0.7.2\n", "serve.sh": LAUNCH, **_model(THINK)}
    assert _scan(tmp_path, files) == [{"code": "SL409", "path": "serve.sh", "line": 1, "col": 36}]


def test_range_confined_to_071_072(tmp_path):
    files = {"requirements.txt": "vllm>=0.7.1,<0.7.3\n", "serve.sh": LAUNCH, **_model(THINK)}
    assert len(_scan(tmp_path, files)) == 1


def test_not_judged(tmp_path):
    cases = {
        "fixed": {"requirements.txt": "vllm==0.7.3\n", "serve.sh": LAUNCH, **_model(THINK)},
        "open-range": {"requirements.txt": "vllm>=0.7.1\n", "serve.sh": LAUNCH, **_model(THINK)},
        "unpinned": {"requirements.txt": "vllm\n", "serve.sh": LAUNCH, **_model(THINK)},
        "old-template": {"requirements.txt": "vllm==0.7.2\n", "serve.sh": LAUNCH, **_model(PLAIN)},
        "no-enable": {"requirements.txt": "vllm==0.7.2\n", **_model(THINK),
                      "serve.sh": "vllm serve ./r1 --reasoning-parser deepseek_r1\n"},
        "other-parser": {"requirements.txt": "vllm==0.7.2\n", **_model(THINK),
                         "serve.sh": "vllm serve ./r1 --enable-reasoning --reasoning-parser granite\n"},
        "hub-id": {"requirements.txt": "vllm==0.7.2\n",
                   "serve.sh": "vllm serve deepseek-ai/DeepSeek-R1-Distill-Qwen-32B --enable-reasoning "
                               "--reasoning-parser deepseek_r1\n"},
        "template-outside-tree": {"requirements.txt": "vllm==0.7.2\n", **_model(THINK),
                                  "serve.sh": "vllm serve ./r1 --chat-template /etc/t.jinja --enable-reasoning "
                                              "--reasoning-parser deepseek_r1\n"},
    }
    for name, files in cases.items():
        assert _scan(tmp_path / name, files) == [], name


def test_image_tag(tmp_path):
    compose = ("services:\n  r1:\n    image: vllm/vllm-openai:v0.7.2\n    volumes:\n      - ./r1:/models/r1\n"
               "    command: --model /models/r1 --enable-reasoning --reasoning-parser deepseek_r1\n")
    assert len(_scan(tmp_path / "a", {"docker-compose.yml": compose, **_model(THINK)})) == 1
    assert _scan(tmp_path / "b", {"docker-compose.yml": compose.replace("v0.7.2", "v0.7.3"), **_model(THINK)}) == []
