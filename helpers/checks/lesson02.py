"""Lesson 02 · Class imbalance: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .core import exercise
from .quiz import Question, questions


@exercise(
    cases=lambda: [
        (np.array([10, 1, 5, 20, 5, 5, 5]),),
        (np.array([3995, 436, 4097, 7215, 4830, 3171, 4965]),),
        (np.array([4, 4, 4, 4, 4, 4, 4]),),
    ],
    wrong_answers=[lambda c: float(np.min(c) / np.max(c)), lambda c: float(np.max(c) / np.mean(c))],
    hint="largest class size divided by smallest class size.",
)
def imbalance_ratio(counts: np.ndarray) -> float:
    """Size of the largest class divided by the size of the smallest."""
    counts = np.asarray(counts)
    return float(counts.max() / counts.min())


@exercise(
    cases=lambda: [
        (np.array([0, 0, 1, 2, 2, 2]),),
        (np.random.default_rng(1).integers(0, 7, 300),),
        (np.array([5, 5, 5, 5]),),
    ],
    wrong_answers=[lambda y: np.full(len(y), np.bincount(y).argmin()), lambda y: np.full(len(y), 3)],
    hint="predict, for every image, the class that occurs most often in `labels`.",
)
def majority_predictions(labels: np.ndarray) -> np.ndarray:
    """What a majority-class predictor outputs: the most frequent label, once per image."""
    labels = np.asarray(labels)
    return np.full(len(labels), np.bincount(labels).argmax())


def _weights_compare(expected: dict, got: Any) -> bool:
    return isinstance(got, dict) and set(got) == set(expected) and all(
        math.isclose(float(expected[k]), float(got[k]), rel_tol=1e-6) for k in expected
    )


@exercise(
    cases=lambda: [
        (np.array([0, 0, 0, 1, 2, 2]),),
        (np.repeat(np.arange(7), [3995, 436, 4097, 7215, 4830, 3171, 4965]),),
        (np.array([1, 1, 4, 4]),),  # hidden: only some classes present
    ],
    compare=_weights_compare,
    wrong_answers=[
        lambda y: {int(c): 1.0 / n for c, n in zip(*np.unique(y, return_counts=True))},
        lambda y: {int(c): len(y) / n for c, n in zip(*np.unique(y, return_counts=True))},
    ],
    hint="a class's weight is the number of images divided by (the number of classes present times the images "
         "of that class): rare classes weigh more, and every class ends up with the same total weight.",
)
def balanced_class_weights(labels: np.ndarray) -> dict[int, float]:
    """scikit-learn's 'balanced' class weights as a {class index: weight} dict for Keras."""
    from ..class_balance import class_weights

    return class_weights(labels)


def _resample_rows(images: np.ndarray, labels: np.ndarray) -> set:
    return {(img.tobytes(), int(y)) for img, y in zip(images, labels)}


def _same_resample(expected: Any, got: Any) -> bool:
    """Right class counts, every original (image, label) pair kept and none invented or relabelled.

    The random choices themselves may differ from the reference's (another use of the seed is fine).
    Raises ValueError saying what differs (the check prints it next to expected and got).
    """
    if not (isinstance(got, (tuple, list)) and len(got) == 2 and all(isinstance(a, np.ndarray) for a in got)):
        raise ValueError("return a pair (images, labels) of NumPy arrays")
    (exp_images, exp_labels), (images, labels) = expected, got
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels: index both with the same indices")
    if images.shape[1:] != exp_images.shape[1:]:
        raise ValueError(f"each image should keep its shape {exp_images.shape[1:]}, got {images.shape[1:]}")
    want, have = np.bincount(exp_labels, minlength=7), np.bincount(labels.astype(np.int64), minlength=7)
    if not np.array_equal(want, have):
        raise ValueError(f"images per class {have.tolist()}, expected {want.tolist()}")
    originals, rows = _resample_rows(exp_images, exp_labels), _resample_rows(images, labels)
    if rows - originals:
        first = next(i for i, pair in enumerate(zip(images, labels)) if (pair[0].tobytes(), int(pair[1])) not in originals)
        raise ValueError(f"{len(rows - originals)} (image, label) pairs that are not in the input, the first at index "
                         f"{first} of yours (label {int(labels[first])}): an image got another image's label "
                         "(shuffle images and labels with the same indices)")
    if originals - rows:
        missing = np.bincount([label for _, label in originals - rows], minlength=7).tolist()
        raise ValueError(f"{sum(missing)} of the original images are missing (per class: {missing}): "
                         "keep every image, add copies")
    return True


