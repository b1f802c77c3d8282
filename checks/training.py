"""Fine-tuning configuration, precision, quantisation (SL2xx, SL3xx), launch arithmetic (SL5xx) and
GPU memory of training jobs (SL7xx).

SL201/SL202/SL501 are preview rules: implemented and unit-tested, but no record of the failure
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

from stacklint.checks import training_templates as _training_templates  # noqa: F401,E402  (SL611)

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


@check(code="SL121", name="bf16-or-flash-attention-on-gpu-without-it", severity="error",
       category="Environment Compatibility Issues", subcategory="System Architecture Compatibility",
       summary="The job requests bf16 or FlashAttention-2 on a target GPU that lacks it (V100, T4, ...).",
       evidence=(
           # qwen1-176: Qwen-7B-Chat (config use_flash_attn "auto") with flash-attn installed on a
           # pre-Ampere GPU: "RuntimeError: FlashAttention only supports Ampere GPUs or newer."
           "https://github.com/QwenLM/Qwen/issues/1019",
           "https://github.com/vllm-project/vllm/issues/1157",
           "https://github.com/vllm-project/vllm/issues/946"))
def bf16_or_flash_attention_on_gpu_without_it(stack: Stack) -> Iterator[Finding]:
    """## What it does
    When the target GPU is known (`--gpu`, `[tool.stacklint] gpu`, a k8s node selector or a Slurm
    `--gres` in the same file), reports a training or serving job that asks for bf16
    (`bf16: true`, DeepSpeed `bf16.enabled`, accelerate `mixed_precision: bf16`, vLLM
    `--dtype bfloat16`) or FlashAttention-2 (`flash_attention: true`, `flash_attn: fa2`,
    `attn_implementation="flash_attention_2"`) on a GPU without it (compute capability < 8.0).
    Also a Qwen (first series) model directory whose `config.json` has `use_flash_attn` `"auto"`
    or `true` in a stack that installs flash-attn 2: its remote code then imports flash-attn and
    runs it on that GPU.

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
    yield from _qwen_auto_flash_attention(stack)
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
                    "SL121", s.location,
                    f"{label} requested ({s.location.path}:{s.location.line}) but the target GPU {rec['name']} "
                    f"({_gpu_where(gs)}, compute capability {rec.get('compute_capability')}) does not support it "
                    f"— use fp16" + (" / --dtype half" if job.kind == "serving" else "") if feature == "bf16" else
                    f"{label} requested ({s.location.path}:{s.location.line}) but the target GPU {rec['name']} "
                    f"({_gpu_where(gs)}, compute capability {rec.get('compute_capability')}) does not support it "
                    f"— use sdpa attention",
                    related=(Related(gs.location, f"target GPU {gs.value}"),) if gs.location.path != "--gpu" else (),
                    key=f"{feature}|{rec['name']}")


