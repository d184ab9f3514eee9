"""The notebook's two models, unchanged: MLP (784-256-256-10) and SmallCNN (16/32 conv, fc 128)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from mnistlab.config import RunConfig
from mnistlab.kernels.fused import conv_pool_relu, pool_relu


class MLP(nn.Module):
    def __init__(self, hidden: int = 256, num_classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(  # same layout (and state_dict keys) as the notebook
            nn.Flatten(),
            nn.Linear(28 * 28, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.net(x)

    def features(self, x, layer: str = "penultimate"):
        """Activations before the classifier ('penultimate') or after the first hidden layer ('first')."""
        stop = 3 if layer == "first" else 5
        return self.net[:stop](x)


class SmallCNN(nn.Module):
    def __init__(self, c1: int = 16, c2: int = 32, fc: int = 128, num_classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)  # the notebook's layer (no weights); applied by pool_relu
        self.fc1 = nn.Linear((28 // 4) * (28 // 4) * c2, fc)
        self.fc2 = nn.Linear(fc, num_classes)

    def features(self, x, layer: str = "penultimate"):
        # The notebook's pool(relu(conv(x))) computed as relu(pool(conv(x))): max and relu commute, so the
        # values are identical, and pool_relu does both in one pass (a fused kernel on CPU, see fused.py).
        x = conv_pool_relu(x, self.conv1)  # 28x28 -> 14x14 (conv1 fused in too, on CPU)
        x = pool_relu(self.conv2(x))  # 14x14 -> 7x7
        return F.relu(self.fc1(torch.flatten(x, 1)))

    def forward(self, x):
        return self.fc2(self.features(x))


def build_model(cfg: RunConfig) -> nn.Module:
    """The model a config names, initialised from its seed without touching the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        if cfg.model == "mlp":
            return MLP(hidden=cfg.mlp_hidden)
        return SmallCNN(c1=cfg.cnn_c1, c2=cfg.cnn_c2, fc=cfg.cnn_fc)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def train_flops_per_sample(cfg: RunConfig) -> float:
    """Multiply-adds x2 of one forward pass, x3 for forward + backward (the usual estimate)."""
    if cfg.model == "mlp":
        h = cfg.mlp_hidden
        forward = 784 * h + h * h + h * 10
    else:
        c1, c2, fc = cfg.cnn_c1, cfg.cnn_c2, cfg.cnn_fc
        forward = 28 * 28 * c1 * 9 + 14 * 14 * c2 * c1 * 9 + 49 * c2 * fc + fc * 10
    return 3 * 2 * forward
