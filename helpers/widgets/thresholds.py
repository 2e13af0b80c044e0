"""Lesson 06: a decision threshold per class, precision and recall on validation."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..course import CLASS_NAMES, NUM_CLASSES
from .core import _display, _new_figure, _use_widgets, figure_png


def threshold_metrics(y_true, probs: np.ndarray, thresholds: Sequence[float] | float) -> "pd.DataFrame":
    """Per class, the rule "class c when p(c) >= t_c" (one class against the rest) scored on ``y_true``.

    Args:
        y_true: int labels ``(N,)`` in CLASS_NAMES order (the **validation** split: thresholds are a choice).
        probs: float ``(N, 7)`` predicted probabilities.
        thresholds: one threshold for all classes, or 7 (CLASS_NAMES order), each in [0, 1].

    Returns:
        a pandas DataFrame indexed by class name: ``threshold, precision, recall, f1, predicted``
        (faces the rule calls that class), ``support`` (faces of that class). Precision is 0
        when the rule predicts no face (scikit-learn's ``zero_division=0``).

    Raises:
        ValueError: shapes that do not match, or a threshold outside [0, 1].
    """
    import pandas as pd

    y_true, probs = np.asarray(y_true).astype(int), np.asarray(probs, dtype=float)
    if probs.ndim != 2 or probs.shape != (len(y_true), NUM_CLASSES):
        raise ValueError(f"probs must be (N, {NUM_CLASSES}) for {len(y_true)} labels; got {probs.shape}")
    t = np.broadcast_to(np.asarray(thresholds, dtype=float), (NUM_CLASSES,)).copy()
    if np.any((t < 0) | (t > 1)) or np.any(np.isnan(t)):
        raise ValueError(f"Thresholds must lie in [0, 1]; got {t.tolist()}")
    predicted = probs >= t
    actual = y_true[:, None] == np.arange(NUM_CLASSES)
    tp = (predicted & actual).sum(0)
    n_pred, support = predicted.sum(0), actual.sum(0)
    precision = np.divide(tp, n_pred, out=np.zeros(NUM_CLASSES), where=n_pred > 0)
    recall = np.divide(tp, support, out=np.zeros(NUM_CLASSES), where=support > 0)
    f1 = np.divide(2 * tp, n_pred + support, out=np.zeros(NUM_CLASSES), where=(n_pred + support) > 0)
    return pd.DataFrame({"threshold": t, "precision": precision, "recall": recall, "f1": f1,
                         "predicted": n_pred, "support": support}, index=pd.Index(CLASS_NAMES, name="class"))


def _threshold_figure(y_true, probs: np.ndarray, cls: int, threshold: float):
    grid = np.linspace(0, 1, 101)
    truth, p = np.asarray(y_true) == cls, np.asarray(probs)[:, cls]
    said = p[None, :] >= grid[:, None]  # (101, N): the rule at each threshold of the grid
    tp, n_said = (said & truth).sum(1), said.sum(1)
    precision = np.divide(tp, n_said, out=np.zeros(len(grid)), where=n_said > 0)
    recall = tp / max(int(truth.sum()), 1)
    at = threshold_metrics(y_true, probs, np.where(np.arange(NUM_CLASSES) == cls, threshold, 0.5)).iloc[cls]
    fig = _new_figure((6, 3.2))
    ax = fig.subplots()
    ax.plot(grid, precision, label="precision")
    ax.plot(grid, recall, label="recall")
    ax.axvline(threshold, color="gray", ls=":")
    ax.set_xlabel(f"threshold on p({CLASS_NAMES[cls]})")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{CLASS_NAMES[cls]}, validation: t = {threshold:.2f}: precision {at.precision:.2f}, "
                 f"recall {at.recall:.2f}", fontsize=9)
    ax.legend(loc="lower left", fontsize=8)
    return fig


def threshold_explorer(split, probs: np.ndarray, start: float = 0.5, fixed: Sequence[float] = (0.25, 0.5, 0.75),
                       interactive: bool | None = None):
    """A decision threshold per class, with precision and recall updating (lesson 06).

    Args:
        split: the :class:`helpers.data.Split` the probabilities belong to; must not be the test
            split (thresholds are chosen on validation; the test split is read once, at the end).
        probs: float ``(N, 7)`` the model's probabilities for ``split.images``.
        start: every class's first threshold; fixed: the thresholds the fallback tabulates.
        interactive: None = widgets when available; False = the fallback.

    Returns:
        the ipywidgets ``VBox`` (``.thresholds`` holds the 7 current values, ``.table`` the HTML,
        ``.slider`` and ``.cls`` the controls), or in the fallback a DataFrame: precision and
        recall per class at each fixed threshold.

    Raises:
        ValueError: the test split, or probabilities that do not match the split.
    """
    import pandas as pd

    if getattr(split, "name", "") == "test":
        raise ValueError("Choose thresholds on the validation split: the test split is read once, at the end "
                         "(helpers.final_test).")
    y = np.asarray(split.labels)
    threshold_metrics(y, probs, start)  # checks shapes and the threshold
    if not _use_widgets(interactive):
        table = pd.concat({f"t={t:g}": threshold_metrics(y, probs, t)[["precision", "recall"]] for t in fixed}, axis=1)
        _display(table.round(3))
        return table

    import ipywidgets as w

    thresholds = np.full(NUM_CLASSES, float(start))
    cls = w.Dropdown(options=[(n, i) for i, n in enumerate(CLASS_NAMES)], value=int(np.flatnonzero(np.bincount(y, minlength=NUM_CLASSES))[0]),
                     description="class")
    slider = w.FloatSlider(value=float(start), min=0.0, max=1.0, step=0.01, description="threshold",
                           continuous_update=False, readout_format=".2f")
    image, table = w.Image(format="png"), w.HTML()

    def redraw(_=None) -> None:
        thresholds[cls.value] = slider.value
        metrics = threshold_metrics(y, probs, thresholds)
        image.value = figure_png(_threshold_figure(y, probs, cls.value, slider.value))
        table.value = metrics.to_html(float_format=lambda v: f"{v:.3f}", classes="fer-thresholds")

    def pick_class(_) -> None:
        slider.unobserve(redraw, names="value")
        slider.value = float(thresholds[cls.value])
        slider.observe(redraw, names="value")
        redraw()

    slider.observe(redraw, names="value")
    cls.observe(pick_class, names="value")
    redraw()
    box = w.VBox([w.HBox([cls, slider]), w.HBox([image, table])])
    box.add_class("fer-threshold-explorer")
    box.thresholds, box.table, box.image, box.slider, box.cls = thresholds, table, image, slider, cls
    _display(box)
    return box
