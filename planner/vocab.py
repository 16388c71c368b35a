"""The planner's tokenizer: one token per word of a serialised study, numbers digit by digit.

Reserved tokens come first and never move: structure tokens, the bin tokens of parameters
(`b:i`), choice indices (`c:i`), objective bins (`y:i`, `y:fail`) and number characters
(`<n>` opens a number, `n:7`, `n:.`, `n:e`, ... spell it), so that any number, seen in training
or not, is representable. Other words (parameter keys, data set names, metrics) are taken from
the corpus; a word never seen maps to `<unk>`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from engine.atomic import atomic_write
from planner.serialize import FAIL, N_BINS, N_Y

STRUCTURE = ["<pad>", "<unk>", "<study>", "<space>", "<p>", "<trials>", "<t>", "<end>", "<n>"]
NUMBER_CHARS = "0123456789.-+eE"
MAX_CHOICES = 64
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def reserved_tokens(n_bins: int = N_BINS, n_y: int = N_Y, max_choices: int = MAX_CHOICES) -> list[str]:
    return (
        STRUCTURE
        + [f"b:{i}" for i in range(n_bins)]
        + [f"c:{i}" for i in range(max_choices)]
        + [f"y:{i}" for i in range(n_y)]
        + [FAIL]
        + [f"n:{c}" for c in NUMBER_CHARS]
    )


def is_number(word: str) -> bool:
    return bool(_NUMBER.match(word))


def split_word(word: str) -> list[str]:
    """A word as tokens: a number becomes <n> and its characters."""
    if is_number(word):
        return ["<n>"] + [f"n:{c}" for c in word]
    return [word]


class Vocabulary:
    def __init__(self, tokens: list[str], n_bins: int = N_BINS, n_y: int = N_Y):
        if len(set(tokens)) != len(tokens):
            raise ValueError("vocabulary tokens must be unique")
        self.tokens = list(tokens)
        self.n_bins, self.n_y = n_bins, n_y
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id = self.index["<pad>"]
        self.unk_id = self.index["<unk>"]

    @classmethod
    def build(cls, texts: Iterable[str], n_bins: int = N_BINS, n_y: int = N_Y, min_count: int = 1) -> Vocabulary:
        reserved = reserved_tokens(n_bins, n_y)
        known = set(reserved)
        counts: Counter[str] = Counter()
        for text in texts:
            for word in text.split():
                for token in split_word(word):
                    if token not in known:
                        counts[token] += 1
        words = sorted(t for t, n in counts.items() if n >= min_count)
        return cls(reserved + words, n_bins, n_y)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def id(self, token: str) -> int:
        return self.index.get(token, self.unk_id)

    def ids(self, tokens: Iterable[str]) -> list[int]:
        return [self.id(t) for t in tokens]

    def tokenize(self, text: str) -> list[str]:
        return [token for word in text.split() for token in split_word(word)]

    def encode(self, text: str) -> list[int]:
        return self.ids(self.tokenize(text))

    def encode_words(self, words: Iterable[str]) -> list[int]:
        return [i for word in words for i in self.ids(split_word(word))]

    def decode(self, ids: Iterable[int]) -> str:
        """Back to text: number characters after <n> are joined into one word."""
        words: list[str] = []
        in_number = False
        for i in ids:
            token = self.tokens[i]
            if token == "<pad>":
                continue
            if token == "<n>":
                words.append("")
                in_number = True
            elif in_number and token.startswith("n:"):
                words[-1] += token[2:]
            else:
                in_number = False
                words.append(token)
        return " ".join(words)

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps({"tokens": self.tokens, "n_bins": self.n_bins, "n_y": self.n_y}, indent=0))

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        data = json.loads(Path(path).read_text())
        return cls(data["tokens"], data["n_bins"], data["n_y"])
