"""pow3: a power law with an asymptote, e(u) = a + b·u^(−c) (Hestness et al. 2017's power-law region)."""
import numpy as np

from mnistlab.sweeps.forecast.form import Form, register_form

register_form(Form(
    name="pow3", formula="a + b·u^(−c)", params=("a", "b", "c"),
    curve=lambda u, a, b, c: a + b * u ** (-c),
    jacobian=lambda u, a, b, c: np.stack([np.ones_like(u), u ** (-c), -b * u ** (-c) * np.log(u)], axis=1),
    lower=(0.0, 0.0, 0.01), upper=(1.0, 10.0, 3.0),
    starts=((0.0, 0.02, 0.5), (0.005, 0.01, 1.0), (0.01, 0.05, 0.3)),
    asymptote=lambda p: float(p[0])))
