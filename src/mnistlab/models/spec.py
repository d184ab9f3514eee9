"""What the rest of mnistlab knows about a model: its ModelSpec (label, builder, settings, layers to look inside)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from mnistlab.config import RunConfig
from mnistlab.data.registry import get_dataset
from mnistlab.model_declarations import Setting, stored_name


def num_classes(cfg: RunConfig) -> int:
    """The classes of the dataset a config names: the size of a model's output layer."""
    return get_dataset(cfg.dataset).num_classes


def input_shape(cfg: RunConfig) -> tuple[int, int, int]:
    """One image of the dataset a config names, as a model reads it: (channels, height, width)."""
    return get_dataset(cfg.dataset).input_shape


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
    builder: Callable[..., nn.Module]  # builder(cfg, **settings) with the settings by their short names
    source: str = "mnistlab"
    settings: dict[str, Setting] = field(default_factory=dict)  # short name ("hidden") -> its declaration
    # t-SNE features: the input of this layer (default: the last Linear, i.e. the classifier's input).
    embedding_layer: Callable[[nn.Module], nn.Module | None] = field(default=last_of(nn.Linear))
    # Extra named feature layers a user may ask for (e.g. the MLP's first hidden layer, as the notebook does).
    feature_layers: dict[str, Callable[[nn.Module], nn.Module]] = field(default_factory=dict)
    # Grad-CAM attributes to this layer's output; None means gradient saliency instead.
    attribution_layer: Callable[[nn.Module], nn.Module | None] = field(default=last_of(nn.Conv2d))
    # Multiply-adds x2 of one forward pass x3 (forward + backward), from the settings; None if unknown.
    flops_per_sample: Callable[..., float] | None = None
    stackable: bool = True  # can be trained K at a time with torch.func (pure functional forward)
    # User models only: the file their code comes from and its SHA-256 (part of every run's key).
    source_file: str = ""
    source_sha256: str = ""

    def stored_name(self, short: str) -> str:
        """A setting's name in configs and stores (and, dashed, its flag): mlp + hidden -> mlp_hidden."""
        return stored_name(self.name, short)

    def args(self, cfg: RunConfig) -> dict:
        """This model's settings in `cfg` by their short names, each at its default unless set."""
        return {short: cfg.model_arg(self.stored_name(short), s.default) for short, s in self.settings.items()}

    def construct(self, cfg: RunConfig) -> nn.Module:
        """The model `cfg` describes, from the current random state (the meta device's sizing uses this)."""
        return self.builder(cfg, **self.args(cfg))

    def build(self, cfg: RunConfig) -> nn.Module:
        """The model `cfg` describes, initialised from cfg.seed without touching the global RNG."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            return self.construct(cfg)
