from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional, Sequence

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"


def run_scan(path: Path, select: Sequence[str] = ("ALL",), gpu: Optional[str] = None, preview: bool = True):
    """Scan ``path`` as the CLI would, from inside it; returns (Result, Stack)."""
    from stacklint import config
    from stacklint.scan import ScanOptions, scan

    old = os.getcwd()
    os.chdir(path)
    try:
        cfg = config.load(None, ".")
        return scan(ScanOptions(["."], cfg, list(select), gpu=gpu, preview=preview))
    finally:
        os.chdir(old)


@pytest.fixture
def scan_dir():
    return run_scan


def findings_of(result, code: Optional[str] = None) -> List[dict]:
    return [
        {"code": f.code, "path": f.location.path, "line": f.location.line, "col": f.location.col}
        for f in result.findings if code is None or f.code == code
    ]
