"""Interactive notebook controls (ipywidgets) for lessons 03, 06, 07 and 08, each with a plain fallback.

* :func:`augmentation_explorer`  lesson 03: a slider per augmentation strength, redrawing a grid of augmented faces
* :func:`threshold_explorer`     lesson 06: a decision threshold per class, precision and recall on validation
* :func:`smoothing_explorer`     lesson 07: the EMA factor alpha on a recorded sequence of frames: jitter and lag
* :class:`LabelReview`           lesson 08: agree / wrong label / not a face, over the faces the model rejects
* :class:`LiveView`              lesson 07: the live pipeline in an ipywidgets Image, start / stop buttons, FPS

The numbers behind each control are plain functions (:func:`augment_grid`, :func:`threshold_metrics`,
:func:`smoothing_stats`, :func:`review_actions`, :func:`apply_review`) that the tests check and that
the notebooks print from. Every control has a **fallback** that needs no widget frontend (nbval,
CI, a notebook viewer, ``FER_WIDGETS=0``, no ipywidgets installed): a static figure or table for a
few fixed settings, or decisions passed as an argument. Nothing a notebook prints depends on a click.

Figures are drawn with matplotlib's object API (no pyplot state) and shown in the widgets as PNG.
ipywidgets, Keras and OpenCV are imported inside the functions that need them: importing this
module imports neither TensorFlow nor ipywidgets.
"""

from __future__ import annotations

import io
import os
import threading
import time
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from .course import CLASS_NAMES, NUM_CLASSES

#: The augmentation strengths a slider controls, with (min, max, step) (see :mod:`helpers.augmentation`).
STRENGTH_RANGES = {
    "rotation": (0.0, 0.25, 0.01),
    "zoom": (0.0, 0.5, 0.02),
    "translation": (0.0, 0.4, 0.02),
    "contrast": (0.0, 0.9, 0.05),
    "brightness": (0.0, 0.6, 0.05),
}
#: The three choices of :class:`LabelReview` and what each one does to a training face.
REVIEW_CHOICES = {"agree": "keep", "wrong label": "relabel", "not a face": "drop"}


def widgets_enabled() -> bool:
    """True when ipywidgets can be imported and ``FER_WIDGETS`` is not ``0`` (the fallbacks run otherwise)."""
    if os.environ.get("FER_WIDGETS", "1").strip().lower() in {"0", "false", "no", "off"}:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


def _use_widgets(interactive: bool | None) -> bool:
    return widgets_enabled() if interactive is None else bool(interactive and widgets_enabled())


def _display(obj) -> None:
    from IPython.display import display

    display(obj)


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (for an ipywidgets ``Image``); the figure is closed."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _new_figure(figsize: tuple[float, float]):
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


# =========================================================================== lesson 03: augmentation


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

    from .augmentation import augmentation_block

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
    from .augmentation import DEFAULT_AUGMENTATION

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


# =========================================================================== lesson 06: thresholds


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


# =========================================================================== lesson 07: smoothing


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
    from .inference import smooth_probabilities

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
    from .inference import CLASS_COLOURS

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


# =========================================================================== lesson 08: label review


def review_actions(decisions: Mapping[int, str], labels, predicted) -> "pd.DataFrame":
    """What a label review decided, as a relabel-or-drop list.

    Args:
        decisions: image index -> one of :data:`REVIEW_CHOICES` (``"agree"``, ``"wrong label"``,
            ``"not a face"``); images not reviewed are simply absent.
        labels: int ``(N,)`` the images' current labels; predicted: int ``(N,)`` the model's answers
            (a "wrong label" face gets the model's answer as its new label).

    Returns:
        a DataFrame indexed by image index (sorted): ``decision, action`` (keep / relabel / drop),
        ``label``, ``new_label`` (class names; empty for drop).

    Raises:
        ValueError: an unknown decision, an index outside the labels, or "wrong label" where the
            model agrees with the label (nothing to relabel to).
    """
    import pandas as pd

    labels, predicted = np.asarray(labels).astype(int), np.asarray(predicted).astype(int)
    rows = []
    for index, decision in sorted(decisions.items()):
        if decision not in REVIEW_CHOICES:
            raise ValueError(f"Image {index}: unknown decision {decision!r}; use one of {list(REVIEW_CHOICES)}")
        if not 0 <= int(index) < len(labels):
            raise ValueError(f"Image index {index} is outside the {len(labels)} labels")
        action = REVIEW_CHOICES[decision]
        label = CLASS_NAMES[labels[index]]
        if action == "relabel" and predicted[index] == labels[index]:
            raise ValueError(f"Image {index}: 'wrong label', but the model also says {label}; choose 'agree' or 'not a face'")
        new = {"keep": label, "relabel": CLASS_NAMES[predicted[index]], "drop": ""}[action]
        rows.append({"index": int(index), "decision": decision, "action": action, "label": label, "new_label": new})
    return pd.DataFrame(rows, columns=["index", "decision", "action", "label", "new_label"]).set_index("index")


