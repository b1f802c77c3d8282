"""Fine-tuning configuration, precision, quantisation (SL2xx, SL3xx)."""
from __future__ import annotations
