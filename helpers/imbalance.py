"""Remedies for FER2013's class imbalance (disgust is 16x rarer than happy), compared by training.

The remedies themselves (:func:`class_weights`, :func:`oversample_indices`,
:func:`oversample_rare_indices`, :func:`oversample`, :func:`stratified_subset`) live in
:mod:`helpers.class_balance` and are offered here too, so a lesson needs one module.

* :func:`compare_remedies`: train the same small model under none / class weights / oversampling
  and compare validation accuracy, macro-F1 and disgust recall (lesson 05).
* :func:`embed` and :func:`compare_remedies_on_features`: the same comparison in seconds, on a
  classifier trained on the reference model's features (lesson 03).
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from .course import CLASS_NAMES, NUM_CLASSES, SEED
from .class_balance import class_weights, oversample, oversample_indices, oversample_rare_indices, stratified_subset
from .splits import Split

__all__ = ["class_weights", "oversample_indices", "oversample_rare_indices", "oversample", "stratified_subset",
           "validation_metrics", "prediction_metrics", "compare_remedies", "embed", "macro_f1", "macro_f1_noise", "compare_remedies_on_features"]


def validation_metrics(model, split: Split, batch_size: int = 256) -> dict[str, float]:
    """Accuracy, macro-F1 and per-class recall (``recall_<class>``) of ``model`` on ``split``."""
    predicted = model.predict(split.images, batch_size=batch_size, verbose=0).argmax(axis=1)
    return prediction_metrics(split.labels, predicted)


def prediction_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """:func:`validation_metrics` from predicted classes ``(N,)`` against ``labels`` ``(N,)`` (scikit-learn)."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    recalls = recall_score(labels, predicted, labels=range(NUM_CLASSES), average=None, zero_division=0)
    out = {
        "accuracy": float(accuracy_score(labels, predicted)),
        "macro_f1": float(f1_score(labels, predicted, labels=range(NUM_CLASSES), average="macro", zero_division=0)),
    }
    out.update({f"recall_{name}": float(r) for name, r in zip(CLASS_NAMES, recalls)})
    return out


def compare_remedies(
    train: Split,
    val: Split,
    build: Callable | None = None,
    epochs: int = 3,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    run_root: str | os.PathLike | None = None,
    remedies: tuple[str, ...] = ("none", "class weights", "oversampling"),
    seed: int = SEED,
    verbose: int = 0,
    return_predictions: bool = False,
):
    """Train the same model under each remedy and compare them on ``val``.

    ``build``: a function returning a fresh (uncompiled) course model; default a small baseline
    CNN with the course's augmentation. Each remedy starts from the same seed (same initial
    weights) and trains at a constant ``learning_rate``; runs are written to
    ``run_root/<remedy>`` (default ``runs_dir("imbalance")``, :func:`helpers.course.runs_dir`),
    printed once, and redone each call.

    Returns a DataFrame indexed by remedy: ``val_accuracy``, ``val_macro_f1``,
    ``disgust_recall``, ``epochs``, ``seconds``. With ``return_predictions=True``:
    ``(table, predictions)``, ``predictions`` mapping remedy -> predicted classes on ``val``
    ``(N,)`` int64, for paired comparisons on the same faces.
    """
    import time
    from pathlib import Path

    import pandas as pd

    from .course import runs_dir, seed_everything
    from .training import compile_model, train as fit

    if build is None:
        from .models import build_baseline_cnn

        def build():
            return build_baseline_cnn(augment=True)

    unknown = [r for r in remedies if r not in ("none", "class weights", "oversampling")]
    if unknown:
        raise ValueError(f"unknown remedy {unknown[0]!r}; use 'none', 'class weights' or 'oversampling'")
    run_root = Path(run_root) if run_root is not None else runs_dir("imbalance")
    print(f"Runs saved in {run_root} (one folder per remedy).", flush=True)
    rows, predictions = {}, {}
    for remedy in remedies:
        seed_everything(seed)
        model = compile_model(build(), learning_rate)
        start = time.perf_counter()
        history = fit(
            model, train, val, run_root / remedy.replace(" ", "_"), epochs, batch_size,
            class_weight=class_weights(train.labels) if remedy == "class weights" else None,
            oversample=remedy == "oversampling", lr_schedule=None, patience=None, resume=False,
            verbose=verbose, seed=seed,
        )
        predictions[remedy] = model.predict(val.images, batch_size=256, verbose=0).argmax(axis=1).astype(np.int64)
        metrics = prediction_metrics(val.labels, predictions[remedy])  # one pass over val for the table and the pairs
        rows[remedy] = {
            "val_accuracy": metrics["accuracy"], "val_macro_f1": metrics["macro_f1"],
            "disgust_recall": metrics["recall_disgust"], "epochs": len(history),
            "seconds": round(time.perf_counter() - start, 1),
        }
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("remedy")
    return (table, predictions) if return_predictions else table


