"""Lesson 05 · Training with Adam: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .core import _short, describe_keras, exercise
from .quiz import Question, questions


def _optimizer_loss_signature(pair: Any) -> tuple:
    try:
        optimizer, loss = pair
        config = loss.get_config()
        return (type(optimizer).__name__, round(float(np.asarray(optimizer.learning_rate)), 9), type(loss).__name__,
                round(float(config.get("label_smoothing", 0.0)), 9), bool(config.get("from_logits", False)))
    except Exception as exc:  # not a pair of Keras objects
        return ("not an (optimizer, loss) pair", repr(exc))


def _same_optimizer_loss(expected: Any, got: Any) -> bool:
    return _optimizer_loss_signature(expected) == _optimizer_loss_signature(got)


@exercise(
    cases=lambda: [(1e-3, 0.0), (3e-4, 0.1), (1e-2, 0.05)],
    compare=_same_optimizer_loss,
    wrong_answers=[
        lambda lr, s: (__import__("keras").optimizers.SGD(lr), __import__("keras").losses.CategoricalCrossentropy(label_smoothing=s)),
        lambda lr, s: (__import__("keras").optimizers.Adam(lr), __import__("keras").losses.SparseCategoricalCrossentropy()),
        lambda lr, s: (__import__("keras").optimizers.Adam(lr), __import__("keras").losses.CategoricalCrossentropy(from_logits=True, label_smoothing=s)),
        lambda lr, s: (__import__("keras").optimizers.Adam(lr), __import__("keras").losses.CategoricalCrossentropy()),
    ],
    hint="Keras has a class for each: Adam among the optimizers, categorical cross-entropy among the losses; "
         "give them the learning rate and the label smoothing. The model ends in a softmax: it outputs "
         "probabilities, not logits.",
)
def make_optimizer_and_loss(learning_rate: float, label_smoothing: float):
    """``(optimizer, loss)`` for compile: Adam at ``learning_rate``, categorical cross-entropy with label smoothing."""
    import keras

    return (keras.optimizers.Adam(learning_rate=learning_rate),
            keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing))


@exercise(
    cases=lambda: [(np.array([0, 3, 6]), 0.1), (np.array([1, 1, 2, 5]), 0.0), (np.arange(7), 0.2), (np.array([4]), 1.0)],
    wrong_answers=[
        lambda y, s: np.eye(7)[y] * (1 - s),  # the removed mass is not given back
        lambda y, s: np.eye(7)[y] * (1 - s) + s / 6,  # spread over 6 classes (sum is not 1)
        lambda y, s: np.where(np.eye(7)[y] == 1, 1 - s, s / 7),  # the true class misses its share s/7
    ],
    hint="label smoothing takes the share s away from the true class and spreads it evenly over all 7 classes,"
         " the true one included: every row still sums to 1.",
)
def smoothed_targets(labels: np.ndarray, smoothing: float) -> np.ndarray:
    """One-hot targets (N, 7) with label smoothing ``smoothing``, as CategoricalCrossentropy uses them."""
    return np.eye(7)[np.asarray(labels)] * (1 - smoothing) + smoothing / 7


@exercise(
    cases=lambda: [
        (np.full((4, 7), 1 / 7), np.array([0, 3, 6, 1])),
        (np.array([[0.7, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03], [0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1]]), np.array([0, 4])),
        (np.random.default_rng(5).dirichlet(np.ones(7), 50), np.random.default_rng(6).integers(0, 7, 50)),
    ],
    wrong_answers=[
        lambda p, y: float(-np.log(p[np.arange(len(y)), y]).sum()),  # summed, not averaged
        lambda p, y: float(-np.log10(p[np.arange(len(y)), y]).mean()),  # log base 10
        lambda p, y: float(-np.log(p.max(axis=1)).mean()),  # the predicted class, not the true one
    ],
    hint="the loss of one face is minus the natural log of the probability the model gives its TRUE class; the "
         "batch loss is the mean over the faces.",
)
def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean categorical cross-entropy of probabilities (N, 7) against integer labels (N,), natural log."""
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    return float(-np.log(probs[np.arange(len(labels)), labels]).mean())


