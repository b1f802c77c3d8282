"""Loading a remote-code model without trust_remote_code (SL416), and batched generate() without
the tokenizer's attention mask (SL417). Imported by the API family."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Tuple

from stacklint.findings import Finding, Location, Related
from stacklint.model import Constraint, ModelDir, Stack
from stacklint.parsers.python import Call, PyDoc
from stacklint.registry import check

# -- SL416: a remote-code model loaded through an Auto class without trust_remote_code ---------
#
# What transformers does (checked in each release's src/transformers/models/auto/*.py and
# dynamic_module_utils.py, read from the published wheels of the tags named):
#
# * AutoConfig.from_pretrained (configuration_auto.py): has_remote_code = "auto_map" in
#   config_dict and "AutoConfig" in config_dict["auto_map"]; has_local_code = config_dict
#   ["model_type"] in CONFIG_MAPPING. v4.20.1, v4.26.1, v4.29.2: trust_remote_code defaults to
#   False and a remote config raises at once "ValueError: Loading X requires you to execute the
#   configuration file in that repo on your local machine ... set the option
#   `trust_remote_code=True` to remove this error." v4.30.0 on (v4.31.0, v4.34.0, v4.44.2,
#   v4.57.1, v5.0.0): resolve_trust_remote_code(); with trust_remote_code unset and no local code
#   it asks "Do you accept? [y/N]" (v4.30.0-v4.33) / "Do you wish to run the custom code? [y/N]"
#   (v4.34.0 on) through input() under a 15-second SIGALRM (TIME_OUT_REMOTE_CODE = 15): no answer,
#   "N" or an empty line -> the same ValueError; v4.34.0 on wraps the prompt in try/except, so
#   stdin at EOF (no terminal: Docker, CI, nohup, a service), a non-main thread or no SIGALRM
#   (Windows) also ends in "ValueError: The repository for X contains custom code which must be
#   executed ... Please pass the argument `trust_remote_code=True`"; v4.30.0-v4.33 let the
#   EOFError escape instead. Explicit trust_remote_code=False raises without asking.
# * AutoModel*.from_pretrained (auto_factory.py, same tags): without a config= object it first
#   calls AutoConfig.from_pretrained(..., trust_remote_code=trust_remote_code): same failure.
# * AutoTokenizer.from_pretrained (tokenization_auto.py): the tokenizer_config.json auto_map
#   AutoTokenizer entry makes the tokenizer remote. v4.26.1/v4.29.2: a tokenizer_class plus that
#   entry raises "requires you to execute the tokenizer file in that repo" unless trusted.
#   v4.30.0-v4.36 (checked v4.30.0, v4.31.0, v4.34.0): any tokenizer_class counts as local code,
#   so the load ends in "ValueError: Tokenizer class QWenTokenizer does not exist or is not
#   currently imported." (reported on 4.36.2 in huggingface/transformers#28501). v4.37.0 on
#   (v4.37.0, v4.38.0, v4.40.0, v4.44.2, v4.57.1, v5.0.0): local only when transformers has a
#   class of that name, so the prompt / ValueError above.
_SL416_EVIDENCE = (
    "https://github.com/huggingface/transformers/blob/v4.44.2/src/transformers/dynamic_module_utils.py",
    "https://github.com/huggingface/transformers/blob/v4.44.2/src/transformers/models/auto/configuration_auto.py",
    "https://github.com/hiyouga/LlamaFactory/issues/4027",  # chatglm3-6b: [y/N] prompt, then ValueError
    "https://github.com/runpod-workers/worker-vllm/issues/43",  # no terminal: EOFError at the prompt, then the ValueError
    "https://github.com/FreedomIntelligence/HuatuoGPT/issues/26",  # tokenizer trusted, model not
    "https://github.com/huggingface/transformers/issues/28501",  # Qwen-1_8B tokenizer on 4.36.2
)
_PROMPT_FROM = "4.30.0"  # resolve_trust_remote_code() and its [y/N] prompt
_PROMPT_CAUGHT_FROM = "4.34.0"  # the prompt's EOFError / missing SIGALRM become the ValueError
_TOKENIZER_LOCAL_BY_NAME = "4.37.0"  # tokenizer_class counts as local only if transformers has it


def _remote_config(md: ModelDir) -> Optional[Tuple[str, str, Location]]:
    """(model_type, auto_map.AutoConfig class reference, where) when config.json names its own
    configuration class; None otherwise."""
    doc = md.config
    data = doc.data if doc is not None else None
    if not isinstance(data, dict):
        return None
    auto = data.get("auto_map")
    mtype = data.get("model_type")
    if not isinstance(auto, dict) or not isinstance(mtype, str) or not mtype:
        return None
    ref = auto.get("AutoConfig")
    if isinstance(ref, list):
        ref = next((r for r in ref if isinstance(r, str)), None)
    if not isinstance(ref, str) or not ref:
        return None
    return mtype, ref, doc.loc("auto_map", "AutoConfig")  # type: ignore[union-attr]


def _remote_tokenizer(md: ModelDir) -> Optional[Tuple[str, Location, bool]]:
    """(class name, where, whether tokenizer_class declares it) when tokenizer_config.json's auto_map.AutoTokenizer names the tokenizer
    class the file itself declares (tokenizer_class absent, or the same class): the directory's own
    tokenizer code, which transformers does not ship."""
    doc = md.tokenizer
    data = doc.data if doc is not None else None
    if not isinstance(data, dict) or "auto_map" not in data:
        return None
    auto = data["auto_map"]
    refs: Any = auto if isinstance(auto, (list, tuple)) else auto.get("AutoTokenizer") if isinstance(auto, dict) else None
    if isinstance(refs, str):
        refs = [refs]
    names = [r.rsplit(".", 1)[-1] for r in refs or () if isinstance(r, str) and r]
    if not names:
        return None
    declared = data.get("tokenizer_class")
    if declared is not None and (not isinstance(declared, str) or declared not in names):
        return None
    key = ("auto_map", "AutoTokenizer") if isinstance(auto, dict) else ("auto_map",)
    return (declared or names[0]), doc.loc(*key), declared is not None  # type: ignore[union-attr]


def _never_native(stack: Stack, path: str, mtype: str) -> Optional[Tuple[str, Optional[Constraint]]]:
    """Why the pinned transformers has no implementation of ``mtype``: ("never", None) when no
    covered release has it, ("pin", constraint) when every release the environment admits lacks
    it; None when transformers may load it natively (then no trust is needed)."""
    from stacklint.knowledge import architectures as A

    rec = A.record("transformers", model_type=mtype)
    if rec is None:
        return "never", None
    from stacklint.checks._common import confining_pin

    pin = confining_pin(stack, path, "transformers", A.releases("transformers"),
                        lambda v: A.supported("transformers", v, model_type=mtype) is False)
    return ("pin", pin) if pin is not None else None


def _transformers_older_than(stack: Stack, path: str, version: str) -> Optional[Constraint]:
    from stacklint.checks._common import V, confining_pin
    from stacklint.knowledge import architectures as A

    bound = V(version)
    return confining_pin(stack, path, "transformers", A.releases("transformers"),
                         lambda v: V(v) is not None and V(v) < bound)  # type: ignore[operator]


def _auto_kind(call: Call) -> Optional[str]:
    """"config" | "model" | "tokenizer" for transformers' AutoConfig / AutoModel* / AutoTokenizer
    .from_pretrained; None for anything else (model classes, peft, modelscope, unsloth ...)."""
    if call.short != "from_pretrained" or not call.qualname.startswith("transformers."):
        return None
    owner = call.name.rsplit(".", 2)[-2] if "." in call.name else ""
    if owner == "AutoConfig":
        return "config"
    if owner == "AutoTokenizer":
        return "tokenizer"
    if owner.startswith("AutoModel"):
        return "model"
    return None


def _untrusted(call: Call) -> Optional[str]:
    """How the call leaves remote code untrusted ("no trust_remote_code", "trust_remote_code=False"),
    or None when it trusts it or cannot be known (a variable, **kwargs)."""
    arg = call.kwargs.get("trust_remote_code")
    if arg is None:
        return None if call.star_kwargs else "without trust_remote_code"
    if arg.value is False:
        return "with trust_remote_code=False"
    if arg.value is None:
        return "with trust_remote_code=None"
    return None


@check(code="SL416", name="remote-code-model-loaded-without-trust", severity="error",
       category="API Usage and Interface Issues", subcategory="Function Call Parameter Error",
       summary="A script loads a model whose config.json names its own code (auto_map) for a model_type the pinned transformers does not implement, through AutoConfig / AutoModel* / AutoTokenizer.from_pretrained without trust_remote_code=True.",
       evidence=_SL416_EVIDENCE)
def remote_code_model_loaded_without_trust(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Follows `AutoModelForCausalLM.from_pretrained(...)` (any `AutoModel*`), `AutoConfig.from_pretrained`
    and `AutoTokenizer.from_pretrained` of transformers to the model they load — a model directory
    in the tree, or a hub id whose knowledge-base record says it needs remote code — and reports the
    call when it passes no `trust_remote_code=True` (absent, `False` or `None`) while:

    * config.json has an `auto_map` with an `AutoConfig` entry (the directory's own
      `configuration_*.py`), and
    * its `model_type` is one transformers does not implement: no release has it (Qwen-1 `qwen`,
      ChatGLM `chatglm`, InternLM2 `internlm2`, Baichuan ...), or every release the script's
      transformers pin admits predates it (`phi3` below 4.41, `deepseek_v3` below 4.51, ...).

    For `AutoTokenizer` the directory's tokenizer_config.json must also name its own tokenizer class
    in `auto_map.AutoTokenizer` (`tokenization_qwen.QWenTokenizer`). Only config.json and
    tokenizer_config.json fields are read; the remote code itself is never opened.

    ## Why is this bad?
    transformers refuses to run code shipped with a checkpoint unless the caller opts in. The load
    stops with "ValueError: Loading <path> requires you to execute the configuration file in that
    repo on your local machine ... set the option `trust_remote_code=True`" (transformers < 4.30,
    at once). From 4.30 on transformers first asks "Do you wish to run the custom code? [y/N]" for
    15 seconds; no answer, "N", or no terminal to ask on (a container, CI, a service, nohup: stdin
    at EOF) ends in "ValueError: The repository for <path> contains custom code which must be
    executed ... Please pass the argument `trust_remote_code=True`" (an EOFError on 4.30-4.33). A
    remote tokenizer under 4.30-4.36 fails as "ValueError: Tokenizer class QWenTokenizer does not
    exist or is not currently imported."

    ## Example
    ```
    # Qwen-7B-Chat/config.json: "model_type": "qwen", "auto_map": {"AutoConfig": "configuration_qwen.QWenConfig", ...}
    tokenizer = AutoTokenizer.from_pretrained("Qwen-7B-Chat", trust_remote_code=True)
    model = AutoModelForCausalLM.from_pretrained("Qwen-7B-Chat", device_map="auto")
    ```

    ## Use instead
    `AutoModelForCausalLM.from_pretrained("Qwen-7B-Chat", device_map="auto", trust_remote_code=True)`
    (read the directory's `*.py` first), or a checkpoint transformers implements natively
    (Qwen1.5+ `qwen2`), or a transformers release that implements the `model_type`.

    ## Known false alarms
    Run from an interactive terminal, a user who answers "y" at the prompt (transformers >= 4.30)
    gets the model loaded. Not reported when the path is a variable, when the call passes a
    `config=` object or `**kwargs`, when the environment does not confine transformers below the
    release that implements the `model_type`, or for classes other than transformers' Auto classes
    (`pipeline()`, peft, ModelScope and unsloth wrappers).
    """
    if not stack.scripts:
        return
    from stacklint.checks.api import _first_arg, _resolve_model

    for doc in stack.scripts:
        for call in doc.calls:
            kind = _auto_kind(call)
            if kind is None:
                continue
            how = _untrusted(call)
            if how is None or (kind == "model" and "config" in call.kwargs):
                continue
            md, ckpt, ref = _resolve_model(stack, doc, _first_arg(call))
            hit = _sl416_target(stack, doc, kind, md, ckpt)
            if hit is None:
                continue
            yield _sl416(stack, doc, call, kind, how, ref, *hit)


