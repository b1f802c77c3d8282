"""Published facts about popular hub checkpoints, and LoRA-targetable modules per model type.

Reads ``data/checkpoints.json`` (built by ``knowledge/scripts/gen_checkpoints.py`` from real
mirrored hub files in the shared corpus plus the hand-curated
``knowledge/scripts/checkpoints_curated.yaml``) lazily on first use::

    from stacklint.knowledge import checkpoints
    rec = checkpoints.checkpoint("qwen/qwen2.5-7b-instruct")
    rec["num_key_value_heads"], rec["end_of_turn"]        # 4, {"token": "<|im_end|>", "id": 151645}
    checkpoints.lora_modules("qwen")                       # frozenset({"c_attn", "c_proj", "w1", "w2"})

Record fields (all optional except ``id``, ``source``, ``checked``, ``method``)
---------------------------------------------------------------------------------
A field **missing** from a record is *unknown*; a field present with ``None`` means the published
file has ``null`` there or does not set it (e.g. ``rope_scaling: None`` = no RoPE scaling,
``bos_token: None`` = the tokenizer adds no BOS). Rules must not treat a missing field as a fact.

* identity: ``id`` (hub spelling), ``aliases`` (renamed/moved ids), ``family``, ``is_instruct``,
  ``gated`` (licence acceptance needed to download), ``trust_remote_code`` (the repository's own
  modeling code is needed: ``auto_map`` in config and the model type was not in transformers when
  released; combine with ``knowledge.architectures.supported`` for a given transformers version),
  ``auto_map`` (mirrored records: the config.json names repository code),
  ``params_b`` / ``active_params_b`` (approximate parameter count in billions, total / per token).
* architecture (config.json; for multimodal wrappers with ``text_config_nested: True`` these are
  the ``text_config`` values): ``model_type``, ``architectures``, ``hidden_size``,
  ``num_hidden_layers``, ``num_attention_heads``, ``num_key_value_heads``, ``head_dim``,
  ``intermediate_size``, ``moe_intermediate_size``, ``shared_expert_intermediate_size``,
  ``n_routed_experts`` (``num_experts`` / ``num_local_experts`` in some configs),
  ``n_shared_experts``, ``num_experts_per_tok``, ``q_lora_rank``, ``kv_lora_rank``, ``vocab_size``,
  ``max_position_embeddings``, ``original_max_position_embeddings``, ``sliding_window``,
  ``rope_theta``, ``rope_scaling`` (the config dict), ``rope_type`` (``rope_scaling``'s
  ``rope_type``/``type``, ``"default"`` without scaling), ``partial_rotary_factor``,
  ``rope_ratio`` (ChatGLM), ``torch_dtype``, ``tie_word_embeddings``, ``quantization`` (the
  checkpoint's own ``quantization_config``), ``native_config_keys`` (normalised name -> the key
  this remote-code config really uses, e.g. ChatGLM's ``num_layers``).
* tokens: ``bos_token``/``bos_token_id``, ``eos_token``/``eos_token_id``,
  ``pad_token``/``pad_token_id`` (tokenizer_config), ``config_bos_token_id``,
  ``config_eos_token_id`` (config.json; int or list), ``generation_eos_token_id``,
  ``generation_bos_token_id`` (generation_config.json; int or list), ``end_of_turn``
  (``{"token", "id"}`` the chat format ends an assistant turn with; ``None`` for base models),
  ``has_chat_template`` (tokenizer_config ``chat_template`` or a ``chat_template.jinja``/``.json``).
* ``lora_target_modules``: the model type's LoRA-targetable linear module names (see
  :func:`lora_modules`).
* provenance: ``source`` (URL), ``checked`` (date), ``method`` (``"mirrored-file"``: read from a
  real copy of the hub files, ``source`` names it; ``"transcribed"``: from the published files and
  model card, ``source`` is the hub config URL), ``files`` (mirrored files read),
  ``transcribed_fields`` (fields of a mirrored record that no mirrored file states),
  ``corroborated_by``, ``notes``.

Ids are matched case-insensitively; a revision (``@rev``), a ``https://huggingface.co/`` prefix
and ``/tree/<rev>`` style suffixes are ignored, and a bare model name (no ``org/``) is accepted when
it names exactly one checkpoint.
"""
from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

