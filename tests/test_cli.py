"""The command line end to end: exit codes, output formats and their schemas, pre-commit mode."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SHARED

TOK = '{\n  "eos_token": "<|im_end|>",\n  "pad_token": "<|endoftext|>"\n}\n'


def make_repo(root: Path, *, broken: bool = True) -> Path:
    d = root / "out" / "qwen2.5-7b-instruct-sft"
    d.mkdir(parents=True)
    (d / "tokenizer_config.json").write_text(TOK)
    if not broken:
        (d / "chat_template.jinja").write_text("{% for m in messages %}{{ m.content }}<|im_end|>{% endfor %}")
    (root / "requirements.txt").write_text("torch==2.4.0\n")
    return root


def sl(*args: str, cwd: Path, env: dict = None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "stacklint", *args], cwd=str(cwd), capture_output=True,
                          text=True, env=e, timeout=120)


def test_text_output_and_exit_1(tmp_path: Path):
    make_repo(tmp_path)
    r = sl("scan", ".", "--select", "SL601", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("out/qwen2.5-7b-instruct-sft/tokenizer_config.json:1:1: SL601 [error] ")
    assert "    fix: " in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith("Found 1 problem (1 error, 0 warnings, 0 info) in 2 files.")
    assert "\033[" not in r.stdout  # not a TTY: no colour


def test_clean_repo_exits_0(tmp_path: Path):
    make_repo(tmp_path, broken=False)
    r = sl("scan", "--select", "SL601", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("All checks passed")


def test_exit_zero_fail_on_and_usage_errors(tmp_path: Path):
    make_repo(tmp_path)
    assert sl("scan", "--select", "SL601", "--exit-zero", cwd=tmp_path).returncode == 0
    assert sl("scan", "--select", "SL601", "--fail-on", "error", cwd=tmp_path).returncode == 1
    r = sl("scan", "--select", "SL999", cwd=tmp_path)
    assert r.returncode == 2 and "unknown rule" in r.stderr
    r = sl("scan", "does-not-exist", cwd=tmp_path)
    assert r.returncode == 2 and "no such file" in r.stderr
    assert sl("scan", "--format", "xml", cwd=tmp_path).returncode == 2


def test_severity_override_changes_exit_code(tmp_path: Path):
    make_repo(tmp_path)
    (tmp_path / "stacklint.toml").write_text('select = ["SL601"]\n[severity]\nSL601 = "info"\n')
    r = sl("scan", cwd=tmp_path)
    assert r.returncode == 0 and "[info]" in r.stdout


def test_json_output_matches_schema(tmp_path: Path):
    jsonschema = pytest.importorskip("jsonschema")
    make_repo(tmp_path)
    r = sl("scan", "--select", "SL601", "--format", "json", cwd=tmp_path)
    data = json.loads(r.stdout)
    schema = json.loads((ROOT / "tests" / "schemas" / "report.schema.json").read_text())
    jsonschema.validate(data, schema)
    f = data["findings"][0]
    assert (f["rule"], f["name"], f["severity"]) == ("SL601", "chat-model-without-chat-template", "error")
    assert f["category"] == "Tokenizer and Text Processing Issues"
    assert f["path"] == "out/qwen2.5-7b-instruct-sft/tokenizer_config.json" and f["line"] == 1
    assert data["summary"]["by_severity"] == {"error": 1, "warning": 0, "info": 0}


def test_sarif_output_validates_against_official_schema(tmp_path: Path):
    jsonschema = pytest.importorskip("jsonschema")
    make_repo(tmp_path)
    out = tmp_path / "report.sarif"
    r = sl("scan", "--select", "SL601", "--format", "sarif", "--output", str(out), cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    doc = json.loads(out.read_text())
    schema = json.loads((SHARED / "schemas" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.validate(doc, schema)
    run = doc["runs"][0]
    assert run["tool"]["driver"]["rules"][0]["id"] == "SL601"
    res = run["results"][0]
    assert res["partialFingerprints"]["stacklintFingerprint/v1"]
    assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("tokenizer_config.json")


def test_github_annotations(tmp_path: Path):
    make_repo(tmp_path)
    r = sl("scan", "--select", "SL601", "--format", "github", cwd=tmp_path)
    line = r.stdout.splitlines()[0]
    assert line.startswith("::error file=out/qwen2.5-7b-instruct-sft/tokenizer_config.json,line=1,col=1,"
                           "title=SL601 chat-model-without-chat-template::")


def test_colour_is_off_with_no_color(tmp_path: Path):
    from stacklint.cli import _color, _parser

    args = _parser().parse_args(["scan"])

    class TTY:
        def isatty(self) -> bool:
            return True

    os.environ["NO_COLOR"] = "1"
    try:
        assert _color(args, TTY()) is False
    finally:
        del os.environ["NO_COLOR"]
    assert _color(args, TTY()) is True


def test_given_files_report_only_findings_that_involve_them(tmp_path: Path):
    make_repo(tmp_path)
    (tmp_path / ".git").mkdir()
    r = sl("scan", "requirements.txt", "--select", "SL601", cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    r = sl("scan", "out/qwen2.5-7b-instruct-sft/tokenizer_config.json", "--select", "SL601", cwd=tmp_path)
    assert r.returncode == 1 and "SL601" in r.stdout


def test_baseline_round_trip(tmp_path: Path):
    make_repo(tmp_path)
    base = tmp_path / "baseline.json"
    assert sl("scan", "--select", "SL601", "--write-baseline", str(base), cwd=tmp_path).returncode == 0
    assert json.loads(base.read_text())["fingerprints"]
    r = sl("scan", "--select", "SL601", "--baseline", str(base), cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    # a new problem elsewhere is still reported
    d = tmp_path / "other" / "llama-3-8b-instruct"
    d.mkdir(parents=True)
    (d / "tokenizer_config.json").write_text(TOK)
    r = sl("scan", "--select", "SL601", "--baseline", str(base), cwd=tmp_path)
    assert r.returncode == 1 and "llama-3-8b-instruct" in r.stdout and "qwen2.5" not in r.stdout


def test_rules_and_explain(tmp_path: Path):
    r = sl("rules", "--format", "json", cwd=tmp_path)
    rules = json.loads(r.stdout)
    assert {"code", "name", "severity", "category", "subcategory", "summary", "evidence"} <= set(rules[0])
    r = sl("explain", "SL601", cwd=tmp_path)
    assert r.returncode == 0 and "## Why is this bad?" in r.stdout
    assert sl("explain", "chat-model-without-chat-template", cwd=tmp_path).returncode == 0
    assert sl("explain", "SL000", cwd=tmp_path).returncode == 2


def test_version():
    r = sl("--version", cwd=ROOT)
    assert r.stdout.startswith("stacklint ")


def test_knowledge_query_shows_fact_and_source(tmp_path: Path):
    r = sl("knowledge", "package", "vllm", "0.6.3", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "torch==2.4.0" in r.stdout and "source: pypi:vllm==0.6.3" in r.stdout
    r = sl("knowledge", "model-type", "qwen2", "--format", "json", cwd=tmp_path)
    assert json.loads(r.stdout)["transformers"]["min_version"] == "4.37.0"
    r = sl("knowledge", "model-type", "qwen3", cwd=tmp_path)
    assert r.stdout.startswith("transformers: qwen3 supported since 4.51.0\n  source: pypi:transformers==4.51.0")
    r = sl("knowledge", "package", "no-such-package", cwd=tmp_path)
    assert r.returncode == 2 and "no releases" in r.stderr


COMPOSE = """services:
  vllm:
    image: vllm/vllm-openai:v0.6.3
    command: ["--model", "/models/qwen-sft", "--tensor-parallel-size", "3"]
    volumes:
      - ../models:/models:ro
      - hf-cache:/root/.cache/huggingface
    deploy:
      resources:
        reservations:
          devices: [{driver: nvidia, count: 2, capabilities: [gpu]}]
