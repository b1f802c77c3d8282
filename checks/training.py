"""Fine-tuning configuration, precision, quantisation (SL2xx, SL3xx), launch arithmetic (SL5xx) and
GPU memory of training jobs (SL7xx).

SL201/SL202/SL301/SL501 are preview rules: implemented and unit-tested, but no record of the failure
dataset has been found as their evidence yet (they cite the projects' own sources), so they run only
with ``--preview``.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

from stacklint.checks._values import as_int, is_true  # noqa: F401 - re-exported for tests
from stacklint.findings import Finding, Location, Related
from stacklint.model import Job, Setting, Stack
from stacklint.registry import check

# Linear modules every decoder has besides the per-architecture projection names; a target list
# naming one of them always matches something.
_ALWAYS_PRESENT = frozenset({"lm_head", "embed_tokens", "wte", "embed_out", "gate", "router", "shared_expert_gate",
                             "fc1", "fc2", "out_proj", "qkv", "proj", "linear", "multi_modal_projector",
                             "mm_projector", "vision_tower", "visual", "lm_head.linear"})
_REGEX_CHARS = re.compile(r"[\\\[\]()*+?|^$]")




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


@check(code="SL201", name="lora-target-modules-not-in-model", severity="error",
       category="Configuration and Parameter Setting Errors", subcategory="Fine-tuning Configuration Error",
       summary="LoRA target modules name none of the linear layers of the model being fine-tuned.",
       evidence=("https://github.com/hiyouga/LlamaFactory/issues/3597",
                 "https://github.com/huggingface/peft/issues/294"), preview=True)
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


@check(code="SL202", name="fp16-and-bf16-both-enabled", severity="error",
       category="Configuration and Parameter Setting Errors", subcategory="Fine-tuning Configuration Error",
       summary="A training job turns on both fp16 and bf16 mixed precision.",
       evidence=("https://github.com/huggingface/transformers/blob/v4.46.0/src/transformers/training_args.py",),
       preview=True)
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


@check(code="SL301", name="bf16-or-flash-attention-on-gpu-without-it", severity="error",
       category="Data and Computation Issues", subcategory="Numerical Computation and Precision Issues",
       summary="The job requests bf16 or FlashAttention-2 on a target GPU that lacks it (V100, T4, ...).",
       evidence=("https://github.com/vllm-project/vllm/issues/1157",
                 "https://github.com/vllm-project/vllm/issues/946"), preview=True)
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

@check(code="SL501", name="deepspeed-batch-size-arithmetic", severity="error",
       category="Distributed and Parallel Computing Issues", subcategory="Multi-process Synchronization",
       summary="DeepSpeed train_batch_size is not micro batch x gradient accumulation x world size.",
       evidence=("https://github.com/deepspeedai/DeepSpeed/issues/3982",), preview=True)
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
                 "https://github.com/meta-llama/llama/issues/551",
                 "https://github.com/meta-llama/llama/issues/665",
                 "https://github.com/meta-llama/llama/issues/710",
                 "https://github.com/meta-llama/codellama/issues/95"))
def nproc_per_node_differs_from_checkpoint_mp(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a `torchrun --nproc_per_node N ... --ckpt_dir DIR` line (Meta's `llama`, `llama3`,
    `codellama` example scripts) where N differs from the number of `consolidated.NN.pth`
    shards of DIR: 1 for 7B/8B, 2 for 13B, 4 for 33B/34B, 8 for 65B/70B (from the directory name
    when it is not in the tree, including the original LLaMA layout `models/13B` when the line
    runs Meta's `example*.py` with a `tokenizer.model`). When fewer GPUs than
    that are visible (see SL205), the message says so: raising --nproc_per_node to the
    checkpoint's MP would then fail with "invalid device ordinal" instead.

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
        mp = _launch_ckpt_mp(stack, job, hit[0].text, args)
        if mp is None or mp[0] == n:
            continue
        remedy = f"use --nproc_per_node {mp[0]}"
        related = (Related(ckpt.location, f"checkpoint MP={mp[0]}"),)
        vis = launch_visible_gpus(stack, job)
        if vis is not None and 0 < vis[0] < mp[0]:
            # --nproc_per_node MP would fail as well (SL205): the checkpoint needs more GPUs than there are.
            remedy = (f"it needs {mp[0]} GPUs but only {vis[0]} {'is' if vis[0] == 1 else 'are'} visible "
                      f"({vis[2]}, {vis[1].path}:{vis[1].line}) "
                      f"— run it on {mp[0]} GPUs or use its Hugging Face conversion")
            related += (Related(vis[1], vis[2]),)
        yield Finding(
            "SL502", nproc.location,
            f"--nproc_per_node {n} ({nproc.location.path}:{nproc.location.line}) but --ckpt_dir {ckpt.value} "
            f"({ckpt.location.path}:{ckpt.location.line}) has MP={mp[0]} ({mp[1]}) — Llama.build asserts "
            f"\"Loading a checkpoint for MP={mp[0]} but world size is {n}\"; {remedy}",
            related=related, key=f"{ckpt.value}|{n}")


# -- processes per node vs the GPUs the launch can see ----------------------------------------

# Launcher -> the flag that sets how many processes it starts on this node.
_PROCS_FLAG = {"torchrun": "nproc_per_node", "torchtune": "nproc_per_node", "deepspeed": "num_gpus",
               "accelerate": "num_processes"}
_EXPORT_CVD = re.compile(r"^[ \t]*export[ \t]+CUDA_VISIBLE_DEVICES=([\"']?)([^\s\"';&|#]*)\1[ \t]*(?:[;#].*)?$", re.M)
_CPU_ARGS = frozenset({"use_cpu", "cpu", "no_cuda", "use_cuda_false"})
_MULTI_NODE_KINDS = ("leaderworkerset", "raycluster", "rayjob", "rayservice", "jobset", "pytorchjob", "mpijob",
                     "trainjob", "tfjob", "xgboostjob")
_MULTI_NODE_TEXT = re.compile(r"(?im)^#SBATCH\s+(?:--nodes|-N)[= ]*(?!1\s*$)\d|\bmpirun\b|\bsrun\b|\bray\s+start\b|"
                              r"leaderworkerset|--hostfile|\bpdsh\b")


def _device_count(text: str) -> Optional[int]:
    """Number of devices in a literal CUDA_VISIBLE_DEVICES list ("0,1,2"); None for anything else."""
    text = text.strip().strip("'\"")
    if not re.fullmatch(r"\d+(?:\s*,\s*\d+)*\s*,?|", text):
        return None
    return len([x for x in text.split(",") if x.strip()])


def _exported_cvd(stack: Stack, job: Job) -> Optional[Tuple[str, int]]:
    """The one literal ``export CUDA_VISIBLE_DEVICES=...`` above the launch line of a shell file:
    (value, line). None when there is none, several different ones, or a computed one."""
    tf = stack.texts.get(job.location.path)
    if tf is None or "CUDA_VISIBLE_DEVICES" not in tf.text:
        return None
    found = [(m.group(2), tf.text.count("\n", 0, m.start()) + 1) for m in _EXPORT_CVD.finditer(tf.text)]
    found = [(v, line) for v, line in found if line < job.location.line]
    if not found or len({v for v, _ in found}) != 1:
        return None
    others = [ln for ln in tf.text.splitlines() if not ln.lstrip().startswith("#")
              and re.search(r"CUDA_VISIBLE_DEVICES\s*=|unset\s+CUDA_VISIBLE_DEVICES", ln)]
    if len(others) != len(_EXPORT_CVD.findall(tf.text)):
        return None  # also assigned in another form (computed, per branch, unset): not judged
    return found[-1]


def launch_visible_gpus(stack: Stack, job: Job) -> Optional[Tuple[int, Location, str]]:
    """How many GPUs a launcher job can see on its node, where that is set and how: CUDA_VISIBLE_DEVICES
    (on the command, in a compose/k8s environment, or exported above it in the same shell file), the
    container's GPUs (docker --gpus, compose device count, k8s nvidia.com/gpu limit) and the configured
    ``[target] gpu-count``; the smallest wins. None when nothing is known. DeepSpeed's launcher ignores
    CUDA_VISIBLE_DEVICES once --num_gpus is given, so only the machine's GPUs count for it."""
    out: List[Tuple[int, Location, str]] = []
    if job.framework != "deepspeed":
        cvd = job.env.get("CUDA_VISIBLE_DEVICES")
        if cvd is not None:
            n = _device_count(cvd)
            if n is not None:
                where = job.location
                if job.doc is not None and job.extra.get("service_path"):
                    where = job.doc.loc(*job.extra["service_path"], "environment")
                elif job.doc is not None and job.extra.get("container_path"):
                    where = job.doc.loc(*job.extra["container_path"], "env")
                out.append((n, where, f"CUDA_VISIBLE_DEVICES={cvd}"))
        elif job.context == "shell":
            exp = _exported_cvd(stack, job)
            if exp is not None and _device_count(exp[0]) is not None:
                out.append((_device_count(exp[0]) or 0, Location(job.location.path, exp[1], 1),
                            f"export CUDA_VISIBLE_DEVICES={exp[0]}"))
    if job.gpus is not None and as_int(job.gpus.value) is not None:
        n = as_int(job.gpus.value) or 0
        how = {"nvidia.com/gpu": f"nvidia.com/gpu: {n}", "amd.com/gpu": f"amd.com/gpu: {n}", "count": f"count: {n}",
               "device_ids": f"device_ids ({n})", "--gpus": f"--gpus {job.extra.get('gpus_text', n)}"}
        out.append((n, job.gpus.location, how.get(job.gpus.key, f"{job.gpus.key}={n}")))
    if stack.gpu_count is not None and as_int(stack.gpu_count.value) is not None:
        n = as_int(stack.gpu_count.value) or 0
        out.append((n, stack.gpu_count.location, f"[target] gpu-count = {n}"))
    if not out:
        return None
    return min(out, key=lambda x: x[0])


