"""Read a candidate file safely: size limits, binary and encoding detection."""
from __future__ import annotations

import codecs
import os
import re
from typing import Optional, Tuple

from stacklint.discover import JSON, PYTHON, SHELL, YAML

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class ReadError(Exception):
    pass


def read_text(abspath: str, max_bytes: int) -> str:
    try:
        fd = os.open(abspath, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ReadError(f"cannot open: {exc.strerror}") from None
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise ReadError(f"file is {size} bytes, over the {max_bytes}-byte limit (max-file-size); not read")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ReadError(f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ReadError(f"file is over the {max_bytes}-byte limit (max-file-size); not read")
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
                      r"auto_gptq|awq|llama_cpp|torch|datasets|huggingface_hub|modelscope|optimum|lmdeploy)\b")
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