volumes:
  hf-cache: {}
"""


def _served_repo(root: Path, mount: str = "../models:/models:ro") -> Path:
    (root / "models" / "qwen-sft").mkdir(parents=True)
    (root / "models" / "qwen-sft" / "config.json").write_text(
        '{"model_type": "qwen2", "num_attention_heads": 28, "num_key_value_heads": 4}\n')
    (root / "serve").mkdir()
    (root / "serve" / "docker-compose.yml").write_text(COMPOSE.replace("../models:/models:ro", mount))
    return root


def test_stack_command_shows_what_was_joined(tmp_path: Path):
    """`stacklint stack` prints the model of the stack with provenance; the served container path
    is resolved through the compose bind mount to the model directory of the tree."""
    _served_repo(tmp_path)
    r = sl("stack", ".", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    [job] = d["jobs"]
    assert (job["kind"], job["framework"], job["context"], job["visible_gpus"]) == ("serving", "vllm", "compose", 2)
    assert job["settings"]["tensor_parallel_size"] == {"value": "3", "at": "serve/docker-compose.yml:4"}
    served = [m for m in d["models"] if m["ref"] == "/models/qwen-sft"]
    assert served and served[0]["local_dir"] == "models/qwen-sft" and served[0]["model_type"] == "qwen2"
    text = sl("stack", ".", cwd=tmp_path).stdout
    assert "serving / vllm (compose) model /models/qwen-sft, 2 GPU(s) visible" in text
    assert "target: unknown" in text


def test_compose_bind_mount_joins_served_path_to_model_dir(tmp_path: Path):
    _served_repo(tmp_path)
    r = sl("scan", ".", "--select", "SL503", "--format", "json", cwd=tmp_path)
    [f] = json.loads(r.stdout)["findings"]
    assert (f["rule"], f["path"], f["line"]) == ("SL503", "serve/docker-compose.yml", 4)
    # a named volume (not a path of the tree) cannot be resolved: no finding, no guess
    other = tmp_path / "named"
    other.mkdir()
    _served_repo(other, mount="models:/models")
    r = sl("scan", ".", "--select", "SL503", "--format", "json", cwd=other)
    assert json.loads(r.stdout)["findings"] == []


def test_docker_run_volume_joins_served_path_to_model_dir(tmp_path: Path):
    (tmp_path / "models" / "q").mkdir(parents=True)
    (tmp_path / "models" / "q" / "config.json").write_text('{"model_type": "qwen2", "num_attention_heads": 28}\n')
    run = "docker run --gpus 2 -v ./models:/models vllm/vllm-openai:v0.6.3 --model /models/q --tensor-parallel-size {}\n"
    (tmp_path / "serve.sh").write_text(run.format(3))
    r = sl("scan", ".", "--select", "SL503", "--format", "json", cwd=tmp_path)
    assert [(f["path"], f["line"]) for f in json.loads(r.stdout)["findings"]] == [("serve.sh", 1)]
    (tmp_path / "serve.sh").write_text(run.format(2))
    r = sl("scan", ".", "--select", "SL503", "--format", "json", cwd=tmp_path)
    assert json.loads(r.stdout)["findings"] == []


@pytest.mark.parametrize("command, col", [("--model /m/q --tensor-parallel-size 3", 27),
                                          ('"--model /m/q --tensor-parallel-size 3"', 28),
                                          ("'--model /m/q --tensor-parallel-size 3'", 28)])
def test_compose_command_string_positions_point_at_the_flag(tmp_path: Path, command: str, col: int):
    """A compose `command:` written as one string: the finding's column is the flag's own, not the key's."""
    (tmp_path / "q").mkdir()
    (tmp_path / "q" / "config.json").write_text('{"model_type": "qwen2", "num_attention_heads": 28}\n')
    (tmp_path / "docker-compose.yml").write_text(
        f"services:\n  vllm:\n    image: vllm/vllm-openai:v0.6.3\n    command: {command}\n    volumes: ['./q:/m/q']\n")
    r = sl("scan", ".", "--select", "SL503", "--format", "json", cwd=tmp_path)
    assert [(f["line"], f["column"]) for f in json.loads(r.stdout)["findings"]] == [(4, col)]


