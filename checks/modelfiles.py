"""Model files: LFS pointers, safetensors headers, shard indexes, corrupt configs (SL9xx)."""
from __future__ import annotations
