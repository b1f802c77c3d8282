"""Training and serving jobs, model references and target hardware, from every format."""
from __future__ import annotations

import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

from stacklint import cmdline
from stacklint import discover as K
from stacklint.discover import dirname
from stacklint.findings import Location
from stacklint.model import Job, ModelRef, Setting, Stack
from stacklint.parsers import dockerfile
from stacklint.parsers.base import Doc
from stacklint.parsers.python import Unknown
from stacklint.parsers.shell import Command, Token, split_commands, tokenize

# Canonical setting names -> keys as each training framework spells them.
TRAINING_KEYS: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "axolotl": {
        "base_model": ("base_model",), "tokenizer": ("tokenizer_config", "base_model_config"),
        "adapter": ("adapter",), "lora_targets": ("lora_target_modules",), "lora_r": ("lora_r",),
        "lora_alpha": ("lora_alpha",), "lora_dropout": ("lora_dropout",),
        "lora_target_linear": ("lora_target_linear",), "modules_to_save": ("lora_modules_to_save",),
        "load_in_4bit": ("load_in_4bit",), "load_in_8bit": ("load_in_8bit",),
        "bf16": ("bf16",), "fp16": ("fp16",), "tf32": ("tf32",), "seq_len": ("sequence_len",),
        "flash_attention": ("flash_attention",), "deepspeed": ("deepspeed",),
        "chat_template": ("chat_template",), "micro_batch_size": ("micro_batch_size",),
        "grad_accum": ("gradient_accumulation_steps",), "special_tokens": ("special_tokens",),
        "tokens": ("tokens",), "trust_remote_code": ("trust_remote_code",),
    },
    "llamafactory": {
        "base_model": ("model_name_or_path",), "adapter_path": ("adapter_name_or_path",),
        "adapter": ("finetuning_type",), "lora_targets": ("lora_target",), "lora_r": ("lora_rank",),
        "lora_alpha": ("lora_alpha",), "lora_dropout": ("lora_dropout",),
        "modules_to_save": ("additional_target",), "quantization_bit": ("quantization_bit",),
        "quantization_method": ("quantization_method",),
        "bf16": ("bf16",), "fp16": ("fp16",), "pure_bf16": ("pure_bf16",), "seq_len": ("cutoff_len",),
        "flash_attention": ("flash_attn",), "deepspeed": ("deepspeed",), "template": ("template",),
        "micro_batch_size": ("per_device_train_batch_size",), "grad_accum": ("gradient_accumulation_steps",),
        "stage": ("stage",), "new_special_tokens": ("new_special_tokens",), "resize_vocab": ("resize_vocab",),
        "trust_remote_code": ("trust_remote_code",),
    },
    "torchtune": {
        "model_component": ("model", "_component_"), "lora_targets": ("model", "lora_attn_modules"),
        "lora_r": ("model", "lora_rank"), "lora_alpha": ("model", "lora_alpha"),
        "lora_dropout": ("model", "lora_dropout"), "dtype": ("dtype",),
        "checkpoint_dir": ("checkpointer", "checkpoint_dir"), "tokenizer_path": ("tokenizer", "path"),
        "seq_len": ("tokenizer", "max_seq_len"), "micro_batch_size": ("batch_size",),
        "grad_accum": ("gradient_accumulation_steps",),
    },
}


def detect_training(data: Dict[str, Any]) -> Optional[str]:
    keys = set(data)
    if "model_name_or_path" in keys and keys & {"stage", "finetuning_type", "template", "cutoff_len", "dataset"}:
        return "llamafactory"
    if "base_model" in keys and keys & {"datasets", "adapter", "sequence_len", "micro_batch_size", "lora_r",
                                        "num_epochs", "output_dir", "load_in_4bit"}:
        return "axolotl"
    model = data.get("model")
    if isinstance(model, dict) and isinstance(model.get("_component_"), str) and "torchtune" in model["_component_"]:
        return "torchtune"
    return None