def _sl416_target(stack: Stack, doc: PyDoc, kind: str, md: Optional[ModelDir],
                  ckpt: Optional[Dict[str, Any]]) -> Optional[Tuple[str, str, Optional[Location], Optional[Constraint],
                                                                   List[Related]]]:
    """(model_type, what is remote, where it is named, confining pin, related locations) when the load
    needs remote code."""
    if md is not None:
        remote = _remote_config(md)
        if remote is None:
            return None
        mtype, cref, cloc = remote
        why = _never_native(stack, doc.path, mtype)
        if why is None:
            return None
        related = [Related(cloc, f"auto_map.AutoConfig: {cref} (code in the model directory)")]
        assert md.config is not None
        related.append(Related(md.config.loc("model_type"), f"model_type \"{mtype}\""))
        what, wloc = f"its configuration class {cref.rsplit('.', 1)[-1]}", cloc
        if kind == "tokenizer":
            # tokenizer_class absent: AutoTokenizer loads the remote config first (any release)
            tok = _remote_tokenizer(md)
            if tok is None:
                return None
            related.append(Related(tok[1], f"auto_map.AutoTokenizer: {tok[0]} (code in the model directory)"))
            if tok[2]:
                what, wloc = f"its tokenizer class {tok[0]}", tok[1]
        return mtype, what, wloc, why[1], related
    if ckpt is None or kind == "tokenizer" or not ckpt.get("trust_remote_code"):
        return None
    mtype = ckpt.get("model_type")
    if not isinstance(mtype, str):
        return None
    why = _never_native(stack, doc.path, mtype)
    if why is None:
        return None
    return mtype, "its own modeling code (auto_map)", None, why[1], []


