"""Configuration discovery and validation, per-file ignores and inline suppressions."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import findings_of, run_scan
from stacklint import config
from stacklint.config import ConfigError
from test_cli import make_repo, sl


def test_pyproject_section_found_upward(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[tool.stacklint]\nignore = ["SL601"]\n[tool.stacklint.target]\ngpu = "T4"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    cfg = config.load(None, str(sub))
    assert cfg.ignore == ["SL601"] and cfg.gpu == "T4" and cfg.path.endswith("pyproject.toml")


def test_pyproject_without_section_is_skipped(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert config.load(None, str(tmp_path)).path is None


@pytest.mark.parametrize("text,needle", [
    ('selct = ["SL1"]\n', "unknown key 'selct'"),
    ('[target]\ngpus = "T4"\n', "unknown key 'gpus'"),
    ('[severity]\nSL601 = "fatal"\n', "unknown severity"),
    ('[limits]\nmax-file-size = -1\n', "positive integer"),
    ('select = 3\n', "list of strings"),
    ('select = [\n', "cannot read configuration"),
])
def test_bad_configuration_is_reported(tmp_path: Path, text: str, needle: str):
    (tmp_path / "stacklint.toml").write_text(text)
    with pytest.raises(ConfigError) as e:
        config.load(None, str(tmp_path))
    assert needle in str(e.value)


def test_unknown_code_in_config_exits_2(tmp_path: Path):
    make_repo(tmp_path)
    (tmp_path / "stacklint.toml").write_text('ignore = ["SL9999"]\n')
    r = sl("scan", cwd=tmp_path)
    assert r.returncode == 2 and "SL9999" in r.stderr


def test_per_file_ignores(tmp_path: Path):
    make_repo(tmp_path)
    (tmp_path / "stacklint.toml").write_text('[per-file-ignores]\n"out/*/tokenizer_config.json" = ["SL601"]\n')
    result, _ = run_scan(tmp_path, select=["SL601"])
    assert findings_of(result, "SL601") == []


def test_inline_suppression_same_line_and_line_above(tmp_path: Path):
    from stacklint.suppress import scan as scan_sup

    text = ("torch==2.1.0  # stacklint: ignore[SL101, SL102] -- pinned by the base image\n"
            "# stacklint: ignore[SL103]\n"
            "vllm==0.6.3\n")
    sups = scan_sup("requirements.txt", text)
    assert sups[0].codes == ("SL101", "SL102") and sups[0].reason == "pinned by the base image"
    assert sups[0].covers("SL101", 1) and not sups[0].covers("SL101", 2)
    assert sups[1].own_line and sups[1].covers("SL103", 3) and not sups[1].covers("SL101", 3)


def test_unused_suppression_is_reported(tmp_path: Path):
    make_repo(tmp_path, broken=False)
    (tmp_path / "requirements.txt").write_text("torch==2.4.0  # stacklint: ignore[SL601]\n")
    result, _ = run_scan(tmp_path, select=["SL601", "SL003"])
    assert findings_of(result, "SL003") == [{"code": "SL003", "path": "requirements.txt", "line": 1, "col": 15}]


def _qwen_repo(root: Path, requirements: str) -> Path:
    m = root / "models" / "qwen"
    m.mkdir(parents=True)
    (m / "config.json").write_text('{\n  "architectures": ["Qwen2ForCausalLM"],\n  "model_type": "qwen2"\n}\n')
    (root / "requirements.txt").write_text(requirements)
    return root


def test_inline_suppression_hides_the_finding_and_is_used(tmp_path: Path):
    _qwen_repo(tmp_path, "torch==2.4.0\ntransformers==4.36.2  # stacklint: ignore[SL101] -- remote code\n")
    result, _ = run_scan(tmp_path, select=["SL101", "SL003"])
    assert findings_of(result) == []


def test_suppression_on_the_line_above(tmp_path: Path):
    _qwen_repo(tmp_path, "# stacklint: ignore[SL101]\ntransformers==4.36.2\n")
    result, _ = run_scan(tmp_path, select=["SL101", "SL003"])
    assert findings_of(result) == []


def test_suppression_of_another_code_does_not_hide(tmp_path: Path):
    _qwen_repo(tmp_path, "transformers==4.36.2  # stacklint: ignore[SL102]\n")
    result, _ = run_scan(tmp_path, select=["SL101"])
    assert findings_of(result) == [{"code": "SL101", "path": "requirements.txt", "line": 1, "col": 1}]


def test_readme_configuration_example_is_valid(tmp_path):
    """The example in README's Configuration section loads, selectors included."""
    import subprocess
    import sys

    from conftest import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("```toml\n[tool.stacklint]") + len("```toml\n")
    (tmp_path / "pyproject.toml").write_text(text[start:text.index("```", start)], encoding="utf-8")
    (tmp_path / "requirements.txt").write_text("torch==2.4.0\n", encoding="utf-8")
    r = subprocess.run([sys.executable, "-m", "stacklint", "scan", "."], cwd=str(tmp_path),
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
