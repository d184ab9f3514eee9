"""A user's own code, named `path/to/file.py:attr` or `package.module:attr`: the one owner of how such a name is
read, imported and hashed, for every kind a user brings (models, semi-supervised methods, selection rules).

Whatever the code raises or exits with while it runs under `user_code` is one ConfigError line naming the flag.
On another machine (a Ray worker) the files travel with the task: `ship` keeps a copy and every read here takes it."""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
from contextlib import contextmanager
from pathlib import Path

from mnistlab.errors import ConfigError, MnistlabError

MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_shipped: dict[str, str] = {}  # a path on the driver's machine -> this machine's copy of the bytes it had there


def is_spec(name: str) -> bool:
    """Whether `name` has the form of a user-model spec: a file or module, a colon, a (dotted) attribute."""
    where, _, attr = name.rpartition(":")
    return bool(where) and MODULE_NAME.match(attr) is not None


def is_file(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def canonical(name: str) -> str:
    """The name a model is registered and stored under: a file spec with its absolute path, else `name`."""
    where, _, attr = name.rpartition(":")
    if not (where and attr and is_file(where)) or re.match(r"[A-Za-z]:[\\/]", where):
        return name  # not a file spec, or a Windows path already absolute
    return f"{os.path.abspath(where)}:{attr}"


def sha256_of(path: str) -> str:
    with open(local_path(path), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def local_path(path: str) -> str:
    """Where this machine reads the user file named `path`: its shipped copy, if one came with the task."""
    return _shipped.get(path, path)


def file_sources(names) -> dict[str, bytes]:
    """The bytes of every user file that these canonical names (`/abs/file.py:attr`) read: what a task ships.
    Module names (`package.module:attr`) are not shipped: such code is installed on every machine."""
    files = {}
    for name in names:
        where = name.rpartition(":")[0]
        if is_spec(name) and is_file(where) and where not in files:
            try:
                with open(local_path(where), "rb") as f:
                    files[where] = f.read()
            except OSError as e:
                raise ConfigError(f"{name}: cannot read {where} ({e.strerror or e})") from None
    return files


def ship(files: dict[str, bytes], folder: str) -> None:
    """On a worker: keep a copy of each file (under `folder`, by content) and read it wherever its driver's path
    is named. The copies' hashes are still checked against the run's, as for a file on this machine."""
    from mnistlab.atomic import write_atomic

    for path, data in files.items():
        copy = os.path.join(folder, hashlib.sha256(data).hexdigest()[:32], os.path.basename(path))
        if not os.path.isfile(copy):
            write_atomic(Path(copy), data)
        _shipped[path] = copy


def changed(spec) -> bool:
    """Whether a spec's source file (any kind with source_file and source_sha256) is no longer the one it was
    resolved from."""
    try:
        return sha256_of(spec.source_file) != spec.source_sha256
    except OSError:
        return True


def check_recorded(what: str, spec, recorded: str) -> None:
    """One line when user code is no longer the version a run recorded (its key names that version's hash):
    the weights or picks of one version are never made with another."""
    if recorded and recorded != spec.source_sha256:
        raise ConfigError(f"{what}: {spec.source_file or 'its source'} changed since the run was set up (sha256 "
                          f"{spec.source_sha256[:12]}..., the run's {recorded[:12]}...); restore that version or "
                          "start a new run")


def module_file(module_name: str) -> str | None:
    """The file a module name resolves to, found without running any code (no parent package is imported)."""
    from importlib.machinery import PathFinder

    search: list[str] | None = [*sys.path, os.getcwd()]
    found = None
    for part in module_name.split("."):
        found = PathFinder.find_spec(part, search)
        if found is None:
            return None
        search = list(found.submodule_search_locations or [])
    return found.origin if found is not None and found.has_location else None


def first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0]}" if lines else type(e).__name__


@contextmanager
def user_code(what: str):
    """Run a user's code: whatever it raises or exits with (SystemExit too: `sys.exit()` at import must not end
    mnistlab silently) becomes one ConfigError line, `what: Type: message`. Ctrl-C and our own errors pass."""
    try:
        yield
    except (KeyboardInterrupt, MnistlabError):
        raise
    except BaseException as e:  # noqa: BLE001 - the user's code: its own message, first line
        raise ConfigError(f"{what}: {first_line(e)}") from None


@contextmanager
def _no_bytecode():
    """A user's folder is theirs: importing their code writes no __pycache__ beside it (nothing created, even
    where the import fails), whatever the interpreter would do by default."""
    before, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        yield
    finally:
        sys.dont_write_bytecode = before


def import_file(spec_name: str, path: str, reload: bool, flag: str = "--models"):
    """Import a .py file under a module name of its own (from its path's hash), its folder on sys.path meanwhile."""
    if not os.path.isfile(local_path(path)):
        raise ConfigError(f"{flag} {spec_name}: no such file {path}")
    module_name = "mnistlab_user_" + hashlib.sha256(path.encode()).hexdigest()[:16]
    if module_name in sys.modules and not reload:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, local_path(path))
    if spec is None or spec.loader is None:
        raise ConfigError(f"{flag} {spec_name}: {path} cannot be imported as Python source")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickle look the module up while it runs
    folder = os.path.dirname(local_path(path))
    sys.path.insert(0, folder)  # its own helper modules beside it import as they would in a script
    try:
        with user_code(f"{flag} {spec_name}: importing {path} failed"), _no_bytecode():
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    finally:
        sys.path.remove(folder)
    return module


def import_module(spec_name: str, module_name: str, reload: bool, flag: str = "--models"):
    if not MODULE_NAME.match(module_name):
        raise ConfigError(f"{flag} {spec_name}: {module_name!r} is neither a .py file nor a module name; "
                          "give path/to/file.py:Class or package.module:Class")
    added = os.getcwd() not in sys.path and "" not in sys.path
    if added:  # a module of the project the command runs in, as `python -m` would find it
        sys.path.append(os.getcwd())
    try:
        with user_code(f"{flag} {spec_name}: importing {module_name} failed"), _no_bytecode():
            module = importlib.import_module(module_name)
            return importlib.reload(module) if reload else module
    finally:
        if added:
            sys.path.remove(os.getcwd())


def attribute(spec_name: str, module, attr: str, where: str, flag: str = "--models"):
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            defined = sorted(n for n, v in vars(module).items() if not n.startswith("_") and
                             (inspect.isclass(v) or inspect.isfunction(v)) and v.__module__ == module.__name__)
            hint = f" (it defines {', '.join(defined)})" if defined else ""
            raise ConfigError(f"{flag} {spec_name}: {where} has no attribute {attr!r}{hint}")
        obj = getattr(obj, part)
    return obj


def load_function(name: str, key: str, reload: bool, flag: str):
    """A user's function named by its canonical spec `key` (file or module form): (function, its source file)."""
    where, _, attr = key.rpartition(":")
    if is_file(where):
        module, source_file = import_file(name, where, reload, flag=flag), where
    else:
        module = import_module(name, where, reload, flag=flag)
        source_file = getattr(module, "__file__", None) or ""
    fn = attribute(name, module, attr, where, flag=flag)
    if not callable(fn):
        raise ConfigError(f"{flag} {name}: {attr} is not a function (it is of type {type(fn).__name__})")
    return fn, source_file