def _sl416(stack: Stack, doc: PyDoc, call: Call, kind: str, how: str, ref: str, mtype: str, what: str,
           wloc: Optional[Location], pin: Optional[Constraint], related: List[Related]) -> Finding:
    from stacklint.checks._common import fmt_loc

    where = f"{doc.path}:{call.line}"
    if pin is not None:
        native = f"{pin.raw} ({fmt_loc(pin)}) admits no transformers release that implements model_type \"{mtype}\""
        related = related + [Related(pin.location, pin.raw)]
    else:
        native = f"no transformers release implements model_type \"{mtype}\""
    tokenizer_cls = what.rsplit(" ", 1)[-1] if what.startswith("its tokenizer class") else ""
    if "=False" in how or _transformers_older_than(stack, doc.path, _PROMPT_FROM) is not None:
        # explicit False: resolve_trust_remote_code() asks nothing (v4.30.0 on), raises at once
        outcome = (f"transformers raises \"ValueError: Loading ... requires you to execute the "
                   f"{'tokenizer' if tokenizer_cls else 'configuration'} file in that repo on your local machine ... "
                   f"set the option `trust_remote_code=True`\"")
    elif tokenizer_cls and _transformers_older_than(stack, doc.path, _TOKENIZER_LOCAL_BY_NAME) is not None:
        outcome = (f"transformers 4.30-4.36 takes any tokenizer_class for a class of its own and stops with "
                   f"\"ValueError: Tokenizer class {tokenizer_cls} does not exist or is not currently imported.\"")
    elif _transformers_older_than(stack, doc.path, _PROMPT_CAUGHT_FROM) is not None:
        outcome = ("transformers 4.30-4.33 asks \"Do you accept? [y/N]\" for 15 seconds and stops with \"ValueError: "
                   "Loading ... requires you to execute the configuration file in that repo ... set the option "
                   "`trust_remote_code=True`\" when unanswered, or with an EOFError without a terminal (a container, "
                   "CI, a service)")
    else:
        outcome = ("transformers asks \"Do you wish to run the custom code? [y/N]\" for 15 seconds and, unanswered "
                   "or without a terminal (a container, CI, a service), stops with \"ValueError: ... Please pass "
                   "the argument `trust_remote_code=True`\"")
    md_where = f" ({wloc.path}:{wloc.line})" if wloc is not None else ""
    fix = "pass trust_remote_code=True (after reading the model directory's *.py)"
    return Finding(
        "SL416", Location(doc.path, call.line, call.col),
        f"{call.name}(\"{ref}\") ({where}) loads {ref} {how}, but the model needs {what}{md_where} and "
        f"{native}: {outcome} — {fix}",
        hint=fix, related=tuple(related), key=f"{doc.path}:{call.line}:{ref}:trust-remote-code")