def _launch_ckpt_mp(stack: Stack, job: Job, script: str, args: Dict[str, Setting]) -> Optional[Tuple[int, str]]:
    """Model-parallel size of the Meta checkpoint a torchrun line loads (``--ckpt_dir``): as SL502 reads
    it, plus the original LLaMA download layout (``models/13B``) when the line runs Meta's
    ``example*.py`` with a ``--tokenizer_path .../tokenizer.model``."""
    import posixpath

    from stacklint.discover import dirname

    ckpt = args.get("ckpt_dir")
    if ckpt is None or not isinstance(ckpt.value, str):
        return None
    mp = _ckpt_mp(stack, dirname(job.location.path), ckpt.value)
    if mp is not None:
        return mp
    tok = args.get("tokenizer_path")
    size = posixpath.basename(ckpt.value.rstrip("/")).lower()
    if (re.fullmatch(r"example\w*\.py", posixpath.basename(script)) and size in _MP_BY_SIZE and tok is not None
            and str(tok.value).endswith("tokenizer.model") and "$" not in ckpt.value):
        return _MP_BY_SIZE[size], f"Meta's {size.upper()} reference checkpoint is sharded for MP={_MP_BY_SIZE[size]}"
    return None


def _launcher_setting(job: Job, flag: str) -> Optional[Setting]:
    """A flag of the launcher itself, not one of the script it starts."""
    from stacklint import cmdline

    s = job.get(flag)
    if s is None or job.command is None:
        return s
    hit = cmdline.script_of(job.command)
    if hit is not None and (s.location.line, s.location.col) > (hit[0].line, hit[0].col):
        return None
    return s


def _not_one(s: Optional[Setting]) -> bool:
    return s is not None and str(s.value).strip() not in ("1", "1:1")


