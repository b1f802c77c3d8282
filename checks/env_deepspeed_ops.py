"""DeepSpeed ops compiled at run time in an image that cannot compile them (SL135). Imported by
the environment family."""
from __future__ import annotations

import re
from typing import Any, Iterator, Optional, Tuple

from stacklint.findings import Finding, Related
from stacklint.model import InstallSet, Job, Stack
from stacklint.registry import check

# deepspeed/runtime/engine.py _configure_basic_optimizer (v0.9-v0.18 tags): an "Adam"/"AdamW"
# optimizer block without "torch_adam": true and without ZeRO CPU offload builds
# deepspeed.ops.adam.FusedAdam, whose FusedAdamBuilder.load() JIT-compiles the op unless it was
# prebuilt at install time (DS_BUILD_OPS=1 / DS_BUILD_FUSED_ADAM=1). Compiling runs
# op_builder/builder.py installed_cuda_version(): `$CUDA_HOME/bin/nvcc -V`.
_ADAM = {"adam", "adamw"}
_EVIDENCE = (
    "https://github.com/deepspeedai/DeepSpeed/blob/v0.14.4/deepspeed/runtime/engine.py",  # FusedAdam unless torch_adam / offload
    "https://github.com/deepspeedai/DeepSpeed/blob/v0.14.4/op_builder/builder.py",  # installed_cuda_version: nvcc -V
    "https://github.com/deepspeedai/DeepSpeed/issues/2772",  # CUDA_HOME does not exist, unable to compile CUDA op(s)
)


def _fused_adam(doc: Any) -> Optional[Tuple[str, Any]]:
    """(optimizer type, its location key path) when the DeepSpeed config makes DeepSpeed build FusedAdam."""
    data = doc.data if doc is not None else None
    if not isinstance(data, dict):
        return None
    opt = data.get("optimizer")
    if not isinstance(opt, dict) or not isinstance(opt.get("type"), str) or opt["type"].lower() not in _ADAM:
        return None
    params = opt.get("params")
    if isinstance(params, dict) and params.get("torch_adam") not in (None, False, "false", "False"):
        return None
    zo = data.get("zero_optimization")
    if isinstance(zo, dict):
        off = zo.get("offload_optimizer")
        if isinstance(off, dict) and str(off.get("device", "none")).lower() not in ("none", ""):
            return None  # DeepSpeedCPUAdam instead
        if zo.get("cpu_offload") not in (None, False, "false"):
            return None
    return opt["type"], ("optimizer", "type")


def _job_ds_doc(stack: Stack, job: Job) -> Optional[Any]:
    from stacklint.checks.training import deepspeed_doc

    if job.framework == "deepspeed" and job.doc is not None:
        return job.doc
    return deepspeed_doc(stack, job)


_NO_NVCC = re.compile(r"(?:^|/)cuda:[^\s]*-(?:runtime|base)(?:-|$)", re.I)


@check(code="SL135", name="deepspeed-fused-adam-built-without-nvcc", severity="error",
       category="Environment Compatibility Issues", subcategory="CUDA Version Compatibility",
       summary="A DeepSpeed config asks for FusedAdam, which DeepSpeed compiles when training starts, in an nvidia/cuda -runtime/-base image that has no nvcc.",
       evidence=_EVIDENCE)
