"""Dockerfiles: stages, base images, ARG/ENV, RUN commands and CMD/ENTRYPOINT argv."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from stacklint.parsers.base import LineIndex, ParseError
from stacklint.parsers.shell import Command, Token, split_commands, tokenize

_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)(?::?[-=]([^}]*))?\}?")


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int
    col: int
    start: int  # text offsets of the arguments (continuations included)
    end: int


@dataclass
class Stage:
    image: str  # as written, ARGs substituted where they have defaults
    image_line: int
    image_col: int
    name: Optional[str] = None
    platform: Optional[str] = None
    env: Dict[str, str] = field(default_factory=dict)
    run: List[Command] = field(default_factory=list)
    cmd: List[Token] = field(default_factory=list)
    entrypoint: List[Token] = field(default_factory=list)
    cmd_line: int = 0


@dataclass
class DockerDoc:
    path: str
    stages: List[Stage]
    instructions: List[Instruction]
    args: Dict[str, str]


def parse(path: str, text: str, *, max_instructions: int = 20_000) -> DockerDoc:
    idx = LineIndex(text)
    instructions = _instructions(text, idx, max_instructions)
    if not instructions:
        raise ParseError("no Dockerfile instructions found")
    global_args: Dict[str, str] = {}
    stages: List[Stage] = []
    for ins in instructions:
        kw = ins.keyword
        if kw == "ARG":
            for part in ins.args.split():
                k, eq, v = part.partition("=")
                val = v.strip("\"'") if eq else ""
                if stages:
                    stages[-1].env.setdefault(k, val)
                else:
                    global_args[k] = val
        elif kw == "FROM":
            words = ins.args.split()
            platform = None
            while words and words[0].startswith("--"):
                if words[0].startswith("--platform="):
                    platform = words[0].split("=", 1)[1]
                words = words[1:]
            if not words:
                continue
            image = substitute(words[0], global_args)
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
            line, col = idx.position(ins.start + max(0, text.find(words[0], ins.start, ins.end) - ins.start))
            parent = next((s for s in stages if s.name and s.name == image), None)
            stage = Stage(image, line, col, name, platform and substitute(platform, global_args))
            if parent is not None:
                stage.env.update(parent.env)
                stage.run.extend(parent.run)
                stage.image = parent.image
                stage.platform = stage.platform or parent.platform
            stages.append(stage)
        elif not stages:
            continue
        elif kw == "ENV":
            stages[-1].env.update(_env_pairs(ins.args))
        elif kw == "RUN":
            body = ins.args
            if body.lstrip().startswith("["):
                toks = _json_argv(body, ins)
                if toks:
                    stages[-1].run.append(Command(toks))
                continue
            region = _mask_comments(text[ins.start:ins.end])
            toks = tokenize(region, 0, len(region), idx, offset=ins.start)
            stages[-1].run.extend(c for c in split_commands(toks) if c.argv)
        elif kw in ("CMD", "ENTRYPOINT"):
            toks2 = _json_argv(ins.args, ins) if ins.args.lstrip().startswith("[") else None
            if toks2 is None:
                toks2 = [t for t in tokenize(text, ins.start, ins.end, idx) if t is not None]
            if kw == "CMD":
                stages[-1].cmd = toks2
                stages[-1].cmd_line = ins.line
            else:
                stages[-1].entrypoint = toks2
    return DockerDoc(path, stages, instructions, global_args)


def substitute(value: str, env: Dict[str, str]) -> str:
    def repl(m: "re.Match[str]") -> str:
        name, default = m.group(1), m.group(2)
        got = env.get(name)
        if got:
            return got
        if default is not None:
            return default
        return m.group(0)

    return _VAR.sub(repl, value)


def _instructions(text: str, idx: LineIndex, limit: int) -> List[Instruction]:
    out: List[Instruction] = []
    escape = "\\"
    i, n = 0, len(text)
    first = True
    while i < n:
        nl = text.find("\n", i)
        line_end = n if nl == -1 else nl
        line = text[i:line_end]
        stripped = line.strip()
        if first and stripped.startswith("#"):
            m = re.match(r"#\s*escape\s*=\s*(\S)", stripped)
            if m:
                escape = m.group(1)
        if not stripped or stripped.startswith("#"):
            i = line_end + 1
            continue
        first = False
        lead = len(line) - len(line.lstrip())
        m = re.match(r"([A-Za-z]+)\s*", line[lead:])
        if not m:
            i = line_end + 1
            continue
        start_args = i + lead + m.end()
        # Follow continuation lines (comment lines inside a continuation are skipped by Docker).
        j = line_end
        while j < n and _ends_with_escape(text, i, j, escape):
            nl2 = text.find("\n", j + 1)
            j = n if nl2 == -1 else nl2
            while j < n:
                nxt_start = text.rfind("\n", 0, j) + 1
                if text[nxt_start:j].strip().startswith("#") and j < n:
                    nl3 = text.find("\n", j + 1)
                    j = n if nl3 == -1 else nl3
                    continue
                break
            if len(out) > limit:
                break
        ln, col = idx.position(i + lead)
        raw = text[start_args:j]
        args = re.sub(re.escape(escape) + r"[ \t]*\r?\n", " ", raw)
        args = "\n".join(l for l in args.split("\n") if not l.strip().startswith("#"))
        out.append(Instruction(m.group(1).upper(), args.strip(), ln, col, start_args, j))
        if len(out) > limit:
            raise ParseError(f"more than {limit} Dockerfile instructions")
        i = j + 1
    return out


def _mask_comments(region: str) -> str:
    """Blank comment lines inside a continued instruction (Docker drops them), keeping offsets."""
    if "#" not in region:
        return region
    return "".join(" " * len(line) if line.lstrip().startswith("#") else line
                   for line in region.splitlines(keepends=True))


def _ends_with_escape(text: str, begin: int, j: int, escape: str) -> bool:
    k = j - 1
    while k >= begin and text[k] in " \t\r":
        k -= 1
    return k >= begin and text[k] == escape


def _env_pairs(args: str) -> Dict[str, str]:
    toks = [t.text for t in tokenize(args) if t is not None]
    if len(toks) >= 2 and "=" not in toks[0]:
        return {toks[0]: " ".join(toks[1:])}
    out: Dict[str, str] = {}
    for t in toks:
        k, eq, v = t.partition("=")
        if eq:
            out[k] = v
    return out


def _json_argv(body: str, ins: Instruction) -> Optional[List[Token]]:
    try:
        items = json.loads(body)
    except ValueError:
        return None
    if not isinstance(items, list):
        return None
    return [Token(str(x), ins.line, ins.col) for x in items]
