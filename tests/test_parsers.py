"""Every parser keeps 1-based line and column of the values rules flag."""
from __future__ import annotations

from pathlib import Path

import pytest

from stacklint.parsers import dockerfile, jsonfile, python, requirements, shell, yamlfile
from stacklint.parsers.base import LimitExceeded, ParseError


def test_json_positions_of_nested_keys_and_items():
    text = '{\n  "a": 1,\n  "b": {"c": [10, {"d": "x\\"y"}]},\n  "e": []\n}\n'
    doc = jsonfile.parse("x.json", text)
    assert doc.data["b"]["c"][1]["d"] == 'x"y'
    assert (doc.loc("a").line, doc.loc("a").col) == (2, 3)
    assert (doc.loc("b", "c", 1, "d").line, doc.loc("b", "c", 1, "d").col) == (3, 20)
    assert (doc.loc("b", "c", 0).line, doc.loc("b", "c", 0).col) == (3, 15)
    # unknown keys fall back to the nearest known ancestor
    assert doc.loc("b", "zzz").line == 3
    assert doc.loc("nope").line == 1


def test_json_errors_have_positions():
    with pytest.raises(ParseError) as e:
        jsonfile.parse("x.json", '{\n  "a": 1\n  "b": 2\n}')
    assert e.value.line == 3


def test_json_deep_nesting_is_a_limit():
    with pytest.raises(LimitExceeded):
        jsonfile.parse("x.json", "[" * 300 + "]" * 300, max_depth=256)


def test_yaml_positions_multi_document_and_tags():
    text = "a: &x\n  b: [1, 2.5, true, null]\nc: *x\nd: !Ref foo\n---\n- k: v\n"
    docs = yamlfile.parse_all("x.yaml", text)
    assert docs[0].data == {"a": {"b": [1, 2.5, True, None]}, "c": {"b": [1, 2.5, True, None]}, "d": "foo"}
    assert (docs[0].loc("a", "b", 2).line, docs[0].loc("a", "b", 2).col) == (2, 15)
    assert (docs[0].loc("d").line, docs[0].loc("d").col) == (4, 1)
    assert docs[1].index == 1 and docs[1].loc(0, "k").line == 6


def test_yaml_merge_keys():
    docs = yamlfile.parse_all("x.yaml", "base: &b\n  lr: 1\njob:\n  <<: *b\n  bs: 2\n")
    assert docs[0].data["job"] == {"lr": 1, "bs": 2}


