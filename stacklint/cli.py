"""Command line: ``stacklint scan|rules|explain|knowledge``. Imports nothing heavy at start."""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from stacklint import __version__
from stacklint.config import ConfigError
from stacklint.findings import Severity

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _codes(text: str) -> List[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return n


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stacklint", description="Static linter for LLM fine-tuning and serving stacks.")
    p.add_argument("--version", action="version", version=f"stacklint {__version__}")
    sub = p.add_subparsers(dest="command")
    s = sub.add_parser("scan", help="scan files and directories (default: .)")
    s.add_argument("paths", nargs="*", metavar="PATH")
    s.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text")
    s.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    s.add_argument("--select", type=_codes, default=[], metavar="CODES",
                   help="only these rules (codes, prefixes such as SL1, names, or ALL)")
    s.add_argument("--extend-select", type=_codes, default=[], metavar="CODES",
                   help="add opt-in rules to the default set")
    s.add_argument("--ignore", type=_codes, default=[], metavar="CODES")
    s.add_argument("--fail-on", choices=("error", "warning", "info"), default=None,
                   help="lowest severity that makes the exit code 1 (default: warning)")
    s.add_argument("--exit-zero", action="store_true", help="exit 0 even when problems are found")
    s.add_argument("--config", metavar="FILE", help="configuration file (default: search upward)")
    s.add_argument("--gpu", metavar="NAME", help="target GPU, e.g. A100-80GB, T4, H100")
    s.add_argument("--statistics", action="store_true", help="count findings per rule")
    s.add_argument("--no-color", action="store_true")
    s.add_argument("--baseline", metavar="FILE", help="report only findings not recorded in FILE")
    s.add_argument("--write-baseline", metavar="FILE", help="record today's findings in FILE and exit 0")
    s.add_argument("--fix", action="store_true",
                   help="apply safe, mechanical fixes in place, then report what is left")
    s.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                   help="processes for reading and parsing files (default: the usable cores, "
                        "for scans large enough to pay for it); the report does not depend on it")
    s.add_argument("--preview", action="store_true",
                   help="also run preview rules: working and tested, not yet backed by a record of "
                        "the failure dataset (see `stacklint rules`)")
    s.add_argument("--diff", action="store_true",
                   help="print the fixes --fix would apply as a unified diff; write nothing")
    st = sub.add_parser("stack", help="show the stack model a scan builds: install sets, models, jobs, "
                                      "target hardware, each with where it was read")
    st.add_argument("paths", nargs="*", metavar="PATH")
    st.add_argument("--format", choices=("text", "json"), default="text")
    st.add_argument("--config", metavar="FILE", help="configuration file (default: search upward)")
    st.add_argument("--gpu", metavar="NAME", help="target GPU, e.g. A100-80GB, T4, H100")
    r = sub.add_parser("rules", help="list the rules")
    r.add_argument("--format", choices=("text", "json"), default="text")
    e = sub.add_parser("explain", help="show a rule's documentation")
    e.add_argument("code")
    k = sub.add_parser("knowledge", help="query the knowledge base and show each fact's source")
    k.add_argument("topic", choices=("package", "model-type", "checkpoint", "gpu", "torch"))
    k.add_argument("name")
    k.add_argument("version", nargs="?")
    k.add_argument("--format", choices=("text", "json"), default="text")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "scan":
            return _scan(args)
        if args.command == "rules":
            return _rules(args)
        if args.command == "explain":
            return _explain(args)
        if args.command == "stack":
            from stacklint.show import run as show

            return show(args.paths, args.config, args.gpu, args.format)
        if args.command == "knowledge":
            from stacklint.knowledge_cli import run as kn

            return kn(args.topic, args.name, args.version, args.format == "json")
        _parser().print_help()
        return EXIT_ERROR
    except ConfigError as exc:
        sys.stderr.write(f"stacklint: error: {exc}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # a real bug: say so plainly, with versions
        import platform
        import traceback

        traceback.print_exc()
        sys.stderr.write(f"stacklint: internal error: {type(exc).__name__}: {exc}\n"
                         f"stacklint {__version__}, Python {platform.python_version()} on {platform.platform()}\n")
        return EXIT_ERROR


def _color(args: argparse.Namespace, stream: object) -> bool:
    if args.no_color or os.environ.get("NO_COLOR") or args.output:
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _scan(args: argparse.Namespace) -> int:
    from stacklint import config as config_mod
    from stacklint import registry
    from stacklint.scan import ScanOptions, scan
    from stacklint.suppress import read_baseline, write_baseline

    start = args.paths[0] if args.paths else "."
    if args.config and not os.path.isfile(args.config):
        raise ConfigError(f"--config {args.config}: no such file")
    cfg = config_mod.load(args.config, start)
    if (cfg.select or cfg.extend_select or cfg.ignore or cfg.severity or cfg.per_file_ignores
            or args.select or args.extend_select or args.ignore):
        # Selectors name rules of any family: validate against all of them. Without any,
        # a scan imports only the families its files need (registry.load_for).
        rules = registry.load_all()
        where = cfg.path or "configuration"
        for sel in (cfg.select, cfg.extend_select, cfg.ignore, list(cfg.severity)):
            registry.validate_selectors(sel, rules, where)
        for codes in cfg.per_file_ignores.values():
            registry.validate_selectors([c for c in codes if c.upper() != "ALL"], rules, f"{where} per-file-ignores")
        for sel in (args.select, args.extend_select, args.ignore):
            registry.validate_selectors(sel, rules, "command line")
    for p in args.paths:
        if not os.path.exists(p):
            raise ConfigError(f"{p}: no such file or directory")
    baseline = read_baseline(args.baseline) if args.baseline else None
    progress = sys.stderr.isatty() and args.format == "text" and not args.output
    fixing = bool(args.diff or args.fix)
    result, _stack = scan(ScanOptions(args.paths, cfg, args.select, args.extend_select, args.ignore,
                                      args.gpu, baseline, progress, args.jobs, args.preview, keep_stack=fixing))
    if args.diff or args.fix:
        from stacklint import fix as fix_mod

        fixes = fix_mod.plan(_stack, result.findings)
        if args.diff:
            sys.stdout.write(fix_mod.unified_diff(fixes))
            sys.stdout.flush()
            return EXIT_FINDINGS if fixes else EXIT_OK
        written = fix_mod.write(fixes)
        if written:
            n_fixes = sum(len(fx.applied) for fx in fixes if fx.path in written)
            sys.stderr.write(f"stacklint: applied {n_fixes} fix(es) in {len(written)} file(s): "
                             f"{', '.join(written)}\n")
            result, _stack = scan(ScanOptions(args.paths, cfg, args.select, args.extend_select, args.ignore,
                                              args.gpu, baseline, False, args.jobs, args.preview, keep_stack=False))
    if args.write_baseline:
        n = write_baseline(args.write_baseline, result.findings, __version__)
        sys.stderr.write(f"stacklint: wrote {n} fingerprints to {args.write_baseline}\n")
        return EXIT_OK
    rules = registry.loaded()  # every rule that ran is among them
    out = sys.stdout
    if args.format == "json":
        from stacklint.report import jsonfmt
        text = jsonfmt.render(result, rules)
    elif args.format == "sarif":
        from stacklint.report import sarif
        text = sarif.render(result, rules)
    elif args.format == "github":
        from stacklint.report import github
        text = github.render(result, rules)
    else:
        from stacklint.report import text as textfmt
        text = textfmt.render(result, rules, color=_color(args, out), statistics=args.statistics)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        out.write(text)
        out.flush()
    if any(e.message.startswith("internal:") for e in result.errors):
        return EXIT_ERROR
    if args.exit_zero:
        return EXIT_OK
    fail_on = Severity.parse(args.fail_on) if args.fail_on else (cfg.fail_on or Severity.WARNING)
    return EXIT_FINDINGS if any(f.severity >= fail_on for f in result.findings) else EXIT_OK


def _rules(args: argparse.Namespace) -> int:
    from stacklint import registry

    rules = registry.load_all()
    if args.format == "json":
        import json

        sys.stdout.write(json.dumps([r.as_json() for r in rules.values()], indent=2) + "\n")
        return EXIT_OK
    for r in rules.values():
        on = "on " if r.default else ("pre" if r.preview else "opt")
        sys.stdout.write(f"{r.code}  {on}  {str(r.severity):7s}  {r.name:40s}  {r.summary}\n")
    return EXIT_OK


def _explain(args: argparse.Namespace) -> int:
    from stacklint import registry

    rule = registry.get(args.code)
    if rule is None:
        raise ConfigError(f"unknown rule {args.code!r} (see `stacklint rules`)")
    mode = "" if rule.default else (" (preview: runs with --preview)" if rule.preview else " (opt-in)")
    sys.stdout.write(f"{rule.code} {rule.name} [{rule.severity}]{mode}\n")
    sys.stdout.write(f"{rule.category} / {rule.subcategory}\n\n{rule.summary}\n\n{rule.doc}\n")
    if rule.evidence:
        sys.stdout.write(("\nSources:\n" if rule.preview else "\nEvidence (user-reported failures):\n") + "".join(f"  {e}\n" for e in rule.evidence))
    return EXIT_OK
