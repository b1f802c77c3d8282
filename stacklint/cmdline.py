"""Recognise launcher command lines (vLLM, SGLang, TGI, torchrun, trainers) and read their flags."""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from stacklint.findings import Location
from stacklint.model import Setting
from stacklint.parsers.shell import Command, Token

# Short flags -> canonical names, per engine.
_ALIASES: Dict[str, Dict[str, str]] = {
    "vllm": {"tp": "tensor_parallel_size", "pp": "pipeline_parallel_size", "q": "quantization",
             "dp": "data_parallel_size", "O": "compilation_config"},
    "sglang": {"tp": "tp_size", "tp_size": "tp_size", "tensor_parallel_size": "tp_size",
               "pp": "pp_size", "dp": "dp_size", "model": "model_path"},
    "tgi": {},
    "torchrun": {},
}

_VLLM_MODULES = ("vllm.entrypoints.openai.api_server", "vllm.entrypoints.api_server", "vllm.entrypoints.cli.main")
_SGLANG_MODULES = ("sglang.launch_server", "sglang.launch_server_router")


def engine_of(words: List[str]) -> Optional[Tuple[str, int]]:
    """(engine, index of the first argument) when ``words`` launch a server or trainer."""
    if not words:
        return None
    w0 = words[0].rsplit("/", 1)[-1]
    if w0 == "vllm" and len(words) > 1 and words[1] == "serve":
        return "vllm", 2
    if w0 == "text-generation-launcher":
        return "tgi", 1
    if w0 in ("llamafactory-cli", "lmf") and len(words) > 1 and words[1] in ("train", "export", "chat", "api", "webchat"):
        return "llamafactory", 2
    if w0 == "axolotl" and len(words) > 1 and words[1] in ("train", "preprocess", "inference", "merge-lora"):
        return "axolotl", 2
    if w0 == "tune" and len(words) > 1 and words[1] == "run":
        return "torchtune", 2
    if w0 in ("torchrun",) or (w0.startswith("python") and words[1:3] == ["-m", "torch.distributed.run"]):
        return "torchrun", 1 if w0 == "torchrun" else 3
    if w0 == "deepspeed":
        return "deepspeed", 1
    if w0 == "accelerate" and len(words) > 1 and words[1] == "launch":
        return "accelerate", 2
    if w0.startswith("python"):
        rest = words[1:]
        while rest and rest[0].startswith("-") and rest[0] != "-m":
            rest = rest[1:]
        if len(rest) >= 2 and rest[0] == "-m":
            mod = rest[1]
            start = len(words) - len(rest) + 2
            if mod in _VLLM_MODULES:
                if mod == "vllm.entrypoints.cli.main" and len(rest) > 2 and rest[2] == "serve":
                    return "vllm", start + 1
                return "vllm", start
            if mod in _SGLANG_MODULES:
                return "sglang", start
            if mod.startswith("axolotl.cli"):
                return "axolotl", start
            if mod == "torch.distributed.launch":
                return "torchrun", start
    return None


def canonical_flag(flag: str, engine: str) -> str:
    name = flag.lstrip("-").replace("-", "_")
    return _ALIASES.get(engine, {}).get(name, name)


def parse_flags(tokens: List[Token], engine: str, path: str) -> Tuple[Dict[str, Setting], List[Setting]]:
    """``--a-b 1 --c=2 --flag pos`` -> ({a_b: 1, c: 2, flag: True}, [pos]). Values stay strings."""
    flags: Dict[str, Setting] = {}
    positional: List[Setting] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        loc = Location(path, t.line, t.col)
        if t.text.startswith("-") and len(t.text) > 1 and not _is_number(t.text):
            key, eq, val = t.text.partition("=")
            name = canonical_flag(key, engine)
            if eq:
                flags[name] = Setting(val, loc, key)
            elif i + 1 < len(tokens) and not (tokens[i + 1].text.startswith("-") and not _is_number(tokens[i + 1].text)):
                flags[name] = Setting(tokens[i + 1].text, loc, key)
                i += 1
            else:
                flags[name] = Setting(True, loc, key)
        else:
            positional.append(Setting(t.text, loc))
        i += 1
    return flags, positional


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def script_of(cmd: Command) -> Optional[Tuple[Token, List[Token]]]:
    """The Python script (or module) and its arguments in ``python x.py ...``/launcher lines."""
    words = cmd.words
    if not words:
        return None
    hit = engine_of(words)
    argv = cmd.argv
    if hit and hit[0] in ("torchrun", "deepspeed", "accelerate"):
        rest = argv[hit[1]:]
        i = 0
        while i < len(rest):
            w = rest[i].text
            if w.endswith(".py"):
                return rest[i], rest[i + 1:]
            if w == "-m" and i + 1 < len(rest):
                return rest[i + 1], rest[i + 2:]
            i += 1
        return None
    if words[0].rsplit("/", 1)[-1].startswith("python"):
        for i, t in enumerate(argv[1:], 1):
            if t.text.endswith(".py"):
                return t, argv[i + 1:]
    return None
