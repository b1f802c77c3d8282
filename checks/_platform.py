"""Which platform and Python an install runs on, as the stack's files state it, and whether
the package index has a wheel for it (shared by the SL110-SL113 platform rules)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Dict, Iterator, List, Optional, Tuple


from stacklint.findings import Location
from stacklint.model import Constraint, InstallSet, Setting, Stack

DEFAULT = "linux-x86_64"

_NORMAL = (
    (re.compile(r"^(?:linux[/_-]?(?:amd64|x86[_-]64|64)|manylinux.*x86_64|x86_64|amd64)$"), "linux-x86_64"),
    (re.compile(r"^(?:linux[/_-]?(?:arm64|aarch64)(?:/v8)?|manylinux.*aarch64|aarch64|arm64)$"), "linux-aarch64"),
    (re.compile(r"^(?:osx|macos|darwin|macosx)[/_-]?(?:arm64|aarch64)$"), "macos-arm64"),
    (re.compile(r"^(?:osx|macos|darwin|macosx)[/_-]?(?:64|x86[_-]64|amd64|intel)$"), "macos-x86_64"),
    (re.compile(r"^(?:win|windows)[/_-]?(?:64|amd64|x86[_-]64)$"), "windows-amd64"),
    (re.compile(r"^(?:win|windows)[/_-]?(?:arm64|aarch64)$"), "windows-arm64"),
)


def normalize(value: str) -> Optional[str]:
    """A platform as stacklint names it, from a Docker/conda/wheel/config spelling."""
    v = str(value).strip().lower()
    if "$" in v or "{" in v:
        return None  # a build argument or expression: unknown
    for rx, name in _NORMAL:
        if rx.match(v):
            return name
    # a bare OS name: the common machine of that OS
    return {"linux": "linux-x86_64", "windows": "windows-amd64", "win32": "windows-amd64", "win": "windows-amd64",
            "macos": "macos-arm64", "darwin": "macos-arm64", "osx": "macos-arm64"}.get(v)


def runner_platform(label: str) -> Optional[str]:
    """The platform of a GitHub-hosted runner label (`windows-latest`, `macos-14`, ...)."""
    v = str(label).strip().lower()
    if "$" in v or "{" in v:
        return None
    if v.startswith("windows"):
        return "windows-arm64" if "arm" in v else "windows-amd64"
    if v.startswith("macos"):
        m = re.match(r"macos-(\d+)", v)
        if "intel" in v or "large" in v or (m and int(m.group(1)) <= 13):
            return "macos-x86_64"
        return "macos-arm64"
    if v.startswith("ubuntu"):
        return "linux-aarch64" if "arm" in v else "linux-x86_64"
    return None


_MARKER_ENV = {
    "linux-x86_64": ("linux", "Linux", "x86_64", "posix"),
    "linux-aarch64": ("linux", "Linux", "aarch64", "posix"),
    "macos-arm64": ("darwin", "Darwin", "arm64", "posix"),
    "macos-x86_64": ("darwin", "Darwin", "x86_64", "posix"),
    "windows-amd64": ("win32", "Windows", "AMD64", "nt"),
    "windows-arm64": ("win32", "Windows", "ARM64", "nt"),
}


@lru_cache(maxsize=4096)
def marker_holds(marker: str, platform: str, python: str) -> Optional[bool]:
    sysp, system, machine, osname = _MARKER_ENV[platform]
    env = {"python_version": python, "python_full_version": python + ".0", "sys_platform": sysp,
           "platform_system": system, "platform_machine": machine, "os_name": osname,
           "implementation_name": "cpython", "platform_python_implementation": "CPython", "extra": ""}
    try:
        from packaging.markers import Marker  # markers are rare: not imported by every scan

        return Marker(marker).evaluate(env)
    except Exception:  # noqa: BLE001 - an unparseable marker: unknown
        return None


def applies(c: Constraint, platform: str, python: str) -> bool:
    return c.marker is None or bool(marker_holds(str(c.marker), platform, python))


@dataclass
class Target:
    """An install set together with the platform / Python it is installed on."""

    install: InstallSet
    platform: str
    where: Location  # where the platform is stated
    how: str  # "platform linux/arm64 (Dockerfile:1)" and the like
    python: Optional[str] = None
    py_where: Optional[Location] = None
    explicit: bool = True  # the platform is stated, not assumed
    constraints: List[Constraint] = field(default_factory=list)


_ARM_IMAGE = re.compile(r"(?:^|/)(?:arm64v8|aarch64)/|[:-](?:arm64|aarch64)(?:$|[-_.])", re.I)


def targets(stack: Stack) -> Iterator[Target]:
    """Every (install set, platform) pair the stack's files state, plus the Linux x86_64 default
    for sets that state an exact Python only."""
    from stacklint.checks import _envlib as E

    cfg_pf = normalize(stack.target_platform.value) if stack.target_platform is not None else None
    cfg_py = str(stack.target_python.value) if stack.target_python is not None else None
    for s in stack.install_sets:
        ex = E.exact_python(s)
        py = ex[0] if ex else None
        py_where = s.python[0].location if ex else None
        if py is None and cfg_py and s.kind != "dockerfile" and re.match(r"^3\.\d+$", cfg_py):
            py, py_where = cfg_py, stack.target_python.location  # type: ignore[union-attr]
        stated = []
        for st in s.platforms:
            pf = normalize(st.value)
            if pf is not None:
                stated.append((pf, st.location, f"platform {st.value}"))
        if not stated and s.kind == "dockerfile" and s.base_image is not None \
                and _ARM_IMAGE.search(str(s.base_image.value)):
            stated.append(("linux-aarch64", s.base_image.location, f"base image {s.base_image.value}"))
        if not stated and cfg_pf is not None and (s.kind != "dockerfile" or cfg_pf.startswith("linux")):
            stated.append((cfg_pf, stack.target_platform.location,  # type: ignore[union-attr]
                           f"target platform {stack.target_platform.value}"))  # type: ignore[union-attr]
        if stated:
            seen = set()
            for pf, where, how in stated:
                if pf in seen:
                    continue
                seen.add(pf)
                yield Target(s, pf, where, how, py, py_where, True, list(s.constraints))
        elif py is not None:
            yield Target(s, DEFAULT, s.location, "Linux x86_64", py, py_where, False, list(s.constraints))
    yield from _workflow_targets(stack)


# -- GitHub Actions workflows ---------------------------------------------------------------

def _workflow_targets(stack: Stack) -> Iterator[Target]:
    for path, docs in stack.docs.items():
        if "/.github/workflows/" not in "/" + path or not path.endswith((".yml", ".yaml")):
            continue
        for doc in docs:
            jobs = doc.get("jobs")
            if not isinstance(jobs, dict):
                continue
            for jname, job in jobs.items():
                if isinstance(job, dict):
                    yield from _job_targets(stack, doc, path, jname, job)


def _job_targets(stack: Stack, doc: Any, path: str, jname: str, job: Dict[str, Any]) -> Iterator[Target]:
    runs_on = job.get("runs-on")
    where = doc.loc("jobs", jname, "runs-on")
    labels: List[str] = []
    if isinstance(runs_on, str):
        m = re.fullmatch(r"\$\{\{\s*matrix\.([\w-]+)\s*\}\}", runs_on.strip())
        if m:
            matrix = (job.get("strategy") or {}).get("matrix") if isinstance(job.get("strategy"), dict) else None
            if not isinstance(matrix, dict) or matrix.get("exclude") or matrix.get("include"):
                return  # include/exclude reshape the matrix: not judged
            vals = matrix.get(m.group(1))
            if not isinstance(vals, list) or not all(isinstance(v, str) for v in vals):
                return
            labels = list(vals)
        else:
            labels = [runs_on]
    elif isinstance(runs_on, list) and runs_on and all(isinstance(v, str) for v in runs_on):
        if "self-hosted" in runs_on:
            return
        labels = [runs_on[0]]
    platforms = []
    for lab in labels:
        pf = runner_platform(lab)
        if pf is None:
            return  # a self-hosted or unknown runner: the whole job is not judged
        if pf not in [p for p, _ in platforms]:
            platforms.append((pf, lab))
    if not platforms or all(p == DEFAULT for p, _ in platforms):
        return
    steps = job.get("steps")
    if not isinstance(steps, list):
        return
    python, py_where = None, None
    s = InstallSet(f"{path} job {jname}", where, "script", files=(path,))
    for i, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        uses = step.get("uses")
        if isinstance(uses, str) and uses.startswith("actions/setup-python"):
            pv = (step.get("with") or {}).get("python-version") if isinstance(step.get("with"), dict) else None
            if isinstance(pv, (str, float)) and re.fullmatch(r"3\.\d+", str(pv)):
                python, py_where = str(pv), doc.loc("jobs", jname, "steps", i, "with", "python-version")
        run = step.get("run")
        if not isinstance(run, str) or (step.get("if") is not None and len(platforms) > 1):
            continue
        _add_run(stack, s, doc, path, ("jobs", jname, "steps", i, "run"), run)
    if not s.constraints:
        return
    for pf, lab in platforms:
        yield Target(s, pf, where, f"runs-on {lab}", python, py_where, True, list(s.constraints))


def _add_run(stack: Stack, s: InstallSet, doc: Any, path: str, key: Tuple[Any, ...], run: str) -> None:
    from stacklint.build import add_pip_command
    from stacklint.parsers.shell import Command, Token, split_commands, tokenize

    loc = doc.loc(*key)
    tf = stack.texts.get(path)
    lines = tf.text.splitlines() if tf is not None else []
    head = lines[loc.line - 1] if 0 < loc.line <= len(lines) else ""
    block = bool(re.search(r"run:\s*[|>][-+0-9]*\s*(?:#.*)?$", head))
    indent = 0
    if block and loc.line < len(lines):
        nxt = lines[loc.line]
        indent = len(nxt) - len(nxt.lstrip(" "))
    base = loc.line if block else loc.line - 1
    for c in split_commands(tokenize(run)):
        if not c.argv:
            continue
        toks = [Token(t.text, base + t.line, t.col + (indent if block else loc.col + 4)) for t in c.argv]
        add_pip_command(s, Command(toks, c.env), path, {}, {}, "script")
    # `pip install -r requirements.txt` in the job installs that file's set on this runner
    for m in re.finditer(r"(?:^|\s)(?:-r|--requirement)[ =](\S+)", run):
        target = m.group(1).strip("'\"").lstrip("./")
        for other in stack.install_sets:
            if other.kind == "requirements" and (other.location.path == target
                                                 or other.location.path.endswith("/" + target)) \
                    and stack.same_project(path, other.location.path):
                s.constraints.extend(c for c in other.constraints if c not in s.constraints)


def describe_platform(pf: str) -> str:
    return {"linux-x86_64": "Linux x86_64", "linux-aarch64": "Linux aarch64", "macos-arm64": "macOS arm64",
            "macos-x86_64": "macOS x86_64", "windows-amd64": "Windows x86_64",
            "windows-arm64": "Windows arm64"}.get(pf, pf)


def index_overridden(s: InstallSet) -> bool:
    """A private index or find-links directory may serve other builds than the public index."""
    for st in s.index_urls:
        url = str(st.value).lower()
        if st.key in ("-f", "--find-links"):
            return True
        if st.key in ("-i", "--index-url") and "pypi.org" not in url and "download.pytorch.org" not in url:
            return True
    return False


def setting_loc(st: Optional[Setting]) -> Optional[Location]:
    return st.location if st is not None else None
