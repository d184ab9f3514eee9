"""Executors beyond the local loop: hand a sweep's pending runs to Ray as tasks, on one machine or many.

The driver keeps everything else: only it writes the SQLite store (so resume and crash-safety are
exactly the local executor's), and results stream back as tasks finish. The data set and the user's own
files (a model, a method, a selection rule named by a file) go to the object store once and every task reads
them from there: a worker needs mnistlab and its libraries installed, nothing else of the driver's. A node whose
code, torch or fused kernels differ from the driver's refuses its runs (one line each, never retried there).
"""
from __future__ import annotations

import os
import tempfile

from mnistlab.errors import ExecutorError
from mnistlab.runs.outcome import NODE_MUST_MATCH, ModelResult, Outcome, environment
from mnistlab.sweeps.executors.ray_cluster import check_room, check_shares, join, matching_nodes


def _train_remote(arrays: dict, files: dict, job: dict, device: str, threads: int, expected: dict):
    """Runs inside a Ray worker: one job, returned as (status, result dict, message, environment)."""
    import warnings

    import ray
    import torch

    from mnistlab.config import RunConfig
    from mnistlab.data.loader import LoadedDataset
    from mnistlab.data.resident import ResidentData
    from mnistlab.runs.job import Job
    from mnistlab.runs.outcome import environment, node_mismatch
    from mnistlab.runs.pipeline import execute
    from mnistlab.sweeps.executors.base import failed
    from mnistlab.training.device import resolve_device
    from mnistlab.usercode import ship

    torch.set_num_threads(threads)
    torch_device = resolve_device(device)
    the_job = Job(RunConfig.from_dict(job["config"]), job["key"], job["variant"])
    env = environment(torch_device, node=ray.get_runtime_context().get_node_id())
    mismatch = node_mismatch(expected, env)
    if mismatch:  # returned, not raised: Ray would retry a raised error, and on this same node
        node = ray.util.get_node_ip_address()
        return "failed", None, f"node {node}: {mismatch}; install the driver's there", env
    ship(files, os.path.join(tempfile.gettempdir(), "mnistlab-shipped"))
    with warnings.catch_warnings():  # the object store hands out read-only arrays; we only read them
        warnings.simplefilter("ignore", UserWarning)
        tensors = {k: torch.from_numpy(v) for k, v in arrays.items() if k not in ("checksums", "name")}
    mnist = LoadedDataset(tensors["train_images"], tensors["train_labels"], tensors["test_images"],
                          tensors["test_labels"], folder=None, checksums=arrays["checksums"], name=arrays["name"])
    try:
        outcome = execute(the_job, ResidentData(mnist, torch_device), env)
    except Exception as e:  # noqa: BLE001 - recorded as the local executor records it (Ray's error names no line)
        outcome = failed(the_job, e, env)
    result = outcome.result.to_dict() if outcome.result is not None else None
    return outcome.status, result, outcome.message, outcome.environment


def ray_executor(address: str | None = None, gpus_per_run: float = 0.0, cpus_per_run: int = 1,
                 threads: int | None = None, max_retries: int = 2, device: str = "auto",
                 log=lambda msg: None) -> RayExecutor:
    """An executor that runs each job as a Ray task (see RayExecutor)."""
    check_shares(gpus_per_run, cpus_per_run)
    try:
        import ray
    except ImportError:
        raise ExecutorError("--executor ray needs Ray: python -m pip install -e '.[ray]'") from None
    task_device = device if device != "auto" else ("cuda" if gpus_per_run > 0 else "cpu")
    executor = RayExecutor(ray, address, gpus_per_run, cpus_per_run, threads, max_retries, task_device, log)
    if address not in (None, "local"):  # joined now: a cluster that cannot take the runs is refused before any
        executor.start()
    elif cpus_per_run > (os.cpu_count() or 1):  # the local instance has this machine's CPUs
        raise ExecutorError(f"--cpus-per-run {cpus_per_run}: this machine has {os.cpu_count()} CPUs")
    return executor


