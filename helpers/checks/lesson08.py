"""Lesson 08 · The dataset's limits: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

import numpy as np

from .core import exercise


def _rejection_cases() -> list[tuple]:
    rng = np.random.default_rng(8)

    def probs(n):
        return rng.dirichlet(np.ones(7) * 0.5, n)

    small = np.array([[0.70, 0.10, 0.05, 0.05, 0.04, 0.03, 0.03],
                      [0.05, 0.02, 0.03, 0.80, 0.04, 0.03, 0.03],
                      [0.20, 0.05, 0.35, 0.10, 0.20, 0.05, 0.05]])
    return [(small, np.array([3, 3, 2])), (probs(50), rng.integers(0, 7, 50)), (probs(1), np.array([6]))]


@exercise(
    cases=_rejection_cases,
    wrong_answers=[
        lambda p, y: np.argsort(-p[np.arange(len(y)), y]),  # most plausible labels first
        lambda p, y: np.argsort(p.max(axis=1)),  # least confident predictions, ignoring the label
        lambda p, y: np.flatnonzero(p.argmax(axis=1) != y),  # only the mistakes, not ranked
    ],
    hint="for each image, the probability the model gives to ITS label; order the images from the smallest of "
         "these to the largest.",
)
def label_rejection_ranking(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Indices of the images, ordered from the label the model finds least likely to the most likely."""
    labels = np.asarray(labels)
    return np.argsort(np.asarray(probs)[np.arange(len(labels)), labels], kind="stable")


def _brightness_cases() -> list[tuple]:
    rng = np.random.default_rng(9)
    faces = rng.integers(0, 256, (5, 48, 48, 1)).astype(np.uint8)
    flat = np.full((2, 48, 48, 1), 200, np.uint8)  # hidden: no contrast at all
    return [(faces,), (np.concatenate([faces, flat]),), (flat[:1],)]


@exercise(
    cases=_brightness_cases,
    wrong_answers=[
        lambda x: np.stack([np.full(len(x), x.mean()), np.full(len(x), x.std())], axis=1),  # whole-set statistics
        lambda x: np.stack([x.reshape(len(x), -1).mean(1), np.ptp(x.reshape(len(x), -1), axis=1)], axis=1),  # range
        lambda x: np.stack([x.reshape(len(x), -1).mean(1) / 255, x.reshape(len(x), -1).std(1) / 255], axis=1),
    ],
    hint="one row per image: the mean of its pixels (brightness) and their standard deviation (contrast), in 0-255 units.",
)
def brightness_contrast(images: np.ndarray) -> np.ndarray:
    """Per image: [mean pixel value, standard deviation of pixel values] (0-255), shape (N, 2)."""
    flat = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    return np.stack([flat.mean(axis=1), flat.std(axis=1)], axis=1)


def _recall_interval_cases() -> list[tuple]:
    rng = np.random.default_rng(8)
    y = rng.integers(0, 7, 200)
    pred = np.where(rng.random(200) < 0.6, y, rng.integers(0, 7, 200))
    rare = y.copy()
    rare[rare == 1] = 0
    rare[:2] = 1  # two disgust faces, both found: about one redraw in seven holds none
    found = pred.copy()
    found[:2] = 1
    no_fear = np.where(y == 2, 3, y)  # hidden: a class with no faces at all
    return [
        (y, pred, rng.integers(0, 200, (300, 200))),
        (rare, found, rng.integers(0, 200, (300, 200))),
        (no_fear, pred, rng.integers(0, 200, (100, 200))),
        (y, y.copy(), rng.integers(0, 200, (50, 200))),  # hidden: every answer right
    ]


def _recall_interval(y, p, r, skip_empty=True, q=(2.5, 97.5), of="recall"):
    y, p = np.asarray(y), np.asarray(p)
    out = np.zeros((7, 3))
    for c in range(7):
        is_c, said_c = y == c, p == c
        hit = is_c & said_c
        base = is_c if of == "recall" else said_c
        n_c = base[r].sum(axis=1)
        keep = n_c > 0 if skip_empty else np.ones(len(r), bool)
        redrawn = hit[r].sum(axis=1)[keep] / np.maximum(n_c[keep], 1)
        if base.any():
            out[c] = [hit.sum() / base.sum(), *np.percentile(redrawn, q)]
    return out


@exercise(
    cases=_recall_interval_cases,
    wrong_answers=[
        lambda y, p, r: _recall_interval(y, p, r, skip_empty=False),  # empty redraws counted as recall 0
        lambda y, p, r: _recall_interval(y, p, r, of="precision"),
        lambda y, p, r: _recall_interval(y, p, r, q=(5, 95)),
        lambda y, p, r: np.repeat(_recall_interval(y, p, r)[:, :1], 3, axis=1),  # no interval at all
    ],
    hint="per class: the recall on all faces (found / faces of that class), and its interval from the "
         "resamples: the recall among the faces each resample drew (leave out resamples that drew no face of "
         "the class), then the 2.5th and 97.5th percentiles. A class with no face gets zeros.",
)
def recall_intervals(y_true: np.ndarray, y_pred: np.ndarray, resamples: np.ndarray) -> np.ndarray:
    """Per class: [recall, 2.5th percentile, 97.5th percentile] over bootstrap redraws, shape (7, 3)."""
    return _recall_interval(y_true, y_pred, resamples)
