"""stacklint's own findings (SL0xx). Their logic lives in the runner; this declares them."""
from __future__ import annotations

from typing import Iterator

from stacklint.findings import Finding
from stacklint.model import Stack
from stacklint.registry import check


@check(code="SL003", name="unused-suppression", severity="info", category="stacklint", subcategory="engine",
       summary="A `# stacklint: ignore[...]` comment that suppresses nothing.", engine=True, default=True)
def unused_suppression(stack: Stack) -> Iterator[Finding]:
    """## What it does
    Reports inline suppressions that no longer match any finding, so stale ones get cleaned up.

    ## Why is this bad?
    A stale suppression hides the next real problem on that line.

    ## Example
    ```
    torch==2.4.0  # stacklint: ignore[SL102]
    ```

    ## Use instead
    Remove the comment once the finding is gone.
    """
    return iter(())
