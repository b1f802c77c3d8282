"""tokenizer.json: the pre_tokenizer / decoder values read for SL126 (stacklint.load)."""
from __future__ import annotations

import json
from pathlib import Path

from stacklint.load import read_blob


def _write(tmp_path: Path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return str(p)


def test_parts_with_lines_stop_before_model(tmp_path: Path) -> None:
    doc = {"version": "1.0", "added_tokens": [{"id": i, "content": f"<t{i}>"} for i in range(300)],
           "normalizer": None,
           "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": False},
           "post_processor": None, "decoder": {"type": "Sequence", "decoders": [{"type": "Fuse"}]},
           "model": {"type": "BPE", "vocab": {f"w{i}": i for i in range(50000)}, "merges": []}}
    text = json.dumps(doc, ensure_ascii=False, indent=2)
    blob = read_blob(_write(tmp_path, "tokenizer.json", text), safetensors=False, max_header=1 << 30)
    assert blob is not None and blob.tokenizer_parts is not None
    parts = {k: (line, v) for k, line, v in blob.tokenizer_parts}
    assert parts["pre_tokenizer"][1]["add_prefix_space"] is False
    assert parts["decoder"][1]["type"] == "Sequence"
    lines = text.splitlines()
    assert '"pre_tokenizer"' in lines[parts["pre_tokenizer"][0] - 1]
    assert '"decoder"' in lines[parts["decoder"][0] - 1]


def test_other_files_and_lfs_pointers_have_no_parts(tmp_path: Path) -> None:
    ptr = "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n"
    blob = read_blob(_write(tmp_path, "tokenizer.json", ptr), safetensors=False, max_header=1 << 20)
    assert blob is not None and blob.tokenizer_parts is None
    blob = read_blob(_write(tmp_path, "vocab.json", '{"decoder": {"type": "Fuse"}}'), safetensors=False,
                     max_header=1 << 20)
    assert blob is not None and blob.tokenizer_parts is None


def test_truncated_or_invalid_json_is_tolerated(tmp_path: Path) -> None:
    blob = read_blob(_write(tmp_path, "tokenizer.json", '{"pre_tokenizer": {"type": "Metaspace", '),
                     safetensors=False, max_header=1 << 20)
    assert blob is not None and blob.tokenizer_parts is None


def test_merges_form_is_read_after_a_large_vocab(tmp_path: Path) -> None:
    vocab = {f"w{i}": i for i in range(120000)}  # > 1 MiB: the merges lie beyond the first chunk
    for form, merges in (("pairs", [["w1", "w2"], ["w3", "w4"]]), ("strings", ["w1 w2", "w3 w4"])):
        doc = {"version": "1.0", "added_tokens": [], "pre_tokenizer": {"type": "ByteLevel"}, "decoder": None,
               "model": {"type": "BPE", "vocab": vocab, "merges": merges}}
        text = json.dumps(doc, indent=2)
        assert len(text.encode()) > (1 << 20)
        blob = read_blob(_write(tmp_path, "tokenizer.json", text), safetensors=False, max_header=1 << 30)
        assert blob is not None and blob.tokenizer_parts is not None
        got = [(k, line, v) for k, line, v in blob.tokenizer_parts if k == "merges"]
        assert len(got) == 1 and got[0][2] == form
        assert '"merges"' in text.splitlines()[got[0][1] - 1]
