"""Inline suppressions (``# stacklint: ignore[SL101] -- reason``) and baselines."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Set, Tuple

from stacklint.findings import Finding

_COMMENT = re.compile(r"#\s*stacklint:\s*ignore(?:\[([^\]]*)\])?(?:\s*--\s*(.*))?", re.I)


@dataclass
class Suppression:
    path: str
    line: int  # line of the comment
    col: int
    codes: Optional[Tuple[str, ...]]  # None: every rule
    reason: str
    own_line: bool  # the comment is alone on its line: it covers the next line
    used: Set[str] = field(default_factory=set)

    def covers(self, code: str, line: int) -> bool:
        if line != self.line and not (self.own_line and line == self.line + 1):
            return False
        return self.codes is None or code in self.codes


def scan(path: str, text: str) -> List[Suppression]:
    if "stacklint:" not in text:
        return []
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if "stacklint:" not in line:
            continue
        m = _COMMENT.search(line)
        if not m:
            continue
        codes = None
        if m.group(1) is not None:
            codes = tuple(c.strip().upper() for c in m.group(1).split(",") if c.strip())
        own = not line[: m.start()].strip()
        out.append(Suppression(path, n, m.start() + 1, codes, (m.group(2) or "").strip(), own))
    return out


def apply(findings: Iterable[Finding], suppressions: Dict[str, List[Suppression]]) -> List[Finding]:
    kept = []
    for f in findings:
        hit = None
        for s in suppressions.get(f.location.path, ()):
            if s.covers(f.code, f.location.line):
                hit = s
                break
        if hit is None:
            kept.append(f)
        else:
            hit.used.add(f.code)
    return kept


def read_baseline(path: str) -> Set[str]:
    from stacklint.config import ConfigError

    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read baseline: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("fingerprints"), list):
        raise ConfigError(f"{path}: not a stacklint baseline (no 'fingerprints' list)")
    return {str(x) for x in data["fingerprints"]}


def write_baseline(path: str, findings: Iterable[Finding], version: str) -> int:
    fps = sorted({f.fingerprint() for f in findings})
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"tool": "stacklint", "version": version, "fingerprints": fps}, fh, indent=1)
        fh.write("\n")
    return len(fps)
