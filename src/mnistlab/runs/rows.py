"""What a stored run must look like before anything reads it: each column and each field of its result.

A store may be edited or come from elsewhere, so a row is data to check, never trusted: `row_problem` says
why a row cannot be used (it is then left out with that line, and the next sweep runs it again). A row that
passes is read back once, here, as a typed `SweepRow`: nothing past the store decodes a stored column again.
"""
from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import MISSING, dataclass, field, fields
from functools import cached_property

from mnistlab.config import V1_MODEL_ARGS, RunConfig
from mnistlab.models.registry import label_of, list_models, model_settings
from mnistlab.names import name_problem
from mnistlab.runs.outcome import ModelResult
from mnistlab.training.engine import HISTORY_KEYS

STATUSES = ("running", "done", "diverged", "failed")
FINISHED = ("done", "diverged")
NEEDED = ("params", "test_acc", "best_epoch", "epochs_run")  # what the tables and figures take of a finished run
METRIC_COLUMNS = ("params", "test_acc", "test_loss", "best_val_loss", "final_val_acc", "best_val_acc", "best_epoch",
                  "epochs_run", "gap_at_best", "balanced_acc", "macro_f1", "train_seconds", "eval_seconds")
WHOLE = ("params", "best_epoch", "epochs_run")
# Fields of a finished run's result: number or null (the validation ones are null without validation).
RESULT_NUMBERS = ("params", "best_epoch", "epochs_run", "test_acc", "test_loss", "best_val_loss", "final_val_acc",
                  "best_val_acc", "gap_at_best", "balanced_acc", "macro_f1", "train_seconds", "eval_seconds",
                  "last_test_acc")
CONFIG_FIELDS = frozenset(f.name for f in fields(RunConfig))  # a stored config names these and nothing else
RESULT_FIELDS = tuple(f.name for f in fields(ModelResult) if f.default is MISSING and f.default_factory is MISSING)


@dataclass(frozen=True)
class SweepRow:
    """One stored run, checked and decoded: where it sits in the grid, how it ended and, once finished, its result."""

    key: str
    variant: str
    model: str
    samples_per_class: int
    seed: int
    status: str                                       # running | done | diverged | failed
    message: str = ""
    config: dict = field(default_factory=dict)        # the run's config values, as stored with it
    environment: dict = field(default_factory=dict)   # versions, threads and code identity of the process
    result: ModelResult | None = None                 # done and diverged runs only

    @cached_property
    def run_config(self) -> RunConfig:
        """The run's config, typed (its result's, once finished)."""
        return self.result.run_config if self.result is not None else RunConfig.from_dict(self.config)

    def metric(self, name: str):
        """A measured value of a finished run: None for a running or failed run, or a figure it has not got."""
        return getattr(self.result, name) if self.result is not None else None


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json(text, what: str) -> tuple[object, str | None]:
    """(decoded value, None), or (None, why) for a column that is not JSON text."""
    if not isinstance(text, str):
        return None, f"its {what} is not JSON text"
    try:
        return json.loads(text, parse_constant=lambda c: float("nan")), None
    except (ValueError, RecursionError):
        return None, f"its {what} is not JSON"


