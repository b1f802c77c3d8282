"""The breakages table (knowledge/data/breakages.json) and its accessor.

No network. Each curated record cites the maintainers' issue / PR; generated records cite the
released file they were read from. The test also checks the defining property of a breakage: the
packages' own metadata (the packages table) lets pip install the combination.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from stacklint.knowledge import breakages, load_table

ROOT = Path(__file__).resolve().parents[2]
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture(scope="module")
def table():
    return load_table("breakages")


@pytest.fixture(scope="module")
def gen():
    path = ROOT / "knowledge" / "scripts" / "gen_breakages.py"
    if not path.exists():
        pytest.skip("generator not in this tree")
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("_gen_breakages", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_gen_breakages"] = mod
    spec.loader.exec_module(mod)
    return mod


def ids(pins):
    return {r["id"] for r in breakages.matching(pins)}


def test_envelope(table):
    assert table["table"] == "breakages"
    assert table["generated_by"] == "knowledge/scripts/gen_breakages.py"
    assert (ROOT / table["generated_by"]).exists()


def test_record_shape(table):
    seen = set()
    for r in table["records"]:
        assert r["id"] not in seen
        seen.add(r["id"])
        assert r["kind"] in ("runtime", "build"), r["id"]
        assert r["when"] and len(r["when"]) >= 2, r["id"]
        for cond in r["when"]:
            assert cond["package"] == canonicalize_name(cond["package"]), r["id"]
            SpecifierSet(cond.get("specifier", ""))
        assert r["effect"] and r["fix"], r["id"]
        assert re.match(r"^(https://|pypi:)", r["source"]), r["id"]
        assert DATE.match(r["checked"]), r["id"]
        for ev in r.get("evidence", []):
            assert ev.startswith("pypi:"), r["id"]


def test_numpy2_with_old_torch():
    # pytorch/pytorch#132179 (rgommers): "PyTorch 2.3.0 is the first version that supports NumPy 2.0"
    assert "numpy2-with-torch-before-2.3" in ids({"numpy": "2.0.1", "torch": "2.1.2"})
    assert "numpy2-with-torch-before-2.3" in ids({"numpy": "==2.1.0", "torch": "2.2.2+cu121"})
    assert "numpy2-with-torch-before-2.3" not in ids({"numpy": "1.26.4", "torch": "2.1.2"})
    assert "numpy2-with-torch-before-2.3" not in ids({"numpy": "2.0.1", "torch": "2.3.0"})
    assert "numpy2-with-torch-before-2.3" not in ids({"numpy": "2.0.1"})  # torch not pinned


def test_unpinned_or_ranged_values_are_ignored():
    assert ids({"numpy": ">=2", "torch": "2.1.2"}) == set()
    assert ids({"numpy": "2.*", "torch": "2.1.2"}) == set()
    assert ids({"numpy": "", "torch": "2.1.2"}) == set()
    assert ids({}) == set()


def test_names_are_canonicalised():
    # sentence-transformers#3001: huggingface_hub 0.26.0 removed cached_download
    assert "huggingface-hub-0.26-with-sentence-transformers-before-2.3" in ids(
        {"huggingface_hub": "0.26.0", "Sentence_Transformers": "2.2.2"})


def test_peft_transformers():
    # peft#2292; pypi:peft==0.14.0#peft/peft_model.py imports EncoderDecoderCache,
    # exported by transformers from 4.43.0
    assert "peft-0.14-with-transformers-before-4.43" in ids({"peft": "0.14.0", "transformers": "4.39.3"})
    assert "peft-0.14-with-transformers-before-4.43" not in ids({"peft": "0.13.2", "transformers": "4.39.3"})
    assert "peft-0.16-0.17-with-transformers-5" in ids({"peft": "0.17.1", "transformers": "5.0.0"})
    assert "peft-0.16-0.17-with-transformers-5" not in ids({"peft": "0.18.0", "transformers": "5.0.0"})


def test_accelerate_transformers():
    # transformers#34699: Trainer of 4.32-4.39 passes dispatch_batches, removed in accelerate 1.0
    assert "accelerate-1.0-with-transformers-4.32-4.39" in ids({"accelerate": "1.2.1", "transformers": "4.39.3"})
    assert "accelerate-1.0-with-transformers-4.32-4.39" not in ids({"accelerate": "0.34.2", "transformers": "4.39.3"})
    assert "accelerate-1.0-with-transformers-4.32-4.39" not in ids({"accelerate": "1.2.1", "transformers": "4.40.0"})


def test_transformers_minimum_torch():
    # pypi:transformers==5.1.0#transformers/utils/import_utils.py:
    # "Disabling PyTorch because PyTorch >= 2.4 is required"
    assert "transformers-5.1.0-needs-torch-2.4" in ids({"transformers": "5.1.0", "torch": "2.3.1"})
    assert ids({"transformers": "5.1.0", "torch": "2.4.0"}) == set()
    # 4.52.1 .. 4.57.x require torch >= 2.1
    assert "transformers-4.52.1-needs-torch-2.1" in ids({"transformers": "4.57.1", "torch": "2.0.1"})
    assert ids({"transformers": "4.51.3", "torch": "2.0.1"}) == set()


def test_flash_attn_wheels():
    # Dao-AILab/flash-attention v2.8.3 .github/workflows/publish.yml:
    # torch-version: ['2.4.0', '2.5.1', '2.6.0', '2.7.1', '2.8.0'], cuda-version: ['12.9.1']
    assert "flash-attn-2.8.3-no-wheel-for-torch" in ids({"flash-attn": "2.8.3", "torch": "2.9.0"})
    assert "flash-attn-2.8.3-no-wheel-for-torch" in ids({"flash_attn": "2.8.3", "torch": "2.3.1"})
    assert ids({"flash-attn": "2.8.3", "torch": "2.8.0"}) == set()
    assert ids({"flash-attn": "2.8.3", "torch": "2.6.0+cu124"}) == set()
    # CUDA 12 wheels only: a +cu118 torch build compiles from source
    assert "flash-attn-2.8.3-no-wheel-for-cuda11" in ids({"flash-attn": "2.8.3", "torch": "2.6.0+cu118"})
    rec = breakages.get("flash-attn-2.8.3-no-wheel-for-torch")
    assert rec["torch_minors_with_wheels"] == ["2.4", "2.5", "2.6", "2.7", "2.8"]
    assert rec["kind"] == "build"


def test_vllm_transformers5():
    # rllm-org/rllm#388: vLLM 0.11.0 + transformers 5 -> no attribute all_special_tokens_extended
    assert "transformers5-with-vllm-before-0.11.1" in ids({"vllm": "0.11.0", "transformers": "5.0.0"})
    assert "transformers5-with-vllm-before-0.11.1" not in ids({"vllm": "0.11.0", "transformers": "4.57.1"})


def test_all_breakages_returns_copies(table):
    allb = breakages.all_breakages()
    assert len(allb) == len(table["records"])
    allb[0]["id"] = "mutated"
    assert breakages.all_breakages()[0]["id"] != "mutated"
    assert breakages.get("no-such-id") is None


def _requirement_allows(packages, pkg, ver, dep, dep_ver):
    """Does pkg==ver's Requires-Dist (Linux, no extras) admit dep==dep_ver? Unknown metadata: yes."""
    rec = packages.get(pkg, {}).get(ver)
    if rec is None or rec.get("requires") is None:
        return True
    env = {"platform_system": "Linux", "sys_platform": "linux", "platform_machine": "x86_64",
           "python_version": "3.11", "python_full_version": "3.11.9", "implementation_name": "cpython",
           "platform_python_implementation": "CPython", "os_name": "posix"}
    for name, spec, marker in rec["requires"]:
        if canonicalize_name(name) != dep:
            continue
        if marker and not Marker(marker).evaluate(env):
            continue
        if not SpecifierSet(spec).contains(dep_ver, prereleases=True):
            return False
    return True


