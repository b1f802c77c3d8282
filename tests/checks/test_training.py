"""Training-job rules: in-memory stacks and small trees (SL201/SL202/SL501 run unregistered)."""
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


# -- SL205 more-processes-than-visible-gpus -----------------------------------------------------

def _sl205(tmp_path: Path, name: str, files: dict, gpu_count=None):
    if gpu_count is not None:
        files = dict(files, **{"stacklint.toml": f"[target]\ngpu-count = {gpu_count}\n"})
    return [(f.location.path, f.location.line, f.location.col)
            for f in T.more_processes_than_visible_gpus(_scan(tmp_path / name, files))]


def test_sl205_visible_devices_on_the_command(tmp_path):
    assert _sl205(tmp_path, "a", {"run.sh": "CUDA_VISIBLE_DEVICES=0 torchrun --nproc_per_node=2 train.py\n"}) == \
        [("run.sh", 1, 33)]
    assert not _sl205(tmp_path, "b", {"run.sh": "CUDA_VISIBLE_DEVICES=0,1 torchrun --nproc_per_node=2 train.py\n"})
    # an empty list hides every GPU: a CPU run, not judged
    assert not _sl205(tmp_path, "c", {"run.sh": "CUDA_VISIBLE_DEVICES= torchrun --nproc_per_node=2 train.py\n"})
    # the old launcher spelling
    assert _sl205(tmp_path, "d", {"run.sh": "CUDA_VISIBLE_DEVICES=0,1 python -m torch.distributed.launch "
                                            "--nproc_per_node 4 train.py\n"}) == [("run.sh", 1, 61)]


def test_sl205_exported_visible_devices(tmp_path):
    body = "torchrun --nproc_per_node 4 train.py --bf16 True\n"
    assert _sl205(tmp_path, "a", {"run.sh": "export CUDA_VISIBLE_DEVICES=0,1\n" + body}) == [("run.sh", 2, 10)]
    # exported after the launch, assigned per branch, or computed: not judged
    assert not _sl205(tmp_path, "b", {"run.sh": body + "export CUDA_VISIBLE_DEVICES=0,1\n"})
    assert not _sl205(tmp_path, "c", {"run.sh": "if [ -n \"$A\" ]; then\nexport CUDA_VISIBLE_DEVICES=0,1\nelse\n"
                                                "export CUDA_VISIBLE_DEVICES=0,1,2,3\nfi\n" + body})
    assert not _sl205(tmp_path, "d", {"run.sh": "export CUDA_VISIBLE_DEVICES=0,1\n"
                                                "CUDA_VISIBLE_DEVICES=$GPUS\n" + body})
    # a plain assignment is not exported to torchrun
    assert not _sl205(tmp_path, "e", {"run.sh": "CUDA_VISIBLE_DEVICES=0,1\n" + body})


def test_sl205_configured_gpu_count_and_placeholders(tmp_path):
    assert _sl205(tmp_path, "a", {"run.sh": "torchrun --nproc_per_node 8 train.py\n"}, gpu_count=4) == \
        [("run.sh", 1, 10)]
    assert not _sl205(tmp_path, "b", {"run.sh": "torchrun --nproc_per_node 8 train.py\n"}, gpu_count=8)
    assert not _sl205(tmp_path, "c", {"run.sh": "torchrun --nproc_per_node 8 train.py\n"})  # GPU count unknown
    for nproc in ("$NGPU", "${GPUS:-8}", "gpu", "auto"):
        assert not _sl205(tmp_path, "d" + str(len(nproc)), {"run.sh": f"torchrun --nproc_per_node {nproc} train.py\n"},
                          gpu_count=1)
    # a flag of the script, not of the launcher
    assert not _sl205(tmp_path, "e", {"run.sh": "torchrun train.py --nproc_per_node 8\n"}, gpu_count=1)


def test_sl205_multi_node_and_cpu_runs_are_skipped(tmp_path):
    for i, line in enumerate((
            "torchrun --nnodes 2 --nproc_per_node 8 train.py",
            "torchrun --nnodes=$NNODES --node_rank=$RANK --nproc_per_node 8 train.py",
            "torchrun --rdzv_endpoint=$HEAD:29500 --nproc_per_node 8 train.py",
            "torchrun --master_addr 10.0.0.1 --nproc_per_node 8 train.py",
            "torchrun --nproc_per_node 8 train.py --backend gloo",
            "torchrun --nproc_per_node 8 train.py --device cpu",
            "accelerate launch --num_processes 8 --num_machines 2 train.py",
            "accelerate launch --config_file fsdp.yaml --num_processes 8 train.py",
            "accelerate launch --cpu --num_processes 8 train.py",
            "deepspeed --hostfile hosts --num_gpus 8 train.py",
            "deepspeed --num_nodes 2 --num_gpus 8 train.py")):
        assert not _sl205(tmp_path, f"m{i}", {"run.sh": line + "\n"}, gpu_count=4), line
    assert _sl205(tmp_path, "single", {"run.sh": "torchrun --standalone --nnodes 1 --nproc_per_node 8 train.py\n"},
                  gpu_count=4) == [("run.sh", 1, 34)]
    assert not _sl205(tmp_path, "slurm", {"run.sh": "#SBATCH --nodes=2\ntorchrun --nproc_per_node 8 train.py\n"},
                      gpu_count=4)


