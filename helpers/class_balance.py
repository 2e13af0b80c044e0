"""Class imbalance as numbers: class weights and oversampling indices (no Keras, no training).

FER2013's disgust is 16x rarer than happy. The two remedies :func:`helpers.training.train` applies:

* :func:`class_weights`: weigh each image's loss by ``n / (classes * count_of_its_class)``, so
  every class contributes equally to the loss (``train(..., class_weight=...)``).
* :func:`oversample_indices`: repeat minority-class images until every class is as large as the
  largest (``train(..., oversample=True)``). The repeats are not identical in training because
  augmentation is a layer inside the model and transforms each copy differently.
* :func:`oversample_rare_indices`: top up only the classes smaller than a floor (targeted
  oversampling of the rarest classes, lesson 03).

Comparing the remedies by training models is :mod:`helpers.imbalance`, which also offers these names.
"""

from __future__ import annotations

import numpy as np

from .course import SEED
from .splits import Split, stratified_split


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


def oversample_indices(labels: np.ndarray, seed: int = SEED) -> np.ndarray:
    """Indices in which every class present appears as often as the largest class (shuffled).

    Every image of every class is kept; the smaller classes are topped up with images drawn
    again at random (with replacement). The repeats are not identical copies in training:
    the model's augmentation layer transforms each one differently.
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    target = counts.max() if counts.size else 0
    parts = []
    for c, n in zip(classes, counts):
        members = np.flatnonzero(labels == c)
        parts += [members, rng.choice(members, size=target - n, replace=True)]
    index = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return rng.permutation(index)


def oversample_rare_indices(labels: np.ndarray, min_count: int, seed: int = SEED) -> np.ndarray:
    """Indices (shuffled, seeded) keeping every image, with each class present that has fewer than
    ``min_count`` images topped up to exactly ``min_count`` by copies drawn at random (with
    replacement) from its own images. Larger classes are left as they are.

    Raises:
        ValueError: ``min_count`` is negative.
    """
    if min_count < 0:
        raise ValueError(f"min_count must be >= 0, got {min_count}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    parts = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        parts += [members, rng.choice(members, size=max(0, min_count - len(members)), replace=True)]
    index = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return rng.permutation(index)


def oversample(split: Split, seed: int = SEED) -> Split:
    """``split`` resampled so that every class appears as often as the largest one."""
    return split.subset(oversample_indices(split.labels, seed))


def stratified_subset(split: Split, size: int, seed: int = SEED) -> Split:
    """``size`` images of ``split`` with the same class proportions (seeded): small but still imbalanced.

    Quick experiments on imbalance need this: the course's quick-mode subsets are class-balanced.
    """
    if size >= len(split):
        return split
    return stratified_split(split, size / len(split), seed)[1]
