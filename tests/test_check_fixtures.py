"""Every rule's bad/good mini-stacks (tests/checks/SLxxx/) and the regression fixtures
rebuilt from real failure threads (tests/regressions/<record-id>/).

Layout of a case directory:
  bad/            a minimal repository that must trigger the rule
  bad/expected.json   exact findings of the rule: [{"code", "path", "line", "col"}]
  good/           the fixed repository: no finding of the rule
  case.json       optional: {"gpu": "T4", "codes": ["SL101"], "record": "qwen25-30", "link": "..."}
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT, findings_of, run_scan

CHECKS = ROOT / "tests" / "checks"
REGRESSIONS = ROOT / "tests" / "regressions"


def _cases(base: Path):
    if not base.is_dir():
        return []
    out = []
    for d in sorted(base.glob("*")):
        if not d.is_dir():
            continue
        for sub in sorted([d] + [x for x in d.iterdir() if x.is_dir() and (x / "bad").is_dir()]):
            if (sub / "bad").is_dir():
                out.append(sub)
    return out


def _meta(case: Path) -> dict:
    p = case / "case.json"
    return json.loads(p.read_text()) if p.exists() else {}


def _codes(case: Path, meta: dict) -> list:
    if "codes" in meta:
        return meta["codes"]
    code = case.name if case.name.startswith("SL") else case.parent.name
    return [code]


def _check(case: Path) -> None:
    meta = _meta(case)
    codes = _codes(case, meta)
    expected = json.loads((case / "bad" / "expected.json").read_text())
    result, _ = run_scan(case / "bad", gpu=meta.get("gpu"))
    got = [f for f in findings_of(result) if f["code"] in codes]
    assert sorted(got, key=str) == sorted(expected, key=str), (
        f"{case.relative_to(ROOT)}/bad: got {got}, messages: "
        f"{[f.message for f in result.findings if f.code in codes]}")
    assert not any("internal:" in e.message for e in result.errors), result.errors
    if (case / "good").is_dir():
        result, _ = run_scan(case / "good", gpu=meta.get("gpu"))
        bad = [f.message for f in result.findings if f.code in codes]
        assert not bad, f"{case.relative_to(ROOT)}/good still reports: {bad}"
        assert not any("internal:" in e.message for e in result.errors), result.errors


@pytest.mark.parametrize("case", _cases(CHECKS), ids=lambda p: str(p.relative_to(CHECKS)))
def test_rule_case(case: Path) -> None:
    _check(case)


@pytest.mark.parametrize("case", _cases(REGRESSIONS), ids=lambda p: str(p.relative_to(REGRESSIONS)))
def test_regression(case: Path) -> None:
    meta = _meta(case)
    assert meta.get("record") and meta.get("link"), f"{case}: case.json must name the dataset record and link"
    dev = (ROOT.parent / "shared" / "taxonomy" / "dev-split.tsv").read_text()
    assert f"\n{meta['record']}\t" in dev, f"{meta['record']} is not in dev-split.tsv"
    _check(case)
