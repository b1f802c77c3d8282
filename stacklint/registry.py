"""Rule metadata, the @check decorator, validation at import, and lazy family loading."""
from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Callable, Dict, FrozenSet, Iterable, Iterator, List, Optional, Tuple

from stacklint.findings import Severity

if TYPE_CHECKING:
    from stacklint.findings import Finding
    from stacklint.model import Stack

CheckFn = Callable[["Stack"], Iterable["Finding"]]

DOC_SECTIONS = ("## What it does", "## Why is this bad?", "## Example", "## Use instead")
_CODE = re.compile(r"^SL\d{3}$")
_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Family modules, imported only when a scan or listing needs their rules.
FAMILIES: Tuple[str, ...] = (
    "stacklint.checks.engine",
    "stacklint.checks.env",
    "stacklint.checks.training",
    "stacklint.checks.serving",
    "stacklint.checks.tokens",
    "stacklint.checks.modelfiles",
    "stacklint.checks.api",
)


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: Severity
    category: str
    subcategory: str
    summary: str
    doc: str
    evidence: Tuple[str, ...]
    default: bool  # on without --select
    func: Optional[CheckFn] = field(default=None, compare=False)
    fixable: bool = False

    def as_json(self) -> Dict[str, object]:
        return {"code": self.code, "name": self.name, "severity": str(self.severity),
                "category": self.category, "subcategory": self.subcategory, "summary": self.summary,
                "evidence": list(self.evidence), "default": self.default, "fixable": self.fixable}


_RULES: Dict[str, Rule] = {}


@lru_cache(maxsize=None)
def taxonomy() -> FrozenSet[Tuple[str, str]]:
    data = json.loads(resources.files("stacklint").joinpath("taxonomy.json").read_text("utf-8"))
    return frozenset((e["category"], e["subcategory"]) for e in data["entries"])


class RuleError(Exception):
    pass


def check(*, code: str, name: str, severity: str, category: str, subcategory: str, summary: str,
          evidence: Tuple[str, ...] = (), default: Optional[bool] = None, fixable: bool = False,
          engine: bool = False) -> Callable[[CheckFn], CheckFn]:
    """Register a check. Validates its metadata at import time."""

    def wrap(fn: CheckFn) -> CheckFn:
        doc = (fn.__doc__ or "").strip()
        problems = []
        if not _CODE.match(code):
            problems.append("code must be SL + three digits")
        if not _NAME.match(name):
            problems.append("name must be kebab-case")
        if (category, subcategory) not in taxonomy() and not engine:
            problems.append(f"unknown taxonomy pair {category!r} / {subcategory!r}")
        missing = [s for s in DOC_SECTIONS if s not in doc]
        if missing and not engine:
            problems.append(f"docstring lacks sections {missing}")
        if not evidence and not engine:
            problems.append("no evidence link")
        if code in _RULES and _RULES[code].func is not fn:
            problems.append(f"code {code} already used by {_RULES[code].name}")
        if any(r.name == name and r.code != code for r in _RULES.values()):
            problems.append(f"name {name} already used")
        if problems:
            raise RuleError(f"{code} {name}: " + "; ".join(problems))
        sev = Severity.parse(severity)
        _RULES[code] = Rule(code, name, sev, category, subcategory, summary, doc, tuple(evidence),
                            sev is Severity.ERROR if default is None else default, fn, fixable)
        return fn

    return wrap


def load_all() -> Dict[str, Rule]:
    for mod in FAMILIES:
        importlib.import_module(mod)
    return dict(sorted(_RULES.items()))


def get(code_or_name: str) -> Optional[Rule]:
    rules = load_all()
    key = code_or_name.strip()
    if key.upper() in rules:
        return rules[key.upper()]
    return next((r for r in rules.values() if r.name == key), None)


def match(selector: str, rule: Rule) -> bool:
    s = selector.strip()
    if s.upper() == "ALL":
        return True
    if s == rule.name:
        return True
    return rule.code.startswith(s.upper()) and bool(re.match(r"^SL\d{0,3}$", s.upper()))


def validate_selectors(selectors: Iterable[str], rules: Dict[str, Rule], where: str) -> None:
    from stacklint.config import ConfigError

    for s in selectors:
        if not any(match(s, r) for r in rules.values()):
            raise ConfigError(f"{where}: unknown rule code or name {s!r} (see `stacklint rules`)")


def select(rules: Dict[str, Rule], select: List[str], extend: List[str], ignore: List[str]) -> List[Rule]:
    out = []
    for r in rules.values():
        on = any(match(s, r) for s in select) if select else r.default
        on = on or any(match(s, r) for s in extend)
        if any(match(s, r) for s in ignore):
            on = False
        if on:
            out.append(r)
    return out


def iter_rules() -> Iterator[Rule]:
    return iter(load_all().values())
