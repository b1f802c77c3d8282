"""Chat templates of fine-tuning jobs against the model they fine-tune (SL611). Imported by the
training family."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

from stacklint.findings import Finding, Location, Related
from stacklint.model import Job, ModelRef, Setting, Stack
from stacklint.registry import check

# What the frameworks do with a named template (checked in their source at the tags of
# knowledge/data/chat_templates.json, built by knowledge/scripts/gen_chat_templates.py):
# * LLaMA-Factory v0.6.3-v0.9.5, src/{llmtuner,llamafactory}/data/template.py: the `template:` name picks a
#   registered Template; Template._convert_elements_to_ids() encodes its string slots with
#   tokenizer.encode(elem, add_special_tokens=False), so a control token the tokenizer does not know
#   (<|start_header_id|> in a Qwen vocabulary) is encoded as ordinary text pieces;
#   get_template_and_fix_tokenizer() makes the first stop word the eos (replace_eos) and adds the other
#   stop words as additional special tokens, i.e. new, untrained embeddings ("New tokens have been added,
#   make sure `resize_vocab` is True"); an unknown name raises "Template X does not exist". In v0.9.1 the
#   template also replaces the saved tokenizer's chat_template when replace_jinja_template (the default).
# * axolotl v0.5.0-v0.18.0 (src/axolotl/utils/models.py load_tokenizer up to v0.9,
#   src/axolotl/loaders/tokenizer.py from v0.10): `chat_template: NAME` replaces tokenizer.chat_template
#   with the named Jinja template (src/axolotl/utils/chat_templates*), which the chat_template dataset
#   strategy renders and tokenizes; `tokenizer_default` keeps the model's own.
# Neither checks that the template matches the model; LLaMA-Factory's maintainer: "We do not support and
# are not recommend to training a model with another template" (hiyouga/LLaMA-Factory#4208).
_EVIDENCE = (
    "https://github.com/hiyouga/LlamaFactory/issues/4208",  # Qwen2 tokenizer lacks the other template's tokens
    "https://github.com/hiyouga/LLaMA-Factory/blob/v0.9.1/src/llamafactory/data/template.py",
    "https://github.com/axolotl-ai-cloud/axolotl/blob/v0.8.0/src/axolotl/utils/models.py",
)

# the same spellings knowledge/scripts/gen_chat_templates.py records as a template's control tokens
_CONTROL_TOKEN = re.compile(r"<\|[A-Za-z0-9_./:-]{1,40}\|>|<｜[^<>｜\n]{1,40}｜>|<[a-z]+(?:_[a-z]+)+>"
                            r"|\[\|[a-z_]{2,20}\|\]|\[gMASK\]|<sop>")
# axolotl choices that keep (or fall back to) the tokenizer's own template, or take the user's
_AXOLOTL_OWN = ("tokenizer_default", "jinja")


@dataclass
class _Model:
    name: str  # how the config names it
    hub_id: Optional[str]
    family: Optional[str]
    turn_tokens: List[str]  # control tokens of the model's own chat format
    known: Optional[Set[str]]  # added/special tokens of a local tokenizer, when readable
    chat_why: str
    where: Location
    own_template: Optional[Location] = None
    paired: List[str] = field(default_factory=list)  # LLaMA-Factory templates paired with the model
    lineage: Optional[Tuple[str, int]] = None  # (model_type, vocab_size): one tokenizer lineage


def _framework_template(stack: Stack, job: Job) -> Optional[Tuple[str, Setting, Dict[str, Any]]]:
    """(framework, template setting, all settings) of a training job that names a chat template."""
    if job.kind != "training":
        return None
    if job.framework == "llamafactory":
        if job.command is not None:  # llamafactory-cli train --template ...
            words = job.command.words
            if len(words) < 2 or words[1] != "train":
                return None
        elif job.doc is not None and isinstance(job.doc.data, dict):
            data = job.doc.data
            if not (data.get("do_train") in (True, "true", "True") or "stage" in data and "dataset" in data):
                return None  # an inference / export config
        s = job.get("template")
        return ("llamafactory", s, dict(job.settings)) if s is not None else None
    if job.framework == "axolotl" and job.doc is not None:
        s = job.get("chat_template")
        return ("axolotl", s, dict(job.settings)) if s is not None else None
    args = job.extra.get("script_args")
    if isinstance(args, dict) and "template" in args and ({"stage", "finetuning_type"} & set(args)) and "do_train" in args:
        return ("llamafactory", args["template"], dict(args))  # python src/train_bash.py --template ...
    return None


def _base_ref(stack: Stack, job: Job, settings: Dict[str, Any]) -> Optional[ModelRef]:
    if job.model is not None:
        return job.model
    s = settings.get("model_name_or_path")
    if isinstance(s, Setting) and isinstance(s.value, str):
        from stacklint.jobs import resolve_model

        ref = ModelRef(s.value, s.location, "base")
        resolve_model(stack, ref)
        return ref
    return None


def _model(stack: Stack, ref: ModelRef) -> Optional[_Model]:
    """The chat facts of an instruct/chat base model; None for base models and unknown ones."""
    from stacklint.checks import _templates as T
    from stacklint.checks.tokens import is_chat_model
    from stacklint.knowledge import chat_templates as KT
    from stacklint.knowledge_access import checkpoint

    rec = ref.checkpoint
    md = ref.local
    if md is not None and rec is None:
        # a copy of a known checkpoint: its _name_or_path, else a directory named like it
        # (the knowledge base accepts a bare name only when it names exactly one checkpoint)
        names = [doc.data.get("_name_or_path") for doc in (md.config, md.tokenizer)
                 if doc is not None and isinstance(doc.data, dict)]
        names.append(md.dir.rsplit("/", 1)[-1])
        for name in names:
            if isinstance(name, str) and name.strip("/") and not name.startswith(("/", ".")):
                rec = checkpoint(name.strip("/"))
                if rec is not None:
                    break
    if md is not None:
        why = is_chat_model(md)
        if why is None and rec is not None and rec.get("is_instruct") is True:
            why = f"it is a copy of {rec['id']}, an instruct/chat model"
        if why is None:
            return None
        turn: List[str] = []
        own: Optional[Location] = None
        known = set(T.token_ids(md)) or None
        for tmpl in T.templates(md):
            for tok in _CONTROL_TOKEN.findall(tmpl.text):
                if tok not in turn and (known is None or tok in known):
                    turn.append(tok)
                    own = own or tmpl.location
        hub = rec["id"] if rec is not None else None
        family = rec.get("family") if rec is not None else None
        paired = KT.paired_templates(hub, family)
        if not turn and rec is not None:
            turn = _paired_tokens(paired, rec)
        if not turn:
            return None
        where = md.config.loc("model_type") if md.config is not None and isinstance(md.config.data, dict) \
            and "model_type" in md.config.data else (md.any_doc().loc() if md.any_doc() is not None else ref.location)
        return _Model(md.dir, hub, family, turn, known, why, where, own, paired, _lineage(md.model_type, md, rec))
    if rec is None or rec.get("is_instruct") is not True:
        return None
    paired = KT.paired_templates(rec["id"], rec.get("family"))
    turn = _paired_tokens(paired, rec)
    eot = (rec.get("end_of_turn") or {}).get("token") if isinstance(rec.get("end_of_turn"), dict) else None
    if not turn and not (isinstance(eot, str) and eot):
        return None
    return _Model(ref.ref, rec["id"], rec.get("family"), turn or [eot], None,
                  "the knowledge base lists it as an instruct release", ref.location, None, paired,
                  _lineage(rec.get("model_type"), None, rec))


def _lineage(model_type: Optional[str], md: Any, rec: Optional[Dict[str, Any]]) -> Optional[Tuple[str, int]]:
    vocab = None
    if md is not None and md.config is not None and isinstance(md.config.data, dict):
        vocab = md.config.data.get("vocab_size")
    if vocab is None and rec is not None:
        vocab = rec.get("vocab_size")
        model_type = model_type or rec.get("model_type")
    if isinstance(model_type, str) and isinstance(vocab, int) and not isinstance(vocab, bool):
        return model_type, vocab
    return None


def _template_lineages(framework: str, trec: Dict[str, Any]) -> Set[Tuple[str, int]]:
    """(model_type, vocab_size) of the knowledge-base checkpoints the template belongs to: a model
    sharing one of them has the template's tokens in its vocabulary (DeepSeek-R1-Distill-Qwen keeps
    Qwen's <|im_start|>)."""
    from stacklint.knowledge import chat_templates as KT
    from stacklint.knowledge import checkpoints as CK

    fams = set(trec.get("families") or ())
    ids = list(trec.get("models") or ())
    for name in trec.get("like") or ():
        hit = KT.template("llamafactory", name)
        if hit:
            ids.extend(hit[0].get("models") or ())
    out: Set[Tuple[str, int]] = set()
    for hub in CK.all_ids():
        rec = CK.checkpoint(hub)
        if rec is None or not (rec.get("family") in fams or hub in ids):
            continue
        lin = _lineage(rec.get("model_type"), None, rec)
        if lin is not None:
            out.add(lin)
    return out


