"""Nothing in the scanned tree is imported or executed, and a scan opens no connection."""
from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest

from hardening_helpers import scan, write_good_stack

MARKER = "PWNED"


def _payload(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('ran')\nimport transformers, torch\n"


def _plant(root: Path, marker: Path) -> None:
    write_good_stack(root)
    code = _payload(marker)
    for rel in ("setup.py", "conftest.py", "sitecustomize.py", "usercustomize.py", "__init__.py",
                "models/q/tokenization_evil.py", "models/q/modeling_evil.py", "models/q/configuration_evil.py",
                "lib/python3.11/site-packages/evil.py"):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(code)
    (root / "evil.pth").write_text(f"import os; {code.splitlines()[0]}\n")
    (root / "lib" / "python3.11" / "site-packages" / "evil.pth").write_text(f"import evil\n")
    (root / "models" / "q" / "tokenizer_config.json").write_text(
        '{"auto_map": {"AutoTokenizer": ["tokenization_evil.EvilTokenizer", null]},\n'
        ' "tokenizer_class": "EvilTokenizer", "eos_token": "<|im_end|>",\n'
        ' "chat_template": "{{ cycler.__init__.__globals__.os.system(\'touch ' + str(marker) + '\') }}"}\n')
    (root / "models" / "q" / "config.json").write_text(
        '{"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"],\n'
        ' "auto_map": {"AutoConfig": "configuration_evil.EvilConfig", "AutoModel": "modeling_evil.EvilModel"}}\n')
    (root / "models" / "q" / "chat_template.jinja").write_text(
        "{{ ''.__class__.__mro__[1].__subclasses__() }}{{ lipsum.__globals__['os'].system('touch " + str(marker) + "') }}")
    (root / "stacklint_plugin.py").write_text(code)


def test_cli_scan_runs_nothing_from_the_tree(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    marker = tmp_path / MARKER
    _plant(root, marker)
    env_before = dict(os.environ)
    run = scan(root)
    assert not marker.exists(), "a file from the scanned tree was executed"
    assert dict(os.environ) == env_before
    assert run.returncode == 0
    # and with the tree on the child's path, as a user running from inside a project would
    run2 = scan(root, extra=["--select", "ALL"])
    assert not marker.exists()
    assert run2.report["findings"] is not None


def test_in_process_scan_opens_no_socket_and_imports_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    marker = tmp_path / MARKER
    _plant(root, marker)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    before = set(sys.modules)
    from conftest import run_scan

    result, _stack = run_scan(root)
    assert not marker.exists()
    new = set(sys.modules) - before
    planted = {"setup", "conftest_evil", "sitecustomize", "usercustomize", "evil", "tokenization_evil",
               "modeling_evil", "configuration_evil", "stacklint_plugin"}
    assert not (new & planted), new & planted
    assert not [e for e in result.errors if e.message.startswith("internal:")]
