"""SARIF 2.1.0 for GitHub code scanning and other consumers."""
from __future__ import annotations

import json
from typing import Any, Dict, List

from stacklint import __version__
from stacklint.findings import Finding, Location, Result, Severity

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/stacklint/stacklint"


def _loc(loc: Location, message: str = "") -> Dict[str, Any]:
    region: Dict[str, Any] = {"startLine": max(1, loc.line), "startColumn": max(1, loc.col)}
    out: Dict[str, Any] = {"physicalLocation": {"artifactLocation": {"uri": loc.path.lstrip("/")}, "region": region}}
    if message:
        out["message"] = {"text": message}
    return out


def _rule(rule: Any) -> Dict[str, Any]:
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": rule.doc or rule.summary, "markdown": rule.doc or rule.summary},
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {"category": rule.category, "subcategory": rule.subcategory,
                       "tags": [rule.category, rule.subcategory], "evidence": list(rule.evidence)},
    }


def render(result: Result, rules: Dict[str, Any]) -> str:
    used = sorted({f.code for f in result.findings})
    descriptors = [_rule(rules[c]) for c in used if c in rules]
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    results: List[Dict[str, Any]] = []
    for f in result.findings:
        results.append(_result(f, index))
    notifications = [{"level": "error", "message": {"text": e.message},
                      "locations": [_loc(Location(e.path, e.line or 1, 1))]} for e in result.errors]
    run: Dict[str, Any] = {
        "tool": {"driver": {"name": "stacklint", "version": __version__, "semanticVersion": __version__,
                            "informationUri": INFO_URI, "rules": descriptors}},
        "results": results,
        "columnKind": "unicodeCodePoints",
        "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
    }
    doc = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _result(f: Finding, index: Dict[str, int]) -> Dict[str, Any]:
    text = f.message + (f" Fix: {f.hint}" if f.hint else "")
    r: Dict[str, Any] = {
        "ruleId": f.code,
        "level": _LEVEL[f.severity],
        "message": {"text": text},
        "locations": [_loc(f.location)],
        "partialFingerprints": {"stacklintFingerprint/v1": f.fingerprint()},
    }
    if f.code in index:
        r["ruleIndex"] = index[f.code]
    if f.related:
        r["relatedLocations"] = [dict(_loc(rel.location, rel.message), id=i + 1) for i, rel in enumerate(f.related)]
    return r
