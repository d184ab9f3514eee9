"""The local executor: one job after another in this process."""
from __future__ import annotations

from collections.abc import Iterator, Sequence

from mnistlab.data.resident import ResidentData
from mnistlab.runs.job import Job
from mnistlab.runs.outcome import Outcome, environment
from mnistlab.runs.pipeline import execute
from mnistlab.sweeps.executors.base import OnJobEpoch, OnStart, failed


class LocalExecutor:
    """Runs jobs here. keep_going=False lets a job's exception propagate (a single `mnistlab run`)."""

    def __init__(self, keep_going: bool = True):
        self.keep_going = keep_going

    def map(self, jobs: Sequence[Job], data: ResidentData, on_start: OnStart | None = None,
            on_epoch: OnJobEpoch | None = None) -> Iterator[Outcome]:
        env = environment(data.device)
        for job in jobs:
            if on_start:
                on_start(job)
            callback = (lambda _i, rec, job=job: on_epoch(job, rec)) if on_epoch else None
            try:
                outcome = execute(job, data, env, callback)
            except Exception as e:  # noqa: BLE001 - a failing run is recorded, the sweep goes on
                if not self.keep_going:
                    raise
                outcome = failed(job, e, env)
            yield outcome
