"""JSON with positions: ``json`` for the data, a lazy scanner for where each value sits."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

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
    return Doc(path, data, locate=lambda: locate(text))


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


def locate(text: str) -> Dict[KeyPath, Tuple[int, int]]:
    """Map each key path to the (line, col) of its member key or array item.

    Tolerant single pass; only meaningful on text that ``json.loads`` accepted.
    """
    idx = LineIndex(text)
    out: Dict[KeyPath, Tuple[int, int]] = {(): (1, 1)}
    # Each frame: [path, is_object, next_index, pending_key]
    stack: List[list] = []
    i, n = 0, len(text)
    expect_key = False
    while i < n:
        c = text[i]
        if c in _WS or c == "," or c == ":":
            if c == "," and stack and stack[-1][1]:
                expect_key = True
            i += 1
            continue
        if stack and not stack[-1][1] and c != "]":
            frame = stack[-1]
            here = frame[0] + (frame[2],)
            frame[2] += 1
            out.setdefault(here, idx.position(i))
            cur = here
        elif stack and stack[-1][1] and c == '"' and expect_key:
            end = _string_end(text, i)
            try:
                key = json.loads(text[i:end])
            except ValueError:
                key = text[i + 1 : end - 1]
            stack[-1][3] = stack[-1][0] + (key,)
            out.setdefault(stack[-1][3], idx.position(i))
            expect_key = False
            i = end
            continue
        else:
            cur = stack[-1][3] if stack and stack[-1][1] else ()
        if c == "{":
            stack.append([cur, True, 0, cur])
            expect_key = True
            i += 1
        elif c == "[":
            stack.append([cur, False, 0, cur])
            i += 1
        elif c in "}]":
            if stack:
                stack.pop()
            expect_key = False
            i += 1
        elif c == '"':
            i = _string_end(text, i)
        else:
            j = i
            while j < n and text[j] not in _WS and text[j] not in ",]}":
                j += 1
            i = max(j, i + 1)
    return out


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
