"""What a learning-curve form is: error as a function of the budget, its parameters' bounds and first guesses.

Forms model the test error e(u) = 1 - accuracy at u = budget / scale (scale: the largest budget fitted, so every
parameter is of order one whatever the budgets). Each lives in one file of forms/ (LCDB's names: Mohr et al. 2022).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mnistlab.registry import Registry, load_folder

Curve = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Form:
    name: str
    formula: str                                   # as the docs and --help write it, in u = budget / scale
    params: tuple[str, ...]
    curve: Curve                                   # curve(u, *params) -> error
    jacobian: Curve                                # (len(u), len(params)): analytic, ~2x faster fits than SciPy's
                                                   # finite differences
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    starts: tuple[tuple[float, ...], ...]          # first guesses for the least-squares fit (several starts)
    asymptote: Callable[[Sequence[float]], float]  # the error as the budget grows without end

    @property
    def size(self) -> int:
        return len(self.params)


FORMS: Registry[Form] = Registry("curve form", "--forms")


def register_form(form: Form) -> Form:
    FORMS.register(form.name, form)
    return form


def forms() -> Registry[Form]:
    """Every form of forms/ (one file each), registered on first use."""
    if not FORMS.names():
        load_folder("mnistlab.sweeps.forecast.forms")
    return FORMS
