"""Propose the next trial of a study with the trained planner.

Constrained decoding: the planner writes a trial token by token, and at each position only the
tokens valid there can be drawn (that parameter's bins or choice indices; then the objective
bins), so a proposal can always be decoded. It is then applied to the study's `base`
metaprogram and validated as untrusted input; what fails is discarded and counted, never run.

Acquisition: sample K candidates, read the planner's own distribution over the objective bins
after each one, and pick by expected improvement over the best value so far (`ei`) or by an
upper confidence bound (`ucb`). Without acquisition the first sample is taken (imitation).
With `local="gp"` (the default) that distribution is multiplied by a GP fitted to the study's own
trials (planner/local_model.py), so late in a study the choice follows the study's own evidence;
from then on, in a space with a range parameter, points next to the study's best trials are scored
beside the samples (`neighbours`), so the acquisition can refine the best point, which the planner's
broad samples rarely land next to.

History is normalised with its range widened by `margin` on each side (training widens it at
random), so the best value so far sits below the top bin and an improvement can be predicted.

    python -m planner.propose --checkpoint outputs/planner/ckpt --study study.json -k 64 --local-model gp
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.metaprogram import Metaprogram, MetaprogramError, validate
from planner import local_model, portfolio
from planner.model import checkpoint_or_shipped, load_checkpoint
from planner.proposal_settings import DEFAULTS, ProposalSettings
from planner.serialize import (
    FAIL,
    Normalizer,
    SerializeError,
    completed,
    param_token,
    study_words,
    token_value,
    value_tokens,
    y_tokens,
)
from util.search_space import CATEGORICAL, apply_params, point_key


@dataclass
class Candidate:
    params: dict[str, Any]
    tokens: list[str]
    mean: float  # predicted normalised objective (1 = the best of the history's widened range)
    std: float
    ei: float
    ucb: float


@dataclass
class Stats:
    """What happened to the proposals: rejected ones were never run."""

    sampled: int = 0
    rejected: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def rejection_share(self) -> float:
        return self.rejected / self.sampled if self.sampled else 0.0


class Planner:
    def __init__(
        self,
        checkpoint: str | Path | None = None,
        *,
        device: str = "cpu",
        seed: int = 0,
        margin: float = 0.15,
        kappa: float = 1.0,
        temperature: float = 1.0,
        imitate: str | None = "tpe",
    ):
        import torch

        self.torch = torch
        self.model, self.vocab, info = load_checkpoint(checkpoint, device)
        self.settings = info["settings"]
        self.n_bins, self.n_y = self.settings["n_bins"], self.settings["n_y"]
        self.max_len = self.settings["max_len"]
        self.device = device
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.margin, self.kappa, self.temperature = margin, kappa, temperature
        # condition on an algorithm the corpus holds, so the planner imitates it
        self.imitate = imitate if imitate and imitate in self.vocab else None
        self.y_ids = self.vocab.ids(y_tokens(self.n_y) + [FAIL])
        self.y_centres = torch.tensor([(i + 0.5) / self.n_y for i in range(self.n_y)] + [0.0])
        self.stats = Stats()
        # the corpus's best configurations (planner/portfolio.py), the prior of a study's first trials
        path = checkpoint_or_shipped(checkpoint) / portfolio.FILE
        self.portfolio = json.loads(path.read_text()) if path.exists() else None

    # -- prompt ---------------------------------------------------------------------------------

    def _normalizer(self, study: dict[str, Any]) -> Normalizer:
        values = [t["objective"] for t in study.get("trials", []) if completed(t)]
        return Normalizer(values, study["task"]["objective"]["mode"], (self.margin, self.margin))

    def _prompt(self, study: dict[str, Any], order: list[str]) -> tuple[list[int], float | None]:
        """Token ids of the study so far (ending after its last trial) and the best normalised value."""
        study = dict(study)
        if self.imitate:
            study["algorithm"] = self.imitate
        trials = sorted(study.get("trials", []), key=lambda t: t.get("order", 0))
        norm = self._normalizer(study)
        values = [norm(t["objective"]) for t in trials if completed(t)]
        best = max(values) if values else None
        per_trial = 2 * len(order) + 2  # <t>, a name and a value per parameter, the objective
        while True:  # keep the newest trials that fit (the normalisation still sees them all)
            study["trials"] = trials
            words = study_words(
                {**study, "objective_normalised": True, "trials": [_normalised(t, norm) for t in trials]},
                order=order,
                n_bins=self.n_bins,
                n_y=self.n_y,
                end=False,
            )
            ids = self.vocab.encode_words(words)
            if len(ids) + per_trial <= self.max_len or not trials:
                return ids, best
            trials = trials[1:]

    # -- sampling -------------------------------------------------------------------------------

    def sample(
        self,
        study: dict[str, Any],
        k: int,
        generator: Any = None,
        temperature: float | None = None,
        local: str | None = None,
        given: list[dict[str, Any]] = (),
    ) -> list[Candidate]:
        """K candidate trials, each with the planner's predicted objective distribution. `generator`: a
        torch.Generator of the study's own (a planner shared by studies of different seeds), else the planner's;
        `temperature`: the study's own, else the planner's; `local="gp"`: the predictions are sharpened by a
        GP over the study's own trials (planner/local_model.py). `given`: points to score as well, after the K
        sampled ones (their tokens are written, not drawn)."""
        torch = self.torch
        generator = generator or self.generator
        temperature = temperature or self.temperature
        space = study["search_space"]
        order = sorted(space)
        prompt, best = self._prompt(study, order)
        allowed = [self.vocab.ids(value_tokens(space[key], self.n_bins)) for key in order]
        if any(self.vocab.unk_id in ids for ids in allowed):
            raise SerializeError("the space needs more bins or choices than the planner's vocabulary holds")
        written = torch.tensor(
            [[self.vocab.id(param_token(space[key], p[key], self.n_bins)) for key in order] for p in given],
            dtype=torch.long,
        ).view(len(given), len(order))
        drawn, k = k, k + len(given)
        names = [self.vocab.encode_words([key]) for key in order]  # written, not sampled; <unk> if never seen
        with torch.no_grad():
            # the prompt is read once and its cache copied K times: the candidates differ only after it
            ids = torch.tensor([prompt + [self.vocab.id("<t>")] + names[0]], device=self.device)
            out = self.model(input_ids=ids, use_cache=True)
            out.past_key_values.batch_repeat_interleave(k)
            last = out.logits[:, -1, :].expand(k, -1)
            chosen: list[list[int]] = [[] for _ in range(k)]
            for slot, slot_ids in enumerate(allowed):
                logits = last.float().cpu()  # (K, vocab)
                index = torch.tensor(slot_ids)
                probs = torch.softmax(logits[:, index] / temperature, dim=-1)  # only valid tokens
                picks = index[torch.multinomial(probs, 1, generator=generator).squeeze(1)]  # (K,)
                picks[drawn:] = written[:, slot]
                for row, token_id in enumerate(picks.tolist()):
                    chosen[row].append(token_id)
                follow = names[slot + 1] if slot + 1 < len(order) else []  # the next parameter's name
                step = torch.cat([picks.view(k, 1), torch.tensor([follow] * k, dtype=torch.long).view(k, -1)], dim=1)
                out = self.model(input_ids=step.to(self.device), past_key_values=out.past_key_values, use_cache=True)
                last = out.logits[:, -1, :]
            y_logits = last.float().cpu()[:, torch.tensor(self.y_ids)]  # (K, n_y + 1)
            y_probs = torch.softmax(y_logits, dim=-1)
        params = [
            {key: token_value(space[key], self.vocab.tokens[i], self.n_bins) for key, i in zip(order, row, strict=True)}
            for row in chosen
        ]
        if local == "gp":
            y_probs = self._with_local_model(study, order, params, y_probs)
        mean = y_probs @ self.y_centres
        std = (y_probs @ self.y_centres**2 - mean**2).clamp(min=0).sqrt()
        threshold = best if best is not None else 0.0
        ei = y_probs @ (self.y_centres - threshold).clamp(min=0)
        candidates = []
        for row in range(k):
            tokens = [self.vocab.tokens[i] for i in chosen[row]]
            m, s = float(mean[row]), float(std[row])
            candidates.append(Candidate(params[row], tokens, m, s, float(ei[row]), m + self.kappa * s))
        return candidates

    def _with_local_model(self, study: dict[str, Any], order: list[str], params: list[dict[str, Any]], y_probs):
        """The planner's objective bins times a GP fitted to this study's completed trials (when there are enough)."""
        space, norm = study["search_space"], self._normalizer(study)
        done = [t for t in study.get("trials", []) if completed(t)]
        points = [local_model.encode(space, order, t["params"], self.n_bins) for t in done]
        gp = local_model.fit(points, [norm(t["objective"]) for t in done])
        if gp is None:
            return y_probs
        candidates = [local_model.encode(space, order, p, self.n_bins) for p in params]
        return local_model.combine(y_probs, self.y_centres, gp, candidates)

    def suggest(
        self,
        study: dict[str, Any],
        settings: ProposalSettings = DEFAULTS,
        *,
        max_rounds: int = 4,
        pending: list[dict[str, Any]] = (),
        generator: Any = None,
    ) -> tuple[dict[str, Any], Metaprogram | None, Candidate]:
        """The next trial: (params, validated metaprogram or None without a base, the candidate chosen).

        With `settings.prior` n and a checkpoint that has a portfolio, the study's first n trials are the
        portfolio's (planner/portfolio.py: the corpus's best configurations moved into this space). Then
        `candidates` are scored; with `early_candidates`, at most that many until the study has
        local_model.MIN_TRIALS completed trials, while the planner's own broad predictions are all there is. Once
        the GP has them, `neighbours` points next to the best trials so far are scored beside the samples (not in
        a finite space, whose points the samples reach). Points already in the history or `pending` are skipped
        when the space is finite (a repeat teaches nothing); after `max_rounds` of nothing new, a repeat is
        accepted.
        """
        acquisition = settings.acquisition
        finite = all(spec["type"] in CATEGORICAL for spec in study["search_space"].values())
        tried = [t["params"] for t in study.get("trials", [])] + list(pending)  # pending: running, not yet back
        seen = {point_key(p) for p in tried} if finite else set()
        if settings.prior and self.portfolio and len(tried) < settings.prior:
            chosen = self._from_portfolio(study, tried, generator or self.generator)
            if chosen is not None:
                return chosen
        n = settings.candidates if acquisition else 1
        done = [t for t in study.get("trials", []) if completed(t)]
        if settings.early_candidates and len(done) < local_model.MIN_TRIALS:
            n = min(n, settings.early_candidates)
        local = settings.local_model if acquisition else None
        # in a finite space the samples reach every point (repeats are skipped): there is nothing between them to
        # refine, and the table look-ups measured neighbours there as a loss at 25 trials (docs/benchmarks.md)
        refine = settings.neighbours if local == "gp" and not finite and len(done) >= local_model.MIN_TRIALS else 0
        fallback = None
        for _ in range(max_rounds):
            valid = []
            near = self._neighbours(study, done, refine, generator or self.generator) if refine else []
            for cand in self.sample(study, n, generator, settings.temperature, local, given=near):
                self.stats.sampled += 1
                mp = self._validate(study, cand.params)
                if mp is False:
                    continue
                if point_key(cand.params) in seen:
                    self.stats.duplicates += 1
                    fallback = fallback or (cand, mp)
                    continue
                valid.append((cand, mp))
            if valid:
                key = {"ei": lambda c: c[0].ei, "ucb": lambda c: c[0].ucb, None: lambda c: 0.0}[acquisition]
                cand, mp = max(valid, key=key)
                return cand.params, mp, cand
        if fallback is None:
            raise RuntimeError(f"no valid proposal in {max_rounds} rounds: {self.stats.errors[-3:]}")
        return fallback[0].params, fallback[1], fallback[0]

    def _rng(self, generator: Any):
        """A Python random stream seeded from the study's own generator: the same study, the same draws."""
        import random

        return random.Random(int(self.torch.randint(2**31 - 1, (1,), generator=generator)))

    def _neighbours(self, study: dict[str, Any], done: list[dict[str, Any]], count: int, generator: Any):
        """Points next to the study's 3 best completed trials (planner/local_model.py), drawn from its generator."""
        rng = self._rng(generator)
        norm = self._normalizer(study)
        ranked = sorted(done, key=lambda t: norm(t["objective"]), reverse=True)[:3]
        space = study["search_space"]
        return local_model.neighbours(space, sorted(space), [t["params"] for t in ranked], count, rng, self.n_bins)

    def _from_portfolio(self, study: dict[str, Any], tried: list[dict[str, Any]], generator: Any):
        """The portfolio's next point not tried yet, as a suggestion; None when it has none that is valid."""
        rng = self._rng(generator)  # for the keys the portfolio does not know
        done = {point_key(p) for p in tried}
        for params in portfolio.points(self.portfolio, study["search_space"], rng)[len(tried) :]:
            if point_key(params) in done:
                continue
            self.stats.sampled += 1
            mp = self._validate(study, params)
            if mp is not False:
                return params, mp, Candidate(params, [], 0.0, 0.0, 0.0, 0.0)
        return None

    def _validate(self, study: dict[str, Any], params: dict[str, Any]) -> Metaprogram | None | bool:
        """The metaprogram of `params` (untrusted) on the study's base (trusted); False (and counted) when invalid."""
        base = study.get("base")
        if not base:
            return None
        try:
            return validate_proposal(base, params)
        except MetaprogramError as exc:
            self.stats.rejected += 1
            self.stats.errors.append(exc.render())
            return False


