"""Lesson 06 · Evaluation: reading a model's errors: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .core import exercise, same


def _confusion_cases() -> list[tuple]:
    rng = np.random.default_rng(6)
    hand = np.zeros((7, 7), dtype=np.int64)
    hand[0, [0, 1]] = [2, 1]
    hand[1, [1, 2]] = [1, 1]
    hand[2, [2, 0]] = [2, 1]
    hand[3, [3, 0]] = [2, 1]
    hand[4, [4, 6]] = [1, 1]
    hand[5, 5] = 1
    hand[6, 4] = 1
    empty_row = rng.integers(0, 20, (7, 7))
    empty_row[1] = 0  # hidden: a class with no test images
    return [(hand,), (rng.integers(0, 50, (7, 7)),), (empty_row,), (np.diag([5, 1, 4, 9, 6, 3, 7]),)]


def _nan_free(f: Callable) -> Callable:
    def wrong(*args):
        with np.errstate(divide="ignore", invalid="ignore"):
            return f(*args)

    return wrong


@exercise(
    cases=_confusion_cases,
    wrong_answers=[
        _nan_free(lambda cm: np.diag(cm) / cm.sum(axis=0)),  # precision (columns), not recall
        _nan_free(lambda cm: np.diag(cm) / cm.sum()),  # share of all images
        _nan_free(lambda cm: np.diag(cm) / cm.sum(axis=1)),  # NaN for a class without images
    ],
    hint="recall of class c = correct c / all images whose TRUE class is c (row c); use 0 for an empty row.",
)
def recall_from_confusion(cm: np.ndarray) -> np.ndarray:
    """Per-class recall from a 7x7 confusion matrix of counts (rows true, columns predicted);
    0 for a class with no images."""
    cm = np.asarray(cm, dtype=float)
    totals = cm.sum(axis=1)
    return np.divide(np.diag(cm), totals, out=np.zeros(len(cm)), where=totals > 0)


def _f1_cases() -> list[tuple]:
    rng = np.random.default_rng(7)
    hand_true = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 5, 6])
    hand_pred = np.array([0, 0, 1, 1, 2, 2, 2, 0, 3, 3, 0, 4, 6, 5, 4])
    y = np.concatenate([np.arange(7), rng.integers(0, 7, 293)])
    noisy = np.where(rng.random(300) < 0.6, y, rng.integers(0, 7, 300))
    never_disgust = np.where(y == 1, 6, y)  # hidden: a class never predicted (its precision is 0/0)
    return [(hand_true, hand_pred), (y, noisy), (y, never_disgust), (y, y.copy())]


def _macro_pr_harmonic(y_true, y_pred):
    from sklearn.metrics import precision_score, recall_score

    kw = dict(labels=list(range(7)), average="macro", zero_division=0)
    p, r = precision_score(y_true, y_pred, **kw), recall_score(y_true, y_pred, **kw)
    return float(2 * p * r / (p + r))


def _weighted_f1(y_true, y_pred):
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=list(range(7)), average="weighted", zero_division=0))


@exercise(
    cases=_f1_cases,
    compare=lambda expected, got: same(expected, got, rtol=1e-6, atol=1e-9),
    wrong_answers=[
        lambda t, p: float(np.mean(np.asarray(t) == np.asarray(p))),  # accuracy
        _weighted_f1,  # weighted by support
        _macro_pr_harmonic,  # F1 of the macro precision and macro recall
    ],
    hint="compute precision, recall and F1 for each of the 7 classes (F1 = 0 when precision + recall = 0), "
    "then take the plain mean of the 7 F1 values.",
)
def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-averaged F1 over the 7 classes: the unweighted mean of the per-class F1 scores."""
    from sklearn.metrics import f1_score

    return float(f1_score(y_true, y_pred, labels=list(range(7)), average="macro", zero_division=0))


def _bootstrap_cases() -> list[tuple]:
    rng = np.random.default_rng(19)
    a = rng.random(300) < 0.6
    b = a.copy()
    b[np.flatnonzero(~a)[:30]] = True  # B right on 30 more faces
    c = rng.random(300) < 0.6  # unrelated to A: the unpaired intervals are far wider
    small = np.array([True, False, True, True]), np.array([True, True, True, False])
    return [
        (a, b, rng.integers(0, 300, (400, 300))),
        (a, c, rng.integers(0, 300, (400, 300))),
        (b, a, rng.integers(0, 300, (50, 300))),  # hidden: B worse than A
        (*small, rng.integers(0, 4, (200, 4))),  # hidden: four faces
        (a, a.copy(), rng.integers(0, 300, (100, 300))),  # hidden: identical predictors
    ]


