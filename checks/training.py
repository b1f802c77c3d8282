"""Fine-tuning configuration, precision, quantisation (SL2xx, SL3xx) and launch arithmetic (SL5xx).

SL201/SL202/SL301/SL501 are implemented and unit-tested but not registered yet: every rule must cite a
dataset record as evidence, and none of their records has been verified yet.
"""
from __future__ import annotations

import re
from typing import Any, Iterator, List, Optional, Tuple

from stacklint.findings import Finding, Location, Related
from stacklint.model import Job, Setting, Stack
from stacklint.registry import check

# Linear modules every decoder has besides the per-architecture projection names; a target list
# naming one of them always matches something.
_ALWAYS_PRESENT = frozenset({"lm_head", "embed_tokens", "wte", "embed_out", "gate", "router", "shared_expert_gate",
                             "fc1", "fc2", "out_proj", "qkv", "proj", "linear", "multi_modal_projector",
                             "mm_projector", "vision_tower", "visual", "lm_head.linear"})
_REGEX_CHARS = re.compile(r"[\\\[\]()*+?|^$]")


def is_true(value: Any) -> bool:
    """A literal true (YAML/JSON bool, the string "true"); ``"auto"`` and placeholders are not."""
    if value is True:
        return True
    return isinstance(value, str) and value.strip().lower() in ("true", "yes", "1")