def detect_other(doc: Doc, path: str) -> Optional[str]:
    data = doc.data
    if not isinstance(data, dict):
        return None
    keys = set(data)
    if path.endswith(".json") and keys & {"zero_optimization", "train_micro_batch_size_per_gpu", "train_batch_size",
                                          "gradient_accumulation_steps"} and (
            "zero_optimization" in keys or "fp16" in keys or "bf16" in keys or "train_micro_batch_size_per_gpu" in keys):
        return "deepspeed"
    if keys & {"compute_environment", "distributed_type"} and ("mixed_precision" in keys or "num_processes" in keys):
        return "accelerate"
    if "apiVersion" in keys and "kind" in keys:
        return "k8s"
    if isinstance(data.get("services"), dict):
        return "compose"
    if "resources" in keys and isinstance(data.get("resources"), dict) and ("run" in keys or "setup" in keys):
        return "skypilot"
    if "model" in keys and keys & _VLLM_CONFIG_KEYS:
        return "vllm-config"
    return None


_VLLM_CONFIG_KEYS = {"tensor-parallel-size", "tensor_parallel_size", "max-model-len", "max_model_len",
                     "gpu-memory-utilization", "gpu_memory_utilization", "served-model-name", "quantization",
                     "pipeline-parallel-size", "dtype", "max-num-seqs", "port"}


def build_jobs(stack: Stack, dockers: List[dockerfile.DockerDoc]) -> None:
    for path in sorted(stack.docs):
        kind = stack.kinds.get(path)
        if kind not in (K.YAML, K.JSON, K.COMPOSE):
            continue
        for doc in stack.docs[path]:
            _doc_jobs(stack, doc, path)
    for d in dockers:
        _docker_jobs(stack, d)
    for path, cmd in stack.commands:
        job = command_job(stack, cmd, path, "shell")
        if job is None:
            job = docker_run_job(stack, cmd, path)
        if job is not None:
            stack.jobs.append(job)
    for script in stack.scripts:
        _python_jobs(stack, script)
    _hf_script_args(stack)
    _link_models(stack)


def _doc_jobs(stack: Stack, doc: Doc, path: str) -> None:
    data = doc.data
    if not isinstance(data, dict):
        return
    fw = detect_training(data)
    if fw is not None:
        job = Job("training", fw, doc.loc(), doc=doc, context="config")
        for canon, keys in TRAINING_KEYS[fw].items():
            val = doc.get(*keys, default=_MISSING)
            if val is not _MISSING:
                job.settings[canon] = Setting(val, doc.loc(*keys), ".".join(keys))
        base = job.get("base_model")
        if fw == "torchtune":
            base = job.get("checkpoint_dir")
        if base is not None and isinstance(base.value, str):
            job.model = ModelRef(base.value, base.location, "base")
        stack.jobs.append(job)
        return
    other = detect_other(doc, path)
    if other in ("deepspeed", "accelerate"):
        job = Job("training", other, doc.loc(), doc=doc, context="config")
        for k, v in data.items():
            job.settings[str(k)] = Setting(v, doc.loc(k), str(k))
        stack.jobs.append(job)
    elif other == "vllm-config":
        job = Job("serving", "vllm", doc.loc(), doc=doc, context="config")
        for k, v in data.items():
            job.settings[str(k).replace("-", "_")] = Setting(v, doc.loc(k), str(k))
        m = job.get("model")
        if m is not None and isinstance(m.value, str):
            job.model = ModelRef(m.value, m.location, "model")
        stack.jobs.append(job)
    elif other == "compose":
        _compose_jobs(stack, doc)
    elif other == "k8s":
        _k8s_jobs(stack, doc)
    elif other == "skypilot":
        acc = doc.get("resources", "accelerators")
        if isinstance(acc, (str, dict, list)):
            stack.gpus.append(Setting(acc, doc.loc("resources", "accelerators"), "skypilot"))
        run = doc.get("run")
        if isinstance(run, str):
            _inline_script(stack, run, doc.loc("run"), path, "skypilot", None)


_MISSING = object()

# Images whose entrypoint already is the server: their `command`/`args` are flags only.
_IMAGE_ENGINES = (
    (re.compile(r"(?:^|/)vllm-openai(?::|$)|(?:^|/)vllm/vllm-openai"), "vllm"),
    (re.compile(r"text-generation-inference"), "tgi"),
)


def _image_engine(image: str) -> Optional[str]:
    for rx, engine in _IMAGE_ENGINES:
        if rx.search(image or ""):
            return engine
    return None


