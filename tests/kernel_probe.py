"""A fresh process for a kernel-cache probe without a fresh interpreter: each probe is forked from one server
process that has imported torch and nothing of mnistlab (so no kernel is loaded in it), instead of starting
Python and importing torch again (~1.4 s a probe). Where forkserver is missing, a new interpreter runs it."""
from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path


def _child(code: str, umask: int | None, env: dict[str, str], out: str) -> None:
    os.environ.update(env)
    if umask is not None:
        os.umask(umask)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "<probe>", "exec"), {"__name__": "__probe__"})
    Path(out).write_text(printed.getvalue())


def run(code: str, umask: int | None, env: dict[str, str], out: Path) -> str:
    """What `code` printed, run in a new process with `env` added to the environment and `umask` set."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        prefix = f"import os; os.umask({umask})\n" if umask is not None else ""
        proc = subprocess.run([sys.executable, "-c", prefix + code], capture_output=True, text=True,
                              env={**os.environ, **env})
        assert proc.returncode == 0, proc.stderr[-2000:]
        return proc.stdout
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["torch"])  # a no-op once the server runs: it is started once per test process
    child = ctx.Process(target=_child, args=(code, umask, env, str(out)))
    child.start()
    child.join()
    assert child.exitcode == 0, f"probe exited with {child.exitcode} (its traceback is above)"
    return out.read_text()
