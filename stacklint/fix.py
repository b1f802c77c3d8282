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
import re as _re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, Iterable, List, Optional, Tuple

from stacklint.findings import Edit, Finding

if TYPE_CHECKING:
    from packaging.version import Version

    from stacklint.findings import Fix
    from stacklint.model import Constraint, Stack

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


# -- raising a version floor in the requirements line that causes a finding -------------

_REQ_HEAD = _re.compile(r"\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?P<extras>\[[^\]]*\])?\s*")
_CLAUSE = _re.compile(r"\s*(===|==|!=|~=|>=|<=|>|<)\s*([^\s,;#]+)\s*")


def requirement_floor_edit(text: str, path: str, line: int, name: str, version: str) -> Optional[Edit]:
    """An edit of the one requirements-file line ``line`` that requires ``name`` so that it
    admits ``version`` and nothing older, keeping everything else on the line (extras, markers,
    hashes, comments) byte for byte:

    * ``name==OLD`` (OLD < version) -> ``name==version`` (an exact pin stays an exact pin);
    * ``name``, ``name>=OLD``, ``name>OLD`` and ranges -> the lower clauses
      replaced by ``>=version``, upper (``<``, ``<=``) and ``!=`` clauses kept;
    * None when the line already admits nothing older than ``version``, when an upper bound or
      an exclusion rejects ``version`` itself (no mechanical fix), for URLs, ``===``, ``~=`` or
      wildcard pins, or when the line is not a plain requirement of ``name``.
    """
    from packaging.specifiers import InvalidSpecifier, SpecifierSet
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    try:
        want = Version(version)
    except InvalidVersion:
        return None
    start = line_col_offset(text, line, 1)
    if start is None:
        return None
    end = text.find("\n", start)
    row = text[start:] if end < 0 else text[start:end]
    if row.endswith("\r"):
        row = row[:-1]
    head = _REQ_HEAD.match(row)
    if head is None or canonicalize_name(head.group("name")) != canonicalize_name(name):
        return None
    i = head.end()
    # the specifier runs to a marker (";"), a comment (" #"), an option (" --hash") or the end
    stop = len(row)
    for sep in (";", " #", "\t#", " --", "\t--"):
        j = row.find(sep, i)
        if j >= 0:
            stop = min(stop, j)
    if row.startswith("#", i) or "@" in row[i:stop] or "://" in row[i:stop]:
        return None
    spec_text = row[i:stop].rstrip()
    clauses = []
    for part in spec_text.split(",") if spec_text.strip() else []:
        m = _CLAUSE.fullmatch(part)
        if m is None:
            return None
        clauses.append((m.group(1), m.group(2)))
    try:
        current = SpecifierSet(",".join(op + v for op, v in clauses))
    except InvalidSpecifier:
        return None
    if any(op in ("===", "~=") or (v.endswith(".*") and op != "!=") for op, v in clauses):
        return None  # arbitrary equality, compatible-release and wildcard pins: not mechanical
    if not current.contains(want, prereleases=True):
        # only lower bounds may reject it; an upper bound or an exclusion means no mechanical fix
        for op, v in clauses:
            if op in ("<", "<=", "!=") and not SpecifierSet(op + v).contains(want, prereleases=True):
                return None
    lows = [(op, v) for op, v in clauses if op in ("==", ">=", ">")]
    if lows and all(_floor_at_least(op, v, want) for op, v in lows):
        return None  # already requires version or later
    if any(op == "==" for op, _ in clauses):
        new_spec = f"=={version}"
    else:
        kept = [op + v for op, v in clauses if op in ("<", "<=", "!=")]
        new_spec = ",".join([f">={version}"] + kept)
    s0 = start + i
    s1 = start + i + len(spec_text)
    return Edit(path, s0, s1, new_spec)


def _floor_at_least(op: str, v: str, want: "Version") -> bool:
    """The clause ``op v`` (==, >=, >) admits nothing older than ``want``."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(v) >= want
    except InvalidVersion:
        return False


def requirement_floor_fix(stack: "Stack", constraint: "Constraint", version: str) -> Optional["Fix"]:
    """A safe Fix raising ``constraint`` (one line of a requirements file) to admit ``version``
    and nothing older; None for pyproject/conda/Dockerfile constraints or lines it cannot rewrite
    mechanically (see :func:`requirement_floor_edit`)."""
    from stacklint.findings import Fix

    if constraint.origin != "requirements" or constraint.url or constraint.local:
        return None
    tf = stack.texts.get(constraint.location.path)
    if tf is None:
        return None
    edit = requirement_floor_edit(tf.text, constraint.location.path, constraint.location.line,
                                  constraint.name, version)
    if edit is None:
        return None
    return Fix(f"require {constraint.name}>={version}", (edit,))
