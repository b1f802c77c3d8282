"""stacklint: a static linter for the software stacks that fine-tune and serve LLMs."""
from __future__ import annotations

__version__ = "0.1.0"
