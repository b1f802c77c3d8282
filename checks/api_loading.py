"""How a script loads a model, judged against what it does next (SL413, SL415). Imported by the
API family."""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Tuple

from stacklint.findings import Finding, Location, Related
from stacklint.model import Job, Stack
from stacklint.parsers.python import Call, PyDoc
from stacklint.registry import check

# -- where each call of a script runs ----------------------------------------------------------


def _tree(stack: Stack, doc: PyDoc) -> Any:
    from stacklint.checks._common import script_tree

    return script_tree(stack, doc.path)


class _Scopes:
    """Each call node of a module with its innermost enclosing function (0: module level) and the
    chain of ``if`` tests / ``try`` handlers around it, keyed by (line, col) as PyDoc's Call has it."""

    def __init__(self, tree: Any) -> None:
        import ast

        self.calls: Dict[Tuple[int, int], Tuple[int, Tuple[Any, ...]]] = {}
        self.assigns: Dict[int, Dict[str, List[Any]]] = {}  # scope -> name -> [Assign value nodes]
        self.params: Dict[int, set] = {}
        self._walk(tree, 0, (), ast)

    def _walk(self, node: Any, scope: int, guards: Tuple[Any, ...], ast: Any) -> None:
        for child in ast.iter_child_nodes(node):
            s, g = scope, guards
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                s = id(child)
                a = child.args
                self.params[s] = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs} | (
                    {a.vararg.arg} if a.vararg else set()) | ({a.kwarg.arg} if a.kwarg else set())
                g = ()
            elif isinstance(child, ast.ClassDef):
                s, g = id(child), ()
            if isinstance(node, (ast.If, ast.While)) and child is not node.test:
                g = guards + (node.test,)
            elif isinstance(node, ast.IfExp) and child is not node.test:
                g = guards + (node.test,)
            elif isinstance(node, ast.Try) and child in node.body:
                g = guards + tuple(h for h in node.handlers)
            if isinstance(child, ast.Call):
                self.calls[(child.lineno, child.col_offset + 1)] = (s, g)
            if isinstance(child, (ast.Assign, ast.AnnAssign)) and child.value is not None:
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                for t in targets:
                    if isinstance(t, ast.Name):
                        self.assigns.setdefault(s, {}).setdefault(t.id, []).append(child.value)
            self._walk(child, s, g, ast)

    def scope(self, call: Call) -> Optional[int]:
        hit = self.calls.get((call.line, call.col))
        return None if hit is None else hit[0]

    def guards(self, call: Call) -> Tuple[Any, ...]:
        hit = self.calls.get((call.line, call.col))
        return () if hit is None else hit[1]


def _scopes_of(tree: Any) -> Optional[_Scopes]:
    if tree is None:
        return None
    try:
        return _Scopes(tree)
    except RecursionError:
        return None


def _unparse(node: Any) -> str:
    import ast

    try:
        return ast.unparse(node)
    except (ValueError, TypeError, RecursionError):  # pragma: no cover - malformed trees
        return ""


# -- SL413: a device_map (or low_cpu_mem_usage) load under DeepSpeed ZeRO-3 -------------------

