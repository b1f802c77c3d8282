"""Limits: sane defaults, configurable in [tool.stacklint] limits, and reported when hit."""
from __future__ import annotations

from pathlib import Path

import pytest

from hardening_helpers import scan, write_good_stack
from stacklint import config
from stacklint.config import ConfigError, Limits


def test_defaults_are_sane() -> None:
    lim = Limits()
    assert 1 << 20 <= lim.max_file_size <= 1 << 30
    assert 64 <= lim.max_depth <= 10_000
    assert lim.max_yaml_nodes >= 100_000
    assert lim.max_template_size >= 64 * 1024


@pytest.mark.parametrize("key,value,message", [
    ("max-file-size", 100, "max-file-size"),
    ("max-depth", 3, "nested"),
    ("max-yaml-nodes", 5, "too many nodes"),
    ("max-template-size", 10, "max-template-size"),
])
def test_each_limit_is_configurable_and_reported(tmp_path: Path, key: str, value: int, message: str) -> None:
    write_good_stack(tmp_path)
    (tmp_path / "stacklint.toml").write_text(f"[limits]\n{key} = {value}\n")
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "train.yaml").write_text(
        "model: x\nlora_target: [q, k, v]\ndeep: {a: {b: {c: {d: {e: 1}}}}}\n" + "# pad\n" * 30)
    (tmp_path / "cfg" / "chat_template.jinja").write_text("{% for m in messages %}{{ m.content }}{% endfor %}")
    run = scan(tmp_path)
    assert any(message in e["message"] for e in run.errors), (key, run.errors)


def test_limit_values_are_validated(tmp_path: Path) -> None:
    p = tmp_path / "stacklint.toml"
    p.write_text("[limits]\nmax-file-size = 0\n")
    with pytest.raises(ConfigError, match="max-file-size"):
        config.load(str(p), str(tmp_path))
    p.write_text("[limits]\nmax-nesting = 5\n")
    with pytest.raises(ConfigError, match="unknown key"):
        config.load(str(p), str(tmp_path))
