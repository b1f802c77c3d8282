"""``stacklint knowledge TOPIC NAME [VERSION]``: show a fact and where it comes from."""
from __future__ import annotations

import json
import sys
from typing import Any, Optional


def _print(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def run(topic: str, name: str, version: Optional[str]) -> int:
    from stacklint.config import ConfigError

    try:
        if topic == "package":
            from stacklint.knowledge import packages

            if version is None:
                rel = packages.releases(name)
                if not rel:
                    raise ConfigError(f"no releases of {name!r} in the knowledge base")
                _print({"package": name, "releases": rel, "latest": packages.latest(name)})
            else:
                rec = packages.metadata(name, version)
                if rec is None:
                    raise ConfigError(f"{name}=={version} is not in the knowledge base")
                _print({"package": name, "version": version, **rec})
        elif topic == "model-type":
            from stacklint.knowledge import architectures

            out = {}
            for pkg in ("transformers", "vllm", "sglang"):
                rec = architectures.record(pkg, model_type=name) or architectures.record(pkg, architecture=name)
                if rec is not None:
                    out[pkg] = rec
            if not out:
                raise ConfigError(f"{name!r} is not a model_type or architecture stacklint knows")
            _print(out)
        elif topic == "checkpoint":
            from stacklint.knowledge import checkpoints

            rec = checkpoints.checkpoint(name)
            if rec is None:
                raise ConfigError(f"{name!r} is not a checkpoint stacklint knows")
            _print(rec)
        elif topic == "gpu":
            from stacklint.knowledge import hardware

            rec = hardware.gpu(name)
            if rec is None:
                raise ConfigError(f"{name!r} is not a GPU stacklint knows")
            _print(rec)
        elif topic == "torch":
            from stacklint.knowledge import cuda

            _print({"torch": name, "cuda_variants": cuda.torch_cuda_variants(name),
                    "default_cuda": cuda.torch_default_cuda(name), "companions": cuda.companion_versions(name)})
    except (ImportError, FileNotFoundError) as exc:
        raise ConfigError(f"that table is not available in this build: {exc}") from None
    return 0
