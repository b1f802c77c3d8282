"""Serving-job rules on small trees; the rules still waiting for a dataset record as evidence
(``serving.PENDING``) run unregistered."""
from __future__ import annotations

import json
from pathlib import Path

from conftest import run_scan
from stacklint.checks import serving as S


def _scan(tmp_path: Path, files: dict, gpu=None):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text if isinstance(text, str) else json.dumps(text, indent=2))
    return run_scan(tmp_path, gpu=gpu)[1]


def _where(findings):
    return [(f.code, f.location.path, f.location.line) for f in findings]


QWEN7B = {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "hidden_size": 3584,
          "num_attention_heads": 28, "num_key_value_heads": 4, "intermediate_size": 18944,
          "max_position_embeddings": 32768, "vocab_size": 152064}


def _gptq(inter: int, group: int = 128) -> dict:
    return dict(QWEN7B, hidden_size=8192, num_attention_heads=64, num_key_value_heads=8, intermediate_size=inter,
                quantization_config={"bits": 4, "group_size": group, "quant_method": "gptq", "desc_act": False})


# -- engine plumbing ---------------------------------------------------------------------------

def test_docker_run_line_is_a_serving_job(tmp_path):
    stack = _scan(tmp_path, {"run.sh": "docker run --gpus '\"device=0,1\"' --ipc=host -p 8000:8000 "
                                       "vllm/vllm-openai:v0.6.3 --model Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 2\n"})
    jobs = [j for j in stack.serving_jobs()]
    assert len(jobs) == 1
    job = jobs[0]
    assert job.context == "docker-run" and job.framework == "vllm"
    assert job.gpus is not None and job.gpus.value == 2
    assert "ipc" in job.extra["docker_opts"]
    assert S.tp_pp(stack, job)[1] == 2


def test_vllm_config_yaml_values_are_read(tmp_path):
    stack = _scan(tmp_path, {"cfg.yaml": "tensor-parallel-size: 8\nport: 8000\n",
                             "serve.sh": "vllm serve Qwen/Qwen2.5-7B-Instruct --config cfg.yaml\n"})
    job = next(j for j in stack.serving_jobs() if j.context == "shell")
    assert S.tp_pp(stack, job)[1] == 8
    assert _where(S.tensor_parallel_size_does_not_divide_heads(stack)) == [("SL503", "cfg.yaml", 1)]


# -- SL503 -------------------------------------------------------------------------------------

def test_tp_not_dividing_heads(tmp_path):
    stack = _scan(tmp_path, {"serve.sh": "vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 8\n"})
    got = list(S.tensor_parallel_size_does_not_divide_heads(stack))
    assert _where(got) == [("SL503", "serve.sh", 1)]
    assert "28 attention heads" in got[0].message
    ok = _scan(tmp_path, {"serve.sh": "vllm serve Qwen/Qwen2.5-7B-Instruct --tensor-parallel-size 4\n"})
    assert not list(S.tensor_parallel_size_does_not_divide_heads(ok))


def test_kv_heads_replicated_when_tp_is_a_multiple(tmp_path):
    cfg = dict(QWEN7B, num_attention_heads=32, num_key_value_heads=4)
    stack = _scan(tmp_path, {"m/config.json": cfg, "serve.sh": "vllm serve ./m -tp 8\n"})
    assert not list(S.tensor_parallel_size_does_not_divide_heads(stack))
    cfg = dict(QWEN7B, num_attention_heads=40, num_key_value_heads=8)
    stack = _scan(tmp_path, {"m/config.json": cfg, "serve.sh": "vllm serve ./m -tp 5\n"})
    assert [f.key for f in S.tensor_parallel_size_does_not_divide_heads(stack)] == ["kv|8|5"]


