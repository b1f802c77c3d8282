"""The api_changes table (knowledge/data/api_changes.json) and its accessor.

No network. Every fact is computed by gen_api_changes.py from the released source; the assertions
below name the file that shows it (pypi:<dist>==<version>#<path>) and the release notes / PRs that
announced it.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from packaging.version import Version

from stacklint.knowledge import api_changes, load_table

ROOT = Path(__file__).resolve().parents[2]
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.fixture(scope="module")
def table():
    return load_table("api_changes")


@pytest.fixture(scope="module")
def gen():
    path = ROOT / "knowledge" / "scripts" / "gen_api_changes.py"
    if not path.exists():
        pytest.skip("generator not in this tree")
    spec = importlib.util.spec_from_file_location("_gen_api_changes", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["_gen_api_changes"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_envelope(table):
    assert table["table"] == "api_changes"
    assert table["generated_by"] == "knowledge/scripts/gen_api_changes.py"
    assert (ROOT / table["generated_by"]).exists()
    assert isinstance(table["records"], list) and table["records"]


def test_every_record_has_source_and_checked(table):
    for r in table["records"]:
        assert r["source"].startswith(f"pypi:{r['package']}=="), r["id"]
        assert DATE.match(r["checked"]), r["id"]
        for where in r["evidence"].values():
            assert where.startswith(f"pypi:{r['package']}=="), r["id"]


def test_records_are_consistent(table):
    ids = [r["id"] for r in table["records"]]
    assert len(ids) == len(set(ids))
    for r in table["records"]:
        assert r["kind"] in api_changes.KINDS, r["id"]
        if r["kind"] == "keyword_argument":
            assert r.get("callables"), r["id"]
        if r["removed_in"]:
            last = r["old_ranges"][-1][1]
            assert last is not None and Version(last) < Version(r["removed_in"]), r["id"]
            assert r["evidence"]["removed_in"] == r["source"]
        if r["deprecated_in"] and r["removed_in"]:
            assert Version(r["deprecated_in"]) < Version(r["removed_in"]), r["id"]


def test_every_rule_is_in_the_table(table):
    import yaml

    rules = yaml.safe_load((ROOT / "knowledge" / "scripts" / "api_changes_rules.yaml").read_text("utf-8"))
    assert [r["id"] for r in rules] == [r["id"] for r in table["records"]]


def _rec(package, name, callable=None):
    rec = api_changes.lookup(package, name, callable=callable)
    assert rec is not None, (package, name, callable)
    return rec


# --- transformers ------------------------------------------------------------------------------
def test_evaluation_strategy():
    # training_args.py 4.41.0: eval_strategy field + "`evaluation_strategy` is deprecated and will be
    # removed in version 4.46"; the field is gone in 4.51.0 (huggingface/transformers#30190)
    r = _rec("transformers", "evaluation_strategy", "TrainingArguments")
    assert r["replacement"] == "eval_strategy"
    assert (r["deprecated_in"], r["removed_in"], r["replacement_since"]) == ("4.41.0", "4.51.0", "4.41.0")
    assert api_changes.status(r, "4.40.2") == "supported"
    assert api_changes.status(r, "4.45.0") == "deprecated"
    assert api_changes.status(r, "4.51.0") == "removed"
    assert api_changes.status(r, "5.0.0") == "removed"


def test_use_auth_token():
    # modeling_utils.py: token= from 4.31.0 ("use_auth_token ... deprecated"); gone in 5.0.0
    r = _rec("transformers", "use_auth_token", "AutoModelForCausalLM.from_pretrained")
    assert r["replacement"] == "token"
    assert (r["deprecated_in"], r["removed_in"]) == ("4.31.0", "5.0.0")


@pytest.mark.parametrize("name", ["load_in_8bit", "load_in_4bit"])
def test_load_in_kbit(name):
    # modeling_utils.py 4.38.0: "The `load_in_4bit` and `load_in_8bit` arguments are deprecated ...
    # pass a `BitsAndBytesConfig` object in `quantization_config`"; no kwargs.pop in 5.0.0
    r = _rec("transformers", name, "from_pretrained")
    assert "quantization_config=BitsAndBytesConfig" in r["replacement"]
    assert (r["deprecated_in"], r["removed_in"]) == ("4.38.0", "5.0.0")


def test_torch_dtype():
    # modeling_utils.py 4.56.0: kwargs.pop("dtype") and "`torch_dtype` is deprecated! Use `dtype`";
    # still accepted (deprecated) in transformers 5
    r = _rec("transformers", "torch_dtype")
    assert r["replacement"] == "dtype"
    assert r["deprecated_in"] == "4.56.0"
    assert r["removed_in"] is None
    assert api_changes.status(r, "5.0.0") == "deprecated"


def test_transformers_5_removals():
    # transformers 5.0.0 no longer ships modeling_tf_utils.py / modeling_flax_utils.py
    assert _rec("transformers", "transformers.modeling_tf_utils")["removed_in"] == "5.0.0"
    assert _rec("transformers", "transformers.modeling_flax_utils")["removed_in"] == "5.0.0"
    assert _rec("transformers", "no_cuda")["removed_in"] == "5.0.0"
    assert _rec("transformers", "AutoModelForVision2Seq")["removed_in"] == "5.0.0"
    assert _rec("transformers", "tokenizer", "Trainer")["removed_in"] == "5.0.0"
    assert _rec("transformers", "tokenizer", "Trainer")["replacement"] == "processing_class"


def test_generation_strategies_moved_to_the_hub():
    # generation/utils.py: _contrastive_search gone in 4.56.0; group/constrained beam search in 4.57
    r = api_changes.lookup_all("transformers", "contrastive search (generate(penalty_alpha=..., top_k=...))")
    assert len(r) == 1 and r[0]["removed_in"] == "4.56.0"
    assert "custom_generate" in r[0]["replacement"]


# --- trl ----------------------------------------------------------------------------------------
def test_sft_trainer_tokenizer():
    # trl 0.12.0 sft_trainer.py: @deprecate_kwarg("tokenizer", new_name="processing_class"); 0.16.0 drops it
    r = _rec("trl", "tokenizer", "SFTTrainer")
    assert r["replacement"] == "processing_class"
    assert (r["deprecated_in"], r["removed_in"]) == ("0.12.0", "0.16.0")


@pytest.mark.parametrize("name", ["max_seq_length", "dataset_text_field", "packing"])
def test_sft_trainer_kwargs_moved_to_sftconfig(name):
    # trl 0.9.2 sft_trainer.py: @_deprecate_arguments(deprecated_args=[..., name, ...]) -> SFTConfig;
    # SFTTrainer.__init__ loses the parameter in 0.13.0
    r = _rec("trl", name, "trl.SFTTrainer")
    assert (r["deprecated_in"], r["removed_in"]) == ("0.9.2", "0.13.0")
    assert "SFTConfig" in r["replacement"]


def test_sftconfig_max_seq_length():
    # trl 0.16.0 sft_config.py: "`max_seq_length` is deprecated ... Use `max_length` instead"; gone in 0.20.0
    r = _rec("trl", "max_seq_length", "SFTConfig")
    assert r["replacement"] == "max_length"
    assert (r["deprecated_in"], r["removed_in"]) == ("0.16.0", "0.20.0")


def test_ambiguous_lookup_needs_callable():
    assert api_changes.lookup("trl", "max_seq_length") is None
    assert len(api_changes.lookup_all("trl", "max_seq_length")) == 2


# --- peft / accelerate / deepspeed ---------------------------------------------------------------
def test_prepare_model_for_int8_training():
    # peft 0.4.0 utils/other.py: "prepare_model_for_int8_training is deprecated ... Use
    # prepare_model_for_kbit_training instead"; no longer defined in 0.10.0
    r = _rec("peft", "prepare_model_for_int8_training")
    assert r["replacement"] == "peft.prepare_model_for_kbit_training"
    assert (r["deprecated_in"], r["removed_in"]) == ("0.4.0", "0.10.0")
    assert _rec("peft", "peft.prepare_model_for_int8_training")["id"] == r["id"]


def test_accelerate_dataloader_arguments():
    # accelerate 0.28.0 accelerator.py: "Passing the following arguments to `Accelerator` is deprecated
    # ... Please pass an `accelerate.DataLoaderConfiguration`"; removed from __init__ in 1.0.0
    for name in ("dispatch_batches", "even_batches", "use_seedable_sampler"):
        r = _rec("accelerate", name, "Accelerator")
        assert (r["deprecated_in"], r["removed_in"]) == ("0.28.0", "1.0.0"), name
    # split_batches is still a parameter after 1.0
    assert _rec("accelerate", "split_batches")["removed_in"] is None


def test_deepspeed_cpu_offload():
    # deepspeed 0.7.0 zero/config.py: cpu_offload Field(deprecated=True, new_param="offload_optimizer");
    # the field is gone in 0.15.0
    r = _rec("deepspeed", "cpu_offload")
    assert r["kind"] == "config_key"
    assert (r["deprecated_in"], r["removed_in"]) == ("0.7.0", "0.15.0")


# --- vLLM engine arguments ----------------------------------------------------------------------
@pytest.mark.parametrize("flag,removed", [
    ("--use-v2-block-manager", "0.10.0"),
    ("--worker-use-ray", "0.7.0"),
    ("--engine-use-ray", "0.6.1.post1"),
    ("--disable-log-requests", "0.17.0"),
    ("--tokenizer-pool-size", "0.10.0"),
    ("--speculative-model", "0.8.3"),
])
def test_vllm_removed_flags(flag, removed):
    # vllm/engine/arg_utils.py at each release: add_argument("--flag") / EngineArgs field
    r = _rec("vllm", flag)
    assert r["kind"] == "cli_flag"
    assert r["removed_in"] == removed


def test_vllm_flag_spellings():
    a = _rec("vllm", "--use-v2-block-manager")
    assert _rec("vllm", "use-v2-block-manager")["id"] == a["id"]
    assert _rec("vllm", "use_v2_block_manager")["id"] == a["id"]   # EngineArgs / LLM(...) keyword
    assert _rec("vllm", "disable-log-requests")["deprecated_in"] == "0.10.1"


def test_changes_filter(table):
    assert {r["package"] for r in api_changes.changes()} == {r["package"] for r in table["records"]}
    assert all(r["package"] == "trl" for r in api_changes.changes("trl"))
    assert api_changes.changes("TRL") == api_changes.changes("trl")
    assert api_changes.lookup("transformers", "no_such_argument") is None
    assert api_changes.lookup("no-such-package", "x") is None


def test_status_edges():
    r = _rec("transformers", "transformers.deepspeed")
    # 4.45.2 is the last release with transformers/deepspeed.py; 4.46.1 the first scanned without
    assert api_changes.status(r, "4.45.2") == "deprecated"
    assert api_changes.status(r, "4.46.0") is None   # not a scanned release: undecided
    assert api_changes.status(r, "4.47.0") == "removed"
    assert api_changes.status(r, "garbage") is None


# --- the generator's probes, on synthetic source -------------------------------------------------
SRC = '''
from dataclasses import dataclass, field

@dataclass
class TrainingArguments:
    eval_strategy: str = field(default="no")
    output_dir: str = None

class Trainer:
    def __init__(self, model=None, processing_class=None, **kwargs):
        pass

def prepare_model_for_kbit_training(model):
    return model

if True:
    def guarded():
        pass
'''


def test_probes(gen):
    files = {"pkg/mod.py": SRC}
    assert gen.probe({"field": "eval_strategy", "class": "TrainingArguments", "files": ["pkg/mod.py"]}, files)[0]
    assert not gen.probe({"field": "evaluation_strategy", "class": "TrainingArguments", "files": ["pkg/mod.py"]}, files)[0]
    assert gen.probe({"param": "processing_class", "function": "Trainer.__init__", "files": ["pkg/mod.py"]}, files)[0]
    assert not gen.probe({"param": "tokenizer", "function": "Trainer.__init__", "files": ["pkg/mod.py"]}, files)[0]
    assert gen.probe({"defined": "prepare_model_for_kbit_training", "files": ["pkg/mod.py"]}, files)[0]
    assert gen.probe({"defined": "guarded", "files": ["pkg/mod.py"]}, files)[0]
    assert gen.probe({"regex": r"^\s+output_dir\s*:", "files": ["pkg/mod.py"]}, files)[0]
    assert gen.probe({"exists": "pkg/mod.py"}, files)[0]
    assert not gen.probe({"exists": "pkg/other.py"}, files)[0]
    assert gen.probe({"any": [{"exists": "nope"}, {"exists": "pkg/mod.py"}]}, files)[0]
    assert gen.probe({"not": {"exists": "nope"}}, files)[0]


def test_evaluate_rule(gen):
    class Fetcher:
        def source(self, version, path):
            return f"pypi:x=={version}#{path}"

    releases = ["1.0", "1.1", "1.2", "1.3"]
    old_src = "OLD = 1\n"
    both = "OLD = 1\nNEW = 1\n# OLD is deprecated\n"
    new_src = "NEW = 1\n"
    per = {"1.0": {"m.py": old_src}, "1.1": {"m.py": both}, "1.2": {"m.py": both}, "1.3": {"m.py": new_src}}
    rule = {"id": "x", "package": "x", "kind": "function", "name": "OLD", "replacement": "NEW",
            "old": {"defined": "OLD", "files": ["m.py"]}, "new": {"defined": "NEW", "files": ["m.py"]},
            "deprecated": {"regex": "OLD is deprecated", "files": ["m.py"]}}
    rec = gen.evaluate_rule(rule, releases, per, Fetcher(), "2026-01-01")
    assert (rec["deprecated_in"], rec["removed_in"], rec["replacement_since"]) == ("1.1", "1.3", "1.1")
    assert rec["old_ranges"] == [["1.0", "1.2"]]
    assert rec["new_ranges"] == [["1.1", None]]
    assert rec["source"] == "pypi:x==1.3#m.py"
