"""Choosing training settings by measuring them: the learning-rate range test and the precision.

:func:`lr_range_test` trains a compiled model for a few batches at a rising learning rate and
puts it back as it was (lesson 05 picks a rate from :func:`plot_lr_range`); :func:`choose_precision`
times float32 against mixed bfloat16 on this machine.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .course import NUM_CLASSES, SEED
from .splits import Split
from .training import compile_model, one_hot


# --------------------------------------------------------------------------- learning-rate range test


def lr_range_test(model, split: Split, start: float = 1e-6, end: float = 1.0, steps: int = 100, batch_size: int = 64,
                  seed: int = SEED, stop_factor: float = 4.0):
    """Loss against a rising learning rate (Smith 2015, "Cyclical learning rates"; fast.ai's ``lr_find``).

    Trains ``model`` (compiled, e.g. by :func:`compile_model`) for up to ``steps`` mini-batches of
    ``split``, raising the learning rate geometrically from ``start`` to ``end``, and records the
    loss of each batch. Stops early once the loss exceeds ``stop_factor`` times the lowest so far
    (it has diverged). The model's weights and optimiser are put back afterwards, so the same model
    can then be trained from its start.

    Returns a DataFrame: ``learning_rate``, ``loss`` (per batch) and ``smoothed`` (exponential
    moving average, beta 0.9, bias-corrected), one row per step run.

    Raises:
        ValueError: the model is not compiled, or ``steps < 5``, or ``start >= end``.
    """
    import keras
    import pandas as pd

    if getattr(model, "optimizer", None) is None:
        raise ValueError("lr_range_test needs a compiled model: call helpers.training.compile_model(model) first.")
    if steps < 5 or not 0 < start < end:
        raise ValueError(f"need steps >= 5 and 0 < start < end (got steps={steps}, start={start}, end={end})")
    weights = [w.numpy() if hasattr(w, "numpy") else np.asarray(w) for w in model.get_weights()]
    old_lr = float(np.asarray(model.optimizer.learning_rate))
    rng = np.random.default_rng(seed)
    index = rng.choice(len(split), size=min(len(split), steps * batch_size), replace=len(split) < steps * batch_size)
    rows, smooth, best = [], 0.0, math.inf
    factor = (end / start) ** (1 / (steps - 1))
    for step in range(steps):
        lr = start * factor ** step
        model.optimizer.learning_rate.assign(lr)
        chunk = index[(step * batch_size) % len(index):][:batch_size]
        if len(chunk) < batch_size:
            chunk = np.concatenate([chunk, index[: batch_size - len(chunk)]])
        loss = float(np.asarray(model.train_on_batch(split.images[chunk], one_hot(split.labels[chunk]), return_dict=True)["loss"]))
        smooth = 0.9 * smooth + 0.1 * loss
        smoothed = smooth / (1 - 0.9 ** (step + 1))
        rows.append({"learning_rate": lr, "loss": loss, "smoothed": smoothed})
        best = min(best, smoothed)
        if not math.isfinite(loss) or smoothed > stop_factor * best:
            break
    model.set_weights(weights)
    for v in model.optimizer.variables:  # forget the test's moments and step count (the rate is set below)
        v.assign(keras.ops.zeros_like(v))
    model.optimizer.learning_rate.assign(old_lr)
    return pd.DataFrame(rows)


def plot_lr_range(result, chosen: float | None = None, title: str = "learning-rate range test"):
    """Plot :func:`lr_range_test`'s loss (per batch and smoothed) against the learning rate, log x axis.

    ``chosen``: a learning rate to mark with a vertical line. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.plot(result["learning_rate"], result["loss"], color="#bbb", lw=1, label="loss per batch")
    ax.plot(result["learning_rate"], result["smoothed"], color="#36c", lw=2, label="smoothed")
    ax.axhline(math.log(NUM_CLASSES), color="grey", ls="--", lw=1, label="ln 7 (guessing)")
    if chosen:
        ax.axvline(chosen, color="#c63", lw=1.5, label=f"chosen {chosen:.2g}")
    ax.set(xscale="log", xlabel="learning rate (rising each batch)", ylabel="training loss", title=title)
    top = float(np.nanpercentile(result["smoothed"], 95)) if len(result) else 3.0
    ax.set_ylim(0, max(top * 1.3, math.log(NUM_CLASSES) * 1.2))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- precision


def training_speed(build, images: np.ndarray, labels: np.ndarray, precision: str = "float32", batch_size: int = 64,
                   steps: int = 5, seconds: float | None = None) -> float:
    """Training images per second of a model from ``build()`` under a Keras dtype policy, on this machine.

    Sets the global policy to ``precision`` (``"float32"``, ``"mixed_bfloat16"``, ``"mixed_float16"``)
    while building, times ``steps`` steps after two warm-up steps (with ``seconds``: as many steps
    as fit in about that many seconds, at least ``steps``), and restores the previous policy.
    """
    import keras

    old = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(precision)
    try:
        model = compile_model(build())
        x, y = images[:batch_size], one_hot(labels[:batch_size])
        for _ in range(2):
            model.train_on_batch(x, y)
        start, done = time.perf_counter(), 0
        while done < steps or (seconds is not None and time.perf_counter() - start < seconds):
            model.train_on_batch(x, y)
            done += 1
        return done * batch_size / (time.perf_counter() - start)
    finally:
        keras.config.set_dtype_policy(old)


def choose_precision(build, images: np.ndarray, labels: np.ndarray, steps: int = 5, margin: float = 1.1) -> tuple[str, dict]:
    """Measure float32 against mixed_bfloat16 here and return ``(faster policy, {policy: images/s})``.

    bfloat16 is chosen only when it is at least ``margin`` times faster (CPUs with AMX or
    AVX512-BF16, TPUs); on other CPUs it is emulated and slower. Does not set the policy: call
    ``keras.config.set_dtype_policy(choice)`` before building the model you train.
    """
    speeds = {p: training_speed(build, images, labels, p, steps=steps) for p in ("float32", "mixed_bfloat16")}
    choice = "mixed_bfloat16" if speeds["mixed_bfloat16"] >= margin * speeds["float32"] else "float32"
    return choice, speeds
