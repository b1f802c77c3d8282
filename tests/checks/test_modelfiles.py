"""Unit tests for the model-file family (SL901-SL904): only headers and first bytes are read."""
from __future__ import annotations

import json
import struct
from pathlib import Path

from tests.conftest import findings_of, run_scan

LFS = ("version https://git-lfs.github.com/spec/v1\n"
       "oid sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\nsize 499723\n")


def _st(header: dict, data_len: int) -> bytes:
    raw = json.dumps(header).encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw + b"\0" * data_len


def _codes(root: Path, code: str) -> list:
    result, _ = run_scan(root, select=[code])
    return findings_of(result, code)


def test_safetensors_truncated_and_whole(tmp_path: Path) -> None:
    hdr = {"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}
    (tmp_path / "bad").mkdir()
    (tmp_path / "good").mkdir()
    for d in ("bad", "good"):
        (tmp_path / d / "config.json").write_text('{"model_type": "qwen2"}', encoding="utf-8")
    (tmp_path / "bad" / "model.safetensors").write_bytes(_st(hdr, 20))
    (tmp_path / "good" / "model.safetensors").write_bytes(_st(hdr, 64))
    assert [f["path"] for f in _codes(tmp_path, "SL903")] == ["bad/model.safetensors"]


def test_safetensors_header_length_past_end(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", 1 << 40) + b"{}")
    (tmp_path / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    assert len(_codes(tmp_path, "SL903")) == 1


def test_lfs_pointer_tokenizer_and_real_file(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    (tmp_path / "tokenizer.model").write_text(LFS, encoding="utf-8")
    found = _codes(tmp_path, "SL902")
    assert [f["path"] for f in found] == ["tokenizer.model"]
    assert _codes(tmp_path, "SL903") == []  # a pointer is SL902's, not a corrupt safetensors file


def test_invalid_generation_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"model_type": "qwen2"}', encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text("{}", encoding="utf-8")
    (tmp_path / "generation_config.json").write_text('{"eos_token_id": 151645 "top_p": 0.8}', encoding="utf-8")
    assert [f["path"] for f in _codes(tmp_path, "SL901")] == ["generation_config.json"]


def test_index_without_any_shard_is_a_config_mirror(tmp_path: Path) -> None:
    idx = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (tmp_path / "config.json").write_text('{"model_type": "llama"}', encoding="utf-8")
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(idx), encoding="utf-8")
    assert _codes(tmp_path, "SL904") == []
    hdr = {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    (tmp_path / "model-00001-of-00002.safetensors").write_bytes(_st(hdr, 4))
    assert [f["path"] for f in _codes(tmp_path, "SL904")] == ["model.safetensors.index.json"]
