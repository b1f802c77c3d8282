"""The hardware table (knowledge/data/hardware.json) and its accessor.

No network: everything is read from the committed data through ``stacklint.knowledge``. Samples are
checked against primary sources cited next to each assertion.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from stacklint.knowledge import hardware, load_table

ROOT = Path(__file__).resolve().parents[2]
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture(scope="module")
def table():
    return load_table("hardware")


@pytest.fixture(scope="module")
def gen():
    path = ROOT / "knowledge" / "scripts" / "gen_hardware.py"
    if not path.exists():
        pytest.skip("generator not in this tree")
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("_gen_hardware", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_gen_hardware"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_envelope(table):
    assert table["table"] == "hardware"
    assert table["schema"] == 1
    assert table["generated_by"] == "knowledge/scripts/gen_hardware.py"
    assert (ROOT / table["generated_by"]).exists()
    assert DATE.match(table["generated"])


def test_every_record_has_source_and_checked(table):
    recs = table["records"]
    for name, g in recs["gpus"].items():
        assert g["source"].startswith("https://"), name
        assert g["memory_source"].startswith("https://"), name
        assert DATE.match(g["checked"]), name
    for feat, rule in recs["feature_rules"].items():
        assert rule["source"].startswith("https://"), feat
        assert DATE.match(rule["checked"]), feat
    for method, ranges in recs["vllm_quant"]["methods"].items():
        assert ranges, method
        for r in ranges:
            assert r["source"].startswith("pypi:vllm==" + r["first"] + "#"), (method, r)
            assert DATE.match(r["checked"])


# --- GPUs: compute capability from https://developer.nvidia.com/cuda-gpus --------------------
@pytest.mark.parametrize("name,cc", [
    ("A100", "8.0"), ("A100-80GB", "8.0"), ("T4", "7.5"), ("V100", "7.0"), ("A10G", "8.6"), ("A10", "8.6"),
    ("L4", "8.9"), ("L40S", "8.9"), ("H100", "9.0"), ("H200", "9.0"), ("B200", "10.0"),
    ("RTX 3090", "8.6"), ("RTX 4090", "8.9"), ("RTX 5090", "12.0"), ("RTX 2080 Ti", "7.5"),
    ("P100", "6.0"), ("P40", "6.1"), ("K80", "3.7"), ("A30", "8.0"), ("A6000", "8.6"),
])
def test_compute_capability(name, cc):
    rec = hardware.gpu(name)
    assert rec is not None, name
    assert rec["compute_capability"] == cc
    assert hardware.compute_capability(name) == float(cc)


def test_bf16_follows_ampere():
    # torch.cuda.is_bf16_supported(including_emulation=False): major >= 8
    assert hardware.gpu("A100")["bf16"] is True
    assert hardware.gpu("T4")["bf16"] is False
    assert hardware.gpu("V100")["bf16"] is False
    assert hardware.gpu("RTX 3090")["bf16"] is True
    assert hardware.supports("MI300X", "bf16") is True


def test_fp8_from_ada():
    # vLLM fp8.py: native FP8 (no Marlin fallback) only from capability 89
    assert hardware.supports("L4", "fp8") is True
    assert hardware.supports("H100", "fp8") is True
    assert hardware.supports("RTX 4090", "fp8") is True
    assert hardware.supports("A100", "fp8") is False
    assert hardware.supports("MI300X", "fp8") is True
    assert hardware.supports("MI250X", "fp8") is False


def test_flash_attention():
    # flash-attn README (v2.8.3.post1): FA2 on Ampere/Ada/Hopper, not Turing; FA3 needs H100/H800
    assert hardware.supports("A100", "flash_attention_2") is True
    assert hardware.supports("A10G", "flash_attention_2") is True
    assert hardware.supports("RTX 4090", "flash_attention_2") is True
    assert hardware.supports("T4", "flash_attention_2") is False
    assert hardware.supports("V100", "flash_attention_2") is False
    assert hardware.supports("H100", "flash_attention_3") is True
    assert hardware.supports("H200", "flash_attention_3") is True
    assert hardware.supports("A100", "flash_attention_3") is False
    assert hardware.supports("MI300X", "flash_attention_2") is True  # ROCm CK backend: MI200/MI300


def test_bitsandbytes():
    # bitsandbytes docs/source/installation.mdx (0.50.1): NF4 from 6.0, LLM.int8() from 7.5
    assert hardware.supports("P100", "bitsandbytes_4bit") is True
    assert hardware.supports("P100", "bitsandbytes_int8") is False
    assert hardware.supports("T4", "bitsandbytes_int8") is True
    assert hardware.supports("K80", "bitsandbytes_4bit") is False


def test_memory():
    assert hardware.gpu("A100-SXM4-80GB")["memory_gb"] == 80
    assert hardware.gpu("a100")["memory_gb"] == 40
    assert hardware.gpu("T4")["memory_gb"] == 16
    assert hardware.gpu("H200")["memory_gb"] == 141
    assert hardware.gpu("MI300X")["memory_gb"] == 192


@pytest.mark.parametrize("alias,name", [
    ("a100", "A100-40GB"),
    ("A100-SXM4-80GB", "A100-80GB"),
    ("NVIDIA A100-SXM4-80GB", "A100-80GB"),
    ("A100-80GB:8", "A100-80GB"),            # SkyPilot
    ("H100:8", "H100-SXM-80GB"),             # SkyPilot
    ("nvidia-tesla-t4", "T4"),               # GKE cloud.google.com/gke-accelerator
    ("nvidia-l4", "L4"),
    ("nvidia-h100-80gb", "H100-SXM-80GB"),
    ("nvidia-a100-80gb", "A100-80GB"),
    ("nvidia-tesla-a100", "A100-40GB"),
    ("NVIDIA H100 80GB HBM3", "H100-SXM-80GB"),  # nvidia-smi
    ("NVIDIA H100 PCIe", "H100-PCIe-80GB"),
    ("Tesla V100-SXM2-16GB", "V100-16GB"),
    ("NVIDIA GeForce RTX 4090", "RTX-4090"),
    ("rtx4090", "RTX-4090"),
    ("8x H100", "H100-SXM-80GB"),
    ("AMD Instinct MI300X", "MI300X"),
    ("L40S:4", "L40S"),
])
def test_aliases(alias, name):
    rec = hardware.gpu(alias)
    assert rec is not None, alias
    assert rec["name"] == name


@pytest.mark.parametrize("alias", ["", "   ", "xyz", "gtx 9999", "tpu-v5"])
def test_unknown_gpu(alias):
    assert hardware.gpu(alias) is None


def test_aliases_are_unambiguous(table):
    seen = {}
    for name, rec in table["records"]["gpus"].items():
        for alias in [name, *rec["aliases"]]:
            key = hardware.normalize_gpu_name(alias)
            assert seen.setdefault(key, name) == name, f"{alias!r} of {name} clashes with {seen[key]}"
            assert hardware.gpu(alias)["name"] == name


def test_flags_are_derived_from_the_rules(table):
    rules = table["records"]["feature_rules"]
    for name, g in table["records"]["gpus"].items():
        for feat, rule in rules.items():
            if g["vendor"] == "nvidia":
                cc = Version(g["compute_capability"])
                want = any(cc == Version(x) for x in rule["nvidia_cc"]) if "nvidia_cc" in rule \
                    else cc >= Version(rule["nvidia_min_cc"])
            else:
                want = g["gfx_arch"] in rule["amd_gfx"]
            assert g[feat] is want, (name, feat)


def test_supports_rejects_unknown_feature():
    with pytest.raises(ValueError):
        hardware.supports("A100", "tf32")
    assert hardware.supports("no-such-gpu", "bf16") is None


# --- vLLM quantization: get_min_capability() at release tags ---------------------------------
def test_quant_min_capability_newest():
    # vllm/model_executor/layers/quantization/awq.py: get_min_capability() -> 75
    assert hardware.quant_min_capability("awq") == 7.5
    # gptq.py -> 60
    assert hardware.quant_min_capability("gptq") == 6.0
    assert hardware.quant_min_capability("compressed-tensors") == 7.0
    assert hardware.quant_min_capability("compressed_tensors") == 7.0  # either spelling
    assert hardware.quant_min_capability("AWQ") == 7.5


def test_quant_min_capability_per_release():
    # pypi:vllm==0.2.0#vllm/model_executor/quantization_utils/awq.py returns 80; 0.2.1.post1 returns 75
    assert hardware.quant_min_capability("awq", "0.2.0") == 8.0
    assert hardware.quant_min_capability("awq", "0.2.1.post1") == 7.5
    # fp8.py: 90 in 0.4.1, 89 from 0.4.2, 80 from 0.5.1 (weight-only Marlin below sm89)
    assert hardware.quant_min_capability("fp8", "0.4.1") == 9.0
    assert hardware.quant_min_capability("fp8", "0.5.0") == 8.9
    assert hardware.quant_min_capability("fp8", "0.6.3") == 8.0
    # marlin.py -> 80; gptq_marlin.py -> 80 (0.4.2 ..), awq_marlin.py -> 80 (0.5.3 ..)
    assert hardware.quant_min_capability("marlin", "0.5.0") == 8.0
    assert hardware.quant_min_capability("gptq_marlin", "0.6.0") == 8.0
    assert hardware.quant_min_capability("awq_marlin", "0.6.0") == 8.0
    assert hardware.quant_min_capability("bitsandbytes", "0.6.0") == 7.0
    assert hardware.quant_min_capability("squeezellm", "0.4.0") == 7.0
    assert hardware.quant_min_capability("deepspeedfp", "0.5.0") == 6.0
    assert hardware.quant_min_capability("gguf", "0.6.0") == 6.0
    # local labels and patch releases between covered ones
    assert hardware.quant_min_capability("awq", "0.6.3+cu124") == 7.5


def test_quant_min_capability_unknown():
    assert hardware.quant_min_capability("no-such-method") is None
    assert hardware.quant_min_capability("awq", "0.1.7") is None       # before quantization existed
    assert hardware.quant_min_capability("fp8", "0.3.0") is None       # before fp8 existed
    assert hardware.quant_min_capability("awq", "not a version") is None
    # squeezellm was dropped from the registry after 0.6.0: not in the newest release
    assert hardware.quant_min_capability("squeezellm") is None


def test_quant_ranges_are_ordered(table):
    releases = table["records"]["vllm_quant"]["releases"]
    assert releases == sorted(releases, key=Version)
    for method, ranges in table["records"]["vllm_quant"]["methods"].items():
        prev = None
        for r in ranges:
            assert r["first"] in releases, (method, r)
            assert r["last"] is None or r["last"] in releases
            assert r["last"] is None or Version(r["first"]) <= Version(r["last"])
            if prev is not None:
                assert prev["last"] is not None and Version(prev["last"]) < Version(r["first"])
            prev = r
        assert all(r["last"] is not None for r in ranges[:-1])


# --- the extractor itself, on a synthetic source tree ------------------------------------------
def test_extractor_reads_registry_and_inherited_capability(gen):
    files = {
        "vllm/model_executor/layers/quantization/__init__.py": (
            "from .a import AConfig\nfrom .b import BConfig\n"
            "QUANTIZATION_METHODS = {\"a\": AConfig, \"b-x\": BConfig, \"c\": CConfig}\n"
        ),
        "vllm/model_executor/layers/quantization/a.py": (
            "class AConfig(QuantizationConfig):\n"
            "    @classmethod\n    def get_min_capability(cls) -> int:\n        return 75\n"
        ),
        "vllm/model_executor/layers/quantization/b.py": "class BConfig(AConfig):\n    pass\n",
        "vllm/model_executor/layers/quantization/c.py": (
            "class CConfig:\n    @classmethod\n    def get_min_capability(cls):\n        return cls.x\n"
        ),
    }
    caps = gen.quant_caps(files)
    assert caps["a"][0] == 75
    assert caps["b-x"][0] == 75          # inherited from AConfig
    assert "c" not in caps               # computed, not a literal: left out


def test_china_export_variants_share_their_chip_capability():
    """A800 / H800 / H20 (common in Chinese-language failure threads) are the GA100 / GH100 chips
    of A100 / H100: same compute capability and features, their own memory."""
    from stacklint.knowledge import hardware

    a800 = hardware.gpu("NVIDIA A800-SXM4-80GB")
    assert a800["compute_capability"] == "8.0" and a800["bf16"] and a800["memory_gb"] == 80
    h800 = hardware.gpu("H800")
    assert h800["compute_capability"] == "9.0" and h800["fp8"] and h800["flash_attention_3"]
    assert hardware.gpu("NVIDIA H20")["memory_gb"] == 96
