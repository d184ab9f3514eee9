"""Command-line arguments: the parser class, and the run-config flags generated from RunConfig's declaration."""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

from mnistlab.config import DEVICES, NOTEBOOK_MODELS, RECIPES, SEMI_FIELDS, RunConfig, flag_of
from mnistlab.errors import ConfigError, UsageError
from mnistlab.model_declarations import Setting, declared_settings

GROUPS = {"experiment": "experiment (defaults are the notebook's)", "corruption": "corruption, augmentation, imbalance",
          "recipe": "training recipe (defaults are the notebook's plain method)",
          "semi": "semi-supervised: unlabelled images too (--unlabeled implies --no-early-stopping)"}
AUGMENT_KEYS = {"shift": "pixels", "scale": "zoom fraction", "rotate": "degrees"}
PER_RUN_ONLY = ("samples_per_class", "seed")  # a sweep sets these through --budgets and --seeds


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage dump
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def parse_augment(spec: str) -> dict:
    """'shift=2,scale=0.1,rotate=10' -> {'shift': 2.0, 'scale': 0.1, 'rotate': 10.0}."""
    out = {}
    for part in filter(None, spec.split(",")):
        name, _, value = part.partition("=")
        if name not in AUGMENT_KEYS or not value:
            raise ConfigError(f"--augment {spec!r}: use shift=PIXELS,scale=FRACTION,rotate=DEGREES "
                              "(e.g. shift=2,scale=0.1)")
        try:
            out[name] = float(value)
        except ValueError:
            raise ConfigError(f"--augment {spec!r}: {value!r} is not a number") from None
    return out


SETTING = "model_setting:"  # the dest prefix of a model's own flags (--mlp-hidden -> model_setting:mlp_hidden)


def add_model_settings(group) -> None:
    """A flag for each model's settings, from its declaration (--mlp-hidden, --cnn-c1, ...)."""
    for stored, model, setting in _declared_settings():
        group.add_argument(f"--{stored.replace('_', '-')}", dest=SETTING + stored, type=int, default=None,
                           metavar="N", help=f"{setting.help}, for --models {model} (default {setting.default})")


def _declared_settings() -> list[tuple[str, str, Setting]]:
    """mnistlab's own models' settings from their torch-free declarations (`run --help` imports no torch), or,
    once the registry is imported, every registered model's (a model registered in Python has flags too)."""
    registry = sys.modules.get("mnistlab.models.registry")
    if registry is None:
        return declared_settings()
    return [(stored, spec.name, setting) for stored, spec, setting in registry.model_settings()]


def add_config_args(p: argparse.ArgumentParser, multi: bool = False, settings: bool = True) -> None:
    """Every RunConfig field that has a flag, from its declaration (help, choices, default), plus --models and,
    with `settings`, the models' own settings (from their declarations: _declared_settings)."""
    defaults = RunConfig()
    groups = {key: p.add_argument_group(title) for key, title in GROUPS.items()}
    groups["experiment"].add_argument(
        "--models", nargs="+", default=list(NOTEBOOK_MODELS), metavar="MODEL",
        help="models to train: registered names (`mnistlab models` lists them), path/to/file.py:Class or "
        f"package.module:Class (default: {' '.join(NOTEBOOK_MODELS)})")
    for f in fields(RunConfig):
        meta = f.metadata
        if meta["flag"] is None or (multi and f.name in PER_RUN_ONLY):
            continue
        flag = meta["flag"] or f"--{f.name.replace('_', '-')}"
        default = getattr(defaults, f.name)
        shown = f" (default {default})" if default not in ("", ()) else ""
        kwargs: dict = {"dest": f.name, "metavar": meta["metavar"], "help": meta["help"] + shown}
        if meta["choices"] is not None:
            kwargs.update(choices=meta["choices"], metavar=None)
        if isinstance(default, bool):  # a switch: its flag turns the default off (or on)
            kwargs = {"dest": f.name, "help": meta["help"], "action": "store_false" if default else "store_true"}
        elif isinstance(default, tuple):
            kwargs.update(nargs="+", type=_number, default=[])
        else:
            kwargs.update(type=meta["parse"] or type(default), default=default)
        if f.name in SEMI_FIELDS:  # None: not given, so that giving one without --unlabeled can be refused
            kwargs["default"] = None
        groups[meta["group"]].add_argument(flag, **kwargs)
    if settings:
        add_model_settings(p.add_argument_group("settings of the models"))
    groups["corruption"].add_argument("--augment", default="", metavar="SPEC",
                                      help="random shifts/zoom/rotation while training, e.g. shift=2,scale=0.1,"
                                      "rotate=10 (pixels, zoom fraction, degrees)")
    groups["recipe"].add_argument("--recipe", choices=sorted(RECIPES), default="plain",
                                  help="plain: the notebook's method; best: the recipe of docs/results.md "
                                  "(augmentation, dropout, weight decay, label smoothing, cosine schedule, "
                                  "longer training); flags given beside it win (default plain)")
    r = p.add_argument_group("resources")
    r.add_argument("--device", choices=DEVICES, default="auto", help="auto picks CUDA when present (default auto)")
    add_threads_arg(r)
    add_data_dir_arg(r)


