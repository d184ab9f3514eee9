"""User models: `path/to/file.py:attr`, `package.module:attr` and the entry-point group `mnistlab.models`.

`attr` is an nn.Module subclass or a function returning one, called with `num_classes` and `input_shape`
only where its signature accepts them. Resolving one imports it, builds it once and checks it on a batch
of two zero images (one line, ConfigError, for everything that can go wrong), and gives a ModelSpec whose
source_sha256 (the file's bytes; for a module, its file's) enters the key of every run of it.
"""
from __future__ import annotations

import copy
import inspect
import os
import re
import sys
from importlib.metadata import EntryPoint

import torch
import torch.nn as nn

from mnistlab.errors import ConfigError
from mnistlab.models.spec import ModelSpec, input_shape, num_classes
from mnistlab.usercode import (
    MODULE_NAME,
    attribute,
    canonical,
    import_file,
    import_module,
    is_file,
    module_file,
    sha256_of,
    user_code,
)

NUM_CLASSES = 10  # a model is probed with MNIST's shapes when it is resolved, before a dataset is chosen
INPUT_SHAPE = (1, 28, 28)
GROUP = "mnistlab.models"
_entry_points_cache: dict[tuple, dict[str, EntryPoint]] = {}


def check_recorded(name: str, digest: str) -> None:
    """Before a model named by a folder is imported: its source must be the file whose SHA-256 was recorded.

    A folder from elsewhere is data: nothing it names runs unless it is the very code the run was made with."""
    where = name.rpartition(":")[0]
    if is_file(where):
        if not (os.path.isabs(where) or re.match(r"[A-Za-z]:[\\/]", where)):
            raise ConfigError(f"model {name!r}: a recorded model file must be an absolute path; it is not imported")
        path: str | None = where
    else:
        path = module_file(where) if MODULE_NAME.match(where) else None
        if path is None:
            raise ConfigError(f"model {name!r}: no module {where!r} is installed; it is not imported")
    if not (isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest)):
        raise ConfigError(f"model {name!r}: no SHA-256 of its source is recorded, so it is not imported; rerun it "
                          "with `mnistlab run --models ...`")
    try:
        actual = sha256_of(str(path))
    except OSError as e:
        raise ConfigError(f"model {name!r}: cannot read {path} ({e.strerror or e}); it is not imported") from None
    if actual != digest:
        raise ConfigError(f"model {name}: {path} changed since the run was set up (sha256 {actual[:12]}..., the "
                          f"run's {digest[:12]}...); it is not imported: restore that version or start a new run")


def entry_points() -> dict[str, EntryPoint]:
    """The installed packages' models by name (the first of equal names), loaded only when asked for."""
    key = tuple(sys.path)
    if key not in _entry_points_cache:
        from importlib.metadata import entry_points as installed

        found: dict[str, EntryPoint] = {}
        for ep in installed(group=GROUP):
            found.setdefault(ep.name, ep)
        _entry_points_cache.clear()
        _entry_points_cache[key] = found
    return _entry_points_cache[key]


def resolve(name: str, reload: bool = False) -> ModelSpec:
    """The ModelSpec of `path/to/file.py:attr` or `package.module:attr`, checked; registered by the registry."""
    key = canonical(name)
    where, _, attr = key.rpartition(":")
    if is_file(where):
        module = import_file(name, where, reload)
        source, source_file = where, where
    else:
        module = import_module(name, where, reload)
        source, source_file = where, getattr(module, "__file__", None) or ""
    return from_object(name, key, attribute(name, module, attr, where), source, source_file)


def from_entry_point(ep: EntryPoint, reload: bool = False) -> ModelSpec:
    """The ModelSpec of an installed package's model (entry-point group `mnistlab.models`)."""
    module_name, _, attr = ep.value.partition(":")
    what = f"{ep.name} (entry point {ep.value})"
    module = import_module(what, module_name.strip(), reload)
    obj = attribute(what, module, attr.strip(), module_name) if attr.strip() else module
    dist = f" from {ep.dist.name} {ep.dist.version}" if ep.dist is not None else ""
    return from_object(what, ep.name, obj, f"entry point {ep.value}{dist}", getattr(module, "__file__", None) or "")