def command_job(stack: Stack, cmd: Command, path: str, context: str, image: str = "",
                gpus: Optional[Setting] = None, env: Optional[Dict[str, str]] = None) -> Optional[Job]:
    words = cmd.words
    hit = cmdline.engine_of(words)
    start = 0
    if hit is None:
        engine = _image_engine(image)
        if engine is None or (words and not words[0].startswith("-")):
            return None
        hit = (engine, 0)
    engine, start = hit
    flags, positional = cmdline.parse_flags(cmd.argv[start:], engine, path)
    loc = Location(path, cmd.line, cmd.col)
    kind = "serving" if engine in ("vllm", "sglang", "tgi") else "training"
    job = Job(kind, engine, loc, settings=flags, command=cmd, context=context, gpus=gpus)
    if image:
        job.extra["image"] = image
    job.env = dict(env or {})
    job.env.update(cmd.env)
    model: Optional[Setting] = None
    if engine == "vllm":
        model = positional[0] if positional else flags.get("model")
    elif engine == "sglang":
        model = flags.get("model_path")
    elif engine == "tgi":
        model = flags.get("model_id")
    elif engine in ("llamafactory", "axolotl", "torchtune") and positional:
        job.extra["config"] = positional[0]
    if model is not None and isinstance(model.value, str):
        job.model = ModelRef(model.value, model.location, "model")
    return job


# `docker run [options] IMAGE [ARG...]`: the options that take a value (others are switches).
_DOCKER_VALUE_OPTS = {"-e", "--env", "-v", "--volume", "-p", "--publish", "--name", "--gpus", "--shm-size", "--ipc",
                      "--network", "--net", "--entrypoint", "-w", "--workdir", "--runtime", "-u", "--user", "--device",
                      "--mount", "--env-file", "--restart", "-l", "--label", "--cpus", "--memory", "-m", "--ulimit",
                      "--cap-add", "--cap-drop", "--security-opt", "--add-host", "-h", "--hostname", "--platform",
                      "--pull", "--log-driver", "--log-opt", "--cpuset-cpus", "--group-add", "--pid", "--tmpfs",
                      "--memory-swap", "--stop-signal", "--health-cmd", "--dns", "--expose", "--cidfile"}


def docker_run_job(stack: Stack, cmd: Command, path: str) -> Optional[Job]:
    """A serving job started by ``docker run ... IMAGE ARGS`` (vLLM / TGI / SGLang images or commands).
    ``extra["docker_opts"]`` keeps the run options (ipc, shm_size, gpus); ``gpus`` the --gpus count."""
    words = cmd.words
    if len(words) < 3 or words[0].rsplit("/", 1)[-1] not in ("docker", "podman", "nvidia-docker") or words[1] != "run":
        return None
    argv = cmd.argv
    opts: Dict[str, Setting] = {}
    env: Dict[str, str] = {}
    volumes: List[str] = []
    i = 2
    while i < len(argv) and argv[i].text.startswith("-"):
        key, eq, val = argv[i].text.partition("=")
        tok = argv[i]
        if not eq and key in _DOCKER_VALUE_OPTS and i + 1 < len(argv):
            val, i = argv[i + 1].text, i + 1
        elif not eq:
            val = "true"
        name = key.lstrip("-").replace("-", "_")
        opts[name] = Setting(val, Location(path, tok.line, tok.col), key)
        if key in ("-v", "--volume"):
            volumes.append(val)
        if key in ("-e", "--env") and "=" in val:
            k, _, v = val.partition("=")
            env[k] = v
        i += 1
    if i >= len(argv):
        return None
    image = argv[i].text
    rest = Command(list(argv[i + 1:]), {})
    gpus = None
    g = opts.get("gpus")
    if g is not None:
        text = str(g.value).strip("'\"")
        m = re.fullmatch(r"(?:count=)?(\d+)", text)
        dev = re.search(r"device=([0-9,]+)", text)
        if m:
            gpus = Setting(int(m.group(1)), g.location, "--gpus")
        elif dev:
            gpus = Setting(len([x for x in dev.group(1).split(",") if x]), g.location, "--gpus")
    job = command_job(stack, rest, path, "docker-run", image=image, gpus=gpus, env=env)
    if job is None:
        return None
    job.location = Location(path, argv[0].line, argv[0].col)
    job.extra["docker_opts"] = opts
    job.extra["mounts"] = _compose_mounts(volumes)  # same host:container[:mode] syntax
    if g is not None:
        job.extra["gpus_text"] = str(g.value)
    return job


