"""The architectures / config_features tables and their accessor (no network: committed data only).

Every fact below was computed by knowledge/scripts/gen_architectures.py from the project's own
source at that release (the record's ``source`` names the file); the comments say where to look it
up by hand: https://github.com/<repo>/blob/<tag>/<path> or the released distribution on PyPI.
"""
from __future__ import annotations

import datetime
import re

import pytest
from packaging.version import Version

from stacklint.knowledge import architectures as arch
from stacklint.knowledge import load_table

TF, VLLM, SGL = "transformers", "vllm", "sglang"


def _all_records():
    """(table, path, record) for every leaf record of both tables."""
    for table in ("architectures", "config_features"):
        recs = load_table(table)["records"]
        for pkg, kinds in recs.items():
            if pkg in ("releases", "yanked"):
                continue
            for kind, entries in kinds.items():
                for key, rec in entries.items():
                    yield table, f"{pkg}/{kind}/{key}", rec


# --------------------------------------------------------------------------------------------
# shape
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("table", ["architectures", "config_features"])
def test_envelope(table):
    env = load_table(table)
    assert env["table"] == table
    assert env["schema"] == 1
    assert env["generated_by"] == "knowledge/scripts/gen_architectures.py"
    datetime.date.fromisoformat(env["generated"])
    assert env["description"]


def test_every_record_has_source_and_checked():
    n = 0
    for table, path, rec in _all_records():
        n += 1
        assert rec.get("source"), (table, path)
        assert re.match(r"^(https://github\.com/|pypi:[A-Za-z0-9_.-]+==)", rec["source"]), (table, path, rec["source"])
        datetime.date.fromisoformat(rec["checked"])
    assert n > 2000


def test_ranges_are_well_formed():
    rel = load_table("architectures")["records"]["releases"]
    for table, path, rec in _all_records():
        versions = rel[path.split("/")[0]]
        index = {v: i for i, v in enumerate(versions)}
        prev_end = -1
        for i, (lo, hi) in enumerate(rec["ranges"]):
            assert lo in index, (path, lo)
            assert hi is None or hi in index, (path, hi)
            assert hi is not None or i == len(rec["ranges"]) - 1, path
            end = len(versions) - 1 if hi is None else index[hi]
            assert prev_end + 1 < index[lo] or prev_end == -1, (path, rec["ranges"])  # gaps between ranges
            assert index[lo] <= end
            prev_end = end


def test_release_lists_are_sorted_final_releases():
    for pkg in arch.PACKAGES:
        rel = arch.releases(pkg)
        assert rel == sorted(rel, key=Version)
        assert len(rel) == len(set(rel))
        assert not any(Version(v).is_prerelease or Version(v).is_devrelease for v in rel)


