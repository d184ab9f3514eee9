"""How every figure is made and saved: an explicit Figure on the Agg canvas, the house style in an
rc_context, PNG + vector PDF written whole. pyplot, the backend and the user's rcParams are never touched."""
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mnistlab.atomic import current_umask
from mnistlab.i18n import integer, t

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

# text.parse_math off: a label is shown as written ("$\foo{$" is text, not a formula matplotlib fails on)
STYLE: dict[RcKeyType, Any] = {"font.size": 10, "axes.titlesize": 11, "axes.grid": True, "grid.alpha": 0.3,
                               "text.parse_math": False}
DPI = 150
MARKERS = "osD^v<>ph*"
LINESTYLES = ["-", "--", ":", "-."]


def styled(draw):
    """Run a figure function inside the house style; rcParams outside stay as the user set them."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


def new_canvas(figsize=(5.0, 3.6), layout: Literal["constrained", "compressed", "tight"] | None = None):
    """A Figure on the Agg canvas: no pyplot, so nothing shows up in a notebook's inline display."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    return fig


def new_figure(figsize=(5.0, 3.6), rows: int = 1, cols: int = 1, **kwargs):
    """(Figure, axes) on the Agg canvas, the axes from Figure.subplots."""
    fig = new_canvas(figsize, kwargs.pop("layout", None))
    return fig, fig.subplots(rows, cols, **kwargs)


def image_tiles(n: int, cols: int, image: float, title: float, suptitle: str):
    """(Figure, axes): n image tiles `image` inches square in rows of `cols`, `title` inches above each for its
    title, the suptitle above all. Placed in inches rather than by a layout engine, which measures every tile's
    title on every draw (16 tiles drawn and saved: 1.57 s under constrained layout, 0.40 s placed so;
    benchmarks/bench_figures.py); save() trims the margins."""
    gap, top = 0.08, 0.3
    rows = max(1, -(-n // cols))
    width, height = cols * (image + gap), top + rows * (title + image + gap)
    fig = new_canvas((width, height))
    fig.suptitle(suptitle, fontsize=10, y=1 - 0.05 / height, va="top")
    axes = []
    for i in range(n):
        row, col = divmod(i, cols)
        bottom = height - top - (row + 1) * (title + image + gap) + gap
        ax = fig.add_axes((col * (image + gap) / width, bottom / height, image / width, image / height))
        ax.axis("off")
        axes.append(ax)
    return fig, axes


def save(fig, stem: Path) -> list[Path]:
    """Write stem.png and stem.pdf (each via temp file + rename)."""
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
        if hasattr(os, "fchmod"):  # mkstemp makes 0600; give the mode a plain open() would, as write_atomic does
            os.fchmod(fd, 0o666 & ~current_umask())
        os.close(fd)
        try:
            fig.savefig(tmp, format=ext, bbox_inches=bbox, dpi=DPI)
            os.replace(tmp, final)
        finally:
            Path(tmp).unlink(missing_ok=True)
        paths.append(final)
    return paths


def model_label(label: str, params: int | None = None, lang: str = "pt") -> str:
    """'CNN (206.922 parâmetros)': a model's label with its parameter count, as each language writes it."""
    if not params:
        return label
    return f"{label} ({integer(params, lang)} {t('params', lang)})"