# -- SL417: batched generate() given the padded input ids without the attention mask -------------
#
# transformers generate() (src/transformers/generation/utils.py, v4.26.1, v4.31.0, v4.40.0, v4.44.2,
# v4.57.1, v5.0.0): without an attention_mask keyword it builds one in
# _prepare_attention_mask_for_generation(): input_ids.ne(pad_token_id) only when the model's
# generation_config.pad_token_id is set, occurs in the inputs and is none of the eos ids; otherwise a
# mask of ones, so every pad token is attended. The pad id it uses is the model's (generation_config /
# config.json), not the tokenizer's. Warnings at those tags: "The attention mask and the pad token id
# were not set. As a consequence, you may observe unexpected behavior. Please pass your input's
# `attention_mask` to obtain reliable results." (no pad id) and, from v4.44.2 (not in v4.40.0), "The
# attention mask is not set and cannot be inferred from input because pad token is same as eos token."
_SL417_EVIDENCE = (
    "https://github.com/QwenLM/Qwen2.5/issues/814",  # qwen25-149: generate(inputs.input_ids) after padding=True
    "https://github.com/huggingface/transformers/blob/v4.44.2/src/transformers/generation/utils.py",
    "https://github.com/deepspeedai/DeepSpeedExamples/pull/464",  # pad=eos in the tokenizer only: mask of ones
    "https://github.com/huggingface/transformers/issues/28385",  # pad id == eos id: results change with padding
)
_PADDING_ON = (True, "longest", "max_length")
Pos = Tuple[int, int]
_SEQ2SEQ = ("Seq2Seq", "T5", "MT5", "Bart", "MBart", "Pegasus", "Marian", "LED", "FSMT", "M2M100", "NllbMoe",
            "ProphetNet", "Blenderbot", "Whisper", "SpeechT5", "Florence")


