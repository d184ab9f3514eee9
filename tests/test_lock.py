"""The folder lock: one holder across processes, re-entrant within one, its file removed on release, and a
holder whose file was removed meanwhile never believes it holds the lock."""
import os
import subprocess
import sys
import textwrap

import pytest

from mnistlab.runs.lock import Busy, locked, same_file, try_lock

pytestmark = pytest.mark.skipif(os.name != "posix", reason="flock locks are POSIX")

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from mnistlab.runs.lock import locked
    with locked(Path(sys.argv[1])):
        print("held", flush=True)
        sys.stdin.read()
""")


def test_a_second_process_is_refused_and_the_file_goes_with_the_holder(tmp_path):
    path = tmp_path / ".x.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(Busy):
            with locked(path):
                pass
    finally:
        holder.communicate("")
    assert holder.returncode == 0 and not path.exists()
    with locked(path):
        with locked(path):  # re-entrant: a run holds it while its swap takes it again
            assert path.exists()
        assert path.exists()
    assert not path.exists()


def test_a_lock_on_a_removed_file_is_not_taken_for_the_lock(tmp_path):
    path = tmp_path / ".x.lock"
    stale = os.open(path, os.O_RDWR | os.O_CREAT)  # opened before its holder released (and removed) it
    os.unlink(path)
    fd = try_lock(path)  # a new file at the path: this is the lock now
    try:
        assert fd is not None and same_file(fd, path)
        assert not same_file(stale, path)  # the stale descriptor is another file: holding it proves nothing
    finally:
        os.close(stale)
        os.close(fd)
