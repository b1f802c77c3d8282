"""Chat templates: find them in a model directory, compile and render them in Jinja2's
immutable sandbox only (as transformers does), with time and output-size limits."""
from __future__ import annotations

import hashlib
import json
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, Iterator, List, Optional, Tuple

from stacklint.findings import Location
from stacklint.model import ModelDir

MAX_OUTPUT = 200_000
TIME_LIMIT = 1.0  # seconds per render
SENTINEL = "ASSISTANT_REPLY_7f3a"


@dataclass(frozen=True)
class Template:
    text: str
    location: Location
    name: str = "default"


def templates(md: ModelDir) -> List[Template]:
    """Every chat template the directory ships, with where it is written."""
    out: List[Template] = []
    tf = md.chat_template_file
    if tf is not None and tf.text.strip():
        out.append(Template(tf.text, Location(tf.path, 1, 1)))
    cj = md.chat_template_json
    if cj is not None and isinstance(cj.data, dict) and isinstance(cj.data.get("chat_template"), str):
        out.append(Template(cj.data["chat_template"], cj.loc("chat_template")))
    tok = md.tokenizer
    if tok is not None and isinstance(tok.data, dict):
        t = tok.data.get("chat_template")
        if isinstance(t, str) and t.strip():
            out.append(Template(t, tok.loc("chat_template")))
        elif isinstance(t, list):
            for i, item in enumerate(t):
                if isinstance(item, dict) and isinstance(item.get("template"), str):
                    out.append(Template(item["template"], tok.loc("chat_template", i, "template"),
                                        str(item.get("name", i))))
    return out


def token_ids(md: ModelDir) -> Dict[str, int]:
    """Special/added token text -> id, from tokenizer_config.json's added_tokens_decoder."""
    out: Dict[str, int] = {}
    tok = md.tokenizer
    if tok is None or not isinstance(tok.data, dict):
        return out
    dec = tok.data.get("added_tokens_decoder")
    if isinstance(dec, dict):
        for k, v in dec.items():
            if isinstance(v, dict) and isinstance(v.get("content"), str):
                try:
                    out[v["content"]] = int(k)
                except ValueError:
                    pass
    return out


def token_text(md: ModelDir, name: str) -> Optional[str]:
    """bos_token / eos_token / pad_token as text (tokenizer_config, then special_tokens_map)."""
    for doc in (md.tokenizer, md.special_tokens):
        if doc is None or not isinstance(doc.data, dict):
            continue
        v = doc.data.get(name)
        if isinstance(v, dict):
            v = v.get("content")
        if isinstance(v, str):
            return v
    return None


class TemplateRaised(Exception):
    """The template called raise_exception(): it refuses this conversation on purpose."""


class RenderLimit(Exception):
    pass


@lru_cache(maxsize=1)
def _env() -> Any:
    from jinja2 import nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTag(Extension):  # transformers' {% generation %} ... {% endgeneration %}
        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

    def raise_exception(message: str) -> None:
        raise TemplateRaised(str(message))

    def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None,
               sort_keys: bool = False) -> str:
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt: str) -> str:
        return "26 Jul 2024"  # fixed: the scan must be reproducible

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


@lru_cache(maxsize=64)
def _compiled(text: str) -> Any:
    """The sandboxed template, compiled once per distinct text (a compile costs ~20 ms; a
    repository repeats the same template across its model directories)."""
    return _env().from_string(text)


@lru_cache(maxsize=256)
def compile_error(text: str) -> Optional[Tuple[str, int]]:
    """(message, line) when the template does not compile, else None."""
    from jinja2 import TemplateSyntaxError

    try:
        _compiled(text)
    except TemplateSyntaxError as exc:
        return exc.message or str(exc), exc.lineno or 1
    except Exception as exc:  # noqa: BLE001 - anything else jinja raises while compiling
        return f"{type(exc).__name__}: {exc}", 1
    return None


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise RenderLimit(f"rendering took longer than {seconds}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def render(text: str, messages: List[Dict[str, Any]], add_generation_prompt: bool,
           special: Tuple[Tuple[str, str], ...] = ()) -> str:
    """Render in the sandbox; raises TemplateRaised, RenderLimit or a Jinja/Python error."""
    tmpl = _compiled(text)
    ctx: Dict[str, Any] = dict(special)
    with _time_limit(TIME_LIMIT):
        out = tmpl.render(messages=messages, add_generation_prompt=add_generation_prompt, **ctx)
    if len(out) > MAX_OUTPUT:
        raise RenderLimit(f"rendering produced over {MAX_OUTPUT} characters")
    return out


def _conv(system: bool, list_content: bool) -> List[Dict[str, Any]]:
    def c(text: str) -> Any:
        return [{"type": "text", "text": text}] if list_content else text

    msgs = [{"role": "system", "content": c("You are a helpful assistant.")}] if system else []
    msgs += [{"role": "user", "content": c("Hello, who are you?")},
             {"role": "assistant", "content": c(SENTINEL)},
             {"role": "user", "content": c("Tell me a joke.")}]
    return msgs


@dataclass(frozen=True)
class Trial:
    ok: bool
    output: str = ""  # rendering of [sys?, user, assistant, user] without generation prompt
    error: str = ""


@lru_cache(maxsize=256)
def trial(text: str, special: Tuple[Tuple[str, str], ...]) -> Trial:
    """Render fixture conversations: with and without a system turn, string and list contents,
    and add_generation_prompt on and off. ok=False only when no variant renders for a reason
    other than the template's own raise_exception()."""
    if compile_error(text) is not None:
        return Trial(False, error="does not compile")
    errors: List[str] = []
    refused = False
    for list_content in (False, True):
        for system in (True, False):
            msgs = _conv(system, list_content)
            try:
                out = render(text, msgs, False, special)
                render(text, msgs, True, special)
                return Trial(True, out)
            except TemplateRaised:
                refused = True
            except RenderLimit as exc:
                return Trial(False, error=str(exc))
            except Exception as exc:  # noqa: BLE001 - jinja and sandbox errors alike
                errors.append(f"{type(exc).__name__}: {exc}")
    if refused and not errors:
        return Trial(True, "")  # refuses every fixture on purpose: nothing to judge
    return Trial(False, error=errors[0] if errors else "refused every fixture conversation")


def specials(md: ModelDir) -> Tuple[Tuple[str, str], ...]:
    out = []
    for name in ("bos_token", "eos_token", "pad_token", "unk_token"):
        t = token_text(md, name)
        if t is not None:
            out.append((name, t))
    return tuple(out)


def digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:12]