def history_problem(history) -> str | None:
    """Why a stored history (a run folder's or a store's) cannot be drawn or read, or None: the training loop's
    lists (HISTORY_KEYS) and any it adds (a semi run's step, mask_rate), numbers or null, one entry per record."""
    if not isinstance(history, dict) or not history:
        return "its history is not a record of epochs"
    if not all(isinstance(history.get(k), list) and history[k] for k in HISTORY_KEYS):
        return f"its history lacks one of {', '.join(HISTORY_KEYS)}"
    for name, values in history.items():
        if not (isinstance(values, list) and all(v is None or _number(v) for v in values)):
            return f"its history {str(name)[:20]!r} is not a list of numbers"
    lengths = {name: len(values) for name, values in history.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{str(k)[:20]} {n}" for k, n in lengths.items())
        return f"its history's records differ in length ({shown}): one entry per logged epoch or interval each"
    return None


def _robustness_problem(robustness) -> str | None:
    if not isinstance(robustness, dict):
        return "its robustness is not a record"
    for kind, levels in robustness.items():
        if not (isinstance(levels, dict) and all(_level(k) and _number(v) for k, v in levels.items())):
            return f"its robustness {str(kind)[:20]!r} is not accuracies by level"
    return None


def _level(key: str) -> bool:
    try:
        return math.isfinite(float(key))
    except ValueError:
        return False


def _per_class_problem(result: dict) -> str | None:
    counts, report = result.get("train_counts"), result.get("report")
    if counts is None and report is None:
        return None
    if not (isinstance(counts, list) and all(_whole(c) for c in counts) and isinstance(report, dict)):
        return "its per-class counts or report are not lists of counts and a record"
    for c in range(len(counts)):
        entry = report.get(str(c))
        if not (isinstance(entry, dict) and _number(entry.get("recall"))):
            return f"its per-class report has no recall for class {c}"
    return None


def _calibration_problem(stored) -> str | None:
    if stored is None or stored == {}:
        return None
    if not isinstance(stored, dict):
        return "its calibration is not a record"
    if not stored.get("test_logits"):
        return None
    try:
        logits = base64.b64decode(stored["test_logits"], validate=True)
        labels = base64.b64decode(stored["test_labels"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return "its stored test logits are not base64"
    classes = stored.get("num_classes")
    if not (isinstance(classes, int) and not isinstance(classes, bool) and classes > 1 and labels
            and len(logits) == 2 * classes * len(labels) and max(labels) < classes):
        return "its stored test logits do not match its labels"
    if not (stored.get("temperature") is None or (_number(stored["temperature"]) and stored["temperature"] > 0)):
        return "its temperature is not a positive number"
    return None


def config_problem(config: dict, model) -> str | None:
    """A stored config names RunConfig's fields and settings of models (any registered one's: stores written before
    each model kept only its own; a model this process has not loaded may have settings of its own prefix)."""
    settings = model_settings()
    declared = {stored for stored, _, _ in settings} | set(V1_MODEL_ARGS)
    loaded = {spec.name for _, spec, _ in settings}
    own = f"{str(model).replace('-', '_')}_"
    for name in config:
        if not (name in CONFIG_FIELDS or name in declared or (str(name).startswith(own) and model not in loaded)):
            return f"config names {str(name)[:40]!r}, which is neither a setting of mnistlab nor of {str(model)[:40]}"
    return None


def result_problem(result) -> str | None:
    """Why a finished run's result cannot be used, or None."""
    if not isinstance(result, dict):
        return "its result is not a record"
    missing = [k for k in RESULT_FIELDS if k not in result]
    if missing:
        return f"its result lacks {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"
    bad = [k for k in RESULT_NUMBERS if result.get(k) is not None and not _number(result[k])]
    if bad:
        return f"its {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not a number"
    if not isinstance(result.get("label", ""), str):
        return "its label is not text"
    config = result.get("config", {})
    if not (isinstance(config, dict) and _number(config.get("epochs", 1))
            and isinstance(config.get("early_stopping", True), bool)):
        return "its recorded config is not a run's config"
    problem = config_problem(config, result.get("model"))
    if problem:
        return f"its recorded {problem}"
    history = result.get("history")
    problem = history_problem(history)
    records = len(next(iter(history.values()))) if problem is None and isinstance(history, dict) else 0
    if records > result["epochs_run"]:  # fewer is allowed: a diverged run records its epochs run, not the last
        return f"its history holds {records} records for its {result['epochs_run']} epochs run"
    return (problem or _robustness_problem(result.get("robustness"))
            or _per_class_problem(result) or _calibration_problem(result.get("calibration")))


def row_problem(row) -> str | None:
    """Why the summary cannot use this row (an edited or damaged store), or None."""
    return checked_row(row)[1]


def checked_row(row) -> tuple[SweepRow | None, str | None]:
    """(the typed row, None) for a stored row the summary can use, else (None, why not); each column is decoded
    once, here."""
    if row["status"] not in STATUSES:
        return None, f"status {str(row['status'])[:40]!r} is none of {', '.join(STATUSES)}"
    if not isinstance(row["model"], str) or not (row["model"] in list_models() or ":" in row["model"]):
        return None, (f"model {str(row['model'])[:60]!r} is neither a registered model ({', '.join(list_models())}) "
                      "nor file.py:Class")
    problem = name_problem(row["variant"], "variant")
    if problem:
        return None, problem
    if not _whole(row["samples_per_class"]) or not _whole(row["seed"]) or row["samples_per_class"] < 1:
        return None, "its budget or seed is not a whole number"
    if not (row["message"] is None or isinstance(row["message"], str)):
        return None, "its message is not text"
    decoded: dict = {"environment": {}, "result": None}
    for column in ("config", "environment", "result"):
        if row[column] is not None or column == "config":
            value, problem = _json(row[column], column)
            if problem or not isinstance(value, dict):
                return None, problem or f"its {column} is not a JSON object"
            decoded[column] = value
    typed = lambda result: SweepRow(row["key"], row["variant"], row["model"], row["samples_per_class"],  # noqa: E731
                                    row["seed"], row["status"], row["message"] or "", decoded["config"],
                                    decoded["environment"], result)
    if row["status"] not in FINISHED:
        return typed(None), None
    missing = [m for m in NEEDED if not _number(row[m])]
    if missing:
        return None, f"no {', '.join(missing)}"
    bad = [m for m in METRIC_COLUMNS if row[m] is not None and not (_whole(row[m]) if m in WHOLE else _number(row[m]))]
    if bad:
        return None, f"its {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not a number"
    result = decoded["result"]
    if result is None:
        return None, "it has no result"
    if "imbalance" not in decoded["config"]:
        return None, "its result or config lacks what a finished run records"
    problem = config_problem(decoded["config"], row["model"])
    if problem:
        return None, f"its {problem}"
    problem = result_problem(result)
    if problem:
        return None, problem
    differ = [m for m in METRIC_COLUMNS if row[m] != result.get(m)]
    if differ:
        return None, f"its {', '.join(differ)} column and its result disagree"
    return typed(ModelResult.from_dict(result)), None


def run_labels(rows: list[SweepRow]) -> dict[str, str]:
    """Each model's display label: as recorded with its runs, else the registry's."""
    labels: dict[str, str] = {}
    for r in rows:
        recorded = r.result.label if r.result is not None else None  # checked: text
        labels[r.model] = recorded or labels.get(r.model) or label_of(r.model)  # label_of imports nothing
    return labels
