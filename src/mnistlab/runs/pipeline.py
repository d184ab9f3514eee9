"""One run end to end: config -> data on device -> model -> fit -> evaluate -> ModelResult."""
from __future__ import annotations

import math
import platform
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from mnistlab import __version__
from mnistlab.config import RunConfig, class_counts
from mnistlab.data.corrupt import fixed_shift, make_augment, salt_and_pepper
from mnistlab.data.mnist import Mnist, balanced_subset, normalize, split_train_val, to_float
from mnistlab.kernels import fused
from mnistlab.models.notebook import build_model, count_params
from mnistlab.training.solo import evaluate, fit


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from mnistlab.config import ConfigError
        raise ConfigError("--device cuda: no CUDA device is available here; use --device cpu or auto")
    return torch.device(name)


def environment(device: torch.device) -> dict:
    """Library versions and the device, recorded beside every result."""
    import sklearn

    env = {"mnistlab": __version__, "python": sys.version.split()[0], "torch": torch.__version__,
           "numpy": np.__version__, "scikit-learn": sklearn.__version__, "platform": platform.platform(),
           "device": str(device), "threads": torch.get_num_threads(),
           # the CPU kernels of mnistlab.fused: 'fused', or why torch's ops ran instead
           "fused_kernels": fused.status() if device.type == "cpu" else f"not used on {device.type}"}
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


class DeviceData:
    """MNIST's test set resident on the device, and per-config train/val subsets cut from it."""

    def __init__(self, mnist: Mnist, device: torch.device):
        self.mnist, self.device = mnist, device
        self.test_raw = to_float(mnist.test_images).to(device)
        self.test_x = normalize(self.test_raw)
        self.test_y = mnist.test_labels.to(device)
        self._labels_np = mnist.train_labels.numpy()

    def split(self, cfg: RunConfig):
        """(train_x raw in [0,1], train_y, val_x normalized, val_y, train indices) for a config."""
        counts = class_counts(cfg)
        chosen = balanced_subset(self._labels_np, counts, cfg.seed)
        train_idx, val_idx = split_train_val(chosen, self._labels_np, cfg.val_split, cfg.seed,
                                             stratified=bool(cfg.imbalance))
        images, labels = self.mnist.train_images, self.mnist.train_labels
        as_t = torch.from_numpy
        train_x = to_float(images[as_t(train_idx)]).to(self.device)
        val_x = normalize(to_float(images[as_t(val_idx)])).to(self.device)
        return (train_x, labels[as_t(train_idx)].to(self.device), val_x,
                labels[as_t(val_idx)].to(self.device), train_idx)


@dataclass
class ModelResult:
    """Everything measured for one model's run (JSON-ready)."""

    model: str
    key: str
    config: dict
    status: str                      # done | diverged
    message: str
    params: int
    history: dict
    best_epoch: int
    epochs_run: int
    best_val_loss: float
    final_val_acc: float             # the notebook's column: val acc at the last epoch run
    best_val_acc: float
    gap_at_best: float               # train acc - val acc at the best epoch
    test_loss: float
    test_acc: float
    balanced_acc: float
    macro_f1: float
    confusion: list
    report: dict
    report_text: str
    train_counts: list
    robustness: dict = field(default_factory=dict)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def _class_weights(train_y: torch.Tensor) -> torch.Tensor:
    counts = torch.bincount(train_y, minlength=10).float()
    return counts.sum() / (10 * counts.clamp(min=1))


def train_model(cfg: RunConfig, data: DeviceData, on_epoch=None):
    """Fit the model `cfg` describes; return (model with its best weights, FitResult, train labels)."""
    train_x, train_y, val_x, val_y, _ = data.split(cfg)
    model = build_model(cfg).to(data.device)
    weights = _class_weights(train_y) if cfg.remedy == "weighted" else None
    sample_weights = _class_weights(train_y)[train_y] if cfg.remedy == "oversample" else None
    fitted = fit(model, train_x, train_y, val_x, val_y, epochs=cfg.epochs, patience=cfg.patience,
                 min_delta=cfg.min_delta, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
                 precision=cfg.precision, augment=make_augment(cfg.noise, cfg.shift, cfg.scale),
                 class_weights=weights, sample_weights=sample_weights, on_epoch=on_epoch)
    return model, fitted, train_y


def train_one(cfg: RunConfig, data: DeviceData, on_epoch=None) -> tuple[ModelResult, torch.nn.Module]:
    """Train and evaluate the model `cfg` describes; return its result and the trained model."""
    model, fitted, train_y = train_model(cfg, data, on_epoch)
    return finish(cfg, data, model, fitted, train_y), model


def finish(cfg: RunConfig, data: DeviceData, model: torch.nn.Module, fitted, train_y: torch.Tensor) -> ModelResult:
    """Evaluate a trained model on the test set (clean and corrupted) and gather its ModelResult."""
    from sklearn.metrics import balanced_accuracy_score, classification_report, confusion_matrix, f1_score

    device = data.device
    start = time.perf_counter()
    test_loss, test_acc, preds = evaluate(model, data.test_x, data.test_y, cfg.precision)
    robustness = {"noise": {}, "shift": {}}
    for kind, levels, corrupt in (("noise", cfg.eval_noise, salt_and_pepper), ("shift", cfg.eval_shift, fixed_shift)):
        for level in levels:
            # The same corrupted test set for every model and seed: seeded by the level alone.
            gen = torch.Generator(device=device).manual_seed(int(level * 1000) + 7)
            x = normalize(corrupt(data.test_raw, level, gen))
            robustness[kind][str(level)] = evaluate(model, x, data.test_y, cfg.precision)[1]
    eval_seconds = time.perf_counter() - start

    y_true, y_pred = data.test_y.cpu().numpy(), preds.cpu().numpy()
    h = fitted.history
    best = max(fitted.best_epoch, 1) - 1
    return ModelResult(
        model=cfg.model, key=cfg.key(data.mnist.checksums), config=cfg.to_dict(),
        status="diverged" if fitted.diverged else "done", message=fitted.message,
        params=count_params(model), history=h, best_epoch=fitted.best_epoch, epochs_run=fitted.epochs_run,
        best_val_loss=min((v for v in h["val_loss"] if math.isfinite(v)), default=float("nan")),
        final_val_acc=h["val_acc"][-1], best_val_acc=h["val_acc"][best],
        gap_at_best=h["train_acc"][best] - h["val_acc"][best], test_loss=test_loss, test_acc=test_acc,
        balanced_acc=float(balanced_accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, average="macro")),
        confusion=confusion_matrix(y_true, y_pred, labels=list(range(10))).tolist(),
        report=classification_report(y_true, y_pred, digits=4, output_dict=True, zero_division=0),
        report_text=classification_report(y_true, y_pred, digits=4, zero_division=0),
        train_counts=torch.bincount(train_y, minlength=10).tolist(),
        robustness=robustness, train_seconds=fitted.train_seconds, eval_seconds=eval_seconds,
    )