def _launch_multi_node(stack: Stack, job: Job) -> bool:
    """Several nodes (or an unknown number of them) take part in the launch."""
    s = job.settings
    if job.framework in ("torchrun", "torchtune"):
        if "nnodes" in s:
            return _not_one(s["nnodes"])
        if any(k in s for k in ("node_rank", "rdzv_endpoint", "rdzv_backend")):
            return True
        addr = s.get("master_addr")
        if addr is not None and str(addr.value) not in ("localhost", "127.0.0.1"):
            return True
    elif job.framework == "deepspeed":
        if _not_one(s.get("num_nodes")) or any(k in s for k in ("hostfile", "node_rank", "master_addr",
                                                                  "include", "exclude")):
            return True
    elif job.framework == "accelerate":
        if "num_machines" in s:
            return _not_one(s["num_machines"])
        if any(k in s for k in ("machine_rank", "main_process_ip", "config_file")):
            return True  # a config file may declare several machines
    kind = str(job.extra.get("k8s_kind") or "").lower()
    if any(k in kind for k in _MULTI_NODE_KINDS):
        return True
    tf = stack.texts.get(job.location.path)
    return tf is not None and bool(_MULTI_NODE_TEXT.search(tf.text))


def _cpu_launch(stack: Stack, job: Job) -> bool:
    """A CPU-only (gloo) run: processes need no GPU each."""
    if job.framework == "accelerate" and job.get("cpu") is not None:
        return True
    args = job.extra.get("script_args")
    if args is None and job.command is not None:
        from stacklint import cmdline

        hit = cmdline.script_of(job.command)
        args = cmdline.parse_flags(hit[1], "torchrun", job.location.path)[0] if hit else {}
    for k, v in (args or {}).items():
        if k in _CPU_ARGS and str(v.value).lower() not in ("false", "0", "no"):
            return True
        if k in ("device", "backend", "dist_backend", "accelerator") and str(v.value).lower() in ("cpu", "gloo"):
            return True
    tf = stack.texts.get(job.location.path)
    return tf is not None and bool(re.search(r"\bgloo\b", tf.text))


@check(code="SL205", name="more-processes-than-visible-gpus", severity="error",
       category="Configuration and Parameter Setting Errors", subcategory="Inference Configuration Error",
       summary="A torchrun / deepspeed / accelerate launch starts more processes per node than the GPUs visible to it.",
       evidence=("https://github.com/meta-llama/llama/issues/56",
                 "https://github.com/meta-llama/llama/issues/946",
                 "https://github.com/meta-llama/llama/issues/836",
                 "https://github.com/meta-llama/llama/issues/834"))
