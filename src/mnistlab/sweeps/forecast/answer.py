"""How many labels are needed: for every model × variant of a sweep with enough budgets, the form chosen by its
backtest, refitted on every budget, and what it says (ceiling, gain of the next doubling, the budget for each
target) with intervals from a bootstrap over whole seeds: one resample of seeds shared by every cell, so that two
models' answers stay paired, and the chosen form refitted on each resample."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from mnistlab.errors import ConfigError
from mnistlab.stats import Measured, mean_ci
from mnistlab.sweeps.forecast.backtest import Backtest, Point, backtest, default_holdout, fits_on, points_for
from mnistlab.sweeps.forecast.fit import Fit, fit_form
from mnistlab.sweeps.forecast.form import forms

MIN_BUDGETS = 4
RESAMPLES = 200
LEVEL = 95.0
EXTRAPOLATE = 10  # the band reaches this many times the largest budget


@dataclass(frozen=True)
class Estimate:
    value: float | None            # from the fit on every seed; None where the cell has no chosen form
    ci_low: float | None = None    # percentile bootstrap interval; None without resamples
    ci_high: float | None = None


@dataclass(frozen=True)
class TargetBudget:
    target: float                  # test accuracy, a fraction
    budget: float | None           # samples per class; None: the fitted curve never reaches the target
    ci_low: float | None
    ci_high: float | None          # None with resamples: more than the interval's tail never reaches the target
    never_share: float | None      # share of resamples whose curve never reaches it; None without resamples


@dataclass(frozen=True)
class Observed:
    budget: int
    n: int
    mean: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class Band:
    budgets: tuple[float, ...]
    accuracy: tuple[float, ...]
    low: tuple[float, ...] | None
    high: tuple[float, ...] | None


@dataclass(frozen=True)
class CellForecast:
    variant: str
    model: str
    seeds: tuple[int, ...]
    observed: tuple[Observed, ...]
    backtest: Backtest
    form: str | None               # the form chosen by the backtest; None: none beat last1
    params: tuple[float, ...]
    ceiling: Estimate
    next_doubling: Estimate        # fitted accuracy at twice the largest budget minus at the largest, a fraction
    targets: tuple[TargetBudget, ...]
    band: Band | None
    resamples: int

    @property
    def largest(self) -> int:
        return self.observed[-1].budget

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Forecast:
    cells: list[CellForecast]
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (variant, model, why)
    resamples: int = 0

    def to_dict(self) -> dict:
        return {"cells": [c.to_dict() for c in self.cells], "resamples": self.resamples,
                "skipped": [{"variant": v, "model": m, "why": why} for v, m, why in self.skipped]}


def _interval(values: np.ndarray) -> tuple[float | None, float | None]:
    """Percentile interval; inverted-CDF quantiles, so an infinite draw (never reached) is never interpolated."""
    if not len(values):
        return None, None
    low, high = (float(np.percentile(values, q, method="inverted_cdf")) for q in ((100 - LEVEL) / 2,
                                                                                   (100 + LEVEL) / 2))
    return (low if math.isfinite(low) else None), (high if math.isfinite(high) else None)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def check_targets(targets: Sequence[float]) -> list[float]:
    for target in targets:
        if not (isinstance(target, (int, float)) and 0 < target < 1):
            raise ConfigError(f"--target {target}: a test accuracy strictly between 0 and 1 (e.g. 0.99)")
    return sorted(set(float(t) for t in targets))


def _check_choice(given: Sequence[str] | None, present: list[str], flag: str) -> list[str]:
    if given is None:
        return present
    missing = [g for g in given if g not in present]
    if missing:
        raise ConfigError(f"{flag} {missing[0]}: not in this store; it holds {', '.join(present)}")
    return [p for p in present if p in given]


def forecast(rows: Sequence[Measured], models: list[str], *, targets: Sequence[float] = (),
             variants: Sequence[str] | None = None, only: Sequence[str] | None = None,
             resamples: int = RESAMPLES, holdout: int | None = None, seed: int = 0) -> Forecast:
    """The forecast of every (variant, model) cell of finished runs; `only` limits the models. Bad input (a target
    outside (0, 1), a model or variant the rows lack, no cell with MIN_BUDGETS budgets) is a ConfigError."""
    goals = check_targets(targets)
    if not (isinstance(resamples, int) and 0 <= resamples <= 100_000):
        raise ConfigError(f"--resamples {resamples}: a whole number from 0 (no interval) to 100000")
    cells: dict[tuple[str, str], list[tuple[int, int, float]]] = {}
    for r in rows:
        acc = r.metric("test_acc")
        if acc is not None:
            cells.setdefault((r.variant, r.model), []).append((r.samples_per_class, r.seed, float(acc)))
    if not cells:
        raise ConfigError("the store holds no finished run to forecast from")
    chosen_models = _check_choice(only, [m for m in models if any(k[1] == m for k in cells)], "--models")
    chosen_variants = _check_choice(variants, sorted({v for v, _ in cells}, key=lambda v: (v != "base", v)),
                                    "--variants")
    keys = [(v, m) for v in chosen_variants for m in chosen_models if (v, m) in cells]
    skipped, usable = [], []
    for key in keys:
        budgets = sorted({b for b, _, _ in cells[key]})
        if len(budgets) < MIN_BUDGETS:
            shown = ", ".join(map(str, budgets))
            skipped.append((*key, f"{len(budgets)} budgets ({shown}); a forecast needs at least {MIN_BUDGETS}"))
        else:
            usable.append(key)
    if not usable:
        raise ConfigError(f"{skipped[0][1]} ({skipped[0][0]}): {skipped[0][2]}, so there is nothing to forecast; "
                          "sweep more --budgets")
    all_seeds = sorted({s for key in usable for _, s, _ in cells[key]})
    resamples = resamples if len(all_seeds) > 1 else 0  # one seed: no interval (said with the answer)
    draws = np.random.default_rng(seed).integers(0, len(all_seeds), size=(resamples, len(all_seeds)))
    answered = [_cell(key, cells[key], goals, holdout, [[all_seeds[i] for i in d] for d in draws])
                for key in usable]
    return Forecast(answered, skipped, resamples)


def _cell(key: tuple[str, str], runs: list[tuple[int, int, float]], goals: list[float], holdout: int | None,
          draws: list[list[int]]) -> CellForecast:
    variant, model = key
    budgets = sorted({b for b, _, _ in runs})
    observed = tuple(Observed(b, int(ci["n"]), ci["mean"], ci["ci_low"], ci["ci_high"])
                     for b in budgets for ci in [mean_ci([a for bb, _, a in runs if bb == b])])
    points: list[Point] = [(b, a) for b, _, a in runs]
    held = holdout if holdout is not None else default_holdout(len(budgets))
    if not (isinstance(held, int) and 1 <= held <= len(budgets) - 2):
        raise ConfigError(f"--holdout {held}: from 1 to {len(budgets) - 2} for {model} ({variant}), which has "
                          f"{len(budgets)} budgets")
    test = backtest(points, held, list(forms()))
    seeds = tuple(sorted({s for _, s, _ in runs}))
    nothing = Estimate(None)
    if test.chosen is None:
        return CellForecast(variant, model, seeds, observed, test, None, (), nothing, nothing,
                            tuple(TargetBudget(g, None, None, None, None) for g in goals), None, len(draws))
    form = forms().get(test.chosen)
    x, y = points_for(points, budgets)
    full = fit_form(form, x, y, scale=float(budgets[-1]))
    if full is None or not fits_on(form, len(budgets)):
        return CellForecast(variant, model, seeds, observed, test, None, (), nothing, nothing,
                            tuple(TargetBudget(g, None, None, None, None) for g in goals), None, len(draws))
    refits = [f for draw in draws if (f := _refit(full, runs, draw)) is not None]
    largest = budgets[-1]
    grid = np.geomspace(budgets[0], EXTRAPOLATE * largest, 80)
    doubling = lambda f: float(f.accuracy([2 * largest])[0] - f.accuracy([largest])[0])  # noqa: E731
    curves = np.array([f.accuracy(grid) for f in refits]) if refits else None
    band = Band(tuple(grid), tuple(full.accuracy(grid)),
                *((tuple(np.percentile(curves, q, axis=0)) for q in ((100 - LEVEL) / 2, (100 + LEVEL) / 2))
                  if curves is not None else (None, None)))
    targets = tuple(_target(full, refits, g) for g in goals)
    return CellForecast(variant, model, seeds, observed, test, form.name, full.params,
                        Estimate(full.ceiling, *_interval(np.array([f.ceiling for f in refits]))),
                        Estimate(doubling(full), *_interval(np.array([doubling(f) for f in refits]))),
                        targets, band, len(draws))


def _refit(full: Fit, runs: list[tuple[int, int, float]], draw: list[int]) -> Fit | None:
    """The chosen form on one resample of whole seeds (a seed drawn twice counts twice), started from the full fit."""
    by_seed: dict[int, list[tuple[int, float]]] = {}
    for b, s, a in runs:
        by_seed.setdefault(s, []).append((b, a))
    points = [p for s in draw for p in by_seed.get(s, [])]
    budgets = {b for b, _ in points}
    if not fits_on(full.form, len(budgets)):
        return None
    x, y = points_for(points, budgets)
    return fit_form(full.form, x, y, full.scale, starts=[full.params])


def _target(full: Fit, refits: list[Fit], goal: float) -> TargetBudget:
    point = full.budget_for(goal)
    if not refits:
        return TargetBudget(goal, _finite(point), None, None, None)
    needed = np.array([f.budget_for(goal) for f in refits])
    low, high = _interval(needed)
    return TargetBudget(goal, _finite(point), low, high, float(np.mean(~np.isfinite(needed))))
