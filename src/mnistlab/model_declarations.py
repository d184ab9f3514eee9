"""mnistlab's own models as the command line sees them, without torch: name, label, source and settings.

The model files register exactly these (`register_model(name, **declared(name), ...)`), one declaration each;
the CLI builds the models' flags from here, so `mnistlab run --help` does not import torch. A model registered
in Python (the registry, models.registry) adds its own flags once the registry is imported. It lies beside
config.py, below the models package, whose import registers every model (and imports torch).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Setting:
    """One of a model's own settings (an integer): its default, what it means, its range. A model `mlp` declaring
    `hidden` is set by `--mlp-hidden` and stored as `mlp_hidden`."""

    default: int
    help: str
    low: int = 1
    high: int = 65_536

    @property
    def allowed(self) -> str:
        return f"an integer from {self.low} to {self.high}"

    def accepts(self, value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high


@dataclass(frozen=True)
class Declaration:
    label: str
    source: str
    settings: dict[str, Setting] = field(default_factory=dict)  # short name ("hidden") -> its declaration


# In registration order: the notebook's two first.
BUILTIN = {
    "mlp": Declaration("MLP", "the notebook (784-256-256-10)", {"hidden": Setting(256, "MLP hidden width")}),
    "cnn": Declaration("CNN", "the notebook (SmallCNN: conv 16, conv 32, fc 128)",
                       {"c1": Setting(16, "CNN conv1 channels"), "c2": Setting(32, "CNN conv2 channels"),
                        "fc": Setting(128, "CNN hidden fc width")}),
    "logreg": Declaration("LogReg", "reference: linear softmax baseline (Flatten + Linear 784-10)"),
    "lenet5": Declaration("LeNet-5", "reference: LeNet-5 (LeCun et al. 1998), padded for 28x28"),
}


def declared(name: str) -> dict:
    """A built-in model's declaration as register_model's keyword arguments."""
    d = BUILTIN[name]
    return {"label": d.label, "source": d.source, "settings": d.settings}


def stored_name(model: str, short: str) -> str:
    """A setting's name in configs and stores (and, dashed, its flag): mlp + hidden -> mlp_hidden."""
    return f"{model.replace('-', '_')}_{short}"


def declared_settings() -> list[tuple[str, str, Setting]]:
    """(stored name, model, declaration) of every built-in model's settings, in registration order."""
    return [(stored_name(model, short), model, setting) for model, d in BUILTIN.items()
            for short, setting in d.settings.items()]