def test_coverage():
    tf = arch.releases(TF)
    # every minor release from 4.28 to 4.57, and 5.x
    for minor in range(28, 58):
        assert f"4.{minor}.0" in tf, minor
    assert "4.0.0" in tf and "5.0.0" in tf
    vl = arch.releases(VLLM)
    assert vl[0] == "0.1.0"
    for v in ("0.2.0", "0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "0.9.0", "0.10.0", "0.11.0"):
        assert v in vl
    assert len(arch.releases(SGL)) > 100
    # yanked releases are still installable with an exact pin, so they are covered and listed
    yanked = load_table("architectures")["records"]["yanked"]
    assert "4.57.0" in yanked[TF] and "4.57.0" in tf


def test_counts_are_plausible():
    recs = load_table("architectures")["records"]
    assert len(recs[TF]["model_types"]) > 400
    assert len(recs[TF]["architectures"]) > 1000
    assert len(recs[VLLM]["architectures"]) > 200
    assert len(recs[SGL]["architectures"]) > 100


# --------------------------------------------------------------------------------------------
# transformers facts
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model_type, first, before",
    [
        # src/transformers/models/auto/configuration_auto.py at each tag (CONFIG_MAPPING_NAMES);
        # also the release notes of https://github.com/huggingface/transformers/releases/tag/<tag>
        ("llama", "4.28.0", "4.27.4"),  # v4.28.0: "LLaMA"
        ("falcon", "4.31.0", "4.30.2"),
        ("mistral", "4.34.0", "4.33.3"),  # v4.34.0: "Mistral"
        ("mixtral", "4.36.0", "4.35.2"),  # v4.36.0: "Mixtral"
        ("qwen2", "4.37.0", "4.36.2"),  # v4.37.0: "Qwen2"
        ("gemma", "4.38.0", "4.37.2"),  # v4.38.0: "Gemma"
        ("qwen2_moe", "4.40.0", "4.39.3"),
        ("gemma2", "4.42.0", "4.41.2"),  # v4.42.0: "Gemma 2"
        ("gemma3", "4.50.0", "4.49.0"),
        ("qwen3", "4.51.0", "4.50.3"),  # v4.51.0: "Qwen3"
        ("llama4", "4.51.0", "4.50.3"),
        ("deepseek_v3", "4.51.0", "4.50.3"),
        ("gpt_oss", "4.55.0", "4.54.1"),
        ("qwen3_next", "4.57.0", "4.56.2"),  # 4.57.0 is yanked but covered
    ],
)
def test_transformers_model_type_first_release(model_type, first, before):
    assert arch.min_version(TF, model_type=model_type) == first
    assert arch.supported(TF, first, model_type=model_type) is True
    assert arch.supported(TF, before, model_type=model_type) is False
    rec = arch.record(TF, model_type=model_type)
    assert rec is not None
    assert f"=={first}#" in rec["source"] or f"/v{first}/" in rec["source"]


@pytest.mark.parametrize(
    "architecture, first, model_type",
    [
        # src/transformers/models/auto/modeling_auto.py, MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        ("LlamaForCausalLM", "4.28.0", "llama"),
        ("Qwen2ForCausalLM", "4.37.0", "qwen2"),
        ("Gemma2ForCausalLM", "4.42.0", "gemma2"),
        ("Qwen3ForCausalLM", "4.51.0", "qwen3"),
        ("Qwen3MoeForCausalLM", "4.51.0", "qwen3_moe"),
    ],
)
def test_transformers_architecture_first_release(architecture, first, model_type):
    assert arch.min_version(TF, architecture=architecture) == first
    rec = arch.record(TF, architecture=architecture)
    assert model_type in rec["model_types"]
    assert "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES" in rec["mappings"]


def test_transformers_removals_in_v5():
    # deprecated models were dropped in 5.0.0: present in 4.57.6's CONFIG_MAPPING_NAMES, absent in 5.0.0's
    for model_type in ("jukebox", "transfo-xl", "realm", "mega", "nezha"):
        rec = arch.record(TF, model_type=model_type)
        assert rec["max_version"] == "4.57.6", model_type
        assert rec["removed_in"] == "5.0.0", model_type
        assert arch.supported(TF, "4.57.6", model_type=model_type) is True
        assert arch.supported(TF, "5.0.0", model_type=model_type) is False
        assert arch.supported(TF, "5.3.0", model_type=model_type) is False


def test_transformers_model_type_only_in_a_yanked_release():
    # "parakeet" is in 4.57.0's CONFIG_MAPPING_NAMES only (split into parakeet_ctc/_encoder in 4.57.1)
    assert arch.record(TF, model_type="parakeet")["ranges"] == [["4.57.0", "4.57.0"]]
    assert arch.supported(TF, "4.57.1", model_type="parakeet") is False