def more_processes_than_visible_gpus(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Compares the number of processes a single-node launch starts (`torchrun --nproc_per_node N`,
    `python -m torch.distributed.launch --nproc_per_node N`, `tune run --nproc_per_node N`,
    `deepspeed --num_gpus N`,
    `accelerate launch --num_processes N`) with the GPUs that launch can see: a literal
    `CUDA_VISIBLE_DEVICES` on the command, in the compose/Kubernetes environment or exported above
    it in the same shell file (not for `deepspeed`, whose launcher ignores it once `--num_gpus` is
    given), the container's GPUs (`docker run --gpus`, compose device `count`/`device_ids`, a
    Kubernetes `nvidia.com/gpu` limit) and the machine's `[target] gpu-count` in the
    configuration. For Meta's reference code (`--ckpt_dir` of a `consolidated.NN.pth`
    checkpoint) it adds that the checkpoint's model-parallel size itself needs that many GPUs.

    ## Why is this bad?
    Every process binds to the GPU of its local rank (`torch.cuda.set_device(local_rank)` in
    `Llama.build`, the HF Trainer, accelerate): the ranks past the last visible GPU die with
    `RuntimeError: CUDA error: invalid device ordinal` and torchrun tears the job down. A Meta
    checkpoint sharded for MP=8 cannot be run with fewer processes either (SL502), so on a
    machine with fewer GPUs it needs the Hugging Face conversion, which transformers can spread
    over any number of GPUs.

    ## Example
    ```sh
    # stacklint.toml: [target] gpu-count = 1
    torchrun --nproc_per_node 8 example_chat_completion.py --ckpt_dir llama-2-70b-chat/ --tokenizer_path tokenizer.model
    ```

    ## Use instead
    ```sh
    # a machine with 8 GPUs ([target] gpu-count = 8), or on one GPU:
    torchrun --nproc_per_node 1 example_chat_completion.py --ckpt_dir llama-2-7b-chat/ --tokenizer_path tokenizer.model
    ```

    ## Known false alarms
    Nothing is reported when the GPU count is unknown (no `CUDA_VISIBLE_DEVICES`, container
    limit or `gpu-count`), for computed values (`$NGPUS`, `auto`, `gpu`), for multi-node launches
    (`--nnodes` > 1, `--node_rank`, rendezvous endpoints, hostfiles, `--num_machines` > 1, an
    accelerate config file, Slurm/MPI/Ray scripts, LeaderWorkerSet/PyTorchJob/JobSet manifests)
    and DeepSpeed `--include`/`--exclude` selections,
    for CPU-only runs (`gloo`, `--cpu`, `--use_cpu`, `--device cpu`, an empty
    `CUDA_VISIBLE_DEVICES`), and when `CUDA_VISIBLE_DEVICES` is set more than one way in the file.
    A script that maps several ranks to one GPU (`rank % device_count`) would start, but NCCL
    refuses two ranks on one GPU, so it is still reported.
    """
    from stacklint import cmdline

    for job in stack.training_jobs():
        flag = _PROCS_FLAG.get(job.framework)
        nproc = _launcher_setting(job, flag) if flag else None
        n = as_int(nproc.value) if nproc is not None else None
        if nproc is None or n is None or n <= 1:
            continue
        vis = launch_visible_gpus(stack, job)
        if vis is None or vis[0] == 0 or n <= vis[0]:
            continue
        if _launch_multi_node(stack, job) or _cpu_launch(stack, job):
            continue
        g, where, how = vis
        rel = (Related(where, how),) if where.path != job.location.path or where.line != nproc.location.line else ()
        note, need = "", n
        if job.framework == "torchrun" and job.command is not None:
            hit = cmdline.script_of(job.command)
            args = cmdline.parse_flags(hit[1], "torchrun", job.location.path)[0] if hit else {}
            ckpt = args.get("ckpt_dir")
            mp = _launch_ckpt_mp(stack, job, hit[0].text if hit else "", args)
            if ckpt is not None and mp is not None and mp[0] > g:
                note = (f"; --ckpt_dir {ckpt.value} itself needs {mp[0]} GPUs ({mp[1]}) — run it on {mp[0]} GPUs "
                        f"or use its Hugging Face conversion on {g}")
                rel += (Related(ckpt.location, f"checkpoint MP={mp[0]}"),)
                need = mp[0]
        label = nproc.key if nproc.key.startswith("-") else f"--{flag}"
        where_txt = f"{where.path}:{where.line}"
        gpus = "GPU is" if g == 1 else "GPUs are"
        ranks = f"rank {g} fails" if n == g + 1 else f"ranks {g}..{n - 1} fail"
        yield Finding(
            "SL205", nproc.location,
            f"{label} {n} ({nproc.location.path}:{nproc.location.line}) starts {n} processes but only {g} {gpus} "
            f"visible ({how}, {where_txt}) — local {ranks} in torch.cuda.set_device with "
            f"\"CUDA error: invalid device ordinal\"{note}",
            hint=(f"run on {need} GPUs, or convert the checkpoint to Hugging Face format" if note
                  else f"set {label} {g}, or make {n} GPUs visible"),
            related=rel, key=f"{job.framework}|{n}|{g}")


# -- fp16 on bf16-trained models -------------------------------------------------------------

# Model types whose released weights are bfloat16 and whose fp16 activations overflow (inf/NaN) in
# training, per the maintainers: "As the original model was trained using bfloat16, changing to
# float16 may cause numerical instabilities" (https://github.com/QwenLM/Qwen2.5/issues/670 and the
# threads it links).
_FP16_OVERFLOW_TYPES = frozenset({"qwen2", "qwen2_moe", "qwen2_vl", "qwen2_5_vl"})


def _fp16_settings(job: Job) -> Iterator[Setting]:
    fp = job.get("fp16")
    if fp is not None and is_true(fp.value):
        bf = job.get("bf16")
        if bf is None or not is_true(bf.value):
            yield fp
        return
    dt = job.get("torch_dtype") or job.get("dtype")
    if dt is not None and isinstance(dt.value, str) and dt.value.lower() in ("fp16", "float16", "torch.float16", "half"):
        yield dt


def _model_dtype(job: Job) -> Optional[Tuple[str, Location]]:
    if job.model is None:
        return None
    got = job.model.config_value("torch_dtype")
    if got is None or not isinstance(got[0], str):
        return None
    return got[0], got[1]


@check(code="SL320", name="fp16-training-of-bf16-model", severity="warning",
       category="Data and Computation Issues", subcategory="Numerical Computation and Precision Issues",
       summary="A training job runs in fp16 on a bf16-trained model family whose activations overflow in fp16 (Qwen2, Qwen2.5).",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/670",))
def fp16_training_of_bf16_model(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a fine-tuning job (LLaMA-Factory / axolotl `fp16: true`, `TrainingArguments(fp16=True)`,
    torchtune `dtype: fp16`) whose base model is a Qwen2 / Qwen2.5 (or Qwen2-VL / Qwen2.5-VL)
    checkpoint released in bfloat16 (`"torch_dtype": "bfloat16"` in its `config.json`).

    ## Why is this bad?
    These models were trained in bfloat16; some of their activations exceed the fp16 range
    (65504). In fp16 the forward pass produces inf/NaN for some tokens: the loss becomes NaN or 0,
    `grad_norm` is NaN and the fine-tuned model generates garbage. Qwen's maintainers answer these
    reports with "finetune it in bf16 or fp32". The job does not crash, so hours of GPU time are
    lost before anyone notices.

    ## Example
    ```yaml
    model_name_or_path: Qwen/Qwen2-7B-Instruct
    stage: sft
    finetuning_type: full
    fp16: true
    ```

    ## Use instead
    ```yaml
    bf16: true      # Ampere or newer; on V100/T4 train in fp32 (neither fp16 nor bf16)
    ```

    ## Known false alarms
    Only the Qwen2 family is reported (the overflow is documented there); other bf16 models may
    train in fp16 fine. Nothing is reported when the base model or its dtype is unknown, or when
    bf16 is also on (SL202 covers that).
    """
    for job in stack.training_jobs():
        settings = list(_fp16_settings(job))
        mt = _job_model_type(job)
        dtype = _model_dtype(job)
        if not settings or mt is None or dtype is None:
            continue
        model_type, _ = mt
        if model_type not in _FP16_OVERFLOW_TYPES or dtype[0].lower() not in ("bfloat16", "bf16"):
            continue
        assert job.model is not None
        for s in settings:
            yield Finding(
                "SL320", s.location,
                f"fp16 training ({s.location.path}:{s.location.line}) of {job.model.ref} (model_type "
                f"\"{model_type}\", released in bfloat16 — {dtype[1].path}:{dtype[1].line}): its activations "
                f"overflow fp16, giving NaN loss / grad_norm and a broken model — train in bf16, or fp32 on "
                f"GPUs without bf16",
                hint="set bf16: true (Ampere or newer) and fp16: false",
                related=(Related(dtype[1], "base model released in bfloat16"),),
                key=f"{model_type}|{job.framework}")


# -- merging an adapter into a quantized base ------------------------------------------------

_QUANT_NAME = re.compile(r"(?i)(gptq|awq)|[-_.](int[48])(?:$|[-_./])")
_PEFT_LOADERS = ("AutoPeftModelForCausalLM", "AutoPeftModel", "AutoPeftModelForSeq2SeqLM")
_BASE_LOADERS = ("AutoModelForCausalLM", "AutoModel", "AutoModelForSeq2SeqLM", "LlamaForCausalLM",
                 "Qwen2ForCausalLM", "MistralForCausalLM", "AutoModelForVision2Seq")


