"""Model files: LFS pointers, safetensors headers, shard indexes, corrupt configs (SL9xx)."""
from __future__ import annotations

import re
from typing import Dict, Iterator, Optional

from stacklint.findings import Finding, Location
from stacklint.model import ModelDir, Stack
from stacklint.registry import check

_LFS = "version https://git-lfs.github.com/spec/"
# Files transformers/PEFT/vLLM parse as JSON when they load a model directory.
_JSON_FILES = ("generation_config.json", "tokenizer_config.json", "special_tokens_map.json",
               "adapter_config.json", "chat_template.json")
# Names that make a directory with an unparseable config.json a model directory.
_MODEL_SIGNS = ("tokenizer_config.json", "generation_config.json", "tokenizer.json", "tokenizer.model",
                "model.safetensors", "pytorch_model.bin", "model.safetensors.index.json",
                "special_tokens_map.json")


def _is_model_json(md: ModelDir, name: str) -> bool:
    if name in _JSON_FILES or name.endswith(".index.json"):
        return True
    if name == "config.json":
        return any(n in md.names for n in _MODEL_SIGNS) or any(n.endswith(".safetensors") for n in md.names)
    return False


def _path(md: ModelDir, name: str) -> str:
    return name if md.dir in (".", "") else f"{md.dir}/{name}"


@check(code="SL901", name="model-config-not-valid-json", severity="error",
       category="Model Corruption Issues", subcategory="Config File Corruption",
       summary="A model's config.json / generation_config.json / tokenizer_config.json is not valid JSON.",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/432",
                 "https://github.com/meta-llama/llama/issues/478",
                 "https://github.com/meta-llama/llama/issues/691"))  # Llama-2-13b-hf generation_config.json: `"do_sample": true.`
def model_config_not_valid_json(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a model directory's JSON file (`config.json`, `generation_config.json`,
    `tokenizer_config.json`, `special_tokens_map.json`, `adapter_config.json`,
    `chat_template.json`, `*.safetensors.index.json`) that does not parse as JSON, and says when
    it is a Git LFS pointer rather than the file.

    ## Why is this bad?
    `from_pretrained` parses these files with `json.load`; a missing comma, a trailing comma or an
    LFS pointer raises `JSONDecodeError` / "Unable to load weights/config" before the model loads.
    A hand-edited `generation_config.json` is the classic cause.

    ## Example
    ```
    {"eos_token_id": 151645, "transformers_version": "4.37.0" "top_p": 0.8}
    ```

    ## Use instead
    Fix the JSON (or download the real file with `git lfs pull` / `huggingface-cli download`).

    ## Known false alarms
    A `config.json` beside no tokenizer or weights is not assumed to belong to a model.
    """
    for md in stack.model_dirs.values():
        for name, message in sorted(md.failed.items()):
            if not _is_model_json(md, name):
                continue
            path = _path(md, name)
            line = stack.failures.get(path, ("", "", 1))[2] or 1
            tf = stack.texts.get(path)
            if tf is not None and tf.text.startswith(_LFS):
                continue  # SL902 says what it really is
            yield Finding("SL901", Location(path, line, 1),
                          f"not valid JSON ({message}); transformers cannot load {md.dir or '.'} "
                          f"until it is fixed",
                          hint="fix the JSON syntax (trailing/missing commas, quotes) or re-download the file",
                          key=path)


@check(code="SL902", name="git-lfs-pointer-instead-of-file", severity="error",
       category="Model Corruption Issues", subcategory="Other File Corruptions",
       summary="A Git LFS pointer file sits where weights or tokenizer files should be.",
       evidence=("https://github.com/meta-llama/llama/issues/478",))
def git_lfs_pointer_instead_of_file(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports weights (`*.safetensors`, `pytorch_model.bin`), tokenizer files (`tokenizer.json`,
    `tokenizer.model`, `qwen.tiktoken`, ...) and model JSON files whose content is a Git LFS pointer
    (`version https://git-lfs.github.com/spec/v1` + `oid sha256:...`) instead of the real file.
    Only the first bytes of binary files are read.

    ## Why is this bad?
    `git clone` without `git lfs` installed (or `GIT_LFS_SKIP_SMUDGE=1`) leaves 130-byte pointer
    files. Loading fails with "header too large", "invalid load key, 'v'", "Error while
    deserializing header" or a sentencepiece "ParseFromArray" error that does not say why.

    ## Example
    ```
    models/llama-2-7b/tokenizer.model   # 131 bytes: version https://git-lfs.github.com/spec/v1
    ```

    ## Use instead
    `git lfs install && git lfs pull` in the clone, or `huggingface-cli download <repo>`.

    ## Known false alarms
    Absent weights (not mirrored) are not reported: only files present whose content is a pointer.
    """
    for path, blob in sorted(stack.blobs.items()):
        if blob.lfs_pointer:
            yield _lfs_finding(path, blob.size)
    for path, tf in sorted(stack.texts.items()):
        if tf.text.startswith(_LFS) and path.rsplit("/", 1)[-1] in _JSON_FILES + ("config.json",):
            yield _lfs_finding(path, len(tf.text))