def test_sglang_and_tgi_spellings(tmp_path):
    stack = _scan(tmp_path, {"a.sh": "python -m sglang.launch_server --model-path Qwen/Qwen2.5-7B-Instruct --tp-size 8\n",
                             "b.sh": "text-generation-launcher --model-id Qwen/Qwen2.5-7B-Instruct --num-shard 8\n"})
    assert sorted(f.location.path for f in S.tensor_parallel_size_does_not_divide_heads(stack)) == ["a.sh", "b.sh"]
    dp = _scan(tmp_path, {"a.sh": "python -m sglang.launch_server --model-path Qwen/Qwen2.5-7B-Instruct --tp 8 "
                                  "--enable-dp-attention --dp 8\n", "b.sh": "echo\n"})
    assert not list(S.tensor_parallel_size_does_not_divide_heads(dp))


def test_python_llm_call(tmp_path):
    stack = _scan(tmp_path, {"run.py": "from vllm import LLM\nllm = LLM(model='Qwen/Qwen2.5-7B-Instruct', "
                                       "tensor_parallel_size=8)\n"})
    assert _where(S.tensor_parallel_size_does_not_divide_heads(stack)) == [("SL503", "run.py", 2)]


# -- SL304 -------------------------------------------------------------------------------------

def test_group_size_vs_tp(tmp_path):
    stack = _scan(tmp_path, {"m/config.json": _gptq(29568), "serve.sh": "vllm serve ./m --tensor-parallel-size 2\n"})
    got = list(S.quantized_group_size_misaligned(stack))
    assert _where(got) == [("SL304", "serve.sh", 1)] and "14784" in got[0].message
    padded = _scan(tmp_path, {"m/config.json": _gptq(29696)})
    assert not list(S.quantized_group_size_misaligned(padded))
    channelwise = _scan(tmp_path, {"m/config.json": _gptq(29568, group=-1)})
    assert not list(S.quantized_group_size_misaligned(channelwise))


def test_qwen1_config_gives_twice_the_mlp_width(tmp_path):
    cfg = {"model_type": "qwen", "hidden_size": 5120, "num_attention_heads": 40, "intermediate_size": 27392,
           "quantization_config": {"bits": 4, "group_size": 128, "quant_method": "gptq"}}
    stack = _scan(tmp_path, {"m/config.json": cfg,
                             "serve.sh": "vllm serve ./m --tensor-parallel-size 2 --trust-remote-code\n"})
    got = list(S.quantized_group_size_misaligned(stack))
    assert len(got) == 1 and "6848" in got[0].message


def test_unread_quantize_config_json_is_unknown_not_unquantised(tmp_path):
    stack = _scan(tmp_path, {"m/config.json": QWEN7B, "m/quantize_config.json": {"bits": 4, "group_size": 128},
                             "serve.sh": "vllm serve ./m --quantization gptq -tp 2\n"})
    assert not list(S.quantization_flag_disagrees_with_checkpoint(stack))
    assert not list(S.quantized_group_size_misaligned(stack))


# -- preview rules -------------------------------------------------------------------------------

def test_preview_rules_are_registered_but_off():
    from stacklint import registry

    rules = registry.load_all()
    preview = {c for c, r in rules.items() if r.preview and c[2] in "2357"}
    assert {"SL203", "SL204", "SL303", "SL305", "SL504", "SL505", "SL701"} <= preview
    assert not any(rules[c].default for c in preview)
    assert not (preview & {r.code for r in registry.select(rules, ["ALL"], [], [])})  # not even with ALL
    assert preview <= {r.code for r in registry.select(rules, ["ALL"], [], [], preview=True)}


def test_tp_exceeds_visible_gpus(tmp_path):
    stack = _scan(tmp_path, {"serve.sh": "CUDA_VISIBLE_DEVICES=0,1 vllm serve Qwen/Qwen2.5-72B-Instruct "
                                         "--tensor-parallel-size 4\n"})
    got = list(S.parallel_size_exceeds_visible_gpus(stack))
    assert _where(got) == [("SL504", "serve.sh", 1)] and "sees only 2" in got[0].message
    exported = _scan(tmp_path, {"serve.sh": "export CUDA_VISIBLE_DEVICES=0,1\n\nvllm serve Qwen/Qwen2.5-72B-Instruct "
                                            "-tp 2 -pp 2\n"})
    assert len(list(S.parallel_size_exceeds_visible_gpus(exported))) == 1
    ok = _scan(tmp_path, {"serve.sh": "CUDA_VISIBLE_DEVICES=0,1,2,3 vllm serve Qwen/Qwen2.5-72B-Instruct -tp 4\n"})
    assert not list(S.parallel_size_exceeds_visible_gpus(ok))


