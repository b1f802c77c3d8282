"""Training-job rules: in-memory stacks and small trees (SL201/SL202/SL301/SL501 run unregistered)."""
from __future__ import annotations

from pathlib import Path

from conftest import run_scan
from stacklint.checks import training as T


def _scan(tmp_path: Path, files: dict, gpu=None):
    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return run_scan(tmp_path, gpu=gpu)[1]


def test_lora_target_names_forms():
    assert T.lora_target_names("q_proj,v_proj") == ["q_proj", "v_proj"]
    assert T.lora_target_names(["self_attn.q_proj"]) == ["q_proj"]
    assert T.lora_target_names("all") is None
    assert T.lora_target_names(["all-linear"]) is None
    assert T.lora_target_names(r"model.layers.[\d]+.(mlp|self_attn).q_proj") is None
    assert T.lora_target_names("${TARGETS}") is None


def test_lora_targets_of_qwen1_on_qwen2(tmp_path):
    stack = _scan(tmp_path, {
        "m/config.json": '{"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}',
        "train.yaml": "model_name_or_path: ./m\nstage: sft\nfinetuning_type: lora\nlora_target: c_attn\n"})
    got = list(T.lora_target_modules_not_in_model(stack))
    assert [(f.location.path, f.location.line) for f in got] == [("train.yaml", 4)]
    ok = _scan(tmp_path, {"train.yaml": "model_name_or_path: ./m\nstage: sft\nfinetuning_type: lora\nlora_target: all\n"})
    assert not list(T.lora_target_modules_not_in_model(ok))


def test_lora_targets_in_python_script(tmp_path):
    stack = _scan(tmp_path, {
        "m/config.json": '{"model_type": "chatglm"}',
        "ft.py": "from transformers import AutoModel\nfrom peft import LoraConfig\n"
                 "model = AutoModel.from_pretrained('./m', trust_remote_code=True)\n"
                 "cfg = LoraConfig(r=8, target_modules=['q_proj', 'v_proj'])\n"})
    got = list(T.lora_target_modules_not_in_model(stack))
    assert [(f.location.path, f.location.line) for f in got] == [("ft.py", 4)]


def test_fp16_and_bf16(tmp_path):
    stack = _scan(tmp_path, {"a.yaml": "base_model: x/y\ndatasets: []\nbf16: true\nfp16: true\n",
                             "ds.json": '{"fp16": {"enabled": "auto"}, "bf16": {"enabled": "auto"}, "zero_optimization": {}}'})
    got = list(T.fp16_and_bf16_both_enabled(stack))
    assert [f.location.path for f in got] == ["a.yaml"]


def test_bf16_on_t4(tmp_path):
    files = {"a.yaml": "base_model: x/y\ndatasets: []\nbf16: true\nflash_attention: true\n"}
    assert len(list(T.bf16_or_flash_attention_on_gpu_without_it(_scan(tmp_path, files, gpu="T4")))) == 2
    assert not list(T.bf16_or_flash_attention_on_gpu_without_it(_scan(tmp_path, files, gpu="A100")))
    assert not list(T.bf16_or_flash_attention_on_gpu_without_it(_scan(tmp_path, files)))


def test_deepspeed_batch(tmp_path):
    bad = _scan(tmp_path, {"ds.json": '{"train_batch_size": 30, "train_micro_batch_size_per_gpu": 4, '
                                      '"gradient_accumulation_steps": 4, "zero_optimization": {"stage": 2}}'})
    assert len(list(T.deepspeed_batch_size_arithmetic(bad))) == 1
    ok = _scan(tmp_path, {"ds.json": '{"train_batch_size": "auto", "train_micro_batch_size_per_gpu": 4, '
                                     '"gradient_accumulation_steps": 4, "zero_optimization": {"stage": 2}}'})
    assert not list(T.deepspeed_batch_size_arithmetic(ok))


def test_mp_from_name_and_hf_conversion(tmp_path):
    stack = _scan(tmp_path, {"run.sh": "torchrun --nproc_per_node 8 example_text_completion.py --ckpt_dir llama-2-70b/\n"
                                       "torchrun --nproc_per_node 1 example_text_completion.py --ckpt_dir llama-2-70b/\n"
                                       "torchrun --nproc_per_node 1 ft.py --ckpt_dir Llama-2-70b-hf\n"})
    got = list(T.nproc_per_node_differs_from_checkpoint_mp(stack))
    assert [f.location.line for f in got] == [2]


def test_hf_script_arguments_resolve_shell_variables(tmp_path):
    stack = _scan(tmp_path, {"finetune.sh": 'MODEL="Qwen/Qwen2-7B-Instruct"\n'
                                            "torchrun --nproc_per_node 2 finetune.py --model_name_or_path $MODEL "
                                            "--output_dir out --fp16 True\n"
                                            "python train.py --model_name_or_path ${MODEL} --bf16 True --output_dir o\n"})
    jobs = [j for j in stack.training_jobs() if j.model is not None]
    assert sorted((j.framework, j.model.ref) for j in jobs) == [("hf-script", "Qwen/Qwen2-7B-Instruct"),
                                                                ("torchrun", "Qwen/Qwen2-7B-Instruct")]


