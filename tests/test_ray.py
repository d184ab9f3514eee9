"""Sweeps through a real Ray cluster on this machine (loopback only), against the local executor."""
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

import pytest

ray = pytest.importorskip("ray")

from helpers import TINY_SWEEP, store_rows  # noqa: E402
from mnistlab.cli.main import main  # noqa: E402

# The shared tiny sweep's grid (its store is the local executor's answer), a Ray task holding the CPUs its
# two threads use, so that tasks do not crowd one another.
GRID = [*TINY_SWEEP, "--cpus-per-run", "2" if (os.cpu_count() or 1) >= 2 else "1", "--no-summary"]
# Ray >= 2.5x starts heads with token auth; clients send the token only with RAY_AUTH_MODE=token.
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
# Ray's single-machine mode, in which the test's own head and its clients keep to 127.0.0.1.
HEAD_ENV = {**ENV, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def _descendants(pid: int) -> set:
    """The process and every process under it (Ray's GCS, raylet, agents and workers)."""
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        found.add(p)
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue  # it ended meanwhile
        for task in tasks:
            try:
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
            except OSError:
                pass  # ended meanwhile
    return found


def _listening(pids: set) -> dict:
    """{'address:port': process name} of every TCP or UDP socket these processes listen on (from ss)."""
    out = subprocess.run(["ss", "-Hltunp"], capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        fields = line.split()
        owners = re.findall(r'\("([^"]+)",pid=(\d+)', line)
        if len(fields) >= 5 and any(int(pid) in pids for _, pid in owners):
            found[fields[4]] = owners[0][0]
    return found


def _loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]").split("%")[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # '*' and the like: every interface
    mapped = getattr(ip, "ipv4_mapped", None)  # an IPv6 form of an IPv4 address
    return ip.is_loopback or bool(mapped is not None and mapped.is_loopback)


def _named(pids: set, prefix: str) -> list:
    """Those of `pids` whose command line (a Ray worker's is its task's name) starts with prefix."""
    found = []
    for pid in sorted(pids):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read().startswith(prefix.encode()):
                    found.append(pid)
        except OSError:
            pass  # ended meanwhile
    return found


@pytest.fixture(scope="module")
def head():
    """A Ray head on loopback with two worker CPUs, started and stopped by the test: (address, its pid).

    Its own session folder keeps other Ray users of this machine from finding it, and only its own
    processes are stopped (`ray stop` would stop every Ray cluster on the machine).
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray_bin = shutil.which("ray") or str(os.path.join(os.path.dirname(sys.executable), "ray"))
    session = tempfile.mkdtemp(prefix="rh")  # short: Ray's unix sockets live under it
    proc = subprocess.Popen([ray_bin, "start", "--head", "--block", f"--port={port}", "--node-ip-address=127.0.0.1",
                             f"--temp-dir={session}", "--num-cpus=2", "--num-gpus=0", "--include-dashboard=false",
                             "--disable-usage-stats"], env=HEAD_ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while proc.poll() is None and time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.5)
    assert proc.poll() is None, "ray start --head failed"
    yield f"127.0.0.1:{port}", proc.pid
    started = _descendants(proc.pid) - {proc.pid}
    proc.send_signal(signal.SIGTERM)  # `ray start --block` stops what it started
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pid in started:  # and whatever outlived it
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(session, ignore_errors=True)


USER_MODEL = """import torch.nn as nn


class Flat(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(784, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


class Quits(Flat):
    def forward(self, x):  # ends its process on a full batch: past the first forward pass, at 20 per class only
        if self.training and x.shape[0] == 128:
            import sys
            sys.exit(3)
        return self.fc(x.flatten(1))
"""


# The listening sockets of a process tree are read with Linux's ss and /proc.
CAN_WATCH = bool(shutil.which("ss")) and os.path.isdir("/proc/self/task")


def test_a_local_instance_listens_on_loopback_only_and_gives_the_same_store_as_local(tiny_sweep, tmp_path):
    """Ray's servers keep to loopback (where ss can watch them); its workers give the local executor's numbers, a
    user model's (which they import from its file) included, and the same one-line failure for a user model that
    exits mid-training (the sweep goes on)."""
    (tmp_path / "nets.py").write_text(USER_MODEL)
    user, quits = f"{tmp_path / 'nets.py'}:Flat", f"{tmp_path / 'nets.py'}:Quits"
    out = tmp_path / "s"
    cmd = [sys.executable, "-m", "mnistlab", "sweep", *GRID, "--models", "mlp", "cnn", user, quits, "--executor", "ray",
           "--out", str(out)]
    env = {k: v for k, v in ENV.items() if k not in ("RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seen = {}
    while CAN_WATCH and proc.poll() is None:
        seen.update(_listening(_descendants(proc.pid)))
        time.sleep(0.1)
    _, err = proc.communicate()
    assert proc.returncode == 1 and "Traceback" not in err, err  # 1: three runs failed, the rest are stored
    if CAN_WATCH:
        assert {"gcs_server", "raylet"} <= set(seen.values()), seen  # the sockets of Ray's servers were seen
        assert {a: n for a, n in seen.items() if not _loopback(a)} == {}
        assert not any("dashboard" in n.lower() for n in seen.values()), seen  # no dashboard, no agent serving one
    assert main(["sweep", *GRID, "--models", user, quits, "--out", str(tmp_path / "local")]) == 1
    rows = store_rows(out)
    assert len(rows) == 24 and rows == {**store_rows(tiny_sweep), **store_rows(tmp_path / "local")}
    failures = {r["message"] for r, _ in rows.values() if r["status"] == "failed"}
    assert failures == {f"ConfigError: --models {quits}: training failed: SystemExit: 3"}, failures
    assert sum(r["status"] == "failed" for r, _ in rows.values()) == 3  # seeds 0-2 at 20 per class
    env = json.loads(sqlite3.connect(out / "store.sqlite").execute("SELECT environment FROM runs").fetchone()[0])
    assert env["threads"] == 2  # --threads reached the workers (Ray would give them one)


def test_killed_worker_is_retried_and_the_sweep_completes(head, tiny_sweep, tmp_path):
    out = tmp_path / "killed"
    address, head_pid = head
    cmd = [sys.executable, "-m", "mnistlab", "sweep", *GRID, "--executor", "ray", "--ray-address", address,
           "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=HEAD_ENV)
    killed, deadline = None, time.time() + 120
    while killed is None and proc.poll() is None and time.time() < deadline:
        pids = _named(_descendants(head_pid), "ray::_train_remote")  # this head's workers, no one else's
        if pids:
            time.sleep(0.2)  # let it get into training
            os.kill(int(pids[0]), signal.SIGKILL)
            killed = pids[0]
        time.sleep(0.05)
    _, err = proc.communicate(timeout=300)
    assert killed, f"no Ray worker was seen running a task: {err[-800:]}"
    assert proc.returncode == 0, err
    rows = store_rows(out)
    assert len(rows) == 12 and {r["status"] for r, _ in rows.values()} == {"done"}
    assert rows == store_rows(tiny_sweep)


def test_ray_missing_says_how_to_get_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["sweep", *GRID, "--executor", "ray", "--out", str(tmp_path / "x")]) == 2
    assert "pip install -e '.[ray]'" in capsys.readouterr().err