# --------------------------------------------------------------------------- remedies in seconds (lesson 03)


def _classifier_input(model):
    """A Keras model from ``model``'s input to the input of its last Dense layer (the features it classifies).

    A wrapper around one inner network (the reference model averages it over a mirrored copy) is
    unwrapped first: the features are the inner network's, for the unmirrored image.
    """
    import keras

    from .augmentation import single_view

    network = single_view(model)
    dense = [layer for layer in network.layers if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise ValueError(f"{model.name}: no Dense layer found; embed() needs a model that ends in a Dense classifier")
    return keras.Model(network.inputs[0], dense[-1].input)


def embed(model, images: np.ndarray, batch_size: int = 256, progress: bool = True) -> np.ndarray:
    """The features ``model`` classifies (the input of its last Dense layer) for raw faces.

    Args:
        model: a course model (e.g. :func:`helpers.pretrained.load_pretrained`).
        images: ``(N, 48, 48, 1)`` raw pixels 0-255.
        progress: show a tqdm bar over the batches.

    Returns:
        float32 ``(N, D)`` (``D = 256`` for the reference model).
    """
    tqdm = _tqdm()
    extractor = _classifier_input(model)
    images = np.asarray(images)
    out = []
    for start in tqdm(range(0, len(images), batch_size), desc="features", unit="batch", disable=not progress):
        out.append(np.asarray(extractor(images[start : start + batch_size].astype("float32"), training=False)))
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, extractor.output.shape[-1]), np.float32)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-F1 over the 7 classes (F1 = 0 for a class with no true and no predicted image), as
    ``sklearn.metrics.f1_score(y_true, y_pred, labels=range(7), average="macro", zero_division=0)``
    but about a hundred times faster, for bootstraps (:func:`helpers.evaluation.paired_bootstrap`).

    Args:
        y_true, y_pred: integer labels ``(N,)`` in CLASS_NAMES order.
    Raises:
        ValueError: arrays of different lengths.
    """
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"labels and predictions differ in shape: {y_true.shape} and {y_pred.shape}")
    correct = np.bincount(y_true[y_true == y_pred], minlength=NUM_CLASSES)[:NUM_CLASSES]
    both = np.bincount(y_true, minlength=NUM_CLASSES)[:NUM_CLASSES] + np.bincount(y_pred, minlength=NUM_CLASSES)[:NUM_CLASSES]
    f1 = np.divide(2.0 * correct, both, out=np.zeros(NUM_CLASSES), where=both > 0)
    return float(f1.mean())


def macro_f1_noise(y_true: np.ndarray, y_pred: np.ndarray, n_boot: int = 500, seed: int = SEED) -> float:
    """How much macro-F1 moves when the evaluation images are redrawn: the standard deviation of
    macro-F1 (7 classes, F1 = 0 for a class without true or predicted images) over ``n_boot``
    bootstrap resamples (with replacement) of the pairs ``(y_true, y_pred)``."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(y_true), (n_boot, len(y_true)))
    t, p = y_true[draws], y_pred[draws]  # (n_boot, N)
    correct = np.stack([((t == c) & (p == c)).sum(axis=1) for c in range(NUM_CLASSES)], axis=1)
    true_n = np.stack([(t == c).sum(axis=1) for c in range(NUM_CLASSES)], axis=1)
    pred_n = np.stack([(p == c).sum(axis=1) for c in range(NUM_CLASSES)], axis=1)
    f1 = np.divide(2.0 * correct, true_n + pred_n, out=np.zeros(correct.shape), where=(true_n + pred_n) > 0)
    return float(f1.mean(axis=1).std())