__all__ = [
    "checkpoint",
    "lora_modules",
    "lora_record",
    "all_ids",
    "normalize_id",
    "config_facts",
    "tokenizer_facts",
    "generation_facts",
    "ARCH_FIELDS",
]

TABLE = "checkpoints"

#: Architecture fields compared between a record and a config.json (see :func:`config_facts`).
ARCH_FIELDS: Tuple[str, ...] = (
    "model_type",
    "architectures",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "moe_intermediate_size",
    "shared_expert_intermediate_size",
    "n_routed_experts",
    "n_shared_experts",
    "num_experts_per_tok",
    "q_lora_rank",
    "kv_lora_rank",
    "vocab_size",
    "max_position_embeddings",
    "original_max_position_embeddings",
    "sliding_window",
    "rope_theta",
    "rope_scaling",
    "rope_type",
    "partial_rotary_factor",
    "rope_ratio",
    "torch_dtype",
    "tie_word_embeddings",
    "quantization",
    "config_bos_token_id",
    "config_eos_token_id",
)

# normalised field -> config keys holding it, in order of preference
_ALIASES: Dict[str, Tuple[str, ...]] = {
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_hidden_layers": ("num_hidden_layers", "num_layers", "n_layer", "n_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head", "n_heads"),
    "num_key_value_heads": ("num_key_value_heads", "num_kv_heads", "n_kv_heads"),
    "head_dim": ("head_dim",),
    "intermediate_size": ("intermediate_size", "ffn_hidden_size"),
    "moe_intermediate_size": ("moe_intermediate_size",),
    "shared_expert_intermediate_size": ("shared_expert_intermediate_size",),
    "n_routed_experts": ("n_routed_experts", "num_experts", "num_local_experts"),
    "n_shared_experts": ("n_shared_experts",),
    "num_experts_per_tok": ("num_experts_per_tok",),
    "q_lora_rank": ("q_lora_rank",),
    "kv_lora_rank": ("kv_lora_rank",),
    "vocab_size": ("padded_vocab_size", "vocab_size"),
    "max_position_embeddings": ("max_position_embeddings", "seq_length", "n_positions"),
    "original_max_position_embeddings": ("original_max_position_embeddings",),
    "sliding_window": ("sliding_window",),
    "rope_theta": ("rope_theta", "rotary_emb_base", "rope_embedding_base"),
    "partial_rotary_factor": ("partial_rotary_factor",),
    "rope_ratio": ("rope_ratio",),
    "tie_word_embeddings": ("tie_word_embeddings",),
}


# ---------------------------------------------------------------------------------------------
# Pure helpers (no table access): normalise raw hub files into record field names
# ---------------------------------------------------------------------------------------------
def _token_content(tok: Any) -> Optional[str]:
    """A tokenizer_config token entry (string or serialised AddedToken) -> its text."""
    if tok is None:
        return None
    if isinstance(tok, str):
        return tok
    if isinstance(tok, Mapping):
        content = tok.get("content")
        return content if isinstance(content, str) else None
    return None


