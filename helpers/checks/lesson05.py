"""Lesson 05 · Training with Adam: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .core import _short, describe_keras, exercise


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
    hint="keras.optimizers.Adam(learning_rate=...) and keras.losses.CategoricalCrossentropy(label_smoothing=...): "
         "the model ends in a softmax, so from_logits stays False.",
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
    hint="Keras' rule: y_smooth = one_hot * (1 - s) + s / 7 (every class, the true one included, gets s/7).",
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
    hint="the loss of one face is -ln(probability the model gives its TRUE class); the batch loss is the mean.",
)
def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean categorical cross-entropy of probabilities (N, 7) against integer labels (N,), natural log."""
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    return float(-np.log(probs[np.arange(len(labels)), labels]).mean())


def _range_curve(kind: int) -> tuple[np.ndarray, np.ndarray]:
    """A made-up learning-rate range test: flat, falling, a minimum, then divergence."""
    lrs = np.geomspace(1e-6, 1.0, 100)
    x = np.log10(lrs)
    centre, width = (-3.0, -2.5, -3.5)[kind], (0.5, 0.4, 0.6)[kind]
    fall = 1 / (1 + np.exp(-(x - centre) / (width / 2)))
    blow = np.exp(np.clip((x - (centre + 1.4)) * 3, -30, 5)) - 1
    loss = 1.95 - 0.9 * fall + np.where(x > centre + 1.4, blow, 0) + 0.01 * np.sin(7 * x)
    return lrs, loss


def _verify_learning_rate(args: tuple, got: Any) -> str | None:
    lrs, losses = args
    try:
        lr = float(got)
    except (TypeError, ValueError):
        return f"expected one learning rate (a float), got {_short(got)}"
    lowest = int(np.argmin(losses))
    drop = losses[0] - losses[lowest]
    falling = np.flatnonzero(losses[:lowest] < losses[0] - 0.1 * drop)
    low_end = lrs[falling[0]] if falling.size else lrs[0]
    high_end = lrs[lowest] / 2
    if low_end <= lr <= high_end:
        return None
    where = ("at or past the lowest loss: the steps there are already too large, and the loss climbs soon after"
             if lr > high_end else "before the loss starts to fall: too small to learn within the budget")
    return (f"chose {lr:.3g}; a good choice here lies between {low_end:.3g} (where the loss starts falling) and "
            f"{high_end:.3g} (half the rate of the lowest loss, {lrs[lowest]:.3g}); {where}.")


@exercise(
    cases=lambda: [_range_curve(0), _range_curve(1), _range_curve(2)],
    verify=_verify_learning_rate,
    wrong_answers=[
        lambda lrs, losses: float(lrs[np.argmin(losses)]),  # the lowest loss: too late
        lambda lrs, losses: float(lrs[0]),  # the smallest rate tried
        lambda lrs, losses: float(lrs[np.argmax(losses)]),  # where it diverged
        lambda lrs, losses: float(lrs[np.argmin(losses)] * 3),
    ],
    hint="look for where the (smoothed) loss falls fastest, on the way down to its minimum, not at the minimum "
         "itself; two common rules: the steepest point, or a tenth of the rate at the minimum.",
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


def _tiny_model():
    """A small network that learns (or memorises) a few hundred 48x48 pictures in seconds."""
    import keras

    from ..course import seed_everything

    seed_everything(0)
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=4, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x), name="tiny")


def _fit_cases() -> list[tuple]:
    return [(_tiny_model(), _easy_faces(60, 1), _easy_faces(8, 2), 10, 1e-2),
            (_tiny_model(), _easy_faces(60, 3), _easy_faces(8, 4), 10, 5e-3)]  # hidden: another rate and draw


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
    hint="model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.CategoricalCrossentropy(), "
         "metrics=['accuracy']); then return model.fit(train.images, helpers.training.one_hot(train.labels), "
         "validation_data=(val.images, helpers.training.one_hot(val.labels)), epochs=epochs, callbacks=[...]).",
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


def _plotted_lines(fig: Any) -> list[np.ndarray]:
    return [np.asarray(line.get_ydata(), dtype=float) for ax in fig.axes for line in ax.get_lines()]


