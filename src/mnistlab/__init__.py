"""mnistlab: how do an MLP and a CNN compare on MNIST as the training data shrinks?

The Python API in a few names (see docs/reference/api.md):
    from mnistlab import RunConfig, run, sweep_runs, explain_models, make_report, load_results
    results = run(RunConfig(model="cnn", samples_per_class=100), out="runs/cnn100")
    summary = sweep_runs("runs/small", budgets=[25, 50], seeds=range(3), epochs=10)
"""
from mnistlab.config import RunConfig
from mnistlab.version import __version__

_LAZY = {"run": "mnistlab.api", "sweep_runs": "mnistlab.api", "explain_models": "mnistlab.api",
         "make_report": "mnistlab.api", "load_results": "mnistlab.api", "load_mnist": "mnistlab.data.mnist",
         "load_sweep": "mnistlab.sweeps.frame", "summarize_sweep": "mnistlab.api", "write_results": "mnistlab.api",
         "run_grid": "mnistlab.api", "fetch_data": "mnistlab.api", "model_catalog": "mnistlab.api",
         "method_catalog": "mnistlab.api", "machine_report": "mnistlab.api"}


def __getattr__(name: str):
    """The API's functions, imported on first use: `mnistlab --help` need not import torch (~1 s)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mnistlab' has no attribute {name!r}")

__all__ = ["RunConfig", "load_mnist", "run", "sweep_runs", "explain_models", "make_report", "load_results",
           "load_sweep", "summarize_sweep", "write_results", "run_grid", "fetch_data", "model_catalog",
           "method_catalog", "machine_report", "__version__"]
