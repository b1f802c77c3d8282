"""Every knowledge table: the envelope, and a source and a check date on every record."""
from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "knowledge" / "data"
TABLES = sorted(p for p in DATA.glob("*.json"))
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _leaf_records(node, path=()):
    """Dicts that describe one fact: those carrying a `source`, or that sit where one must."""
    if isinstance(node, dict):
        if "source" in node or "checked" in node:
            yield path, node
            return
        for k, v in node.items():
            yield from _leaf_records(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaf_records(v, path + (i,))


@pytest.mark.parametrize("table", TABLES, ids=lambda p: p.stem)
def test_envelope(table: Path):
    env = json.loads(table.read_text("utf-8"))
    assert env["table"] == table.stem
    assert env["schema"] >= 1
    assert env["generated_by"] == "hand-curated" or (DATA.parent.parent / env["generated_by"]).exists()
    assert DATE.match(env["generated"])
    assert env.get("description")
    assert env["records"]


@pytest.mark.parametrize("table", TABLES, ids=lambda p: p.stem)
def test_every_record_has_source_and_checked(table: Path):
    env = json.loads(table.read_text("utf-8"))
    leaves = list(_leaf_records(env["records"]))
    assert leaves, "no record carries a source"
    today = dt.date.today()
    for path, rec in leaves:
        assert isinstance(rec.get("source"), str) and rec["source"], f"{table.stem}{list(path)}: no source"
        assert re.match(r"^(https?://|pypi:)", rec["source"]), f"{table.stem}{list(path)}: source {rec['source']!r}"
        assert isinstance(rec.get("checked"), str) and DATE.match(rec["checked"]), f"{table.stem}{list(path)}: checked"
        assert dt.date.fromisoformat(rec["checked"]) <= today


@pytest.mark.parametrize("table", TABLES, ids=lambda p: p.stem)
def test_no_dangling_fact_without_source(table: Path):
    """Below the record level nothing may hide outside a sourced record: every leaf value
    sits inside some dict that has a source (the envelope's own keys excepted)."""
    env = json.loads(table.read_text("utf-8"))

    def walk(node, sourced):
        if isinstance(node, dict):
            sourced = sourced or "source" in node
            for v in node.values():
                yield from walk(v, sourced)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v, sourced)
        else:
            yield sourced

    unsourced = sum(1 for ok in walk(env["records"], False) if not ok)
    total = sum(1 for _ in walk(env["records"], False))
    # Release lists and similar indexes may be unsourced; facts may not. Allow a small index.
    assert unsourced <= max(2000, total // 10), f"{table.stem}: {unsourced} of {total} values have no source"


def test_loading_one_table_does_not_load_the_others():
    import subprocess
    import sys

    code = ("from stacklint.knowledge import load_table, packages; packages.releases('vllm');"
            "print(sorted(load_table.cache_info()._asdict().items()))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "'currsize', 1" in out
