"""Environment compatibility of optimum's GPTQ integration with the auto-gptq release installed
next to it (SL123). Imported by the environment family."""
from __future__ import annotations

from typing import Iterator, List, Optional, Tuple

from packaging.utils import canonicalize_name

from stacklint.findings import Finding, Related
from stacklint.model import Constraint, InstallSet, Stack
from stacklint.registry import check

# optimum/utils/import_utils.py is_auto_gptq_available(), called at module level by
# optimum/gptq/quantizer.py (imported by transformers for every GPTQ checkpoint or GPTQConfig):
#   v1.12.0 and older: no version check;
#   v1.13.0-v1.13.3: AUTOGPTQ_MINIMUM_VERSION = 0.4.2, `minimum <= found` (git tags, 2023-09-08 on);
#   v1.14.0-v2.0.x: AUTOGPTQ_MINIMUM_VERSION = 0.4.99 ("Allows 0.5.0.dev0"), `minimum < found`
#     (1.14-1.16) / `found >= minimum` (later) (v1.14.0 tagged 2023-11-06, huggingface/optimum#1504);
#   v2.1.0: AutoGPTQ support removed for GPT-QModel (huggingface/optimum#2385).
# Below the floor it raises "ImportError: Found an incompatible version of auto-gptq. Found version
# 0.4.2, but only version above 0.4.99 are supported". optimum declares no auto-gptq requirement,
# so pip installs the pair.
# (first optimum release, first optimum release after, auto-gptq floor, floor is inclusive)
_FLOORS: Tuple[Tuple[str, str, str, bool], ...] = (
    ("1.13.0", "1.14.0", "0.4.2", True),
    ("1.14.0", "2.1.0", "0.4.99", False),
)
_EVIDENCE = (
    "https://github.com/QwenLM/Qwen/issues/610",  # qwen1-106: optimum 1.14.0 + auto-gptq 0.4.2+cu117 -> ImportError
    "https://github.com/huggingface/optimum/pull/1504",  # Fix minimum version of auto-gptq (0.4.99)
    "https://github.com/AutoGPTQ/AutoGPTQ/issues/391",  # same ImportError with auto-gptq 0.4.2
    "https://github.com/axolotl-ai-cloud/axolotl/pull/838",  # pinned optimum==1.13.2 to keep auto-gptq 0.4.2
)


def _floor(optimum_release: str) -> Optional[Tuple[str, bool]]:
    """The auto-gptq floor optimum enforces for this release (None: no check)."""
    from stacklint.checks._envlib import V

    v = V(optimum_release)
    if v is None:
        return None
    for first, after, floor, inclusive in _FLOORS:
        lo, hi = V(first), V(after)
        if lo is not None and hi is not None and lo <= v < hi:
            return floor, inclusive
    return None


def _below(gptq_release: str, floor: Tuple[str, bool]) -> bool:
    from stacklint.checks._envlib import V

    g, f = V(gptq_release), V(floor[0])
    if g is None or f is None:
        return False
    return g < f if floor[1] else g <= f


def _named(s: InstallSet, name: str, py: str) -> List[Constraint]:
    from stacklint.checks import _envlib as E

    return [c for c in s.constraints
            if canonicalize_name(c.name) == name and E.constraint_applies(c, py) and not c.url]


@check(code="SL123", name="optimum-gptq-needs-newer-auto-gptq", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="The pinned optimum release rejects the pinned auto-gptq release when its GPTQ support is imported (every GPTQ load through transformers).",
       evidence=_EVIDENCE)
def optimum_gptq_needs_newer_auto_gptq(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports install sets that pin optimum and auto-gptq to releases that cannot work together:
    optimum 1.14.0 to 2.0.x require auto-gptq above 0.4.99 (0.5.0 or newer), optimum 1.13.x
    require auto-gptq 0.4.2 or newer. Every release the two constraints admit must fail.

    ## Why is this bad?
    optimum declares no requirement on auto-gptq, so pip installs both, but `optimum.gptq` checks
    the installed auto-gptq when it is imported, which transformers does for every GPTQ checkpoint
    (`from_pretrained` of a `-GPTQ-Int4` / Qwen `-Int4` model, `GPTQConfig`, Q-LoRA on it):
    `ImportError: Found an incompatible version of auto-gptq. Found version 0.4.2, but only
    version above 0.4.99 are supported`.

    ## Example
    ```
    transformers==4.34.0
    optimum==1.14.0
    auto-gptq==0.4.2
    ```

    ## Use instead
    ```
    transformers==4.35.0
    optimum==1.14.0
    auto-gptq==0.5.0
    ```
    (or keep auto-gptq 0.4.2 and pin `optimum==1.13.2`)

    ## Known false alarms
    A project that installs optimum only for ONNX/other exporters and uses auto-gptq directly
    (`AutoGPTQForCausalLM.from_quantized`) never imports `optimum.gptq`. Unpinned or open-ended
    optimum / auto-gptq constraints that admit a working pair are not reported.
    """
    if not stack.install_sets:
        return  # nothing to judge: do not import what judging needs
    from stacklint.checks import _envlib as E

    for s in stack.install_sets:
        py = E.python_of(s)
        opt_cs, gq_cs = _named(s, "optimum", py), _named(s, "auto-gptq", py)
        if not opt_cs or not gq_cs:
            continue
        opt_rel, gq_rel = E.candidates(opt_cs), E.candidates(gq_cs)
        if not opt_rel or not gq_rel:
            continue
        floors = [_floor(r) for r in opt_rel]
        if any(f is None for f in floors):
            continue  # some admitted optimum release does not check auto-gptq at all
        if not all(_below(g, f) for f in floors for g in gq_rel):  # type: ignore[arg-type]
            continue
        o, g = opt_cs[0], gq_cs[0]
        need = max(floors, key=lambda f: E.V(f[0]))  # type: ignore[arg-type,return-value]
        first_ok = next((r for r in E.releases("auto-gptq") if not _below(r, need)), None)  # type: ignore[arg-type]
        want = f"auto-gptq>={first_ok}" if first_ok else "a newer auto-gptq"
        msg = (f"{E.describe(g)} ({g.location.path}:{g.location.line}) is refused by {E.describe(o)} "
               f"({o.location.path}:{o.location.line}): importing optimum.gptq, which transformers does "
               f"for every GPTQ checkpoint, raises \"ImportError: Found an incompatible version of "
               f"auto-gptq\" — install {want} or an optimum release that accepts it")
        yield Finding("SL123", g.location, msg, hint=f"install {want}, or pin optimum<1.14 for auto-gptq 0.4.2",
                      related=(Related(o.location, f"{E.describe(o)} checks the auto-gptq version on import"),),
                      key=f"{E.describe(o)}|{E.describe(g)}")
