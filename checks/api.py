"""Python API usage across library versions (SL4xx)."""
from __future__ import annotations