def deepspeed_fused_adam_without_nvcc(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For each training job whose DeepSpeed config has an `"optimizer"` of type `Adam`/`AdamW`
    (without `"torch_adam": true` and without ZeRO CPU offload of the optimizer), looks at the
    Dockerfile stages of the job's environment that install deepspeed: when such a stage is built
    on an `nvidia/cuda:*-runtime` or `*-base` image and does not prebuild DeepSpeed's ops
    (`DS_BUILD_OPS=1`, `DS_BUILD_FUSED_ADAM=1`), reports the optimizer.

    ## Why is this bad?
    DeepSpeed then creates `FusedAdam`, whose CUDA op is compiled just in time when the engine
    starts: DeepSpeed runs `$CUDA_HOME/bin/nvcc -V` and torch compiles the kernels with nvcc.
    These images hold the CUDA runtime in `/usr/local/cuda` but no compiler, so training stops
    before the first step (`FileNotFoundError: ... '/usr/local/cuda/bin/nvcc'`, or
    "CUDA_HOME does not exist, unable to compile CUDA op(s)").

    ## Example
    ```
    # Dockerfile
    FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04
    RUN pip install torch==2.3.1 deepspeed==0.14.4 transformers==4.44.2
    # ds_config.json
    {"optimizer": {"type": "AdamW", "params": {"lr": "auto"}}, "zero_optimization": {"stage": 2}}
    ```

    ## Use instead
    Build on `nvidia/cuda:12.1.1-devel-ubuntu22.04`, prebuild the op
    (`DS_BUILD_FUSED_ADAM=1 pip install deepspeed`), or set `"torch_adam": true` in the
    optimizer params (or drop the `"optimizer"` block and let the Trainer create its own).

    ## Known false alarms
    A job that runs outside the image (the Dockerfile serves another purpose) would not fail; only
    Dockerfile stages that install deepspeed themselves are considered, and stages that start a
    server (vLLM, uvicorn, gradio, ...) are skipped.
    """
    if not stack.install_sets:
        return
    seen: set = set()
    # a launching job (a Trainer script passing --deepspeed) is named before the DeepSpeed JSON
    # read as a job of its own
    jobs = sorted(stack.training_jobs(), key=lambda j: j.framework == "deepspeed")
    for job in jobs:
        doc = _job_ds_doc(stack, job)
        hit = _fused_adam(doc)
        if hit is None:
            continue
        opt_type, keys = hit
        launched = "" if job.location.path == doc.path else f" ({job.location.path}:{job.location.line})"
        for s in stack.environment(job.location.path):
            stage = _no_nvcc_stage(stack, s)
            if stage is None:
                continue
            image, ds = stage
            key = f"{doc.path}|{s.location.path}:{s.location.line}"
            if key in seen:
                continue
            seen.add(key)
            oloc = doc.loc(*keys)
            yield Finding(
                "SL135", oloc,
                f"the DeepSpeed optimizer \"{opt_type}\" ({oloc.path}:{oloc.line}) makes DeepSpeed compile its "
                f"FusedAdam op when training starts{launched}, but {image} "
                f"({s.base_image.location.path}:{s.base_image.location.line}) has no nvcc and {ds.raw} "
                f"({ds.location.path}:{ds.location.line}) is installed without prebuilt ops: the job stops before "
                f"the first step (\"No such file or directory: '/usr/local/cuda/bin/nvcc'\")",
                hint="build on an nvidia/cuda -devel image, install with DS_BUILD_FUSED_ADAM=1, "
                     "or set \"torch_adam\": true in the optimizer params",
                related=(Related(s.base_image.location, f"{image}: CUDA runtime only, no nvcc"),
                         Related(ds.location, f"{ds.raw}: ops compiled just in time"))
                + ((Related(job.location, "training job"),) if launched else ()),
                key=key)


def _no_nvcc_stage(stack: Stack, s: InstallSet) -> Optional[Tuple[str, Any]]:
    """(image, deepspeed constraint) for a Dockerfile stage on a no-nvcc CUDA image that installs
    deepspeed without prebuilding its ops."""
    if s.kind != "dockerfile" or s.base_image is None:
        return None
    image = str(s.base_image.value).strip()
    if not _NO_NVCC.search(image):
        return None
    ds = [c for c in s.get("deepspeed") if not c.url]
    if not ds:
        return None
    text = tf.text if (tf := stack.texts.get(s.location.path)) is not None else ""
    if re.search(r"DS_BUILD_|cuda-nvcc|cuda-toolkit|cuda-compiler", text):
        return None
    if _SERVING.search(text):
        return None  # an inference image that happens to share the requirements
    return image, ds[0]


_SERVING = re.compile(r"vllm|sglang|text-generation-launcher|uvicorn|gunicorn|api_server|gradio|streamlit|"
                      r"\bserve\b|fastapi|flask", re.I)
