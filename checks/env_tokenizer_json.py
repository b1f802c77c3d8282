"""Environment compatibility of a model's serialised fast tokenizer (tokenizer.json) with the
tokenizers release the stack installs (SL126). Imported by the environment family."""
from __future__ import annotations

from typing import Any, Iterator, List, Optional, Set, Tuple

from stacklint.checks._common import allowed
from stacklint.findings import Finding, Location, Related
from stacklint.model import Constraint, InstallSet, Stack
from stacklint.registry import check

# tokenizers 0.19.0 (2024-04-17; transformers 4.40.0 requires >=0.19,<0.20) folded the Metaspace
# flag `add_prefix_space` into `prepend_scheme` (huggingface/tokenizers#1476). Its deserialiser
# (tokenizers/src/pre_tokenizers/metaspace.rs, v0.19.0 to today) rejects `"add_prefix_space": false`
# unless `prepend_scheme` is "never" ("add_prefix_space does not match declared prepend_scheme");
# every release before 0.19 (0.15.2 and older) requires the `add_prefix_space` field, which 0.19+
# no longer writes. Inside the untagged pre-tokenizer / decoder enums both surface as
# "data did not match any variant of untagged enum PyPreTokenizerTypeWrapper" (PyDecoderWrapper).
# tokenizers 0.20.0 (2024-08; transformers 4.45.0 requires >=0.20,<0.21) writes BPE merges as pairs
# ([["a", "b"], ...], huggingface/tokenizers#909, so that tokens may contain spaces); it still reads
# the "a b" strings, but every older release reads only strings and fails with
# "data did not match any variant of untagged enum ModelWrapper".
_FIRST_FUSED = "0.19.0"
_FIRST_PAIR_MERGES = "0.20.0"
_DEPENDENTS = ("tokenizers", "transformers", "vllm")
_ENUM = {"pre_tokenizer": "PyPreTokenizerTypeWrapper", "decoder": "PyDecoderWrapper", "merges": "ModelWrapper"}
_EVIDENCE = (
    "https://github.com/QwenLM/Qwen2.5-Coder/issues/18",  # qwen25coder-1: CodeQwen1.5-7B-Chat tokenizer.json, transformers 4.40.0
    "https://github.com/huggingface/tokenizers/issues/1529",  # same file under vLLM 0.4.2 (tokenizers 0.19)
    "https://github.com/huggingface/transformers/issues/31789",  # the converse: new-format Mixtral tokenizer.json, transformers 4.39
    "https://github.com/huggingface/tokenizers/pull/1476",  # Refactor metaspace (0.19.0)
    "https://github.com/huggingface/tokenizers/pull/909",  # BPE merges written as pairs (0.20.0)
    "https://github.com/allenai/open-instruct/issues/738",  # pair merges under tokenizers 0.19.1: untagged enum ModelWrapper
)


def _metaspaces(value: Any) -> Iterator[dict]:
    if not isinstance(value, dict):
        return
    kind = value.get("type")
    if kind == "Metaspace":
        yield value
    elif kind == "Sequence":
        for key in ("pretokenizers", "decoders"):
            items = value.get(key)
            if isinstance(items, list):
                for item in items:
                    yield from _metaspaces(item)


def _problem(ms: dict) -> Optional[str]:
    """'new': only tokenizers >= 0.19 reads it; 'old': only tokenizers < 0.19 reads it."""
    if "add_prefix_space" not in ms:
        return "new"
    ps = ms.get("prepend_scheme", "always")
    if ms.get("add_prefix_space") is False and ps != "never":
        return "old"
    return None


def _forces(c: Constraint, iset: InstallSet, first: str, at_least: bool) -> bool:
    """Whether every release the constraint admits installs tokenizers >= first (at_least) or
    < first (not at_least). Unknown metadata: no."""
    from stacklint.checks._envlib import V, admits, python_of, requirement_on
    from stacklint.knowledge import packages

    tok_rels = packages.releases("tokenizers")
    bound = V(first)
    if not tok_rels or bound is None or c.url or c.marker is not None:
        return False

    def side(rels: List[str]) -> bool:
        vs = [V(r) for r in rels]
        if not vs or any(v is None for v in vs):
            return False
        return all((v >= bound) == at_least for v in vs)  # type: ignore[operator]

    if c.name == "tokenizers":
        return side(allowed(c, tok_rels))
    adm = allowed(c, packages.releases(c.name))
    if not adm:
        return False
    py = python_of(iset)
    for r in adm:
        spec = requirement_on(c.name, r, "tokenizers", py)
        if spec is None or not str(spec):
            return False
        if not side([t for t in tok_rels if admits(spec, t)]):
            return False
    return True


@check(code="SL126", name="tokenizer-json-unreadable-by-tokenizers", severity="error",
       category="Environment Compatibility Issues", subcategory="Dependency Library Compatibility",
       summary="A model's tokenizer.json is serialised in a form the installed tokenizers release cannot read (Metaspace add_prefix_space across 0.19, BPE merges as pairs before 0.20).",
       evidence=_EVIDENCE)
