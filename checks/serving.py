"""Serving configuration, parallelism, context limits and memory (SL2xx, SL5xx, SL7xx)."""
from __future__ import annotations
