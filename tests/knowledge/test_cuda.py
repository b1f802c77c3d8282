"""The cuda table (knowledge/data/cuda.json) and its accessor.

No network. Samples are checked against primary sources cited next to each assertion:
pytorch/pytorch RELEASE.md "Release Compatibility Matrix" (stable + experimental CUDA per minor),
the test-infra release build matrix, the torch wheels' own metadata (packages table), and NVIDIA's
CUDA Toolkit release notes.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from stacklint.knowledge import cuda, load_table

ROOT = Path(__file__).resolve().parents[2]
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture(scope="module")
def table():
    return load_table("cuda")


@pytest.fixture(scope="module")
def gen():
    path = ROOT / "knowledge" / "scripts" / "gen_cuda.py"
    if not path.exists():
        pytest.skip("generator not in this tree")
    spec = importlib.util.spec_from_file_location("_gen_cuda", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_gen_cuda"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_envelope(table):
    assert table["table"] == "cuda"
    assert table["generated_by"] == "knowledge/scripts/gen_cuda.py"
    assert (ROOT / table["generated_by"]).exists()
    assert set(table["records"]) == {"torch", "torch_default", "companions", "cuda_driver"}


def test_every_record_has_source_and_checked(table):
    recs = table["records"]
    for section in ("torch", "torch_default", "cuda_driver"):
        for key, rec in recs[section].items():
            assert re.match(r"^(https://|pypi:)", rec["source"]), (section, key)
            assert DATE.match(rec["checked"]), (section, key)
    for key, comps in recs["companions"].items():
        for name, rec in comps.items():
            assert rec["source"] == f"pypi:{name}=={rec['version']}", (key, name)
            assert DATE.match(rec["checked"])


# RELEASE.md matrix: "2.4 | ... | CUDA 11.8, CUDA 12.1 | CUDA 12.4 (experimental) | ROCm 6.1"
@pytest.mark.parametrize("torch,variants", [
    ("2.4.0", ["cu118", "cu121", "cu124"]),
    ("2.4.1", ["cu118", "cu121", "cu124"]),
    ("2.1.2", ["cu118", "cu121"]),          # 2.1: CUDA 11.8 | CUDA 12.1
    ("2.2.2", ["cu118", "cu121"]),
    ("2.3.1", ["cu118", "cu121"]),
    ("2.0.1", ["cu117", "cu118"]),          # 2.0: CUDA 11.7 | CUDA 11.8
    ("2.5.1", ["cu118", "cu121", "cu124"]),
    ("2.6.0", ["cu118", "cu124", "cu126"]), # 2.6: CUDA 11.8, 12.4 | 12.6
    ("2.7.0", ["cu118", "cu126", "cu128"]), # 2.7: CUDA 11.8, 12.6 | 12.8
    ("2.8.0", ["cu126", "cu128", "cu129"]), # 2.8: CUDA 12.6, 12.8 | 12.9
    ("2.9.0", ["cu126", "cu128", "cu130"]), # 2.9: CUDA 12.6, 12.8 | 13.0
    ("1.13.1", ["cu116", "cu117"]),         # 1.13: CUDA 11.6 | CUDA 11.7
    ("1.12.1", ["cu102", "cu113", "cu116"]),  # previous-versions page
])
def test_torch_cuda_variants(torch, variants):
    assert cuda.torch_cuda_variants(torch) == variants


def test_rocm_variants():
    # RELEASE.md: 2.4 -> ROCm 6.1 (newest of the two release ROCm builds), 2.1 -> ROCm 5.6
    assert "rocm6.1" in cuda.torch_rocm_variants("2.4.0")
    assert "rocm5.6" in cuda.torch_rocm_variants("2.1.2")
    assert all(v.startswith("rocm") for v in cuda.torch_rocm_variants("2.6.0"))


@pytest.mark.parametrize("torch,default", [
    # torch wheel metadata on the index: nvidia-cuda-runtime-cu12==12.1.105 (2.1-2.4), ==12.4.127
    # (2.5-2.6), ==12.6.77 (2.7), ==12.8.90 (2.8-2.10); cu11==11.7.99 (1.13-2.0)
    ("2.1.2", "cu121"), ("2.4.0", "cu121"), ("2.5.1", "cu124"), ("2.6.0", "cu124"),
    ("2.7.0", "cu126"), ("2.8.0", "cu128"), ("2.0.1", "cu117"), ("1.13.1", "cu117"),
    ("1.12.1", "cu102"),   # RELEASE.md: the CUDA 11 binaries were too big for the index: 10.2
    ("2.11.0", "cu130"),   # test-infra STABLE_CUDA_VERSIONS["release"] == "13.0" (nvidia-*-cu13 deps)
])
def test_torch_default_cuda(torch, default):
    assert cuda.torch_default_cuda(torch) == default


def test_default_wheel_cudnn():
    # RELEASE.md matrix: 2.4 -> CUDNN 9.1.0.70; the wheel pins nvidia-cudnn-cu12==9.1.0.70
    rec = cuda.torch_default_record("2.4.0")
    assert rec["cudnn"] == "9.1.0.70"
    assert rec["cuda_runtime"] == "12.1.105"
    assert cuda.torch_default_record("9.9.9") is None


def test_local_labels_and_unknown_releases():
    assert cuda.torch_cuda_variants("2.4.0+cu118") == ["cu118", "cu121", "cu124"]
    assert cuda.torch_default_cuda("==2.4.0") == "cu121"
    assert cuda.torch_cuda_variants("9.9.9") == []
    assert cuda.torch_default_cuda("9.9.9") is None
    assert cuda.companion_versions("9.9.9") == {}
    assert cuda.torch_cuda_variants("not-a-version") == []


def test_default_is_one_of_the_variants(table):
    for t, rec in table["records"]["torch_default"].items():
        if t in table["records"]["torch"]:
            assert rec["variant"] in table["records"]["torch"][t]["variants"], t


def test_default_agrees_with_package_metadata(table):
    """The runtime pin recorded is the one the packages table read from the same wheel."""
    packages = load_table("packages")["records"]["torch"]
    for t, rec in table["records"]["torch_default"].items():
        if not rec["source"].startswith("pypi:"):
            continue
        pins = {d: s for d, s, _m in packages[t]["requires"] or []}
        runtime = [s for d, s in pins.items() if d.startswith("nvidia-cuda-runtime-cu")]
        assert runtime == ["==" + rec["cuda_runtime"]], t


@pytest.mark.parametrize("torch,vision,audio", [
    ("2.4.0", "0.19.0", "2.4.0"), ("2.1.2", "0.16.2", "2.1.2"), ("2.0.1", "0.15.2", "2.0.2"),
    ("2.0.0", "0.15.1", "2.0.1"), ("1.13.1", "0.14.1", "0.13.1"), ("2.7.1", "0.22.1", "2.7.1"),
])
def test_companion_versions(torch, vision, audio):
    # torchvision / torchaudio wheel metadata: Requires-Dist torch==<torch>
    assert cuda.companion_versions(torch) == {"torchvision": vision, "torchaudio": audio}


def test_companion_without_torchaudio_pin():
    # torchaudio 2.11.0 pins no exact torch: only torchvision is known for torch 2.11.0
    assert cuda.companion_versions("2.11.0") == {"torchvision": "0.26.0"}


@pytest.mark.parametrize("cuda_version,driver", [
    # NVIDIA CUDA Toolkit release notes, "CUDA Toolkit and Corresponding Driver Versions"
    ("12.4", "550.54.14"), ("cu124", "550.54.14"), ("12.1", "530.30.02"), ("cu121", "530.30.02"),
    ("11.8", "520.61.05"), ("12.6", "560.28.03"), ("12.8", "570.26"), ("12.0", "525.60.13"),
    ("10.2", "440.33"), ("12.4.127", "550.54.14"),
])
def test_cuda_min_driver(cuda_version, driver):
    assert cuda.cuda_min_driver(cuda_version) == driver


def test_minor_version_compatibility():
    assert cuda.cuda_minor_compat_driver("12.4") == "525.60.13"
    assert cuda.cuda_minor_compat_driver("11.8") == "450.80.02"


def test_unknown_cuda():
    assert cuda.cuda_min_driver("99.9") is None
    assert cuda.cuda_min_driver("rocm6.1") is None
    assert cuda.cuda_min_driver("") is None


@pytest.mark.parametrize("given,want", [
    ("cu121", "12.1"), ("cu118", "11.8"), ("cu102", "10.2"), ("cu130", "13.0"), ("12.1", "12.1"),
    ("12.1.105", "12.1"), ("cuda12.4", "12.4"), ("12", None), ("rocm6.1", None),
])
def test_variant_cuda(given, want):
    assert cuda.variant_cuda(given) == want


def test_every_cuda_variant_has_a_driver_minimum(table):
    for t, rec in table["records"]["torch"].items():
        for c in rec["cuda"]:
            if Version(c) >= Version("11.0") and Version(c) <= Version("13.0"):
                assert cuda.cuda_min_driver(c) is not None, (t, c)


# --- the generator, on synthetic input ------------------------------------------------------------
def test_matrix_parsing(gen):
    text = (
        'CUDA_ARCHES_DICT = {"nightly": ["12.4"], "test": ["12.4"], "release": ["11.8", "12.1"]}\n'
        'ROCM_ARCHES_DICT = {"nightly": ["6.1"], "test": ["6.1"], "release": ["6.0"]}\n'
        'CURRENT_STABLE_VERSION = "2.9.9"\n'
        'CUDA_ARCHES = CUDA_ARCHES_DICT["nightly"]\n'
    )
    parsed = gen.parse_matrix(text)
    assert parsed["CURRENT_STABLE_VERSION"] == "2.9.9"
    hist = [("c1", parsed), ("c2", dict(parsed, CUDA_ARCHES_DICT={"release": ["12.1"]}))]
    v = gen.variants_from_matrix(hist)
    assert v["2.9.9"]["cuda"] == ["11.8", "12.1"]   # the first commit naming the release wins
    assert v["2.9.9"]["commit"] == "c1"
    assert gen.cu_tag("12.1") == "cu121" and gen.cu_tag("11.8") == "cu118"
