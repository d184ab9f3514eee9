"""Figures of `mnistlab explain`: t-SNE scatter, Grad-CAM/saliency overlays, most confident errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from mnistlab.figures.style import image_tiles, new_figure, save, styled
from mnistlab.i18n import t


@styled
def tsne_scatter(embedding: np.ndarray, labels: np.ndarray, name: str, label: str, numbers: dict, folder: Path,
                 lang: str = "pt", class_names: list[str] | None = None) -> list[Path]:
    """tsne_{name}: one colour and a legend entry per class; the separation numbers in the title."""
    import matplotlib

    fig, ax = new_figure(figsize=(5.6, 5.0))
    cmap = matplotlib.colormaps["tab10"]
    for c in range(int(labels.max()) + 1):
        m = labels == c
        ax.scatter(embedding[m, 0], embedding[m, 1], s=2, color=cmap(c % 10),
                   label=class_names[c] if class_names else str(c), rasterized=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    ax.set_title(f"{t('tsne_title', lang, model=label)}\n"
                 f"10-NN acc {numbers['knn10_acc']:.3f} · silhouette {numbers['silhouette']:.3f}", fontsize=10)
    ax.legend(markerscale=5, bbox_to_anchor=(1.02, 1), loc="upper left", fontsize=8)
    return save(fig, folder / f"tsne_{name}")


@styled
def heatmap_grid(images, maps, labels, preds, name: str, label: str, method: str, folder: Path,
                 lang: str = "pt") -> list[Path]:
    """gradcam_{name} / saliency_{name}: each image in grey with its map overlaid, true/pred labels above."""
    fig, axes = image_tiles(len(images), min(6, len(images)), image=1.4, title=0.2,
                            suptitle=t(f"{method}_title", lang, model=label))
    for i, ax in enumerate(axes):
        ax.imshow(images[i, 0], cmap="gray", vmin=0, vmax=1)
        ax.imshow(maps[i, 0], cmap="jet", alpha=0.45, vmin=0, vmax=1)
        wrong = labels[i] != preds[i]
        # y given: matplotlib would otherwise measure the axes to place the title (an axis off has nothing to avoid)
        ax.set_title(t("true_pred", lang, t=labels[i], p=preds[i]), fontsize=8, color="red" if wrong else "black",
                     y=1.0, pad=3)
    return save(fig, folder / f"{method}_{name}")


@styled
def misclassified(images, labels: np.ndarray, probs: np.ndarray, name: str, label: str, folder: Path,
                  lang: str = "pt", n: int = 16) -> list[Path]:
    """misclassified_{name}: the n wrong predictions the model was most sure of."""
    preds = probs.argmax(1)
    wrong = np.flatnonzero(preds != labels)
    order = wrong[np.argsort(-probs[wrong, preds[wrong]], kind="stable")][:n]
    fig, axes = image_tiles(len(order), 8, image=1.2, title=0.3, suptitle=t("misclassified_title", lang, model=label))
    for ax, i in zip(axes, order):
        ax.imshow(images[i, 0], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{t('true_pred', lang, t=labels[i], p=preds[i])}\n{probs[i, preds[i]]:.2f}", fontsize=7, y=1.0,
                     pad=3)
    return save(fig, folder / f"misclassified_{name}")
