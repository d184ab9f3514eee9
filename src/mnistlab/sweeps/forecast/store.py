"""`mnistlab forecast DIR`: the forecast of a sweep folder from its store alone (no training, nothing imported from
the folder), written as forecast.json and one figure per variant."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mnistlab.atomic import to_json, write_atomic
from mnistlab.errors import ConfigError, StoreError, SummaryError
from mnistlab.figures.forecast import forecast_figure
from mnistlab.i18n import t
from mnistlab.models.registry import model_order
from mnistlab.names import is_safe_name
from mnistlab.runs import store
from mnistlab.runs.rows import SweepRow, run_labels
from mnistlab.sweeps.forecast.answer import RESAMPLES, Forecast, forecast
from mnistlab.sweeps.forecast.words import describe


@dataclass(frozen=True)
class StoreForecast:
    """A sweep folder's forecast: the numbers, the models' labels, the sentences and the files written."""

    forecast: Forecast
    labels: dict[str, str]
    lines: list[str]
    paths: list[Path]


def budget_label(rows: Sequence[SweepRow], lang: str) -> str:
    """Train + validation per class, or labelled images only when no run kept a validation split."""
    without = all(r.metric("best_val_acc") is None for r in rows)
    return t("labelled_per_class" if without else "samples_per_class", lang)


def forecast_figures(result: Forecast, labels: dict[str, str], xlabel: str, folder: Path, lang: str) -> list[Path]:
    paths: list[Path] = []
    for variant in dict.fromkeys(c.variant for c in result.cells):
        if is_safe_name(variant):  # a stored variant becomes part of a file name: one safe alphabet
            paths += forecast_figure([c for c in result.cells if c.variant == variant], labels, variant, xlabel,
                                     folder / ("forecast" if variant == "base" else f"forecast_{variant}"), lang)
    return paths


def forecast_or_none(rows: Sequence[SweepRow], models: list[str]) -> Forecast | None:
    """The forecast a summary shows (no target: ceilings and the next doubling), None where no cell can have one."""
    try:
        return forecast(rows, models)
    except ConfigError:
        return None


def read_finished(folder: Path, log) -> list[SweepRow]:
    if not (Path(folder) / store.DB_NAME).is_file():
        raise SummaryError(f"{folder}: not a sweep folder (no {store.DB_NAME}); a forecast reads a sweep's store")
    try:
        rows, _, left_out = store.read_runs(Path(folder))
    except StoreError as e:
        raise SummaryError(str(e)) from None
    for line in left_out:
        log(line)
    return [r for r in rows if r.result is not None]


def forecast_store(folder: Path, *, targets: Sequence[float] = (), models: Sequence[str] | None = None,
                   variants: Sequence[str] | None = None, resamples: int = RESAMPLES, holdout: int | None = None,
                   out: Path | None = None, lang: str = "pt", log=lambda line: None) -> StoreForecast:
    """Forecast every (variant, model) of the store; write out/forecast.json and the figures (out: DIR/forecast)."""
    rows = read_finished(Path(folder), log)
    if not rows:
        raise ConfigError(f"{folder}: the store holds no finished run yet")
    result = forecast(rows, model_order({r.model for r in rows}), targets=targets, variants=variants, only=models,
                      resamples=resamples, holdout=holdout)
    labels = run_labels(rows)
    lines = describe(result, labels, lang)
    out = Path(out) if out is not None else Path(folder) / "forecast"
    paths = forecast_figures(result, labels, budget_label(rows, lang), out, lang)
    paths.append(write_atomic(out / "forecast.json", to_json({**result.to_dict(), "findings": lines})))
    return StoreForecast(result, labels, lines, paths)