def test_yaml_alias_bomb_is_bounded():
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(8):
        prev, cur = chr(97 + i), chr(98 + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    with pytest.raises(LimitExceeded):
        yamlfile.parse_all("bomb.yaml", "\n".join(lines) + "\n", max_nodes=100_000)


def test_yaml_syntax_error_position():
    with pytest.raises(ParseError) as e:
        yamlfile.parse_all("x.yaml", "a: 1\nb: [1, 2\nc: 3\n")
    assert e.value.line >= 2


def test_requirements_lines_columns_options(tmp_path: Path):
    text = ("-r base.txt\n--extra-index-url https://download.pytorch.org/whl/cu121\n"
            "  torch==2.1.0+cu121 ; python_version>\"3.8\"  # pinned\n"
            "transformers>=4.37,<5 \\\n    # note\nvllm[tensorizer]\n")
    p = tmp_path / "requirements.txt"
    p.write_text(text)
    doc = requirements.parse("requirements.txt", str(p), text)
    by = {r.name: r for r in doc.requirements}
    assert (by["torch"].line, by["torch"].col) == (3, 3)
    assert by["torch"].specifier == "==2.1.0+cu121" and by["torch"].marker == 'python_version > "3.8"'
    assert by["transformers"].line == 4
    assert by["vllm"].extras == ("tensorizer",)
    assert doc.includes == [("base.txt", 1, False)]
    assert doc.index_urls == [("https://download.pytorch.org/whl/cu121", 2)]


def test_dockerfile_stages_args_runs_cmd():
    text = ("ARG BASE=nvidia/cuda:12.1.0-devel-ubuntu22.04\n"
            "FROM --platform=linux/arm64 ${BASE} AS build\n"
            "RUN pip install torch==2.1.0 \\\n"
            "    # a comment inside a continuation\n"
            "    vllm==0.4.0 && echo ok\n"
            "FROM build\n"
            'CMD ["vllm", "serve", "Qwen/Qwen2.5-7B"]\n')
    doc = dockerfile.parse("Dockerfile", text)
    s0, s1 = doc.stages
    assert s0.image == "nvidia/cuda:12.1.0-devel-ubuntu22.04" and s0.platform == "linux/arm64"
    assert (s0.image_line, s0.image_col) == (2, 29)
    pip = s0.run[0]
    assert pip.words == ["pip", "install", "torch==2.1.0", "vllm==0.4.0"]
    assert (pip.argv[3].line, pip.argv[3].col) == (5, 5)
    assert s1.image == s0.image  # FROM an earlier stage inherits its base
    assert [t.text for t in s1.cmd] == ["vllm", "serve", "Qwen/Qwen2.5-7B"]


def test_dockerfile_without_instructions_is_an_error():
    with pytest.raises(ParseError):
        dockerfile.parse("Dockerfile", "# only a comment\n")


def test_shell_commands_env_and_positions():
    text = ("export CUDA_VISIBLE_DEVICES=0,1\n"
            "CUDA_VISIBLE_DEVICES=0 vllm serve m --tensor-parallel-size 2 # tail\n"
            "python -m x --a='b c' | tee log\n")
    cmds, env = shell.parse_script(text)
    assert env == {"CUDA_VISIBLE_DEVICES": "0,1"}
    assert cmds[0].env == {"CUDA_VISIBLE_DEVICES": "0"}
    assert [(t.text, t.line, t.col) for t in cmds[0].argv][-2:] == [("--tensor-parallel-size", 2, 37), ("2", 2, 60)]
    assert cmds[1].words == ["python", "-m", "x", "--a=b c"]
    assert cmds[2].words == ["tee", "log"]


def test_python_calls_kwargs_literals_and_aliases():
    text = ("import torch\nfrom transformers import AutoModelForCausalLM as M\n"
            "name = 'Qwen/Qwen2.5-7B'\n"
            "m = M.from_pretrained(name, torch_dtype=torch.float16, use_auth_token=True)\n")
    doc = python.parse("x.py", text)
    call = next(c for c in doc.calls if c.short == "from_pretrained")
    assert call.qualname == "transformers.AutoModelForCausalLM.from_pretrained"
    assert call.args[0].value == "Qwen/Qwen2.5-7B"
    kw = call.kwargs["use_auth_token"]
    assert kw.value is True and (kw.key_line, kw.key_col) == (4, 56)
    assert python.dotted_source(call.kwargs["torch_dtype"].value) == "torch.float16"


def test_python_syntax_error_is_a_parse_error():
    with pytest.raises(ParseError) as e:
        python.parse("x.py", "def f(:\n")
    assert e.value.line == 1


def _paths(data, prefix=(), depth=0):  # type: ignore[no-untyped-def]
    yield prefix
    if depth >= 3:
        return
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for k, v in list(items)[:50]:
        yield from _paths(v, prefix + (k,), depth + 1)


def test_lazy_json_positions_match_a_full_scan() -> None:
    """Doc.loc on the lazy locator (stop at the key asked for, str.find for a unique top-level
    key) gives what the full token scan gives, on every JSON file of the corpus, whatever the
    order of the questions."""
    from conftest import CORPUS
    from stacklint.parsers import jsonfile
    from stacklint.parsers.base import Doc

    files = sorted(p for p in CORPUS.rglob("*.json") if p.is_file())
    assert len(files) > 200
    checked = 0
    for p in files:
        text = p.read_text(encoding="utf-8", errors="replace")
        try:
            lazy = jsonfile.parse(str(p), text)
        except Exception:
            continue
        eager = Doc(lazy.path, lazy.data, positions=jsonfile.locate(text.lstrip("\ufeff")))
        paths = list(_paths(lazy.data))
        for order in (paths, paths[::-1]):  # in text order, and last first
            fresh = jsonfile.parse(str(p), text)
            for path in order:
                assert fresh.loc(*path) == eager.loc(*path), (p, path)
                checked += 1
        assert lazy.loc("no such key", 3) == eager.loc("no such key", 3)
    assert checked > 10_000
