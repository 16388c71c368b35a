"""Write a small synthetic text-classification set as JSONL: short product reviews labelled by sentiment.

The example for the text-classification metaprogram (no dataset hub here). Deterministic for a seed;
data/examples/reviews.jsonl (`example:reviews.jsonl`) is `--rows 2000`.
Negations ("not great") flip the sentiment, so a bag of words is not quite enough.

Run:  python -B -m util.external_data_import.text_reviews            # -> <data_root>/reviews.jsonl
      python -B -m util.external_data_import.text_reviews --rows 50000 --out /tmp/big.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from engine.paths import default_paths

POSITIVE = ["great", "excellent", "lovely", "superb", "reliable", "fantastic", "sturdy", "delightful", "good", "solid"]
NEGATIVE = ["awful", "terrible", "flimsy", "broken", "poor", "useless", "disappointing", "bad", "cheap", "faulty"]
THINGS = ["phone", "blender", "lamp", "jacket", "kettle", "chair", "headset", "backpack", "camera", "toaster"]
OPENERS = ["honestly", "overall", "after a week", "to be fair", "in short", "well", "frankly", "all in all"]
FILLER = [
    "it arrived on monday",
    "the box was blue",
    "my sister uses it too",
    "delivery took two days",
    "i bought it on sale",
    "the manual is long",
    "it came in a bag",
    "the colour is grey",
]


def review(rng: random.Random) -> dict:
    label = rng.randrange(2)
    negate = rng.random() < 0.25
    words = POSITIVE if label != negate else NEGATIVE  # a negated word of the other side keeps the label
    adjective = rng.choice(words)
    parts = [rng.choice(OPENERS), f"the {rng.choice(THINGS)} is", "not" if negate else "", adjective]
    if rng.random() < 0.7:
        parts += ["and", rng.choice(FILLER)]
    return {"text": " ".join(p for p in parts if p), "label": "positive" if label else "negative"}


def write_reviews(path: Path, rows: int = 3000, seed: int = 0) -> Path:
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as handle:
        for _ in range(rows):
            handle.write(json.dumps(review(rng)) + "\n")
    tmp.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="default: <data_root>/reviews.jsonl")
    args = parser.parse_args()
    out = args.out or default_paths().data_file("reviews.jsonl")
    print(write_reviews(out, args.rows, args.seed))


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
