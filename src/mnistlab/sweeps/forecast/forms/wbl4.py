"""wbl4: Weibull, e(u) = c + b·exp(−a·u^d): an error that falls off faster than any power law."""
import numpy as np

from mnistlab.sweeps.forecast.form import Form, register_form

register_form(Form(
    name="wbl4", formula="c + b·exp(−a·u^d)", params=("a", "b", "c", "d"),
    curve=lambda u, a, b, c, d: c + b * np.exp(-a * u ** d),
    jacobian=lambda u, a, b, c, d: np.stack([-b * np.exp(-a * u ** d) * u ** d, np.exp(-a * u ** d), np.ones_like(u),
                                         -a * b * np.exp(-a * u ** d) * u ** d * np.log(u)], axis=1),
    lower=(1e-6, 0.0, 0.0, 0.01), upper=(1e3, 1.0, 1.0, 5.0),
    starts=((10.0, 0.5, 0.01, 0.5), (100.0, 0.9, 0.005, 0.3), (3.0, 0.3, 0.0, 1.0)),
    asymptote=lambda p: float(p[2])))
