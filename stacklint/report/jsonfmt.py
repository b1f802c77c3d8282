"""The stable JSON contract (see README, "Output formats")."""
from __future__ import annotations

import json
from typing import Any, Dict

from stacklint import __version__
from stacklint.findings import Finding, Result


def finding_dict(f: Finding, rules: Dict[str, Any]) -> Dict[str, Any]:
    rule = rules.get(f.code)
    return {
        "rule": f.code,
        "name": f.name or (rule.name if rule else ""),
        "severity": str(f.severity),
        "category": rule.category if rule else "stacklint",
        "subcategory": rule.subcategory if rule else "engine",
        "path": f.location.path,
        "line": f.location.line,
        "column": f.location.col,
        "message": f.message,
        "fix": f.hint,
        "fixable": f.fix is not None,
        "fingerprint": f.fingerprint(),
        "related": [{"path": r.location.path, "line": r.location.line, "message": r.message} for r in f.related],
    }


def render(result: Result, rules: Dict[str, Any]) -> str:
    by = {"error": 0, "warning": 0, "info": 0}
    for f in result.findings:
        by[str(f.severity)] += 1
    out = {
        "tool": {"name": "stacklint", "version": __version__},
        "findings": [finding_dict(f, rules) for f in result.findings],
        "summary": {"files_scanned": result.files_scanned, "findings": len(result.findings), "by_severity": by},
        "errors": [{"path": e.path, "message": e.message} for e in result.errors],
    }
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"
