"""Hostile input: every case finishes in bounded time, is reported, and costs no other file its findings."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest

from hardening_helpers import ScanRun, finding_keys, scan, write_good_stack

# A builder writes its hostile file(s) into the root and returns (path to leave out of the
# comparison, whether that path must appear in `errors`).
Builder = Callable[[Path], Tuple[str, bool]]
CASES: Dict[str, Builder] = {}


def case(name: str) -> Callable[[Builder], Builder]:
    def deco(fn: Builder) -> Builder:
        CASES[name] = fn
        return fn
    return deco


def _write(root: Path, rel: str, data: "str | bytes") -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data)
    return p


@case("yaml-alias-bomb")
def _(root: Path) -> Tuple[str, bool]:
    lines = ["model: x", 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    _write(root, "configs/bomb.yaml", "\n".join(lines) + "\n")
    return "configs/bomb.yaml", True


@case("yaml-deep-flow")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "configs/deep.yaml", "model: " + "[" * 100_000 + "]" * 100_000 + "\n")
    return "configs/deep.yaml", True


@case("yaml-deep-block")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "configs/block.yaml", "model:\n" + "".join("  " * i + f"k{i}:\n" for i in range(3000)))
    return "configs/block.yaml", True


@case("yaml-deep-sequence")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "configs/seq.yaml", "model:\n" + "- " * 50_000 + "x\n")
    return "configs/seq.yaml", True


@case("json-100k-deep")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "models/deep/config.json", "[" * 100_000 + "]" * 100_000)
    return "models/deep/config.json", True


@case("json-100k-deep-objects")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "ds_config.json", '{"fp16": ' * 100_000 + "1" + "}" * 100_000)
    return "ds_config.json", False  # too deep to read: reported only if read, never a crash


@case("toml-deep")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "sub/pyproject.toml", "[project]\nname = 'x'\n[tool.x]\na = " + "[" * 100_000 + "]" * 100_000 + "\n")
    return "sub/pyproject.toml", True


@case("binary-config-json")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "models/bin/config.json", os.urandom(4096) + b"\0" * 64)
    return "models/bin/config.json", True


@case("binary-requirements")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "requirements-bin.txt", b"\x7fELF\x02\x01\x01\0" + os.urandom(2048))
    return "requirements-bin.txt", True


@case("binary-dockerfile")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "docker/Dockerfile", b"\0\0\0" + os.urandom(1024))
    return "docker/Dockerfile", True


@case("invalid-utf8")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "requirements-dev.txt", b"torch==2.1.0\n\xff\xfe\x80 broken\n")
    return "requirements-dev.txt", True


@case("empty-files")
def _(root: Path) -> Tuple[str, bool]:
    for rel in ("e/config.json", "e/requirements.txt", "e/Dockerfile", "e/compose.yaml",
                "e/environment.yml", "e/pyproject.toml", "e/tokenizer_config.json",
                "e/chat_template.jinja", "e/train.py", "e/run.sh"):
        _write(root, rel, "")
    return "e", False


@case("fifo")
def _(root: Path) -> Tuple[str, bool]:
    os.mkfifo(root / "requirements-fifo.txt")
    return "requirements-fifo.txt", True


@case("dev-zero-symlink")
def _(root: Path) -> Tuple[str, bool]:
    (root / "deps").mkdir()
    os.symlink("/dev/zero", root / "deps" / "requirements.txt")
    return "deps/requirements.txt", True


@case("unreadable")
def _(root: Path) -> Tuple[str, bool]:
    if os.geteuid() == 0:
        pytest.skip("root reads chmod-000 files")
    p = _write(root, "requirements-locked.txt", "torch==2.1.0\n")
    p.chmod(0)
    return "requirements-locked.txt", True


@case("symlink-loops")
def _(root: Path) -> Tuple[str, bool]:
    (root / "loop").mkdir()
    os.symlink("b.yaml", root / "loop" / "a.yaml")
    os.symlink("a.yaml", root / "loop" / "b.yaml")
    os.symlink("requirements.txt", root / "loop" / "requirements.txt")
    os.symlink("..", root / "loop" / "up")
    os.symlink(".", root / "loop" / "here")
    return "loop", False


@case("symlinks-outside-root")
def _(root: Path) -> Tuple[str, bool]:
    (root / "ext").mkdir()
    os.symlink("/etc/passwd", root / "ext" / "requirements.txt")
    os.symlink("/usr", root / "ext" / "usr")
    return "ext", True


@case("requirements-includes-escape-and-cycle")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "reqs/requirements-a.txt",
           "-r ../../../../../../etc/passwd\n-r /etc/shadow\n-c ../../outside.txt\n"
           "-r requirements-a.txt\n-r requirements-b.txt\nnumpy==1.26.4\n")
    _write(root, "reqs/requirements-b.txt", "-r requirements-a.txt\n-r requirements-b.txt\nnumpy<2\n")
    return "reqs", False


@case("dockerfile-endless-continuation")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "cont/Dockerfile", "FROM python:3.10\nRUN pip install \\\n" + " pkg \\\n" * 200_000)
    return "cont/Dockerfile", False


@case("dockerfile-continuation-comments")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "cont2/Dockerfile", "FROM python:3.10\nRUN echo \\\n" + "# c\n" * 100_000 + " done\n")
    return "cont2/Dockerfile", False


@case("python-syntax-error")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "scripts/broken.py", "import transformers\ndef f(:\n    pass\n")
    return "scripts/broken.py", True


@case("python-1mb-line")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "scripts/long.py", "import transformers\nx = '" + "a" * 1_000_000 + "'\n")
    return "scripts/long.py", False


@case("python-1mb-nesting")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "scripts/nested.py", "import torch\nx = " + "(" * 500_000 + ")" * 500_000 + "\n")
    return "scripts/nested.py", True


@case("shell-1mb-line")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "scripts/run.sh", "pip install " + "'" + "x" * 1_000_000 + "\n" + "a && " * 100_000 + "\n")
    return "scripts/run.sh", False


@case("huge-chat-template")
def _(root: Path) -> Tuple[str, bool]:
    body = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    _write(root, "models/tpl/chat_template.jinja", body * 20_000)  # ~1.7 MB
    _write(root, "models/tpl/tokenizer_config.json",
           '{"eos_token": "<|im_end|>", "chat_template": "' + "{{ x }}" * 300_000 + '"}')
    return "models/tpl", True


@case("deep-jinja-template")
def _(root: Path) -> Tuple[str, bool]:
    _write(root, "models/tpl2/chat_template.jinja", "{% if a %}" * 5_000 + "x" + "{% endif %}" * 5_000)
    _write(root, "models/tpl2/tokenizer_config.json", '{"eos_token": "<|im_end|>"}')
    return "models/tpl2", False


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> ScanRun:
    root = tmp_path_factory.mktemp("clean")
    write_good_stack(root)
    run = scan(root)
    assert [f["rule"] for f in run.findings if f["rule"] == "SL101"], "the known finding is missing"
    assert run.errors == []
    return run


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_file_is_contained(name: str, tmp_path: Path, clean_run: ScanRun) -> None:
    write_good_stack(tmp_path)
    bad, must_report = CASES[name](tmp_path)
    run = scan(tmp_path)
    internal = [e for e in run.errors if e["message"].startswith("internal:")]
    assert internal == [], internal
    assert run.returncode == 0, run.stderr[-2000:]
    if must_report:
        assert any(p == bad or p.startswith(bad + "/") for p in run.error_paths()), run.errors
    assert finding_keys(run.findings, without=bad) == finding_keys(clean_run.findings)
    # Nothing outside the hostile file is reported as broken.
    assert [e for e in run.errors if not (e["path"] == bad or e["path"].startswith(bad + "/"))] == []


def test_200mb_config_is_refused_without_reading(tmp_path: Path, clean_run: ScanRun) -> None:
    write_good_stack(tmp_path)
    big = tmp_path / "models" / "big" / "config.json"
    big.parent.mkdir(parents=True)
    with open(big, "wb") as fh:  # sparse: instant, no disk used
        fh.truncate(200 * 1024 * 1024)
    run = scan(tmp_path)
    assert any(e["path"] == "models/big/config.json" and "limit" in e["message"] for e in run.errors), run.errors
    assert finding_keys(run.findings) == finding_keys(clean_run.findings)
    assert 0 < run.max_rss_kib < 150 * 1024, f"peak RSS {run.max_rss_kib} KiB: the file was read"


def test_huge_generic_file_over_the_limit_is_reported(tmp_path: Path) -> None:
    """A generic name (train.yaml) over the size limit is reported, not silently dropped."""
    write_good_stack(tmp_path)
    with open(tmp_path / "train.yaml", "wb") as fh:
        fh.truncate(60 * 1024 * 1024)
    run = scan(tmp_path)
    assert any(e["path"] == "train.yaml" and "max-file-size" in e["message"] for e in run.errors), run.errors


def test_line_endings_do_not_change_findings(tmp_path: Path, clean_run: ScanRun) -> None:
    write_good_stack(tmp_path)
    for rel in ("requirements.txt", "models/q/config.json", "train.py", "Dockerfile"):
        p = tmp_path / rel
        p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))
    assert finding_keys(scan(tmp_path).findings) == finding_keys(clean_run.findings)
    # Mixed: CRLF on some lines only.
    p = tmp_path / "requirements.txt"
    p.write_bytes(b"transformers==4.36.2\r\ntorch==2.1.0\n")
    assert finding_keys(scan(tmp_path).findings) == finding_keys(clean_run.findings)


def test_utf16_and_utf8_bom_read_like_utf8(tmp_path: Path, clean_run: ScanRun) -> None:
    write_good_stack(tmp_path)
    req = tmp_path / "requirements.txt"
    req.write_bytes(req.read_text().encode("utf-16"))  # with BOM
    cfg = tmp_path / "models" / "q" / "config.json"
    cfg.write_bytes(b"\xef\xbb\xbf" + cfg.read_bytes())
    run = scan(tmp_path)
    assert run.errors == []
    assert finding_keys(run.findings) == finding_keys(clean_run.findings)


def test_broken_utf16_is_reported(tmp_path: Path) -> None:
    write_good_stack(tmp_path)
    (tmp_path / "requirements-x.txt").write_bytes(b"\xff\xfe" + b"t\x00o\x00\x00\xd8")  # lone surrogate
    run = scan(tmp_path)
    assert "requirements-x.txt" in run.error_paths()


def test_single_hostile_file_given_explicitly(tmp_path: Path) -> None:
    """Pre-commit passes file names: a FIFO or device among them must not hang the hook."""
    write_good_stack(tmp_path)
    (tmp_path / ".git").mkdir()
    os.mkfifo(tmp_path / "requirements-fifo.txt")
    run = scan(tmp_path, ["models/q/config.json", "requirements-fifo.txt"])
    assert [f["rule"] for f in run.findings] == ["SL101"]
    assert "requirements-fifo.txt" in run.error_paths()


@case("device-nodes")
def _(root: Path) -> Tuple[str, bool]:
    """Character devices under stack-file names inside the tree (mknod needs root, as CI has)."""
    if os.geteuid() != 0:
        pytest.skip("mknod needs root")
    import stat

    (root / "dev").mkdir()
    os.mknod(root / "dev" / "requirements.txt", 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # like /dev/zero
    os.mknod(root / "dev" / "config.json", 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # like /dev/null
    return "dev", True


def _in_process(root: Path, monkeypatch: pytest.MonkeyPatch, jobs: int = 1):  # type: ignore[no-untyped-def]
    from stacklint import config
    from stacklint.scan import ScanOptions, scan as do_scan

    monkeypatch.chdir(root)
    return do_scan(ScanOptions(["."], config.load(None, "."), jobs=jobs))[0]


def test_unreadable_file_and_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """EACCES on a file and on a directory, whoever runs the tests (root reads chmod-000
    files, so the refusal is simulated at the system call the scan makes)."""
    import errno

    from stacklint import discover, load

    write_good_stack(tmp_path)
    clean = _in_process(tmp_path, monkeypatch)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked" / "requirements.txt").write_text("torch==2.1.0\n")
    (tmp_path / "sealed").mkdir()
    (tmp_path / "sealed" / "requirements.txt").write_text("torch==2.1.0\n")
    real_open, real_scandir = os.open, os.scandir

    def deny_open(path, *a, **k):  # type: ignore[no-untyped-def]
        if str(path).endswith("locked/requirements.txt"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *a, **k)

    def deny_scandir(path):  # type: ignore[no-untyped-def]
        if str(path).endswith("sealed"):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(load.os, "open", deny_open)
    monkeypatch.setattr(discover.os, "scandir", deny_scandir)
    result = _in_process(tmp_path, monkeypatch)
    monkeypatch.undo()
    errors = {e.path: e.message for e in result.errors}
    assert "cannot open" in errors.get("locked/requirements.txt", ""), errors
    assert "cannot read directory" in errors.get("sealed", ""), errors
    assert [f.sort_key() for f in result.findings] == [f.sort_key() for f in clean.findings]


def test_device_path_given_explicitly(tmp_path: Path) -> None:
    write_good_stack(tmp_path)
    (tmp_path / ".git").mkdir()
    run = scan(tmp_path, ["models/q/config.json", "/dev/zero"])
    assert [f["rule"] for f in run.findings] == ["SL101"]
    assert any(p.endswith("dev/zero") for p in run.error_paths()), run.errors


def test_every_hostile_case_at_once_with_a_pool(tmp_path: Path, clean_run: ScanRun) -> None:
    """All cases in one tree, parsed by worker processes: same report as in one process,
    bounded time, and the good stack's findings intact."""
    write_good_stack(tmp_path)
    bad: List[str] = []
    for name in sorted(CASES):
        sub = tmp_path / "cases" / name
        sub.mkdir(parents=True)
        try:
            rel, _must = CASES[name](sub)
        except pytest.skip.Exception:
            continue
        bad.append(f"cases/{name}/{rel}".rstrip("/"))
    one = scan(tmp_path, extra=["--jobs", "1"], timeout=120)
    two = scan(tmp_path, extra=["--jobs", "2"], timeout=120)
    assert two.report == one.report
    assert [e for e in one.errors if e["message"].startswith("internal:")] == []
    kept = finding_keys(one.findings, without="cases")
    assert kept == finding_keys(clean_run.findings)