def _call(obj, classes: int = NUM_CLASSES, shape: tuple = INPUT_SHAPE):
    """obj(**the keyword arguments its signature accepts among num_classes and input_shape)."""
    offered = {"num_classes": classes, "input_shape": shape}
    if inspect.isclass(obj) and obj.__init__ is nn.Module.__init__:  # its **kwargs accept nothing
        return obj()
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):  # no signature to read (a builtin): called bare
        return obj()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return obj(**offered)
    return obj(**{k: v for k, v in offered.items() if k in params})


def from_object(spec_name: str, name: str, obj, source: str, source_file: str) -> ModelSpec:
    """A checked ModelSpec for an nn.Module class or a function returning one."""
    if inspect.isclass(obj) and not issubclass(obj, nn.Module):
        raise ConfigError(f"--models {spec_name}: {obj.__name__} is a class but not a torch.nn.Module subclass")
    if not callable(obj) or isinstance(obj, nn.Module):
        raise ConfigError(f"--models {spec_name}: not an nn.Module class or a function returning one (it is of type "
                          f"{type(obj).__name__})")

    def builder(cfg=None) -> nn.Module:
        model = _call(obj) if cfg is None else _call(obj, num_classes(cfg), input_shape(cfg))
        if not isinstance(model, nn.Module):
            raise ConfigError(f"--models {spec_name}: {getattr(obj, '__name__', 'it')}() returned an object of type "
                              f"{type(model).__name__}, not an nn.Module")
        return model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        with user_code(f"--models {spec_name}: building it failed"):
            model = builder()
        check_output(spec_name, model)
        stackable = getattr(obj, "stackable", None)
        if not isinstance(stackable, bool):
            stackable = vmaps(builder)
    label = getattr(obj, "label", None)
    if not (isinstance(label, str) and label):
        label = str(getattr(obj, "__name__", name))
    digest = sha256_of(source_file) if source_file else ""
    return ModelSpec(name=name, label=label, builder=builder, source=source, stackable=stackable,
                     source_file=source_file, source_sha256=digest)


def check_output(spec_name: str, model: nn.Module) -> None:
    """One batch of two zero images must give (2, 10) float logits, and something must be trainable."""
    expected = (2, NUM_CLASSES)
    if not any(p.requires_grad for p in model.parameters()):
        raise ConfigError(f"--models {spec_name}: has no trainable parameters")
    was_training = model.training
    try:
        with user_code(f"--models {spec_name}: forward pass on a batch of 2 images of shape {INPUT_SHAPE} failed"), \
                torch.no_grad():
            out = model.eval()(torch.zeros(2, *INPUT_SHAPE))
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise ConfigError(f"--models {spec_name}: output of type {type(out).__name__}, expected {expected} logits")
    if tuple(out.shape) != expected:
        raise ConfigError(f"--models {spec_name}: output shape {tuple(out.shape)}, expected {expected} logits")
    if not out.is_floating_point():
        raise ConfigError(f"--models {spec_name}: output dtype {out.dtype}, expected floating-point logits")


def vmaps(builder) -> bool:
    """Whether two copies train as one torch.func stack (as the stacked trainer runs them): tried, forward and
    backward, on two zero images; any failure means the model trains alone."""
    from torch.func import functional_call, stack_module_state, vmap

    try:
        models = [builder(), builder()]
        params, buffers = stack_module_state(models)
        skeleton = copy.deepcopy(models[0]).to("meta")
        forward = vmap(lambda p, b, x: functional_call(skeleton, (p, b), (x,)))
        out = forward(params, buffers, torch.zeros(2, 2, *INPUT_SHAPE))
        out.float().sum().backward()
        return tuple(out.shape) == (2, 2, NUM_CLASSES)
    except Exception:  # noqa: BLE001 - whatever vmap cannot do, the solo trainer can
        return False
