"""Environment compatibility of peft's GPTQ support with the auto-gptq / optimum releases next to
it, for LoRA on a GPTQ model (SL118). Imported by the environment family."""
from __future__ import annotations

from typing import Iterator, Optional

from stacklint.findings import Finding, Related
from stacklint.model import Constraint, Job, Stack
from stacklint.registry import check

# peft and the QuantLinear class of a GPTQ layer (git tags of huggingface/peft, AutoGPTQ/AutoGPTQ,
# huggingface/optimum):
# - peft < 0.5.0 has no GPTQ support: LoRA only wraps torch.nn.Linear / Conv1D / Embedding / Conv2d,
#   so get_peft_model raises "ValueError: Target module QuantLinear() is not supported".
# - peft 0.5.0 - 0.6.0 (utils/other.py get_auto_gptq_quant_linear) ask auto-gptq for the layer class
#   with dynamically_import_QuantLinear(..., disable_exllama=config.disable_exllama) only.
#   auto-gptq 0.5.0 added `disable_exllamav2: bool = False` to that function and returns the
#   ExLlamaV2 QuantLinear for 4-bit layers unless it is set.
# - optimum 1.14.0 (gptq/quantizer.py) builds the model's layers with both flags set from the
#   config, so a model loaded with GPTQConfig(bits=4, disable_exllama=True) - what Qwen's
#   finetune.py does for --q_lora - gets auto-gptq's cuda QuantLinear; optimum 1.13.x passes
#   disable_exllama only and gets the same class as peft.
# - peft 0.6.1 passes disable_exllamav2 as well ("fix-gptq-training", huggingface/peft#1086,
#   2023-11-07) and needs auto-gptq >= 0.5.0.
# Qwen's README names the working sets: "torch==2.1 auto-gptq>=0.5.1 transformers>=4.35.0
# optimum>=1.14.0 peft>=0.6.1" or "torch>=2.0,<2.1 auto-gptq<0.5.0 transformers<4.35.0
# optimum<1.14.0 peft>=0.5.0,<0.6.0" (QwenLM/Qwen README, 2023-11-30).
_PEFT_GPTQ = "0.5.0"       # first peft with GPTQ support
_PEFT_FIXED = "0.6.1"      # first peft that passes disable_exllamav2
_AUTOGPTQ_V2 = "0.5.0"     # first auto-gptq whose QuantLinear default is ExLlamaV2
_OPTIMUM_BOTH = "1.14.0"   # first optimum that passes disable_exllamav2 when building the model
_EVIDENCE = (
    "https://github.com/QwenLM/Qwen/issues/610",  # qwen1-106: auto-gptq 0.5.0.dev0, optimum 1.14.0, peft 0.6.0
    "https://github.com/QwenLM/Qwen/issues/431",  # qwen1-72: finetune_qlora_single_gpu.sh, traceback lines = peft 0.4.0
    "https://github.com/huggingface/peft/pull/1086",  # fix-gptq-training (peft 0.6.1)
    "https://github.com/huggingface/peft/issues/1097",  # Target module QuantLinear() is not supported (peft 0.6.0, auto_gptq 0.5.0)
)


def _qwen_qlora(job: Job) -> bool:
    """Qwen's finetune.py Q-LoRA (--use_lora --q_lora): the model is loaded with
    GPTQConfig(bits=4, disable_exllama=True)."""
    from stacklint.checks._values import is_true

    q, use = job.get("q_lora"), job.get("use_lora")
    return q is not None and is_true(q.value) and use is not None and is_true(use.value)


def _lora_on_gptq(stack: Stack, job: Job) -> bool:
    """Any LoRA job whose model is a GPTQ checkpoint (config.json quantization_config)."""
    from stacklint.checks._values import is_true
    from stacklint.checks.serving import model_quant, quant_method_of

    use = job.get("use_lora")
    adapter = str(job.value("adapter", "") or "").lower()
    if not ((use is not None and is_true(use.value)) or adapter in ("lora", "qlora")):
        return False
    q = model_quant(stack, job.model)
    return q is not None and q[0] is not None and quant_method_of(q[0]) == "gptq"


@check(code="SL118", name="peft-cannot-wrap-gptq-layers", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="LoRA on a GPTQ model under a peft release that does not recognise the QuantLinear layers the pinned auto-gptq/optimum build (peft < 0.5, or peft < 0.6.1 with auto-gptq >= 0.5 and optimum >= 1.14 for Qwen's Q-LoRA).",
       evidence=_EVIDENCE)
