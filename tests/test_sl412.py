"""SL412 chatml-prompt-passed-to-chat: which query expressions it judges."""
from __future__ import annotations

from pathlib import Path

from conftest import findings_of, run_scan

HEAD = "from transformers import AutoModelForCausalLM\nmodel = AutoModelForCausalLM.from_pretrained('Qwen/Qwen-7B-Chat', trust_remote_code=True)\n"


def _scan(tmp_path: Path, body: str):
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "run.py").write_text(HEAD + body)
    result, _ = run_scan(tmp_path)
    return findings_of(result, "SL412")


def test_forms_of_a_chatml_query(tmp_path):
    bodies = {
        "literal": "r, h = model.chat(tok, '<|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n', history=None)\n",
        "concat-format": ("pre = '<|im_start|>system\\nx<|im_end|>\\n'\npost = '<|im_start|>user\\n{}<|im_end|>\\n'\n"
                          "r, h = model.chat(tok, pre + post.format(q), history=None)\n"),
        "fstring-name": "p = f'<|im_start|>user\\n{q}<|im_end|>\\n'\nfor x in model.chat_stream(tok, p, None):\n    pass\n",
        "keyword": "r, h = model.chat(tokenizer=tok, query='<|im_start|>user\\nhi', history=None)\n",
    }
    for name, body in bodies.items():
        assert len(_scan(tmp_path / name, body)) == 1, name


def test_not_judged(tmp_path):
    bodies = {
        "plain": "r, h = model.chat(tok, 'hi', history=None)\n",
        "variable-unknown": "r, h = model.chat(tok, build(q), history=None)\n",
        "reassigned": "p = '<|im_start|>user\\n'\np = 'plain'\nr, h = model.chat(tok, p, history=None)\n",
        "generate": "out = model.generate(tok('<|im_start|>user\\nhi', return_tensors='pt').input_ids)\n",
        "messages-list": "r = client.chat('m', [{'role': 'user', 'content': '<|im_start|>'}])\n",
    }
    for name, body in bodies.items():
        assert _scan(tmp_path / name, body) == [], name