# transformers modeling_utils.py PreTrainedModel.from_pretrained, v4.20.1 through v4.50.3 (read at
# v4.20.1, v4.26.1, v4.30.2, v4.31.0, v4.34.0, v4.36.0, v4.40.0, v4.44.2, v4.46.0, v4.47.0, v4.48.0,
# v4.49.0, v4.50.3): a device_map sets low_cpu_mem_usage=True, and `if low_cpu_mem_usage: if
# is_deepspeed_zero3_enabled(): raise ValueError("DeepSpeed Zero-3 is not compatible with
# `low_cpu_mem_usage=True` or with passing a `device_map`.")`. From v4.51.0 low_cpu_mem_usage is
# popped and ignored and only `if device_map is not None: if is_deepspeed_zero3_enabled(): raise
# ValueError("DeepSpeed Zero-3 is not compatible with passing a `device_map`.")` is left (v4.51.0,
# v4.56.2, v4.57.1 modeling_utils.py; v5.0.0 integrations/accelerate.py check_and_set_device_map).
# A string device map other than auto/balanced/... is turned into {"": torch.device(...)} and an
# int into {"": n} before the test, so every non-None device_map raises.
_LOW_CPU_IGNORED = "4.51.0"
# is_deepspeed_zero3_enabled() (integrations/deepspeed.py, deepspeed.py before v4.32) is true
# while an HfDeepSpeedConfig whose "zero_optimization.stage" is 3 is alive; TrainingArguments
# creates one in __post_init__ when deepspeed= is set (training_args.py, v4.20.1 .. v5.0.0:
# `self.hf_deepspeed_config = HfTrainerDeepSpeedConfig(self.deepspeed)`), so the switch is on from
# the moment the arguments object is built (HfArgumentParser.parse_args_into_dataclasses builds it).
_ARGS_CLASSES = frozenset({"TrainingArguments", "Seq2SeqTrainingArguments", "SFTConfig", "DPOConfig", "ORPOConfig",
                           "KTOConfig", "CPOConfig", "GRPOConfig", "RewardConfig", "PPOConfig", "RLOOConfig",
                           "GKDConfig", "OnlineDPOConfig", "PRMConfig", "BCOConfig", "NashMDConfig", "XPOConfig"})
_PARSE_METHODS = frozenset({"parse_args_into_dataclasses", "parse_json_file", "parse_yaml_file", "parse_dict",
                            "parse_args_and_config"})
# accelerate (utils/dataclasses.py DeepSpeedPlugin.set_deepspeed_weakref, v0.20.3 .. v1.6.0) builds
# an HfDeepSpeedConfig from the plugin's config, always from v1.0.0 and under zero3_init_flag
# before; Accelerator() calls it (accelerator.py v0.20.3, v0.27.2; DeepSpeedPlugin.select() from
# v1.0.0), and so does TrainingArguments.__post_init__ when `accelerate launch` set
# ACCELERATE_USE_DEEPSPEED (transformers training_args.py v4.34.0 .. v5.0.0; absent at v4.31.0).
_ACCELERATE_BRANCH = "4.34.0"
_EVIDENCE_413 = (
    "https://github.com/QwenLM/Qwen/issues/725",  # finetune.py device_map="auto" under ds_config_zero3.json
    "https://github.com/QwenLM/Qwen/pull/833",  # the same crash, traced to modeling_utils.py
    "https://github.com/huggingface/peft/issues/306",  # device_map={'': 0} under accelerate ZeRO-3
    "https://github.com/huggingface/transformers/blob/v4.50.3/src/transformers/modeling_utils.py",
    "https://github.com/huggingface/transformers/blob/v4.51.0/src/transformers/modeling_utils.py",
)


def _non_none(node: Any, scopes: _Scopes, scope: int, depth: int = 0) -> Optional[str]:
    """How a device_map expression is written when it is certainly not None: a literal, an
    ``a if c else b`` of such, or a local name every assignment of which is one; else None."""
    import ast

    if depth > 6 or node is None:
        return None
    if isinstance(node, ast.Constant):
        v = node.value
        return repr(v) if isinstance(v, (str, int)) and not isinstance(v, bool) and v != "" else None
    if isinstance(node, ast.Dict):
        text = _unparse(node)
        return text if len(text) <= 40 else "{...}"
    if isinstance(node, ast.IfExp):
        a = _non_none(node.body, scopes, scope, depth + 1)
        b = _non_none(node.orelse, scopes, scope, depth + 1)
        return f"{a} or {b}" if a and b and a != b else a if a and b else None
    if isinstance(node, ast.Name):
        if node.id in scopes.params.get(scope, ()):
            return None
        values = scopes.assigns.get(scope, {}).get(node.id)
        if not values:
            return None
        forms = [_non_none(v, scopes, scope, depth + 1) for v in values]
        if any(f is None for f in forms):
            return None
        return " or ".join(dict.fromkeys(part for f in forms if f for part in f.split(" or ")))
    return None


