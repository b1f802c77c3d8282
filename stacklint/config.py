"""Configuration: ``[tool.stacklint]`` in pyproject.toml or ``stacklint.toml``, validated."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from stacklint.findings import Severity


class ConfigError(Exception):
    """Bad configuration or usage: reported on one line, exit code 2."""


@dataclass
class Limits:
    max_file_size: int = 50 * 1024 * 1024
    max_depth: int = 256
    max_yaml_nodes: int = 200_000
    # Real chat templates are under 20 KB; compiling a multi-megabyte one takes minutes.
    max_template_size: int = 256 * 1024


@dataclass
class Config:
    path: Optional[str] = None
    select: List[str] = field(default_factory=list)
    extend_select: List[str] = field(default_factory=list)
    ignore: List[str] = field(default_factory=list)
    per_file_ignores: Dict[str, List[str]] = field(default_factory=dict)
    severity: Dict[str, Severity] = field(default_factory=dict)
    exclude: List[str] = field(default_factory=list)
    gpu: Optional[str] = None
    gpu_count: Optional[int] = None
    platform: Optional[str] = None
    python: Optional[str] = None
    fail_on: Optional[Severity] = None
    preview: bool = False
    limits: Limits = field(default_factory=Limits)


_KEYS = {
    "select", "extend-select", "ignore", "per-file-ignores", "severity", "exclude", "target",
    "fail-on", "limits", "preview",
}
_TARGET_KEYS = {"gpu", "gpu-count", "platform", "python"}
_LIMIT_KEYS = {"max-file-size", "max-depth", "max-yaml-nodes", "max-template-size"}


def find_config(start: str) -> Optional[Tuple[str, Dict[str, Any]]]:
    """Search upward from ``start`` for stacklint.toml or a pyproject.toml with [tool.stacklint]."""
    d = os.path.abspath(start if os.path.isdir(start) else os.path.dirname(start) or ".")
    while True:
        for name in ("stacklint.toml", ".stacklint.toml", "pyproject.toml"):
            p = os.path.join(d, name)
            if os.path.isfile(p):
                data = _read_toml(p)
                if name == "pyproject.toml":
                    tool = data.get("tool", {})
                    if isinstance(tool, dict) and isinstance(tool.get("stacklint"), dict):
                        return p, tool["stacklint"]
                    continue
                return p, data.get("tool", {}).get("stacklint", data) if isinstance(data.get("tool"), dict) else data
        if os.path.isdir(os.path.join(d, ".git")):
            return None
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _read_toml(path: str) -> Dict[str, Any]:
    try:
        import tomllib  # type: ignore[import-not-found]
    except ImportError:
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: cannot read configuration: nested too deeply") from None


def load(path: Optional[str], start: str) -> Config:
    if path is not None:
        data = _read_toml(path)
        section = data.get("tool", {}).get("stacklint") if isinstance(data.get("tool"), dict) else None
        found: Optional[Tuple[str, Dict[str, Any]]] = (path, section if isinstance(section, dict) else data)
    else:
        found = find_config(start)
    if found is None:
        return Config()
    return parse(found[1], found[0])


def _str_list(value: Any, where: str) -> List[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return list(value)


def parse(data: Dict[str, Any], path: str) -> Config:
    cfg = Config(path=path)
    where = f"{path}: [tool.stacklint]" if path.endswith("pyproject.toml") else f"{path}:"
    for key in data:
        if key not in _KEYS:
            raise ConfigError(f"{where} unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
    cfg.select = _str_list(data.get("select", []), f"{where} select")
    cfg.extend_select = _str_list(data.get("extend-select", []), f"{where} extend-select")
    cfg.ignore = _str_list(data.get("ignore", []), f"{where} ignore")
    cfg.exclude = _str_list(data.get("exclude", []), f"{where} exclude")
    preview = data.get("preview", False)
    if not isinstance(preview, bool):
        raise ConfigError(f"{where} preview: expected true or false")
    cfg.preview = preview
    pfi = data.get("per-file-ignores", {})
    if not isinstance(pfi, dict):
        raise ConfigError(f"{where} per-file-ignores: expected a table of glob = [codes]")
    cfg.per_file_ignores = {str(k): _str_list(v, f"{where} per-file-ignores.{k}") for k, v in pfi.items()}
    sev = data.get("severity", {})
    if not isinstance(sev, dict):
        raise ConfigError(f"{where} severity: expected a table of CODE = \"error|warning|info\"")
    for code, level in sev.items():
        try:
            cfg.severity[str(code)] = Severity.parse(str(level))
        except ValueError as exc:
            raise ConfigError(f"{where} severity.{code}: {exc}") from None
    if "fail-on" in data:
        try:
            cfg.fail_on = Severity.parse(str(data["fail-on"]))
        except ValueError as exc:
            raise ConfigError(f"{where} fail-on: {exc}") from None
    target = data.get("target", {})
    if not isinstance(target, dict):
        raise ConfigError(f"{where} target: expected a table")
    for key in target:
        if key not in _TARGET_KEYS:
            raise ConfigError(f"{where} target: unknown key {key!r} (known: {', '.join(sorted(_TARGET_KEYS))})")
    cfg.gpu = _opt_str(target, "gpu", where)
    cfg.platform = _opt_str(target, "platform", where)
    cfg.python = _opt_str(target, "python", where)
    if "gpu-count" in target:
        if not isinstance(target["gpu-count"], int) or target["gpu-count"] < 1:
            raise ConfigError(f"{where} target.gpu-count: expected a positive integer")
        cfg.gpu_count = target["gpu-count"]
    limits = data.get("limits", {})
    if not isinstance(limits, dict):
        raise ConfigError(f"{where} limits: expected a table")
    for key, value in limits.items():
        if key not in _LIMIT_KEYS:
            raise ConfigError(f"{where} limits: unknown key {key!r} (known: {', '.join(sorted(_LIMIT_KEYS))})")
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"{where} limits.{key}: expected a positive integer")
        setattr(cfg.limits, key.replace("-", "_"), value)
    return cfg


def _opt_str(table: Dict[str, Any], key: str, where: str) -> Optional[str]:
    v = table.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ConfigError(f"{where} target.{key}: expected a string")
    return v