def _ema(values: np.ndarray) -> np.ndarray:
    """The smoothing :func:`helpers.tuning.lr_range_test` applies: EMA with beta 0.9, bias-corrected."""
    out, smooth = np.empty(len(values)), 0.0
    for step, value in enumerate(values):
        smooth = 0.9 * smooth + 0.1 * value
        out[step] = smooth / (1 - 0.9 ** (step + 1))
    return out


def _range_curve(centre: float, width: float, turn_up: bool = True, noise: float = 0.0, steps: int = 100,
                 seed: int = 0, drop: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """A made-up learning-rate range test from 1e-6 to 1: ``(learning rates, smoothed losses)``, ``steps`` each.

    Flat near ln 7, then a fall of ``drop`` centred at ``10**centre`` (``width`` decades wide). With
    ``turn_up`` the loss climbs again 1.4 decades past the centre (it diverges); without it, it stays
    nearly flat to the largest rate, drifting down a little, so the lowest loss is at the end (what
    lesson 05's workshop network does). ``noise``: the standard deviation of the loss from batch to
    batch, smoothed as :func:`helpers.tuning.lr_range_test` smooths it.
    """
    lrs = np.geomspace(1e-6, 1.0, steps)
    x = np.log10(lrs)
    fall = 1 / (1 + np.exp(-(x - centre) / (width / 2)))
    loss = 1.95 - drop * fall + 0.01 * np.sin(7 * x)
    if turn_up:
        loss = loss + np.where(x > centre + 1.4, np.exp(np.clip((x - (centre + 1.4)) * 3, -30, 5)) - 1, 0)
    else:
        loss = loss - 0.03 * np.clip(x - (centre + 1.0), 0, None)  # a slow drift down to the end: no turn-up
    if noise:
        loss = _ema(loss + np.random.default_rng(seed).normal(0, noise, steps))
    return lrs, loss


def _range_cases() -> list[tuple]:
    return [_range_curve(-3.0, 0.5), _range_curve(-2.5, 0.4), _range_curve(-3.5, 0.6),
            _range_curve(-3.0, 0.8, turn_up=False),  # hidden: flat to the largest rate (minimum at the end)
            _range_curve(-3.3, 0.8, turn_up=False, noise=0.1, seed=2, drop=0.45),  # hidden: the same, noisy, like a real one
            _range_curve(-3.2, 0.6, noise=0.1, steps=60, seed=2)]  # hidden: noisy, 60 steps (quick mode), turns up


def _slopes(lrs: np.ndarray, losses: np.ndarray, half: float = 0.4) -> np.ndarray:
    """Slope of the loss per decade of learning rate: a straight line fitted over +-``half`` decades around
    each point (NaN where that window does not fit inside the range: one-sided windows are too noisy)."""
    x, out = np.log10(lrs), np.full(len(lrs), np.nan)
    for i in np.flatnonzero((x - half >= x[0] - 1e-9) & (x + half <= x[-1] + 1e-9)):
        near = np.abs(x - x[i]) <= half
        if near.sum() >= 3:
            out[i] = np.polyfit(x[near], losses[near], 1)[0]
    return out


def _falling_range(lrs: np.ndarray, losses: np.ndarray) -> tuple[float, float, float]:
    """How the check reads a range test: ``(start of the fall, steepest point, end of the fall)``, learning rates.

    The slope is the loss's change per decade of learning rate, a straight line fitted over +-0.4
    decades (so that batch-to-batch noise does not decide). The fall is the stretch around the
    steepest point (between the highest loss before the lowest and the lowest) where the loss falls at
    least a quarter as fast as there. It ends at the latest where 90 % of the drop from the highest to
    the lowest loss is done, and at half the rate of the lowest loss.
    """
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    lowest = int(np.argmin(losses))
    top = int(np.argmax(losses[: lowest + 1]))
    slope = _slopes(lrs, losses)
    part = np.arange(top, lowest + 1)
    if np.all(np.isnan(slope[part])):  # too few points to read a slope: accept the way down to half the minimum's rate
        return float(lrs[top]), float(lrs[top]), float(lrs[lowest] / 2)
    steepest = int(part[np.nanargmin(slope[part])])
    falls = slope < 0.25 * slope[steepest]  # NaN (no full window) counts as not falling
    start, end = steepest, steepest
    while start > top and falls[start - 1]:
        start -= 1
    while end < lowest and falls[end + 1]:
        end += 1
    nearly_down = losses[lowest] + 0.1 * (losses[top] - losses[lowest])
    end = min(end, steepest + int(np.argmax(losses[steepest:] <= nearly_down)))
    return float(lrs[start]), float(lrs[steepest]), float(min(lrs[end], lrs[lowest] / 2))


def _verify_learning_rate(args: tuple, got: Any) -> str | None:
    lrs, losses = (np.asarray(a, dtype=float) for a in args)
    try:
        lr = float(got)
    except (TypeError, ValueError):
        return f"expected one learning rate (a float), got {_short(got)}"
    low, steepest, high = _falling_range(lrs, losses)
    if low <= lr <= high:
        return None
    lowest = int(np.argmin(losses))
    top = int(np.argmax(losses[: lowest + 1]))
    if lowest >= len(losses) - 3 or losses[lowest:].max() < losses[lowest] + 0.05:
        shape = (f"it never turns up within the range: its lowest point is at or near the largest rate tried "
                 f"({lrs[lowest]:.3g}), so a rate derived from that minimum (a tenth of it, say) says nothing about "
                 "where the network learns")
    else:
        shape = f"it turns up after its lowest point ({lrs[lowest]:.3g}): past there the steps overshoot"
    where = ("past the end of the fall: the loss no longer falls fast there, and a whole run spends many more steps "
             "at that rate than the test did" if lr > high else "before the fall starts: too small to learn within the budget")
    return (f"chose {lr:.3g}, {where}.\n"
            f"  Reading this curve: the loss falls from {losses[top]:.3f} (at {lrs[top]:.3g}) to {losses[lowest]:.3f} "
            f"(at {lrs[lowest]:.3g}), fastest at {steepest:.3g}; {shape}.\n"
            f"  A good choice lies in the fall: between {low:.3g} and {high:.3g} here.")


def _steepest_between_neighbours(lrs, losses):  # the slope between neighbouring points: noise decides on a real curve
    lowest = int(np.argmin(losses))
    return float(lrs[int(np.argmin(np.diff(losses[: lowest + 1]) / np.diff(np.log10(lrs[: lowest + 1]))))])


@exercise(
    cases=_range_cases,
    verify=_verify_learning_rate,
    wrong_answers=[
        lambda lrs, losses: float(lrs[np.argmin(losses)] / 10),  # "a tenth of the minimum": too large when it never turns up
        lambda lrs, losses: float(lrs[np.argmin(losses)]),  # the lowest loss: too late
        lambda lrs, losses: float(lrs[0]),  # the smallest rate tried
        lambda lrs, losses: float(lrs[np.argmax(losses)]),  # where it diverged
        lambda lrs, losses: float(lrs[np.argmin(losses)] * 3),
        _steepest_between_neighbours,
    ],
    hint="read the curve: where does the (smoothed) loss fall fastest on its way down? Choose a rate there, not at "
         "the minimum, nor derived from it: when the loss never turns up within the range, its minimum sits at the "
         "largest rate tried and says nothing about where learning happens. Real curves are noisy: measure a slope "
         "over several points, not between neighbours.",
)
def pick_learning_rate(lrs: np.ndarray, losses: np.ndarray) -> float:
    """A learning rate from a range test: where the smoothed loss falls fastest, before its minimum."""
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    lowest = int(np.argmin(losses))
    top = int(np.argmax(losses[: lowest + 1]))  # where the fall starts: the highest loss before the lowest
    if lowest - top < 4:  # no descent recorded before the minimum: a tenth of its rate
        return float(lrs[lowest] / 10)
    x, k = np.log10(lrs), max(1, (lowest - top) // 8)  # the slope over +-k points: robust to noise from batch to batch
    i = np.arange(top + k, lowest - k + 1)
    slope = (losses[i + k] - losses[i - k]) / (x[i + k] - x[i - k])
    steepest = lrs[i[int(np.argmin(slope))]]
    return float(min(steepest, lrs[lowest] / 3))


def _easy_faces(n_per_class: int, seed: int):
    """A made-up, easy 7-class problem: the class sets the brightness of the picture (plus noise)."""
    from ..splits import Split

    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(7), n_per_class))
    images = np.clip(20 + 33 * labels[:, None, None, None] + rng.normal(0, 6, (len(labels), 48, 48, 1)), 0, 255)
    return Split(f"easy faces {seed}", images.astype(np.uint8), labels)


