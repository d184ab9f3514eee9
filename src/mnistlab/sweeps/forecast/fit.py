"""Least-squares fits of a form to per-seed points, and what a fitted curve says: accuracy at a budget, the
budget where it reaches a target. SciPy's bounded trust-region least squares does the fitting."""
from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, least_squares

from mnistlab.sweeps.forecast.form import Form

MAX_BUDGET = 1e9  # per class: a curve that has not reached a target by then never does


@dataclass(frozen=True)
class Fit:
    """A form fitted to points: its parameters in u = budget / scale, and the mean squared residual."""

    form: Form
    params: tuple[float, ...]
    scale: float
    mse: float

    def error(self, budgets) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.asarray(self.form.curve(np.asarray(budgets, float) / self.scale, *self.params), float)

    def accuracy(self, budgets) -> np.ndarray:
        return 1.0 - self.error(budgets)

    @property
    def ceiling(self) -> float:
        """The accuracy the curve tends to as the budget grows without end."""
        return 1.0 - self.form.asymptote(self.params)

    def budget_for(self, target: float) -> float:
        """The smallest budget per class whose fitted accuracy reaches `target`; inf when it never does."""
        if self.ceiling < target:
            return math.inf
        grid = np.geomspace(1e-3 * self.scale, MAX_BUDGET, 400)
        above = np.nonzero(self.accuracy(grid) >= target)[0]
        if not len(above):
            return math.inf
        i = int(above[0])
        if i == 0:
            return float(grid[0])
        gap = lambda n: float(self.accuracy([n])[0]) - target  # noqa: E731
        return float(brentq(gap, grid[i - 1], grid[i], xtol=1e-6 * grid[i]))


def fit_form(form: Form, budgets: Sequence[float] | np.ndarray, errors: Sequence[float] | np.ndarray, scale: float,
             starts: Sequence[Sequence[float]] | None = None) -> Fit | None:
    """The best of several bounded least-squares starts on (budget, error) points; None when every start fails
    or gives a non-finite curve."""
    u = np.asarray(budgets, float) / scale
    y = np.asarray(errors, float)
    lower, upper = np.array(form.lower), np.array(form.upper)
    best: Fit | None = None
    for start in starts if starts is not None else form.starts:
        p0 = np.clip(np.asarray(start, float), lower, upper)

        def residuals(p):
            with np.errstate(all="ignore"):
                r = form.curve(u, *p) - y
            return np.where(np.isfinite(r), r, 1e3)

        def jacobian(p):
            with np.errstate(all="ignore"):
                j = form.jacobian(u, *p)
            return np.where(np.isfinite(j), j, 0.0)

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = least_squares(residuals, p0, jac=jacobian, bounds=(lower, upper), method="trf", max_nfev=400,
                                      ftol=1e-6, xtol=1e-6, gtol=1e-6, x_scale="jac")
        except (ValueError, FloatingPointError):
            continue
        params = tuple(float(v) for v in found.x)
        with np.errstate(all="ignore"):
            curve = form.curve(u, *params)
        if not (np.all(np.isfinite(curve)) and math.isfinite(form.asymptote(params))):
            continue
        mse = float(np.mean((curve - y) ** 2))
        if best is None or mse < best.mse:
            best = Fit(form, params, scale, mse)
    return best
