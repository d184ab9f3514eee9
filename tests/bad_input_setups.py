"""What the bad-input battery prepares: damaged run folders and stores, read-only folders, full disks, little memory.

Every setup takes an Env and works inside its folder; anything it mounts or locks is undone by Env.cleanup().
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


class Env:
    """A case's folder, the shared run and sweep folders to copy into it, and what to undo afterwards."""

    def __init__(self, tmp: Path, shared, monkeypatch):
        self.tmp, self.shared, self.monkeypatch = tmp, shared, monkeypatch
        self.cleanups: list = []
        # Wraps the command itself (e.g. a file-size limit).
        self.during: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext

    def run(self, where: str = "run") -> Path:
        return Path(shutil.copytree(self.shared.run, self.tmp / where, symlinks=True))

    def sweep(self, where: str = "sweep") -> Path:
        return Path(shutil.copytree(self.shared.sweep, self.tmp / where, symlinks=True))

    def cleanup(self) -> None:
        for undo in reversed(self.cleanups):
            undo()
        self.cleanups.clear()


def snapshot(root: Path) -> dict[str, str]:
    """Every path under root: 'dir', 'link' or the SHA-256 of the file's bytes."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                out[rel] = "link"
            elif path.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


# ---------------------------------------------------------------- folders to start from

def run_folder(env: Env) -> None:
    env.run()


def sweep_folder(env: Env) -> None:
    env.sweep()


def results(change):
    """The shared run with results.json replaced by `change` (text or bytes) or by change(payload) (JSON)."""
    def setup(env: Env) -> None:
        path = env.run() / "results.json"
        if callable(change):
            change_to = json.dumps(change(json.loads(path.read_text())))
        else:
            change_to = change
        path.write_bytes(change_to if isinstance(change_to, bytes) else change_to.encode())
    return setup


def weights(change):
    """The shared run with its weight files changed by change(folder)."""
    def setup(env: Env) -> None:
        change(env.run())
    return setup


def truncate(name: str, keep: int):
    def change(folder: Path) -> None:
        path = folder / name
        path.write_bytes(path.read_bytes()[:keep])
    return change


def swap_weights(folder: Path) -> None:
    mlp, cnn = folder / "mlp.safetensors", folder / "cnn.safetensors"
    a, b = mlp.read_bytes(), cnn.read_bytes()
    mlp.write_bytes(b)
    cnn.write_bytes(a)


def swap_unhashed(folder: Path) -> None:
    """Swapped weights in a run folder written before weight hashes were recorded."""
    swap_weights(folder)
    path = folder / "results.json"
    payload = json.loads(path.read_text())
    for entry in payload["models"].values():
        entry.pop("weights_sha256", None)
    path.write_text(json.dumps(payload))


def drop_model_field(field: str):
    def change(payload):
        del payload["models"]["mlp"][field]
        return payload
    return change


def set_model_field(field: str, value):
    def change(payload):
        payload["models"]["mlp"][field] = value
        return payload
    return change


def rename_model(payload):
    payload["models"]["vit"] = payload["models"].pop("mlp")
    return payload


def store(*statements: str):
    """The shared sweep with these SQL statements applied to its store."""
    def setup(env: Env) -> None:
        conn = sqlite3.connect(env.sweep() / "store.sqlite")
        with conn:
            for sql in statements:
                conn.execute(sql)
        conn.close()
    return setup


def store_file(data: bytes):
    """The shared sweep whose store.sqlite is replaced by these bytes."""
    def setup(env: Env) -> None:
        folder = env.sweep()
        for extra in folder.glob("store.sqlite-*"):
            extra.unlink()
        (folder / "store.sqlite").write_bytes(data)
    return setup


def write(name: str, data: str | bytes):
    """A file (or with a trailing /, a folder) in the case's folder."""
    def setup(env: Env) -> None:
        path = env.tmp / name
        if name.endswith("/"):
            path.mkdir(parents=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return setup


def sweep_spec(text: str):
    def setup(env: Env) -> None:
        (env.sweep() / "sweep.json").write_text(text)
    return setup


# ---------------------------------------------------------------- permissions, full disks, little memory

def _sh(*cmd: str) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


def read_only(what: str = "empty", how: str = "mount"):
    """tmp/ro holding nothing, the shared run or the shared sweep, made read-only.

    As root (permission bits do not stop root): a read-only bind mount (EROFS) or the immutable attribute
    (EPERM); as another user: the write bits removed (EACCES).
    """
    def setup(env: Env) -> None:
        folder = env.tmp / "ro"
        if what == "run":
            env.run("ro")
        elif what == "sweep":
            env.sweep("ro")
        else:
            folder.mkdir()
        if not IS_ROOT:
            modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
            for p in modes:
                p.chmod(modes[p] & ~0o222)

            def restore() -> None:
                for p, mode in modes.items():
                    p.chmod(mode)

            env.cleanups.append(restore)
        elif how == "mount" and _sh("mount", "--bind", str(folder), str(folder)):
            env.cleanups.append(lambda: _sh("umount", "-l", str(folder)))
            if not _sh("mount", "-o", "remount,bind,ro", str(folder)):
                pytest.skip("cannot remount read-only here")
        elif _sh("chattr", "-R", "+i", str(folder)):
            env.cleanups.append(lambda: _sh("chattr", "-R", "-i", str(folder)))
        else:
            pytest.skip("neither a read-only mount nor the immutable attribute is available here")
    return setup


def full_disk(what: str = "empty", free: int = 4096):
    """tmp/full: a small tmpfs holding nothing, the shared run or the shared sweep, filled up to `free` bytes."""
    def setup(env: Env) -> None:
        folder = env.tmp / "full"
        folder.mkdir()
        content = {"run": env.shared.run, "sweep": env.shared.sweep}.get(what)
        # Room for the copy (whole 4 KiB pages per file) plus 1 MiB: a store holds every run's test logits.
        pages = sum(-(-p.stat().st_size // 4096) for p in content.rglob("*") if p.is_file()) if content else 0
        size_kib = 4 * pages + 1024
        if not IS_ROOT or not _sh("mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(folder)):
            pytest.skip("a small tmpfs needs root and mount")
        env.cleanups.append(lambda: _sh("umount", "-l", str(folder)))
        if what == "run":
            shutil.copytree(env.shared.run, folder / "run")
        elif what == "sweep":
            shutil.copytree(env.shared.sweep, folder / "sweep")
        st = os.statvfs(folder)
        (folder / "filler").write_bytes(b"\0" * max(0, st.f_bavail * st.f_frsize - free))
    return setup


@contextlib.contextmanager
def file_size_limit(limit: int):
    """No file written by this process may grow past `limit` bytes (EFBIG), as on a small quota."""
    import resource

    old = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal's default: exit
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old)
        signal.signal(signal.SIGXFSZ, handler)


def size_limit(limit: int, then=None):
    """Run the command under file_size_limit(limit), after the setup `then`."""
    def setup(env: Env) -> None:
        if not hasattr(signal, "SIGXFSZ"):
            pytest.skip("no file-size limit on this platform")
        if then:
            then(env)
        env.during = lambda: file_size_limit(limit)
    return setup


def low_memory(gib: float = 1.0, then=None):
    """This machine reports only `gib` GiB of available memory."""
    def setup(env: Env) -> None:
        if then:
            then(env)
        env.monkeypatch.setattr("mnistlab.runs.memory.available_bytes", lambda device=None: int(gib * 2**30))
    return setup
