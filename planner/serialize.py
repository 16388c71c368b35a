"""A study as text and back, in the spirit of OptFormer (Chen et al., 2022).

Layout (whitespace-separated words; numbers stay plain words, the tokenizer splits them):

    <study> pipeline execution model mlp dataset digits task classification n_samples 1797
      n_features 64 n_classes 10 balance 0.97 lin 0.93 knn 0.96 metric val/accuracy mode max
      algorithm tpe
    <space> <p> model.hidden choice 3 16 64 256 <p> pipeline.optim.lr loguniform 0.0001 0.3
    <trials> <t> model.hidden c:1 pipeline.optim.lr b:57 y:88 <t> ... <end>

The task's facts are what can be measured before any trial (util.task_signature.describe_data): size,
features, classes, class balance, and landmark scores of a linear model (`lin`) and of nearest
neighbours (`knn`) on the trials' own split; `na` where a record does not hold one.
Each parameter value is a bin token: `c:i` (index of a choice), `b:i` (one of `n_bins` bins of a
uniform / loguniform range, log scale for loguniform; a randint with at most `n_bins` values gets
one bin per integer, so it is exact). The objective is normalised within the study so that 1 is
the best and 0 the worst value seen (minimised metrics are negated; positive minimised metrics
such as losses and errors, which span orders of magnitude, are log-scaled first), then
quantised into `n_y` bins `y:i`; a failed trial is `y:fail`. In a trial, each value follows its
parameter's name, in the order of the `<space>` section (shuffled as augmentation): a parameter
keeps its meaning in any space that holds it, so a new space sharing names with the training
spaces gets informed proposals for those names.

`text_to_study(study_to_text(s))` gives back the task, space, algorithm and trials with every
parameter quantised and every objective normalised (the study gets `"objective_normalised": true`);
serialising that again gives the identical text.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

from util.search_space import CATEGORICAL, SpaceError, check_space

N_BINS = 100
N_Y = 100
FAIL = "y:fail"
FACT_KEYS = ("task", "n_samples", "n_features", "n_classes", "balance", "lin", "knn")
INT_FACTS = ("n_samples", "n_features", "n_classes")
MISSING = "na"  # a fact the task record does not hold (e.g. landmarks of an old export)


class SerializeError(ValueError):
    """Text that is not a serialised study, or a study that cannot be serialised."""


# -- parameters ---------------------------------------------------------------------------------


def check_serializable(space: dict[str, dict[str, Any]]) -> None:
    """A valid space whose choices can be written as words: scalars, and strings without spaces."""
    check_space(space)
    for key, spec in space.items():
        for v in spec.get("values") or []:
            if isinstance(v, str) and (not v or any(c.isspace() for c in v)):
                raise SpaceError(f"{key}: choice value {v!r} must be a non-empty word without spaces")
            if not isinstance(v, str | int | float | bool) and v is not None:
                raise SpaceError(f"{key}: choice value {v!r} must be a string, number, bool or null")


def n_values(spec: dict[str, Any], n_bins: int = N_BINS) -> int:
    """How many distinct tokens the parameter can take."""
    kind = spec["type"]
    if kind in CATEGORICAL:
        return len(spec["values"])
    if kind == "randint":
        return min(n_bins, int(spec["high"]) - int(spec["low"]))
    return n_bins


def value_tokens(spec: dict[str, Any], n_bins: int = N_BINS) -> list[str]:
    """Every token valid for this parameter (what constrained decoding allows)."""
    prefix = "c" if spec["type"] in CATEGORICAL else "b"
    return [f"{prefix}:{i}" for i in range(n_values(spec, n_bins))]


def param_token(spec: dict[str, Any], value: Any, n_bins: int = N_BINS) -> str:
    kind = spec["type"]
    if kind in CATEGORICAL:
        for i, option in enumerate(spec["values"]):
            if option == value and type(option) is type(value) or _same_number(option, value):
                return f"c:{i}"
        raise SerializeError(f"value {value!r} is not one of the choices {spec['values']}")
    low, high = spec["low"], spec["high"]
    if kind == "randint":
        count = int(high) - int(low)
        offset = int(value) - int(low)
        if not 0 <= offset < count:
            raise SerializeError(f"value {value!r} is outside randint [{low}, {high})")
        index = offset if count <= n_bins else int(offset * n_bins / count)
        return f"b:{min(index, n_bins - 1)}"
    if not low <= value <= high:
        raise SerializeError(f"value {value!r} is outside [{low}, {high}]")
    if kind == "loguniform":
        low, high, value = math.log(low), math.log(high), math.log(value)
    return f"b:{min(int((value - low) / (high - low) * n_bins), n_bins - 1)}"


def token_value(spec: dict[str, Any], token: str, n_bins: int = N_BINS) -> Any:
    """The value a bin token stands for (the bin's centre for ranges)."""
    prefix, _, index_text = token.partition(":")
    index = int(index_text)
    if not 0 <= index < n_values(spec, n_bins) or prefix != ("c" if spec["type"] in CATEGORICAL else "b"):
        raise SerializeError(f"token {token!r} is not valid for a {spec['type']} parameter")
    kind = spec["type"]
    if kind in CATEGORICAL:
        return spec["values"][index]
    low, high = spec["low"], spec["high"]
    if kind == "randint":
        count = int(high) - int(low)
        return int(low) + (index if count <= n_bins else int((index + 0.5) * count / n_bins))
    if kind == "loguniform":
        return math.exp(math.log(low) + (index + 0.5) / n_bins * (math.log(high) - math.log(low)))
    return low + (index + 0.5) / n_bins * (high - low)


def quantize(spec: dict[str, Any], value: Any, n_bins: int = N_BINS) -> Any:
    return token_value(spec, param_token(spec, value, n_bins), n_bins)


def _same_number(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return (
        isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool)
    ) and a == b


# -- objective ----------------------------------------------------------------------------------


class Normalizer:
    """Maps raw objectives to [0, 1] with 1 the best, from the values of one study (or history)."""

    def __init__(self, values: list[float], mode: str, expand: tuple[float, float] = (0.0, 0.0)):
        self.mode = mode
        self.log = mode == "min" and bool(values) and all(v > 0 for v in values)
        scores = [self._score(v) for v in values]
        lo, hi = (min(scores), max(scores)) if scores else (0.0, 1.0)
        span = hi - lo
        self.lo, self.hi = lo - expand[0] * span, hi + expand[1] * span

    def _score(self, value: float) -> float:
        if self.mode == "max":
            return value
        return -math.log(value) if self.log else -value

    def __call__(self, value: float) -> float:
        if self.hi == self.lo:
            return 0.5
        return (self._score(value) - self.lo) / (self.hi - self.lo)

    def raw(self, normalised: float) -> float:
        """Back to the metric's own units (inverse of __call__)."""
        score = self.lo + normalised * (self.hi - self.lo)
        if self.mode == "max":
            return score
        return math.exp(-score) if self.log else -score


def y_token(normalised: float | None, n_y: int = N_Y) -> str:
    if normalised is None:
        return FAIL
    return f"y:{min(max(int(normalised * n_y), 0), n_y - 1)}"


def y_value(token: str, n_y: int = N_Y) -> float | None:
    if token == FAIL:
        return None
    return (int(token.partition(":")[2]) + 0.5) / n_y


def y_tokens(n_y: int = N_Y) -> list[str]:
    return [f"y:{i}" for i in range(n_y)]


# -- study <-> text -----------------------------------------------------------------------------


def _word(value: Any, where: str) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    if not text or any(c.isspace() for c in text):
        raise SerializeError(f"{where}: {value!r} must be one word (no spaces)")
    return text


def task_words(study: dict[str, Any]) -> list[str]:
    task = study["task"]
    facts = task.get("dataset_facts", {})
    words = ["<study>"]
    for key in ("pipeline", "model", "dataset"):
        words += [key, _word(task[key], f"task.{key}")]
    for key in FACT_KEYS:
        value = facts.get(key, 0 if key in INT_FACTS else None)
        words += [key, MISSING if value is None else _word(value, f"task.dataset_facts.{key}")]
    objective = task["objective"]
    words += ["metric", _word(objective["metric"], "metric"), "mode", _word(objective["mode"], "mode")]
    words += ["algorithm", _word(study.get("algorithm", "unknown"), "algorithm")]
    return words


def space_words(space: dict[str, dict[str, Any]], order: list[str]) -> list[str]:
    words = ["<space>"]
    for key in order:
        spec = space[key]
        words += ["<p>", _word(key, "search_space key"), spec["type"]]
        if spec["type"] in CATEGORICAL:
            words += [str(len(spec["values"]))] + [json.dumps(v) for v in spec["values"]]
        else:
            words += [json.dumps(spec["low"]), json.dumps(spec["high"])]
    return words


def trial_words(
    trial: dict[str, Any], space: dict[str, dict[str, Any]], order: list[str], y: float | None, n_bins: int, n_y: int
) -> list[str]:
    words = ["<t>"]
    for key in order:  # each value after its name: a new space that shares names is not a stranger
        words += [key, param_token(space[key], trial["params"][key], n_bins)]
    return words + [y_token(y, n_y)]


def study_words(
    study: dict[str, Any],
    *,
    order: list[str] | None = None,
    n_bins: int = N_BINS,
    n_y: int = N_Y,
    expand: tuple[float, float] = (0.0, 0.0),
    end: bool = True,
) -> list[str]:
    """The study as words; `order` is the parameter order (default: sorted keys)."""
    space = study["search_space"]
    check_serializable(space)
    order = list(order) if order is not None else sorted(space)
    if sorted(order) != sorted(space):
        raise SerializeError(f"parameter order {order} does not match the space's keys {sorted(space)}")
    trials = sorted(study.get("trials", []), key=lambda t: t.get("order", 0))
    normalise = _normaliser(study, trials, expand)
    words = task_words(study) + space_words(space, order) + ["<trials>"]
    for trial in trials:
        value = trial.get("objective") if trial.get("status", "completed") == "completed" else None
        y = None if value is None or not math.isfinite(value) else normalise(value)
        words += trial_words(trial, space, order, y, n_bins, n_y)
    return words + (["<end>"] if end else [])


def completed(trial: dict[str, Any]) -> bool:
    """Whether a trial finished with a finite objective (the ones normalisation and models learn from)."""
    value = trial.get("objective")
    return trial.get("status", "completed") == "completed" and value is not None and math.isfinite(value)


def _normaliser(study: dict[str, Any], trials: list[dict[str, Any]], expand: tuple[float, float]):
    if study.get("objective_normalised"):
        return lambda v: v
    values = [t["objective"] for t in trials if completed(t)]
    return Normalizer(values, study["task"]["objective"]["mode"], expand)


def study_to_text(study: dict[str, Any], **kwargs: Any) -> str:
    return " ".join(study_words(study, **kwargs))


def shuffled_order(space: dict[str, Any], rng: random.Random) -> list[str]:
    """A random parameter order (augmentation: the planner must not rely on one order)."""
    order = sorted(space)
    rng.shuffle(order)
    return order


def text_to_study(text: str, *, n_bins: int = N_BINS, n_y: int = N_Y) -> dict[str, Any]:
    """Parse a serialised study; parameters come back quantised, objectives normalised to [0, 1]."""
    reader = _Reader(text.split())
    reader.expect("<study>")
    task: dict[str, Any] = {}
    for key in ("pipeline", "model", "dataset"):
        reader.expect(key)
        task[key] = reader.next()
    facts = {}
    for key in FACT_KEYS:
        reader.expect(key)
        word = reader.next()
        if word != MISSING:
            facts[key] = word if key == "task" else int(word) if key in INT_FACTS else float(word)
    task["dataset_facts"] = facts
    reader.expect("metric")
    metric = reader.next()
    reader.expect("mode")
    task["objective"] = {"metric": metric, "mode": reader.next()}
    reader.expect("algorithm")
    algorithm = reader.next()

    reader.expect("<space>")
    space: dict[str, dict[str, Any]] = {}
    order = []
    while reader.peek() == "<p>":
        reader.next()
        key, kind = reader.next(), reader.next()
        if kind in CATEGORICAL:
            count = int(reader.next())
            space[key] = {"type": kind, "values": [json.loads(reader.next()) for _ in range(count)]}
        else:
            space[key] = {"type": kind, "low": json.loads(reader.next()), "high": json.loads(reader.next())}
        order.append(key)
    check_serializable(space)

    reader.expect("<trials>")
    trials = []
    while reader.peek() == "<t>":
        reader.next()
        params = {}
        for key in order:
            reader.expect(key)
            params[key] = token_value(space[key], reader.next(), n_bins)
        y = y_value(reader.next(), n_y)
        trials.append(
            {
                "order": len(trials),
                "params": params,
                "objective": y,
                "status": "failed" if y is None else "completed",
            }
        )
    if reader.peek() is not None:
        reader.expect("<end>")
    return {
        "task": task,
        "search_space": space,
        "algorithm": algorithm,
        "trials": trials,
        "objective_normalised": True,
        "param_order": order,
    }


class _Reader:
    def __init__(self, words: list[str]):
        self.words, self.i = words, 0

    def peek(self) -> str | None:
        return self.words[self.i] if self.i < len(self.words) else None

    def next(self) -> str:
        word = self.peek()
        if word is None:
            raise SerializeError("text ends in the middle of a study")
        self.i += 1
        return word

    def expect(self, word: str) -> None:
        got = self.next()
        if got != word:
            raise SerializeError(f"expected {word!r} at word {self.i - 1}, got {got!r}")
