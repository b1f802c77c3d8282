"""Shared parser types: positioned documents and parse errors."""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from stacklint.findings import Location

KeyPath = Tuple[Any, ...]


class ParseError(Exception):
    """A file that cannot be read as its kind; becomes an SL001 finding."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = max(1, line)
        self.col = max(1, col)


class LimitExceeded(ParseError):
    """A configured safety limit (size, nesting, alias expansion) was hit."""


class LineIndex:
    """Offset -> (line, col) in O(log n)."""

    __slots__ = ("_starts",)

    def __init__(self, text: str) -> None:
        starts = [0]
        find = text.find
        i = find("\n")
        while i != -1:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self._starts = starts

    def position(self, offset: int) -> Tuple[int, int]:
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1

    def offset(self, line: int, col: int = 1) -> int:
        if line - 1 >= len(self._starts):
            return self._starts[-1]
        return self._starts[line - 1] + col - 1


@dataclass
class Doc:
    """Structured data read from one file (or one YAML document of it).

    ``data`` is plain Python (dict, list, str, int, ...). ``loc(*path)`` returns where the
    value at ``path`` (mapping keys and list indices) sits, falling back to the nearest
    ancestor that has a known position. Positions may be computed lazily.
    """

    path: str
    data: Any
    positions: Optional[Dict[KeyPath, Tuple[int, int]]] = None
    locate: Optional[Callable[[], Any]] = None  # -> a mapping of positions (dict or lazy .get)
    index: int = 0  # document number within a multi-document YAML stream
    base_line: int = 1

    def _positions(self) -> Any:
        if self.positions is None:
            self.positions = self.locate() if self.locate is not None else {}
        return self.positions

    def loc(self, *path: Any) -> Location:
        positions = self._positions()
        key: KeyPath = tuple(path)
        if not isinstance(positions, dict):
            # a lazy locator: ask only for the part of the path present in the data, so that
            # it never scans a whole file for a key that is not there
            node = self.data
            n = 0
            for part in path:
                if isinstance(node, dict) and part in node:
                    node = node[part]
                elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                    node = node[part]
                else:
                    break
                n += 1
            key = key[:n]
        while True:
            pos = positions.get(key)
            if pos is not None:
                return Location(self.path, pos[0], pos[1])
            if not key:
                return Location(self.path, self.base_line, 1)
            key = key[:-1]

    def get(self, *path: Any, default: Any = None) -> Any:
        node = self.data
        for part in path:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and -len(node) <= part < len(node):
                node = node[part]
            else:
                return default
        return node


@dataclass
class TextFile:
    """The raw text of a scanned file, shared by parsers, suppressions and fixes."""

    path: str  # display path
    abspath: str
    text: str
    _index: Optional[LineIndex] = field(default=None, repr=False)

    @property
    def lines(self) -> Sequence[str]:
        return self.text.splitlines()

    @property
    def index(self) -> LineIndex:
        if self._index is None:
            self._index = LineIndex(self.text)
        return self._index
