"""Remedies for FER2013's class imbalance (disgust is 16x rarer than happy), usable from one place.

* :func:`class_weights`: weigh each image's loss by ``n / (classes * count_of_its_class)``, so
  every class contributes equally to the loss (``train(..., class_weight=...)``).
* :func:`oversample_indices`: repeat minority-class images until every class is as large as the
  largest (``train(..., oversample=True)``). The repeats are not identical in training because
  augmentation is a layer inside the model and transforms each copy differently.
* :func:`compare_remedies`: train the same small model under none / class weights / oversampling
  and compare validation accuracy, macro-F1 and disgust recall (lesson 03 and 05).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .course import CLASS_NAMES, NUM_CLASSES, SEED
from .data import Split
from .training import oversample_indices

__all__ = ["class_weights", "oversample_indices", "oversample", "stratified_subset", "validation_metrics", "compare_remedies"]


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """scikit-learn's ``'balanced'`` class weights as the ``{class index: weight}`` dict Keras takes.

    ``weight[c] = n_images / (n_classes_present * count[c])``: a class with half the average
    count gets weight 2. Classes absent from ``labels`` get no entry.
    """
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(labels)
    classes = np.unique(labels)
    if classes.size == 0:
        return {}
    weights = compute_class_weight("balanced", classes=classes, y=labels)
    return {int(c): float(w) for c, w in zip(classes, weights)}


def oversample(split: Split, seed: int = SEED) -> Split:
    """``split`` resampled so that every class appears as often as the largest one."""
    return split.subset(oversample_indices(split.labels, seed))


def stratified_subset(split: Split, size: int, seed: int = SEED) -> Split:
    """``size`` images of ``split`` with the same class proportions (seeded): small but still imbalanced.

    Quick experiments on imbalance need this: the course's quick-mode subsets are class-balanced.
    """
    from .data import stratified_split

    if size >= len(split):
        return split
    return stratified_split(split, size / len(split), seed)[1]


def validation_metrics(model, split: Split, batch_size: int = 256) -> dict[str, float]:
    """Accuracy, macro-F1 and per-class recall (``recall_<class>``) of ``model`` on ``split``."""
    from sklearn.metrics import accuracy_score, f1_score, recall_score

    predicted = model.predict(split.images, batch_size=batch_size, verbose=0).argmax(axis=1)
    recalls = recall_score(split.labels, predicted, labels=range(NUM_CLASSES), average=None, zero_division=0)
    out = {
        "accuracy": float(accuracy_score(split.labels, predicted)),
        "macro_f1": float(f1_score(split.labels, predicted, labels=range(NUM_CLASSES), average="macro", zero_division=0)),
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
    run_root: str = "runs/imbalance",
    remedies: tuple[str, ...] = ("none", "class weights", "oversampling"),
    seed: int = SEED,
    verbose: int = 0,
):
    """Train the same model under each remedy and compare them on ``val``.

    ``build``: a function returning a fresh (uncompiled) course model; default a small baseline
    CNN with the course's augmentation. Each remedy starts from the same seed (same initial
    weights); runs are written to ``run_root/<remedy>`` and redone each call.

    Returns a DataFrame indexed by remedy: ``val_accuracy``, ``val_macro_f1``,
    ``disgust_recall``, ``epochs``, ``seconds``.
    """
    import time

    import pandas as pd

    from .course import seed_everything
    from .training import compile_model, train as fit

    if build is None:
        from .models import build_baseline_cnn

        def build():
            return build_baseline_cnn(augment=True)

    rows = {}
    for remedy in remedies:
        if remedy not in ("none", "class weights", "oversampling"):
            raise ValueError(f"unknown remedy {remedy!r}; use 'none', 'class weights' or 'oversampling'")
        seed_everything(seed)
        model = compile_model(build(), learning_rate)
        start = time.perf_counter()
        history = fit(
            model, train, val, f"{run_root}/{remedy.replace(' ', '_')}", epochs, batch_size,
            class_weight=class_weights(train.labels) if remedy == "class weights" else None,
            oversample=remedy == "oversampling", lr_schedule=None, patience=None, resume=False,
            verbose=verbose, seed=seed,
        )
        metrics = validation_metrics(model, val)
        rows[remedy] = {
            "val_accuracy": metrics["accuracy"], "val_macro_f1": metrics["macro_f1"],
            "disgust_recall": metrics["recall_disgust"], "epochs": len(history),
            "seconds": round(time.perf_counter() - start, 1),
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("remedy")
