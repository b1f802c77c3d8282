"""Unit tests for the environment family's helpers (in-memory stacks)."""
from __future__ import annotations

from packaging.specifiers import SpecifierSet

from stacklint.checks.env import image_engine_version, incompatible_pins
from stacklint.findings import Location
from stacklint.model import Constraint, InstallSet, Setting, Stack


def _c(name: str, spec: str, line: int, local: str = None) -> Constraint:
    return Constraint(name, SpecifierSet(spec), f"{name}{spec}", Location("requirements.txt", line, 1),
                      "requirements", local=local)


def test_image_engine_version() -> None:
    assert image_engine_version("vllm/vllm-openai:v0.4.0") == ("vllm", "0.4.0")
    assert image_engine_version("lmsysorg/sglang:v0.4.1.post3-cu124") == ("sglang", "0.4.1.post3")
    assert image_engine_version("vllm/vllm-openai:latest") is None


def test_pins_conflict_and_cpu_index_exemption() -> None:
    s = InstallSet("requirements.txt", Location("requirements.txt"), "requirements",
                   constraints=[_c("torch", "==2.7.0", 1), _c("triton", "==3.2.0", 2)])
    assert [f.code for f in incompatible_pins(Stack(root=".", install_sets=[s]))] == ["SL102"]
    s.index_urls.append(Setting("https://download.pytorch.org/whl/cpu", Location("requirements.txt", 3)))
    assert list(incompatible_pins(Stack(root=".", install_sets=[s]))) == []


def test_compatible_ranges_are_quiet() -> None:
    s = InstallSet("requirements.txt", Location("requirements.txt"), "requirements",
                   constraints=[_c("vllm", ">=0.5", 1), _c("torch", "==2.3.1", 2)])
    assert list(incompatible_pins(Stack(root=".", install_sets=[s]))) == []


# -- platform / wheel rules (SL110-SL112) ---------------------------------------------------

def _plat_codes(stack: Stack) -> list:
    from stacklint.checks.env import _platform_findings

    return sorted((code, f.location.line) for code, f in _platform_findings(stack))


def _set(kind: str, *cs: Constraint, platforms=(), python=None) -> InstallSet:
    s = InstallSet("env", Location("environment.yml"), kind, constraints=list(cs))
    for p in platforms:
        s.platforms.append(Setting(p, Location("environment.yml", 2)))
    if python:
        s.python.append(Setting(SpecifierSet(f"=={python}.*"), Location("environment.yml", 3), python))
    return s


def test_platform_spellings() -> None:
    from stacklint.checks._platform import normalize, runner_platform

    assert normalize("linux/arm64") == normalize("linux-aarch64") == "linux-aarch64"
    assert normalize("win-64") == "windows-amd64" and normalize("osx-arm64") == "macos-arm64"
    assert normalize("osx-64") == "macos-x86_64" and normalize("linux/amd64") == "linux-x86_64"
    assert normalize("${BUILDPLATFORM}") is None and normalize("linux/ppc64le") is None
    assert runner_platform("windows-2022") == "windows-amd64"
    assert runner_platform("macos-13") == "macos-x86_64" and runner_platform("macos-latest") == "macos-arm64"
    assert runner_platform("ubuntu-24.04-arm") == "linux-aarch64" and runner_platform("self-hosted") is None


def test_old_bitsandbytes_on_windows_conda_env() -> None:
    s = _set("conda", _c("bitsandbytes", "==0.41.1", 5), platforms=("win-64",))
    assert _plat_codes(Stack(root=".", install_sets=[s])) == [("SL110", 5)]
    s = _set("conda", _c("bitsandbytes", ">=0.41", 5), platforms=("win-64",))
    assert _plat_codes(Stack(root=".", install_sets=[s])) == []  # 0.43+ has Windows wheels


def test_marker_excluding_the_platform_is_quiet() -> None:
    from packaging.markers import Marker

    c = _c("vllm", "==0.6.3", 4)
    s = _set("conda", c, platforms=("win-64",))
    assert _plat_codes(Stack(root=".", install_sets=[s])) == [("SL110", 4)]
    c2 = Constraint("vllm", SpecifierSet("==0.6.3"), "vllm==0.6.3", Location("requirements.txt", 4), "requirements",
                    marker=Marker('sys_platform == "linux"'))
    s = _set("conda", c2, platforms=("win-64",))
    assert _plat_codes(Stack(root=".", install_sets=[s])) == []


def test_linux_source_builds_are_not_reported_without_a_stated_platform() -> None:
    s = _set("conda", _c("flash-attn", "==2.6.3", 4), _c("deepspeed", "==0.14.4", 5), python="3.11")
    assert _plat_codes(Stack(root=".", install_sets=[s])) == []
    s = _set("conda", _c("flash-attn", "==2.6.3", 4), platforms=("osx-arm64",))
    assert _plat_codes(Stack(root=".", install_sets=[s])) == [("SL110", 4)]
    s = _set("conda", _c("deepspeed", "==0.14.4", 5), platforms=("win-64",))
    assert _plat_codes(Stack(root=".", install_sets=[s])) == [("SL111", 5)]