def _bootstrap_unpaired(a, b, r):
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b[r[::-1]].mean(1) - a[r].mean(1)  # each predictor on different faces
    return float(b.mean() - a.mean()), *map(float, np.percentile(d, [2.5, 97.5]))


def _bootstrap_normal(a, b, r):
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b[r].mean(1) - a[r].mean(1)
    return float(b.mean() - a.mean()), float(d.mean() - 1.96 * d.std()), float(d.mean() + 1.96 * d.std())


def _bootstrap_90(a, b, r):
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b[r].mean(1) - a[r].mean(1)
    return float(b.mean() - a.mean()), *map(float, np.percentile(d, [5, 95]))


@exercise(
    cases=_bootstrap_cases,
    wrong_answers=[
        _bootstrap_unpaired,
        lambda a, b, r: paired_bootstrap_interval(b, a, r),  # A minus B
        _bootstrap_normal,
        _bootstrap_90,
    ],
    hint="each resample (a row of indices) draws the SAME faces for both models: compute B's accuracy minus "
         "A's on it. The interval is the middle 95 % of those differences; the first number is the difference "
         "on all faces.",
)
def paired_bootstrap_interval(correct_a: np.ndarray, correct_b: np.ndarray, resamples: np.ndarray) -> tuple[float, float, float]:
    """B's accuracy minus A's on the same faces, and its 95 % paired-bootstrap interval (low, high)."""
    correct_a, correct_b = np.asarray(correct_a, dtype=float), np.asarray(correct_b, dtype=float)
    differences = correct_b[resamples].mean(axis=1) - correct_a[resamples].mean(axis=1)
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(correct_b.mean() - correct_a.mean()), float(low), float(high)


def _choice_cases() -> list[tuple]:
    rng = np.random.default_rng(20)
    n = 600
    base = rng.random(n) < 0.6

    def changed(than: np.ndarray, gains: int, losses: int = 0) -> np.ndarray:
        """``than`` right on ``gains`` more faces and wrong on ``losses`` it had right."""
        out = than.copy()
        out[rng.choice(np.flatnonzero(~than), gains, replace=False)] = True
        out[rng.choice(np.flatnonzero(than), losses, replace=False)] = False
        return out

    slight, clear = changed(base, 12, 9), changed(base, 50)  # +3 faces within noise; +50 faces
    r = rng.integers(0, n, (500, n))
    cost = {"plain": 1, "flip": 2, "crops": 6}
    return [
        ({"plain": base, "flip": slight, "crops": base.copy()}, cost, r),  # nothing beats the noise: plain
        ({"plain": base, "flip": slight, "crops": clear}, cost, r),  # only the costliest is clearly better
        ({"crops": changed(clear, 12, 8), "plain": base, "flip": clear}, cost, r),  # hidden: flip; crops within noise of it
        ({"flip": clear, "plain": base}, {"flip": 2, "plain": 1}, r),  # hidden: two options, listed costly first
        ({"a": base, "b": base.copy()}, {"a": 1, "b": 1}, r[:50]),  # hidden: equal, equal cost: the first listed
    ]


def _choose_most_accurate(correct, cost, r):
    return max(correct, key=lambda name: (np.mean(correct[name]), -cost[name]))


def _choose_vs_cheapest(correct, cost, r):
    order = sorted(correct, key=lambda name: cost[name])
    chosen = order[0]
    for name in order[1:]:
        if paired_bootstrap_interval(correct[order[0]], correct[name], r)[1] > 0:
            chosen = name
    return chosen


def _choose_by_difference(correct, cost, r):
    order = sorted(correct, key=lambda name: cost[name])
    chosen = order[0]
    for name in order[1:]:
        if paired_bootstrap_interval(correct[chosen], correct[name], r)[0] > 0:
            chosen = name
    return chosen


@exercise(
    cases=_choice_cases,
    wrong_answers=[
        _choose_most_accurate,
        _choose_vs_cheapest,
        _choose_by_difference,
        lambda correct, cost, r: min(correct, key=lambda name: cost[name]),  # always the cheapest
    ],
    hint="start from the cheapest option (equal costs: the dict's order); go up the costs and switch to a "
         "costlier option only when the paired-bootstrap interval of its gain over the one you hold lies "
         "entirely above 0.",
)
def choose_option(correct: dict[str, np.ndarray], cost: dict[str, float], resamples: np.ndarray) -> str:
    """The cheapest option, replaced by a costlier one only when its gain's 95 % interval lies above 0."""
    order = sorted(correct, key=lambda name: cost[name])
    chosen = order[0]
    for name in order[1:]:
        _, low, _ = paired_bootstrap_interval(correct[chosen], correct[name], resamples)
        if low > 0:
            chosen = name
    return chosen
