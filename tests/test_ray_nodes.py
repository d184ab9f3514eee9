"""A sweep across two Ray nodes, each a network namespace of its own made here (a veth pair between them, addresses
only inside them): the worker node also has its own mount namespace, in which the driver's folders, the project
checkout and the data cache are covered by empty tmpfs mounts, so that it holds nothing of the driver's but a copy
of the installed package. Everything made is removed at the end, whatever happened; every wait is bounded.

One test runs the whole scenario on one cluster (starting a Ray node costs seconds; xdist may split a module's
tests between processes, and two clusters would cost twice)."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

import mnistlab  # noqa: E402
from helpers import FLAT_MODEL, TINY_SWEEP, store_rows  # noqa: E402
from mnistlab.cli.main import main  # noqa: E402
from mnistlab.data.loader import cache_dir  # noqa: E402

HEAD_IP, WORKER_IP, PORT = "10.213.0.1", "10.213.0.2", 6379
ADDRESS = f"{HEAD_IP}:{PORT}"
PACKAGE = Path(mnistlab.__file__).resolve().parent
CHECKOUT = PACKAGE.parents[1] if (PACKAGE.parents[1] / "pyproject.toml").is_file() else None
# Token authentication, as the recipe in docs/tutorials/ray-cluster.md has it; the token is the test's own (the
# variable outranks ~/.ray/auth_token, which stays as it was).
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
RAY = shutil.which("ray") or str(Path(sys.executable).parent / "ray")
WAIT = 120  # seconds: the most any one step here may take


def _why_not() -> str | None:
    """Why this machine cannot build the namespaces, or None."""
    if not sys.platform.startswith("linux"):
        return "network and mount namespaces are Linux's"
    if os.geteuid() != 0:
        return "making network namespaces needs root"
    missing = [tool for tool in ("ip", "unshare", "mount") if shutil.which(tool) is None]
    if missing:
        return f"missing {', '.join(missing)} (Debian: iproute2, util-linux)"
    return None


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass  # ended meanwhile


def _sh(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=check)


class Cluster:
    """Two namespaces, a head in the first, workers started and killed in the second; stop() undoes it all."""

    def __init__(self, tag: str):
        self.head_ns, self.worker_ns = f"mlab-h{tag}", f"mlab-w{tag}"
        self.scratch = Path(tempfile.mkdtemp(prefix="mlnodes"))  # short: Ray's unix sockets live under it
        self.procs: list[subprocess.Popen] = []
        self.worker: subprocess.Popen | None = None

    def build(self) -> None:
        for ns in (self.head_ns, self.worker_ns):
            _sh("ip", "netns", "add", ns)
        _sh("ip", "link", "add", "mlab-h0", "type", "veth", "peer", "name", "mlab-w0")
        for ns, dev, ip in ((self.head_ns, "mlab-h0", HEAD_IP), (self.worker_ns, "mlab-w0", WORKER_IP)):
            _sh("ip", "link", "set", dev, "netns", ns)
            _sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            _sh("ip", "-n", ns, "link", "set", dev, "up")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")

    def start(self, cmd: list[str], ns: str) -> tuple[subprocess.Popen, Path]:
        """A process in namespace `ns`, its output to a log file (a pipe nobody reads would fill and block it)."""
        log = self.scratch / f"log{len(self.procs)}.txt"
        with open(log, "w") as f:
            proc = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], env=ENV, stdout=f, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs.append(proc)
        return proc, log

    def start_head(self) -> None:
        proc, log = self.start([RAY, "start", "--head", "--block", f"--port={PORT}", f"--node-ip-address={HEAD_IP}",
                                f"--temp-dir={self.scratch / 'h'}", "--num-cpus=1", "--num-gpus=0",
                                "--include-dashboard=false", "--include-log-monitor=false", "--disable-usage-stats"],
                               self.head_ns)
        self.wait_started(proc, log, nodes=1)

    def start_worker(self, cpus: int, unseen: list[Path], edit: str = "") -> None:
        """A worker node that imports a copy of mnistlab (`edit` appended to one of its files) and sees none of
        `unseen` (their folders covered by empty tmpfs mounts: it checks that each is gone before it starts)."""
        n = len(self.procs)
        site = _copy_package(self.scratch / f"site{n}", edit)
        cover = "".join(f"mount -t tmpfs mlab-cover '{p.parent}' && " for p in unseen)
        absent = "".join(f"test ! -e '{p}' && " for p in unseen)
        script = (f"{cover}{{ {absent}true || exit 97; }} && PYTHONPATH='{site}' exec '{RAY}' start --block "
                  f"--address={ADDRESS} --node-ip-address={WORKER_IP} --temp-dir='{self.scratch}/w{n}' "
                  f"--num-cpus={cpus} --num-gpus=0 --include-log-monitor=false --disable-usage-stats")
        self.worker, log = self.start(["unshare", "--mount", "--propagation", "private", "bash", "-c", script],
                                      self.worker_ns)
        self.wait_started(self.worker, log, nodes=2)

    def wait_started(self, proc: subprocess.Popen, log: Path, nodes: int) -> None:
        """Until `ray start` says so (read from its log), then until the head lists `nodes` live nodes."""
        deadline = time.time() + WAIT
        while "Ray runtime started" not in log.read_text(errors="replace"):
            assert proc.poll() is None, f"a Ray node did not start (exit {proc.returncode}): {log.read_text()[-800:]}"
            assert time.time() < deadline, f"a Ray node did not start within {WAIT} s"
            time.sleep(0.2)
        while self.live_nodes() < nodes:
            assert time.time() < deadline, f"{nodes} Ray nodes were not up within {WAIT} s"
            time.sleep(0.5)

    def live_nodes(self) -> int:
        status = subprocess.run(["ip", "netns", "exec", self.head_ns, RAY, "status", f"--address={ADDRESS}"],
                                capture_output=True, text=True, env=ENV, timeout=30).stdout
        active = status.partition("Active:")[2].partition("Pending:")[0]
        return active.count(" node_")

    def worker_busy(self) -> bool:
        """Whether a process of the worker's namespace is running a task (Ray titles it with the task's name)."""
        for pid in _sh("ip", "netns", "pids", self.worker_ns, check=False).stdout.split():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().startswith(b"ray::_train_remote"):
                        return True
            except OSError:
                pass  # ended meanwhile
        return False

    def kill_worker(self) -> None:
        """The worker node lost at once: every process of its namespace killed (raylet, object store, workers)."""
        for pid in _sh("ip", "netns", "pids", self.worker_ns, check=False).stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.worker is not None:
            self.worker.wait(timeout=30)

    def stop(self) -> None:
        """Every process of both namespaces killed at once (Ray's own graceful stop takes tens of seconds; nothing
        of these nodes outlives the test), then the namespaces (their veth goes with them) and the scratch folder."""
        for ns in (self.head_ns, self.worker_ns):
            for pid in _sh("ip", "netns", "pids", ns, check=False).stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=30)
        for ns in (self.head_ns, self.worker_ns):
            _sh("ip", "netns", "del", ns, check=False)
        _sh("ip", "link", "del", "mlab-h0", check=False)  # where it was never moved into a namespace
        shutil.rmtree(self.scratch, ignore_errors=True)


@pytest.fixture
def cluster():
    why = _why_not()
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"the multi-node test must run in CI: {why}")
        pytest.skip(why)
    made = Cluster(str(os.getpid()))
    try:
        made.build()
        made.start_head()
        yield made
    finally:
        made.stop()
    leftover = _sh("ip", "netns", "list").stdout
    assert made.head_ns not in leftover and made.worker_ns not in leftover


def _copy_package(site: Path, edit: str) -> Path:
    """A copy of the installed package under `site`, `edit` appended to one file (another source hash)."""
    shutil.copytree(PACKAGE, site / "mnistlab", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    if edit:
        with open(site / "mnistlab" / "version.py", "a") as f:
            f.write(f"\n{edit}\n")
    return site


def _in_head(cluster: Cluster, args: list[str], env: dict | None = None, **kw) -> subprocess.Popen:
    """`python -m mnistlab ARGS` as the driver, in the head's namespace."""
    return subprocess.Popen(["ip", "netns", "exec", cluster.head_ns, sys.executable, "-m", "mnistlab", *args],
                            env=env or ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _nodes(folder: Path) -> list[str]:
    with sqlite3.connect(folder / "store.sqlite") as conn:
        return [json.loads(e)["node"] for (e,) in conn.execute("SELECT environment FROM runs WHERE status = 'done'")]


# The shared tiny sweep's grid through the cluster, its budgets last so that a step can add one.
BUDGETS = TINY_SWEEP[TINY_SWEEP.index("--budgets"):TINY_SWEEP.index("--seeds")]
GRID = [*(a for a in TINY_SWEEP if a not in BUDGETS), "--executor", "ray", "--ray-address", ADDRESS, *BUDGETS]


def test_a_sweep_across_two_nodes_ships_the_users_model_survives_losing_one_and_leaves_out_one_that_differs(
        cluster, tiny_sweep, tmp_path):
    (tmp_path / "driver-only").write_text("")
    (tmp_path / "nets.py").write_text(FLAT_MODEL)
    unseen = [tmp_path / "driver-only", tmp_path / "nets.py",
              *[p for p in (cache_dir() / "train-images-idx3-ubyte", CHECKOUT and CHECKOUT / "pyproject.toml")
                if p and p.exists()]]
    cluster.start_worker(cpus=2, unseen=unseen)

    # 1. A user model from a file only the driver can read trains on a worker that cannot see it (the only node
    #    with 2 CPUs: every run asking for 2 lands there), with the numbers it gives here.
    #    One budget (three runs) is enough: the worker's first run is the one that needs the shipped file.
    user, shipped = f"{tmp_path / 'nets.py'}:Flat", tmp_path / "shipped"
    sweep = _in_head(cluster, ["sweep", *GRID, "--budgets", "10", "--cpus-per-run", "2", "--models", user,
                               "--no-summary", "--out", str(shipped)])
    _, stderr = sweep.communicate(timeout=WAIT)
    assert sweep.returncode == 0, stderr[-2000:]
    assert main(["sweep", *TINY_SWEEP, "--budgets", "10", "--models", user, "--no-summary",
                 "--out", str(tmp_path / "here")]) == 0
    assert store_rows(shipped) == store_rows(tmp_path / "here")
    (worker_id,) = set(_nodes(shipped))

    # 2. Both nodes take runs; the worker node is lost mid-sweep; the sweep ends with every run once, unchanged.
    out = tmp_path / "lost"  # the shared tiny sweep's grid and one budget more: the worker's first run is slow to
    sweep = _in_head(cluster, ["sweep", *GRID, "50", "--cpus-per-run", "1", "--lang", "en", "--out", str(out)])
    deadline, killed_at = time.time() + WAIT, None
    while killed_at is None and sweep.poll() is None and time.time() < deadline:
        try:
            if worker_id in _nodes(out) and cluster.worker_busy():  # it has stored a run and is in the next one:
                cluster.kill_worker()                                # lose it now
                killed_at = time.time()
        except (sqlite3.Error, OSError):
            pass  # the store is not there yet
        time.sleep(0.05)
    stdout, stderr = sweep.communicate(timeout=WAIT)
    assert killed_at, f"the sweep ended before the worker had stored a run and taken another: {stderr[-800:]}"
    assert sweep.returncode == 0 and "Traceback" not in stderr, stderr[-2000:]
    rows, local = store_rows(out), store_rows(tiny_sweep)
    assert {k: rows[k] for k in local} == local  # every run once, bit for bit the local executor's
    assert len(set(_nodes(out))) == 2 and len(_nodes(out)) == len(rows) == 18
    assert "the runs came from 2 machines" in stdout

    # 3. A worker whose mnistlab differs from the driver's gets no run, and the survey says why; bad input against
    #    a live cluster is one line and exit 2 within its bound, nothing created (all from one driver process).
    cluster.start_worker(cpus=1, unseen=unseen, edit="# an edit of the worker's copy only")
    probe = (
        "import json, sys, time\n"
        "from mnistlab.cli.main import main\n"
        "found = []\n"
        "for args in sys.argv[1:]:\n"
        "    start = time.time(); status = main(json.loads(args)); found.append((status, time.time() - start))\n"
        "print(json.dumps(found))\n")
    left_out = tmp_path / "left-out"
    cases = [["sweep", *GRID, "--budgets", "10", "--seeds", "0", "--no-summary", "--out", str(left_out)],
             ["doctor", "--ray-address", ADDRESS],
             ["sweep", *GRID, "--cpus-per-run", "2", "--out", str(tmp_path / "too-big")],
             ["sweep", *TINY_SWEEP, "--executor", "ray", "--ray-address", f"{HEAD_IP}:{PORT + 1}",
              "--out", str(tmp_path / "no-head")]]
    run = subprocess.run(["ip", "netns", "exec", cluster.head_ns, sys.executable, "-c", probe,
                          *(json.dumps(c) for c in cases)], capture_output=True, text=True, env=ENV, timeout=WAIT)
    statuses = json.loads(run.stdout.strip().splitlines()[-1])
    assert [s for s, _ in statuses] == [0, 0, 2, 2], run.stderr
    assert f"node {WORKER_IP} left out: its code" in run.stderr
    assert set(_nodes(left_out)) <= set(_nodes(out)) - {worker_id} and len(_nodes(left_out)) == 2  # the head alone
    assert "2 nodes, 2 CPUs" in run.stdout and run.stdout.count("matches this machine") == 1, run.stdout
    assert f"node {WORKER_IP}" in run.stdout and "differs: its code" in run.stdout, run.stdout
    assert all(seconds < 30 for _, seconds in statuses[2:]), statuses
    # the worker that could take 2 CPUs is left out: the head's one CPU is all there is
    assert "no node can take a run of --cpus-per-run 2" in run.stderr and "no Ray head there" in run.stderr
    assert run.stderr.count("mnistlab: error:") == 2 and "Traceback" not in run.stderr, run.stderr
    assert not (tmp_path / "too-big").exists() and not (tmp_path / "no-head").exists()

    # 4. A driver that differs from every node is refused before anything, naming each difference; a driver
    #    without the cluster's token is refused in one line.
    edited = _copy_package(cluster.scratch / "edited", "# an edit of the driver's copy only")
    other = _in_head(cluster, ["sweep", *GRID, "--out", str(tmp_path / "refused")],
                     env={**ENV, "PYTHONPATH": str(edited)})
    _, stderr = other.communicate(timeout=WAIT)
    assert other.returncode == 2 and stderr.count("\n") == 1, stderr
    assert "no node can run this sweep as the driver would" in stderr and stderr.count("is not the driver's") == 2
    assert not (tmp_path / "refused").exists()
    no_token = _in_head(cluster, ["sweep", *GRID, "--out", str(tmp_path / "no-token")],
                        env={k: v for k, v in ENV.items() if not k.startswith("RAY_AUTH")})
    _, stderr = no_token.communicate(timeout=WAIT)
    assert no_token.returncode == 2 and stderr.count("\n") == 1 and "refused this machine's authentication" in stderr
