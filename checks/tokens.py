"""Tokenizer and text processing: chat templates and control tokens (SL6xx)."""
from __future__ import annotations

import re
from typing import Any, Iterator, List, Optional, Tuple

from stacklint.findings import Edit, Finding, Fix, Location, Related
from stacklint.model import ModelDir, Stack
from stacklint.registry import check

from stacklint.checks import tokens_vocab as _tokens_vocab  # noqa: F401,E402  (SL607, SL608)
from stacklint.checks import tokens_training as _tokens_training  # noqa: F401,E402  (SL609, SL610)

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
       evidence=("https://github.com/meta-llama/llama3/issues/104",
                 "https://github.com/QwenLM/Qwen2.5/issues/1058",
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
                      f"no chat template for this chat model ({why}): tokenizer_config.json has no \"chat_template\" and "
                      f"there is no chat_template.jinja/.json beside it — apply_chat_template and chat "
                      f"endpoints will fail or use a wrong format",
                      hint="add the base model's chat template (tokenizer_config.json \"chat_template\" "
                           "or a chat_template.jinja file)",
                      key=md.dir)


# -- end-of-turn and special-token ids -------------------------------------------------

def _ids(value: Any) -> List[int]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, int) and not isinstance(v, bool)]
    return []


def end_of_turn(md: ModelDir) -> Optional[Tuple[str, Location]]:
    """The special token the chat template writes right after an assistant reply."""
    from stacklint.checks import _templates as T

    ids = T.token_ids(md)
    if not ids:
        return None
    for tmpl in T.templates(md):
        tr = T.trial(tmpl.text, T.specials(md))
        if not tr.ok or T.SENTINEL not in tr.output:
            continue
        tail = tr.output.split(T.SENTINEL, 1)[1]
        best = None
        for tok in ids:
            if len(tok) < 3:
                continue
            i = tail.find(tok)
            if i >= 0 and (best is None or i < best[0]):
                best = (i, tok)
        if best is not None and not tail[:best[0]].strip():
            return best[1], tmpl.location
    return None


@check(code="SL602", name="generation-eos-misses-end-of-turn", severity="error",
       category="Tokenizer and Text Processing Issues", subcategory="Control Token Issues",
       summary="The eos_token_id of generation_config.json does not include the chat template's end-of-turn token.",
       evidence=("https://github.com/meta-llama/llama3/issues/203",
                 "https://github.com/meta-llama/llama3/issues/246",
                 "https://github.com/QwenLM/Qwen2.5/issues/779"))
