"""Tokenizer and text processing: chat templates and control tokens (SL6xx)."""
from __future__ import annotations

import re
from typing import Iterator, Optional

from stacklint.findings import Finding
from stacklint.model import ModelDir, Stack
from stacklint.registry import check

_CHAT_WORDS = frozenset({"chat", "it", "sft", "dpo", "orpo", "rlhf", "distill", "r1", "thinking", "assistant"})
_BASE_WORDS = frozenset({"base", "hf", "pt", "pretrain", "pretrained"})


def _words(name: str) -> list:
    return [w for w in re.split(r"[^a-z0-9]+", name.lower()) if w]


def has_chat_template(md: ModelDir) -> bool:
    if md.chat_template_file is not None and md.chat_template_file.text.strip():
        return True
    if md.chat_template_json is not None:
        return True
    names = set(md.names)
    if "chat_template.jinja" in names or "chat_template.json" in names:
        return True
    tok = md.tokenizer.data if md.tokenizer is not None and isinstance(md.tokenizer.data, dict) else {}
    tmpl = tok.get("chat_template")
    return bool(tmpl)


def is_chat_model(md: ModelDir) -> Optional[str]:
    """Why the directory is an instruct/chat model, or None when it may be a base model."""
    names = []
    adapter = md.adapter.data if md.adapter is not None and isinstance(md.adapter.data, dict) else None
    if adapter is not None:
        base = adapter.get("base_model_name_or_path")
        if isinstance(base, str):  # an adapter is a chat model when its base is one
            names.append(base.rstrip("/").rsplit("/", 1)[-1])
    else:
        names.append(md.dir.rsplit("/", 1)[-1])
        for doc in (md.config, md.tokenizer):
            if doc is not None and isinstance(doc.data, dict) and isinstance(doc.data.get("_name_or_path"), str):
                names.append(doc.data["_name_or_path"].rstrip("/").rsplit("/", 1)[-1])
    for n in names:
        if any(w in _BASE_WORDS for w in _words(n)):
            return None
    for n in names:
        if any(w in _CHAT_WORDS or "instruct" in w for w in _words(n)):
            return f"its name \"{n}\" marks a chat model"
    return None


def remote_code(md: ModelDir) -> bool:
    for doc in (md.config, md.tokenizer):
        if doc is not None and isinstance(doc.data, dict) and doc.data.get("auto_map"):
            return True
    return False


@check(code="SL601", name="chat-model-without-chat-template", severity="error",
       category="Tokenizer and Text Processing Issues", subcategory="Control Token Issues",
       summary="An instruct/chat model directory ships no chat template.",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/1058",
                 "https://github.com/meta-llama/llama3/issues/271"))
def chat_model_without_chat_template(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports an instruct or chat model directory (or a fine-tuned output of one) whose
    `tokenizer_config.json` has no `chat_template`, and which has no `chat_template.jinja` or
    `chat_template.json` beside it.

    ## Why is this bad?
    `tokenizer.apply_chat_template` raises "Cannot use chat template functions because
    tokenizer.chat_template is not set" (transformers >= 4.44), and vLLM's and SGLang's chat
    endpoints refuse the request or fall back to a default template that the model was not trained
    on, producing run-on or garbled answers. Fine-tuning scripts that save only the tokenizer files
    they loaded often drop the template.

    ## Example
    ```
    out/qwen2.5-7b-instruct-sft/tokenizer_config.json   # no "chat_template" key
    ```

    ## Use instead
    Copy the base model's template into the output (`tokenizer.chat_template = base.chat_template`
    before `save_pretrained`), or ship `chat_template.jinja` beside it.

    ## Known false alarms
    Base models need no template. Remote-code tokenizers (`auto_map`, e.g. Qwen-7B-Chat) and
    Mistral `tekken.json` models handle chat formatting in code and are not reported.
    """
    for md in stack.model_dirs.values():
        if md.tokenizer is None or not isinstance(md.tokenizer.data, dict):
            continue
        if has_chat_template(md) or remote_code(md):
            continue
        why = is_chat_model(md)
        if why is None:
            continue
        loc = md.tokenizer.loc()
        yield Finding("SL601", loc,
                      f"{md.dir} is a chat model ({why}) but {loc.path} has no chat_template and no "
                      f"chat_template.jinja is present",
                      hint="add the base model's chat template (tokenizer_config.json \"chat_template\" "
                           "or a chat_template.jinja file)",
                      key=md.dir)