def _tiny_model(dropout: float = 0.0):
    """A small network that learns (or memorises) a few hundred 48x48 pictures in seconds.

    ``dropout``: the rate of a Dropout layer before the classifier (none if 0); with a high rate the
    accuracy measured in training mode (dropout on) is clearly below the model's accuracy in use.
    """
    import keras

    from ..course import seed_everything

    seed_everything(0)
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=4, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    if dropout:
        x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x), name="tiny_dropout" if dropout else "tiny")


def _fit_cases() -> list[tuple]:
    from ..course import seed_everything

    cases = [(_tiny_model(), _easy_faces(60, 1), _easy_faces(8, 2), 10, 1e-2),
             (_tiny_model(), _easy_faces(60, 3), _easy_faces(8, 4), 10, 5e-3)]  # hidden: another rate and draw
    seed_everything(0)  # fit's shuffling starts from one state, whatever the notebook drew before the check
    return cases


def _verify_fit(args: tuple, got: Any) -> str | None:
    import keras

    model, train, val, epochs, learning_rate = args
    if not isinstance(got, keras.callbacks.History):
        return f"expected the History that model.fit returns, got {type(got).__name__}"
    optimizer, loss = model.optimizer, model.loss
    if not isinstance(optimizer, keras.optimizers.Adam):
        return f"the model was compiled with {describe_keras(optimizer) or optimizer!r}; the exercise asks for Adam"
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    loss_name = getattr(loss, "__name__", type(loss).__name__).lower().replace("_", "")
    if "categoricalcrossentropy" not in loss_name or "sparse" in loss_name:
        return f"the loss is {describe_keras(loss) or loss!r}; the exercise asks for CategoricalCrossentropy (one-hot labels)"
    if getattr(loss, "get_config", lambda: {})().get("from_logits"):
        return "the loss has from_logits=True, but the network ends in a softmax: it outputs probabilities"
    history = got.history
    if "val_accuracy" not in history:
        return (f"the history has {sorted(history)}: no 'val_accuracy'. Pass validation_data=(val images, one-hot "
                "labels) to fit, and metrics=['accuracy'] to compile")
    ln7, baseline = math.log(7), float(np.bincount(val.labels, minlength=7).max() / len(val))
    losses, best = np.asarray(history["loss"], float), float(np.max(history["val_accuracy"]))
    if len(losses) < 2:
        return f"only {len(losses)} epoch ran; fit for the epochs asked ({epochs})"
    if not losses.min() < 0.7 * ln7:
        return (f"the training loss went {losses[0]:.3f} -> {losses[-1]:.3f} (ln 7 = {ln7:.3f} is guessing): the network "
                "did not learn this easy problem. Look at: the learning rate (is it the one passed in?), the labels "
                "(one-hot, CLASS_NAMES order), that fit gets the training images and their labels, the epochs")
    if best <= baseline + 0.2:
        return (f"training loss fell to {losses.min():.3f} but the best validation accuracy is {best:.3f} (always "
                f"guessing one class: {baseline:.3f}). Look at: validation_data (the val images with THEIR labels)")
    return None


