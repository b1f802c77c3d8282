"""Guarded access to the knowledge base from the engine (a missing table is not a crash)."""
from __future__ import annotations

from typing import Any, Dict, Optional


def checkpoint(hub_id: str) -> Optional[Dict[str, Any]]:
    try:
        from stacklint.knowledge import checkpoints
    except ImportError:
        return None
    try:
        return checkpoints.checkpoint(hub_id)
    except FileNotFoundError:
        return None
