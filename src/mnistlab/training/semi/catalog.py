"""Every semi-supervised method by name: mnistlab's own (one module each, imported here so they register) and a
user's own, `path/to/file.py:attr` or `package.module:attr`, resolved with the same import rules as user models;
its file's SHA-256 enters the key of every run of it."""
from __future__ import annotations

import torch

import mnistlab.usercode as usercode
from mnistlab.errors import ConfigError
from mnistlab.registry import load_folder
from mnistlab.training.semi.registry import METHODS, MethodSpec, SemiBatch, declared, is_number

FLAG = "--semi-method"
load_folder("mnistlab.training.semi.methods")


def list_methods() -> list[str]:
    return METHODS.names()


def get_method(name: str) -> MethodSpec:
    """The spec of a method name or `file.py:attr` / `module:attr`, or a one-line ConfigError."""
    return METHODS.get(name)


def _resolve(name: str, key: str, reload: bool) -> MethodSpec:
    """A user's method: a function (batch, settings) -> (loss, stats), with optional `label` and `settings`."""
    where, _, attr = key.rpartition(":")
    fn, source_file = usercode.load_function(name, key, reload, FLAG)
    settings = getattr(fn, "settings", {})
    if not (isinstance(settings, dict) and all(isinstance(k, str) and is_number(v) for k, v in settings.items())):
        raise ConfigError(f"{FLAG} {name}: its `settings` must be a dict of names to numbers")
    label = getattr(fn, "label", None)
    label = label if isinstance(label, str) and label else attr
    return MethodSpec(key, label, fn, declared(settings), source=where, source_file=source_file,
                      source_sha256=usercode.sha256_of(source_file) if source_file else "")


def method_step(method: MethodSpec, batch: SemiBatch, settings: dict) -> tuple[torch.Tensor, dict]:
    """One step's (loss, stats) of a method; a user's method is held to the contract, each breach one line (the run
    fails with it, the sweep goes on): what it raises or exits with, and a result that is not (scalar loss, dict)."""
    if method.source == "mnistlab":
        return method.fn(batch, settings)
    what = f"{FLAG} {method.name}"
    with usercode.user_code(f"{what}: step {batch.step} failed"):
        out = method.fn(batch, settings)
    if not (isinstance(out, tuple) and len(out) == 2):
        raise ConfigError(f"{what}: returned {type(out).__name__}, expected a (loss, stats) pair")
    loss, stats = out
    if not (isinstance(loss, torch.Tensor) and loss.dim() == 0 and loss.is_floating_point()):
        shown = tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__
        raise ConfigError(f"{what}: its loss is {shown}, expected a scalar float tensor (the batch's mean)")
    if not loss.requires_grad:
        raise ConfigError(f"{what}: its loss does not depend on the model's parameters (no gradient)")
    if not isinstance(stats, dict):
        raise ConfigError(f"{what}: its stats are {type(stats).__name__}, expected a dict (e.g. {{'mask_rate': ...}})")
    return loss, stats


METHODS.takes_user_code(_resolve)