def test_preview_rules_run_only_when_asked(tmp_path: Path):
    (tmp_path / "train.yaml").write_text("base_model: Qwen/Qwen2.5-7B-Instruct\ndatasets: []\nbf16: true\nfp16: true\n")
    codes = lambda r: [f["rule"] for f in json.loads(r.stdout)["findings"]]  # noqa: E731
    assert codes(sl("scan", ".", "--select", "ALL", "--format", "json", cwd=tmp_path)) == []
    assert codes(sl("scan", ".", "--preview", "--format", "json", cwd=tmp_path)) == ["SL202"]
    (tmp_path / "stacklint.toml").write_text("preview = true\n")
    assert codes(sl("scan", ".", "--format", "json", cwd=tmp_path)) == ["SL202"]
    (tmp_path / "stacklint.toml").write_text('preview = "yes"\n')
    r = sl("scan", ".", cwd=tmp_path)
    assert r.returncode == 2 and "preview: expected true or false" in r.stderr
    assert "(preview: runs with --preview)" in sl("explain", "SL202", cwd=tmp_path).stdout


def test_summary_counts_are_pluralised(tmp_path: Path):
    (tmp_path / "requirements.txt").write_text("numpy>=2\ntorch==2.1.2\n")
    r = sl("scan", "requirements.txt", cwd=tmp_path)
    assert r.stdout.rstrip().splitlines()[-1] == "Found 1 problem (1 error, 0 warnings, 0 info) in 1 file."
    (tmp_path / "requirements.txt").write_text("numpy<2\ntorch==2.1.2\n")
    r = sl("scan", "requirements.txt", cwd=tmp_path)
    assert r.stdout.rstrip().splitlines()[-1] == "All checks passed: 1 file, no problems."
