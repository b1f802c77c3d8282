"""Serving configuration, parallelism, context limits, quantisation and memory (SL2xx, SL3xx, SL5xx, SL7xx).

Every rule reads the serving jobs of the stack (vLLM, SGLang and TGI launches in Dockerfiles, compose
files, Kubernetes manifests, shell scripts, ``docker run`` lines and Python ``LLM(...)`` calls) and the
served model's ``config.json`` (a local model directory, or the knowledge record of a hub id).
"""
from __future__ import annotations

import posixpath
import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

from stacklint.checks._values import as_int  # noqa: F401 - re-exported for tests
from stacklint.findings import Finding, Location, Related
from stacklint.model import Job, ModelRef, Setting, Stack
from stacklint.registry import check

# Rules marked ``preview=True`` work and are unit-tested, but no record of the failure dataset has
# been verified as their evidence yet (their sources are the engines' own code and docs): they run
# only with ``--preview``.


# -- small value helpers -------------------------------------------------------------------------




def as_float(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?(\d+\.?\d*|\.\d+)([eE]-?\d+)?\s*", value):
        return float(value)
    return None


def _where(loc: Location) -> str:
    return "--gpu" if loc.path == "--gpu" else f"{loc.path}:{loc.line}"


# -- settings of a serving job, by engine ---------------------------------------------------------

_TP_KEYS = {"vllm": ("tensor_parallel_size",), "sglang": ("tp_size", "tensor_parallel_size"),
            "tgi": ("num_shard",)}
_PP_KEYS = {"vllm": ("pipeline_parallel_size",), "sglang": ("pp_size", "pipeline_parallel_size")}
_LEN_KEYS = {"vllm": ("max_model_len",), "sglang": ("context_length",)}
_QUANT_KEYS = {"vllm": ("quantization",), "sglang": ("quantization",)}
_MEM_KEYS = {"vllm": ("gpu_memory_utilization",), "sglang": ("mem_fraction_static",),
             "tgi": ("cuda_memory_fraction",)}
_MEM_DEFAULT = {"vllm": 0.9, "sglang": 0.9, "tgi": 1.0}


def job_setting(stack: Stack, job: Job, *keys: str) -> Optional[Setting]:
    """A setting of the job; for a ``vllm serve --config x.yaml`` launch, a key the command line
    does not give is read from that YAML file (vLLM merges it under the command-line flags)."""
    for k in keys:
        s = job.get(k)
        if s is not None:
            return s
    cfg = job.get("config")
    if job.framework == "vllm" and cfg is not None and isinstance(cfg.value, str):
        doc = _config_doc(stack, job, cfg.value)
        if doc is not None and isinstance(doc.data, dict):
            for k in keys:
                for spelled in (k, k.replace("_", "-")):
                    if spelled in doc.data:
                        return Setting(doc.data[spelled], doc.loc(spelled), spelled)
    return None


def _config_doc(stack: Stack, job: Job, ref: str) -> Any:
    base = job.location.path.rsplit("/", 1)[0] if "/" in job.location.path else "."
    cands = [posixpath.normpath(posixpath.join(base, ref))] if not ref.startswith("/") else []
    name = ref.rsplit("/", 1)[-1]
    cands += [p for p in stack.docs if p.rsplit("/", 1)[-1] == name and p.startswith(base if base != "." else "")]
    for p in cands:
        docs = stack.docs.get(p)
        if docs:
            return docs[0]
    return None


def tp_pp(stack: Stack, job: Job) -> Tuple[Optional[Setting], int, Optional[Setting], int]:
    tp_s = job_setting(stack, job, *_TP_KEYS.get(job.framework, ()))
    pp_s = job_setting(stack, job, *_PP_KEYS.get(job.framework, ())) if job.framework in _PP_KEYS else None
    tp = as_int(tp_s.value) if tp_s is not None else 1
    pp = as_int(pp_s.value) if pp_s is not None else 1
    return tp_s, (tp if tp is not None else 0), pp_s, (pp if pp is not None else 0)


# -- facts about the served model ----------------------------------------------------------------

_FIELD_KEYS: Dict[str, Tuple[str, ...]] = {
    "num_attention_heads": ("num_attention_heads", "n_head", "n_heads"),
    "num_key_value_heads": ("num_key_value_heads", "num_kv_heads", "n_kv_heads"),
    "intermediate_size": ("intermediate_size", "ffn_hidden_size"),
    "max_position_embeddings": ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length",
                                "max_sequence_length"),
}


def model_fact(ref: Optional[ModelRef], field: str) -> Optional[Tuple[Any, Location]]:
    """A config.json value of the served model (its text model's, for multimodal wrappers)."""
    if ref is None:
        return None
    keys = _FIELD_KEYS.get(field, (field,))
    data = ref.local.config.data if ref.local is not None and ref.local.config is not None else None
    if isinstance(data, dict):
        for k in keys:
            if k in data and data[k] is not None:
                return data[k], ref.local.config.loc(k)  # type: ignore[union-attr]
        for outer in ("text_config", "llm_config", "language_config"):
            tc = data.get(outer)
            if isinstance(tc, dict):
                for k in keys:
                    if k in tc and tc[k] is not None:
                        return tc[k], ref.local.config.loc(outer, k)  # type: ignore[union-attr]
        if field == "num_key_value_heads" and data.get("multi_query_attention") and "multi_query_group_num" in data:
            return data["multi_query_group_num"], ref.local.config.loc("multi_query_group_num")  # ChatGLM
        return None
    if ref.checkpoint:
        v = ref.checkpoint.get(field)
        if v is not None:
            return v, ref.location
    return None


def model_quant(stack: Stack, ref: Optional[ModelRef]) -> Optional[Tuple[Optional[Dict[str, Any]], Location]]:
    """The checkpoint's quantisation config: ``(dict, where)``; ``(None, where)`` when the model is
    known to be unquantised (a local directory whose config.json has none and no quantize_config.json);
    ``None`` when unknown."""
    if ref is None:
        return None
    if ref.local is not None and ref.local.config is not None and isinstance(ref.local.config.data, dict):
        data = ref.local.config.data
        for key in ("quantization_config", "compression_config"):
            if isinstance(data.get(key), dict):
                return data[key], ref.local.config.loc(key)
        for name in ("quantize_config.json", "quant_config.json", "quantization_config.json", "hqq_config.json"):
            if name in ref.local.names:
                docs = stack.docs.get(f"{ref.local.dir}/{name}" if ref.local.dir != "." else name)
                if docs and isinstance(docs[0].data, dict):
                    q = dict(docs[0].data)
                    q.setdefault("quant_method", "awq" if name == "quant_config.json" else "gptq")
                    return q, docs[0].loc()
                return {}, ref.local.config.loc()
        if any(n.endswith(".gguf") for n in ref.local.names):
            return None
        return None, ref.local.config.loc()
    if ref.checkpoint and "quantization" in ref.checkpoint:
        q = ref.checkpoint["quantization"]
        return (q if isinstance(q, dict) else None), ref.location
    return None


def quant_method_of(q: Dict[str, Any]) -> Optional[str]:
    m = q.get("quant_method")
    if isinstance(m, str) and m:
        m = m.strip().lower()
        if m == "compressed_tensors":
            m = "compressed-tensors"
        return m
    return None


def group_size_of(q: Dict[str, Any]) -> Optional[int]:
    for k in ("group_size", "q_group_size"):
        g = as_int(q.get(k))
        if g is not None:
            return g
    return None


# -- GPUs: visible to a job, and the target model ------------------------------------------------

_CVD = re.compile(r"""(?:^|[\s;])(?:export\s+)?CUDA_VISIBLE_DEVICES=["']?([0-9][0-9,\s]*)["']?(?=\s|;|$)""", re.M)
_PY_CVD = re.compile(r"""os\.environ\[\s*["']CUDA_VISIBLE_DEVICES["']\s*\]\s*=\s*["']([0-9][0-9,\s]*)["']""")


def _device_list(text: str) -> Optional[int]:
    text = text.strip().strip("'\"")
    if not text or not re.fullmatch(r"\d+(\s*,\s*\d+)*\s*,?", text):
        return None
    return len([x for x in text.split(",") if x.strip()])


