"""Models: the registry (register_model / get_model / list_models) and the architectures it knows."""
from mnistlab.models.notebook import MLP, SmallCNN, build_model, count_params, train_flops_per_sample

__all__ = ["MLP", "SmallCNN", "build_model", "count_params", "train_flops_per_sample"]
