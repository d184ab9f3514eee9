"""The semi-supervised method registry, in the models registry's style: one declaration per method.

    @register_method("fixmatch", label="FixMatch", settings={"threshold": 0.95, ...})
    def fixmatch(batch: SemiBatch, settings: dict) -> tuple[Tensor, dict]: ...

A method is a function of one step's batch (labelled images and labels, unlabelled images *without* labels,
the model and its EMA teacher) returning the loss to minimise and label-free statistics to log (mask rate).
Its settings (and their defaults) live with it; a run's `semi_options` override them by name. Consumers ask
`catalog.get_method`, which also resolves a user's own method.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from mnistlab.errors import ConfigError
from mnistlab.registry import Registry


@dataclass
class SemiBatch:
    """One optimizer step's inputs. Images are raw pixels in [0, 1], [B, 1, 28, 28]; `normalize` maps them to the
    model's input. The unlabelled images come with no labels: nothing here can reach them."""

    model: nn.Module
    teacher: nn.Module                  # the EMA of the model's weights (eval mode, no gradients)
    labelled_x: torch.Tensor
    labelled_y: torch.Tensor
    unlabelled_x: torch.Tensor
    generator: torch.Generator          # every random draw of the step (views, cutout)
    normalize: Callable[[torch.Tensor], torch.Tensor]
    step: int                           # 1-based
    steps: int
    label_smoothing: float = 0.0
    state: dict = field(default_factory=dict)  # the same dict every step of a run: a method's running statistics


MethodFn = Callable[[SemiBatch, dict], tuple[torch.Tensor, dict]]


@dataclass(frozen=True)
class Number:
    """A method's setting, declared once: its default and the interval it must lie in (each end closed unless
    said open). A user's method declaring a bare number gets any finite value."""

    default: float
    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False
    switch: bool = False  # off (0) or on (1), nothing between

    def accepts(self, value: float) -> bool:
        if self.switch:
            return value in (0.0, 1.0)
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        return math.isfinite(value) and above and below

    @property
    def allowed(self) -> str:
        if self.switch:
            return "0 (off) or 1 (on)"
        if self.low == -math.inf and self.high == math.inf:
            return "any finite number"
        if self.high == math.inf:
            return f"a number {'>' if self.open_low else '>='} {self.low:g}"
        return f"in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}{')' if self.open_high else ']'}"


# Settings every method has: the unlabelled batch is `uratio` x the labelled batch; `ema` is the decay of the
# weights that are saved and measured (0 keeps the last weights).
COMMON = {"uratio": Number(3.0, 0.0, 64.0, open_low=True), "ema": Number(0.999, 0.0, 1.0, open_high=True)}


def declared(settings: dict) -> dict[str, Number]:
    """Settings as declarations: a bare number (a user's method) becomes an unbounded Number."""
    return {k: v if isinstance(v, Number) else Number(float(v)) for k, v in settings.items()}


@dataclass(frozen=True)
class MethodSpec:
    name: str
    label: str
    fn: MethodFn
    settings: dict[str, Number] = field(default_factory=dict)   # name -> its declaration
    source: str = "mnistlab"
    source_file: str = ""
    source_sha256: str = ""

    @property
    def declarations(self) -> dict[str, Number]:
        return {**COMMON, **self.settings}

    @property
    def defaults(self) -> dict[str, float]:
        return {k: v.default for k, v in self.declarations.items()}


METHODS: Registry[MethodSpec] = Registry("semi-supervised method", "--semi-method")


def register_method(name: str, *, label: str, settings: dict | None = None, source: str = "mnistlab") -> Callable:
    def wrap(fn: MethodFn) -> MethodFn:
        METHODS.register(name, MethodSpec(name, label, fn, declared(settings or {}), source))
        return fn

    return wrap


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_options(text: str) -> dict[str, float]:
    """'threshold=0.9,uratio=7' -> {'threshold': 0.9, 'uratio': 7.0}; a ConfigError for anything else."""
    out: dict[str, float] = {}
    for part in filter(None, text.split(",")):
        name, sep, value = part.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not name or not math.isfinite(number):
            raise ConfigError(f"--semi-options {text!r}: use NAME=NUMBER,... (e.g. threshold=0.9,uratio=7)")
        out[name] = number
    return out


def resolve_settings(spec: MethodSpec, options: str) -> dict[str, float]:
    """The method's settings with a run's overrides, checked: unknown names and out-of-range values refused."""
    given = parse_options(options)
    unknown = sorted(set(given) - set(spec.defaults))
    if unknown:
        raise ConfigError(f"--semi-options {unknown[0]!r}: {spec.name} has no such setting; it has "
                          f"{', '.join(sorted(spec.defaults))}")
    for name, value in given.items():
        rule = spec.declarations[name]
        if not rule.accepts(value):
            raise ConfigError(f"--semi-options {name}={value:g}: {spec.name}'s {name} must be {rule.allowed}")
    return {**spec.defaults, **given}


def canonical_options(spec: MethodSpec, options: str) -> str:
    """Overrides that differ from the method's defaults, sorted: the form that enters a run's key."""
    settings = resolve_settings(spec, options)
    changed = {k: v for k, v in settings.items() if v != spec.defaults[k]}
    return ",".join(f"{k}={changed[k]:g}" for k in sorted(changed))
