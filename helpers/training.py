"""Training: compile with Adam + categorical cross-entropy, fit with callbacks, resume, save and load.

The one call the course uses (lesson 05)::

    model = helpers.models.build_model("vgg")
    helpers.training.compile_model(model, learning_rate=1e-3)
    history = helpers.training.train(model, splits["train"], splits["val"], helpers.runs_dir("05_vgg"), epochs=30)
    helpers.curves.plot_history(history)

What :func:`train` does for you, and why:

* **resume**: ``BackupAndRestore`` writes the weights, the optimiser state and the epoch number to
  ``run_dir/backup`` after every epoch. If the kernel restarts, Colab disconnects or the process
  is killed, calling ``train`` again with the same ``run_dir`` continues from the last completed
  epoch: at most the current epoch is lost.
* **best model**: ``ModelCheckpoint`` keeps ``run_dir/best.keras`` (the epoch with the best
  validation accuracy); at the end the model holds those weights.
* **logs**: ``CSVLogger`` appends one row per epoch to ``run_dir/log.csv``; the history returned
  is read back from that file, so a resumed run shows all its epochs, each once.
* **early stopping** on the validation metric, a learning-rate schedule (cosine or
  reduce-on-plateau), optional TensorBoard logs, Keras progress bars, live curves and a measured
  time estimate (:mod:`helpers.curves`).

Choosing the learning rate and the precision by measuring them is :mod:`helpers.tuning`.

Backend-agnostic: with TensorFlow the data goes through ``tf.data`` (:func:`make_dataset`); with
``KERAS_BACKEND=jax`` (no TensorFlow installed) the same call feeds NumPy arrays. TensorFlow is
imported only inside the functions that need it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .callbacks import cosine_schedule, training_budget  # noqa: F401  (helpers.training.<name> in the lessons)
from .class_balance import class_weights, oversample_indices
from .course import NUM_CLASSES, SEED, is_quick, runs_dir
from .curves import best_epoch, in_notebook, live_curves, time_estimate
from .keras_files import load_error_advice, make_portable
from .splits import Split

LOG_FILE, BEST_FILE, BACKUP_DIR, CONFIG_FILE, DONE_FILE = "log.csv", "best.keras", "backup", "config.json", "done.json"


# --------------------------------------------------------------------------- labels, compile


def one_hot(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """Integer labels ``(N,)`` -> one-hot float32 ``(N, 7)`` (row ``i`` has a 1 at ``labels[i]``).

    Raises:
        ValueError: a label outside ``0 .. num_classes-1``.
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"labels must be in 0..{num_classes - 1} (CLASS_NAMES order), got {labels.min()}..{labels.max()}")
    out = np.zeros((labels.size, num_classes), np.float32)
    out[np.arange(labels.size), labels] = 1.0
    return out


def compile_model(model, learning_rate: float = 1e-3, label_smoothing: float = 0.0, **compile_kwargs):
    """Compile ``model`` with Adam and categorical cross-entropy on one-hot labels, reporting accuracy.

    Why these choices (lesson 05):

    * **Adam** adapts a step size per weight from running averages of the gradient and its
      square, so one learning rate (1e-3) works for most CNNs without tuning momentum.
    * **Categorical cross-entropy** ``-sum(y_true * log(p))`` compares the 7 softmax
      probabilities with a one-hot label (:func:`one_hot`). The *sparse* equivalent,
      ``keras.losses.SparseCategoricalCrossentropy()`` with integer labels (and the metric
      ``"sparse_categorical_accuracy"``), computes exactly the same number without building the
      one-hot matrix; the course uses one-hot labels because label smoothing needs them.
    * **Label smoothing** ``s`` replaces the target 1 by ``1 - s + s/7`` and each 0 by ``s/7``:
      the model is not pushed to infinite confidence on FER2013's many ambiguous labels.

    Extra keyword arguments go to ``model.compile`` (e.g. ``jit_compile=False``).
    Returns the model (compiled in place).
    """
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        **compile_kwargs,
    )
    return model


# --------------------------------------------------------------------------- input pipeline


