"""SL609 pad-token-is-eos-and-masked-in-labels: which collators and pad tokens it judges."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import findings_of, run_scan

BAD = Path(__file__).parent / "checks" / "SL609" / "bad"
PAD_EOS = "tokenizer.pad_token = tokenizer.eos_token"
COLLATOR = "collator = DataCollatorForLanguageModeling(tokenizer=tokenizer, mlm=False)"


def _repo(tmp_path: Path, *edits, reqs: str = None, tokenizer_config: dict = None) -> Path:
    repo = tmp_path / "repo"
    shutil.copytree(BAD, repo)
    (repo / "expected.json").unlink()
    text = (repo / "train.py").read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    (repo / "train.py").write_text(text)
    if reqs is not None:
        (repo / "requirements.txt").write_text(reqs)
    if tokenizer_config:
        p = repo / "models" / "Mistral-7B-v0.1" / "tokenizer_config.json"
        data = json.loads(p.read_text())
        data.update(tokenizer_config)
        p.write_text(json.dumps(data, indent=2))
    return repo


def _hits(repo: Path):
    result, _ = run_scan(repo)
    return findings_of(result, "SL609")


SFT = ("from trl import SFTTrainer\n"
       "trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, tokenizer=tokenizer)\n")
COMPLETION = ("from trl import DataCollatorForCompletionOnlyLM\n"
              "collator = DataCollatorForCompletionOnlyLM(response_template='### Response:', tokenizer=tokenizer)")


def test_fixture_and_its_variants_fire(tmp_path):
    assert _hits(_repo(tmp_path / "a")) == [{"code": "SL609", "path": "train.py", "line": 29, "col": 12}]
    ids = _repo(tmp_path / "b", (PAD_EOS, "tokenizer.pad_token_id = tokenizer.eos_token_id"))
    assert len(_hits(ids)) == 1
    positional = _repo(tmp_path / "c", (COLLATOR, "collator = DataCollatorForLanguageModeling(tokenizer, False)"))
    assert len(_hits(positional)) == 1


def test_trl_completion_only_collator_inherits_the_masking(tmp_path):
    assert len(_hits(_repo(tmp_path, (COLLATOR, COMPLETION)))) == 1


def test_sft_trainer_default_collator_before_trl_017(tmp_path):
    old = _repo(tmp_path / "old", ("trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)\n",
                                   SFT), reqs="transformers==4.44.2\ntrl==0.9.6\n")
    line = next(i for i, t in enumerate((old / "train.py").read_text().splitlines(), 1) if "SFTTrainer(" in t)
    assert {h["line"] for h in _hits(old)} == {29, line}  # the explicit collator and SFTTrainer's default
    new = _repo(tmp_path / "new", (COLLATOR + "\n", ""),
                ("trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)\n", SFT),
                reqs="transformers==4.46.0\ntrl==0.19.1\n")
    assert _hits(new) == []
    unpinned = _repo(tmp_path / "unpinned", (COLLATOR + "\n", ""),
                     ("trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)\n", SFT))
    assert _hits(unpinned) == []


def test_pad_token_equal_to_eos_in_the_loaded_directory(tmp_path):
    repo = _repo(tmp_path, (PAD_EOS + "\n", ""), tokenizer_config={"pad_token": "</s>"})
    hits = _hits(repo)
    assert len(hits) == 1 and hits[0]["path"] == "train.py"


def test_valid_neighbours(tmp_path):
    cases = {
        "unk-pad": [(PAD_EOS, "tokenizer.pad_token = tokenizer.unk_token")],
        "masked-lm": [(COLLATOR, "collator = DataCollatorForLanguageModeling(tokenizer=tokenizer)")],
        "seq2seq": [(COLLATOR, "from transformers import DataCollatorForSeq2Seq\n"
                               "collator = DataCollatorForSeq2Seq(tokenizer=tokenizer, label_pad_token_id=-100)")],
        "trl-own-collator": [(COLLATOR, "from trl import DataCollatorForLanguageModeling as TrlCollator\n"
                                        "collator = TrlCollator(pad_token_id=tokenizer.pad_token_id)")],
        "new-pad-token": [(PAD_EOS, PAD_EOS + "\ntokenizer.add_special_tokens({'pad_token': '<pad>'})")],
        "no-pad-assignment": [(PAD_EOS, "")],
        "other-tokenizer": [(COLLATOR, "collator = DataCollatorForLanguageModeling(tokenizer=other_tok, mlm=False)")],
    }
    for name, edits in cases.items():
        assert _hits(_repo(tmp_path / name, *edits)) == [], name


def test_guarded_assignment_when_the_tokenizer_has_its_own_pad(tmp_path):
    guarded = [(PAD_EOS, "if tokenizer.pad_token is None:\n    " + PAD_EOS)]
    assert _hits(_repo(tmp_path / "has-pad", *guarded, tokenizer_config={"pad_token": "<unk>"})) == []
    # no pad token in the directory: the guarded assignment runs
    assert len(_hits(_repo(tmp_path / "no-pad", *guarded))) == 1


def test_model_config_pad_is_not_the_tokenizer(tmp_path):
    repo = _repo(tmp_path, (PAD_EOS, "model.config.pad_token_id = tokenizer.eos_token_id"))
    assert _hits(repo) == []


EOS_IN_TEXT = "{example['output']}{tokenizer.eos_token}"


def test_only_examples_that_carry_an_eos(tmp_path):
    assert _hits(_repo(tmp_path / "none", (EOS_IN_TEXT, "{example['output']}"))) == []
    assert len(_hits(_repo(tmp_path / "literal", (EOS_IN_TEXT, "{example['output']}</s>")))) == 1
    ids = _repo(tmp_path / "ids", (EOS_IN_TEXT, "{example['output']}"),
                ("    return tokenizer(text, truncation=True, max_length=1024)",
                 "    out = tokenizer(text, truncation=True, max_length=1023)\n"
                 "    out['input_ids'] = out['input_ids'] + [tokenizer.eos_token_id]\n    return out"))
    assert len(_hits(ids)) == 1
    stop_ids = _repo(tmp_path / "stop-ids", (EOS_IN_TEXT, "{example['output']}"),
                     ("trainer.train()", "trainer.train()\nstop_ids = [tokenizer.eos_token_id]"))
    assert _hits(stop_ids) == []  # an eos id for generation, not in the training text
    flag = _repo(tmp_path / "flag", (EOS_IN_TEXT, "{example['output']}"), tokenizer_config={"add_eos_token": True})
    assert len(_hits(flag)) == 1


def test_trl_016_appends_the_eos_itself(tmp_path):
    edits = [(EOS_IN_TEXT, "{example['output']}"), (COLLATOR + "\n", ""),
             ("trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)\n", SFT)]
    assert len(_hits(_repo(tmp_path / "t016", *edits, reqs="transformers==4.50.0\ntrl==0.16.1\n"))) == 1
    assert _hits(_repo(tmp_path / "t096", *edits, reqs="transformers==4.44.2\ntrl==0.9.6\n")) == []