def _norm(base_dir: str, ref: str) -> str:
    import posixpath

    if ref.startswith("/") or base_dir == ".":
        return posixpath.normpath(ref)
    return posixpath.normpath(posixpath.join(base_dir, ref))


def quantized_checkpoint(stack: Stack, ref: str, base_dir: str) -> Optional[str]:
    """How ``ref`` (a hub id or a path) is a GPTQ/AWQ-quantized checkpoint, or None: its
    config's quantization_config, the knowledge record, or its name (Qwen's -Int4/-Int8
    checkpoints are GPTQ)."""
    from stacklint import knowledge_access

    if not isinstance(ref, str) or not ref.strip() or "$" in ref or "{" in ref:
        return None
    md = stack.model_dirs.get(_norm(base_dir, ref))
    if md is not None and md.config is not None and isinstance(md.config.data, dict):
        qc = md.config.data.get("quantization_config")
        if isinstance(qc, dict) and str(qc.get("quant_method", "")).lower() in ("gptq", "awq"):
            return f"{str(qc['quant_method']).upper()}-quantized (quantization_config in {md.config.path})"
        if qc is None:
            return None
    rec = knowledge_access.checkpoint(ref) if "/" in ref and not ref.startswith((".", "/")) else None
    if rec is not None:
        q = rec.get("quantization")
        if isinstance(q, dict) and str(q.get("quant_method", "")).lower() in ("gptq", "awq"):
            return f"{str(q['quant_method']).upper()}-quantized"
        if q is None and rec.get("model_type"):
            return None
    m = _QUANT_NAME.search(ref.rstrip("/").rsplit("/", 1)[-1])
    if m:
        return f"{(m.group(1) or 'GPTQ').upper()}-quantized (by its name)" if m.group(1) else \
            f"GPTQ-quantized ({m.group(2)} checkpoint)"
    return None


def _adapter_base(stack: Stack, ref: str, base_dir: str) -> Optional[Tuple[str, Location]]:
    md = stack.model_dirs.get(_norm(base_dir, ref)) if isinstance(ref, str) else None
    if md is None or md.adapter is None or not isinstance(md.adapter.data, dict):
        return None
    base = md.adapter.data.get("base_model_name_or_path")
    return (base, md.adapter.loc("base_model_name_or_path")) if isinstance(base, str) else None


def _line_var(stack: Stack, path: str, line: int) -> Optional[str]:
    tf = stack.texts.get(path)
    lines = tf.text.splitlines() if tf is not None else []
    if not 0 < line <= len(lines):
        return None
    head, sep, _ = lines[line - 1].partition("=")
    head = head.strip()
    return head if sep and head.isidentifier() else None


def _merge_in_scripts(stack: Stack) -> Iterator[Finding]:
    from stacklint.discover import dirname
    from stacklint.parsers.python import Unknown

    for doc in stack.scripts:
        base_dir = dirname(doc.path)
        quant: dict = {}  # variable -> (why, Location)
        for call in doc.calls:
            owner = call.name.rsplit(".", 2)[-2] if "." in call.name else ""
            if call.short == "from_pretrained" and owner in _PEFT_LOADERS + _BASE_LOADERS + ("PeftModel",):
                var = _line_var(stack, doc.path, call.line)
                first = call.args[0] if call.args else (call.kwargs.get("pretrained_model_name_or_path")
                                                        or call.kwargs.get("model_id"))
                if var is None or first is None:
                    continue
                where = Location(doc.path, first.line, first.col)
                why = None
                if owner == "PeftModel" and isinstance(first.value, Unknown) and first.value.source in quant:
                    why = quant[first.value.source]
                elif owner in _PEFT_LOADERS and isinstance(first.value, str):
                    base = _adapter_base(stack, first.value, base_dir)
                    if base is not None:
                        q = quantized_checkpoint(stack, base[0], dirname(base[1].path))
                        if q and q.startswith("GPTQ"):
                            why = (f"the adapter's base {base[0]} is {q}", base[1])
                elif owner in _BASE_LOADERS and isinstance(first.value, str):
                    q = quantized_checkpoint(stack, first.value, base_dir)
                    if q and q.startswith("GPTQ"):
                        why = (f"{first.value} is {q}", where)
                if why is not None:
                    quant[var] = why
                else:
                    quant.pop(var, None)
            elif call.short in ("merge_and_unload", "merge_adapter") and call.receiver in quant:
                why, loc = quant[call.receiver]
                yield Finding(
                    "SL321", Location(doc.path, call.line, call.col),
                    f"{call.name}() ({doc.path}:{call.line}) merges LoRA weights into a quantized model: {why} — "
                    f"PEFT raises \"Cannot merge LORA layers when the model is gptq quantized\"; merge into the "
                    f"unquantized base model (then quantize again), or serve base + adapter unmerged",
                    hint="load the original (bf16/fp16) base model for merging",
                    related=(Related(loc, "quantized base"),) if loc.path != doc.path or loc.line != call.line else (),
                    key=f"{doc.path}:{call.receiver}")


