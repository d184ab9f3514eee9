"""A run folder: results.json, resultados.csv, reports, weights and figures; and reading them back."""
from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import torch

from mnistlab.atomic import to_json, write_atomic
from mnistlab.config import RunConfig
from mnistlab.i18n import t
from mnistlab.errors import RunDirError
from mnistlab.models import build_model

RESULTADOS_COLUMNS = ["modelo", "best_val_loss", "final_val_acc", "test_acc", "params"]  # the notebook's
SCHEMA = 1



def resultados_csv(results: list) -> str:
    """The notebook's resultados.csv: one row per model, its exact columns."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(RESULTADOS_COLUMNS)
    for r in results:
        writer.writerow([r.label or label_of(r.model), r.best_val_loss, r.final_val_acc, r.test_acc, r.params])
    return buf.getvalue()


def existing_key(folder: Path) -> str | None:
    """The run key recorded in a folder's results.json, if any."""
    path = Path(folder) / "results.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text()).get("run_key")
    except (OSError, ValueError):
        return "unreadable"


def run_key(model_keys) -> str:
    """A run folder's key: its models' config keys, in order."""
    return "+".join(model_keys)


def write_run(folder: Path, results: list, models: dict, env: dict, data: dict, lang: str = "pt") -> list[Path]:
    """Write everything a run produced. Each file appears whole (temp file + rename) or not at all."""
    from safetensors.torch import save as safetensors_bytes

    from mnistlab.figures import run as plots

    folder = Path(folder)
    written = []
    for r in results:
        state = {k: v.detach().cpu().contiguous() for k, v in models[r.model].state_dict().items()}
        written.append(write_atomic(folder / f"{r.model}.safetensors",
                                    safetensors_bytes(state, metadata={"config": json.dumps(r.config)})))
        written.append(write_atomic(folder / f"classification_report_{r.model}.txt", r.report_text))
        written += plots.training_curves(r.history, r.model, r.label, folder / "figures", lang)
        written += plots.confusion_matrix(r.confusion, r.model, r.label, folder / "figures", lang)
        if r.config["imbalance"]:
            recall = [r.report[str(c)]["recall"] for c in range(10)]
            written += plots.per_class_recall([{"label": r.label, "counts": r.train_counts, "recall": recall}],
                                              t("per_class_title", lang, model=r.label),
                                              folder / "figures" / f"per_class_{r.model}", lang)
    written.append(write_atomic(folder / "resultados.csv", resultados_csv(results)))
    payload = {"schema": SCHEMA, "kind": "run", "run_key": run_key(r.key for r in results),
               "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "environment": env, "data": data,
               "models": {r.model: r.to_dict() for r in results}}
    # results.json goes last: its presence marks a complete run folder.
    written.append(write_atomic(folder / "results.json", to_json(payload)))
    return written


def load_run(folder: Path) -> dict:
    """A run folder's results.json, or RunDirError saying what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunDirError(f"{folder}: no such run folder")
    path = folder / "results.json"
    if not path.is_file():
        raise RunDirError(f"{folder}: not a mnistlab run folder (no results.json); run `mnistlab run --out {folder}`")
    try:
        payload = json.loads(path.read_text())
    except ValueError as e:
        raise RunDirError(f"{path}: unreadable ({e})") from None
    if payload.get("kind") != "run" or payload.get("schema") != SCHEMA:
        raise RunDirError(f"{path}: not a mnistlab run (kind {payload.get('kind')!r}, schema {payload.get('schema')!r})")
    return payload


def load_model(folder: Path, model: str) -> tuple[torch.nn.Module, RunConfig]:
    """The trained weights of `model` in a run folder, rebuilt into its architecture."""
    from safetensors.torch import load_file

    payload = load_run(folder)
    if model not in payload["models"]:
        raise RunDirError(f"{folder}: holds no {model!r} model (it has {', '.join(payload['models'])})")
    path = Path(folder) / f"{model}.safetensors"
    if not path.is_file():
        raise RunDirError(f"{path}: weights missing")
    cfg = RunConfig.from_dict(payload["models"][model]["config"])
    net = build_model(cfg)
    net.load_state_dict(load_file(str(path)))
    return net.eval(), cfg
