"""A run folder: results.json, resultados.csv, reports, weights and figures; and reading them back."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

from mnistlab.atomic import check_writable, to_json, write_atomic
from mnistlab.config import RunConfig, validate
from mnistlab.errors import ConfigError, RunDirError
from mnistlab.models.registry import build_model, check_model_args, file_stem, is_model_name, label_of, list_models
from mnistlab.models.user import check_recorded
from mnistlab.runs.rows import history_problem
from mnistlab.runs.swap import COMPLETE_MARK, recover, replacing
from mnistlab.usercode import is_spec

RESULTADOS_COLUMNS = ["modelo", "best_val_loss", "final_val_acc", "test_acc", "params"]  # the notebook's
SCHEMA = 1
# What explain and report read from each model's entry in results.json.
MODEL_FIELDS = ("config", "history", "confusion", "params", "epochs_run", "best_epoch", "best_val_loss",
                "final_val_acc", "test_acc")
METRIC_FIELDS = ("params", "epochs_run", "best_epoch", "best_val_loss", "final_val_acc", "test_acc")
COUNT_FIELDS = ("params", "epochs_run", "best_epoch")
OPTIONAL_METRICS = ("best_val_loss", "final_val_acc")  # null for a run without a validation split



def resultados_csv(results: list) -> str:
    """The notebook's resultados.csv: one row per model, its exact columns."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(RESULTADOS_COLUMNS)
    for r in results:
        writer.writerow([r.label or label_of(r.model), r.best_val_loss, r.final_val_acc, r.test_acc, r.params])
    return buf.getvalue()


def run_key(model_keys) -> str:
    """A run folder's key: its models' config keys, in order."""
    return "+".join(model_keys)


