"""Findings, locations and fixes: the data every stage passes on."""
from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field, replace
from typing import Optional, Tuple


class Severity(enum.IntEnum):
    INFO = 1
    WARNING = 2
    ERROR = 3

    @classmethod
    def parse(cls, text: str) -> "Severity":
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r} (expected error, warning or info)") from None

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, order=True)
class Location:
    """A 1-based position in a file; ``path`` is relative to the scan's base directory."""

    path: str
    line: int = 1
    col: int = 1
    end_line: Optional[int] = None
    end_col: Optional[int] = None


@dataclass(frozen=True)
class Related:
    location: Location
    message: str


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (which must be found at byte-free text offsets start..end) by ``new``."""

    path: str
    start: int
    end: int
    new: str


@dataclass(frozen=True)
class Fix:
    description: str
    edits: Tuple[Edit, ...] = ()
    safe: bool = True


@dataclass(frozen=True)
class Finding:
    code: str
    location: Location
    message: str
    hint: Optional[str] = None
    related: Tuple[Related, ...] = ()
    fix: Optional[Fix] = None
    # Filled in by the runner from the rule's metadata and the configuration.
    severity: Severity = Severity.ERROR
    name: str = ""
    # Extra text (not positions) that makes the fingerprint stable across edits.
    key: str = ""

    def paths(self) -> Tuple[str, ...]:
        return (self.location.path,) + tuple(r.location.path for r in self.related)

    def fingerprint(self) -> str:
        """Stable across line moves: rule, file and the message's facts, not positions."""
        basis = "\0".join((self.code, self.location.path, self.key or self.message))
        return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:32]

    def sort_key(self) -> tuple:
        return (self.location.path, self.location.line, self.location.col, self.code, self.message)

    def with_(self, **changes: object) -> "Finding":
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass
class ScanError:
    path: str
    message: str
    line: Optional[int] = None


@dataclass
class Result:
    findings: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    files_scanned: int = 0
    unused_suppressions: list = field(default_factory=list)
