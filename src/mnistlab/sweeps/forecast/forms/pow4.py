"""pow4: a shifted power law, e(u) = a + b·(u + d)^(−c): the shift bends the small-data end."""
import numpy as np

from mnistlab.sweeps.forecast.form import Form, register_form

register_form(Form(
    name="pow4", formula="a + b·(u + d)^(−c)", params=("a", "b", "c", "d"),
    curve=lambda u, a, b, c, d: a + b * (u + d) ** (-c),
    jacobian=lambda u, a, b, c, d: np.stack([np.ones_like(u), (u + d) ** (-c), -b * (u + d) ** (-c) * np.log(u + d),
                                         -c * b * (u + d) ** (-c - 1)], axis=1),
    lower=(0.0, 0.0, 0.01, 0.0), upper=(1.0, 10.0, 3.0, 10.0),
    starts=((0.0, 0.02, 0.5, 0.0), (0.005, 0.01, 1.0, 0.01), (0.01, 0.05, 0.3, 0.1)),
    asymptote=lambda p: float(p[0])))
