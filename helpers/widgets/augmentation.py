"""Lesson 03: a slider per augmentation strength, redrawing a grid of augmented faces."""

from __future__ import annotations

import time
from typing import Mapping, Sequence

import numpy as np

from .core import _display, _new_figure, _use_widgets, figure_png


#: The augmentation strengths a slider controls, with (min, max, step) (see :mod:`helpers.augmentation`).
STRENGTH_RANGES = {
    "rotation": (0.0, 0.25, 0.01),
    "zoom": (0.0, 0.5, 0.02),
    "translation": (0.0, 0.4, 0.02),
    "contrast": (0.0, 0.9, 0.05),
    "brightness": (0.0, 0.6, 0.05),
}


def augment_grid(faces: np.ndarray, strengths: Mapping[str, float | bool], versions: int = 5, seed: int = 0) -> np.ndarray:
    """``versions`` augmented copies of each face, with the course's block at the given strengths.

    Args:
        faces: uint8 or float ``(n, 48, 48, 1)``, pixels 0-255.
        strengths: keyword arguments of :func:`helpers.augmentation.augmentation_block`
            (``flip``, ``rotation``, ``zoom``, ``translation``, ``contrast``, ``brightness``); missing
            ones are 0 / off.
        versions: copies per face; seed: the block's seed (the same seed gives the same grid).

    Returns:
        float32 ``(n, versions, 48, 48, 1)``, pixels clipped to 0-255.

    Raises:
        ValueError: an unknown strength name, or a negative strength.
    """
    import keras

    from ..augmentation import augmentation_block

    known = {"flip", *STRENGTH_RANGES}
    unknown = set(strengths) - known
    if unknown:
        raise ValueError(f"Unknown augmentation strength(s) {sorted(unknown)}; use {sorted(known)}")
    bad = {k: v for k, v in strengths.items() if k != "flip" and float(v) < 0}
    if bad:
        raise ValueError(f"Augmentation strengths must be >= 0 (0 = off); got {bad}")
    settings = {"flip": False, **{k: 0.0 for k in STRENGTH_RANGES}, **strengths}
    block = augmentation_block(**settings, seed=seed)
    x = np.asarray(faces, dtype="float32")
    copies = [np.clip(keras.ops.convert_to_numpy(block(x, training=True)), 0, 255) for _ in range(versions)]
    return np.stack(copies, axis=1).astype("float32")


def augmentation_figure(faces: np.ndarray, strengths: Mapping[str, float | bool], versions: int = 5, seed: int = 0,
                        title: str | None = None):
    """One row per face: the original, then ``versions`` augmented copies (a matplotlib Figure)."""
    grid = augment_grid(faces, strengths, versions, seed)
    n = len(grid)
    fig = _new_figure((1.3 * (versions + 1), 1.35 * n + 0.4))
    axes = fig.subplots(n, versions + 1, squeeze=False)
    for i in range(n):
        for j, image in enumerate([np.asarray(faces[i], "float32"), *grid[i]]):
            ax = axes[i, j]
            ax.imshow(image[:, :, 0], cmap="gray", vmin=0, vmax=255)
            ax.axis("off")
            if i == 0:
                ax.set_title("original" if j == 0 else f"copy {j}", fontsize=8)
    described = ", ".join(f"{k} {v:g}" if k != "flip" else f"flip {'on' if v else 'off'}" for k, v in strengths.items())
    fig.suptitle(title or described, fontsize=9)
    return fig


def augmentation_explorer(faces: np.ndarray, start: Mapping[str, float | bool] | None = None, versions: int = 5,
                          seed: int = 0, fixed: Sequence[Mapping[str, float | bool]] | None = None,
                          interactive: bool | None = None):
    """Sliders for each augmentation strength, redrawing a grid of augmented faces (lesson 03).

    Args:
        faces: a few uint8 faces ``(n, 48, 48, 1)`` (3 to 5 read best).
        start: the sliders' first position (default :data:`helpers.augmentation.DEFAULT_AUGMENTATION`).
        fixed: the settings the **fallback** draws, one figure each (default: all off, the course's
            defaults, twice the defaults).
        interactive: None = widgets when available (:func:`widgets_enabled`); False = the fallback.

    Returns:
        the ipywidgets ``VBox`` (its ``.image`` is the grid, ``.sliders`` the controls), or, in the
        fallback, the list of matplotlib figures drawn.
    """
    from ..augmentation import DEFAULT_AUGMENTATION

    start = dict(DEFAULT_AUGMENTATION if start is None else start)
    if not _use_widgets(interactive):
        if fixed is None:
            fixed = [{"flip": False, **{k: 0.0 for k in STRENGTH_RANGES}}, dict(DEFAULT_AUGMENTATION),
                     {**DEFAULT_AUGMENTATION, **{k: min(2 * float(DEFAULT_AUGMENTATION[k]), STRENGTH_RANGES[k][1])
                                                 for k in STRENGTH_RANGES}}]
        figures = [augmentation_figure(faces, s, versions, seed) for s in fixed]
        for fig in figures:
            _display(fig)
        return figures

    import ipywidgets as w

    sliders = {name: w.FloatSlider(value=float(start.get(name, 0.0)), min=lo, max=hi, step=step, description=name,
                                   continuous_update=False, readout_format=".2f")
               for name, (lo, hi, step) in STRENGTH_RANGES.items()}
    flip = w.Checkbox(value=bool(start.get("flip", True)), description="horizontal flip")
    image = w.Image(format="png")
    status = w.Label()

    def redraw(_=None) -> None:
        strengths = {"flip": flip.value, **{k: s.value for k, s in sliders.items()}}
        t0 = time.perf_counter()
        image.value = figure_png(augmentation_figure(faces, strengths, versions, seed))
        status.value = f"redrawn in {time.perf_counter() - t0:.2f} s"

    for control in (*sliders.values(), flip):
        control.observe(redraw, names="value")
    redraw()
    box = w.VBox([w.HBox([w.VBox(list(sliders.values())[:3]), w.VBox([*list(sliders.values())[3:], flip])]), image, status])
    box.add_class("fer-augmentation-explorer")
    box.image, box.sliders, box.flip, box.redraw = image, sliders, flip, redraw
    _display(box)
    return box
