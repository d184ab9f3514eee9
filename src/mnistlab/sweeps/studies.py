"""Study presets for `mnistlab sweep --study`: the notebook's extras as variant axes of a sweep grid."""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from mnistlab.config import RECIPES, RunConfig

NOISE_LEVELS = (0.0, 0.05, 0.1, 0.2, 0.3)
SHIFT_LEVELS = (0.0, 1.0, 2.0, 3.0, 4.0)

# Stands for one variant per registered semi-supervised method, named as the method (variants_of).
EVERY_METHOD: tuple[str, dict] = ("every semi-supervised method", {})

STUDIES: dict[str, tuple[list[tuple[str, dict]], dict[str, Any], list[int] | None]] = {
    # name: (variants as (label, overrides), extra base settings, default budgets or None for the sweep's)
    "main": ([("base", {})], {}, None),
    "noise": ([("clean", {"noise": 0.0}), ("noisy0.1", {"noise": 0.1})], {"eval_noise": NOISE_LEVELS}, [300]),
    "shift": ([("plain", {}), ("augmented", {"shift": 2.0, "scale": 0.1})], {"eval_shift": SHIFT_LEVELS}, None),
    "imbalance": ([("longtail", {"imbalance": "longtail:0.1", "remedy": "none"}),
                   ("longtail-weighted", {"imbalance": "longtail:0.1", "remedy": "weighted"}),
                   ("longtail-oversample", {"imbalance": "longtail:0.1", "remedy": "oversample"})], {}, [300]),
    # The notebook's plain method against the best recipe (docs/results.md), same models, same budgets.
    "recipe": ([("plain", {}), ("recipe", RECIPES["best"])], {}, [10, 100, 300, 1000]),
    # Labelled images alone (plain, recipe) against labelled + every unlabelled training image, per method (a new
    # method joins by being registered), and FixMatch with its labels chosen by a label-free rule (and by a
    # label-free random draw, its fair baseline); all with a fixed schedule (no validation split), so budget 1 works.
    "semi": ([("plain", {}), ("recipe", RECIPES["best"]), EVERY_METHOD,
              ("fixmatch-central", {"unlabeled": "all", "select": "central-tsne"}),
              ("fixmatch-any", {"unlabeled": "all", "select": "random-any"})],
             {"early_stopping": False}, [1, 2, 5, 10, 100]),
}
# Each ingredient of the best recipe taken out on its own (read on validation accuracy, on seeds of its own).
ABLATIONS: dict[str, dict[str, Any]] = {
    "no-augmentation": {"shift": 0.0, "scale": 0.0, "rotate": 0.0}, "no-rotation": {"rotate": 0.0},
    "no-dropout": {"dropout": 0.0}, "no-weight-decay": {"weight_decay": 0.0},
    "no-label-smoothing": {"label_smoothing": 0.0}, "constant-lr": {"schedule": "constant"}, "lr-1e-3": {"lr": 1e-3},
    "short-training": {"epochs": 30, "patience": 5}}
BEST: dict[str, Any] = RECIPES["best"]
STUDIES["ablation"] = ([("recipe", BEST)] + [(name, {**BEST, **change}) for name, change in ABLATIONS.items()]
                       + [("plain", {})], {}, [100])


def variants_of(study: str) -> list[tuple[str, dict]]:
    """A study's variants as (label, overrides), EVERY_METHOD given as one variant per registered method."""
    out: list[tuple[str, dict]] = []
    for variant in STUDIES[study][0]:
        out += method_variants() if variant == EVERY_METHOD else [variant]
    return out


def method_variants() -> list[tuple[str, dict]]:
    """(method, its overrides) for every registered semi-supervised method; the default method's overrides name
    no method, as the stores written before say."""
    # Imported here: the catalog imports torch, and every `--help` reads STUDIES (2 s, docs/performance.md).
    from mnistlab.training.semi.catalog import list_methods

    default = RunConfig().semi_method
    return [(name, {"unlabeled": "all"} if name == default else {"unlabeled": "all", "semi_method": name})
            for name in list_methods()]


def apply_study(spec, study: str, budgets_given: bool = False):
    """The spec with the study's variants and settings; the main study leaves it as it is."""
    _, base, budgets = STUDIES[study]
    variants = variants_of(study)
    base = {k: list(v) if isinstance(v, tuple) else v for k, v in base.items()}
    return replace(spec, study=study, base={**spec.base, **base},
                   variants=[{"label": label, "overrides": o} for label, o in variants],
                   budgets=spec.budgets if budgets_given or budgets is None else budgets)
