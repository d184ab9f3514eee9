"""The model registry, in torchvision's style: one declaration per model, and every consumer asks here.

    @register_model("mlp", label="MLP", source="the notebook")
    def mlp(cfg): return MLP(hidden=cfg.mlp_hidden)

    get_model("mlp", mlp_hidden=128)   # an nn.Module, seeded from the config's seed
    list_models()                      # ['mlp', 'cnn', ...] in registration order
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from mnistlab.config import RunConfig
from mnistlab.errors import ConfigError


def last_of(kind: type[nn.Module]) -> Callable[[nn.Module], nn.Module | None]:
    """A finder for the last submodule of a type (the default embedding and Grad-CAM layers)."""

    def find(model: nn.Module) -> nn.Module | None:
        found = [m for m in model.modules() if isinstance(m, kind)]
        return found[-1] if found else None

    return find


@dataclass(frozen=True)
class ModelSpec:
    """Everything the rest of mnistlab needs to know about one model."""

    name: str
    label: str
    builder: Callable[[RunConfig], nn.Module]
    source: str = "mnistlab"
    # t-SNE features: the input of this layer (default: the last Linear, i.e. the classifier's input).
    embedding_layer: Callable[[nn.Module], nn.Module | None] = field(default=last_of(nn.Linear))
    # Extra named feature layers a user may ask for (e.g. the MLP's first hidden layer, as the notebook does).
    feature_layers: dict[str, Callable[[nn.Module], nn.Module]] = field(default_factory=dict)
    # Grad-CAM attributes to this layer's output; None means gradient saliency instead.
    attribution_layer: Callable[[nn.Module], nn.Module | None] = field(default=last_of(nn.Conv2d))
    # Multiply-adds x2 of one forward pass x3 (forward + backward), for the benchmarks; None if unknown.
    flops_per_sample: Callable[[RunConfig], float] | None = None
    stackable: bool = True  # can be trained K at a time with torch.func (pure functional forward)

    def build(self, cfg: RunConfig) -> nn.Module:
        """The model `cfg` describes, initialised from cfg.seed without touching the global RNG."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            return self.builder(cfg)


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, label: str | None = None, **spec_fields) -> Callable:
    """Decorator: register `builder(cfg) -> nn.Module` under `name`."""

    def wrap(builder: Callable[[RunConfig], nn.Module]) -> Callable[[RunConfig], nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = ModelSpec(name=name, label=label or name.upper(), builder=builder, **spec_fields)
        return builder

    return wrap


def unregister_model(name: str) -> None:
    """Forget a model (tests register temporary ones)."""
    _REGISTRY.pop(name, None)


def list_models() -> list[str]:
    return list(_REGISTRY)


def get_spec(name: str) -> ModelSpec:
    """The spec of a registered model, or a one-line ConfigError listing the registered names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"--models {name!r}: unknown model; choose from {', '.join(_REGISTRY)}") from None


def get_model(name: str, **config) -> nn.Module:
    """The model `name` built from a RunConfig with these fields (the rest at their defaults)."""
    return get_spec(name).build(RunConfig(**{**config, "model": name}))


def build_model(cfg: RunConfig) -> nn.Module:
    """The model a config names, initialised from its seed."""
    return get_spec(cfg.model).build(cfg)


def label_of(name: str) -> str:
    """A model's display label; its name in capitals when it is not registered here."""
    spec = _REGISTRY.get(name)
    return spec.label if spec else name.upper()


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
    return spec.flops_per_sample(cfg)
