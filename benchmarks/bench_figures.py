"""What laying out an image grid costs: `mnistlab explain`'s tiles placed in inches against constrained layout.

    python benchmarks/bench_figures.py --pairs 5

Draws and saves (PNG + PDF, as figures.style.save does) the 16-tile grid of the most confident errors, once with
the tiles placed by figures.style.image_tiles and once with the same tiles in a Figure.subplots grid under
constrained layout (how the grid was drawn before), in alternated pairs; prints each time, the medians and their
ratio.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
import numpy as np  # noqa: E402

from mnistlab.figures.style import image_tiles, new_figure, save, styled  # noqa: E402

TILES, COLS = 16, 8


def _images() -> np.ndarray:
    return np.random.default_rng(0).random((TILES, 28, 28)).astype("float32")


def _fill(axes, images) -> None:
    for i, ax in enumerate(axes):
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"T:{i % 10} P:{(i + 3) % 10}\n0.{90 - i}", fontsize=7, y=1.0, pad=3)


@styled
def tiles(images, folder: Path) -> None:
    fig, axes = image_tiles(TILES, COLS, image=1.2, title=0.3, suptitle="Most confident errors")
    _fill(axes, images)
    save(fig, folder / "tiles")


@styled
def constrained(images, folder: Path) -> None:
    rows = TILES // COLS
    fig, grid = new_figure(figsize=(1.3 * COLS, 1.55 * rows + 0.3), rows=rows, cols=COLS, squeeze=False,
                           layout="constrained")
    for ax in grid.flat:
        ax.axis("off")
    fig.suptitle("Most confident errors", fontsize=10)
    for i, ax in enumerate(grid.flat):  # titles placed by matplotlib, as before
        ax.imshow(images[i], cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"T:{i % 10} P:{(i + 3) % 10}\n0.{90 - i}", fontsize=7)
    save(fig, folder / "constrained")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=5, help="alternated pairs (default 5); the first is a warm-up")
    args = p.parse_args()
    images = _images()
    times: dict[str, list[float]] = {"tiles": [], "constrained": []}
    with tempfile.TemporaryDirectory() as tmp:
        for pair in range(args.pairs + 1):
            for name, draw in (("constrained", constrained), ("tiles", tiles)) if pair % 2 else \
                    (("tiles", tiles), ("constrained", constrained)):
                start = time.perf_counter()
                draw(images, Path(tmp))
                if pair:  # pair 0 imports matplotlib and warms its caches
                    times[name].append(time.perf_counter() - start)
    for name, values in times.items():
        print(f"{name}: {', '.join(f'{v:.3f}' for v in values)} s (median {statistics.median(values):.3f} s)")
    ratio = statistics.median(times["constrained"]) / statistics.median(times["tiles"])
    print(f"tiles are {ratio:.2f}x faster than constrained layout (medians of {args.pairs} alternated pairs)")


if __name__ == "__main__":
    main()
