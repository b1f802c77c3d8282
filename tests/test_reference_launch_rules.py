"""SL220 / SL221 / SL740: the cases their fixtures do not cover (mostly what must stay silent)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from conftest import findings_of, run_scan


def _write(root: Path, files: dict) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text if isinstance(text, str) else json.dumps(text, indent=2))
    return root


def _codes(root: Path, code: str, gpu: Optional[str] = None):
    result, _ = run_scan(root, select=(code,), gpu=gpu)
    return findings_of(result, code)


# -- SL740 -------------------------------------------------------------------------------------

_RUN_7B = ("torchrun --nproc_per_node 1 example_text_completion.py --ckpt_dir llama-2-7b/ "
           "--tokenizer_path tokenizer.model --max_seq_len 128 --max_batch_size 4\n")


def test_sl740_needs_a_known_gpu(tmp_path: Path) -> None:
    _write(tmp_path, {"run.sh": _RUN_7B})
    assert _codes(tmp_path, "SL740") == []
    assert len(_codes(tmp_path, "SL740", gpu="RTX 3060")) == 1


def test_sl740_hf_conversion_and_fitting_shards_are_silent(tmp_path: Path) -> None:
    _write(tmp_path, {"a/run.sh": _RUN_7B.replace("llama-2-7b/", "llama-2-7b-hf/"),
                      # 13B over MP=2: ~6.1 GiB of weights per 16 GB card
                      "b/run.sh": "torchrun --nproc_per_node 2 example_chat_completion.py --ckpt_dir "
                                  "llama-2-13b-chat/ --tokenizer_path tokenizer.model --max_seq_len 512 "
                                  "--max_batch_size 6\n"})
    assert _codes(tmp_path, "SL740", gpu="T4") == []


def test_sl740_counts_the_kv_cache_per_rank(tmp_path: Path) -> None:
    # 70B over MP=8 on 40 GB cards: 16.1 GiB of weights, + 2*80*64*4096*128*2 B = 10 GiB of cache fits;
    # --max_batch_size 512 does not.
    run = ("torchrun --nproc_per_node 8 example_chat_completion.py --ckpt_dir llama-2-70b-chat/ "
           "--tokenizer_path tokenizer.model --max_seq_len 4096 --max_batch_size {}\n")
    _write(tmp_path, {"a/run.sh": run.format(64), "b/run.sh": run.format(512)})
    got = _codes(tmp_path, "SL740", gpu="A100-40GB")
    assert [f["path"] for f in got] == ["b/run.sh"]


# -- SL220 -------------------------------------------------------------------------------------

_SCRIPT = """from llama import Llama


def main(ckpt_dir, tokenizer_path, max_seq_len=128, max_batch_size=4):
    generator = Llama.build(ckpt_dir=ckpt_dir, tokenizer_path=tokenizer_path,
                            max_seq_len=max_seq_len, max_batch_size=max_batch_size)
    prompts = ["a", "b", "c"]
    generator.text_completion(prompts)
"""


def test_sl220_script_outside_the_tree_or_without_flag_is_not_judged(tmp_path: Path) -> None:
    _write(tmp_path, {"a/run.sh": "torchrun --nproc_per_node 1 gen.py --ckpt_dir llama-2-7b/ --max_batch_size 2\n",
                      "b/run.sh": "torchrun --nproc_per_node 1 gen.py --ckpt_dir llama-2-7b/\n",
                      "b/gen.py": _SCRIPT})
    assert _codes(tmp_path, "SL220") == []


def test_sl220_only_meta_reference_scripts(tmp_path: Path) -> None:
    other = _SCRIPT.replace("from llama import Llama", "from mylib import Engine").replace("Llama.build", "Engine")
    _write(tmp_path, {"a/run.sh": "torchrun --nproc_per_node 1 gen.py --max_batch_size 2\n", "a/gen.py": other,
                      "b/run.sh": "torchrun --nproc_per_node 1 gen.py --max_batch_size 2\n", "b/gen.py": _SCRIPT})
    got = _codes(tmp_path, "SL220")
    assert [f["path"] for f in got] == ["b/run.sh"]


# -- SL221 -------------------------------------------------------------------------------------

_CFG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "num_attention_heads": 40,
        "num_key_value_heads": 40, "pretraining_tp": 2}
_LOAD = ('from transformers import AutoModelForCausalLM\n'
         'model = AutoModelForCausalLM.from_pretrained("./m", load_in_8bit=True, device_map="auto")\n')


def test_sl221_transformers_without_slicing_or_unknown_is_silent(tmp_path: Path) -> None:
    _write(tmp_path, {"new/requirements.txt": "transformers>=4.47\n", "new/m/config.json": _CFG, "new/run.py": _LOAD,
                      "range/requirements.txt": "transformers>=4.40\n", "range/m/config.json": _CFG,
                      "range/run.py": _LOAD,
                      "none/m/config.json": _CFG, "none/run.py": _LOAD})
    assert _codes(tmp_path, "SL221") == []


def test_sl221_unquantised_load_is_silent(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers==4.33.0\n", "m/config.json": _CFG,
                      "run.py": _LOAD.replace("load_in_8bit=True, ", "")})
    assert _codes(tmp_path, "SL221") == []


def test_sl221_llamafactory_quantization_bit(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers==4.34.1\n", "m/config.json": _CFG,
                      "sft.yaml": "model_name_or_path: ./m\nstage: sft\ndo_train: true\nfinetuning_type: lora\n"
                                  "quantization_bit: 4\ndataset: alpaca_en\ntemplate: llama2\noutput_dir: out\n"})
    got = _codes(tmp_path, "SL221")
    assert [f["path"] for f in got] == ["m/config.json"]
