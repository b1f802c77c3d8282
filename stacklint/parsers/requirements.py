"""pip requirements files (``-r``/``-c`` includes are resolved by the stack builder)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Tuple

from stacklint.parsers.base import ParseError


@dataclass(frozen=True)
class ReqLine:
    raw: str
    line: int
    col: int = 1
    name: Optional[str] = None
    specifier: str = ""
    extras: Tuple[str, ...] = ()
    marker: Optional[str] = None
    url: Optional[str] = None
    editable: bool = False


@dataclass
class RequirementsDoc:
    path: str
    requirements: List[ReqLine] = field(default_factory=list)
    includes: List[Tuple[str, int, bool]] = field(default_factory=list)  # (target, line, is_constraint)
    index_urls: List[Tuple[str, int]] = field(default_factory=list)
    invalid: List[Tuple[int, str]] = field(default_factory=list)


def parse(path: str, abspath: str, text: str) -> RequirementsDoc:
    """``abspath`` is only a label: the library is fed ``text`` (already read within the size
    limit and decoded), so the file is never opened a second time.

    Files made only of plain ``name[extras] specifiers ; marker`` lines (most of them) are
    read by ``_simple``, which gives the same result as the library without importing it
    (~30 ms of start-up: it pulls in urllib, http, ssl and email) or building optparse
    parsers; anything else (options, includes, URLs, paths, editables, wheels, variables,
    lines the library would report as invalid) goes to the library."""
    doc = _simple(path, text)
    if doc is not None:
        return doc
    try:
        rf = _library_parse(abspath, text)
    except RecursionError:
        raise ParseError("unreadable requirements file: nested too deeply") from None
    except Exception as exc:  # the library raises assorted errors on odd input
        raise ParseError(f"unreadable requirements file: {exc}") from None
    doc = RequirementsDoc(path)
    lines = text.splitlines()
    for r in rf.requirements:
        n = r.line_number or 1
        raw = (r.line or "").strip()
        col = _column(lines, n, raw)
        req = r.req
        name = req.name if req is not None else r.name
        doc.requirements.append(ReqLine(
            raw=raw, line=n, col=col, name=name,
            specifier=str(req.specifier) if req is not None else "",
            extras=tuple(sorted(req.extras)) if req is not None else (),
            marker=_marker(req, r),
            url=(str(r.link.url) if r.link is not None else None),
            editable=bool(r.is_editable),
        ))
    for o in rf.options:
        opts = o.options or {}
        n = o.line_number or 1
        for target in opts.get("requirements", []) or []:
            doc.includes.append((target, n, False))
        for target in opts.get("constraints", []) or []:
            doc.includes.append((target, n, True))
        for key in ("index_url", "extra_index_urls", "find_links"):
            val = opts.get(key)
            for url in ([val] if isinstance(val, str) else (val or [])):
                doc.index_urls.append((url, n))
    for inv in getattr(rf, "invalid_lines", []) or []:
        doc.invalid.append((getattr(inv, "line_number", 1) or 1, getattr(inv, "error_message", "") or ""))
    return doc


_COMMENT = r"(^|\s+)(#.*)$"  # the library's (pip's) comment rule
# A requirement made of a name, extras, version specifiers and a marker, with none of the
# characters that make pip read it as a URL, a path, an archive or a variable.
_PLAIN = r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*(\[[A-Za-z0-9._,\s-]*\])?\s*[A-Za-z0-9.*+!=<>~,\s]*(;[^@/\\$]*)?$"
_rx_cache: List[Any] = []


def _simple(path: str, text: str) -> Optional[RequirementsDoc]:
    if "\\" in text or "/" in text or "@" in text or "$" in text:
        return None  # continuations, URLs, paths, variables: the library's business
    import re

    if not _rx_cache:
        _rx_cache.extend((re.compile(_COMMENT), re.compile(_PLAIN)))
    comment, plain = _rx_cache
    doc = RequirementsDoc(path)
    lines = text.splitlines()
    reqs: List[Tuple[int, str]] = []
    for n, line in enumerate(lines, 1):
        parts = [p.strip() for p in comment.split(line) if p.strip()]
        if not parts or parts[0].startswith("#"):
            continue
        req = parts[0]
        if any(t.startswith("-") for t in req.split(" ")) or not plain.match(req):
            return None
        low = req.split(";", 1)[0].lower()
        if ".whl" in low or ".zip" in low or ".tar" in low:
            return None
        reqs.append((n, req))
    if not reqs:
        return doc
    from packaging.requirements import InvalidRequirement, Requirement

    for n, raw in reqs:
        try:
            r = Requirement(raw)
        except InvalidRequirement:
            return None  # the library reports it among its invalid lines
        if r.url:
            return None
        doc.requirements.append(ReqLine(
            raw=raw, line=n, col=_column(lines, n, raw), name=r.name, specifier=str(r.specifier),
            extras=tuple(sorted(r.extras)), marker=str(r.marker) if r.marker is not None else None))
    return doc


def _library_parse(label: str, text: str) -> Any:
    import pip_requirements_parser as prp  # ~40 ms: only when a requirements file is read

    # The library re-reads the file by name (unbounded, and in the locale's encoding) and
    # builds an optparse parser for every line (~1 ms each, most of a corpus scan). Feed it
    # the text we read, and share one parser for the lines that carry no options: a parser
    # is rebuilt per line only because appendable options accumulate, and parse_args([])
    # appends nothing.
    shared = prp.build_parser()

    def line_parser() -> Callable[[str], Tuple[str, Any, Any]]:
        def parse_line(line: str) -> Tuple[str, Any, Any]:
            args_str, options_str = prp.break_args_options(line)
            if not options_str.strip():
                opts, arguments = shared.parse_args([], shared.get_default_values())
                return args_str, opts, arguments
            parser = prp.build_parser()
            opts, arguments = parser.parse_args(prp.shlex.split(options_str), parser.get_default_values())
            return args_str, opts, arguments
        return parse_line

    saved = prp.get_file_content, prp.get_line_parser
    prp.get_file_content = lambda filename: text
    prp.get_line_parser = line_parser
    try:
        return prp.RequirementsFile.from_file(label, include_nested=False)
    finally:
        prp.get_file_content, prp.get_line_parser = saved


def _marker(req: object, r: object) -> Optional[str]:
    for m in (getattr(req, "marker", None), getattr(r, "marker", None)):
        if m is not None:
            return str(m)
    return None


def _column(lines: List[str], n: int, raw: str) -> int:
    if 1 <= n <= len(lines):
        text = lines[n - 1]
        head = raw[:12]
        i = text.find(head) if head else -1
        if i >= 0:
            return i + 1
        return len(text) - len(text.lstrip()) + 1
    return 1


