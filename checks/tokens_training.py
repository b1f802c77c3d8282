"""Control tokens in fine-tuning and prompt scripts: an eos token masked out of the labels as
padding (SL609), and a BOS token added twice to a chat prompt (SL610). Imported by the tokenizer
family."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from stacklint.findings import Finding, Location, Related
from stacklint.model import ModelDir, Stack
from stacklint.registry import check

# -- facts checked against the libraries' own sources ----------------------------------------
#
# transformers src/transformers/data/data_collator.py, DataCollatorForLanguageModeling.torch_call
# (v4.30.2, v4.36.2, v4.57.1, v5.25.0 — the same lines at every tag read): with mlm=False,
#     labels = batch["input_ids"].clone()
#     if self.tokenizer.pad_token_id is not None:
#         labels[labels == self.tokenizer.pad_token_id] = -100
# so every position holding the pad id loses its loss, real eos tokens included when the pad
# token is the eos token. `mlm` defaults to True (masked-LM: another objective, not judged).
#
# trl trl/trainer/utils.py DataCollatorForCompletionOnlyLM (v0.4.7 .. v0.19.1; removed in v0.20.0)
# subclasses transformers' DataCollatorForLanguageModeling with mlm=False and starts its
# torch_call with `batch = super().torch_call(examples)`: the same masking. Since v0.7.5 (trl
# PR #988) it even warns "The pad_token_id and eos_token_id values of this tokenizer are
# identical" when an instruction template is set.
#
# trl trl/trainer/sft_trainer.py SFTTrainer.__init__: with no data_collator, v0.4.7 .. v0.16.1
# build `DataCollatorForLanguageModeling(tokenizer=..., mlm=False)` imported from transformers;
# from v0.17.0 on trl builds its own trl.trainer.sft_trainer.DataCollatorForLanguageModeling
# (pad_token_id=...), which pads labels with -100 by position and never masks a real token by
# its id. `from trl import DataCollatorForLanguageModeling` (v0.17.0+) is that class.
# v0.16.0 and v0.16.1 also append the eos id to every tokenized example (SFTTrainer._prepare_dataset
# tokenize: `processed["input_ids"] + [processing_class.eos_token_id]`); earlier releases add none.
_TRL_OWN_COLLATOR = "0.17.0"
_TRL_APPENDS_EOS = "0.16.0"
# End-of-sequence spellings of the common checkpoints: a string literal holding one of them puts an
# eos into the training text.
_EOS_TEXTS = ("</s>", "<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<eos>",
              "<\uff5cend\u2581of\u2581sentence\uff5c>")
_SL609_EVIDENCE = (
    "https://github.com/huggingface/trl/issues/976",  # CompletionOnlyLM + pad=eos: model never emits eos
    "https://github.com/huggingface/open-r1/issues/492",  # sft.py pad=eos + default collator: no stop
    "https://github.com/mlabonne/llm-course/issues/33",  # pad_token == eos_token: never learns to stop
    "https://github.com/huggingface/transformers/blob/v4.57.1/src/transformers/data/data_collator.py",
    "https://github.com/huggingface/trl/blob/v0.16.1/trl/trainer/sft_trainer.py",
)

# transformers: apply_chat_template(tokenize=True) encodes the rendering with
# add_special_tokens=False (src/transformers/tokenization_utils_base.py at v4.36.2, v4.57.1 and
# v5.25.0), because the template writes the special tokens itself; tokenizer(text) and
# encode(text) default to add_special_tokens=True.
# Who adds a BOS on add_special_tokens=True:
# * LlamaTokenizer(Fast), CodeLlamaTokenizer(Fast), GemmaTokenizer(Fast) take add_bos_token
#   (default True) and the fast classes rebuild the tokenizers post-processor from it
#   (models/llama/tokenization_llama_fast.py update_post_processor, v4.36.2 and v4.57.1;
#   models/gemma/tokenization_gemma_fast.py from v4.38.0);
# * PreTrainedTokenizerFast (Llama 3) has no add_bos_token in v4.x (tokenization_utils_fast.py
#   v4.36.2, v4.57.1) and applies the tokenizer.json post_processor as saved: a TemplateProcessing
#   whose "single" starts with {"SpecialToken": {"id": "<|begin_of_text|>"}} prepends it
#   (tokenizers src/processors/template.rs, v0.19.1 and v0.23.1);
# * in v5 (tokenization_utils_tokenizers.py, v5.25.0) an explicit add_bos_token rebuilds the
#   post-processor for every class, otherwise tokenizer.json's post_processor is used as saved.
_LLAMA_LIKE = frozenset({"LlamaTokenizer", "LlamaTokenizerFast", "CodeLlamaTokenizer", "CodeLlamaTokenizerFast",
                         "GemmaTokenizer", "GemmaTokenizerFast"})
_ENCODE_METHODS = ("encode", "encode_plus", "batch_encode_plus", "__call__")
_SL610_EVIDENCE = (
    # dsr1-3: DeepSeek-R1-Distill-Qwen-7B ("add_bos_token": true), t(t.apply_chat_template(..., tokenize=False))
    # gives [151646, 151646, 151644, ...]
    "https://github.com/deepseek-ai/DeepSeek-R1/issues/151",
    "https://github.com/OpenRLHF/OpenRLHF/issues/393",  # Llama 3 SFT data: [128000, 128000, ...]
    "https://github.com/huggingface/transformers/issues/37686",  # Gemma 3: template <bos> + encode <bos>
    "https://github.com/sgl-project/sglang/pull/8291",  # tokenizer(apply_chat_template(tokenize=False)) adds a 2nd BOS
    "https://github.com/huggingface/transformers/blob/v4.57.1/src/transformers/tokenization_utils_base.py",
    "https://github.com/huggingface/transformers/blob/v4.57.1/src/transformers/models/llama/tokenization_llama_fast.py",
)


# -- small AST helpers --------------------------------------------------------------------------

def _tree(stack: Stack, path: str) -> Optional[Any]:
    from stacklint.checks._common import script_tree

    return script_tree(stack, path)


def _scopes(tree: Any) -> Iterator[List[Any]]:
    """The nodes of the module and of each function, one list per scope (nested functions and
    classes are their own scopes; a class body's statements belong to the class)."""
    import ast

    boundaries = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
    todo = [tree]
    while todo:
        scope = todo.pop()
        out: List[Any] = []
        stack = list(ast.iter_child_nodes(scope))
        while stack:
            n = stack.pop()
            if isinstance(n, boundaries):
                todo.append(n)
                continue
            out.append(n)
            stack.extend(ast.iter_child_nodes(n))
        yield out


def _dotted(node: Any) -> str:
    from stacklint.parsers.python import dotted

    return dotted(node) if node is not None else ""


def _kw(call: Any, name: str) -> Optional[Any]:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _const(node: Any) -> Any:
    import ast

    return node.value if isinstance(node, ast.Constant) else node


# -- SL609 -------------------------------------------------------------------------------------

def _pad_assignments(tree: Any) -> Tuple[Dict[str, List[Tuple[int, int, str, bool]]], Set[str]]:
    """({tokenizer expression: [(line, col, source text, guarded)]} for `T.pad_token = X.eos_token`
    and `T.pad_token_id = X.eos_token_id`, {tokenizer expressions given any other pad token})."""
    import ast

    guarded: Set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and any(isinstance(n, ast.Attribute) and n.attr in ("pad_token", "pad_token_id")
                                            for n in ast.walk(node.test)):
            for stmt in node.body:
                guarded.update(id(n) for n in ast.walk(stmt))
    eos: Dict[str, List[Tuple[int, int, str, bool]]] = {}
    other: Set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for t in node.targets:
                if not (isinstance(t, ast.Attribute) and t.attr in ("pad_token", "pad_token_id")):
                    continue
                base = _dotted(t.value)
                if not base or base.endswith("config"):  # model.config.pad_token_id: not the tokenizer
                    continue
                want = "eos_token" if t.attr == "pad_token" else "eos_token_id"
                v = node.value
                if isinstance(v, ast.Attribute) and v.attr == want:
                    text = f"{base}.{t.attr} = {_dotted(v) or want}"
                    eos.setdefault(base, []).append((node.lineno, node.col_offset + 1, text, id(node) in guarded))
                else:
                    other.add(base)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == "add_special_tokens":
            arg = node.args[0] if node.args else _kw(node, "special_tokens_dict")
            if isinstance(arg, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "pad_token"
                                                 for k in arg.keys):
                other.add(_dotted(node.func.value))
    return eos, other


def _eos_in_data(tree: Any, md: Optional[ModelDir], T: Any, path: str) -> Optional[str]:
    """Where the first sign is that the training examples carry an eos token: `text + tok.eos_token`
    (or any use of `.eos_token` but a pad assignment), `ids + [tok.eos_token_id]` /
    `.append(tok.eos_token_id)`, a string literal holding an eos spelling, `add_eos_token=True`, or
    (for a tokenizer directory of the tree) add_eos_token in its tokenizer_config.json or a chat
    template, used by the script, that writes the eos token."""
    import ast

    eos_text = T.token_text(md, "eos_token") if md is not None else None
    texts = (eos_text,) if eos_text else _EOS_TEXTS
    pad_values: Set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr in ("pad_token", "pad_token_id")
                                                for t in node.targets):
            pad_values.update(id(n) for n in ast.walk(node.value))
    def eos_attr(n: Any, attr: str) -> bool:
        return isinstance(n, ast.Attribute) and n.attr == attr

    lines: List[int] = []
    why: Optional[str] = None
    for node in ast.walk(tree):
        if id(node) in pad_values:
            continue
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and any(
                eos_attr(o, "eos_token") or eos_attr(o, "eos_token_id")
                or (isinstance(o, ast.List) and any(eos_attr(e, "eos_token_id") for e in o.elts))
                for o in (node.left, node.right)):
            lines.append(node.lineno)  # text + tok.eos_token, ids + [tok.eos_token_id]
        elif isinstance(node, ast.FormattedValue) and eos_attr(node.value, "eos_token"):
            lines.append(node.value.lineno)  # f"...{tok.eos_token}"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("append", "format", "join") and \
                any(eos_attr(a, "eos_token") or eos_attr(a, "eos_token_id")
                    for a in list(node.args) + [k.value for k in node.keywords]):
            lines.append(node.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and any(t in node.value for t in texts):
            lines.append(node.lineno)
        elif isinstance(node, ast.keyword) and node.arg == "add_eos_token" and _const(node.value) is True:
            lines.append(node.value.lineno)
    if md is not None and eos_text:
        tok = md.tokenizer.data if md.tokenizer is not None and isinstance(md.tokenizer.data, dict) else {}
        if tok.get("add_eos_token") is True:
            why = f"{md.tokenizer.path}: \"add_eos_token\": true"  # type: ignore[union-attr]
        elif any(isinstance(n, ast.Attribute) and n.attr == "apply_chat_template" for n in ast.walk(tree)):
            for tmpl in T.templates(md)[:1]:
                tr = T.trial(tmpl.text, T.specials(md))
                if tr.ok and T.SENTINEL in tr.output and eos_text in tr.output.split(T.SENTINEL, 1)[1]:
                    why = f"the chat template ends replies with {eos_text} ({tmpl.location.path}:{tmpl.location.line})"
    if lines:
        return f"{path}:{min(lines)}"
    return why


def _collators(tree: Any, doc: Any) -> Iterator[Tuple[Any, str, str]]:
    """(call node, what, tokenizer expression) for collators that mask labels by the pad id."""
    import ast

    quals = {(c.line, c.col): c.qualname for c in doc.calls}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        short = name.rsplit(".", 1)[-1]
        if short not in ("DataCollatorForLanguageModeling", "DataCollatorForCompletionOnlyLM"):
            continue
        if any(k.arg is None for k in node.keywords):
            continue
        qual = quals.get((node.lineno, node.col_offset + 1), name)
        if short == "DataCollatorForLanguageModeling":
            if not qual.startswith("transformers."):
                continue  # trl's own collator (v0.17+) masks by position, not by id
            mlm = _kw(node, "mlm")
            if mlm is None and len(node.args) >= 2:
                mlm = node.args[1]
            if mlm is None or _const(mlm) is not False:
                continue  # masked-LM (the default): not the causal objective judged here
            tok = _kw(node, "tokenizer") or (node.args[0] if node.args else None)
            what = "DataCollatorForLanguageModeling(mlm=False)"
        else:
            if not qual.startswith("trl."):
                continue
            mlm = _kw(node, "mlm")
            if mlm is not None and _const(mlm) is not False:
                continue
            tok = _kw(node, "tokenizer")
            what = "trl DataCollatorForCompletionOnlyLM (a DataCollatorForLanguageModeling with mlm=False)"
        expr = _dotted(tok)
        if expr:
            yield node, what, expr


def _sft_default_collator(stack: Stack, doc: Any, tree: Any) -> Iterator[Tuple[Any, str, str, Any]]:
    """(SFTTrainer call node, what, tokenizer expression, trl pin) for SFTTrainer calls without a
    data_collator under a trl pin whose every release builds transformers' collator by default."""
    import ast

    from stacklint.checks._common import V, confining_pin

    quals = {(c.line, c.col): c.qualname for c in doc.calls}
    tf = stack.texts.get(doc.path)
    if tf is None or "padding_free" in tf.text:
        return
    pin = None
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and _dotted(node.func).rsplit(".", 1)[-1] == "SFTTrainer"):
            continue
        if not quals.get((node.lineno, node.col_offset + 1), "").startswith("trl."):
            continue
        if any(k.arg is None for k in node.keywords) or _kw(node, "data_collator") is not None or len(node.args) >= 3:
            continue
        tok = _kw(node, "processing_class") or _kw(node, "tokenizer")
        expr = _dotted(tok)
        if not expr:
            continue
        if pin is None:
            from stacklint.knowledge import packages

            first = V(_TRL_OWN_COLLATOR)
            pin = confining_pin(stack, doc.path, "trl", packages.releases("trl"),
                                lambda v: V(v) is not None and V(v) < first) or False  # type: ignore[operator]
        if not pin:
            return
        what = f"SFTTrainer's default collator under {pin.raw} (transformers' DataCollatorForLanguageModeling, mlm=False)"
        yield node, what, expr, pin


