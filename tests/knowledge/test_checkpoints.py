"""The checkpoints table and its accessor (no network: committed data and the shared corpus only).

Sample facts cite where to check them by hand: the hub file itself
(https://huggingface.co/<id>/blob/main/<file>) and, for mirrored records, the real copy in the shared
corpus that the record was read from (its ``source``).
"""
from __future__ import annotations

import csv
import importlib.util
import json
import re
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest

from stacklint.knowledge import checkpoints as ck
from stacklint.knowledge import load_table

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
DATA = ROOT / "knowledge" / "data" / "checkpoints.json"
GEN = ROOT / "knowledge" / "scripts" / "gen_checkpoints.py"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
GITHUB_BLOB = re.compile(r"^https://github\.com/[^/]+/[^/]+/blob/[0-9a-f]{40}/.+")

needs_corpus = pytest.mark.skipif(not (CORPUS / "MANIFEST.tsv").is_file(), reason="shared corpus not present")


def _records() -> Dict[str, Dict[str, Any]]:
    return load_table("checkpoints")["records"]["checkpoints"]  # type: ignore[no-any-return]


def _lora() -> Dict[str, Dict[str, Any]]:
    return load_table("checkpoints")["records"]["lora_modules_by_model_type"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# Sample facts
# ---------------------------------------------------------------------------------------------
def test_qwen25_7b_instruct():
    # https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/blob/main/config.json: num_attention_heads 28,
    # num_key_value_heads 4, max_position_embeddings 32768, eos_token_id 151645;
    # tokenizer_config.json: eos_token <|im_end|>, pad_token <|endoftext|> (151643)
    rec = ck.checkpoint("qwen/qwen2.5-7b-instruct")
    assert rec is not None and rec["id"] == "Qwen/Qwen2.5-7B-Instruct"
    assert rec["num_attention_heads"] == 28
    assert rec["num_key_value_heads"] == 4
    assert rec["max_position_embeddings"] == 32768
    assert rec["config_eos_token_id"] == 151645
    assert rec["eos_token_id"] == 151645 and rec["eos_token"] == "<|im_end|>"
    assert rec["pad_token"] == "<|endoftext|>" and rec["pad_token_id"] == 151643
    assert rec["end_of_turn"] == {"token": "<|im_end|>", "id": 151645}
    assert rec["is_instruct"] is True and rec["trust_remote_code"] is False


def test_qwen25_base_vs_instruct_context():
    # Qwen2.5-7B (base) config.json has max_position_embeddings 131072, the Instruct one 32768
    # (torchtune 0.6.1 qwen2_5_7b_base / qwen2_5_7b_instruct builders agree)
    assert ck.checkpoint("Qwen/Qwen2.5-7B")["max_position_embeddings"] == 131072
    assert ck.checkpoint("Qwen/Qwen2.5-7B")["eos_token"] == "<|endoftext|>"
    assert ck.checkpoint("Qwen/Qwen2.5-7B")["is_instruct"] is False


def test_llama31_8b_instruct_rope():
    # https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json:
    # rope_scaling {"rope_type": "llama3", "factor": 8.0, ...}, max_position_embeddings 131072,
    # eos_token_id [128001, 128008, 128009]
    rec = ck.checkpoint("meta-llama/Llama-3.1-8B-Instruct")
    assert rec["rope_type"] == "llama3"
    assert rec["rope_scaling"]["factor"] == 8.0
    assert rec["rope_scaling"]["original_max_position_embeddings"] == 8192
    assert rec["max_position_embeddings"] == 131072
    assert rec["config_eos_token_id"] == [128001, 128008, 128009]
    # the pre-rename id still resolves
    assert ck.checkpoint("meta-llama/Meta-Llama-3.1-8B-Instruct")["id"] == "meta-llama/Llama-3.1-8B-Instruct"


def test_llama3_8b_instruct_eos():
    # https://huggingface.co/meta-llama/Meta-Llama-3-8B-Instruct/blob/main/generation_config.json:
    # eos_token_id [128001, 128009]; <|eot_id|> is 128009 (tokenizer_config added_tokens_decoder)
    rec = ck.checkpoint("meta-llama/Meta-Llama-3-8B-Instruct")
    assert 128009 in rec["generation_eos_token_id"]
    assert rec["end_of_turn"] == {"token": "<|eot_id|>", "id": 128009}
    assert rec["max_position_embeddings"] == 8192 and rec["rope_scaling"] is None


def test_mirrored_llama2_7b_hf():
    # read from the corpus copy HamZil/Llama-2-7b-hf (config _name_or_path meta-llama/Llama-2-7b-hf)
    rec = ck.checkpoint("meta-llama/llama-2-7b-hf")
    assert rec["method"] == "mirrored-file"
    assert GITHUB_BLOB.match(rec["source"]) and "HamZil/Llama-2-7b-hf" in rec["source"]
    assert rec["max_position_embeddings"] == 4096 and rec["torch_dtype"] == "float16"
    assert rec["pad_token"] is None and rec["has_chat_template"] is False
    assert rec["gated"] is True and "gated" in rec["transcribed_fields"]


def test_mirrored_llama32_3b_instruct():
    # corpus copy Gusiion/meta-llama-Llama-3.2-3B-Instruct: tie_word_embeddings true, rope factor 32
    rec = ck.checkpoint("meta-llama/Llama-3.2-3B-Instruct")
    assert rec["method"] == "mirrored-file"
    assert rec["tie_word_embeddings"] is True
    assert rec["rope_scaling"]["factor"] == 32.0
    assert rec["eos_token"] == "<|eot_id|>" and rec["eos_token_id"] == 128009
    assert rec["generation_eos_token_id"] == [128001, 128008, 128009]


def test_deepseek_r1():
    # corpus copy itounagi0116/DeepSeek-R1: fp8 block quantization, auto_map remote code, MLA
    rec = ck.checkpoint("deepseek-ai/DeepSeek-R1")
    assert rec["quantization"]["quant_method"] == "fp8"
    assert rec["quantization"]["weight_block_size"] == [128, 128]
    assert rec["trust_remote_code"] is True and rec["auto_map"] is True
    assert rec["n_routed_experts"] == 256 and rec["moe_intermediate_size"] == 2048
    assert rec["rope_type"] == "yarn"
    assert {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"} <= set(rec["lora_target_modules"])


def test_r1_distill_qwen_tokens():
    # corpus copy Evilcarbon/DeepSeek-R1-Distill-Qwen-32B: generation_config bos 151646, eos 151643
    rec = ck.checkpoint("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B")
    assert rec["generation_bos_token_id"] == 151646
    assert rec["generation_eos_token_id"] == 151643
    assert rec["eos_token"] == "<｜end▁of▁sentence｜>"
    assert ck.checkpoint("deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B")["rope_theta"] == 10000


def test_qwen3_base_vs_post_trained_context():
    # corpus copy Chen-Oliver/qwen3-8b-base: max_position_embeddings 32768, eos 151643;
    # https://huggingface.co/Qwen/Qwen3-8B/blob/main/config.json: 40960, eos 151645
    assert ck.checkpoint("Qwen/Qwen3-8B-Base")["max_position_embeddings"] == 32768
    assert ck.checkpoint("Qwen/Qwen3-8B-Base")["config_eos_token_id"] == 151643
    assert ck.checkpoint("Qwen/Qwen3-8B")["max_position_embeddings"] == 40960
    assert ck.checkpoint("Qwen/Qwen3-8B")["config_eos_token_id"] == 151645


def test_gemma_end_of_turn():
    # https://huggingface.co/google/gemma-2-2b-it/blob/main/generation_config.json: eos_token_id [1, 107];
    # <end_of_turn> is 107 in Gemma 2 and 106 in Gemma 3 (gemma-3-*-it config eos_token_id [1, 106])
    assert ck.checkpoint("google/gemma-2-2b-it")["end_of_turn"] == {"token": "<end_of_turn>", "id": 107}
    g3 = ck.checkpoint("google/gemma-3-27b-it")
    assert g3["end_of_turn"]["id"] == 106 and g3["text_config_nested"] is True
    assert g3["model_type"] == "gemma3" and ck.checkpoint("google/gemma-3-1b-it")["model_type"] == "gemma3_text"


def test_glm4_remote_code():
    # https://huggingface.co/THUDM/glm-4-9b-chat/blob/main/config.json: ChatGLMModel, num_layers 40,
    # multi_query_group_num 2, seq_length 131072, eos_token_id [151329, 151336, 151338]
    rec = ck.checkpoint("thudm/glm-4-9b-chat")
    assert rec["model_type"] == "chatglm" and rec["trust_remote_code"] is True
    assert rec["num_key_value_heads"] == 2 and rec["native_config_keys"]["num_key_value_heads"] == "multi_query_group_num"
    assert rec["config_eos_token_id"] == [151329, 151336, 151338]
    assert ck.checkpoint("zai-org/glm-4-9b-chat")["id"] == "THUDM/glm-4-9b-chat"


# ---------------------------------------------------------------------------------------------
# LoRA modules
# ---------------------------------------------------------------------------------------------
def test_lora_modules_by_model_type():
    # transformers 4.57.6 modeling_llama.py / modeling_phi3.py; Qwen 1.0 weight names from the
    # corpus copy of Qwen-72B's model.safetensors.index.json; ChatGLM names as vLLM loads them
    assert ck.lora_modules("llama") == frozenset({"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"})
    assert ck.lora_modules("qwen") == frozenset({"c_attn", "c_proj", "w1", "w2"})
    assert ck.lora_modules("phi3") == frozenset({"qkv_proj", "o_proj", "gate_up_proj", "down_proj"})
    assert ck.lora_modules("chatglm") == frozenset({"query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"})
    assert ck.lora_modules("internlm2") == frozenset({"wqkv", "wo", "w1", "w2", "w3"})
    assert {"q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"} <= ck.lora_modules("deepseek_v3")
    assert ck.lora_modules("mixtral") >= {"w1", "w2", "w3"} and "gate" not in ck.lora_modules("mixtral")
    assert "gate" in ck.lora_modules("mixtral", include_router=True)
    assert "out_proj" in ck.lora_modules("gemma3", include_vision=True) and "out_proj" not in ck.lora_modules("gemma3")
    assert ck.lora_modules("no-such-type") is None
    assert isinstance(ck.lora_modules("qwen2"), frozenset)


def test_every_record_lora_matches_its_model_type():
    lora = _lora()
    for hid, rec in _records().items():
        mt = rec.get("model_type")
        if mt in lora:
            assert set(rec["lora_target_modules"]) == set(lora[mt]["modules"]), hid


# ---------------------------------------------------------------------------------------------
# Accessor behaviour
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "query",
    [
        "Qwen/Qwen2.5-7B-Instruct",
        "QWEN/QWEN2.5-7B-INSTRUCT",
        "  qwen/qwen2.5-7b-instruct  ",
        "Qwen/Qwen2.5-7B-Instruct@main",
        "Qwen/Qwen2.5-7B-Instruct@a09a35458c702b33eeacc393d103063234e8bc28",
        "https://huggingface.co/Qwen/Qwen2.5-7B-Instruct",
        "https://huggingface.co/Qwen/Qwen2.5-7B-Instruct/tree/main",
        "hf://Qwen/Qwen2.5-7B-Instruct",
        "Qwen/Qwen2.5-7B-Instruct/",
        "Qwen2.5-7B-Instruct",
    ],
)
def test_lookup_forms(query):
    rec = ck.checkpoint(query)
    assert rec is not None and rec["id"] == "Qwen/Qwen2.5-7B-Instruct"


@pytest.mark.parametrize(
    "query", ["", "Qwen/Nope-7B", "a/b/c", "not an id", None, "/models/Qwen2.5-7B-Instruct", "/Qwen/Qwen2.5-7B-Instruct", "./Qwen2.5-7B-Instruct"]
)
def test_lookup_misses(query):
    assert ck.checkpoint(query) is None


def test_bare_name_must_be_unique():
    # "Llama-3.1-8B-Instruct" names one record (its alias shares the org); a name shared by two
    # orgs would be ambiguous and must not resolve
    assert ck.checkpoint("Llama-3.1-8B-Instruct")["id"] == "meta-llama/Llama-3.1-8B-Instruct"


def test_returns_a_copy():
    rec = ck.checkpoint("Qwen/Qwen2.5-7B-Instruct")
    rec["num_key_value_heads"] = 99
    rec["architectures"].append("X")
    again = ck.checkpoint("Qwen/Qwen2.5-7B-Instruct")
    assert again["num_key_value_heads"] == 4 and again["architectures"] == ["Qwen2ForCausalLM"]


def test_all_ids():
    ids = ck.all_ids()
    assert ids == sorted(ids, key=str.lower)
    assert len(ids) == len(set(i.lower() for i in ids)) == len(_records())
    for hid in ids:
        assert ck.checkpoint(hid)["id"] == hid
        assert ck.checkpoint(hid.lower())["id"] == hid


def test_config_facts_normalises_remote_code_keys():
    facts = ck.config_facts(
        {"model_type": "chatglm", "num_layers": 40, "multi_query_attention": True, "multi_query_group_num": 2,
         "ffn_hidden_size": 13696, "padded_vocab_size": 151552, "seq_length": 131072, "eos_token_id": [1, 2]}
    )
    assert facts["num_hidden_layers"] == 40 and facts["num_key_value_heads"] == 2
    assert facts["intermediate_size"] == 13696 and facts["vocab_size"] == 151552
    assert facts["max_position_embeddings"] == 131072 and facts["config_eos_token_id"] == [1, 2]
    assert facts["rope_type"] == "default"
    nested = ck.config_facts({"model_type": "gemma3", "eos_token_id": [1, 106], "text_config": {"hidden_size": 2560, "rope_scaling": {"rope_type": "linear", "factor": 8.0}}})
    assert nested["hidden_size"] == 2560 and nested["rope_type"] == "linear" and nested["config_eos_token_id"] == [1, 106]


# ---------------------------------------------------------------------------------------------
# Provenance and internal consistency
# ---------------------------------------------------------------------------------------------
def test_envelope():
    env = json.loads(DATA.read_text("utf-8"))
    assert env["table"] == "checkpoints" and env["schema"] >= 1
    assert env["generated_by"] == "knowledge/scripts/gen_checkpoints.py" and GEN.is_file()
    assert set(env["records"]) == {"checkpoints", "lora_modules_by_model_type"}


def test_every_record_has_source_checked_and_method():
    for hid, rec in _records().items():
        assert DATE.match(rec["checked"]), hid
        assert rec["method"] in ("mirrored-file", "transcribed"), hid
        if rec["method"] == "transcribed":
            assert rec["source"] == f"https://huggingface.co/{hid}/blob/main/config.json", hid
        else:
            assert GITHUB_BLOB.match(rec["source"]), hid
            assert rec["mirror_of"] == f"https://huggingface.co/{hid}", hid
            assert all(GITHUB_BLOB.match(f["url"]) for f in rec["files"]), hid
    for mt, rec in _lora().items():
        assert DATE.match(rec["checked"]) and rec["source"], mt
        assert rec["method"] in ("parsed-source", "transcribed", "mirrored-file"), mt
        assert re.match(r"^(https://|pypi:)", rec["source"]), mt


def test_record_sanity():
    for hid, rec in _records().items():
        assert re.match(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", hid), hid
        h, kv = rec.get("num_attention_heads"), rec.get("num_key_value_heads")
        if h and kv:
            assert h % kv == 0, hid
        if rec.get("is_instruct") is False and "end_of_turn" in rec:
            assert rec["end_of_turn"] is None, hid
        eot, gen = rec.get("end_of_turn"), rec.get("generation_eos_token_id")
        if eot and gen is not None:
            assert eot["id"] in (gen if isinstance(gen, list) else [gen]), hid
        if rec.get("rope_scaling"):
            assert rec["rope_type"] == rec["rope_scaling"].get("rope_type", rec["rope_scaling"].get("type")), hid
        if rec.get("active_params_b") is not None:
            assert rec["active_params_b"] < rec["params_b"], hid


def _dense_params(rec: Dict[str, Any]) -> Tuple[float, float]:
    """(untied, tied) parameter estimate of a dense gated-MLP decoder, in billions."""
    hidden, layers, heads = rec["hidden_size"], rec["num_hidden_layers"], rec["num_attention_heads"]
    kv = rec.get("num_key_value_heads", heads)
    hd = rec.get("head_dim") or hidden // heads
    attn = 2 * hidden * heads * hd + 2 * hidden * kv * hd
    mlp = 3 * hidden * rec["intermediate_size"]
    body = layers * (attn + mlp)
    emb = rec["vocab_size"] * hidden
    return (body + 2 * emb) / 1e9, (body + emb) / 1e9


def test_parameter_counts_agree_with_architecture():
    """A typo in hidden/intermediate/layers/vocab shows up as a parameter count that no longer
    matches the published one."""
    checked = 0
    for hid, rec in _records().items():
        need = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size", "params_b")
        if any(rec.get(k) is None for k in need) or rec.get("n_routed_experts") or rec["model_type"] == "qwen":
            continue
        untied, tied = _dense_params(rec)
        tie = rec.get("tie_word_embeddings")
        candidates = [tied] if tie is True else [untied] if tie is False else [tied, untied]
        assert any(abs(c - rec["params_b"]) / rec["params_b"] < 0.08 for c in candidates), (hid, candidates, rec["params_b"])
        checked += 1
    assert checked > 80


def test_model_types_are_known_to_transformers_or_remote_code():
    arch = load_table("architectures")["records"]["transformers"]["model_types"]
    for hid, rec in _records().items():
        mt = rec.get("model_type")
        if mt and not rec.get("trust_remote_code"):
            assert mt in arch, (hid, mt)


# ---------------------------------------------------------------------------------------------
# Against the shared corpus
# ---------------------------------------------------------------------------------------------
def _manifest() -> Dict[str, Dict[str, str]]:
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8", newline="") as fh:
        return {r["local_path"]: r for r in csv.DictReader(fh, delimiter="\t")}


def _by_url() -> Dict[str, str]:
    return {
        f"https://github.com/{r['repo']}/blob/{r['commit']}/{r['original_path']}": path for path, r in _manifest().items()
    }


def _load(local: str) -> Dict[str, Any]:
    return json.loads((CORPUS / local).read_text("utf-8"))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


def _facts_of(kind: str, local: str) -> Dict[str, Any]:
    if kind not in ("config", "generation_config", "tokenizer_config"):
        return {}
    data = _load(local)
    if kind == "config":
        facts = ck.config_facts(data)
        facts.pop("auto_map", None)
        return facts
    if kind == "generation_config":
        return ck.generation_facts(data)
    if kind == "tokenizer_config":
        return ck.tokenizer_facts(data)
    return {}


@needs_corpus
def test_mirrored_records_equal_their_files():
    urls = _by_url()
    mirrored = [(hid, rec) for hid, rec in _records().items() if rec["method"] == "mirrored-file"]
    assert len(mirrored) >= 8
    for hid, rec in mirrored:
        for f in rec["files"]:
            local = urls[f["url"]]
            facts = _facts_of(f["kind"], local)
            if f["kind"] == "tokenizer_config":
                facts.pop("has_chat_template", None)  # may also come from chat_template.jinja
            for key, value in facts.items():
                assert key in rec and _same(rec[key], value), (hid, local, key, rec.get(key), value)


@needs_corpus
def test_no_record_contradicts_a_derived_corpus_file():
    urls = _by_url()
    seen = 0
    for hid, rec in _records().items():
        for ref in rec.get("corroborated_by", []):
            if "file" not in ref:
                continue
            local = urls[ref["file"]]
            data = _load(local)
            facts = ck.generation_facts(data) if local.endswith("generation_config.json") else ck.config_facts(data)
            for field in ref["fields"]:
                assert _same(rec[field], facts[field]), (hid, local, field, rec[field], facts[field])
            seen += 1
    assert seen >= 15


@needs_corpus
def test_corpus_configs_naming_a_record_agree_on_architecture():
    """Any corpus config.json whose _name_or_path is a record's hub id (fine-tunes keep it) has that
    record's architecture."""
    by_id = {}
    for hid, rec in _records().items():
        for key in [hid, *rec.get("aliases", [])]:
            by_id[key.lower()] = hid
    hits = 0
    for local, row in _manifest().items():
        if row["kind"] != "hf-config" or not local.endswith("/config.json"):
            continue
        try:
            data = _load(local)
        except ValueError:
            continue
        name = data.get("_name_or_path")
        if not isinstance(name, str) or name.lower() not in by_id:
            continue
        rec = _records()[by_id[name.lower()]]
        facts = ck.config_facts(data)
        for field in ("model_type", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads", "intermediate_size"):
            if field in rec and field in facts:
                assert _same(rec[field], facts[field]), (local, field, rec[field], facts[field])
        hits += 1
    assert hits >= 4


@needs_corpus
def test_data_file_is_generated_from_committed_inputs():
    spec = importlib.util.spec_from_file_location("_gen_checkpoints_under_test", GEN)
    gen = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(gen)
    built = gen.build(gen.Corpus(CORPUS))
    committed = json.loads(DATA.read_text("utf-8"))
    assert built["records"] == committed["records"], "knowledge/data/checkpoints.json is stale: run knowledge/scripts/gen_checkpoints.py"