# --------------------------------------------------------------------------------------------
# vLLM and SGLang facts
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "architecture, first, before",
    [
        # vllm/model_executor/model_loader.py (_MODEL_REGISTRY, <= 0.2.x),
        # vllm/model_executor/models/__init__.py (_MODELS), vllm/model_executor/models/registry.py
        ("LlamaForCausalLM", "0.1.0", None),
        ("GPT2LMHeadModel", "0.1.0", None),
        ("MistralForCausalLM", "0.2.0", "0.1.7"),
        ("MixtralForCausalLM", "0.2.4", "0.2.3"),
        ("Qwen2ForCausalLM", "0.3.0", "0.2.7"),  # https://github.com/vllm-project/vllm/releases/tag/v0.3.0
        ("Gemma2ForCausalLM", "0.5.1", "0.5.0.post1"),
        ("DeepseekV3ForCausalLM", "0.6.6", "0.6.5"),  # https://github.com/vllm-project/vllm/releases/tag/v0.6.6
        ("Llama4ForConditionalGeneration", "0.8.3", "0.8.2"),
        ("Qwen3ForCausalLM", "0.8.4", "0.8.3"),
        ("GptOssForCausalLM", "0.10.1", "0.10.0"),
    ],
)
def test_vllm_first_release(architecture, first, before):
    assert arch.min_version(VLLM, architecture=architecture) == first
    assert arch.supported(VLLM, first, architecture=architecture) is True
    if before is not None:
        assert arch.supported(VLLM, before, architecture=architecture) is False
    assert arch.record(VLLM, architecture=architecture)["source"].startswith((f"pypi:vllm=={first}#", "https://"))


@pytest.mark.parametrize("architecture, last", [("QWenLMHeadModel", "0.23.0"), ("MPTForCausalLM", "0.28.0")])
def test_vllm_removals_agree_with_vllm_own_list(architecture, last):
    # vllm 0.33.0 registry.py _PREVIOUSLY_SUPPORTED_MODELS: "QWenLMHeadModel": "0.23.0", "MPTForCausalLM": "0.28.0"
    rec = arch.record(VLLM, architecture=architecture)
    assert rec["max_version"] == last
    assert arch.supported(VLLM, last, architecture=architecture) is True
    assert arch.supported(VLLM, rec["removed_in"], architecture=architecture) is False


def test_vllm_architecture_removed_and_readded():
    # ChatGLMForConditionalGeneration is in registry.py up to 0.7.2, absent 0.7.3-0.8.3, back in 0.8.4
    rec = arch.record(VLLM, architecture="ChatGLMForConditionalGeneration")
    assert rec["ranges"] == [["0.2.4", "0.7.2"], ["0.8.4", None]]
    assert arch.supported(VLLM, "0.7.2", architecture="ChatGLMForConditionalGeneration") is True
    assert arch.supported(VLLM, "0.8.0", architecture="ChatGLMForConditionalGeneration") is False
    assert arch.supported(VLLM, "0.9.0", architecture="ChatGLMForConditionalGeneration") is True


def test_vllm_kinds():
    assert "text_generation" in arch.record(VLLM, architecture="DeepseekV3ForCausalLM")["kinds"]
    # served through vLLM's Transformers backend, listed in _TRANSFORMERS_SUPPORTED_MODELS
    assert arch.record(VLLM, architecture="ArceeForCausalLM")["kinds"] == ["transformers_supported"]


@pytest.mark.parametrize(
    "architecture, first",
    [
        # python/sglang/srt/models/*.py EntryClass; 0.1.3-0.1.11: `if arch == ...` in model_runner.py
        ("LlamaForCausalLM", "0.1.3"),
        ("Qwen2ForCausalLM", "0.1.10"),
        ("Gemma2ForCausalLM", "0.1.19"),
        ("DeepseekV3ForCausalLM", "0.4.1"),  # https://github.com/sgl-project/sglang/releases/tag/v0.4.1
        ("Qwen3ForCausalLM", "0.4.5.post2"),
    ],
)
def test_sglang_first_release(architecture, first):
    assert arch.min_version(SGL, architecture=architecture) == first


