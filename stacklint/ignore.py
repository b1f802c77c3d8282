"""A small .gitignore matcher (the subset real repositories use)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Pattern, Tuple


@dataclass(frozen=True)
class _Rule:
    regex: Pattern[str]
    negate: bool
    dir_only: bool


def _translate(pattern: str) -> str:
    """gitignore glob -> regex over a '/'-separated path relative to the .gitignore."""
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.strip("/")
    i, out = 0, []
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern[i : i + 3] == "**/":
                out.append("(?:.*/)?")
                i += 3
                continue
            if pattern[i : i + 2] == "**":
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pattern.find("]", i + 1)
            if j == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1 : j].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j
        elif c == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(c))
        i += 1
    body = "".join(out)
    prefix = "" if anchored else "(?:.*/)?"
    return f"^{prefix}{body}(?:/.*)?$"


class IgnoreFile:
    def __init__(self, base: str, text: str) -> None:
        self.base = base.strip("/")  # directory of the .gitignore, relative to the root
        rules: List[_Rule] = []
        for raw in text.splitlines():
            line = raw.rstrip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            if negate:
                line = line[1:]
            dir_only = line.endswith("/")
            try:
                rules.append(_Rule(re.compile(_translate(line)), negate, dir_only))
            except re.error:
                continue
        self.rules = rules

    def match(self, relpath: str, is_dir: bool) -> Optional[bool]:
        """True ignored, False re-included, None no opinion. ``relpath`` is root-relative."""
        if self.base:
            if not relpath.startswith(self.base + "/"):
                return None
            relpath = relpath[len(self.base) + 1 :]
        verdict: Optional[bool] = None
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                # "build/" still ignores files below a directory called build
                if not any(rule.regex.match(p) for p in _parents(relpath)):
                    continue
            elif not rule.regex.match(relpath):
                continue
            verdict = not rule.negate
        return verdict


def _parents(relpath: str) -> Tuple[str, ...]:
    parts = relpath.split("/")[:-1]
    return tuple("/".join(parts[: i + 1]) for i in range(len(parts)))


class IgnoreStack:
    def __init__(self) -> None:
        self.files: List[IgnoreFile] = []

    def add(self, f: IgnoreFile) -> None:
        self.files.append(f)

    def ignored(self, relpath: str, is_dir: bool) -> bool:
        verdict: Optional[bool] = None
        for f in self.files:
            v = f.match(relpath, is_dir)
            if v is not None:
                verdict = v
        return bool(verdict)