def test_tp_exceeds_compose_and_k8s_gpus(tmp_path):
    compose = ("services:\n  llm:\n    image: vllm/vllm-openai:v0.6.3\n    command: --model m --tensor-parallel-size 4\n"
               "    deploy:\n      resources:\n        reservations:\n          devices:\n"
               "            - driver: nvidia\n              count: 2\n              capabilities: [gpu]\n")
    stack = _scan(tmp_path, {"compose.yaml": compose})
    assert len(list(S.parallel_size_exceeds_visible_gpus(stack))) == 1
    k8s = ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n"
           "      containers:\n        - name: vllm\n          image: vllm/vllm-openai:latest\n"
           "          args: [\"--model\", \"m\", \"--tensor-parallel-size\", \"8\"]\n"
           "          resources:\n            limits:\n              nvidia.com/gpu: 4\n")
    stack = _scan(tmp_path, {"compose.yaml": "services: {}\n", "k8s.yaml": k8s})
    assert _where(S.parallel_size_exceeds_visible_gpus(stack)) == [("SL504", "k8s.yaml", 10)]
    lws = k8s.replace("kind: Deployment", "kind: LeaderWorkerSet")
    stack = _scan(tmp_path, {"k8s.yaml": lws})
    assert not list(S.parallel_size_exceeds_visible_gpus(stack))


def test_docker_gpus_fewer_than_tp(tmp_path):
    stack = _scan(tmp_path, {"run.sh": "docker run --gpus 2 --ipc=host vllm/vllm-openai:v0.6.3 "
                                       "--model m --tensor-parallel-size 4\n"})
    assert len(list(S.parallel_size_exceeds_visible_gpus(stack))) == 1


def test_max_model_len_beyond_context(tmp_path):
    stack = _scan(tmp_path, {"serve.sh": "vllm serve Qwen/Qwen2.5-7B-Instruct --max-model-len 131072\n"})
    got = list(S.max_model_len_beyond_model_context(stack))
    assert _where(got) == [("SL203", "serve.sh", 1)] and "32768" in got[0].message
    yarn = dict(QWEN7B, rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768})
    ok = _scan(tmp_path, {"m/config.json": yarn, "serve.sh": "vllm serve ./m --max-model-len 131072\n"})
    assert not list(S.max_model_len_beyond_model_context(ok))
    env = _scan(tmp_path, {"serve.sh": "VLLM_ALLOW_LONG_MAX_MODEL_LEN=1 vllm serve Qwen/Qwen2.5-7B-Instruct "
                                       "--max-model-len 131072\n"})
    assert not list(S.max_model_len_beyond_model_context(env))


def test_quantization_flag_vs_checkpoint(tmp_path):
    stack = _scan(tmp_path, {"m/config.json": _gptq(29696), "serve.sh": "vllm serve ./m --quantization awq\n"})
    assert _where(S.quantization_flag_disagrees_with_checkpoint(stack)) == [("SL303", "serve.sh", 1)]
    for ok_flag in ("gptq", "gptq_marlin", "marlin"):
        ok = _scan(tmp_path, {"serve.sh": f"vllm serve ./m --quantization {ok_flag}\n"})
        assert not list(S.quantization_flag_disagrees_with_checkpoint(ok)), ok_flag
    plain = _scan(tmp_path, {"m/config.json": QWEN7B, "serve.sh": "vllm serve ./m --quantization awq\n"})
    assert [f.key for f in S.quantization_flag_disagrees_with_checkpoint(plain)] == ["none|awq"]
    online = _scan(tmp_path, {"serve.sh": "vllm serve ./m --quantization fp8\n"})
    assert not list(S.quantization_flag_disagrees_with_checkpoint(online))


