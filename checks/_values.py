"""Literal values as configs write them (YAML/JSON scalars, command-line strings)."""
from __future__ import annotations

import re
from typing import Any, Optional

_INT = re.compile(r"\s*\d+\s*")


def is_true(value: Any) -> bool:
    """A literal true (YAML/JSON bool, the string "true"); ``"auto"`` and placeholders are not."""
    if value is True:
        return True
    return isinstance(value, str) and value.strip().lower() in ("true", "yes", "1")


def as_int(value: Any) -> Optional[int]:
    """A literal integer (``4``, ``"4"``, ``4.0``); placeholders, booleans and expressions are not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT.fullmatch(value):
        return int(value)
    return None