def apply_review(images: np.ndarray, labels, actions: "pd.DataFrame") -> tuple[np.ndarray, np.ndarray]:
    """The training images and labels after a review: relabelled faces get ``new_label``, dropped ones are removed.

    Returns ``(images, labels)`` as new arrays (the inputs are not changed); order is kept.
    """
    labels = np.asarray(labels).astype(np.int64).copy()
    for index, row in actions[actions.action == "relabel"].iterrows():
        labels[index] = CLASS_NAMES.index(row.new_label)
    keep = np.ones(len(labels), bool)
    keep[actions.index[actions.action == "drop"].to_numpy(dtype=int)] = False
    return np.asarray(images)[keep], labels[keep]


def confident_disagreements(probs: np.ndarray, labels, indices: Iterable[int], confidence: float = 0.8) -> dict[int, str]:
    """A stand-in reviewer, for runs without a human: "wrong label" where the model gives its own
    (different) answer at least ``confidence``, else "agree". It never says "not a face"."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    out = {}
    for i in indices:
        guess = int(probs[i].argmax())
        out[int(i)] = "wrong label" if guess != labels[i] and probs[i, guess] >= confidence else "agree"
    return out


def _face_png(face: np.ndarray, size: int = 144) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(face)[:, :, 0].astype(np.uint8)).resize((size, size), Image.NEAREST).save(buffer, "png")
    return buffer.getvalue()


class LabelReview:
    """Review the faces a model rejects, one at a time: agree / wrong label / not a face (lesson 08).

    Args:
        images: uint8 ``(N, 48, 48, 1)``; labels: int ``(N,)``; probs: float ``(N, 7)`` the model's
            probabilities for these images.
        indices: the images to review, in order (e.g. the top of
            :func:`helpers.evaluation.label_rejections`).

    ``decisions`` (index -> choice) fills as the buttons are pressed; :meth:`actions` turns it into
    the relabel-or-drop list (:func:`review_actions`). :meth:`show` displays the widget (nothing
    without ipywidgets or with ``FER_WIDGETS=0``).
    """

    def __init__(self, images: np.ndarray, labels, probs: np.ndarray, indices: Sequence[int]):
        self.images, self.labels, self.probs = np.asarray(images), np.asarray(labels).astype(int), np.asarray(probs)
        self.predicted = self.probs.argmax(1)
        self.indices = [int(i) for i in indices]
        if not self.indices:
            raise ValueError("Nothing to review: pass the indices of at least one image")
        self.decisions: dict[int, str] = {}
        self.position = 0
        self.widget = None

    def decide(self, choice: str) -> None:
        """Record ``choice`` for the current face and move to the next (what each button does)."""
        if choice not in REVIEW_CHOICES:
            raise ValueError(f"Unknown decision {choice!r}; use one of {list(REVIEW_CHOICES)}")
        if self.position >= len(self.indices):
            return
        index = self.indices[self.position]
        if choice == "wrong label" and self.predicted[index] == self.labels[index]:
            choice = "agree"  # nothing to relabel to: the model agrees with the label
        self.decisions[index] = choice
        self.position += 1
        self._refresh()

    def tally(self) -> dict[str, int]:
        """How many faces got each choice so far."""
        return {c: sum(d == c for d in self.decisions.values()) for c in REVIEW_CHOICES}

    def actions(self) -> "pd.DataFrame":
        return review_actions(self.decisions, self.labels, self.predicted)

    def _refresh(self) -> None:
        if self.widget is None:
            return
        done = self.position >= len(self.indices)
        tally = ", ".join(f"{c}: {n}" for c, n in self.tally().items())
        if done:
            self.widget.caption.value = f"<b>All {len(self.indices)} faces reviewed.</b> {tally}"
        else:
            i = self.indices[self.position]
            self.image.value = _face_png(self.images[i])
            self.widget.caption.value = (
                f"face {self.position + 1} of {len(self.indices)} (image {i}): label <b>{CLASS_NAMES[self.labels[i]]}</b> "
                f"({self.probs[i, self.labels[i]]:.2f}), model says <b>{CLASS_NAMES[self.predicted[i]]}</b> "
                f"({self.probs[i, self.predicted[i]]:.2f})<br>so far: {tally}")
        for button in self.buttons:
            button.disabled = done

    def show(self):
        """Display the review widget; returns it (None when widgets are off)."""
        if not widgets_enabled():
            return None
        import ipywidgets as w

        self.image = w.Image(format="png", width=144, height=144)
        self.buttons = [w.Button(description=c, button_style=s) for c, s in
                        zip(REVIEW_CHOICES, ("success", "warning", "danger"))]
        for button in self.buttons:
            button.on_click(lambda b: self.decide(b.description))
        caption = w.HTML()
        self.widget = w.VBox([w.HBox([self.image, caption]), w.HBox(self.buttons)])
        self.widget.caption = caption
        self.widget.add_class("fer-label-review")
        self._refresh()
        _display(self.widget)
        return self.widget


# =========================================================================== lesson 07: live view


def _jpeg(frame: np.ndarray, quality: int = 75) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"Could not encode a frame of shape {np.shape(frame)} as JPEG")
    return data.tobytes()


class LiveView:
    """The live pipeline in JupyterLab without OpenCV windows: an ipywidgets ``Image`` updated in
    place, Start and Stop buttons and the frame rate (lesson 07).

    Args:
        pipeline: a :class:`helpers.inference.EmotionPipeline` (``process(frame) -> (result, annotated)``).
        open_source: called at each start, returns a :class:`helpers.inference.FrameSource`
            (e.g. ``inference.open_camera``; a fresh source each time, because a source is closed
            at the end of a run).
        max_frames: stop after this many frames (None: until Stop or the source ends).

    :meth:`run` processes frames in the calling thread (what the notebook runs, with or without a
    frontend; in Colab the browser camera shows its own frames and Stop button). The Start button
    runs the same loop in a background thread, so that the Stop button stays clickable.
    """

    def __init__(self, pipeline, open_source: Callable[[], object], max_frames: int | None = None, every: int = 1):
        self.pipeline, self.open_source, self.max_frames = pipeline, open_source, max_frames
        self.every = max(1, int(every))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames_done = 0
        self.last_result = None
        self.last_frame: np.ndarray | None = None
        self.error: BaseException | None = None
        self.widget = None

    def show(self):
        """Display Start / Stop, the frame and the FPS; returns the widget (None when widgets are off,
        and in Colab, where the browser camera shows the annotated frames and its own Stop button)."""
        from .inference import in_colab

        if not widgets_enabled() or in_colab():
            return None
        import ipywidgets as w

        self.image = w.Image(format="jpeg", width=480)
        self.start_button = w.Button(description="Start", icon="play", button_style="success")
        self.stop_button = w.Button(description="Stop", icon="stop", button_style="danger", disabled=True)
        self.status = w.Label("press Start")
        self.start_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.widget = w.VBox([w.HBox([self.start_button, self.stop_button, self.status]), self.image])
        self.widget.add_class("fer-live-view")
        _display(self.widget)
        return self.widget

    def _status(self, text: str) -> None:
        if self.widget is not None:
            self.status.value = text

    def run(self, max_frames: int | None = None, keep_every: int | None = None) -> list[np.ndarray]:
        """Process frames here until Stop, the source's end or ``max_frames``; returns the annotated
        frames kept every ``keep_every`` frames (none when None). The widget, if shown, follows."""
        limit = self.max_frames if max_frames is None else max_frames
        kept: list[np.ndarray] = []
        self._stop.clear()
        self.pipeline.reset()
        self.frames_done = 0
        if self.widget is not None:
            self.start_button.disabled, self.stop_button.disabled = True, False
        source = self.open_source()
        try:
            with source:
                for frame in source:
                    result, annotated = self.pipeline.process(frame)
                    source.show(annotated)  # Colab: back to the browser page; elsewhere nothing
                    self.frames_done += 1
                    self.last_result, self.last_frame = result, annotated
                    if self.widget is not None and self.frames_done % self.every == 0:
                        self.image.value = _jpeg(annotated)
                        fps = self.pipeline.fps_meter.fps
                        self._status(f"frame {self.frames_done}, {fps or 0:.1f} FPS, "
                                     + (", ".join(f"{f.label} {f.confidence:.0%}" for f in result.faces) or "no face"))
                    if keep_every and self.frames_done % keep_every == 0:
                        kept.append(annotated)
                    if self._stop.is_set() or (limit is not None and self.frames_done >= limit):
                        break
        finally:
            if self.widget is not None:
                self.start_button.disabled, self.stop_button.disabled = False, True
                self._status(f"stopped after {self.frames_done} frames, {self.pipeline.fps_meter.fps or 0:.1f} FPS")
        return kept

    def _run_safely(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # shown in the widget: a thread's exception is otherwise lost
            self.error = exc
            self._status(f"error: {exc}")

    def start(self) -> None:
        """Run :meth:`run` in a background thread (the Start button); does nothing if already running."""
        if self._thread is not None and self._thread.is_alive():
            return
        self.error = None
        self._thread = threading.Thread(target=self._run_safely, daemon=True, name="fer-live-view")
        self._thread.start()

    def stop(self, wait: float = 5.0) -> None:
        """Ask the loop to stop after the current frame (the Stop button), waiting up to ``wait`` s."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=wait)
