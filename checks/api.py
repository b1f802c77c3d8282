"""Python API usage across library versions (SL4xx)."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Tuple

from stacklint.findings import Finding, Fix, Location, Related
from stacklint.model import Constraint, Stack
from stacklint.parsers.python import Call, PyDoc


def _removals(kind: str) -> List[Dict[str, Any]]:
    from stacklint.knowledge import records

    return [r for r in records("api_removals") if r.get("kind") == kind]


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


@check(code="SL401", name="removed-keyword-argument", severity="error",
       category="API Usage and Interface Issues", subcategory="API Compatibility Issues",
       summary="A keyword argument removed in the pinned library version (evaluation_strategy, SFTTrainer tokenizer=, load_in_8bit=).",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/571",
                 "https://github.com/huggingface/trl/pull/2162",
                 "https://github.com/huggingface/transformers/pull/41287"))
def removed_keyword_argument(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports calls that pass a keyword argument the pinned release of the library no longer
    accepts: `TrainingArguments(evaluation_strategy=)` (transformers >= 4.46, use
    `eval_strategy`), `SFTTrainer(tokenizer=)` (trl >= 0.16, use `processing_class`),
    `DPOTrainer(tokenizer=)` (trl >= 0.14), `from_pretrained(load_in_8bit=/load_in_4bit=)`
    (transformers >= 5, use `quantization_config=BitsAndBytesConfig(...)`). The table lives in
    `knowledge/data/api_removals.json`, each row with its source.

    ## Why is this bad?
    The script dies at that call with "TypeError: __init__() got an unexpected keyword argument",
    typically after the model has been downloaded and loaded.

    ## Example
    ```
    # requirements.txt: transformers==4.46.0
    TrainingArguments(output_dir="out", evaluation_strategy="steps")
    ```

    ## Use instead
    `TrainingArguments(output_dir="out", eval_strategy="steps")`

    ## Known false alarms
    Only reported when the script's environment pins the library to a release without the
    argument; unpinned or older pins are not judged. Scripts that import `unsloth` (which
    patches the TRL trainers to accept `tokenizer=`) are not reported for TRL arguments.
    """
    rows = _removals("kwarg")
    for doc in stack.scripts:
        unsloth = "unsloth" in doc.imports  # unsloth patches the TRL trainers to accept tokenizer=
        for call in doc.calls:
            for row in rows:
                if call.short not in row["callee"] or row["name"] not in call.kwargs:
                    continue
                if row["callee"] == ["from_pretrained"] and not _hf_from_pretrained(doc, call):
                    continue
                if unsloth and row["package"] == "trl":
                    continue
                c = _pinned_at_least(stack, doc.path, row["package"], row["removed_in"])
                if c is None:
                    continue
                arg = call.kwargs[row["name"]]
                loc = Location(doc.path, arg.key_line or arg.line, arg.key_col or arg.col)
                fix = _rename_fix(stack, doc.path, loc, row, call)
                yield Finding("SL401", loc,
                              f"{call.short}({row['name']}=...) ({doc.path}:{loc.line}) was removed in "
                              f"{row['package']} {row['removed_in']}, and {c.raw} ({_loc(c)}) installs that "
                              f"or later — use {row['replacement']}",
                              hint=f"replace {row['name']}= with {row['replacement'].split('=')[0]}=",
                              related=(Related(c.location, f"{c.raw}"),), fix=fix,
                              key=f"{doc.path}:{call.short}:{row['name']}")


def _rename_fix(stack: Stack, path: str, loc: Location, row: Dict[str, Any], call: Call) -> Optional[Fix]:
    """A pure keyword rename (``replacement`` is a bare identifier, not already passed):
    edit the keyword's name where the parser recorded it. Replacements that change the
    value (``quantization_config=BitsAndBytesConfig(...)``) get no automatic fix."""
    new = row.get("replacement", "")
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


@check(code="SL402", name="removed-function-import", severity="error",
       category="API Usage and Interface Issues", subcategory="API Compatibility Issues",
       summary="A function imported from a library release that no longer has it (prepare_model_for_int8_training).",
       evidence=("https://github.com/huggingface/peft/issues/1583",
                 "https://github.com/QwenLM/Qwen/issues/353"))
def removed_function_import(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a script that imports a name the pinned library release removed, e.g.
    `from peft import prepare_model_for_int8_training` with peft >= 0.10.0.

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
    Only reported when the environment pins the library to a release without the name.
    """
    rows = _removals("import")
    for doc in stack.scripts:
        for row in rows:
            full = f"{row['module']}.{row['name']}"
            if full not in doc.imports:
                continue
            c = _pinned_at_least(stack, doc.path, row["package"], row["removed_in"])
            if c is None:
                continue
            line, col = _import_pos(stack, doc.path, row["name"])
            yield Finding("SL402", Location(doc.path, line, col),
                          f"{full} ({doc.path}:{line}) was removed in {row['package']} {row['removed_in']}, and "
                          f"{c.raw} ({_loc(c)}) installs that or later — use {row['replacement']}",
                          hint=f"import {row['replacement']} instead",
                          related=(Related(c.location, c.raw),), key=f"{doc.path}:{full}")


def _import_pos(stack: Stack, path: str, name: str) -> Tuple[int, int]:
    tf = stack.texts.get(path)
    if tf is None:
        return 1, 1
    for n, line in enumerate(tf.text.splitlines(), 1):
        if name in line and "import" in line:
            return n, line.find(name) + 1
    return 1, 1


_QUANT = ("load_in_4bit", "load_in_8bit")


@check(code="SL403", name="half-on-quantized-model", severity="error",
       category="API Usage and Interface Issues", subcategory="Call Sequence Error",
       summary="Calling model.half() / .to(float16) on a model loaded in 4-bit or 8-bit.",
       evidence=("https://github.com/QwenLM/Qwen/issues/1218",
                 "https://github.com/QwenLM/Qwen2.5/issues/180"))
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
