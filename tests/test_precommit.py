"""The pre-commit hook, installed the way users install it (`pre-commit try-repo`).

The hook environment is built offline: the virtualenv sees the packages already installed for
the test run (VIRTUALENV_SYSTEM_SITE_PACKAGES) and pip may not reach any index (PIP_NO_INDEX).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.skipif(shutil.which("pre-commit") is None or shutil.which("git") is None,
                                reason="pre-commit and git are needed")


def _run(args, cwd: Path, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PRE_COMMIT_HOME=str(home), VIRTUALENV_SYSTEM_SITE_PACKAGES="1",
               PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", NO_COLOR="1")
    return subprocess.run(args, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=600)


def test_hook_fails_on_a_bad_file_and_passes_on_a_good_one(tmp_path: Path):
    repo = tmp_path / "sample"
    model = repo / "out" / "qwen2.5-7b-instruct-sft"
    model.mkdir(parents=True)
    tok = model / "tokenizer_config.json"
    tok.write_text('{\n  "eos_token": "<|im_end|>",\n  "pad_token": "<|endoftext|>"\n}\n')
    (repo / "notes.txt").write_text("not a stack file\n")
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(cmd, cwd=str(repo), check=True)
    home = tmp_path / "pre-commit-home"
    hook = ["pre-commit", "try-repo", str(ROOT), "stacklint", "--files"]

    bad = _run(hook + ["out/qwen2.5-7b-instruct-sft/tokenizer_config.json"], repo, home)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "SL601" in bad.stdout and "Failed" in bad.stdout

    unrelated = _run(hook + ["notes.txt"], repo, home)
    assert unrelated.returncode == 0, unrelated.stdout + unrelated.stderr

    (model / "chat_template.jinja").write_text(
        "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}")
    subprocess.run(["git", "add", "-A"], cwd=str(repo), check=True)
    good = _run(hook + ["out/qwen2.5-7b-instruct-sft/tokenizer_config.json",
                        "out/qwen2.5-7b-instruct-sft/chat_template.jinja"], repo, home)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout
