"""JSON with positions: ``json`` for the data, a lazy scanner for where each value sits."""
from __future__ import annotations

import json
from functools import partial
from typing import Any, Dict, Iterator, List, Tuple

from stacklint.parsers.base import Doc, KeyPath, LimitExceeded, LineIndex, ParseError

_WS = " \t\r\n"


def parse(path: str, text: str, *, max_depth: int = 256) -> Doc:
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = json.loads(text)
    except RecursionError:
        raise LimitExceeded(f"JSON nested deeper than this Python can parse (limit {max_depth})") from None
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    depth = _depth(data, max_depth)
    if depth > max_depth:
        raise LimitExceeded(f"JSON nested {depth}+ levels deep (limit {max_depth})")
    return Doc(path, data, locate=partial(LazyPositions, text))  # picklable: parsed in worker processes


def _depth(data: Any, limit: int) -> int:
    """Nesting depth, stopping early past ``limit`` (iterative: no recursion)."""
    stack: List[Tuple[Any, int]] = [(data, 1)]
    best = 0
    while stack:
        node, d = stack.pop()
        if d > best:
            best = d
            if best > limit:
                return best
        if isinstance(node, dict):
            stack.extend((v, d + 1) for v in node.values() if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, d + 1) for v in node if isinstance(v, (dict, list)))
    return best


_TOKEN = r'"(?:[^"\\]|\\.)*"?|[{}\[\],:]|[^\s{}\[\],:"]+'
_token_rx: List[Any] = []


def locate(text: str) -> Dict[KeyPath, Tuple[int, int]]:
    """Map each key path to the (line, col) of its member key or array item.

    Tolerant single pass over the tokens (a regular expression skips whitespace and reads
    strings whole); only meaningful on text that ``json.loads`` accepted.
    """
    out: Dict[KeyPath, Tuple[int, int]] = {(): (1, 1)}
    for _ in _scan(text, out):
        pass
    return out


class LazyPositions:
    """``locate`` on demand: the scan stops at the first key asked for and resumes from there
    for the next one. Checks ask for a few keys near the top of files that can be megabytes
    long (weights indexes, tokenizer configs); only a key absent from the text scans it all
    (``Doc.loc`` asks only for paths present in the data)."""

    __slots__ = ("_out", "_scan", "_text")

    def __init__(self, text: str) -> None:
        self._out: Dict[KeyPath, Tuple[int, int]] = {(): (1, 1)}
        self._scan: Any = _scan(text, self._out)
        self._text = text

    def all(self) -> Dict[KeyPath, Tuple[int, int]]:
        """Every position (scans the rest of the text)."""
        if self._scan is not None:
            for _ in self._scan:
                pass
            self._scan = None
        return self._out

    def get(self, key: KeyPath) -> Any:
        out = self._out
        pos = out.get(key)
        if pos is not None or self._scan is None:
            return pos
        if len(key) == 1 and isinstance(key[0], str) and '"' not in key[0] and "\\" not in key[0]:
            # a top-level key (present in the data) whose literal occurs once in the text is
            # there: no need to scan past a megabyte of added tokens to reach "chat_template"
            needle = f'"{key[0]}"'
            text = self._text
            at = text.find(needle)
            if at >= 0 and text.find(needle, at + 1) < 0:
                line = text.count("\n", 0, at) + 1
                col = at - (text.rfind("\n", 0, at) + 1) + 1
                return (line, col)
        for found in self._scan:
            if found == key:
                return out[key]
        self._scan = None
        return out.get(key)


def _scan(text: str, out: Dict[KeyPath, Tuple[int, int]]) -> Iterator[KeyPath]:
    """Record positions into ``out``, yielding each key path as it is first recorded."""
    if not _token_rx:
        import re

        _token_rx.append(re.compile(_TOKEN))
    position = LineIndex(text).position
    # Each frame: [path, is_object, next_index, pending_key]
    stack: List[list] = []
    expect_key = False
    for m in _token_rx[0].finditer(text):
        t = m.group()
        c = t[0]
        if c == ",":
            if stack and stack[-1][1]:
                expect_key = True
            continue
        if c == ":":
            continue
        top = stack[-1] if stack else None
        if top is not None and not top[1] and c != "]":
            here = top[0] + (top[2],)
            top[2] += 1
            if here not in out:
                out[here] = position(m.start())
                yield here
            cur = here
        elif top is not None and top[1] and c == '"' and expect_key:
            if "\\" in t:
                try:
                    key = json.loads(t)
                except ValueError:
                    key = t[1:-1]
            else:
                key = t[1:-1]
            top[3] = top[0] + (key,)
            if top[3] not in out:
                out[top[3]] = position(m.start())
                yield top[3]
            expect_key = False
            continue
        else:
            cur = top[3] if top is not None and top[1] else ()
        if c == "{":
            stack.append([cur, True, 0, cur])
            expect_key = True
        elif c == "[":
            stack.append([cur, False, 0, cur])
        elif c == "}" or c == "]":
            if stack:
                stack.pop()
            expect_key = False


def _string_end(text: str, i: int) -> int:
    j = i + 1
    n = len(text)
    while j < n:
        c = text[j]
        if c == "\\":
            j += 2
            continue
        if c == '"':
            return j + 1
        j += 1
    return n