def _resample_cases() -> list[tuple]:
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(7), [40, 3, 25, 60, 30, 20, 35])
    rng.shuffle(labels)
    images = np.arange(len(labels) * 4).reshape(len(labels), 2, 2, 1)  # every image different
    few = np.array([6, 0, 6, 3, 6, 6])  # hidden: classes missing entirely
    even = np.array([0, 1, 2, 3, 4, 5, 6] * 3)  # hidden: already balanced
    return [
        (images, labels, 0),
        (images, labels, 1),
        (np.arange(12).reshape(6, 2), few, 0),
        (np.arange(21).reshape(21, 1), even, 3),
        (np.arange(5).reshape(5, 1), np.full(5, 4), 0),  # hidden: one class only
    ]


def _indices_per_class(labels: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(labels == c) for c in np.unique(labels)]


def _wrong_draw_all(images, labels, seed):  # draws every class afresh: some originals are lost
    rng = np.random.default_rng(seed)
    target = np.bincount(labels).max()
    index = np.concatenate([rng.choice(m, target, replace=True) for m in _indices_per_class(labels)])
    return images[index], labels[index]


def _wrong_to_smallest(images, labels, seed):  # undersampling, not oversampling
    rng = np.random.default_rng(seed)
    target = min(len(m) for m in _indices_per_class(labels))
    index = np.concatenate([rng.choice(m, target, replace=False) for m in _indices_per_class(labels)])
    return images[index], labels[index]


def _wrong_shuffled_apart(images, labels, seed):  # images and labels shuffled with different orders
    out_images, out_labels = random_oversample(images, labels, seed)
    rng = np.random.default_rng(seed + 1)
    return out_images[rng.permutation(len(out_images))], out_labels


def _wrong_from_anywhere(images, labels, seed):  # extra copies drawn from all images, not from the class
    rng = np.random.default_rng(seed)
    counts = np.bincount(labels)
    extra = rng.choice(len(labels), int(sum(counts.max() - n for n in counts if n)), replace=True)
    index = np.concatenate([np.arange(len(labels)), extra])
    return images[index], labels[index]