@check(code="SL609", name="pad-token-is-eos-and-masked-in-labels", severity="warning",
       category="Tokenizer and Text Processing Issues", subcategory="Control Token Issues",
       summary="A fine-tuning script pads with the eos token and trains with a collator that sets the label of every pad-id position to -100, so the model never learns to emit eos.",
       evidence=_SL609_EVIDENCE)
def pad_token_is_eos_and_masked_in_labels(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports, in a fine-tuning script, a collator that builds the labels from the input ids and
    masks the pad id — transformers' `DataCollatorForLanguageModeling(tokenizer, mlm=False)`, trl's
    `DataCollatorForCompletionOnlyLM` (trl <= 0.19), or `SFTTrainer` without a `data_collator`
    when the stack pins trl below 0.17 (whose SFTTrainer then builds transformers' collator) —
    for a tokenizer whose pad token is its eos token: set in the script
    (`tokenizer.pad_token = tokenizer.eos_token`, `tokenizer.pad_token_id = tokenizer.eos_token_id`)
    or already so in the tokenizer_config.json of the model directory it loads — when the
    examples do carry an eos: `text + tokenizer.eos_token`, `ids + [tokenizer.eos_token_id]`, a
    literal eos spelling (`</s>`, `<|endoftext|>`, ...), `add_eos_token`, a chat template of the
    loaded directory that writes it, or trl 0.16.x's SFTTrainer (which appends it).

    ## Why is this bad?
    With `mlm=False` the collator copies `input_ids` to `labels` and sets
    `labels[labels == tokenizer.pad_token_id] = -100` (every transformers release). When the pad
    id is the eos id, the eos that ends each example is masked like the padding: the loss never
    asks the model to produce it, and the fine-tuned model runs on to `max_new_tokens` or starts
    new turns by itself (huggingface/trl#976, huggingface/open-r1#492).

    ## Example
    ```
    tokenizer.pad_token = tokenizer.eos_token
    collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=False)
    trainer = Trainer(model=model, args=args, train_dataset=ds, data_collator=collator)
    ```

    ## Use instead
    Give the tokenizer a pad token that is not the eos (an unused reserved token such as
    `<|finetune_right_pad_id|>`, `tokenizer.unk_token`, or
    `tokenizer.add_special_tokens({"pad_token": "<pad>"})` with `model.resize_token_embeddings`),
    or build the labels yourself and pad them with -100 (`DataCollatorForSeq2Seq`,
    trl >= 0.17's own collator).

    ## Known false alarms
    The sign of an eos in the data is read from the script's text, not from the data set: a
    literal `</s>` used for another purpose counts. Examples with no eos at all are not reported
    (the model cannot learn to stop either way; that is a data problem). A pad assignment under
    `if tokenizer.pad_token is None:` is skipped only when the tokenizer's directory is in the tree
    and defines another pad token. Tokenizers reached through attributes (`self.tokenizer`) are
    matched by their spelling.
    """
    from stacklint.checks import _templates as T
    from stacklint.checks.api import _tokenizer_dirs

    for doc in stack.scripts:
        tf = stack.texts.get(doc.path)
        if tf is None or not any(w in tf.text for w in ("DataCollatorForLanguageModeling",
                                                       "DataCollatorForCompletionOnlyLM", "SFTTrainer")):
            continue
        tree = _tree(stack, doc.path)
        if tree is None:
            continue
        eos, other = _pad_assignments(tree)
        dirs = _tokenizer_dirs(stack, doc)
        users = [(n, w, e, None) for n, w, e in _collators(tree, doc)]
        users += list(_sft_default_collator(stack, doc, tree))
        seen: Set[Tuple[int, int]] = set()
        for node, what, expr, pin in sorted(users, key=lambda u: (u[0].lineno, u[0].col_offset)):
            if expr in other or (node.lineno, node.col_offset) in seen:
                continue
            md: Optional[ModelDir] = dirs.get(expr)
            pad_eos = _pad_eos(md, T)
            hits = eos.get(expr, [])
            if hits and all(g for *_, g in hits) and md is not None and not pad_eos and T.token_text(md, "pad_token"):
                continue  # `if tokenizer.pad_token is None:` and the tokenizer has its own pad token
            related: List[Related] = []
            if hits:
                line, col, text, _ = hits[0]
                cause = f"{text} ({doc.path}:{line})"
                related.append(Related(Location(doc.path, line, col), "the pad token is the eos token"))
            elif pad_eos is not None:
                token, ploc = pad_eos
                cause = (f"the tokenizer loaded from {md.dir}/ has pad_token {token!r} = its "  # type: ignore[union-attr]
                         f"eos_token "
                         f"({ploc.path}:{ploc.line})")
                related.append(Related(ploc, f"pad_token {token!r} is the eos token"))
            else:
                continue
            eos_where = _eos_in_data(tree, md, T, doc.path)
            if eos_where is None and pin is not None and _trl_appends_eos(pin):
                eos_where = f"trl {pin.raw} appends it to every example"
            if eos_where is None:
                continue  # no sign that the examples carry an eos: nothing is lost to the mask
            if pin is not None:
                related.append(Related(pin.location, f"{pin.raw}: SFTTrainer's default collator masks the pad id"))
            seen.add((node.lineno, node.col_offset))
            loc = Location(doc.path, node.lineno, node.col_offset + 1)
            yield Finding("SL609", loc,
                          f"{what} ({doc.path}:{node.lineno}) sets the label of every pad-id position to -100, and "
                          f"{cause}: the eos written into the training examples ({eos_where}) is masked too, so the "
                          f"model never learns to stop and generates until max_new_tokens — use a pad token that is not the eos "
                          f"(e.g. an unused reserved token or unk_token), or pad the labels with -100 yourself",
                          hint="give the tokenizer a pad token other than the eos token, or use a collator that "
                               "masks padding by position (DataCollatorForSeq2Seq, trl>=0.17's SFT collator)",
                          related=tuple(related), key=f"{doc.path}:{expr}:{what.split('(')[0]}:{node.lineno}")


def _trl_appends_eos(pin: Any) -> bool:
    """Every trl release the pin admits is 0.16.x, whose SFTTrainer appends the eos id itself."""
    from stacklint.checks._common import V, allowed
    from stacklint.knowledge import packages

    first = V(_TRL_APPENDS_EOS)
    ok = allowed(pin, packages.releases("trl"))
    return bool(ok) and all(V(v) is not None and V(v) >= first for v in ok)  # type: ignore[operator]


def _pad_eos(md: Optional[ModelDir], T: Any) -> Optional[Tuple[str, Location]]:
    """(token, where) when the model directory's tokenizer files make the pad token the eos token."""
    if md is None:
        return None
    pad, eos = T.token_text(md, "pad_token"), T.token_text(md, "eos_token")
    if not pad or pad != eos:
        return None
    for doc in (md.tokenizer, md.special_tokens):
        if doc is not None and isinstance(doc.data, dict) and doc.data.get("pad_token") is not None:
            return pad, doc.loc("pad_token")
    return None


# -- SL610 -------------------------------------------------------------------------------------

def _first_special(value: Any) -> Optional[str]:
    """The token a tokenizers post-processor puts before a single sequence, or None."""
    if not isinstance(value, dict):
        return None
    kind = value.get("type")
    if kind == "Sequence":
        for p in value.get("processors") or ():
            t = _first_special(p)
            if t is not None:
                return t
        return None
    if kind != "TemplateProcessing":
        return None
    single = value.get("single")
    if not isinstance(single, list) or not single or not isinstance(single[0], dict):
        return None
    st = single[0].get("SpecialToken")
    if not isinstance(st, dict) or not isinstance(st.get("id"), str):
        return None
    spec = (value.get("special_tokens") or {}).get(st["id"]) if isinstance(value.get("special_tokens"), dict) else None
    tokens = spec.get("tokens") if isinstance(spec, dict) else None
    return tokens[0] if isinstance(tokens, list) and tokens and isinstance(tokens[0], str) else st["id"]


def _json_post_processor(stack: Stack, md: ModelDir) -> Optional[Tuple[Optional[str], Location]]:
    """(first token the saved tokenizer.json post-processor adds, where) or None when unreadable."""
    if "tokenizer.json" not in md.names:
        return None
    path = "tokenizer.json" if md.dir == "." else f"{md.dir}/tokenizer.json"
    blob = stack.blobs.get(path)
    if blob is None or not blob.tokenizer_parts:
        return None
    for key, line, value in blob.tokenizer_parts:
        if key == "post_processor":
            return _first_special(value), Location(path, line, 1)
    return None


def _adds_bos(stack: Stack, md: ModelDir, bos: str, script: str) -> Optional[Tuple[str, Location]]:
    """Why tokenizer(text) prepends the BOS for this directory's tokenizer, with where."""
    tok = md.tokenizer
    if tok is None or not isinstance(tok.data, dict):
        return None
    data = tok.data
    if data.get("auto_map"):
        return None  # remote-code tokenizer: its own code decides
    cls = data.get("tokenizer_class") if isinstance(data.get("tokenizer_class"), str) else ""
    abt = data.get("add_bos_token")
    post = _json_post_processor(stack, md)
    if abt is False:
        return None
    if abt is True:
        if cls in _LLAMA_LIKE or (post is not None and post[0] == bos):
            return f"\"add_bos_token\": true ({tok.path}:{tok.loc('add_bos_token').line})", tok.loc("add_bos_token")
        return None
    if abt is not None:
        return None
    if post is not None:
        if post[0] != bos:
            return None
        where = post[1]
        return f"its tokenizer.json post_processor prepends {bos} ({where.path}:{where.line})", where
    if cls in _LLAMA_LIKE and "tokenizer.json" not in md.names and not _transformers_5(stack, script):
        return f"{cls} adds the BOS by default (add_bos_token defaults to true)", tok.loc("tokenizer_class")
    return None


def _transformers_5(stack: Stack, path: str) -> bool:
    from stacklint.checks._common import V, confining_pin
    from stacklint.knowledge import packages

    five = V("5.0.0")
    return confining_pin(stack, path, "transformers", packages.releases("transformers"),
                         lambda v: V(v) is not None and V(v) >= five) is not None  # type: ignore[operator]


def _template_starts_with_bos(md: ModelDir, bos: str) -> Optional[Any]:
    """The directory's default chat template when its rendering starts with the bos token."""
    from stacklint.checks import _templates as T

    tmpls = [t for t in T.templates(md) if t.name == "default"]
    if not tmpls:
        return None
    tmpl = tmpls[0]
    if T.compile_error(tmpl.text) is not None:
        return None
    tr = T.trial(tmpl.text, T.specials(md))
    if not tr.ok or not tr.output.startswith(bos):
        return None
    return tmpl


def _templated_flows(tree: Any, toks: Set[str]) -> Iterator[Tuple[Any, Any]]:
    """(tokenizing call, apply_chat_template call) pairs: a call `tok(text)` / `tok.encode(text)`
    on a tokenizer variable without add_special_tokens=False, whose text starts with the string
    returned by `tok.apply_chat_template(..., tokenize=False)` in the same function: directly,
    through names, `+` on the right, f-strings, lists, subscripts, strip() and loops."""
    import ast

    def source(expr: Any, tainted: Dict[str, Any], depth: int = 0) -> Optional[Any]:
        if expr is None or depth > 12:
            return None
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            if expr.func.attr == "apply_chat_template" and isinstance(expr.func.value, ast.Name) \
                    and expr.func.value.id in toks:
                tok = _kw(expr, "tokenize")
                if tok is None or _const(tok) is not False or _kw(expr, "chat_template") is not None \
                        or any(k.arg is None for k in expr.keywords):
                    return None
                return expr
            if expr.func.attr in ("strip", "rstrip", "lstrip") and not expr.args:
                return source(expr.func.value, tainted, depth + 1)
            return None
        if isinstance(expr, ast.Name):
            return tainted.get(expr.id)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            return source(expr.left, tainted, depth + 1)
        if isinstance(expr, ast.JoinedStr) and expr.values and isinstance(expr.values[0], ast.FormattedValue):
            return source(expr.values[0].value, tainted, depth + 1)
        if isinstance(expr, (ast.List, ast.Tuple)):
            for e in expr.elts:
                s = source(e, tainted, depth + 1)
                if s is not None:
                    return s
            return None
        if isinstance(expr, ast.Subscript):
            return source(expr.value, tainted, depth + 1)
        if isinstance(expr, (ast.ListComp, ast.GeneratorExp)):
            inner = dict(tainted)
            for gen in expr.generators:
                s = source(gen.iter, inner, depth + 1)
                for n in ast.walk(gen.target):
                    if isinstance(n, ast.Name):
                        if s is not None:
                            inner[n.id] = s
                        else:
                            inner.pop(n.id, None)
            return source(expr.elt, inner, depth + 1)
        return None

    def sink_text(call: Any) -> Optional[Any]:
        f = call.func
        if isinstance(f, ast.Name) and f.id in toks:
            pass
        elif isinstance(f, ast.Attribute) and f.attr in _ENCODE_METHODS and isinstance(f.value, ast.Name) \
                and f.value.id in toks:
            pass
        else:
            return None
        if any(k.arg is None for k in call.keywords):
            return None
        ast_ = _kw(call, "add_special_tokens")
        if ast_ is not None and _const(ast_) is not True:
            return None
        return call.args[0] if call.args else _kw(call, "text")

    for nodes in _scopes(tree):
        events: List[Tuple[Tuple[int, int], int, Any]] = []
        for n in nodes:
            if isinstance(n, ast.Assign):
                events.append(((n.end_lineno or n.lineno, n.end_col_offset or 0), 1, n))
            elif isinstance(n, (ast.For, ast.AsyncFor)):
                events.append(((n.iter.end_lineno or n.lineno, n.iter.end_col_offset or 0), 1, n))
            elif isinstance(n, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
                events.append(((n.lineno, n.col_offset), 0, n))
            elif isinstance(n, ast.Call):
                events.append(((n.lineno, n.col_offset), 2, n))
        events.sort(key=lambda e: (e[0], e[1]))
        tainted: Dict[str, Any] = {}
        for _pos, _kind, n in events:
            if isinstance(n, ast.Assign):
                s = source(n.value, tainted)
                for t in n.targets:
                    if isinstance(t, ast.Name):
                        if s is not None:
                            tainted[t.id] = s
                        else:
                            tainted.pop(t.id, None)
            elif isinstance(n, (ast.For, ast.AsyncFor)):
                s = source(n.iter, tainted)
                for t in ast.walk(n.target):
                    if isinstance(t, ast.Name):
                        if s is not None:
                            tainted[t.id] = s
                        else:
                            tainted.pop(t.id, None)
            elif isinstance(n, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
                for gen in n.generators:
                    s = source(gen.iter, tainted)
                    if s is not None:
                        for t in ast.walk(gen.target):
                            if isinstance(t, ast.Name):
                                tainted[t.id] = s
            else:
                text = sink_text(n)
                s = source(text, tainted) if text is not None else None
                if s is not None:
                    yield n, s


@check(code="SL610", name="chat-template-bos-added-twice", severity="warning",
       category="Tokenizer and Text Processing Issues", subcategory="Control Token Issues",
       summary="A script tokenizes the text of apply_chat_template(tokenize=False), which already starts with the BOS token, with a tokenizer that adds a BOS again.",
       evidence=_SL610_EVIDENCE)
def chat_template_bos_added_twice(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Follows, inside each function of a script, the string returned by
    `tok.apply_chat_template(..., tokenize=False)` into `tok(text)`, `tok.encode(text)` (or
    `encode_plus` / `batch_encode_plus`) called without `add_special_tokens=False`, for a tokenizer
    loaded from a model directory of the tree. Reports the call when the directory's chat template,
    rendered in the sandbox, starts with the bos token and the tokenizer also prepends one:
    `"add_bos_token": true` (Llama 2, Mistral, Gemma, DeepSeek-R1-Distill), a Llama/Gemma class
    with the default, or a Llama-3 style tokenizer.json whose post_processor is a
    TemplateProcessing starting with the bos.

    ## Why is this bad?
    The template writes the BOS into the text and the tokenizer adds its own, so every prompt (or
    training example) starts `<|begin_of_text|><|begin_of_text|>...` — a sequence the model never
    saw in training. Answers degrade and greedy outputs differ from those of `apply_chat_template(tokenize=True)`,
    which encodes with `add_special_tokens=False` for exactly this reason (OpenRLHF#393,
    transformers#37686).

    ## Example
    ```
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, return_tensors="pt")        # Llama 3: [128000, 128000, ...]
    ```

    ## Use instead
    `tokenizer(text, add_special_tokens=False, return_tensors="pt")`, or let the template tokenize:
    `tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")`.

    ## Known false alarms
    A call that only counts tokens (`len(tokenizer(text)["input_ids"])`) is reported too, though
    there the second BOS only makes the count one too high; so is a model fine-tuned on prompts
    that had the doubled BOS. The text is followed within one function only (not through dataset
    columns or helper returns); tokenizers reached through attributes (`self.tokenizer`) or hub
    ids, and remote-code tokenizers (`auto_map`), are not judged.
    """
    from stacklint.checks import _templates as T
    from stacklint.checks.api import _tokenizer_dirs

    for doc in stack.scripts:
        tf = stack.texts.get(doc.path)
        if tf is None or "apply_chat_template" not in tf.text:
            continue
        dirs = _tokenizer_dirs(stack, doc)
        if not dirs:
            continue
        tree = _tree(stack, doc.path)
        if tree is None:
            continue
        seen: Set[Tuple[int, int]] = set()
        for call, src in sorted(_templated_flows(tree, set(dirs)), key=lambda p: (p[0].lineno, p[0].col_offset)):
            key = (call.lineno, call.col_offset)
            if key in seen:
                continue
            src_md = dirs.get(src.func.value.id)
            f = call.func
            sink_var = f.id if not hasattr(f, "attr") else f.value.id
            sink_md = dirs.get(sink_var)
            if src_md is None or sink_md is None:
                continue
            bos = T.token_text(src_md, "bos_token")
            if not bos or T.token_text(sink_md, "bos_token") != bos:
                continue
            tmpl = _template_starts_with_bos(src_md, bos)
            if tmpl is None:
                continue
            adds = _adds_bos(stack, sink_md, bos, doc.path)
            if adds is None:
                continue
            why, where = adds
            seen.add(key)
            name = f"{sink_var}({'...'})" if not hasattr(f, "attr") else f"{sink_var}.{f.attr}(...)"
            tl = tmpl.location
            yield Finding("SL610", Location(doc.path, call.lineno, call.col_offset + 1),
                          f"{name} ({doc.path}:{call.lineno}) tokenizes the text of "
                          f"{src.func.value.id}.apply_chat_template(..., tokenize=False) ({doc.path}:{src.lineno}), "
                          f"which already starts with {bos} (the chat template, {tl.path}:{tl.line}), and the "
                          f"tokenizer prepends {bos} again because {why}: every sequence starts with two BOS tokens, "
                          f"a prefix the model never saw — pass add_special_tokens=False",
                          hint="pass add_special_tokens=False when tokenizing chat-templated text (or tokenize "
                               "in apply_chat_template itself)",
                          related=(Related(Location(doc.path, src.lineno, src.col_offset + 1),
                                           "apply_chat_template(..., tokenize=False)"),
                                   Related(tl, f"the chat template starts with {bos}"),
                                   Related(where, f"the tokenizer adds {bos}")),
                          key=f"{doc.path}:{sink_var}:{src.lineno}:{call.lineno}")
