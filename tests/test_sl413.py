"""SL413 device-map-with-deepspeed-zero3: which loads under ZeRO-3 it reports."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Dict

from conftest import findings_of, run_scan

Z3 = json.dumps({"zero_optimization": {"stage": 3}, "train_micro_batch_size_per_gpu": "auto"})
Z2 = json.dumps({"zero_optimization": {"stage": 2}, "train_micro_batch_size_per_gpu": "auto"})
IMPORTS = "import os\nimport transformers\nfrom transformers import AutoModelForCausalLM, TrainingArguments\n"


def _scan(root: Path, files: Dict[str, str]):
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    result, _ = run_scan(root)
    return findings_of(result, "SL413")


def _train(body: str) -> str:
    return IMPORTS + "def main():\n" + "".join("    " + line + "\n" for line in body.splitlines())


ARGS = "args = TrainingArguments(output_dir='out', deepspeed='ds_z3.json')"


def test_training_arguments_then_device_map_auto(tmp_path):
    got = _scan(tmp_path, {"ds_z3.json": Z3, "train.py": _train(
        ARGS + "\nmodel = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-7B', device_map='auto')")})
    assert got == [{"code": "SL413", "path": "train.py", "line": 6, "col": 69}]


def test_dict_config_in_script_and_device_map_dict(tmp_path):
    body = ("ds = {'zero_optimization': {'stage': 3}}\n"
            "args = transformers.TrainingArguments(output_dir='out', deepspeed=ds)\n"
            "model = AutoModelForCausalLM.from_pretrained('m/x', device_map={'': 0})")
    assert len(_scan(tmp_path, {"train.py": _train(body)})) == 1


def test_conditional_whose_branches_are_both_devices(tmp_path):
    body = (ARGS + "\ndevice_map = 'auto'\nif int(os.environ.get('WORLD_SIZE', 1)) > 1:\n"
            "    device_map = {'': int(os.environ.get('LOCAL_RANK', 0))} if True else 'auto'\n"
            "model = AutoModelForCausalLM.from_pretrained('m/x', device_map=device_map)")
    assert len(_scan(tmp_path, {"ds_z3.json": Z3, "train.py": _train(body)})) == 1


def test_low_cpu_mem_usage_only_before_4_51(tmp_path):
    body = ARGS + "\nmodel = AutoModelForCausalLM.from_pretrained('m/x', low_cpu_mem_usage=True)"
    old = _scan(tmp_path / "old", {"ds_z3.json": Z3, "requirements.txt": "transformers==4.40.0\n",
                                   "train.py": _train(body)})
    assert len(old) == 1
    assert _scan(tmp_path / "new", {"ds_z3.json": Z3, "requirements.txt": "transformers==4.51.0\n",
                                    "train.py": _train(body)}) == []
    assert _scan(tmp_path / "unpinned", {"ds_z3.json": Z3, "train.py": _train(body)}) == []


def test_launched_with_deepspeed_flag_from_the_repository_root(tmp_path):
    script = _train("parser = transformers.HfArgumentParser((TrainingArguments,))\n"
                    "(training_args,) = parser.parse_args_into_dataclasses()\n"
                    "model = AutoModelForCausalLM.from_pretrained('m/x', device_map='auto')")
    sh = ("torchrun --nproc_per_node 4 train.py --model_name_or_path m/x --output_dir out "
          "--deepspeed scripts/ds_z3.json\n")
    got = _scan(tmp_path, {"train.py": script, "scripts/run.sh": sh, "scripts/ds_z3.json": Z3})
    assert [f["line"] for f in got] == [7]


def test_valid_neighbours(tmp_path):
    load = "model = AutoModelForCausalLM.from_pretrained('m/x', device_map='auto')"
    cases = {
        "zero2": ({"ds_z3.json": Z2}, ARGS + "\n" + load),
        "loaded-before-the-arguments": ({"ds_z3.json": Z3}, load + "\n" + ARGS),
        "none-under-zero3": ({"ds_z3.json": Z3}, ARGS + "\nfrom transformers.integrations import is_deepspeed_zero3_enabled\n"
                             "model = AutoModelForCausalLM.from_pretrained('m/x', device_map=None if "
                             "is_deepspeed_zero3_enabled() else 'auto')"),
        "branch-on-deepspeed": ({"ds_z3.json": Z3}, ARGS + "\nif not args.deepspeed:\n    " + load),
        "try-except-valueerror": ({"ds_z3.json": Z3}, ARGS + "\ntry:\n    " + load + "\nexcept ValueError:\n    pass"),
        "config-not-in-tree": ({}, ARGS + "\n" + load),
        "runtime-device-map": ({"ds_z3.json": Z3}, ARGS + "\ndevice_map = os.environ.get('DM')\n"
                               "model = AutoModelForCausalLM.from_pretrained('m/x', device_map=device_map)"),
        "tokenizer": ({"ds_z3.json": Z3}, ARGS + "\ntok = transformers.AutoTokenizer.from_pretrained('m/x', device_map='auto')"),
        "low-cpu-false": ({"ds_z3.json": Z3, "requirements.txt": "transformers==4.40.0\n"},
                          ARGS + "\nmodel = AutoModelForCausalLM.from_pretrained('m/x', low_cpu_mem_usage=False)"),
    }
    for name, (files, body) in cases.items():
        assert _scan(tmp_path / name, dict(files, **{"train.py": _train(body)})) == [], name


def test_not_judged_across_functions_or_without_an_argument_parser(tmp_path):
    other_fn = (IMPORTS + "def load(path):\n    return AutoModelForCausalLM.from_pretrained(path, device_map='auto')\n"
                "def main():\n    " + ARGS + "\n    model = load('m/x')\n")
    assert _scan(tmp_path / "fn", {"ds_z3.json": Z3, "train.py": other_fn}) == []
    param = IMPORTS + "def main(device_map):\n    " + ARGS + (
        "\n    model = AutoModelForCausalLM.from_pretrained('m/x', device_map=device_map)\n")
    assert _scan(tmp_path / "param", {"ds_z3.json": Z3, "train.py": param}) == []
    # a script with its own argparse and deepspeed.initialize: transformers never sees the config
    own = ("import argparse\nimport deepspeed\nfrom transformers import AutoModelForCausalLM\n"
           "p = argparse.ArgumentParser()\np.add_argument('--deepspeed')\nargs = p.parse_args()\n"
           "model = AutoModelForCausalLM.from_pretrained('m/x', device_map='auto')\n")
    sh = "deepspeed train.py --model_name_or_path m/x --output_dir out --deepspeed ds_z3.json\n"
    assert _scan(tmp_path / "own", {"ds_z3.json": Z3, "train.py": own, "run.sh": sh}) == []


ACC_Z3 = ("compute_environment: LOCAL_MACHINE\ndeepspeed_config:\n  offload_param_device: cpu\n"
          "  zero3_init_flag: true\n  zero_stage: 3\ndistributed_type: DEEPSPEED\nnum_processes: 4\n")
ACC_SCRIPT = ("from accelerate import Accelerator\nfrom transformers import AutoModelForCausalLM\n"
              "accelerator = Accelerator()\n"
              "model = AutoModelForCausalLM.from_pretrained('google/flan-t5-xxl', device_map={'': 0})\n")
ACC_RUN = "accelerate launch --config_file configs/z3.yaml train.py\n"


def test_accelerate_deepspeed_config_with_zero3_init(tmp_path):
    got = _scan(tmp_path, {"configs/z3.yaml": ACC_Z3, "train.py": ACC_SCRIPT, "run.sh": ACC_RUN})
    assert [(f["path"], f["line"]) for f in got] == [("train.py", 4)]
    # the Trainer route: TrainingArguments picks the plugin up from transformers 4.34 on
    trainer = _train("args = TrainingArguments(output_dir='out')\n"
                     "model = AutoModelForCausalLM.from_pretrained('m/x', device_map='auto')")
    assert len(_scan(tmp_path / "trainer", {"configs/z3.yaml": ACC_Z3, "train.py": trainer, "run.sh": ACC_RUN})) == 1
    assert _scan(tmp_path / "old", {"configs/z3.yaml": ACC_Z3, "train.py": trainer, "run.sh": ACC_RUN,
                                    "requirements.txt": "transformers==4.31.0\n"}) == []


def test_accelerate_configs_that_do_not_switch_zero3_on(tmp_path):
    no_init = ACC_Z3.replace("zero3_init_flag: true", "zero3_init_flag: false")
    zero2 = ACC_Z3.replace("zero_stage: 3", "zero_stage: 2")
    ddp = "compute_environment: LOCAL_MACHINE\ndistributed_type: MULTI_GPU\nnum_processes: 4\n"
    for name, cfg in (("no-init", no_init), ("zero2", zero2), ("ddp", ddp)):
        assert _scan(tmp_path / name, {"configs/z3.yaml": cfg, "train.py": ACC_SCRIPT, "run.sh": ACC_RUN}) == [], name
    # the load comes before the Accelerator
    early = ACC_SCRIPT.replace("accelerator = Accelerator()\n", "") + "accelerator = Accelerator()\n"
    assert _scan(tmp_path / "early", {"configs/z3.yaml": ACC_Z3, "train.py": early, "run.sh": ACC_RUN}) == []


def test_loads_and_arguments_inside_a_branch_are_not_judged(tmp_path):
    load = "model = AutoModelForCausalLM.from_pretrained('m/x', device_map='auto')"
    qlora = _train(ARGS + "\nif args.bits == 4:\n    " + load)
    assert _scan(tmp_path / "qlora", {"ds_z3.json": Z3, "train.py": qlora}) == []
    maybe = _train("if os.environ.get('USE_DS'):\n    " + ARGS + "\n" + load)
    assert _scan(tmp_path / "maybe", {"ds_z3.json": Z3, "train.py": maybe}) == []
    main = (IMPORTS + "if __name__ == '__main__':\n    " + ARGS + "\n    " + load + "\n")
    assert len(_scan(tmp_path / "main", {"ds_z3.json": Z3, "train.py": main})) == 1