@exercise(
    cases=_resample_cases,
    compare=_same_resample,
    wrong_answers=[_wrong_draw_all, _wrong_to_smallest, _wrong_shuffled_apart, _wrong_from_anywhere],
    hint="keep every image; top each class up to the size of the largest by random copies (drawn with "
         "replacement) of its own images; pick images and labels with the same indices, so that no image "
         "changes its label.",
)
def random_oversample(images: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` with every class present topped up by random copies of its own images until
    it is as large as the largest class; every original kept, order shuffled, seeded by ``seed``."""
    from ..class_balance import oversample_indices

    index = oversample_indices(np.asarray(labels), seed)
    return np.asarray(images)[index], np.asarray(labels)[index]


@exercise(
    cases=lambda: [
        (np.array([10, 1, 5, 20, 5, 5, 5]), 0.9),
        (np.array([3995, 436, 4097, 7215, 4830, 3171, 4965]), 0.999),
        (np.array([3995, 436, 4097, 7215, 4830, 3171, 4965]), 0.0),  # hidden: beta 0, no reweighting
        (np.array([0, 12, 0, 300, 40, 0, 7]), 0.99),  # hidden: classes absent
        (np.array([0, 0, 0, 50, 0, 0, 0]), 0.9),  # hidden: one class only
        (np.array([3995, 436, 4097, 7215, 4830, 3171, 4965]), 0.999999),  # hidden: beta near 1
    ],
    compare=_weights_compare,
    wrong_answers=[
        lambda c, b: {int(k): float((1 - b) / (1 - b ** n)) for k, n in enumerate(c) if n},  # not normalised
        lambda c, b: (lambda w: {k: v / sum(w.values()) for k, v in w.items()})(  # normalised to sum 1
            {int(k): float((1 - b) / (1 - b ** n)) for k, n in enumerate(c) if n}),
        lambda c, b: (lambda w: {k: v * len(w) / sum(w.values()) for k, v in w.items()})(  # the effective number itself
            {int(k): float((1 - b ** n) / (1 - b)) for k, n in enumerate(c) if n}),
        lambda c, b: (lambda w: {k: v * 7 / sum(w.values()) for k, v in w.items()})(  # seven classes, present or not
            {int(k): float((1 - b) / (1 - b ** n)) for k, n in enumerate(c) if n}),
        lambda c, b: (lambda w: {k: v * len(w) / sum(w.values()) for k, v in w.items()})(  # plain 1/count: beta ignored
            {int(k): 1.0 / float(n) for k, n in enumerate(c) if n}),
    ],
    hint="a class's effective number of images is (1 minus beta to the power of its count) divided by (1 minus "
         "beta); its weight is one over that. Leave out classes with no images, then scale the weights so that "
         "they add up to the number of classes present.",
)
def effective_number_weights(counts: np.ndarray, beta: float) -> dict[int, float]:
    """Class-balanced weights of Cui et al. (CVPR 2019), ``{class index: weight}`` for the classes present.

    ``counts``: images per class (length 7, CLASS_NAMES order); ``0 <= beta < 1``. A class of ``n`` images
    has an effective number ``(1 - beta**n) / (1 - beta)`` and weight proportional to its inverse; the
    weights are scaled to sum to the number of classes present (beta 0: all 1; beta -> 1: scikit-learn's
    'balanced' weights, scaled the same way)."""
    counts = np.asarray(counts, dtype=np.float64)
    present = np.flatnonzero(counts > 0)
    inverse = (1.0 - beta) / (1.0 - beta ** counts[present])
    weights = inverse * len(present) / inverse.sum()
    return {int(c): float(w) for c, w in zip(present, weights)}



def _baseline_cases() -> list[tuple]:
    rng = np.random.default_rng(8)
    fer = np.array([3995, 436, 4097, 7215, 4830, 3171, 4965]) / 28709
    return [
        (rng.choice(7, 500, p=fer), rng.choice(7, 200, p=fer)),
        (np.array([0, 0, 1, 2, 2, 2]), np.array([2, 0, 1, 1])),
        (np.array([4, 4, 4, 1]), np.array([0, 1, 2, 3, 4, 5, 6, 6, 6])),  # hidden: validation's largest class is another
        (np.array([5, 5, 5, 0]), np.array([0, 0, 3])),  # hidden: the training majority never occurs in validation
        (np.array([2, 2, 6, 6, 6]), np.array([6, 6, 6])),  # hidden: every validation face is the majority class
    ]


def _scores(train_labels, val_labels, majority=None, over=7, f1=None):
    train_labels, val_labels = np.asarray(train_labels), np.asarray(val_labels)
    m = int(np.bincount(train_labels).argmax()) if majority is None else majority
    share = float(np.mean(val_labels == m))
    f1_m = (2 * share / (1 + share) if share else 0.0) if f1 is None else f1(share)
    return {"accuracy": share, "macro_f1": f1_m / over}


@exercise(
    cases=_baseline_cases,
    compare=_weights_compare,
    wrong_answers=[
        lambda t, v: _scores(t, v, majority=int(np.bincount(v).argmax())),  # majority taken from validation
        lambda t, v: _scores(t, v, over=len(np.unique(v))),  # mean over the classes present only
        lambda t, v: _scores(t, v, f1=lambda p: p),  # F1 taken as the precision
        lambda t, v: (lambda r: {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"] * 7 * r["accuracy"]})(_scores(t, v)),  # weighted
    ],
    hint="the predictor learns its one class on the training labels. On validation it is right exactly on the "
         "faces of that class, so its accuracy is that class's share p. For that class precision is p and recall "
         "is 1 (if the class occurs at all), and F1 is their harmonic mean; the six other classes are never "
         "predicted and score 0. Macro-F1 is the plain mean over all seven.",
)
def majority_baseline_scores(train_labels: np.ndarray, val_labels: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 (over the 7 classes, F1 = 0 for a class never predicted) of the majority-class
    predictor learned on ``train_labels`` and scored on ``val_labels``, from the labels alone:
    ``{"accuracy": p, "macro_f1": 2p / (1 + p) / 7}``, p = the validation share of the training majority."""
    return _scores(train_labels, val_labels)


questions("02", [
    Question("Two classes, 100 and 400 images. What is the balanced class weight, n_images / (n_classes x count), of the "
             "smaller class?", answer=2.5, tolerance=0.01,
             why="500 / (2 x 100) = 2.5 (and 500 / (2 x 400) = 0.625): each class then weighs 250 in all."),
    Question("A majority-class predictor on the 7 classes gets F1 = 0.40 on the class it always answers. What is its "
             "macro-F1?", answer=0.0571, tolerance=0.002,
             why="the six classes it never predicts have F1 = 0; the mean of 0.40 and six zeros is 0.40 / 7 = 0.057."),
    Question("Effective-number class weights with beta = 0: what do they do?",
             options=("weight every class the same, as if there were no remedy", "the same as the balanced weights",
                      "weight only the rarest class"), answer="a",
             why="with beta = 0 every class's effective number is 1, so all weights are 1; as beta approaches 1 they "
                 "approach the balanced weights."),
    Question("Random oversampling of a 7-class training split whose largest class has 7,000 images: how many images does "
             "an epoch then hold?", answer=49000, tolerance=0.5,
             why="every class is topped up to the largest: 7 x 7,000 = 49,000."),
    Question("Class weights and oversampling change which splits?",
             options=("training only", "training and validation", "all three"), answer="a",
             why="validation and test must measure the situation as it is; a remedy only changes what training sees."),
])
