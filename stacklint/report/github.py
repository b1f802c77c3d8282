"""GitHub Actions workflow commands: one ::error/::warning/::notice annotation per finding."""
from __future__ import annotations

from typing import Any, Dict, List

from stacklint.findings import Result, Severity

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _esc_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _esc_prop(s: str) -> str:
    return _esc_data(s).replace(":", "%3A").replace(",", "%2C")


def render(result: Result, rules: Dict[str, Any]) -> str:
    out: List[str] = []
    for f in result.findings:
        msg = f.message + (f"\nfix: {f.hint}" if f.hint else "")
        for r in f.related:
            msg += f"\n{r.location.path}:{r.location.line}: {r.message}"
        out.append(f"::{_LEVEL[f.severity]} file={_esc_prop(f.location.path)},line={f.location.line},"
                   f"col={f.location.col},title={_esc_prop(f'{f.code} {f.name}')}::{_esc_data(msg)}")
    for e in result.errors:
        out.append(f"::error file={_esc_prop(e.path)},title=stacklint cannot check::{_esc_data(e.message)}")
    return "\n".join(out) + ("\n" if out else "")
