"""The model registry, in torchvision's style: one declaration per model, and every consumer asks here.

    @register_model("mlp", label="MLP", source="the notebook", settings={"hidden": Setting(256, "hidden width")})
    def mlp(cfg, hidden): return MLP(hidden=hidden)

    get_model("mlp", hidden=128)       # an nn.Module, seeded from the config's seed (`--mlp-hidden 128` on the CLI)
    list_models()                      # ['mlp', 'cnn', ...] in registration order
    get_spec("nets/my.py:Net")         # a user model (models.user), registered on first use

Besides registered names, get_spec takes `path/to/file.py:attr`, `package.module:attr` and the names of
the entry-point group `mnistlab.models`; it resolves them once and registers them under their name.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import torch.nn as nn

import mnistlab.models.user as user
import mnistlab.usercode as usercode
from mnistlab.config import MODEL_ARG_NAME, V1_MODEL_ARGS, RunConfig, near_field
from mnistlab.errors import ConfigError
from mnistlab.model_declarations import Setting  # noqa: F401 - part of the registry's API
from mnistlab.models.spec import ModelSpec, last_of  # noqa: F401 - part of the registry's API

_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, label: str | None = None, **spec_fields) -> Callable:
    """Decorator: register `builder(cfg, **settings) -> nn.Module` under `name` (settings: short name -> Setting)."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        spec = ModelSpec(name=name, label=label or name.upper(), builder=builder, **spec_fields)
        taken = {stored for other in _REGISTRY.values() for stored in map(other.stored_name, other.settings)}
        for short, setting in spec.settings.items():
            stored = spec.stored_name(short)
            if stored in taken:
                raise ValueError(f"model {name!r}: setting {stored!r} is another model's")
            if not MODEL_ARG_NAME.match(stored):
                raise ValueError(f"model {name!r}: setting {stored!r} must be lowercase letters, digits and _")
            if V1_MODEL_ARGS.get(stored, setting.default) != setting.default:  # configs at these carry none
                raise ValueError(f"model {name!r}: {stored} must keep its first default, {V1_MODEL_ARGS[stored]}")
        _REGISTRY[name] = spec
        return builder

    return wrap


def unregister_model(name: str) -> None:
    """Forget a model (tests register temporary ones)."""
    _REGISTRY.pop(name, None)


def list_models() -> list[str]:
    """Registered names (the notebook's first), then models of installed packages' entry points."""
    return list(_REGISTRY) + [name for name in user.entry_points() if name not in _REGISTRY]


def resolved_spec(name: str) -> ModelSpec | None:
    """The spec of a model already registered or resolved in this process, or None; never imports anything."""
    return _REGISTRY.get(usercode.canonical(name))


def get_spec(name: str) -> ModelSpec:
    """The spec of a model name or user-model spec, or a one-line ConfigError saying what is wrong.

    A user model is re-read when its file changed since it was resolved, so its hash is always the file's."""
    key = usercode.canonical(name)
    spec = _REGISTRY.get(key)
    if spec is not None and not (spec.source_file and usercode.changed(spec)):
        return spec
    reload = spec is not None  # its file changed: import it afresh
    points = user.entry_points()
    if key in points:
        spec = user.from_entry_point(points[key], reload=reload)
    elif usercode.is_spec(key):
        spec = user.resolve(name, reload=reload)
    else:
        raise ConfigError(f"--models {name!r}: unknown model; choose from {', '.join(list_models())}, or give "
                          "path/to/file.py:Class or package.module:Class") from None
    _REGISTRY[key] = spec
    return spec


def model_settings() -> list[tuple[str, ModelSpec, Setting]]:
    """(stored name, model, declaration) of every registered model's settings, in registration order."""
    return [(spec.stored_name(short), spec, setting) for spec in _REGISTRY.values()
            for short, setting in spec.settings.items()]