def compare_remedies_on_features(
    train_x: np.ndarray,
    train_y: np.ndarray,
    val_x: np.ndarray,
    val_y: np.ndarray,
    remedies: dict[str, Callable],
    max_iter: int = 300,
    seed: int = SEED,
):
    """Train a softmax classifier on fixed features once per remedy and score each on validation.

    The classifier is scikit-learn's multinomial ``LogisticRegression``: one Dense softmax layer
    trained to the minimum of the cross-entropy (L-BFGS, default L2 penalty), so a comparison takes
    seconds and does not depend on a learning rate or a number of epochs.

    Args:
        train_x, val_x: features ``(N, D)`` float32 (see :func:`embed`), standardised here with the
            training mean and standard deviation.
        train_y, val_y: integer labels (CLASS_NAMES order).
        remedies: name -> ``remedy(x, y) -> (x, y, class_weight or None)``: what training sees
            (``class_weight``: ``{class index: weight}``, as Keras' ``fit`` takes it).
        max_iter: L-BFGS iterations at most.
        seed: the same for every remedy.

    Returns:
        ``(table, predictions)``: a DataFrame indexed by remedy with ``val_accuracy``,
        ``val_macro_f1``, ``disgust_recall`` (validation), ``train_disgust_recall`` (on the
        training faces it learned from, copies included), ``train_images``, ``seconds``; and a dict
        remedy -> validation predictions ``(N,)``. A tqdm bar counts the remedies.
    """
    import time
    import warnings

    import pandas as pd
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, recall_score
    from threadpoolctl import threadpool_limits  # installed with scikit-learn (one of its requirements)

    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-6
    train_x, val_x = (train_x - mean) / std, (val_x - mean) / std
    rows, predictions = {}, {}
    bar = _tqdm()(remedies.items(), desc="remedies", unit="run", total=len(remedies))
    for name, remedy in bar:
        bar.set_postfix_str(name)
        start = time.perf_counter()
        x, y, weights = remedy(train_x, np.asarray(train_y))
        classifier = LogisticRegression(max_iter=max_iter, class_weight=weights, random_state=seed)
        with warnings.catch_warnings(), threadpool_limits(1):  # 1 BLAS thread: many times faster on a busy CPU
            warnings.simplefilter("ignore", ConvergenceWarning)  # the last iterations change nothing we measure
            classifier.fit(x, y)
        predicted = classifier.predict(val_x)
        predictions[name] = predicted
        rows[name] = {
            "val_accuracy": float(accuracy_score(val_y, predicted)),
            "val_macro_f1": float(f1_score(val_y, predicted, labels=range(NUM_CLASSES), average="macro", zero_division=0)),
            "disgust_recall": float(recall_score(val_y, predicted, labels=[CLASS_NAMES.index("disgust")], average="macro",
                                                 zero_division=0)),
            "train_disgust_recall": float(recall_score(y, classifier.predict(x), labels=[CLASS_NAMES.index("disgust")],
                                                       average="macro", zero_division=0)),
            "train_images": len(x),
            "seconds": round(time.perf_counter() - start, 1),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("remedy"), predictions


def _tqdm():
    """tqdm's notebook bar where ipywidgets is installed, its text bar otherwise (without a warning)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    return tqdm
