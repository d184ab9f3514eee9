"""One registry mechanism: named specs registered once, looked up by name, listed in a stable order.

Every kind of pluggable thing (forecast forms first) keeps its specs in a `Registry`, so a lookup, its error
message and the listing are written once. A kind whose members are one file each fills its registry by importing
every module of its folder (`load_folder`): adding a member is adding a file.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Generic, TypeVar

from mnistlab.errors import ConfigError

Spec = TypeVar("Spec")


class Registry(Generic[Spec]):
    """Specs of one kind by name. kind: what the user calls them (in errors); flag: the option that names one."""

    def __init__(self, kind: str, flag: str) -> None:
        self.kind, self.flag = kind, flag
        self._specs: dict[str, Spec] = {}

    def register(self, name: str, spec: Spec) -> Spec:
        if name in self._specs:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._specs[name] = spec
        return spec

    def get(self, name: str) -> Spec:
        """The spec named `name`, or a one-line ConfigError naming the value and every known name."""
        try:
            return self._specs[name]
        except (KeyError, TypeError):
            raise ConfigError(f"{self.flag} {name!r}: unknown {self.kind}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return list(self._specs)

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[Spec]:
        return iter(self._specs.values())


def load_folder(package: str) -> None:
    """Import every module of a package's folder, in name order (each registers what it defines)."""
    module = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda m: m.name):
        importlib.import_module(f"{package}.{info.name}")