def _docker_jobs(stack: Stack, d: dockerfile.DockerDoc) -> None:
    for st in d.stages:
        argv = list(st.entrypoint) + list(st.cmd)
        if not argv:
            continue
        cmds = [Command(argv)]
        if len(argv) >= 3 and argv[0].text.rsplit("/", 1)[-1] in ("sh", "bash") and argv[1].text in ("-c", "-lc"):
            cmds = [_relined(c, argv[2].line) for c in split_commands(tokenize(argv[2].text))]
        for c in cmds:
            job = command_job(stack, c, d.path, "dockerfile", image=st.image, env=st.env)
            if job is not None:
                stack.jobs.append(job)


def _gpu_count(value: Any) -> Optional[int]:
    try:
        n = int(str(value).strip())
        return n if n >= 0 else None
    except ValueError:
        return None


def _compose_jobs(stack: Stack, doc: Doc) -> None:
    services = doc.get("services")
    for name, svc in services.items():
        if not isinstance(svc, dict):
            continue
        p = ("services", name)
        gpus = None
        devices = doc.get(*p, "deploy", "resources", "reservations", "devices", default=[])
        for i, dev in enumerate(devices if isinstance(devices, list) else []):
            if not isinstance(dev, dict):
                continue
            loc = doc.loc(*p, "deploy", "resources", "reservations", "devices", i)
            if dev.get("count") == "all":
                gpus = Setting("all", loc, "count")
            elif _gpu_count(dev.get("count")) is not None:
                gpus = Setting(_gpu_count(dev.get("count")), loc, "count")
            elif isinstance(dev.get("device_ids"), list):
                gpus = Setting(len(dev["device_ids"]), loc, "device_ids")
        env = _env_map(svc.get("environment"))
        if gpus is None and "CUDA_VISIBLE_DEVICES" in env:
            gpus = Setting(len([x for x in env["CUDA_VISIBLE_DEVICES"].split(",") if x.strip()]),
                           doc.loc(*p, "environment"), "CUDA_VISIBLE_DEVICES")
        image = svc.get("image") if isinstance(svc.get("image"), str) else ""
        argv = _argv(doc, p + ("entrypoint",)) + _argv(doc, p + ("command",))
        for c in _commands(argv):
            job = command_job(stack, c, doc.path, "compose", image=image, gpus=gpus, env=env)
            if job is not None:
                job.extra["service"] = svc
                job.extra["service_path"] = p
                job.extra["mounts"] = _compose_mounts(svc.get("volumes"))
                job.doc = doc
                stack.jobs.append(job)


def _compose_mounts(volumes: Any) -> List[Tuple[str, str]]:
    """Bind mounts of a compose service as (host path relative to the compose file, container
    path): short syntax ``./models:/models[:ro]`` and long syntax ``{type: bind, source, target}``.
    Named volumes and interpolated paths are not files of the tree and are skipped."""
    out: List[Tuple[str, str]] = []
    for v in volumes if isinstance(volumes, list) else []:
        host = target = None
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) >= 2:
                host, target = parts[0], parts[1]
        elif isinstance(v, dict) and v.get("type", "bind") == "bind":
            host, target = v.get("source"), v.get("target")
        if not isinstance(host, str) or not isinstance(target, str) or "$" in host + target:
            continue
        if not (host.startswith(".") or host.startswith("/")) or not target.startswith("/"):
            continue  # a named volume
        out.append((host, target.rstrip("/") or "/"))
    return out


def _mounted_model(stack: Stack, job: Job) -> None:
    """A served path inside the container (``--model /models/x``) that a bind mount maps onto a
    model directory of the tree (``../models:/models``) is that directory."""
    import posixpath

    ref = job.model
    if ref is None or ref.local is not None or not ref.ref.startswith("/"):
        return
    base = dirname(job.location.path)
    for host, target in job.extra.get("mounts", ()):
        if host.startswith("/"):
            continue  # an absolute host path is outside the tree
        if ref.ref != target and not ref.ref.startswith(target + "/"):
            continue
        rel = ref.ref[len(target):].lstrip("/")
        cand = posixpath.normpath(posixpath.join(base, host, rel) if base != "." else posixpath.join(host, rel))
        md = stack.model_dirs.get(cand)
        if md is not None:
            ref.local = md
            return


