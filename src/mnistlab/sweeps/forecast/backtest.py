"""Choose a form the way it will be used: fit on all but the largest budgets, predict those, and keep the form
that predicted them best, if it beat last1 (the largest fitted budget's mean, carried forward). LCDB found last1
hard to beat (Mohr et al. 2022): a form that does not is not worth extrapolating with."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mnistlab.sweeps.forecast.fit import fit_form
from mnistlab.sweeps.forecast.form import Form

Point = tuple[int, float]  # (budget per class, test accuracy of one seed)
LAST1 = "last1"


@dataclass(frozen=True)
class Backtest:
    fitted_on: tuple[int, ...]
    held_out: tuple[int, ...]
    errors_pp: dict[str, float]   # form (and last1) -> mean |predicted - observed mean| at the held-out budgets, pp
    chosen: str | None            # the lowest-error form when it beat last1; None: no form did

    @property
    def last1_pp(self) -> float:
        return self.errors_pp[LAST1]


def default_holdout(n_budgets: int) -> int:
    """How many of the largest budgets a backtest holds out: a third of them, at least one."""
    return max(1, n_budgets // 3)


def fits_on(form: Form, n_budgets: int) -> bool:
    """A form is fitted only to more budgets than it has parameters."""
    return n_budgets > form.size


def points_for(points: Sequence[Point], budgets) -> tuple[np.ndarray, np.ndarray]:
    """(budgets, errors) of the points whose budget is in `budgets`."""
    keep = [(b, 1.0 - acc) for b, acc in points if b in set(budgets)]
    return np.array([b for b, _ in keep], float), np.array([e for _, e in keep], float)


def means(points: Sequence[Point]) -> dict[int, float]:
    by: dict[int, list[float]] = {}
    for b, acc in points:
        by.setdefault(b, []).append(acc)
    return {b: float(np.mean(v)) for b, v in sorted(by.items())}


def backtest(points: Sequence[Point], holdout: int, forms: Sequence[Form]) -> Backtest:
    """Every form that can be fitted to the budgets left, scored on the held-out ones beside last1."""
    observed = means(points)
    budgets = list(observed)
    fitted_on, held_out = tuple(budgets[:-holdout]), tuple(budgets[-holdout:])
    truth = np.array([observed[b] for b in held_out])
    errors = {LAST1: float(100 * np.mean(np.abs(observed[fitted_on[-1]] - truth)))}
    x, y = points_for(points, fitted_on)
    for form in forms:
        if not fits_on(form, len(fitted_on)):
            continue
        fit = fit_form(form, x, y, scale=float(fitted_on[-1]))
        if fit is not None:
            errors[form.name] = float(100 * np.mean(np.abs(fit.accuracy(held_out) - truth)))
    candidates = {name: e for name, e in errors.items() if name != LAST1}
    best = min(candidates, key=lambda name: candidates[name]) if candidates else None
    chosen = best if best is not None and candidates[best] < errors[LAST1] else None
    return Backtest(fitted_on, held_out, errors, chosen)
