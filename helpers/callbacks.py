"""Two additions to Keras' callbacks for the course's runs: a cosine learning-rate schedule and a
training budget (a number of seconds or steps after which ``fit`` stops).

Both are plain Keras objects: ``keras.callbacks.LearningRateScheduler(cosine_schedule(...))`` and
``model.fit(..., callbacks=[training_budget(seconds=45)])``. Lessons reach them as
``helpers.training.cosine_schedule`` and ``helpers.training.training_budget`` too.
"""

from __future__ import annotations

import math
import time
from typing import Any


def cosine_schedule(base_lr: float, epochs: int, min_fraction: float = 0.02):
    """Epoch -> learning rate: half a cosine from ``base_lr`` down to ``min_fraction * base_lr``."""

    def schedule(epoch: int, lr: float | None = None) -> float:
        t = min(epoch, max(epochs - 1, 1)) / max(epochs - 1, 1)
        return float(base_lr * (min_fraction + (1 - min_fraction) * 0.5 * (1 + math.cos(math.pi * t))))

    return schedule


def training_budget(seconds: float | None = None, max_steps: int | None = None, progress: Any = None):
    """A Keras callback that stops ``fit`` once a training budget is spent: ``seconds`` or ``max_steps``.

    Keras 3 has no time limit among its callbacks (``EarlyStopping`` watches a metric), hence this one.
    Only the training steps count, each from ``on_train_batch_begin`` to ``on_train_batch_end``
    (wall-clock seconds, ``time.perf_counter``); the first step, which compiles the model, counts as
    a step but not its time; validation and epoch ends are not counted either. So models compared
    under the same ``seconds`` get the same time to learn, whatever their compiling and validation
    cost. Keras still validates the epoch in which the budget ran out (``fit`` runs validation
    after a stopped epoch), so a run always ends with a validation score.

    Args:
        seconds: training seconds at most (checked after every step, so a run overshoots by less
            than one step); ``None``: no time limit.
        max_steps: training steps at most, the first included; ``None``: no step limit.
        progress: a tqdm bar (or anything with ``update(n)``), advanced by the counted seconds
            (or by steps when only ``max_steps`` is set).

    Returns:
        A ``keras.callbacks.Callback``. After ``fit`` its attributes say what was spent: ``steps``
        (training steps run), ``seconds`` (counted training seconds) and ``first_step_seconds``
        (the compiling first step).

    Raises:
        ValueError: neither limit given, or a negative one.
    """
    import keras

    if seconds is None and max_steps is None:
        raise ValueError("training_budget needs seconds=... or max_steps=... (or both)")
    if (seconds is not None and seconds < 0) or (max_steps is not None and max_steps < 1):
        raise ValueError(f"seconds must be >= 0 and max_steps >= 1 (got seconds={seconds}, max_steps={max_steps})")

    class TrainingBudget(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.steps, self.seconds, self.first_step_seconds, self._began = 0, 0.0, None, None

        def on_train_batch_begin(self, batch, logs=None):
            self._began = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            took = time.perf_counter() - self._began
            self.steps += 1
            if self.steps == 1:
                self.first_step_seconds = took
                took = 0.0
            counted = took if seconds is None else min(took, max(seconds - self.seconds, 0.0))
            self.seconds += took
            if progress is not None:
                progress.update(counted if seconds is not None else 1)
            if (seconds is not None and self.seconds >= seconds) or (max_steps is not None and self.steps >= max_steps):
                self.model.stop_training = True

    return TrainingBudget()
