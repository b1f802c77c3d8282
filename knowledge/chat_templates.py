"""Named chat templates of the fine-tuning frameworks (LLaMA-Factory ``template:``, axolotl
``chat_template:``): the control tokens each writes and the model families it belongs to.

Reads ``data/chat_templates.json`` (built by ``knowledge/scripts/gen_chat_templates.py`` from the
frameworks' source at several release tags) lazily on first use::

    from stacklint.knowledge import chat_templates
    rec, tag = chat_templates.template("llamafactory", "llama3")       # newest recorded release
    rec["tokens"]    # ['<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>', '<|eom_id|>']
    chat_templates.template("llamafactory", "qwen3", version="0.9.1")  # None: not registered yet

Records per framework and release tag: ``tokens`` (control tokens the template writes, ``[]`` for
text-only templates such as ``default``/``alpaca``), ``families`` (knowledge-base families of the
models the framework pairs the template with), LLaMA-Factory's ``stop_words``/``replace_eos``
and, at the newest tag, ``models`` (hub ids of its ``register_model_group`` calls); axolotl's
``like`` (LLaMA-Factory templates writing the same turn tokens).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple

from stacklint.knowledge import records

__all__ = ["template", "templates", "releases", "paired_templates", "source"]

TABLE = "chat_templates"


def _key(v: str) -> Tuple[int, ...]:
    out = []
    for part in v.lstrip("v").split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def releases(framework: str) -> List[str]:
    """Recorded release versions of a framework ("0.9.1", ...), oldest first."""
    recs = records(TABLE).get(framework, {})
    return sorted((r["package_version"] for r in recs.values()), key=_key)


def _tag(framework: str, version: Optional[str]) -> Optional[str]:
    """The recorded tag for ``version``: the newest recorded release not newer than it (the newest
    recorded release when ``version`` is None)."""
    recs = records(TABLE).get(framework, {})
    if not recs:
        return None
    tags = sorted(recs, key=_key)
    if version is None:
        return tags[-1]
    older = [t for t in tags if _key(t) <= _key(version)]
    return older[-1] if older else None


def template(framework: str, name: str, version: Optional[str] = None) -> Optional[Tuple[Dict[str, Any], str]]:
    """(record, tag) of the template ``name`` at the release judged for ``version``; None when that
    release does not register the name (or the framework is unknown)."""
    tag = _tag(framework, version)
    if tag is None:
        return None
    rec = records(TABLE)[framework][tag]["templates"].get(name)
    return (rec, tag) if rec is not None else None


def templates(framework: str, version: Optional[str] = None) -> Dict[str, Dict[str, Any]]:
    """Every template recorded for the release judged for ``version`` (name -> record)."""
    tag = _tag(framework, version)
    return dict(records(TABLE)[framework][tag]["templates"]) if tag is not None else {}


def source(framework: str, tag: str) -> str:
    return str(records(TABLE)[framework][tag]["source"])


@lru_cache(maxsize=None)
def _by_model() -> Dict[str, Tuple[str, ...]]:
    lf = records(TABLE).get("llamafactory", {})
    newest = sorted(lf, key=_key)[-1]
    out: Dict[str, List[str]] = {}
    for name, rec in lf[newest]["templates"].items():
        for m in rec.get("models", ()):
            out.setdefault(m.lower(), []).append(name)
    return {k: tuple(v) for k, v in out.items()}


def paired_templates(hub_id: Optional[str] = None, family: Optional[str] = None) -> List[str]:
    """LLaMA-Factory templates (newest recorded release) paired with a hub id by its model groups,
    else with a knowledge-base family."""
    if hub_id:
        hit = _by_model().get(hub_id.strip().lower())
        if hit:
            return list(hit)
    if family:
        lf = records(TABLE).get("llamafactory", {})
        newest = sorted(lf, key=_key)[-1]
        return sorted(n for n, r in lf[newest]["templates"].items() if family in r.get("families", ()))
    return []
