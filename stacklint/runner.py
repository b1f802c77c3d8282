"""Run the selected checks over the stack; attach severity; suppress; sort."""
from __future__ import annotations

import fnmatch
import traceback
from typing import Dict, List, Optional, Sequence, Set

from stacklint.config import Config
from stacklint.findings import Finding, Location, Result, ScanError, Severity
from stacklint.model import Stack
from stacklint.registry import Rule
from stacklint.suppress import Suppression, apply, scan

UNUSED_SUPPRESSION = "SL003"


def run(stack: Stack, rules: Sequence[Rule], cfg: Config, *, only_paths: Optional[Set[str]] = None,
        baseline: Optional[Set[str]] = None, scan_root: str = ".") -> Result:
    result = Result()
    raw: List[Finding] = []
    for rule in rules:
        if rule.func is None:
            continue
        try:
            for f in rule.func(stack) or ():
                sev = cfg.severity.get(rule.code, rule.severity)
                raw.append(f.with_(severity=sev, name=rule.name))
        except Exception as exc:  # a check must never take the scan down
            tb = traceback.extract_tb(exc.__traceback__)
            where = f"{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else "?"
            result.errors.append(ScanError(scan_root, f"internal: check {rule.code} ({rule.name}) failed: "
                                                      f"{type(exc).__name__}: {exc} [{where}]"))
    raw = _dedupe(raw)
    raw = [f for f in raw if not _per_file_ignored(f, cfg.per_file_ignores)]
    sups: Dict[str, List[Suppression]] = {}
    for path, tf in stack.texts.items():
        found = scan(path, tf.text)
        if found:
            sups[path] = found
    kept = apply(raw, sups)
    selected = {r.code for r in rules}
    if UNUSED_SUPPRESSION in selected:
        for path, items in sups.items():
            for s in items:
                if s.used:
                    continue
                if s.codes is not None and not all(c in selected for c in s.codes):
                    continue  # a suppression for a rule not run here may be needed elsewhere
                what = ", ".join(s.codes) if s.codes else "all rules"
                kept.append(Finding(UNUSED_SUPPRESSION, Location(path, s.line, s.col),
                                    f"unused suppression ({what}): nothing was reported here",
                                    hint="remove the comment", severity=cfg.severity.get(UNUSED_SUPPRESSION, Severity.INFO),
                                    name="unused-suppression"))
    if only_paths is not None:
        kept = [f for f in kept if any(p in only_paths for p in f.paths())]
    if baseline:
        kept = [f for f in kept if f.fingerprint() not in baseline]
    kept.sort(key=lambda f: f.sort_key())
    result.findings = kept
    for path, (kind, message, line) in sorted(stack.failures.items()):
        if only_paths is None or path in only_paths:
            result.errors.append(ScanError(path, message, line))
    return result


def _dedupe(findings: List[Finding]) -> List[Finding]:
    seen = set()
    out = []
    for f in findings:
        k = (f.code, f.location.path, f.location.line, f.location.col, f.message)
        if k not in seen:
            seen.add(k)
            out.append(f)
    return out


def _per_file_ignored(f: Finding, pfi: Dict[str, List[str]]) -> bool:
    path = f.location.path
    for glob, codes in pfi.items():
        if fnmatch.fnmatch(path, glob) or fnmatch.fnmatch(path, f"*/{glob}") or fnmatch.fnmatch(path.rsplit("/", 1)[-1], glob):
            if any(c.upper() == "ALL" or f.code.startswith(c.upper()) or c == f.name for c in codes):
                return True
    return False


