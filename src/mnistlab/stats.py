"""Statistics over seeds: mean, sd, 95% t-interval; every pair of models compared by seed, Holm-adjusted."""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any, Protocol

import numpy as np


class Measured(Protocol):
    """What the statistics need of a run: its cell of the grid and its measured values (a store's SweepRow)."""

    @property
    def variant(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def samples_per_class(self) -> int: ...
    @property
    def seed(self) -> int: ...
    def metric(self, name: str) -> Any: ...

AGGREGATED = ("test_acc", "best_val_acc", "best_val_loss", "epochs_run", "best_epoch", "gap_at_best", "balanced_acc",
              "macro_f1", "train_seconds")


def mean_ci(values, confidence: float = 0.95) -> dict:
    """n, mean, sample sd and the t-based confidence interval of the mean (NaN bounds when n < 2)."""
    from scipy import stats

    x = np.asarray([v for v in values if v is not None], dtype=float)
    n = len(x)
    mean = float(x.mean()) if n else math.nan
    sd = float(x.std(ddof=1)) if n > 1 else math.nan
    if n > 1:
        half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    else:
        half = math.nan
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment (NaN stays NaN). By hand: scipy has none, statsmodels is a heavy dependency."""
    order = sorted((p, i) for i, p in enumerate(pvalues) if not math.isnan(p))
    m, running, out = len(order), 0.0, [math.nan] * len(pvalues)
    for rank, (p, i) in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out


@dataclass(frozen=True)
class Aggregate:
    """One cell of a sweep (variant, model, budget) over its seeds: each metric of AGGREGATED as mean_ci gives it."""

    variant: str
    model: str
    samples_per_class: int
    n: int
    params: int | None
    seeds: list[int]
    test_acc: dict
    best_val_acc: dict
    best_val_loss: dict
    epochs_run: dict
    best_epoch: dict
    gap_at_best: dict
    balanced_acc: dict
    macro_f1: dict
    train_seconds: dict

    def metric(self, name: str) -> dict:
        """One metric's summary over the seeds (n, mean, sd, ci_low, ci_high), by its name."""
        if name not in AGGREGATED:
            raise KeyError(name)
        return getattr(self, name)

    def to_dict(self) -> dict:
        return asdict(self)


def aggregate(rows: Sequence[Measured], models: list[str]) -> list[Aggregate]:
    """One Aggregate per (variant, model, budget), models in `models` order."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r.variant, r.model, r.samples_per_class)].append(r)
    order = lambda item: (item[0][0], models.index(item[0][1]), item[0][2])  # noqa: E731
    return [Aggregate(variant, model, budget, len(members), members[0].metric("params"),
                      sorted(m.seed for m in members),
                      **{metric: mean_ci([m.metric(metric) for m in members]) for metric in AGGREGATED})
            for (variant, model, budget), members in sorted(groups.items(), key=order)]


def _paired(by: dict, variant: str, budget: int, a: str, b: str) -> dict | None:
    """b − a paired by seed in one (variant, budget) cell, with paired t and Wilcoxon p-values."""
    from scipy import stats

    seeds = sorted(s for v, n, m, s in by if (v, n, m) == (variant, budget, a) and (v, n, b, s) in by)
    if not seeds:
        return None
    xa = np.array([by[(variant, budget, a, s)] for s in seeds])
    xb = np.array([by[(variant, budget, b, s)] for s in seeds])
    diffs = xb - xa
    rec = {"variant": variant, "samples_per_class": budget, "a": a, "b": b, "n": len(seeds), "seeds": seeds,
           "diff": mean_ci(diffs), "wilcoxon_p": math.nan, "ttest_p": math.nan}
    if len(seeds) > 1 and np.any(diffs != 0):
        rec["wilcoxon_p"] = float(stats.wilcoxon(diffs).pvalue)
        rec["ttest_p"] = float(stats.ttest_rel(xb, xa).pvalue)
    return rec


def paired_comparisons(rows: Sequence[Measured], models: list[str], metric: str = "test_acc") -> list[dict]:
    """Every pair (a, b) of `models` (a before b) per (variant, budget): b − a by seed, mean, 95% CI, p-values.

    One family = one budget, one variant, one metric across model pairs; the t-test's and Wilcoxon's
    p-values are Holm-adjusted within it, each on their own (`*_p_holm`, `family_size`).
    """
    by = {(r.variant, r.samples_per_class, r.model, r.seed): r.metric(metric) for r in rows}
    out = []
    for variant, budget in sorted({(v, n) for v, n, _, _ in by}):
        family = [rec for a, b in combinations(models, 2) if (rec := _paired(by, variant, budget, a, b))]
        for test in ("ttest_p", "wilcoxon_p"):
            for rec, adjusted in zip(family, holm([r[test] for r in family])):
                rec[f"{test}_holm"] = adjusted
        for rec in family:
            rec["family_size"] = len(family)
        out += family
    return out