def visible_gpus(stack: Stack, job: Job) -> Optional[Tuple[int, Location, str]]:
    """How many GPUs the job can see, where that is decided, and how (or None if unknown)."""
    out: List[Tuple[int, Location, str]] = []
    cvd = job.env.get("CUDA_VISIBLE_DEVICES")
    if cvd is not None:
        n = _device_list(cvd)
        if n is None:
            return None
        where = job.location
        if job.doc is not None and job.extra.get("service_path"):
            where = job.doc.loc(*job.extra["service_path"], "environment")
        out.append((n, where, f"CUDA_VISIBLE_DEVICES={cvd}"))
    elif job.context in ("shell", "python"):
        tf = stack.texts.get(job.location.path)
        if tf is not None:
            rx = _CVD if job.context == "shell" else _PY_CVD
            values = {(m.group(1).strip(), tf.text.count("\n", 0, m.start(1)) + 1) for m in rx.finditer(tf.text)}
            if len({v for v, _ in values}) == 1 and "CUDA_VISIBLE_DEVICES=$" not in tf.text:
                value, line = sorted(values, key=lambda x: x[1])[0]
                if line <= job.location.line or job.context == "python":
                    n = _device_list(value)
                    if n is not None:
                        out.append((n, Location(job.location.path, line, 1), f"CUDA_VISIBLE_DEVICES={value}"))
    if job.gpus is not None:
        n = as_int(job.gpus.value)
        if n is None:
            if not out:
                return None
        else:
            how = {"nvidia.com/gpu": f"nvidia.com/gpu: {n}", "count": f"count: {n}",
                   "device_ids": f"device_ids ({n})", "--gpus": f"--gpus {job.extra.get('gpus_text', n)}"}
            out.append((n, job.gpus.location, how.get(job.gpus.key, f"{job.gpus.key}={n}")))
    if not out:
        return None
    return min(out, key=lambda x: x[0])


_MULTINODE_KINDS = ("leaderworkerset", "raycluster", "rayservice", "rayjob", "rayclusterfleet", "jobset")
_MULTINODE_TEXT = re.compile(r"leaderworkerset|podgroupsize|ray\s+start|lws_leader|lws_worker|multihost|"
                             r"--nnodes|--node-rank|--dist-init-addr|--headless|--data-parallel-address|"
                             r"workergroupspecs|leaderworkertemplate|kuberay|\bray\.io\b", re.I)


def multi_node(stack: Stack, job: Job) -> bool:
    """The job is one of several pods / nodes that together hold the model (NOTES.md of the corpus):
    LeaderWorkerSet, Ray clusters, pod groups, multi-host samples, ``--nnodes``."""
    kind = str(job.extra.get("k8s_kind") or "").lower()
    if any(k in kind for k in _MULTINODE_KINDS):
        return True
    for k in ("nnodes", "node_rank", "dist_init_addr", "headless", "data_parallel_address", "master_addr"):
        if job.get(k) is not None:
            return True
    backend = job.get("distributed_executor_backend")
    if backend is not None and str(backend.value).lower() == "ray":
        return True
    tf = stack.texts.get(job.location.path)
    if tf is not None and _MULTINODE_TEXT.search(tf.text):
        return True
    return "multihost" in job.location.path.lower() or "multi-node" in job.location.path.lower()


def target_gpu(stack: Stack, job: Job) -> Optional[Tuple[Setting, Dict[str, Any]]]:
    """The one GPU model the job runs on: ``--gpu`` / ``[target] gpu``, or a node selector, SkyPilot
    accelerator or Slurm --gres in the job's own file. None when unknown or ambiguous."""
    from stacklint.knowledge import hardware

    found: Dict[str, Tuple[Setting, Dict[str, Any]]] = {}
    for s in stack.gpus:
        if s.key == "config" or s.location.path == job.location.path:
            rec = hardware.gpu(str(s.value)) if isinstance(s.value, str) else None
            if rec is not None:
                found.setdefault(rec["name"], (s, rec))
            if s.key == "config" and rec is not None:
                return s, rec
    if len(found) == 1:
        return next(iter(found.values()))
    return None


def _ref_label(job: Job) -> str:
    return job.model.ref if job.model is not None else "the model"


def _is_placeholder(s: Setting) -> bool:
    return isinstance(s.value, str) and ("$" in s.value or "{" in s.value)


# ================================================================================================
# SL503 tensor parallel size vs attention heads
# ================================================================================================

@check(code="SL503", name="tensor-parallel-size-does-not-divide-heads", severity="error",
       category="Distributed and Parallel Computing Issues", subcategory="Model Parallelism Mismatch",
       summary="The serving tensor-parallel size does not divide the model's attention heads (or its KV heads).",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/668",
                 "https://github.com/vllm-project/vllm/issues/2652"))
