"""Environment compatibility: library versions against the models and each other (SL1xx)."""
from __future__ import annotations

from typing import Iterator, List, Optional, Set, Tuple

from stacklint.checks._common import allowed
from stacklint.findings import Finding, Location, Related
from stacklint.model import Constraint, ModelRef, Stack
from stacklint.registry import check

_ARCH_EVIDENCE = (
    "https://github.com/QwenLM/Qwen2.5/issues/30",  # qwen25-3: KeyError 'qwen2' with transformers 4.32
)


def _model_facts(ref: ModelRef) -> Optional[Tuple[str, str, Location]]:
    """(key kind, value, where) for the most specific fact: model_type, else architecture."""
    mt = ref.model_type
    if mt is not None:
        return "model_type", mt[0], mt[1]
    return None


@check(code="SL101", name="transformers-too-old-for-model", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="The stack's transformers constraint admits no release that can load the model's architecture.",
       evidence=_ARCH_EVIDENCE)
def transformers_too_old_for_model(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Joins every model the stack uses (a local `config.json` `model_type`, or a hub id known to
    stacklint's knowledge base, named in a training config, serving command or script) with every
    transformers constraint in the environment of that file, and reports constraints under which no
    transformers release supports the architecture.

    ## Why is this bad?
    `AutoConfig` fails with `KeyError: 'qwen2'` / "The checkpoint you are trying to load has model
    type `qwen3` but Transformers does not recognize this architecture" at load time, after the
    install and the model download.

    ## Example
    ```
    # requirements.txt
    transformers==4.36.2
    # models/qwen/config.json
    {"model_type": "qwen2", ...}
    ```

    ## Use instead
    ```
    transformers>=4.37.0
    ```

    ## Known false alarms
    Models loaded with `trust_remote_code=True` bring their own modelling code; model types that
    transformers never supported natively are not reported.
    """
    from stacklint.knowledge import architectures

    releases = architectures.releases("transformers")
    seen: Set[Tuple[str, str, int, str]] = set()
    for ref in stack.models:
        facts = _model_facts(ref)
        if facts is None:
            continue
        _kind, model_type, where = facts
        first = architectures.min_version("transformers", model_type=model_type)
        if first is None:
            continue  # remote code or unknown: not ours to judge
        env_path = ref.location.path
        for s in stack.environment(env_path):
            for c in s.get("transformers"):
                key = (model_type, c.location.path, c.location.line, where.path)
                if key in seen:
                    continue
                admitted = allowed(c, releases)
                if not admitted:
                    continue  # a release stacklint does not know: cannot judge
                if any(architectures.supported("transformers", r, model_type=model_type) for r in admitted):
                    continue
                seen.add(key)
                yield _too_old(c, model_type, where, first, ref)


def _too_old(c: Constraint, model_type: str, where: Location, first: str, ref: ModelRef) -> Finding:
    spec = str(c.specifier) or "(any)"
    source = f"model_type \"{model_type}\"" if ref.local is not None else f"{ref.ref} (model_type \"{model_type}\")"
    msg = (f"transformers{spec} ({c.location.path}:{c.location.line}) cannot load {source} "
           f"({where.path}:{where.line}); support was added in transformers {first}")
    return Finding("SL101", c.location, msg, hint=f"require transformers>={first}",
                   related=(Related(where, f"model_type \"{model_type}\" needs transformers>={first}"),),
                   key=f"{model_type}|{spec}")


__all__: List[str] = []
