"""Large scans in batches of independent projects.

A scan of thousands of stack files (a monorepo of projects, a directory of checkouts) does not
need every parsed file in memory at once: a file is only ever joined with files of its own
*project*. Holding one batch of projects at a time keeps memory flat as the tree grows, and
batches run in worker processes, so both the parsing and the checks use every core.

How files form projects (``plan``):

* A *unit* is the shallowest directory on a file's path that holds stack files itself. Every
  file below a directory with stack files shares that directory's unit, so the environment of
  a path (its directory and its ancestors, see ``stacklint.model``) never leaves its unit.
* Units are joined into one project when a file of one names a path of the other: every
  slash-separated word of the file (``../models/qwen``, ``configs/ds_z3.json``,
  ``../common/requirements.txt``, a bind mount ``../weights:/models``) is resolved against the
  file's directory and each of its ancestors up to the scan root, and any existing directory
  or stack file it lands on links the two units (a directory above several units links all of
  them). This is a superset of every path the stack builder and the checks resolve.
* Joins that match by file name alone (a Dockerfile's ``pip install -r /app/requirements.txt``
  matched to a repository file with the same tail) stay inside the project, in batched and
  unbatched scans alike (``project`` on the stack).

Below ``BATCH_MIN_FILES`` files nothing of this runs: the scan is one stack, as it always was.
"""
from __future__ import annotations

import posixpath
import re
from typing import Dict, List, Optional, Sequence, Set, Tuple

from stacklint import discover as K
from stacklint.discover import Candidate

BATCH_MIN_FILES = 2000
BATCH_FILES = 100  # projects are packed into batches of at least this many files (small: the
# workers stay balanced to the end of the scan)
_MAX_READ = 1 << 20  # bytes of each file searched for paths
# Files whose contents never name another file the stack joins with: weights, and the files of a
# model directory other than adapter_config.json (whose base model path is read). Their own
# directory holds stack files, so whatever names that directory joins them anyway.
_NO_REFERENCES = frozenset({K.SAFETENSORS, K.MODEL_ASSET, K.HF_CONFIG, K.HF_GENERATION, K.HF_TOKENIZER,
                            K.HF_SPECIAL_TOKENS, K.HF_INDEX, K.HF_CHAT_TEMPLATE, K.HF_CHAT_TEMPLATE_JSON})
_TOKEN = re.compile(r"(?<![\w.@+-])[\w.@+-]*+(?:/[\w.@+-]++)+")


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        p = self.parent
        while p[i] != i:
            p[i] = p[p[i]]
            i = p[i]
        return i

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # the smaller index wins: the result does not depend on the order of the joins
            if ra < rb:
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb


def _split(c: Candidate) -> Tuple[str, List[str]]:
    """(display path of the root the file was found under, the directories of its relpath)."""
    root = c.display[: len(c.display) - len(c.relpath)].rstrip("/") or "."
    return root, c.relpath.split("/")[:-1]


def _join(root: str, rel: str) -> str:
    if not rel:
        return root
    return rel if root == "." else f"{root}/{rel}"


def plan(files: Sequence[Candidate], listing: Dict[str, Tuple[str, ...]],
         max_read: int = _MAX_READ) -> List[int]:
    """The project of each file (an int, the same for files that may be joined)."""
    # -- units
    has_files: Set[str] = set()
    splits = [_split(c) for c in files]
    for root, dirs in splits:
        has_files.add(_join(root, "/".join(dirs)))
    unit_index: Dict[str, int] = {}
    file_unit: List[int] = []
    for root, dirs in splits:
        for k in range(len(dirs) + 1):
            d = _join(root, "/".join(dirs[:k]))
            if d in has_files:
                file_unit.append(unit_index.setdefault(d, len(unit_index)))
                break
    units = _Union(len(unit_index))
    if len(unit_index) > 1:
        _link(files, splits, file_unit, unit_index, listing, units, max_read)
    project_of_unit: Dict[int, int] = {}
    out = []
    for u in file_unit:
        out.append(project_of_unit.setdefault(units.find(u), len(project_of_unit)))
    return out


def _link(files: Sequence[Candidate], splits: List[Tuple[str, List[str]]], file_unit: List[int],
          unit_index: Dict[str, int], listing: Dict[str, Tuple[str, ...]], units: _Union,
          max_read: int) -> None:
    by_display = {c.display: file_unit[i] for i, c in enumerate(files)}
    # directories above units (no stack files of their own): the units below each one
    below: Dict[str, List[int]] = {}
    roots = {root for root, _ in splits}
    for d, u in unit_index.items():
        p = d
        while p not in roots:
            p = posixpath.dirname(p) or "."
            below.setdefault(p, []).append(u)

    def unit_at(path: str, root: str) -> List[int]:
        if path in by_display:
            return [by_display[path]]
        if path not in listing:
            return []  # not a directory of the tree; files that are no stack files join nothing
        if path in below:
            return below[path]
        p = path
        while True:
            if p in unit_index:
                return [unit_index[p]]
            if p == root:
                return []
            p = posixpath.dirname(p) or "."

    # a path that lands on a directory of the tree begins with the name of one (after any
    # ./ and ../): words that do not (hub ids, URLs, dates) are dropped before resolving
    dir_names = {d.rsplit("/", 1)[-1] for d in listing}
    dir_names.update(("..", "."))

    for i, c in enumerate(files):
        if c.kind in _NO_REFERENCES:
            continue
        try:
            with open(c.abspath, "rb") as fh:
                data = fh.read(max_read)
        except OSError:
            continue
        if b"/" not in data:
            continue
        text = data.decode("utf-8", "replace")
        tokens: Set[str] = set()
        for line in text.split("\n"):
            if "/" in line:
                tokens.update(_TOKEN.findall(line))
        tokens = {t for t in tokens if _first(t) in dir_names}
        if not tokens:
            continue
        root, dirs = splits[i]
        bases = [_join(root, "/".join(dirs[:k])) for k in range(len(dirs), -1, -1)]
        base_set = set(bases)
        me = file_unit[i]
        for tok in tokens:
            for base in bases:
                cand = _resolve(base, tok, root)
                if cand is None or cand in base_set:
                    continue  # outside the tree, or a directory holding this file (`../..`)
                for u in unit_at(cand, root):
                    units.join(me, u)


def _first(tok: str) -> str:
    """The first segment of a relative path after its ./ and ../ ('' for an absolute path)."""
    for seg in tok.split("/"):
        if seg != "." and seg != "..":
            return seg
    return ".."


def _resolve(base: str, tok: str, root: str) -> Optional[str]:
    p = posixpath.normpath(tok if base == "." else f"{base}/{tok}")
    if root == ".":
        return None if p == "." or p.startswith("../") or p == ".." or p.startswith("/") else p
    if p == root or not p.startswith(root + "/"):
        return None
    return p


def batches(projects: Sequence[int], size: int = BATCH_FILES) -> List[List[int]]:
    """File indices grouped by project and packed into batches of at least ``size`` files, in
    the order of each project's first file; each batch lists its files in walk order."""
    members: Dict[int, List[int]] = {}
    for i, p in enumerate(projects):
        members.setdefault(p, []).append(i)
    out: List[List[int]] = []
    cur: List[int] = []
    for p in sorted(members, key=lambda p: members[p][0]):
        cur.extend(members[p])
        if len(cur) >= size:
            out.append(sorted(cur))
            cur = []
    if cur:
        out.append(sorted(cur))
    return out