def tensor_parallel_size_does_not_divide_heads(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Compares the tensor-parallel size of a vLLM (`--tensor-parallel-size`, `LLM(tensor_parallel_size=)`),
    SGLang (`--tp-size`) or TGI (`--num-shard`) launch with `num_attention_heads` and
    `num_key_value_heads` of the served model's config.json (a local model directory or a known hub id).

    ## Why is this bad?
    Each GPU holds an equal share of the attention heads. vLLM refuses to start with
    `ValueError: Total number of attention heads (28) must be divisible by tensor parallel size (8)`;
    SGLang and TGI assert the same. KV heads are replicated when the TP size is a multiple of their
    number (Qwen2.5-7B: 4 KV heads at TP 8 works), so only a KV-head count that neither divides nor
    is divided by the TP size fails.

    ## Example
    ```sh
    vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 8   # 28 heads
    ```

    ## Use instead
    ```sh
    vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 4   # or 2, or 7
    ```

    ## Known false alarms
    Not reported: SGLang with `--enable-dp-attention` (attention is split over the data-parallel
    ranks), placeholders, and models whose head counts are unknown.
    """
    for job in stack.serving_jobs():
        tp_s, tp, _, _ = tp_pp(stack, job)
        if tp_s is None or tp <= 1 or job.get("enable_dp_attention") is not None:
            continue
        heads = model_fact(job.model, "num_attention_heads")
        if heads is None or as_int(heads[0]) is None:
            continue
        h, h_loc = as_int(heads[0]), heads[1]
        assert h is not None
        if h % tp != 0:
            valid = [d for d in range(1, h + 1) if h % d == 0 and d <= 16]
            yield Finding(
                "SL503", tp_s.location,
                f"tensor-parallel size {tp} ({_where(tp_s.location)}) does not divide the {h} attention heads of "
                f"{_ref_label(job)} ({_where(h_loc)}) — {job.framework} refuses to start (\"Total number of attention "
                f"heads ({h}) must be divisible by tensor parallel size ({tp})\")",
                hint=f"use a tensor-parallel size that divides {h}: {', '.join(map(str, valid))}",
                related=(Related(h_loc, f"num_attention_heads {h}"),), key=f"heads|{h}|{tp}")
            continue
        kv = model_fact(job.model, "num_key_value_heads")
        k = as_int(kv[0]) if kv is not None else None
        if kv is None or k is None or k <= 0:
            continue
        if k % tp != 0 and tp % k != 0:
            yield Finding(
                "SL503", tp_s.location,
                f"tensor-parallel size {tp} ({_where(tp_s.location)}) neither divides nor is a multiple of the {k} "
                f"key/value heads of {_ref_label(job)} ({_where(kv[1])}) — the KV heads cannot be split or replicated "
                f"evenly and the engine fails while building the attention layers",
                hint=f"use a tensor-parallel size that divides {k} or is a multiple of it",
                related=(Related(kv[1], f"num_key_value_heads {k}"),), key=f"kv|{k}|{tp}")


# ================================================================================================
# SL504 TP x PP larger than the visible GPUs
# ================================================================================================

@check(code="SL504", name="parallel-size-exceeds-visible-gpus", severity="error",
       category="Distributed and Parallel Computing Issues", subcategory="Model Parallelism Mismatch",
       summary="Tensor-parallel × pipeline-parallel size is larger than the GPUs the serving job is given.",
       evidence=("https://github.com/vllm-project/vllm/blob/v0.6.3/vllm/executor/ray_utils.py",), preview=True)
def parallel_size_exceeds_visible_gpus(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Multiplies the tensor- and pipeline-parallel sizes of a serving launch and compares the product
    with the GPUs the launch can see: `CUDA_VISIBLE_DEVICES` (command prefix, `export` in the same
    script, compose `environment`, `os.environ[...]` in the script), compose `deploy.resources`
    `count` / `device_ids`, Kubernetes `nvidia.com/gpu` limits and `docker run --gpus`.

    ## Why is this bad?
    One process per GPU is started for TP × PP ranks on one node. With fewer GPUs visible, vLLM
    fails (`The number of required GPUs exceeds the total number of available GPUs in the placement
    group`, or CUDA `invalid device ordinal`) and SGLang/TGI crash when the extra ranks start.

    ## Example
    ```sh
    CUDA_VISIBLE_DEVICES=0,1 vllm serve Qwen/Qwen2.5-72B-Instruct --tensor-parallel-size 4
    ```

    ## Use instead
    ```sh
    CUDA_VISIBLE_DEVICES=0,1,2,3 vllm serve Qwen/Qwen2.5-72B-Instruct --tensor-parallel-size 4
    ```

    ## Known false alarms
    Not reported for jobs that span several pods or nodes: LeaderWorkerSet, Ray clusters and
    `--distributed-executor-backend ray`, pod groups, multi-host samples, `--nnodes` / `--headless`.
    Requesting more GPUs than TP × PP wastes GPUs but does not break, and is not reported.
    """
    for job in stack.serving_jobs():
        tp_s, tp, pp_s, pp = tp_pp(stack, job)
        if tp_s is None and pp_s is None:
            continue
        world = tp * pp
        if world <= 1:
            continue
        vis = visible_gpus(stack, job)
        if vis is None:
            continue
        n, where, how = vis
        if n >= world or n == 0 and "count" not in how:
            continue
        if multi_node(stack, job):
            continue
        src = tp_s or pp_s
        assert src is not None
        parts = f"tensor-parallel {tp}" + (f" × pipeline-parallel {pp}" if pp > 1 else "")
        yield Finding(
            "SL504", src.location,
            f"{parts} = {world} GPUs ({_where(src.location)}) but the job sees only {n} ({how}, {_where(where)}) — "
            f"{job.framework} cannot place {world} workers and fails at start-up",
            hint=f"make {world} GPUs visible, or lower the parallel size to {n}",
            related=(Related(where, f"{n} GPU(s) visible"),), key=f"{world}|{n}")


# ================================================================================================
# SL203 max_model_len beyond the model's context
# ================================================================================================

_NO_SCALE_TYPES = {"su", "longrope", "llama3", "mrope", "default"}


def derived_context(job: Job) -> Optional[Tuple[int, Location, str]]:
    """vLLM's derived maximum length: max_position_embeddings (or the smallest of its synonyms),
    times the rope_scaling factor (yarn: of original_max_position_embeddings)."""
    mp = model_fact(job.model, "max_position_embeddings")
    if mp is None or as_int(mp[0]) is None:
        return None
    derived, loc = as_int(mp[0]), mp[1]
    assert derived is not None
    how = f"max_position_embeddings={derived}"
    rs = model_fact(job.model, "rope_scaling")
    if rs is not None and isinstance(rs[0], dict):
        rtype = str(rs[0].get("rope_type", rs[0].get("type", ""))).lower()
        factor = as_float(rs[0].get("factor"))
        if rtype in _NO_SCALE_TYPES:
            return derived, loc, how
        if factor is None or rtype not in ("linear", "dynamic", "yarn", "ntk", "dynamic-yarn", "deepseek_yarn"):
            return None  # a scaling stacklint does not model: unknown
        if rtype in ("yarn", "deepseek_yarn") and as_int(rs[0].get("original_max_position_embeddings")):
            base = as_int(rs[0]["original_max_position_embeddings"])
            assert base is not None
            derived = int(base * factor)
            how = f"original_max_position_embeddings={base} × rope_scaling factor {factor:g}"
        else:
            derived = int(derived * factor)
            how = f"{how} × rope_scaling factor {factor:g}"
        loc = rs[1]
    mml = model_fact(job.model, "model_max_length")
    if mml is not None and as_int(mml[0]) is not None and as_int(mml[0]) > derived:  # type: ignore[operator]
        return None  # vLLM also accepts up to config.json model_max_length
    return derived, loc, how


@check(code="SL203", name="max-model-len-beyond-model-context", severity="error",
       category="Configuration and Parameter Setting Errors", subcategory="Inference Configuration Error",
       summary="The serving max_model_len / context length exceeds the model's max_position_embeddings (and RoPE scaling).",
       evidence=("https://github.com/vllm-project/vllm/issues/8793",), preview=True)
def max_model_len_beyond_model_context(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Compares vLLM `--max-model-len` (`LLM(max_model_len=)`, `max-model-len` in a `--config` YAML)
    and SGLang `--context-length` with the context the served model's config.json allows:
    `max_position_embeddings`, multiplied by the `rope_scaling` factor when one is configured
    (YaRN: `original_max_position_embeddings` × factor), as vLLM derives it.

    ## Why is this bad?
    vLLM refuses to start: `User-specified max_model_len (131072) is greater than the derived
    max_model_len (max_position_embeddings=32768 ...)` unless `VLLM_ALLOW_LONG_MAX_MODEL_LEN=1` is
    set; SGLang likewise unless `SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN=1`. Forcing it produces
    garbage past the trained length: long context needs the model's RoPE scaling (for Qwen2.5, a
    `rope_scaling` YaRN block in config.json).

    ## Example
    ```sh
    vllm serve Qwen/Qwen2.5-7B-Instruct --max-model-len 131072
    ```

    ## Use instead
    ```sh
    vllm serve Qwen/Qwen2.5-7B-Instruct --max-model-len 131072 \\
      --rope-scaling '{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}'
    ```

    ## Known false alarms
    Not reported when the override variables above are set, when the launch passes
    `--rope-scaling` / `--hf-overrides` / `--json-model-override-args`, for RoPE scaling types whose
    effect stacklint does not model, or when config.json's `model_max_length` is larger.
    """
    for job in stack.serving_jobs():
        s = job_setting(stack, job, *_LEN_KEYS.get(job.framework, ()))
        if s is None:
            continue
        want = as_int(s.value)
        if want is None:
            m = re.fullmatch(r"\s*(\d+)\s*[kK]\s*", str(s.value))
            want = int(m.group(1)) * 1024 if m else None
        if want is None:
            continue
        if any(job.get(k) is not None for k in ("rope_scaling", "hf_overrides", "json_model_override_args",
                                                   "rope_theta", "override_config")):
            continue
        env = " ".join(f"{k}={v}" for k, v in job.env.items())
        tf = stack.texts.get(job.location.path)
        text = env + (tf.text if tf is not None else "")
        if "VLLM_ALLOW_LONG_MAX_MODEL_LEN" in text or "SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN" in text:
            continue
        d = derived_context(job)
        if d is None:
            continue
        derived, loc, how = d
        if want <= derived:
            continue
        yield Finding(
            "SL203", s.location,
            f"{s.key or 'max_model_len'} {want} ({_where(s.location)}) is larger than the context of {_ref_label(job)}: "
            f"{how} = {derived} ({_where(loc)}) — {job.framework} refuses to start (\"User-specified max_model_len "
            f"({want}) is greater than the derived max_model_len\")",
            hint=f"lower it to {derived}, or configure the model's RoPE scaling (YaRN) for a longer context",
            related=(Related(loc, how),), key=f"{want}|{derived}")


# ================================================================================================
# SL303 --quantization disagrees with the checkpoint
# ================================================================================================

_QUANT_FAMILIES: Dict[str, Tuple[str, ...]] = {
    "awq": ("awq",), "awq_marlin": ("awq",), "gptq": ("gptq",), "gptq_marlin": ("gptq",),
    "gptq_marlin_24": ("gptq",), "gptq_bitblas": ("gptq",), "bitblas": ("gptq",),
    "marlin": ("gptq", "awq"), "moe_wna16": ("gptq", "awq"),
    "fp8": ("fp8",), "fbgemm_fp8": ("fp8",),
    "bitsandbytes": ("bnb",), "compressed-tensors": ("ct",), "compressed_tensors": ("ct",),
    "gguf": ("gguf",), "aqlm": ("aqlm",), "squeezellm": ("squeezellm",), "hqq": ("hqq",), "eetq": ("eetq",),
    "exl2": ("exl2",),
}
# Methods that need the checkpoint's own quantisation files (not in-flight quantisation).
_NEEDS_QUANTIZED_CKPT = {"awq", "awq_marlin", "gptq", "gptq_marlin", "gptq_marlin_24", "marlin", "aqlm",
                         "squeezellm", "compressed-tensors", "compressed_tensors", "gptq_bitblas", "exl2"}


@check(code="SL303", name="quantization-flag-disagrees-with-checkpoint", severity="error",
       category="Data and Computation Issues", subcategory="Quantization Compatibility Issues",
       summary="The serving --quantization method differs from the quantisation the checkpoint was saved with.",
       evidence=("https://github.com/vllm-project/vllm/blob/v0.6.3/vllm/config.py",), preview=True)
def quantization_flag_disagrees_with_checkpoint(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Compares vLLM / SGLang `--quantization` (`LLM(quantization=)`) with the `quant_method` of the
    served checkpoint's `quantization_config` (or its `quantize_config.json` / `quant_config.json`),
    and reports a method of another family (`awq` on a GPTQ checkpoint, `gptq` on an FP8 one), or a
    pre-quantised method (`awq`, `gptq`, `marlin`) on a local model directory that is not quantised.

    ## Why is this bad?
    vLLM raises `ValueError: Quantization method specified in the model config (gptq) does not match
    the quantization method specified in the quantization argument (awq)`; on an unquantised
    checkpoint it fails looking for the quantisation file (`Cannot find the config file for awq`).

    ## Example
    ```sh
    vllm serve Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4 --quantization awq
    ```

    ## Use instead
    ```sh
    vllm serve Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4     # the method is read from the checkpoint
    ```

    ## Known false alarms
    Kernel variants of the same format are accepted (`gptq_marlin`/`marlin` on GPTQ, `awq_marlin` on
    AWQ), as are in-flight methods on unquantised weights (`fp8`, `bitsandbytes`, `experts_int8`).
    Hub ids whose quantisation stacklint does not know are not judged.
    """
    for job in stack.serving_jobs():
        if job.framework not in _QUANT_KEYS:
            continue
        s = job_setting(stack, job, *_QUANT_KEYS[job.framework])
        if s is None or not isinstance(s.value, str) or _is_placeholder(s):
            continue
        user = s.value.strip().lower()
        if user in ("none", "", "null"):
            continue
        q = model_quant(stack, job.model)
        if q is None:
            continue
        qcfg, qloc = q
        if qcfg is None:
            if user in _NEEDS_QUANTIZED_CKPT:
                yield Finding(
                    "SL303", s.location,
                    f"--quantization {user} ({_where(s.location)}) but {_ref_label(job)} is not a {user} checkpoint: "
                    f"its config.json ({_where(qloc)}) has no quantization_config and the directory no quantisation file — "
                    f"{job.framework} fails to load it (\"Cannot find the config file for {user}\")",
                    hint=f"serve a {user}-quantised checkpoint, or drop --quantization (or use an in-flight method such as fp8)",
                    related=(Related(qloc, "no quantization_config"),), key=f"none|{user}")
            continue
        ckpt = quant_method_of(qcfg)
        if ckpt is None:
            continue
        uf, cf = set(_QUANT_FAMILIES.get(user, ())), set(_QUANT_FAMILIES.get(ckpt, ()))
        if not uf or not cf or uf & cf:
            continue
        yield Finding(
            "SL303", s.location,
            f"--quantization {user} ({_where(s.location)}) does not match the checkpoint's quant_method \"{ckpt}\" "
            f"({_where(qloc)}) — {job.framework} refuses to load it (\"Quantization method specified in the model "
            f"config ({ckpt}) does not match the quantization method specified in the `quantization` argument ({user})\")",
            hint=f"drop --quantization (vLLM reads it from the checkpoint) or set it to {ckpt}",
            related=(Related(qloc, f"quant_method {ckpt}"),), key=f"{ckpt}|{user}")


# ================================================================================================
# SL304 quantisation group size vs tensor parallelism
# ================================================================================================

@check(code="SL304", name="quantized-group-size-misaligned-with-tensor-parallel", severity="error",
       category="Data and Computation Issues", subcategory="Quantization Compatibility Issues",
       summary="The tensor-parallel size splits the quantised MLP weights at a point that is not a multiple of the group size.",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/360", "https://github.com/QwenLM/Qwen2.5/issues/698",
                 "https://github.com/QwenLM/Qwen2.5/issues/986", "https://github.com/vllm-project/vllm/issues/1258"))
