"""SL131 pins-known-to-break-at-run-time: which pins the breakage records of the knowledge base judge."""
from __future__ import annotations

from pathlib import Path

from conftest import findings_of, run_scan


def _scan(tmp_path: Path, text: str, name: str = "requirements.txt"):
    (tmp_path / name).write_text(text)
    result, _ = run_scan(tmp_path)
    return findings_of(result, "SL131")


def test_accelerate_1_with_trainer_of_transformers_before_440(tmp_path):
    for text in ("transformers==4.32.0\naccelerate==1.0.1\n",
                 "transformers>=4.36,<4.40\naccelerate>=1.0\n",
                 "transformers==4.39.3\nAccelerate~=1.2\n"):
        assert [f["line"] for f in _scan(tmp_path, text)] == [2], text


def test_other_records(tmp_path):
    assert _scan(tmp_path, "peft==0.14.0\ntransformers==4.40.2\n")  # EncoderDecoderCache
    assert _scan(tmp_path, "sentence-transformers==2.2.2\nhuggingface_hub==0.26.1\n")  # cached_download
    assert _scan(tmp_path, "transformers==4.53.0\ntorch==2.0.1\n")  # PyTorch disabled below 2.1
    assert _scan(tmp_path, "vllm==0.8.4\ntransformers==5.0.0\n")  # vLLM bounds transformers only from below
    # Qwen-7B-Chat's requirements with the one transformers release that lacks SampleOutput
    assert _scan(tmp_path, "transformers==4.37.0\ntransformers_stream_generator==0.0.4\n")
    assert _scan(tmp_path, "transformers==4.37.1\ntransformers_stream_generator==0.0.4\n") == []


def test_working_or_open_pairs_are_not_reported(tmp_path):
    for text in ("transformers==4.40.0\naccelerate==1.0.1\n",  # 4.40 uses DataLoaderConfiguration
                 "transformers==4.32.0\naccelerate<1.0\n",
                 "transformers==4.32.0\naccelerate\n",  # unpinned: pip may pick 1.x, but the pin is not written
                 "transformers>=4.32\naccelerate==1.0.1\n",  # admits 4.40+
                 "transformers==4.32.0\n",
                 "accelerate==1.0.1\n",
                 "peft==0.13.2\ntransformers==4.40.2\n",
                 "numpy>=2\ntorch==2.1.2\n"):  # SL105 reports this one
        assert _scan(tmp_path, text) == [], text


def test_markers_that_do_not_hold_on_linux_are_skipped(tmp_path):
    assert _scan(tmp_path, "transformers==4.32.0\naccelerate==1.0.1; sys_platform == 'win32'\n") == []


def test_separate_install_sets_are_not_joined(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "requirements.txt").write_text("transformers==4.32.0\n")
    (tmp_path / "b" / "requirements.txt").write_text("accelerate==1.0.1\n")
    result, _ = run_scan(tmp_path)
    assert findings_of(result, "SL131") == []


def test_every_runtime_record_names_a_source_and_a_fix():
    from stacklint.knowledge import breakages

    for rec in breakages.all_breakages():
        if rec["kind"] == "runtime":
            assert rec["source"] and rec["fix"] and rec["effect"] and len(rec["when"]) >= 2, rec["id"]
