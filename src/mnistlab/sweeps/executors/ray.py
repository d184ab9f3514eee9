"""Executors beyond the local loop: hand a sweep's pending runs to Ray as tasks.

The driver keeps everything else: only it writes the SQLite store (so resume and crash-safety are
exactly the local executor's), and results stream back as tasks finish. The data set goes to the
object store once and every task reads it from there.

A cluster started here for the sweep listens on loopback only, with no dashboard; another machine's
workers join only a cluster the user started and named with --ray-address.
"""
from __future__ import annotations

import math
import os
from contextlib import contextmanager
from typing import Any

from mnistlab.errors import ExecutorError
from mnistlab.runs.outcome import ModelResult, Outcome, environment

# Ray's single-machine mode (its default on Windows and macOS): the node's IP is 127.0.0.1, and Ray binds
# every server it starts (GCS, raylet, object manager, workers, agents) to the node's IP when that is
# loopback, to all interfaces otherwise.
SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def _train_remote(arrays: dict, job: dict, device: str, threads: int):
    """Runs inside a Ray worker: one job, returned as (status, result dict, message, environment)."""
    import warnings

    import torch

    from mnistlab.config import RunConfig
    from mnistlab.data.loader import LoadedDataset
    from mnistlab.data.resident import ResidentData
    from mnistlab.runs.job import Job
    from mnistlab.runs.outcome import environment
    from mnistlab.runs.pipeline import execute
    from mnistlab.sweeps.executors.base import failed
    from mnistlab.training.device import resolve_device

    torch.set_num_threads(threads)
    with warnings.catch_warnings():  # the object store hands out read-only arrays; we only read them
        warnings.simplefilter("ignore", UserWarning)
        tensors = {k: torch.from_numpy(v) for k, v in arrays.items() if k not in ("checksums", "name")}
    mnist = LoadedDataset(tensors["train_images"], tensors["train_labels"], tensors["test_images"],
                          tensors["test_labels"], folder=None, checksums=arrays["checksums"], name=arrays["name"])
    torch_device = resolve_device(device)
    the_job, env = Job(RunConfig.from_dict(job["config"]), job["key"], job["variant"]), environment(torch_device)
    try:
        outcome = execute(the_job, ResidentData(mnist, torch_device), env)
    except Exception as e:  # noqa: BLE001 - recorded as the local executor records it (Ray's error names no line)
        outcome = failed(the_job, e, env)
    result = outcome.result.to_dict() if outcome.result is not None else None
    return outcome.status, result, outcome.message, outcome.environment


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


def check_shares(gpus_per_run: float, cpus_per_run: int) -> None:
    """What one task may ask of a Ray node; a bad value is a one-line error before anything starts."""
    if isinstance(cpus_per_run, bool) or not isinstance(cpus_per_run, int) or cpus_per_run < 1:
        raise ExecutorError(f"--cpus-per-run {cpus_per_run}: give a whole number of CPUs, 1 or more")
    if not math.isfinite(gpus_per_run) or gpus_per_run < 0 or gpus_per_run > 1 and gpus_per_run != int(gpus_per_run):
        raise ExecutorError(f"--gpus-per-run {gpus_per_run}: use 0 (no GPU), a fraction in (0, 1] or a whole number")


REACH_SECONDS = 10.0


def check_reachable(address: str, timeout: float = REACH_SECONDS) -> None:
    """A HOST:PORT where something accepts a connection within `timeout`, else a one-line ExecutorError ('auto' and
    ray:// addresses are left to Ray)."""
    import socket

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


def ray_executor(address: str | None = None, gpus_per_run: float = 0.0, cpus_per_run: int = 1,
                 threads: int | None = None, max_retries: int = 2, device: str = "auto",
                 log=lambda msg: None) -> RayExecutor:
    """An executor that runs each job as a Ray task (see RayExecutor)."""
    check_shares(gpus_per_run, cpus_per_run)
    if address not in (None, "local"):
        check_reachable(address)  # before any run; Ray itself waits for minutes on an address where nothing listens
    try:
        import ray
    except ImportError:
        raise ExecutorError("--executor ray needs Ray: python -m pip install -e '.[ray]'") from None
    task_device = device if device != "auto" else ("cuda" if gpus_per_run > 0 else "cpu")
    return RayExecutor(ray, address, gpus_per_run, cpus_per_run, threads, max_retries, task_device, log)


class RayExecutor:
    """Each job a Ray task with declared CPUs/GPUs; outcomes stream back to the driver as tasks end."""

    def __init__(self, ray, address, gpus_per_run, cpus_per_run, threads, max_retries, task_device, log):
        self.ray, self.address, self.gpus_per_run, self.cpus_per_run = ray, address, gpus_per_run, cpus_per_run
        self.threads, self.max_retries, self.task_device, self.log = threads, max_retries, task_device, log

    def map(self, jobs, data, on_start=None, on_epoch=None):
        ray, address, log = self.ray, self.address, self.log
        gpus_per_run, cpus_per_run, max_retries = self.gpus_per_run, self.cpus_per_run, self.max_retries
        threads, task_device = self.threads, self.task_device
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
        started_here = not ray.is_initialized()
        if started_here and address not in (None, "local"):
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                         configure_logging=True)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ExecutorError(f"--ray-address {address}: cannot join the Ray cluster ({e})") from None
        elif started_here:
            try:  # "local": a new cluster, never one found through RAY_ADDRESS or a `ray start` on this machine
                with _loopback_only():
                    ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False,
                             log_to_driver=False, logging_level="ERROR", configure_logging=True)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ExecutorError(f"cannot start a local Ray instance ({e})") from None
        log(f"Ray: {ray.cluster_resources().get('CPU', 0):.0f} CPUs, {ray.cluster_resources().get('GPU', 0):.0f} "
            f"GPUs in the cluster; {len(jobs)} runs as tasks")
        self.driver_env = environment(data.device)
        m = data.mnist
        arrays = ray.put({"train_images": m.train_images.numpy(), "train_labels": m.train_labels.numpy(),
                          "test_images": m.test_images.numpy(), "test_labels": m.test_labels.numpy(),
                          "checksums": m.checksums, "name": m.name})  # once, shared by every task
        task = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=max_retries)(_train_remote)
        refs = {}
        for job in jobs:
            payload = {"config": job.config.to_dict(), "key": job.key, "variant": job.variant}
            refs[task.remote(arrays, payload, task_device, threads or cpus_per_run)] = job
            if on_start:
                on_start(job)
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                job = refs[ready[0]]
                try:
                    status, result, message, env = ray.get(ready[0])
                except Exception as e:  # noqa: BLE001 - retries exhausted or the run raised: recorded as failed
                    reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                    yield Outcome(job, "failed", None, reason, self.driver_env)
                    continue
                yield Outcome(job, status, ModelResult.from_dict(result) if result is not None else None, message, env)
        finally:  # Ctrl-C or an error in the driver: outstanding tasks are cancelled
            for ref in pending:
                ray.cancel(ref, force=True)
            if started_here:
                ray.shutdown()

