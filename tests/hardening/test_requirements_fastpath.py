"""The plain-requirements reader gives exactly what pip-requirements-parser gives."""
from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import CORPUS
from stacklint.parsers import requirements as R

_NAMES = st.sampled_from(["torch", "Transformers", "peft", "flash_attn", "vllm", "a.b-c_d", "x", "numpy"])
_OPS = st.sampled_from(["==", ">=", "<=", "~=", "!=", "<", ">", "==="])
_VERSIONS = st.sampled_from(["2.1.0", "4.36.2", "1.*", "2.1.0+cu121", "0.4.0rc1", "1.0.post1", "2"])
_MARKERS = st.sampled_from(["", " ; python_version < '3.9'", ";sys_platform=='linux'",
                            " ; platform_machine != 'x86-64' and python_version >= '3.8'", "; extra == 'gpu'"])
_EXTRAS = st.sampled_from(["", "[gpu]", "[a, b]", " [x]"])
_SPACES = st.sampled_from(["", " ", "  ", "\t"])
_COMMENTS = st.sampled_from(["", "  # pinned", " #x", "#not-a-comment"])


@st.composite
def _line(draw: st.DrawFn) -> str:
    specs = draw(st.lists(st.tuples(_OPS, _VERSIONS), max_size=3))
    spec = ",".join(f"{draw(_SPACES)}{op}{v}" for op, v in specs)
    return (draw(_SPACES) + draw(_NAMES) + draw(_EXTRAS) + spec + draw(_MARKERS) + draw(_COMMENTS))


def _library(text: str) -> object:
    saved = R._simple
    R._simple = lambda path, text: None  # type: ignore[assignment]
    try:
        return R.parse("requirements.txt", "requirements.txt", text)
    except Exception as exc:  # noqa: BLE001 - compared as such
        return type(exc)
    finally:
        R._simple = saved  # type: ignore[assignment]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(_line(), st.sampled_from(["", "# comment", "   "])), max_size=8),
       st.sampled_from(["\n", "\r\n"]))
def test_fast_path_matches_the_library(lines: list, newline: str) -> None:
    text = newline.join(lines) + newline
    fast = R._simple("requirements.txt", text)
    if fast is not None:
        assert fast == _library(text)


def test_fast_path_on_real_files() -> None:
    files = sorted(CORPUS.rglob("requirements*.txt"))[:200] if CORPUS.is_dir() else []
    fast = 0
    for f in files:
        try:
            text = f.read_text("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        doc = R._simple("requirements.txt", text)
        if doc is not None:
            fast += 1
            assert doc == _library(text), f
    assert fast or not files


def test_fast_path_declines_what_it_does_not_read(tmp_path: Path) -> None:
    for text in ("-r other.txt\ntorch\n", "torch @ https://x/torch.whl\n", "./local_pkg\n", "-e .\n",
                 "torch==2.1 \\\n  --hash=sha256:00\n", "torch==${TORCH}\n", "--index-url https://x\n",
                 "not a requirement !!\n", "pkg.whl\n"):
        assert R._simple("requirements.txt", text) is None, text
