"""Tokenizer vocabulary against the model and the scripts: added special tokens outside the
embedding (SL607), padding with a tokenizer that has no pad token (SL608). Imported by the
tokenizer family."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from stacklint.findings import Finding, Location, Related
from stacklint.model import ModelDir, Stack
from stacklint.registry import check

_ROLES = ("bos_token", "eos_token", "pad_token")


def _token_text(value: Any) -> Optional[str]:
    """A special token as tokenizer_config.json / special_tokens_map.json write it: a string,
    or an AddedToken dict {"content": ...}."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str) and value["content"]:
        return value["content"]
    return None


def _vocab_size(md: ModelDir) -> Optional[int]:
    cfg = md.config
    if cfg is None or not isinstance(cfg.data, dict):
        return None
    v = cfg.data.get("vocab_size")
    return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None


_MULTIMODAL_KEYS = ("vision_config", "text_config", "audio_config", "image_token_index", "image_token_id",
                    "video_token_id", "vision_tower", "mm_vision_tower")


# -- SL607 ----------------------------------------------------------------------------------

# Facts, checked in the transformers sources:
# * tokenization_utils_base.py PreTrainedTokenizerBase._from_pretrained (v4.34.0, v4.44.2,
#   v4.57.1): tokenizer_config.json "added_tokens_decoder" maps each id to its AddedToken; the
#   tokenizer encodes the token's text to that id.
# * models/llama/modeling_llama.py LlamaModel.__init__ (v4.34.0 .. v4.57.1, v5.0.0) and every
#   decoder: `nn.Embedding(config.vocab_size, config.hidden_size, self.padding_idx)`; an id
#   >= vocab_size makes torch's embedding raise "IndexError: index out of range in self" on CPU
#   and trip "Assertion `srcIndex < srcSelectDimSize` failed" (device-side assert) on CUDA.
# resize_token_embeddings (modeling_utils.py) updates config.vocab_size, so a directory saved
# after resizing has the new size.
_SL607_EVIDENCE = (
    "https://github.com/meta-llama/llama-cookbook/issues/189",  # added pad id 32000, embedding 32000: device-side assert
    "https://github.com/RUCKBReasoning/TableLLM/issues/16",  # added [PAD] without resize: srcIndex < srcSelectDimSize
    "https://github.com/huggingface/transformers/blob/v4.44.2/src/transformers/models/llama/modeling_llama.py",
)


def _sl603_ids(md: ModelDir, vocab: int) -> Set[int]:
    """The ids SL603 already reports for this directory (config / generation_config special
    token ids >= vocab_size): not reported twice."""
    from stacklint.checks.tokens import _ID_KEYS, _ids

    out: Set[int] = set()
    for doc in (md.config, md.generation):
        if doc is not None and isinstance(doc.data, dict):
            for key in _ID_KEYS:
                out.update(i for i in _ids(doc.data.get(key)) if i >= vocab)
    return out


def _roles(md: ModelDir) -> Dict[str, Tuple[str, Location]]:
    """token text -> (role, where it is named) for bos/eos/pad in tokenizer_config.json and
    special_tokens_map.json."""
    out: Dict[str, Tuple[str, Location]] = {}
    for doc in (md.tokenizer, md.special_tokens):
        if doc is None or not isinstance(doc.data, dict):
            continue
        for role in _ROLES:
            text = _token_text(doc.data.get(role))
            if text is not None and text not in out:
                out[text] = (role, doc.loc(role))
    return out


@check(code="SL607", name="added-special-token-outside-embeddings", severity="error",
       category="Tokenizer and Text Processing Issues", subcategory="Control Token Issues",
       summary="A special token the tokenizer uses (bos/eos/pad, or written by the chat template) has an id >= the model's vocab_size, so the embedding lookup fails.",
       evidence=_SL607_EVIDENCE)
