"""Seeing training happen: learning curves drawn live, a measured time estimate, history plots.

Keras callbacks that :func:`helpers.training.train` adds (:func:`live_curves`, :func:`time_estimate`),
and the plots lesson 05 reads: :func:`plot_history` (loss and accuracy, train against validation)
beside the reference model's recorded curves (:func:`reference_history`). Keras is imported only
inside the callbacks.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where plots can be redrawn in place), False in a terminal or a script."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def live_curves(title: str = "", reference=None, total_epochs: int | None = None, monitor: str = "val_accuracy",
                earlier=None):
    """A Keras callback that redraws loss and accuracy (train and validation) in place after every epoch.

    In Jupyter one figure is updated through an IPython display handle (no pile of plots), drawn by
    :func:`plot_history`: every redraw marks the best epoch so far by ``monitor`` (highest for an
    accuracy, lowest for a loss) with a dotted line in both panels, as ``ModelCheckpoint`` and
    ``EarlyStopping`` with the same ``monitor`` choose it. Elsewhere (a terminal, a test) it prints
    one line per epoch instead, ending with that best epoch. ``reference``: an optional DataFrame
    with ``epoch`` (0-based) and ``val_accuracy`` (e.g. :func:`reference_history`), drawn grey
    behind the accuracy panel. ``total_epochs`` fixes the x axis so the curves grow into it.
    ``earlier``: the epochs a resumed run already did (a DataFrame like :func:`plot_history`'s,
    with ``epoch``), drawn first so the best epoch is chosen over the whole run.
    """
    import keras

    class LiveCurves(keras.callbacks.Callback):
        """Loss and accuracy per epoch, train and validation, redrawn every epoch."""

        def __init__(self):
            super().__init__()
            self.rows: list[dict] = [] if earlier is None else earlier.to_dict("records")
            self.handle = None

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0}}
            self.rows = [r for r in self.rows if r.get("epoch") != epoch] + [row]
            if not in_notebook():
                numbers = "  ".join(f"{k} {row[k]:.3f}" for k in ("loss", "accuracy", "val_loss", "val_accuracy") if k in row)
                best = best_epoch([r.get(monitor, np.nan) for r in self.rows], monitor)
                so_far = f"  (best {monitor} so far: epoch {self.rows[best]['epoch'] + 1})" if best is not None else ""
                print(f"epoch {epoch + 1}{'/' + str(total_epochs) if total_epochs else ''}: {numbers}{so_far}", flush=True)
                return
            import matplotlib.pyplot as plt
            import pandas as pd
            from IPython.display import display

            fig = plot_history(pd.DataFrame(self.rows), title=title, reference=reference, total_epochs=total_epochs,
                               monitor=monitor)
            if self.handle is None:
                self.handle = display(fig, display_id=True)
            else:
                self.handle.update(fig)
            plt.close(fig)

    return LiveCurves()


def best_epoch(values, monitor: str = "val_accuracy") -> int | None:
    """Position (0-based) of the best value of ``monitor`` in ``values``: the highest, or the lowest
    when ``monitor`` names a loss; the first of equal values (as ``ModelCheckpoint(save_best_only=True)``
    and ``EarlyStopping`` keep it); NaN (an epoch without validation) skipped. ``None`` when every
    value is NaN or there are none."""
    values = np.asarray(values, dtype=float)
    if values.size == 0 or np.isnan(values).all():
        return None
    return int(np.nanargmin(values) if "loss" in monitor else np.nanargmax(values))


def time_estimate(epochs: int, steps_per_epoch: int, val_steps: int = 0, measure_steps: int = 8, label: str = "this run",
                  min_seconds: float = 10.0):
    """A Keras callback that times the first training steps and prints how long the whole fit will take.

    It skips the first two steps (the first compiles the model, the second still warms up), times
    at least ``measure_steps`` steps and at least ``min_seconds`` seconds (fewer if the first epoch
    ends sooner) and prints, once: "about N minutes on this machine", counting validation at a
    third of a training step per batch (no backward pass). After the first epoch, if more follow,
    it prints what that epoch really took (validation and plots included) and the time left at that
    pace. Measured, not guessed: a busy or slower computer gets a longer estimate.
    """
    import keras

    class TimeEstimate(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.start = None
            self.done = False
            self.per_step = None
            self.epoch_start = None
            self.first_step = None

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            if self.first_step is None:
                self.first_step = now - (self.epoch_start or now)  # compiling included
            if self.done:
                return
            if self.start is None:
                if batch >= 1:  # after the compiling first step and one warm-up step
                    self.start, self.first = now, batch
                return
            measured = batch - self.first
            last = batch + 1 >= steps_per_epoch
            if measured >= 1 and ((measured >= measure_steps and now - self.start >= min_seconds) or last):
                self.per_step = (now - self.start) / measured
                seconds = self.per_step * epochs * (steps_per_epoch + val_steps / 3)
                print(f"Time estimate for {label}: {self.per_step * 1000:.0f} ms per step x {steps_per_epoch} steps x "
                      f"{epochs} epochs (+ validation): about {format_duration(seconds)} on this machine "
                      f"(measured on {measured} steps).", flush=True)
                self.done = True

        def on_epoch_end(self, epoch, logs=None):
            if epoch != 0 or epochs < 2 or self.epoch_start is None:
                return
            took = time.perf_counter() - self.epoch_start
            compiling = max(0.0, (self.first_step or 0.0) - (self.per_step or 0.0))  # the first step's extra, once
            left = (epochs - 1) * max(took - compiling, 0.0)
            print(f"Epoch 1 took {format_duration(took)} (validation included): about {format_duration(left)} more "
                  f"for the other {epochs - 1} epoch{'s' if epochs > 2 else ''}.", flush=True)

    return TimeEstimate()


def format_duration(seconds: float) -> str:
    """``42`` -> "42 s", ``150`` -> "2.5 minutes", ``7200`` -> "2.0 hours"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} minutes"
    return f"{seconds / 3600:.1f} hours"