def _paired_tokens(paired: List[str], rec: Dict[str, Any]) -> List[str]:
    from stacklint.knowledge import chat_templates as KT

    out: List[str] = []
    for name in paired:
        hit = KT.template("llamafactory", name)
        for tok in (hit[0]["tokens"] if hit else ()):
            if tok not in out:
                out.append(tok)
    eot = rec.get("end_of_turn")
    if isinstance(eot, dict) and isinstance(eot.get("token"), str) and _CONTROL_TOKEN.fullmatch(eot["token"]):
        if eot["token"] not in out:
            out.append(eot["token"])
    return out


def _pinned_version(stack: Stack, path: str, framework: str) -> Optional[str]:
    """The release the stack's pin of the framework admits (its newest recorded one), else None."""
    from stacklint.checks._common import allowed
    from stacklint.knowledge import chat_templates as KT

    names = ("llamafactory", "llmtuner") if framework == "llamafactory" else ("axolotl",)
    releases = KT.releases(framework)
    for iset in stack.environment(path):
        for name in names:
            for c in iset.get(name):
                if c.marker is not None or c.url:
                    continue
                exact = c.exact()
                if exact is not None:
                    return str(exact)
                ok = allowed(c, releases)
                if ok:
                    return ok[-1]
    return None


def _added_tokens(job: Job, framework: str, settings: Dict[str, Any]) -> Set[str]:
    """Tokens the job itself adds to the tokenizer (then they are not split): LLaMA-Factory's
    new_special_tokens (<= v0.9.3) / add_special_tokens / add_tokens (v0.9.4, hparams/model_args.py),
    axolotl's tokens / special_tokens / added_tokens_overrides."""
    keys = ("new_special_tokens", "add_special_tokens", "add_tokens") if framework == "llamafactory" else (
        "tokens", "special_tokens", "added_tokens_overrides")
    data = job.doc.data if job.doc is not None and isinstance(job.doc.data, dict) else {}
    out: Set[str] = set()
    for k in keys:
        v = data.get(k) if k in data else settings.get(k)
        if isinstance(v, Setting):
            v = v.value
        for item in _flatten(v):
            out.update(t.strip() for t in item.split(",") if t.strip())
    return out


