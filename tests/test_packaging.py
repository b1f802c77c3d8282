"""The wheel carries the engine, the rules and the knowledge data under `stacklint.` only."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from conftest import ROOT


def test_wheel_layout(tmp_path: Path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    wheel = next(tmp_path.glob("stacklint-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/", 1)[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"stacklint"}
    assert "stacklint/checks/env.py" in names and "stacklint/checks/tokens.py" in names
    assert "stacklint/knowledge/__init__.py" in names
    assert "stacklint/taxonomy.json" in names
    data = [n for n in names if n.startswith("stacklint/knowledge/data/") and n.endswith(".json")]
    shipped = sorted(p.name for p in (ROOT / "knowledge" / "data").glob("*.json"))
    assert sorted(n.rsplit("/", 1)[1] for n in data) == shipped
    assert not any("/scripts/" in n for n in names), "generator scripts belong in the sdist, not the wheel"