def added_special_token_outside_embeddings(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For a model directory with a `config.json` `vocab_size`, reads the special tokens of
    `tokenizer_config.json` `added_tokens_decoder` and reports each one whose id is
    `>= vocab_size` and that is certain to be fed to the model: the `bos_token`, `eos_token` or
    `pad_token` of `tokenizer_config.json` / `special_tokens_map.json`, or a token the chat
    template writes.

    ## Why is this bad?
    The tokenizer encodes the token to its id, but the embedding matrix has only `vocab_size`
    rows: the lookup fails as soon as the token appears — "IndexError: index out of range in
    self" on CPU, "Assertion `srcIndex < srcSelectDimSize` failed" / "CUDA error: device-side
    assert triggered" on a GPU — at the first padded batch, the first chat request, or the first
    sample with an eos. This is what a fine-tune leaves behind when it adds tokens
    (`add_special_tokens({"pad_token": "<pad>"})`, ChatML's `<|im_start|>`) and does not call
    `model.resize_token_embeddings(len(tokenizer))`, or saves the tokenizer but not the resized
    model and its config.

    ## Example
    ```
    config.json:            {"vocab_size": 32000, ...}
    tokenizer_config.json:  {"added_tokens_decoder": {"32000": {"content": "<pad>", "special": true}},
                             "pad_token": "<pad>"}
    ```

    ## Use instead
    `model.resize_token_embeddings(len(tokenizer))` after adding the tokens, and save the model
    (its config then has `"vocab_size": 32001`); or reuse an existing token
    (`tokenizer.pad_token = tokenizer.eos_token`) instead of adding one.

    ## Known false alarms
    Added tokens that nothing uses (not bos/eos/pad, not in the chat template) are not reported:
    they break only when a text contains them. Multimodal configurations (`vision_config`,
    `text_config`, `image_token_index`, ...) are skipped: their processors replace image/video
    placeholder ids before the embedding. Ids already reported by SL603 (the same token id in
    config.json or generation_config.json) are not reported again. tokenizer.json `added_tokens`
    are not read (only tokenizer_config.json `added_tokens_decoder`, which transformers >= 4.34
    writes beside it).
    """
    from stacklint.checks import _templates as T

    for md in stack.model_dirs.values():
        tok = md.tokenizer
        if tok is None or not isinstance(tok.data, dict):
            continue
        dec = tok.data.get("added_tokens_decoder")
        if not isinstance(dec, dict) or not dec:
            continue
        vocab = _vocab_size(md)
        if vocab is None:
            continue
        assert md.config is not None
        if any(k in md.config.data for k in _MULTIMODAL_KEYS):
            continue
        if tok.data.get("auto_map") or md.config.data.get("auto_map"):
            continue  # remote code may remap ids itself
        high: List[Tuple[int, str, str]] = []
        for key, entry in dec.items():
            try:
                tid = int(key)
            except (TypeError, ValueError):
                continue
            if tid < vocab or not isinstance(entry, dict) or entry.get("special") is not True:
                continue
            text = _token_text(entry)
            if text is not None:
                high.append((tid, str(key), text))
        if not high:
            continue
        need = max(int(k) for k in dec if str(k).isdigit()) + 1  # len(tokenizer) at least
        skip = _sl603_ids(md, vocab)
        roles = _roles(md)
        templates = T.templates(md)
        vloc = md.config.loc("vocab_size")
        for tid, key, text in sorted(high):
            if tid in skip:
                continue
            uses: List[Related] = []
            why: List[str] = []
            if text in roles:
                role, rloc = roles[text]
                uses.append(Related(rloc, f"{role} {text}"))
                why.append(f"it is the {role} ({rloc.path}:{rloc.line})")
            for tmpl in templates:
                if text in tmpl.text:
                    uses.append(Related(tmpl.location, f"chat template writes {text}"))
                    why.append(f"the chat template writes it ({tmpl.location.path}:{tmpl.location.line})")
                    break
            if not uses:
                continue
            loc = tok.loc("added_tokens_decoder", key)
            yield Finding(
                "SL607", loc,
                f"special token {text} has id {tid} ({loc.path}:{loc.line}) but the embedding has only "
                f"vocab_size {vocab} rows ({vloc.path}:{vloc.line}), and {' and '.join(why)}: the lookup fails as "
                f"soon as it appears (\"IndexError: index out of range in self\", on GPU a device-side assert) — "
                f"the token was added without resizing the embeddings; call "
                f"model.resize_token_embeddings(len(tokenizer)) and save the model (vocab_size >= {need})",
                hint="resize_token_embeddings(len(tokenizer)) and save the resized model and config, "
                     "or reuse an existing token instead of adding one",
                related=(Related(vloc, f"vocab_size {vocab}"),) + tuple(uses),
                key=f"{md.dir}:{text}:{tid}")


# -- SL608 ----------------------------------------------------------------------------------

# Facts, checked in the transformers sources (v4.34.0, v4.44.2, v4.57.1, v5.0.0):
# * tokenization_utils_base.py _get_padding_truncation_strategies: any padding strategy other
#   than DO_NOT_PAD with `self.pad_token is None` raises "ValueError: Asking to pad but the
#   tokenizer does not have a padding token. Please select a token to use as `pad_token` ...".
#   __call__ / encode / encode_plus / batch_encode_plus (padding=True, "longest", "max_length")
#   and pad() (its padding defaults to True) go through it, for one text as for a batch.
# * data/data_collator.py: DataCollatorWithPadding and DataCollatorForSeq2Seq default to
#   padding=True and call tokenizer.pad() on every batch.
# * The tokenizer classes without a default pad token: LlamaTokenizer(Fast), GPT2Tokenizer(Fast),
#   GPTNeoXTokenizerFast, PreTrainedTokenizerFast (models/*/tokenization_*.py __init__:
#   pad_token=None or not a parameter). Qwen2Tokenizer(Fast) default to "<|endoftext|>" and
#   Gemma to "<pad>": not judged.
# * tokenization_utils_fast.py __init__ (v4.44.2; tokenization_utils_tokenizers.py in v5.0.0):
#   a tokenizer.json with a "padding" block sets pad_token from it.
# * tokenization_utils_base.py _from_pretrained (v4.44.2 .. v5.0.0): special_tokens_map.json is
#   read only when tokenizer_config.json has no "added_tokens_decoder"; a pad_token there is
#   taken as defining one either way (no finding rather than a doubtful one).
# The behaviour is the same in every release checked (v4.34.0 .. v5.0.0), so the rule does not
# depend on the transformers pin.
_SL608_EVIDENCE = (
    "https://github.com/lm-sys/FastChat/issues/3266",  # Llama-3-8B: Asking to pad but the tokenizer does not have a padding token
    "https://github.com/stanford-crfm/BioMedLM/issues/4",  # GPT2Tokenizer, tokenizer(sequences, padding=True)
    "https://github.com/huggingface/trl/issues/466",
    "https://github.com/huggingface/transformers/blob/v4.44.2/src/transformers/tokenization_utils_base.py",
)
_NO_DEFAULT_PAD = frozenset({"LlamaTokenizer", "LlamaTokenizerFast", "GPT2Tokenizer", "GPT2TokenizerFast",
                             "GPTNeoXTokenizerFast", "PreTrainedTokenizerFast"})
_ENCODE = ("encode", "encode_plus", "batch_encode_plus", "apply_chat_template")
_COLLATORS = ("DataCollatorWithPadding", "DataCollatorForSeq2Seq")
_NO_PAD_VALUES = (False, None, "do_not_pad")


def _no_pad_token(stack: Stack, md: ModelDir) -> Optional[Tuple[str, Location]]:
    """(tokenizer class, where it is named) when the directory's tokenizer certainly loads with
    pad_token None; None when it has one or may have one."""
    tok = md.tokenizer
    if tok is None or not isinstance(tok.data, dict) or tok.data.get("auto_map"):
        return None
    cls = tok.data.get("tokenizer_class")
    if not isinstance(cls, str) or cls not in _NO_DEFAULT_PAD:
        return None
    if _token_text(tok.data.get("pad_token")) is not None:
        return None
    st = md.special_tokens
    if st is not None and (not isinstance(st.data, dict) or _token_text(st.data.get("pad_token")) is not None):
        return None
    if "tokenizer.json" in md.names:
        blob = stack.blobs.get(f"{md.dir}/tokenizer.json" if md.dir != "." else "tokenizer.json")
        if blob is None or blob.lfs_pointer:
            return None
        import re

        if not re.search(rb'"padding"\s*:\s*null', blob.head):
            return None  # a padding block (or one past the first bytes) may set pad_token
    return cls, tok.loc("tokenizer_class")


def _pads(value: Any) -> bool:
    """A padding= value that pads (True, "longest", "max_length", PaddingStrategy.LONGEST)."""
    from stacklint.parsers.python import Unknown

    if value is True or value in ("longest", "max_length"):
        return True
    if isinstance(value, Unknown):
        return value.source.rsplit(".", 1)[-1] in ("LONGEST", "MAX_LENGTH") and "PaddingStrategy" in value.source
    return False


def _fmt_pad(value: Any) -> str:
    from stacklint.parsers.python import dotted_source

    return repr(value) if isinstance(value, str) else dotted_source(value)


def _pad_setters(tree: Any) -> List[Tuple[int, bool]]:
    """(line, inside a function) of every statement that may give a tokenizer a pad token:
    `x.pad_token = ...`, `x.pad_token_id = ...`, setattr(x, "pad_token", ...),
    `x.add_special_tokens(...)` naming pad_token (or with a non-literal argument)."""
    import ast

    out: List[Tuple[int, bool]] = []

    def visit(node: Any, in_func: bool) -> None:
        for child in ast.iter_child_nodes(node):
            f = in_func or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                for t in targets:
                    for sub in ast.walk(t):
                        if isinstance(sub, ast.Attribute) and sub.attr in ("pad_token", "pad_token_id"):
                            out.append((child.lineno, f))
            elif isinstance(child, ast.Call):
                fn = child.func
                name = fn.attr if isinstance(fn, ast.Attribute) else fn.id if isinstance(fn, ast.Name) else ""
                if name == "setattr" and len(child.args) >= 2 and isinstance(child.args[1], ast.Constant) \
                        and child.args[1].value in ("pad_token", "pad_token_id"):
                    out.append((child.lineno, f))
                elif name == "add_special_tokens":
                    arg = child.args[0] if child.args else next(
                        (k.value for k in child.keywords if k.arg == "special_tokens_dict"), None)
                    if not isinstance(arg, ast.Dict) or any(
                            k is None or not isinstance(k, ast.Constant) or k.value == "pad_token" for k in arg.keys):
                        out.append((child.lineno, f))
            visit(child, f)

    visit(tree, False)
    return out


def _tokenizer_vars(stack: Stack, doc: Any) -> Dict[str, Tuple[Any, Any]]:
    """variable -> (model dir, the from_pretrained call) for `var = AutoTokenizer.from_pretrained("<dir>")`."""
    from stacklint.checks.api import _assigned_var, _first_arg, _resolve_model

    out: Dict[str, Tuple[Any, Any]] = {}
    for call in doc.calls:
        if call.short != "from_pretrained" or "Tokenizer" not in call.name:
            continue
        var = _assigned_var(stack, doc.path, call.line)
        if not var:
            continue
        if call.star_kwargs or "pad_token" in call.kwargs or "pad_token_id" in call.kwargs:
            out.pop(var, None)
            continue
        md, _, _ = _resolve_model(stack, doc, _first_arg(call))
        if md is None:
            out.pop(var, None)
            continue
        out[var] = (md, call)
    return out


def _padding_uses(doc: Any, var: str) -> Iterator[Tuple[Any, str]]:
    """(call, what pads) for each call that pads with the tokenizer held by ``var``."""
    for call in doc.calls:
        if call.name == var or (call.receiver == var and call.short in _ENCODE + ("__call__",)):
            if call.star_kwargs:
                continue
            pad = call.kwargs.get("padding")
            if pad is None or not _pads(pad.value):
                continue
            if call.short == "apply_chat_template" and call.kwargs.get("tokenize") is not None \
                    and call.kwargs["tokenize"].value is not True:
                continue
            yield call, f"{call.name}(..., padding={_fmt_pad(pad.value)})"
        elif call.receiver == var and call.short == "pad":
            pad = call.kwargs.get("padding")
            if call.star_kwargs or (pad is not None and not _pads(pad.value)):
                continue
            yield call, f"{call.name}(...)"
        elif call.short in _COLLATORS:
            tok = call.kwargs.get("tokenizer") or (call.args[0] if call.args else None)
            if tok is None or getattr(tok.value, "source", None) != var or call.star_kwargs:
                continue
            pad = call.kwargs.get("padding")
            if pad is not None and not _pads(pad.value):
                continue
            yield call, f"{call.short}({var})"


@check(code="SL608", name="padding-without-pad-token", severity="error",
       category="Tokenizer and Text Processing Issues", subcategory="Control Token Issues",
       summary="A script pads with a tokenizer whose model directory defines no pad token and never sets one, so transformers raises 'Asking to pad but the tokenizer does not have a padding token'.",
       evidence=_SL608_EVIDENCE)
def padding_without_pad_token(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For a script that loads a tokenizer from a model directory of the tree
    (`tok = AutoTokenizer.from_pretrained("models/llama-3-8b")`) whose files define no pad
    token — a Llama / GPT-2 / GPT-NeoX / `PreTrainedTokenizerFast` class (no default pad) with no
    `pad_token` in `tokenizer_config.json` or `special_tokens_map.json` and `"padding": null` in
    `tokenizer.json` — reports the calls that pad with it: `tok(texts, padding=True)` (or
    `"longest"`, `"max_length"`), `tok.encode_plus`/`batch_encode_plus`/`apply_chat_template`
    with padding, `tok.pad(...)`, and `DataCollatorWithPadding(tok)` /
    `DataCollatorForSeq2Seq(tok)`, when the script does not give the tokenizer a pad token first
    (`tok.pad_token = tok.eos_token`, `tok.pad_token_id = ...`,
    `tok.add_special_tokens({"pad_token": ...})`, `pad_token=` to from_pretrained).

    ## Why is this bad?
    transformers checks the pad token before padding anything, one text or a batch:
    "ValueError: Asking to pad but the tokenizer does not have a padding token. Please select a
    token to use as `pad_token` `(tokenizer.pad_token = tokenizer.eos_token e.g.)` or add a new
    pad token via `tokenizer.add_special_tokens({'pad_token': '[PAD]'})`." Llama 2/3, Mistral and
    GPT-2 checkpoints ship without one, so the first tokenisation (or the collator's first batch)
    fails.

    ## Example
    ```
    tokenizer = AutoTokenizer.from_pretrained("models/Meta-Llama-3-8B")
    batch = tokenizer(prompts, padding=True, return_tensors="pt")
    ```

    ## Use instead
    ```
    tokenizer = AutoTokenizer.from_pretrained("models/Meta-Llama-3-8B")
    tokenizer.pad_token = tokenizer.eos_token
    batch = tokenizer(prompts, padding=True, return_tensors="pt")
    ```

    ## Known false alarms
    Only tokenizers loaded from a literal path to a model directory of the tree, held in a plain
    variable, are followed; a pad token set in another module, or through an object attribute
    (`self.tokenizer`), is not seen, so scripts that set one anywhere before the call, or in any
    function, are not reported. Trainers that pad implicitly (the Trainer's default collator,
    TRL trainers that set the pad token themselves) and batched pipelines are not judged.
    """
    import ast

    for doc in stack.scripts:
        tf = stack.texts.get(doc.path)
        if tf is None or "pad" not in tf.text.lower():
            continue
        tvars = _tokenizer_vars(stack, doc)
        if not tvars:
            continue
        setters: Optional[List[Tuple[int, bool]]] = None
        for var, (md, load) in tvars.items():
            found = _no_pad_token(stack, md)
            if found is None:
                continue
            cls, cloc = found
            for call, what in _padding_uses(doc, var):
                if call.line < load.line:
                    continue
                if setters is None:
                    try:
                        setters = _pad_setters(ast.parse(tf.text))
                    except (SyntaxError, ValueError, RecursionError, MemoryError):
                        setters = [(0, True)]
                if any(in_func or line < call.line for line, in_func in setters):
                    break
                loc = Location(doc.path, call.line, call.col)
                tloc = md.tokenizer.loc() if md.tokenizer is not None else cloc
                yield Finding(
                    "SL608", loc,
                    f"{what} ({doc.path}:{call.line}) pads with the tokenizer loaded from {md.dir}/ "
                    f"({doc.path}:{load.line}), a {cls} ({cloc.path}:{cloc.line}) with no pad_token in "
                    f"{tloc.path.rsplit('/', 1)[-1]}, and the script never sets one: transformers raises "
                    f"\"ValueError: Asking to pad but the tokenizer does not have a padding token\" — set "
                    f"{var}.pad_token = {var}.eos_token after loading it",
                    hint=f"set {var}.pad_token = {var}.eos_token (or add a pad token and resize the embeddings)",
                    related=(Related(Location(doc.path, load.line, load.col), f"{var} loaded from {md.dir}/"),
                             Related(cloc, f"{cls}: no default pad token")),
                    key=f"{doc.path}:{var}:{call.line}")
