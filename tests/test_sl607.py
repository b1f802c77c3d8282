"""SL607 added-special-token-outside-embeddings: which added tokens it judges."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import findings_of, run_scan

BAD = Path(__file__).parent / "checks" / "SL607" / "bad"
MDIR = "output/llama2-7b-chatml-sft"


def _tok(content: str, special: bool = True) -> dict:
    return {"content": content, "lstrip": False, "normalized": not special, "rstrip": False,
            "single_word": False, "special": special}


def _repo(tmp_path: Path, tok: dict = None, drop: tuple = (), config: dict = None, special: dict = None,
          no_template: bool = False) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(BAD, repo)
    (repo / "expected.json").unlink()
    mdir = repo / MDIR
    tc = json.loads((mdir / "tokenizer_config.json").read_text())
    tc.update(tok or {})
    for k in drop:
        tc["added_tokens_decoder"].pop(k, None)
    if no_template:
        tc.pop("chat_template", None)
    (mdir / "tokenizer_config.json").write_text(json.dumps(tc, indent=2))
    if config is not None:
        cfg = json.loads((mdir / "config.json").read_text())
        cfg.update(config)
        (mdir / "config.json").write_text(json.dumps(cfg, indent=2))
    if special is not None:
        (mdir / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    return repo


def _hits(repo: Path, code: str = "SL607"):
    result, _ = run_scan(repo)
    return findings_of(result, code)


BASE_DECODER = {"0": _tok("<unk>"), "1": _tok("<s>"), "2": _tok("</s>")}
PLAIN_SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


# -- fires -------------------------------------------------------------------------------------

def test_tokens_of_the_chat_template_and_the_eos(tmp_path):
    assert [h["line"] for h in _hits(_repo(tmp_path))] == [29, 37]


def test_an_added_pad_token(tmp_path):
    tok = {"added_tokens_decoder": dict(BASE_DECODER, **{"32000": _tok("<pad>")}), "pad_token": "<pad>",
           "eos_token": "</s>"}
    repo = _repo(tmp_path, tok=tok, no_template=True, special=dict(PLAIN_SPECIALS, pad_token="<pad>"))
    assert len(_hits(repo)) == 1


def test_a_role_named_only_in_special_tokens_map(tmp_path):
    tok = {"added_tokens_decoder": dict(BASE_DECODER, **{"32000": _tok("<pad>")}), "eos_token": "</s>"}
    tok["pad_token"] = None
    repo = _repo(tmp_path, tok=tok, no_template=True, special=dict(PLAIN_SPECIALS, pad_token="<pad>"))
    assert len(_hits(repo)) == 1


def test_a_role_written_as_an_added_token_dict(tmp_path):
    tok = {"added_tokens_decoder": dict(BASE_DECODER, **{"32000": _tok("<|eot|>")}),
           "eos_token": {"__type": "AddedToken", "content": "<|eot|>", "special": True}}
    assert len(_hits(_repo(tmp_path, tok=tok, no_template=True, special=PLAIN_SPECIALS))) == 1


# -- does not fire -----------------------------------------------------------------------------

def test_resized_vocabulary(tmp_path):
    assert _hits(_repo(tmp_path, config={"vocab_size": 32003})) == []


def test_padded_vocabulary_larger_than_the_tokenizer(tmp_path):
    assert _hits(_repo(tmp_path, config={"vocab_size": 32064})) == []


def test_unused_or_not_special_added_tokens(tmp_path):
    tok = {"added_tokens_decoder": dict(BASE_DECODER, **{"32000": _tok("<extra_0>"), "32001": _tok("<|im_end|>", False)}),
           "eos_token": "</s>"}
    tok["chat_template"] = "{% for m in messages %}{{ m['content'] + '<|im_end|>' }}{% endfor %}"
    assert _hits(_repo(tmp_path, tok=tok, special=PLAIN_SPECIALS)) == []


def test_an_id_sl603_reports_is_not_reported_twice(tmp_path):
    tok = {"added_tokens_decoder": dict(BASE_DECODER, **{"32000": _tok("<pad>")}), "pad_token": "<pad>",
           "eos_token": "</s>"}
    repo = _repo(tmp_path, tok=tok, no_template=True, config={"pad_token_id": 32000},
                 special=dict(PLAIN_SPECIALS, pad_token="<pad>"))
    assert _hits(repo) == []
    assert len(_hits(repo, "SL603")) == 1


def test_multimodal_and_remote_code_models(tmp_path):
    assert _hits(_repo(tmp_path / "a", config={"image_token_index": 32000})) == []
    assert _hits(_repo(tmp_path / "b", config={"vision_config": {"hidden_size": 1024}})) == []
    assert _hits(_repo(tmp_path / "c", tok={"auto_map": {"AutoTokenizer": ["tok.XTokenizer", None]}})) == []


def test_directory_without_config(tmp_path):
    repo = _repo(tmp_path)
    (repo / MDIR / "config.json").unlink()
    (repo / MDIR / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8,
                                                                "base_model_name_or_path": "meta-llama/Llama-2-7b-hf"}))
    assert _hits(repo) == []