def _flatten(v: Any) -> List[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, list):
        return [x for x in v if isinstance(x, str)]
    if isinstance(v, dict):
        return [x for x in v.values() if isinstance(x, str)]
    return []


@check(code="SL611", name="training-template-of-another-model-family", severity="warning",
       category="Tokenizer and Text Processing Issues", subcategory="Control Token Issues",
       summary="A LLaMA-Factory `template:` or axolotl `chat_template:` writes the control tokens of another model family than the instruct/chat model being fine-tuned, none of the model's own turn tokens.",
       evidence=_EVIDENCE)
def training_template_of_another_model_family(stack: Stack) -> Iterator[Finding]:
    """## What it does
    For each LLaMA-Factory training job (YAML config, `llamafactory-cli train --template ...` or
    `python src/train_bash.py --do_train --template ...`) and each axolotl config with
    `chat_template:`, looks up the named template in the frameworks' own template registry (at the
    release the stack pins, else the newest one recorded) and the base model (`model_name_or_path` /
    `base_model`: a model directory in the tree or a hub id the knowledge base knows). Reports the
    template when the base model is an instruct/chat model and the template writes control tokens
    (`<|start_header_id|>`, `<|im_start|>`, `<start_of_turn>`, ...) none of which is one of the
    model's own chat-format tokens (read from the model directory's chat template, or the
    template LLaMA-Factory pairs with that hub id).

    ## Why is this bad?
    Neither framework checks that the template belongs to the model. The template's strings are
    tokenized with the model's tokenizer, where another family's control tokens do not exist: the
    llama3 template on Qwen2.5-7B-Instruct encodes `<|start_header_id|>` as a run of ordinary text
    pieces, and LLaMA-Factory adds its stop word `<|eot_id|>` as a new special token with an
    untrained embedding (replace_eos). The fine-tune then teaches a turn format the model never saw,
    unlearns the one it knows, and is served with the model's own chat template (vLLM,
    `apply_chat_template`), so replies run past the end of the turn or print the markers as text.
    LLaMA-Factory's maintainer: "We do not support and are not recommend to training a model with
    another template" (hiyouga/LLaMA-Factory#4208).

    ## Example
    ```
    # train_qwen.yaml (LLaMA-Factory)
    model_name_or_path: Qwen/Qwen2.5-7B-Instruct
    stage: sft
    do_train: true
    dataset: alpaca_en_demo
    template: llama3
    ```

    ## Use instead
    The model's own template: `template: qwen` for Qwen2.5 (LLaMA-Factory), or
    `chat_template: tokenizer_default` (axolotl) to keep the tokenizer's template.

    ## Known false alarms
    A deliberate switch of format on an instruct model (e.g. teaching ChatML to a Llama-3-Instruct
    model) is reported unless the config adds the template's tokens (`new_special_tokens` /
    `add_special_tokens`, axolotl `tokens` / `special_tokens`). Base models and text-only templates
    (`default`, `alpaca`, `vicuna`, `empty`, the `[INST]` formats) are never reported; nor are
    models whose chat tokens are unknown (no chat template in the directory, hub id not in the
    knowledge base).
    """
    from stacklint.knowledge import chat_templates as KT

    seen: Set[str] = set()
    for job in list(stack.training_jobs()):
        hit = _framework_template(stack, job)
        if hit is None:
            continue
        framework, tsetting, settings = hit
        name = tsetting.value
        if not isinstance(name, str) or not name.strip() or "$" in name or "{" in name:
            continue
        name = name.strip()
        if framework == "axolotl":
            if name in _AXOLOTL_OWN or name.startswith("tokenizer_default_fallback_"):
                continue
        ref = _base_ref(stack, job, settings)
        if ref is None:
            continue
        version = _pinned_version(stack, tsetting.location.path, framework)
        rec_tag = KT.template(framework, name, version)
        if rec_tag is None:
            continue  # unknown name, or not registered in the pinned release: another failure
        trec, tag = rec_tag
        tokens = list(trec.get("tokens") or ())
        if not tokens:
            continue  # a text-only template: only the model's own bos/eos are special
        model = _model(stack, ref)
        if model is None:
            continue
        if framework == "llamafactory" and name in model.paired:
            continue
        if set(tokens) & set(model.turn_tokens):
            continue  # the template speaks the model's format (chatml on Yi, qwen on Qwen3, ...)
        if model.known is not None:
            if all(t in model.known for t in tokens):
                continue  # the tokenizer has every token the template writes: no text pieces
        elif model.lineage is not None and model.lineage in _template_lineages(framework, trec):
            continue  # the same tokenizer lineage as the template's own models
        added = _added_tokens(job, framework, settings)
        if all(t in added for t in tokens):
            continue  # the job adds the template's tokens itself: a deliberate new format
        key = f"{tsetting.location.path}:{tsetting.location.line}:{name}"
        if key in seen:
            continue
        seen.add(key)
        yield _finding(framework, name, tag, trec, tsetting, model, tokens)


