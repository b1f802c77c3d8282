"""--fix / --diff: exact before/after bytes, idempotence, and untouched files."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Dict

import pytest

from stacklint.cli import main
from stacklint.findings import Edit
from stacklint.fix import apply_edits, json_value_span, rename_keyword

TRAIN_BEFORE = (b"from transformers import TrainingArguments\r\n"
                b"from trl import SFTTrainer\r\n"
                b"# \xc3\xa9t\xc3\xa9: non-ASCII before the call\r\n"
                b"args = TrainingArguments(output_dir=\"\xc3\xa9\", evaluation_strategy =\"steps\",\r\n"
                b"                         eval_steps=10)\r\n"
                b"t = SFTTrainer(model=m, args=args, tokenizer=tok)\r\n")
TRAIN_AFTER = (b"from transformers import TrainingArguments\r\n"
               b"from trl import SFTTrainer\r\n"
               b"# \xc3\xa9t\xc3\xa9: non-ASCII before the call\r\n"
               b"args = TrainingArguments(output_dir=\"\xc3\xa9\", eval_strategy =\"steps\",\r\n"
               b"                         eval_steps=10)\r\n"
               b"t = SFTTrainer(model=m, args=args, processing_class=tok)\r\n")
GEN_BEFORE = b'{\n  "bos_token_id": 128000,\n  "eos_token_id": 128001,\n  "do_sample": true\n}\n'
GEN_AFTER = b'{\n  "bos_token_id": 128000,\n  "eos_token_id": [128001, 128009],\n  "do_sample": true\n}\n'
TOK = {"added_tokens_decoder": {"128001": {"content": "<|end_of_text|>"}, "128009": {"content": "<|eot_id|>"}},
       "chat_template": "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n"
                        "{{ m['content'] }}<|eot_id|>{% endfor %}",
       "eos_token": "<|end_of_text|>"}


def _tree(root: Path, files: Dict[str, bytes]) -> None:
    for name, data in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def _snapshot(root: Path) -> Dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    _tree(tmp_path, {
        "requirements.txt": b"transformers==4.51.0\ntrl==0.16.0\n",
        "train.py": TRAIN_BEFORE,
        "untouched.py": b"from transformers import TrainingArguments\nTrainingArguments(output_dir='o')\n",
        "Meta-Llama-3-8B-Instruct/config.json": b'{"model_type": "llama", "vocab_size": 128256}\n',
        "Meta-Llama-3-8B-Instruct/tokenizer_config.json": json.dumps(TOK).encode(),
        "Meta-Llama-3-8B-Instruct/generation_config.json": GEN_BEFORE,
    })
    return tmp_path


def _cli(root: Path, *args: str) -> int:
    old = os.getcwd()
    os.chdir(root)
    try:
        return main(["scan", ".", "--select", "SL401,SL602", "--no-color", *args])
    finally:
        os.chdir(old)


def test_fix_exact_bytes_and_idempotent(project: Path) -> None:
    before = _snapshot(project)
    _cli(project, "--fix")
    after = _snapshot(project)
    assert after["train.py"] == TRAIN_AFTER
    assert after["Meta-Llama-3-8B-Instruct/generation_config.json"] == GEN_AFTER
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {"train.py", "Meta-Llama-3-8B-Instruct/generation_config.json"}
    assert _cli(project, "--fix") == 0  # nothing left to report
    assert _snapshot(project) == after  # second run changes nothing


def test_diff_writes_nothing(project: Path, capsys: pytest.CaptureFixture) -> None:
    before = _snapshot(project)
    assert _cli(project, "--diff") == 1
    out = capsys.readouterr().out
    assert _snapshot(project) == before
    assert "--- a/train.py\n+++ b/train.py\n" in out
    assert '-  "eos_token_id": 128001,\n+  "eos_token_id": [128001, 128009],\n' in out
    assert "untouched.py" not in out


def test_no_applicable_fix_leaves_every_byte(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _tree(tmp_path, {"requirements.txt": b"transformers==4.40.0\n", "train.py": TRAIN_BEFORE,
                     "m/generation_config.json": GEN_BEFORE})
    before = _snapshot(tmp_path)
    mtimes = {p: os.stat(tmp_path / p).st_mtime_ns for p in before}
    _cli(tmp_path, "--fix")
    assert _snapshot(tmp_path) == before
    assert {p: os.stat(tmp_path / p).st_mtime_ns for p in before} == mtimes
    capsys.readouterr()
    assert _cli(tmp_path, "--diff") == 0
    assert capsys.readouterr().out == ""


def test_utf8_bom_is_kept(tmp_path: Path) -> None:
    _tree(tmp_path, {"requirements.txt": b"transformers==4.51.0\n",
                     "t.py": b"\xef\xbb\xbffrom transformers import TrainingArguments\n"
                             b"TrainingArguments(evaluation_strategy='no')\n"})
    _cli(tmp_path, "--fix")
    assert (tmp_path / "t.py").read_bytes() == (b"\xef\xbb\xbffrom transformers import TrainingArguments\n"
                                                b"TrainingArguments(eval_strategy='no')\n")


def test_apply_edits_overlap_and_order() -> None:
    text = "abcdef"
    out, used = apply_edits(text, [Edit("f", 4, 6, "XY"), Edit("f", 0, 2, "Z"), Edit("f", 1, 3, "no")])
    assert out == "ZcdXY" and len(used) == 2
    assert apply_edits(text, [Edit("f", 0, 1, "q"), Edit("f", 0, 1, "q")])[0] == "qbcdef"
    assert apply_edits(text, [Edit("f", 5, 99, "x")])[0] == text


def test_helpers_refuse_what_they_do_not_see() -> None:
    assert rename_keyword("f(tokenizer=t)", "p", 1, 3, "tokenizer", "processing_class") is not None
    assert rename_keyword("f(tokenizer == t)", "p", 1, 3, "tokenizer", "processing_class") is None
    assert rename_keyword("f(x=tokenizer)", "p", 1, 3, "tokenizer", "processing_class") is None
    assert json_value_span('{"a": [1, 2], "b": 3}', 1) == (6, 12)
    assert json_value_span('{"a": 1}', 0) is None


# -- the requirement-floor edit offered to rules that know the first release needed ----------

FLOOR_CASES = [
    (b"transformers==4.36.2\n", b"transformers==4.37.0\n"),
    (b"transformers>=4.30,<5  # pinned for x\n", b"transformers>=4.37.0,<5  # pinned for x\n"),
    (b"Transformers[torch] >= 4.30 ; python_version >= '3.9'\n",
     b"Transformers[torch] >=4.37.0 ; python_version >= '3.9'\n"),
    (b"transformers\r\n", b"transformers>=4.37.0\r\n"),
    (b"transformers>4.36\n", b"transformers>=4.37.0\n"),
    (b"transformers!=4.36.1,>4.30\n", b"transformers>=4.37.0,!=4.36.1\n"),
    (b"transformers==4.36.2 --hash=sha256:abc\n", b"transformers==4.37.0 --hash=sha256:abc\n"),
]


@pytest.mark.parametrize("before,after", FLOOR_CASES)
def test_requirement_floor_exact_and_idempotent(before: bytes, after: bytes) -> None:
    from stacklint.fix import requirement_floor_edit

    text = "torch==2.1.0\n# caf\u00e9\n" + before.decode("utf-8")
    edit = requirement_floor_edit(text, "requirements.txt", 3, "transformers", "4.37.0")
    assert edit is not None
    out, used = apply_edits(text, [edit])
    assert out.encode("utf-8") == b"torch==2.1.0\n# caf\xc3\xa9\n" + after
    assert requirement_floor_edit(out, "requirements.txt", 3, "transformers", "4.37.0") is None  # idempotent


@pytest.mark.parametrize("line", [
    "transformers>=4.40\n", "transformers==4.37.0\n",  # already new enough
    "transformers<4.37\n", "transformers!=4.37.0,>=4.30\n",  # an upper bound / exclusion rejects it
    "transformers~=4.36.0\n", "transformers==4.36.*\n", "transformers===4.36.2\n",  # not mechanical
    "transformers @ git+https://github.com/huggingface/transformers\n", "torch==2.1.0\n", "# transformers\n",
])
def test_requirement_floor_leaves_other_lines(line: str) -> None:
    from stacklint.fix import requirement_floor_edit

    assert requirement_floor_edit(line, "requirements.txt", 1, "transformers", "4.37.0") is None


def test_requirement_floor_fix_only_for_requirements_files(tmp_path: Path) -> None:
    from stacklint.fix import requirement_floor_fix
    from tests.conftest import run_scan

    _tree(tmp_path, {"requirements.txt": b"transformers==4.36.2\n",
                     "pyproject.toml": b'[project]\nname = "x"\nversion = "0"\ndependencies = ["transformers==4.36.2"]\n'})
    _, stack = run_scan(tmp_path)
    by_origin = {c.origin: c for s in stack.install_sets for c in s.get("transformers")}
    fix = requirement_floor_fix(stack, by_origin["requirements"], "4.37.0")
    assert fix is not None and fix.safe and [e.new for e in fix.edits] == ["==4.37.0"]
    assert requirement_floor_fix(stack, by_origin["pyproject"], "4.37.0") is None


REQ_BEFORE = b"torch==2.3.1\ntransformers==4.36.2  # pinned by the image\r\naccelerate\n"
REQ_AFTER = b"torch==2.3.1\ntransformers==4.37.0  # pinned by the image\r\naccelerate\n"


def test_fix_raises_the_transformers_floor_for_the_model(tmp_path: Path):
    """SL101: the one requirements line that is too old is raised to the first release that
    supports the model; the rest of the file and the model directory stay byte-identical."""
    _tree(tmp_path, {"requirements.txt": REQ_BEFORE,
                     "qwen2/config.json": b'{"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}\n'})
    before = _snapshot(tmp_path)
    assert _cli(tmp_path, "--select", "SL101", "--diff") == 1
    assert _snapshot(tmp_path) == before  # --diff writes nothing
    _cli(tmp_path, "--select", "SL101", "--fix")
    after = _snapshot(tmp_path)
    assert after["requirements.txt"] == REQ_AFTER
    assert after["qwen2/config.json"] == before["qwen2/config.json"]
    assert _cli(tmp_path, "--select", "SL101", "--fix") == 0  # nothing left
    assert _snapshot(tmp_path) == after  # idempotent
