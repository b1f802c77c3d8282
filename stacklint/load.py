"""Read a candidate file safely: size limits, binary and encoding detection."""
from __future__ import annotations

import codecs
import json
import os
import re
import stat
import struct
from typing import TYPE_CHECKING, Optional, Tuple

from stacklint.discover import JSON, PYTHON, SHELL, YAML

if TYPE_CHECKING:
    from stacklint.model import Blob

HEAD_BYTES = 512

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class ReadError(Exception):
    """``limit``: a configured limit refused the file (always reported, even for generic names)."""

    def __init__(self, message: str, limit: bool = False) -> None:
        super().__init__(message)
        self.limit = limit


def read_text(abspath: str, max_bytes: int) -> str:
    try:
        fd = os.open(abspath, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ReadError(f"cannot open: {exc.strerror}") from None
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise ReadError(f"file is {size} bytes, over the {max_bytes}-byte limit (max-file-size); not read", True)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ReadError(f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ReadError(f"file is over the {max_bytes}-byte limit (max-file-size); not read", True)
    return decode(data)


def decode(data: bytes) -> str:
    for bom, enc in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc).lstrip("\ufeff")
            except UnicodeDecodeError:
                raise ReadError(f"not valid {enc.upper()} text despite its byte-order mark") from None
    if b"\0" in data[:8192]:
        raise ReadError("binary content (NUL bytes) where text was expected")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReadError(f"not UTF-8 text (invalid byte at offset {exc.start})") from None


# Cheap content sniffing for generic names: a file that mentions none of these words
# cannot be a stack file stacklint understands, so it is not parsed at all.
_YAML_HINT = re.compile(
    r"^\s*(?:apiVersion|kind|services|base_model|model_name_or_path|model|_component_|compute_environment|"
    r"distributed_type|deepspeed_config|dependencies|resources|accelerators|tensor[-_]parallel[-_]size|"
    r"lora_target|lora_target_modules|adapter|finetuning_type|stage|template|sequence_len|cutoff_len|"
    r"load_in_4bit|load_in_8bit|quantization|chat_template|datasets|run|jobs|setup|envs)\s*:",
    re.M,
)
_JSON_HINT = re.compile(r'"(?:zero_optimization|train_micro_batch_size_per_gpu|train_batch_size|model_type|'
                        r'model_name_or_path|base_model_name_or_path|finetuning_type|bos_token|eos_token_id|'
                        r'weight_map|chat_template|fp16|bf16)"')
_PY_HINT = re.compile(r"\b(?:transformers|peft|trl|vllm|accelerate|bitsandbytes|deepspeed|sglang|unsloth|"
                      r"auto_gptq|awq|llama_cpp|torch|datasets|huggingface_hub|modelscope|optimum|lmdeploy)\b"
                      r"|\bfrom\s+llama(?:\.\w+)*\s+import\b")  # Meta's reference llama/llama3/codellama scripts
_SH_HINT = re.compile(r"\b(?:pip3?|uv|conda|vllm|torchrun|deepspeed|accelerate|llamafactory-cli|axolotl|sglang|"
                      r"text-generation-launcher|tune|python3?|srun|sbatch|docker)\b")


def sniff(kind: str, text: str) -> Optional[str]:
    """For generic kinds, return the kind if the content may matter, else None."""
    head = text if len(text) < 262144 else text[:262144]
    if kind == YAML:
        return YAML if _YAML_HINT.search(head) else None
    if kind == JSON:
        return JSON if _JSON_HINT.search(head) else None
    if kind == PYTHON:
        return PYTHON if _PY_HINT.search(head) else None
    if kind == SHELL:
        return SHELL if _SH_HINT.search(head) else None
    return kind


def split_ext(name: str) -> Tuple[str, str]:
    base, ext = os.path.splitext(name)
    return base, ext.lower()


def read_blob(abspath: str, *, safetensors: bool, max_header: int) -> "Optional[Blob]":
    """Size and first bytes of a binary model file; for safetensors the 8-byte length and the
    JSON header only (never tensor data). None when the file cannot be opened."""
    from stacklint.model import Blob

    try:
        fd = os.open(abspath, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        size = st.st_size
        with os.fdopen(fd, "rb", closefd=False) as fh:
            head = fh.read(HEAD_BYTES)
            if not safetensors or head.startswith(b"version https://git-lfs"):
                if (not safetensors and os.path.basename(abspath) == "tokenizer.json"
                        and not head.startswith(b"version https://git-lfs")):
                    return Blob(size, head, tokenizer_parts=_tokenizer_json_parts(fh, head, max_header))
                return Blob(size, head)
            if size < 8:
                return Blob(size, head, st_error=f"file is {size} bytes, shorter than the 8-byte header length")
            (n,) = struct.unpack("<Q", head[:8])
            if n > size - 8:
                return Blob(size, head, n, f"header length {n} exceeds the file size {size}")
            if n > max_header:
                return Blob(size, head, n)  # too large to judge within the limits
            fh.seek(8)
            raw = fh.read(n)
    except OSError:
        return None
    finally:
        os.close(fd)
    return _safetensors_header(size, head, n, raw)


_TOK_MODEL_RE = re.compile(rb'"model"\s*:\s*\{')
_TOK_MERGES_RE = re.compile(rb'"merges"\s*:\s*\[\s*(\[|")')
_TOK_CHUNK = 1 << 20
_TOK_MAX = 64 << 20


def _tokenizer_json_parts(fh, head: bytes, limit: int):  # type: ignore[no-untyped-def]
    """The top-level "pre_tokenizer", "post_processor" and "decoder" values of a tokenizer.json,
    each with the 1-based line of its key, and the form of the BPE "merges" of its "model" section:
    ("merges", line, "pairs") for [["a", "b"], ...] (written by tokenizers >= 0.20) or
    ("merges", line, "strings") for ["a b", ...]. The tokenizers library writes "pre_tokenizer",
    "post_processor" and "decoder" before "model"; the file is read in chunks until the first merge
    (at most min(limit, 64 MiB)). None when nothing can be read."""
    data = bytearray(head)
    cap = min(limit, _TOK_MAX)
    stop = -1
    merges = None
    scanned = 0
    while True:
        start = max(0, scanned - 64)
        if stop < 0:
            m = _TOK_MODEL_RE.search(data, start)
            if m is not None:
                stop = m.start()
        if stop >= 0:
            mm = _TOK_MERGES_RE.search(data, max(start, stop))
            if mm is not None:
                form = "pairs" if mm.group(1) == b"[" else "strings"
                merges = ("merges", data.count(b"\n", 0, mm.start()) + 1, form)
                break
        scanned = len(data)
        if len(data) >= cap:
            break
        chunk = fh.read(min(_TOK_CHUNK, cap - len(data)))
        if not chunk:
            break
        data.extend(chunk)
    raw = bytes(data[:stop]) if stop >= 0 else bytes(data)
    text = raw.decode("utf-8", errors="replace")
    dec = json.JSONDecoder()
    out = []
    seen = set()
    for m in re.finditer(r'"(pre_tokenizer|post_processor|decoder)"\s*:\s*', text):
        key = m.group(1)
        if key in seen:
            continue
        try:
            value, _end = dec.raw_decode(text, m.end())
        except (ValueError, RecursionError):
            continue
        seen.add(key)
        out.append((key, text.count("\n", 0, m.start()) + 1, value))
        if len(seen) == 3:
            break
    if merges is not None:
        out.append(merges)
    return tuple(out) or None


def _safetensors_header(size: int, head: bytes, n: int, raw: bytes) -> "Blob":
    from stacklint.model import Blob

    try:
        header = json.loads(raw.decode("utf-8").rstrip(" "))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Blob(size, head, n, f"the {n}-byte JSON header is not valid JSON")
    if not isinstance(header, dict):
        return Blob(size, head, n, "the JSON header is not an object")
    end = 0
    for name, info in header.items():
        if name == "__metadata__" or not isinstance(info, dict):
            continue
        offs = info.get("data_offsets")
        if (not isinstance(offs, list) or len(offs) != 2 or not all(isinstance(o, int) for o in offs)
                or offs[0] > offs[1]):
            return Blob(size, head, n, f"tensor {name!r} has invalid data_offsets {offs!r}")
        end = max(end, offs[1])
    data = size - 8 - n
    if end > data:
        return Blob(size, head, n, f"tensors end at byte {end} of the data section but the file holds only "
                                   f"{data} bytes of data (truncated download or copy)", end)
    return Blob(size, head, n, None, end)
