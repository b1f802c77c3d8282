"""Rule metadata completeness: taxonomy, docs, evidence, codes, and a bad/good case for each."""
from __future__ import annotations

import json
import re

import pytest

from conftest import ROOT, SHARED
from stacklint import registry
from stacklint.findings import Severity

RULES = registry.load_all()
ENGINE = {code for code, r in RULES.items() if code.startswith("SL0")}
DATASET_LINKS = {r["link"] for r in json.loads((SHARED / "taxonomy" / "open-llm-failures.json").read_text())}


# Rules whose dataset thread has not been found and read yet: they cite primary sources only.
PENDING_EVIDENCE = {"SL105", "SL106", "SL107", "SL108", "SL109", "SL110", "SL111", "SL112", "SL131", "SL132", "SL133", "SL135", "SL413", "SL415", "SL416", "SL604", "SL607", "SL608", "SL609", "SL611"}


def _taxonomy_from_readme() -> set:
    pairs = set()
    for line in (SHARED / "taxonomy" / "README.md").read_text().splitlines():
        m = re.match(r"\| ([A-Z][^|]+?) \| ([A-Z][^|]+?) \| (\d+) \|", line)
        if m:
            pairs.add((m.group(1), m.group(2)))
    return pairs


def test_shipped_taxonomy_matches_the_dataset_readme():
    assert set(registry.taxonomy()) == _taxonomy_from_readme()


@pytest.mark.parametrize("code", sorted(set(RULES) - ENGINE))
def test_rule_metadata(code: str):
    r = RULES[code]
    assert (r.category, r.subcategory) in registry.taxonomy()
    assert re.match(r"^SL[1-9]\d{2}$", r.code)
    digit = int(r.code[2])
    categories = ["", "Environment Compatibility Issues", "Configuration and Parameter Setting Errors",
                  "Data and Computation Issues", "API Usage and Interface Issues",
                  "Distributed and Parallel Computing Issues", "Tokenizer and Text Processing Issues",
                  "Hardware and Resource Limitations", "Algorithm Implementation Defects", "Model Corruption Issues"]
    assert r.category == categories[digit], f"{code}: hundreds digit {digit} is {categories[digit]}"
    for section in registry.DOC_SECTIONS:
        assert section in r.doc
    # a sentence: capitalised, unless it opens with a name spelled in lower case (vLLM)
    assert r.summary and (r.summary[0].isupper() or r.summary.split()[0] in {"vLLM"})
    assert all(isinstance(e, str) and e.startswith("https://") for e in r.evidence) and r.evidence
    if r.preview:
        # preview rules cite the projects' own sources; no dataset record yet, so never on by default
        assert not r.default
    elif code not in PENDING_EVIDENCE:
        assert any(link in DATASET_LINKS for link in r.evidence), f"{code}: no evidence link to a dataset record"
    if r.severity is not Severity.ERROR:
        assert not r.default, f"{code}: advisory (warning/info) rules are opt-in"


@pytest.mark.parametrize("code", sorted(set(RULES) - ENGINE))
def test_every_rule_has_a_bad_and_a_good_case(code: str):
    case = ROOT / "tests" / "checks" / code
    cases = [case] + ([p for p in case.iterdir() if p.is_dir()] if case.is_dir() else [])
    regress = [p for p in (ROOT / "tests" / "regressions").glob("*/case.json")
               if code in json.loads(p.read_text()).get("codes", [])]
    has_bad = any((c / "bad" / "expected.json").exists() for c in cases) or bool(regress)
    has_good = any((c / "good").is_dir() for c in cases) or any((p.parent / "good").is_dir() for p in regress)
    assert has_bad and has_good, f"{code} needs tests/checks/{code}/bad and good (or a regression fixture)"


def test_codes_and_names_unique():
    names = [r.name for r in RULES.values()]
    assert len(names) == len(set(names))


def test_validation_rejects_bad_metadata():
    with pytest.raises(registry.RuleError):
        @registry.check(code="SL1", name="Bad_Name", severity="error", category="x", subcategory="y",
                        summary="s", evidence=())
        def bad(stack):  # pragma: no cover
            """nothing"""
            return iter(())


def test_packages_listed_in_pyproject_match_the_tree():
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    mapping = cfg["package-dir"]
    found = set()
    for pkg, folder in mapping.items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            if "scripts" in rel.parts:
                continue
            found.add(".".join([pkg] + list(rel.parts)) if rel.parts else pkg)
    assert found == listed


def test_readme_rules_table_is_current():
    from stacklint.docs import rules_table

    text = (ROOT / "README.md").read_text()
    start, end = "<!-- rules-table:start -->", "<!-- rules-table:end -->"
    assert start in text and end in text
    current = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert current == rules_table().strip(), "run `python -m stacklint.docs` to regenerate the README table"


def test_rule_docs_are_markdown_without_the_docstring_indentation():
    # indented body lines would render as code blocks in `stacklint explain` and SARIF help
    for code, r in RULES.items():
        for section in registry.DOC_SECTIONS:
            assert ("\n" + section + "\n") in ("\n" + r.doc + "\n"), f"{code}: {section!r} is not at the line start"
