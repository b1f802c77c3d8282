#!/usr/bin/env python3
"""Generate ``knowledge/data/checkpoints.json`` (popular hub checkpoints + LoRA modules per model type).

Inputs, both committed or shared with the project:

* the shared corpus (``../shared/corpus`` beside the checkout, or ``--corpus DIR`` /
  env ``STACKLINT_CORPUS``): real mirrored hub files (MANIFEST kinds ``hf-config``,
  ``hf-generation-config``, ``hf-tokenizer-config``, ``safetensors-index``) with the
  repository and commit they were copied from;
* ``knowledge/scripts/checkpoints_curated.yaml``: which corpus directories are unmodified
  copies of which hub checkpoint (``mirrors``), which corpus files are fine-tunes/conversions
  of one (``derivatives``), the transcribed records (``checkpoints``), family defaults and the
  LoRA module table (``lora_modules_by_model_type``).

What the script does:

1. Mirrored records: every value a mirrored file states is read from it
   (``method: mirrored-file``, ``source`` = the file in its mirroring repository at the
   recorded commit); the YAML ``supplement`` may only add fields no file states (they are
   listed in ``transcribed_fields``) and the run fails if it contradicts a file.
2. Transcribed records: family defaults + entry (``method: transcribed``, ``source`` = the hub
   config URL), ``corroborated_by`` names resolved through ``references``.
3. Consistency, failing the run on any contradiction:
   * each ``derivatives`` file against the listed fields of its record;
   * every other corpus ``config.json`` whose ``_name_or_path`` names a record (exact hub id,
     or the last path component of a local path) against the architecture invariants;
   * each mirrored checkpoint's safetensors index (its linear layer names) against the LoRA
     module table of its model type.
   Matching files are added to the record's ``corroborated_by``.
4. LoRA table: with ``--transformers-src DIR`` (an unpacked transformers wheel, e.g. from
   ``pip download --no-deps transformers==4.57.6``) the ``parsed-source`` entries are
   re-derived from the modeling files and any difference fails the run.

Nothing here touches the network. The data file is rewritten only when a fact changed
(``--force-write`` to rewrite anyway); ``--check`` exits 1 when it is out of date.

Usage::

    python knowledge/scripts/gen_checkpoints.py [--corpus DIR] [--transformers-src DIR] [--check]
"""
from __future__ import annotations

import argparse
import ast
import copy
import csv
import datetime as _dt
import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Set, Tuple

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CURATED = HERE / "checkpoints_curated.yaml"
DATA_FILE = ROOT / "knowledge" / "data" / "checkpoints.json"
SCRIPT_NAME = "knowledge/scripts/gen_checkpoints.py"
HF = "https://huggingface.co"

DESCRIPTION = (
    "Published config/tokenizer/generation facts of popular hub checkpoints (Qwen1.5-3, QwQ, Llama 2-4, "
    "DeepSeek V2/V3/R1 and distills, deepseek-llm/coder, Mistral/Mixtral, Gemma 2/3, Phi-3/3.5/4, Yi, GLM-4, "
    "InternLM2.5) keyed by hub id, and the LoRA-targetable linear module names per model_type. "
    "mirrored-file records are read from real copies of the hub files in the shared corpus; transcribed ones "
    "from the published files and model cards. A field missing from a record is unknown."
)

# Fields whose value is fixed by the architecture: a fine-tune or conversion keeps them.
INVARIANT_FIELDS = (
    "model_type",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "intermediate_size",
)

FIELD_ORDER = (
    "family", "aliases", "is_instruct", "model_type", "architectures", "text_config_nested",
    "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "head_dim",
    "intermediate_size", "moe_intermediate_size", "shared_expert_intermediate_size", "n_routed_experts",
    "n_shared_experts", "num_experts_per_tok", "q_lora_rank", "kv_lora_rank", "vocab_size",
    "max_position_embeddings", "original_max_position_embeddings", "sliding_window", "rope_theta",
    "rope_scaling", "rope_type", "partial_rotary_factor", "rope_ratio", "torch_dtype",
    "tie_word_embeddings", "quantization", "params_b", "active_params_b",
    "bos_token", "bos_token_id", "eos_token", "eos_token_id", "pad_token", "pad_token_id",
    "config_bos_token_id", "config_eos_token_id", "generation_bos_token_id", "generation_eos_token_id",
    "end_of_turn", "has_chat_template", "trust_remote_code", "auto_map", "gated", "lora_target_modules",
    "native_config_keys", "notes",
    "method", "source", "checked", "mirror_of", "identified_by", "files", "transcribed_fields", "corroborated_by",
)