def config_facts(config: Mapping[str, Any]) -> Dict[str, Any]:
    """Normalise a parsed ``config.json`` into record field names.

    Keys the config does not have are left out (``rope_type`` is derived: ``"default"`` when the
    config has no ``rope_scaling``); ``auto_map`` is always set (does the config name repository
    code). Multimodal wrappers are read through ``text_config`` for the architecture fields;
    top-level values win where both exist.
    """
    if not isinstance(config, Mapping):
        return {}
    text = config.get("text_config")
    layers: List[Mapping[str, Any]] = [config]
    if isinstance(text, Mapping):
        layers.append(text)
    out: Dict[str, Any] = {}
    if "model_type" in config:
        out["model_type"] = config["model_type"]
    if isinstance(config.get("architectures"), list):
        out["architectures"] = list(config["architectures"])
    for field, keys in _ALIASES.items():
        for layer in layers:
            hit = next((k for k in keys if k in layer), None)
            if hit is not None:
                out[field] = copy.deepcopy(layer[hit])
                break
    # ChatGLM: grouped KV heads only when multi_query_attention is on
    if "num_key_value_heads" not in out:
        for layer in layers:
            if layer.get("multi_query_attention") and "multi_query_group_num" in layer:
                out["num_key_value_heads"] = layer["multi_query_group_num"]
                break
    for layer in layers:
        if "rope_scaling" in layer:
            out["rope_scaling"] = copy.deepcopy(layer["rope_scaling"])
            break
    scaling = out.get("rope_scaling")
    if isinstance(scaling, Mapping):
        rt = scaling.get("rope_type", scaling.get("type"))
        if isinstance(rt, str):
            out["rope_type"] = rt
    else:
        out["rope_type"] = "default"
    dtype = config.get("torch_dtype", config.get("dtype"))
    if dtype is None and isinstance(text, Mapping):
        dtype = text.get("torch_dtype", text.get("dtype"))
    if dtype is not None:
        out["torch_dtype"] = dtype
    if "quantization_config" in config:
        out["quantization"] = copy.deepcopy(config["quantization_config"])
    for src, dst in (("bos_token_id", "config_bos_token_id"), ("eos_token_id", "config_eos_token_id")):
        for layer in layers:
            if src in layer:
                out[dst] = copy.deepcopy(layer[src])
                break
    out["auto_map"] = isinstance(config.get("auto_map"), Mapping) and bool(config.get("auto_map"))
    return out


def tokenizer_facts(tokenizer_config: Mapping[str, Any], *, chat_template_file: bool = False) -> Dict[str, Any]:
    """Normalise a parsed ``tokenizer_config.json``: special tokens (ids resolved through
    ``added_tokens_decoder`` when it lists them) and ``has_chat_template``."""
    if not isinstance(tokenizer_config, Mapping):
        return {}
    by_content: Dict[str, int] = {}
    decoder = tokenizer_config.get("added_tokens_decoder")
    if isinstance(decoder, Mapping):
        for key, tok in decoder.items():
            content = _token_content(tok)
            if content is None or not str(key).isdigit():
                continue
            by_content.setdefault(content, int(key))
    out: Dict[str, Any] = {}
    for name in ("bos", "eos", "pad"):
        key = f"{name}_token"
        if key in tokenizer_config:
            content = _token_content(tokenizer_config[key])
            out[key] = content
            if content is None:
                out[f"{key}_id"] = None
            elif content in by_content:
                out[f"{key}_id"] = by_content[content]
    out["has_chat_template"] = bool(tokenizer_config.get("chat_template")) or chat_template_file
    return out


def generation_facts(generation_config: Mapping[str, Any]) -> Dict[str, Any]:
    """Normalise a parsed ``generation_config.json`` (eos/bos ids used when generating)."""
    if not isinstance(generation_config, Mapping):
        return {}
    out: Dict[str, Any] = {}
    for src, dst in (("eos_token_id", "generation_eos_token_id"), ("bos_token_id", "generation_bos_token_id")):
        if src in generation_config:
            out[dst] = copy.deepcopy(generation_config[src])
    return out


# ---------------------------------------------------------------------------------------------
# Hub id normalisation
# ---------------------------------------------------------------------------------------------
_PREFIX = re.compile(r"^(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/(?:models/)?", re.IGNORECASE)
_SUFFIX = re.compile(r"/(?:tree|blob|resolve|commit)/.*$", re.IGNORECASE)