def _env_map(env: Any) -> Dict[str, str]:
    if isinstance(env, dict):
        return {str(k): str(v) for k, v in env.items()}
    if isinstance(env, list):
        out = {}
        for item in env:
            if isinstance(item, str) and "=" in item:
                k, _, v = item.partition("=")
                out[k] = v
            elif isinstance(item, dict) and "name" in item:
                out[str(item["name"])] = str(item.get("value", ""))
        return out
    return {}


def _argv(doc: Doc, path: Tuple[Any, ...]) -> List[Token]:
    val = doc.get(*path)
    loc = doc.loc(*path)
    if isinstance(val, str):
        from stacklint.parsers.yamlfile import VALUE

        vloc = doc.loc(*path, VALUE)
        start = (vloc.line, vloc.col - 1) if vloc.line != loc.line or vloc.col != loc.col else (loc.line, loc.col - 1)
        toks = [t for t in tokenize(val) if t is not None]
        return [Token(t.text, start[0] + t.line - 1, (start[1] if t.line == 1 else 0) + t.col) for t in toks]
    if isinstance(val, list):
        out = []
        for i, v in enumerate(val):
            if isinstance(v, (str, int, float)):
                l2 = doc.loc(*path, i)
                out.append(Token(str(v), l2.line, l2.col))
        return out
    return []


def _commands(argv: List[Token]) -> List[Command]:
    """Split `sh -c "a && b"` forms; otherwise one command."""
    if len(argv) >= 3 and argv[0].text.rsplit("/", 1)[-1] in ("sh", "bash") and argv[1].text in ("-c", "-lc", "-ec"):
        line = argv[2].line
        cmds = split_commands(tokenize(" ".join(t.text for t in argv[2:])))
        return [_relined(c, line) for c in cmds if c.argv]
    return [Command(argv)] if argv else []


def _relined(cmd: Command, line: int) -> Command:
    """Commands parsed from a string value all sit on the line of that value."""
    return Command([Token(t.text, line, t.col) for t in cmd.argv], cmd.env)


def _k8s_jobs(stack: Stack, doc: Doc) -> None:
    for path, container in _containers(doc.data, ()):
        image = container.get("image") if isinstance(container.get("image"), str) else ""
        limits = container.get("resources", {}).get("limits", {}) if isinstance(container.get("resources"), dict) else {}
        gpus = None
        if isinstance(limits, dict):
            for key in ("nvidia.com/gpu", "amd.com/gpu"):
                if key in limits and _gpu_count(limits[key]) is not None:
                    gpus = Setting(_gpu_count(limits[key]), doc.loc(*path, "resources", "limits", key), key)
        env = _env_map(container.get("env"))
        argv = _argv(doc, path + ("command",)) + _argv(doc, path + ("args",))
        for c in _commands(argv):
            job = command_job(stack, c, doc.path, "k8s", image=image, gpus=gpus, env=env)
            if job is not None:
                job.doc = doc
                job.extra["container_path"] = path
                job.extra["k8s_kind"] = doc.get("kind")
                stack.jobs.append(job)
    for sel_path, value in _node_selectors(doc.data, ()):
        stack.gpus.append(Setting(value, doc.loc(*sel_path), "k8s-node-selector"))


def _containers(node: Any, path: Tuple[Any, ...], depth: int = 0) -> Iterator[Tuple[Tuple[Any, ...], Dict[str, Any]]]:
    if depth > 40:
        return
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("containers", "initContainers") and isinstance(v, list):
                for i, c in enumerate(v):
                    if isinstance(c, dict) and k == "containers":
                        yield path + (k, i), c
            else:
                yield from _containers(v, path + (k,), depth + 1)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _containers(v, path + (i,), depth + 1)


_GPU_LABELS = ("cloud.google.com/gke-accelerator", "nvidia.com/gpu.product", "accelerator",
               "node.kubernetes.io/instance-type", "karpenter.k8s.aws/instance-gpu-name")


def _node_selectors(node: Any, path: Tuple[Any, ...], depth: int = 0) -> Iterator[Tuple[Tuple[Any, ...], str]]:
    if depth > 40:
        return
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "nodeSelector" and isinstance(v, dict):
                for label in _GPU_LABELS:
                    if isinstance(v.get(label), str):
                        yield path + (k, label), v[label]
            else:
                yield from _node_selectors(v, path + (k,), depth + 1)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _node_selectors(v, path + (i,), depth + 1)


