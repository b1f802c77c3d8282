"""SL416 remote-code-model-loaded-without-trust: which loads it judges."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, Optional

from conftest import run_scan

QWEN_CONFIG = {"architectures": ["QWenLMHeadModel"], "model_type": "qwen",
               "auto_map": {"AutoConfig": "configuration_qwen.QWenConfig",
                            "AutoModelForCausalLM": "modeling_qwen.QWenLMHeadModel"},
               "hidden_size": 4096, "num_attention_heads": 32, "vocab_size": 151936}
QWEN_TOKENIZER = {"tokenizer_class": "QWenTokenizer",
                  "auto_map": {"AutoTokenizer": ["tokenization_qwen.QWenTokenizer", None]}}
PHI3_CONFIG = {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3",
               "auto_map": {"AutoConfig": "configuration_phi3.Phi3Config",
                            "AutoModelForCausalLM": "modeling_phi3.Phi3ForCausalLM"}}
IMPORTS = "from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer\n"


def _scan(tmp_path: Path, body: str, config: Optional[Dict] = None, tokenizer: Optional[Dict] = None,
          pins: str = "", model: str = "ckpt"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    if config is not None or tokenizer is not None:
        (tmp_path / model).mkdir()
        if config is not None:
            (tmp_path / model / "config.json").write_text(json.dumps(config, indent=2))
        if tokenizer is not None:
            (tmp_path / model / "tokenizer_config.json").write_text(json.dumps(tokenizer, indent=2))
    if pins:
        (tmp_path / "requirements.txt").write_text(pins)
    (tmp_path / "run.py").write_text(IMPORTS + body)
    result, _ = run_scan(tmp_path)
    return [f for f in result.findings if f.code == "SL416"]


def test_model_without_trust_on_a_remote_only_model_type(tmp_path):
    got = _scan(tmp_path, "m = AutoModelForCausalLM.from_pretrained('ckpt', device_map='auto')\n", QWEN_CONFIG)
    assert [(f.location.path, f.location.line, f.location.col) for f in got] == [("run.py", 2, 5)]
    msg = got[0].message
    assert "model_type \"qwen\"" in msg and "ckpt/config.json:7" in msg and "trust_remote_code=True" in msg
    assert "Do you wish to run the custom code" in msg  # no pin: today's releases prompt, then refuse


def test_auto_config_and_explicit_false(tmp_path):
    assert len(_scan(tmp_path / "a", "c = AutoConfig.from_pretrained('ckpt')\n", QWEN_CONFIG)) == 1
    got = _scan(tmp_path / "b", "m = AutoModelForCausalLM.from_pretrained('ckpt', trust_remote_code=False)\n",
                QWEN_CONFIG)
    assert len(got) == 1 and "with trust_remote_code=False" in got[0].message
    assert "Do you wish" not in got[0].message  # an explicit False is refused without asking


def test_remote_tokenizer(tmp_path):
    got = _scan(tmp_path / "a", "t = AutoTokenizer.from_pretrained('ckpt')\n", QWEN_CONFIG, QWEN_TOKENIZER)
    assert len(got) == 1 and "tokenizer class QWenTokenizer" in got[0].message
    assert any(r.location.path == "ckpt/tokenizer_config.json" for r in got[0].related)
    # transformers 4.30-4.36 takes any tokenizer_class for its own and fails to find it
    got = _scan(tmp_path / "b", "t = AutoTokenizer.from_pretrained('ckpt')\n", QWEN_CONFIG, QWEN_TOKENIZER,
                pins="transformers==4.34.0\n")
    assert len(got) == 1 and "Tokenizer class QWenTokenizer does not exist" in got[0].message


def test_version_aware_messages_and_native_types(tmp_path):
    got = _scan(tmp_path / "old", "m = AutoModelForCausalLM.from_pretrained('ckpt')\n", QWEN_CONFIG,
                pins="transformers==4.29.2\n")
    assert len(got) == 1 and "requires you to execute the configuration file" in got[0].message
    got = _scan(tmp_path / "prompt-eof", "m = AutoModelForCausalLM.from_pretrained('ckpt')\n", QWEN_CONFIG,
                pins="transformers==4.32.0\n")
    assert len(got) == 1 and "EOFError" in got[0].message
    # phi3 has auto_map too, but transformers implements it from 4.41: only older pins fail
    got = _scan(tmp_path / "phi3-old", "m = AutoModelForCausalLM.from_pretrained('ckpt')\n", PHI3_CONFIG,
                pins="transformers==4.38.2\n")
    assert len(got) == 1 and "transformers==4.38.2 (requirements.txt:1)" in got[0].message


def test_known_hub_checkpoint_needing_remote_code(tmp_path):
    body = "m = AutoModelForCausalLM.from_pretrained('deepseek-ai/DeepSeek-V3', device_map='auto')\n"
    assert len(_scan(tmp_path / "old", body, pins="transformers==4.46.3\n")) == 1
    assert _scan(tmp_path / "new", body, pins="transformers==4.51.3\n") == []
    assert _scan(tmp_path / "unpinned", body) == []
    tok = "t = AutoTokenizer.from_pretrained('deepseek-ai/DeepSeek-V3')\n"  # tokenizer files unknown
    assert _scan(tmp_path / "tok", tok, pins="transformers==4.46.3\n") == []


def test_not_judged(tmp_path):
    load = "m = AutoModelForCausalLM.from_pretrained('ckpt'{})\n"
    cases = {
        "trusted": (load.format(", trust_remote_code=True"), QWEN_CONFIG, None, ""),
        "variable-trust": ("import sys\n" + load.format(", trust_remote_code=sys.argv[1] == 'y'"), QWEN_CONFIG,
                           None, ""),
        "star-kwargs": ("kw = dict(trust_remote_code=True)\n" + load.format(", **kw"), QWEN_CONFIG, None, ""),
        "config-object": ("c = AutoConfig.from_pretrained('ckpt', trust_remote_code=True)\n"
                          + load.format(", config=c"), QWEN_CONFIG, None, ""),
        "phi3-native": (load.format(""), PHI3_CONFIG, None, "transformers>=4.41.0\n"),
        "phi3-unpinned": (load.format(""), PHI3_CONFIG, None, ""),
        "native-qwen2": (load.format(""), {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}, None, ""),
        "auto-map-without-autoconfig": (load.format(""), {"model_type": "llama", "auto_map": {
            "AutoModelForCausalLM": "modeling_x.XForCausalLM"}}, None, ""),
        "variable-path": ("import sys\nm = AutoModelForCausalLM.from_pretrained(sys.argv[1])\n", QWEN_CONFIG, None, ""),
        "model-class": ("from transformers import LlamaForCausalLM\nm = LlamaForCausalLM.from_pretrained('ckpt')\n",
                        QWEN_CONFIG, None, ""),
        "modelscope": ("from modelscope import AutoModelForCausalLM as MS\nm = MS.from_pretrained('ckpt')\n",
                       QWEN_CONFIG, None, ""),
        "tokenizer-shipped-by-transformers": ("t = AutoTokenizer.from_pretrained('ckpt')\n",
                                              {**QWEN_CONFIG, "model_type": "deepseek_v2"},
                                              {"tokenizer_class": "LlamaTokenizerFast"}, "transformers==4.40.0\n"),
        "tokenizer-class-not-the-remote-one": ("t = AutoTokenizer.from_pretrained('ckpt')\n", QWEN_CONFIG,
                                               {**QWEN_TOKENIZER, "tokenizer_class": "Qwen2TokenizerFast"}, ""),
    }
    for name, (body, config, tok, pins) in cases.items():
        assert _scan(tmp_path / name, body, config, tok, pins) == [], name
