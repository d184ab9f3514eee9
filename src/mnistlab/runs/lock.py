"""One writer per folder: an OS lock on a file beside it, held while a run or a swap writes, removed after.

The lock file is deleted when released, so a waiter may hold a lock on a file that is no longer at the path:
after acquiring, the open descriptor and the path must be the same file, else it tries again. Locks are
re-entrant within a process (a run holds its folder's lock while the swap inside it takes it again).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: filelock's msvcrt lock, left in place when released
    fcntl = None  # type: ignore[assignment]


class Busy(Exception):
    """Another process holds the lock."""


_held: dict[str, int] = {}  # lock paths this process holds, with their depth
_guard = threading.Lock()


def same_file(fd: int, path: Path) -> bool:
    """Whether the open descriptor is the file now at `path` (it was not removed or replaced meanwhile)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def try_lock(path: Path) -> int | None:
    """An open descriptor holding the lock on the file at `path`, or None when another process holds it."""
    assert fcntl is not None
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        if same_file(fd, path):
            return fd
        os.close(fd)  # we locked a file its holder removed on release: lock the one at the path now


@contextmanager
def locked(path: Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the lock at `path` for the block; Busy when another process holds it for longer than `wait` s."""
    key = os.path.abspath(path)
    with _guard:
        if key in _held:
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[key] -= 1
        return
    if fcntl is None:
        from filelock import FileLock, Timeout

        lock = FileLock(key)
        try:
            lock.acquire(timeout=wait)
        except Timeout:
            raise Busy(key) from None
        release: Callable[[], None] = lock.release
    else:
        deadline = time.monotonic() + wait
        while (fd := try_lock(Path(key))) is None:
            if time.monotonic() >= deadline:
                raise Busy(key)
            time.sleep(0.05)

        def release() -> None:
            try:
                os.unlink(key)  # still holding it: a waiter on this file sees it gone and tries again
            except OSError:
                pass
            os.close(fd)
    with _guard:
        _held[key] = 1
    try:
        yield
    finally:
        with _guard:
            del _held[key]
        release()
