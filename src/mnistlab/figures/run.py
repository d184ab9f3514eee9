"""Figures of one run: training curves, confusion matrix, per-class recall. One plot per file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mnistlab.figures.style import MARKERS, new_figure, save, styled
from mnistlab.i18n import t
from mnistlab.models.registry import file_stem


@styled
def training_curves(history: dict, name: str, label: str, folder: Path, lang: str = "pt") -> list[Path]:
    """{name}_curves_loss and {name}_curves_acc: train vs val per epoch, as in the notebook (per step for a
    semi-supervised run)."""
    paths = []
    # A semi-supervised run records by steps (one written before counted its records as epochs: its steps are shown).
    x_axis, x_label = ("step", t("step", lang)) if "step" in history else ("epoch", t("epoch", lang))
    for metric, ylabel, suffix in (("loss", t("loss", lang), "loss"), ("acc", t("accuracy", lang), "acc")):
        fig, ax = new_figure()
        ax.plot(history[x_axis], history[f"train_{metric}"], marker="o", ms=3, label=t("train", lang))
        if any(v is not None for v in history.get(f"val_{metric}", [])):
            ax.plot(history[x_axis], history[f"val_{metric}"], marker="s", ms=3, label=t("val", lang))
        ax.set_xlabel(x_label)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{label} — {ylabel}")
        ax.legend()
        paths += save(fig, folder / f"{name}_curves_{suffix}")
    return paths


@styled
def confusion_matrix(cm, name: str, label: str, folder: Path, lang: str = "pt",
                     class_names: list[str] | None = None) -> list[Path]:
    """cm_{name}: counts annotated in each cell, so it reads in black and white too."""
    cm = np.asarray(cm)
    k = cm.shape[0]
    fig, ax = new_figure(figsize=(5.2, 4.6) if class_names is None else (6.4, 5.6))
    im = ax.imshow(cm, interpolation="nearest", cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.grid(False)
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    if class_names is not None:
        ax.set_xticklabels(class_names, rotation=45, ha="right", fontsize=8)
        ax.set_yticklabels(class_names, fontsize=8)
    threshold = cm.max() / 2
    for i in range(k):
        for j in range(k):  # in_layout=False: a count inside its cell never moves the bounding box (~10% faster)
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7, in_layout=False,
                    color="white" if cm[i, j] > threshold else "black")
    ax.set_xlabel(t("predicted", lang))
    ax.set_ylabel(t("true", lang))
    ax.set_title(f"{t('confusion', lang)} — {label}")
    return save(fig, folder / f"cm_{name}")


@styled
def per_class_recall(series: list[dict], title: str, stem: Path, lang: str = "pt") -> list[Path]:
    """Recall of each class vs its number of training examples; series: label, counts[k], recall[k]."""
    fig, ax = new_figure()
    for s, marker in zip(series, MARKERS):
        ax.scatter(s["counts"], s["recall"], marker=marker, label=s["label"], alpha=0.8)
        for digit, (x, y) in enumerate(zip(s["counts"], s["recall"])):
            ax.annotate(str(digit), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel(t("class_freq", lang))
    ax.set_ylabel(t("recall", lang))
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save(fig, stem)


def run_figures(results: list, folder: Path, lang: str = "pt", dataset=None) -> list[Path]:
    """Every figure of a run folder: curves and confusion matrix per model, per-class recall when imbalanced.

    `dataset` (a DatasetSpec) puts its class names on the confusion matrix when they are not the digits."""
    paths: list[Path] = []
    names = dataset.class_names(lang) if dataset is not None else None
    if names is not None and list(names) == [str(d) for d in range(len(names))]:
        names = None  # digits label themselves
    for r in results:
        stem = file_stem(r.model)  # a user model's name is a path: its files get a safe stem
        paths += training_curves(r.history, stem, r.label, folder, lang)
        paths += confusion_matrix(r.confusion, stem, r.label, folder, lang, class_names=names)
        if r.run_config.imbalance:
            recall = [r.report[str(c)]["recall"] for c in range(len(r.train_counts))]
            paths += per_class_recall([{"label": r.label, "counts": r.train_counts, "recall": recall}],
                                      t("per_class_title", lang, model=r.label), folder / f"per_class_{stem}", lang)
    return paths
