"""SL130 (grouped-query-attention-too-new-for-transformers): the cases its fixtures do not cover."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import findings_of, run_scan

_GQA_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 8192,
               "num_attention_heads": 64, "num_key_value_heads": 8, "num_hidden_layers": 80}


def _write(root: Path, files: dict) -> Path:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text if isinstance(text, str) else json.dumps(text, indent=2))
    return root


def _sl130(root: Path):
    result, _ = run_scan(root, select=("SL130",))
    return findings_of(result, "SL130")


def test_multi_head_llama_is_not_reported(tmp_path: Path) -> None:
    cfg = dict(_GQA_CONFIG, num_key_value_heads=64)
    _write(tmp_path, {"requirements.txt": "transformers==4.30.2\n", "models/llama-65b/config.json": cfg})
    assert _sl130(tmp_path) == []


def test_config_without_kv_heads_is_not_reported(tmp_path: Path) -> None:
    cfg = {k: v for k, v in _GQA_CONFIG.items() if k != "num_key_value_heads"}
    _write(tmp_path, {"requirements.txt": "transformers==4.30.2\n", "models/llama/config.json": cfg})
    assert _sl130(tmp_path) == []


def test_range_admitting_a_new_release_is_not_reported(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers>=4.30\n", "models/llama2-70b/config.json": _GQA_CONFIG})
    assert _sl130(tmp_path) == []


def test_model_served_by_vllm_is_not_judged(tmp_path: Path) -> None:
    # vLLM runs its own Llama implementation and reads num_key_value_heads itself.
    _write(tmp_path, {"requirements.txt": "vllm==0.1.2\ntransformers==4.30.2\n",
                      "serve.sh": "python -m vllm.entrypoints.api_server --model meta-llama/Llama-2-70b-chat-hf "
                                  "--tensor-parallel-size 8\n"})
    assert _sl130(tmp_path) == []


def test_hub_model_in_a_script_is_reported(tmp_path: Path) -> None:
    _write(tmp_path, {"requirements.txt": "transformers==4.29.2\n",
                      "run.py": "from transformers import AutoModelForCausalLM\n"
                                "m = AutoModelForCausalLM.from_pretrained('meta-llama/Llama-2-70b-hf')\n"})
    assert _sl130(tmp_path) == [{"code": "SL130", "path": "requirements.txt", "line": 1, "col": 1}]
