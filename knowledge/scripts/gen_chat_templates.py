#!/usr/bin/env python3
"""Generate ``knowledge/data/chat_templates.json``: the chat templates that LLaMA-Factory (``template:``)
and axolotl (``chat_template:``) register by name, the control tokens each one writes, and the
model families each belongs to.

Inputs: local clones of https://github.com/hiyouga/LLaMA-Factory and
https://github.com/axolotl-ai-cloud/axolotl (``--llamafactory DIR`` / ``--axolotl DIR``, any clone
or bare mirror holding the release tags), read with ``git show <tag>:<path>`` only; and the
committed ``knowledge/data/checkpoints.json`` (the knowledge base's hub checkpoints and families).

What the script records, per release tag:

* LLaMA-Factory (``src/{llmtuner,llamafactory}/data/template.py``): every
  ``_register_template(name=...)`` / ``register_template(name=...)`` call, parsed with ``ast`` (nothing
  is imported or executed): the control tokens (``CONTROL_TOKEN`` below) that its ``format_*``
  slots, ``stop_words`` and ``default_system`` spell out; its ``stop_words``; ``replace_eos``.
  From ``src/.../extras/constants.py``: the ``register_model_group(models={...}, template=NAME)``
  calls, whose ``DownloadSource.DEFAULT`` hub ids are the models LLaMA-Factory itself pairs with
  that template (``models``, kept for the newest tag only), and the knowledge-base families of those
  ids (``families``).
* axolotl (``src/axolotl/utils/chat_templates.py`` up to v0.10, then
  ``src/axolotl/utils/chat_templates/templates/*.jinja``): every named Jinja template and the
  control tokens it writes; ``like`` lists the LLaMA-Factory templates of known families (at the
  newest tag) whose control tokens are a subset or a superset of its own, and ``families`` theirs.

A template that writes no control token (``default``, ``alpaca``, ``vicuna``, ``empty``, axolotl's
``alpaca``, the ``[INST]`` text formats) gets ``tokens: []``: it puts only text and the model's own
bos/eos into the prompt.

Usage::

    python knowledge/scripts/gen_chat_templates.py --llamafactory DIR --axolotl DIR [--check]
"""
from __future__ import annotations

import argparse
import ast
import datetime as _dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "knowledge" / "data" / "chat_templates.json"
CHECKPOINTS = ROOT / "knowledge" / "data" / "checkpoints.json"

LF_REPO = "https://github.com/hiyouga/LLaMA-Factory"
AX_REPO = "https://github.com/axolotl-ai-cloud/axolotl"
# A few releases spanning the package renames (llmtuner -> llamafactory) and the template additions.
LF_TAGS = ("v0.6.3", "v0.8.3", "v0.9.1", "v0.9.3", "v0.9.5")
AX_TAGS = ("v0.5.0", "v0.10.0", "v0.18.0")

# Special-token spellings of the chat formats: <|im_start|>, <|start_header_id|>, <|eot_id|>, <|user|>,
# DeepSeek's full-width <｜User｜>, Gemma's <start_of_turn>, EXAONE's [|endofturn|], ChatGLM's [gMASK]/<sop>.
CONTROL_TOKEN = re.compile(r"<\|[A-Za-z0-9_./:-]{1,40}\|>|<｜[^<>｜\n]{1,40}｜>|<[a-z]+(?:_[a-z]+)+>"
                           r"|\[\|[a-z_]{2,20}\|\]|\[gMASK\]|<sop>")


def _git_show(repo: Path, tag: str, path: str) -> Optional[str]:
    try:
        return subprocess.run(["git", "--git-dir", str(_git_dir(repo)), "show", f"{tag}:{path}"], check=True,
                              capture_output=True, text=True).stdout
    except subprocess.CalledProcessError:
        return None


def _git_ls(repo: Path, tag: str, path: str) -> List[str]:
    out = subprocess.run(["git", "--git-dir", str(_git_dir(repo)), "ls-tree", "--name-only", f"{tag}:{path}"],
                         capture_output=True, text=True)
    return out.stdout.split() if out.returncode == 0 else []