def _inline_script(stack: Stack, text: str, loc: Location, path: str, context: str, gpus: Optional[Setting]) -> None:
    for c in split_commands(tokenize(text)):
        if c.argv:
            stack.commands.append((path, Command([Token(t.text, loc.line + t.line, t.col) for t in c.argv], c.env)))


# -- Python scripts -------------------------------------------------------------------

_LOADERS = re.compile(r"(?:^|\.)(?:from_pretrained|LLM|AsyncEngineArgs|EngineArgs|pipeline|FastLanguageModel\.from_pretrained|"
                      r"snapshot_download|load_checkpoint_and_dispatch)$")


def _python_jobs(stack: Stack, script: Any) -> None:
    for call in script.calls:
        q = call.qualname
        short = call.short
        if short in ("from_pretrained", "LLM", "pipeline", "snapshot_download", "EngineArgs", "AsyncEngineArgs"):
            val = call.kwargs.get("model") or call.kwargs.get("pretrained_model_name_or_path") or \
                call.kwargs.get("repo_id") or (call.args[0] if call.args else None)
            if short == "pipeline":
                val = call.kwargs.get("model") or (call.args[1] if len(call.args) > 1 else None)
            if val is not None and isinstance(val.value, str) and _looks_like_model(val.value):
                role = "tokenizer" if "Tokenizer" in call.name or "Processor" in call.name else "model"
                if "PeftModel" in call.name or "AutoPeft" in call.name:
                    role = "adapter"
                    if len(call.args) > 1 and isinstance(call.args[1].value, str):
                        stack.models.append(ModelRef(call.args[1].value, Location(script.path, call.args[1].line, call.args[1].col), "adapter"))
                        continue
                stack.models.append(ModelRef(val.value, Location(script.path, val.line, val.col), role))
        if short == "LLM" and ("vllm" in q or "vllm" in script.imports):
            job = Job("serving", "vllm", Location(script.path, call.line, call.col), context="python")
            for k, a in call.kwargs.items():
                if not isinstance(a.value, Unknown):
                    job.settings[k] = Setting(a.value, Location(script.path, a.key_line, a.key_col), k)
            m = call.kwargs.get("model") or (call.args[0] if call.args else None)
            if m is not None and isinstance(m.value, str):
                job.model = ModelRef(m.value, Location(script.path, m.line, m.col), "model")
            job.extra["call"] = call
            stack.jobs.append(job)
    _python_training_job(stack, script)


# Trainer / PEFT / bitsandbytes keyword -> canonical setting, per config class.
_PY_TRAINING_KEYS: Dict[str, Dict[str, str]] = {
    "TrainingArguments": {"fp16": "fp16", "bf16": "bf16", "tf32": "tf32", "deepspeed": "deepspeed",
                          "per_device_train_batch_size": "micro_batch_size",
                          "gradient_accumulation_steps": "grad_accum",
                          "gradient_checkpointing": "gradient_checkpointing"},
    "LoraConfig": {"target_modules": "lora_targets", "r": "lora_r", "lora_alpha": "lora_alpha",
                   "lora_dropout": "lora_dropout", "modules_to_save": "modules_to_save"},
    "BitsAndBytesConfig": {"load_in_4bit": "load_in_4bit", "load_in_8bit": "load_in_8bit",
                           "bnb_4bit_compute_dtype": "bnb_4bit_compute_dtype"},
    "from_pretrained": {"load_in_4bit": "load_in_4bit", "load_in_8bit": "load_in_8bit",
                        "attn_implementation": "attn_implementation", "torch_dtype": "torch_dtype"},
}
for _cls in ("SFTConfig", "Seq2SeqTrainingArguments", "DPOConfig", "ORPOConfig", "KTOConfig", "GRPOConfig",
             "RewardConfig", "CPOConfig"):
    _PY_TRAINING_KEYS[_cls] = dict(_PY_TRAINING_KEYS["TrainingArguments"], max_seq_length="seq_len",
                                   max_length="seq_len")
_PY_MODEL_LOADERS = ("AutoModelForCausalLM", "AutoModel", "AutoModelForSeq2SeqLM", "LlamaForCausalLM",
                     "Qwen2ForCausalLM", "AutoModelForVision2Seq", "FastLanguageModel",
                     "AutoModelForSequenceClassification", "MistralForCausalLM")


