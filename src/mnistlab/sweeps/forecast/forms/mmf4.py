"""mmf4: Morgan-Mercer-Flodin, e(u) = (a·b + c·u^d) / (b + u^d): from a at u = 0 to c as u grows (LCDB's best)."""
import numpy as np

from mnistlab.sweeps.forecast.form import Form, register_form


def _jacobian(w, den, u, a, b, c):
    """The partial derivatives in a, b, c, d, written with w = u^d and den = b + w."""
    return np.stack([b / den, w * (a - c) / den**2, w / den, b * (c - a) / den**2 * w * np.log(u)], axis=1)


register_form(Form(
    name="mmf4", formula="(a·b + c·u^d) / (b + u^d)", params=("a", "b", "c", "d"),
    curve=lambda u, a, b, c, d: (a * b + c * u ** d) / (b + u ** d),
    jacobian=lambda u, a, b, c, d: _jacobian(u ** d, b + u ** d, u, a, b, c),
    lower=(0.0, 1e-6, 0.0, 0.01), upper=(1.0, 1e3, 1.0, 5.0),
    starts=((0.9, 0.01, 0.0, 1.0), (0.5, 0.1, 0.005, 0.5), (0.9, 0.001, 0.01, 1.5)),
    asymptote=lambda p: float(p[2])))