def _git_dir(repo: Path) -> Path:
    return repo / ".git" if (repo / ".git").exists() else repo


def _tag_date(repo: Path, tag: str) -> str:
    out = subprocess.run(["git", "--git-dir", str(_git_dir(repo)), "log", "-1", "--format=%cs", tag],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def tokens_in(texts: Iterable[str]) -> List[str]:
    seen: List[str] = []
    for t in texts:
        for m in CONTROL_TOKEN.findall(t):
            if m not in seen:
                seen.append(m)
    return seen


def _strings(node: ast.AST) -> List[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def lf_templates(source: str) -> Dict[str, Dict[str, Any]]:
    """name -> {tokens, stop_words, replace_eos} of every template registered in template.py."""
    out: Dict[str, Dict[str, Any]] = {}
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("_register_template", "register_template")):
            continue
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        name = kw.get("name")
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            continue
        texts: List[str] = []
        for key, value in kw.items():
            if key.startswith("format_") or key in ("stop_words", "default_system"):
                texts.extend(_strings(value))
        stop = kw.get("stop_words")
        stop_words = [s for s in _strings(stop)] if stop is not None else []
        rep = kw.get("replace_eos")
        out[name.value] = {"tokens": tokens_in(texts), "stop_words": stop_words,
                           "replace_eos": bool(isinstance(rep, ast.Constant) and rep.value is True)}
    return out


def lf_model_groups(source: str) -> Dict[str, List[str]]:
    """template name -> the DownloadSource.DEFAULT hub ids of the model groups registered with it."""
    out: Dict[str, List[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "register_model_group"):
            continue
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        tmpl, models = kw.get("template"), kw.get("models")
        if not (isinstance(tmpl, ast.Constant) and isinstance(tmpl.value, str) and isinstance(models, ast.Dict)):
            continue
        ids = out.setdefault(tmpl.value, [])
        for sources in models.values:
            if not isinstance(sources, ast.Dict):
                continue
            for k, v in zip(sources.keys, sources.values):
                if (isinstance(k, ast.Attribute) and k.attr == "DEFAULT" and isinstance(v, ast.Constant)
                        and isinstance(v.value, str) and v.value not in ids):
                    ids.append(v.value)
    return out


def _families(ids: Iterable[str], checkpoints: Dict[str, Any]) -> List[str]:
    lower = {k.lower(): v for k, v in checkpoints.items()}
    fams: Set[str] = set()
    for i in ids:
        rec = lower.get(i.lower())
        if rec and isinstance(rec.get("family"), str):
            fams.add(rec["family"])
    return sorted(fams)


def build_llamafactory(repo: Path, checkpoints: Dict[str, Any], today: str) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for tag in LF_TAGS:
        pkg = next((p for p in ("src/llamafactory", "src/llmtuner") if _git_show(repo, tag, f"{p}/data/template.py")), None)
        if pkg is None:
            raise SystemExit(f"LLaMA-Factory {tag}: no data/template.py")
        templates = lf_templates(_git_show(repo, tag, f"{pkg}/data/template.py") or "")
        groups = lf_model_groups(_git_show(repo, tag, f"{pkg}/extras/constants.py") or "")
        for name, rec in templates.items():
            rec["families"] = _families(groups.get(name, []), checkpoints)
            if tag == LF_TAGS[-1]:  # the hub ids only once (the newest tag), to keep the table small
                rec["models"] = groups.get(name, [])
        out[tag] = {
            "package_version": tag.lstrip("v"), "released": _tag_date(repo, tag),
            "source": f"{LF_REPO}/blob/{tag}/{pkg}/data/template.py",
            "models_source": f"{LF_REPO}/blob/{tag}/{pkg}/extras/constants.py",
            "checked": today, "templates": dict(sorted(templates.items())),
        }
    return out


def build_axolotl(repo: Path, lf_latest: Dict[str, Any], today: str) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for tag in AX_TAGS:
        texts: Dict[str, str] = {}
        single = _git_show(repo, tag, "src/axolotl/utils/chat_templates.py")
        if single is not None:
            source = f"{AX_REPO}/blob/{tag}/src/axolotl/utils/chat_templates.py"
            for node in ast.walk(ast.parse(single)):
                if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    if any(isinstance(t, ast.Name) and t.id in ("_CHAT_TEMPLATES", "CHAT_TEMPLATES") for t in targets):
                        for k, v in zip(node.value.keys, node.value.values):
                            if isinstance(k, ast.Constant) and isinstance(k.value, str):
                                texts[k.value] = "".join(_strings(v))
        else:
            d = "src/axolotl/utils/chat_templates/templates"
            source = f"{AX_REPO}/tree/{tag}/{d}"
            for fn in _git_ls(repo, tag, d):
                if fn.endswith(".jinja"):
                    texts[fn[:-6]] = _git_show(repo, tag, f"{d}/{fn}") or ""
        if not texts:
            raise SystemExit(f"axolotl {tag}: no chat templates found")
        templates: Dict[str, Any] = {}
        for name, text in sorted(texts.items()):
            toks = tokens_in([text])
            # LLaMA-Factory templates of known families writing the same turn tokens (one set inside the other)
            like = sorted(n for n, r in lf_latest.items() if toks and r["tokens"] and r["families"]
                          and (set(r["tokens"]) <= set(toks) or set(toks) <= set(r["tokens"])))
            fams = sorted({f for n in like for f in lf_latest[n]["families"]})
            templates[name] = {"tokens": toks, "like": like, "families": fams}
        out[tag] = {"package_version": tag.lstrip("v"), "released": _tag_date(repo, tag), "source": source,
                    "checked": today, "templates": templates}
    return out


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llamafactory", type=Path, required=True, help="clone of hiyouga/LLaMA-Factory")
    ap.add_argument("--axolotl", type=Path, required=True, help="clone of axolotl-ai-cloud/axolotl")
    ap.add_argument("--check", action="store_true", help="exit 1 when the data file is out of date")
    args = ap.parse_args(argv)
    today = _dt.date.today().isoformat()
    checkpoints = json.loads(CHECKPOINTS.read_text("utf-8"))["records"]["checkpoints"]
    lf = build_llamafactory(args.llamafactory, checkpoints, today)
    ax = build_axolotl(args.axolotl, lf[LF_TAGS[-1]]["templates"], today)
    records = {"llamafactory": lf, "axolotl": ax}
    old = json.loads(OUT.read_text("utf-8")) if OUT.exists() else None
    if old is not None and _strip_dates(old.get("records")) == _strip_dates(records):
        return 0
    if args.check:
        print(f"{OUT} is out of date", file=sys.stderr)
        return 1
    env = {"table": "chat_templates", "schema": 1, "generated_by": "knowledge/scripts/gen_chat_templates.py",
           "generated": today,
           "description": ("Chat templates registered by name in LLaMA-Factory (template:) and axolotl "
                           "(chat_template:) at several release tags: the control tokens each writes, its stop "
                           "words, and the hub models (LLaMA-Factory's register_model_group) and knowledge-base "
                           "families it belongs to. Read from the projects' source with git show, nothing run."),
           "records": records}
    OUT.write_text(_dump(env) + "\n", "utf-8")
    return 0


def _dump(env: Dict[str, Any]) -> str:
    """Indented JSON with each template record on one line (the table stays small and diffable)."""
    text = json.dumps(env, indent=1, ensure_ascii=False)
    return re.sub(r'\{\n\s*"tokens": .*?\n\s*\}', lambda m: json.dumps(json.loads(m.group(0)), ensure_ascii=False),
                  text, flags=re.S)


def _strip_dates(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_dates(v) for k, v in node.items() if k != "checked"}
    if isinstance(node, list):
        return [_strip_dates(v) for v in node]
    return node


if __name__ == "__main__":
    sys.exit(main())