def test_curated_pairs_install_together(table):
    """A breakage is only one if pip lets both be installed: find released versions inside the
    conditions whose metadata does not exclude each other (packages table, read from the index)."""
    packages = load_table("packages")["records"]
    for r in table["records"]:
        if r.get("generated") or len(r["when"]) != 2:
            continue
        (a, b) = r["when"]
        pa, pb = a["package"], b["package"]
        if pa not in packages or pb not in packages:
            continue
        va = [v for v in packages[pa] if SpecifierSet(a["specifier"]).contains(v)]
        vb = [v for v in packages[pb] if SpecifierSet(b["specifier"]).contains(v)]
        assert va and vb, r["id"]
        witness = next(((x, y) for x in sorted(va, key=Version, reverse=True)
                        for y in sorted(vb, key=Version, reverse=True)
                        if _requirement_allows(packages, pa, x, pb, y) and _requirement_allows(packages, pb, y, pa, x)),
                       None)
        assert witness is not None, f"{r['id']}: the metadata already forbids every such pair"


# --- the generator, on synthetic input ------------------------------------------------------------
def test_wheel_matrix_parsing(gen):
    text = """
jobs:
  build_wheels:
    strategy:
      matrix:
        python-version: ['3.10', '3.11']
        torch-version: ['2.1.2', '2.2.2', '2.4.0.dev20240514']
        cuda-version: ['11.8.0', '12.3.2']
        exclude:
          - torch-version: '2.1.2'
            cuda-version: '12.3.2'
          - python-version: '3.11'
            torch-version: '2.2.2'
"""
    m = gen.wheel_matrix(text)
    assert m == {"2.1": ["11"], "2.2": ["11", "12"], "2.4": ["11", "12"]}
