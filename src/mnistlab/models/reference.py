"""Reference models beside the notebook's two: the linear floor (logreg) and the classic digit CNN (lenet5)."""
from __future__ import annotations

import torch.nn as nn

from mnistlab.config import RunConfig
from mnistlab.model_declarations import declared
from mnistlab.models.registry import register_model
from mnistlab.models.spec import num_classes


class LogReg(nn.Module):
    """Multinomial logistic regression: one linear map from the 784 pixels to the 10 logits (7,850 parameters).

    Softmax is in the loss (cross-entropy), as for every model here. The floor any comparison needs."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, num_classes))

    def forward(self, x):
        return self.net(x)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun, Bottou, Bengio and Haffner, 1998) in the variant common PyTorch versions use for 28x28.

    The paper's network reads 32x32 images; here the first convolution pads by 2 instead, so its maps are
    28x28 as there. Kept from the paper: 6 then 16 maps of 5x5 convolutions, each followed by tanh and 2x2
    average pooling, then fully connected 120, 84 and 10 with tanh between. Simplified, as those versions do:
    C3 connects every map (not the paper's partial table), pooling has no trainable coefficients, and the
    output is a linear layer rather than Gaussian RBF units. 61,706 parameters.
    """

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Tanh(), nn.AvgPool2d(2),  # 28x28 -> 14x14
            nn.Conv2d(6, 16, kernel_size=5), nn.Tanh(), nn.AvgPool2d(2),  # 10x10 -> 5x5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.Tanh(),
            nn.Linear(120, 84), nn.Tanh(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def _logreg_flops() -> float:
    return 3 * 2 * 784 * 10


def _lenet5_flops() -> float:
    return 3 * 2 * (28 * 28 * 6 * 25 + 10 * 10 * 16 * 6 * 25 + 400 * 120 + 120 * 84 + 84 * 10)


@register_model("logreg", **declared("logreg"), flops_per_sample=_logreg_flops)
def logreg(cfg: RunConfig) -> nn.Module:
    return LogReg(num_classes=num_classes(cfg))


@register_model("lenet5", **declared("lenet5"), flops_per_sample=_lenet5_flops)
def lenet5(cfg: RunConfig) -> nn.Module:
    return LeNet5(num_classes=num_classes(cfg))
