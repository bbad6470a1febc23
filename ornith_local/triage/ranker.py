"""The learned ranking: a linear model over `features.FEATURES`, fitted by `benchmarks/triage_eval.py --fit`.

A suspect's score is sigmoid(bias + sum(weight * feature)); within one run only the order matters. It is
fitted as a conditional logit (a softmax over one bug's candidate functions, the buggy one the target) with
an L2 penalty, on the benchmark's development packages only; ranker.json beside this file holds the
weights, the packages they were fitted on, and nothing else. A dozen weights: one can read off which
evidence moves a function up.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ornith_local.triage.features import FEATURES

SHIPPED = Path(__file__).with_name("ranker.json")


@dataclass(frozen=True)
class Ranker:
    weights: tuple[float, ...]  # in FEATURES order; a feature left out of a fit weighs 0
    bias: float = 0.0
    fitted_on: tuple[str, ...] = ()
    bugs: int = 0

    def score(self, row: Sequence[float]) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, row, strict=True))
        return 1 / (1 + math.exp(-max(min(z, 50.0), -50.0)))

    def to_json(self) -> dict[str, object]:
        return {"features": dict(zip(FEATURES, (round(w, 4) for w in self.weights), strict=True)),
                "bias": round(self.bias, 4), "fitted_on": list(self.fitted_on), "bugs": self.bugs}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Ranker:
        weights = data.get("features", {})
        assert isinstance(weights, dict)
        fitted = data.get("fitted_on", [])
        return cls(tuple(float(weights.get(name, 0.0)) for name in FEATURES), float(str(data.get("bias", 0.0))),
                   tuple(str(p) for p in fitted) if isinstance(fitted, list) else (), int(str(data.get("bugs", 0))))


def shipped() -> Ranker | None:
    """The ranker fitted on the benchmark's development packages, or None when the file is missing."""
    try:
        return Ranker.from_json(json.loads(SHIPPED.read_text(encoding="utf-8")))
    except (OSError, ValueError, AssertionError):
        return None


# One bug for fitting: its candidates' feature rows and the index of the buggy one.
Example = tuple[Sequence[Sequence[float]], int]


def fit(examples: Sequence[Example], use: Sequence[str] = FEATURES, l2: float = 0.01, steps: int = 400,
        fitted_on: Sequence[str] = ()) -> Ranker:
    """Maximise the mean log-probability of the buggy function under a per-bug softmax (full-batch gradient
    ascent with Adam). Features not in `use` keep weight 0; the bias cannot move a softmax and is set so
    that scores sit around 0.5."""
    import numpy as np

    mask = np.array([1.0 if name in use else 0.0 for name in FEATURES])
    blocks = [(np.asarray(rows, dtype=float) * mask, target) for rows, target in examples if len(rows) > 1]
    if not blocks:
        return Ranker(tuple(0.0 for _ in FEATURES), 0.0, tuple(fitted_on), 0)
    w = np.zeros(len(FEATURES))
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for step in range(1, steps + 1):
        grad = -l2 * w
        for x, target in blocks:
            z = x @ w
            p = np.exp(z - z.max())
            p /= p.sum()
            grad += (x[target] - p @ x) / len(blocks)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad * grad
        w += 0.05 * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    w *= mask
    centre = float(np.mean([float((x @ w).mean()) for x, _ in blocks]))
    return Ranker(tuple(float(value) for value in w), -centre, tuple(fitted_on), len(blocks))