def _verify_plot(args: tuple, got: Any) -> str | None:
    import matplotlib.figure

    (history,) = args
    if not isinstance(got, matplotlib.figure.Figure):
        return f"expected a matplotlib Figure (fig, axes = plt.subplots(1, 2); ...; return fig), got {type(got).__name__}"
    lines = _plotted_lines(got)
    missing = [c for c in ("loss", "val_loss", "accuracy", "val_accuracy")
               if not any(y.shape == (len(history),) and np.allclose(y, history[c]) for y in lines)]
    if missing:
        return f"no curve in the figure has the values of history[{missing[0]!r}] (missing: {', '.join(missing)})"
    loss_axes = [ax for ax in got.axes if any(np.allclose(l.get_ydata(), history["loss"]) for l in ax.get_lines()
                                              if len(l.get_ydata()) == len(history))]
    if any(any(np.allclose(l.get_ydata(), history["accuracy"]) for l in ax.get_lines() if len(l.get_ydata()) == len(history))
           for ax in loss_axes):
        return "loss and accuracy are in the same panel: their scales differ, give each its own axes"
    return None


def _wrong_plot(columns: tuple[str, ...], one_panel: bool = False):
    def plot(history):
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 1 if one_panel else 2)
        axes = [axes, axes] if one_panel else axes
        for column in columns:
            axes[0 if "loss" in column else 1].plot(history[column].to_numpy())
        plt.close(fig)
        return fig

    return plot


@exercise(
    cases=_history_cases,
    verify=_verify_plot,
    wrong_answers=[_wrong_plot(("loss", "accuracy")), _wrong_plot(("val_loss", "val_accuracy")),
                   _wrong_plot(("loss", "val_loss", "accuracy", "val_accuracy"), one_panel=True)],
    hint="two panels (plt.subplots(1, 2)): loss and val_loss in the first, accuracy and val_accuracy in the second, "
         "against the epoch; label the curves; return the figure.",
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
    return [(_tiny_model(), images, rng.integers(0, 7, 32), 40), (_tiny_model(), images[:16], rng.integers(0, 7, 16), 40)]


def _verify_overfit(args: tuple, got: Any) -> str | None:
    model, images, labels, steps = args
    try:
        accuracy = float(got)
    except (TypeError, ValueError):
        return f"expected the accuracy on the batch (a float), got {_short(got)}"
    truth = float(np.mean(np.asarray(model.predict(images, verbose=0)).argmax(axis=1) == labels))
    if abs(truth - accuracy) > 0.02:
        return f"returned {accuracy:.3f}, but the model now gets {truth:.3f} of the batch right: return what it measured"
    if truth < 0.9:
        return (f"after {steps} steps the model gets only {truth:.3f} of the batch right: training on the same faces "
                "again and again should memorise them. Look at: the learning rate, that every step uses the SAME batch, "
                "the labels (one-hot)")
    return None


def _wrong_overfit(lr: float = 1e-2, fresh_noise: bool = False, predicted: bool = False):
    def overfit(model, images, labels, steps):
        import keras

        from ..training import one_hot

        model.compile(optimizer=keras.optimizers.Adam(lr), loss="categorical_crossentropy", metrics=["accuracy"])
        rng = np.random.default_rng(0)
        for _ in range(steps):
            batch = rng.integers(0, 256, images.shape).astype(np.uint8) if fresh_noise else images
            model.train_on_batch(batch, one_hot(labels))
        if predicted:
            return 1.0
        return float(np.mean(model.predict(images, verbose=0).argmax(axis=1) == labels))

    return overfit


@exercise(
    cases=_overfit_cases,
    verify=_verify_overfit,
    wrong_answers=[_wrong_overfit(lr=1e-6), _wrong_overfit(fresh_noise=True), _wrong_overfit(lr=1e-6, predicted=True)],
    hint="compile with Adam (learning rate 1e-2 works for this small batch), then `steps` times "
         "model.train_on_batch(images, one_hot(labels)); finally measure the accuracy on the same images with "
         "model.predict (argmax per row against labels).",
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
