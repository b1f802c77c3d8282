"""Property tests: any text in, a parsed value or the parser's own ParseError out."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stacklint.build import _toml_doc
from stacklint.load import ReadError, decode
from stacklint.parsers import dockerfile, jsonfile, python, requirements, shell, yamlfile
from stacklint.parsers.base import ParseError

PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Text biased toward each format's syntax so the parsers get past their first line.
_PUNCT = st.sampled_from(list("{}[]:,\"'#-=\\\n\r\t &|;$()<>@*!%?") + ["\r\n", "  ", "- ", ": ", "\\\n",
                                                                    "RUN ", "FROM ", "-r ", "==", "&a", "*a"])
TEXT = st.one_of(st.text(max_size=300),
                 st.lists(st.one_of(_PUNCT, st.text(max_size=4)), max_size=80).map("".join))


@PROPS
@given(TEXT)
def test_json(text: str) -> None:
    try:
        doc = jsonfile.parse("x.json", text, max_depth=64)
        doc.loc("a", 0)
    except ParseError:
        pass


@PROPS
@given(TEXT)
def test_yaml(text: str) -> None:
    try:
        for doc in yamlfile.parse_all("x.yaml", text, max_nodes=10_000, max_depth=64):
            doc.loc("a", 0)
    except ParseError:
        pass


@PROPS
@given(TEXT)
def test_toml(text: str) -> None:
    try:
        _toml_doc("pyproject.toml", text).loc("project")
    except ParseError:
        pass


@PROPS
@given(TEXT)
def test_requirements(text: str) -> None:
    try:
        requirements.parse("requirements.txt", "/nonexistent/requirements.txt", text)
    except ParseError:
        pass


@PROPS
@given(TEXT)
def test_dockerfile(text: str) -> None:
    try:
        dockerfile.parse("Dockerfile", text)
    except ParseError:
        pass


@PROPS
@given(TEXT)
def test_shell(text: str) -> None:
    shell.parse_script(text)  # the tokenizer has no error: anything is words and operators


@PROPS
@given(TEXT)
def test_python(text: str) -> None:
    try:
        python.parse("x.py", text)
    except ParseError:
        pass


@PROPS
@given(st.binary(max_size=400))
def test_decode(data: bytes) -> None:
    try:
        assert isinstance(decode(data), str)
    except ReadError:
        pass