def as_int(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        return int(value)
    return None


def lora_target_names(value: Any) -> Optional[List[str]]:
    """Module names a LoRA target setting matches by suffix, or None when it cannot be judged
    statically (``all``/``all-linear``, a regex string, placeholders, non-literals)."""
    if isinstance(value, str):
        text = value.strip()
        if not text or "$" in text or "{" in text or _REGEX_CHARS.search(text):
            return None
        items = [p.strip() for p in text.split(",")]
    elif isinstance(value, (list, tuple)):
        if not all(isinstance(v, str) for v in value):
            return None
        items = [v.strip() for v in value]
    else:
        return None
    out = []
    for item in items:
        if not item:
            continue
        if item.lower() in ("all", "all-linear", "all_linear") or _REGEX_CHARS.search(item) or "$" in item:
            return None
        out.append(item.rsplit(".", 1)[-1])  # PEFT matches a dotted path by its suffix
    return out or None


def _job_model_type(job: Job) -> Optional[Tuple[str, Location]]:
    return job.model.model_type if job.model is not None else None


# PENDING (not registered until a dataset record is verified as evidence):
# @check(code="SL201", name="lora-target-modules-not-in-model", severity="error",
#        category="Configuration and Parameter Setting Errors", subcategory="Fine-tuning Configuration Error",
#        summary="LoRA target modules name none of the linear layers of the model being fine-tuned.",
#        evidence=(#                  "https://github.com/hiyouga/LlamaFactory/issues/3597",
#                  "https://github.com/huggingface/peft/issues/294"))
def lora_target_modules_not_in_model(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Compares the LoRA target modules of a training job (axolotl `lora_target_modules`,
    LLaMA-Factory `lora_target`, PEFT `LoraConfig(target_modules=...)` in a script) with the
    linear layer names of the base model's architecture (its `model_type`, from the local
    `config.json` or the known checkpoint), and reports a list of which no entry exists.

    ## Why is this bad?
    PEFT raises `ValueError: Target modules {...} not found in the base model` when no module of
    the model matches, after the model has been downloaded and loaded. The names differ per
    architecture: Llama/Qwen2 use `q_proj`/`v_proj`, original Qwen (v1) uses `c_attn`/`w1`,
    ChatGLM `query_key_value`, InternLM2 `wqkv`, Phi-3 `qkv_proj`.

    ## Example
    ```yaml
    model_name_or_path: Qwen/Qwen2.5-7B-Instruct
    finetuning_type: lora
    lora_target: c_attn        # original Qwen naming
    ```

    ## Use instead
    ```yaml
    lora_target: q_proj,v_proj   # or `all`
    ```

    ## Known false alarms
    Not reported: `all`, `all-linear`, regex strings, placeholders, a list with at least one
    name that exists (PEFT only fails when nothing matches), `lora_target_linear: true`
    (axolotl adds every linear layer), and model types whose module names stacklint does not know.
    """
    from stacklint.knowledge import checkpoints

    for job in stack.training_jobs():
        targets = job.get("lora_targets")
        if targets is None:
            continue
        if job.framework == "axolotl" and is_true(job.value("lora_target_linear")):
            continue
        if job.framework == "llamafactory" and str(job.value("adapter", "lora")).lower() not in ("lora", "qlora"):
            continue
        names = lora_target_names(targets.value)
        mt = _job_model_type(job)
        if names is None or mt is None:
            continue
        model_type, mt_loc = mt
        known = checkpoints.lora_modules(model_type)
        if not known:
            continue
        if any(n in known or n in _ALWAYS_PRESENT for n in names):
            continue
        shown = ", ".join(sorted(known))
        yield Finding(
            "SL201", targets.location,
            f"LoRA target modules {names} ({targets.location.path}:{targets.location.line}) do not exist in "
            f"model_type \"{model_type}\" ({mt_loc.path}:{mt_loc.line}), whose linear layers are {shown} — "
            f"PEFT raises \"Target modules not found in the base model\"",
            hint=f"target {shown} (or `all` / `all-linear`)",
            related=(Related(mt_loc, f"model_type {model_type}"),),
            key=f"{model_type}|{','.join(names)}")


def _precision_flags(job: Job) -> Iterator[Tuple[Setting, Setting]]:
    """(fp16, bf16) settings both literally on."""
    if job.framework == "deepspeed":
        fp, bf = job.get("fp16"), job.get("bf16") or job.get("bfloat16")
        if fp is None or bf is None or not isinstance(fp.value, dict) or not isinstance(bf.value, dict):
            return
        if is_true(fp.value.get("enabled")) and is_true(bf.value.get("enabled")):
            yield fp, bf
        return
    fp, bf = job.get("fp16"), job.get("bf16")
    if fp is not None and bf is not None and is_true(fp.value) and is_true(bf.value):
        yield fp, bf


# PENDING (not registered until a dataset record is verified as evidence):
# @check(code="SL202", name="fp16-and-bf16-both-enabled", severity="error",
#        category="Configuration and Parameter Setting Errors", subcategory="Fine-tuning Configuration Error",
#        summary="A training job turns on both fp16 and bf16 mixed precision.",
#        evidence=(#                  "https://github.com/huggingface/transformers/blob/v4.46.0/src/transformers/training_args.py"))
def fp16_and_bf16_both_enabled(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a training config (axolotl, LLaMA-Factory, `TrainingArguments`/`SFTConfig` in a
    script, a DeepSpeed JSON) that sets both `fp16` and `bf16` to true.

    ## Why is this bad?
    transformers raises `ValueError: At most one of fp16 and bf16 can be True, but not both`
    when `TrainingArguments` is built; DeepSpeed asserts "bfloat16 and fp16 modes cannot be
    simultaneously enabled". axolotl and LLaMA-Factory pass the flags through to the same check.

    ## Example
    ```yaml
    bf16: true
    fp16: true
    ```

    ## Use instead
    ```yaml
    bf16: true     # Ampere or newer; fp16: true on V100/T4
    fp16: false
    ```

    ## Known false alarms
    DeepSpeed configs with `"enabled": "auto"` in both blocks are valid (the HF Trainer fills
    them in) and are not reported; `bf16: auto` (axolotl) is not reported.
    """
    for job in stack.training_jobs():
        for fp, bf in _precision_flags(job):
            yield Finding(
                "SL202", fp.location,
                f"fp16 ({fp.location.path}:{fp.location.line}) and bf16 ({bf.location.path}:{bf.location.line}) "
                f"are both enabled — the trainer refuses to start (\"At most one of fp16 and bf16 can be True\"); "
                f"keep one",
                hint="set bf16: true and fp16: false on Ampere or newer GPUs, the reverse on V100/T4",
                related=(Related(bf.location, "bf16 enabled here"),), key=f"{job.framework}")


# -- target GPU --------------------------------------------------------------------------

def job_gpus(stack: Stack, path: str) -> List[Tuple[Setting, dict]]:
    """Known GPU records that a job in ``path`` runs on: --gpu / [target] gpu, and node selectors
    or Slurm --gres in the same file."""
    from stacklint.knowledge import hardware

    out = []
    for s in stack.gpus:
        if s.key == "config" or s.location.path == path:
            rec = hardware.gpu(str(s.value)) if isinstance(s.value, str) else None
            if rec is not None:
                out.append((s, rec))
    return out


def _gpu_where(s: Setting) -> str:
    return "--gpu" if s.location.path == "--gpu" else f"{s.location.path}:{s.location.line}"


def _bf16_settings(job: Job) -> Iterator[Setting]:
    if job.kind == "training":
        if job.framework == "deepspeed":
            bf = job.get("bf16") or job.get("bfloat16")
            if bf is not None and isinstance(bf.value, dict) and is_true(bf.value.get("enabled")):
                yield bf
            return
        if job.framework == "accelerate":
            mp = job.get("mixed_precision")
            if mp is not None and mp.value == "bf16":
                yield mp
            return
        for key in ("bf16", "pure_bf16"):
            s = job.get(key)
            if s is not None and is_true(s.value):
                yield s
        dt = job.get("dtype") or job.get("torch_dtype")
        if dt is not None and isinstance(dt.value, str) and dt.value.lower() in ("bf16", "bfloat16", "torch.bfloat16"):
            yield dt
    else:
        dt = job.get("dtype")
        if dt is not None and isinstance(dt.value, str) and dt.value.lower() in ("bfloat16", "bf16"):
            yield dt


def _fa2_settings(job: Job) -> Iterator[Setting]:
    for key in ("flash_attention", "attn_implementation"):
        s = job.get(key)
        if s is None:
            continue
        v = s.value
        if (key == "flash_attention" and (is_true(v) or v in ("fa2", "flash_attention_2"))) or \
                (key == "attn_implementation" and v == "flash_attention_2"):
            yield s


# PENDING (not registered until a dataset record is verified as evidence):
# @check(code="SL301", name="bf16-or-flash-attention-on-gpu-without-it", severity="error",
#        category="Data and Computation Issues", subcategory="Numerical Computation and Precision Issues",
#        summary="The job requests bf16 or FlashAttention-2 on a target GPU that lacks it (V100, T4, ...).",
#        evidence=(#                  "https://github.com/vllm-project/vllm/issues/1157",
#                  "https://github.com/vllm-project/vllm/issues/946"))
def bf16_or_flash_attention_on_gpu_without_it(stack: Stack) -> Iterator[Finding]:
    """## What it does
    When the target GPU is known (`--gpu`, `[tool.stacklint] gpu`, a k8s node selector or a Slurm
    `--gres` in the same file), reports a training or serving job that asks for bf16
    (`bf16: true`, DeepSpeed `bf16.enabled`, accelerate `mixed_precision: bf16`, vLLM
    `--dtype bfloat16`) or FlashAttention-2 (`flash_attention: true`, `flash_attn: fa2`,
    `attn_implementation="flash_attention_2"`) on a GPU without it (compute capability < 8.0).

    ## Why is this bad?
    transformers raises "Your setup doesn't support bf16/gpu", vLLM raises "Bfloat16 is only
    supported on GPUs with compute capability of at least 8.0", and flash-attn 2 raises
    "FlashAttention only supports Ampere GPUs or newer" — after the job was scheduled.

    ## Example
    ```yaml
    # stacklint scan --gpu T4
    bf16: true
    ```

    ## Use instead
    ```yaml
    fp16: true
    bf16: false
    ```

    ## Known false alarms
    Nothing is reported when the GPU is unknown; `bf16: auto` is not reported.
    """
    for job in stack.jobs:
        gpus = job_gpus(stack, job.location.path)
        if not gpus:
            continue
        for feature, label, settings in (("bf16", "bf16", list(_bf16_settings(job))),
                                         ("flash_attention_2", "FlashAttention-2", list(_fa2_settings(job)))):
            lacking = [(s, rec) for s, rec in gpus if rec.get(feature) is False]
            if not settings or not lacking or len(lacking) != len(gpus):
                continue
            gs, rec = lacking[0]
            for s in settings:
                yield Finding(
                    "SL301", s.location,
                    f"{label} requested ({s.location.path}:{s.location.line}) but the target GPU {rec['name']} "
                    f"({_gpu_where(gs)}, compute capability {rec.get('compute_capability')}) does not support it "
                    f"— use fp16" + (" / --dtype half" if job.kind == "serving" else "") if feature == "bf16" else
                    f"{label} requested ({s.location.path}:{s.location.line}) but the target GPU {rec['name']} "
                    f"({_gpu_where(gs)}, compute capability {rec.get('compute_capability')}) does not support it "
                    f"— use sdpa attention",
                    related=(Related(gs.location, f"target GPU {gs.value}"),) if gs.location.path != "--gpu" else (),
                    key=f"{feature}|{rec['name']}")


# -- DeepSpeed batch arithmetic ------------------------------------------------------------

# PENDING (not registered until a dataset record is verified as evidence):
# @check(code="SL501", name="deepspeed-batch-size-arithmetic", severity="error",
#        category="Distributed and Parallel Computing Issues", subcategory="Multi-process Synchronization",
#        summary="DeepSpeed train_batch_size is not micro batch x gradient accumulation x world size.",
#        evidence=(#                  "https://github.com/deepspeedai/DeepSpeed/issues/3982"))
def deepspeed_batch_size_arithmetic(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a DeepSpeed config whose `train_batch_size`, `train_micro_batch_size_per_gpu` and
    `gradient_accumulation_steps` are all concrete numbers and `train_batch_size` is not a
    multiple of micro batch x accumulation (so no world size can satisfy it).

    ## Why is this bad?
    DeepSpeed asserts `train_batch_size == micro_batch_per_gpu * gradient_acc_step * world_size`
    at `deepspeed.initialize`, after the model has been loaded on every rank.

    ## Example
    ```json
    {"train_batch_size": 30, "train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 4}
    ```

    ## Use instead
    ```json
    {"train_batch_size": "auto", "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto"}
    ```

    ## Known false alarms
    `"auto"` values (filled in by the HF Trainer) and missing keys (DeepSpeed derives them) are
    never reported.
    """
    for job in stack.training_jobs():
        if job.framework != "deepspeed":
            continue
        tb, mb, ga = job.get("train_batch_size"), job.get("train_micro_batch_size_per_gpu"), \
            job.get("gradient_accumulation_steps")
        if tb is None or mb is None or ga is None:
            continue
        t, m, g = as_int(tb.value), as_int(mb.value), as_int(ga.value)
        if t is None or m is None or g is None or m <= 0 or g <= 0:
            continue
        if t % (m * g) == 0 and t >= m * g:
            continue
        yield Finding(
            "SL501", tb.location,
            f"train_batch_size {t} ({tb.location.path}:{tb.location.line}) is not micro batch {m} "
            f"({mb.location.path}:{mb.location.line}) x gradient accumulation {g} "
            f"({ga.location.path}:{ga.location.line}) x any world size — DeepSpeed's batch assertion fails",
            hint=f"set train_batch_size to {m * g} x the number of GPUs, or to \"auto\"",
            related=(Related(mb.location, "micro batch"), Related(ga.location, "gradient accumulation")),
            key=f"{t}|{m}|{g}")


# -- Meta reference checkpoints: model-parallel size ------------------------------------------

_MP_BY_SIZE = {"7b": 1, "8b": 1, "13b": 2, "30b": 4, "33b": 4, "34b": 4, "65b": 8, "70b": 8}
_META_DIR = re.compile(r"(?i)(?:^|[/_-])(?:llama[-_]?[23]?(?:\.\d)?[-_]|codellama[-_]|meta[-_]llama[-_]3[-_])?"
                       r"(7b|8b|13b|30b|33b|34b|65b|70b)(?:[-_](?:chat|instruct|python|hf))*/?$")


def _ckpt_mp(stack: Stack, base_dir: str, ckpt: str) -> Optional[Tuple[int, str]]:
    """The model-parallel size of a Meta reference checkpoint directory: from its
    consolidated.NN.pth files when the directory is in the tree, else from its size in the name."""
    import posixpath

    if "$" in ckpt or "{" in ckpt:
        return None
    d = posixpath.normpath(posixpath.join(base_dir, ckpt)) if base_dir != "." and not ckpt.startswith("/") \
        else posixpath.normpath(ckpt)
    names = stack.listing.get(d)
    if names is not None:
        shards = [n for n in names if re.fullmatch(r"consolidated\.\d+\.pth", n)]
        if shards:
            return len(shards), f"{len(shards)} consolidated.*.pth shards in {d}"
    if "hf" in ckpt.lower().replace("-", "_").split("_"):
        return None  # a Hugging Face conversion, not a fairscale checkpoint
    m = _META_DIR.search(ckpt.rstrip("/"))
    if m and re.search(r"(?i)llama", ckpt):
        size = m.group(1).lower()
        return _MP_BY_SIZE[size], f"Meta's {size.upper()} reference checkpoint is sharded for MP={_MP_BY_SIZE[size]}"
    return None


@check(code="SL502", name="nproc-per-node-differs-from-checkpoint-mp", severity="error",
       category="Distributed and Parallel Computing Issues", subcategory="Model Parallelism Mismatch",
       summary="The torchrun --nproc_per_node value differs from the model-parallel size of a Meta reference Llama checkpoint.",
       evidence=("https://github.com/meta-llama/llama/issues/415",
                 "https://github.com/meta-llama/llama/issues/806",
                 "https://github.com/meta-llama/llama/issues/1017",
                 "https://github.com/meta-llama/llama/issues/551"))
def nproc_per_node_differs_from_checkpoint_mp(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a `torchrun --nproc_per_node N ... --ckpt_dir DIR` line (Meta's `llama`, `llama3`,
    `codellama` example scripts) where N differs from the number of `consolidated.NN.pth`
    shards of DIR: 1 for 7B/8B, 2 for 13B, 4 for 33B/34B, 8 for 65B/70B.

    ## Why is this bad?
    `Llama.build` asserts "Loading a checkpoint for MP=2 but world size is 1": the fairscale
    reference code loads exactly one shard per process and cannot reshard.

    ## Example
    ```sh
    torchrun --nproc_per_node 1 example_chat_completion.py --ckpt_dir llama-2-13b-chat/ --tokenizer_path tokenizer.model
    ```

    ## Use instead
    ```sh
    torchrun --nproc_per_node 2 example_chat_completion.py --ckpt_dir llama-2-13b-chat/ --tokenizer_path tokenizer.model
    ```

    ## Known false alarms
    Hugging Face conversions (`*-hf`) and directories whose size cannot be told are not reported.
    """
    from stacklint import cmdline
    from stacklint.discover import dirname

    for job in stack.training_jobs():
        if job.framework != "torchrun" or job.command is None:
            continue
        nproc = job.get("nproc_per_node")
        n = as_int(nproc.value) if nproc is not None else None
        if n is None:
            continue
        hit = cmdline.script_of(job.command)
        if hit is None:
            continue
        args, _ = cmdline.parse_flags(hit[1], "torchrun", job.location.path)
        ckpt = args.get("ckpt_dir")
        if ckpt is None or not isinstance(ckpt.value, str):
            continue
        mp = _ckpt_mp(stack, dirname(job.location.path), ckpt.value)
        if mp is None or mp[0] == n:
            continue
        yield Finding(
            "SL502", nproc.location,
            f"--nproc_per_node {n} ({nproc.location.path}:{nproc.location.line}) but --ckpt_dir {ckpt.value} "
            f"({ckpt.location.path}:{ckpt.location.line}) has MP={mp[0]} ({mp[1]}) — Llama.build asserts "
            f"\"Loading a checkpoint for MP={mp[0]} but world size is {n}\"; use --nproc_per_node {mp[0]}",
            related=(Related(ckpt.location, f"checkpoint MP={mp[0]}"),), key=f"{ckpt.value}|{n}")