def _scopes(tree: Any) -> List[Tuple[Any, List[Any]]]:
    """(scope node, its nodes) for the module and each function: the nodes of a scope exclude those of
    the functions (and lambdas) defined in it, which are scopes of their own (methods included)."""
    import ast

    out: List[Tuple[Any, List[Any]]] = []
    todo: List[Tuple[Any, List[Any]]] = [(tree, [])]
    out.append(todo[0])
    while todo:
        scope, nodes = todo.pop()
        stack = list(ast.iter_child_nodes(scope))
        while stack:
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                item: Tuple[Any, List[Any]] = (node, [])
                out.append(item)
                todo.append(item)
                continue
            if isinstance(node, ast.Lambda):
                continue
            nodes.append(node)
            stack.extend(ast.iter_child_nodes(node))
    return out


def _strip_moves(node: Any) -> Any:
    """x.to(device) / x.cuda() / x.cpu() -> x."""
    import ast

    while (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
           and node.func.attr in ("to", "cuda", "cpu")):
        node = node.func.value
    return node


# names that hold several texts by the script's own naming (a parameter, a loop variable)
_BATCH_NAMES = ("prompts", "texts", "sentences", "questions", "queries", "instructions", "documents", "samples",
                "examples", "captions", "contexts", "strings", "inputs_text", "input_texts")


def _batch_like(node: Any, lists: Dict[str, Any], grown: set) -> bool:
    """A batch of texts: a list literal of two or more, a list comprehension, a slice, an empty list
    the scope appends to, or a name bound to one of those (or named as a batch: `batch`, `prompts`)."""
    import ast

    if isinstance(node, ast.List):
        return len(node.elts) >= 2
    if isinstance(node, ast.ListComp):
        return True
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice):
        return True
    if isinstance(node, ast.Name):
        if node.id in lists:
            bound = lists[node.id]
            if isinstance(bound, ast.List) and not bound.elts:
                return node.id in grown
            return _batch_like(bound, {}, set())
        low = node.id.lower()
        return "batch" in low or low.endswith(_BATCH_NAMES)
    return False


def _padding(call: Any) -> Optional[Any]:
    import ast

    for k in call.keywords:
        if k.arg == "padding":
            v = k.value
            if isinstance(v, ast.Constant) and v.value in _PADDING_ON and v.value is not False:
                return v.value
            if isinstance(v, ast.Attribute) and v.attr in ("LONGEST", "MAX_LENGTH"):
                return v.attr.lower()
    return None