def tokenizer_json_unreadable_by_tokenizers(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reads the `pre_tokenizer`, the `decoder` and the form of the BPE `merges` of every
    `tokenizer.json` in the tree and reports the requirements of that file's environment that
    install a tokenizers release unable to read it:

    * a `Metaspace` component (SentencePiece-style tokenizers: CodeQwen1.5, Llama 2, Mistral, T5,
      ...) with `"add_prefix_space": false` and a `prepend_scheme` other than `"never"`, under
      tokenizers >= 0.19 (transformers >= 4.40, vLLM >= 0.4.2);
    * a `Metaspace` without `add_prefix_space` (written by tokenizers >= 0.19) under
      tokenizers < 0.19 (transformers < 4.40);
    * BPE merges written as pairs (`[["a", "b"], ...]`, tokenizers >= 0.20: a Qwen2.5 or Llama 3
      fine-tune saved by transformers >= 4.45) under tokenizers < 0.20 (transformers < 4.45).

    ## Why is this bad?
    tokenizers 0.19 replaced the Metaspace flag `add_prefix_space` by `prepend_scheme`. Its
    reader rejects `add_prefix_space: false` unless `prepend_scheme` is `"never"`, and every older
    release requires the field; releases before 0.20 read merges only as `"a b"` strings. The fast
    tokenizer then fails to load, in transformers (`AutoTokenizer.from_pretrained`) and in vLLM
    alike: `Exception: data did not match any variant of untagged enum PyPreTokenizerTypeWrapper at
    line 12564 column 3` (CodeQwen1.5-7B-Chat's original tokenizer.json under transformers 4.40.0),
    `... untagged enum ModelWrapper at line ...` for pair merges.

    ## Example
    ```
    # requirements.txt
    transformers==4.40.0
    # CodeQwen1.5-7B-Chat/tokenizer.json
    "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": false, "prepend_scheme": "always"}
    ```

    ## Use instead
    Download the model's current tokenizer.json (re-saved for tokenizers 0.19 with
    `"prepend_scheme": "never"`), or keep the release that reads this file:
    ```
    transformers>=4.37.0,<4.40.0   # tokenizers < 0.19
    ```

    ## Known false alarms
    A script that loads only the slow tokenizer (`use_fast=False`) never reads tokenizer.json.
    """
    seen: Set[Tuple[str, int, str, str]] = set()
    for path, blob in sorted(stack.blobs.items()):
        if path.rsplit("/", 1)[-1] != "tokenizer.json" or not blob.tokenizer_parts:
            continue
        for part, line, value in blob.tokenizer_parts:
            if part == "merges":
                kinds = {"pairs"} if value == "pairs" else set()
            else:
                kinds = {p for p in (_problem(ms) for ms in _metaspaces(value)) if p}
            for kind in sorted(kinds):
                where = Location(path, line, 1)
                # (first release that matters, whether the break needs releases >= it)
                first, at_least = _BREAKS[kind]
                for iset in stack.environment(path):
                    for name in _DEPENDENTS:
                        for c in iset.get(name):
                            key = (c.location.path, c.location.line, path, part + kind)
                            if key in seen or not _forces(c, iset, first, at_least):
                                continue
                            seen.add(key)
                            yield _finding(c, where, part, kind)


# kind of tokenizer.json content -> the tokenizers releases that cannot read it
_BREAKS = {"old": (_FIRST_FUSED, True), "new": (_FIRST_FUSED, False), "pairs": (_FIRST_PAIR_MERGES, False)}


def _finding(c: Constraint, where: Location, part: str, kind: str) -> Finding:
    from stacklint.checks._envlib import describe

    enum = _ENUM.get(part, "PyPreTokenizerTypeWrapper")
    if kind == "old":
        msg = (f"{describe(c)} installs tokenizers>={_FIRST_FUSED}, which cannot read the Metaspace {part} of "
               f"{where.path}:{where.line} (\"add_prefix_space\": false without \"prepend_scheme\": \"never\", "
               f"written by tokenizers < 0.19): loading the tokenizer fails with \"data did not match any "
               f"variant of untagged enum {enum}\"")
        hint = ("download the model's current tokenizer.json (re-saved for tokenizers 0.19), or keep "
                "tokenizers<0.19 (transformers<4.40)")
        rel = "Metaspace add_prefix_space false: readable only by tokenizers < 0.19"
    elif kind == "pairs":
        msg = (f"{describe(c)} installs tokenizers<{_FIRST_PAIR_MERGES}, which cannot read the BPE merges of "
               f"{where.path}:{where.line} (written as pairs [[\"a\", \"b\"], ...] by tokenizers >= 0.20): "
               f"loading the tokenizer fails with \"data did not match any variant of untagged enum {enum}\"")
        hint = ("require tokenizers>=0.20 (transformers>=4.45), or re-save the tokenizer with tokenizers < 0.20 "
                "(merges as \"a b\" strings)")
        rel = "BPE merges as pairs: readable only by tokenizers >= 0.20"
    else:
        msg = (f"{describe(c)} installs tokenizers<{_FIRST_FUSED}, which cannot read the Metaspace {part} of "
               f"{where.path}:{where.line} (no \"add_prefix_space\", written by tokenizers >= 0.19): loading "
               f"the tokenizer fails with \"data did not match any variant of untagged enum {enum}\"")
        hint = "require tokenizers>=0.19 (transformers>=4.40), or use a tokenizer.json saved by tokenizers < 0.19"
        rel = "Metaspace without add_prefix_space: readable only by tokenizers >= 0.19"
    return Finding("SL126", c.location, msg, hint=hint, related=(Related(where, rel),),
                   key=f"metaspace|{kind}|{part}|{describe(c)}|{where.path}")