def _call_node(tree: Any, call: Call) -> Any:
    import ast

    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.lineno == call.line and node.col_offset + 1 == call.col:
            return node
    return None


def _guarded(scopes: _Scopes, call: Call) -> bool:
    """Inside a branch (if/while/conditional expression; `if __name__ == "__main__"` aside), whose
    condition may keep it from running under ZeRO-3 (a test of DeepSpeed, of Q-LoRA, ...), or inside
    a try whose handler catches ValueError (the script copes with the refusal)."""
    import ast

    for g in scopes.guards(call):
        if isinstance(g, ast.ExceptHandler):
            name = _unparse(g.type) if g.type is not None else ""
            if name == "" or any(w in name for w in ("ValueError", "Exception")):
                return True
        elif "__name__" not in _unparse(g):
            return True
    return False


def _stage3(data: Any) -> Optional[Tuple[str, ...]]:
    """The key path of "zero_optimization.stage" when a DeepSpeed config (a dict) is ZeRO-3."""
    from stacklint.checks._values import as_int

    zo = data.get("zero_optimization") if isinstance(data, dict) else None
    if isinstance(zo, dict) and as_int(zo.get("stage")) == 3:
        return ("zero_optimization", "stage")
    return None


def _zero3_sources(stack: Stack, doc: PyDoc) -> List[Tuple[Call, Location, str, Location]]:
    """Where the script turns ZeRO-3 on: (the call that builds the arguments, where "stage": 3 is
    written, how, where the DeepSpeed config is named)."""
    from stacklint.checks.training import deepspeed_doc
    from stacklint.model import Setting

    out: List[Tuple[Call, Location, str, Location]] = []
    for call in doc.calls:
        if call.short not in _ARGS_CLASSES or "deepspeed" not in call.kwargs:
            continue
        if not (call.qualname.startswith(("transformers.", "trl.")) or call.qualname == call.name):
            continue
        arg = call.kwargs["deepspeed"]
        where = Location(doc.path, arg.key_line or arg.line, arg.key_col or arg.col)
        if isinstance(arg.value, dict):
            keys = _stage3(arg.value)
            if keys is not None:
                out.append((call, Location(doc.path, arg.line, arg.col), f"{call.short}(deepspeed={{...}})", where))
        elif isinstance(arg.value, str):
            job = Job("training", "transformers", where, context="python")
            job.settings["deepspeed"] = Setting(arg.value, where, "deepspeed")
            ds = deepspeed_doc(stack, job)
            keys = _stage3(ds.data) if ds is not None else None
            if ds is not None and keys is not None:
                out.append((call, ds.loc(*keys), f"{call.short}(deepspeed=\"{arg.value}\")", where))
    parses = [c for c in doc.calls if c.short in _PARSE_METHODS]
    out.extend(_accelerate_sources(stack, doc, parses))
    if not parses:
        return out
    for job in stack.training_jobs():
        script = job.extra.get("script")
        if not isinstance(script, str) or job.get("deepspeed") is None:
            continue
        if not _runs(job, script, doc):
            continue
        ds = deepspeed_doc(stack, job)
        keys = _stage3(ds.data) if ds is not None else None
        if ds is None or keys is None:
            continue
        dsset = job.get("deepspeed")
        assert dsset is not None
        for p in parses:
            out.append((p, ds.loc(*keys), f"--deepspeed {dsset.value} from {job.location.path}:{job.location.line}",
                        dsset.location))
    return out


