"""Versioned facts about the LLM stack, loaded lazily from ``data/*.json``."""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=None)
def load_table(name: str) -> dict[str, Any]:
    """Return the whole envelope of table ``name`` (parsed once per process)."""
    text = resources.files("stacklint.knowledge.data").joinpath(f"{name}.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def records(name: str) -> Any:
    return load_table(name)["records"]