def _finding(framework: str, name: str, tag: str, trec: Dict[str, Any], tsetting: Setting, model: _Model,
             tokens: List[str]) -> Finding:
    from stacklint.knowledge import chat_templates as KT

    loc = tsetting.location
    tool = "LLaMA-Factory" if framework == "llamafactory" else "axolotl"
    key_name = "template" if framework == "llamafactory" else "chat_template"
    fams = trec.get("families") or []
    of = (f" (LLaMA-Factory's template for {', '.join(fams[:3])} models)" if fams and framework == "llamafactory"
          else "")
    missing = [t for t in tokens if model.known is not None and t not in model.known]
    if missing:
        split = (f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in the tokenizer of "
                 f"{model.name}, so {'it is' if len(missing) == 1 else 'they are'} encoded as ordinary text pieces")
    else:
        split = f"they are not {model.name}'s chat tokens and are encoded as text or as new, untrained tokens"
    stop = [w for w in trec.get("stop_words") or () if w in tokens]
    added = ""
    if framework == "llamafactory" and stop and (model.known is None or stop[0] not in model.known):
        how = "makes its stop word {} the eos token" if trec.get("replace_eos") else "adds its stop word {} as a special token"
        added = f"; LLaMA-Factory {how.format(stop[0])}, a new token with an untrained embedding"
    fix_name = _suggest(framework, model)
    fix = f"{key_name}: {fix_name}" if fix_name else f"the template of {model.name}'s own family"
    where = f"{model.where.path}:{model.where.line}"
    msg = (f"{key_name} \"{name}\" ({loc.path}:{loc.line}, {tool} {tag}) writes {', '.join(tokens)}{of}, but the "
           f"base model {model.name} ({where}) is an instruct/chat model ({model.chat_why}) whose own turn tokens are "
           f"{', '.join(model.turn_tokens)}, none of which the template uses: {split}{added}; the fine-tune "
           f"learns another family's turn format and is served with the model's own chat template — use {fix}")
    related = [Related(model.where, f"{model.name}: turn tokens {', '.join(model.turn_tokens)}")]
    if model.own_template is not None and model.own_template != model.where:
        related.append(Related(model.own_template, "the model's own chat template"))
    return Finding("SL611", loc, msg, hint=f"use {fix}", related=tuple(related),
                   key=f"{loc.path}:{name}:{model.name}:{KT.source(framework, tag)}")


def _suggest(framework: str, model: _Model) -> Optional[str]:
    from stacklint.knowledge import chat_templates as KT

    if framework == "axolotl":
        return "tokenizer_default"
    for name in model.paired:
        hit = KT.template("llamafactory", name)
        if hit and set(hit[0]["tokens"]) & set(model.turn_tokens):
            return name
    if model.paired:
        return model.paired[0]
    # a local model of unknown family: the paired LLaMA-Factory template sharing most of its turn tokens
    best: Optional[Tuple[int, int, str]] = None
    for name, rec in KT.templates("llamafactory").items():
        if not rec.get("families"):
            continue
        score = (len(set(rec["tokens"]) & set(model.turn_tokens)), len(rec.get("models") or ()), name)
        if score[0] and (best is None or score[:2] > best[:2]):
            best = score
    return best[2] if best else None
