"""Environment compatibility: library versions against the models and each other (SL1xx)."""
from __future__ import annotations

import re
from typing import Dict, Iterator, List, Optional, Set, Tuple

from stacklint.checks._common import allowed
from stacklint.findings import Finding, Location, Related
from stacklint.model import Constraint, InstallSet, ModelRef, Stack
from stacklint.registry import check

from stacklint.checks import env_tokenizer_json as _env_tokenizer_json  # noqa: F401,E402  (SL126)
from stacklint.checks import env_optimum_gptq as _env_optimum_gptq  # noqa: F401,E402  (SL123)
from stacklint.checks import env_peft_gptq as _env_peft_gptq  # noqa: F401,E402  (SL118)
from stacklint.checks import env_breakages as _env_breakages  # noqa: F401,E402  (SL131)
from stacklint.checks import env_flash_wheels as _env_flash_wheels  # noqa: F401,E402  (SL132, SL133)
from stacklint.checks import env_deepspeed_ops as _env_deepspeed_ops  # noqa: F401,E402  (SL135)

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
       evidence=_ARCH_EVIDENCE, fixable=True)
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
    verdicts: Dict[Tuple[str, str], bool] = {}  # (model_type, specifier) -> some admitted release supports it
    for ref in stack.models:
        facts = _model_facts(ref)
        if facts is None:
            continue
        _kind, model_type, where = facts
        first = architectures.min_version("transformers", model_type=model_type)
        if first is None:
            continue  # remote code or unknown: not ours to judge
        if _remote_code(stack, ref):
            continue  # trust_remote_code with the checkpoint's own modelling code (auto_map)
        env_path = ref.location.path
        for s in stack.environment(env_path):
            for c in s.get("transformers"):
                key = (model_type, c.location.path, c.location.line, where.path)
                if key in seen:
                    continue
                verdict_key = (model_type, str(c.specifier))
                ok = verdicts.get(verdict_key)
                if ok is None:
                    admitted = allowed(c, releases)
                    # None: a release stacklint does not know, cannot judge
                    ok = verdicts[verdict_key] = (not admitted) or any(
                        architectures.supported("transformers", r, model_type=model_type) for r in admitted)
                if ok:
                    continue
                seen.add(key)
                yield _too_old(stack, c, model_type, where, first, ref)


_TRUST_REMOTE = re.compile(r"trust[_-]remote[_-]code\s*[:=]\s*[\"']?true", re.I)


def _remote_code(stack: Stack, ref: ModelRef) -> bool:
    """The file naming a hub model enables trust_remote_code: transformers then loads the
    checkpoint's own config/modelling code instead of needing native support."""
    if ref.local is not None:
        return False
    tf = stack.texts.get(ref.location.path)
    return bool(tf is not None and _TRUST_REMOTE.search(tf.text))


def _too_old(stack: Stack, c: Constraint, model_type: str, where: Location, first: str, ref: ModelRef) -> Finding:
    from stacklint.fix import requirement_floor_fix

    spec = str(c.specifier) or "(any)"
    source = f"model_type \"{model_type}\"" if ref.local is not None else f"{ref.ref} (model_type \"{model_type}\")"
    msg = (f"transformers{spec} cannot load {source} "
           f"({where.path}:{where.line}); support was added in transformers {first}")
    return Finding("SL101", c.location, msg, hint=f"require transformers>={first}",
                   fix=requirement_floor_fix(stack, c, first),
                   related=(Related(where, f"model_type \"{model_type}\" needs transformers>={first}"),),
                   key=f"{model_type}|{spec}")



# -- SL102: pins that cannot be installed together ------------------------------------

_PIN_EVIDENCE = (
    # qwen25-3: pip reports "ms-swift 1.5.1 requires transformers<4.37,>=4.33, but you have
    # transformers 4.37.2 which is incompatible" in the environment that needs transformers>=4.37.
    "https://github.com/QwenLM/Qwen2.5/issues/30",
)
# qwen25-201 (QwenLM/Qwen2.5#1103) was removed: read — Qwen2.5-32B-Instruct-GPTQ-Int4 on V100 with
# vLLM's gptq kernel generates only "!!!" (vllm-project/vllm#10656); no conflicting pins.
# qwen1-171 (QwenLM/Qwen#988) was removed: read 2026 — a 72B LoRA run with lr stuck at 0 under
# transformers 4.31.0 (maintainer: upgrade transformers); no conflicting pins in that thread.


def _grouped(s: InstallSet, python: str) -> Dict[str, List[Constraint]]:
    """Constraints of the set on packages the knowledge base tracks, by name."""
    from stacklint.checks import _envlib as E
    from stacklint.knowledge import packages

    out: Dict[str, List[Constraint]] = {}
    for c in s.constraints:
        if c.url or not E.constraint_applies(c, python) or not packages.known(c.name):
            continue
        out.setdefault(c.name, []).append(c)
    return out


def _set_candidates(s: InstallSet) -> Tuple[str, Dict[str, List[Constraint]], Dict[str, List[str]]]:
    from stacklint.checks import _envlib as E

    py = E.python_of(s)
    groups = _grouped(s, py)
    cands = {n: E.candidates(cs) for n, cs in groups.items()}
    return py, groups, cands


@check(code="SL102", name="incompatible-pins", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="Two requirements of one install set admit no pair of releases that can be installed together.",
       evidence=_PIN_EVIDENCE)