def _lfs_finding(path: str, size: int) -> Finding:
    return Finding("SL902", Location(path, 1, 1),
                   f"{path} is a Git LFS pointer ({size} bytes), not the file itself; loading the model "
                   f"fails on it",
                   hint="run `git lfs install && git lfs pull` (or download the model with huggingface-cli)",
                   key=path)


@check(code="SL903", name="safetensors-header-corrupt", severity="error",
       category="Model Corruption Issues", subcategory="Safetensor File Corruption",
       summary="A .safetensors file whose header is unreadable or whose tensors extend past the file end.",
       evidence=("https://github.com/deepseek-ai/DeepSeek-V3/issues/557",
                 "https://github.com/meta-llama/llama/issues/959",
                 "https://github.com/QwenLM/Qwen/issues/904"))
def safetensors_header_corrupt(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reads the 8-byte header length and the JSON header of each `.safetensors` file (never the
    tensor data) and reports headers that are not valid JSON, lengths past the end of the file,
    and tensors whose `data_offsets` end beyond the bytes the file holds.

    ## Why is this bad?
    An interrupted download or copy truncates the file; `safe_open` then raises
    "SafetensorError: Error while deserializing header: MetadataIncompleteBuffer" or
    "HeaderTooLarge" at load time, often hours into a job on the serving node.

    ## Example
    ```
    model-00002-of-00004.safetensors   # header names 4.9 GB of tensors, file is 2.1 GB
    ```

    ## Use instead
    Re-download the shard (`huggingface-cli download --force-download`) and compare its size or
    sha256 with the hub's.

    ## Known false alarms
    Git LFS pointers are SL902's; files whose header exceeds `max-file-size` are not judged.
    """
    for path, blob in sorted(stack.blobs.items()):
        if blob.lfs_pointer or blob.st_error is None:
            continue
        yield Finding("SL903", Location(path, 1, 1),
                      f"{path} is a corrupt safetensors file: {blob.st_error}",
                      hint="re-download this file (huggingface-cli download --force-download) and check its size",
                      key=path)


@check(code="SL904", name="weights-index-names-missing-shards", severity="error",
       category="Model Corruption Issues", subcategory="Checkpoint Corruption",
       summary="A model.safetensors.index.json names shards that are absent while its other shards are present.",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/735",
                 "https://github.com/meta-llama/llama/issues/721"))
def weights_index_names_missing_shards(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a `*.safetensors.index.json` / `pytorch_model.bin.index.json` whose `weight_map`
    names shard files that are missing from the directory while other shards of the same index
    are present.

    ## Why is this bad?
    An incomplete download or a partial copy leaves some shards behind: `from_pretrained` fails
    with "No such file or directory: model-00003-of-00004.safetensors", vLLM with a missing-weight
    KeyError, after the first shards have already been read.

    ## Example
    ```
    model.safetensors.index.json   # names model-00001..00004-of-00004.safetensors
    model-00001-of-00004.safetensors
    model-00002-of-00004.safetensors
    ```

    ## Use instead
    Download the missing shards (`huggingface-cli download <repo> --include "*.safetensors"`).

    ## Known false alarms
    A directory with the index and no shard at all is a config-only mirror (weights on the Hub or
    in LFS storage) and is not reported.
    """
    for md in stack.model_dirs.values():
        idx = md.index
        if idx is None or not isinstance(idx.data, dict) or not isinstance(idx.data.get("weight_map"), dict):
            continue
        shards: Dict[str, str] = {}
        for tensor, shard in idx.data["weight_map"].items():
            if isinstance(shard, str) and "/" not in shard:
                shards.setdefault(shard, tensor)
        present = [s for s in shards if s in md.names]
        missing = [s for s in shards if s not in md.names]
        if not present or not missing:
            continue
        shown = ", ".join(sorted(missing)[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        loc = idx.loc("weight_map", shards[sorted(missing)[0]])
        yield Finding("SL904", loc,
                      f"{idx.path} names {len(shards)} shards but {shown} "
                      f"{'is' if len(missing) == 1 else 'are'} missing from {md.dir} while "
                      f"{len(present)} other shard(s) are present — the download is incomplete",
                      hint="download the missing shards (huggingface-cli download <repo> --include '*.safetensors')",
                      key=idx.path)


# PyTorch checkpoint files (torch.save output) by name: Meta's consolidated shards, transformers'
# pytorch_model.bin (and its shards), PEFT's adapter_model.bin.
_TORCH_CKPT = re.compile(r"(?:^|/)(?:consolidated\.\d+\.pth|pytorch_model(?:-\d+-of-\d+)?\.bin|"
                         r"adapter_model\.bin)$")


def _torch_head_problem(head: bytes) -> Optional[str]:
    """What the first bytes of a torch checkpoint are, when torch.load cannot read them; None when
    they are a ZIP archive (torch >= 1.6), a tar archive (torch < 0.4) or a pickle stream
    (legacy format), which torch.load accepts."""
    import pickletools

    if head.startswith(b"PK\x03\x04") or head[257:262] == b"ustar":
        return None
    if head[:1] and head[:1].decode("latin-1") in {op.code for op in pickletools.opcodes}:
        return None
    text = head.lstrip()[:64].lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:512].lower():
        return "an HTML page"
    if text.startswith(b"<?xml") or text.startswith(b"<error"):
        return "an XML document (a storage error response)"
    if text.startswith((b"{", b"[")):
        return "JSON text"
    shown = head[:8]
    return f"the bytes {shown!r}, neither a ZIP archive nor a pickle stream"


@check(code="SL905", name="torch-checkpoint-not-loadable", severity="error",
       category="Model Corruption Issues", subcategory="Checkpoint Corruption",
       summary="A consolidated.*.pth / pytorch_model.bin file that is not a PyTorch checkpoint (an HTML page or error response saved in its place).",
       evidence=("https://github.com/meta-llama/codellama/issues/59",))
def torch_checkpoint_not_loadable(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reads the first bytes of PyTorch checkpoint files (`consolidated.NN.pth`,
    `pytorch_model.bin` and its shards, `adapter_model.bin`) and reports a non-empty file that is
    neither a ZIP archive (what `torch.save` writes since torch 1.6), nor a legacy pickle stream,
    nor an old tar checkpoint, and says what it is instead (an HTML page, an XML error response,
    JSON).

    ## Why is this bad?
    `torch.load` falls back to the legacy unpickler on anything that is not a ZIP archive and
    stops at the first byte: "_pickle.UnpicklingError: invalid load key, '<'". Meta's
    `download.sh` and `wget` of an expired or mistyped signed URL save the server's HTML or XML
    error page under the checkpoint's name, so `Llama.build()` / `from_pretrained` fail only at
    load time, on the serving node.

    ## Example
    ```
    CodeLlama-7b-Instruct/consolidated.00.pth   # 16 KB: <!DOCTYPE html> ... 403 Forbidden
    ```

    ## Use instead
    Delete the file and download it again with a fresh link; compare sizes (or `md5sum -c
    checklist.chk` for Meta checkpoints) before loading.

    ## Known false alarms
    Empty files are taken as placeholders and are not reported; Git LFS pointers are SL902's.
    """
    for path, blob in sorted(stack.blobs.items()):
        if not _TORCH_CKPT.search(path) or blob.size == 0 or blob.lfs_pointer:
            continue
        what = _torch_head_problem(blob.head)
        if what is None:
            continue
        yield Finding("SL905", Location(path, 1, 1),
                      f"{path} ({blob.size} bytes) is not a PyTorch checkpoint: it holds {what}; "
                      f"torch.load fails on it (\"invalid load key\")",
                      hint="delete it and download the checkpoint again, then check its size or checksum",
                      key=path)