def peft_cannot_wrap_gptq_layers(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For a LoRA fine-tuning job on a GPTQ model - Qwen's `finetune.py --use_lora --q_lora`, or a
    LoRA job whose model directory's config.json has a `gptq` quantization_config - reports the
    peft constraint of the job's environment when every release it admits
    - is older than 0.5.0 (no GPTQ support at all), or
    - for Qwen's Q-LoRA, is older than 0.6.1 while the auto-gptq constraint admits only 0.5.0 or
      newer and the optimum constraint only 1.14.0 or newer.

    ## Why is this bad?
    peft wraps a GPTQ layer only if it is an instance of the QuantLinear class it asks auto-gptq
    for. peft before 0.5.0 knows no GPTQ layer. Qwen's finetune.py loads the Int4 model with
    `GPTQConfig(bits=4, disable_exllama=True)`, so optimum >= 1.14 builds auto-gptq's cuda
    QuantLinear layers; peft 0.5.0-0.6.0 ask auto-gptq >= 0.5 for the class without
    `disable_exllamav2` and get the ExLlamaV2 QuantLinear instead. Either way `get_peft_model`
    fails before training: "ValueError: Target module QuantLinear() is not supported. Currently,
    only the following modules are supported: `torch.nn.Linear`, ...". peft 0.6.1 passes both flags
    (huggingface/peft#1086).

    ## Example
    ```
    # requirements.txt
    auto-gptq==0.5.0
    optimum==1.14.0
    peft==0.6.0
    # finetune/finetune_qlora_ds.sh
    torchrun ... finetune.py --model_name_or_path Qwen-14B-Chat-Int4 --use_lora --q_lora ...
    ```

    ## Use instead
    One of the sets Qwen's README names: `auto-gptq>=0.5.1 optimum>=1.14.0 peft>=0.6.1
    transformers>=4.35.0` (torch 2.1), or `auto-gptq<0.5.0 optimum<1.14.0 peft>=0.5.0,<0.6.0
    transformers<4.35.0` (torch 2.0).

    ## Known false alarms
    Only exact or bounded pins are judged: the second case needs auto-gptq and optimum
    constraints that admit no older release, and applies to Qwen's finetune.py, whose GPTQConfig
    is known; other LoRA scripts are judged for peft < 0.5 only. A custom auto-gptq build without
    the ExLlamaV2 kernels gets the matching class and trains.
    """
    jobs = [j for j in stack.training_jobs() if _qwen_qlora(j) or _lora_on_gptq(stack, j)]
    if not jobs:
        return
    from stacklint.checks._common import V, confining_pin
    from stacklint.knowledge import packages

    peft_rel = packages.releases("peft")
    seen = set()
    for job in jobs:
        path = job.location.path
        qlora = _qwen_qlora(job)
        gptq: Optional[Constraint] = None
        opt: Optional[Constraint] = None
        if qlora:
            gptq = confining_pin(stack, path, "auto-gptq", packages.releases("auto-gptq"),
                                 lambda v: V(v) is not None and V(v) >= V(_AUTOGPTQ_V2))
            opt = confining_pin(stack, path, "optimum", packages.releases("optimum"),
                                lambda v: V(v) is not None and V(v) >= V(_OPTIMUM_BOTH))
        pair = gptq is not None and opt is not None

        def fails(v: str) -> bool:
            ver = V(v)
            if ver is None:
                return False
            return ver < V(_PEFT_GPTQ) or (pair and ver < V(_PEFT_FIXED))

        pin = confining_pin(stack, path, "peft", peft_rel, fails)
        if pin is None:
            continue
        key = f"{pin.location.path}:{pin.location.line}|{job.location.path}"
        if key in seen:
            continue
        seen.add(key)
        old = all(V(v) < V(_PEFT_GPTQ) for v in _admitted(pin, peft_rel))  # type: ignore[operator]
        what = job.model.ref if job.model is not None else "the model"
        related = [Related(job.location, f"LoRA on the GPTQ model {what}")]
        if old:
            why = f"peft before {_PEFT_GPTQ} has no GPTQ support and does not know the QuantLinear layers of {what}"
            remedy = (f"require peft>={_PEFT_FIXED} with auto-gptq>=0.5.1 and optimum>=1.14.0 (or "
                      f"peft>=0.5.0,<0.6.0 with auto-gptq<0.5.0 and optimum<1.14.0), as Qwen's README lists")
        else:
            assert gptq is not None and opt is not None
            related += [Related(gptq.location, f"{gptq.raw}: QuantLinear defaults to ExLlamaV2"),
                        Related(opt.location, f"{opt.raw}: builds the model with exllama v1/v2 disabled")]
            why = (f"finetune.py loads {what} with GPTQConfig(bits=4, disable_exllama=True), so {opt.raw} "
                   f"({opt.location.path}:{opt.location.line}) builds auto-gptq's cuda QuantLinear layers, "
                   f"while peft before {_PEFT_FIXED} asks {gptq.raw} ({gptq.location.path}:{gptq.location.line}) "
                   f"for the layer class without disable_exllamav2 and gets the ExLlamaV2 one")
            remedy = (f"require peft>={_PEFT_FIXED} with auto-gptq>=0.5.1 (or keep peft>=0.5.0,<0.6.0 with "
                      f"auto-gptq<0.5.0 and optimum<1.14.0), as Qwen's README lists")
        yield Finding("SL118", pin.location,
                      f"{pin.raw} ({pin.location.path}:{pin.location.line}) cannot apply LoRA to the GPTQ model "
                      f"of {job.location.path}:{job.location.line}: {why}, so get_peft_model stops with "
                      f"\"ValueError: Target module QuantLinear() is not supported\" — {remedy}",
                      hint=remedy, related=tuple(related), key=key)


def _admitted(pin: Constraint, releases) -> list:  # type: ignore[no-untyped-def]
    from stacklint.checks._common import allowed

    return allowed(pin, releases)