def test_python_without_wheels() -> None:
    s = _set("conda", _c("torch", "==2.1.2", 4), python="3.12")
    assert _plat_codes(Stack(root=".", install_sets=[s])) == [("SL112", 4)]
    s = _set("conda", _c("torch", ">=2.1", 4), python="3.12")
    assert _plat_codes(Stack(root=".", install_sets=[s])) == []
    s = _set("conda", _c("torch", "==2.1.2", 4), python="3.11")
    assert _plat_codes(Stack(root=".", install_sets=[s])) == []


def test_private_index_is_not_judged() -> None:
    s = _set("conda", _c("torch", "==2.1.2", 4), python="3.12")
    s.index_urls.append(Setting("https://mirror.example/simple", Location("requirements.txt", 1), "--index-url"))
    assert _plat_codes(Stack(root=".", install_sets=[s])) == []


def test_configured_target_platform() -> None:
    s = InstallSet("requirements.txt", Location("requirements.txt"), "requirements",
                   constraints=[_c("triton", "==3.0.0", 2)])
    st = Stack(root=".", install_sets=[s], target_platform=Setting("macos-arm64", Location("pyproject.toml", 9)))
    assert _plat_codes(st) == [("SL110", 2)]


def test_python_covered() -> None:
    from stacklint.knowledge import wheels

    assert wheels.python_covered(["3.8+"], "3.12") and not wheels.python_covered(["3.10+"], "3.9")
    assert wheels.python_covered(["*"], "3.13") and not wheels.python_covered(["3.10", "3.11"], "3.12")


def _scan_codes(tmp_path, files: dict, code_prefix: str = "SL11") -> list:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from conftest import run_scan

    for name, text in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    result, _ = run_scan(tmp_path)
    return sorted((f.code, f.location.path, f.location.line) for f in result.findings if f.code.startswith(code_prefix))


_MATRIX = """on: push
jobs:
  test:
    runs-on: ${{ matrix.os }}
    strategy:
      matrix:
        os: [ubuntu-latest, macos-14]
    steps:
      - run: pip install flash-attn==2.6.3
      - if: runner.os == 'Linux'
        run: pip install vllm==0.6.3
"""


def test_workflow_matrix_and_step_conditions(tmp_path) -> None:
    got = _scan_codes(tmp_path, {".github/workflows/ci.yml": _MATRIX})
    # flash-attn on the macOS leg; the vllm step only runs on Linux
    assert got == [("SL110", ".github/workflows/ci.yml", 9)]


def test_self_hosted_runner_is_not_judged(tmp_path) -> None:
    text = _MATRIX.replace("${{ matrix.os }}", "[self-hosted, macos]")
    assert _scan_codes(tmp_path, {".github/workflows/ci.yml": text}) == []


def test_nccl_backend_chosen_at_run_time_is_quiet(tmp_path) -> None:
    cfg = '[target]\nplatform = "macos"\n'
    bad = 'import torch\ntorch.distributed.init_process_group("nccl")\n'
    assert _scan_codes(tmp_path, {"stacklint.toml": cfg, "run.py": bad}, "SL113") == [("SL113", "run.py", 2)]
    good = ('import torch\nif torch.cuda.is_available():\n    torch.distributed.init_process_group("nccl")\n'
            'else:\n    torch.distributed.init_process_group("gloo")\n')
    (tmp_path / "run.py").write_text(good)
    assert _scan_codes(tmp_path, {}, "SL113") == []


def test_nccl_on_linux_or_unstated_platform_is_quiet(tmp_path) -> None:
    bad = 'import torch\ntorch.distributed.init_process_group(backend="nccl")\n'
    assert _scan_codes(tmp_path, {"run.py": bad}, "SL113") == []
    assert _scan_codes(tmp_path, {"stacklint.toml": '[target]\nplatform = "linux/arm64"\n'}, "SL113") == []


def test_nccl_with_cpu_only_torch(tmp_path) -> None:
    bad = 'import torch\ntorch.distributed.init_process_group("nccl")\n'
    req = "--index-url https://download.pytorch.org/whl/cpu\ntorch==2.1.0\n"
    assert _scan_codes(tmp_path, {"run.py": bad, "requirements.txt": req}, "SL113") == [("SL113", "run.py", 2)]
    (tmp_path / "requirements.txt").write_text("--index-url https://download.pytorch.org/whl/cu121\ntorch==2.1.0\n")
    assert _scan_codes(tmp_path, {}, "SL113") == []
