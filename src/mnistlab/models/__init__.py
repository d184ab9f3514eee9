"""Models: the registry (register_model / get_model / list_models) and the architectures it knows.

Importing any module of this package first runs this file, which imports the model files below: each
registers its models, so the registry is complete whichever module a caller imports.
"""
from mnistlab.models.notebook import MLP, SmallCNN
from mnistlab.models.reference import LeNet5, LogReg
from mnistlab.models.registry import (
    ModelSpec,
    Setting,
    build_model,
    count_params,
    get_model,
    get_spec,
    label_of,
    list_models,
    model_order,
    register_model,
    train_flops_per_sample,
)

__all__ = ["MLP", "SmallCNN", "LeNet5", "LogReg", "ModelSpec", "Setting", "build_model", "count_params", "get_model",
           "get_spec", "label_of", "list_models", "model_order", "register_model", "train_flops_per_sample"]
