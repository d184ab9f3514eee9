"""The notebook's two models, unchanged: MLP (784-256-256-10) and SmallCNN (16/32 conv, fc 128)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from mnistlab.config import RunConfig
from mnistlab.kernels.fused import conv_pool_relu, pool_relu
from mnistlab.model_declarations import declared
from mnistlab.models.registry import register_model
from mnistlab.models.spec import num_classes


class MLP(nn.Module):
    def __init__(self, hidden: int = 256, num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        self.dropout = dropout  # before each hidden Linear while training; no parameter, no state_dict key
        self.net = nn.Sequential(  # same layout (and state_dict keys) as the notebook
            nn.Flatten(),
            nn.Linear(28 * 28, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        if not (self.dropout and self.training):
            return self.net(x)
        net, p = self.net, self.dropout
        x = net[2](net[1](net[0](x)))
        x = net[4](net[3](F.dropout(x, p, training=True)))
        return net[5](F.dropout(x, p, training=True))


class SmallCNN(nn.Module):
    def __init__(self, c1: int = 16, c2: int = 32, fc: int = 128, num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        self.dropout = dropout  # before each Linear while training; no parameter, no state_dict key
        self.conv1 = nn.Conv2d(1, c1, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(c1, c2, kernel_size=3, padding=1)
        self.fc1 = nn.Linear((28 // 4) * (28 // 4) * c2, fc)
        self.fc2 = nn.Linear(fc, num_classes)

    def forward(self, x):
        # The notebook's pool(relu(conv(x))) computed as relu(pool(conv(x))): max and relu commute, so the
        # values are identical, and pool_relu does both in one pass (a fused kernel on CPU, see kernels/).
        x = conv_pool_relu(x, self.conv1)  # 28x28 -> 14x14 (conv1 fused in too, on CPU)
        x = pool_relu(self.conv2(x))  # 14x14 -> 7x7
        x = torch.flatten(x, 1)
        if self.dropout and self.training:
            x = F.relu(self.fc1(F.dropout(x, self.dropout, training=True)))
            return self.fc2(F.dropout(x, self.dropout, training=True))
        return self.fc2(F.relu(self.fc1(x)))


def _mlp_flops(hidden: int) -> float:
    return 3 * 2 * (784 * hidden + hidden * hidden + hidden * 10)


def _cnn_flops(c1: int, c2: int, fc: int) -> float:
    return 3 * 2 * (28 * 28 * c1 * 9 + 14 * 14 * c2 * c1 * 9 + 49 * c2 * fc + fc * 10)


@register_model("mlp", **declared("mlp"), flops_per_sample=_mlp_flops,
                feature_layers={"first": lambda m: m.net[2]})  # after the first hidden layer, as the notebook's t-SNE
def mlp(cfg: RunConfig, hidden: int) -> nn.Module:
    return MLP(hidden=hidden, num_classes=num_classes(cfg), dropout=cfg.dropout)


@register_model("cnn", **declared("cnn"), flops_per_sample=_cnn_flops)
def cnn(cfg: RunConfig, c1: int, c2: int, fc: int) -> nn.Module:
    return SmallCNN(c1=c1, c2=c2, fc=fc, num_classes=num_classes(cfg), dropout=cfg.dropout)
