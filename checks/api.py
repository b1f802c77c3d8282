"""Python API usage across library versions (SL4xx)."""
from __future__ import annotations

import re

from typing import Any, Dict, Iterator, List, Optional, Tuple

from stacklint.findings import Finding, Fix, Location, Related
from stacklint.model import Constraint, Stack
from stacklint.parsers.python import Call, PyDoc, dotted

from stacklint.checks import api_remote_code as _api_remote_code  # noqa: F401,E402  (SL416, SL417)


_KWARG_KINDS = ("keyword_argument",)
_IMPORT_KINDS = ("function", "class", "module")
# Root modules whose classes the keyword-argument records of a package may be called through:
# trl's *Config classes subclass transformers.TrainingArguments; unsloth re-exports both.
_CALL_ROOTS = {"transformers": ("transformers", "trl", "peft", "unsloth"), "trl": ("trl", "unsloth"),
               "accelerate": ("accelerate",), "peft": ("peft",)}


def _removed(kinds: Tuple[str, ...]) -> List[Dict[str, Any]]:
    """Records of knowledge/data/api_changes.json (computed from each release's source) whose old
    spelling is gone in some release."""
    from stacklint.knowledge import api_changes

    return [r for r in api_changes.changes() if r["kind"] in kinds and r.get("removed_in")]


def _callable_matches(row: Dict[str, Any], doc: PyDoc, call: Call) -> bool:
    """The call is one of the record's callables, made through the record's package."""
    from stacklint.knowledge.api_changes import _callable_matches as matches

    roots = _CALL_ROOTS.get(row["package"], (row["package"],))
    root = call.qualname.split(".", 1)[0]
    if call.qualname != call.name and root not in roots:
        return False  # resolved to another library's same-named class
    if call.qualname == call.name and not any(r in doc.imports for r in roots):
        return False  # a local class of that name in a script that imports none of the package
    for pattern in row.get("callables") or ():
        if pattern.endswith(".from_pretrained"):
            if call.short != "from_pretrained" or not _hf_from_pretrained(doc, call):
                continue
            owner = call.name.rsplit(".", 2)[-2] if "." in call.name else ""
            if matches(pattern, call.name) or (pattern == "PreTrainedModel.from_pretrained" and _model_class(owner)):
                return True
        elif "." not in pattern and call.short == pattern:
            return True
    return False


def _model_class(owner: str) -> bool:
    """A transformers model class name (LlamaForCausalLM, Qwen2Model, AutoModelForCausalLM)."""
    return owner.startswith("AutoModel") or "For" in owner or (owner.endswith("Model") and owner[:1].isupper()
                                                                and owner not in ("PeftModel", "AutoPeftModel"))


def _pinned_at_least(stack: Stack, path: str, package: str, version: str) -> Optional[Constraint]:
    """The constraint that forces ``package`` to ``version`` or later (an exact pin or a
    lower bound), when the environment of ``path`` has one; None when it may be older."""
    from stacklint.checks._common import V

    floor = V(version)
    if floor is None:
        return None
    for iset in stack.environment(path):
        for c in iset.get(package):
            if c.marker is not None or c.url:
                continue
            exact = c.exact()
            if exact is not None:
                if exact >= floor:
                    return c
                continue
            lows = [V(s.version) for s in c.specifier if s.operator in (">=", ">", "~=", "==") and
                    not s.version.endswith(".*")]
            lows = [v for v in lows if v is not None]
            if lows and max(lows) >= floor:
                return c
    return None


def _loc(c: Constraint) -> str:
    return f"{c.location.path}:{c.location.line}"


from stacklint.registry import check  # noqa: E402
from stacklint.checks import api_loading as _api_loading  # noqa: F401,E402  (SL413, SL415)
# SL609 judges training scripts alone too (a hub-id model): registered here as well as by the
# tokens family, which loads only when a model directory is present
from stacklint.checks import tokens_training as _tokens_training  # noqa: F401,E402  (SL609, SL610)


@check(code="SL401", name="removed-keyword-argument", severity="error",
       category="API Usage and Interface Issues", subcategory="API Compatibility Issues",
       summary="A keyword argument removed in the pinned library version (evaluation_strategy, use_auth_token, SFTTrainer tokenizer=, load_in_8bit=).",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/571",
                 "https://github.com/huggingface/trl/pull/2162",
                 "https://github.com/huggingface/transformers/pull/41287"))
