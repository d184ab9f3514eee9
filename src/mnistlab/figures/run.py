"""Every figure, one plot per file as in the notebook, saved as PNG and vector PDF, readable in print."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from mnistlab.i18n import t

MODEL_LABEL = {"mlp": "MLP", "cnn": "CNN"}


def plt():
    """matplotlib.pyplot with a headless backend, imported only when a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    pyplot.rcParams.update({"figure.figsize": (5.0, 3.6), "font.size": 10, "axes.titlesize": 11,
                            "savefig.dpi": 150, "axes.grid": True, "grid.alpha": 0.3})
    return pyplot


def save(fig, stem: Path) -> list[Path]:
    """Write stem.png and stem.pdf (each via temp file + rename) and close the figure."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    # The tight bounding box, measured once for both files: savefig(bbox_inches="tight") would draw each
    # figure twice per format (12 files in a run: 1.10 s -> 0.79 s).
    if fig.get_layout_engine() is not None:
        fig.draw_without_rendering()  # constrained layout places the axes during a draw
    bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(0.1)
    for ext in ("png", "pdf"):
        final = stem.with_suffix(f".{ext}")
        fd, tmp = tempfile.mkstemp(dir=stem.parent, prefix=f".{stem.name}.", suffix=f".{ext}")
        os.close(fd)
        try:
            fig.savefig(tmp, format=ext, bbox_inches=bbox)
            os.replace(tmp, final)
        finally:
            Path(tmp).unlink(missing_ok=True)
        paths.append(final)
    plt().close(fig)
    return paths


def model_label(model: str, params: int | None = None, lang: str = "pt") -> str:
    label = MODEL_LABEL.get(model, model.upper())
    if not params:
        return label
    count = f"{params:,}".replace(",", "." if lang == "pt" else ",")  # 269.322 in pt, 269,322 in en
    return f"{label} ({count} {t('params', lang)})"


def training_curves(history: dict, model: str, folder: Path, lang: str = "pt") -> list[Path]:
    """{model}_curves_loss and {model}_curves_acc: train vs val per epoch, as in the notebook."""
    pyplot = plt()
    label = MODEL_LABEL.get(model, model)
    paths = []
    for metric, ylabel, suffix in (("loss", t("loss", lang), "loss"), ("acc", t("accuracy", lang), "acc")):
        fig, ax = pyplot.subplots()
        ax.plot(history["epoch"], history[f"train_{metric}"], marker="o", ms=3, label=t("train", lang))
        ax.plot(history["epoch"], history[f"val_{metric}"], marker="s", ms=3, label=t("val", lang))
        ax.set_xlabel(t("epoch", lang))
        ax.set_ylabel(ylabel)
        ax.set_title(f"{label} — {ylabel}")
        ax.legend()
        paths += save(fig, folder / f"{model}_curves_{suffix}")
    return paths


def confusion_matrix(cm, model: str, folder: Path, lang: str = "pt") -> list[Path]:
    """cm_{model}: counts annotated in each cell, so it reads in black and white too."""
    pyplot = plt()
    cm = np.asarray(cm)
    fig, ax = pyplot.subplots(figsize=(5.2, 4.6))
    im = ax.imshow(cm, interpolation="nearest", cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.grid(False)
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    threshold = cm.max() / 2
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > threshold else "black")
    ax.set_xlabel(t("predicted", lang))
    ax.set_ylabel(t("true", lang))
    ax.set_title(f"{t('confusion', lang)} — {MODEL_LABEL.get(model, model)}")
    return save(fig, folder / f"cm_{model}")


def per_class_recall(series: list[dict], title: str, stem: Path, lang: str = "pt") -> list[Path]:
    """Recall of each digit vs its number of training examples; series: label, counts[10], recall[10]."""
    pyplot = plt()
    fig, ax = pyplot.subplots()
    for s, marker in zip(series, "osD^v<>"):
        ax.scatter(s["counts"], s["recall"], marker=marker, label=s["label"], alpha=0.8)
        for digit, (x, y) in enumerate(zip(s["counts"], s["recall"])):
            ax.annotate(str(digit), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel(t("class_freq", lang))
    ax.set_ylabel(t("recall", lang))
    ax.set_title(title)
    ax.legend(fontsize=8)
    return save(fig, stem)
