"""Figures of `mnistlab explain`: t-SNE scatter, Grad-CAM/saliency overlays, most confident errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mnistlab.figures.run import MODEL_LABEL, plt, save
from mnistlab.i18n import t


def tsne_scatter(embedding: np.ndarray, labels: np.ndarray, model: str, numbers: dict, folder: Path,
                 lang: str = "pt") -> list[Path]:
    """tsne_{model}: one colour and a legend entry per digit; the separation numbers in the title."""
    pyplot = plt()
    fig, ax = pyplot.subplots(figsize=(5.6, 5.0))
    cmap = pyplot.get_cmap("tab10")
    for c in range(10):
        m = labels == c
        ax.scatter(embedding[m, 0], embedding[m, 1], s=2, color=cmap(c), label=str(c), rasterized=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_title(f"{t('tsne_title', lang, model=MODEL_LABEL[model])}\n"
                 f"10-NN acc {numbers['knn10_acc']:.3f} · silhouette {numbers['silhouette']:.3f}", fontsize=10)
    ax.legend(markerscale=5, bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
    return save(fig, folder / f"tsne_{model}")


def heatmap_grid(images, maps, labels, preds, model: str, folder: Path, lang: str = "pt") -> list[Path]:
    """gradcam_cnn / saliency_mlp: each digit in grey with its map overlaid, true/pred labels above."""
    pyplot = plt()
    n = len(images)
    cols = min(6, n)
    rows = int(np.ceil(n / cols))
    fig, axes = pyplot.subplots(rows, cols, figsize=(1.5 * cols, 1.7 * rows + 0.3), squeeze=False,
                                layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        ax = axes.flat[i]
        ax.imshow(images[i, 0], cmap="gray", vmin=0, vmax=1)
        ax.imshow(maps[i, 0], cmap="jet", alpha=0.45, vmin=0, vmax=1)
        wrong = labels[i] != preds[i]
        ax.set_title(t("true_pred", lang, t=labels[i], p=preds[i]), fontsize=8, color="red" if wrong else "black")
    key = "gradcam_title" if model == "cnn" else "saliency_title"
    fig.suptitle(t(key, lang, model=MODEL_LABEL[model]), fontsize=10)
    name = "gradcam_cnn" if model == "cnn" else f"saliency_{model}"
    return save(fig, folder / name)


def misclassified(images, labels: np.ndarray, probs: np.ndarray, model: str, folder: Path, lang: str = "pt",
                  n: int = 16) -> list[Path]:
    """misclassified_{model}: the n wrong predictions the model was most sure of."""
    pyplot = plt()
    preds = probs.argmax(1)
    wrong = np.flatnonzero(preds != labels)
    order = wrong[np.argsort(-probs[wrong, preds[wrong]], kind="stable")][:n]
    cols = 8
    rows = max(1, int(np.ceil(len(order) / cols)))
    fig, axes = pyplot.subplots(rows, cols, figsize=(1.3 * cols, 1.55 * rows + 0.3), squeeze=False,
                                layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, order):
        ax.imshow(images[i, 0], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{t('true_pred', lang, t=labels[i], p=preds[i])}\n{probs[i, preds[i]]:.2f}", fontsize=7)
    fig.suptitle(t("misclassified_title", lang, model=MODEL_LABEL[model]), fontsize=10)
    return save(fig, folder / f"misclassified_{model}")