def _wrong_fit(optimizer: str = "adam", lr_factor: float = 1.0, loss: str = "cce", validate: bool = True):
    def fit(model, train, val, epochs, learning_rate):
        import keras

        from ..training import one_hot

        opt = keras.optimizers.Adam(learning_rate * lr_factor) if optimizer == "adam" else keras.optimizers.SGD(learning_rate * lr_factor)
        lossf = {"cce": keras.losses.CategoricalCrossentropy(), "logits": keras.losses.CategoricalCrossentropy(from_logits=True),
                 "mse": keras.losses.MeanSquaredError()}[loss]
        model.compile(optimizer=opt, loss=lossf, metrics=["accuracy"])
        extra = dict(validation_data=(val.images, one_hot(val.labels))) if validate else {}
        return model.fit(train.images, one_hot(train.labels), epochs=epochs, batch_size=32, verbose=0, **extra)

    return fit


@exercise(
    cases=_fit_cases,
    verify=_verify_fit,
    wrong_answers=[_wrong_fit(optimizer="sgd"), _wrong_fit(lr_factor=1e-4), _wrong_fit(loss="logits"),
                   _wrong_fit(loss="mse"), _wrong_fit(validate=False)],
    hint="two steps. Compile: Adam at the learning rate given, categorical cross-entropy (the labels are "
         "one-hot), accuracy as a metric. Fit: the training images with their one-hot labels, validating on "
         "the validation images with THEIR one-hot labels, for the epochs given (callbacks are your choice). "
         "Return what fit returns.",
)
def compile_and_fit(model, train, val, epochs: int, learning_rate: float):
    """Compile `model` (Adam, categorical cross-entropy, accuracy) and fit it on `train`, validating on `val`.

    Returns the History that ``model.fit`` returns.
    """
    import keras

    from ..training import one_hot

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.CategoricalCrossentropy(),
                  metrics=["accuracy"])
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=3, restore_best_weights=True)]
    return model.fit(train.images, one_hot(train.labels), validation_data=(val.images, one_hot(val.labels)),
                     epochs=epochs, batch_size=32, callbacks=callbacks, verbose=0)