def add_threads_arg(group) -> None:
    """--threads, declared here for every command that trains or evaluates (checked by check_threads)."""
    group.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")


def add_data_dir_arg(group, help: str = "your folder with the four IDX files, used read-only (default: the cache, "
                                        "$MNISTLAB_DATA or ~/.cache/mnistlab)") -> None:
    """--data-dir, declared here for every command that reads a dataset."""
    group.add_argument("--data-dir", type=Path, default=None, help=help)


def check_threads(value) -> None:
    """The one check of --threads."""
    if value is not None and (isinstance(value, bool) or value < 1):
        raise UsageError(f"--threads {value}: must be an integer >= 1")


def configs_from_args(args) -> list[RunConfig]:
    """One RunConfig per requested model, as parsed (each model resolved by the registry; the values are checked
    once, where the API makes each run's job)."""
    values = {f.name: getattr(args, f.name) for f in fields(RunConfig) if hasattr(args, f.name)}
    values["model_args"] = {k[len(SETTING):]: v for k, v in vars(args).items()
                            if k.startswith(SETTING) and v is not None}
    semi_given = [name for name in SEMI_FIELDS if values.get(name) is not None]
    if getattr(args, "study", None) == "semi":  # its variants name each method: only the shared --steps is free
        fixed = [name for name in semi_given if name != "steps"]
        if fixed:
            raise ConfigError(f"{flag_of(fixed[0])} {values[fixed[0]]}: --study semi runs each method with its own "
                              "settings; use --study main with --unlabeled to try another method or setting")
    elif semi_given and not values.get("unlabeled"):
        name = semi_given[0]
        raise ConfigError(f"{flag_of(name)} {values[name]}: only for semi-supervised runs; add --unlabeled N (or all) "
                          "to train on unlabelled images too")
    values.update({name: getattr(RunConfig(), name) for name in SEMI_FIELDS if values.get(name) is None})
    if values.get("unlabeled"):
        values["early_stopping"] = False  # a semi-supervised run trains a fixed --steps schedule
    values.update({k: tuple(v) for k, v in values.items() if isinstance(v, list)})
    recipe = RECIPES[getattr(args, "recipe", "plain")]
    given = {name for name, value in values.items() if value != getattr(RunConfig(), name)}
    values.update({k: v for k, v in recipe.items() if k not in given})  # an explicit flag beats the recipe
    values.update(parse_augment(args.augment))
    check_threads(args.threads)
    from mnistlab.models.registry import config_of, get_spec

    # Resolved before any work: an unknown name or a broken user model is one line; a file spec is named by
    # its absolute path from here on, so every later step (and a resume from elsewhere) finds the same file.
    specs = {spec.name: spec for spec in (get_spec(model) for model in args.models)}
    return [config_of(**{**values, "model": name, "model_args": own_settings(values["model_args"], spec, specs)})
            for name, spec in specs.items()]


def own_settings(given: dict, spec, specs: dict) -> dict:
    """The model settings of `given` that are `spec`'s own: another model's setting must not enter this model's key,
    and a setting of no model being trained is refused (it would change a key and nothing else)."""
    from mnistlab.models.registry import model_settings

    owners = {stored: owner.name for stored, owner, _ in model_settings()}
    for stored, value in given.items():
        if owners.get(stored) not in specs:
            raise ConfigError(f"--{stored.replace('_', '-')} {value}: a setting of the model {owners.get(stored)}, "
                              f"which is not in --models ({' '.join(specs)}); add it or drop the flag")
    return {stored: value for stored, value in given.items() if owners[stored] == spec.name}