def make_dataset(split: Split, batch_size: int = 64, shuffle: bool = False, seed: int = SEED, oversample: bool = False):
    """A ``tf.data`` pipeline over ``split``: (oversample) -> shuffle -> batch -> prefetch.

    Yields ``(images uint8 (b, 48, 48, 1), one-hot labels float32 (b, 7))``. There is no map
    step for rescaling or augmentation: both are layers *inside* the model, so the pipeline
    stays a plain shuffle/batch/prefetch, augmentation runs only during ``fit`` (the layer is
    off at inference), and the saved model takes raw pixels exactly like the data here.
    ``shuffle`` reshuffles every epoch (seeded); use it for training, not for validation.
    ``prefetch`` prepares the next batch while the current one trains.

    TensorFlow only (``KERAS_BACKEND=tensorflow``); other backends use NumPy arrays (see
    :func:`train`).
    """
    import tensorflow as tf

    index = oversample_indices(split.labels, seed) if oversample else np.arange(len(split))
    ds = tf.data.Dataset.from_tensor_slices((split.images[index], one_hot(split.labels[index])))
    if shuffle:
        ds = ds.shuffle(len(index), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def distribution_strategy():
    """The standard ``tf.distribute`` choice: TPU (Colab) > several GPUs > the default strategy.

    Build and compile the model inside ``with strategy.scope():``; ``fit`` then spreads each
    batch over the devices (scale the batch size with ``strategy.num_replicas_in_sync``).
    With a backend other than TensorFlow this returns ``None`` (JAX uses
    ``keras.distribution`` instead).
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    # a Colab TPU node is found by the default resolver; a TPU VM (/dev/accel*) is "local"
    candidates = [None] + (["local"] if Path("/dev/accel0").exists() or os.environ.get("TPU_ACCELERATOR_TYPE") else [])
    for tpu in candidates:
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu)  # raises without a TPU
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
            return tf.distribute.TPUStrategy(resolver)
        except (ValueError, RuntimeError, ImportError, tf.errors.OpError):
            continue
    gpus = tf.config.list_logical_devices("GPU")
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


# --------------------------------------------------------------------------- schedules and callbacks


def _callback_classes():
    import keras

    class SeedResumeState(keras.callbacks.Callback):
        """After a resume, give early stopping and the checkpoint the best value seen so far."""

        def __init__(self, log: Any, monitor: str, early, checkpoint):
            super().__init__()
            self.log, self.monitor, self.early, self.checkpoint = log, monitor, early, checkpoint

        def on_train_begin(self, logs=None):
            if self.log is None or self.monitor not in self.log or self.log.empty:
                return
            values = self.log[self.monitor].to_numpy(float)
            best_i = best_epoch(values, self.monitor)  # the rule the live curves mark
            if best_i is None:
                return
            best = float(values[best_i])
            self.checkpoint.best = best
            if self.early is not None:
                self.early.best = best
                self.early.best_epoch = int(self.log["epoch"].iloc[best_i])
                self.early.wait = len(values) - 1 - best_i

    return SeedResumeState


def _read_log(path: Path):
    import pandas as pd

    if not path.is_file() or path.stat().st_size == 0:
        return pd.DataFrame()
    log = pd.read_csv(path)
    if "epoch" not in log:
        return pd.DataFrame()
    # a row can be written twice if a run was killed between the log and the backup: keep the last
    return log.drop_duplicates("epoch", keep="last").sort_values("epoch").reset_index(drop=True)


def epochs_in_backup(backup: Path) -> int:
    """How many epochs a run's ``BackupAndRestore`` folder holds as finished (0 if none or unreadable):
    the epoch a resumed run continues from."""
    meta = backup / "training_metadata.json"
    try:
        return int(json.loads(meta.read_text())["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def resume_seed(seed: int, epochs_done: int, salt: str = "") -> int:
    """The seed of a run's random streams (shuffling, augmentation draws) once it resumes.

    ``BackupAndRestore`` brings back the weights, the optimiser and the epoch after an interruption,
    but not the random generators. Resumed with the same seed, a run would replay its first epochs'
    shuffles and augmented faces: the network sees the very same augmented faces again. So a new
    run (``epochs_done=0``, no ``salt``) keeps ``seed``; a resumed one gets a seed of its own, the
    same on every machine. ``salt`` tells other sittings apart (e.g. the model a sitting starts from).
    """
    import zlib

    if not epochs_done and not salt:
        return seed
    mixed = np.random.SeedSequence([seed, epochs_done, zlib.crc32(salt.encode())])
    return int(mixed.generate_state(1)[0] % 2**30)  # room for the per-layer offsets below 2**31


def reseed_random_layers(model, seed: int) -> int:
    """Restart the random generators of ``model``'s random layers (its augmentation) from ``seed``.

    Keras keeps each generator's state (``[seed, counter]``) outside the saved weights, so a model
    rebuilt after an interruption draws its first augmentations again; :func:`train` calls this
    with :func:`resume_seed` when it resumes. Returns the number of generators reseeded.
    """
    states = [v for v in model.variables if v.path.endswith("seed_generator_state")]
    for i, state in enumerate(states):
        state.assign(np.array([(seed + i) % 2**31, 0], dtype=state.dtype))
    return len(states)


def _run_config(model, epochs: int, batch_size: int, class_weight, oversample: bool, lr_schedule, seed: int, n_train: int) -> dict:
    lr = float(np.asarray(model.optimizer.learning_rate)) if getattr(model, "optimizer", None) is not None else None
    return {
        "model": model.name, "parameters": int(model.count_params()), "epochs": int(epochs),
        "batch_size": int(batch_size), "learning_rate": lr, "lr_schedule": lr_schedule,
        "class_weight": None if class_weight is None else {str(k): round(float(v), 6) for k, v in class_weight.items()},
        "oversample": bool(oversample), "seed": int(seed), "train_images": int(n_train),
    }


def _check_or_write_config(run_dir: Path, config: dict) -> None:
    file = run_dir / CONFIG_FILE
    if file.is_file():
        old = json.loads(file.read_text())
        diff = {k: (old.get(k), v) for k, v in config.items() if old.get(k) != v}
        if diff:
            raise ValueError(
                f"{run_dir} holds a run with different settings {diff} (saved, now).\n"
                "Resuming it with other settings would mix two experiments. Use a new run_dir, "
                "or pass resume=False to delete the old run and start again."
            )
    else:
        file.write_text(json.dumps(config, indent=2))


# --------------------------------------------------------------------------- train


def _load_weights_quietly(model, path: Path) -> None:
    """The model's weights from a ``.keras`` file (its optimiser state is not needed here)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(path)


def train(
    model,
    train: Split,
    val: Split,
    run_dir: str | os.PathLike,
    epochs: int,
    batch_size: int = 64,
    class_weight: dict[int, float] | str | None = None,
    oversample: bool = False,
    lr_schedule: str | None = "cosine",
    patience: int | None = 8,
    resume: bool = True,
    tensorboard: bool = False,
    verbose: int | str = 1,
    seed: int = SEED,
    monitor: str = "val_accuracy",
    callbacks: Sequence[Any] = (),
    live: bool | None = None,
    reference=None,
    estimate: bool = True,
):
    """Fit ``model`` on ``train``, choosing on ``val``, with everything needed to survive interruptions.

    Args:
        model: a course model (raw 48x48x1 pixels in, 7 probabilities out). If it is not
            compiled yet it is compiled with :func:`compile_model`'s defaults.
        train, val: :class:`helpers.Split` (uint8 images, integer labels).
        run_dir: folder for this run: ``log.csv``, ``best.keras``, ``backup/``, ``config.json``
            and (with ``tensorboard=True``) ``tensorboard/``; ``helpers.runs_dir(name)`` puts it
            with the course's other runs (a relative path is relative to the working directory).
            Printed when ``verbose``.
        epochs: total number of epochs (a resumed run counts the epochs already done).
        batch_size: images per step.
        class_weight: ``{class: weight}`` (see :func:`helpers.class_balance.class_weights`), or
            ``"balanced"`` to compute it from ``train``; ``None`` for none.
        oversample: repeat minority-class images until every class is as large as the largest
            (:func:`oversample_indices`).
        lr_schedule: ``"cosine"`` (per epoch from the compiled learning rate down to 2% of it),
            ``"plateau"`` (halve it when val loss stalls for 3 epochs) or ``None`` (constant).
        patience: stop after this many epochs without a better ``monitor``; ``None``: never.
        resume: continue from ``run_dir/backup`` if a previous call was interrupted; if that run
            already finished, load its best weights and return its history without training.
            ``False`` deletes what ``run_dir`` holds and starts again.
        tensorboard: also write TensorBoard logs (TensorFlow backend only).
        verbose: Keras ``fit`` verbosity (1: progress bar, 2: one line per epoch, 0: silent).
        seed: seeds Keras/NumPy/Python and the shuffling, so a quick-mode run repeats exactly.
        monitor: what decides the best epoch and early stopping.
        callbacks: extra Keras callbacks, run after the course's.
        live: redraw the learning curves in place after every epoch (:func:`live_curves`);
            ``None``: when running in Jupyter. Outside Jupyter it prints one line per epoch.
        reference: curves to draw behind the live plot (e.g. :func:`reference_history`).
        estimate: print, after the first few steps, how long the run will take here (:func:`time_estimate`),
            also when ``verbose=0``.

    Returns:
        pandas DataFrame, one row per epoch (``epoch``, ``loss``, ``accuracy``, ``val_loss``,
        ``val_accuracy``, ``learning_rate``), read back from ``run_dir/log.csv``. At the end
        the model holds the weights of the best epoch (also in ``run_dir/best.keras``).
    """
    import keras

    from .course import seed_everything

    run_dir = Path(run_dir)
    if not resume and run_dir.exists():
        for name in (LOG_FILE, BEST_FILE, CONFIG_FILE, DONE_FILE, BACKUP_DIR, "tensorboard"):
            p = run_dir / name
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    if verbose:
        print(f"This run is saved in {run_dir.resolve()} (log.csv, best.keras, backup/).", flush=True)
    if len(train) == 0 or len(val) == 0:
        raise ValueError(f"train and val must not be empty (got {len(train)} and {len(val)} images)")
    if getattr(model, "optimizer", None) is None:
        compile_model(model)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be a dict, 'balanced' or None, not {class_weight!r}")
        class_weight = class_weights(train.labels)
    if lr_schedule not in ("cosine", "plateau", None):
        raise ValueError(f"lr_schedule must be 'cosine', 'plateau' or None, not {lr_schedule!r}")

    config = _run_config(model, epochs, batch_size, class_weight, oversample, lr_schedule, seed, len(train))
    _check_or_write_config(run_dir, config)
    log_path, best_path, backup = run_dir / LOG_FILE, run_dir / BEST_FILE, run_dir / BACKUP_DIR

    if (run_dir / DONE_FILE).is_file():
        print(f"{run_dir} already holds a finished run ({json.loads((run_dir / DONE_FILE).read_text())}).\n"
              f"Loaded its best weights from {best_path} and returned its history without training. "
              "To train again: resume=False (deletes this run) or another run_dir.")
        _load_weights_quietly(model, best_path)
        return _read_log(log_path)

    done = epochs_in_backup(backup)
    log = _read_log(log_path)
    if not log.empty:  # keep exactly the epochs the backup holds; a later row is redone
        log = log[log["epoch"] < done]
        log.to_csv(log_path, index=False)
    stream = resume_seed(seed, done)  # a resumed run shuffles and augments anew (not a replay of its start)
    seed_everything(stream)
    if done:
        reseed_random_layers(model, stream)
        print(f"Resuming {run_dir}: {done} of {epochs} epochs already done (from {backup}); "
              f"new shuffles and augmentation (seed {stream}).")
    cbs: list = []
    if lr_schedule == "cosine":  # first, so that the log gets the learning rate of each epoch
        cbs.append(keras.callbacks.LearningRateScheduler(cosine_schedule(config["learning_rate"], epochs)))
    elif lr_schedule == "plateau":
        cbs.append(keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=3, min_lr=1e-5))
    cbs.append(keras.callbacks.CSVLogger(str(log_path), append=True))
    # after the log: a kill between the two at worst redoes one epoch (its row is replaced)
    cbs.append(keras.callbacks.BackupAndRestore(str(backup), double_checkpoint=True))
    mode = "min" if "loss" in monitor else "max"
    checkpoint = keras.callbacks.ModelCheckpoint(str(best_path), monitor=monitor, mode=mode, save_best_only=True)
    cbs.append(checkpoint)
    early = None
    if patience is not None:
        early = keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience, restore_best_weights=True)
        cbs.append(early)
    cbs.append(_callback_classes()(log if done else None, monitor, early, checkpoint))
    if tensorboard:
        import importlib.util

        if keras.backend.backend() != "tensorflow":
            print("tensorboard=True needs the TensorFlow backend; no TensorBoard logs written.")
        elif importlib.util.find_spec("tensorboard") is None:
            print("tensorboard=True but the tensorboard package is not installed (pip install tensorboard); "
                  "no TensorBoard logs written. The CSV log has the same numbers.")
        else:
            cbs.append(keras.callbacks.TensorBoard(log_dir=str(run_dir / "tensorboard")))
    steps = math.ceil((len(oversample_indices(train.labels, stream)) if oversample else len(train)) / batch_size)
    if estimate and epochs > done:
        cbs.append(time_estimate(epochs - done, steps, math.ceil(len(val) / batch_size), label=f"{model.name} ({epochs - done} epochs)"))
    if in_notebook() if live is None else live:
        cbs.append(live_curves(f"{model.name}: learning curves", reference, epochs, monitor=monitor,
                               earlier=log if done and not log.empty else None))
    cbs += list(callbacks)

    if keras.backend.backend() == "tensorflow":
        x = make_dataset(train, batch_size, shuffle=True, seed=stream, oversample=oversample)
        fit_args = dict(x=x, validation_data=make_dataset(val, batch_size), shuffle=False)
    else:  # JAX / PyTorch: NumPy arrays, shuffled by fit
        index = oversample_indices(train.labels, stream) if oversample else np.arange(len(train))
        fit_args = dict(
            x=train.images[index], y=one_hot(train.labels[index]), batch_size=batch_size, shuffle=True,
            validation_data=(val.images, one_hot(val.labels)),
        )
    start = time.perf_counter()
    model.fit(epochs=epochs, class_weight=class_weight, callbacks=cbs, verbose=verbose, **fit_args)
    seconds = time.perf_counter() - start
    history = _read_log(log_path)
    if best_path.is_file():
        make_portable(best_path)  # readable by every Keras the course supports (helpers.keras_files)
        _load_weights_quietly(model, best_path)
    if not history.empty:
        values = history[monitor].to_numpy(float)
        best_i = int(np.argmin(values) if mode == "min" else np.argmax(values))
        summary = {
            "epochs_run": len(history), "stopped_early": len(history) < epochs,
            "best_epoch": int(history["epoch"].iloc[best_i]) + 1, f"best_{monitor}": round(float(values[best_i]), 4),
            "seconds_last_session": round(seconds, 1),
        }
        (run_dir / DONE_FILE).write_text(json.dumps(summary))
        if verbose:
            print(f"Done: {summary}. Best model: {best_path}")
    return history


