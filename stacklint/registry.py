"""Rule metadata, the @check decorator, validation at import, and lazy family loading."""
from __future__ import annotations

import importlib
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Collection, Dict, FrozenSet, Iterable, Iterator, List, Optional, Tuple

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

# The file kinds (stacklint.discover) whose presence can give each family something to
# judge; a scan imports a family only when one of them is present (None: always).
# Conservative on purpose: a rule whose family is skipped for its fixture fails the fixture
# tests, so a new rule that reads another part of the stack widens its family's entry here.
_INSTALL_KINDS = frozenset({"requirements", "pyproject", "conda", "dockerfile", "shell"})
_HF_KINDS = frozenset({"hf-config", "hf-generation-config", "hf-tokenizer-config", "hf-special-tokens",
                       "hf-adapter-config", "hf-weights-index", "hf-chat-template", "hf-chat-template-json"})
_JOB_KINDS = frozenset({"yaml", "json", "compose", "conda", "pyproject", "stacklint-config", "python", "shell",
                        "dockerfile"}) | _HF_KINDS
FAMILY_KINDS: Dict[str, Optional[FrozenSet[str]]] = {
    "stacklint.checks.engine": None,
    "stacklint.checks.env": _INSTALL_KINDS | _JOB_KINDS,
    "stacklint.checks.training": _JOB_KINDS,
    "stacklint.checks.serving": _JOB_KINDS,
    "stacklint.checks.tokens": _HF_KINDS,
    "stacklint.checks.modelfiles": _HF_KINDS | {"safetensors", "model-asset"},
    "stacklint.checks.api": frozenset({"python"}),
}


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
    # Preview rules work and are tested, but no record of the failure dataset has been verified as
    # their evidence yet: they run only with --preview (or `preview = true`), even under --select ALL.
    preview: bool = False

    def as_json(self) -> Dict[str, object]:
        return {"code": self.code, "name": self.name, "severity": str(self.severity),
                "category": self.category, "subcategory": self.subcategory, "summary": self.summary,
                "evidence": list(self.evidence), "default": self.default, "fixable": self.fixable,
                "preview": self.preview}


_RULES: Dict[str, Rule] = {}


@lru_cache(maxsize=None)
def taxonomy() -> FrozenSet[Tuple[str, str]]:
    # A plain read next to this module: importlib.resources costs ~15 ms at every start.
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "taxonomy.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    return frozenset((e["category"], e["subcategory"]) for e in data["entries"])


class RuleError(Exception):
    pass


def _clean_doc(text: str) -> str:
    """The docstring without the indentation of its body (the first line has none): Markdown for
    `stacklint explain` and SARIF help, where indented lines would read as code blocks."""
    import textwrap

    first, _, rest = text.expandtabs().partition("\n")
    return (first.strip() + "\n" + textwrap.dedent(rest)).strip()


def check(*, code: str, name: str, severity: str, category: str, subcategory: str, summary: str,
          evidence: Tuple[str, ...] = (), default: Optional[bool] = None, fixable: bool = False,
          engine: bool = False, preview: bool = False) -> Callable[[CheckFn], CheckFn]:
    """Register a check. Validates its metadata at import time."""

    def wrap(fn: CheckFn) -> CheckFn:
        doc = _clean_doc(fn.__doc__ or "")
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
        on = (sev is Severity.ERROR if default is None else default) and not preview
        _RULES[code] = Rule(code, name, sev, category, subcategory, summary, doc, tuple(evidence),
                            on, fn, fixable, preview)
        return fn

    return wrap


def load_all() -> Dict[str, Rule]:
    for mod in FAMILIES:
        importlib.import_module(mod)
    return dict(sorted(_RULES.items()))


def loaded() -> Dict[str, Rule]:
    """The rules of the families imported so far."""
    return dict(sorted(_RULES.items()))


def families_for(kinds: Collection[str]) -> List[str]:
    """The family modules a scan of files of these kinds needs (a family missing from
    FAMILY_KINDS is always needed)."""
    present = set(kinds)
    return [m for m in FAMILIES if FAMILY_KINDS.get(m) is None or present & FAMILY_KINDS[m]]  # type: ignore[operator]


def load_for(kinds: Collection[str]) -> Dict[str, Rule]:
    """The rules of the families that can judge files of these kinds: what a scan runs.
    `stacklint rules`, `explain` and selector validation use load_all()."""
    mods = families_for(kinds)
    for mod in mods:
        importlib.import_module(mod)
    skipped = set(FAMILIES) - set(mods)
    return dict(sorted((c, r) for c, r in _RULES.items() if getattr(r.func, "__module__", None) not in skipped))


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


def select(rules: Dict[str, Rule], select: List[str], extend: List[str], ignore: List[str],
           preview: bool = False) -> List[Rule]:
    out = []
    for r in rules.values():
        if r.preview and not preview:
            continue
        # with --preview, error-level preview rules join the default set, as other error rules are on
        default = r.default or (preview and r.preview and r.severity is Severity.ERROR)
        on = any(match(s, r) for s in select) if select else default
        on = on or any(match(s, r) for s in extend)
        if any(match(s, r) for s in ignore):
            on = False
        if on:
            out.append(r)
    return out


def iter_rules() -> Iterator[Rule]:
    return iter(load_all().values())
