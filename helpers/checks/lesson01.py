"""Lesson 01 · Loading and exploring FER2013: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

import numpy as np

from .core import exercise


def _label_cases() -> list[tuple]:
    rng = np.random.default_rng(0)
    return [
        (np.array([0, 3, 3, 6, 1]),),
        (rng.integers(0, 7, 500),),
        (np.array([3, 3, 3]),),  # hidden: classes missing entirely
        (np.array([], dtype=np.int64),),  # hidden: empty
    ]


@exercise(
    cases=_label_cases,
    wrong_answers=[lambda y: np.bincount(y), lambda y: np.unique(y, return_counts=True)[1]],
    hint="a class with no images still needs its 0: look at np.bincount's minlength.",
)
def class_counts(labels: np.ndarray) -> np.ndarray:
    """Number of images per class (length 7, CLASS_NAMES order)."""
    from ..splits import class_counts as reference

    return reference(labels)


@exercise(
    cases=lambda: [
        ({"happy": 3, "sad": 1, "angry": 2},),
        ({"angry": 3995, "disgust": 436, "fear": 4097, "happy": 7215, "sad": 4830, "surprise": 3171, "neutral": 4965},),
        ({"fear": 5},),
        # hidden: all seven, in the alphabetical order a folder listing gives
        ({"angry": 467, "disgust": 56, "fear": 496, "happy": 895, "neutral": 607, "sad": 653, "surprise": 415},),
    ],
    wrong_answers=[
        lambda f: [f[k] for k in sorted(f)],  # alphabetical folder order, missing classes dropped
        lambda f: list(f.values()),  # whatever order the dict (the folder listing) has
        lambda f: [f[k] for k in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral") if k in f],
    ],
    hint="the folder names are sorted alphabetically on disk; the labels must follow CLASS_NAMES.",
)
def folder_counts_in_class_order(folder_counts: dict[str, int]) -> list[int]:
    """Re-order per-folder counts (any order, some missing) into CLASS_NAMES order, 0 for missing."""
    from ..course import CLASS_NAMES

    return [int(folder_counts.get(name, 0)) for name in CLASS_NAMES]


def _twin_cases() -> list[tuple]:
    rng = np.random.default_rng(1)
    pool = np.array([f"h{i}" for i in range(30)])
    three = {"train": rng.choice(pool, 40), "val": rng.choice(pool[:20], 10), "test": rng.choice(pool[10:], 12)}
    copies = {"train": np.array(["a", "b", "c"]), "test": np.array(["a", "a", "a", "d", "b"])}  # three copies of a
    return [
        (three,),
        (copies,),
        ({"test": copies["test"], "train": copies["train"]},),  # hidden: the dict's order decides a and b
        ({"train": np.array(["x"]), "val": np.array([], dtype="<U1"), "test": np.array(["x", "y"])},),  # hidden: empty split
        ({"a": pool[:5], "b": pool[3:8], "c": pool[6:9], "d": pool[:2]},),  # hidden: four splits
    ]


def _twins_distinct(hashes):
    names = list(hashes)
    return {(a, b): len(set(hashes[b]) & set(hashes[a])) for i, a in enumerate(names) for b in names[i + 1:]}


def _twins_reversed(hashes):
    names = list(hashes)
    return {(a, b): int(np.isin(hashes[a], hashes[b]).sum()) for i, a in enumerate(names) for b in names[i + 1:]}


def _twins_adjacent(hashes):
    names = list(hashes)
    return {(a, b): int(np.isin(hashes[b], hashes[a]).sum()) for a, b in zip(names, names[1:])}


@exercise(
    cases=_twin_cases,
    wrong_answers=[_twins_distinct, _twins_reversed, _twins_adjacent,
                   lambda h: {(a, b): int(np.isin(h[b], h[a]).sum()) for a in h for b in h if a != b}],  # both orders
    hint="look at every pair of splits once, the earlier one first (a before b: never both orders, never a "
         "split with itself), and count the images of b whose hash also occurs in a.",
)
def twins_between(hashes: dict[str, np.ndarray]) -> dict[tuple[str, str], int]:
    """For each pair of splits (a before b): how many images of b have an exact twin in a."""
    names = list(hashes)
    return {(a, b): int(np.isin(hashes[b], hashes[a]).sum()) for i, a in enumerate(names) for b in names[i + 1:]}
