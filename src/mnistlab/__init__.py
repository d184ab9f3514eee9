"""mnistlab: how do an MLP and a CNN compare on MNIST as the training data shrinks?

The Python API in a few names (see README "Python API"):
    from mnistlab import RunConfig, run, sweep_runs, explain_models, make_report, load_results
    results = run(RunConfig(model="cnn", samples_per_class=100), out="runs/cnn100")
    summary = sweep_runs("runs/small", budgets=[25, 50], seeds=range(3), epochs=10)
"""
from mnistlab.api import explain_models, load_results, make_report, run, sweep_runs
from mnistlab.config import RunConfig
from mnistlab.data.mnist import load_mnist
from mnistlab.version import __version__

__all__ = ["RunConfig", "load_mnist", "run", "sweep_runs", "explain_models", "make_report", "load_results",
           "__version__"]
