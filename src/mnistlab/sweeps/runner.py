"""A sweep: a grid of runs (variants x models x budgets x seeds) -> pending runs -> executor -> store.

Resume is free: a run's key is the hash of its resolved config and data, so rerunning a sweep skips
every key already `done`/`diverged` in the store and redoes only the rest.
"""
from __future__ import annotations

import json
import signal
import traceback
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mnistlab.atomic import write_atomic
from mnistlab.config import ConfigError, RunConfig, validate
from mnistlab.errors import SweepError
from mnistlab.runs import store

SPEC_NAME = "sweep.json"
GRID_FIELDS = ("model", "samples_per_class", "seed")
FINISHED = ("done", "diverged")


def base_config(cfg: RunConfig) -> dict:
    """A config's values without the grid's own axes: what every run of a sweep shares."""
    return {k: v for k, v in cfg.to_dict().items() if k not in GRID_FIELDS}



@dataclass
class SweepSpec:
    base: dict = field(default_factory=dict)      # RunConfig fields shared by every run
    models: list = field(default_factory=lambda: ["mlp", "cnn"])
    budgets: list = field(default_factory=lambda: [50, 100, 300, 1000])
    seeds: list = field(default_factory=lambda: [0, 1, 2, 3, 4])
    variants: list = field(default_factory=lambda: [{"label": "base", "overrides": {}}])
    study: str = "main"

    def plan(self) -> list[tuple[str, RunConfig]]:
        """(variant label, validated config) for every cell of the grid, in a stable order."""
        if not self.models or not self.budgets or not self.seeds:
            raise ConfigError("the sweep grid is empty: give at least one model, budget and seed")
        out = []
        for variant in self.variants:
            for budget in self.budgets:
                for seed in self.seeds:
                    for model in self.models:
                        values = {**self.base, **variant["overrides"], "model": model,
                                  "samples_per_class": budget, "seed": seed}
                        out.append((variant["label"], validate(RunConfig.from_dict(values))))
        return out

    def merged_with(self, other: "SweepSpec") -> "SweepSpec":
        """The union of two grids over the same base config (a sweep folder may grow, never change)."""
        if other.base != self.base or other.study != self.study:
            diff = sorted(k for k in set(self.base) | set(other.base) if self.base.get(k) != other.base.get(k))
            raise SweepError(f"this folder holds a sweep with a different configuration ({', '.join(diff) or 'study'}"
                             "); use another --out")
        union = lambda a, b: sorted(set(a) | set(b))  # noqa: E731
        labels = {v["label"] for v in self.variants}
        return SweepSpec(self.base, [m for m in ("mlp", "cnn") if m in set(self.models) | set(other.models)],
                         union(self.budgets, other.budgets), union(self.seeds, other.seeds),
                         self.variants + [v for v in other.variants if v["label"] not in labels], self.study)


def load_spec(folder: Path) -> SweepSpec | None:
    path = Path(folder) / SPEC_NAME
    if not path.is_file():
        return None
    try:
        return SweepSpec(**json.loads(path.read_text()))
    except (ValueError, TypeError) as e:
        raise SweepError(f"{path}: unreadable sweep spec ({e})") from None


def save_spec(folder: Path, spec: SweepSpec) -> None:
    write_atomic(Path(folder) / SPEC_NAME, json.dumps(asdict(spec), indent=1))


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


def run_local(items, data, on_start=None):
    """The local executor: one run after another in this process. Yields (item, status, result, message)."""
    from mnistlab.runs.pipeline import train_one

    for item in items:
        if on_start:
            on_start(item)
        variant, cfg, key = item
        try:
            result, _ = train_one(cfg, data)
        except Exception as e:  # noqa: BLE001 - a failing run is recorded, the sweep goes on
            yield item, "failed", None, f"{type(e).__name__}: {e} | {traceback.format_exc(limit=-1).strip()}"
            continue
        yield item, result.status, result.to_dict(), result.message


def run_batched(items, data, on_start=None, models=("mlp", "cnn")):
    """The batched executor: the seeds of each sweep cell (of the given models) train together, vmapped."""
    from collections import defaultdict

    from mnistlab.runs.pipeline import finish
    from mnistlab.training.stacked import batchable, cell_key, fit_batched

    groups = defaultdict(list)
    for item in items:
        together = batchable(item[1]) and item[1].model in models
        groups[cell_key(item[1]) if together else ("alone", item[2])].append(item)
    for group in groups.values():
        if len(group) == 1:
            yield from run_local(group, data, on_start)
            continue
        for item in group:
            if on_start:
                on_start(item)
        try:
            trained = fit_batched([cfg for _, cfg, _ in group], data)
        except Exception as e:  # noqa: BLE001 - recorded per run, the sweep goes on
            for item in group:
                yield item, "failed", None, f"{type(e).__name__}: {e} | {traceback.format_exc(limit=-1).strip()}"
            continue
        for item, (fitted, model, train_y) in zip(group, trained):
            result = finish(item[1], data, model, fitted, train_y)
            yield item, result.status, result.to_dict(), result.message


@dataclass
class SweepOutcome:
    total: int
    skipped: int
    finished: int
    failed: list
    interrupted: bool = False


def run_sweep(folder: Path, spec: SweepSpec, *, device: str = "auto", data_dir=None, executor=None,
              log=lambda msg: None, on_result=None) -> SweepOutcome:
    """Run what is missing of `spec` in `folder` and record every run in the store."""
    from mnistlab.data.mnist import load_mnist
    from mnistlab.runs.pipeline import DeviceData, environment, resolve_device

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with exclusive(folder):
        with deferred_interrupt():
            previous = load_spec(folder)
            spec = previous.merged_with(spec) if previous else spec
            plan = spec.plan()
            mnist = load_mnist(data_dir, log=log)
            conn = store.connect(folder, mnist.checksums)
            save_spec(folder, spec)
            items = [(variant, cfg, cfg.key(mnist.checksums)) for variant, cfg in plan]
            status = store.status_of(conn, [k for _, _, k in items])
            pending = [it for it in items if status.get(it[2]) not in FINISHED]
            outcome = SweepOutcome(total=len(items), skipped=len(items) - len(pending), finished=0, failed=[])
            if not pending:
                conn.close()
                return outcome
            torch_device = resolve_device(device)
            env = environment(torch_device)
            data = DeviceData(mnist, torch_device)
            import sklearn.metrics  # noqa: F401 - the first run's import, here where Ctrl-C is held
        start = lambda it: store.mark_running(conn, it[2], it[0], it[1].to_dict())  # noqa: E731
        execute = executor or run_local
        try:
            for (variant, cfg, key), run_status, result, message in execute(pending, data, on_start=start):
                run_env = result.pop("environment", env) if result else env  # a remote worker's own
                store.record(conn, key, variant, cfg.to_dict(), run_status, result, run_env, message)
                outcome.finished += 1
                if run_status == "failed":
                    outcome.failed.append((key, message))
                if on_result:
                    on_result(variant, cfg, run_status, result, message)
        except KeyboardInterrupt:
            outcome.interrupted = True
        finally:
            conn.close()
    return outcome