def _python_training_job(stack: Stack, script: Any) -> None:
    """One training job per script that builds trainer / PEFT / quantisation configs."""
    job: Optional[Job] = None
    models: List[Setting] = []
    for call in script.calls:
        short = call.short
        owner = call.name.rsplit(".", 2)[-2] if "." in call.name else ""
        if short == "from_pretrained":
            if owner not in _PY_MODEL_LOADERS:
                continue
            val = call.kwargs.get("pretrained_model_name_or_path") or call.kwargs.get("model_name") or \
                (call.args[0] if call.args else None)
            where = Location(script.path, val.line, val.col) if val is not None else Location(script.path, call.line, call.col)
            models.append(Setting(val.value if val is not None else Unknown(), where))
        elif short not in _PY_TRAINING_KEYS:
            continue
        elif not (call.qualname.startswith(("transformers.", "trl.", "peft.")) or call.qualname == call.name):
            continue  # a same-named class of another library
        for kw, canon in _PY_TRAINING_KEYS[short].items():
            arg = call.kwargs.get(kw)
            if arg is None or isinstance(arg.value, Unknown):
                continue
            if job is None:
                job = Job("training", "transformers", Location(script.path, call.line, call.col), context="python")
            job.settings.setdefault(canon, Setting(arg.value, Location(script.path, arg.line, arg.col), kw))
        if short == "LoraConfig" and job is not None:
            job.extra["lora_call"] = call
    if job is None:
        return
    job.extra["script"] = script
    literal = {m.value for m in models if isinstance(m.value, str)}
    # Only when the script loads one model: several loaders (teacher/student, compare) are ambiguous.
    if len(literal) == 1 and len(models) == len([m for m in models if isinstance(m.value, str)]):
        m = next(m for m in models if isinstance(m.value, str))
        if _looks_like_model(m.value):
            job.model = ModelRef(m.value, m.location, "base")
    stack.jobs.append(job)


_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _looks_like_model(s: str) -> bool:
    return bool(_HUB_ID.match(s)) or s.startswith(("./", "../", "/"))


# -- Trainer-style scripts launched with arguments ---------------------------------------------

# HfArgumentParser flags of Trainer scripts (Qwen finetune.py, DeepSeek-Coder finetune_deepseekcoder.py,
# FastChat/LLaVA train.py, ...) -> canonical setting names.
_HF_SCRIPT_FLAGS: Dict[str, str] = {
    "model_name_or_path": "base_model", "fp16": "fp16", "bf16": "bf16", "tf32": "tf32", "deepspeed": "deepspeed",
    "model_max_length": "seq_len", "max_seq_length": "seq_len", "cutoff_len": "seq_len",
    "per_device_train_batch_size": "micro_batch_size", "gradient_accumulation_steps": "grad_accum",
    "use_lora": "use_lora", "q_lora": "q_lora", "lora_r": "lora_r", "lora_alpha": "lora_alpha",
    "lora_dropout": "lora_dropout", "lora_target_modules": "lora_targets", "load_in_4bit": "load_in_4bit",
    "load_in_8bit": "load_in_8bit", "attn_implementation": "attn_implementation",
}
_HF_TRAINING_MARKERS = frozenset({"output_dir", "deepspeed", "do_train", "num_train_epochs",
                                  "per_device_train_batch_size", "learning_rate"})
_VAR_REF = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))$")