def _accelerate_sources(stack: Stack, doc: PyDoc, parses: List[Call]) -> List[Tuple[Call, Location, str, Location]]:
    """ZeRO-3 switched on by the accelerate config of an ``accelerate launch --config_file X``
    line that runs this script, once the script builds an Accelerator or its training arguments."""
    from stacklint import cmdline
    from stacklint.checks._values import as_int, is_true

    builders = [c for c in doc.calls if c.short == "Accelerator" and
                (c.qualname.startswith("accelerate.") or (c.qualname == c.name and "accelerate" in doc.imports))]
    args = parses + [c for c in doc.calls if c.short in _ARGS_CLASSES and
                     (c.qualname.startswith(("transformers.", "trl.")) or c.qualname == c.name)]
    out: List[Tuple[Call, Location, str, Location]] = []
    for job in stack.jobs:
        if job.framework != "accelerate" or job.command is None or job.get("config_file") is None:
            continue
        hit = cmdline.script_of(job.command)
        if hit is None or not _runs(job, hit[0].text, doc):
            continue
        cf = job.get("config_file")
        assert cf is not None
        cfg = _named_doc(stack, job, str(cf.value))
        data = cfg.data if cfg is not None else None
        if not isinstance(data, dict) or str(data.get("distributed_type", "")).upper() != "DEEPSPEED":
            continue
        dsc = data.get("deepspeed_config")
        if not isinstance(dsc, dict) or not is_true(dsc.get("zero3_init_flag")):
            continue
        assert cfg is not None
        if as_int(dsc.get("zero_stage")) == 3:
            sloc = cfg.loc("deepspeed_config", "zero_stage")
        elif isinstance(dsc.get("deepspeed_config_file"), str):
            ds = _named_doc(stack, job, dsc["deepspeed_config_file"])
            keys = _stage3(ds.data) if ds is not None else None
            if ds is None or keys is None:
                continue
            sloc = ds.loc(*keys)
        else:
            continue
        how = f"accelerate launch --config_file {cf.value} from {job.location.path}:{job.location.line}"
        chosen = builders + (args if args and not _transformers_before_accelerate_branch(stack, doc.path) else [])
        out.extend((b, sloc, how, cf.location) for b in chosen)
    return out


def _transformers_before_accelerate_branch(stack: Stack, path: str) -> bool:
    """Every admitted transformers release predates the TrainingArguments branch that picks up the
    accelerate DeepSpeed plugin (present at v4.34.0, absent at v4.31.0)."""
    from stacklint.checks._common import V, confining_pin
    from stacklint.knowledge import packages

    floor = V(_ACCELERATE_BRANCH)
    return confining_pin(stack, path, "transformers", packages.releases("transformers"),
                         lambda v: V(v) is not None and V(v) < floor) is not None


def _named_doc(stack: Stack, job: Job, ref: str) -> Any:
    """The JSON/YAML document a launch line names, relative to its file or one of its ancestors."""
    import posixpath

    from stacklint.model import ancestor_dirs

    ref = ref.strip().strip("\"'")
    if not ref or "$" in ref or ref.startswith("/") or not ref.endswith((".json", ".yaml", ".yml")):
        return None
    for d in ancestor_dirs(job.location.path):
        docs = stack.docs.get(posixpath.normpath(posixpath.join(d, ref) if d != "." else ref))
        if docs:
            return docs[0]
    return None


def _runs(job: Job, script: str, doc: PyDoc) -> bool:
    """Whether a launch line's script is this file: relative to the launching file's directory or
    one of its ancestors (launch scripts are usually run from the repository root)."""
    import posixpath

    from stacklint.model import ancestor_dirs

    if not script.endswith(".py") or script.startswith("/") or "$" in script:
        return False
    return any(posixpath.normpath(posixpath.join(d, script) if d != "." else script) == doc.path
               for d in ancestor_dirs(job.location.path))


@check(code="SL413", name="device-map-with-deepspeed-zero3", severity="error",
       category="API Usage and Interface Issues", subcategory="Function Call Parameter Error",
       summary="A training script loads its model with from_pretrained(device_map=...) (or low_cpu_mem_usage=True before transformers 4.51) after its TrainingArguments or Accelerator switched DeepSpeed ZeRO-3 on.",
       evidence=_EVIDENCE_413)
