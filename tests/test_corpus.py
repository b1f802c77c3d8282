"""The whole public corpus: no crash, no internal error, and no error-level finding that is not
a verdict-backed real problem (tests/corpus_allowlist.json)."""
from __future__ import annotations

import json

import pytest

from conftest import CORPUS, ROOT, run_scan
from stacklint.findings import Severity

ALLOW = json.loads((ROOT / "tests" / "corpus_allowlist.json").read_text())


@pytest.fixture(scope="module")
def corpus_scan():
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not beside the checkout")
    return run_scan(CORPUS, select=["ALL"])


def test_no_internal_errors(corpus_scan):
    result, _ = corpus_scan
    internal = [e.message for e in result.errors if e.message.startswith("internal:")]
    assert internal == []


def test_only_genuinely_unparseable_files_are_errors(corpus_scan):
    result, _ = corpus_scan
    paths = sorted({e.path for e in result.errors})
    unexpected = [p for p in paths if p not in ALLOW["unparseable"]]
    assert unexpected == [], [e for e in result.errors if e.path in unexpected]


def test_error_findings_are_all_verdict_backed(corpus_scan):
    result, _ = corpus_scan
    allowed = {(f["code"], f["path"]) for f in ALLOW["findings"]}
    new = [(f.code, f.location.path, f.location.line, f.message) for f in result.findings
           if f.severity is Severity.ERROR and (f.code, f.location.path) not in allowed]
    assert new == [], "new error-level findings on the real corpus: fix the rule or add a verdict"


def test_scans_most_of_the_corpus(corpus_scan):
    result, stack = corpus_scan
    assert result.files_scanned > 2000
    assert len(stack.install_sets) > 300
    assert len(stack.model_dirs) > 80
    assert sum(1 for _ in stack.training_jobs()) > 500
    assert sum(1 for _ in stack.serving_jobs()) > 50
