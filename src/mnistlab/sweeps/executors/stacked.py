"""The stacked executor: the seeds of each sweep cell train together in one vmapped step (see training.stacked)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

from mnistlab.data.resident import ResidentData
from mnistlab.runs.job import Job
from mnistlab.runs.outcome import Outcome, environment
from mnistlab.runs.pipeline import assess, split_of
from mnistlab.sweeps.executors.base import OnJobEpoch, OnStart, failed
from mnistlab.sweeps.executors.local import LocalExecutor
from mnistlab.training.optim import fused_adam_works
from mnistlab.training.stacked import batchable, cell_key, fit_stacked


class StackedExecutor:
    """Groups jobs that differ only in seed (for models that can be stacked); the rest run one by one."""

    def map(self, jobs: Sequence[Job], data: ResidentData, on_start: OnStart | None = None,
            on_epoch: OnJobEpoch | None = None) -> Iterator[Outcome]:
        env = environment(data.device)
        groups: dict[tuple, list[Job]] = defaultdict(list)
        for job in jobs:
            together = batchable(job.config) and job.plan.model.stackable and fused_adam_works()
            groups[cell_key(job.config) if together else ("alone", job.key)].append(job)
        for group in groups.values():
            if len(group) == 1:
                yield from LocalExecutor().map(group, data, on_start, on_epoch)
                continue
            for job in group:
                if on_start:
                    on_start(job)
            try:
                splits = [split_of(job, data)[0] for job in group]
                models = [job.plan.model.build(job.config).to(data.device) for job in group]
                callback = (lambda i, rec, group=group: on_epoch(group[i], rec)) if on_epoch else None
                fitted = fit_stacked(models, splits, [job.config for job in group], callback)
            except Exception as e:  # noqa: BLE001 - recorded per run, the sweep goes on
                for job in group:
                    yield failed(job, e, env)
                continue
            for job, model, fit, split in zip(group, models, fitted, splits):
                result = assess(job, data, model, fit, split)
                yield Outcome(job, result.status, result, result.message, env, model)
