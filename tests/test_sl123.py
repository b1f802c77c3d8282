"""SL123 optimum-gptq-needs-newer-auto-gptq: which optimum / auto-gptq pins it judges."""
from __future__ import annotations

from pathlib import Path

from conftest import findings_of, run_scan


def _scan(tmp_path: Path, text: str):
    (tmp_path / "requirements.txt").write_text(text)
    result, _ = run_scan(tmp_path)
    return findings_of(result, "SL123")


HIT = [{"code": "SL123", "path": "requirements.txt", "line": 2, "col": 1}]


def test_optimum_114_and_later_refuse_auto_gptq_04(tmp_path):
    for opt in ("optimum==1.14.0", "optimum==1.16.2", "optimum>=1.14,<1.20", "optimum==2.0.0"):
        assert _scan(tmp_path, f"{opt}\nauto-gptq==0.4.2\n") == HIT, opt


def test_optimum_113_refuses_auto_gptq_before_042(tmp_path):
    assert _scan(tmp_path, "optimum==1.13.2\nauto_gptq==0.3.2\n") == HIT


def test_working_pairs_are_not_reported(tmp_path):
    for text in ("optimum==1.13.2\nauto-gptq==0.4.2\n",  # 1.13.x accepts 0.4.2
                 "optimum==1.14.0\nauto-gptq==0.5.0\n",
                 "optimum==1.12.0\nauto-gptq==0.3.0\n",  # no version check before 1.13
                 "optimum>=1.14\nauto-gptq==0.4.2\n",  # admits 2.1+, which dropped auto-gptq
                 "optimum\nauto-gptq==0.4.2\n",  # unpinned
                 "optimum==1.14.0\nauto-gptq>=0.4.2\n",  # admits 0.5.0+
                 "optimum==1.14.0\n",
                 "auto-gptq==0.4.2\n"):
        assert _scan(tmp_path, text) == [], text