def removed_keyword_argument(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports calls that pass a keyword argument the pinned release of the library no longer
    accepts: `TrainingArguments(evaluation_strategy=)` (and trl's `SFTConfig`/`DPOConfig`/...,
    which subclass it; transformers >= 4.51, use `eval_strategy`), `from_pretrained(use_auth_token=)`
    (transformers >= 5, use `token`), `from_pretrained(load_in_8bit=/load_in_4bit=)` (transformers
    >= 5, use `quantization_config=BitsAndBytesConfig(...)`), `SFTTrainer(tokenizer=)` and
    `DPOTrainer(tokenizer=)` (trl >= 0.16, use `processing_class`), `KTOTrainer`/`CPOTrainer`
    (trl >= 0.14) and the other keyword arguments of `knowledge/data/api_changes.json`, a table
    computed by `knowledge/scripts/gen_api_changes.py` from every release's source.

    ## Why is this bad?
    The script dies at that call with "TypeError: __init__() got an unexpected keyword argument",
    typically after the model has been downloaded and loaded.

    ## Example
    ```
    # requirements.txt: transformers==4.51.0
    TrainingArguments(output_dir="out", evaluation_strategy="steps")
    ```

    ## Use instead
    `TrainingArguments(output_dir="out", eval_strategy="steps")`

    ## Known false alarms
    Only reported when the script's environment pins the library to a release without the
    argument; unpinned or older pins are not judged. Scripts that import `unsloth` (which
    patches the TRL trainers to accept `tokenizer=`) are not reported for TRL arguments.
    """
    rows = _removed(_KWARG_KINDS)
    for doc in stack.scripts:
        unsloth = "unsloth" in doc.imports  # unsloth patches the TRL trainers to accept tokenizer=
        for call in doc.calls:
            for row in rows:
                if row["name"] not in call.kwargs or not _callable_matches(row, doc, call):
                    continue
                if unsloth and row["package"] == "trl":
                    continue
                c = _pinned_at_least(stack, doc.path, row["package"], row["removed_in"])
                if c is None:
                    continue
                arg = call.kwargs[row["name"]]
                loc = Location(doc.path, arg.key_line or arg.line, arg.key_col or arg.col)
                fix = _rename_fix(stack, doc.path, loc, row, call)
                new = row.get("replacement")
                remedy = f"use {new}" if new else "remove it"
                dep = f" (deprecated since {row['deprecated_in']})" if row.get("deprecated_in") else ""
                yield Finding("SL401", loc,
                              f"{call.short}({row['name']}=...) ({doc.path}:{loc.line}) was removed in "
                              f"{row['package']} {row['removed_in']}{dep}, and {c.raw} ({_loc(c)}) installs that "
                              f"or later — {remedy}",
                              hint=(f"replace {row['name']}= with {new.split('=')[0]}=" if new and new.split('=')[0].isidentifier()
                                    else f"{remedy} ({row['name']}=)"),
                              related=(Related(c.location, f"{c.raw}"),), fix=fix,
                              key=f"{doc.path}:{call.short}:{row['name']}")


def _rename_fix(stack: Stack, path: str, loc: Location, row: Dict[str, Any], call: Call) -> Optional[Fix]:
    """A pure keyword rename (``replacement`` is a bare identifier, not already passed):
    edit the keyword's name where the parser recorded it. Replacements that change the
    value (``quantization_config=BitsAndBytesConfig(...)``) get no automatic fix."""
    new = row.get("replacement") or ""
    if not isinstance(new, str) or not new.isidentifier() or new in call.kwargs:
        return None
    tf = stack.texts.get(path)
    if tf is None:
        return None
    from stacklint.fix import rename_keyword

    edit = rename_keyword(tf.text, path, loc.line, loc.col, row["name"], new)
    if edit is None:
        return None
    return Fix(f"rename {row['name']}= to {new}=", (edit,))


def _hf_from_pretrained(doc: PyDoc, call: Call) -> bool:
    q = call.qualname
    return q.startswith(("transformers.", "peft.")) or call.name.split(".")[0].startswith("Auto")


def _model_loads(doc: PyDoc) -> Iterator[Tuple[Call, str]]:
    """(call, class name) of the script's `<ModelClass>.from_pretrained(...)` calls of transformers
    model classes."""
    for call in doc.calls:
        if call.short != "from_pretrained" or not _hf_from_pretrained(doc, call):
            continue
        owner = call.name.rsplit(".", 2)[-2] if "." in call.name else ""
        if _model_class(owner):
            yield call, owner


@check(code="SL402", name="removed-function-import", severity="error",
       category="API Usage and Interface Issues", subcategory="API Compatibility Issues",
       summary="A function, class or module imported from a library release that no longer has it (prepare_model_for_int8_training).",
       evidence=("https://github.com/huggingface/peft/issues/1583",
                 "https://github.com/QwenLM/Qwen/issues/353"))
def removed_function_import(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a script that imports a function, class or module the pinned library release removed,
    e.g. `from peft import prepare_model_for_int8_training` with peft >= 0.10.0,
    `from transformers import AdamW` with transformers >= 4.50, `transformers.deepspeed` with
    transformers >= 4.46.1 (the records of `knowledge/data/api_changes.json`).

    ## Why is this bad?
    "ImportError: cannot import name 'prepare_model_for_int8_training' from 'peft'" — the script
    does not start.

    ## Example
    ```
    # requirements.txt: peft==0.10.0
    from peft import prepare_model_for_int8_training
    ```

    ## Use instead
    `from peft import prepare_model_for_kbit_training` (same call), or pin `peft<0.10`.

    ## Known false alarms
    Only reported when the environment pins the library to a release without the name. Imports
    inside `try: ... except ImportError:` (either branch) are compatibility shims and are skipped.
    """
    rows = _removed(_IMPORT_KINDS)
    for doc in stack.scripts:
        for row in rows:
            full = row["name"]
            hits = {i for i in doc.imports
                    if i == full or (row["kind"] == "module" and i.startswith(full + "."))}
            if not hits or hits <= doc.guarded:
                continue  # not imported, or only as a fallback under `except ImportError`
            c = _pinned_at_least(stack, doc.path, row["package"], row["removed_in"])
            if c is None:
                continue
            first = min(hits - doc.guarded or hits, key=lambda i: doc.import_lines.get(i, 0))
            line, col = _import_pos(stack, doc.path, full.rsplit(".", 1)[-1], doc.import_lines.get(first, 0))
            new = row.get("replacement")
            remedy = f"use {new}" if new else "drop it"
            yield Finding("SL402", Location(doc.path, line, col),
                          f"{full} ({doc.path}:{line}) was removed in {row['package']} {row['removed_in']}, and "
                          f"{c.raw} ({_loc(c)}) installs that or later — {remedy}",
                          hint=f"import {new} instead" if new else f"drop the import of {full}",
                          related=(Related(c.location, c.raw),), key=f"{doc.path}:{full}")


def _import_pos(stack: Stack, path: str, name: str, lineno: int = 0) -> Tuple[int, int]:
    tf = stack.texts.get(path)
    if tf is None:
        return max(lineno, 1), 1
    lines = tf.text.splitlines()
    if 0 < lineno <= len(lines):
        m = re.search(rf"\b{re.escape(name)}\b", lines[lineno - 1])
        return lineno, (m.start() + 1) if m else 1
    for n, line in enumerate(lines, 1):
        if name in line and "import" in line:
            return n, line.find(name) + 1
    return 1, 1


_QUANT = ("load_in_4bit", "load_in_8bit")


@check(code="SL403", name="half-on-quantized-model", severity="error",
       category="API Usage and Interface Issues", subcategory="Call Sequence Error",
       summary="Calling model.half() / .to(float16) on a model loaded in 4-bit or 8-bit.",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/180",))
def half_on_quantized_model(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `model.half()` (or `model.to(torch.float16)`/`.float()`/`.bfloat16()`) on a variable
    assigned from `from_pretrained(..., load_in_4bit=True)` / `load_in_8bit=True` or a literal
    `BitsAndBytesConfig(load_in_4bit=True)` in the same script.

    ## Why is this bad?
    transformers raises "`.half()` is not supported for `4-bit` or `8-bit` bitsandbytes models.
    Please use the model as it is" (and casting dtypes of quantized weights would corrupt them).

    ## Example
    ```
    model = AutoModelForCausalLM.from_pretrained(mid, load_in_4bit=True)
    model = model.half()
    ```

    ## Use instead
    Drop the cast; set `bnb_4bit_compute_dtype=torch.float16` in the `BitsAndBytesConfig`.
    """
    for doc in stack.scripts:
        quant_vars: Dict[str, int] = {}
        bnb_lines = [c.line for c in doc.calls if c.short == "BitsAndBytesConfig" and any(
            c.kwargs.get(k) is not None and c.kwargs[k].value is True for k in _QUANT)]
        for call in doc.calls:
            if call.short == "from_pretrained":
                q = any(call.kwargs.get(k) is not None and call.kwargs[k].value is True for k in _QUANT)
                if not q and "quantization_config" in call.kwargs and bnb_lines:
                    q = True
                if q:
                    var = _assigned_var(stack, doc.path, call.line)
                    if var:
                        quant_vars[var] = call.line
        for call in doc.calls:
            if call.receiver not in quant_vars or call.line <= quant_vars[call.receiver]:
                continue
            method = call.short
            bad = method in ("half", "bfloat16") or (method == "to" and any(
                str(getattr(a.value, "source", a.value)).endswith(("float16", "half", "bfloat16"))
                for a in call.args))
            if not bad:
                continue
            yield Finding("SL403", Location(doc.path, call.line, call.col),
                          f"{call.name}() ({doc.path}:{call.line}) casts a bitsandbytes-quantized model loaded at "
                          f"line {quant_vars[call.receiver]}; transformers raises \".half() is not supported for "
                          f"4-bit or 8-bit bitsandbytes models\" — remove the cast",
                          hint="remove the cast; set bnb_4bit_compute_dtype in BitsAndBytesConfig instead",
                          key=f"{doc.path}:{call.receiver}:{method}")


def _assigned_var(stack: Stack, path: str, line: int) -> Optional[str]:
    tf = stack.texts.get(path)
    if tf is None:
        return None
    lines = tf.text.splitlines()
    if not 0 < line <= len(lines):
        return None
    text = lines[line - 1]
    head, sep, _ = text.partition("=")
    head = head.strip()
    if sep and head.isidentifier():
        return head
    return None


# -- helpers: the model a from_pretrained call loads -------------------------------------

def _resolve_model(stack: Stack, doc: PyDoc, value: Any) -> Tuple[Optional[Any], Optional[Dict[str, Any]], str]:
    """(local ModelDir, knowledge checkpoint record, the reference as written) for the first
    argument of a from_pretrained call; (None, None, "") when it is not a literal."""
    import posixpath

    if not isinstance(value, str) or not value.strip() or "{" in value or "$" in value:
        return None, None, ""
    ref = value.strip().rstrip("/")
    if not ref.startswith("/"):
        base = doc.path.rsplit("/", 1)[0] if "/" in doc.path else "."
        for root in (base, "."):
            cand = posixpath.normpath(posixpath.join(root, ref)) if root != "." else posixpath.normpath(ref)
            md = stack.model_dirs.get(cand)
            if md is not None:
                return md, None, ref
    from stacklint.jobs import _HUB_ID

    if _HUB_ID.match(ref):
        from stacklint import knowledge_access

        return None, knowledge_access.checkpoint(ref), ref
    return None, None, ref


def _first_arg(call: Call) -> Any:
    arg = call.kwargs.get("pretrained_model_name_or_path") or (call.args[0] if call.args else None)
    return None if arg is None else arg.value


# Keyword arguments some checkpoints' own configuration classes define (Qwen-7B's remote-code
# QWenConfig has bf16 / fp16 / fp32) and that users copy to models whose configuration has no
# such attribute: from_pretrained then hands them to the model's __init__.
_PRECISION_KWARGS = ("bf16", "fp16", "fp32", "use_bf16", "use_fp16", "use_fp32")
_DTYPE_FOR = {"bf16": "torch.bfloat16", "fp16": "torch.float16", "fp32": "torch.float32"}


@check(code="SL406", name="precision-flag-passed-to-from-pretrained", severity="error",
       category="API Usage and Interface Issues", subcategory="Function Call Parameter Error",
       summary="A bf16=/fp16=/fp32= (or use_bf16=) keyword passed to from_pretrained of a model whose configuration has no such field.",
       evidence=("https://github.com/QwenLM/Qwen/issues/45",
                 "https://github.com/QwenLM/Qwen/issues/1154"))
def precision_flag_passed_to_from_pretrained(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `AutoModelForCausalLM.from_pretrained(..., bf16=True)` (also `fp16=`, `fp32=`,
    `use_bf16=`, `use_fp16=`, `use_fp32=`) when the loaded model is known — a model directory in
    the tree or a hub id of the knowledge base — and its configuration has no field of that name.
    Only Qwen-7B/14B/72B (Qwen 1, remote code, `model_type` "qwen") define `bf16` / `fp16` /
    `fp32`; no configuration defines `use_bf16`.

    ## Why is this bad?
    `from_pretrained` sets keyword arguments that name configuration fields on the configuration
    and passes every other one to the model class: "TypeError: QWenLMHeadModel.__init__() got an
    unexpected keyword argument 'use_bf16'", or, with Qwen1.5/Qwen2 (native `qwen2`), "TypeError:
    __init__() got an unexpected keyword argument 'bf16'". The script dies after the download.

    ## Example
    ```
    # Qwen1.5-7B-Chat/config.json: "model_type": "qwen2"
    model = AutoModelForCausalLM.from_pretrained("Qwen1.5-7B-Chat", bf16=True)
    ```

    ## Use instead
    `from_pretrained(path, torch_dtype=torch.bfloat16)` (any model), or `bf16=True` only with the
    Qwen 1 remote-code checkpoints.

    ## Known false alarms
    Not reported when the model cannot be resolved (a variable, an unknown hub id) or for
    `trust_remote_code` models whose config.json is not in the tree.
    """
    for doc in stack.scripts:
        for call, _owner in _model_loads(doc):
            flags = [k for k in _PRECISION_KWARGS if k in call.kwargs]
            if not flags:
                continue
            md, ckpt, ref = _resolve_model(stack, doc, _first_arg(call))
            if md is not None and md.config is not None and isinstance(md.config.data, dict):
                fields = set(md.config.data)
                mtype = md.model_type or "?"
                where = md.config.loc()
            elif ckpt is not None and isinstance(ckpt.get("model_type"), str):
                mtype = ckpt["model_type"]
                if mtype == "qwen" or ckpt.get("auto_map") or ckpt.get("trust_remote_code"):
                    continue  # remote code: its configuration class is not known here
                fields = set()
                where = None
            else:
                continue
            for flag in flags:
                if flag in fields:
                    continue
                arg = call.kwargs[flag]
                loc = Location(doc.path, arg.key_line or arg.line, arg.key_col or arg.col)
                dtype = _DTYPE_FOR.get(flag.replace("use_", ""), "torch.bfloat16")
                if mtype == "qwen" and flag.startswith("use_"):
                    remedy = f"Qwen's remote code spells it {flag[4:]}=True"
                else:
                    remedy = f"use torch_dtype={dtype}"
                related = (Related(where, f"model_type \"{mtype}\": no \"{flag}\" field"),) if where else ()
                yield Finding("SL406", loc,
                              f"from_pretrained({flag}=...) ({doc.path}:{loc.line}) loads {ref} (model_type "
                              f"\"{mtype}\"), whose configuration has no \"{flag}\" field: transformers passes it to "
                              f"the model's __init__ and raises \"TypeError: __init__() got an unexpected keyword "
                              f"argument '{flag}'\" — {remedy}",
                              hint=remedy, related=related, key=f"{doc.path}:{ref}:{flag}")


# -- apply_chat_template for generation without the generation prompt --------------------

_TRAINERS = ("Trainer", "SFTTrainer", "DPOTrainer", "ORPOTrainer", "KTOTrainer", "CPOTrainer", "GRPOTrainer",
             "RewardTrainer", "Seq2SeqTrainer", "PPOTrainer")


@check(code="SL407", name="chat-template-without-generation-prompt", severity="warning",
       category="API Usage and Interface Issues", subcategory="API Compatibility Issues",
       summary="An inference script formats a chat with apply_chat_template without add_generation_prompt=True.",
       evidence=("https://github.com/deepseek-ai/DeepSeek-Coder/issues/83",))
def chat_template_without_generation_prompt(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `tokenizer.apply_chat_template(messages, ...)` without `add_generation_prompt=True`
    whose result reaches a `generate(...)` call (transformers or vLLM) of the same function —
    followed through assignments, `tokenizer(text)`, `.to(device)`, loops and comprehensions —
    in a script that does not train. When the tokenizer's model directory is in the tree,
    templates that never read `add_generation_prompt` are not reported.

    ## Why is this bad?
    `add_generation_prompt` defaults to False: the prompt ends after the user's turn, without the
    assistant header (`<|im_start|>assistant`, `### Response:`, `<|start_header_id|>assistant...`).
    The model then continues the user's message, writes the header itself, or answers off-format.
    Templates that used to append the header unconditionally (deepseek-coder before its December
    2023 tokenizer update) now require the flag, so scripts written against the old files change
    behaviour silently.

    ## Example
    ```
    inputs = tokenizer.apply_chat_template(messages, return_tensors="pt")
    outputs = model.generate(inputs, max_new_tokens=512)
    ```

    ## Use instead
    `tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")`

    ## Known false alarms
    Scripts that build training data (they create a Trainer), calls with
    `continue_final_message=True`, a non-literal `add_generation_prompt`, and prompts that reach
    `generate` only through a helper function's return value (not followed) are not reported.
    """
    for doc in stack.scripts:
        calls = doc.calls
        if any(c.short in _TRAINERS for c in calls):
            continue
        if not any(c.short == "generate" and c.name != "generate" for c in calls):
            continue
        tf = stack.texts.get(doc.path)
        if tf is None:
            continue
        tokenizers = _tokenizer_dirs(stack, doc)
        for call in calls:
            if call.short != "apply_chat_template":
                continue
            if "continue_final_message" in call.kwargs or call.star_kwargs:
                continue
            agp = call.kwargs.get("add_generation_prompt")
            if agp is not None and (agp.value is not False):
                continue  # True, or not a literal
            md = tokenizers.get(call.receiver or "")
            if md is not None and not _template_uses_generation_prompt(md):
                continue
            gen_line = _flows_to_generate(tf.text, call.line, call.col)
            if gen_line is None:
                continue
            loc = Location(doc.path, agp.key_line if agp is not None else call.line,
                           agp.key_col if agp is not None else call.col)
            said = "add_generation_prompt=False" if agp is not None else "no add_generation_prompt"
            yield Finding("SL407", loc,
                          f"{call.name}(...) ({doc.path}:{call.line}) has {said}, and the prompt it builds is passed to "
                          f"generate ({doc.path}:{gen_line}): it ends without the assistant header, so the model "
                          f"continues the user's turn or answers off-format — pass add_generation_prompt=True",
                          hint="pass add_generation_prompt=True", key=f"{doc.path}:{call.line}")


def _flows_to_generate(text: str, line: int, col: int) -> Optional[int]:
    """Line of a `.generate(...)` call, in the same function as the call at (line, col), whose
    arguments use that call's value: followed through assignments, for-loops and comprehensions
    by name, in source order (a later assignment from something else ends the flow)."""
    import ast
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    scopes = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)

    def walk_scope(node: ast.AST) -> Iterator[ast.AST]:
        """Nodes of one scope: nested functions and classes are not entered."""
        stack = list(ast.iter_child_nodes(node))
        while stack:
            n = stack.pop()
            yield n
            if not isinstance(n, scopes):
                stack.extend(ast.iter_child_nodes(n))

    source = None
    scope: ast.AST = tree
    todo: List[ast.AST] = [tree]
    while todo and source is None:
        sc = todo.pop()
        for n in walk_scope(sc):
            if isinstance(n, ast.Call) and n.lineno == line and n.col_offset + 1 == col:
                source, scope = n, sc
                break
            if isinstance(n, scopes):
                todo.append(n)
    if source is None:
        return None

    def mentions(expr: Optional[ast.AST], names: set) -> bool:
        if expr is None:
            return False
        return any(sub is source or (isinstance(sub, ast.Name) and sub.id in names) for sub in ast.walk(expr))

    events: List[Tuple[int, int, str, Any, Any]] = []  # (line, col, kind, value, target)
    for n in walk_scope(scope):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                events.append((n.lineno, n.col_offset, "flow", n.value, t))
        elif isinstance(n, (ast.AnnAssign, ast.AugAssign)) and n.value is not None:
            events.append((n.lineno, n.col_offset, "flow", n.value, n.target))
        elif isinstance(n, (ast.For, ast.AsyncFor)):
            events.append((n.lineno, n.col_offset, "flow", n.iter, n.target))
        elif isinstance(n, ast.comprehension):
            events.append((getattr(n.iter, "lineno", 0), -1, "flow", n.iter, n.target))
        elif isinstance(n, ast.withitem) and n.optional_vars is not None:
            events.append((n.context_expr.lineno, n.context_expr.col_offset, "flow", n.context_expr, n.optional_vars))
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "generate":
            events.append((n.lineno, n.col_offset, "sink", n, None))
    events.sort(key=lambda e: (e[0], e[1]))
    tainted: set = set()
    for _ in range(2):  # a second pass carries values around loops
        for ln, _c, kind, value, target in events:
            if kind == "sink":
                if any(mentions(a, tainted) for a in value.args) or \
                        any(mentions(k.value, tainted) for k in value.keywords):
                    return ln
                continue
            names = {t.id for t in ast.walk(target) if isinstance(t, ast.Name)}
            if mentions(value, tainted):
                tainted |= names
            elif not isinstance(target, ast.Attribute):
                tainted -= names
    return None


def _tokenizer_dirs(stack: Stack, doc: PyDoc) -> Dict[str, Any]:
    """variable -> local model directory, for `var = AutoTokenizer.from_pretrained("<dir in tree>")`."""
    out: Dict[str, Any] = {}
    for call in doc.calls:
        if call.short != "from_pretrained" or "Tokenizer" not in call.name:
            continue
        var = _assigned_var(stack, doc.path, call.line)
        if not var:
            continue
        md, _, _ = _resolve_model(stack, doc, _first_arg(call))
        if md is not None:
            out[var] = md
    return out


def _template_uses_generation_prompt(md: Any) -> bool:
    from stacklint.checks import _templates as T

    tmpls = T.templates(md)
    return not tmpls or any("add_generation_prompt" in t.text for t in tmpls)


# -- methods of a remote-code model that its modeling file does not have ------------------

# Chat methods that only a checkpoint's own modeling code defines (Qwen-7B/14B/72B chat /
# chat_stream, ChatGLM's stream_chat): transformers' PreTrainedModel has none of them, so the
# modeling file in the model directory is the whole truth.
_REMOTE_CHAT_METHODS = ("chat", "chat_stream", "stream_chat")


def _remote_classes(stack: Stack, md: Any) -> Optional[Tuple[str, str, Dict[str, Any]]]:
    """(modeling file, class name, {class name: ast.ClassDef} of that file) for the class that
    config.json's auto_map names for AutoModelForCausalLM, when the file is in the tree and
    parses; the file is read with `ast`, never imported."""
    import ast

    data = md.config.data if md.config is not None else None
    auto = data.get("auto_map") if isinstance(data, dict) else None
    target = auto.get("AutoModelForCausalLM") if isinstance(auto, dict) else None
    if not isinstance(target, str) or "--" in target or target.count(".") != 1:
        return None
    module, cls = target.split(".")
    path = f"{md.dir}/{module}.py" if md.dir not in ("", ".") else f"{module}.py"
    tf = stack.texts.get(path)
    if tf is None:
        return None
    try:
        tree = ast.parse(tf.text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return path, cls, {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def _class_chain(classes: Dict[str, Any], cls: str) -> Iterator[Any]:
    """The class and its base classes defined in the same file, nearest first, each once."""
    import ast

    todo, seen = [cls], set()
    while todo:
        name = todo.pop(0)
        node = classes.get(name)
        if node is None or name in seen:
            continue
        seen.add(name)
        yield node
        todo.extend(b.id for b in node.bases if isinstance(b, ast.Name))


def _remote_methods(stack: Stack, md: Any) -> Optional[Tuple[str, str, Dict[str, Any]]]:
    """(modeling file, class name, {method: ast.FunctionDef}) of the class that auto_map names for
    AutoModelForCausalLM in the model directory, with the methods of its base classes defined in
    the same file; None when the file is not in the tree, the class is not found, or it makes
    attributes dynamically (__getattr__, assignments of the chat names)."""
    import ast

    found = _remote_classes(stack, md)
    if found is None or found[1] not in found[2]:
        return None
    path, cls, classes = found
    methods: Dict[str, Any] = {}
    for node in _class_chain(classes, cls):
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if item.name == "__getattr__":
                    return None
                methods.setdefault(item.name, item)
            elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                if any(isinstance(t, ast.Name) and t.id in _REMOTE_CHAT_METHODS for t in targets):
                    return None
    return path, cls, methods


def _forbidden_keywords(fn: Any) -> Dict[str, int]:
    """Parameters the function refuses any value for: `def chat(..., stream=_SENTINEL)` whose body
    starts with `assert stream is _SENTINEL, ...` (Qwen's chat() after chat_stream() replaced
    chat(stream=True)). Parameter name -> line of the assert."""
    import ast

    defaults: Dict[str, str] = {}
    pos = fn.args.args[len(fn.args.args) - len(fn.args.defaults):] if fn.args.defaults else []
    for a, d in list(zip(pos, fn.args.defaults)) + list(zip(fn.args.kwonlyargs, fn.args.kw_defaults)):
        if isinstance(d, ast.Name):
            defaults[a.arg] = d.id
    out: Dict[str, int] = {}
    for stmt in fn.body:
        if not isinstance(stmt, ast.Assert) or not isinstance(stmt.test, ast.Compare):
            continue
        t = stmt.test
        if (isinstance(t.left, ast.Name) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Is)
                and isinstance(t.comparators[0], ast.Name) and defaults.get(t.left.id) == t.comparators[0].id):
            out[t.left.id] = stmt.lineno
    return out


@check(code="SL114", name="remote-code-lacks-called-chat-api", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="A script calls a chat method (or keyword) that the model directory's own modeling code does not define, e.g. chat(stream=True) with a Qwen-7B download older than that API.",
       evidence=("https://github.com/QwenLM/Qwen/issues/72",))
def remote_code_lacks_called_chat_api(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Follows `model = AutoModelForCausalLM.from_pretrained("<model dir in the tree>",
    trust_remote_code=True)` to the class that the directory's config.json `auto_map` names (e.g.
    `modeling_qwen.QWenLMHeadModel`) and reads that file with `ast` (never importing it). Reports
    `model.chat(...)`, `model.chat_stream(...)` or `model.stream_chat(...)` when the class (with its
    bases in the same file) defines no such method, when the call passes a keyword the method does
    not accept (no `**kwargs`), or when the method refuses the keyword outright
    (`assert stream is _SENTINEL`).

    ## Why is this bad?
    These chat methods exist only in the checkpoint's remote code, and that code changed under
    the demos that call it: Qwen-7B-Chat gained `chat(..., stream=True)` on 2023-08-04, replaced it
    with `chat_stream()` days later, and then made `chat(stream=...)` an assertion error. A model
    directory downloaded at another date than the script fails at the first question:
    "TypeError: QWenLMHeadModel.chat() got an unexpected keyword argument 'stream'" or
    "AttributeError: 'QWenLMHeadModel' object has no attribute 'chat_stream'".

    ## Example
    ```
    # Qwen-7B-Chat/modeling_qwen.py: def chat(self, tokenizer, query, history, system=..., append_history=True)
    for response in model.chat(tokenizer, query, history=history, stream=True):
    ```

    ## Use instead
    Refresh the model directory's code files (modeling_*.py, configuration and tokenizer code) from
    the hub revision the script was written for, or call the API the file defines
    (`model.chat_stream(...)` in current Qwen-7B-Chat code).

    ## Known false alarms
    Not reported when the model is a hub id or a variable (its code is not in the tree), when
    auto_map points to another repository, or when the class builds attributes dynamically.
    """
    for doc in stack.scripts:
        models: Dict[str, Any] = {}
        clash: set = set()
        for call, owner in _model_loads(doc):
            if "Tokenizer" in owner:
                continue
            var = _assigned_var(stack, doc.path, call.line)
            if not var:
                continue
            md, _, _ = _resolve_model(stack, doc, _first_arg(call))
            if md is None:
                clash.add(var)
                continue
            if var in models and models[var] is not md:
                clash.add(var)
            models[var] = md
        for var in clash:
            models.pop(var, None)
        if not models:
            continue
        cache: Dict[str, Any] = {}
        for call in doc.calls:
            if call.short not in _REMOTE_CHAT_METHODS or call.receiver not in models or call.name.count(".") != 1:
                continue
            md = models[call.receiver]
            if md.dir not in cache:
                cache[md.dir] = _remote_methods(stack, md)
            info = cache[md.dir]
            if info is None:
                continue
            path, cls, methods = info
            fn = methods.get(call.short)
            ref = md.dir.rsplit("/", 1)[-1]
            remedy = (f"refresh {ref}'s code files (modeling, configuration, tokenizer) from the revision the "
                      f"script was written for, or call the API {path} defines")
            if fn is None:
                have = [m for m in _REMOTE_CHAT_METHODS if m in methods]
                also = f" (it has {', '.join(have)})" if have else ""
                yield Finding("SL114", Location(doc.path, call.line, call.col),
                              f"{call.name}(...) ({doc.path}:{call.line}) calls a method that {cls} in {path} does not "
                              f"define{also}: \"AttributeError: '{cls}' object has no attribute '{call.short}'\" — the "
                              f"model directory's remote code is from another release than the script; {remedy}",
                              hint=remedy, related=(Related(Location(path, 1, 1), f"{cls} has no {call.short}()"),),
                              key=f"{doc.path}:{ref}:{call.short}")
                continue
            params = {a.arg for a in fn.args.args + fn.args.kwonlyargs + getattr(fn.args, "posonlyargs", [])}
            forbidden = _forbidden_keywords(fn)
            for kw, arg in call.kwargs.items():
                loc = Location(doc.path, arg.key_line or arg.line, arg.key_col or arg.col)
                if kw not in params and fn.args.kwarg is None:
                    yield Finding("SL114", loc,
                                  f"{call.name}(..., {kw}=...) ({doc.path}:{loc.line}): {cls}.{call.short}() in {path}:"
                                  f"{fn.lineno} takes no \"{kw}\" argument: \"TypeError: {cls}.{call.short}() got an "
                                  f"unexpected keyword argument '{kw}'\" — the model directory's remote code is from "
                                  f"another release than the script; {remedy}",
                                  hint=remedy, related=(Related(Location(path, fn.lineno, fn.col_offset + 1),
                                                                f"def {call.short}(...) without {kw}"),),
                                  key=f"{doc.path}:{ref}:{call.short}:{kw}")
                elif kw in forbidden:
                    yield Finding("SL114", loc,
                                  f"{call.name}(..., {kw}=...) ({doc.path}:{loc.line}): {cls}.{call.short}() in {path} "
                                  f"asserts that \"{kw}\" is never passed (line {forbidden[kw]}), so the call stops with "
                                  f"an AssertionError — the script was written for an older release of the model's "
                                  f"remote code; {remedy}",
                                  hint=remedy, related=(Related(Location(path, forbidden[kw], 1),
                                                                f"assert {kw} is ..."),),
                                  key=f"{doc.path}:{ref}:{call.short}:{kw}")


# -- AutoPeftModel under peft 0.8.x with a remote-code tokenizer in the adapter directory ---

# peft 0.8.0-0.8.2 AutoPeftModel*.from_pretrained() load the tokenizer saved beside the adapter
# with AutoTokenizer.from_pretrained(adapter_dir) and no trust_remote_code (src/peft/auto.py,
# tag v0.8.0, 2024-01-30); peft 0.9.0 passes the caller's trust_remote_code on
# (https://github.com/huggingface/peft/pull/1477, commit 3967fcc8e, 2024-02-21).
_PEFT_TOKENIZER_NO_REMOTE = ("0.8.0", "0.8.1", "0.8.2")
_PEFT_TOKENIZER_FIXED = "0.9.0"


def _remote_tokenizer(md: Any) -> Optional[Tuple[str, Location]]:
    """The remote-code tokenizer class an adapter directory's tokenizer_config.json names via
    auto_map.AutoTokenizer, with its location; None for tokenizers transformers ships."""
    doc = md.tokenizer
    data = doc.data if doc is not None else None
    auto = data.get("auto_map") if isinstance(data, dict) else None
    ref = auto.get("AutoTokenizer") if isinstance(auto, dict) else None
    if isinstance(ref, list):
        ref = next((r for r in ref if isinstance(r, str)), None)
    if not isinstance(ref, str) or not ref:
        return None
    return ref.rsplit(".", 1)[-1], doc.loc("auto_map", "AutoTokenizer")


@check(code="SL115", name="autopeft-remote-tokenizer-without-trust", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="AutoPeftModelForCausalLM loads an adapter directory holding a remote-code tokenizer (Qwen-7B's QWenTokenizer) under peft 0.8.x, which loads that tokenizer without trust_remote_code.",
       evidence=("https://github.com/QwenLM/Qwen/issues/1036",))
def autopeft_remote_tokenizer_under_peft_08(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `AutoPeftModelForCausalLM.from_pretrained("<adapter dir in the tree>", ...)` (any
    `AutoPeftModel*` class) when the adapter directory holds a tokenizer_config.json whose
    `auto_map.AutoTokenizer` names remote code (`tokenization_qwen.QWenTokenizer`, as Qwen's
    finetune.py saves it beside the adapter) and the script's environment pins peft to 0.8.0,
    0.8.1 or 0.8.2.

    ## Why is this bad?
    peft 0.8 made AutoPeftModel load the tokenizer it finds beside the adapter, to resize the
    base model's embeddings, but called `AutoTokenizer.from_pretrained(adapter_dir)` without
    `trust_remote_code` — passing `trust_remote_code=True` to `from_pretrained` does not reach it.
    Loading stops with "ValueError: Tokenizer class QWenTokenizer does not exist or is not
    currently imported." peft 0.9.0 forwards `trust_remote_code`.

    ## Example
    ```
    # requirements.txt: peft==0.8.1
    model = AutoPeftModelForCausalLM.from_pretrained("output_qwen", device_map="auto", trust_remote_code=True)
    ```

    ## Use instead
    `peft<0.8.0` (Qwen's README) or `peft>=0.9.0` with `trust_remote_code=True`; or move the
    tokenizer files out of the adapter directory.

    ## Known false alarms
    Only reported when every peft release the pin admits is 0.8.x; adapters given as hub ids or
    variables, and tokenizers that transformers ships, are not judged.
    """
    from stacklint.checks._common import confining_pin

    known = None  # the release table, read only when an AutoPeftModel call is found
    for doc in stack.scripts:
        for call in doc.calls:
            owner = call.name.rsplit(".", 2)[-2] if "." in call.name else ""
            if call.short != "from_pretrained" or not owner.startswith("AutoPeftModel"):
                continue
            if call.qualname == call.name and "peft" not in doc.imports:
                continue
            md, _, ref = _resolve_model(stack, doc, _first_arg(call))
            if md is None or md.adapter is None:
                continue
            tok = _remote_tokenizer(md)
            if tok is None:
                continue
            if known is None:
                from stacklint.knowledge import packages

                known = packages.releases("peft")
            pin = confining_pin(stack, doc.path, "peft", known, lambda v: v in _PEFT_TOKENIZER_NO_REMOTE)
            if pin is None:
                continue
            cls, tloc = tok
            remedy = (f"pin peft<0.8.0 or peft>={_PEFT_TOKENIZER_FIXED} (and pass trust_remote_code=True), or move "
                      f"the tokenizer files out of {ref}")
            yield Finding("SL115", Location(doc.path, call.line, call.col),
                          f"{call.name}(\"{ref}\") ({doc.path}:{call.line}) under {pin.raw} ({_loc(pin)}): peft 0.8.x "
                          f"loads the tokenizer saved in {ref} ({cls}, remote code) without trust_remote_code and "
                          f"stops with \"ValueError: Tokenizer class {cls} does not exist or is not currently "
                          f"imported.\" — {remedy}",
                          hint=remedy,
                          related=(Related(pin.location, pin.raw),
                                   Related(tloc, f"auto_map.AutoTokenizer: {cls} (remote code)")),
                          key=f"{doc.path}:{ref}:peft-tokenizer")


# -- a quantised checkpoint loaded by a transformers release that predates its quant_method --

@check(code="SL116", name="quantized-checkpoint-too-new-for-transformers", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="A script loads a GPTQ/AWQ/... checkpoint with transformers from_pretrained, but the pinned transformers predates support for its quantization_config.quant_method.",
       evidence=("https://github.com/QwenLM/Qwen/issues/735",))
def quantized_checkpoint_too_new_for_transformers(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Follows `AutoModelForCausalLM.from_pretrained("<model dir in the tree>")` (any transformers
    model class) to the directory's config.json and reads `quantization_config.quant_method`
    (`gptq`, `awq`, `aqlm`, `fp8`, ...). Reports the call when every transformers release the
    script's environment admits is older than the first release that knows that method
    (`knowledge/data/config_features.json`, computed from each release's
    `utils/quantization_config.py`: `gptq` 4.32.0, `awq` 4.35.0, ...).

    ## Why is this bad?
    Older releases do not read the checkpoint's `quantization_config`: they build the ordinary
    fp16 `Linear` layers, find `qweight`/`qzeros`/`scales` instead of `weight`, leave the layers
    randomly initialised (only a warning about unused and newly initialised weights) and the
    model answers in gibberish — or fails later in the quantised code paths.

    ## Example
    ```
    # requirements.txt: transformers==4.31.0
    # Qwen-7B-Chat-Int8/config.json: "quantization_config": {"quant_method": "gptq", "bits": 8, ...}
    model = AutoModelForCausalLM.from_pretrained("Qwen-7B-Chat-Int8", device_map="auto", trust_remote_code=True)
    ```

    ## Use instead
    Require a transformers release that knows the method (`transformers>=4.32.0` for GPTQ, with
    `optimum` and `auto-gptq`), or load the checkpoint with its own library
    (`AutoGPTQForCausalLM.from_quantized`).

    ## Known false alarms
    Only reported when the transformers pin excludes every supporting release; checkpoints given
    as hub ids or variables, and methods the knowledge base does not list, are not judged.
    """
    from stacklint.checks._common import V, confining_pin
    from stacklint.knowledge import architectures, packages

    known = packages.releases("transformers")
    for doc in stack.scripts:
        for call, owner in _model_loads(doc):
            if owner.startswith("AutoPeft") or "Tokenizer" in owner:
                continue
            md, _, ref = _resolve_model(stack, doc, _first_arg(call))
            if md is None or md.config is None or not isinstance(md.config.data, dict):
                continue
            qc = md.config.data.get("quantization_config")
            method = qc.get("quant_method") if isinstance(qc, dict) else None
            if not isinstance(method, str) or not method:
                continue
            method = method.lower()
            if method == "bitsandbytes":
                continue  # 4.30-4.31 read a bitsandbytes quantization_config without quant_method
            floor = architectures.quant_method_min_version("transformers", method)
            fv = V(floor) if floor else None
            if fv is None:
                continue
            pin = confining_pin(stack, doc.path, "transformers", known, lambda v: V(v) < fv)  # type: ignore[operator]
            if pin is None:
                continue
            qloc = md.config.loc("quantization_config", "quant_method")
            remedy = f"require transformers>={floor} (the first release that reads quant_method \"{method}\")"
            yield Finding("SL116", Location(doc.path, call.line, call.col),
                          f"{call.name}(\"{ref}\") ({doc.path}:{call.line}) loads a {method.upper()}-quantised checkpoint "
                          f"({qloc.path}:{qloc.line}), but {pin.raw} ({_loc(pin)}) admits only transformers releases older "
                          f"than {floor}, which ignore its quantization_config: the layers are built unquantised, the "
                          f"quantised tensors do not load into them and the model generates gibberish (or fails to "
                          f"load) — {remedy}",
                          hint=remedy,
                          related=(Related(pin.location, pin.raw), Related(qloc, f"quant_method \"{method}\"")),
                          key=f"{doc.path}:{ref}:{method}")


# -- transformers 4.35.x gradient checkpointing vs remote code that overrides the old hook ------

# transformers 4.35.0 (2023-11-02) rewrote PreTrainedModel.gradient_checkpointing_enable() to call
# self._set_gradient_checkpointing(enable=True, gradient_checkpointing_func=...) unconditionally
# (src/transformers/modeling_utils.py:1872 of the 4.35.0, 4.35.1 and 4.35.2 wheels). Remote code
# written for the old hook, `def _set_gradient_checkpointing(self, module, value=False)` (Qwen-7B,
# Baichuan, ChatGLM), raises TypeError. 4.36.0 falls back to the old hook when its signature has
# `value` (huggingface/transformers#27610; `_is_using_old_format` in the 4.36.0 wheel).
_GC_BROKEN = ("4.35.0", "4.35.1", "4.35.2")
_GC_FIXED = "4.36.0"


def _old_gc_hook(stack: Stack, md: Any) -> Optional[Tuple[str, str, Any]]:
    """(modeling file, class, FunctionDef) when the auto_map model class (or a base class in the
    same file) overrides _set_gradient_checkpointing without an ``enable`` parameter or **kwargs."""
    import ast

    found = _remote_classes(stack, md)
    if found is None:
        return None
    path, cls, classes = found
    for node in _class_chain(classes, cls):
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name == "_set_gradient_checkpointing":
                a = item.args
                params = {x.arg for x in a.args + a.kwonlyargs + getattr(a, "posonlyargs", [])}
                if "enable" in params or a.kwarg is not None or "value" not in params:
                    return None
                return path, node.name, item
    return None


@check(code="SL408", name="remote-gradient-checkpointing-hook-under-transformers-4-35", severity="error",
       category="API Usage and Interface Issues", subcategory="API Compatibility Issues",
       summary="A fine-tuning job turns on gradient checkpointing for a remote-code model whose old _set_gradient_checkpointing(module, value) hook transformers 4.35.x calls with enable=.",
       evidence=("https://github.com/QwenLM/Qwen/issues/661",))
def remote_gradient_checkpointing_hook_under_transformers_435(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For a training job with gradient checkpointing on (`--gradient_checkpointing`,
    `gradient_checkpointing: true`, `TrainingArguments(gradient_checkpointing=True)`) whose
    model is a directory in the tree, follows config.json `auto_map.AutoModelForCausalLM` to the
    remote modeling file (read with `ast`, never imported)
    and reports the job when that class, or a base class in the same file, defines the old hook
    `_set_gradient_checkpointing(self, module, value=False)` and every transformers release the
    job's environment admits is 4.35.0, 4.35.1 or 4.35.2.

    ## Why is this bad?
    transformers 4.35 rewrote gradient checkpointing: `gradient_checkpointing_enable()`, which
    the Trainer calls at the start of training, now calls
    `self._set_gradient_checkpointing(enable=True, gradient_checkpointing_func=...)`. Remote code
    written for the old hook (Qwen-7B/14B/72B, Baichuan, ChatGLM) takes `module` and `value`, so
    training stops before the first step with "TypeError: QWenPreTrainedModel.
    _set_gradient_checkpointing() got an unexpected keyword argument 'enable'". transformers 4.36.0
    detects the old signature and calls it the old way (huggingface/transformers#27610).

    ## Example
    ```
    # requirements.txt: transformers==4.35.0
    # Qwen-7B-Chat/modeling_qwen.py: def _set_gradient_checkpointing(self, module, value=False): ...
    torchrun ... finetune.py --model_name_or_path Qwen-7B-Chat --use_lora --gradient_checkpointing
    ```

    ## Use instead
    `transformers>=4.36.0` (or `<4.35.0`, as Qwen's README advised), or remote code whose hook
    takes `enable` and `gradient_checkpointing_func`, or train without gradient checkpointing.

    ## Known false alarms
    Only reported when the transformers pin admits nothing but 4.35.x and the modeling file is in
    the tree; models given as hub ids, and hooks that accept `enable` or `**kwargs`, are not judged.
    """
    from stacklint.checks._common import confining_pin
    from stacklint.checks._values import is_true
    from stacklint.knowledge import packages

    known: Any = None
    for job in stack.training_jobs():
        gc = job.get("gradient_checkpointing")
        if gc is None or not is_true(gc.value) or job.model is None or job.model.local is None:
            continue
        hook = _old_gc_hook(stack, job.model.local)
        if hook is None:
            continue
        if known is None:
            known = packages.releases("transformers")
        pin = confining_pin(stack, job.location.path, "transformers", known, lambda v: v in _GC_BROKEN)
        if pin is None:
            continue
        path, cls, fn = hook
        remedy = (f"require transformers>={_GC_FIXED} (or <4.35.0), or update {path} to a hook that takes "
                  f"enable/gradient_checkpointing_func, or turn gradient checkpointing off")
        yield Finding("SL408", gc.location,
                      f"gradient checkpointing ({gc.location.path}:{gc.location.line}) of {job.model.ref} under "
                      f"{pin.raw} ({_loc(pin)}): transformers 4.35.x calls _set_gradient_checkpointing(enable=True, "
                      f"gradient_checkpointing_func=...), but {cls} in {path}:{fn.lineno} defines the old hook "
                      f"(module, value), so training stops with \"TypeError: {cls}._set_gradient_checkpointing() got "
                      f"an unexpected keyword argument 'enable'\" — {remedy}",
                      hint=remedy,
                      related=(Related(pin.location, pin.raw),
                               Related(Location(path, fn.lineno, fn.col_offset + 1),
                                       "def _set_gradient_checkpointing(self, module, value=False)")),
                      key=f"{job.location.path}:{job.model.ref}:gc-hook")


# -- a Qwen2-family GPTQ 8-bit checkpoint run through transformers (auto_gptq's cuda kernels) ------

# Qwen's own 8-bit GPTQ uploads of the Qwen2 architecture (Qwen1.5, Qwen2, Qwen2.5 dense models).
_QWEN2_GPTQ_INT8 = re.compile(
    r"^Qwen(?:1\.5|2|2\.5)(?:-Coder|-Math)?-\d+(?:\.\d+)?B(?:-Chat|-Instruct)?-GPTQ-Int8$", re.I)


@check(code="SL330", name="qwen2-gptq-int8-through-transformers", severity="warning",
       category="Data and Computation Issues", subcategory="Quantization Compatibility Issues",
       summary="A script loads a Qwen2-family 8-bit GPTQ checkpoint with transformers from_pretrained, whose auto_gptq kernels return garbage or inf/nan for it.",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/567", "https://github.com/QwenLM/Qwen2.5/issues/1006"))
def qwen2_gptq_int8_through_transformers(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Follows `AutoModelForCausalLM.from_pretrained(...)` (any transformers model class) to a model
    directory in the tree whose config.json has `model_type` "qwen2" and a `gptq`
    quantization_config with `bits` 8 — or to one of Qwen's own `Qwen1.5/Qwen2/Qwen2.5-...-GPTQ-Int8`
    repositories — and reports the call unless the script's environment installs `gptqmodel`.

    ## Why is this bad?
    transformers runs GPTQ checkpoints through auto_gptq. For 8 bits there is no ExLlama kernel, so
    auto_gptq uses its `cuda`/`cuda_old` kernels, and Qwen2-architecture activations do not survive
    them: the model loads (only a warning about unused `...mlp.*.bias` weights) and then generates
    garbage, or sampling stops with `RuntimeError: probability tensor contains either inf, nan or
    element < 0`. The same checkpoints work in vLLM. The Qwen team confirmed it for
    Qwen2-7B-Instruct-GPTQ-Int8 (QwenLM/Qwen2.5#567: "trouble in running Qwen2 GPTQ Int8 models with
    the cuda_old kernel in auto_gptq (and thus in transformers)"); a user reproduced it for
    Qwen2.5-0.5B/7B/72B-Instruct-GPTQ-Int8 on A100 and L20 with auto_gptq 0.7.1 and 0.8.0.dev
    while vLLM ran them (QwenLM/Qwen2.5#1006).

    ## Example
    ```python
    model = AutoModelForCausalLM.from_pretrained("Qwen2-7B-Instruct-GPTQ-Int8", torch_dtype="auto",
                                                 device_map="auto")
    ```

    ## Use instead
    Serve the checkpoint with vLLM, or load it with auto_gptq's own API on the triton kernel (copy
    `quantization_config` to `quantize_config.json`):
    ```python
    model = AutoGPTQForCausalLM.from_quantized("Qwen2-7B-Instruct-GPTQ-Int8", use_triton=True)
    ```
    or use the 4-bit GPTQ / AWQ checkpoint.

    ## Known false alarms
    A warning: the failure depends on the kernel auto_gptq picks, and newer GPTQ backends
    (`gptqmodel`, which transformers prefers from 4.49) are not reported when the environment
    installs them. Checkpoints given as variables are not judged.
    """
    for doc in stack.scripts:
        for call, owner in _model_loads(doc):
            if owner.startswith("AutoPeft") or "Tokenizer" in owner:
                continue
            md, _, ref = _resolve_model(stack, doc, _first_arg(call))
            if not ref:
                continue
            what, rel = None, ()
            if md is not None:
                data = md.config.data if md.config is not None else None
                if not isinstance(data, dict) or data.get("model_type") != "qwen2":
                    continue
                qc = data.get("quantization_config")
                if not isinstance(qc, dict) or str(qc.get("quant_method", "")).lower() != "gptq":
                    continue
                if qc.get("bits") != 8:
                    continue
                qloc = md.config.loc("quantization_config", "bits")
                what, rel = "an 8-bit GPTQ checkpoint of the Qwen2 architecture", (
                    Related(qloc, "model_type qwen2, quant_method gptq, bits 8"),)
            elif _QWEN2_GPTQ_INT8.match(ref.rsplit("/", 1)[-1]):
                what = "Qwen's 8-bit GPTQ checkpoint of the Qwen2 architecture"
            else:
                continue
            if any(iset.get("gptqmodel") for iset in stack.environment(doc.path)):
                continue
            remedy = ("serve it with vLLM, or load it with AutoGPTQForCausalLM.from_quantized(..., use_triton=True), "
                      "or use the Int4/AWQ checkpoint")
            yield Finding("SL330", Location(doc.path, call.line, call.col),
                          f"{call.name}(\"{ref}\") ({doc.path}:{call.line}) loads {what} through transformers, which "
                          f"runs it on auto_gptq's 8-bit cuda kernels: Qwen2 models generate garbage or stop with "
                          f"\"probability tensor contains either inf, nan or element < 0\" there, while vLLM runs the "
                          f"same checkpoint — {remedy}",
                          hint=remedy, related=rel, key=f"{doc.path}:{ref}:qwen2-gptq-int8")


# -- SL414: a model dispatched by device_map, then moved to one device ------------------------

# device_map strategies under which accelerate spreads the layers over every visible GPU (and
# CPU / disk when they do not fit); a single device ("cuda", "cuda:0", {"": 0}) is not one.
_SPREAD_DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")
_MOVE_METHODS = ("to", "cuda")
_DTYPE_WORDS = ("float", "half", "bfloat", "dtype", "int8", "uint8")


def _moves_to_device(call: Call) -> Optional[str]:
    """The device a .to(...)/.cuda(...) call moves to, as written; None for dtype casts and
    arguments that are not recognisably a device."""
    if call.short == "cuda":
        return "cuda"
    if call.star_kwargs or not (call.args or "device" in call.kwargs):
        return None
    arg = call.kwargs.get("device") or call.args[0]
    value = arg.value
    src = str(getattr(value, "source", value))
    if any(w in src.lower() for w in _DTYPE_WORDS):
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value if re.match(r"^(cuda|cpu|mps|xpu|npu)(:\d+)?$", value.strip()) else None
    return src if re.search(r"device|cuda", src, re.IGNORECASE) else None


def _method_pos(stack: Stack, path: str, line: int, col: int, method: str) -> Tuple[int, int]:
    """Where `.method(` is written in a chained call that starts at (line, col)."""
    tf = stack.texts.get(path)
    if tf is None:
        return line, col
    lines = tf.text.splitlines()
    for n in range(line, min(line + 40, len(lines)) + 1):
        text = lines[n - 1]
        start = (col - 1) if n == line else 0
        m = re.search(rf"\.{method}\s*\(", text[start:])
        if m:
            return n, start + m.start() + 2
    return line, col


@check(code="SL414", name="device-map-model-moved-to-one-device", severity="warning",
       category="API Usage and Interface Issues", subcategory="Call Sequence Error",
       summary="A model loaded with device_map=\"auto\" (spread over the GPUs by accelerate) is then moved "
               "to one device with .to(device) / .cuda().",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/195",))
def device_map_model_moved_to_one_device(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `.to(device)` / `.cuda()` on a model a script loads with `from_pretrained(...,
    device_map="auto")` (or `"balanced"`, `"balanced_low_0"`, `"sequential"`): chained on the
    call, or on the variable it is assigned to, later in the same script. Casts to a dtype
    (`.to(torch.float16)`) are not reported.

    ## Why is this bad?
    With a multi-device `device_map`, accelerate splits the layers over every visible GPU (and CPU
    or disk when they do not fit) and hooks them together. `.to("cuda")` then gathers every weight
    on one GPU: a model larger than one GPU fails with "CUDA out of memory" although the GPUs
    together hold it (Qwen1.5-14B-Chat in bf16 on four 22 GiB A10s, QwenLM/Qwen2.5#195), and a
    model with offloaded modules fails with "You can't move a model that has some modules
    offloaded to cpu or disk" (accelerate warns "You shouldn't move a model that is dispatched
    using accelerate hooks", huggingface/accelerate#1790).

    ## Example
    ```python
    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen1.5-14B-Chat", torch_dtype="auto",
                                                 device_map="auto").to(device)
    ```

    ## Use instead
    Keep the placement `device_map` made and move only the inputs:
    ```python
    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen1.5-14B-Chat", torch_dtype="auto",
                                                 device_map="auto")
    inputs = tokenizer(text, return_tensors="pt").to(model.device)
    ```

    ## Known false alarms
    A warning: on a machine with one GPU that holds the whole model the move changes nothing.
    Models passed through functions or containers are not followed.
    """
    for doc in stack.scripts:
        spread: Dict[str, Tuple[Call, str]] = {}
        for call in doc.calls:
            if call.short != "from_pretrained" or not call.name.endswith("from_pretrained"):
                continue
            dm = call.kwargs.get("device_map")
            if dm is None or not isinstance(dm.value, str) or dm.value not in _SPREAD_DEVICE_MAPS:
                continue
            prefix = call.name + "()"
            for other in doc.calls:
                if (other.line, other.col) != (call.line, call.col) or not other.name.startswith(prefix + "."):
                    continue
                tail = other.name[len(prefix) + 1:].split("().")
                if other.short not in _MOVE_METHODS or any(t not in ("eval", "half", "float", "bfloat16", "to",
                                                                    "cuda", "train") for t in tail[:-1]):
                    continue
                dev = _moves_to_device(other)
                if dev is None:
                    continue
                ln, col = _method_pos(stack, doc.path, other.line, other.col, other.short)
                yield _sl414(doc.path, ln, col, call, dm.value, other.short, dev)
                break
            else:
                var = _assigned_var(stack, doc.path, call.line)
                if var:
                    spread[var] = (call, dm.value)
        for call in doc.calls:
            if call.receiver not in spread or call.short not in _MOVE_METHODS:
                continue
            src, dmv = spread[call.receiver]
            if call.line <= src.line:
                continue
            if _reassigned_between(stack, doc.path, call.receiver, src.line, call.line):
                continue
            dev = _moves_to_device(call)
            if dev is None:
                continue
            yield _sl414(doc.path, call.line, call.col, src, dmv, call.short, dev)


def _reassigned_between(stack: Stack, path: str, var: str, start: int, end: int) -> bool:
    """Whether `var = ...` is written on a line strictly between start and end."""
    tf = stack.texts.get(path)
    if tf is None:
        return False
    lines = tf.text.splitlines()
    pat = re.compile(rf"^\s*{re.escape(var)}\s*=(?!=)")
    return any(pat.match(lines[n - 1]) for n in range(start + 1, min(end, len(lines) + 1)))


def _sl414(path: str, line: int, col: int, src: Call, dm: str, method: str, dev: str) -> Finding:
    literal = re.match(r"^(cuda|cpu|mps|xpu|npu)(:\d+)?$", dev) is not None
    moved = (f".to({dev!r})" if literal else f".to({dev})") if method == "to" else f".{method}()"
    return Finding("SL414", Location(path, line, col),
                   f"{moved} ({path}:{line}) moves a model that {src.name}(..., device_map=\"{dm}\") at line "
                   f"{src.line} spread over the visible GPUs: every weight is gathered on one device, so a model "
                   f"larger than one GPU fails with CUDA out of memory (or \"You can't move a model that has some "
                   f"modules offloaded to cpu or disk\") — drop the move and send the inputs to model.device",
                   hint="remove the .to()/.cuda() call; move the inputs to model.device instead",
                   related=(Related(Location(path, src.line, src.col), f"device_map=\"{dm}\""),),
                   key=f"{path}:{src.line}:sl414")


# -- SL331: FlashAttention-2 asked for on a model that from_pretrained loads in float32 ----------

_FA2 = ("flash_attention_2", "flash_attention_3")
# calls after which the weights (or the activations, under autocast) are no longer float32
_HALF_CALLS = frozenset({"half", "bfloat16", "autocast", "TrainingArguments", "Seq2SeqTrainingArguments",
                         "SFTConfig", "DPOConfig", "GRPOConfig", "ORPOConfig", "Trainer", "SFTTrainer"})
_QUANT_KWARGS = ("load_in_4bit", "load_in_8bit", "quantization_config")


def _str_of(value: Any) -> str:
    return value if isinstance(value, str) else str(getattr(value, "name", value))


def _transformers_5_only(stack: Stack, path: str) -> bool:
    """True when the environment admits only transformers 5 releases, whose from_pretrained
    defaults to dtype="auto" (the checkpoint's dtype) instead of float32."""
    from stacklint.checks._common import V, allowed
    from stacklint.knowledge import packages

    known = packages.releases("transformers")
    for iset in stack.environment(path):
        for c in iset.get("transformers"):
            if c.marker is not None or c.url:
                continue
            ok = [V(v) for v in allowed(c, known)]
            ok = [v for v in ok if v is not None]
            if ok and all(v >= V("5.0.0") for v in ok):
                return True
    return False


@check(code="SL331", name="flash-attention-2-on-float32-load", severity="error",
       category="Data and Computation Issues", subcategory="Numerical Computation and Precision Issues",
       summary="A script asks for FlashAttention-2 but loads the model with from_pretrained in float32 (no torch_dtype), which FlashAttention cannot run.",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/406",))
def flash_attention_2_on_float32_load(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `AutoModelForCausalLM.from_pretrained(...)` (any transformers model class) that turns on
    FlashAttention-2 — `attn_implementation="flash_attention_2"`, `use_flash_attention_2=True`, or
    `"_attn_implementation": "flash_attention_2"` in the config.json of the model directory it
    loads — while passing no `torch_dtype` (or `torch_dtype=torch.float32`). Scripts that load in
    4/8 bits, cast the model afterwards (`.half()`, `.bfloat16()`, `.to(torch.float16)`), or train
    under mixed precision (TrainingArguments / SFTConfig / autocast) are not reported.

    ## Why is this bad?
    Without `torch_dtype`, transformers loads the weights in torch's default dtype, float32, whatever
    the checkpoint's `torch_dtype` says. FlashAttention kernels exist only for fp16 and bf16: the
    first forward pass stops with `RuntimeError: FlashAttention only support fp16 and bf16 data
    type` (transformers only warns at load time). QwenLM/Qwen2.5#406: a Qwen1.5 model whose
    config.json was edited to `_attn_implementation: flash_attention_2`, loaded by
    `AutoModelForCausalLM.from_pretrained` without `torch_dtype`, failed so; the Qwen team's fix was
    `torch_dtype="auto"`.

    ## Example
    ```python
    model = AutoModelForCausalLM.from_pretrained("Qwen1.5-7B-Chat", attn_implementation="flash_attention_2",
                                                 device_map="auto")
    ```

    ## Use instead
    ```python
    model = AutoModelForCausalLM.from_pretrained("Qwen1.5-7B-Chat", attn_implementation="flash_attention_2",
                                                 torch_dtype="auto", device_map="auto")
    ```

    ## Known false alarms
    A model cast to half precision by code the parser cannot follow (a helper function, another
    module) is reported; `**kwargs` passed to from_pretrained silence the rule.
    """
    for doc in stack.scripts:
        if {c.short for c in doc.calls} & _HALF_CALLS:
            continue
        if any(c.short == "to" and any(re.search(r"float16|bfloat16|half|bf16|fp16", _str_of(a.value))
                                       for a in list(c.args) + list(c.kwargs.values())) for c in doc.calls):
            continue
        for call in doc.calls:
            if call.short != "from_pretrained" or call.star_kwargs or not _hf_from_pretrained(doc, call):
                continue
            owner = call.name.rsplit(".", 2)[-2] if "." in call.name else ""
            if not _model_class(owner) or owner.startswith("AutoPeft") or "Tokenizer" in owner:
                continue
            if any(k in call.kwargs for k in _QUANT_KWARGS):
                continue
            dt = call.kwargs.get("torch_dtype") or call.kwargs.get("dtype")
            if dt is not None and not re.search(r"float32|^float$|fp32", _str_of(dt.value)):
                continue
            how: str = ""
            rel: Tuple[Related, ...] = ()
            ai = call.kwargs.get("attn_implementation")
            uf = call.kwargs.get("use_flash_attention_2")
            if ai is not None and isinstance(ai.value, str) and ai.value in _FA2:
                how = f'attn_implementation="{ai.value}"'
            elif uf is not None and uf.value is True:
                how = "use_flash_attention_2=True"
            elif ai is None and uf is None:
                md, _, _ref = _resolve_model(stack, doc, _first_arg(call))
                data = md.config.data if md is not None and md.config is not None else None
                if isinstance(data, dict) and data.get("_attn_implementation") in _FA2:
                    cloc = md.config.loc("_attn_implementation")
                    how = f'"_attn_implementation": "{data["_attn_implementation"]}" in {cloc.path}'
                    rel = (Related(cloc, how),)
            if not how or _transformers_5_only(stack, doc.path):
                continue
            dtxt = "torch_dtype=torch.float32" if dt is not None else "no torch_dtype"
            remedy = "pass torch_dtype=\"auto\" (the checkpoint's bf16/fp16) or torch_dtype=torch.bfloat16"
            yield Finding("SL331", Location(doc.path, call.line, call.col),
                          f"{call.name}(...) ({doc.path}:{call.line}) turns on FlashAttention-2 ({how}) but loads the "
                          f"weights in float32 ({dtxt}): FlashAttention runs only in fp16/bf16 and the first forward "
                          f"pass stops with \"RuntimeError: FlashAttention only support fp16 and bf16 data type\" — "
                          f"{remedy}",
                          hint=remedy, related=rel, key=f"{doc.path}:{call.line}:fa2-fp32")


# -- generate(stop_words_ids=...) outside Qwen-7B's remote code ----------------------------------

# Keyword arguments that only Qwen (1.0)'s remote-code generate() consumes; transformers' own
# generate() validates model kwargs (since 4.26) and rejects them for every other model.
_QWEN1_GENERATE_KWARGS = ("stop_words_ids",)
_VALIDATES_MODEL_KWARGS = "4.26.0"


def _native_model(stack: Stack, doc: PyDoc, call: Call) -> Optional[Tuple[str, str, Optional[Location]]]:
    """(reference, model_type, where) when a from_pretrained call loads a model known to run on
    transformers' own code: a local directory (or a known hub id) without auto_map / remote code
    and whose model_type is not Qwen-1's "qwen"."""
    md, ckpt, ref = _resolve_model(stack, doc, _first_arg(call))
    if md is not None and md.config is not None and isinstance(md.config.data, dict):
        data = md.config.data
        mtype = data.get("model_type")
        if not isinstance(mtype, str) or mtype == "qwen" or data.get("auto_map"):
            return None
        return ref, mtype, md.config.loc("model_type")
    if ckpt is not None and isinstance(ckpt.get("model_type"), str):
        if ckpt["model_type"] == "qwen" or ckpt.get("auto_map") or ckpt.get("trust_remote_code"):
            return None
        return ref, ckpt["model_type"], None
    return None


@check(code="SL410", name="qwen1-generate-kwarg-on-native-model", severity="error",
       category="API Usage and Interface Issues", subcategory="API Compatibility Issues",
       summary="A script passes stop_words_ids=, a generate() keyword only Qwen-7B's remote code accepts, to a model that runs on transformers' own code (Qwen1.5, Qwen2, ...).",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/172", "https://github.com/mMrBun/AIPC/issues/16"))
def qwen1_generate_kwarg_on_native_model(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `model.generate(..., stop_words_ids=...)` when `model` was loaded in the same script
    with `from_pretrained` from a model the scan can resolve — a model directory in the tree or a
    hub id of the knowledge base — that runs on transformers' own modeling code (no `auto_map`,
    `model_type` other than Qwen-1's `"qwen"`), e.g. Qwen1.5 / Qwen2 (`"qwen2"`).

    ## Why is this bad?
    `stop_words_ids` is a keyword of Qwen (1.0)'s remote-code `generate()`, copied from its examples.
    transformers' `generate()` checks unused model kwargs and stops with "ValueError: The following
    `model_kwargs` are not used by the model: ['stop_words_ids']" for every other model.

    ## Example
    ```
    # Qwen1.5-7B-Chat/config.json: "model_type": "qwen2"
    model = AutoModelForCausalLM.from_pretrained("Qwen1.5-7B-Chat", device_map="auto")
    out = model.generate(inputs.input_ids, stop_words_ids=[[151645]])
    ```

    ## Use instead
    `model.generate(inputs.input_ids, eos_token_id=[151645, 151643])` (or a `StoppingCriteria`);
    `stop_words_ids` only with Qwen-7B/14B/72B loaded with `trust_remote_code=True`.

    ## Known false alarms
    Not reported when the model cannot be resolved (a variable path, an unknown hub id), for
    remote-code models, or when the environment pins transformers below 4.26 (no kwarg check).
    """
    from stacklint.checks._common import V, confining_pin

    for doc in stack.scripts:
        loaded: Dict[str, Tuple[int, str, str, Optional[Location]]] = {}
        for call, _owner in _model_loads(doc):
            var = _assigned_var(stack, doc.path, call.line)
            if not var:
                continue
            native = _native_model(stack, doc, call)
            if native is None:
                loaded.pop(var, None)
                continue
            loaded[var] = (call.line, *native)
        if not loaded:
            continue
        old = None
        for call in doc.calls:
            if call.short != "generate" or call.receiver not in loaded:
                continue
            line0, ref, mtype, mloc = loaded[call.receiver]
            if call.line <= line0:
                continue
            for kw in _QWEN1_GENERATE_KWARGS:
                arg = call.kwargs.get(kw)
                if arg is None:
                    continue
                if old is None:
                    from stacklint.knowledge import packages

                    bound = V(_VALIDATES_MODEL_KWARGS)
                    old = confining_pin(stack, doc.path, "transformers", packages.releases("transformers"),
                                        lambda v: V(v) is not None and V(v) < bound) or False  # type: ignore[operator]
                if old:
                    break
                loc = Location(doc.path, arg.key_line or arg.line, arg.key_col or arg.col)
                remedy = "pass eos_token_id=[...] (or a StoppingCriteria) instead"
                related = (Related(mloc, f"model_type \"{mtype}\""),) if mloc is not None else ()
                yield Finding("SL410", loc,
                              f"{call.name}({kw}=...) ({doc.path}:{loc.line}) on {ref} (model_type \"{mtype}\", "
                              f"loaded at line {line0}): only Qwen-1's remote-code generate() takes {kw}; "
                              f"transformers raises \"ValueError: The following `model_kwargs` are not used by the "
                              f"model: ['{kw}']\" — {remedy}",
                              hint=remedy, related=related, key=f"{doc.path}:{call.receiver}:{kw}")


# -- Qwen-1 chat_stream with several eos ids (transformers-stream-generator) ---------------------

def _int_list(node: Any) -> Optional[List[int]]:
    import ast

    if isinstance(node, (ast.List, ast.Tuple)) and all(
            isinstance(e, ast.Constant) and type(e.value) is int for e in node.elts):
        return [e.value for e in node.elts]
    return None


def _stream_call(node: Any) -> bool:
    """model.chat_stream(...), or the first Qwen API model.chat(..., stream=True)."""
    import ast

    f = node.func
    if not isinstance(f, ast.Attribute):
        return False
    if f.attr == "chat_stream":
        return True
    return f.attr == "chat" and any(k.arg == "stream" and isinstance(k.value, ast.Constant) and k.value.value is True
                                    for k in node.keywords)


@check(code="SL411", name="qwen-chat-stream-multiple-eos-ids", severity="error",
       category="API Usage and Interface Issues", subcategory="Function Call Parameter Error",
       summary="A script sets eos_token_id to a list of several ids for Qwen-1's chat_stream(), whose transformers-stream-generator sampler then corrupts the generated token ids.",
       evidence=("https://github.com/QwenLM/Qwen/issues/1001",))
def qwen_chat_stream_multiple_eos_ids(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports, in a script that streams with Qwen (1.0)'s remote-code API (`model.chat_stream(...)`
    or the early `model.chat(..., stream=True)`), an `eos_token_id` given as a list of two or more
    ids to that call: `generation_config.eos_token_id = [198, 151643]` on the configuration passed
    as `generation_config=` (or on `model.generation_config` when none is passed), a
    `GenerationConfig(..., eos_token_id=[...])`, or `eos_token_id=[...]` on the call itself.

    ## Why is this bad?
    Qwen's streaming runs `sample_stream` of transformers-stream-generator (0.0.4 and 0.0.5, the
    latest), which marks finished sequences with
    `unfinished_sequences.mul(sum(next_tokens != i for i in eos_token_id))`: with two eos ids a
    running sequence gets the factor 2 instead of 1, and from the second step on every token id is
    rewritten to `2 * token - pad_token_id` (`k * token - (k - 1) * pad_token_id` for k ids), an
    invalid id, so generation fails (QwenLM/Qwen#1001: only the list fails, `eos_token_id=151643`
    works). A single eos id, or the non-streaming `chat()`, works.

    ## Example
    ```
    generation_config.eos_token_id = [198, 151643]   # stop at a newline too
    for response in model.chat_stream(tokenizer, prompt, history=None, generation_config=generation_config):
        ...
    ```

    ## Use instead
    Keep one `eos_token_id` and pass the extra stop sequences as `stop_words_ids=[[198]]` (Qwen's
    StopWordsLogitsProcessor), as the Qwen maintainers advise.

    ## Known false alarms
    Only lists written in the script are seen; a list in a model directory's generation_config.json
    is not judged.
    """
    import ast

    from stacklint.checks._common import script_tree

    for doc in stack.scripts:
        tf = stack.texts.get(doc.path)
        if tf is None or "eos_token_id" not in tf.text or ("chat_stream" not in tf.text and ".chat(" not in tf.text):
            continue
        tree = script_tree(stack, doc.path)
        if tree is None:
            continue
        lists: Dict[str, Tuple[List[int], int, int]] = {}  # object (dotted) -> (ids, line, col)
        stream_calls: List[Any] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                ids = _int_list(node.value)
                for t in node.targets:
                    if isinstance(t, ast.Attribute) and t.attr == "eos_token_id":
                        base = dotted(t.value)
                        if not base:
                            continue
                        if ids is not None and len(set(ids)) >= 2:
                            lists[base] = (ids, t.lineno, t.col_offset + 1)
                        else:
                            lists.pop(base, None)
                if isinstance(node.value, ast.Call) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    fname = dotted(node.value.func) or ""
                    if fname.rsplit(".", 2)[-1] in ("GenerationConfig", "from_pretrained") and "GenerationConfig" in fname:
                        for k in node.value.keywords:
                            kid = _int_list(k.value) if k.arg == "eos_token_id" else None
                            if kid is not None and len(set(kid)) >= 2:
                                lists[node.targets[0].id] = (kid, k.value.lineno, k.value.col_offset + 1)
            elif isinstance(node, ast.Call) and _stream_call(node):
                stream_calls.append(node)
        for call in sorted(stream_calls, key=lambda n: (n.lineno, n.col_offset)):
            receiver = dotted(call.func.value)
            hit = None
            for k in call.keywords:
                if k.arg == "eos_token_id":
                    ids = _int_list(k.value)
                    if ids is not None and len(set(ids)) >= 2:
                        hit = (ids, k.value.lineno, k.value.col_offset + 1, "passed to the call")
            if hit is None:
                cfg = next((k.value for k in call.keywords if k.arg == "generation_config"), None)
                obj = dotted(cfg) if cfg is not None else (f"{receiver}.generation_config" if receiver else None)
                if obj is not None and obj in lists:
                    ids, line, col = lists[obj]
                    if line <= call.lineno:
                        hit = (ids, line, col, f"on {obj}")
            if hit is None:
                continue
            ids, line, col, how = hit
            name = call.func.attr + "(" + ("..., stream=True" if call.func.attr == "chat" else "...") + ")"
            remedy = f"keep one eos_token_id and pass the extra stops as stop_words_ids={[[i] for i in ids]!r}"
            yield Finding("SL411", Location(doc.path, line, col),
                          f"eos_token_id={ids} ({doc.path}:{line}, {how}) reaches Qwen's streaming "
                          f"{name} ({doc.path}:{call.lineno}): transformers-stream-generator's sample_stream "
                          f"multiplies the unfinished flag by the number of non-matching eos ids ({len(set(ids))}), "
                          f"so from the second token on every id is rewritten to an invalid value and generation "
                          f"fails — {remedy}",
                          hint="set one eos_token_id; pass extra stop sequences as stop_words_ids=[[...]]",
                          related=(Related(Location(doc.path, call.lineno, call.col_offset + 1), name),),
                          key=f"{doc.path}:{line}:multi-eos-stream")


# -- a ChatML prompt handed to a chat() that builds ChatML itself ------------------------------

_CHATML_MARK = "<|im_start|>"


def _str_values(tree: Any) -> Dict[str, Any]:
    """Simple names bound (once, anywhere in the module) to a string expression: a literal, an
    f-string, a concatenation or a .format() call. Names assigned more than once are left out."""
    import ast

    out: Dict[str, Any] = {}
    seen: Dict[str, int] = {}
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign)) else [])
        for t in targets:
            if isinstance(t, ast.Name):
                seen[t.id] = seen.get(t.id, 0) + 1
                value = getattr(node, "value", None)
                if isinstance(node, ast.Assign) and isinstance(value, (ast.Constant, ast.JoinedStr, ast.BinOp, ast.Call)):
                    out[t.id] = value
    return {k: v for k, v in out.items() if seen.get(k) == 1}


def _has_chatml(node: Any, strings: Dict[str, Any], depth: int = 0) -> bool:
    """Whether a string expression (literals, names bound to literals, +, .format(), f-strings)
    certainly contains a ChatML turn marker."""
    import ast

    if depth > 8:
        return False
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _CHATML_MARK in node.value
    if isinstance(node, ast.Name):
        return node.id in strings and _has_chatml(strings[node.id], strings, depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _has_chatml(node.left, strings, depth + 1) or (
            isinstance(node.op, ast.Add) and _has_chatml(node.right, strings, depth + 1))
    if isinstance(node, ast.JoinedStr):
        return any(_has_chatml(v, strings, depth + 1) for v in node.values if isinstance(v, ast.Constant))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        return _has_chatml(node.func.value, strings, depth + 1)
    return False


@check(code="SL412", name="chatml-prompt-passed-to-chat", severity="warning",
       category="API Usage and Interface Issues", subcategory="Function Call Parameter Error",
       summary="A script passes an already ChatML-formatted prompt (<|im_start|>...) as the query of a model's chat(), which wraps it in ChatML again.",
       evidence=("https://github.com/QwenLM/Qwen/issues/671",))
def chatml_prompt_passed_to_chat(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `model.chat(tokenizer, query, ...)` / `model.chat_stream(...)` (Qwen-1's remote-code
    chat API and the chat() methods built like it) when the query is a string the script itself
    formatted in ChatML: a literal, a name bound to a literal, a `+` concatenation, a `.format()` or
    an f-string that contains `<|im_start|>`.

    ## Why is this bad?
    `chat()` builds the ChatML conversation itself (system turn, `<|im_start|>user`, the query,
    `<|im_start|>assistant`), so the model receives ChatML nested in ChatML inside one user turn:
    the turn structure the model was trained on is broken and the generation is garbage or fails (QwenLM/Qwen#671: "PanicException: no entry found for key" after
    a full fine-tune; the maintainers' answer: chat() already adds ChatML, use generate() with a
    hand-built prompt).

    ## Example
    ```
    prefix = "<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n"
    postfix = "<|im_start|>user\\n{}<|im_end|>\\n<|im_start|>assistant\\n"
    model.chat(tokenizer, prefix + postfix.format(query), history=None)
    ```

    ## Use instead
    `model.chat(tokenizer, query, history=None, system="...")`, or tokenize the hand-built prompt
    and call `model.generate(...)`.

    ## Known false alarms
    A warning: a model whose chat() does not apply ChatML would take the text as is. Only strings
    the script spells out are judged.
    """
    import ast

    from stacklint.checks._common import script_tree

    for doc in stack.scripts:
        tf = stack.texts.get(doc.path)
        if tf is None or _CHATML_MARK not in tf.text or ".chat" not in tf.text:
            continue
        tree = script_tree(stack, doc.path)
        if tree is None:
            continue
        strings = _str_values(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("chat", "chat_stream") and isinstance(node.func.value, ast.Name)):
                continue
            query = node.args[1] if len(node.args) >= 2 else next(
                (k.value for k in node.keywords if k.arg == "query"), None)
            has_tok = len(node.args) >= 1 or any(k.arg == "tokenizer" for k in node.keywords)
            if query is None or not has_tok or not _has_chatml(query, strings):
                continue
            loc = Location(doc.path, query.lineno, query.col_offset + 1)
            yield Finding("SL412", loc,
                          f"{node.func.value.id}.{node.func.attr}() ({doc.path}:{node.lineno}) is given a query already "
                          f"formatted in ChatML ({_CHATML_MARK}...); chat() wraps the query in ChatML itself, so the "
                          f"model gets ChatML nested in ChatML — pass the plain question (and system=), or call "
                          f"generate() on the hand-built prompt",
                          hint="pass the plain question to chat(), or use generate() for a hand-built ChatML prompt",
                          key=f"{doc.path}:{node.lineno}:chatml-in-chat")