def expected_of(driver_env: dict, task_device: str) -> dict:
    """What every node must share with this driver (the fused kernels' status only where tasks run on CPU)."""
    from mnistlab.kernels import fused

    expected = {k: driver_env[k] for k in NODE_MUST_MATCH if k in driver_env and k != "fused_kernels"}
    if task_device == "cpu":
        expected["fused_kernels"] = fused.status()
    return expected


def user_files(jobs) -> dict[str, bytes]:
    """The user files the jobs' code is read from (model, semi-supervised method, selection rule)."""
    from mnistlab.usercode import file_sources

    return file_sources({name for job in jobs
                                  for name in (job.config.model, job.config.semi_method, job.config.select)})


class RayExecutor:
    """Each job a Ray task with declared CPUs/GPUs; outcomes stream back to the driver as tasks end."""

    def __init__(self, ray, address, gpus_per_run, cpus_per_run, threads, max_retries, task_device, log):
        self.ray, self.address, self.gpus_per_run, self.cpus_per_run = ray, address, gpus_per_run, cpus_per_run
        self.threads, self.max_retries, self.task_device, self.log = threads, max_retries, task_device, log
        self.started_here: bool | None = None  # None until joined
        self.expected: dict = {}
        self.left_out: list[str] = []
        self.kept: list[dict] = []

    def start(self) -> None:
        """Join (or start) the cluster and check that some node can take a run; idempotent."""
        if self.started_here is not None:
            return
        import torch

        self.started_here = join(self.ray, self.address)
        where = f"--ray-address {self.address}" if self.address else "--executor ray"
        try:
            self.expected = expected_of(environment(torch.device("cpu")), self.task_device)
            kept, left_out = matching_nodes(self.ray, self.expected, where)
            check_room(kept, self.cpus_per_run, self.gpus_per_run, where)
        except BaseException:
            self.stop()
            raise
        for node, why in left_out:
            self.log(f"Ray: node {node['NodeManagerAddress']} left out: {why}")
        # Those nodes never get a run; a node that joins later is checked by each of its runs instead.
        self.left_out = [node["NodeID"] for node, _ in left_out]
        self.kept = kept

    def stop(self) -> None:
        if self.started_here:
            self.ray.shutdown()
        self.started_here = None

    def map(self, jobs, data, on_start=None, on_epoch=None):
        ray, log = self.ray, self.log
        gpus_per_run, cpus_per_run, max_retries = self.gpus_per_run, self.cpus_per_run, self.max_retries
        threads, task_device = self.threads, self.task_device
        self.start()
        try:
            files = user_files(jobs)
        except BaseException:
            self.stop()
            raise
        cpus, gpus = (sum(n["Resources"].get(r, 0) for n in self.kept) for r in ("CPU", "GPU"))
        log(f"Ray: {len(self.kept)} nodes, {cpus:g} CPUs, {gpus:g} GPUs; {len(jobs)} runs as tasks")
        self.driver_env = environment(data.device)
        m = data.mnist
        arrays = ray.put({"train_images": m.train_images.numpy(), "train_labels": m.train_labels.numpy(),
                          "test_images": m.test_images.numpy(), "test_labels": m.test_labels.numpy(),
                          "checksums": m.checksums, "name": m.name})  # once, shared by every task
        shipped, expected = ray.put(files), self.expected
        task = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=max_retries)(_train_remote)
        if self.left_out:
            from ray.util.scheduling_strategies import NodeLabelSchedulingStrategy, NotIn

            avoid = NodeLabelSchedulingStrategy(hard={"ray.io/node-id": NotIn(*self.left_out)})
            task = task.options(scheduling_strategy=avoid)
        refs = {}
        for job in jobs:
            payload = {"config": job.config.to_dict(), "key": job.key, "variant": job.variant}
            refs[task.remote(arrays, shipped, payload, task_device, threads or cpus_per_run, expected)] = job
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
            self.stop()

