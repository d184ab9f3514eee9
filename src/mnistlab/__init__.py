"""mnistlab: how do an MLP and a CNN compare on MNIST as the training data shrinks?

The Python API in a few names (see README "Python API"):
    from mnistlab import RunConfig, load_mnist, run
    results = run(RunConfig(model="cnn", samples_per_class=100), out="runs/cnn100")
"""
__version__ = "0.1.0"

from .api import load_results, run  # noqa: E402
from .config import RunConfig  # noqa: E402
from .data import load_mnist  # noqa: E402

__all__ = ["RunConfig", "load_mnist", "run", "load_results", "__version__"]
