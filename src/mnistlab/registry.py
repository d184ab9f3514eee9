"""One registry mechanism: named specs registered once, looked up by name, listed in a stable order.

Every kind of pluggable thing (forecast forms first) keeps its specs in a `Registry`, so a lookup, its error
message, the listing and the reading of a user's own (`file.py:attr`, re-read when its file changes) are written
once. A kind whose members are one file each fills its registry by importing
every module of its folder (`load_folder`): adding a member is adding a file.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import mnistlab.usercode as usercode
from mnistlab.errors import ConfigError

Spec = TypeVar("Spec")
USER_SPEC = "path/to/file.py:function or package.module:function"  # the forms a user's own takes


class Registry(Generic[Spec]):
    """Specs of one kind by name. kind: what the user calls them (in errors); flag: the option that names one."""

    def __init__(self, kind: str, flag: str) -> None:
        self.kind, self.flag = kind, flag
        self._specs: dict[str, Spec] = {}
        self._user: dict[str, Spec] = {}  # a user's own, by canonical spec (read again when its file changes)
        self._resolve: Callable[[str, str, bool], Spec] | None = None

    def register(self, name: str, spec: Spec) -> Spec:
        if name in self._specs:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._specs[name] = spec
        return spec

    def unregister(self, name: str) -> None:
        """Forget a spec (tests register temporary ones)."""
        self._specs.pop(name, None)

    def takes_user_code(self, resolve: Callable[[str, str, bool], Spec]) -> None:
        """Let `get` take a user's `path/to/file.py:attr` or `package.module:attr` too: resolve(name, canonical spec,
        reload) imports it (mnistlab.usercode) and returns its spec, with source_file and source_sha256."""
        self._resolve = resolve

    def get(self, name: str) -> Spec:
        """The spec named `name`, or a user's own resolved once and again whenever its file changed (so its hash is
        always its file's); a one-line ConfigError naming the value and what is allowed otherwise."""
        if isinstance(name, str) and name in self._specs:
            return self._specs[name]
        key = usercode.canonical(name) if isinstance(name, str) else ""
        if self._resolve is None or not usercode.is_spec(key):
            hint = f", or give {USER_SPEC}" if self._resolve is not None else ""
            raise ConfigError(f"{self.flag} {name!r}: unknown {self.kind}; choose from {', '.join(self.names())}"
                              f"{hint}")
        spec = self._user.get(key)
        if spec is None or (bool(getattr(spec, "source_file", "")) and usercode.changed(spec)):
            spec = self._user[key] = self._resolve(name, key, spec is not None)
        return spec

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