def _hf_script_args(stack: Stack) -> None:
    """Training arguments of a Trainer script launched from a shell file (``torchrun/deepspeed/
    accelerate launch/python x.py --model_name_or_path M --bf16 True ...``): canonical settings on the
    launcher's job (or a new ``hf-script`` job for a plain ``python x.py``), with ``$VAR`` words resolved
    from plain ``VAR=value`` assignments earlier in the same file."""
    by_cmd = {id(j.command): j for j in stack.jobs if j.command is not None}
    assignments: Dict[str, List[Tuple[int, str, str]]] = {}
    for path, cmd in stack.commands:
        if path not in assignments:
            assignments[path] = _shell_assignments(stack, path)
        env = {name: value for line, name, value in assignments[path] if line < cmd.line}
        hit = cmdline.script_of(cmd)
        if hit is None:
            continue
        args = [_subst(t, env) for t in hit[1]]
        flags, _ = cmdline.parse_flags(args, "torchrun", path)
        if "model_name_or_path" not in flags or not (set(flags) & _HF_TRAINING_MARKERS):
            continue
        job = by_cmd.get(id(cmd))
        if job is None:
            if not cmd.words[0].rsplit("/", 1)[-1].startswith("python"):
                continue
            job = Job("training", "hf-script", Location(path, cmd.line, cmd.col), command=cmd, context="shell")
            job.env = dict(cmd.env)
            stack.jobs.append(job)
        job.extra["script"] = hit[0].text
        job.extra["script_args"] = flags
        for flag, canon in _HF_SCRIPT_FLAGS.items():
            if flag in flags:
                job.settings.setdefault(canon, flags[flag])
        base = job.get("base_model")
        if job.model is None and base is not None and isinstance(base.value, str) and "$" not in base.value:
            job.model = ModelRef(base.value, base.location, "base")


_ASSIGN = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"$`]*\"|'[^']*'|[^\s\"'$`;&|]*)[ \t]*(?:#.*)?$")


def _shell_assignments(stack: Stack, path: str) -> List[Tuple[int, str, str]]:
    """``NAME=value`` lines (literal values only) of a shell file: (line, name, value)."""
    tf = stack.texts.get(path)
    if tf is None:
        return []
    out = []
    for i, line in enumerate(tf.text.splitlines(), 1):
        m = _ASSIGN.match(line)
        if m:
            out.append((i, m.group(1), m.group(2).strip("\"'")))
    return out


def _subst(tok: Token, env: Dict[str, str]) -> Token:
    m = _VAR_REF.match(tok.text)
    if not m:
        return tok
    name = m.group(1) or m.group(3)
    if name in env:
        return Token(env[name], tok.line, tok.col)
    if m.group(2) is not None:
        return Token(m.group(2), tok.line, tok.col)
    return tok


# -- linking model references --------------------------------------------------------

def _link_models(stack: Stack) -> None:
    for md in stack.model_dirs.values():
        if md.config is not None:  # a model directory in the tree is a model of the stack
            stack.models.append(ModelRef(md.dir, md.config.loc(), "local", local=md))
    seen = {(r.location, r.ref): r for r in stack.models}
    for job in stack.jobs:
        if job.model is not None:
            same = seen.get((job.model.location, job.model.ref))
            if same is not None:  # the loader call already named it: one reference, not two
                job.model = same
            else:
                seen[(job.model.location, job.model.ref)] = job.model
                stack.models.append(job.model)
    for ref in stack.models:
        resolve_model(stack, ref)
    for job in stack.jobs:
        if job.extra.get("mounts"):
            _mounted_model(stack, job)


def _under_stack_files(stack: Stack, d: str) -> bool:
    """Whether ``d`` or one of its ancestors directly holds a stack file."""
    held = stack.__dict__.get("_stack_file_dirs")
    if held is None or held[0] != len(stack.kinds):
        held = (len(stack.kinds), {dirname(p) for p in stack.kinds})
        stack.__dict__["_stack_file_dirs"] = held
    while True:
        if d in held[1]:
            return True
        if d == ".":
            return False
        d = dirname(d)


def resolve_model(stack: Stack, ref: ModelRef) -> None:
    """Attach the local model directory or the knowledge record for a reference."""
    text = ref.ref.strip()
    if not text or "$" in text or "{" in text:
        return
    base = dirname(ref.location.path)
    if not text.startswith("/"):
        import posixpath
        # relative to the naming file first, then to its ancestors: scripts are usually launched
        # from the repository root (``bash finetune/finetune_lora_ds.sh`` naming ``Qwen-7B-Chat``).
        # An ancestor counts only below a directory that holds stack files itself, so the script
        # and the model directory share a project (stacklint.batch units) in batched scans too.
        d = base
        while True:
            cand = posixpath.normpath(posixpath.join(d, text)) if d != "." else posixpath.normpath(text)
            md = stack.model_dirs.get(cand)
            if md is not None and (d == base or _under_stack_files(stack, d)):
                ref.local = md
                return
            if d == ".":
                break
            d = posixpath.dirname(d) or "."
    if _HUB_ID.match(text):
        from stacklint import knowledge_access
        ref.checkpoint = knowledge_access.checkpoint(text)