def _history_cases() -> list[tuple]:
    import pandas as pd

    epochs = np.arange(1, 9)
    good = pd.DataFrame({"loss": 1.9 / epochs ** 0.3, "accuracy": 0.3 + 0.04 * epochs,
                         "val_loss": 1.95 / epochs ** 0.25, "val_accuracy": 0.28 + 0.035 * epochs})
    return [(good,), (good.iloc[:3].copy(),)]


def _values(data: Any) -> np.ndarray | None:
    try:
        return np.asarray(data, dtype=float)
    except (TypeError, ValueError):  # e.g. dates or strings on an axis
        return None


def _curve(fig: Any, values: Any) -> Any:
    """The first line in ``fig`` whose y values are ``values`` (a history column), or None."""
    want = np.asarray(values, dtype=float)
    for ax in fig.axes:
        for line in ax.get_lines():
            y = _values(line.get_ydata())
            if y is not None and y.shape == want.shape and np.allclose(y, want):
                return line
    return None


def _verify_plot(args: tuple, got: Any) -> str | None:
    import matplotlib.figure

    (history,) = args
    if not isinstance(got, matplotlib.figure.Figure):
        return f"expected a matplotlib Figure (make the figure and its two panels, draw, return the figure), got {type(got).__name__}"
    n = len(history)
    lines = {c: _curve(got, history[c]) for c in ("loss", "val_loss", "accuracy", "val_accuracy")}
    missing = [c for c, line in lines.items() if line is None]
    if missing:
        return f"no curve in the figure has the values of history[{missing[0]!r}] (missing: {', '.join(missing)})"
    if lines["loss"].axes is lines["accuracy"].axes:
        return "loss and accuracy are in the same panel: their scales differ, give each its own panel"
    for metric in ("loss", "accuracy"):
        train, val = lines[metric], lines[f"val_{metric}"]
        if train.axes is not val.axes:
            return (f"{metric} and val_{metric} are in different panels: draw them in the same one, so that the gap "
                    "between training and validation shows")
        for column, line in ((metric, train), (f"val_{metric}", val)):
            x = _values(line.get_xdata())
            if x is not None and x.shape == (n,) and np.allclose(x, np.arange(n)):
                return (f"history[{column!r}] is drawn against 0 .. {n - 1} (the row index): the x values should be the "
                        f"epoch numbers 1 .. {n}, as Keras counts them ('Epoch 1/{n}')")
            if x is None or x.shape != (n,) or not np.allclose(x, np.arange(1, n + 1)):
                shown = "?" if x is None else ", ".join(f"{v:g}" for v in x[:5]) + (", ..." if x.size > 5 else "")
                return f"history[{column!r}] is drawn against x = [{shown}]; the x values should be the epochs 1 .. {n}"
        labels = (train.get_label(), val.get_label())
        if any(label.startswith("_") for label in labels):
            return (f"the {metric} curves have no labels (got {labels[0]!r} and {labels[1]!r}, matplotlib's defaults): "
                    "give each curve a label that says train or validation, and show a legend")
        if labels[0] == labels[1]:
            return f"the training and validation {metric} curves have the same label ({labels[0]!r}): a reader cannot tell them apart"
        ax = train.axes
        if ax.get_legend() is None and not got.legends:
            return f"the {metric} panel has labelled curves ({labels[0]!r}, {labels[1]!r}) but no legend: show it"
        if "epoch" not in ax.get_xlabel().lower():
            return f"the {metric} panel's x axis is labelled {ax.get_xlabel()!r}: name it (epoch)"
        if not ax.get_ylabel().strip():
            return f"the {metric} panel's y axis has no label: say what it shows ({metric})"
    return None