# --------------------------------------------------------------------------------------------
# config_features
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rope_type, first",
    [
        # LlamaConfig._rope_scaling_validation (configuration_llama.py) accepts linear/dynamic from 4.31.0
        ("linear", "4.31.0"),
        ("dynamic", "4.31.0"),
        # ROPE_INIT_FUNCTIONS in src/transformers/modeling_rope_utils.py, first in v4.43.0
        ("llama3", "4.43.0"),
        ("yarn", "4.43.0"),
        ("longrope", "4.43.0"),
        ("default", "4.43.0"),
    ],
)
def test_rope_types(rope_type, first):
    assert arch.rope_type_min_version(rope_type) == first
    assert arch.feature_record(TF, "rope_type", rope_type)["source"]
    assert arch.rope_type_supported(first, rope_type) is True
    assert arch.rope_type_supported("4.30.2", rope_type) is False


def test_llama3_rope_needs_443():
    assert arch.rope_type_supported("4.42.4", "llama3") is False
    assert arch.rope_type_supported("4.43.0", "llama3") is True
    assert arch.rope_type_min_version("no-such-rope") is None


@pytest.mark.parametrize(
    "package, method, first",
    [
        # QuantizationMethod enum, src/transformers/utils/quantization_config.py
        (TF, "gptq", "4.32.0"),
        (TF, "awq", "4.35.0"),
        (TF, "fp8", "4.49.0"),
        (TF, "mxfp4", "4.55.0"),
        # vllm/model_executor/quantization_utils/__init__.py (0.2.x), layers/quantization/__init__.py
        (VLLM, "awq", "0.2.0"),
        (VLLM, "gptq", "0.2.6"),
        (VLLM, "fp8", "0.4.1"),
    ],
)
def test_quant_methods(package, method, first):
    assert arch.quant_method_min_version(package, method) == first
    assert arch.quant_method_supported(package, first, method) is True


# --------------------------------------------------------------------------------------------
# accessor semantics
# --------------------------------------------------------------------------------------------
def test_unknown_keys_are_none():
    assert arch.min_version(TF, model_type="no_such_model") is None
    assert arch.supported(TF, "4.40.0", model_type="no_such_model") is None
    assert arch.record(VLLM, architecture="NoSuchForCausalLM") is None
    # vLLM and SGLang key on architectures only
    assert arch.min_version(VLLM, model_type="llama") is None


def test_argument_errors():
    with pytest.raises(TypeError):
        arch.min_version(TF)
    with pytest.raises(TypeError):
        arch.min_version(TF, model_type="llama", architecture="LlamaForCausalLM")
    with pytest.raises(ValueError):
        arch.min_version("tensorrt", model_type="llama")


def test_versions_not_in_the_release_list():
    # between covered releases / newer than the newest: decided by the ranges
    assert arch.supported(TF, "4.51.5", model_type="qwen3") is True
    assert arch.supported(TF, "99.0.0", model_type="qwen3") is True
    assert arch.supported(TF, "99.0.0", model_type="jukebox") is False
    # pre-release of the release that introduced it: unknown
    assert arch.supported(TF, "4.51.0.dev0", model_type="qwen3") is None
    assert arch.supported(TF, "4.51.0rc1", model_type="qwen3") is None
    assert arch.supported(TF, "4.50.0.dev0", model_type="qwen3") is False
    # local labels are ignored
    assert arch.supported(VLLM, "0.6.6+cu124", architecture="DeepseekV3ForCausalLM") is True
    assert arch.supported(VLLM, "not a version", architecture="DeepseekV3ForCausalLM") is None


def test_older_than_coverage():
    oldest = arch.releases(TF)[0]
    rec = arch.record(TF, model_type="gpt2")
    assert rec["first_is_floor"] is True and rec["min_version"] == oldest
    assert arch.supported(TF, "3.5.1", model_type="gpt2") is None  # may be older than the data
    assert arch.supported(TF, "3.5.1", model_type="qwen2") is False
    assert arch.record(TF, model_type="qwen2")["first_is_floor"] is False


def test_record_is_a_copy():
    rec = arch.record(TF, model_type="qwen2")
    rec["ranges"][0][0] = "0.0.0"
    assert arch.min_version(TF, model_type="qwen2") == "4.37.0"
