"""Reaching a Ray cluster: every check before a sweep hands it a run, each wait bounded, each failure one line.

A cluster started here for the sweep listens on loopback only, with no dashboard; another machine's workers join
only a cluster the user started and named with --ray-address.
"""
from __future__ import annotations

import math
import os
import re
import socket
import threading
from contextlib import contextmanager
from typing import Any

from mnistlab.errors import ExecutorError

# Ray's single-machine mode (its default on Windows and macOS): the node's IP is 127.0.0.1, and Ray binds
# every server it starts (GCS, raylet, object manager, workers, agents) to the node's IP when that is
# loopback, to all interfaces otherwise.
SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
REACH_SECONDS = 10.0   # a TCP connection to the head, and Ray's own handshake with it, each at most this long
SURVEY_SECONDS = 60.0  # one small task per node, each in a fresh worker: the survey before a sweep, and doctor's


def check_shares(gpus_per_run: float, cpus_per_run: int) -> None:
    """What one task may ask of a Ray node; a bad value is a one-line error before anything starts."""
    if isinstance(cpus_per_run, bool) or not isinstance(cpus_per_run, int) or cpus_per_run < 1:
        raise ExecutorError(f"--cpus-per-run {cpus_per_run}: give a whole number of CPUs, 1 or more")
    if not math.isfinite(gpus_per_run) or gpus_per_run < 0 or gpus_per_run > 1 and gpus_per_run != int(gpus_per_run):
        raise ExecutorError(f"--gpus-per-run {gpus_per_run}: use 0 (no GPU), a fraction in (0, 1] or a whole number")