def _wrong_plot(columns: tuple[str, ...] = ("loss", "val_loss", "accuracy", "val_accuracy"), one_panel: bool = False,
                x_from: int = 1, labels: bool = True, legend: bool = True, axis_labels: bool = True):
    def plot(history):
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 1 if one_panel else 2)
        axes = [axes, axes] if one_panel else axes
        for column in columns:
            ax = axes[0 if "loss" in column else 1]
            label = ("validation" if column.startswith("val_") else "train") if labels else None
            ax.plot(np.arange(x_from, x_from + len(history)), history[column].to_numpy(), label=label)
        for ax, metric in zip(axes, ("loss", "accuracy")):
            if legend and labels:
                ax.legend()
            if axis_labels:
                ax.set(xlabel="epoch", ylabel=metric)
        plt.close(fig)
        return fig

    return plot


def _plot_against_index(history):  # pandas' own plot: the row index on x, no axis names
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2)
    history[["loss", "val_loss"]].plot(ax=left)
    history[["accuracy", "val_accuracy"]].plot(ax=right)
    plt.close(fig)
    return fig


@exercise(
    cases=_history_cases,
    verify=_verify_plot,
    wrong_answers=[_wrong_plot(("loss", "accuracy")), _wrong_plot(("val_loss", "val_accuracy")), _wrong_plot(one_panel=True),
                   _wrong_plot(legend=False), _wrong_plot(labels=False), _wrong_plot(x_from=0), _wrong_plot(axis_labels=False),
                   _plot_against_index],
    hint="two panels side by side: training and validation loss in the first, training and validation accuracy in the "
         "second. The x values are the epoch numbers 1, 2, ..., n (as Keras counts them), not the row index 0 .. n-1. "
         "Label each curve (train, validation) and show a legend; name both axes (x: epoch, y: the metric); return "
         "the figure.",
)
def plot_curves(history):
    """Learning curves of a history DataFrame (columns loss, accuracy, val_loss, val_accuracy); returns the figure."""
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, metric in ((left, "loss"), (right, "accuracy")):
        ax.plot(epochs, history[metric], "o-", label="train")
        ax.plot(epochs, history[f"val_{metric}"], "s-", label="validation")
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        ax.legend()
    fig.tight_layout()
    plt.close(fig)
    return fig