def generation_eos_misses_end_of_turn(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Renders the chat model's template on a fixture conversation, takes the special token written
    right after an assistant reply (Llama-3 `<|eot_id|>`, Qwen/ChatML `<|im_end|>`, Gemma
    `<end_of_turn>`, ...), and reports a `generation_config.json` whose `eos_token_id` does not
    include that token's id.

    ## Why is this bad?
    `model.generate()` stops only on `generation_config.eos_token_id`. The model ends its turn with
    the end-of-turn token, generation runs on past it, and the answer continues with
    `assistant\\n\\n...` turns or repeats until `max_new_tokens` (the early Llama-3-8B-Instruct
    upload shipped exactly this).

    ## Example
    ```
    generation_config.json: {"eos_token_id": 128001}      # Llama-3 Instruct
    chat template ends each turn with <|eot_id|> (128009)
    ```

    ## Use instead
    `"eos_token_id": [128001, 128009]` (or pass `eos_token_id=[...]`/vLLM `stop_token_ids`).

    ## Known false alarms
    Base models (their template is unused) and remote-code tokenizers (tokenizer_config
    `auto_map`, e.g. Qwen-7B-Chat) are not reported.
    """
    for md in stack.model_dirs.values():
        gen = md.generation
        if gen is None or not isinstance(gen.data, dict) or is_chat_model(md) is None:
            continue
        if md.tokenizer is not None and isinstance(md.tokenizer.data, dict) and md.tokenizer.data.get("auto_map"):
            continue  # remote-code tokenizer: stop handling lives in its code
        eos = _ids(gen.data.get("eos_token_id"))
        if not eos:
            continue
        eot = end_of_turn(md)
        if eot is None:
            continue
        from stacklint.checks import _templates as T

        tok, tloc = eot
        tid = T.token_ids(md).get(tok)
        if tid is None or tid in eos:
            continue
        loc = gen.loc("eos_token_id")
        new_ids = eos + [tid]
        yield Finding("SL602", loc,
                      f"eos_token_id {gen.data.get('eos_token_id')} does not include "
                      f"{tok} ({tid}), the end-of-turn token of the chat template ({tloc.path}:{tloc.line}); "
                      f"generate() will not stop after the assistant's turn — add {tid} to eos_token_id",
                      hint=f"set \"eos_token_id\": {sorted(set(eos + [tid]))}",
                      related=(Related(tloc, f"template ends assistant turns with {tok}"),),
                      fix=_eos_fix(stack, gen.path, loc, new_ids, tid),
                      key=f"{md.dir}:{tok}")


def _eos_fix(stack: Stack, path: str, loc: Location, ids: List[int], tid: int) -> Optional[Fix]:
    """Rewrite the eos_token_id value (an int or a list) as the list ``ids``, in place."""
    from stacklint.fix import json_value_span, line_col_offset

    tf = stack.texts.get(path)
    if tf is None:
        return None
    off = line_col_offset(tf.text, loc.line, loc.col)
    span = json_value_span(tf.text, off) if off is not None else None
    if span is None:
        return None
    new = "[" + ", ".join(str(i) for i in ids) + "]"
    return Fix(f"add end-of-turn id {tid} to eos_token_id", (Edit(path, span[0], span[1], new),))


_ID_KEYS = ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id")


@check(code="SL603", name="special-token-id-outside-vocab", severity="error",
       category="Tokenizer and Text Processing Issues", subcategory="Control Token Issues",
       summary="A bos/eos/pad token id in config.json or generation_config.json is >= vocab_size.",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/357",))
def special_token_id_outside_vocab(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `bos_token_id`, `eos_token_id`, `pad_token_id` or `decoder_start_token_id` in a model's
    `config.json` or `generation_config.json` that is not a valid row of the embedding
    (`>= vocab_size`, or negative).

    ## Why is this bad?
    Padding or starting generation with that id indexes past the embedding matrix: "CUDA error:
    device-side assert triggered" / "index out of range in self"; as an eos it can never be
    produced, so generation never stops.

    ## Example
    ```
    config.json: {"vocab_size": 32000, "pad_token_id": 32000}
    ```

    ## Use instead
    Use an id inside the vocabulary, or `resize_token_embeddings` after adding the token and save
    the new `vocab_size`.

    ## Known false alarms
    `-1` as "unset" (some Llama-1/2 conversions) is not reported.
    """
    for md in stack.model_dirs.values():
        cfg = md.config
        if cfg is None or not isinstance(cfg.data, dict):
            continue
        vocab = cfg.data.get("vocab_size")
        if not isinstance(vocab, int) or isinstance(vocab, bool) or vocab <= 0:
            text_cfg = cfg.data.get("text_config")
            vocab = text_cfg.get("vocab_size") if isinstance(text_cfg, dict) else None
            if not isinstance(vocab, int) or isinstance(vocab, bool) or vocab <= 0:
                continue
        vloc = cfg.loc("vocab_size")
        for doc in (cfg, md.generation):
            if doc is None or not isinstance(doc.data, dict):
                continue
            for key in _ID_KEYS:
                bad = [i for i in _ids(doc.data.get(key)) if i >= vocab]
                if not bad:
                    continue
                loc = doc.loc(key)
                yield Finding("SL603", loc,
                              f"{key} {bad[0]} ({loc.path}:{loc.line}) is outside the vocabulary: vocab_size is "
                              f"{vocab} ({vloc.path}:{vloc.line}) — use an id below {vocab} or resize the embeddings",
                              hint="set the id of a token that exists, or resize_token_embeddings and save vocab_size",
                              related=(Related(vloc, f"vocab_size {vocab}"),),
                              key=f"{loc.path}:{key}")


@check(code="SL604", name="chat-template-syntax-error", severity="error",
       category="Tokenizer and Text Processing Issues", subcategory="Control Token Issues",
       summary="The chat template does not compile as Jinja.",
       evidence=("https://github.com/oobabooga/textgen/pull/4911",  # unescaped apostrophes: TemplateSyntaxError
                 "https://github.com/vllm-project/vllm/issues/15230"))  # QwQ-32B template pasted unescaped
def chat_template_syntax_error(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Compiles every chat template (tokenizer_config.json `chat_template`, `chat_template.jinja`,
    `chat_template.json`) in Jinja2's immutable sandbox, with the extensions transformers enables
    (loop controls, `{% generation %}`), and reports syntax errors.

    ## Why is this bad?
    `apply_chat_template`, vLLM's and SGLang's chat endpoints compile the template on the first
    request: "jinja2.exceptions.TemplateSyntaxError: unexpected '}'" — every chat request fails.

    ## Example
    ```
    {% for m in messages %}{{ m['content'] }{% endfor %}
    ```

    ## Use instead
    Fix the template (test it with `tokenizer.apply_chat_template(msgs, tokenize=False)`).
    """
    from stacklint.checks import _templates as T

    for md in stack.model_dirs.values():
        for tmpl in T.templates(md):
            err = T.compile_error(tmpl.text)
            if err is None:
                continue
            msg, line = err
            loc = tmpl.location if tmpl.location.path.endswith(".json") else Location(
                tmpl.location.path, line, 1)
            yield Finding("SL604", loc,
                          f"chat template {tmpl.name!r} ({tmpl.location.path}) does not compile: {msg} "
                          f"(template line {line}) — every chat request will fail",
                          hint="fix the Jinja syntax of the template", key=f"{tmpl.location.path}:{tmpl.name}")


@check(code="SL605", name="chat-template-render-fails", severity="warning",
       category="Tokenizer and Text Processing Issues", subcategory="Control Token Issues",
       summary="The chat template raises when rendered on ordinary conversations.",
       evidence=("https://github.com/sgl-project/sglang/pull/20700",
                 "https://github.com/nobodywho-ooo/nobodywho/issues/61"), preview=True)
def chat_template_render_fails(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Renders each compiling chat template in the sandbox (with transformers' `raise_exception`
    and `strftime_now` globals, a time and an output-size limit) on fixture conversations: with
    and without a system turn, string and list (`[{"type": "text"}]`) contents, and
    `add_generation_prompt` on and off. Reports templates for which every variant fails.

    ## Why is this bad?
    The template raises `UndefinedError`/`TypeError` on real requests, so `apply_chat_template`
    and OpenAI-compatible servers fail with a 400/500 on every chat call.

    ## Example
    ```
    {{ messages[0]['content'][0]['text'] }}   # breaks on string contents
    ```

    ## Use instead
    Guard the access (`{% if message['content'] is string %}`) and test the template on a
    system + user + assistant conversation.

    ## Known false alarms
    A template that refuses a conversation on purpose (`raise_exception("System role not
    supported")`) is not a failure; fixture variants without a system turn are tried.
    """
    from stacklint.checks import _templates as T

    for md in stack.model_dirs.values():
        for tmpl in T.templates(md):
            if T.compile_error(tmpl.text) is not None:
                continue
            tr = T.trial(tmpl.text, T.specials(md))
            if tr.ok:
                continue
            yield Finding("SL605", tmpl.location,
                          f"chat template {tmpl.name!r} ({tmpl.location.path}:{tmpl.location.line}) fails on a "
                          f"plain user/assistant conversation: {tr.error[:200]}",
                          hint="fix the template so it renders system/user/assistant turns with string contents",
                          key=f"{tmpl.location.path}:{tmpl.name}")


# -- tokenizer vocabulary files --------------------------------------------------------

_SP = ("tokenizer.model", "tokenizer.json")  # SentencePiece model, or the fast serialisation
_BPE = ("tokenizer.json", ("vocab.json", "merges.txt"))
# tokenizer class -> acceptable file sets (any one suffices); a tuple inside means "all of these"
_VOCAB_FILES = {
    "LlamaTokenizer": _SP, "LlamaTokenizerFast": _SP, "CodeLlamaTokenizer": _SP, "CodeLlamaTokenizerFast": _SP,
    "GemmaTokenizer": _SP, "GemmaTokenizerFast": _SP, "T5Tokenizer": _SP + ("spiece.model",),
    "T5TokenizerFast": _SP + ("spiece.model",),
    "Qwen2Tokenizer": _BPE, "Qwen2TokenizerFast": _BPE, "GPT2Tokenizer": _BPE, "GPT2TokenizerFast": _BPE,
    "CodeGenTokenizer": _BPE, "CodeGenTokenizerFast": _BPE, "GPTNeoXTokenizerFast": ("tokenizer.json",),
    "PreTrainedTokenizerFast": ("tokenizer.json",),
    # remote-code tokenizers (auto_map): the vocabulary file their tokenization_*.py opens
    "QWenTokenizer": ("qwen.tiktoken",), "ChatGLMTokenizer": ("tokenizer.model",),
    "BaichuanTokenizer": ("tokenizer.model",), "InternLM2Tokenizer": ("tokenizer.model",),
    "InternLMTokenizer": ("tokenizer.model",),
}
# slow SentencePiece classes a script may name explicitly: they need tokenizer.model itself
_SLOW_SP = ("LlamaTokenizer", "CodeLlamaTokenizer", "GemmaTokenizer", "T5Tokenizer")
_WEIGHTS = re.compile(r"^(?:model|pytorch_model)(?:-\d+-of-\d+)?\.(?:safetensors|bin)$|^consolidated\.\d+\.pth$")
_LLAMA3_HUB = re.compile(r"(?i)(?:^|/)(?:meta-)?llama-?3(?:[.\-_]|$)")


def _weights_present(stack: Stack, md: ModelDir) -> bool:
    """The directory holds the model's own weights (not LFS pointers): it is a complete download,
    so an absent tokenizer file is really absent (partial mirrors carry configs only)."""
    for name in md.names:
        if not _WEIGHTS.match(name):
            continue
        blob = stack.blobs.get(f"{md.dir}/{name}" if md.dir != "." else name)
        if blob is not None and blob.lfs_pointer:
            continue
        return True
    return False


def _has(names: set, want: Any) -> bool:
    return all(w in names for w in want) if isinstance(want, tuple) else want in names


def _fmt(want: Any) -> str:
    return " + ".join(want) if isinstance(want, tuple) else want


def _tokenizer_class(md: ModelDir) -> Optional[Tuple[str, Location, Optional[str]]]:
    """(class name, where it is named, remote module file or None) from tokenizer_config.json."""
    tok = md.tokenizer
    if tok is None or not isinstance(tok.data, dict):
        return None
    amap = tok.data.get("auto_map")
    if isinstance(amap, dict) and amap.get("AutoTokenizer"):
        ref = amap["AutoTokenizer"]
        ref = ref[0] if isinstance(ref, list) and ref else ref
        if isinstance(ref, str) and "." in ref and "--" not in ref:
            module, cls = ref.rsplit(".", 1)
            return cls, tok.loc("auto_map", "AutoTokenizer"), module + ".py"
    cls = tok.data.get("tokenizer_class")
    if isinstance(cls, str):
        return cls, tok.loc("tokenizer_class"), None
    return None


@check(code="SL606", name="tokenizer-vocab-file-missing", severity="error",
       category="Tokenizer and Text Processing Issues", subcategory="Tokenizer File Error",
       summary="The tokenizer class a model directory (or a script) uses needs a vocabulary file that is not there.",
       evidence=("https://github.com/QwenLM/Qwen/issues/60",))
def tokenizer_vocab_file_missing(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For a model directory that holds its weights (a complete download, not a config-only mirror),
    reads the tokenizer class of `tokenizer_config.json` (`tokenizer_class`, or the remote-code
    class of `auto_map`) and reports when none of the files that class loads from is present:
    `qwen.tiktoken` for Qwen-7B's `QWenTokenizer` (and its `tokenization_qwen.py`),
    `tokenizer.model`/`tokenizer.json` for Llama/Gemma/T5 classes, `tokenizer.json` or
    `vocab.json` + `merges.txt` for Qwen2/GPT-2 BPE classes, `tokenizer.json` for
    `PreTrainedTokenizerFast`. Also reports a script that names a slow SentencePiece class
    (`LlamaTokenizer.from_pretrained(...)`) for a directory in the tree that has `tokenizer.json`
    but no `tokenizer.model`, or for a Llama 3 hub id (whose repository root ships only the BPE
    `tokenizer.json`).

    ## Why is this bad?
    Loading the tokenizer fails before anything runs: "TypeError: expected str, bytes or
    os.PathLike object, not NoneType" (Qwen-7B without `qwen.tiktoken`), "TypeError: not a
    string" / "OSError: Can't load tokenizer" (LlamaTokenizer on a Llama 3 checkpoint).

    ## Example
    ```
    Qwen-7B-Chat/  config.json  tokenizer_config.json (auto_map: tokenization_qwen.QWenTokenizer)
                   model-00001-of-00008.safetensors ...   # no qwen.tiktoken
    ```

    ## Use instead
    Download the missing file (`qwen.tiktoken`, `tokenizer.json`, ...) into the directory, or load
    with `AutoTokenizer`, which picks the class the files support.

    ## Known false alarms
    Directories without weights (config-only mirrors of hub repositories) are not judged: their
    tokenizer files may live on the hub.
    """
    for md in stack.model_dirs.values():
        found = _tokenizer_class(md)
        if found is None:
            continue
        cls, loc, module = found
        names = set(md.names)
        if not _weights_present(stack, md):
            continue
        missing: List[str] = []
        if module is not None and module not in names:
            missing.append(module)
        wants = _VOCAB_FILES.get(cls)
        if wants is not None and not any(_has(names, w) for w in wants):
            missing.append(" or ".join(_fmt(w) for w in wants))
        if not missing:
            continue
        yield Finding("SL606", loc,
                      f"{cls} ({loc.path}:{loc.line}) needs {' and '.join(missing)}, absent from {md.dir}/ although "
                      f"the weights are there — loading the tokenizer fails; copy the missing file(s) from the "
                      f"original checkpoint",
                      hint=f"add {' and '.join(missing)} to {md.dir}/", key=f"{md.dir}:{cls}")
    yield from _slow_class_in_scripts(stack)


def _slow_class_in_scripts(stack: Stack) -> Iterator[Finding]:
    from stacklint.checks.api import _first_arg, _resolve_model

    for doc in stack.scripts:
        for call in doc.calls:
            if call.short != "from_pretrained" or "." not in call.name:
                continue
            owner = call.name.rsplit(".", 2)[-2]
            if owner not in _SLOW_SP:
                continue
            if not (call.qualname.startswith("transformers.") or "transformers" in doc.imports):
                continue
            if "gguf_file" in call.kwargs or "vocab_file" in call.kwargs:
                continue
            md, _, ref = _resolve_model(stack, doc, _first_arg(call))
            if md is not None:
                names = set(md.names)
                if "tokenizer.model" in names or "tokenizer.json" not in names:
                    continue
                why = f"{md.dir}/ has tokenizer.json but no tokenizer.model"
            elif ref and _LLAMA3_HUB.search(ref) and "/" in ref:
                why = f"{ref} is a Llama 3 checkpoint: its repository root has the BPE tokenizer.json, no SentencePiece tokenizer.model"
            else:
                continue
            loc = Location(doc.path, call.line, call.col)
            yield Finding("SL606", loc,
                          f"{owner}.from_pretrained ({doc.path}:{call.line}) is the slow SentencePiece class and needs "
                          f"tokenizer.model, but {why} — loading fails (\"TypeError: not a string\"); use AutoTokenizer",
                          hint="use AutoTokenizer.from_pretrained (or the Fast class)", key=f"{doc.path}:{call.line}:{owner}")
