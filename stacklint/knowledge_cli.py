"""``stacklint knowledge TOPIC NAME [VERSION]``: show a fact and where it comes from."""
from __future__ import annotations

import json
import sys
from typing import Any, Optional


_JSON = False


def _print(obj: Any) -> None:
    if _JSON:
        sys.stdout.write(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
    else:
        sys.stdout.write("\n".join(_lines(obj, 0)) + "\n")


def _is_edge(x: Any) -> bool:
    return isinstance(x, (list, tuple)) and len(x) == 3 and isinstance(x[0], str) and isinstance(x[1], str)


def _lines(obj: Any, depth: int) -> "list[str]":
    pad = "  " * depth
    out = []
    if isinstance(obj, dict):
        for k in sorted(obj, key=lambda k: (k in ("source", "checked"), str(k))):
            v = obj[k]
            if isinstance(v, (dict, list)) and v and not (isinstance(v, list) and all(
                    isinstance(x, (str, int, float)) for x in v)):
                out.append(f"{pad}{k}:")
                out.extend(_lines(v, depth + 1))
            elif isinstance(v, list):
                out.append(f"{pad}{k}: {', '.join(str(x) for x in v)}")
            else:
                out.append(f"{pad}{k}: {v}")
    elif isinstance(obj, list):
        for x in obj:
            if _is_edge(x):
                out.append(f"{pad}{x[0]}{x[1]}" + (f" ; {x[2]}" if x[2] else ""))
            elif isinstance(x, (dict, list)):
                out.extend(_lines(x, depth))
            else:
                out.append(f"{pad}{x}")
    else:
        out.append(f"{pad}{obj}")
    return out


def _support_line(name: str, pkg: str, rec: dict) -> str:
    """One readable line per package: since which release it supports the model, and from where."""
    since = rec.get("min_version")
    if since is None:
        what = "no release supports it natively"
    elif rec.get("first_is_floor"):
        what = f"supported in every release known ({since} is the oldest release read)"
    else:
        what = f"supported since {since}"
    if rec.get("removed_in"):
        what += f", removed in {rec['removed_in']}"
    ranges = rec.get("ranges") or []
    if len(ranges) > 2:
        spans = [f"{ranges[i]}..{ranges[i + 1] or 'latest'}" for i in range(0, len(ranges) - 1, 2)]
        what += f" (releases {', '.join(spans)})"
    return f"{pkg}: {name} {what}\n  source: {rec.get('source')} (checked {rec.get('checked')})\n"


def run(topic: str, name: str, version: Optional[str], as_json: bool = False) -> int:
    from stacklint.config import ConfigError

    global _JSON
    _JSON = as_json
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
            if _JSON:
                _print(out)
            else:
                sys.stdout.write("".join(_support_line(name, pkg, rec) for pkg, rec in out.items()))
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
