"""Regenerate the generated knowledge tables: ``python -m stacklint.knowledge.refresh [TABLE ...]``.

Runs each ``knowledge/scripts/gen_<table>.py`` of the checkout in turn and prints what changed.
This is the only part of stacklint that uses the network (the package index, through pip, and
git snapshots of the projects' source); scans and tests never do.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def main(argv: "list[str] | None" = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stacklint.knowledge.refresh", description=__doc__)
    p.add_argument("tables", nargs="*", help="tables to rebuild (default: all)")
    p.add_argument("--list", action="store_true", help="list the generators and exit")
    args, rest = p.parse_known_args(argv)
    if not SCRIPTS.is_dir():
        sys.stderr.write("refresh needs a source checkout (knowledge/scripts is not in the wheel)\n")
        return 2
    gens = {s.stem[len("gen_"):]: s for s in sorted(SCRIPTS.glob("gen_*.py"))}
    if args.list:
        for name, path in gens.items():
            print(f"{name:16s} {path.relative_to(SCRIPTS.parent.parent)}")
        return 0
    unknown = [t for t in args.tables if t not in gens]
    if unknown:
        sys.stderr.write(f"unknown table(s): {', '.join(unknown)}; known: {', '.join(gens)}\n")
        return 2
    failed = 0
    for name in args.tables or list(gens):
        print(f"== {name}", flush=True)
        r = subprocess.run([sys.executable, str(gens[name]), *rest], cwd=str(SCRIPTS.parent.parent))
        if r.returncode != 0:
            failed += 1
            print(f"   {name}: generator exited {r.returncode}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