def test_quantization_needs_newer_gpu(tmp_path):
    cfg = dict(QWEN7B, quantization_config={"bits": 4, "group_size": 128, "quant_method": "awq", "version": "gemm"})
    stack = _scan(tmp_path, {"m/config.json": cfg, "serve.sh": "vllm serve ./m\n"}, gpu="V100")
    got = list(S.quantization_unsupported_on_gpu(stack))
    assert len(got) == 1 and "V100" in got[0].message
    ok = _scan(tmp_path, {}, gpu="A100-80GB")
    assert not list(S.quantization_unsupported_on_gpu(ok))


def test_sampling_parameters(tmp_path):
    stack = _scan(tmp_path, {
        "gen.py": "from vllm import LLM, SamplingParams\nsp = SamplingParams(temperature=0.7, top_p=1.5)\n",
        "hf.py": "from transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained('x/y')\n"
                 "out = m.generate(ids, do_sample=True, temperature=0)\n",
        "m/config.json": QWEN7B, "m/generation_config.json": {"repetition_penalty": 0, "top_p": 0.8}})
    got = sorted(_where(S.sampling_parameter_out_of_range(stack)))
    assert got == [("SL204", "gen.py", 2), ("SL204", "hf.py", 3), ("SL204", "m/generation_config.json", 2)]
    ok = _scan(tmp_path, {
        "gen.py": "from vllm import SamplingParams\nsp = SamplingParams(temperature=0, top_p=1.0, top_k=-1)\n",
        "hf.py": "m.generate(ids, do_sample=False, temperature=0)\n",
        "m/generation_config.json": {"repetition_penalty": 1.05, "top_p": 0.8, "top_k": 20}})
    assert not list(S.sampling_parameter_out_of_range(ok))


def test_multi_gpu_container_without_shm(tmp_path):
    compose = "services:\n  llm:\n    image: vllm/vllm-openai:v0.6.3\n    command: --model m --tensor-parallel-size 2\n"
    stack = _scan(tmp_path, {"compose.yaml": compose})
    assert _where(S.multi_gpu_container_without_shared_memory(stack)) == [("SL505", "compose.yaml", 2)]
    ok = _scan(tmp_path, {"compose.yaml": compose + "    ipc: host\n"})
    assert not list(S.multi_gpu_container_without_shared_memory(ok))
    run = _scan(tmp_path, {"compose.yaml": "services: {}\n",
                           "run.sh": "docker run --gpus all vllm/vllm-openai:v0.6.3 --model m -tp 2\n"})
    assert len(list(S.multi_gpu_container_without_shared_memory(run))) == 1


def test_weights_exceed_gpu_memory(tmp_path):
    stack = _scan(tmp_path, {"serve.sh": "vllm serve Qwen/Qwen2.5-72B-Instruct --tensor-parallel-size 1\n"},
                  gpu="A100-80GB")
    got = list(S.served_weights_exceed_gpu_memory(stack))
    assert len(got) == 1 and "× 0.9 = 72.0 GB" in got[0].message and "145.4 GB" in got[0].message
    ok = _scan(tmp_path, {"serve.sh": "vllm serve Qwen/Qwen2.5-72B-Instruct --tensor-parallel-size 4\n"},
               gpu="A100-80GB")
    assert not list(S.served_weights_exceed_gpu_memory(ok))
    unknown = _scan(tmp_path, {"serve.sh": "vllm serve Qwen/Qwen2.5-72B-Instruct\n"})
    assert not list(S.served_weights_exceed_gpu_memory(unknown))


# -- SL306 -------------------------------------------------------------------------------------

def _qwen_gptq_dir(bits: int = 4, model_type: str = "qwen2", method: str = "gptq") -> dict:
    return dict(QWEN7B, model_type=model_type,
                quantization_config={"bits": bits, "group_size": 128, "quant_method": method, "desc_act": False,
                                     "sym": True})