def existing_key(folder: Path) -> str | None:
    """The run key recorded in `folder` (None when it is new or empty), once any replacement cut short is
    finished or undone; "unreadable" for a damaged results.json. RunDirError when `folder` cannot become a
    run folder: a file, a folder holding other things, or a place where its replacement cannot be written."""
    folder = Path(folder)
    recover(folder)
    _check_replaceable(folder)
    parent = Path(os.path.realpath(folder)).parent
    if parent.is_dir():
        try:
            check_writable(parent)  # the new run is written beside the folder, then swapped in
        except OSError as e:
            raise RunDirError(f"--out {folder}: cannot write the run beside it in {parent} "
                              f"({e.strerror or e}); choose another --out") from None
    try:
        payload = json.loads((folder / "results.json").read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return "unreadable"
    return payload.get("run_key") if isinstance(payload, dict) else "unreadable"


def _check_replaceable(folder: Path) -> None:
    """Refuse to replace anything but a run folder or an empty folder: the user's other files are not ours."""
    if not os.path.lexists(folder):
        return
    if not folder.is_dir():
        raise RunDirError(f"--out {folder}: is a file, not a folder; choose another --out")
    if (folder / "results.json").is_file():
        return
    if (folder / "store.sqlite").exists() or (folder / "sweep.json").exists():
        raise RunDirError(f"--out {folder}: is a sweep folder (mnistlab sweep), not a mnistlab run folder; a run "
                          "needs a folder of its own: choose another --out")
    try:
        names = sorted(os.listdir(folder))
    except OSError as e:
        raise RunDirError(f"--out {folder}: cannot read it ({e.strerror or e}); choose another --out") from None
    if names:
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise RunDirError(f"--out {folder}: not a mnistlab run folder (it holds {shown} and no results.json); "
                          "choose a new or empty folder")


def write_run(folder: Path, results: list, models: dict, env: dict, data: dict,
              draw: Callable[[Path], list[Path]] | None = None) -> list[Path]:
    """Replace `folder` with everything this run produced, as a whole: the files are written into a staging
    folder beside it and swapped in at the end, so an interrupted write leaves the previous run untouched.
    Whatever the folder held before (other models, explain and report outputs) goes with the old run.
    `draw(staging)` adds the figures (the figures layer lives above this one, so the caller passes it)."""
    folder = Path(folder)
    recover(folder)
    _check_replaceable(folder)
    try:
        with replacing(folder) as staging:
            names = _write_files(staging, results, models, env, data, draw)
    except OSError as e:
        raise RunDirError(f"--out {folder}: could not write the run ({e.strerror or e}); the folder was left "
                          "as it was: make room or choose another --out") from None
    return [folder / name for name in names]


def _write_files(staging: Path, results: list, models: dict, env: dict, data: dict, draw) -> list[Path]:
    """Write a run into `staging`; return the paths written, relative to it. results.json goes last."""
    from safetensors.torch import save as safetensors_bytes

    written, hashes = [], {}
    for r in results:
        stem = file_stem(r.model)  # a user model's name is a path: its files get a safe stem
        state = {k: v.detach().cpu().contiguous() for k, v in models[r.model].state_dict().items()}
        weights = safetensors_bytes(state, metadata={"config": json.dumps(r.config)})
        hashes[r.model] = hashlib.sha256(weights).hexdigest()
        written.append(write_atomic(staging / f"{stem}.safetensors", weights))
        written.append(write_atomic(staging / f"classification_report_{stem}.txt", r.report_text))
    if draw is not None:
        written += draw(staging)
    written.append(write_atomic(staging / "resultados.csv", resultados_csv(results)))
    payload = {"schema": SCHEMA, "kind": "run", "run_key": run_key(r.key for r in results),
               "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "environment": env, "data": data,
               "models": {r.model: {**r.to_dict(), "weights_sha256": hashes[r.model]} for r in results}}
    written.append(write_atomic(staging / COMPLETE_MARK, to_json(payload)))
    return [Path(p).relative_to(staging) for p in written]


def load_run(folder: Path) -> dict:
    """A run folder's results.json, checked to describe a run mnistlab can read, or RunDirError saying why."""
    folder = Path(folder)
    recover(folder)
    if not folder.is_dir():
        raise RunDirError(f"{folder}: no such run folder")
    path = folder / "results.json"
    rerun = f"rerun `mnistlab run --out {folder}`"
    if not path.is_file():
        raise RunDirError(f"{folder}: not a mnistlab run folder (no results.json); run `mnistlab run --out {folder}`")
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RunDirError(f"{path}: unreadable ({e}); {rerun}") from None
    if not isinstance(payload, dict):
        raise RunDirError(f"{path}: not a mnistlab run (a JSON {type(payload).__name__}, not an object); {rerun}")
    if payload.get("kind") != "run" or payload.get("schema") != SCHEMA:
        raise RunDirError(f"{path}: not a mnistlab run (kind {payload.get('kind')!r}, "
                          f"schema {payload.get('schema')!r})")
    models = payload.get("models")
    if not isinstance(models, dict) or not models:
        raise RunDirError(f"{path}: lists no models (\"models\" is {_shown(models)}); {rerun}")
    for name, entry in models.items():
        _check_model(path, name, entry, rerun)
    return payload


def _shown(value) -> str:
    return "missing" if value is None else "empty" if value == {} else f"a JSON {type(value).__name__}"


def _check_model(path: Path, name: str, entry, rerun: str) -> None:
    """One model's entry holds what explain and report read, with values of the right kind."""
    if not is_model_name(name):
        raise RunDirError(f"{path}: unknown model {name!r} (known: {', '.join(list_models())}); {rerun}")
    if not isinstance(entry, dict):
        raise RunDirError(f"{path}: model {name!r} is a JSON {type(entry).__name__}, not an object; {rerun}")
    missing = [k for k in MODEL_FIELDS if k not in entry]
    if missing:
        raise RunDirError(f"{path}: model {name!r} lacks {', '.join(map(repr, missing))}; {rerun}")
    if not isinstance(entry.get("label", ""), str):
        raise RunDirError(f"{path}: model {name!r} has a label that is not text; {rerun}")
    problem = history_problem(entry["history"])
    if problem:
        raise RunDirError(f"{path}: model {name!r}: {problem}; {rerun}")
    confusion = entry["confusion"]
    if not (isinstance(confusion, list) and confusion and all(
            isinstance(row, list) and len(row) == len(confusion) and all(type(v) is int for v in row)
            for row in confusion)):
        raise RunDirError(f"{path}: model {name!r} has no usable confusion matrix (a square list of counts); {rerun}")
    bad = [k for k in METRIC_FIELDS if (entry[k] is not None or k not in OPTIONAL_METRICS)
           and (isinstance(entry[k], bool) or not isinstance(entry[k], int if k in COUNT_FIELDS else (int, float)))]
    if bad:
        raise RunDirError(f"{path}: model {name!r} has non-numeric {', '.join(map(repr, bad))}; {rerun}")
    if not (isinstance(entry["config"], dict) and {"model", "samples_per_class", "seed"} <= set(entry["config"])):
        raise RunDirError(f"{path}: model {name!r} has no usable config (an object with its model, "
                          f"samples_per_class and seed); {rerun}")
    try:
        cfg = check_model_args(validate(RunConfig.from_dict(entry["config"])))
    except (ConfigError, TypeError, ValueError, AttributeError) as e:
        raise RunDirError(f"{path}: model {name!r} has an unusable config ({e}); {rerun}") from None
    if cfg.model != name:
        raise RunDirError(f"{path}: model {name!r} has the config of a {cfg.model!r} model; {rerun}")


def check_weights(folder: Path, payload: dict, model: str) -> dict:
    """`model`'s weights (a state dict), once its file matches the SHA-256 results.json recorded for it.

    A run folder written before hashes were recorded has none to check against: its weights are accepted
    if they read as a weight file.
    """
    from safetensors.torch import load

    path = Path(folder) / f"{file_stem(model)}.safetensors"
    rerun = f"rerun `mnistlab run --out {folder}`"
    if not path.is_file():
        raise RunDirError(f"{path}: weights missing; {rerun}")
    data = path.read_bytes()
    expected = payload["models"][model].get("weights_sha256")
    actual = hashlib.sha256(data).hexdigest()
    if expected is not None and actual != expected:
        raise RunDirError(f"{path}: weights do not match results.json (sha256 {actual[:16]}..., recorded "
                          f"{str(expected)[:16]}...); {rerun}")
    try:
        return load(data)
    except Exception as e:  # safetensors raises its own error type for a truncated or foreign file
        raise RunDirError(f"{path}: not a readable weight file ({_first_line(e)}); {rerun}") from None


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def load_model(folder: Path, model: str) -> tuple[torch.nn.Module, RunConfig]:
    """The trained weights of `model` in a run folder, checked against results.json and rebuilt."""
    payload = load_run(folder)
    if model not in payload["models"]:
        raise RunDirError(f"{folder}: holds no {model!r} model (it has {', '.join(payload['models'])})")
    state = check_weights(folder, payload, model)
    cfg = RunConfig.from_dict(payload["models"][model]["config"])
    if is_spec(cfg.model):  # code a folder names runs only if it is the code the run was made with
        try:
            check_recorded(cfg.model, cfg.model_source)
        except ConfigError as e:
            raise RunDirError(str(e)) from None
    net = build_model(cfg)
    try:
        net.load_state_dict(state)
    except RuntimeError as e:  # names or shapes that are not this architecture's
        raise RunDirError(f"{Path(folder) / f'{file_stem(model)}.safetensors'}: not the weights of this run's "
                          f"{model} ({_first_line(e)}); rerun `mnistlab run --out {folder}`") from None
    return net.eval(), cfg
