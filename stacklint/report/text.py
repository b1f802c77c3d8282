"""Compiler-style text: ``path:line:col: SL101 [error] message`` plus a hint line."""
from __future__ import annotations

from typing import Any, Dict, List

from stacklint.findings import Result, Severity

_COLORS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}
_BOLD, _DIM, _RESET = "\033[1m", "\033[2m", "\033[0m"


def render(result: Result, rules: Dict[str, Any], *, color: bool = False, statistics: bool = False) -> str:
    def c(code: str, text: str) -> str:
        return f"{code}{text}{_RESET}" if color else text

    lines: List[str] = []
    for f in result.findings:
        sev = c(_COLORS[f.severity], f"[{f.severity}]")
        mark = " [*]" if f.fix is not None else ""
        lines.append(f"{c(_BOLD, f'{f.location.path}:{f.location.line}:{f.location.col}:')} {f.code}{mark} {sev} {f.message}")
        for r in f.related:
            lines.append(c(_DIM, f"    {r.location.path}:{r.location.line}:{r.location.col}: {r.message}"))
        if f.hint:
            lines.append(f"    {c(_DIM, 'fix:')} {f.hint}")
    for e in result.errors:
        where = f"{e.path}:{e.line}" if e.line else e.path
        lines.append(f"{c(_BOLD, where + ':')} {c(_COLORS[Severity.ERROR], 'cannot check:')} {e.message}")
    if statistics and result.findings:
        counts: Dict[str, int] = {}
        for f in result.findings:
            counts[f.code] = counts.get(f.code, 0) + 1
        lines.append("")
        for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
            name = rules[code].name if code in rules else ""
            lines.append(f"{n:6d}  {code}  {name}")
    by = {s: sum(1 for f in result.findings if f.severity is s) for s in Severity}
    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    if result.findings:
        summary = (f"Found {n(len(result.findings), 'problem')} "
                   f"({n(by[Severity.ERROR], 'error')}, {n(by[Severity.WARNING], 'warning')}, "
                   f"{by[Severity.INFO]} info) in {n(result.files_scanned, 'file')}.")
    else:
        summary = f"All checks passed: {n(result.files_scanned, 'file')}, no problems."
    fixable = sum(1 for f in result.findings if f.fix is not None)
    if fixable:
        summary += f" [*] {fixable} fixable with `stacklint scan --fix` (preview with --diff)."
    if result.errors:
        summary += f" {len(result.errors)} file{'s' if len(result.errors) != 1 else ''} could not be checked."
    if lines:
        lines.append("")
    lines.append(summary)
    return "\n".join(lines) + "\n"