def test_sl205_deepspeed_and_accelerate(tmp_path):
    assert _sl205(tmp_path, "a", {"run.sh": "deepspeed --num_gpus 8 train.py --deepspeed ds.json\n"}, gpu_count=4) == \
        [("run.sh", 1, 11)]
    # DeepSpeed's launcher ignores CUDA_VISIBLE_DEVICES once --num_gpus is given
    assert not _sl205(tmp_path, "b", {"run.sh": "CUDA_VISIBLE_DEVICES=0 deepspeed --num_gpus 2 train.py\n"})
    assert _sl205(tmp_path, "c", {"run.sh": "CUDA_VISIBLE_DEVICES=0,1 accelerate launch --multi_gpu "
                                            "--num_processes 4 train.py\n"}) == [("run.sh", 1, 56)]


def test_sl205_container_gpus(tmp_path):
    assert _sl205(tmp_path, "a", {"run.sh": "docker run --gpus 2 pytorch/pytorch torchrun --nproc_per_node 4 train.py\n"}) \
        == [("run.sh", 1, 46)]
    assert not _sl205(tmp_path, "b", {"run.sh": "docker run --gpus all pytorch/pytorch torchrun --nproc_per_node 4 x.py\n"})
    pod = ("apiVersion: v1\nkind: Pod\nmetadata: {name: t}\nspec:\n  containers:\n  - name: t\n    image: pytorch/pytorch\n"
           "    command: [torchrun, --nproc_per_node, '4', train.py]\n"
           "    resources:\n      limits:\n        nvidia.com/gpu: 2\n")
    assert _sl205(tmp_path, "c", {"pod.yaml": pod}) == [("pod.yaml", 8, 25)]
    job = pod.replace("apiVersion: v1\nkind: Pod", "apiVersion: kubeflow.org/v1\nkind: PyTorchJob")
    assert not _sl205(tmp_path, "d", {"pod.yaml": job})


def test_sl205_meta_checkpoint_needs_more_gpus(tmp_path):
    files = {"run.sh": "torchrun --nproc_per_node 8 example_chat_completion.py --ckpt_dir llama-2-70b-chat/ "
                       "--tokenizer_path tokenizer.model\n",
             "stacklint.toml": "[target]\ngpu-count = 4\n"}
    got = list(T.more_processes_than_visible_gpus(_scan(tmp_path / "a", files)))
    assert len(got) == 1 and "needs 8 GPUs" in got[0].message and "Hugging Face" in got[0].message
    # with --nproc_per_node 4 the checkpoint's MP no longer matches: SL502 says that 8 GPUs are needed
    files["run.sh"] = files["run.sh"].replace("--nproc_per_node 8", "--nproc_per_node 4")
    stack = _scan(tmp_path / "b", files)
    assert not list(T.more_processes_than_visible_gpus(stack))
    mp = list(T.nproc_per_node_differs_from_checkpoint_mp(stack))
    assert len(mp) == 1 and "needs 8 GPUs but only 4 are visible" in mp[0].message
    # the original LLaMA download layout (models/13B) with Meta's example.py
    got = list(T.more_processes_than_visible_gpus(_scan(tmp_path / "c", {
        "run.sh": "torchrun --nproc_per_node 2 example.py --ckpt_dir models/13B --tokenizer_path models/tokenizer.model\n",
        "stacklint.toml": "[target]\ngpu-count = 1\n"})))
    assert len(got) == 1 and "needs 2 GPUs" in got[0].message


def test_sl205_compose_service(tmp_path):
    compose = ("services:\n  train:\n    image: pytorch/pytorch\n"
               "    command: torchrun --nproc_per_node 4 train.py\n"
               "    deploy:\n      resources:\n        reservations:\n          devices:\n"
               "          - driver: nvidia\n            count: 2\n            capabilities: [gpu]\n")
    # (the column of a flag inside a compose string is the engine's business; the line is what matters here)
    assert [f[:2] for f in _sl205(tmp_path, "a", {"compose.yaml": compose})] == [("compose.yaml", 4)]
    assert not _sl205(tmp_path, "b", {"compose.yaml": compose.replace("count: 2", "count: all")})
    assert not _sl205(tmp_path, "c", {"compose.yaml": compose.replace("count: 2", "count: 4")})


def test_sl205_commented_export_is_ignored(tmp_path):
    files = {"run.sh": "# export CUDA_VISIBLE_DEVICES=0,1,2,3\nexport CUDA_VISIBLE_DEVICES=0,1\n"
                       "torchrun --nproc_per_node 4 train.py\n"}
    assert _sl205(tmp_path, "a", files) == [("run.sh", 3, 10)]