def _fit_story(kind: str, n: int = 12):
    import pandas as pd

    e = np.arange(1, n + 1, dtype=float)
    if kind == "overfitting":  # validation loss turns up after epoch 5 while training loss keeps falling
        loss, val = 1.8 * np.exp(-e / 4) + 0.2, 1.2 + 0.02 * (e - 5) ** 2
    elif kind == "underfitting":  # both still falling at the end, validation best at the last epoch
        loss, val = 1.9 - 0.05 * e, 1.92 - 0.045 * e
    else:  # good fit: validation levels off at its minimum, then rises by less than 5 %
        loss, val = 1.0 + 0.9 * np.exp(-e / 2), 1.1 + 0.8 * np.exp(-e / 2) + 0.004 * np.maximum(0, e - n + 4)
    return (pd.DataFrame({"loss": loss, "val_loss": val, "accuracy": 1 - loss / 2.5, "val_accuracy": 1 - val / 2.5}),)


@exercise(
    cases=lambda: [_fit_story("overfitting"), _fit_story("underfitting"), _fit_story("good fit"),
                   _fit_story("overfitting", 20), _fit_story("underfitting", 4)],
    wrong_answers=[
        lambda h: "overfitting" if (h["accuracy"] - h["val_accuracy"]).iloc[-1] > 0.0 else "good fit",  # any gap
        lambda h: "underfitting" if h["loss"].iloc[-1] < h["loss"].iloc[-2] else "good fit",  # train loss only
        lambda h: "overfitting" if h["val_loss"].iloc[-1] > h["val_loss"].iloc[0] else "underfitting",
    ],
    hint="compare the LAST epoch with the BEST validation epoch: validation loss clearly (5 %) above its minimum "
         "-> overfitting; the minimum is at the last epoch and both losses still falling -> underfitting; "
         "otherwise a good fit.",
)
def diagnose_fit(history) -> str:
    """'overfitting', 'underfitting' or 'good fit', from a history DataFrame (loss, val_loss per epoch)."""
    val, loss = history["val_loss"].to_numpy(float), history["loss"].to_numpy(float)
    best = int(np.argmin(val))
    if val[-1] > 1.05 * val[best]:
        return "overfitting"
    if best == len(val) - 1 and len(val) > 1 and loss[-1] < loss[-2] and val[-1] < val[-2]:
        return "underfitting"
    return "good fit"


def _overfit_cases() -> list[tuple]:
    rng = np.random.default_rng(11)
    images = rng.integers(0, 256, (32, 48, 48, 1)).astype(np.uint8)
    return [(_tiny_model(), images, rng.integers(0, 7, 32), 40), (_tiny_model(), images[:16], rng.integers(0, 7, 16), 40),
            # hidden: 90 % dropout, so a training step's own accuracy (dropout on, before its update) is clearly lower
            (_tiny_model(dropout=0.9), images, rng.integers(0, 7, 32), 60)]


def _verify_overfit(args: tuple, got: Any) -> str | None:
    model, images, labels, steps = args
    try:
        accuracy = float(got)
    except (TypeError, ValueError):
        return f"expected the accuracy on the batch (a float), got {_short(got)}"
    truth = float(np.mean(np.asarray(model.predict(images, verbose=0)).argmax(axis=1) == labels))
    if abs(truth - accuracy) > 0.02:
        dropout = [l.rate for l in model.layers if type(l).__name__ == "Dropout"]
        return (f"returned {accuracy:.3f}, but the model now gets {truth:.3f} of the batch right (predict, as it answers "
                "in use): measure on the batch after the last step and return that. The accuracy a training step "
                "reports is taken in training mode" + (f" (this model drops {dropout[0] * 100:.0f} % of its features then)" if dropout else "")
                + " and before that step's update")
    if truth < 0.9:
        return (f"after {steps} steps the model gets only {truth:.3f} of the batch right: training on the same faces "
                "again and again should memorise them. Look at: the learning rate, that every step uses the SAME batch, "
                "the labels (one-hot)")
    return None


