"""Pins that pip installs together but that fail at import or run time (SL131), from the
``runtime`` records of ``knowledge/data/breakages.json``. Imported by the environment family."""
from __future__ import annotations

from typing import Dict, Iterator, List, Optional, Sequence

from stacklint.findings import Finding, Related
from stacklint.model import Constraint, InstallSet, Stack
from stacklint.registry import check

# Records another rule reports with its own wording (and fix): not repeated here.
_OWN_RULE = {"numpy2-with-torch-before-2.3": "SL105"}

_EVIDENCE = (
    "https://github.com/QwenLM/Qwen/issues/1326",  # Qwen finetune.py, transformers 4.32.0 + accelerate 1.x: Accelerator(dispatch_batches=)
    "https://github.com/huggingface/transformers/issues/34699",  # transformers 4.39.3 + accelerate 1.0: same TypeError
    "https://github.com/huggingface/peft/issues/2292",  # peft 0.14 with transformers < 4.43: cannot import EncoderDecoderCache
    "https://github.com/huggingface/sentence-transformers/issues/3001",  # cached_download removed from huggingface_hub 0.26
)


def _constraints(s: InstallSet, name: str, py: str) -> List[Constraint]:
    from stacklint.checks import _envlib as E

    from packaging.utils import canonicalize_name

    return [c for c in s.get(canonicalize_name(name)) if E.constraint_applies(c, py) and not c.url]


def _admitted(cs: Sequence[Constraint]) -> List[str]:
    """The releases the constraints leave pip: the exact pin when there is one (known to the
    knowledge base or not), else the known releases every constraint admits."""
    from stacklint.checks import _envlib as E

    for c in cs:
        v = c.exact()
        if v is not None:
            text = v.public
            return [text] if all(E.admits(E.base_spec(o), text) for o in cs) else []
    return E.candidates(cs)


def _inside(spec_text: str, releases: Sequence[str]) -> bool:
    from stacklint.checks import _envlib as E

    spec = E.spec_of(spec_text or "")
    return spec is not None and bool(releases) and all(E.admits(spec, r) for r in releases)


@check(code="SL131", name="pins-known-to-break-at-run-time", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="Two pins install together (their metadata allows it) but the pair is known to fail at import or run time.",
       evidence=_EVIDENCE)
def pins_known_to_break(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Matches each install set against the run-time breakages of the knowledge base
    (`knowledge/data/breakages.json`, each record with its upstream source): accelerate >= 1.0
    with transformers 4.32-4.39, peft >= 0.14 with transformers < 4.43, peft 0.16-0.17 with
    transformers 5, huggingface-hub >= 0.26 with sentence-transformers < 2.3, protobuf >= 4 with
    transformers < 4.31, vLLM < 0.11.1 with transformers 5, transformers 4.37.0 with
    transformers-stream-generator (Qwen-7B-Chat's streaming), transformers releases that disable
    PyTorch below a torch floor they do not declare. A record is reported only when every release
    each constraint admits falls inside it.

    ## Why is this bad?
    Neither package declares the bound, so pip installs the pair without a word and the job fails
    later: `TypeError: Accelerator.__init__() got an unexpected keyword argument
    'dispatch_batches'` when the Trainer starts, `ImportError: cannot import name
    'EncoderDecoderCache' from 'transformers'` at `import peft`, "Disabling PyTorch because
    PyTorch >= 2.1 is required" and no model classes.

    ## Example
    ```
    transformers==4.32.0
    accelerate==1.0.1
    ```

    ## Use instead
    ```
    transformers==4.32.0
    accelerate<1.0
    ```
    (or upgrade transformers to 4.40 or newer)

    ## Known false alarms
    Only pins written in the stack count: a package that pip pulls in unpinned is not judged (the
    install may still pick a breaking release). A project that never imports the failing module
    (installs peft but never imports it) would not fail.
    """
    if not stack.install_sets:
        return  # nothing to judge: do not import what judging needs
    from stacklint.checks import _envlib as E
    from stacklint.knowledge import breakages

    records = [r for r in breakages.all_breakages()
               if r.get("kind") == "runtime" and r["id"] not in _OWN_RULE
               and r.get("when") and not any(c.get("local") for c in r["when"])]
    for s in stack.install_sets:
        py = E.python_of(s)
        cache: Dict[str, Optional[List[Constraint]]] = {}
        for rec in records:
            sides = []
            for cond in rec["when"]:
                name = cond["package"]
                if name not in cache:
                    cache[name] = _constraints(s, name, py) or None
                cs = cache[name]
                if cs is None or not _inside(cond.get("specifier", ""), _admitted(cs)):
                    break
                sides.append(cs[0])
            else:
                first, others = sides[0], sides[1:]
                pair = " with ".join(f"{E.describe(c)} ({c.location.path}:{c.location.line})" for c in sides)
                effect = " ".join(str(rec.get("effect", "")).split())
                yield Finding("SL131", first.location,
                              f"{pair} install together but break at run time: {effect}",
                              hint=str(rec["fix"]),
                              related=tuple(Related(c.location, f"{E.describe(c)} (source: {rec['source']})")
                                            for c in others),
                              key=f"{rec['id']}|" + "|".join(E.describe(c) for c in sides))