def incompatible_pins(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Resolves every install set (a requirements file with its includes, a pyproject dependency
    group, a conda environment, a Dockerfile stage) statically against the release metadata in
    stacklint's knowledge base: for each pair of constrained packages A and B, it checks whether
    *any* release of A the stack admits accepts *any* release of B the stack admits (A's
    `Requires-Dist` on B). It also reports two pins that need disjoint versions of a third package
    the stack leaves unpinned (`vllm==0.6.3` needs `torch==2.4.0`, `xformers==0.0.26.post1` needs
    `torch==2.3.0`).

    ## Why is this bad?
    pip stops with `ResolutionImpossible`, or — when the packages are installed by separate
    `pip install` commands — silently replaces one side, so the other imports a library it was not
    built for (`undefined symbol`, `ImportError`, `AttributeError` at run time).

    ## Example
    ```
    vllm==0.6.3
    torch==2.3.1
    ```

    ## Use instead
    ```
    vllm==0.6.3
    torch==2.4.0
    ```

    ## Known false alarms
    Only releases in the knowledge base are considered; constraints that admit no known release,
    releases whose metadata could not be read, URLs and constraints under markers that do not hold
    on Linux x86_64 are never reported. A finding means no combination of known releases works.
    """
    seen: Set[Tuple[Location, Location]] = set()
    overrides = _uv_overrides(stack)
    for s in stack.install_sets:
        py, groups, cands = _set_candidates(s)
        skip = _overridden(s, overrides)
        live = {n: cs for n, cs in groups.items() if cands[n] and n not in skip}
        non_cuda = _non_cuda_torch(s)
        for a, a_cs in live.items():
            for b, b_cs in live.items():
                if a == b or (non_cuda and a in _TORCH_FAMILY and b in _CUDA_ONLY_DEPS):
                    continue
                f = _pair_conflict(a, a_cs, cands[a], b, b_cs, cands, py)
                if f is not None and (a_cs[0].location, b_cs[0].location) not in seen:
                    seen.add((a_cs[0].location, b_cs[0].location))
                    yield f
        yield from _shared_dep_conflicts(live, cands, py, seen)


_TORCH_FAMILY = ("torch", "torchvision", "torchaudio")
_CUDA_ONLY_DEPS = ("triton",)  # CUDA wheels of torch need them; cpu/rocm/xpu builds need others


def _non_cuda_torch(s: InstallSet) -> bool:
    """torch comes from a cpu/rocm/xpu index or carries such a local label: its metadata differs."""
    for st in s.index_urls:
        url = str(st.value).lower()
        if re.search(r"/whl/(?:nightly/)?(?:cpu|rocm|xpu)", url):
            return True
    return any(c.name in _TORCH_FAMILY and c.local and re.match(r"(?:cpu|rocm|xpu)", c.local)
               for c in s.constraints)


def _uv_overrides(stack: Stack) -> List[Tuple[str, Set[str]]]:
    """(directory, names) of `[tool.uv] override-dependencies`: deliberate overrides of metadata."""
    out: List[Tuple[str, Set[str]]] = []
    for path, kind in stack.kinds.items():
        if kind != "pyproject":
            continue
        for doc in stack.docs.get(path) or []:
            deps = doc.get("tool", "uv", "override-dependencies")
            if not isinstance(deps, list):
                continue
            from packaging.requirements import InvalidRequirement, Requirement  # only when there are any
            from packaging.utils import canonicalize_name

            names = set()
            for d in deps:
                try:
                    names.add(canonicalize_name(Requirement(str(d)).name))
                except InvalidRequirement:
                    continue
            out.append((path.rsplit("/", 1)[0] if "/" in path else ".", names))
    return out


def _overridden(s: InstallSet, overrides: List[Tuple[str, Set[str]]]) -> Set[str]:
    out: Set[str] = set()
    for d, names in overrides:
        if d == "." or s.dir == d or s.dir.startswith(d + "/"):
            out |= names
    return out


def _pair_conflict(a: str, a_cs: List[Constraint], a_rel: List[str], b: str, b_cs: List[Constraint],
                   cands: Dict[str, List[str]], py: str) -> Optional[Finding]:
    from stacklint.checks import _envlib as E

    b_rel = cands[b]
    needed: List[str] = []
    for ra in a_rel:
        req = E.requirement_on(a, ra, b, py)
        if req is None or not str(req):
            return None
        if any(E.admits(req, rb) for rb in reversed(b_rel)):
            return None
        if str(req) not in needed:
            needed.append(str(req))
    ca, cb = a_cs[0], b_cs[0]
    a_txt = E.describe(ca)
    if len(a_rel) == 1:
        want = f"requires {b}{needed[0]}"
    else:
        want = f"admits no release that accepts it (they require {', '.join(b + n for n in needed[:3])}" + \
               (", ..." if len(needed) > 3 else "") + ")"
    others = {n: rs for n, rs in cands.items() if n != a and rs}
    newest_ok = E.newest_where(E.releases(a), lambda r: _accepts_all(a, r, others, py))
    hint = f"pin {b}{needed[-1]}"
    if newest_ok:
        hint += f", or use {a}=={newest_ok} (the newest {a} that accepts the other pins of this set)"
    verb = "pinned" if cb.exact() is not None else "required"
    msg = (f"{a_txt} ({ca.location.path}:{ca.location.line}) {want}, but {E.describe(cb)} is {verb} "
           f"({cb.location.path}:{cb.location.line}) — {hint}")
    return Finding("SL102", ca.location, msg, hint=hint,
                   related=(Related(cb.location, f"{E.describe(cb)} conflicts with {a_txt}"),),
                   key=f"{a_txt}|{E.describe(cb)}")


def _accepts_all(a: str, ra: str, others: Dict[str, List[str]], py: str) -> bool:
    """Whether release ``ra`` of ``a`` has known metadata accepting some admitted release of every other pin."""
    from stacklint.checks import _envlib as E

    es = E.edges(a, ra, py)
    if es is None:
        return False
    for dep, spec in es:
        rels = others.get(dep)
        if rels and str(spec) and not any(E.admits(spec, r) for r in rels):
            return False
    return True


def _shared_dep_conflicts(live: Dict[str, List[Constraint]], cands: Dict[str, List[str]], py: str,
                          seen: Set[Tuple[Location, Location]]) -> Iterator[Finding]:
    """Two pins that need disjoint releases of a package the set does not constrain itself."""
    from stacklint.checks import _envlib as E

    names = sorted(n for n in live if len(cands[n]) <= 6)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            deps: Set[str] = set()
            for ra in cands[a]:
                for d, _s in E.edges(a, ra, py) or ():
                    deps.add(d)
            for dep in sorted(deps):
                if dep in live or dep in (a, b):
                    continue
                dep_rel = E.releases(dep)
                if not dep_rel:
                    continue
                clash = _disjoint(a, cands[a], b, cands[b], dep, dep_rel, py)
                if clash is None:
                    continue
                ca, cb = live[a][0], live[b][0]
                if (ca.location, cb.location) in seen:
                    continue
                seen.add((ca.location, cb.location))
                ra_spec, rb_spec = clash
                msg = (f"{E.describe(ca)} ({ca.location.path}:{ca.location.line}) needs {dep}{ra_spec} but "
                       f"{E.describe(cb)} ({cb.location.path}:{cb.location.line}) needs {dep}{rb_spec}: no {dep} "
                       f"release satisfies both — choose releases of {a} and {b} built for the same {dep}")
                yield Finding("SL102", ca.location, msg,
                              hint=f"choose releases of {a} and {b} that agree on {dep}",
                              related=(Related(cb.location, f"{E.describe(cb)} needs {dep}{rb_spec}"),),
                              key=f"{E.describe(ca)}|{E.describe(cb)}|{dep}")
                break


def _disjoint(a: str, a_rel: List[str], b: str, b_rel: List[str], dep: str, dep_rel: List[str],
              py: str) -> Optional[Tuple[str, str]]:
    from stacklint.checks import _envlib as E

    example: Optional[Tuple[str, str]] = None
    for ra in a_rel:
        sa = E.requirement_on(a, ra, dep, py)
        if sa is None or not str(sa):
            return None
        for rb in b_rel:
            sb = E.requirement_on(b, rb, dep, py)
            if sb is None or not str(sb):
                return None
            if any(E.admits(sa, r) and E.admits(sb, r) for r in dep_rel):
                return None
            example = example or (str(sa), str(sb))
    return example


# -- SL103: serving engine too old for the model --------------------------------------

_ENGINE_EVIDENCE = (
    "https://github.com/QwenLM/Qwen2.5/issues/65",  # qwen25-13 (Dependency record; thread not yet read, unverified)
    "https://github.com/vllm-project/vllm/issues/3463",  # Qwen2ForCausalLM not supported in vLLM 0.2.4; added in 0.3.0
)
# qwen25-17 (QwenLM/Qwen2.5#77) was removed: read — Qwen1.5-0.5B-Chat with examples/sft/finetune.py
# (transformers, no serving engine); the reply points at transformers<4.37.
_IMAGE_VERSION = (
    (re.compile(r"(?:^|/)vllm-openai:v?(\d+\.\d+\.\d+(?:\.post\d+)?)(?![\w.])"), "vllm"),
    (re.compile(r"(?:^|/)lmsysorg/sglang:v?(\d+\.\d+\.\d+(?:\.post\d+)?)"), "sglang"),
)


def image_engine_version(image: str) -> Optional[Tuple[str, str]]:
    """(package, version) an official engine image tag states (`vllm/vllm-openai:v0.4.0`)."""
    for rx, pkg in _IMAGE_VERSION:
        m = rx.search(image or "")
        if m:
            return pkg, m.group(1)
    return None


@check(code="SL103", name="serving-engine-too-old-for-model", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="The vLLM / SGLang release the stack pins (or its image tag) predates support for the served model's architecture.",
       evidence=_ENGINE_EVIDENCE)
def serving_engine_too_old_for_model(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For every vLLM or SGLang serving job (CLI, compose/k8s container, Dockerfile CMD, `LLM(...)`
    in a script) whose model is a local model directory, joins the model's `architectures` with
    the engine version the stack installs (a pin in the job's environment, or the tag of an
    official `vllm/vllm-openai:vX` / `lmsysorg/sglang:vX` image) and reports versions that predate
    support for the architecture.

    ## Why is this bad?
    The engine refuses the model at start-up: `ValueError: Model architectures ['Qwen2ForCausalLM']
    are not supported for now`.

    ## Example
    ```
    # requirements.txt
    vllm==0.2.7
    # serve.sh
    vllm serve ./models/qwen2   # config.json: "architectures": ["Qwen2ForCausalLM"]
    ```

    ## Use instead
    ```
    vllm>=0.3.0
    ```

    ## Known false alarms
    Architectures the engine never supported natively (remote code, out-of-tree plugins) are not
    reported; only local model directories are judged.
    """
    from stacklint.knowledge import architectures

    seen: Set[Tuple[str, str, str, int]] = set()
    for job in stack.serving_jobs():
        if job.framework not in ("vllm", "sglang") or job.model is None:
            continue
        ref = job.model
        if ref.local is None or not ref.local.architectures:
            continue
        arch = ref.local.architectures[0]
        first = architectures.min_version(job.framework, architecture=arch)
        if first is None:
            continue
        rels = architectures.releases(job.framework)
        where = ref.local.config.loc("architectures") if ref.local.config is not None else ref.location
        for src_loc, spec_text, admitted in _engine_versions(stack, job, rels):
            if not admitted or any(architectures.supported(job.framework, r, architecture=arch) is not False
                                   for r in admitted):
                continue
            key = (arch, src_loc.path, src_loc.path, src_loc.line)
            if key in seen:
                continue
            seen.add(key)
            msg = (f"{job.framework}{spec_text} ({src_loc.path}:{src_loc.line}) cannot serve {arch} "
                   f"({where.path}:{where.line}); support was added in {job.framework} {first}")
            yield Finding("SL103", src_loc, msg, hint=f"use {job.framework}>={first}",
                          related=(Related(where, f"{arch} needs {job.framework}>={first}"),
                                   Related(job.location, "served here")),
                          key=f"{arch}|{job.framework}{spec_text}")


def _engine_versions(stack: Stack, job, rels: List[str]) -> Iterator[Tuple[Location, str, List[str]]]:  # type: ignore[no-untyped-def]
    image = job.extra.get("image") or ""
    hit = image_engine_version(image)
    if hit is not None and hit[0] == job.framework:
        yield job.location, f"=={hit[1]} (image {image})", [hit[1]]
        return
    for s in stack.environment(job.location.path):
        for c in s.get(job.framework):
            adm = allowed(c, rels)
            yield c.location, str(c.specifier) or "", adm


# -- SL104: rope_scaling format newer than transformers ---------------------------------

_ROPE_EVIDENCE = (
    "https://github.com/meta-llama/llama3/issues/299",  # llama3-32: rope_scaling must have two fields
    "https://github.com/meta-llama/llama3/issues/319",  # llama3-34: Llama 3.1 rope_scaling rejected by the config validation; fix: upgrade transformers
)


# Config classes whose `_rope_scaling_validation` rejected any dict but {type, factor} before the
# rope_type rework (transformers 4.43): https://github.com/huggingface/transformers/pull/32135
_ROPE_VALIDATED = frozenset({"llama", "falcon", "gpt_neox", "persimmon", "phi", "stablelm", "fuyu",
                             "open-llama", "idefics"})


@check(code="SL104", name="rope-scaling-too-new-for-transformers", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="The model's rope_scaling uses a rope_type (Llama 3.1 `llama3`, `yarn`, ...) the pinned transformers cannot parse.",
       evidence=_ROPE_EVIDENCE, fixable=True)
def rope_scaling_too_new_for_transformers(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reads `rope_scaling.rope_type` (or the older `type`) of every local model config and reports
    transformers constraints under which no release knows that RoPE type.

    ## Why is this bad?
    Loading the config fails before any weight is read: `ValueError: rope_scaling must be a
    dictionary with two fields, type and factor, got {'factor': 8.0, 'high_freq_factor': 4.0, ...,
    'rope_type': 'llama3'}` (Llama 3.1 with transformers < 4.43).

    ## Example
    ```
    # requirements.txt
    transformers==4.40.0
    # llama31/config.json
    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, ...}
    ```

    ## Use instead
    ```
    transformers>=4.43.0
    ```
    """
    from stacklint.knowledge import architectures

    seen: Set[Tuple[str, int, str]] = set()
    rels = architectures.releases("transformers")
    for ref in stack.models:
        if ref.local is None:
            continue
        got = ref.config_value("rope_scaling")
        if got is None or not isinstance(got[0], dict):
            continue
        rs, where = got
        rtype = rs.get("rope_type", rs.get("type"))
        if not isinstance(rtype, str):
            continue
        first = architectures.rope_type_min_version(rtype)
        mt = ref.local.model_type
        if first is None or mt not in _ROPE_VALIDATED:
            continue  # other configs ignored unknown rope_scaling keys instead of failing
        for s in stack.environment(ref.location.path):
            for c in s.get("transformers"):
                adm = allowed(c, rels)
                if not adm or any(architectures.rope_type_supported(r, rtype) is not False for r in adm):
                    continue
                key = (c.location.path, c.location.line, where.path)
                if key in seen:
                    continue
                seen.add(key)
                from stacklint.fix import requirement_floor_fix

                spec = str(c.specifier) or "(any)"
                msg = (f"transformers{spec} cannot parse rope_scaling "
                       f"rope_type \"{rtype}\" ({where.path}:{where.line}); it was added in transformers {first}")
                yield Finding("SL104", c.location, msg, hint=f"require transformers>={first}",
                              fix=requirement_floor_fix(stack, c, first),
                              related=(Related(where, f"rope_type \"{rtype}\" needs transformers>={first}"),),
                              key=f"{rtype}|{spec}")


# -- SL105: NumPy 2 with a torch built against NumPy 1 ----------------------------------

# torch wheels before 2.3 were compiled against NumPy 1.x; NumPy 2 breaks their numpy bridge
# ("A module that was compiled using NumPy 1.x cannot be run in NumPy 2.0.0", then
# `RuntimeError: Could not infer dtype of numpy.float32` / "Numpy is not available").
_NUMPY2_FIRST_TORCH = "2.3.0"
_NUMPY2_EVIDENCE = (
    "https://github.com/pytorch/pytorch/issues/107302",  # NumPy 2.0 support tracker (torch 2.3)
    "https://github.com/ai2cm/ace/issues/378",  # torch.tensor(ndarray) fails under NumPy 2
)
# qwen1-171 removed: that thread (lr=0 with transformers 4.31) has nothing to do with NumPy 2.


@check(code="SL105", name="numpy2-with-torch-built-for-numpy1", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="The stack requires NumPy 2 together with a torch release (< 2.3) compiled against NumPy 1.",
       evidence=_NUMPY2_EVIDENCE)
def numpy2_with_old_torch(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports install sets whose numpy constraint admits only NumPy 2 releases while their torch
    constraint admits only releases older than 2.3 (wheels compiled against NumPy 1.x).

    ## Why is this bad?
    pip installs both (torch declares no numpy bound), then `import torch` prints "A module that was
    compiled using NumPy 1.x cannot be run in NumPy 2.0.0" and every tensor/ndarray conversion
    fails: `RuntimeError: Numpy is not available`, `Could not infer dtype of numpy.float32`.

    ## Example
    ```
    torch==2.1.2
    numpy>=2.0
    ```

    ## Use instead
    ```
    torch==2.1.2
    numpy<2
    ```

    ## Known false alarms
    Unpinned numpy is not reported (another package of the set may cap it below 2).
    """
    if not stack.install_sets:
        return  # nothing to judge: do not import what judging needs
    from stacklint.checks import _envlib as E

    for s in stack.install_sets:
        py = E.python_of(s)
        np_cs = [c for c in s.get("numpy") if E.constraint_applies(c, py) and not c.url]
        torch_cs = [c for c in s.get("torch") if E.constraint_applies(c, py) and not c.url]
        if not np_cs or not torch_cs or not any(c.bounded for c in np_cs):
            continue
        np_rel, torch_rel = E.candidates(np_cs), E.candidates(torch_cs)
        if not np_rel or not torch_rel:
            continue
        if any(E.V(r) < E.V("2.0.0") for r in np_rel):  # type: ignore[operator]
            continue
        if any(E.V(r) >= E.V(_NUMPY2_FIRST_TORCH) for r in torch_rel):  # type: ignore[operator]
            continue
        n, t = np_cs[0], torch_cs[0]
        msg = (f"{E.describe(n)} ({n.location.path}:{n.location.line}) installs NumPy 2, but "
               f"{E.describe(t)} ({t.location.path}:{t.location.line}) was compiled against NumPy 1.x — "
               f"pin numpy<2 or torch>={_NUMPY2_FIRST_TORCH}")
        yield Finding("SL105", n.location, msg, hint=f"pin numpy<2 or torch>={_NUMPY2_FIRST_TORCH}",
                      related=(Related(t.location, f"{E.describe(t)} needs numpy<2"),),
                      key=f"{E.describe(n)}|{E.describe(t)}")


# -- SL106: Python outside a pinned package's Requires-Python ---------------------------

_PY_EVIDENCE = (
    "https://github.com/llm-d/llm-d-benchmark/pull/677",  # python:3.14 base image: "Package 'vllm' requires a different Python: 3.14.3 not in '<3.14,>=3.10'"
    "https://packaging.python.org/en/latest/specifications/core-metadata/#requires-python",
)


@check(code="SL106", name="python-outside-requires-python", severity="error",
       category="Environment Compatibility Issues", subcategory="System Architecture Compatibility",
       summary="The stack's Python (base image tag, conda python=) is outside Requires-Python of every release a pin admits.",
       evidence=_PY_EVIDENCE)
def python_outside_requires_python(stack: Stack) -> Iterator[Finding]:
    """## What it does
    When an install set runs exactly one Python minor (a `python:3.8` / `*-py3.8` image tag, conda
    `python=3.8`), checks every constrained package against the `Requires-Python` of the releases
    the constraint admits.

    ## Why is this bad?
    pip finds no installable release: `ERROR: Could not find a version that satisfies the
    requirement vllm==0.6.3` / "Requires-Python >=3.9".

    ## Example
    ```
    FROM python:3.8-slim
    RUN pip install vllm==0.6.3
    ```

    ## Use instead
    ```
    FROM python:3.10-slim
    ```

    ## Known false alarms
    Ranges such as `requires-python = ">=3.8"` are not judged (a newer Python satisfies them).
    """
    if not stack.install_sets:
        return  # nothing to judge: do not import what judging needs
    from stacklint.checks import _envlib as E
    from stacklint.knowledge import packages

    for s in stack.install_sets:
        ex = E.exact_python(s)
        if ex is None:
            continue
        minor = ex[0]
        pyloc = s.python[0].location
        for c in s.constraints:
            if c.url or not packages.known(c.name) or not E.constraint_applies(c, minor):
                continue
            rels = E.candidates([c])
            if not rels:
                continue
            specs = [packages.requires_python(c.name, r) for r in rels]
            if any(sp is None or E.spec_of(sp) is None for sp in specs):
                continue
            if any(E.spec_of(sp).contains(minor + ".0", prereleases=True) for sp in specs):  # type: ignore[union-attr]
                continue
            msg = (f"{E.describe(c)} ({c.location.path}:{c.location.line}) requires Python {specs[0]}, but the "
                   f"stack runs Python {minor} ({pyloc.path}:{pyloc.line}) — use a newer Python or an older release")
            yield Finding("SL106", c.location, msg, hint=f"use Python matching {specs[0]}",
                          related=(Related(pyloc, f"Python {minor}"),), key=f"{E.describe(c)}|{minor}")


# -- SL107: torch pinned to a CUDA variant that release was never built for ---------------

_VARIANT_EVIDENCE = (
    "https://github.com/pytorch/pytorch/blob/main/RELEASE.md#release-compatibility-matrix",
)
_WHL_INDEX = re.compile(r"/whl/(?:nightly/|test/)?(cu\d{2,3}|rocm\d+(?:\.\d+)*|cpu|xpu)/?$")


def _cu(variant: str) -> Tuple[int, int]:
    d = variant[2:]
    return int(d[:-1]), int(d[-1])


def _same_command(s: InstallSet, idx: Location, c: Constraint) -> bool:
    """An index URL applies to the pip command it is written in (a requirements file: the file)."""
    if s.kind == "requirements":
        return True
    return idx.path == c.location.path and idx.line == c.location.line


def _primary_index_variant(s: InstallSet) -> Optional[Tuple[str, Location]]:
    """The wheel variant of a `--index-url .../whl/cu121` that replaces the default index
    (an extra index does not: pip still finds the default index's torch)."""
    for st in s.index_urls:
        if st.key not in ("-i", "--index-url"):
            continue
        m = _WHL_INDEX.search(str(st.value).strip().rstrip("/") + "/")
        if m is None:
            m = _WHL_INDEX.search(str(st.value).strip())
        if m:
            return m.group(1), st.location
    return None


@check(code="SL107", name="torch-cuda-variant-not-built", severity="error",
       category="Environment Compatibility Issues", subcategory="CUDA Version Compatibility",
       summary="The torch pin names a CUDA wheel variant (`+cu124`, `/whl/cu124` index) that this torch release was never built for.",
       evidence=_VARIANT_EVIDENCE)
def torch_cuda_variant_not_built(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For every exact torch pin, looks up the official wheel variants of that release (PyTorch's
    release build matrix, in stacklint's knowledge base) and reports a local label (`+cu124`)
    or a replacing index URL (`--index-url https://download.pytorch.org/whl/cu124`) naming a
    variant that release does not have.

    ## Why is this bad?
    No such wheel exists: `ERROR: Could not find a version that satisfies the requirement
    torch==2.0.1+cu124` / "No matching distribution found", and the image build stops.

    ## Example
    ```
    torch==2.0.1+cu121
    ```

    ## Use instead
    ```
    torch==2.1.2+cu121      # or torch==2.0.1+cu118
    ```

    ## Known false alarms
    Only releases listed in the knowledge base are judged; nightly/pre-releases, `--extra-index-url`
    (pip still reaches the default index) and private mirrors of other builds are not reported.
    """
    if not stack.install_sets:
        return  # nothing to judge: do not import what judging needs
    from stacklint.checks import _envlib as E

    for s in stack.install_sets:
        idx = _primary_index_variant(s)
        for c in s.get("torch"):
            v = c.exact()
            if v is None or c.url:
                continue
            base = str(v).split("+", 1)[0]
            variants = E.torch_cuda_variants(base)
            if not variants:
                continue
            want, where = None, c.location
            if c.local:
                want = c.local
            elif idx is not None and idx[0] not in ("cpu", "xpu") and _same_command(s, idx[1], c):
                want, where = idx
            if want is None or want in variants or not re.match(r"cu\d{2,3}$", want):
                continue
            same_kind = [x for x in variants if re.match(r"cu\d{2,3}$", x)]
            if not same_kind or _cu(same_kind[0]) <= _cu(want) <= _cu(same_kind[-1]):
                continue  # inside the release's range: the matrix may omit a published variant
            msg = (f"torch=={base} has no {want} wheel ({where.path}:{where.line}); its "
                   f"{'CUDA' if want.startswith('cu') else 'ROCm'} builds are {', '.join(same_kind) or 'none'} — "
                   f"pip stops with \"No matching distribution found\"")
            rel = () if where == c.location else (Related(where, f"index of {want} wheels"),)
            yield Finding("SL107", c.location, msg,
                          hint=f"use one of {', '.join(same_kind)} or a torch release built for {want}",
                          related=rel, key=f"torch=={base}+{want}")


# -- SL108: CUDA extension built from source in a runtime image (no nvcc) -----------------

_RUNTIME_EVIDENCE = (
    "https://github.com/Dao-AILab/flash-attention/blob/v2.8.3/setup.py",  # nvcc -V at import whenever CUDA_HOME is found
    "https://github.com/huggingface/nanotron/issues/167",  # flash-attn>=2.5.0: No such file '/usr/local/cuda/bin/nvcc'
    "https://github.com/locuslab/open-unlearning/issues/50",  # flash-attn 2.7.4.post1: the same, at egg_info
    "https://github.com/ByteDance-Seed/Bagel/issues/50",  # docker build: "using CUDA_HOME='/usr/local/cuda'", then nvcc missing
)
_NO_NVCC_IMAGE = re.compile(r"(?:^|/)cuda:[^\s]*-(?:runtime|base)(?:-|$)", re.I)
_SOURCE_BUILT = ("flash-attn",)  # sdist only on the package index: setup.py compiles with nvcc


@check(code="SL108", name="cuda-extension-build-without-nvcc", severity="error",
       category="Environment Compatibility Issues", subcategory="CUDA Version Compatibility",
       summary="The flash-attn pip install runs in an nvidia/cuda *-runtime/-base image, which has no nvcc to build it.",
       evidence=_RUNTIME_EVIDENCE)
def cuda_extension_build_without_nvcc(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports Dockerfile stages based on an `nvidia/cuda:*-runtime-*` or `*-base-*` image (no CUDA
    compiler) that `pip install flash-attn` from the package index, where it is published only as a
    source distribution.

    ## Why is this bad?
    When pip prepares the flash-attn sdist, its `setup.py` runs `$CUDA_HOME/bin/nvcc -V` at import
    whenever torch finds a CUDA directory (every release from 1.0 to 2.8.3, before it would look for
    a prebuilt wheel). These images have `/usr/local/cuda`, which torch takes as `CUDA_HOME`, but no
    nvcc in it, so the build stops at "Preparing metadata": `FileNotFoundError: [Errno 2] No such
    file or directory: '/usr/local/cuda/bin/nvcc'`, even when a prebuilt wheel would match.

    ## Example
    ```
    FROM nvidia/cuda:12.1.1-runtime-ubuntu22.04
    RUN pip install torch==2.3.1 && pip install flash-attn --no-build-isolation
    ```

    ## Use instead
    ```
    FROM nvidia/cuda:12.1.1-devel-ubuntu22.04
    ```
    (or install a prebuilt wheel by URL)

    ## Known false alarms
    Stages that install a wheel by URL or from an index other than PyPI (and its mirrors), set
    `FLASH_ATTENTION_SKIP_CUDA_BUILD`, or install the CUDA compiler themselves (`cuda-nvcc`,
    `cuda-toolkit`) are not reported.
    """
    for s in stack.install_sets:
        if s.kind != "dockerfile" or s.base_image is None:
            continue
        image = str(s.base_image.value)
        if not _NO_NVCC_IMAGE.search(image):
            continue
        tf = stack.texts.get(s.location.path)
        text = tf.text if tf is not None else ""
        if re.search(r"FLASH_ATTENTION_SKIP_CUDA_BUILD|cuda-nvcc|cuda-toolkit|cuda-compiler", text):
            continue
        if any(not _VLLM_STOCK_INDEX.match(str(st.value).strip()) for st in s.index_urls):
            continue  # a private index or find-links page may serve flash-attn wheels
        for c in s.constraints:
            if c.name not in _SOURCE_BUILT or c.url:
                continue
            msg = (f"{E_describe(c)} ({c.location.path}:{c.location.line}) is built from source when no "
                   f"prebuilt wheel matches, but {image} ({s.base_image.location.path}:"
                   f"{s.base_image.location.line}) has no nvcc — use a -devel image or a wheel URL")
            yield Finding("SL108", c.location, msg, hint="use an nvidia/cuda *-devel image or install a prebuilt wheel",
                          related=(Related(s.base_image.location, f"{image}: CUDA runtime only"),),
                          key=f"{c.name}|{image}")


def E_describe(c: Constraint) -> str:
    from stacklint.checks import _envlib as E

    return E.describe(c)


# -- SL109: one package constrained incompatibly within one resolution -------------------

_DECL_EVIDENCE = (
    "https://pip.pypa.io/en/stable/topics/dependency-resolution/#dealing-with-dependency-conflicts",
)


@check(code="SL109", name="conflicting-declarations", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="One package is constrained twice in one install (a requirements file and its includes, a pyproject group, a conda env) and no release satisfies both.",
       evidence=_DECL_EVIDENCE)
def conflicting_declarations(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Within one resolution — a requirements file with its `-r`/`-c` includes, a pyproject
    dependency group, a conda environment — finds a package constrained in two places whose
    specifiers no version satisfies together (`transformers==4.36.2` in `requirements.txt`,
    `transformers>=4.40` in an included `base.txt`).

    ## Why is this bad?
    pip stops: `ERROR: Cannot install transformers==4.36.2 and transformers>=4.40 because these
    package versions have conflicting dependencies` (`ResolutionImpossible`).

    ## Example
    ```
    # requirements.txt
    -r base.txt
    transformers==4.36.2
    # base.txt
    transformers>=4.40
    ```

    ## Use instead
    One declaration per package, or ranges that overlap.

    ## Known false alarms
    Separate `pip install` commands in a Dockerfile are not one resolution: a later pin replaces
    the earlier one (a deliberate override) and is not reported; constraints under markers that do
    not hold on Linux x86_64 are ignored.
    """
    if not stack.install_sets:
        return  # nothing to judge: do not import what judging needs
    from stacklint.checks import _envlib as E

    seen: Set[Tuple[Location, Location]] = set()
    for s in stack.install_sets:
        if s.kind not in ("requirements", "pyproject", "conda"):
            continue
        py = E.python_of(s)
        by: Dict[str, List[Constraint]] = {}
        for c in s.constraints:
            if c.url or not str(c.specifier) or not E.constraint_applies(c, py):
                continue
            by.setdefault(c.name, []).append(c)
        for name, cs in by.items():
            for i, a in enumerate(cs):
                for b in cs[i + 1:]:
                    if a.location == b.location or (a.location, b.location) in seen:
                        continue
                    if not _disjoint_specs(E.base_spec(a), E.base_spec(b), name):
                        continue
                    seen.add((a.location, b.location))
                    msg = (f"{E.describe(a)} ({a.location.path}:{a.location.line}) and {E.describe(b)} "
                           f"({b.location.path}:{b.location.line}) are installed together and no {name} "
                           f"release satisfies both — keep one declaration")
                    yield Finding("SL109", b.location, msg, hint=f"declare {name} once",
                                  related=(Related(a.location, f"{E.describe(a)} declared here"),),
                                  key=f"{E.describe(a)}|{E.describe(b)}")


def _disjoint_specs(a, b, name: str) -> bool:  # type: ignore[no-untyped-def]
    """True when provably no version satisfies both: checked against the known releases and
    against the versions the specifiers themselves name (so unknown packages work too)."""
    from stacklint.checks import _envlib as E

    probes = set(E.releases(name)) if _known(name) else set()
    for sp in list(a) + list(b):
        probes.add(sp.version.replace(".*", ".0"))
    vs = [p for p in probes if E.V(p) is not None]
    if not vs:
        return False
    if any(E.admits(a, p) and E.admits(b, p) for p in vs):
        return False
    # both sides must admit something; otherwise it is a typo-level problem of one line
    if not any(E.admits(a, p) for p in vs) or not any(E.admits(b, p) for p in vs):
        return False
    # without release data only two exact pins are provably disjoint
    if not _known(name):
        return all(len(list(x)) == 1 and list(x)[0].operator == "==" for x in (a, b))
    return True


def _known(name: str) -> bool:
    from stacklint.knowledge import packages

    return bool(packages.known(name))


# -- SL110-SL112: packages without wheels for the stack's platform or Python ----------------

_NO_PLATFORM_EVIDENCE = (
    "https://github.com/Dao-AILab/flash-attention/issues/770",  # flash-attn on Apple silicon: CUDA only
    "https://github.com/vllm-project/vllm/issues/3827",  # pip install vllm on Windows: not supported, use WSL
    "https://github.com/deepseek-ai/DeepSeek-V3/issues/478",  # triton==3.0.0 on Windows: no matching distribution
)


_NO_PY_WHEEL_EVIDENCE = (
    "https://pypi.org/project/torch/2.1.2/#files",  # cp38-cp311 wheels only, no sdist
)


def _release_status(name: str, rel: str, pf: str, py: Optional[str]) -> Tuple[str, str]:
    """(status, detail) of one release on a platform/Python:
    ok | limit (curated: cannot work) | none (no file at all) | nopy (no wheel for the Python, no sdist)
    | build (only an sdist / no wheel for the Python, but an sdist)."""
    from stacklint.knowledge import packages, wheels

    lim = wheels.limit(name, rel, pf)
    if lim is not None:
        return "limit", str(lim.get("why", ""))
    cov = wheels.coverage(name, rel)
    if cov is None:
        return "ok", ""  # unknown release: not judged
    pythons = cov.get("pythons") or {}
    entries = list(pythons.get(pf, ())) + list(pythons.get("any", ()))
    if not entries:
        return ("build", "no wheel") if cov.get("sdist") else ("none", "no wheel and no sdist")
    if py is None or wheels.python_covered(entries, py):
        return "ok", ""
    rp = packages.requires_python(name, rel)
    if rp is not None:
        from stacklint.checks import _envlib as E

        spec = E.spec_of(rp)
        if spec is not None and not spec.contains(py + ".0", prereleases=True):
            return "ok", ""  # outside Requires-Python: SL106's finding, not ours
    have = ", ".join(e for e in entries[:6])
    return ("build" if cov.get("sdist") else "nopy"), f"wheels for Python {have} only"


def _platform_findings(stack: Stack) -> List[Tuple[str, Finding]]:
    """SL110-SL112 share one pass over the stack's install targets; computed once per stack."""
    cached = getattr(stack, "_platform_findings", None)
    if cached is None:
        cached = list(_platform_pass(stack))
        try:
            stack._platform_findings = cached  # type: ignore[attr-defined]
        except AttributeError:  # a slotted or frozen stack: recompute, never fail
            pass
    return cached


def _platform_pass(stack: Stack) -> Iterator[Tuple[str, Finding]]:
    if not stack.install_sets and not stack.docs:
        return  # no install, no CI workflow: nothing runs anywhere (and nothing to import)
    from stacklint.checks import _envlib as E
    from stacklint.checks import _platform as P
    from stacklint.knowledge import wheels

    seen: Set[Tuple[str, Location, str]] = set()
    for t in P.targets(stack):
        if P.index_overridden(t.install):
            continue
        py_eval = t.python or "3.11"
        for c in t.constraints:
            if c.url or not wheels.known(c.name) or not P.applies(c, t.platform, py_eval):
                continue
            spec = E.base_spec(c)
            rels = [r for r in wheels.releases(c.name) if E.admits(spec, r)]
            if not rels:
                continue
            stats = [_release_status(c.name, r, t.platform, t.python) for r in rels]
            kinds = {k for k, _ in stats}
            if "ok" in kinds:
                continue
            pf_text = P.describe_platform(t.platform)
            src = f"{t.how} ({t.where.path}:{t.where.line})"
            pyw = t.py_where
            py_src = f"Python {t.python} ({pyw.path}:{pyw.line})" if t.python and pyw else ""
            if kinds <= {"limit", "none", "nopy"}:
                if kinds == {"nopy"}:
                    code = "SL112"
                    msg = (f"{E.describe(c)} ({c.location.path}:{c.location.line}) has no wheel for {py_src} "
                           f"on {pf_text} and no source distribution ({stats[-1][1]}) — pip stops with "
                           f"\"No matching distribution found\"")
                    hint = f"use a Python the release has wheels for, or a release built for Python {t.python}"
                    rel_where = pyw or t.where
                else:
                    code = "SL110"
                    why = next((d for k, d in stats if k == "limit"), "") or stats[-1][1]
                    msg = (f"{E.describe(c)} ({c.location.path}:{c.location.line}) cannot be installed or run on "
                           f"{pf_text}, the {src}: {why}")
                    hint = f"run {c.name} on Linux (a container or WSL), or drop it for {pf_text}"
                    rel_where = t.where
            else:
                if not t.explicit and "build" in kinds and not any(d.startswith("wheels for") for _k, d in stats):
                    continue  # Linux x86_64 assumed, not stated: source builds there are normal
                if t.platform == P.DEFAULT and not any(d.startswith("wheels for") for _k, d in stats):
                    continue
                code = "SL111"
                what = (f"no wheel for {py_src} on {pf_text}" if any(d.startswith("wheels for") for _k, d in stats)
                        else f"no wheel for {pf_text}, the {src}")
                msg = (f"{E.describe(c)} ({c.location.path}:{c.location.line}) has {what}; pip builds it from "
                       f"source, which needs a compiler toolchain (and the CUDA toolkit for GPU kernels)")
                hint = "pin a release with a wheel for this platform/Python, or build it where the toolchain exists"
                rel_where = (pyw or t.where) if "Python" in what else t.where
            key = (code, c.location, t.platform)
            if key in seen:
                continue
            seen.add(key)
            yield code, Finding(code, c.location, msg, hint=hint,
                                related=(Related(rel_where, f"{pf_text}" + (f", Python {t.python}" if t.python else "")),),
                                key=f"{E.describe(c)}|{t.platform}|{t.python or ''}")


@check(code="SL110", name="package-unsupported-on-platform", severity="error",
       category="Environment Compatibility Issues", subcategory="System Architecture Compatibility",
       summary="A package the stack installs has no build for the platform it runs on (vLLM on Windows, flash-attn on macOS, old bitsandbytes on Windows, triton off Linux).",
       evidence=_NO_PLATFORM_EVIDENCE)
def package_unsupported_on_platform(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Finds the platform each install runs on — a Dockerfile `--platform` or an arm64 base image, conda
    `platforms:`, the GitHub Actions runner of a workflow job that `pip install`s packages,
    `[tool.stacklint.target] platform` — and reports packages for which no release the constraint admits
    can work there: the package index has no wheel and no source distribution for that platform, or the
    package is known not to support it (vLLM on Windows, flash-attn on macOS, bitsandbytes < 0.43 on
    Windows/macOS). Wheel coverage comes from the package index's file listings (knowledge/data/wheels.json).

    ## Why is this bad?
    pip stops with `No matching distribution found for triton`, vLLM's build stops with "vLLM only supports
    Linux platform", flash-attn's build with "nvcc was not found", and bitsandbytes < 0.43 on Windows
    imports but fails with "CUDA Setup failed despite GPU being available".

    ## Example
    ```
    # .github/workflows/test.yml
    runs-on: windows-latest
    steps:
      - run: pip install vllm==0.6.3
    ```

    ## Use instead
    ```
    runs-on: ubuntu-latest
    ```

    ## Known false alarms
    Constraints under environment markers that exclude the platform (`vllm; sys_platform == "linux"`),
    installs from a private index or `--find-links` directory (they may serve other builds), self-hosted
    runners and workflow steps with an `if:` condition in multi-platform matrices are not judged. Linux
    x86_64 is assumed only where a file states nothing.
    """
    for code, f in _platform_findings(stack):
        if code == "SL110":
            yield f


@check(code="SL111", name="no-wheel-for-platform", severity="warning",
       category="Environment Compatibility Issues", subcategory="System Architecture Compatibility",
       summary="A package has no wheel for the stated platform or Python, so pip compiles it from source (deepspeed on Windows, flash-attn on aarch64).",
       evidence=_NO_PLATFORM_EVIDENCE)
def no_wheel_for_platform(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Like SL110, but for packages that publish a source distribution: no release the constraint admits has a
    wheel for the stated platform (deepspeed on Windows, flash-attn or xformers on Linux aarch64 or macOS)
    or for the stack's Python minor, so pip falls back to compiling the sdist.

    ## Why is this bad?
    The build needs a C++ toolchain and, for GPU kernels, the CUDA toolkit of the right version; it often
    fails (`error: subprocess-exited-with-error`, "CUDA_HOME environment variable is not set") or takes
    an hour. It may also succeed, hence a warning.

    ## Example
    ```
    FROM --platform=linux/arm64 nvidia/cuda:12.4.1-devel-ubuntu22.04
    RUN pip install xformers==0.0.28.post1
    ```

    ## Use instead
    A release with a wheel for the platform, or a prebuilt wheel by URL.

    ## Known false alarms
    Linux x86_64 source builds are not reported unless a stated Python has no wheel (flash-attn, deepspeed
    and the like are sdist-only there by design and fetch or build their kernels at install time).
    """
    for code, f in _platform_findings(stack):
        if code == "SL111":
            yield f


@check(code="SL112", name="no-wheel-for-python", severity="error",
       category="Environment Compatibility Issues", subcategory="System Architecture Compatibility",
       summary="A pinned package has wheels for the platform but none for the stack's Python, and no source distribution (torch 2.1 on Python 3.12).",
       evidence=_NO_PY_WHEEL_EVIDENCE)
def no_wheel_for_python(stack: Stack) -> Iterator[Finding]:
    """## What it does
    When an install runs one Python minor (`python:3.12` image tag, conda `python=3.12`, setup-python in a
    workflow job, `[tool.stacklint.target] python`), reports constraints under which every admitted release
    has wheels only for other Python versions and no source distribution — the case `Requires-Python`
    does not catch (torch declares `>=3.8` but 2.1.x ships no cp312 wheel).

    ## Why is this bad?
    `ERROR: Could not find a version that satisfies the requirement torch==2.1.2 (from versions: 2.2.0, ...)`.

    ## Example
    ```
    FROM python:3.12-slim
    RUN pip install torch==2.1.2
    ```

    ## Use instead
    ```
    FROM python:3.11-slim      # or torch>=2.2
    ```

    ## Known false alarms
    Releases whose Requires-Python already excludes the Python are left to SL106; installs from a private
    index or `--find-links` directory are not judged.
    """
    for code, f in _platform_findings(stack):
        if code == "SL112":
            yield f


# -- SL113: torch.distributed NCCL backend on a platform whose torch has no NCCL ------------

_NCCL_EVIDENCE = (
    "https://github.com/meta-llama/llama/issues/104",  # llama2-16: Windows, example.py init_process_group("nccl"); fix: "gloo"
    "https://github.com/meta-llama/codellama/issues/11",  # codellama-1: macOS, "Distributed package doesn't have NCCL built in"
    "https://github.com/meta-llama/llama3/issues/127",  # llama3-10: Windows 11, Llama.build -> nccl
    "https://github.com/meta-llama/llama/issues/112",  # llama2-17: macOS / Windows, same error; fix: gloo backend
    "https://github.com/meta-llama/codellama/issues/50",  # codellama-5: Windows 10, torchrun example_instructions.py -> Llama.build
    "https://github.com/meta-llama/llama/issues/722",  # llama2-69: macOS, generation.py init_process_group("nccl") in the traceback
    "https://github.com/meta-llama/codellama/issues/70",  # codellama-10: Windows laptop, dist.is_nccl_available() is False
)
_PLATFORM_AWARE = re.compile(r"is_nccl_available|sys\.platform|platform\.system\(|os\.name\b")


def _nccl_platforms(stack: Stack, path: str) -> List[Tuple[str, Location, str]]:
    """Non-Linux platforms the script at ``path`` is stated to run on."""
    from stacklint.checks import _platform as P

    out: List[Tuple[str, Location, str]] = []
    if stack.target_platform is not None:
        pf = P.normalize(stack.target_platform.value)
        if pf and not pf.startswith("linux"):
            out.append((pf, stack.target_platform.location, f"target platform {stack.target_platform.value}"))
    for s in stack.environment(path):
        pfs = [(P.normalize(st.value), st) for st in s.platforms]
        if pfs and all(p and not p.startswith("linux") for p, _ in pfs):
            pf, st = pfs[0]
            out.append((pf, st.location, f"platform {st.value}"))  # type: ignore[arg-type]
    for s in stack.environment(path):
        for c in s.get("torch"):
            if c.local and c.local.startswith("cpu"):
                out.append(("cpu-build", c.location, f"CPU-only torch {E_describe(c)}"))
        for st in s.index_urls:
            if s.get("torch") and re.search(r"/whl/(?:nightly/|test/)?cpu/?$", str(st.value).strip()):
                out.append(("cpu-build", st.location, f"CPU-only torch index {st.value}"))
    name = path.rsplit("/", 1)[-1]
    for wpath, docs in stack.docs.items():
        if "/.github/workflows/" not in "/" + wpath:
            continue
        for doc in docs:
            jobs = doc.get("jobs")
            for jname, job in (jobs.items() if isinstance(jobs, dict) else ()):
                if not isinstance(job, dict) or not isinstance(job.get("runs-on"), str):
                    continue
                pf = P.runner_platform(job["runs-on"])
                if pf is None or pf.startswith("linux"):
                    continue
                runs = " ".join(st.get("run") for st in job.get("steps") or ()
                                if isinstance(st, dict) and isinstance(st.get("run"), str))
                if re.search(r"(?:^|[\s/])" + re.escape(name) + r"\b", runs):
                    out.append((pf, doc.loc("jobs", jname, "runs-on"), f"runs-on {job['runs-on']}"))
    return out


@check(code="SL113", name="nccl-backend-off-linux", severity="error",
       category="Environment Compatibility Issues", subcategory="System Architecture Compatibility",
       summary="A script initialises torch.distributed with the NCCL backend on Windows or macOS, whose torch builds have no NCCL.",
       evidence=_NCCL_EVIDENCE)
def nccl_backend_off_linux(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Finds `torch.distributed.init_process_group("nccl")` (or `backend="nccl"`) in the stack's Python
    files and reports it when the stack states that it runs on Windows or macOS: `[tool.stacklint.target]
    platform`, a conda environment whose `platforms:` are all non-Linux, or a GitHub Actions job on a
    Windows/macOS runner that runs the script — or installs a CPU-only torch (`torch==2.1.0+cpu`, the
    `https://download.pytorch.org/whl/cpu` index), which has no NCCL either. The Meta reference code (`llama/generation.py`,
    `example.py`) does exactly this.

    ## Why is this bad?
    Only the CUDA/ROCm builds of torch for Linux include NCCL: `RuntimeError: Distributed package doesn't have NCCL built in`
    as soon as the script starts (`torchrun ... example_chat_completion.py` on a laptop).

    ## Example
    ```
    # stacklint.toml
    [target]
    platform = "windows-amd64"
    # example.py
    torch.distributed.init_process_group("nccl")
    ```

    ## Use instead
    ```
    torch.distributed.init_process_group("gloo")   # or pick the backend from the platform
    ```

    ## Known false alarms
    Files that choose the backend at run time (another `init_process_group` call with a different or
    computed backend, or a check of `sys.platform` / `is_nccl_available()`) are not reported; without a
    stated platform nothing is reported.
    """
    for doc in stack.scripts:
        calls = [c for c in doc.calls if c.short == "init_process_group"]
        if not calls:
            continue
        from stacklint.knowledge import wheels
        backends = []
        for c in calls:
            arg = c.kwargs.get("backend") or (c.args[0] if c.args else None)
            val = arg.value if arg is not None else None
            backends.append((c, arg, val.lower() if isinstance(val, str) else None))
        if any(b != "nccl" for _c, _a, b in backends):
            continue  # another or a computed backend: chosen at run time
        tf = stack.texts.get(doc.path)
        if tf is not None and _PLATFORM_AWARE.search(tf.text):
            continue
        targets = _nccl_platforms(stack, doc.path)
        if not targets:
            continue
        pf, where, how = targets[0]
        lim = wheels.feature_limit("torch", "nccl", pf)
        if lim is None:
            continue
        from stacklint.checks import _platform as P

        for c, arg, _b in backends:
            loc = Location(doc.path, arg.line if arg is not None else c.line, arg.col if arg is not None else c.col)
            what = "CPU-only torch builds" if pf == "cpu-build" else f"torch builds for {P.describe_platform(pf)}"
            msg = (f"init_process_group(\"nccl\") ({doc.path}:{c.line}) needs NCCL, which {what} "
                   f"do not include ({how}, {where.path}:{where.line}) — torch raises "
                   f"\"Distributed package doesn't have NCCL built in\"; use the \"gloo\" backend off Linux")
            yield Finding("SL113", loc, msg, hint="use init_process_group(\"gloo\") on Windows/macOS, or run on Linux",
                          related=(Related(where, "CPU-only torch" if pf == "cpu-build"
                                           else f"runs on {P.describe_platform(pf)}"),),
                          key=f"nccl|{pf}")


# -- SL130: a grouped-query-attention Llama config under transformers < 4.31 -------------

# LlamaConfig/LlamaAttention learned `num_key_value_heads` (grouped-query attention, Llama 2 70B,
# CodeLlama 34B, Llama 3, DeepSeek-Coder 33B) in transformers 4.31.0 (2023-07-18,
# https://github.com/huggingface/transformers/releases/tag/v4.31.0; checked in the 4.30.2 and
# 4.31.0 wheels: configuration_llama.py / modeling_llama.py of 4.30.2 never read the field).
# Older releases keep the key as a stray attribute and build k_proj/v_proj with all heads.
_GQA_FIRST_TRANSFORMERS = "4.31.0"
_GQA_MODEL_TYPES = frozenset({"llama"})
_GQA_EVIDENCE = (
    # llama2-36: Llama-2-70b-hf fails to load ("size mismatch for ...k_proj.weight: copying a param
    # with shape torch.Size([1024, 8192]) ... current model is torch.Size([8192, 8192])"); solved by
    # installing the transformers release that knows Llama 2 70B's architecture.
    "https://github.com/meta-llama/llama/issues/378",
)
# Engines with their own Llama implementation read num_key_value_heads from the config's stray
# attribute, so only transformers-run models are judged.
_OWN_LLAMA_ENGINES = frozenset({"vllm", "sglang", "tgi", "lmdeploy", "trtllm", "tensorrt-llm", "llama.cpp",
                                "ollama", "exllama", "mlc"})


@check(code="SL130", name="grouped-query-attention-too-new-for-transformers", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="A Llama-architecture model with grouped-query attention (num_key_value_heads < num_attention_heads) under a transformers constraint older than 4.31.",
       evidence=_GQA_EVIDENCE, fixable=True)
def grouped_query_attention_too_new_for_transformers(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reads `num_attention_heads` and `num_key_value_heads` of every Llama-architecture model the stack
    uses (a local `config.json`, or a hub id known to stacklint's knowledge base) and reports the
    transformers constraints of that file's environment that admit only releases older than 4.31,
    which predate grouped-query attention in `LlamaAttention`.

    ## Why is this bad?
    transformers 4.28-4.30 know `model_type: llama` (so nothing complains at install time) but build
    the key/value projections with every attention head. Llama 2 70B, CodeLlama 34B, Llama 3 and
    DeepSeek-Coder 33B then fail to load (`size mismatch for model.layers.0.self_attn.k_proj.weight:
    copying a param with shape torch.Size([1024, 8192]) from checkpoint, the shape in current model
    is torch.Size([8192, 8192])`) or, when the weights are converted or quantised on the fly, crash
    in the first forward pass (`RuntimeError: shape '[1, 16, 64, 128]' is invalid for input of size
    16384`).

    ## Example
    ```
    # requirements.txt
    transformers==4.30.2
    # load.py
    AutoModelForCausalLM.from_pretrained("meta-llama/Llama-2-70b-chat-hf")
    ```

    ## Use instead
    ```
    transformers>=4.31.0
    ```

    ## Known false alarms
    Models served by an engine with its own Llama implementation (vLLM, SGLang, TGI, ...) are not
    judged; they read `num_key_value_heads` themselves.
    """
    from packaging.version import Version

    from stacklint.knowledge import architectures

    rels = architectures.releases("transformers")
    if _GQA_FIRST_TRANSFORMERS not in rels:
        return
    engine_refs = {id(j.model) for j in stack.jobs
                   if j.model is not None and j.kind == "serving" and j.framework in _OWN_LLAMA_ENGINES}
    seen: Set[Tuple[str, int, str]] = set()
    for ref in stack.models:
        if id(ref) in engine_refs:
            continue
        mt = ref.model_type
        if mt is None or mt[0] not in _GQA_MODEL_TYPES:
            continue
        heads, kv = ref.config_value("num_attention_heads"), ref.config_value("num_key_value_heads")
        if heads is None or kv is None:
            continue
        if not isinstance(heads[0], int) or not isinstance(kv[0], int) or isinstance(kv[0], bool):
            continue
        if not (0 < kv[0] < heads[0]):
            continue
        for s in stack.environment(ref.location.path):
            for c in s.get("transformers"):
                adm = allowed(c, rels)
                if not adm or any(Version(r) >= Version(_GQA_FIRST_TRANSFORMERS) for r in adm):
                    continue
                key = (c.location.path, c.location.line, kv[1].path)
                if key in seen:
                    continue
                seen.add(key)
                from stacklint.fix import requirement_floor_fix

                spec = str(c.specifier) or "(any)"
                label = ref.ref if ref.local is None else ref.local.dir
                msg = (f"transformers{spec} predates grouped-query attention in Llama models: {label} has "
                       f"num_key_value_heads {kv[0]} < num_attention_heads {heads[0]} ({kv[1].path}:{kv[1].line}) "
                       f"— transformers < {_GQA_FIRST_TRANSFORMERS} builds k_proj/v_proj for all {heads[0]} heads "
                       f"and fails with \"size mismatch for ...self_attn.k_proj.weight\"")
                yield Finding("SL130", c.location, msg, hint=f"require transformers>={_GQA_FIRST_TRANSFORMERS}",
                              fix=requirement_floor_fix(stack, c, _GQA_FIRST_TRANSFORMERS),
                              related=(Related(kv[1], f"num_key_value_heads {kv[0]} needs "
                                                      f"transformers>={_GQA_FIRST_TRANSFORMERS}"),),
                              key=f"gqa|{spec}")


# -- SL120: vLLM on an NVIDIA GPU below compute capability 7.0 ---------------------------------

# The lowest NVIDIA architecture vLLM's CUDA kernels are built for, in every release: 7.0 (Volta).
# Sources: the installation requirements ("GPU: compute capability 7.0 or higher (e.g., V100, T4,
# RTX20xx, A100, L4, H100, etc.)", https://docs.vllm.ai/en/v0.4.2/getting_started/installation.html);
# setup.py up to v0.4 (NVIDIA_SUPPORTED_ARCHS = {"7.0", "7.5", "8.0", "8.6", "8.9", "9.0"}, and "GPUs
# with compute capability below 7.0 are not supported.", https://github.com/vllm-project/vllm/blob/v0.4.0/setup.py);
# CMakeLists.txt since (CUDA_SUPPORTED_ARCHS starts at 7.0, at 7.5 for CUDA >= 12.8 builds,
# https://github.com/vllm-project/vllm/blob/main/CMakeLists.txt). Checked 2026-12-04.
_VLLM_MIN_CAPABILITY = 7.0
_VLLM_NON_CUDA_DEVICES = {"cpu", "neuron", "tpu", "xpu", "hpu", "openvino"}
_VLLM_GPU_EVIDENCE = (
    "https://github.com/QwenLM/Qwen2.5/issues/218",  # qwen25-45: vLLM OpenAI server, Qwen1.5-14B-Chat-GPTQ-Int4, Tesla P40: "no kernel image is available"
    "https://docs.vllm.ai/en/v0.4.2/getting_started/installation.html",
    "https://github.com/vllm-project/vllm/issues/1431",
)


# Indexes that serve vLLM's own builds: PyPI and its public mirrors, the PyTorch/NVIDIA indexes, vLLM's wheels.
_VLLM_STOCK_INDEX = re.compile(
    r"^https?://(?:[\w.-]+\.)?(?:pypi\.org|pythonhosted\.org|download\.pytorch\.org|pypi\.nvidia\.com|"
    r"wheels\.vllm\.ai|mirrors\.aliyun\.com|pypi\.tuna\.tsinghua\.edu\.cn|mirrors\.tuna\.tsinghua\.edu\.cn|"
    r"mirrors\.cloud\.tencent\.com|pypi\.mirrors\.ustc\.edu\.cn|mirrors\.ustc\.edu\.cn|repo\.huaweicloud\.com|"
    r"mirrors\.bfsu\.edu\.cn|mirror\.baidu\.com|mirrors\.163\.com)(?:[:/]|$)", re.I)


def _vllm_custom_build(stack: Stack, path: str) -> bool:
    """A vLLM installed from a URL or a local path, or next to a third-party index (community builds
    for Pascal GPUs are published that way), may be built for other GPUs."""
    for s in stack.environment(path):
        if not s.get("vllm"):
            continue
        if any(c.url for c in s.get("vllm")):
            return True
        if any(not _VLLM_STOCK_INDEX.match(str(st.value).strip()) for st in s.index_urls):
            return True
    return False


@check(code="SL120", name="vllm-on-gpu-below-compute-capability-7", severity="error",
       category="Environment Compatibility Issues", subcategory="System Architecture Compatibility",
       summary="A vLLM launch targets an NVIDIA GPU below compute capability 7.0 (Pascal or older), for which vLLM's CUDA kernels are not built.",
       evidence=_VLLM_GPU_EVIDENCE)
def vllm_on_gpu_below_compute_capability_7(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For every vLLM launch (`vllm serve`, `python -m vllm.entrypoints.openai.api_server`, `LLM(...)`,
    the vllm-openai image) whose target GPU is known (`--gpu`, `[tool.stacklint.target] gpu`, a node
    selector or SkyPilot accelerator in the job's file), compares the GPU's compute capability with
    7.0, the lowest NVIDIA architecture vLLM is built for (Volta; from CUDA 12.8 builds on, Turing).

    ## Why is this bad?
    vLLM's custom CUDA kernels (paged attention, cache, quantisation kernels) carry no code for
    Pascal and older GPUs (P40, P100, P4, GTX 10xx, K80): the server loads the weights and then fails
    with `RuntimeError: CUDA error: no kernel image is available for execution on the device` on the
    first forward pass (building from source stops with "GPUs with compute capability below 7.0 are
    not supported."). vLLM's requirements state "GPU: compute capability 7.0 or higher".

    ## Example
    ```sh
    # target GPU: Tesla P40 (compute capability 6.1)
    python -m vllm.entrypoints.openai.api_server --model Qwen/Qwen1.5-14B-Chat-GPTQ-Int4
    ```

    ## Use instead
    ```sh
    # serve on a Volta/Turing or newer GPU (V100, T4, A10, A100, ...), or on the Pascal GPU with an
    # engine that supports it (transformers, llama.cpp)
    ```

    ## Known false alarms
    Third-party vLLM builds for `sm_6x` exist (published on their own package index). A vLLM
    installed from a URL or a local path, or by an install set that names an index other than PyPI
    (and its mirrors), the PyTorch/NVIDIA indexes or vLLM's own, is not reported; a custom build
    installed by other means is not recognised. Jobs run with
    `--device cpu` (or another non-CUDA device), AMD GPUs and unknown GPUs are not judged.
    """
    for job in stack.serving_jobs():
        if job.framework != "vllm":
            continue
        from stacklint.checks.serving import _where, as_float, job_setting, target_gpu  # a vLLM job exists

        dev = job_setting(stack, job, "device")
        if dev is not None and str(dev.value).strip().lower() in _VLLM_NON_CUDA_DEVICES:
            continue
        tg = target_gpu(stack, job)
        if tg is None:
            continue
        gs, rec = tg
        if rec.get("vendor") != "nvidia":
            continue
        cap = as_float(rec.get("compute_capability"))
        if cap is None or cap >= _VLLM_MIN_CAPABILITY:
            continue
        if _vllm_custom_build(stack, job.location.path):
            continue
        arch = rec.get("architecture") or "pre-Volta"
        yield Finding(
            "SL120", job.location,
            f"vLLM is launched for the target GPU {rec['name']} ({_where(gs.location)}), a {arch} GPU of "
            f"compute capability {cap:g}; vLLM's CUDA kernels are built for compute capability "
            f"{_VLLM_MIN_CAPABILITY:.1f} and newer only, so the first forward pass fails with \"CUDA error: no "
            f"kernel image is available for execution on the device\"",
            hint="serve on a GPU of compute capability 7.0 or newer (V100, T4, A10, A100, ...), or use an engine "
                 "that runs on this GPU (transformers, llama.cpp)",
            related=(Related(gs.location, f"GPU {rec['name']}: compute capability {cap:g}"),),
            key=f"vllm-cc|{rec['name']}")


# -- SL134: a torch CUDA wheel built with a toolkit that predates the target GPU's architecture --

# The first CUDA toolkit whose compiler emits code for each NVIDIA architecture generation
# (compute-capability major). The official torch wheels carry compiled kernels for the
# architectures of their TORCH_CUDA_ARCH_LIST only, which a build can list only if its toolkit
# knows them: torch 2.0.1+cu117 is built for sm_37..sm_86 and its cu118 twin adds sm_90; the
# cu124/cu126 builds stop at sm_90 and only the cu128 builds add sm_100/sm_120. Within one major
# the newest kernel of a lower minor runs (sm_86 code on an sm_89 RTX 4090), so only the major is
# compared. Sources: CUDA 11.0 release notes (sm_80, https://docs.nvidia.com/cuda/archive/11.0/cuda-toolkit-release-notes/index.html),
# CUDA 11.8 (sm_89/sm_90, https://docs.nvidia.com/cuda/archive/11.8.0/cuda-toolkit-release-notes/index.html),
# CUDA 12.8 (sm_100/sm_120, https://docs.nvidia.com/cuda/archive/12.8.0/cuda-toolkit-release-notes/index.html);
# the wheels' arch lists: https://github.com/pytorch/builder/blob/main/manywheel/build_cuda.sh
# (release/2.0 and later), https://github.com/pytorch/pytorch/blob/main/.ci/manywheel/build_cuda.sh.
# Checked 2026-12-04.
_FIRST_TOOLKIT_FOR_MAJOR = {8: (11, 0), 9: (11, 8), 10: (12, 8), 12: (12, 8)}
_TORCH_ARCH_EVIDENCE = (
    "https://github.com/deepseek-ai/DeepSeek-Coder/issues/168",  # dscoder-22: torch 2.0.1+cu117 on H100 PCIe: "no kernel image is available"
    "https://github.com/pytorch/pytorch/issues/167244",  # torch 2.7.0.dev+cu124 on RTX 5090 (sm_120): "no kernel image is available"
)
_PIP_KINDS = ("requirements", "pyproject", "dockerfile", "script")


def _variant_toolkit(variant: str) -> Optional[Tuple[int, int]]:
    m = re.match(r"cu(\d{2,3})$", variant)
    if not m:
        return None
    d = m.group(1)
    return int(d[:-1]), int(d[-1])


def _torch_wheel_variant(stack: Stack, s: InstallSet, c: Constraint, base: str) -> Optional[Tuple[str, Location, str]]:
    """(variant, where, how) of the torch wheel pip installs for an exact pin: its local label, the
    PyTorch index the command names, else the CUDA build published on PyPI (Linux x86_64)."""
    if c.local:
        return c.local, c.location, "local label"
    idx = _primary_index_variant(s)
    if idx is not None:
        return (idx[0], idx[1], "index") if _same_command(s, idx[1], c) else None
    extra: List[Tuple[str, Location]] = []
    for st in s.index_urls:
        value = str(st.value).strip()
        m = _WHL_INDEX.search(value.rstrip("/") + "/")
        if m is not None and "download.pytorch.org" in value:
            extra.append((m.group(1), st.location))
        elif _VLLM_STOCK_INDEX.match(value) and "download.pytorch.org" not in value:
            continue  # PyPI or a public mirror of it: the PyPI wheel
        else:
            return None  # another index or a find-links page may serve other builds
    if extra:
        # `--extra-index-url .../whl/cu118`: torch==2.0.1 also matches 2.0.1+cu118, which pip prefers
        return (extra[0][0], extra[0][1], "index") if len(extra) == 1 else None
    from stacklint.checks import _platform as P

    if stack.target_platform is not None and P.normalize(stack.target_platform.value) not in (None, "linux-x86_64"):
        return None
    if s.platforms and any(P.normalize(st.value) != "linux-x86_64" for st in s.platforms):
        return None
    for d in stack.install_sets:
        # an image that ships torch (pytorch/pytorch, nvcr.io/nvidia/pytorch) already satisfies a plain pin
        if d.kind == "dockerfile" and d.base_image is not None and c.location.path in (d.files or ()) \
                and re.search(r"torch", str(d.base_image.value), re.I):
            return None
    from stacklint.knowledge import cuda

    default = cuda.torch_default_cuda(base)
    return (default, c.location, "PyPI wheel") if default else None


@check(code="SL134", name="torch-wheel-lacks-gpu-architecture", severity="error",
       category="Environment Compatibility Issues", subcategory="CUDA Version Compatibility",
       summary="The pinned torch wheel is a CUDA build older than the target GPU's architecture, so it holds no kernel for that GPU (torch 2.0.1+cu117 on an H100).",
       evidence=_TORCH_ARCH_EVIDENCE)
def torch_wheel_lacks_gpu_architecture(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For every exact torch pin installed with pip, finds the CUDA build pip installs: the local label
    (`torch==2.0.1+cu117`), the PyTorch index the command names (`--index-url
    https://download.pytorch.org/whl/cu117`), else the CUDA build of that release on PyPI (from
    stacklint's knowledge base: 2.0.1 is cu117, 2.1-2.4 cu121, 2.5-2.6 cu124, ...). When the target
    GPU is known (`--gpu`, `[tool.stacklint.target] gpu`), compares that CUDA toolkit with the first
    toolkit that can compile for the GPU's architecture generation: CUDA 11.0 for Ampere/Ada (sm_8x),
    11.8 for Hopper (sm_90), 12.8 for Blackwell (sm_100, sm_120).

    ## Why is this bad?
    The official wheels hold compiled kernels for the architectures their toolkit knew and no
    portable code: on a newer GPU torch warns "NVIDIA H100 PCIe with CUDA capability sm_90 is not
    compatible with the current PyTorch installation" and the first CUDA operation fails with
    `RuntimeError: CUDA error: no kernel image is available for execution on the device` (model
    loading, DeepSpeed initialisation, the first forward pass).

    ## Example
    ```
    # requirements.txt (target GPU: H100)
    torch==2.0.1+cu117
    ```

    ## Use instead
    ```
    torch==2.0.1+cu118      # a CUDA 11.8+ build carries sm_90 kernels
    ```

    ## Known false alarms
    Only exact pins are judged, and only pip installs (conda builds are not read). Torch built from
    source, a custom `TORCH_CUDA_ARCH_LIST`, or an index other than PyPI and download.pytorch.org is
    not judged; without a target GPU nothing is reported. GPUs of an architecture generation not
    listed (compute capability 11.x, AMD, unknown names) are not judged.
    """
    if not stack.install_sets or not stack.gpus:
        return
    from stacklint.knowledge import hardware

    for s in stack.install_sets:
        if s.kind not in _PIP_KINDS:
            continue
        gpu = None
        for gs in stack.gpus:
            if gs.key == "config" or gs.location.path in (s.files or (s.location.path,)):
                rec = hardware.gpu(str(gs.value).split(":", 1)[0]) if isinstance(gs.value, str) else None
                if rec is not None:
                    gpu = (gs, rec)
                    if gs.key == "config":
                        break
        if gpu is None:
            continue
        gs, rec = gpu
        if rec.get("vendor") != "nvidia":
            continue
        try:
            major = int(str(rec.get("compute_capability")).split(".", 1)[0])
        except ValueError:
            continue
        need = _FIRST_TOOLKIT_FOR_MAJOR.get(major)
        if need is None:
            continue
        for c in s.get("torch"):
            v = c.exact()
            if v is None or c.url:
                continue
            base = str(v).split("+", 1)[0]
            got = _torch_wheel_variant(stack, s, c, base)
            if got is None:
                continue
            variant, where, how = got
            tk = _variant_toolkit(variant)
            if tk is None or tk >= need:
                continue
            from stacklint.checks import _envlib as E

            fixes = [x for x in (E.torch_cuda_variants(base) or []) if (_variant_toolkit(x) or (0, 0)) >= need]
            cc = rec.get("compute_capability")
            arch = rec.get("architecture") or f"sm_{str(cc).replace('.', '')}"
            msg = (f"{E_describe(c)} installs the CUDA {tk[0]}.{tk[1]} build ({variant}, {how}), which has no "
                   f"kernels for {arch} GPUs (compute capability {cc}, first compiled by CUDA {need[0]}.{need[1]}): on "
                   f"the target GPU {rec['name']} the first CUDA operation fails with \"CUDA error: no kernel image "
                   f"is available for execution on the device\"")
            hint = (f"install torch=={base}+{fixes[0]} (a CUDA {need[0]}.{need[1]}+ build)" if fixes else
                    f"use a torch release with a CUDA {need[0]}.{need[1]}+ build")
            related = [Related(gs.location, f"GPU {rec['name']}: compute capability {cc}")]
            if where != c.location:
                related.append(Related(where, f"index of {variant} wheels"))
            yield Finding("SL134", c.location, msg, hint=hint, related=tuple(related),
                          key=f"torch-arch|{base}+{variant}|{rec['name']}")