# Keys of the YAML entries that are instructions to this script, not record fields.
CONTROL_KEYS = {"id", "family", "unset", "corroborated_by"}


class GenError(Exception):
    pass


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# The pure normalisers live in knowledge/checkpoints.py (shared with stacklint's checks)
# ---------------------------------------------------------------------------------------------
def _load_normalizers() -> Any:
    path = ROOT / "knowledge" / "checkpoints.py"
    spec = importlib.util.spec_from_file_location("_stacklint_checkpoints_normalizers", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


NORM = _load_normalizers()


# ---------------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------------
class Corpus:
    def __init__(self, root: Path):
        self.root = root
        manifest = root / "MANIFEST.tsv"
        if not manifest.is_file():
            raise GenError(f"no MANIFEST.tsv in corpus {root} (use --corpus DIR)")
        self.rows: Dict[str, Dict[str, str]] = {}
        with manifest.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                self.rows[row["local_path"]] = row

    def url(self, local_path: str) -> str:
        row = self.rows.get(local_path)
        if row is None:
            raise GenError(f"{local_path}: not in the corpus MANIFEST")
        return f"https://github.com/{row['repo']}/blob/{row['commit']}/{row['original_path']}"

    def exists(self, local_path: str) -> bool:
        return local_path in self.rows and (self.root / local_path).is_file()

    def json(self, local_path: str) -> Optional[Dict[str, Any]]:
        """Parsed JSON of a corpus file, or None when it is absent or not valid JSON."""
        if not self.exists(local_path):
            return None
        try:
            data = json.loads((self.root / local_path).read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    def of_kind(self, kind: str) -> List[str]:
        return sorted(p for p, r in self.rows.items() if r["kind"] == kind)


def default_corpus() -> Path:
    env = os.environ.get("STACKLINT_CORPUS")
    if env:
        return Path(env)
    return ROOT.parent / "shared" / "corpus"


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------
def _ordered(rec: Dict[str, Any]) -> Dict[str, Any]:
    out = {k: rec[k] for k in FIELD_ORDER if k in rec}
    for k in sorted(rec):
        if k not in out:
            out[k] = rec[k]
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal as published values: 1000000 == 1000000.0, [x] lists compared element-wise."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b if isinstance(a, bool) and isinstance(b, bool) else False
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _derive_rope_type(rec: Dict[str, Any]) -> None:
    if "rope_type" in rec or "rope_scaling" not in rec:
        return
    scaling = rec["rope_scaling"]
    if scaling is None:
        rec["rope_type"] = "default"
    elif isinstance(scaling, dict):
        rt = scaling.get("rope_type", scaling.get("type"))
        if isinstance(rt, str):
            rec["rope_type"] = rt


def build_mirrored(entry: Dict[str, Any], corpus: Corpus, checked: str) -> Tuple[str, Dict[str, Any]]:
    hid = entry["id"]
    d = entry["dir"].rstrip("/")
    wanted = entry.get("files") or ["config.json", "generation_config.json", "tokenizer_config.json"]
    facts: Dict[str, Any] = {}
    files: List[Dict[str, str]] = []
    cfg_path = f"{d}/config.json"
    if "config.json" in wanted:
        cfg = corpus.json(cfg_path)
        if cfg is None:
            raise GenError(f"mirror {hid}: {cfg_path} missing or not JSON")
        cf = NORM.config_facts(cfg)
        cf.pop("auto_map", None)
        facts.update(cf)
        facts["auto_map"] = bool(cfg.get("auto_map"))
        if isinstance(cfg.get("text_config"), dict):
            facts["text_config_nested"] = True
        files.append({"kind": "config", "url": corpus.url(cfg_path)})
    gen_path = f"{d}/generation_config.json"
    if "generation_config.json" in wanted and corpus.exists(gen_path):
        gen = corpus.json(gen_path)
        if gen is not None:
            facts.update(NORM.generation_facts(gen))
            files.append({"kind": "generation_config", "url": corpus.url(gen_path)})
    tok_path = f"{d}/tokenizer_config.json"
    if "tokenizer_config.json" in wanted and corpus.exists(tok_path):
        tok = corpus.json(tok_path)
        if tok is not None:
            template_file = any(corpus.exists(f"{d}/{n}") for n in ("chat_template.jinja", "chat_template.json"))
            tf = NORM.tokenizer_facts(tok, chat_template_file=template_file)
            remote_tokenizer = bool(tok.get("auto_map"))
            stm = corpus.json(f"{d}/special_tokens_map.json") or {}
            for name in ("bos_token", "eos_token", "pad_token"):
                if name in tf:
                    continue
                if name in stm:
                    tf[name] = NORM._token_content(stm[name])
                elif not remote_tokenizer:
                    # a standard tokenizer without the entry has no such token
                    tf[name] = None
                    tf[f"{name}_id"] = None
            facts.update(tf)
            files.append({"kind": "tokenizer_config", "url": corpus.url(tok_path)})
            for n in ("chat_template.jinja", "chat_template.json"):
                if corpus.exists(f"{d}/{n}"):
                    files.append({"kind": "chat_template", "url": corpus.url(f"{d}/{n}")})
    _derive_rope_type(facts)
    supplement = dict(entry.get("supplement") or {})
    transcribed: List[str] = []
    for key, value in supplement.items():
        if key in facts:
            if not _same(facts[key], value):
                raise GenError(f"mirror {hid}: supplement {key}={value!r} contradicts the mirrored files ({facts[key]!r})")
            continue
        facts[key] = value
        if key not in ("family", "notes"):
            transcribed.append(key)
    rec = dict(facts)
    rec.update(
        method="mirrored-file",
        source=files[0]["url"],
        checked=checked,
        mirror_of=f"{HF}/{hid}",
        identified_by=entry["identified_by"],
        files=files,
    )
    if transcribed:
        rec["transcribed_fields"] = sorted(transcribed)
    return hid, rec


def build_transcribed(entry: Dict[str, Any], families: Dict[str, Dict[str, Any]], refs: Dict[str, str], checked: str) -> Tuple[str, Dict[str, Any]]:
    hid = entry["id"]
    fams = entry.get("family") or []
    if isinstance(fams, str):
        fams = [fams]
    rec: Dict[str, Any] = {}
    for fam in fams:
        if fam not in families:
            raise GenError(f"{hid}: unknown family {fam!r}")
        rec.update(copy.deepcopy(families[fam]))
    for k, v in entry.items():
        if k in CONTROL_KEYS:
            continue
        rec[k] = copy.deepcopy(v)
    for k in entry.get("unset", []):
        if k in entry:
            raise GenError(f"{hid}: {k} both set and unset")
        rec.pop(k, None)
    rec["family"] = fams[-1] if fams else None
    _derive_rope_type(rec)
    corro = []
    for name in entry.get("corroborated_by", []):
        if name not in refs:
            raise GenError(f"{hid}: corroborated_by names unknown reference {name!r}")
        corro.append({"reference": refs[name]})
    if corro:
        rec["corroborated_by"] = corro
    rec.update(method="transcribed", source=f"{HF}/{hid}/blob/main/config.json", checked=checked)
    return hid, rec


# ---------------------------------------------------------------------------------------------
# Consistency with corpus files
# ---------------------------------------------------------------------------------------------
def compare(rec: Dict[str, Any], facts: Dict[str, Any], fields: Iterable[str]) -> Tuple[List[str], List[str]]:
    """(fields that agree, contradiction messages); fields unknown on either side are skipped."""
    agree, bad = [], []
    for f in fields:
        if f not in rec or f not in facts:
            continue
        if _same(rec[f], facts[f]):
            agree.append(f)
        else:
            bad.append(f"{f}: record {rec[f]!r} vs file {facts[f]!r}")
    return agree, bad


def check_derivatives(records: Dict[str, Dict[str, Any]], derivatives: List[Dict[str, Any]], corpus: Corpus) -> List[str]:
    errors: List[str] = []
    for d in derivatives:
        hid, path = d["id"], d["path"]
        rec = records.get(hid)
        if rec is None:
            errors.append(f"derivative {path}: no record {hid}")
            continue
        data = corpus.json(path)
        if data is None:
            errors.append(f"derivative {path}: missing or not JSON")
            continue
        facts = NORM.generation_facts(data) if d.get("kind") == "generation" else NORM.config_facts(data)
        agree, bad = compare(rec, facts, d["fields"])
        errors += [f"{hid} contradicts {path}: {b}" for b in bad]
        if agree:
            rec.setdefault("corroborated_by", []).append(
                {"file": corpus.url(path), "relation": "derivative", "why": d["why"], "fields": agree}
            )
    return errors


def resolve_name_or_path(value: Any, records: Dict[str, Dict[str, Any]]) -> Optional[str]:
    """A config's ``_name_or_path`` -> record id: the hub id itself, or the last component of a
    local path when exactly one record id ends with it."""
    if not isinstance(value, str) or not value.strip():
        return None
    by_lower = {}
    for hid, rec in records.items():
        for key in [hid, *rec.get("aliases", [])]:
            by_lower[key.lower()] = hid
    v = value.strip().rstrip("/")
    if v.lower() in by_lower:
        return by_lower[v.lower()]
    if v.startswith(("/", ".", "~")) or "\\" in v:
        base = v.replace("\\", "/").rsplit("/", 1)[-1].lower()
        hits = {hid for key, hid in by_lower.items() if key.rsplit("/", 1)[-1] == base}
        if len(hits) == 1:
            return hits.pop()
    return None


def check_name_or_path_configs(records: Dict[str, Dict[str, Any]], corpus: Corpus, skip: Set[str]) -> List[str]:
    errors: List[str] = []
    for path in corpus.of_kind("hf-config"):
        if path in skip or not path.endswith("config.json") or path.endswith("_config.json"):
            continue
        data = corpus.json(path)
        if data is None:
            continue
        hid = resolve_name_or_path(data.get("_name_or_path"), records)
        if hid is None:
            continue
        rec = records[hid]
        agree, bad = compare(rec, NORM.config_facts(data), INVARIANT_FIELDS)
        errors += [f"{hid} contradicts {path} (_name_or_path {data.get('_name_or_path')!r}): {b}" for b in bad]
        if agree:
            rec.setdefault("corroborated_by", []).append(
                {"file": corpus.url(path), "relation": "derivative", "why": f"_name_or_path {data['_name_or_path']}", "fields": agree}
            )
    return errors


_LAYER_WEIGHT = re.compile(r"\.(?:h|layers|blocks)\.\d+\.(.+)\.(?:weight|qweight|scales|biases|weight_scale_inv)$")


def index_linear_names(index: Dict[str, Any]) -> Set[str]:
    """Leaf names of per-layer weights in a safetensors index that are not norms/convs, with
    expert numbering removed (``mlp.experts.3.w1`` -> ``w1``)."""
    names: Set[str] = set()
    for key in (index.get("weight_map") or {}):
        m = _LAYER_WEIGHT.search(key)
        if not m:
            continue
        leaf = m.group(1).rsplit(".", 1)[-1]
        if "norm" in leaf or leaf.startswith("ln_") or leaf in ("conv1d", "rotary_emb"):
            continue
        names.add(leaf)
    return names


def check_lora_against_indexes(records: Dict[str, Dict[str, Any]], lora: Dict[str, Dict[str, Any]], mirrors: List[Dict[str, Any]], corpus: Corpus) -> List[str]:
    errors: List[str] = []
    for m in mirrors:
        path = f"{m['dir'].rstrip('/')}/model.safetensors.index.json"
        index = corpus.json(path)
        rec = records[m["id"]]
        mt = rec.get("model_type")
        if index is None or mt not in lora:
            continue
        allowed = set(lora[mt]["modules"]) | set(lora[mt].get("router_modules", []))
        found = index_linear_names(index)
        extra = sorted(found - allowed)
        if extra:
            errors.append(f"{m['id']}: {path} has linear weights {extra} not in lora_modules_by_model_type[{mt!r}]")
        else:
            lora[mt].setdefault("corroborated_by", []).append({"file": corpus.url(path), "fields": sorted(found)})
    return errors


# ---------------------------------------------------------------------------------------------
# LoRA table
# ---------------------------------------------------------------------------------------------
def linear_names(modeling_file: Path) -> Dict[str, List[str]]:
    """class name -> attribute names assigned an ``nn.Linear(...)`` in that class."""
    tree = ast.parse(modeling_file.read_text(encoding="utf-8"))
    out: Dict[str, List[str]] = {}
    classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    # classes of this file that are themselves linear layers (e.g. Llama4Router(nn.Linear))
    linear_types = {"Linear"} | {
        c.name for c in classes
        if any((b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", None)) == "Linear" for b in c.bases)
    }
    for cls in classes:
        for node in ast.walk(cls):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                f = node.value.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                if name not in linear_types:
                    continue
                for t in node.targets:
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                        out.setdefault(cls.name, []).append(t.attr)
    return out


HEAD_NAMES = {"lm_head", "score", "classifier", "qa_outputs", "head", "embed_out"}
VISION_CLASS = re.compile(r"Vision|Visual|Siglip|MultiModal|Unfold|Patch", re.IGNORECASE)


def derive_lora(tf_src: Path, modeling: str) -> Set[str]:
    path = tf_src / "transformers" / "models" / modeling / f"modeling_{modeling}.py"
    if not path.is_file():
        raise GenError(f"--transformers-src: no {path}")
    names: Set[str] = set()
    for cls, attrs in linear_names(path).items():
        if VISION_CLASS.search(cls):
            continue
        names.update(a for a in attrs if a not in HEAD_NAMES)
    return names


def build_lora(cfg: Dict[str, Any], checked: str, corpus: Corpus, tf_src: Optional[Path]) -> Tuple[Dict[str, Dict[str, Any]], List[str]]:
    version = cfg["lora_transformers_version"]
    out: Dict[str, Dict[str, Any]] = {}
    errors: List[str] = []
    for mt, entry in cfg["lora_modules_by_model_type"].items():
        rec = {k: copy.deepcopy(v) for k, v in entry.items() if k not in ("modeling_file", "vision_modeling_file", "corpus_file")}
        method = entry.get("method", "parsed-source")
        rec["method"] = method
        if method == "parsed-source":
            modeling = entry.get("modeling_file", mt)
            rec["source"] = f"pypi:transformers=={version}#transformers/models/{modeling}/modeling_{modeling}.py"
            if "transformers5_expert_params" in entry:
                rec["transformers5_checked"] = cfg["lora_transformers5_checked"]
            if tf_src is not None:
                derived = derive_lora(tf_src, modeling)
                routers = set(entry.get("router_modules", []))
                if derived != set(entry["modules"]) | routers:
                    errors.append(f"lora {mt}: modeling_{modeling}.py has {sorted(derived)}, table has {sorted(set(entry['modules']) | routers)}")
                if "vision_modeling_file" in entry:
                    vis = derive_lora(tf_src, entry["vision_modeling_file"])
                    if not vis <= set(entry.get("vision_modules", [])):
                        errors.append(f"lora {mt}: vision modules {sorted(vis)} not in {entry.get('vision_modules')}")
        elif method == "mirrored-file":
            path = entry["corpus_file"]
            index = corpus.json(path)
            if index is None:
                raise GenError(f"lora {mt}: {path} missing")
            found = index_linear_names(index)
            if found != set(entry["modules"]):
                errors.append(f"lora {mt}: {path} has {sorted(found)}, table has {sorted(entry['modules'])}")
            rec["source"] = corpus.url(path)
        elif "source" not in rec:
            raise GenError(f"lora {mt}: transcribed entry without source")
        rec["checked"] = checked
        out[mt] = rec
    return out, errors


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
def build(corpus: Corpus, tf_src: Optional[Path] = None) -> Dict[str, Any]:
    cfg = yaml.safe_load(CURATED.read_text(encoding="utf-8"))
    checked = str(cfg["checked"])
    refs: Dict[str, str] = cfg.get("references", {})
    families: Dict[str, Dict[str, Any]] = cfg["families"]
    records: Dict[str, Dict[str, Any]] = {}
    seen: Dict[str, str] = {}

    def add(hid: str, rec: Dict[str, Any]) -> None:
        for key in [hid, *rec.get("aliases", [])]:
            if key.lower() in seen:
                raise GenError(f"duplicate checkpoint id {key} (also {seen[key.lower()]})")
            seen[key.lower()] = hid
        records[hid] = rec

    for m in cfg["mirrors"]:
        add(*build_mirrored(m, corpus, checked))
    for entry in cfg["checkpoints"]:
        add(*build_transcribed(entry, families, refs, checked))

    lora, errors = build_lora(cfg, checked, corpus, tf_src)
    for rec in records.values():
        mt = rec.get("model_type")
        if mt in lora and "lora_target_modules" not in rec:
            rec["lora_target_modules"] = list(lora[mt]["modules"])

    errors += check_derivatives(records, cfg.get("derivatives", []), corpus)
    skip = {d["path"] for d in cfg.get("derivatives", [])} | {f"{m['dir'].rstrip('/')}/config.json" for m in cfg["mirrors"]}
    errors += check_name_or_path_configs(records, corpus, skip)
    errors += check_lora_against_indexes(records, lora, cfg["mirrors"], corpus)
    if errors:
        raise GenError("inconsistent inputs:\n  " + "\n  ".join(errors))

    ordered = {hid: _ordered(records[hid]) for hid in sorted(records, key=str.lower)}
    return {
        "table": "checkpoints",
        "schema": 1,
        "generated_by": SCRIPT_NAME,
        "generated": _dt.date.today().isoformat(),
        "description": DESCRIPTION,
        "records": {"checkpoints": ordered, "lora_modules_by_model_type": dict(sorted(lora.items()))},
    }


def dump(env: Dict[str, Any]) -> str:
    return json.dumps(env, ensure_ascii=False, indent=1) + "\n"


def summarize(old: Optional[Dict[str, Any]], new: Dict[str, Any]) -> str:
    if old is None:
        return f"new table: {len(new['records']['checkpoints'])} checkpoints"
    o, n = old["records"]["checkpoints"], new["records"]["checkpoints"]
    added = sorted(set(n) - set(o))
    removed = sorted(set(o) - set(n))
    changed = sorted(k for k in set(o) & set(n) if o[k] != n[k])
    lora_changed = old["records"].get("lora_modules_by_model_type") != new["records"]["lora_modules_by_model_type"]
    parts = [f"{len(n)} checkpoints", f"+{len(added)} -{len(removed)} ~{len(changed)}"]
    if lora_changed:
        parts.append("lora table changed")
    detail = "".join(f"\n  + {k}" for k in added) + "".join(f"\n  - {k}" for k in removed) + "".join(f"\n  ~ {k}" for k in changed)
    return ", ".join(parts) + detail


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=None, help="shared corpus directory (default ../shared/corpus)")
    ap.add_argument("--transformers-src", type=Path, default=None, help="unpacked transformers wheel to re-derive the LoRA table")
    ap.add_argument("--out", type=Path, default=DATA_FILE)
    ap.add_argument("--check", action="store_true", help="exit 1 if the data file is out of date; write nothing")
    ap.add_argument("--force-write", action="store_true", help="rewrite even when no fact changed")
    args, _unknown = ap.parse_known_args(argv)
    try:
        corpus = Corpus(args.corpus or default_corpus())
        new = build(corpus, args.transformers_src)
    except GenError as exc:
        log(f"gen_checkpoints: {exc}")
        return 2
    old = None
    if args.out.is_file():
        old = json.loads(args.out.read_text(encoding="utf-8"))
    same = old is not None and old.get("records") == new["records"] and old.get("description") == new["description"]
    print(summarize(old, new))
    if args.check:
        return 0 if same else 1
    if same and not args.force_write:
        print(f"{args.out}: no fact changed, left as is")
        return 0
    args.out.write_text(dump(new), encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