def check_model_args(cfg: RunConfig, unregistered_ok: bool = False) -> RunConfig:
    """A config whose model settings are each a registered model's and in its range, those at their default
    dropped (so they never enter a key); a one-line ConfigError naming the flag otherwise. unregistered_ok: a
    setting no model of this process declares passes (a stored sweep may name a model registered in the user's
    own code; its jobs check it when they are made)."""
    from mnistlab.config import flag_of

    declared = {stored: setting for stored, _, setting in model_settings()}
    for name, value in cfg.model_args:
        if name not in declared and unregistered_ok:
            continue
        if name not in declared:
            raise ConfigError(f"{name!r}: neither a config field{near_field(name)} nor a registered model's setting "
                              f"({', '.join(declared) or 'none'})")
        if not declared[name].accepts(value):
            raise ConfigError(f"{flag_of(name)} {value}: must be {declared[name].allowed}")
    return cfg.with_(model_args=_without_defaults(cfg.model_args))


def _without_defaults(args) -> tuple:
    """Model settings without those at their model's default: equal settings, equal configs (and keys)."""
    defaults = {stored: setting.default for stored, _, setting in model_settings()}
    pairs = args.items() if isinstance(args, dict) else args
    return tuple((name, value) for name, value in pairs if defaults.get(name, ...) != value)


def config_of(**values) -> RunConfig:
    """A RunConfig from field values and model settings by their stored names (mlp_hidden=128), the settings at
    their default left out."""
    from dataclasses import fields

    try:
        given = dict(values.pop("model_args", ()))
    except (TypeError, ValueError):
        raise ConfigError("model_args: give a mapping of settings, e.g. {'mlp_hidden': 128}") from None
    names = {f.name for f in fields(RunConfig)}
    given.update({k: values.pop(k) for k in list(values) if k not in names})
    return RunConfig(**values, model_args=_without_defaults(given))


def get_model(name: str, **config) -> nn.Module:
    """The model `name` built from these config fields and settings (short or stored names), the rest at defaults."""
    spec = get_spec(name)
    config = {spec.stored_name(k) if k in spec.settings else k: v for k, v in config.items()}
    return build_model(check_model_args(config_of(**config, model=name)))


def build_model(cfg: RunConfig) -> nn.Module:
    """The model a config names, initialised from its seed; a user model must still be the code the run used."""
    spec = get_spec(cfg.model)
    usercode.check_recorded(f"model {cfg.model}", spec, cfg.model_source)
    return spec.build(cfg)


def label_of(name: str) -> str:
    """A model's display label, without importing anything: a name a folder recorded must never run code.

    A model resolved in this process (built-ins, models given on the command line) has its own label; any
    other name shows its attribute name (a spec) or its capitals."""
    spec = _REGISTRY.get(usercode.canonical(name))
    if spec is not None:
        return spec.label
    if usercode.is_spec(name):
        return name.rpartition(":")[2]
    return name.upper()


_SAFE_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


def file_stem(name: str) -> str:
    """The model's part of a file name in a run folder: its name when that is safe, else a readable tail of a
    user-model spec plus a hash of the whole spec (paths hold separators and colons)."""
    if _SAFE_STEM.match(name):
        return name
    tail = re.split(r"[\\/]", name)[-1]
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", tail).strip("_")[:48] or "model"
    return f"{readable}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def is_model_name(name: str) -> bool:
    """Whether `name` names a model get_spec may resolve (without resolving it)."""
    return name in list_models() or usercode.is_spec(name)


def model_order(names) -> list[str]:
    """Names in registration order (the notebook's MLP first), unknown ones after, alphabetically."""
    known = list_models()
    return sorted(set(names), key=lambda n: (known.index(n) if n in known else len(known), n))


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_flops_per_sample(cfg: RunConfig) -> float:
    """FLOPs of one training sample (forward + backward) of the model a config names, for benchmarks."""
    spec = get_spec(cfg.model)
    if spec.flops_per_sample is None:
        raise ConfigError(f"model {cfg.model!r} declares no FLOP count")
    return spec.flops_per_sample(**spec.args(cfg))

