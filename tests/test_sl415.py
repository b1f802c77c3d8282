"""SL415 automodel-without-generate: generate() on a model loaded without its LM head."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

from conftest import findings_of, run_scan

QWEN2 = json.dumps({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 896,
                    "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936}, indent=2)
CHATGLM = json.dumps({"architectures": ["ChatGLMModel"], "model_type": "chatglm",
                      "auto_map": {"AutoConfig": "configuration_chatglm.ChatGLMConfig",
                                   "AutoModel": "modeling_chatglm.ChatGLMForConditionalGeneration",
                                   "AutoModelForCausalLM": "modeling_chatglm.ChatGLMForConditionalGeneration"}},
                     indent=2)
GEN = "out = model.generate(**inputs, max_new_tokens=64)\n"


def _scan(root: Path, files: Dict[str, str]):
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    result, _ = run_scan(root)
    return findings_of(result, "SL415")


def test_automodel_of_a_local_qwen2_directory(tmp_path):
    script = ("from transformers import AutoModel\n"
              "model = AutoModel.from_pretrained('./qwen2-0.5b', torch_dtype='auto')\n" + GEN)
    got = _scan(tmp_path, {"qwen2-0.5b/config.json": QWEN2, "infer.py": script})
    assert got == [{"code": "SL415", "path": "infer.py", "line": 3, "col": 7}]


def test_automodel_of_a_known_hub_checkpoint_chained_and_in_a_function(tmp_path):
    script = ("import transformers\n"
              "def run(inputs):\n"
              "    model = transformers.AutoModel.from_pretrained('meta-llama/Llama-2-7b-hf').cuda().eval()\n"
              "    return model.generate(**inputs)\n")
    got = _scan(tmp_path, {"infer.py": script})
    assert [f["line"] for f in got] == [4]


def test_base_class_loaded_directly(tmp_path):
    script = ("from transformers import LlamaModel\n"
              "model = LlamaModel.from_pretrained(path)\n" + GEN)
    assert len(_scan(tmp_path, {"infer.py": script})) == 1


def test_modelscope_automodel(tmp_path):
    script = ("from modelscope import AutoModel\n"
              "model = AutoModel.from_pretrained('Qwen/Qwen2-7B-Instruct', device_map='auto')\n" + GEN)
    assert len(_scan(tmp_path, {"infer.py": script})) == 1


def test_valid_neighbours(tmp_path):
    cases = {
        "causal-lm": ({"m/config.json": QWEN2},
                      "from transformers import AutoModelForCausalLM\nmodel = AutoModelForCausalLM.from_pretrained('./m')\n" + GEN),
        "chatglm-remote-code": ({"m/config.json": CHATGLM},
                                "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('./m', "
                                "trust_remote_code=True)\n" + GEN),
        "qwen1-hub-id": ({}, "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('Qwen/Qwen-7B-Chat', "
                             "trust_remote_code=True)\n" + GEN),
        "unknown-hub-id": ({}, "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('someone/private-model')\n"
                           + GEN),
        "embeddings-only": ({"m/config.json": QWEN2},
                            "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('./m')\n"
                            "hidden = model(**inputs).last_hidden_state\n"),
        "wrapped-by-peft": ({"m/config.json": QWEN2},
                            "from transformers import AutoModel\nfrom peft import PeftModel\n"
                            "model = AutoModel.from_pretrained('./m')\nmodel = PeftModel.from_pretrained(model, 'lora')\n" + GEN),
        "other-variable": ({"m/config.json": QWEN2},
                           "from transformers import AutoModel, AutoModelForCausalLM\n"
                           "encoder = AutoModel.from_pretrained('./m')\nmodel = AutoModelForCausalLM.from_pretrained('./m')\n"
                           + GEN),
        "other-function": ({"m/config.json": QWEN2},
                           "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('./m')\n"
                           "def run(model, inputs):\n    return model.generate(**inputs)\n"),
        "submodule-chained": ({"m/config.json": QWEN2},
                              "from transformers import AutoModel\nmodel = AutoModel.from_pretrained('./m').get_decoder()\n"
                              + GEN),
        "local-class": ({}, "class LlamaModel:\n    @classmethod\n    def from_pretrained(cls, p):\n        return cls()\n"
                        "model = LlamaModel.from_pretrained('x')\n" + GEN),
    }
    for name, (files, script) in cases.items():
        assert _scan(tmp_path / name, dict(files, **{"infer.py": script})) == [], name