# --------------------------------------------------------------------------- saving


HOW_TO_GET_A_MODEL = (
    "A course model file is a Keras v3 '.keras' archive (a zip with config.json, metadata.json and\n"
    "model.weights.h5), written by model.save('name.keras') or by helpers.training.train(...) as\n"
    "RUN_DIR/best.keras. Train one in lesson 05 (it saves runs/05_training/best.keras at the course's root,\n"
    "or under FER_RUNS_DIR when that is set), or use the\n"
    "course's reference model: helpers.pretrained.load_pretrained()."
)


def lesson_05_model_path(quick: bool | None = None) -> Path:
    """Where lesson 05 saves the network the student trained, and where lessons 06-08 look for it.

    ``runs_dir("05_training", "best.keras")`` (:func:`helpers.course.runs_dir`: ``runs/`` at the
    course's root, or ``$FER_RUNS_DIR``). In quick mode (``quick=None``: :func:`helpers.is_quick`)
    ``runs_dir("05_training", "quick_model", "best.keras")``, so that a quick test run never
    replaces the model trained in workshop or full mode.
    """
    quick = is_quick() if quick is None else quick
    return runs_dir("05_training", "quick_model", "best.keras") if quick else runs_dir("05_training", "best.keras")


def save_model(model, path: str | os.PathLike) -> Path:
    """Save ``model`` as a ``.keras`` file atomically (temporary file, then rename).

    A crash or a parallel reader never sees a half-written file. Creates the folder. Returns the path.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Save course models as '.keras' files, not {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.partial.keras")
    try:
        model.save(tmp)
        make_portable(tmp)  # readable by every Keras the course supports (helpers.keras_files)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_model(path: str | os.PathLike):
    """Load a ``.keras`` model with ``safe_mode=True`` (no arbitrary code from the file runs).

    Raises:
        FileNotFoundError: nothing at ``path``.
        ValueError: the file is not a complete ``.keras`` archive (truncated download, a weights
            file, an HDF5/SavedModel, an image...), with what it should be and how to get one.
    """
    import zipfile

    import keras

    from . import augmentation, models  # noqa: F401  (registers the course's custom layers)

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No model file at {str(path)!r}.\n{HOW_TO_GET_A_MODEL}")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder (a TensorFlow SavedModel?), not a '.keras' file.\n{HOW_TO_GET_A_MODEL}")
    if path.suffix != ".keras":
        raise ValueError(f"{str(path)!r} does not end in '.keras'.\n{HOW_TO_GET_A_MODEL}")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as f:
            head = f.read(8)
        what = "an HDF5 file (old .h5 format or weights only)" if head.startswith(b"\x89HDF") else (
            "truncated (an interrupted download or copy?)" if head[:2] == b"PK" else "not a Keras model archive")
        raise ValueError(f"{str(path)!r} ({path.stat().st_size} bytes) is {what}.\n{HOW_TO_GET_A_MODEL}")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            bad = z.testzip()
        if bad is not None or not {"config.json", "model.weights.h5"} <= names:
            raise ValueError(f"damaged member {bad}" if bad else f"members {sorted(names)}")
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:
        raise ValueError(
            f"Could not load {str(path)!r} as a Keras model ({type(exc).__name__}: {exc}).\n"
            f"{load_error_advice(path)}\n{HOW_TO_GET_A_MODEL}"
        ) from exc


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.training --data PATH --model vgg --epochs 30 --run-dir runs/vgg [--quick]``."""
    parser = argparse.ArgumentParser(description="Train a course model on FER2013 (resumable: rerun the same command).")
    parser.add_argument("--data", default=None, help="fer2013.csv, the image folders, or 'offline' (default: search)")
    parser.add_argument("--model", default="vgg", help="baseline, vgg or compact")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--label-smoothing", type=float, default=0.0)
    parser.add_argument("--schedule", default="cosine", choices=["cosine", "plateau", "none"])
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--class-weight", action="store_true", help="balanced class weights")
    parser.add_argument("--oversample", action="store_true", help="class-balanced oversampling")
    parser.add_argument("--quick", action="store_true", help="small class-balanced subsets (like FER_QUICK=1)")
    parser.add_argument("--restart", action="store_true", help="delete run-dir's previous run instead of resuming")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)

    from .course import seed_everything
    from .data import load_course_data
    from .models import build_model

    seed_everything(args.seed)
    splits = load_course_data(args.data, quick=args.quick or None, seed=args.seed)
    model = compile_model(build_model(args.model), args.lr, args.label_smoothing)
    history = train(
        model, splits["train"], splits["val"], args.run_dir, args.epochs, args.batch_size,
        class_weight="balanced" if args.class_weight else None, oversample=args.oversample,
        lr_schedule=None if args.schedule == "none" else args.schedule, patience=args.patience,
        resume=not args.restart, verbose=args.verbose, seed=args.seed,
    )
    print(history.tail(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
