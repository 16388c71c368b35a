"""The planner's tokenizer: reserved bin tokens, numbers spelled, exact decode, save/load."""

from __future__ import annotations

from planner.serialize import study_to_text
from planner.vocab import Vocabulary, reserved_tokens, split_word
from unit_test.planner.planner_helpers import MIXED_SPACE, make_study


def test_numbers_are_spelled_and_decode_exactly(tmp_path):
    texts = [study_to_text(make_study(MIXED_SPACE, 8, seed=s)) for s in range(3)]
    vocab = Vocabulary.build(texts)
    assert split_word("1e-05") == ["<n>", "n:1", "n:e", "n:-", "n:0", "n:5"]
    for text in texts:
        ids = vocab.encode(text)
        assert vocab.unk_id not in ids
        assert vocab.decode(ids) == text
    # a number never seen is still representable
    assert vocab.decode(vocab.encode("n_samples 123456 0.75")) == "n_samples 123456 0.75"
    vocab.save(tmp_path / "vocab.json")
    again = Vocabulary.load(tmp_path / "vocab.json")
    assert again.tokens == vocab.tokens and again.encode(texts[0]) == vocab.encode(texts[0])


def test_reserved_tokens_come_first_and_unknown_words_map_to_unk():
    vocab = Vocabulary.build(["<study> pipeline zebra"])
    reserved = reserved_tokens()
    assert vocab.tokens[: len(reserved)] == reserved
    assert "b:99" in vocab and "y:fail" in vocab and "c:63" in vocab
    assert vocab.encode("giraffe") == [vocab.unk_id]
    assert vocab.id("zebra") != vocab.unk_id
