"""Start-up stays small: a scan imports only what the files it reads need."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List, Set

import pytest

_PROBE = (
    "import json, sys\n"
    "from stacklint.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "sys.stderr.write('\\nMODULES=' + json.dumps(sorted(sys.modules)) + '\\n')\n"
)

HEAVY = {"yaml", "jinja2", "libcst", "pip_requirements_parser", "urllib.request", "http.client", "ssl"}


def _modules(root: Path, *args: str) -> Set[str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-c", _PROBE, "scan", *args, "--exit-zero"], cwd=str(root),
                          capture_output=True, text=True, timeout=60, env=env)
    line = [x for x in proc.stderr.splitlines() if x.startswith("MODULES=")]
    assert line, proc.stderr[-2000:]
    return set(json.loads(line[-1][len("MODULES="):]))


def _repo(tmp_path: Path, name: str, text: str) -> Path:
    root = tmp_path / name.replace(".", "_")
    root.mkdir()
    (root / ".git").mkdir()
    (root / name).write_text(text)
    return root


def test_requirements_file_alone(tmp_path: Path) -> None:
    root = _repo(tmp_path, "requirements.txt", "transformers==4.36.2\ntorch==2.1.0\npeft>=0.7\n")
    mods = _modules(root, "requirements.txt")
    assert not (mods & HEAVY), sorted(mods & HEAVY)
    unused = {"stacklint.jobs", "stacklint.parsers.python", "stacklint.parsers.dockerfile",
              "stacklint.parsers.yamlfile", "stacklint.checks.tokens", "stacklint.checks.modelfiles",
              "stacklint.checks.api", "stacklint.checks.serving", "stacklint.checks.training"}
    assert not (mods & unused), sorted(mods & unused)


def test_training_script_alone(tmp_path: Path) -> None:
    root = _repo(tmp_path, "train.py", "from transformers import AutoModelForCausalLM\n"
                                       "m = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-7B')\n")
    mods = _modules(root, "train.py")
    assert not (mods & HEAVY), sorted(mods & HEAVY)
    assert not (mods & {"stacklint.parsers.requirements", "stacklint.parsers.yamlfile",
                        "stacklint.checks.tokens", "stacklint.checks.modelfiles"})
    # no install set, no CI workflow: the dependency and platform machinery stays unloaded
    idle = {"packaging.markers", "packaging.requirements", "stacklint.checks._envlib",
            "stacklint.checks._platform", "stacklint.knowledge.wheels"}
    assert not (mods & idle), sorted(mods & idle)


def test_selectors_still_see_every_rule(tmp_path: Path) -> None:
    """--select names rules of families a scan would not import: still valid."""
    root = _repo(tmp_path, "requirements.txt", "torch==2.1.0\n")
    from stacklint import registry

    every: List[str] = sorted(registry.load_all())
    tokens_rule = next(c for c, r in registry.load_all().items()
                       if r.func is not None and r.func.__module__.endswith(".tokens"))
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-m", "stacklint", "scan", ".", "--select", tokens_rule,
                           "--format", "json"], cwd=str(root), capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    assert every


@pytest.mark.parametrize("kinds", [["requirements"], ["python"], ["hf-config"], ["yaml"], ["safetensors"], []])
def test_families_for_kinds(kinds: List[str]) -> None:
    from stacklint import registry

    fams = registry.families_for(kinds)
    assert "stacklint.checks.engine" in fams
    assert fams == [m for m in registry.FAMILIES if m in fams]  # registry order
    every_kind = {k for v in registry.FAMILY_KINDS.values() if v for k in v}
    assert registry.families_for(every_kind) == list(registry.FAMILIES)
