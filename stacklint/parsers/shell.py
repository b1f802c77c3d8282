"""Shell command lines with positions: enough of sh to find pip installs and launchers.

Nothing is expanded or executed; ``$VAR`` stays literal unless the caller substitutes it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from stacklint.parsers.base import LineIndex

_OPERATORS = ("&&", "||", ";;", ";", "|", "&", "\n", "(", ")")
_OP_START = frozenset("&|;\n()")
_WORD_END = frozenset(" \t\r\n&|;")


@dataclass(frozen=True)
class Token:
    text: str
    line: int
    col: int


@dataclass
class Command:
    """One simple command: ``VAR=x prog arg ...``."""

    argv: List[Token]
    env: Dict[str, str] = field(default_factory=dict)  # assignments before the program

    @property
    def words(self) -> List[str]:
        return [t.text for t in self.argv]

    @property
    def line(self) -> int:
        return self.argv[0].line if self.argv else 1

    @property
    def col(self) -> int:
        return self.argv[0].col if self.argv else 1


def tokenize(text: str, start: int = 0, end: Optional[int] = None, index: Optional[LineIndex] = None,
             max_tokens: int = 200_000, offset: int = 0) -> List[Optional[Token]]:
    """Words with positions; ``None`` marks a command separator.

    ``offset`` is added to positions before ``index`` maps them, for text cut out of a file.
    """
    idx = index or LineIndex(text)
    end = len(text) if end is None else end
    out: List[Optional[Token]] = []
    i = start
    while i < end and len(out) < max_tokens:
        c = text[i]
        if c == "\\" and i + 1 < end and text[i + 1] == "\n":
            i += 2
            continue
        if c in " \t\r":
            i += 1
            continue
        if c == "#" and (i == start or text[i - 1] in " \t\n;&|("):
            nl = text.find("\n", i, end)
            i = end if nl == -1 else nl
            continue
        op = next((o for o in _OPERATORS if text.startswith(o, i)), None) if c in _OP_START else None
        if op is not None:
            if out and out[-1] is not None:
                out.append(None)
            i += len(op)
            continue
        begin = i
        buf: List[str] = []
        while i < end:
            c = text[i]
            if c in _WORD_END:  # an operator other than ( ) starts with one of &|;
                break
            if c == "\\" and i + 1 < end:
                if text[i + 1] == "\n":
                    i += 2
                    break
                buf.append(text[i + 1])
                i += 2
                continue
            if c in "'\"":
                j = i + 1
                while j < end and text[j] != c:
                    if c == '"' and text[j] == "\\" and j + 1 < end:
                        buf.append(text[j + 1])
                        j += 2
                        continue
                    buf.append(text[j])
                    j += 1
                i = j + 1
                continue
            buf.append(c)
            i += 1
        line, col = idx.position(begin + offset)
        out.append(Token("".join(buf), line, col))
    return out


def split_commands(tokens: List[Optional[Token]]) -> List[Command]:
    cmds: List[Command] = []
    cur: List[Token] = []
    for t in tokens + [None]:
        if t is None:
            if cur:
                cmds.append(_command(cur))
            cur = []
        else:
            cur.append(t)
    return cmds


def _command(tokens: List[Token]) -> Command:
    env: Dict[str, str] = {}
    i = 0
    while i < len(tokens) and _is_assignment(tokens[i].text):
        k, _, v = tokens[i].text.partition("=")
        env[k] = v
        i += 1
    argv = tokens[i:]
    # `env A=1 prog`, `sudo prog`, `exec prog`, `nohup prog`, `time prog`
    while argv and argv[0].text in ("env", "sudo", "exec", "nohup", "time", "command"):
        argv = argv[1:]
        while argv and (_is_assignment(argv[0].text) or argv[0].text.startswith("-")):
            if _is_assignment(argv[0].text):
                k, _, v = argv[0].text.partition("=")
                env[k] = v
            argv = argv[1:]
    if argv and argv[0].text == "export" and len(argv) > 1:
        for t in argv[1:]:
            if _is_assignment(t.text):
                k, _, v = t.text.partition("=")
                env[k] = v
        return Command([], env)
    return Command(list(argv), env)


def _is_assignment(word: str) -> bool:
    if "=" not in word:
        return False
    name = word.split("=", 1)[0]
    return bool(name) and (name[0].isalpha() or name[0] == "_") and all(ch.isalnum() or ch == "_" for ch in name)


def parse_script(text: str) -> Tuple[List[Command], Dict[str, str]]:
    """Commands of a shell script, and the variables it exports or assigns at top level."""
    cmds = split_commands(tokenize(text))
    env: Dict[str, str] = {}
    for c in cmds:
        if not c.argv:
            env.update(c.env)
    return [c for c in cmds if c.argv], env
