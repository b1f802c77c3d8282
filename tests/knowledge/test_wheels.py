"""The wheels table (knowledge/data/wheels.json), its generator's file-name logic, and the
curated platform limits."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _gen():
    path = ROOT / "knowledge" / "scripts" / "gen_wheels.py"
    spec = importlib.util.spec_from_file_location("_gen_wheels", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_gen_wheels"] = mod
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_summarize_file_names() -> None:
    g = _gen()
    files = {"wheels": ["torch-2.1.2-cp311-cp311-manylinux1_x86_64.whl",
                        "torch-2.1.2-cp310-none-macosx_11_0_arm64.whl",
                        "torch-2.1.2-cp311-cp311-win_amd64.whl",
                        "x-1.0-cp39-abi3-manylinux_2_28_aarch64.whl",
                        "y-1.0-py3-none-any.whl"],
             "sdists": ["torch-2.1.2.tar.gz"], "others": [], "yanked": []}
    rec = g.summarize(files, "torch")
    assert rec["platforms"] == ["linux-x86_64", "linux-aarch64", "macos-arm64", "windows-amd64", "any"]
    assert rec["pythons"]["linux-aarch64"] == ["3.9+"] and rec["pythons"]["any"] == ["*"]
    assert rec["sdist"] is True
    assert g.platform_of("macosx_10_9_universal2") == "macos-universal2"
    assert g.platform_of("musllinux_1_1_x86_64") is None


def test_accessor_and_limits() -> None:
    from stacklint.knowledge import wheels

    assert wheels.known("vllm") and wheels.known("Flash_Attn")
    cov = wheels.coverage("torch", "2.1.2")
    assert cov is not None and "3.12" not in cov["pythons"]["linux-x86_64"]
    assert cov["source"].startswith("pypi:torch==2.1.2")
    assert wheels.limit("vllm", "0.6.3", "windows-amd64") is not None
    assert wheels.limit("vllm", "0.6.3", "linux-x86_64") is None
    assert wheels.limit("bitsandbytes", "0.41.1", "windows-amd64") is not None
    assert wheels.limit("bitsandbytes", "0.43.1", "windows-amd64") is None
    assert "windows-amd64" in wheels.coverage("bitsandbytes", "0.43.1")["platforms"]
