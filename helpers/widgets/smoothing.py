"""Lesson 07: the EMA factor alpha on a recorded sequence of frames: jitter and lag."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..course import CLASS_NAMES, NUM_CLASSES
from .core import _display, _new_figure, _use_widgets, figure_png


def smoothing_stats(probs: np.ndarray, alpha: float, change_at: int | None = None) -> dict:
    """Jitter, label changes and lag of the EMA (:func:`helpers.inference.smooth_probabilities`) with ``alpha``.

    Args:
        probs: float ``(T, 7)`` per-frame probabilities of one face (a recorded sequence).
        alpha: EMA weight of the newest frame, in (0, 1]; 1 = no smoothing.
        change_at: the first frame after a real change (another person), or None.

    Returns:
        ``{"alpha", "jitter"`` (mean L1 change of the 7 probabilities from frame to frame),
        ``"label_changes"`` (times the top class changes), ``"lag"`` (frames after ``change_at``
        until the smoothed top class is the one most frequent in the raw frames after the change,
        and stays; None when it never settles or without ``change_at``), ``"smoothed"`` (T, 7)}.

    Raises:
        ValueError: ``alpha`` outside (0, 1], or probabilities not ``(T, 7)``.
    """
    from ..inference import smooth_probabilities

    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 2 or probs.shape[1] != NUM_CLASSES or len(probs) < 2:
        raise ValueError(f"probs must be (T, {NUM_CLASSES}) with T >= 2 frames; got {probs.shape}")
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1] (1 = no smoothing); got {alpha}")
    smoothed = smooth_probabilities(probs, alpha)
    labels = smoothed.argmax(1)
    lag = None
    if change_at is not None and 0 < change_at < len(probs):
        target = np.bincount(probs[change_at:].argmax(1), minlength=NUM_CLASSES).argmax()
        wrong = np.flatnonzero(labels[change_at:] != target)
        lag = 0 if len(wrong) == 0 else (int(wrong[-1]) + 1 if wrong[-1] + 1 < len(labels) - change_at else None)
    return {"alpha": float(alpha), "jitter": float(np.abs(np.diff(smoothed, axis=0)).sum(1).mean()),
            "label_changes": int((np.diff(labels) != 0).sum()), "lag": lag, "smoothed": smoothed}


def _smoothing_figure(probs: np.ndarray, alpha: float, change_at: int | None, classes: Sequence[int]):
    from ..drawing import CLASS_COLOURS

    stats = smoothing_stats(probs, alpha, change_at)
    fig = _new_figure((7, 3))
    ax = fig.subplots()
    for c in classes:
        colour = np.array(CLASS_COLOURS[c][::-1]) / 255
        ax.plot(probs[:, c], color=colour, alpha=0.3, lw=1)
        ax.plot(stats["smoothed"][:, c], color=colour, lw=2, label=CLASS_NAMES[c])
    if change_at is not None:
        ax.axvline(change_at - 0.5, color="k", ls=":", lw=1)
    lag = "never settles" if stats["lag"] is None else f"lag {stats['lag']} frames"
    ax.set_title(f"alpha = {alpha:.2f}: jitter {stats['jitter']:.3f} per frame, label changes {stats['label_changes']}, "
                 + (lag if change_at is not None else ""), fontsize=9)
    ax.set_xlabel("frame (thin: raw, thick: smoothed; dotted: the change)")
    ax.set_ylabel("probability")
    ax.legend(fontsize=8)
    return fig


def smoothing_explorer(probs: np.ndarray, change_at: int | None = None, start: float = 0.3,
                       fixed: Sequence[float] = (1.0, 0.5, 0.3, 0.1), interactive: bool | None = None):
    """The smoothing factor alpha on a recorded sequence: raw and smoothed curves, jitter and lag (lesson 07).

    Args:
        probs: float ``(T, 7)`` per-frame probabilities; change_at: see :func:`smoothing_stats`.
        start: the slider's first alpha; fixed: the alphas the fallback draws and tabulates.
        interactive: None = widgets when available; False = the fallback.

    Returns:
        the ipywidgets ``VBox`` (``.slider``, ``.image``, ``.stats`` the latest numbers), or in the
        fallback a DataFrame of jitter, label changes and lag per fixed alpha (and one figure each).
    """
    import pandas as pd

    probs = np.asarray(probs, dtype=float)
    smoothing_stats(probs, start, change_at)  # checks the input
    classes = list(np.argsort(probs.std(0))[::-1][:3])
    if not _use_widgets(interactive):
        rows = {}
        for a in fixed:
            _display(_smoothing_figure(probs, a, change_at, classes))
            s = smoothing_stats(probs, a, change_at)
            rows[a] = {"jitter": s["jitter"], "label_changes": s["label_changes"], "lag": s["lag"]}
        table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("alpha")
        _display(table.round(4))
        return table

    import ipywidgets as w

    slider = w.FloatSlider(value=float(start), min=0.05, max=1.0, step=0.05, description="alpha",
                           continuous_update=False, readout_format=".2f")
    image = w.Image(format="png")
    box = w.VBox([slider, image])

    def redraw(_=None) -> None:
        box.stats = {k: v for k, v in smoothing_stats(probs, slider.value, change_at).items() if k != "smoothed"}
        image.value = figure_png(_smoothing_figure(probs, slider.value, change_at, classes))

    slider.observe(redraw, names="value")
    redraw()
    box.add_class("fer-smoothing-explorer")
    box.slider, box.image = slider, image
    _display(box)
    return box