def quantized_group_size_misaligned(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For a served GPTQ / AWQ checkpoint with a `group_size`, checks that `intermediate_size` divided by
    the tensor-parallel size is a whole multiple of the group size (original Qwen's config.json gives
    twice the MLP width: Qwen-14B's 27392 is an MLP of 13696).

    ## Why is this bad?
    The down projection is split by rows over the TP ranks and every rank must hold whole quantisation
    groups. Otherwise vLLM stops with `ValueError: The input size is not aligned with the quantized
    weight shape. This can be caused by too large tensor parallel size.` (Marlin kernels: `Weight
    input_size_per_partition = 3696 is not divisible by group_size = 128`). Qwen2.5-72B-Instruct-AWQ /
    GPTQ-Int4 with `intermediate_size` 29568 and group size 128 cannot run at TP 2, 4 or 8 unless the
    checkpoint was padded (Qwen's re-uploads use 29696).

    ## Example
    ```sh
    vllm serve ./Qwen2.5-72B-Instruct-GPTQ-Int4 --tensor-parallel-size 8   # intermediate_size 29568, group 128
    ```

    ## Use instead
    ```sh
    vllm serve ./Qwen2.5-72B-Instruct-GPTQ-Int4 --tensor-parallel-size 1 --pipeline-parallel-size 8
    ```
    or a checkpoint padded to `intermediate_size` 29696.

    ## Known false alarms
    Channel-wise quantisation (`group_size: -1`) and unknown group sizes are not reported.
    """
    for job in stack.serving_jobs():
        tp_s, tp, _, _ = tp_pp(stack, job)
        if tp_s is None or tp <= 1:
            continue
        q = model_quant(stack, job.model)
        if q is None or not q[0]:
            continue
        qcfg, qloc = q
        assert qcfg is not None
        method = quant_method_of(qcfg) or ""
        if method not in ("gptq", "awq", "awq_marlin", "gptq_marlin", "marlin"):
            continue
        g = group_size_of(qcfg)
        inter = model_fact(job.model, "intermediate_size")
        if g is None or g <= 0 or inter is None or as_int(inter[0]) is None:
            continue
        isz = as_int(inter[0])
        assert isz is not None
        mt = job.model.model_type if job.model is not None else None
        if mt is not None and mt[0] == "qwen":
            isz //= 2  # original Qwen's config gives twice the MLP width (QWenMLP(intermediate_size // 2))
        if isz % tp == 0 and (isz // tp) % g == 0:
            continue
        per = isz / tp
        per_txt = f"{per:g}"
        ok = [t for t in (1, 2, 4, 8) if isz % t == 0 and (isz // t) % g == 0]
        yield Finding(
            "SL304", tp_s.location,
            f"tensor-parallel size {tp} ({_where(tp_s.location)}) splits the MLP width {isz} ({_where(inter[1])}) "
            f"into {per_txt} per GPU, not a multiple of the {method} group_size {g} ({_where(qloc)}) — the engine "
            f"stops with \"The input size is not aligned with the quantized weight shape\"",
            hint=(f"use tensor-parallel size {', '.join(map(str, ok))} (pipeline parallelism for the rest), "
                  f"or a checkpoint whose intermediate_size is padded to a multiple of {g} × {tp}"),
            related=(Related(inter[1], f"MLP width {isz}"), Related(qloc, f"group_size {g}")),
            key=f"{isz}|{tp}|{g}")


# ================================================================================================
# SL305 quantisation method vs GPU compute capability
# ================================================================================================

def _vllm_version(stack: Stack, job: Job) -> Optional[str]:
    for s in stack.environment(job.location.path):
        for c in s.get("vllm"):
            v = c.exact()
            if v is not None:
                return str(v)
    image = str(job.extra.get("image") or "")
    m = re.search(r"vllm-openai:v?(\d+\.\d+\.\d+(?:\.post\d+)?)$", image)
    return m.group(1) if m else None


@check(code="SL305", name="quantization-unsupported-on-gpu", severity="error",
       category="Data and Computation Issues", subcategory="Quantization Compatibility Issues",
       summary="The served model's quantisation method needs a newer GPU (compute capability) than the target GPU.",
       evidence=("https://github.com/vllm-project/vllm/blob/v0.6.3/vllm/model_executor/model_loader/loader.py",), preview=True)
def quantization_unsupported_on_gpu(stack: Stack) -> Iterator[Finding]:
    """## What it does
    When the target GPU is known (`--gpu`, `[tool.stacklint.target] gpu`, a node selector or SkyPilot
    accelerator in the job's file), compares its compute capability with the minimum vLLM's
    quantisation config asks for, for the `--quantization` method or the checkpoint's `quant_method`
    (AWQ 7.5, FP8 8.0/8.9, Marlin 8.0, ...; per vLLM release, from the knowledge base).

    ## Why is this bad?
    vLLM refuses to start: `The quantization method awq is not supported for the current GPU. Minimum
    capability: 75. Current capability: 70.` — e.g. AWQ on a V100.

    ## Example
    ```sh
    # target GPU: V100
    vllm serve Qwen/Qwen2.5-7B-Instruct-AWQ
    ```

    ## Use instead
    ```sh
    vllm serve Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4    # GPTQ runs from compute capability 6.0
    ```

    ## Known false alarms
    vLLM switches a GPTQ/AWQ checkpoint to its Marlin kernel only where the GPU supports it, so the
    checkpoint's base method is judged, not the Marlin variant. Unknown GPUs or methods are not judged.
    """
    from stacklint.knowledge import hardware

    for job in stack.serving_jobs():
        if job.framework != "vllm":
            continue
        tg = target_gpu(stack, job)
        if tg is None:
            continue
        gs, rec = tg
        cap = as_float(rec.get("compute_capability"))
        if cap is None:
            continue
        s = job_setting(stack, job, "quantization")
        method, where = None, None
        if s is not None and isinstance(s.value, str) and not _is_placeholder(s):
            method, where = s.value.strip().lower(), s.location
        else:
            q = model_quant(stack, job.model)
            if q is not None and q[0]:
                method, where = quant_method_of(q[0]), q[1]
        if not method or where is None:
            continue
        need = hardware.quant_min_capability(method, _vllm_version(stack, job))
        if need is None or cap >= need:
            continue
        yield Finding(
            "SL305", where,
            f"quantisation {method} ({_where(where)}) needs compute capability {need:g} in vLLM, but the target GPU "
            f"{rec['name']} ({_where(gs.location)}) has {cap:g} — vLLM refuses to start (\"The quantization method "
            f"{method} is not supported for the current GPU\")",
            hint="serve a checkpoint in a method the GPU supports (GPTQ runs from 6.0), or use a newer GPU",
            related=(Related(gs.location, f"GPU {rec['name']}"),), key=f"{method}|{rec['name']}")


# ================================================================================================
# SL306 Qwen2 GPTQ on vLLM's fp16 `gptq` (ExLlama) kernel
# ================================================================================================

# Qwen's own GPTQ uploads (hub ids and local copies named like them): Qwen1.5 / Qwen2 / Qwen2.5 dense
# chat / instruct / coder / math models, model_type "qwen2" (https://huggingface.co/Qwen).
_QWEN2_GPTQ_NAME = re.compile(
    r"^Qwen(?:1\.5|2|2\.5)(?:-Coder|-Math)?-\d+(?:\.\d+)?B(?:-Chat|-Instruct)?-GPTQ-Int([48])$", re.I)
# The first vLLM release whose `gptq` override picks Marlin kernels (AutoGPTQConfig) for every GPU
# from compute capability 6.0; before it, `--quantization gptq` forces the ExLlama kernel.
_AUTO_GPTQ_FIRST = "0.22.0"


def _qwen2_gptq(stack: Stack, ref: Optional[ModelRef]) -> Optional[Tuple[int, Location, str]]:
    """(bits, where, how) when the served model is a GPTQ checkpoint of the Qwen2 architecture."""
    if ref is None:
        return None
    mt = ref.model_type
    q = model_quant(stack, ref)
    if q is not None and q[0]:
        if mt is None or mt[0] != "qwen2" or quant_method_of(q[0]) != "gptq":
            return None
        bits = as_int(q[0].get("bits"))
        if bits not in (4, 8):
            return None
        return bits, q[1], f"{bits}-bit GPTQ, model_type qwen2"
    if q is not None or ref.local is not None:
        return None  # a local directory that is not GPTQ, or whose files say nothing
    m = _QWEN2_GPTQ_NAME.match(ref.ref.rstrip("/").rsplit("/", 1)[-1])
    if m is None:
        return None
    return int(m.group(1)), ref.location, f"Qwen's GPTQ-Int{m.group(1)} checkpoint, model_type qwen2"


def _release_lt(version: Optional[str], bound: str) -> Optional[bool]:
    from packaging.version import InvalidVersion, Version

    if version is None:
        return None
    try:
        return Version(version) < Version(bound)
    except InvalidVersion:
        return None


@check(code="SL306", name="qwen2-gptq-on-exllama-kernel", severity="warning",
       category="Data and Computation Issues", subcategory="Quantization Compatibility Issues",
       summary="A Qwen2-family GPTQ checkpoint served by vLLM on its fp16 `gptq` kernel (a GPU without Marlin, or --quantization gptq), which overflows into \"!!!!!\" output.",
       evidence=("https://github.com/QwenLM/Qwen2.5/issues/945", "https://github.com/QwenLM/Qwen2.5/issues/1103",
                 "https://github.com/QwenLM/Qwen2.5/issues/315", "https://github.com/QwenLM/Qwen2.5/issues/496",
                 "https://github.com/QwenLM/Qwen2.5/issues/271",
                 "https://github.com/vllm-project/vllm/issues/10656"))
def qwen2_gptq_on_exllama_kernel(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For a vLLM launch (`vllm serve`, the OpenAI server, `LLM(...)`) of a GPTQ checkpoint of the
    Qwen2 architecture (Qwen1.5, Qwen2, Qwen2.5: a local directory whose config.json has
    `model_type` "qwen2" and a `gptq` quantization_config, or Qwen's own `...-GPTQ-Int4` /
    `-Int8` repositories), works out which kernel vLLM runs: its `gptq_marlin` kernel when the GPU
    supports Marlin in the pinned release (compute capability 8.0 up to vLLM 0.13, 7.5 from 0.14;
    from the knowledge base), otherwise — or when `--quantization gptq` forces it — the ExLlama
    `gptq` kernel, which accumulates in fp16. It reports a launch on that kernel when the target GPU
    (`--gpu`, `[target] gpu`, a node selector in the job's file) is below Marlin's capability
    (V100, T4, RTX 2080 Ti, P100), when `--quantization gptq` is given explicitly (before vLLM
    0.22), or when the pinned vLLM predates `gptq_marlin` (< 0.4.2).

    ## Why is this bad?
    Qwen2-family activations overflow the fp16 accumulation of the `gptq` kernel: generation
    returns only `!!!!!!` (token 0) with no error. The Qwen team reproduced it (vllm#10656) for
    Qwen2.5-32B-Instruct-GPTQ-Int4 across vLLM 0.6.1–0.6.4 and TP 2/4/8: `gptq_marlin` works,
    `gptq` fails for prompts of 50 tokens or fewer and works for longer ones — so short chats
    fail while long prompts seem fine. Users hit it on V100, P100 and 2080 Ti (no Marlin there)
    and on RTX 3090 / A100 with `--quantization gptq`. The same checkpoint works with
    transformers + auto_gptq.

    ## Example
    ```sh
    # target GPU: V100 (compute capability 7.0), vllm==0.6.3
    vllm serve Qwen/Qwen2.5-32B-Instruct-GPTQ-Int4 --tensor-parallel-size 4
    ```

    ## Use instead
    ```sh
    # a GPU with compute capability 8.0 or more: vLLM picks gptq_marlin by itself
    vllm serve Qwen/Qwen2.5-32B-Instruct-GPTQ-Int4 --tensor-parallel-size 2
    ```
    On a GPU without Marlin: a vLLM release with Marlin for it, an AWQ checkpoint (from 7.5),
    transformers + auto_gptq, or prompts longer than 50 tokens (a system prompt).

    ## Known false alarms
    A warning, not an error: prompts longer than 50 tokens generate normally, so a service whose
    prompts are always long never shows it. Int8 checkpoints run through the same fp16 kernel but
    the reports are of Int4. When the vLLM release is not pinned, the GPU rule assumes one without
    Marlin for the GPU (vLLM 0.13 or older on Turing, 0.21 or older on Volta and Pascal). Other
    architectures (Llama, Mistral) do not overflow there and are not reported.
    """
    from stacklint.knowledge import hardware

    for job in stack.serving_jobs():
        if job.framework != "vllm":
            continue
        model = _qwen2_gptq(stack, job.model)
        if model is None:
            continue
        _bits, mloc, how = model
        version = _vllm_version(stack, job)
        if _release_lt(version, _AUTO_GPTQ_FIRST) is False:
            continue  # AutoGPTQConfig: Marlin kernels on every supported GPU
        s = job_setting(stack, job, "quantization")
        user = s.value.strip().lower() if s is not None and isinstance(s.value, str) and not _is_placeholder(s) else None
        if s is not None and user is None:
            continue  # a placeholder: cannot tell
        ver_txt = f"vLLM {version}" if version else "vLLM"
        where = job.model.location if job.model is not None else job.location
        related = [Related(mloc, how)]
        if user == "gptq":
            assert s is not None
            yield Finding(
                "SL306", s.location,
                f"--quantization gptq ({_where(s.location)}) forces {ver_txt}'s fp16 ExLlama `gptq` kernel for "
                f"{_ref_label(job)} ({how}) — Qwen2 activations overflow it and requests of 50 prompt tokens or "
                f"fewer generate only \"!!!!!!\"",
                hint="drop --quantization (vLLM then picks gptq_marlin on compute capability 8.0+), or serve an AWQ "
                     "checkpoint",
                related=tuple(related), key=f"flag|{job.model.ref if job.model else ''}")
            continue
        if user not in (None, "", "none"):
            continue  # gptq_marlin / marlin / another method: not the ExLlama kernel
        if version is not None and _release_lt(version, "0.4.2"):
            yield Finding(
                "SL306", where,
                f"{_ref_label(job)} ({how}, {_where(mloc)}) runs on the fp16 ExLlama `gptq` kernel in {ver_txt} "
                f"(gptq_marlin arrived in 0.4.2) — Qwen2 activations overflow it and short prompts generate only "
                f"\"!!!!!!\"",
                hint="upgrade vLLM so that it picks gptq_marlin (compute capability 8.0+), or serve an AWQ checkpoint",
                related=tuple(related), key=f"old|{version}")
            continue
        tg = target_gpu(stack, job)
        if tg is None:
            continue
        gs, rec = tg
        cap = as_float(rec.get("compute_capability"))
        if cap is None or str(rec.get("vendor", "nvidia")) != "nvidia":
            continue
        need = hardware.quant_min_capability("gptq_marlin", version) if version else 8.0
        if need is None or cap >= need:
            continue
        related.append(Related(gs.location, f"GPU {rec['name']}"))
        yield Finding(
            "SL306", where,
            f"{_ref_label(job)} ({how}, {_where(mloc)}) on {rec['name']} ({_where(gs.location)}, compute capability "
            f"{cap:.1f}): {ver_txt} has no Marlin kernel below {need:.1f} and runs the fp16 ExLlama `gptq` kernel, which "
            f"Qwen2 activations overflow — requests of 50 prompt tokens or fewer generate only \"!!!!!!\"",
            hint="use a GPU with compute capability 8.0+ (or a vLLM release with Marlin for this GPU), an AWQ checkpoint "
                 "(compute capability 7.5+), or transformers + auto_gptq",
            related=tuple(related), key=f"gpu|{rec['name']}|{job.model.ref if job.model else ''}")


# ================================================================================================
# SL204 sampling parameters out of range
# ================================================================================================

_SAMPLING_CALLS = ("SamplingParams", "GenerationConfig", "generate", "pipeline")


def _bad_sampling(params: Dict[str, Any], transformers: bool) -> List[Tuple[str, str]]:
    """(key, why) for each value every engine rejects."""
    out = []
    t = as_float(params.get("temperature")) if "temperature" in params else None
    if t is not None and t < 0:
        out.append(("temperature", f"temperature {params['temperature']} is negative"))
    p = as_float(params.get("top_p")) if "top_p" in params else None
    if p is not None and not (0 < p <= 1):
        out.append(("top_p", f"top_p {params['top_p']} is outside (0, 1]"))
    k = params.get("top_k")
    if k is not None and not isinstance(k, bool) and isinstance(k, (int, float)) and (k < -1 or not float(k).is_integer()):
        out.append(("top_k", f"top_k {k} is not a whole number >= -1"))
    r = as_float(params.get("repetition_penalty")) if "repetition_penalty" in params else None
    if r is not None and r <= 0:
        out.append(("repetition_penalty", f"repetition_penalty {params['repetition_penalty']} is not positive"))
    mp = as_float(params.get("min_p")) if "min_p" in params else None
    if mp is not None and not (0 <= mp <= 1):
        out.append(("min_p", f"min_p {params['min_p']} is outside [0, 1]"))
    if transformers and params.get("do_sample") is True and t == 0:
        out.append(("temperature", "temperature 0 with do_sample=True (transformers raises \"`temperature` (=0) "
                                   "has to be a strictly positive float\"; set do_sample=False for greedy decoding)"))
    return out


@check(code="SL204", name="sampling-parameter-out-of-range", severity="error",
       category="Configuration and Parameter Setting Errors", subcategory="Inference Configuration Error",
       summary="A sampling parameter (temperature, top_p, top_k, repetition_penalty) has a value generation rejects.",
       evidence=("https://github.com/vllm-project/vllm/blob/v0.6.3/vllm/sampling_params.py",), preview=True)
def sampling_parameter_out_of_range(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reads literal sampling parameters in a model's `generation_config.json`, in `SamplingParams(...)`,
    `GenerationConfig(...)` and `.generate(...)` calls, and reports values outside the range every
    engine accepts: temperature < 0, top_p outside (0, 1], top_k below -1 or fractional,
    repetition_penalty <= 0, min_p outside [0, 1], and temperature 0 with `do_sample=True` in
    transformers.

    ## Why is this bad?
    vLLM's `SamplingParams` raises (`top_p must be in (0, 1], got 1.5`), the OpenAI server returns 400
    for every request; transformers raises in its logits processors when `generate` runs
    (`temperature (=0.0) has to be a strictly positive float`). A generation_config.json with such a
    value makes every default request fail.

    ## Example
    ```python
    SamplingParams(temperature=0.7, top_p=1.5)
    model.generate(**inputs, do_sample=True, temperature=0)
    ```

    ## Use instead
    ```python
    SamplingParams(temperature=0.7, top_p=0.8)
    model.generate(**inputs, do_sample=False)
    ```

    ## Known false alarms
    Only literal values are judged. `top_k` 0 and -1 (disabled) are accepted; temperature 0 is greedy
    decoding in vLLM and SGLang and is reported only together with `do_sample=True`.
    """
    for md in stack.model_dirs.values():
        doc = md.generation
        if doc is None or not isinstance(doc.data, dict):
            continue
        for key, why in _bad_sampling(doc.data, transformers=True):
            loc = doc.loc(key)
            yield Finding("SL204", loc, f"{why} ({_where(loc)}) — generation with these defaults fails",
                          hint="use a value in range (temperature >= 0, 0 < top_p <= 1, repetition_penalty > 0)",
                          key=f"gen|{key}")
    for script in stack.scripts:
        for call in script.calls:
            if call.short not in _SAMPLING_CALLS:
                continue
            if call.short == "generate" and not call.kwargs:
                continue
            params = {k: a.value for k, a in call.kwargs.items() if isinstance(a.value, (int, float, bool))}
            transformers = call.short in ("generate", "GenerationConfig", "pipeline") and "vllm" not in call.qualname
            if call.short == "generate" and "vllm" in script.imports and "transformers" not in script.imports:
                transformers = False
            for key, why in _bad_sampling(params, transformers):
                a = call.kwargs[key]
                loc = Location(script.path, a.line, a.col)
                yield Finding("SL204", loc, f"{why} in {call.name}(...) ({_where(loc)}) — generation fails",
                              hint="use a value in range (temperature >= 0, 0 < top_p <= 1, repetition_penalty > 0)",
                              key=f"{call.name}|{key}")


# ================================================================================================
# SL505 multi-GPU container without shared memory
# ================================================================================================

def _k8s_has_shm(doc: Any, container_path: Tuple[Any, ...]) -> bool:
    """A memory-backed emptyDir mounted at /dev/shm in the pod, or hostIPC."""
    pod_path = container_path[:-2]
    pod = doc.get(*pod_path)
    if not isinstance(pod, dict):
        return True  # cannot tell
    if pod.get("hostIPC") is True:
        return True
    mem_vols = {v.get("name") for v in pod.get("volumes") or [] if isinstance(v, dict)
                and isinstance(v.get("emptyDir"), dict) and str(v["emptyDir"].get("medium", "")).lower() == "memory"}
    host_shm = {v.get("name") for v in pod.get("volumes") or [] if isinstance(v, dict)
                and isinstance(v.get("hostPath"), dict) and v["hostPath"].get("path") == "/dev/shm"}
    container = doc.get(*container_path)
    for m in (container.get("volumeMounts") or []) if isinstance(container, dict) else []:
        if isinstance(m, dict) and str(m.get("mountPath", "")).rstrip("/") == "/dev/shm" and m.get("name") in (mem_vols | host_shm):
            return True
    return False


@check(code="SL505", name="multi-gpu-container-without-shared-memory", severity="warning",
       category="Distributed and Parallel Computing Issues", subcategory="Multi-GPU Communication Failure",
       summary="A multi-GPU serving container gets neither the host IPC namespace nor a larger /dev/shm.",
       evidence=("https://docs.vllm.ai/en/v0.6.3/serving/deploying_with_docker.html",), preview=True)
def multi_gpu_container_without_shared_memory(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For serving launches with tensor- or pipeline-parallel size above 1 in a compose service, a
    Kubernetes pod or a `docker run` line, looks for `ipc: host` / `--ipc=host`, `shm_size` /
    `--shm-size`, or (Kubernetes) a `medium: Memory` emptyDir mounted at `/dev/shm` or `hostIPC`.

    ## Why is this bad?
    Docker gives a container 64 MB of `/dev/shm`. vLLM and NCCL exchange tensors between the
    worker processes through shared memory; with 64 MB the workers crash or hang (`NCCL error:
    unhandled system error`, `Bus error`). vLLM's docs ask for `--ipc=host` or `--shm-size`.

    ## Example
    ```yaml
    services:
      vllm:
        image: vllm/vllm-openai:v0.6.3
        command: --model Qwen/Qwen2.5-72B-Instruct --tensor-parallel-size 4
    ```

    ## Use instead
    ```yaml
        ipc: host
    ```

    ## Known false alarms
    Dockerfiles are not judged (shared memory is set when the container runs). A single-GPU job does
    not need it.
    """
    for job in stack.serving_jobs():
        _, tp, _, pp = tp_pp(stack, job)
        if tp * pp <= 1 or "ascend" in str(job.extra.get("image", "")).lower():
            continue
        backend = job.get("distributed_executor_backend")
        if str(job.extra.get("k8s_kind") or "").lower().startswith("ray") or (
                backend is not None and str(backend.value).lower() == "ray"):
            continue  # Ray places the workers, often one GPU per pod
        if job.context == "compose":
            svc = job.extra.get("service")
            if not isinstance(svc, dict) or svc.get("ipc") == "host" or svc.get("shm_size") or svc.get("network_mode") == "host" and svc.get("ipc"):
                continue
            where = job.doc.loc(*job.extra["service_path"]) if job.doc is not None else job.location
            yield Finding(
                "SL505", where,
                f"compose service {job.extra['service_path'][-1]} ({_where(where)}) runs {job.framework} on {tp * pp} GPUs "
                f"without `ipc: host` or `shm_size` — the workers share tensors through /dev/shm, 64 MB by default, "
                f"and crash or hang (NCCL / Bus error)",
                hint="add `ipc: host` (or `shm_size: 16g`) to the service", key=f"compose|{job.extra['service_path'][-1]}")
        elif job.context == "k8s" and job.doc is not None and job.extra.get("container_path"):
            if _k8s_has_shm(job.doc, job.extra["container_path"]):
                continue
            where = job.doc.loc(*job.extra["container_path"])
            yield Finding(
                "SL505", where,
                f"container ({_where(where)}) runs {job.framework} on {tp * pp} GPUs without a memory-backed /dev/shm — "
                f"the pod's /dev/shm is 64 MB and the workers crash or hang (NCCL / Bus error)",
                hint="mount an `emptyDir: {medium: Memory}` volume at /dev/shm", key="k8s")
        elif job.context == "docker-run":
            opts = job.extra.get("docker_opts", {})
            if "ipc" in opts or "shm_size" in opts:
                continue
            yield Finding(
                "SL505", job.location,
                f"docker run ({_where(job.location)}) starts {job.framework} on {tp * pp} GPUs without --ipc=host or "
                f"--shm-size — /dev/shm is 64 MB and the workers crash or hang (NCCL / Bus error)",
                hint="add --ipc=host (or --shm-size 16g)", key="docker-run")


# ================================================================================================
# SL701 weights larger than the GPUs
# ================================================================================================

_DTYPE_BYTES = {"float16": 2, "half": 2, "fp16": 2, "bfloat16": 2, "bf16": 2, "float32": 4, "float": 4, "fp32": 4,
                "auto": 2}


def weight_bytes(stack: Stack, job: Job) -> Optional[Tuple[float, str, Location]]:
    """Bytes of the weights as served, how that was computed, and where the size comes from."""
    ref = job.model
    if ref is None:
        return None
    q = model_quant(stack, ref)
    quant = q[0] if q is not None and q[0] else None
    user_q = job_setting(stack, job, "quantization")
    if ref.local is not None and ref.local.index is not None and isinstance(ref.local.index.data, dict):
        total = as_int((ref.local.index.data.get("metadata") or {}).get("total_size"))
        if total and not (user_q is not None and quant is None):
            return float(total), f"{total / 1e9:.1f} GB of weights (safetensors index total_size)", ref.local.index.loc("metadata")
    if not ref.checkpoint or not isinstance(ref.checkpoint.get("params_b"), (int, float)):
        return None
    params = float(ref.checkpoint["params_b"]) * 1e9
    if quant is not None:
        bits = as_int(quant.get("bits") or quant.get("w_bit"))
        if bits is None:
            return None
        per, why = bits / 8, f"{bits}-bit {quant_method_of(quant)}"
    elif user_q is not None and isinstance(user_q.value, str):
        m = user_q.value.lower()
        if m in ("fp8", "fbgemm_fp8", "experts_int8", "ptpc_fp8"):
            per, why = 1.0, m
        elif m == "bitsandbytes":
            per, why = 0.5, "4-bit bitsandbytes"
        else:
            return None
    else:
        dt = job_setting(stack, job, "dtype")
        name = str(dt.value).lower().replace("torch.", "") if dt is not None else "auto"
        if name not in _DTYPE_BYTES:
            return None
        per = _DTYPE_BYTES[name]
        why = "16-bit" if per == 2 else "32-bit"
    return params * per, f"{ref.checkpoint['params_b']}B parameters × {per:g} bytes ({why})", ref.location


@check(code="SL701", name="served-weights-exceed-gpu-memory", severity="warning",
       category="Hardware and Resource Limitations", subcategory="GPU Memory Insufficiency",
       summary="The served model's weights, split over the tensor/pipeline-parallel GPUs, exceed each GPU's memory budget.",
       evidence=("https://github.com/vllm-project/vllm/blob/v0.6.3/vllm/worker/worker.py",), preview=True)
def served_weights_exceed_gpu_memory(stack: Stack) -> Iterator[Finding]:
    """## What it does
    When the served model's size (a local safetensors index's `total_size`, or the parameter count
    of a known hub id × bytes per parameter for the dtype or quantisation) and the target GPU are
    known, divides the weights by TP × PP and compares them with the GPU's memory × the engine's
    memory fraction (`--gpu-memory-utilization`, default 0.9). The arithmetic is in the message.

    ## Why is this bad?
    The weights alone do not fit: loading stops with `torch.OutOfMemoryError: CUDA out of memory`,
    or vLLM reports no memory left for the KV cache. Nothing of the job can run.

    ## Example
    ```sh
    # target GPU: A100-80GB
    vllm serve Qwen/Qwen2.5-72B-Instruct --tensor-parallel-size 1    # 145 GB of bf16 weights
    ```

    ## Use instead
    ```sh
    vllm serve Qwen/Qwen2.5-72B-Instruct --tensor-parallel-size 4
    ```

    ## Known false alarms
    An estimate, hence a warning: CPU offload (`--cpu-offload-gb`) is taken into account; activation
    and KV-cache memory are not added, so a job the rule accepts may still run out of memory.
    """
    for job in stack.serving_jobs():
        tg = target_gpu(stack, job)
        if tg is None:
            continue
        gs, rec = tg
        mem = as_float(rec.get("memory_gb"))
        if not mem:
            continue
        w = weight_bytes(stack, job)
        if w is None:
            continue
        total, how, wloc = w
        tp_s, tp, pp_s, pp = tp_pp(stack, job)
        if tp <= 0 or pp <= 0:
            continue
        util_s = job_setting(stack, job, *_MEM_KEYS.get(job.framework, ()))
        util = as_float(util_s.value) if util_s is not None else _MEM_DEFAULT.get(job.framework, 0.9)
        if util is None or not 0 < util <= 1:
            continue
        off = job_setting(stack, job, "cpu_offload_gb")
        offload = (as_float(off.value) or 0.0) if off is not None else 0.0
        per_gpu = total / 1e9 / (tp * pp) - offload
        budget = mem * util
        if per_gpu <= budget:
            continue
        need = next((n for n in (2, 4, 8, 16) if total / 1e9 / n <= budget and n > tp * pp), None)
        split = f" / (TP {tp}" + (f" × PP {pp}" if pp > 1 else "") + ")" if tp * pp > 1 else ""
        yield Finding(
            "SL701", tp_s.location if tp_s is not None else (job.model.location if job.model else job.location),
            f"{_ref_label(job)}: {how} = {total / 1e9:.1f} GB{split} = {per_gpu + offload:.1f} GB per GPU"
            + (f" − {offload:g} GB CPU offload" if offload else "")
            + f", more than {rec['name']} ({_where(gs.location)}) {mem:g} GB × {util:g} = {budget:.1f} GB — "
            f"loading runs out of GPU memory",
            hint=(f"use tensor-parallel size {need} or more" if need else "use more or larger GPUs") +
                 ", or a quantised checkpoint",
            related=(Related(wloc, how), Related(gs.location, f"GPU {rec['name']}")), key=f"{total:.0f}|{tp}|{pp}|{rec['name']}")


# ================================================================================================
# SL409 vLLM 0.7.1-0.7.2 deepseek_r1 reasoning parser vs a template that opens <think> itself
# ================================================================================================

# vLLM added --enable-reasoning / --reasoning-parser deepseek_r1 in 0.7.1 (vllm#12473); before
# 0.7.3 (vllm#13025) the parser split reasoning only when the reply itself contained both <think>
# and </think>. DeepSeek's updated R1 templates (huggingface.co/deepseek-ai/DeepSeek-R1 commit
# 8a58a132, 2025-02-09) end the generation prompt with "<think>\n", so the reply never has <think>.
_R1_PARSER_FIRST = "0.7.1"
_R1_PARSER_FIXED = "0.7.3"


def _r1_parser_pin(stack: Stack, job: Job) -> Optional[Tuple[str, Location]]:
    """(what, where) when the job's vLLM is only 0.7.1 or 0.7.2: a confining pin, or the
    vllm/vllm-openai image tag of the job."""
    from stacklint.checks._common import V, confining_pin
    from stacklint.knowledge import packages

    lo, hi = V(_R1_PARSER_FIRST), V(_R1_PARSER_FIXED)
    pin = confining_pin(stack, job.location.path, "vllm", packages.releases("vllm"),
                        lambda v: V(v) is not None and lo <= V(v) < hi)  # type: ignore[operator]
    if pin is not None:
        return pin.raw, pin.location
    image = str(job.extra.get("image") or "")
    m = re.search(r"vllm-openai:v?(\d+\.\d+\.\d+)$", image)
    if m and lo <= V(m.group(1)) < hi:  # type: ignore[operator]
        return f"image vllm/vllm-openai:{image.rsplit(':', 1)[-1]}", job.location
    return None


def _served_template(stack: Stack, job: Job) -> Optional[Tuple[str, Location]]:
    """The chat template vLLM applies: the --chat-template file when given (None when it is not
    in the tree), else the served model directory's own template."""
    from stacklint.checks._templates import templates

    s = job_setting(stack, job, "chat_template")
    if s is not None:
        if not isinstance(s.value, str) or _is_placeholder(s):
            return None
        base = job.location.path.rsplit("/", 1)[0] if "/" in job.location.path else "."
        ref = s.value.strip()
        cands = [posixpath.normpath(posixpath.join(base, ref))] if not ref.startswith("/") else []
        cands += [p for p in stack.texts if p.rsplit("/", 1)[-1] == ref.rsplit("/", 1)[-1]]
        for p in cands:
            tf = stack.texts.get(p)
            if tf is not None:
                return tf.text, Location(p, 1, 1)
        return None
    if job.model is None or job.model.local is None:
        return None
    found = [t for t in templates(job.model.local) if t.name == "default"]
    return (found[0].text, found[0].location) if found else None


def _opens_think(text: str, special: Tuple[Tuple[str, str], ...]) -> bool:
    """Whether the template's generation prompt ends with the <think> tag (for a plain chat)."""
    from stacklint.checks._templates import render

    try:
        out = render(text, [{"role": "user", "content": "Hello"}], True, special)
    except Exception:  # noqa: BLE001 - a template that does not render is another rule's business
        return False
    return out.rstrip().endswith("<think>")


@check(code="SL409", name="r1-reasoning-parser-misses-template-think", severity="error",
       category="API Usage and Interface Issues", subcategory="API Compatibility Issues",
       summary="vLLM 0.7.1/0.7.2 with `--reasoning-parser deepseek_r1` serves a chat template that ends the prompt with `<think>`, so the reasoning is never split out (reasoning_content null).",
       evidence=("https://github.com/deepseek-ai/DeepSeek-R1/issues/363",
                 "https://github.com/deepseek-ai/DeepSeek-R1/issues/350",
                 "https://github.com/vllm-project/vllm/pull/13025"))
def r1_reasoning_parser_misses_template_think(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports a vLLM launch with `--enable-reasoning --reasoning-parser deepseek_r1` whose vLLM is
    0.7.1 or 0.7.2 (a pin that admits nothing else, or a `vllm/vllm-openai:v0.7.x` image) and
    whose chat template — the served model directory's, or the `--chat-template` file — ends the
    generation prompt with `<think>`, as DeepSeek's R1 and R1-Distill templates do since their
    update of 2025-02-09 (`{{'<｜Assistant｜><think>\\n'}}`).

    ## Why is this bad?
    The template writes `<think>` into the prompt, so the reply starts inside the reasoning and
    only contains `</think>`. The deepseek_r1 parser of vLLM 0.7.1–0.7.2 separates reasoning only
    when the reply holds both tags: every response comes back with `reasoning_content: null` and
    the whole chain of thought, ending in `</think>`, in `content` (streamed or not). No error is
    raised. vLLM 0.7.3 (vllm#13025) treats the text before `</think>` as the reasoning.

    ## Example
    ```sh
    # requirements.txt: vllm==0.7.2
    # DeepSeek-R1-Distill-Qwen-32B/tokenizer_config.json: ...{{'<｜Assistant｜><think>\\n'}}...
    vllm serve ./DeepSeek-R1-Distill-Qwen-32B --enable-reasoning --reasoning-parser deepseek_r1
    ```

    ## Use instead
    `vllm>=0.7.3`; or, staying on 0.7.2, a template whose generation prompt ends with
    `<｜Assistant｜>` (the model then emits `<think>` itself, but may skip reasoning).

    ## Known false alarms
    Hub ids without a local model directory are not judged (their template is not in the tree),
    nor launches whose vLLM release is not confined to 0.7.1–0.7.2.
    """
    from stacklint.checks._templates import specials
    from stacklint.checks._values import is_true

    for job in stack.serving_jobs():
        if job.framework != "vllm":
            continue
        parser = job_setting(stack, job, "reasoning_parser")
        if parser is None or not isinstance(parser.value, str) or parser.value.strip() != "deepseek_r1":
            continue
        enable = job_setting(stack, job, "enable_reasoning")
        if enable is None or not is_true(enable.value):
            continue  # 0.7.x parses reasoning only with --enable-reasoning
        pin = _r1_parser_pin(stack, job)
        if pin is None:
            continue
        tmpl = _served_template(stack, job)
        if tmpl is None:
            continue
        text, tloc = tmpl
        special = specials(job.model.local) if job.model is not None and job.model.local is not None else ()
        if not _opens_think(text, special):
            continue
        what, ploc = pin
        yield Finding(
            "SL409", parser.location,
            f"--reasoning-parser deepseek_r1 ({_where(parser.location)}) under {what} ({_where(ploc)}): the chat "
            f"template ({_where(tloc)}) ends the prompt with <think>, so replies contain only </think> and this "
            f"parser (before vLLM {_R1_PARSER_FIXED}) returns reasoning_content null with the whole reasoning in "
            f"content",
            hint=f"use vLLM {_R1_PARSER_FIXED} or later, or serve a template whose generation prompt ends with "
                 f"<｜Assistant｜>",
            related=(Related(ploc, what), Related(tloc, "generation prompt ends with <think>")),
            key=f"{job.location.path}:{job.model.ref if job.model else ''}:r1-parser")
