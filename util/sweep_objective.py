"""A sweep's own objective: one metric or a weighted score, under constraints, scored at every report.

Declared in the sweep file (key `objective`); without it a sweep optimises the base
metaprogram's pipeline objective. Example (configs/sweep/quant_recipe.yaml):

    objective:
      weights: {recovery/group: 1.0}            # score = sum of weight x metric (or `metric: NAME`)
      mode: max
      constraints: {quantize/size_after_mb: {max: 80}}
      infeasible: 0.0                           # the score of a trial that breaks a constraint
      assume: {recovery/group: 1.0}             # value taken for a metric no stage has reported yet

A run reports after every epoch or chain stage; the score is computed from what is
known so far: a broken constraint gives `infeasible` as soon as its metric arrives,
and a metric not reported yet takes its `assume` value (an optimistic bound), so that
a scheduler such as ASHA can compare and stop trials after an early stage (e.g. after
quantization, before the long evaluation). Without an assumption for a missing metric
no score is reported for that step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.finite import finite_number

SCORE_KEY = "objective/score"
KEYS = ("metric", "weights", "mode", "constraints", "infeasible", "assume")


@dataclass(frozen=True)
class SweepObjective:
    weights: dict[str, float]
    mode: str = "max"
    constraints: dict[str, dict[str, float]] = field(default_factory=dict)
    infeasible: float | None = None
    assume: dict[str, float] = field(default_factory=dict)

    @property
    def metric(self) -> str:
        """The key a trial reports its score under (the study's metric)."""
        return SCORE_KEY

    def broken(self, metrics: dict[str, Any]) -> list[str]:
        """The constraints that reported metrics break, as readable lines."""
        out = []
        for name, bound in self.constraints.items():
            value = metrics.get(name)
            if not _number(value):
                continue
            if "max" in bound and value > bound["max"]:
                out.append(f"{name} = {value:g} > {bound['max']:g}")
            if "min" in bound and value < bound["min"]:
                out.append(f"{name} = {value:g} < {bound['min']:g}")
        return out

    def score(self, metrics: dict[str, Any]) -> float | None:
        """The score from what is known so far, or None when it cannot be computed yet."""
        if self.broken(metrics):
            return self.infeasible
        total = 0.0
        for name, weight in self.weights.items():
            value = metrics.get(name)
            if not _number(value):
                value = self.assume.get(name)
            if value is None:
                return None
            total += weight * value
        return total

    def to_dict(self) -> dict[str, Any]:
        return {
            "weights": self.weights,
            "mode": self.mode,
            "constraints": self.constraints,
            "infeasible": self.infeasible,
            "assume": self.assume,
        }


def _number(value: Any) -> bool:
    return finite_number(value) is not None


def objective_errors(data: Any) -> list[str]:
    """Every problem with a sweep's `objective` section (empty when it is fine)."""
    if not isinstance(data, dict):
        return ["objective: a mapping with metric or weights, mode, constraints, infeasible, assume"]
    errors = [f"objective.{k}: unknown key; valid: {', '.join(KEYS)}" for k in data if k not in KEYS]
    if ("metric" in data) == ("weights" in data):
        errors.append("objective: give exactly one of metric (a metric name) or weights ({metric: weight})")
    if "metric" in data and not (isinstance(data["metric"], str) and data["metric"]):
        errors.append("objective.metric: a metric name, e.g. recovery/group")
    weights = data.get("weights")
    if "weights" in data and (not isinstance(weights, dict) or not weights or not all(map(_number, weights.values()))):
        errors.append("objective.weights: a non-empty mapping of metric names to numbers")
    if data.get("mode", "max") not in ("min", "max"):
        errors.append(f"objective.mode: min or max, got {data.get('mode')!r}")
    constraints = data.get("constraints", {})
    if not isinstance(constraints, dict):
        errors.append("objective.constraints: a mapping of metric names to {min: x} and/or {max: y}")
        constraints = {}
    for name, bound in constraints.items():
        if not isinstance(bound, dict) or not bound or set(bound) - {"min", "max"}:
            errors.append(f"objective.constraints.{name}: {{min: x}} and/or {{max: y}}")
        elif not all(_number(v) for v in bound.values()):
            errors.append(f"objective.constraints.{name}: bounds must be numbers")
    if constraints and not _number(data.get("infeasible")):
        errors.append("objective.infeasible: a number, the score of a trial that breaks a constraint")
    assume = data.get("assume", {})
    if not isinstance(assume, dict) or not all(_number(v) for v in assume.values()):
        errors.append("objective.assume: a mapping of metric names to numbers")
    return errors


def from_dict(data: dict[str, Any]) -> SweepObjective:
    """A checked `objective` section (call objective_errors first)."""
    weights = {data["metric"]: 1.0} if "metric" in data else {k: float(v) for k, v in data["weights"].items()}
    return SweepObjective(
        weights=weights,
        mode=data.get("mode", "max"),
        constraints={k: {b: float(v) for b, v in c.items()} for k, c in (data.get("constraints") or {}).items()},
        infeasible=float(data["infeasible"]) if _number(data.get("infeasible")) else None,
        assume={k: float(v) for k, v in (data.get("assume") or {}).items()},
    )