def reference_history(path: str | os.PathLike | None = None):
    """The reference model's recorded training curves (``data/fer_reference_history.csv``).

    Columns: ``epoch`` (0-based over all its sittings), ``run`` (the experiment-log run: 5, 6 then
    13), ``run_epoch`` (1-based within that run), ``learning_rate``, ``accuracy`` (on augmented
    training faces, fraction) and ``val_accuracy`` (fraction). Copied from the epoch tables of runs
    5, 6 and 13 in ``data/EXPERIMENTS.md`` (108 epochs; runs 6 and 13 each started from the previous
    run's best epoch); losses were not recorded there, so there are none.

    Raises:
        FileNotFoundError: the CSV is missing.
    """
    import pandas as pd

    path = Path(path) if path else Path(__file__).resolve().parents[1] / "data" / "fer_reference_history.csv"
    if not path.is_file():
        raise FileNotFoundError(f"No reference history at {path} (it ships with the course in data/).")
    return pd.read_csv(path)


def plot_history(history, title: str | None = None, reference=None, total_epochs: int | None = None,
                 monitor: str = "val_accuracy"):
    """Learning curves: loss and accuracy per epoch, train vs validation (two panels).

    ``history``: the DataFrame :func:`train` returns (or a Keras ``History``/its dict).
    ``reference``: a DataFrame with ``epoch`` (0-based) and ``val_accuracy`` (and ``accuracy``),
    e.g. :func:`reference_history`, drawn grey in the accuracy panel for comparison.
    ``total_epochs``: the x axis spans this many epochs (a live plot grows into it).
    ``monitor``: the column that decides the best epoch (:func:`best_epoch`: highest accuracy,
    lowest loss), marked by a dotted line in both panels and named, with its epoch, in the
    accuracy panel's title and the legends; no line when ``history`` has no such column.
    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    if hasattr(history, "history"):
        history = history.history
    df = history if isinstance(history, pd.DataFrame) else pd.DataFrame(history)
    df = df.reset_index(drop=True)
    epochs = (df["epoch"] + 1) if "epoch" in df else pd.Series(range(1, len(df) + 1))
    best = best_epoch(df[monitor], monitor) if monitor in df else None
    best_label = None if best is None else f"best epoch by {monitor}: {int(epochs.iloc[best])}"
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, metric in zip(axes, ("loss", "accuracy")):
        if metric in df:
            ax.plot(epochs, df[metric], "o-", label="train", ms=3)
        if f"val_{metric}" in df:
            ax.plot(epochs, df[f"val_{metric}"], "s-", label="validation", ms=3)
        if best is not None:
            ax.axvline(epochs.iloc[best], color="grey", ls=":", lw=1, label=best_label)
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs, no 0.5 ticks
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if reference is not None:
        span = int(total_epochs or len(df))
        ref = reference[reference["epoch"] < max(span, 1)]
        axes[1].plot(ref["epoch"] + 1, ref["val_accuracy"], color="#888", lw=1, ls="--",
                     label="reference model, validation (full mode)")
        axes[1].legend(fontsize=8)
    if total_epochs:
        for ax in axes:
            ax.set_xlim(0.5, total_epochs + 0.5)
    if best is not None:
        axes[1].set_title(f"accuracy (dotted line: {best_label})")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