def device_map_with_deepspeed_zero3(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `from_pretrained(..., device_map=...)` of a transformers model class (and
    `low_cpu_mem_usage=True` when the pinned transformers is older than 4.51) in a training script
    that has already switched DeepSpeed ZeRO-3 on when the call runs: earlier in the same function
    it builds `TrainingArguments(deepspeed=...)` (or trl's `SFTConfig`, `DPOConfig`, ...), or parses
    its arguments with `HfArgumentParser` while a launch command in the tree runs it with
    `--deepspeed ds.json`, and that DeepSpeed config (in the tree, or a dict in the script) has
    `"zero_optimization": {"stage": 3}`; or an `accelerate launch --config_file cfg.yaml` line
    runs it with a DeepSpeed ZeRO-3 accelerate config (`zero_stage: 3`, `zero3_init_flag: true`)
    and the script builds an `Accelerator()` (or its training arguments, transformers >= 4.34).
    The device map must be certainly set: a literal (`"auto"`, `{"": 0}`, `"cuda"`), a
    conditional whose branches are both literals, or a local name every assignment of which is one.

    ## Why is this bad?
    Building the training arguments (or the Accelerator of an accelerate DeepSpeed launch)
    registers the DeepSpeed config with transformers (`is_deepspeed_zero3_enabled()` is then
    true), and from_pretrained refuses to place weights itself under ZeRO-3, where DeepSpeed
    partitions every parameter over the ranks: it raises
    "ValueError: DeepSpeed Zero-3 is not compatible with `low_cpu_mem_usage=True` or with passing a
    `device_map`." (transformers 4.20 to 4.50; from 4.51 "... with passing a `device_map`.", and
    `low_cpu_mem_usage` is ignored). Every rank stops before training starts.

    ## Example
    ```
    # finetune.sh: torchrun --nproc_per_node 8 finetune.py --deepspeed ds_config_zero3.json ...
    model_args, data_args, training_args = parser.parse_args_into_dataclasses()
    model = AutoModelForCausalLM.from_pretrained(model_args.model_name_or_path, device_map="auto")
    ```

    ## Use instead
    Leave placement to DeepSpeed under ZeRO-3:
    ```
    from transformers.integrations import is_deepspeed_zero3_enabled
    device_map = None if is_deepspeed_zero3_enabled() else "auto"
    model = AutoModelForCausalLM.from_pretrained(model_args.model_name_or_path, device_map=device_map)
    ```

    ## Known false alarms
    None known. Not judged: device maps computed at run time, loads in another function than the
    one that builds the arguments, loads (or argument objects) inside an `if` branch or inside a
    `try` that catches ValueError, accelerate configs without `zero3_init_flag: true` (accelerate
    1.x switches ZeRO-3 on without it), and DeepSpeed configs that are not in the scanned tree.
    """
    from stacklint.checks.api import _model_loads

    low_cpu_ok: Dict[str, Any] = {}
    launched = any((j.extra.get("script") and j.get("deepspeed") is not None) or
                   (j.framework == "accelerate" and j.get("config_file") is not None) for j in stack.jobs)
    for doc in stack.scripts:
        tf = stack.texts.get(doc.path)
        if tf is None or "from_pretrained" not in tf.text or ("deepspeed" not in tf.text.lower() and not launched):
            continue
        if "device_map" not in tf.text and "low_cpu_mem_usage" not in tf.text:
            continue
        sources = _zero3_sources(stack, doc)
        if not sources:
            continue
        tree = _tree(stack, doc)
        scopes = _scopes_of(tree)
        if scopes is None:
            continue
        for call, owner in _model_loads(doc):
            scope = scopes.scope(call)
            src = next((s for s in sources if scopes.scope(s[0]) == scope and s[0].line < call.line
                        and not _guarded(scopes, s[0])), None)
            if src is None or scope is None or _guarded(scopes, call):
                continue
            node = _call_node(tree, call)
            if node is None:
                continue
            kw = {k.arg: k for k in node.keywords if k.arg}
            what = None
            if "device_map" in kw:
                form = _non_none(kw["device_map"].value, scopes, scope)
                if form is not None:
                    what = (kw["device_map"], f"device_map={form}")
            if what is None and "low_cpu_mem_usage" in kw:
                v = kw["low_cpu_mem_usage"].value
                import ast

                if isinstance(v, ast.Constant) and v.value is True:
                    if doc.path not in low_cpu_ok:
                        low_cpu_ok[doc.path] = _old_transformers(stack, doc.path)
                    if low_cpu_ok[doc.path] is not None:
                        what = (kw["low_cpu_mem_usage"], "low_cpu_mem_usage=True")
            if what is None:
                continue
            key_node, text = what
            args_call, sloc, how, named = src
            loc = Location(doc.path, key_node.lineno, key_node.col_offset + 1)
            pin = low_cpu_ok.get(doc.path) if text.startswith("low_cpu") else None
            pinned = f", with {pin.raw.strip()} ({pin.location.path}:{pin.location.line})" if pin is not None else ""
            yield Finding(
                "SL413", loc,
                f"{owner}.from_pretrained(..., {text}) ({doc.path}:{call.line}) runs after {args_call.short}() "
                f"({doc.path}:{args_call.line}, {how}) switched DeepSpeed ZeRO-3 on (ZeRO stage 3 at "
                f"{sloc.path}:{sloc.line}){pinned}: transformers refuses to place the weights itself under ZeRO-3 and "
                f"raises \"ValueError: DeepSpeed Zero-3 is not compatible with ... passing a `device_map`\" on every "
                f"rank before training starts — drop {text.split('=')[0]}= under ZeRO-3 "
                f"(device_map=None if is_deepspeed_zero3_enabled() else ...)",
                hint="do not pass device_map (or low_cpu_mem_usage=True) to from_pretrained when the job runs "
                     "under DeepSpeed ZeRO-3; DeepSpeed places the partitioned weights",
                related=(Related(sloc, "DeepSpeed ZeRO stage 3"),
                         Related(named, "DeepSpeed config named here"),
                         Related(Location(doc.path, args_call.line, args_call.col),
                                 f"{args_call.short}(): ZeRO-3 is on from here")),
                key=f"{doc.path}:{call.line}:{text.split('=')[0]}|{sloc.path}")


def _old_transformers(stack: Stack, path: str) -> Any:
    """The transformers constraint that keeps every admitted release below 4.51 (where
    low_cpu_mem_usage=True still raises under ZeRO-3); None when a newer one may be installed."""
    from stacklint.checks._common import V, confining_pin
    from stacklint.knowledge import packages

    floor = V(_LOW_CPU_IGNORED)
    return confining_pin(stack, path, "transformers", packages.releases("transformers"),
                         lambda v: V(v) is not None and V(v) < floor)


# -- SL415: generate() on a model loaded without its language-model head ------------------------

# AutoModel resolves a config through MODEL_MAPPING_NAMES (models/auto/modeling_auto.py), which
# maps these native model types to their base class without a language-model head (read at
# v4.40.0, v4.51.0, v4.57.1, v5.0.0: "llama" -> LlamaModel, "qwen2" -> Qwen2Model, ...; types
# added later are absent from older tags but map the same way once present). The base classes do
# not define prepare_inputs_for_generation (models/llama/modeling_llama.py and
# models/qwen2/modeling_qwen2.py at v4.40.0: only *ForCausalLM does). generate() on them:
#  * v4.26 .. v4.51: PreTrainedModel inherits GenerationMixin (modeling_utils.py), and generate()
#    first calls _validate_model_class() (generation/utils.py), which raises "TypeError: The
#    current model class (LlamaModel) is not compatible with `.generate()`, as it doesn't have a
#    language model head." because can_generate() is False;
#  * from v4.52.0: PreTrainedModel no longer inherits GenerationMixin (modeling_utils.py at
#    v4.52.0, v4.53.0, v4.56.2, v4.57.1, v5.0.0), so "AttributeError: 'LlamaModel' object has no
#    attribute 'generate'";
#  * v4.20.1: generate() runs and fails on `outputs.logits` (generation_utils.py greedy_search),
#    which a base model's output does not have.
_BASE_CLASS = {
    "llama": "LlamaModel", "mistral": "MistralModel", "mixtral": "MixtralModel", "qwen2": "Qwen2Model",
    "qwen2_moe": "Qwen2MoeModel", "qwen3": "Qwen3Model", "qwen3_moe": "Qwen3MoeModel", "gemma": "GemmaModel",
    "gemma2": "Gemma2Model", "gemma3_text": "Gemma3TextModel", "phi": "PhiModel", "phi3": "Phi3Model",
    "gpt2": "GPT2Model", "gpt_neox": "GPTNeoXModel", "falcon": "FalconModel", "starcoder2": "Starcoder2Model",
    "olmo": "OlmoModel", "cohere": "CohereModel", "stablelm": "StableLmModel", "opt": "OPTModel",
    "bloom": "BloomModel", "gptj": "GPTJModel", "gpt_bigcode": "GPTBigCodeModel", "codegen": "CodeGenModel",
    "deepseek_v3": "DeepseekV3Model", "glm": "GlmModel", "glm4": "Glm4Model",
}
_BASE_CLASSES = frozenset(_BASE_CLASS.values())
_SAME_MODULE = frozenset({"eval", "cuda", "half", "float", "bfloat16", "to", "train", "requires_grad_"})
_LOADER_ROOTS = ("transformers", "modelscope")
_NO_GENERATE_MIXIN = "4.52.0"
_EVIDENCE_415 = (
    "https://github.com/starmpcc/Asclepius/issues/4",  # AutoModel.from_pretrained(llama) + generate: TypeError
    "https://github.com/machaao/gpt-j-chatbot/issues/9",  # GPTNeoModel is not compatible with `.generate()`
    "https://github.com/huggingface/transformers/blob/v4.51.0/src/transformers/generation/utils.py",
    "https://github.com/huggingface/transformers/blob/v4.52.0/src/transformers/modeling_utils.py",
)


def _loader_root(doc: PyDoc, call: Call) -> bool:
    root = call.qualname.split(".", 1)[0]
    if call.qualname != call.name:
        return root in _LOADER_ROOTS
    return any(r in doc.imports for r in _LOADER_ROOTS)


@check(code="SL415", name="automodel-without-generate", severity="error",
       category="API Usage and Interface Issues", subcategory="Function Call Parameter Error",
       summary="A script loads a causal LM with AutoModel (or LlamaModel, Qwen2Model, ...), the bare transformer without its language-model head, and calls generate() on it.",
       evidence=_EVIDENCE_415)
def automodel_without_generate(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `model.generate(...)` when `model` was loaded, in the same function, by
    `AutoModel.from_pretrained(...)` of a model that runs on transformers' own code (a local
    directory or a known hub checkpoint whose config.json has no `auto_map`) of a causal-LM
    family (llama, mistral, qwen2, qwen3, gemma, phi, ...), or by a base class such as
    `LlamaModel.from_pretrained(...)` / `Qwen2Model.from_pretrained(...)`.

    ## Why is this bad?
    `AutoModel` maps a config to the family's base model (`LlamaModel`, `Qwen2Model`): the
    decoder stack that returns hidden states, without the `lm_head` that turns them into token
    logits. Such a model cannot generate: transformers 4.26 to 4.51 raise "TypeError: The current
    model class (Qwen2Model) is not compatible with `.generate()`, as it doesn't have a language
    model head", and from 4.52 the base classes have no generate at all ("AttributeError:
    'Qwen2Model' object has no attribute 'generate'").

    ## Example
    ```
    model = AutoModel.from_pretrained("Qwen/Qwen2.5-7B-Instruct", torch_dtype="auto", device_map="auto")
    out = model.generate(**inputs, max_new_tokens=256)
    ```

    ## Use instead
    ```
    model = AutoModelForCausalLM.from_pretrained("Qwen/Qwen2.5-7B-Instruct", torch_dtype="auto", device_map="auto")
    out = model.generate(**inputs, max_new_tokens=256)
    ```

    ## Known false alarms
    None known. Remote-code models are never judged: ChatGLM's and other repositories'
    `auto_map["AutoModel"]` point at a class with a head (`ChatGLMForConditionalGeneration`), and
    Qwen-1 ("qwen") and unknown hub ids are skipped. Models passed through functions, containers or
    wrappers (PeftModel) are not followed.
    """
    from stacklint.checks.api import _assigned_var, _native_model, _reassigned_between

    for doc in stack.scripts:
        tf = stack.texts.get(doc.path)
        if tf is None or ".generate(" not in tf.text or "Model.from_pretrained" not in tf.text:
            continue
        scopes: Optional[_Scopes] = None
        for call in doc.calls:
            if call.short != "from_pretrained" or not call.name.endswith(".from_pretrained"):
                continue
            owner = call.name.rsplit(".", 2)[-2]
            if owner not in _BASE_CLASSES and owner != "AutoModel":
                continue
            if not _loader_root(doc, call):
                continue
            mtype: Optional[str] = None
            where: Optional[Location] = None
            ref = ""
            if owner == "AutoModel":
                native = _native_model(stack, doc, call)
                if native is None or native[1] not in _BASE_CLASS:
                    continue
                ref, mtype, where = native
                cls = _BASE_CLASS[mtype]
            else:
                cls = owner
            var = _assigned_var(stack, doc.path, call.line)
            if not var:
                continue
            chained = [c for c in doc.calls if (c.line, c.col) == (call.line, call.col) and c is not call
                       and c.name.startswith(call.name + "().")]
            if any(t not in _SAME_MODULE for c in chained for t in c.name[len(call.name) + 3:].split("().")):
                continue  # the variable holds something else (a submodule, a wrapper)
            if scopes is None:
                scopes = _scopes_of(_tree(stack, doc))
                if scopes is None:
                    break
            scope = scopes.scope(call)
            for gen in doc.calls:
                if gen.receiver != var or gen.short != "generate" or gen.line <= call.line:
                    continue
                if scopes.scope(gen) != scope or _reassigned_between(stack, doc.path, var, call.line, gen.line):
                    continue
                what = f"AutoModel.from_pretrained(\"{ref}\")" if owner == "AutoModel" else f"{owner}.from_pretrained(...)"
                typed = f" (model_type \"{mtype}\" at {where.path}:{where.line})" if where is not None else (
                    f" (model_type \"{mtype}\")" if mtype else "")
                yield Finding(
                    "SL415", Location(doc.path, gen.line, gen.col),
                    f"{var}.generate(...) ({doc.path}:{gen.line}) is called on a {cls} that {what} "
                    f"({doc.path}:{call.line}) loaded{typed}: the base model has no language-model head, so "
                    f"generate() fails every time (\"TypeError: The current model class ({cls}) is not compatible "
                    f"with `.generate()`\" in transformers 4.26 to 4.51, \"AttributeError: '{cls}' "
                    f"object has no attribute 'generate'\" from {_NO_GENERATE_MIXIN}) — load it with "
                    f"AutoModelForCausalLM.from_pretrained, which adds the head",
                    hint="load the model with AutoModelForCausalLM.from_pretrained(...) to generate text",
                    related=(Related(Location(doc.path, call.line, call.col), f"{cls} loaded here (no lm_head)"),)
                    + ((Related(where, f"model_type \"{mtype}\": AutoModel gives {cls}"),) if where is not None else ()),
                    key=f"{doc.path}:{gen.line}:{var}.generate")
                break
