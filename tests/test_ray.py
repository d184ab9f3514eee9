"""Sweeps through a real Ray cluster on this machine (loopback only), against the local executor."""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

ray = pytest.importorskip("ray")

from helpers import store_rows  # noqa: E402
from mnistlab.cli.main import main  # noqa: E402

GRID = ["--budgets", "10", "20", "--seeds", "0-1", "--epochs", "2", "--threads", "1", "--quiet", "--no-summary"]
# Ray >= 2.5x starts heads with token auth; clients send the token only with RAY_AUTH_MODE=token.
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}


@pytest.fixture(scope="module")
def local_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("ray") / "local"
    assert main(["sweep", *GRID, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def head():
    """A Ray head on loopback with two worker CPUs, started and stopped by the test."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ray_bin = shutil.which("ray") or str(os.path.join(os.path.dirname(sys.executable), "ray"))
    subprocess.run([ray_bin, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
                    "--num-gpus=0", "--include-dashboard=false", "--disable-usage-stats"], check=True, env=ENV,
                   capture_output=True)
    yield f"127.0.0.1:{port}"
    subprocess.run([ray_bin, "stop", "--force"], env=ENV, capture_output=True)


def test_ray_local_instance_gives_the_same_store_as_local(local_store, tmp_path):
    out = tmp_path / "ray"
    assert main(["sweep", *GRID, "--executor", "ray", "--out", str(out)]) == 0
    assert store_rows(out) == store_rows(local_store)
    env = json.loads(sqlite3.connect(out / "store.sqlite").execute("SELECT environment FROM runs").fetchone()[0])
    assert env["threads"] == 1


def test_killed_worker_is_retried_and_the_sweep_completes(head, local_store, tmp_path):
    out = tmp_path / "killed"
    grid = ["--budgets", "10", "20", "40", "--seeds", "0-2", "--epochs", "4", "--threads", "1", "--quiet",
            "--no-summary"]
    cmd = [sys.executable, "-m", "mnistlab.cli", "sweep", *grid, "--executor", "ray", "--ray-address", head,
           "--out", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    killed, deadline = None, time.time() + 120
    while killed is None and proc.poll() is None and time.time() < deadline:
        pids = subprocess.run(["pgrep", "-f", "ray::_train_remote"], capture_output=True, text=True).stdout.split()
        if pids:
            time.sleep(0.2)  # let it get into training
            os.kill(int(pids[0]), signal.SIGKILL)
            killed = pids[0]
        time.sleep(0.05)
    _, err = proc.communicate(timeout=300)
    assert killed, f"no Ray worker was seen running a task: {err[-800:]}"
    assert proc.returncode == 0, err
    rows = store_rows(out)
    assert len(rows) == 18 and {r["status"] for r, _ in rows.values()} == {"done"}
    reference = tmp_path / "reference"
    assert main(["sweep", *grid, "--out", str(reference)]) == 0
    assert rows == store_rows(reference)


def test_ray_missing_says_how_to_get_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["sweep", *GRID, "--executor", "ray", "--out", str(tmp_path / "x")]) == 2
    assert "pip install -e '.[ray]'" in capsys.readouterr().err
