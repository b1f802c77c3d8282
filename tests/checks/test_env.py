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
