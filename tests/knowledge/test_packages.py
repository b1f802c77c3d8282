"""The package-requirements table (knowledge/data/packages.json) and its accessor.

No network: everything is read from the committed data through ``stacklint.knowledge``.
Facts are checked against the projects' own sources, cited next to each assertion.
"""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from stacklint.knowledge import load_table, packages

ROOT = Path(__file__).resolve().parents[2]
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

REQUIRED = [
    "torch", "torchvision", "torchaudio", "transformers", "tokenizers", "accelerate", "peft",
    "trl", "datasets", "huggingface-hub", "safetensors", "bitsandbytes", "flash-attn",
    "xformers", "triton", "deepspeed", "vllm", "sglang", "lmdeploy", "text-generation",
    "autoawq", "auto-gptq", "gptqmodel", "optimum", "llamafactory", "axolotl", "unsloth",
    "sentence-transformers", "numpy", "protobuf", "sentencepiece", "tiktoken",
    "llama-cpp-python",
]


@pytest.fixture(scope="module")
def table():
    return load_table("packages")


@pytest.fixture(scope="module")
def gen():
    """The generator module, imported from the checkout (it is not part of the wheel)."""
    path = ROOT / "knowledge" / "scripts" / "gen_packages.py"
    if not path.exists():
        pytest.skip("generator not in this tree")
    spec = importlib.util.spec_from_file_location("_gen_packages", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_gen_packages"] = mod
    spec.loader.exec_module(mod)
    return mod


# --- envelope and shape ------------------------------------------------------------------


def test_envelope(table):
    assert table["table"] == "packages"
    assert table["schema"] == 1
    assert table["generated_by"] == "knowledge/scripts/gen_packages.py"
    assert DATE.match(table["generated"])
    assert table["description"]


def test_required_packages_present(table):
    for name in REQUIRED:
        assert table["records"].get(name), name
        assert packages.known(name)


def test_every_record_well_formed(table):
    for name, rels in table["records"].items():
        assert name == canonicalize_name(name)
        for ver, rec in rels.items():
            where = f"{name}=={ver}"
            assert ver == str(Version(ver)), where  # normalised
            assert Version(ver).local is None, where
            assert rec["source"] == f"pypi:{name}=={ver}", where
            assert DATE.match(rec["checked"]), where
            rp = rec["requires_python"]
            assert rp is None or isinstance(rp, str), where
            if rp:
                SpecifierSet(rp)
            if rec["requires"] is None:
                assert rec.get("note"), where  # says why the metadata is missing
                continue
            groups = [rec["requires"]] + list((rec.get("extras") or {}).values())
            for extra in rec.get("extras") or {}:
                assert extra == canonicalize_name(extra), where
            for group in groups:
                for dep in group:
                    assert len(dep) == 3, where
                    dname, spec, marker = dep
                    assert dname == canonicalize_name(dname), where
                    SpecifierSet(spec)
                    if marker is not None:
                        Marker(marker)
                        assert "extra" not in re.sub(r'"[^"]*"', "", marker), where


def test_no_urls_in_data():
    text = (ROOT / "knowledge" / "data" / "packages.json").read_text("utf-8")
    assert "://" not in text
    json.loads(text)


def test_most_releases_have_metadata(table):
    total = sum(len(r) for r in table["records"].values())
    readable = sum(1 for r in table["records"].values() for x in r.values()
                   if x["requires"] is not None)
    assert total > 2500
    assert readable / total > 0.7


# --- accessor -------------------------------------------------------------------------------


def test_releases_sorted_and_latest(table):
    for name in table["records"]:
        rels = packages.releases(name)
        assert rels == sorted(rels, key=Version)
        assert len(rels) == len(set(rels)) == len(table["records"][name])
        assert packages.latest(name) == rels[-1]


def test_every_release_not_just_latest():
    rels = packages.releases("vllm")
    for v in ("0.4.0", "0.5.0", "0.6.3", "0.7.3", "0.8.5.post1"):
        assert v in rels
    assert "0.2.1" not in rels  # yanked on the package index


def test_unknown_package_and_release():
    assert not packages.known("no-such-package-xyz")
    assert packages.releases("no-such-package-xyz") == []
    assert packages.latest("no-such-package-xyz") is None
    assert packages.metadata("vllm", "99.0.0") is None
    assert packages.requires("vllm", "99.0.0") == []
    assert packages.requires_python("vllm", "99.0.0") is None
    assert packages.metadata("vllm", "not a version") is None


def test_names_and_versions_are_normalised():
    assert packages.known("Flash_Attn")
    assert packages.requires("VLLM", "0.6.3.0") == packages.requires("vllm", "0.6.3")
    assert packages.requires_python("Transformers", "v4.51.0") == packages.requires_python(
        "transformers", "4.51.0")


def test_requires_returns_tuples():
    reqs = packages.requires("vllm", "0.6.3")
    assert reqs and all(isinstance(r, tuple) and len(r) == 3 for r in reqs)


# --- facts ------------------------------------------------------------------------------------


def _dep(reqs, name):
    found = [r for r in reqs if r[0] == name]
    assert found, f"{name} not in {reqs}"
    return found


def test_vllm_063_pins():
    reqs = packages.requires("vllm", "0.6.3")
    # https://github.com/vllm-project/vllm/blob/v0.6.3/requirements-cuda.txt: torch == 2.4.0,
    # xformers == 0.0.27.post2; platform_system == 'Linux' and platform_machine == 'x86_64'
    assert _dep(reqs, "torch") == [("torch", "==2.4.0", None)]
    (xf,) = _dep(reqs, "xformers")
    assert xf[1] == "==0.0.27.post2"
    assert Marker(xf[2]) == Marker('platform_system == "Linux" and platform_machine == "x86_64"')
    # https://github.com/vllm-project/vllm/blob/v0.6.3/requirements-common.txt:
    # transformers >= 4.45.0
    assert _dep(reqs, "transformers") == [("transformers", ">=4.45.0", None)]


def test_transformers_requires_python():
    # https://github.com/huggingface/transformers/blob/v4.51.0/setup.py: python_requires=">=3.9.0"
    rp = packages.requires_python("transformers", "4.51.0")
    assert rp is not None
    assert "3.8.18" not in SpecifierSet(rp) and "3.9.0" in SpecifierSet(rp)


def test_transformers_extras():
    # https://github.com/huggingface/transformers/blob/v4.51.0/src/transformers/dependency_versions_table.py
    # ("torch": "torch>=2.0", "accelerate": "accelerate>=0.26.0") and setup.py, where
    # extras["torch"] = deps_list("torch", "accelerate")
    base = packages.requires("transformers", "4.51.0")
    with_torch = packages.requires("transformers", "4.51.0", extra="torch")
    assert all(r[0] != "torch" for r in base)
    assert with_torch[: len(base)] == base
    assert ("torch", ">=2.0", None) in with_torch
    assert ("accelerate", ">=0.26.0", None) in with_torch
    assert packages.requires("transformers", "4.51.0", extra="no-such-extra") == base
    # https://github.com/huggingface/transformers/blob/v4.45.0/setup.py: "tokenizers>=0.20,<0.21"
    (tok,) = _dep(packages.requires("transformers", "4.45.0"), "tokenizers")
    assert SpecifierSet(tok[1]) == SpecifierSet(">=0.20,<0.21")


def test_torch_cuda_pins():
    # https://github.com/pytorch/pytorch/blob/v2.4.1/.github/scripts/generate_binary_build_matrix.py
    # (CUDA 12.1 wheels: nvidia-cudnn-cu12==9.1.0.70) and .ci/docker/triton_version.txt (3.0.0)
    reqs = packages.requires("torch", "2.4.1")
    (cudnn,) = _dep(reqs, "nvidia-cudnn-cu12")
    assert cudnn[1] == "==9.1.0.70"
    (triton,) = _dep(reqs, "triton")
    assert triton[1] == "==3.0.0" and "platform_machine" in triton[2]


def test_torch_domain_libraries_pin_torch():
    # https://github.com/pytorch/pytorch/wiki/PyTorch-Versions: torch 2.3.0 <-> torchvision
    # 0.18.0 <-> torchaudio 2.3.0; https://github.com/pytorch/vision#installation: 2.4 <-> 0.19
    assert _dep(packages.requires("torchvision", "0.18.0"), "torch") == [("torch", "==2.3.0", None)]
    assert _dep(packages.requires("torchaudio", "2.3.0"), "torch") == [("torch", "==2.3.0", None)]
    assert _dep(packages.requires("torchvision", "0.19.0"), "torch") == [("torch", "==2.4.0", None)]


def test_accelerate_and_peft():
    # https://github.com/huggingface/accelerate/blob/v0.30.0/setup.py:
    # python_requires=">=3.8.0", install_requires [..., "torch>=1.10.0", ...]
    assert SpecifierSet(packages.requires_python("accelerate", "0.30.0")) == SpecifierSet(">=3.8.0")
    assert ("torch", ">=1.10.0", None) in packages.requires("accelerate", "0.30.0")
    # https://github.com/huggingface/peft/blob/v0.1.0/setup.py: "torch>=1.13.0"
    assert ("torch", ">=1.13.0", None) in packages.requires("peft", "0.1.0")


def test_sdist_only_releases_have_no_requires():
    # flash-attn publishes only an sdist on the package index; its setup.py fetches or builds
    # the binary at install time (https://github.com/Dao-AILab/flash-attention/blob/v2.6.3/setup.py)
    rec = packages.metadata("flash-attn", "2.6.3")
    assert rec is not None and rec["requires"] is None and "sdist" in rec["note"]
    assert packages.requires("flash-attn", "2.6.3") == []
    assert packages.requires_python("flash-attn", "2.6.3") == ">=3.8"  # from the index


# --- generator (pure functions, no network) ---------------------------------------------


def test_parse_requires_markers(gen):
    lines = [
        "torch (>=1.0) ; extra == 'torch'",
        'numpy<2; python_version < "3.9"',
        'accelerate>=0.26; extra == "torch" or extra == "all"',
        'peft; python_version >= "3.8" and extra == "all" or python_version >= "3.8" and extra == "Deep_Speed"',
        'triton==3.0.0; platform_system == "Linux" and (python_version < "3.13" or extra == "x")',
        "requests>=2",  # not an LLM-stack package: dropped
        "vllm[all]; extra == 'all'",
    ]
    base, extras, bad = gen.parse_requires(lines, ["torch", "all", "deep-speed"], "vllm")
    assert bad == 0
    assert base == [
        ["numpy", "<2", 'python_version < "3.9"'],
        ["triton", "==3.0.0", 'platform_system == "Linux" and python_version < "3.13"'],
    ]
    assert extras["torch"] == [["accelerate", ">=0.26", None], ["torch", ">=1.0", None]]
    assert extras["all"] == [["accelerate", ">=0.26", None], ["peft", "", 'python_version >= "3.8"']]
    assert extras["deep-speed"] == [["peft", "", 'python_version >= "3.8"']]
    assert extras["x"] == [["triton", "==3.0.0", 'platform_system == "Linux"']]


def test_parse_requires_self_extras(gen):
    lines = [
        "unsloth[huggingface]; extra == 'colab'",
        "transformers>=4.46; extra == 'huggingface'",
        "bitsandbytes; extra == 'colab'",
        "torch>=2.4",
    ]
    base, extras, _ = gen.parse_requires(lines, ["colab", "huggingface"], "unsloth")
    assert base == [["torch", ">=2.4", None]]
    assert extras["colab"] == [["bitsandbytes", "", None], ["transformers", ">=4.46", None]]
    assert extras["huggingface"] == [["transformers", ">=4.46", None]]


def test_parse_listing(gen):
    log = "\n".join([
        "  Found link https://files.example.invalid/p/ab/vllm-0.6.3-cp38-abi3-manylinux1_x86_64.whl "
        "(from https://index.example.invalid/simple/vllm/) (requires-python:>=3.8), version: 0.6.3",
        "  Found link https://files.example.invalid/p/cd/vllm-0.6.3.tar.gz (from "
        "https://index.example.invalid/simple/vllm/) (requires-python:>=3.8), version: 0.6.3",
        "  Skipping link: yanked for reason: broken: https://files.example.invalid/p/ef/"
        "vllm-0.2.1-cp310-cp310-manylinux1_x86_64.whl (from https://index.example.invalid/simple/vllm/)",
        "  Skipping link: none of the wheel's tags (cp39-cp39-win_amd64) are compatible: "
        "https://files.example.invalid/p/gh/vllm-0.1.0-cp39-cp39-win_amd64.whl",
        "  Found link https://files.example.invalid/p/ij/vllm-0.1.0.tar.gz, version: 0.1.0",
    ])
    inv = gen.parse_listing(log, "vllm")
    assert sorted(inv) == ["0.1.0", "0.2.1", "0.6.3"]
    assert inv["0.6.3"]["requires_python"] == ">=3.8"
    assert inv["0.6.3"]["sdists"] == ["vllm-0.6.3.tar.gz"]
    versions, yanked = gen.select_releases(inv)
    assert versions == ["0.1.0", "0.6.3"] and yanked == ["0.2.1"]
    target, wheel = gen.choose_target(inv["0.6.3"])
    assert target.label == "cp311-linux" and wheel.endswith("manylinux1_x86_64.whl")
    target, _ = gen.choose_target(inv["0.1.0"])
    assert target.label == "cp39-other"


def test_dumps_table_is_stable(gen, table):
    text = gen.dumps_table({**table, "records": {"vllm": {
        v: table["records"]["vllm"][v] for v in ("0.10.0", "0.6.3", "0.9.2")}}})
    assert json.loads(text)["records"]["vllm"]["0.6.3"] == table["records"]["vllm"]["0.6.3"]
    lines = [ln for ln in text.splitlines() if ln.startswith(' "0.')]
    assert [ln.split('"')[1] for ln in lines] == ["0.6.3", "0.9.2", "0.10.0"]