def _merge_in_llamafactory(stack: Stack) -> Iterator[Finding]:
    from stacklint.discover import dirname

    for job in stack.training_jobs():
        if job.framework != "llamafactory" or job.doc is None:
            continue
        adapter, export = job.get("adapter_path"), job.doc.get("export_dir")
        if adapter is None or adapter.value in (None, "") or export in (None, ""):
            continue
        qbit = job.get("quantization_bit")
        eqbit = job.doc.get("export_quantization_bit")
        base = job.get("base_model")
        if qbit is not None and as_int(qbit.value) is not None:
            yield Finding(
                "SL321", qbit.location,
                f"export with adapter_name_or_path ({adapter.location.path}:{adapter.location.line}) loads the base "
                f"in {as_int(qbit.value)}-bit (quantization_bit, {qbit.location.path}:{qbit.location.line}) — "
                f"LLaMA-Factory raises \"Cannot merge adapters to a quantized model\"; drop quantization_bit",
                related=(Related(adapter.location, "adapter to merge"),), key=f"{job.location.path}|qbit")
        elif eqbit is not None and as_int(eqbit) is not None:
            loc = job.doc.loc("export_quantization_bit")
            yield Finding(
                "SL321", loc,
                f"export_quantization_bit ({loc.path}:{loc.line}) together with adapter_name_or_path "
                f"({adapter.location.path}:{adapter.location.line}) — LLaMA-Factory raises \"Please merge adapters "
                f"before quantizing the model\"; export the merged model first, then quantize it in a second export",
                related=(Related(adapter.location, "adapter to merge"),), key=f"{job.location.path}|eqbit")
        elif base is not None and isinstance(base.value, str):
            q = quantized_checkpoint(stack, base.value, dirname(base.location.path))
            if q:
                yield Finding(
                    "SL321", base.location,
                    f"model_name_or_path {base.value} ({base.location.path}:{base.location.line}) is {q}; exporting "
                    f"it with adapter_name_or_path ({adapter.location.path}:{adapter.location.line}) fails: "
                    f"LLaMA-Factory raises \"Cannot merge adapters to a quantized model\" — merge into the "
                    f"unquantized model",
                    related=(Related(adapter.location, "adapter to merge"),), key=f"{job.location.path}|base")


@check(code="SL321", name="lora-merge-into-quantized-base", severity="error",
       category="Data and Computation Issues", subcategory="Quantization Compatibility Issues",
       summary="A LoRA adapter is merged into a GPTQ/AWQ-quantized (or 4/8-bit loaded) base model.",
       evidence=("https://github.com/QwenLM/Qwen/issues/542",))