def _wrong_overfit(lr: float = 1e-2, fresh_noise: bool = False, predicted: bool = False, training_metric: bool = False):
    def overfit(model, images, labels, steps):
        import keras

        from ..training import one_hot

        model.compile(optimizer=keras.optimizers.Adam(lr), loss="categorical_crossentropy", metrics=["accuracy"])
        rng = np.random.default_rng(0)
        for _ in range(steps):
            batch = rng.integers(0, 256, images.shape).astype(np.uint8) if fresh_noise else images
            logs = model.train_on_batch(batch, one_hot(labels), return_dict=True)
        if predicted:
            return 1.0
        if training_metric:  # the last step's own accuracy: training mode, before its update
            return float(logs["accuracy"])
        return float(np.mean(model.predict(images, verbose=0).argmax(axis=1) == labels))

    return overfit


@exercise(
    cases=_overfit_cases,
    verify=_verify_overfit,
    wrong_answers=[_wrong_overfit(lr=1e-6), _wrong_overfit(fresh_noise=True), _wrong_overfit(lr=1e-6, predicted=True),
                   _wrong_overfit(training_metric=True)],
    hint="compile with Adam (a large rate such as 1e-2 suits this tiny job) and train on the SAME batch, steps"
         " times; then measure how much of that batch the model gets right as it answers in use (predict). The"
         " accuracy that a training step reports is another number: measured in training mode (dropout on, "
         "batch statistics) and before that step's update.",
)
def overfit_one_batch(model, images: np.ndarray, labels: np.ndarray, steps: int) -> float:
    """Train `model` on this one batch `steps` times (Adam) and return its accuracy on that batch afterwards."""
    import keras

    from ..training import one_hot

    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    targets = one_hot(labels)
    for _ in range(steps):
        model.train_on_batch(images, targets)
    return float(np.mean(model.predict(images, verbose=0).argmax(axis=1) == np.asarray(labels)))


from . import lesson05_step  # noqa: E402,F401  (registers training_step: one step with a GradientTape)

questions("05", [
    Question("An untrained network gives each of the 7 classes probability 1/7. What is its cross-entropy loss "
             "(natural log)?", answer=1.946, tolerance=0.01, why="-ln(1/7) = ln 7 = 1.946, whatever the true class is."),
    Question("With label smoothing 0.1, what is the target for the TRUE class of a face?", answer=0.9143, tolerance=0.001,
             why="1 - 0.1 + 0.1 / 7 = 0.9143; each of the other six classes gets 0.1 / 7 = 0.0143, and the row sums to 1."),
    Question("In your training step, which call changes the model's weights?",
             options=("`model(images, training=True)`", "`tape.gradient(loss, model.trainable_weights)`",
                      "`optimizer.apply_gradients(...)`"), answer="c",
             why="the forward pass only computes (in training mode it also updates batch norm's moving averages), the tape "
                 "only computes gradients; the optimizer applies them (Adam: a step of about the learning rate per weight)."),
    Question("Your network learns one batch of 64 faces by heart (accuracy 1.0 on it) but validation stays near the "
             "majority class. What does that show?",
             options=("the setup is broken", "the loop, labels and loss work; memorising 64 faces teaches nothing general",
                      "the learning rate is too small"), answer="b",
             why="overfitting one batch is a test of the plumbing; generalising needs all the faces (and augmentation)."),
    Question("Which split chooses the epoch to keep (early stopping, the checkpoint)?",
             options=("training", "validation", "test"), answer="b",
             why="choices are made on validation; the test split is read once, at the end (lesson 06)."),
])
