"""A sweep's grid: variants x models x budgets x seeds over one base config, kept as sweep.json."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mnistlab.atomic import write_atomic
from mnistlab.config import NOTEBOOK_MODELS, RunConfig, validate
from mnistlab.errors import ConfigError, SweepError
from mnistlab.models.registry import check_model_args
from mnistlab.names import is_safe_name
from mnistlab.sweeps.studies import STUDIES, apply_study

MAX_RUNS = 100_000  # a grid beyond this is a typo (--seeds 0-1000000000), not a plan

SPEC_NAME = "sweep.json"
GRID_FIELDS = ("model", "samples_per_class", "seed", "model_source")  # model_source: set per job


def base_config(cfg: RunConfig) -> dict:
    """A config's values without the grid's own axes: what every run of a sweep shares."""
    return {k: v for k, v in cfg.to_dict().items() if k not in GRID_FIELDS}



@dataclass
class SweepSpec:
    base: dict = field(default_factory=dict)      # RunConfig fields shared by every run
    models: list = field(default_factory=lambda: list(NOTEBOOK_MODELS))
    budgets: list = field(default_factory=lambda: [50, 100, 300, 1000])
    seeds: list = field(default_factory=lambda: [0, 1, 2, 3, 4])
    variants: list = field(default_factory=lambda: [{"label": "base", "overrides": {}}])
    study: str = "main"

    def plan(self) -> list[tuple[str, RunConfig]]:
        """(variant label, config) for every cell of the grid, in a stable order (each is checked as its job)."""
        if len(self.models) * len(self.budgets) * len(self.seeds) * len(self.variants) > MAX_RUNS:
            raise ConfigError(f"the sweep grid has {len(self.models)} models x {len(self.budgets)} budgets x "
                              f"{len(self.seeds)} seeds x {len(self.variants)} variants, over {MAX_RUNS:,} runs; "
                              "give fewer budgets or seeds")
        if not self.models or not self.budgets or not self.seeds:
            raise ConfigError("the sweep grid is empty: give at least one model, budget and seed")
        out = []
        for variant in self.variants:
            for budget in self.budgets:
                for seed in self.seeds:
                    for model in self.models:
                        values = {**self.base, **variant["overrides"], "model": model,
                                  "samples_per_class": budget, "seed": seed}
                        out.append((variant["label"], RunConfig.from_dict(values)))
        return out

    def merged_with(self, other: SweepSpec) -> SweepSpec:
        """The union of two grids over the same base config (a sweep folder may grow, never change)."""
        if other.base != self.base or other.study != self.study:
            diff = sorted(k for k in set(self.base) | set(other.base) if self.base.get(k) != other.base.get(k))
            raise SweepError(f"this folder holds a sweep with a different configuration ({', '.join(diff) or 'study'}"
                             "); use another --out")
        union = lambda a, b: sorted(set(a) | set(b))  # noqa: E731
        labels = {v["label"] for v in self.variants}
        return SweepSpec(self.base, list(dict.fromkeys(self.models + other.models)),
                         union(self.budgets, other.budgets), union(self.seeds, other.seeds),
                         self.variants + [v for v in other.variants if v["label"] not in labels], self.study)


def make_spec(base: RunConfig, models: list[str], budgets: list[int] | None = None, seeds: list[int] | None = None,
              study: str = "main") -> SweepSpec:
    """The one way a sweep's grid is made (the CLI's and the API's): the axes given, else the defaults, then the
    study's variants and settings (its own budgets unless budgets are given)."""
    defaults = SweepSpec()
    spec = SweepSpec(base=base_config(base), models=list(models),
                     budgets=sorted(set(budgets)) if budgets is not None else defaults.budgets,
                     seeds=sorted(set(seeds)) if seeds is not None else defaults.seeds)
    return apply_study(spec, study, budgets_given=budgets is not None)


def load_spec(folder: Path) -> SweepSpec | None:
    path = Path(folder) / SPEC_NAME
    if not path.is_file():
        return None
    try:
        spec = SweepSpec(**json.loads(path.read_text()))
        _check_types(spec)
        spec.base = {**base_config(RunConfig()), **spec.base}  # fields added since it was written: at default
        check_model_args(validate(RunConfig.from_dict(spec.base)), unregistered_ok=True)
    except (ValueError, TypeError, ConfigError) as e:
        raise SweepError(f"{path}: unreadable sweep spec ({e}); use another --out") from None
    return spec


def _check_types(spec: SweepSpec) -> None:
    """A sweep.json edited by hand or damaged: each field of the kind mnistlab wrote."""
    ints = lambda xs: isinstance(xs, list) and all(type(x) is int for x in xs)  # noqa: E731
    checks = {"base": isinstance(spec.base, dict), "budgets": ints(spec.budgets), "seeds": ints(spec.seeds),
              "models": isinstance(spec.models, list) and all(isinstance(m, str) for m in spec.models),
              "variants": isinstance(spec.variants, list) and all(
                  isinstance(v, dict) and is_safe_name(v.get("label")) and isinstance(v.get("overrides"), dict)
                  for v in spec.variants),  # a variant's label becomes part of file names: one safe alphabet
              "study": spec.study in STUDIES}
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        raise TypeError(f"{bad[0]!r} is not what mnistlab writes there")


def save_spec(folder: Path, spec: SweepSpec) -> None:
    write_atomic(Path(folder) / SPEC_NAME, json.dumps(asdict(spec), indent=1))
