"""SL608 padding-without-pad-token: which tokenizers and padding calls it judges."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import findings_of, run_scan

BAD = Path(__file__).parent / "checks" / "SL608" / "bad"
MODEL = "models/Llama-2-7b-hf"


def _repo(tmp_path: Path, script: str = None, tok_cfg: dict = None, special: dict = None,
          tokenizer_json: str = None) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(BAD, repo)
    (repo / "expected.json").unlink()
    (repo / "train_cls.py").unlink()
    if script is not None:
        (repo / "batch_infer.py").write_text(script)
    mdir = repo / MODEL
    if tok_cfg is not None:
        cfg = json.loads((mdir / "tokenizer_config.json").read_text())
        cfg.update(tok_cfg)
        (mdir / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2))
    if special is not None:
        cfg = json.loads((mdir / "special_tokens_map.json").read_text())
        cfg.update(special)
        (mdir / "special_tokens_map.json").write_text(json.dumps(cfg, indent=2))
    if tokenizer_json is not None:
        (mdir / "tokenizer.json").write_text(tokenizer_json)
    return repo


def _hits(repo: Path):
    result, _ = run_scan(repo)
    return findings_of(result, "SL608")


HEAD = f'from transformers import AutoTokenizer, DataCollatorForSeq2Seq\ntok = AutoTokenizer.from_pretrained("{MODEL}")\n'
TOKENIZER_JSON_NULL = '{\n  "version": "1.0",\n  "truncation": null,\n  "padding": null,\n  "added_tokens": []\n}\n'
TOKENIZER_JSON_PAD = ('{\n  "version": "1.0",\n  "truncation": null,\n  "padding": {"strategy": "BatchLongest", '
                      '"direction": "Left", "pad_to_multiple_of": null, "pad_id": 2, "pad_type_id": 0, '
                      '"pad_token": "</s>"},\n  "added_tokens": []\n}\n')


# -- fires -------------------------------------------------------------------------------------

def test_call_with_padding_true_fires(tmp_path):
    hits = _hits(_repo(tmp_path))
    assert [(h["path"], h["line"]) for h in hits] == [("batch_infer.py", 11)]


def test_padding_strategies_and_encode_methods_fire(tmp_path):
    script = HEAD + ('a = tok.batch_encode_plus(texts, padding="max_length", max_length=128)\n'
                     'b = tok(texts, padding="longest")\n'
                     'c = tok.pad(features, return_tensors="pt")\n'
                     'd = tok.apply_chat_template(chats, padding=True, return_tensors="pt")\n')
    assert [h["line"] for h in _hits(_repo(tmp_path, script))] == [3, 4, 5, 6]


def test_seq2seq_collator_fires(tmp_path):
    script = HEAD + "collator = DataCollatorForSeq2Seq(tok, model=None, label_pad_token_id=-100)\n"
    assert [h["line"] for h in _hits(_repo(tmp_path, script))] == [3]


def test_fast_tokenizer_json_without_padding_block_fires(tmp_path):
    repo = _repo(tmp_path, tok_cfg={"tokenizer_class": "PreTrainedTokenizerFast"}, tokenizer_json=TOKENIZER_JSON_NULL)
    assert len(_hits(repo)) == 1


def test_pad_token_set_only_after_the_call_fires(tmp_path):
    script = HEAD + "x = tok(texts, padding=True)\ntok.pad_token = tok.eos_token\n"
    assert [h["line"] for h in _hits(_repo(tmp_path, script))] == [3]


def test_gpt2_class_fires(tmp_path):
    repo = _repo(tmp_path, tok_cfg={"tokenizer_class": "GPT2Tokenizer"})
    assert len(_hits(repo)) == 1


# -- does not fire -----------------------------------------------------------------------------

def test_pad_token_set_before_is_fine(tmp_path):
    for i, line in enumerate(("tok.pad_token = tok.eos_token", "tok.pad_token_id = 0",
                              'tok.add_special_tokens({"pad_token": "<pad>"})',
                              'setattr(tok, "pad_token", tok.eos_token)',
                              "tok.add_special_tokens(extra)")):
        script = HEAD + line + "\nx = tok(texts, padding=True)\n"
        assert _hits(_repo(tmp_path / str(i), script)) == [], line


def test_pad_token_set_in_a_function_is_not_judged(tmp_path):
    script = HEAD + "def setup(t):\n    t.pad_token = t.eos_token\n\nsetup(tok)\nx = tok(texts, padding=True)\n"
    assert _hits(_repo(tmp_path, script)) == []


def test_pad_token_passed_to_from_pretrained(tmp_path):
    script = (f'from transformers import AutoTokenizer\ntok = AutoTokenizer.from_pretrained("{MODEL}", pad_token="</s>")\n'
              "x = tok(texts, padding=True)\n")
    assert _hits(_repo(tmp_path, script)) == []


def test_model_files_that_define_a_pad_token(tmp_path):
    assert _hits(_repo(tmp_path / "a", tok_cfg={"pad_token": "</s>"})) == []
    assert _hits(_repo(tmp_path / "b", tok_cfg={"pad_token": {"content": "<unk>", "special": True}})) == []
    assert _hits(_repo(tmp_path / "c", special={"pad_token": "</s>"})) == []
    assert _hits(_repo(tmp_path / "d", tokenizer_json=TOKENIZER_JSON_PAD)) == []


def test_classes_with_a_default_pad_token_or_remote_code(tmp_path):
    assert _hits(_repo(tmp_path / "a", tok_cfg={"tokenizer_class": "Qwen2Tokenizer"})) == []
    assert _hits(_repo(tmp_path / "b", tok_cfg={"tokenizer_class": "GemmaTokenizer"})) == []
    assert _hits(_repo(tmp_path / "c", tok_cfg={"auto_map": {"AutoTokenizer": ["tokenization_x.XTokenizer", None]}})) == []


def test_calls_that_do_not_pad(tmp_path):
    script = HEAD + ('a = tok(texts, padding=False)\nb = tok(texts)\nc = tok(texts, padding="do_not_pad")\n'
                     'd = tok.apply_chat_template(chats, tokenize=False, padding=True)\n'
                     "e = DataCollatorForSeq2Seq(tok, padding=False)\nf = tok(texts, padding=flag)\n")
    assert _hits(_repo(tmp_path, script)) == []


def test_tokenizers_not_from_the_tree(tmp_path):
    script = ('from transformers import AutoTokenizer\n'
              'tok = AutoTokenizer.from_pretrained("meta-llama/Llama-2-7b-hf")\n'
              'other = AutoTokenizer.from_pretrained(path)\n'
              'x = tok(texts, padding=True)\ny = other(texts, padding=True)\n')
    assert _hits(_repo(tmp_path, script)) == []


def test_lfs_pointer_tokenizer_json_is_not_judged(tmp_path):
    ptr = "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1842767\n"
    assert _hits(_repo(tmp_path, tokenizer_json=ptr)) == []
