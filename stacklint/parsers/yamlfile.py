"""YAML with positions, safe by construction.

Documents are composed into nodes (libyaml when available) and converted to plain Python
here, so every mapping key and list item keeps its line and column, unknown tags do not
fail, and alias expansion ("billion laughs") is bounded.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

import yaml

from stacklint.parsers.base import Doc, KeyPath, LimitExceeded, ParseError

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML without libyaml
    _Loader = yaml.SafeLoader

_SCALAR_CTORS = yaml.SafeLoader.yaml_constructors
_STR = "tag:yaml.org,2002:str"
_FLOW = re.compile(r"[\[\]{}\n]")
# Indentation plus block-sequence dashes ("- - - x" nests like indentation): libyaml's
# composer recurses in C, and tens of thousands of levels overflow the C stack (SIGSEGV).
_INDENT = re.compile(r"^ *(?:-[ \t]+)*", re.M)


def parse_all(path: str, text: str, *, max_nodes: int = 500_000, max_depth: int = 256) -> List[Doc]:
    """Every document of a YAML stream; empty documents are skipped."""
    _nesting_guard(text, max_depth)
    loader = _Loader(text)
    docs: List[Doc] = []
    budget = [max_nodes]
    try:
        index = 0
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            positions: Dict[KeyPath, Tuple[int, int]] = {}
            data = _convert(node, (), positions, budget, loader, 0, max_depth)
            start = node.start_mark.line + 1
            positions.setdefault((), (start, 1))
            if data is not None:
                docs.append(Doc(path, data, positions=positions, index=index, base_line=start))
            index += 1
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        raise ParseError(f"invalid YAML: {exc.problem or exc.context}", line, col) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise LimitExceeded(f"YAML nested too deeply (limit {max_depth})") from None
    finally:
        loader.dispose()
    return docs


def parse(path: str, text: str, **limits: int) -> Optional[Doc]:
    docs = parse_all(path, text, **limits)
    return docs[0] if docs else None


def _nesting_guard(text: str, max_depth: int) -> None:
    """Reject absurd nesting before libyaml recurses into it."""
    depth = best = 0
    chars = (m.group() for m in _FLOW.finditer(text)) if ("[" in text or "{" in text) else ()
    for ch in chars:
        if ch in "[{":
            depth += 1
            if depth > best:
                best = depth
        elif ch in "]}":
            depth = max(0, depth - 1)
        elif ch == "\n":
            depth = 0 if depth > max_depth else depth
    if best > max_depth * 2:
        raise LimitExceeded(f"YAML flow collections nested {best} deep (limit {max_depth})")
    widest = max(map(len, _INDENT.findall(text)), default=0)
    if widest > max_depth * 16:
        raise LimitExceeded(f"YAML indented {widest} columns deep, block sequences included (limit {max_depth * 16})")


# Keys whose string value is a command line; the position of such a value (not only of its key)
# is kept under ``path + (VALUE,)``.
COMMAND_KEYS = frozenset({"command", "entrypoint", "args", "cmd", "run", "script"})
VALUE = "\x00value"


def _convert(node: Any, path: KeyPath, positions: Dict[KeyPath, Tuple[int, int]],
             budget: List[int], loader: Any, depth: int, max_depth: int) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise LimitExceeded("YAML expands to too many nodes (alias bomb?)")
    if depth > max_depth:
        raise LimitExceeded(f"YAML nested more than {max_depth} levels")
    if isinstance(node, yaml.ScalarNode):
        ctor = _SCALAR_CTORS.get(node.tag)
        if ctor is None or node.tag == _STR:
            return node.value
        try:
            return ctor(loader, node)
        except Exception:  # a bad timestamp or binary: keep the text
            return node.value
    if isinstance(node, yaml.SequenceNode):
        out_list = []
        for i, item in enumerate(node.value):
            p = path + (i,)
            positions.setdefault(p, (item.start_mark.line + 1, item.start_mark.column + 1))
            out_list.append(_convert(item, p, positions, budget, loader, depth + 1, max_depth))
        return out_list
    if isinstance(node, yaml.MappingNode):
        out: Dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged = _convert(value_node, path, positions, budget, loader, depth + 1, max_depth)
                for m in merged if isinstance(merged, list) else [merged]:
                    if isinstance(m, dict):
                        for k, v in m.items():
                            out.setdefault(k, v)
                continue
            key = _convert(key_node, path, {}, budget, loader, depth + 1, max_depth)
            if isinstance(key, (list, dict)):
                key = str(key)
            p = path + (key,)
            positions[p] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in COMMAND_KEYS and isinstance(value_node, yaml.ScalarNode) and value_node.style in (None, "", "'", '"'):
                # a command written as one string: its words are located from the value's start
                quote = 1 if value_node.style else 0
                positions[p + (VALUE,)] = (value_node.start_mark.line + 1, value_node.start_mark.column + 1 + quote)
            out[key] = _convert(value_node, p, positions, budget, loader, depth + 1, max_depth)
        return out
    return None