def validate_proposal(base: dict[str, Any], params: dict[str, Any], source: str = "planner proposal") -> Metaprogram:
    """The trusted `base` with the planner's `params`, where only what the planner wrote is untrusted.

    The whole metaprogram must pass the schema (names, ranges, types). Then it is checked as
    untrusted input, and a refusal counts when it concerns a key the planner set: the base keeps
    its own settings, a data file's path included, while a proposal may not set a path, an
    interpolation, a `_target_` or resources over the caps.
    """
    raw = apply_params(base, params)
    mp = validate(raw, trusted=True, source=source)
    try:
        validate(raw, trusted=False, source=source)
    except MetaprogramError as exc:
        own = [error for error in exc.errors if _written_by(error, params)]
        if own:
            raise MetaprogramError(own, source) from None
    return mp


def _written_by(error: str, params: dict[str, Any]) -> bool:
    """Whether an error line ("key.path: what") is about a key of `params`, or above or below one."""
    where = error.split(":", 1)[0].strip()
    return any(where == key or where.startswith(f"{key}.") or key.startswith(f"{where}.") for key in params)


def _normalised(trial: dict[str, Any], norm: Normalizer) -> dict[str, Any]:
    ok = completed(trial)
    return {**trial, "objective": norm(trial["objective"]) if ok else None, "status": "completed" if ok else "failed"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="a planner folder (default: the shipped one)")
    parser.add_argument("--study", type=Path, required=True, help="one study (JSON) in the export format")
    ProposalSettings.add_arguments(parser)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args(argv)
    try:
        study = json.loads(args.study.read_text())
        planner = Planner(args.checkpoint, seed=args.seed, device=args.device)
        params, mp, cand = planner.suggest(study, ProposalSettings.of_args(args))
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        print(f"cannot propose: {exc}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "params": params,
                "metaprogram_id": mp.id if mp else None,
                "predicted": {"mean": cand.mean, "std": cand.std, "ei": cand.ei},
                "rejected": planner.stats.rejected,
                "sampled": planner.stats.sampled,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