def normalize_id(hub_id: str) -> Optional[str]:
    """Lower-case ``org/name`` (or bare ``name``) with URL prefix, revision and path suffix removed;
    ``None`` for something that cannot be a hub id (including local paths such as ``/models/x``)."""
    if not isinstance(hub_id, str):
        return None
    s = hub_id.strip()
    if s.startswith("hf://"):
        s = s[len("hf://"):]
    elif s.startswith(("/", "./", "../", "~", "\\")):
        return None
    s = _PREFIX.sub("", s)
    s = _SUFFIX.sub("", s)
    if "@" in s:
        s = s.split("@", 1)[0]
    s = s.strip().strip("/")
    if not s or s.count("/") > 1 or any(c.isspace() for c in s):
        return None
    return s.lower()


# ---------------------------------------------------------------------------------------------
# Table access
# ---------------------------------------------------------------------------------------------
def _records() -> Dict[str, Any]:
    from . import load_table

    return load_table(TABLE)["records"]  # type: ignore[no-any-return]


@lru_cache(maxsize=None)
def _index() -> Tuple[Dict[str, str], Dict[str, List[str]]]:
    """(lower-case id or alias -> canonical id, lower-case bare name -> canonical ids)."""
    by_id: Dict[str, str] = {}
    by_name: Dict[str, List[str]] = {}
    for hid, rec in _records()["checkpoints"].items():
        for key in [hid, *rec.get("aliases", [])]:
            by_id[key.lower()] = hid
            by_name.setdefault(key.lower().rsplit("/", 1)[-1], [])
            if hid not in by_name[key.lower().rsplit("/", 1)[-1]]:
                by_name[key.lower().rsplit("/", 1)[-1]].append(hid)
    return by_id, by_name


def _resolve(hub_id: str) -> Optional[str]:
    key = normalize_id(hub_id)
    if key is None:
        return None
    by_id, by_name = _index()
    if key in by_id:
        return by_id[key]
    if "/" not in key:
        hits = by_name.get(key, [])
        if len(hits) == 1:
            return hits[0]
    return None


def checkpoint(hub_id: str) -> Optional[Dict[str, Any]]:
    """The record of ``hub_id`` (a copy, with ``id`` set to the hub spelling), or ``None``."""
    hid = _resolve(hub_id)
    if hid is None:
        return None
    rec = copy.deepcopy(_records()["checkpoints"][hid])
    rec["id"] = hid
    return rec  # type: ignore[no-any-return]


def all_ids() -> List[str]:
    """Every checkpoint id in the table (hub spelling, aliases excluded), sorted case-insensitively."""
    return sorted(_records()["checkpoints"], key=str.lower)


def lora_record(model_type: str) -> Optional[Dict[str, Any]]:
    """The whole LoRA-modules record of ``model_type`` (``modules``, ``expert_modules``,
    ``router_modules``, ``vision_modules``, ``transformers5_expert_params``, provenance)."""
    if not isinstance(model_type, str):
        return None
    rec = _records()["lora_modules_by_model_type"].get(model_type.strip().lower())
    return copy.deepcopy(rec) if rec is not None else None


@lru_cache(maxsize=None)
def lora_modules(model_type: str, *, include_router: bool = False, include_vision: bool = False) -> Optional[FrozenSet[str]]:
    """Leaf names of the linear layers a LoRA ``target_modules`` entry can name for ``model_type``
    (attention and MLP / per-expert MLP projections; lm_head excluded), or ``None`` when the model
    type is not in the table. Routers and vision-tower names only on request."""
    rec = _records()["lora_modules_by_model_type"].get(model_type.strip().lower()) if isinstance(model_type, str) else None
    if rec is None:
        return None
    names: Iterable[str] = list(rec["modules"])
    if include_router:
        names = [*names, *rec.get("router_modules", [])]
    if include_vision:
        names = [*names, *rec.get("vision_modules", [])]
    return frozenset(names)
