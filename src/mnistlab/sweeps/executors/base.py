"""The one executor protocol: `map(jobs, data) -> outcomes`, as each job ends (in any order)."""
from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from mnistlab.data.resident import ResidentData
from mnistlab.errors import MnistlabError
from mnistlab.runs.job import Job
from mnistlab.runs.outcome import Outcome
from mnistlab.training.engine import EpochRecord

OnStart = Callable[[Job], None]
OnJobEpoch = Callable[[Job, EpochRecord], None]


class Executor(Protocol):
    def map(self, jobs: Sequence[Job], data: ResidentData, on_start: OnStart | None = None,
            on_epoch: OnJobEpoch | None = None) -> Iterator[Outcome]:
        """Run every job, yielding its Outcome as it ends; a job that raises is a `failed` Outcome."""
        ...


def failed(job: Job, error: BaseException, environment: dict) -> Outcome:
    """The Outcome of a job that raised: the error's one-line reason, and where it came from unless it is one of
    mnistlab's own one-line errors (which name the flag and value themselves)."""
    reason = f"{type(error).__name__}: {error}"
    frames = traceback.extract_tb(error.__traceback__)
    if frames and not isinstance(error, MnistlabError):
        reason += f" | {frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}"
    return Outcome(job, "failed", None, reason, environment)
