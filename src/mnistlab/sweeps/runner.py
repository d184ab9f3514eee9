"""A sweep: a grid of runs (variants x models x budgets x seeds) -> pending runs -> executor -> store.

Resume is free: a run's key is the hash of its resolved config and data, so rerunning a sweep skips
every key already `done`/`diverged` in the store and redoes only the rest.
"""
from __future__ import annotations

import signal
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from mnistlab.errors import SweepError
from mnistlab.runs import store
from mnistlab.runs.job import Job
from mnistlab.sweeps.executors.base import Executor
from mnistlab.sweeps.grid import SweepSpec, load_spec, save_spec


@contextmanager
def exclusive(folder: Path):
    """Hold the folder's lock for the whole sweep; a second sweep on it is refused at once.

    An OS lock where there is one (flock on POSIX, msvcrt on Windows): a killed sweep leaves no stale lock.
    """
    from filelock import FileLock, Timeout

    lock = FileLock(str(Path(folder) / ".lock"), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise SweepError(f"another sweep is writing to {folder} right now; wait for it to finish "
                         "or use another --out") from None
    except OSError as e:
        raise SweepError(f"--out {folder}: cannot lock it for the sweep ({e.strerror or e})") from None
    try:
        yield
    finally:
        lock.release()


@contextmanager
def deferred_interrupt():
    """Hold Ctrl-C during setup (imports of C extensions, opening the store) and raise it right after.

    A KeyboardInterrupt raised inside an extension module's import can kill the interpreter with
    SIGINT instead of reaching our handler; between runs it is always safe.
    """
    received = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except ValueError:  # not the main thread: nothing to defer
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


@dataclass
class SweepOutcome:
    total: int
    skipped: int
    finished: int
    failed: list
    interrupted: bool = False
    mixed: bool = False


def run_line(outcome) -> str:
    """One finished run of a sweep in a line, for progress: 'CNN spc=10 seed=1 [recipe]: test_acc=0.9310 epochs=150
    (5.4s)', or its failure."""
    from mnistlab.models.registry import label_of

    cfg, result = outcome.job.config, outcome.result
    tag = "" if outcome.job.variant == "base" else f" [{outcome.job.variant}]"
    head = f"{label_of(cfg.model)} spc={cfg.samples_per_class} seed={cfg.seed}{tag}: "
    if result is None:
        return head + f"FAILED {outcome.message.split(' | ')[0]}"
    status = outcome.status if outcome.status != "done" else ""
    length = f"steps={cfg.steps}" if cfg.unlabeled else f"epochs={result.epochs_run}"
    return head + f"test_acc={result.test_acc:.4f} {length} ({result.train_seconds:.1f}s) {status}".rstrip()


def _meta(conn, name: str, folder: Path):
    try:
        return store.get_meta(conn, name)
    except ValueError:  # not JSON: the store was edited or damaged by something other than mnistlab
        raise SweepError(f"{folder / store.DB_NAME}: its {name!r} record is damaged (not JSON); the store cannot "
                         "be resumed safely: use another --out") from None


def check_identity(conn, current: dict, allow_mixed: bool, folder: Path) -> bool:
    """Refuse to add results made by other code, kernels, threads or CPU to a store (unless allowed).

    Returns whether the store is (now) mixed. A store from before identities were recorded has none.
    """
    recorded = _meta(conn, "identity", folder)
    has_runs = bool(store.counts(conn))
    if recorded is None and not has_runs:
        store.set_meta(conn, "identity", current)
        return bool(_meta(conn, "mixed", folder))
    if recorded == current:
        return bool(_meta(conn, "mixed", folder))
    if recorded is None:
        why = "it was written by an older mnistlab that recorded no code identity"
    else:
        diff = ", ".join(f"{k} {recorded.get(k)!r} -> {current.get(k)!r}" for k in current
                         if recorded.get(k) != current.get(k))
        why = f"its runs were made with other code or settings ({diff})"
    if not allow_mixed:
        raise SweepError(f"{folder}: cannot resume: {why}; new results would pool with old ones under the same "
                         "keys. Use another --out, or pass --allow-mixed to add them anyway (marked as mixed)")
    store.set_meta(conn, "mixed", True)
    return True


def check_model_sources(conn, jobs: list[Job], allow_mixed: bool, folder: Path) -> bool:
    """Refuse to add runs of an edited user model beside its earlier version's runs (unless allowed).

    Its new runs have new keys (the source hash is in the key), so without this they would silently pool
    with the old ones under one model name. Returns whether the store became mixed here."""
    from mnistlab.models.registry import get_spec

    recorded = store.get_meta(conn, "model_sources") or {}
    current = {job.model: job.config.model_source for job in jobs if job.config.model_source}
    edited = [m for m, digest in current.items() if recorded.get(m) not in (None, digest)]
    if edited:
        model = edited[0]
        why = (f"the model file {get_spec(model).source_file} changed since its runs here were made (sha256 "
               f"{recorded[model][:12]}... -> {current[model][:12]}...)")
        if not allow_mixed:
            raise SweepError(f"{folder}: cannot resume: {why}; new results would pool with old ones. Restore the "
                             "file, use another --out, or pass --allow-mixed to add them anyway (marked as mixed)")
        store.set_meta(conn, "mixed", True)
    if any(recorded.get(m) != digest for m, digest in current.items()):
        store.set_meta(conn, "model_sources", {**recorded, **current})
    return bool(edited)


def check_folder_models(folder: Path, models: list) -> None:
    """A user model only the folder names (sweep.json) is imported only if its file is the one its runs
    recorded (the store's model_sources); one the user named in this process was resolved already."""
    from mnistlab.errors import ConfigError, StoreError
    from mnistlab.models.registry import resolved_spec
    from mnistlab.models.user import check_recorded
    from mnistlab.usercode import is_spec

    named = [m for m in models if isinstance(m, str) and is_spec(m) and resolved_spec(m) is None]
    if not named:
        return
    recorded: dict = {}
    if (folder / store.DB_NAME).is_file():
        try:
            conn = store.open_readonly(folder)
            try:
                recorded = store.get_meta(conn, "model_sources") or {}
            finally:
                conn.close()
        except (StoreError, ValueError, sqlite3.Error):
            recorded = {}
    for model in named:
        digest = recorded.get(model, "") if isinstance(recorded, dict) else ""
        try:
            check_recorded(model, digest)
        except ConfigError as e:
            raise SweepError(f"{folder}: {e}; name it with --models to run it anyway") from None


def run_sweep(folder: Path, spec: SweepSpec, *, device: str = "auto", data_dir=None, executor: Executor | None = None,
              log=lambda msg: None, on_result=None, allow_mixed: bool = False) -> SweepOutcome:
    """Run what is missing of `spec` in `folder` and record every run in the store."""
    from mnistlab.data.loader import load_dataset
    from mnistlab.data.resident import ResidentData, check_splits
    from mnistlab.runs.memory import check_fits
    from mnistlab.runs.outcome import environment, identity
    from mnistlab.sweeps.executors.local import LocalExecutor
    from mnistlab.training.device import resolve_device

    folder = Path(folder)
    if (folder / "results.json").exists():
        raise SweepError(f"--out {folder}: is a run folder (mnistlab run); a sweep needs a folder of its own: "
                         "choose another --out")
    # Everything that can be refused is checked before the folder is created.
    with deferred_interrupt():
        previous = load_spec(folder)
        if previous:
            check_folder_models(folder, previous.models)
        spec = previous.merged_with(spec) if previous else spec
        jobs = [Job.of(cfg, variant=variant) for variant, cfg in spec.plan()]  # each run checked, before any data
        torch_device = resolve_device(device)
        check_fits(jobs, device=torch_device)
        mnist = load_dataset(jobs[0].config.dataset, data_dir, log=log)
        check_splits(mnist, [job.config for job in jobs])
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive(folder):
        with deferred_interrupt():
            current = load_spec(folder)
            if current != previous:  # another sweep grew the folder in between: add to what it holds now
                spec = current.merged_with(spec) if current else spec
                jobs = [Job.of(cfg, variant=variant) for variant, cfg in spec.plan()]
            conn = store.connect(folder, mnist.checksums)
            try:
                status = store.status_of(conn, [job.key for job in jobs])
                pending = [job for job in jobs if status.get(job.key) not in store.FINISHED]
                outcome = SweepOutcome(total=len(jobs), skipped=len(jobs) - len(pending), finished=0, failed=[])
                if not pending:
                    save_spec(folder, spec)
                    conn.close()
                    return outcome
                outcome.mixed = check_identity(conn, identity(environment(torch_device)), allow_mixed, folder)
                outcome.mixed = check_model_sources(conn, jobs, allow_mixed, folder) or outcome.mixed
                save_spec(folder, spec)  # only a resume that was not refused grows the folder's grid
                data = ResidentData(mnist, torch_device)
            except BaseException:
                conn.close()  # now: an open store keeps its -wal and -shm files beside it
                raise
        start = lambda job: store.mark_running(conn, job.key, job.variant, job.config.to_dict())  # noqa: E731
        try:
            for done in (executor or LocalExecutor()).map(pending, data, on_start=start):
                job = done.job
                store.record(conn, job.key, job.variant, job.config.to_dict(), done.status,
                             done.result.to_dict() if done.result else None, done.environment, done.message)
                outcome.finished += 1
                if done.status == "failed":
                    outcome.failed.append((job.key, done.message))
                if on_result:
                    on_result(done)
        except KeyboardInterrupt:
            outcome.interrupted = True
        finally:
            conn.close()
    return outcome
