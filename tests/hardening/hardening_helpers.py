"""Shared helpers for the hardening suite: a bounded subprocess scan and a known-bad good stack."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

# The scan runs in a child that reports its own peak RSS (ru_maxrss, KiB on Linux).
# Peak RSS of the child itself: VmHWM belongs to the memory map exec created. ru_maxrss survives
# execve, so it reports the forking parent's size (a pytest process that grew past the limit).
_CHILD = (
    "import resource, sys\n"
    "from stacklint.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "try:\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            peak = int(line.split()[1])\n"
    "except OSError:\n"
    "    pass\n"
    "sys.stderr.write('MAXRSS=%d\\n' % peak)\n"
    "sys.exit(rc)\n"
)

SCAN_TIMEOUT = 60.0


@dataclass
class ScanRun:
    report: Dict[str, Any]
    stderr: str
    returncode: int
    max_rss_kib: int

    @property
    def findings(self) -> List[Dict[str, Any]]:
        return self.report["findings"]

    @property
    def errors(self) -> List[Dict[str, Any]]:
        return self.report["errors"]

    def error_paths(self) -> List[str]:
        return [e["path"] for e in self.errors]


def scan(root: Path, paths: Sequence[str] = (".",), extra: Sequence[str] = (),
         timeout: float = SCAN_TIMEOUT) -> ScanRun:
    """``stacklint scan`` as a user runs it, in a child killed after ``timeout`` seconds."""
    cmd = [sys.executable, "-c", _CHILD, "scan", *paths, "--format", "json", "--exit-zero", *extra]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", NO_COLOR="1")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(cmd, cwd=str(root), capture_output=True, text=True, timeout=timeout, env=env)
    rss = 0
    for line in proc.stderr.splitlines():
        if line.startswith("MAXRSS="):
            rss = int(line[7:])
    assert proc.stdout.strip(), f"no report (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return ScanRun(json.loads(proc.stdout), proc.stderr, proc.returncode, rss)


def finding_keys(findings: Sequence[Dict[str, Any]], without: str = "") -> List[Tuple[Any, ...]]:
    """Findings as comparable tuples, leaving out any that involve ``without``."""
    out = []
    for f in findings:
        paths = [f["path"]] + [r["path"] for r in f.get("related", [])]
        if without and any(p == without or p.startswith(without.rstrip("/") + "/") for p in paths):
            continue
        out.append((f["rule"], f["path"], f["line"], f["column"], f["message"]))
    return out


def write_good_stack(root: Path) -> None:
    """A small stack with a known finding (SL101): old transformers, a qwen2 model directory."""
    (root / "models" / "q").mkdir(parents=True, exist_ok=True)
    (root / "requirements.txt").write_text("transformers==4.36.2\ntorch==2.1.0\n")
    (root / "models" / "q" / "config.json").write_text(
        '{\n  "model_type": "qwen2",\n  "architectures": ["Qwen2ForCausalLM"]\n}\n')
    (root / "train.py").write_text(
        "from transformers import AutoModelForCausalLM\n"
        "model = AutoModelForCausalLM.from_pretrained('models/q', torch_dtype='auto')\n")
    (root / "Dockerfile").write_text(
        "FROM nvidia/cuda:12.1.0-runtime-ubuntu22.04\nRUN pip install -r requirements.txt\n")