def _tokenizer_call(node: Any, lists: Dict[str, Any], grown: set, tokenizers: set) -> bool:
    """tokenizer(<batch>, padding=True, ...) / tokenizer.batch_encode_plus(<batch>, padding=...)."""
    import ast

    from stacklint.parsers.python import dotted

    if not isinstance(node, ast.Call):
        return False
    name = dotted(node.func) or ""
    last = name.rsplit(".", 1)[-1]
    if last in ("batch_encode_plus", "__call__"):
        name = name.rsplit(".", 1)[0]
        last = name.rsplit(".", 1)[-1]
    if not (last in tokenizers or "tokenizer" in last.lower() or last in ("tok", "tknzr")):
        return False
    pad = _padding(node)
    if pad is None:
        return False
    text = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "text"), None)
    if text is None:
        return False
    if pad == "max_length":  # one prompt is padded too
        return not (isinstance(text, ast.List) and not text.elts)
    return _batch_like(text, lists, grown)


def _ids_of(node: Any, encodings: Dict[str, Pos], ids_vars: Dict[str, Pos], inline: Any) -> Optional[Pos]:
    """(line, col) of the batch tokenisation whose input ids ``node`` is (enc.input_ids, enc["input_ids"],
    a variable holding them), else None."""
    import ast

    node = _strip_moves(node)
    if isinstance(node, ast.Name):
        return ids_vars.get(node.id)
    base = None
    if isinstance(node, ast.Attribute) and node.attr == "input_ids":
        base = node.value
    elif isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and node.slice.value == "input_ids":
        base = node.value
    if base is None:
        return None
    base = _strip_moves(base)
    if isinstance(base, ast.Name):
        return encodings.get(base.id)
    if inline(base):
        return base.lineno, base.col_offset + 1
    return None


@check(code="SL417", name="batched-generate-without-attention-mask", severity="warning",
       category="API Usage and Interface Issues", subcategory="Function Call Parameter Error",
       summary="A script pads a batch of prompts with the tokenizer and passes only its input_ids to model.generate(), without the attention_mask, so the pad tokens are attended to.",
       evidence=_SL417_EVIDENCE)