def check_reachable(address: str, timeout: float = REACH_SECONDS) -> None:
    """A HOST:PORT where something accepts a connection within `timeout`, else a one-line ExecutorError ('auto' and
    ray:// addresses are left to Ray)."""
    host, sep, port = address.rpartition(":")
    if address == "auto" or "://" in address:
        return
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ExecutorError(f"--ray-address {address}: give HOST:PORT of the cluster's head (e.g. 10.0.0.1:6379), "
                            "or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as e:
        why = f"nothing answered within {timeout:g} s" if isinstance(e, TimeoutError) else (e.strerror or str(e))
        raise ExecutorError(f"--ray-address {address}: no Ray head there ({why}); start one with "
                            f"`ray start --head --port {port}` or check the address") from None


def check_token(address: str, timeout: float = REACH_SECONDS) -> None:
    """Ray's handshake with the head, alone and bounded: a token the head refuses is one line here, where
    `ray.init` would log the refusal for half a minute and then name no cause."""
    try:
        from ray._raylet import GcsClient  # type: ignore[attr-defined]  # Ray's client of the head's store
        from ray.exceptions import AuthenticationError
    except ImportError:
        return  # another Ray layout: ray.init's own error, caught by join()
    failure: list[BaseException] = []

    def handshake():
        try:
            GcsClient(address=address)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            failure.append(e)

    worker = threading.Thread(target=handshake, daemon=True)  # a daemon: a head that never answers cannot hold us
    with _native_stderr_silenced():  # Ray's C++ client logs each refusal itself; our line below says it once
        worker.start()
        worker.join(timeout)
    if worker.is_alive():
        raise ExecutorError(f"--ray-address {address}: something listens there but no Ray head answered within "
                            f"{timeout:g} s; check the port (the head's GCS port, 6379 by default)")
    if failure and isinstance(failure[0], AuthenticationError):
        mode = os.environ.get("RAY_AUTH_MODE", "disabled")
        fix = ("give the cluster's token (~/.ray/auth_token, or RAY_AUTH_TOKEN), or unset RAY_AUTH_MODE if the "
               "cluster was started without one" if mode == "token" else
               "set RAY_AUTH_MODE=token and give the cluster's token (~/.ray/auth_token, or RAY_AUTH_TOKEN)")
        raise ExecutorError(f"--ray-address {address}: the head refused this machine's authentication "
                            f"(RAY_AUTH_MODE={mode} here); {fix}")


@contextmanager
def _native_stderr_silenced():
    """File descriptor 2 to /dev/null meanwhile (native code writes there, past sys.stderr); restored after."""
    try:
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _first_sentence(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text.split(". ")[0].rstrip(".") if text else type(e).__name__


@contextmanager
def _loopback_only():
    """While Ray starts a cluster of its own here: single-machine mode, for Ray and the processes it starts."""
    ray_constants: Any
    try:
        from ray._private import ray_constants  # Ray reads the variable once, when imported: set its copy too
    except ImportError:
        ray_constants = None
    saved_env = os.environ.get(SINGLE_MACHINE)
    saved_flag = getattr(ray_constants, "ENABLE_RAY_CLUSTER", None)
    os.environ[SINGLE_MACHINE] = "0"
    if saved_flag is not None:
        ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop(SINGLE_MACHINE, None)
        else:
            os.environ[SINGLE_MACHINE] = saved_env
        if saved_flag is not None:
            ray_constants.ENABLE_RAY_CLUSTER = saved_flag


def join(ray, address: str | None) -> bool:
    """Connect to the cluster at `address`, or start one here (None/'local'); True when this call started Ray.
    Every failure is one ExecutorError line."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    if ray.is_initialized():
        return False
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": "ERROR", "configure_logging": True}
    if address not in (None, "local"):
        check_reachable(address)  # Ray itself waits for minutes on an address where nothing listens
        check_token(address)
        try:
            ray.init(address=address, **quiet)
        except Exception as e:  # noqa: BLE001 - whatever Ray raises while joining is the user's one line
            why = _first_sentence(e)
            raise ExecutorError(f"--ray-address {address}: cannot join the Ray cluster ({why})") from None
        return True
    try:  # "local": a new cluster, never one found through RAY_ADDRESS or a `ray start` on this machine
        with _loopback_only():
            ray.init(address="local", _node_ip_address="127.0.0.1", **quiet)
    except Exception as e:  # noqa: BLE001 - as above
        raise ExecutorError(f"cannot start a local Ray instance ({_first_sentence(e)})") from None
    return True


def alive_nodes(ray) -> list[dict]:
    """The cluster's live nodes as Ray lists them (NodeID, NodeManagerAddress, Resources)."""
    return [n for n in ray.nodes() if n.get("Alive")]


def check_room(nodes: list[dict], cpus_per_run: int, gpus_per_run: float, where: str) -> None:
    """Some node must hold what one run asks for; else the runs would wait forever for a node that fits."""
    fits = [n for n in nodes if n["Resources"].get("CPU", 0) >= cpus_per_run
            and n["Resources"].get("GPU", 0) >= gpus_per_run]
    if not fits:
        have = ", ".join(f"{n['NodeManagerAddress']}: {n['Resources'].get('CPU', 0):g} CPUs, "
                         f"{n['Resources'].get('GPU', 0):g} GPUs" for n in nodes) or "no live node"
        raise ExecutorError(f"{where}: no node can take a run of --cpus-per-run {cpus_per_run} --gpus-per-run "
                            f"{gpus_per_run:g} ({have}); ask for less or add a node that has it")


def matching_nodes(ray, expected: dict, where: str) -> tuple[list[dict], list[tuple[dict, str]]]:
    """(the live nodes whose mnistlab and torch match `expected`, [(node, why not)] for the others);
    when none matches, a one-line ExecutorError naming each node's difference."""
    from mnistlab.runs.outcome import node_mismatch

    kept, left_out = [], []
    for node, env in survey(ray):
        why = env if isinstance(env, str) else node_mismatch({k: expected[k] for k in env if k in expected}, env)
        (left_out.append((node, why)) if why else kept.append(node))
    if not kept:
        each = "; ".join(f"{node['NodeManagerAddress']}: {why}" for node, why in left_out) or "no live node"
        raise ExecutorError(f"{where}: no node can run this sweep as the driver would ({each}); install the "
                            "driver's mnistlab and torch on them")
    return kept, left_out


def _node_identity() -> dict:
    """Runs on one node, light (torch is not imported): the code and torch a result there would record."""
    from importlib.metadata import version

    import ray

    from mnistlab.version import code_identity

    return {"code": code_identity(), "torch": version("torch"), "node": ray.get_runtime_context().get_node_id()}


def survey(ray, timeout: float = SURVEY_SECONDS) -> list[tuple[dict, dict | str]]:
    """(node, its identity or why it gave none) for every live node: one pinned task each, all bounded. The fused
    kernels' status is left to each run's own check (finding it would load torch in every node's first worker)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = alive_nodes(ray)
    probe = ray.remote(num_cpus=0, max_retries=0)(_node_identity)
    refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
            for n in nodes]
    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=timeout)
    found: list[tuple[dict, dict | str]] = []
    for node, ref in zip(nodes, refs):
        if ref not in ready:
            ray.cancel(ref, force=True)
            found.append((node, f"no answer within {timeout:g} s"))
            continue
        try:
            found.append((node, ray.get(ref)))
        except Exception as e:  # noqa: BLE001 - a node without mnistlab, or one that died: its line says so
            found.append((node, task_failure(e)))
    return found


def task_failure(e: BaseException) -> str:
    """A Ray task's error as one plain line: without Ray's colours and its `ray::task() (pid=, ip=)` prefix, and
    saying what to do where the node could not import the task (no mnistlab there)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", " ".join(str(e).split()))
    text = re.sub(r"^ray::\S+ \(pid=\d+, ip=[^)]*\)\s*", "", text)
    if "failed to import on the worker" in text:
        return "mnistlab cannot be imported there (Ray: the remote function failed to import); install it"
    return _first_sentence(RuntimeError(text)) if text else type(e).__name__


def cluster_report(address: str) -> list[tuple[str, str]]:
    """`doctor --ray-address`: the cluster's live nodes, their CPUs and GPUs, and whether each runs this
    machine's mnistlab and torch (what a sweep from here asks of it first), as (name, value) rows."""
    from importlib.metadata import version

    from mnistlab.runs.outcome import node_mismatch
    from mnistlab.version import code_identity

    try:
        import ray
    except ImportError:
        raise ExecutorError("--ray-address needs Ray: python -m pip install -e '.[ray]'") from None
    started = join(ray, address)
    try:
        expected = {"code": code_identity(), "torch": version("torch")}
        found = survey(ray)
    finally:
        if started:
            ray.shutdown()
    cpus = sum(n["Resources"].get("CPU", 0) for n, _ in found)
    gpus = sum(n["Resources"].get("GPU", 0) for n, _ in found)
    rows = [("cluster", f"{address}: {len(found)} nodes, {cpus:g} CPUs, {gpus:g} GPUs")]
    for node, env in found:
        why = env if isinstance(env, str) else node_mismatch(expected, env)
        res = node["Resources"]
        rows.append((f"node {node['NodeManagerAddress']}",
                     f"{res.get('CPU', 0):g} CPUs, {res.get('GPU', 0):g} GPUs, "
                     + (f"differs: {why}" if why else f"matches this machine ({expected['code']})")))
    return rows
