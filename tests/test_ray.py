"""Sweeps through a Ray instance of the sweep's own on this machine (loopback only), against the local executor.
A cluster of two nodes, a node lost, and --ray-address are tests/test_ray_nodes.py's."""
import ipaddress
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

import pytest

ray = pytest.importorskip("ray")

from helpers import FLAT_MODEL, TINY_SWEEP, store_rows  # noqa: E402
from mnistlab.cli.main import main  # noqa: E402

# The shared tiny sweep's grid (its store is the local executor's answer), a Ray task holding the CPUs its
# two threads use, so that tasks do not crowd one another.
GRID = [*TINY_SWEEP, "--cpus-per-run", "2" if (os.cpu_count() or 1) >= 2 else "1", "--no-summary"]
# Ray >= 2.5x starts heads with token auth; clients send the token only with RAY_AUTH_MODE=token.
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}


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


USER_MODEL = FLAT_MODEL + """

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
    # The MLP stands for the built-in models (the CNN's equality through Ray is the two-node test's too)
    cmd = [sys.executable, "-m", "mnistlab", "sweep", *GRID, "--models", "mlp", user, quits, "--executor", "ray",
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
    mlp = {k: v for k, v in store_rows(tiny_sweep).items() if v[0]["model"] == "mlp"}
    assert len(rows) == 18 and rows == {**mlp, **store_rows(tmp_path / "local")}
    failures = {r["message"] for r, _ in rows.values() if r["status"] == "failed"}
    assert failures == {f"ConfigError: --models {quits}: training failed: SystemExit: 3"}, failures
    assert sum(r["status"] == "failed" for r, _ in rows.values()) == 3  # seeds 0-2 at 20 per class
    env = json.loads(sqlite3.connect(out / "store.sqlite").execute("SELECT environment FROM runs").fetchone()[0])
    assert env["threads"] == 2  # --threads reached the workers (Ray would give them one)


def test_ray_missing_says_how_to_get_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert main(["sweep", *GRID, "--executor", "ray", "--out", str(tmp_path / "x")]) == 2
    assert "pip install -e '.[ray]'" in capsys.readouterr().err


def test_a_run_no_node_can_take_is_refused_before_anything(tmp_path, capsys):
    from mnistlab.errors import ExecutorError
    from mnistlab.sweeps.executors.ray_cluster import check_room

    too_many = str((os.cpu_count() or 1) + 1)
    assert main(["sweep", *GRID, "--executor", "ray", "--cpus-per-run", too_many, "--out", str(tmp_path / "x")]) == 2
    assert f"--cpus-per-run {too_many}: this machine has" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    nodes = [{"NodeManagerAddress": "10.0.0.1", "Resources": {"CPU": 2.0}},
             {"NodeManagerAddress": "10.0.0.2", "Resources": {"CPU": 1.0, "GPU": 1.0}}]
    check_room(nodes, 2, 0.0, "here")
    check_room(nodes, 1, 0.5, "here")
    with pytest.raises(ExecutorError, match=r"no node can take a run of --cpus-per-run 2 --gpus-per-run 1 "
                                            r"\(10.0.0.1: 2 CPUs, 0 GPUs, 10.0.0.2: 1 CPUs, 1 GPUs\)"):
        check_room(nodes, 2, 1.0, "here")


def test_a_node_joins_the_store_only_with_the_drivers_code_torch_and_kernels():
    from mnistlab.runs.outcome import node_mismatch

    driver = {"code": "0.2.0+aaa", "torch": "2.13.0+cpu", "fused_kernels": "fused"}
    assert node_mismatch(driver, {**driver, "cpu": "other", "node": "n2", "threads": 1}) is None  # not the code's
    assert node_mismatch(driver, {**driver, "code": "0.2.0+bbb"}) == "its code 0.2.0+bbb is not the driver's 0.2.0+aaa"
    assert "torch" in node_mismatch(driver, {**driver, "torch": "2.12.0"})
    assert "fused_kernels" in node_mismatch(driver, {**driver, "fused_kernels": "no compiler"})
    assert node_mismatch({k: v for k, v in driver.items() if k != "fused_kernels"}, {**driver, "fused_kernels": "x"}) \
        is None  # tasks on a GPU: the CPU kernels do not enter their numbers


def test_a_nodes_task_failure_is_one_plain_line():
    from mnistlab.sweeps.executors.ray_cluster import task_failure

    raw = RuntimeError("\x1b[36mray::_node_identity()\x1b[39m (pid=31646, ip=10.213.0.2) RuntimeError: The remote "
                       "function failed to import on the worker. This may be because needed library dependencies are "
                       "not installed\n  more")
    assert task_failure(raw) == ("mnistlab cannot be imported there (Ray: the remote function failed to import); "
                                 "install it")
    assert task_failure(RuntimeError("ray::f() (pid=1, ip=10.0.0.2) OSError: disk full. More")) == "OSError: disk full"