def batched_generate_without_attention_mask(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `model.generate(enc.input_ids, ...)` (also `enc["input_ids"]`, `input_ids=...`, or a
    variable holding them, moved with `.to(device)` or not) when `enc` comes from a tokenizer call
    that pads a batch — `tokenizer(prompts, padding=True, ...)` on a list of two or more texts, a list
    comprehension or a slice (or `padding="max_length"` on anything) — earlier in the same function,
    and the call passes neither `attention_mask=` nor `**kwargs`.

    ## Why is this bad?
    The tokenizer returned the mask that tells the model which positions are padding; generate()
    without it rebuilds one from the model's own `pad_token_id` only when that id is set, occurs in
    the batch and differs from every eos id. For most chat models it does not (Llama and Mistral
    have no pad id; Qwen2's pad `<|endoftext|>` is one of its eos ids; scripts often set
    `tokenizer.pad_token = tokenizer.eos_token`), so generate() attends to every pad token: with left
    padding the shorter prompts are read after a run of pad tokens, with right padding the model
    continues after them, and each prompt's answer depends on the rest of its batch. transformers
    only warns ("The attention mask and the pad token id were not set ..." / "The attention mask is
    not set and cannot be inferred from input because pad token is same as eos token").

    ## Example
    ```
    inputs = tokenizer(prompts, return_tensors="pt", padding=True).to("cuda")
    out = model.generate(inputs.input_ids, max_new_tokens=256)
    ```

    ## Use instead
    `model.generate(**inputs, max_new_tokens=256)` (or `attention_mask=inputs.attention_mask`), with
    `tokenizer.padding_side = "left"` for decoder-only models.

    ## Known false alarms
    A model whose generation pad_token_id is set, differs from its eos ids and equals the tokenizer's
    pad id (many encoder-decoder models, e.g. T5) gets a correct mask rebuilt; scripts that load a
    sequence-to-sequence model class are skipped for that reason. A list whose texts all tokenise to
    the same length is not padded.
    """
    import ast

    from stacklint.checks._common import script_tree

    for doc in stack.scripts:
        tf = stack.texts.get(doc.path)
        if tf is None or "padding" not in tf.text or ".generate(" not in tf.text or "input_ids" not in tf.text:
            continue
        if any(c.short == "from_pretrained" and any(s in c.name for s in _SEQ2SEQ) for c in doc.calls):
            continue
        tree = script_tree(stack, doc.path)
        if tree is None:
            continue
        tokenizers = {name for name, q in doc.origins.items() if "Tokenizer" in q or "Processor" in q}
        pad_eos = _pad_is_eos(tree)
        for _, nodes in _scopes(tree):
            yield from _sl417_scope(doc, nodes, tokenizers, pad_eos)


def _pad_is_eos(tree: Any) -> Optional[int]:
    """The line of `tokenizer.pad_token = tokenizer.eos_token` (or the *_id form), if any."""
    import ast

    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute):
            t, v = node.targets[0], node.value
            if t.attr in ("pad_token", "pad_token_id") and isinstance(v, ast.Attribute) \
                    and v.attr in ("eos_token", "eos_token_id"):
                return node.lineno
    return None


def _same_encoding(node: Any, encodings: Dict[str, Pos]) -> Optional[Pos]:
    """The tokenisation position when ``node`` is an encoding variable again (moved, or rebuilt as a dict
    comprehension over its items)."""
    import ast

    if isinstance(node, ast.Name):
        return encodings.get(node.id)
    if isinstance(node, ast.DictComp) and node.generators:
        it = node.generators[0].iter
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr == "items" \
                and isinstance(it.func.value, ast.Name):
            return encodings.get(it.func.value.id)
    return None


def _sl417_scope(doc: PyDoc, nodes: List[Any], tokenizers: set, pad_eos: Optional[int]) -> Iterator[Finding]:
    import ast

    lists: Dict[str, Any] = {}
    encodings: Dict[str, Pos] = {}  # variable -> (line, col) of the padding tokenizer call
    ids_vars: Dict[str, Pos] = {}
    grown = {n.func.value.id for n in nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and n.func.attr in ("append", "extend") and isinstance(n.func.value, ast.Name)}

    def inline(n: Any) -> bool:
        return _tokenizer_call(n, lists, grown, tokenizers)

    # source order; an assignment counts where it ends, after the calls in its value
    events = []
    for node in nodes:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            events.append((node.end_lineno or node.lineno, node.end_col_offset or 0, 1, node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "generate":
            events.append((node.lineno, node.col_offset, 0, node))
    for _, _, kind, node in sorted(events, key=lambda e: (e[0], e[1], e[2])):
        if kind == 1:
            name, value = node.targets[0].id, node.value
            inner = _strip_moves(value)
            same = _same_encoding(inner, encodings)  # enc = enc.to(device), {k: v.to(d) for k, v in enc.items()}
            line = None if same is not None else _ids_of(value, encodings, ids_vars, inline)
            encodings.pop(name, None)
            ids_vars.pop(name, None)
            lists[name] = value
            if same is not None:
                encodings[name] = same
            elif inline(inner):
                encodings[name] = (inner.lineno, inner.col_offset + 1)
            elif line is not None:
                ids_vars[name] = line
            continue
        call = node
        if any(k.arg is None for k in call.keywords) or any(k.arg == "attention_mask" for k in call.keywords):
            continue
        arg = call.args[0] if call.args else next(
            (k.value for k in call.keywords if k.arg in ("input_ids", "inputs")), None)
        if arg is None:
            continue
        pos = _ids_of(arg, encodings, ids_vars, inline)
        if pos is None:
            continue
        line = pos[0]
        receiver = ast.unparse(call.func.value) if hasattr(ast, "unparse") else "model"
        also = (f"; and tokenizer.pad_token is the eos token (line {pad_eos}), so generate() cannot even infer the "
                f"mask from the pad id") if pad_eos is not None else ""
        fix = "pass the tokenizer's mask: generate(**inputs, ...) or attention_mask=inputs.attention_mask"
        yield Finding(
            "SL417", Location(doc.path, call.lineno, call.col_offset + 1),
            f"{receiver}.generate() ({doc.path}:{call.lineno}) gets only the input ids of the batch padded at line "
            f"{line}, not its attention_mask: generate() then attends to the pad tokens (unless the model's own "
            f"pad_token_id is set and is no eos id), so each prompt's output depends on its batch{also} — {fix}",
            hint=fix, related=(Related(Location(doc.path, line, pos[1]), "padded batch tokenised here"),),
            key=f"{doc.path}:{call.lineno}:generate-without-mask")