def test_qwen2_gptq_on_gpu_without_marlin(tmp_path):
    files = {"m/config.json": _qwen_gptq_dir(), "requirements.txt": "vllm==0.6.3\n",
             "serve.sh": "vllm serve ./m --tensor-parallel-size 2\n"}
    got = list(S.qwen2_gptq_on_exllama_kernel(_scan(tmp_path, files, gpu="V100")))
    assert _where(got) == [("SL306", "serve.sh", 1)]
    assert "compute capability 7.0" in got[0].message and "no Marlin kernel below 8.0" in got[0].message
    assert len(list(S.qwen2_gptq_on_exllama_kernel(_scan(tmp_path, {}, gpu="T4")))) == 1
    assert not list(S.qwen2_gptq_on_exllama_kernel(_scan(tmp_path, {}, gpu="A100-80GB")))
    assert not list(S.qwen2_gptq_on_exllama_kernel(_scan(tmp_path, {})))  # GPU unknown


def test_qwen2_gptq_marlin_per_vllm_release(tmp_path):
    files = {"m/config.json": _qwen_gptq_dir(8), "serve.sh": "vllm serve ./m\n"}
    turing_marlin = _scan(tmp_path, dict(files, **{"requirements.txt": "vllm==0.14.0\n"}), gpu="T4")
    assert not list(S.qwen2_gptq_on_exllama_kernel(turing_marlin))
    volta_old = _scan(tmp_path, {"requirements.txt": "vllm==0.14.0\n"}, gpu="V100")
    assert len(list(S.qwen2_gptq_on_exllama_kernel(volta_old))) == 1
    auto_gptq = _scan(tmp_path, {"requirements.txt": "vllm==0.22.0\n"}, gpu="V100")
    assert not list(S.qwen2_gptq_on_exllama_kernel(auto_gptq))
    unpinned = _scan(tmp_path, {"requirements.txt": "vllm\n"}, gpu="T4")
    assert len(list(S.qwen2_gptq_on_exllama_kernel(unpinned))) == 1


def test_qwen2_gptq_forced_gptq_kernel_and_old_vllm(tmp_path):
    stack = _scan(tmp_path, {"serve.sh": "vllm serve Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4 --quantization gptq\n"},
                  gpu="A100-80GB")
    got = list(S.qwen2_gptq_on_exllama_kernel(stack))
    assert len(got) == 1 and "--quantization gptq" in got[0].message and got[0].key.startswith("flag|")
    marlin = _scan(tmp_path, {"serve.sh": "vllm serve Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4 --quantization gptq_marlin\n"},
                   gpu="A100-80GB")
    assert not list(S.qwen2_gptq_on_exllama_kernel(marlin))
    old = _scan(tmp_path, {"requirements.txt": "vllm==0.4.0\n",
                           "serve.sh": "python -m vllm.entrypoints.openai.api_server "
                                       "--model Qwen/Qwen1.5-32B-Chat-GPTQ-Int4\n"})
    assert [f.key for f in S.qwen2_gptq_on_exllama_kernel(old)] == ["old|0.4.0"]


def test_qwen2_gptq_other_models_not_reported(tmp_path):
    llama = _scan(tmp_path, {"m/config.json": _qwen_gptq_dir(model_type="llama"), "serve.sh": "vllm serve ./m\n"},
                  gpu="V100")
    assert not list(S.qwen2_gptq_on_exllama_kernel(llama))
    awq = _scan(tmp_path, {"m/config.json": _qwen_gptq_dir(method="awq")}, gpu="T4")
    assert not list(S.qwen2_gptq_on_exllama_kernel(awq))
    plain = _scan(tmp_path, {"m/config.json": QWEN7B}, gpu="V100")
    assert not list(S.qwen2_gptq_on_exllama_kernel(plain))
    for ref in ("Qwen/Qwen2-VL-7B-Instruct-GPTQ-Int4", "TheBloke/Llama-2-7B-Chat-GPTQ",
                "Qwen/Qwen1.5-MoE-A2.7B-Chat-GPTQ-Int4"):
        hub = _scan(tmp_path, {"m/config.json": QWEN7B, "serve.sh": f"vllm serve {ref}\n"}, gpu="V100")
        assert not list(S.qwen2_gptq_on_exllama_kernel(hub)), ref
    sglang = _scan(tmp_path, {"serve.sh": "python -m sglang.launch_server --model-path "
                                          "Qwen/Qwen2.5-7B-Instruct-GPTQ-Int4\n"}, gpu="V100")
    assert not list(S.qwen2_gptq_on_exllama_kernel(sglang))