def _qwen_auto_flash_attention(stack: Stack) -> Iterator[Finding]:
    """Qwen-1 remote code (modeling_qwen.py) turns `use_flash_attn: "auto"` into True whenever it
    runs in fp16/bf16 (always, on a GPU) and then uses flash-attn if it can import it: with
    flash-attn 2 installed, a pre-Ampere GPU fails at the first forward pass."""
    from stacklint.checks._common import V, allowed, fmt_loc
    from stacklint.discover import unique
    from stacklint.knowledge import packages

    fa_releases = tuple(packages.releases("flash-attn"))
    seen = set()
    for ref in stack.models:
        md = ref.local
        if md is None or md.config is None or md.config.path in seen:
            continue
        mt = md.model_type
        if mt != "qwen":
            continue
        ufa = ref.config_value("use_flash_attn")
        if ufa is None:
            continue
        value, where = ufa
        if not (value is True or (isinstance(value, str) and value.strip().lower() in ("auto", "true"))):
            continue
        gpus = job_gpus(stack, ref.location.path)
        lacking = [(g, rec) for g, rec in gpus if rec.get("flash_attention_2") is False]
        if not gpus or len(lacking) != len(gpus):
            continue
        fa2 = None
        for env_path in unique([ref.location.path, md.config.path]):
            for inst in stack.environment(env_path):
                for c in inst.get("flash-attn"):
                    adm = allowed(c, fa_releases)
                    if adm and V(adm[-1]) is not None and V(adm[-1]) >= V("2.0.0"):  # pip takes the newest
                        fa2 = fa2 or c
        if fa2 is None:
            continue
        seen.add(md.config.path)
        gs, rec = lacking[0]
        yield Finding(
            "SL121", where,
            f"use_flash_attn {value!r} in {md.config.path}: Qwen's remote code runs flash-attn, and "
            f"{fa2.raw.strip()} ({fmt_loc(fa2)}) installs FlashAttention-2, which the target GPU {rec['name']} "
            f"({_gpu_where(gs)}, compute capability {rec.get('compute_capability')}) does not support "
            f"— \"RuntimeError: FlashAttention only supports Ampere GPUs or newer\" at the first forward pass",
            hint='set "use_flash_attn": false in config.json (or do not install flash-attn on this GPU)',
            related=(Related(fa2.location, "installs FlashAttention-2"),)
            + ((Related(gs.location, f"target GPU {gs.value}"),) if gs.location.path != "--gpu" else ()),
            key=f"qwen-fa|{rec['name']}")


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
        # written after the script, the flag is the script's: torchrun starts its default of 1 process
        misplaced = nproc is not None and _launcher_setting(job, "nproc_per_node") is None
        n = 1 if misplaced else (as_int(nproc.value) if nproc is not None else None)
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
        if misplaced:
            remedy = f"move --nproc_per_node {mp[0]} before {hit[0].text}"
        related = (Related(ckpt.location, f"checkpoint MP={mp[0]}"),)
        vis = launch_visible_gpus(stack, job)
        if vis is not None and 0 < vis[0] < mp[0]:
            # --nproc_per_node MP would fail as well (SL205): the checkpoint needs more GPUs than there are.
            remedy = (f"it needs {mp[0]} GPUs but only {vis[0]} {'is' if vis[0] == 1 else 'are'} visible "
                      f"({vis[2]}, {vis[1].path}:{vis[1].line}) "
                      f"— run it on {mp[0]} GPUs or use its Hugging Face conversion")
            related += (Related(vis[1], vis[2]),)
        what = (f"--nproc_per_node {nproc.value} comes after {hit[0].text} ({nproc.location.path}:"
                f"{nproc.location.line}), so it is passed to the script and torchrun starts 1 process,"
                if misplaced else f"--nproc_per_node {n} ({nproc.location.path}:{nproc.location.line})")
        yield Finding(
            "SL502", nproc.location,
            f"{what} but --ckpt_dir {ckpt.value} "
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
    ds = job.get("deepspeed")
    if ds is None or not isinstance(ds.value, str):
        return None
    return _ds_doc_named(stack, job, ds.value)


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


# -- Q-LoRA of a Qwen (1) base checkpoint with Qwen's finetune.py ------------------------------------

# The base (pre-trained, not chat) checkpoints of the first Qwen series, by their published names
# (Qwen/Qwen-7B, qwen/Qwen-14B on ModelScope, or a local copy under the same directory name).
_QWEN1_BASE = re.compile(r"(?i)^qwen-(1_8b|7b|14b|72b)$")


def _qwen1_base_name(stack: Stack, job: Job) -> Optional[str]:
    """The published name of a Qwen (1) base checkpoint the job fine-tunes, or None."""
    if job.model is None or not isinstance(job.model.ref, str):
        return None
    ref = job.model.ref.strip().rstrip("/")
    if not ref or "$" in ref or "{" in ref:
        return None
    md = job.model.local
    if md is not None and md.config is not None and isinstance(md.config.data, dict):
        data = md.config.data
        if data.get("model_type") != "qwen" or data.get("quantization_config") is not None:
            return None  # not Qwen (1), or an already quantized (chat Int4/Int8) checkpoint
    name = ref.rsplit("/", 1)[-1]
    return name if _QWEN1_BASE.match(name) else None


@check(code="SL206", name="qwen-qlora-from-base-model", severity="warning",
       category="Configuration and Parameter Setting Errors", subcategory="Fine-tuning Configuration Error",
       summary="Qwen's finetune.py runs Q-LoRA (--q_lora) on a Qwen base checkpoint, whose ChatML control tokens then stay untrained.",
       evidence=("https://github.com/QwenLM/Qwen/issues/622", "https://github.com/QwenLM/Qwen/issues/608"))
def qwen_qlora_from_base_model(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a training launch of Qwen's `finetune.py` (`--use_lora --q_lora`, the
    `finetune_qlora_*.sh` scripts of the Qwen repository) whose `--model_name_or_path` is a base
    checkpoint of the first Qwen series (`Qwen-1_8B`, `Qwen-7B`, `Qwen-14B`, `Qwen-72B`) instead of
    a chat Int4 checkpoint (`Qwen-14B-Chat-Int4`).

    ## Why is this bad?
    `finetune.py` formats every sample in ChatML, which ends each turn with `<|im_end|>`. A base
    checkpoint has never learned `<|im_start|>` / `<|im_end|>`: their embedding and output rows
    are untrained. For plain LoRA the script therefore also trains `wte` and `lm_head` of a base
    model, but under Q-LoRA it trains neither (`modules_to_save = None`). The special tokens stay
    untrained, so the tuned model cannot emit `<|im_end|>`: it runs on to `max_new_tokens`,
    switching languages and printing `<|extra_N|>` tokens. The Qwen README: "For Q-LoRA, we advise
    you to load our provided quantized model, e.g., Qwen-7B-Chat-Int4. You SHOULD NOT use the bf16
    models."

    ## Example
    ```sh
    MODEL="Qwen/Qwen-14B"
    python finetune.py --model_name_or_path $MODEL --fp16 True --use_lora --q_lora ...
    ```

    ## Use instead
    ```sh
    MODEL="Qwen/Qwen-14B-Chat-Int4"     # Q-LoRA starts from the chat Int4 checkpoint
    python finetune.py --model_name_or_path $MODEL --fp16 True --use_lora --q_lora ...
    # or: LoRA of the base model (no --q_lora), which trains wte and lm_head as well
    ```

    ## Known false alarms
    The base model is recognised by its published name only (`Qwen-14B`, or a directory of that
    name whose `config.json` is an unquantized Qwen model). A base model copied under another name
    is not reported.
    """
    for job in stack.training_jobs():
        q = job.get("q_lora")
        if q is None or not is_true(q.value):
            continue
        use = job.get("use_lora")  # finetune.py applies --q_lora only together with --use_lora
        if use is None or not is_true(use.value):
            continue
        name = _qwen1_base_name(stack, job)
        if name is None:
            continue
        assert job.model is not None
        org = job.model.ref.strip().rstrip("/").rsplit("/", 1)
        chat = f"{org[0]}/{name}-Chat-Int4" if len(org) == 2 and not job.model.ref.startswith((".", "/")) \
            else f"Qwen/{name}-Chat-Int4"
        yield Finding(
            "SL206", q.location,
            f"Q-LoRA (--q_lora, {q.location.path}:{q.location.line}) of the Qwen base checkpoint "
            f"{job.model.ref}: finetune.py trains no wte/lm_head under Q-LoRA, so the ChatML tokens "
            f"<|im_start|>/<|im_end|> it trains on, untrained in a base model, stay untrained and the "
            f"tuned model never emits <|im_end|> (it runs on to max_new_tokens)",
            hint=f"start Q-LoRA from the chat Int4 checkpoint ({chat}), or use LoRA without --q_lora, "
                 f"which trains wte and lm_head of a base model",
            related=(Related(job.model.location, f"base checkpoint {job.model.ref}"),),
            key=f"{name.lower()}|{job.framework}")


# -- Meta reference checkpoints: weights and KV cache per GPU ----------------------------------

# Shape of Meta's reference checkpoints by the size tag of their directory: parameters (the smallest
# release of that tag: LLaMA 1, Llama 2, Code Llama, Llama 3 / 3.1), layers and the key/value width
# (n_kv_heads x head_dim) that sizes the KV cache. From the params.json of each release.
_REF_SHAPE = {
    "7b": (6.738e9, 32, 4096),    # LLaMA-7B, Llama-2-7b, CodeLlama-7b
    "8b": (8.030e9, 32, 1024),    # Meta-Llama-3(.1)-8B: 8 KV heads
    "13b": (13.015e9, 40, 5120),  # LLaMA-13B, Llama-2-13b, CodeLlama-13b
    "30b": (32.528e9, 60, 6656),  # LLaMA-33B ("30B" in the first release)
    "33b": (32.528e9, 60, 6656),
    "34b": (33.743e9, 48, 1024),  # CodeLlama-34b: 8 KV heads
    "65b": (65.2e9, 80, 8192),    # LLaMA-65B
    "70b": (68.976e9, 80, 1024),  # Llama-2-70b, Meta-Llama-3-70B: 8 KV heads
}


def _ref_size(ckpt: str) -> Optional[str]:
    """The size tag of a Meta reference checkpoint directory (``llama-2-70b-chat/``, ``models/13B``)."""
    import posixpath

    m = _META_DIR.search(ckpt.rstrip("/"))
    if m is None:
        return None
    if not re.search(r"(?i)llama", ckpt) and posixpath.basename(ckpt.rstrip("/")).lower() != m.group(1).lower():
        return None
    return m.group(1).lower()


def _launched_script(stack: Stack, job: Job, script: str) -> Any:
    """The parsed Python file a launch line runs, when it is in the scanned tree."""
    import posixpath

    from stacklint.discover import dirname

    if not script.endswith(".py") or script.startswith("/") or "$" in script:
        return None
    base = dirname(job.location.path)
    path = posixpath.normpath(posixpath.join(base, script)) if base != "." else posixpath.normpath(script)
    return next((d for d in stack.scripts if d.path == path), None)


def _script_model_args(stack: Stack, job: Job, script: str) -> Dict[str, Tuple[int, Location]]:
    """Literal max_batch_size / max_seq_len keywords of ``ModelArgs(...)`` or ``Llama.build(...)`` in the
    launched script (the first LLaMA example.py hard-coded ``ModelArgs(max_seq_len=1024, max_batch_size=32)``)."""
    doc = _launched_script(stack, job, script)
    out: Dict[str, Tuple[int, Location]] = {}
    if doc is None:
        return out
    for call in doc.calls:
        if call.short not in ("ModelArgs", "build") or (call.short == "build" and "Llama" not in call.name):
            continue
        for key in ("max_batch_size", "max_seq_len"):
            a = call.kwargs.get(key)
            if a is not None and isinstance(a.value, int) and not isinstance(a.value, bool) and a.value > 0:
                out.setdefault(key, (a.value, Location(doc.path, a.line or call.line, a.col or call.col)))
    return out


@check(code="SL740", name="reference-checkpoint-exceeds-gpu-memory", severity="error",
       category="Hardware and Resource Limitations", subcategory="GPU Memory Insufficiency",
       summary="Each rank of a Meta reference Llama launch needs more GPU memory (fp16 weight shard + KV cache) than the target GPU has.",
       evidence=("https://github.com/meta-llama/llama/issues/918",
                 "https://github.com/meta-llama/llama/issues/913",
                 "https://github.com/meta-llama/llama/issues/466",
                 "https://github.com/meta-llama/llama/issues/455",
                 "https://github.com/meta-llama/llama/issues/954",
                 "https://github.com/meta-llama/llama/issues/565"))
def reference_checkpoint_exceeds_gpu_memory(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For a `torchrun ... --ckpt_dir DIR` launch of Meta's reference code (`llama`, `llama3`,
    `codellama` example scripts) whose checkpoint size is told by its directory name (`7B`,
    `llama-2-70b-chat`, `CodeLlama-34b-Instruct`, `Meta-Llama-3-8B-Instruct`) and whose target GPU
    is known (`--gpu`, `[target] gpu`), adds what `Llama.build` puts on every GPU before the first
    token: the rank's 16-bit weight shard (parameters × 2 bytes / model-parallel size) and the KV
    cache it allocates up front, 2 × layers × `--max_batch_size` × `--max_seq_len` × KV width / MP
    × 2 bytes (sizes from the command line, else from literal `ModelArgs(max_seq_len=...,
    max_batch_size=...)` / `Llama.build(...)` keywords of the launched script when it is in the
    tree). It reports the launch when that alone is more than the GPU's memory (read as GiB).
    The arithmetic is in the message.

    ## Why is this bad?
    The reference code has no offloading and no quantisation: each process loads its whole
    `consolidated.NN.pth` shard in fp16/bf16 onto its GPU and allocates the full cache in the
    model's constructor, so `Llama.build` dies with `torch.cuda.OutOfMemoryError: CUDA out of
    memory` on every rank (a 7B model needs ~12.6 GiB of weights, more than a 12 GB card; each
    of the 8 shards of a 70B model needs ~16.1 GiB, more than a 16 GB V100). More GPUs do not
    help: the model-parallel size is fixed by the checkpoint (SL502).

    ## Example
    ```sh
    # stacklint.toml: [target] gpu = "V100-16GB", gpu-count = 8
    torchrun --nproc_per_node 8 example_chat_completion.py --ckpt_dir llama-2-70b-chat/ --tokenizer_path tokenizer.model
    ```

    ## Use instead
    ```sh
    # GPUs with more memory ([target] gpu = "A100-40GB"), or the Hugging Face conversion
    # (llama-2-70b-chat-hf) loaded 8-/4-bit with device_map="auto"
    torchrun --nproc_per_node 8 example_chat_completion.py --ckpt_dir llama-2-70b-chat/ --tokenizer_path tokenizer.model
    ```

    ## Known false alarms
    Nothing is reported when the GPU or the checkpoint size is unknown, for Hugging Face
    conversions (`*-hf`), or for computed paths. The figure is a lower bound (CUDA context,
    activations and the rope table are not counted; a `--max_batch_size` / `--max_seq_len` not
    given on the command line or as a literal in the script counts as 1), so a launch it accepts
    may still run out of memory.
    """
    from stacklint import cmdline

    for job in stack.training_jobs():
        if job.framework != "torchrun" or job.command is None:
            continue
        hit = cmdline.script_of(job.command)
        if hit is None:
            continue
        args, _ = cmdline.parse_flags(hit[1], "torchrun", job.location.path)
        ckpt = args.get("ckpt_dir")
        if ckpt is None or not isinstance(ckpt.value, str):
            continue
        mp = _launch_ckpt_mp(stack, job, hit[0].text, args)
        size = _ref_size(ckpt.value)
        if mp is None or mp[0] <= 0 or size is None or size not in _REF_SHAPE:
            continue
        gpus = [g for g in job_gpus(stack, job.location.path) if isinstance(g[1].get("memory_gb"), (int, float))]
        if not gpus:
            continue
        gs, rec = min(gpus, key=lambda g: g[1]["memory_gb"])
        mem = float(rec["memory_gb"]) * 2 ** 30
        params, layers, kv = _REF_SHAPE[size]
        n = mp[0]
        weights = params * 2 / n
        dims: Dict[str, int] = {}
        where: Dict[str, str] = {}
        lit = _script_model_args(stack, job, hit[0].text)
        for key in ("max_batch_size", "max_seq_len"):
            s = args.get(key)
            v = as_int(s.value) if s is not None else None
            if v is not None and v > 0:
                dims[key], where[key] = v, f"--{key} {v}"
            elif s is None and key in lit:
                dims[key] = lit[key][0]
                where[key] = f"{key}={lit[key][0]} at {lit[key][1].path}:{lit[key][1].line}"
            else:
                dims[key] = 1
        per_seq = 2 * layers * dims["max_seq_len"] * kv / n * 2
        cache = per_seq * dims["max_batch_size"]
        if weights + cache <= mem:
            continue
        gib = 2 ** 30
        cache_txt = ""
        if where:
            cache_txt = (f" + {cache / gib:.2f} GiB of KV cache ("
                         f"{where.get('max_batch_size', 'max_batch_size 1')} × {where.get('max_seq_len', 'max_seq_len 1')})")
        split = f" / MP {n}" if n > 1 else ""
        if weights <= mem and per_seq > 0 and int((mem - weights) // per_seq) >= 1:
            hint = (f"set max_batch_size to at most {int((mem - weights) // per_seq)} (or lower max_seq_len), "
                    f"or use GPUs with more memory")
        else:
            hint = ("use GPUs with more memory, or the Hugging Face conversion of the checkpoint loaded "
                    "8-/4-bit (or offloaded) with transformers")
        yield Finding(
            "SL740", ckpt.location,
            f"--ckpt_dir {ckpt.value} ({ckpt.location.path}:{ckpt.location.line}) is Meta's {size.upper()} reference "
            f"checkpoint: ~{params / 1e9:.1f}B parameters × 2 bytes{split} = {weights / gib:.2f} GiB of weights per GPU"
            f"{cache_txt}, more than the {rec['memory_gb']:g} GB of one {rec['name']} ({_gpu_where(gs)}) — "
            f"building the model runs out of GPU memory on every rank",
            hint=hint,
            related=(Related(gs.location, f"target GPU {gs.value}"),) if gs.location.path != "--gpu" else (),
            key=f"{ckpt.value}|{n}|{rec['name']}")


# -- Meta reference example scripts: prompts per call vs --max_batch_size ----------------------

_REF_BATCH_CALLS = ("chat_completion", "text_completion", "text_infilling")


@check(code="SL220", name="prompt-batch-exceeds-max-batch-size", severity="error",
       category="Configuration and Parameter Setting Errors", subcategory="Inference Configuration Error",
       summary="A Meta reference Llama script passes more prompts to one generate call than the --max_batch_size it is launched with.",
       evidence=("https://github.com/meta-llama/llama/issues/654",))
def prompt_batch_exceeds_max_batch_size(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For a `torchrun SCRIPT.py ... --max_batch_size N` launch whose script is in the scanned tree
    and builds Meta's reference model (`Llama.build`), counts the prompts of each literal list the
    script passes to `generator.chat_completion(...)`, `text_completion(...)` or
    `text_infilling(...)` (the `dialogs` / `prompts` / `instructions` of the `llama`, `llama3` and
    `codellama` example scripts) and reports the launch when one call gets more than N.

    ## Why is this bad?
    `Llama.build` sizes the KV cache for `max_batch_size` sequences, and `Llama.generate`
    asserts `bsz <= params.max_batch_size`: the run loads the whole checkpoint and then dies with
    `AssertionError: (6, 4)`. The Llama 2 README once launched `example_chat_completion.py` (six
    dialogs) with `--max_batch_size 4`, so copying it failed this way.

    ## Example
    ```sh
    # example_chat_completion.py passes 6 dialogs to generator.chat_completion
    torchrun --nproc_per_node 1 example_chat_completion.py --ckpt_dir llama-2-7b-chat/ \
        --tokenizer_path tokenizer.model --max_seq_len 512 --max_batch_size 4
    ```

    ## Use instead
    ```sh
    torchrun --nproc_per_node 1 example_chat_completion.py --ckpt_dir llama-2-7b-chat/ \
        --tokenizer_path tokenizer.model --max_seq_len 512 --max_batch_size 6
    ```

    ## Known false alarms
    Only literal lists passed straight to the call are counted; scripts that build or split the
    prompt list at run time, scripts outside the scanned tree, and launches without
    `--max_batch_size` are not judged.
    """
    import posixpath

    from stacklint import cmdline
    from stacklint.discover import dirname

    scripts = {d.path: d for d in stack.scripts}
    for job in stack.training_jobs():
        if job.framework != "torchrun" or job.command is None:
            continue
        hit = cmdline.script_of(job.command)
        if hit is None or not hit[0].text.endswith(".py") or hit[0].text.startswith("/") or "$" in hit[0].text:
            continue
        args, _ = cmdline.parse_flags(hit[1], "torchrun", job.location.path)
        mb = args.get("max_batch_size")
        n = as_int(mb.value) if mb is not None else None
        if mb is None or n is None or n <= 0:
            continue
        base = dirname(job.location.path)
        path = posixpath.normpath(posixpath.join(base, hit[0].text)) if base != "." else posixpath.normpath(hit[0].text)
        doc = scripts.get(path)
        if doc is None or not any(c.short == "build" and "Llama" in c.name for c in doc.calls):
            continue
        for call in doc.calls:
            if call.short not in _REF_BATCH_CALLS or not call.args or not isinstance(call.args[0].value, list):
                continue
            bsz = len(call.args[0].value)
            if bsz <= n:
                continue
            yield Finding(
                "SL220", mb.location,
                f"--max_batch_size {n} ({mb.location.path}:{mb.location.line}) but {path}:{call.line} passes "
                f"{bsz} prompts to {call.short}() in one call — Llama.generate asserts bsz <= max_batch_size "
                f"(AssertionError: ({bsz}, {n})) after the checkpoint has loaded",
                hint=f"launch with --max_batch_size {bsz} (or more), or pass at most {n} prompts per call",
                related=(Related(Location(path, call.line, call.col), f"{bsz} prompts in one {call.short}() call"),),
                key=f"{path}|{call.line}|{n}")
            break


# -- Meta reference chat scripts run on a base (pretrained) checkpoint --------------------------

# The example scripts of Meta's reference repositories that wrap their input in the chat/instruction
# format of the fine-tuned models (llama: example_chat_completion.py and Llama.chat_completion's
# [INST]/<<SYS>> tags; llama3: the <|start_header_id|> dialog format; codellama:
# example_instructions.py), and the suffix that names the fine-tuned release of each family.
_REF_CHAT_SCRIPTS = ("example_chat_completion.py", "example_instructions.py")
_REF_TUNED_SUFFIX = re.compile(r"(?i)[-_](?:chat|instruct)(?:[-_]hf)?$")


def _ref_tuned_name(name: str) -> str:
    """The directory name of the chat/instruct release of a base Meta checkpoint directory name."""
    if re.search(r"(?i)codellama", name):
        return re.sub(r"(?i)[-_]python$", "", name) + "-Instruct"
    if re.search(r"(?i)meta[-_]llama[-_]3", name):
        return name + "-Instruct"
    return name + "-chat"


@check(code="SL222", name="reference-chat-script-on-base-checkpoint", severity="warning",
       category="Configuration and Parameter Setting Errors", subcategory="Inference Configuration Error",
       summary="A Meta reference chat/instruction example script is launched on a base (pretrained) Llama checkpoint instead of its chat/instruct release.",
       evidence=("https://github.com/meta-llama/llama/issues/1071",))
def reference_chat_script_on_base_checkpoint(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a `torchrun example_chat_completion.py ... --ckpt_dir DIR` (Meta's `llama` and
    `llama3` repositories) or `torchrun example_instructions.py ... --ckpt_dir DIR` (`codellama`)
    launch whose checkpoint directory is named as one of Meta's base (pretrained) releases:
    `llama-2-7b`, `Meta-Llama-3-8B`, `CodeLlama-13b`, `CodeLlama-7b-Python` (also with a trailing
    `/original`), rather than the fine-tuned `llama-2-7b-chat`, `Meta-Llama-3-8B-Instruct` or
    `CodeLlama-13b-Instruct`.

    ## Why is this bad?
    These scripts format every dialog with the chat template of the fine-tuned models (`[INST]`,
    `<<SYS>>` for Llama 2 and Code Llama, `<|start_header_id|>` / `<|eot_id|>` for Llama 3). A base
    model was never trained on that format and has no notion of a turn ending: it answers with
    empty strings, repeats the prompt or rambles until `max_gen_len`. Nothing fails, so the run
    looks fine and the answers are simply useless.

    ## Example
    ```sh
    torchrun --nproc_per_node 1 example_chat_completion.py --ckpt_dir llama-2-7b/ \
        --tokenizer_path tokenizer.model --max_seq_len 512 --max_batch_size 6
    ```

    ## Use instead
    ```sh
    torchrun --nproc_per_node 1 example_chat_completion.py --ckpt_dir llama-2-7b-chat/ \
        --tokenizer_path tokenizer.model --max_seq_len 512 --max_batch_size 6
    ```
    (or `example_text_completion.py` to continue plain text with the base model)

    ## Known false alarms
    Only the directory name is read: a chat fine-tune saved under a base release's name (e.g. your
    own `llama-2-7b/`) is reported. Directory names that are not Meta's release names
    (`my-model/`, `llama-2-7b-sft/`), Hugging Face conversions (`*-hf`) and computed paths are
    not judged.
    """
    import posixpath

    from stacklint import cmdline

    for job in stack.training_jobs():
        if job.framework != "torchrun" or job.command is None:
            continue
        hit = cmdline.script_of(job.command)
        if hit is None:
            continue
        script = posixpath.basename(hit[0].text)
        if script not in _REF_CHAT_SCRIPTS:
            continue
        args, _ = cmdline.parse_flags(hit[1], "torchrun", job.location.path)
        ckpt = args.get("ckpt_dir")
        if ckpt is None or not isinstance(ckpt.value, str) or "$" in ckpt.value or "{" in ckpt.value:
            continue
        parts = [p for p in ckpt.value.rstrip("/").split("/") if p not in ("", ".")]
        if parts and parts[-1].lower() == "original":
            parts = parts[:-1]  # Hugging Face download layout: the reference weights sit in original/
        if not parts:
            continue
        name = parts[-1]
        if _REF_TUNED_SUFFIX.search(name) or re.search(r"(?i)[-_]hf$", name) or not re.search(r"(?i)llama", name):
            continue
        if _ref_size(name) is None or not _META_DIR.search(name):
            continue
        if script == "example_instructions.py" and not re.search(r"(?i)codellama", name):
            continue
        tuned = _ref_tuned_name(name)
        fixed = ckpt.value.replace(name, tuned, 1)
        plain = "example_completion.py" if re.search(r"(?i)codellama", name) else "example_text_completion.py"
        yield Finding(
            "SL222", ckpt.location,
            f"{script} wraps its dialogs in the chat format of Meta's fine-tuned models, but --ckpt_dir "
            f"{ckpt.value} ({ckpt.location.path}:{ckpt.location.line}) is the base (pretrained) {name} "
            f"checkpoint, which was never trained on it: it answers with empty strings, repeats or rambles "
            f"instead of following the dialog",
            hint=f"point --ckpt_dir at the chat/instruct release ({fixed}), or run {plain} "
                 f"with the base model",
            key=f"{job.location.path}|{ckpt.value}")


# -- pretraining_tp > 1 under bitsandbytes quantisation ---------------------------------------

# transformers' LlamaAttention/LlamaMLP split q/k/v/o and gate/up/down weight matrices into
# `pretraining_tp` slices (`self.q_proj.weight.split(...)` then F.linear per slice) from 4.31.0
# (2023-07-18, the Llama 2 release) until 4.47.0, which only warns that the field is deprecated
# (checked in the 4.31.0, 4.46.0, 4.47.0 and 4.47.1 wheels: models/llama/modeling_llama.py).
# bitsandbytes stores 4-bit weights flattened to (n, 1), so the slices are not matrices.
_TP_SLICING = ("4.31.0", "4.47.0")
_BNB_KW = ("load_in_4bit", "load_in_8bit")


def _bnb_load_line(stack: Stack, ref: Any) -> Optional[Tuple[int, str]]:
    """(line, how) of a bitsandbytes 4-/8-bit from_pretrained of ``ref`` in its script, else None."""
    doc = next((d for d in stack.scripts if d.path == ref.location.path), None)
    if doc is None:
        return None
    bnb = [c for c in doc.calls if c.short == "BitsAndBytesConfig" and any(
        c.kwargs.get(k) is not None and c.kwargs[k].value is True for k in _BNB_KW)]
    for call in doc.calls:
        if call.short != "from_pretrained" or call.line != ref.location.line:
            continue
        for k in _BNB_KW:
            if call.kwargs.get(k) is not None and call.kwargs[k].value is True:
                return call.line, f"{k}=True"
        if "quantization_config" in call.kwargs and bnb:
            return call.line, f"quantization_config=BitsAndBytesConfig({', '.join(k + '=True' for k in _BNB_KW if any(c.kwargs.get(k) is not None and c.kwargs[k].value is True for c in bnb))})"
    return None


@check(code="SL221", name="pretraining-tp-with-bitsandbytes", severity="error",
       category="Configuration and Parameter Setting Errors", subcategory="Inference Configuration Error",
       summary="A Llama config.json sets pretraining_tp > 1 and the model is loaded in bitsandbytes 4-/8-bit under a transformers release that slices weights by it.",
       evidence=("https://github.com/meta-llama/llama/issues/423",))
def pretraining_tp_with_bitsandbytes(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a local Llama model directory whose `config.json` sets `"pretraining_tp"` above 1
    (the first Llama-2-13b/70b(-chat)-hf uploads had 2 and 8) when a script loads it with
    `from_pretrained(..., load_in_4bit=True)` / `load_in_8bit=True` / a bitsandbytes
    `quantization_config`, or a training job loads it with `quantization_bit` 4/8 or
    `load_in_4bit`/`load_in_8bit`, and every transformers release the environment admits is one
    that splits the attention and MLP weights into `pretraining_tp` slices (4.31.0 to 4.46.x).

    ## Why is this bad?
    With `pretraining_tp > 1`, `LlamaAttention`/`LlamaMLP` run `F.linear` on
    `self.q_proj.weight.split(...)` slices. bitsandbytes keeps quantised weights flattened to
    shape `(n, 1)`, so the first forward pass fails with `RuntimeError: mat1 and mat2 shapes
    cannot be multiplied (52x8192 and 1x1024)`. The field only emulates Meta's pretraining
    tensor parallelism; 1 gives the same model.

    ## Example
    ```json
    {"model_type": "llama", "num_attention_heads": 64, "num_key_value_heads": 8, "pretraining_tp": 8}
    ```
    loaded with `AutoModelForCausalLM.from_pretrained(path, load_in_4bit=True)` and
    `transformers==4.31.0`.

    ## Use instead
    `"pretraining_tp": 1` in `config.json` (or delete the key), or `model.config.pretraining_tp = 1`
    before generating, or transformers >= 4.47.

    ## Known false alarms
    Hub ids (their config is not in the tree), environments without a transformers constraint, and
    scripts that assign `pretraining_tp = 1` themselves are not reported.
    """
    from packaging.version import Version

    from stacklint.checks._common import allowed
    from stacklint.knowledge import architectures

    rels = architectures.releases("transformers")
    lo, hi = Version(_TP_SLICING[0]), Version(_TP_SLICING[1])
    seen = set()
    quant_jobs = {}
    for job in stack.jobs:
        if job.model is None:
            continue
        qb = as_int(job.value("quantization_bit"))
        if qb in (4, 8):
            quant_jobs[id(job.model)] = (job.get("quantization_bit"), f"quantization_bit: {qb}")
        else:
            for k in _BNB_KW:
                s = job.get(k)
                if s is not None and is_true(s.value):
                    quant_jobs[id(job.model)] = (s, f"{k}: true")
    for ref in stack.models:
        md = ref.local
        if md is None or md.config is None or not isinstance(md.config.data, dict) or md.model_type != "llama":
            continue
        tp = md.config.data.get("pretraining_tp")
        if not isinstance(tp, int) or isinstance(tp, bool) or tp <= 1:
            continue
        load: Optional[Tuple[Location, str]] = None
        if id(ref) in quant_jobs and quant_jobs[id(ref)][0] is not None:
            s, how = quant_jobs[id(ref)]
            load = (s.location, how)
        else:
            hit = _bnb_load_line(stack, ref)
            if hit is not None:
                load = (Location(ref.location.path, hit[0], 1), hit[1])
        if load is None:
            continue
        tf = stack.texts.get(load[0].path)
        if tf is not None and re.search(r"pretraining_tp\W{0,3}\s*[=:]\s*1\b", tf.text):
            continue  # the loading file resets it itself
        for s in stack.environment(ref.location.path):
            for c in s.get("transformers"):
                adm = allowed(c, rels)
                if not adm or not all(lo <= Version(r) < hi for r in adm):
                    continue
                tploc = md.config.loc("pretraining_tp")
                key = (tploc.path, c.location.path, c.location.line)
                if key in seen:
                    continue
                seen.add(key)
                yield Finding(
                    "SL221", tploc,
                    f"\"pretraining_tp\": {tp} ({tploc.path}:{tploc.line}) with a bitsandbytes load ({load[1]}, "
                    f"{load[0].path}:{load[0].line}) under transformers{c.specifier} "
                    f"({c.location.path}:{c.location.line}) — transformers {_TP_SLICING[0]}..4.46 split the "
                    f"attention/MLP weights into {tp} slices, which quantised (n, 1) weights are not: the first "
                    f"forward fails with \"mat1 and mat2 shapes cannot be multiplied\"",
                    hint="set \"pretraining_tp\": 1 in config.json (or delete it), or model.config.pretraining_tp = 1",
                    related=(Related(load[0], f"bitsandbytes load ({load[1]})"),
                             Related(c.location, f"transformers{c.specifier}")),
                    key=f"{md.dir}|{c.location.path}:{c.location.line}")


# -- DeepSpeed scheduler block vs the Trainer's lr_scheduler_type ------------------------------

# Trainer schedules that decay the learning rate after warm-up (transformers SchedulerType).
_DECAYING_SCHEDULES = frozenset({"linear", "cosine", "cosine_with_restarts", "polynomial", "inverse_sqrt",
                                 "cosine_with_min_lr", "cosine_warmup_with_min_lr", "warmup_stable_decay"})


def _trainer_schedule(job: Job) -> Optional[Tuple[Setting, Setting]]:
    """(lr_scheduler_type, deepspeed config path) a Hugging Face Trainer job states explicitly:
    the flags of a Trainer script launched from a shell file, or a LLaMA-Factory YAML."""
    args = job.extra.get("script_args") or {}
    if args:
        sched, ds = args.get("lr_scheduler_type"), args.get("deepspeed")
    elif job.framework == "llamafactory" and job.doc is not None and isinstance(job.doc.data, dict) \
            and "lr_scheduler_type" in job.doc.data:
        sched = Setting(job.doc.data["lr_scheduler_type"], job.doc.loc("lr_scheduler_type"), "lr_scheduler_type")
        ds = job.get("deepspeed")
    else:
        return None
    if sched is None or ds is None or not isinstance(sched.value, str) or not isinstance(ds.value, str):
        return None
    return sched, ds


def _ds_doc_named(stack: Stack, job: Job, ref: str) -> Optional[Any]:
    """The DeepSpeed JSON ``ref`` names, relative to the job's file or one of its ancestors."""
    from stacklint.model import ancestor_dirs

    if "$" in ref or not ref.endswith(".json"):
        return None
    for d in ancestor_dirs(job.location.path):
        docs = stack.docs.get(_norm(d, ref))
        if docs:
            return docs[0]
    return None


@check(code="SL210", name="deepspeed-scheduler-overrides-lr-scheduler-type", severity="warning",
       category="Configuration and Parameter Setting Errors", subcategory="Fine-tuning Configuration Error",
       summary="A Trainer job asks for a decaying lr_scheduler_type, but its DeepSpeed config's WarmupLR scheduler replaces it and holds the learning rate constant after warm-up.",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/577",))
def deepspeed_scheduler_overrides_lr_scheduler_type(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a Hugging Face Trainer fine-tuning job (a Trainer script launched by torchrun /
    deepspeed / accelerate / python with `--lr_scheduler_type`, or a LLaMA-Factory YAML) that asks
    for a decaying schedule (`cosine`, `linear`, ...) while the DeepSpeed config it passes with
    `--deepspeed` has a `"scheduler"` block of type `WarmupLR`.

    ## Why is this bad?
    When the DeepSpeed config has a `scheduler` entry, the Trainer does not build its own
    scheduler: DeepSpeed's runs instead and `--lr_scheduler_type` is silently ignored. `WarmupLR`
    ramps the learning rate up over the warm-up steps and then holds it at the peak for the rest of
    training, so the cosine/linear decay never happens (the learning-rate curve stays flat at
    `--learning_rate`). Qwen's own `finetune.sh` + `ds_config_zero3.json` ship this pair.

    ## Example
    ```
    torchrun ... finetune.py --learning_rate 1e-5 --lr_scheduler_type "cosine" \\
        --deepspeed ds_config_zero3.json
    ds_config_zero3.json: "scheduler": {"type": "WarmupLR", "params": {"warmup_max_lr": "auto", ...}}
    ```

    ## Use instead
    Delete the `"scheduler"` block from the DeepSpeed config, so that the Trainer builds the
    schedule `--lr_scheduler_type` names (a DeepSpeed optimizer with a Trainer scheduler is a
    supported pair), or pick a DeepSpeed scheduler that decays (`WarmupDecayLR`).

    ## Known false alarms
    None known. Not reported: `constant` / `constant_with_warmup` schedules (what WarmupLR does),
    jobs that leave `lr_scheduler_type` at its default, and DeepSpeed schedulers other than WarmupLR.
    """
    for job in stack.training_jobs():
        got = _trainer_schedule(job)
        if got is None:
            continue
        sched, ds = got
        name = sched.value.strip().strip("\"'").lower()
        if name not in _DECAYING_SCHEDULES:
            continue
        doc = _ds_doc_named(stack, job, ds.value.strip().strip("\"'"))
        if doc is None or not isinstance(doc.data, dict):
            continue
        block = doc.data.get("scheduler")
        if not isinstance(block, dict) or str(block.get("type", "")).lower() != "warmuplr":
            continue
        sloc = doc.loc("scheduler", "type") if "type" in block else doc.loc("scheduler")
        yield Finding(
            "SL210", sched.location,
            f"lr_scheduler_type \"{name}\" is ignored: the DeepSpeed config {doc.path} "
            f"({ds.location.path}:{ds.location.line}) defines \"scheduler\": WarmupLR ({sloc.path}:{sloc.line}), "
            f"which the Trainer runs instead of its own scheduler — WarmupLR holds the learning rate "
            f"constant after warm-up, so it never decays",
            hint=f"delete the \"scheduler\" block from {doc.path} (the Trainer then builds the {name} "
                 f"schedule), or use a decaying DeepSpeed scheduler such as WarmupDecayLR",
            related=(Related(sloc, "DeepSpeed WarmupLR scheduler"),
                     Related(ds.location, f"DeepSpeed config {doc.path} named here")),
            key=f"{sched.location.path}:{sched.location.line}|{doc.path}")


# -- transformers 4.38.x Trainer logs DeepSpeed's tensor grad norm, which JSON cannot save ------

# transformers 4.38.0-4.38.2 (trainer.py _inner_training_loop) set `grad_norm =
# model.get_global_grad_norm()` under DeepSpeed and log it as is; 4.39.0 calls .item() on it
# (huggingface/transformers#29568, which names QwenLM/Qwen#1115). DeepSpeed returns a tensor there
# from 0.13.2 for ZeRO-1/2 (stage_1_and_2.py get_grad_norm_direct / scaled_global_norm) and from
# 0.13.1 for ZeRO-3 (stage3.py); 0.12.6 / 0.13.1 (ZeRO-2) return Python floats (sdists on PyPI).
_GRADNORM_TRANSFORMERS = ("4.38.0", "4.38.1", "4.38.2")
_GRADNORM_FIXED = "4.39.0"
_GRADNORM_DS_TENSOR = {1: "0.13.2", 2: "0.13.2", 3: "0.13.1"}
_TRAINER_FRAMEWORKS = frozenset({"llamafactory", "axolotl", "transformers", "trl"})


@check(code="SL117", name="transformers-438-deepspeed-grad-norm-not-serializable", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="A Trainer job runs under DeepSpeed ZeRO with transformers 4.38.x, which logs DeepSpeed's grad-norm tensor and fails to save the trainer state as JSON.",
       evidence=("https://github.com/QwenLM/Qwen/issues/1115",
                 "https://github.com/QwenLM/Qwen2.5/issues/124",
                 "https://github.com/QwenLM/Qwen2.5/issues/118"))
def transformers_438_deepspeed_grad_norm(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports the transformers requirement of a Hugging Face Trainer fine-tuning job (a Trainer
    script launched with `--deepspeed ds.json`, `TrainingArguments(deepspeed=...)`, LLaMA-Factory,
    axolotl) whose DeepSpeed config uses ZeRO stage 1, 2 or 3, when every transformers release
    the job's environment admits is 4.38.0, 4.38.1 or 4.38.2 and the deepspeed requirement (if
    any) admits a release that returns the gradient norm as a tensor (0.13.2+ for ZeRO-1/2,
    0.13.1+ for ZeRO-3).

    ## Why is this bad?
    Under DeepSpeed, transformers 4.38 takes the gradient norm from
    `model.get_global_grad_norm()` and logs it unconverted; current DeepSpeed returns a CUDA
    tensor there. Training runs (the log shows `'grad_norm': tensor(0.0652, device='cuda:0')`),
    but the first checkpoint save, or `trainer.save_state()` at the end, stops with "TypeError:
    Object of type Tensor is not JSON serializable" in `TrainerState.save_to_json`, losing the
    run. transformers 4.39.0 converts the tensor with `.item()`.

    ## Example
    ```
    # requirements.txt: transformers==4.38.2, deepspeed
    python finetune.py --model_name_or_path Qwen/Qwen-7B-Chat-Int4 --use_lora --q_lora \\
        --deepspeed finetune/ds_config_zero2.json        # "zero_optimization": {"stage": 2}
    ```

    ## Use instead
    `transformers>=4.39.0` (or `<4.38.0`), or pin deepspeed below the release that returns a
    tensor (`deepspeed<0.13.2` for ZeRO-1/2).

    ## Known false alarms
    Only reported when the transformers pin admits nothing but 4.38.x and the DeepSpeed config is
    in the tree; jobs with `--max_grad_norm 0` (no norm is computed) are skipped.
    """
    from stacklint.checks._common import V, confining_pin
    from stacklint.knowledge import packages

    tf_known: Any = None
    ds_known: Any = None
    seen: set = set()
    for job in stack.training_jobs():
        args = job.extra.get("script_args") or {}
        if not args and job.framework not in _TRAINER_FRAMEWORKS:
            continue
        mgn = args.get("max_grad_norm") if args else job.get("max_grad_norm")
        if mgn is not None and isinstance(mgn.value, (str, int, float)) and not isinstance(mgn.value, bool):
            try:
                if float(str(mgn.value).strip("\"'")) <= 0:
                    continue
            except ValueError:
                pass
        doc = deepspeed_doc(stack, job)
        zo = doc.data.get("zero_optimization") if doc is not None and isinstance(doc.data, dict) else None
        stage = as_int(zo.get("stage")) if isinstance(zo, dict) and zo.get("stage") is not None else None
        if stage not in _GRADNORM_DS_TENSOR:
            continue
        assert doc is not None
        if tf_known is None:  # the release tables load only for a Trainer job under ZeRO
            tf_known, ds_known = packages.releases("transformers"), packages.releases("deepspeed")
        floor = V(_GRADNORM_DS_TENSOR[stage])
        pin = confining_pin(stack, job.location.path, "transformers", tf_known, lambda v: v in _GRADNORM_TRANSFORMERS)
        # a deepspeed pinned below the release that returns a tensor grad norm keeps the job safe
        ds_old = confining_pin(stack, job.location.path, "deepspeed", ds_known, lambda v: V(v) < floor)
        if pin is None or ds_old is not None:
            continue
        key = f"{pin.location.path}:{pin.location.line}|{doc.path}"
        if key in seen:
            continue
        seen.add(key)
        sloc = doc.loc("zero_optimization", "stage")
        remedy = f"require transformers>={_GRADNORM_FIXED} (or <4.38.0)"
        yield Finding(
            "SL117", pin.location,
            f"{pin.raw.strip()} admits only transformers 4.38.x, whose Trainer logs DeepSpeed's gradient norm "
            f"as a tensor for this ZeRO-{stage} job ({job.location.path}:{job.location.line}, {doc.path}): "
            f"saving the first checkpoint or the trainer state fails with \"TypeError: Object of type Tensor "
            f"is not JSON serializable\" — {remedy}",
            hint=remedy,
            related=(Related(job.location, "Trainer job under DeepSpeed"),
                     Related(sloc, f"ZeRO stage {stage}")),
            key=key)
