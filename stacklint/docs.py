"""Generate the README rules table from the rules' metadata: ``python -m stacklint.docs``."""
from __future__ import annotations

import re
import sys
from pathlib import Path

from stacklint import registry

START, END = "<!-- rules-table:start -->", "<!-- rules-table:end -->"


def rules_table() -> str:
    rows = ["| code | name | severity | default | category / subcategory | summary |",
            "|---|---|---|---|---|---|"]
    for r in registry.load_all().values():
        summary = r.summary.replace("|", "\\|")
        rows.append(f"| {r.code} | `{r.name}` | {r.severity} | {'on' if r.default else ('preview' if r.preview else 'opt-in')} | "
                    f"{r.category} / {r.subcategory} | {summary} |")
    return "\n".join(rows) + "\n"


def update(readme: Path) -> bool:
    text = readme.read_text(encoding="utf-8")
    new = re.sub(re.escape(START) + r".*?" + re.escape(END), f"{START}\n{rules_table()}{END}", text, flags=re.S)
    if new != text:
        readme.write_text(new, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("README.md")
    print("updated" if update(path) else "up to date")