def test_fp16_on_qwen2_only(tmp_path):
    bad = _scan(tmp_path, {"t.yaml": "model_name_or_path: Qwen/Qwen2.5-7B-Instruct\nstage: sft\nfp16: true\n"})
    assert [f.location.line for f in T.fp16_training_of_bf16_model(bad)] == [3]
    both = _scan(tmp_path, {"t.yaml": "model_name_or_path: Qwen/Qwen2.5-7B-Instruct\nstage: sft\nfp16: true\nbf16: true\n"})
    assert not list(T.fp16_training_of_bf16_model(both))
    llama = _scan(tmp_path, {"t.yaml": "model_name_or_path: meta-llama/Llama-2-7b-hf\nstage: sft\nfp16: true\n"})
    assert not list(T.fp16_training_of_bf16_model(llama))


def test_quantized_checkpoint_names(tmp_path):
    stack = _scan(tmp_path, {"m/config.json": '{"model_type": "qwen2", "quantization_config": {"quant_method": "awq"}}',
                             "n/config.json": '{"model_type": "qwen2"}'})
    assert T.quantized_checkpoint(stack, "Qwen/Qwen-7B-Chat-Int4", ".").startswith("GPTQ")
    assert T.quantized_checkpoint(stack, "TheBloke/Llama-2-7B-GPTQ", ".").startswith("GPTQ")
    assert T.quantized_checkpoint(stack, "./m", ".").startswith("AWQ")
    assert T.quantized_checkpoint(stack, "./n", ".") is None
    assert T.quantized_checkpoint(stack, "Qwen/Qwen2.5-7B-Instruct", ".") is None


def test_merge_through_peft_model_on_gptq_base(tmp_path):
    stack = _scan(tmp_path, {"merge.py": "from transformers import AutoModelForCausalLM\nfrom peft import PeftModel\n"
                                         "base = AutoModelForCausalLM.from_pretrained('Qwen/Qwen-7B-Chat-Int4')\n"
                                         "model = PeftModel.from_pretrained(base, 'out')\n"
                                         "model = model.merge_and_unload()\n"})
    assert [f.location.line for f in T.lora_merge_into_quantized_base(stack)] == [5]
    ok = _scan(tmp_path, {"merge.py": "from transformers import AutoModelForCausalLM\nfrom peft import PeftModel\n"
                                      "base = AutoModelForCausalLM.from_pretrained('Qwen/Qwen-7B-Chat')\n"
                                      "model = PeftModel.from_pretrained(base, 'out')\n"
                                      "model = model.merge_and_unload()\n"})
    assert not list(T.lora_merge_into_quantized_base(ok))


def test_llamafactory_export_with_quantization_bit(tmp_path):
    stack = _scan(tmp_path, {"e.yaml": "model_name_or_path: Qwen/Qwen2.5-7B-Instruct\nadapter_name_or_path: saves/x\n"
                                       "template: qwen\nfinetuning_type: lora\nquantization_bit: 4\nexport_dir: out\n"})
    assert [f.location.line for f in T.lora_merge_into_quantized_base(stack)] == [5]


def test_base_weights_need_gpu_and_replication(tmp_path):
    files = {"run.sh": "torchrun --nproc_per_node 8 finetune.py --model_name_or_path Qwen/Qwen-72B-Chat-Int4 "
                       "--output_dir o --use_lora --q_lora\n"}
    assert len(list(T.base_weights_exceed_gpu_memory(_scan(tmp_path, files, gpu="V100-32GB")))) == 1
    assert not list(T.base_weights_exceed_gpu_memory(_scan(tmp_path, files, gpu="A100-80GB")))
    assert not list(T.base_weights_exceed_gpu_memory(_scan(tmp_path, files)))
    zero3 = {"ds.json": '{"zero_optimization": {"stage": 3}, "train_micro_batch_size_per_gpu": 1}',
             "run.sh": "torchrun --nproc_per_node 8 finetune.py --model_name_or_path Qwen/Qwen-72B-Chat-Int4 "
                       "--output_dir o --deepspeed ds.json\n"}
    assert not list(T.base_weights_exceed_gpu_memory(_scan(tmp_path, zero3, gpu="V100-32GB")))


def test_zero_model_states(tmp_path):
    ds = '{"zero_optimization": {"stage": 3}, "train_micro_batch_size_per_gpu": 1}'
    files = {"ds.json": ds, "run.sh": "deepspeed --num_gpus 8 train.py --model_name_or_path "
                                      "deepseek-ai/deepseek-coder-33b-instruct --output_dir o --deepspeed ds.json\n"}
    got = list(T.zero_model_states_exceed_gpu_memory(_scan(tmp_path, files, gpu="A100-80GB")))
    assert [f.location.path for f in got] == ["ds.json"]
    lora = dict(files, **{"run.sh": files["run.sh"].replace("--output_dir o", "--output_dir o --use_lora True")})
    assert not list(T.zero_model_states_exceed_gpu_memory(_scan(tmp_path, lora, gpu="A100-80GB")))
    sixteen = dict(files, **{"run.sh": files["run.sh"].replace("--num_gpus 8", "--num_gpus 16")})
    assert not list(T.zero_model_states_exceed_gpu_memory(_scan(tmp_path, sixteen, gpu="A100-80GB")))
