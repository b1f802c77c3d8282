"""Apply the text edits that checks attach to findings (``--fix``) or show them (``--diff``).

Edits are character offsets into the scanned text (``stack.texts[path].text``). Per file they
are applied from the end so earlier offsets stay valid; an edit that overlaps one already
taken is dropped (the re-scan after writing reports what is left). A file is rewritten only
when its bytes on disk still decode to the text that was scanned, and only when the result
differs, so files without an applicable fix are never touched.
"""
from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Tuple

from stacklint.findings import Edit, Finding

if TYPE_CHECKING:
    from stacklint.model import Stack

_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass
class FileFix:
    path: str  # display path
    abspath: str
    before: str
    after: str
    applied: List[str] = field(default_factory=list)  # fix descriptions


def edits_by_file(findings: Iterable[Finding], unsafe: bool = False) -> Dict[str, List[Tuple[Edit, str]]]:
    """The edits of every fix that may be applied, grouped by file, in finding order."""
    out: Dict[str, List[Tuple[Edit, str]]] = {}
    for f in findings:
        if f.fix is None or not f.fix.edits or (not f.fix.safe and not unsafe):
            continue
        for e in f.fix.edits:
            out.setdefault(e.path, []).append((e, f.fix.description))
    return out


def apply_edits(text: str, edits: Iterable[Edit]) -> Tuple[str, List[Edit]]:
    """``text`` with the non-overlapping ``edits`` applied (first-come wins on overlap;
    identical duplicates count once); also returns the edits used."""
    taken: List[Edit] = []
    for e in sorted(set(edits), key=lambda e: (e.start, e.end, e.new)):
        if not 0 <= e.start <= e.end <= len(text):
            continue
        if taken and e.start < taken[-1].end:
            continue
        if taken and e.start == taken[-1].end == taken[-1].start == e.end:
            continue  # two insertions at one point: order would be arbitrary
        taken.append(e)
    out = text
    for e in reversed(taken):
        out = out[:e.start] + e.new + out[e.end:]
    return out, taken


def plan(stack: "Stack", findings: Iterable[Finding], unsafe: bool = False) -> List[FileFix]:
    """What --fix would change, file by file (sorted by path); files without a change are left out."""
    fixes: List[FileFix] = []
    for path, items in sorted(edits_by_file(findings, unsafe).items()):
        tf = stack.texts.get(path)
        if tf is None:
            continue
        after, used = apply_edits(tf.text, [e for e, _ in items])
        if after == tf.text:
            continue
        descs = []
        for e, d in items:
            if e in used and d not in descs:
                descs.append(d)
        fixes.append(FileFix(path, tf.abspath, tf.text, after, descs))
    return fixes


def unified_diff(fixes: Iterable[FileFix]) -> str:
    parts: List[str] = []
    for fx in fixes:
        diff = difflib.unified_diff(fx.before.splitlines(keepends=True), fx.after.splitlines(keepends=True),
                                    fromfile=f"a/{fx.path}", tofile=f"b/{fx.path}")
        for line in diff:
            parts.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(parts)


def write(fixes: Iterable[FileFix]) -> List[str]:
    """Write each fixed file in place; returns the display paths written. A file whose
    content changed since the scan (or that is not UTF-8) is skipped."""
    written: List[str] = []
    for fx in fixes:
        raw = _read(fx.abspath)
        if raw is None:
            continue
        bom = raw.startswith(_UTF8_BOM)
        try:
            current = raw[len(_UTF8_BOM):].decode("utf-8") if bom else raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if current != fx.before:
            continue
        data = (_UTF8_BOM if bom else b"") + fx.after.encode("utf-8")
        tmp = f"{fx.abspath}.stacklint-fix.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        try:
            os.chmod(tmp, os.stat(fx.abspath).st_mode & 0o7777)
        except OSError:
            pass
        os.replace(tmp, fx.abspath)
        written.append(fx.path)
    return written


def _read(abspath: str) -> Optional[bytes]:
    try:
        with open(abspath, "rb") as fh:
            return fh.read()
    except OSError:
        return None


# -- helpers for checks: offsets of the things they want to edit -----------------------

def line_col_offset(text: str, line: int, col: int, byte_col: bool = False) -> Optional[int]:
    """Character offset of 1-based (line, col); with ``byte_col`` the column counts UTF-8
    bytes, as Python's ``ast`` reports it."""
    if line < 1:
        return None
    start = 0
    for _ in range(line - 1):
        nl = text.find("\n", start)
        if nl < 0:
            return None
        start = nl + 1
    end = text.find("\n", start)
    row = text[start:] if end < 0 else text[start:end]
    if byte_col:
        raw = row.encode("utf-8")
        if col - 1 > len(raw):
            return None
        try:
            col = len(raw[:col - 1].decode("utf-8")) + 1
        except UnicodeDecodeError:
            return None
    if col - 1 > len(row):
        return None
    return start + col - 1


def rename_keyword(text: str, path: str, line: int, col: int, old: str, new: str) -> Optional[Edit]:
    """An edit renaming the keyword ``old=`` written at (line, col) (ast byte column)."""
    off = line_col_offset(text, line, col, byte_col=True)
    if off is None or text[off:off + len(old)] != old:
        return None
    rest = text[off + len(old):].lstrip(" \t")
    if not rest.startswith("=") or rest.startswith("=="):
        return None
    return Edit(path, off, off + len(old), new)


def json_value_span(text: str, key_offset: int) -> Optional[Tuple[int, int]]:
    """(start, end) of the value of the JSON member whose key string starts at ``key_offset``."""
    import json

    if key_offset >= len(text) or text[key_offset] != '"':
        return None
    try:
        _, after_key = json.decoder.scanstring(text, key_offset + 1)
    except (ValueError, IndexError):
        return None
    i = after_key
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    if i >= len(text) or text[i] != ":":
        return None
    i += 1
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    try:
        _, end = json.JSONDecoder().raw_decode(text, i)
    except ValueError:
        return None
    return i, end