def lora_merge_into_quantized_base(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports `merge_and_unload()` / `merge_adapter()` in a script on a model whose base is a
    GPTQ/AWQ checkpoint (Qwen `-Int4`/`-Int8`, `*-GPTQ`, `*-AWQ`, or a local directory whose
    `config.json` has a GPTQ/AWQ `quantization_config`) — loaded directly, through
    `PeftModel.from_pretrained(base, ...)`, or through `AutoPeftModelForCausalLM` on an adapter
    directory whose `adapter_config.json` names such a base — and LLaMA-Factory export configs
    (`export_dir` + `adapter_name_or_path`) on a quantized model, with `quantization_bit`, or
    with `export_quantization_bit`.

    ## Why is this bad?
    Quantized integer weights cannot absorb a floating-point LoRA delta: PEFT raises
    `ValueError: Cannot merge LORA layers when the model is gptq quantized`, LLaMA-Factory raises
    "Cannot merge adapters to a quantized model" / "Please merge adapters before quantizing the
    model" — after the model has been loaded.

    ## Example
    ```python
    model = AutoPeftModelForCausalLM.from_pretrained("output_qwen")  # adapter on Qwen-7B-Chat-Int4
    merged = model.merge_and_unload()
    ```

    ## Use instead
    ```python
    model = AutoPeftModelForCausalLM.from_pretrained("output_qwen")  # serve base + adapter unmerged,
    # or train the adapter on Qwen-7B-Chat and merge into that bf16 model
    ```

    ## Known false alarms
    In scripts only GPTQ bases are reported; bitsandbytes 4/8-bit bases are not (recent PEFT
    dequantizes to merge). Adapters whose directory is not in the tree, and names that do not say GPTQ/AWQ/IntN,
    are not reported.
    """
    yield from _merge_in_scripts(stack)
    yield from _merge_in_llamafactory(stack)


# -- GPU memory: replicated base weights -------------------------------------------------------

_SIZE_B = re.compile(r"(?<![\dxX.])(\d+(?:\.\d+)?)[Bb](?![A-Za-z0-9])")


def deepspeed_doc(stack: Stack, job: Job) -> Optional[Any]:
    """The DeepSpeed JSON a job names (``deepspeed:`` / ``--deepspeed``), looked up relative to the
    job's file and each of its ancestors (scripts are run from the repository root)."""
    import posixpath

    from stacklint.discover import dirname

    ds = job.get("deepspeed")
    if ds is None or not isinstance(ds.value, str) or "$" in ds.value or not ds.value.endswith(".json"):
        return None
    d = dirname(job.location.path)
    while True:
        cand = _norm(d, ds.value)
        docs = stack.docs.get(cand)
        if docs:
            return docs[0]
        if d == ".":
            return None
        d = posixpath.dirname(d) or "."


def zero_stage(stack: Stack, job: Job) -> Optional[int]:
    if job.framework == "deepspeed":
        zo = job.value("zero_optimization")
    else:
        doc = deepspeed_doc(stack, job)
        zo = doc.data.get("zero_optimization") if doc is not None and isinstance(doc.data, dict) else None
    if isinstance(zo, dict):
        return as_int(zo.get("stage")) if zo.get("stage") is not None else 0
    return None


def _params_b(job: Job) -> Optional[Tuple[float, str]]:
    assert job.model is not None
    rec = job.model.checkpoint
    if rec and isinstance(rec.get("params_b"), (int, float)):
        return float(rec["params_b"]), "knowledge base"
    m = _SIZE_B.search(job.model.ref.rstrip("/").rsplit("/", 1)[-1])
    return (float(m.group(1)), "its name") if m else None


def _weight_bytes(stack: Stack, job: Job) -> Optional[Tuple[float, str]]:
    from stacklint.discover import dirname

    assert job.model is not None
    q = quantized_checkpoint(stack, job.model.ref, dirname(job.model.location.path))
    name = job.model.ref.rsplit("/", 1)[-1].lower()
    if q:
        return (1.0, "8-bit GPTQ") if "int8" in name or "8bit" in name else (0.5, f"4-bit ({q.split(' ')[0]})")
    if is_true(job.value("q_lora")) or is_true(job.value("load_in_4bit")) or as_int(job.value("quantization_bit")) == 4:
        return 0.5, "4-bit (QLoRA)"
    if is_true(job.value("load_in_8bit")) or as_int(job.value("quantization_bit")) == 8:
        return 1.0, "8-bit"
    return 2.0, "16-bit"


def _replicated(stack: Stack, job: Job) -> Optional[str]:
    """Why every GPU holds a whole copy of the base weights, or None when unknown or sharded."""
    args = job.extra.get("script_args") or {}
    if "fsdp" in args or "fsdp" in job.settings:
        return None
    if job.get("deepspeed") is not None:
        stage = zero_stage(stack, job)
        return f"DeepSpeed ZeRO-{stage} does not partition parameters" if stage is not None and stage < 3 else None
    if job.framework in ("torchrun", "deepspeed", "accelerate") and job.command is not None:
        return f"{job.framework} data parallelism keeps a full replica per GPU"
    return None


@check(code="SL720", name="base-weights-exceed-gpu-memory", severity="warning",
       category="Hardware and Resource Limitations", subcategory="GPU Memory Insufficiency",
       summary="The base model's weights alone exceed the target GPU's memory in a data-parallel fine-tuning job that replicates them on every GPU.",
       evidence=("https://github.com/QwenLM/Qwen/issues/916",))
def base_weights_exceed_gpu_memory(stack: Stack) -> Iterator[Finding]:
    """## What it does
    When the target GPU is known (`--gpu`, `[tool.stacklint.target] gpu`, a node selector or
    Slurm `--gres` in the same file), estimates the memory of the base model's weights — parameters
    (from the knowledge base or the checkpoint name, e.g. `72B`) x bytes per parameter (0.5 for
    GPTQ/AWQ Int4 or QLoRA 4-bit, 1 for 8-bit, 2 for bf16/fp16) — for a fine-tuning job in which
    every GPU holds a full copy (torchrun/deepspeed DDP, DeepSpeed ZeRO-0/1/2), and reports it when
    the weights alone are larger than one GPU.

    ## Why is this bad?
    Gradients, optimizer state and activations come on top of the weights, so the job cannot even
    finish loading: it dies with `CUDA out of memory` on every rank. More GPUs of the same size do
    not help, because ZeRO-1/2 and DDP partition only optimizer state and gradients.

    ## Example
    ```sh
    # stacklint scan --gpu V100-32GB ; finetune/ds_config_zero2.json has "stage": 2
    torchrun --nproc_per_node 8 finetune.py --model_name_or_path Qwen/Qwen-72B-Chat-Int4 \
        --use_lora --q_lora --deepspeed finetune/ds_config_zero2.json
    ```

    ## Use instead
    ```sh
    # shard the parameters: LoRA on the bf16 model with ZeRO-3 (ds_config_zero3.json, "stage": 3)
    torchrun --nproc_per_node 8 finetune.py --model_name_or_path Qwen/Qwen-72B-Chat \
        --use_lora --deepspeed finetune/ds_config_zero3.json
    ```

    ## Known false alarms
    Nothing is reported when the GPU, the model size, or the DeepSpeed stage is unknown, with
    ZeRO-3 or FSDP, or for single-process jobs that may spread the model with `device_map="auto"`.
    The estimate is a lower bound (embeddings kept in 16-bit, activations and optimizer state are
    not counted).
    """
    for job in stack.training_jobs():
        if job.model is None:
            continue
        gpus = job_gpus(stack, job.location.path)
        if not gpus:
            continue
        why = _replicated(stack, job)
        size = _params_b(job)
        wb = _weight_bytes(stack, job)
        if why is None or size is None or wb is None:
            continue
        gs, rec = min(gpus, key=lambda g: g[1].get("memory_gb") or 1e9)
        mem = rec.get("memory_gb")
        if not isinstance(mem, (int, float)):
            continue
        need = size[0] * wb[0]
        if need <= mem:
            continue
        loc = job.model.location
        yield Finding(
            "SL720", loc,
            f"{job.model.ref} ({loc.path}:{loc.line}) has ~{size[0]:g}B parameters (from {size[1]}); at "
            f"{wb[1]} that is ~{need:.0f} GB of weights alone, more than the {mem} GB of one {rec['name']} "
            f"({_gpu_where(gs)}), and {why} — every rank runs out of memory while loading",
            hint="shard parameters (DeepSpeed ZeRO-3 / FSDP), or use GPUs with more memory or a smaller model",
            related=(Related(gs.location, f"target GPU {gs.value}"),) if gs.location.path != "--gpu" else (),
            key=f"{job.model.ref}|{rec['name']}")


# -- DeepSpeed model-state memory of full fine-tuning ---------------------------------------------

def world_size(stack: Stack, job: Job) -> Optional[Tuple[int, str]]:
    """Number of training processes: launcher flags, CUDA_VISIBLE_DEVICES, or the target GPU count."""
    s = job.settings
    for key, label in (("nproc_per_node", "--nproc_per_node"), ("num_gpus", "--num_gpus"),
                       ("num_processes", "--num_processes")):
        n = as_int(s[key].value) if key in s else None
        if n:
            nodes = as_int(s["nnodes"].value) if "nnodes" in s and key == "nproc_per_node" else 1
            return n * (nodes or 1), f"{label} {n}" + (f" x --nnodes {nodes}" if nodes and nodes > 1 else "")
    inc = s.get("include")
    if inc is not None and isinstance(inc.value, str) and ":" in inc.value and "@" not in inc.value:
        ids = inc.value.split(":", 1)[1].split(",")
        return len(ids), f"--include {inc.value}"
    cvd = job.env.get("CUDA_VISIBLE_DEVICES")
    if cvd and "$" not in cvd:
        return len([x for x in cvd.split(",") if x.strip()]), f"CUDA_VISIBLE_DEVICES={cvd}"
    for g in job_gpus(stack, job.location.path):
        m = re.search(r":(\d+)$", str(g[0].value))
        if m:
            return int(m.group(1)), f"{g[0].value} ({_gpu_where(g[0])})"
    if stack.gpu_count is not None and as_int(stack.gpu_count.value):
        return as_int(stack.gpu_count.value) or 1, f"gpu-count {stack.gpu_count.value}"
    return None


def _offload(zo: dict, key: str) -> bool:
    v = zo.get(key)
    return isinstance(v, dict) and str(v.get("device", "none")).lower() in ("cpu", "nvme")


def _full_finetune(job: Job) -> bool:
    if job.framework == "llamafactory":
        return str(job.value("adapter", "")).lower() == "full"
    if job.framework == "axolotl":
        return job.get("adapter") is None
    if job.framework in ("torchrun", "deepspeed", "accelerate", "hf-script"):
        args = job.extra.get("script_args")
        if not args:
            return False
        script = str(job.extra.get("script", "")).lower()
        return "lora" not in script and not any("lora" in k or k in ("peft", "use_peft") for k in args)
    return False


@check(code="SL230", name="zero-model-states-exceed-gpu-memory", severity="warning",
       category="Configuration and Parameter Setting Errors", subcategory="Fine-tuning Configuration Error",
       summary="DeepSpeed's own estimate of the model states of a full fine-tuning job fills more than 80% of each GPU (no CPU offload).",
       evidence=("https://github.com/deepseek-ai/DeepSeek-Coder/issues/78",))
def zero_model_states_exceed_gpu_memory(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For a full-parameter fine-tuning job with a DeepSpeed ZeRO-2/3 config, a base model of known
    size, a known target GPU and a known number of GPUs, computes the per-GPU memory of the
    model states (bf16 weights and gradients, fp32 Adam master weights and moments) with the
    formulas of DeepSpeed's own estimators (`estimate_zero3_model_states_mem_needs`:
    18 bytes x params / GPUs + 4 bytes x the largest layer without offload, 2 bytes x params / GPUs
    with optimizer offload; `estimate_zero2_model_states_mem_needs`: 4 bytes x params + 16 bytes x
    params / GPUs), and reports it when that alone exceeds 80% of one GPU.

    ## Why is this bad?
    Activations, ZeRO-3 prefetch and all-gather buffers, the CUDA context and fragmentation need
    the rest; with less than a fifth of the GPU left, the first forward/backward pass fails with
    `CUDA out of memory` (full fine-tuning of a 33B model on 8 x 80 GB without offload is the
    documented case). `offload_optimizer: {device: cpu}` moves the 12-16 bytes per parameter of
    optimizer state to host memory.

    ## Example
    ```json
    {"bf16": {"enabled": "auto"}, "zero_optimization": {"stage": 3}}
    ```
    with `--model_name_or_path deepseek-ai/deepseek-coder-33b-instruct` on 8 x A100-80GB.

    ## Use instead
    ```json
    {"zero_optimization": {"stage": 3, "offload_optimizer": {"device": "cpu", "pin_memory": true},
                           "offload_param": {"device": "cpu", "pin_memory": true}}}
    ```
    (needs several hundred GB of host RAM), LoRA, or more GPUs.

    ## Known false alarms
    Only full fine-tuning is judged (LoRA / QLoRA jobs and scripts named `*lora*` are skipped); the
    GPU, the GPU count and the model size must all be known. The 80% margin is a heuristic: short
    sequences with gradient checkpointing may fit where this warns.
    """
    for job in stack.training_jobs():
        if job.model is None or not _full_finetune(job):
            continue
        doc = deepspeed_doc(stack, job)
        zo = doc.data.get("zero_optimization") if doc is not None and isinstance(doc.data, dict) else None
        if not isinstance(zo, dict):
            continue
        stage = as_int(zo.get("stage")) if zo.get("stage") is not None else None
        if stage not in (2, 3):
            continue
        gpus = job_gpus(stack, job.location.path)
        ws = world_size(stack, job)
        size = _params_b(job)
        if not gpus or ws is None or size is None:
            continue
        gs, rec = min(gpus, key=lambda g: g[1].get("memory_gb") or 1e9)
        mem = rec.get("memory_gb")
        if not isinstance(mem, (int, float)):
            continue
        p, n = size[0] * 1e9, ws[0]
        cfg = job.model.checkpoint or {}
        largest = 0.0
        if isinstance(cfg.get("vocab_size"), int) and isinstance(cfg.get("hidden_size"), int):
            largest = float(cfg["vocab_size"] * cfg["hidden_size"])
        if stage == 3:
            if _offload(zo, "offload_optimizer"):
                need = 4 * largest + (0 if _offload(zo, "offload_param") else 2 * p / n)
                formula = "4 x largest layer" + ("" if _offload(zo, "offload_param") else " + 2 x params / GPUs")
            else:
                need, formula = 4 * largest + 18 * p / n, "4 x largest layer + 18 x params / GPUs"
        else:
            if _offload(zo, "offload_optimizer"):
                need, formula = 2 * p, "2 x params"
            else:
                need, formula = 4 * p + 16 * p / n, "4 x params + 16 x params / GPUs"
        gib = need / 2 ** 30
        if gib <= 0.8 * mem:
            continue
        loc = doc.loc("zero_optimization", "stage")
        yield Finding(
            "SL230", loc,
            f"full fine-tuning of {job.model.ref} (~{size[0]:g}B parameters) with ZeRO-{stage} "
            f"({loc.path}:{loc.line}) on {n} GPUs ({ws[1]}): DeepSpeed's estimate of the model states "
            f"({formula}) is ~{gib:.0f} GiB per GPU, {gib / mem:.0%} of one {rec['name']} ({mem} GB, "
            f"{_gpu_where(gs)}) before activations — expect CUDA out of memory",
            hint="offload the optimizer (and parameters) to CPU, use LoRA, or add GPUs",
            related=(Related(job.model.location, f"base model {job.model.ref}"),),
            key=f"{job.model.ref}|{stage}|{n}|{rec['name']}")
