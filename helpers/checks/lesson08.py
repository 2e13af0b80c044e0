"""Lesson 08 · The dataset's limits: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

import numpy as np

from .core import exercise
from .quiz import Question, questions


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


#: The reasons a FER+ majority gives no course label, as the exercise counts them.
DROP_REASONS = ("tie", "unknown", "not a face", "contempt", "no votes")


def _ferplus_cases() -> list[tuple]:
    rng = np.random.default_rng(80)
    # FER+ columns: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
    hand = np.array([
        [0, 0, 0, 0, 6, 2, 1, 0, 1, 0],  # anger -> angry (0)
        [1, 0, 0, 0, 1, 7, 1, 0, 0, 0],  # disgust (1)
        [0, 0, 3, 0, 0, 0, 6, 0, 1, 0],  # fear (2)
        [2, 8, 0, 0, 0, 0, 0, 0, 0, 0],  # happiness -> happy (3)
        [3, 0, 0, 7, 0, 0, 0, 0, 0, 0],  # sadness -> sad (4)
        [0, 1, 9, 0, 0, 0, 0, 0, 0, 0],  # surprise (5)
        [10, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # neutral (6)
    ])
    edge = np.array([
        [4, 4, 2, 0, 0, 0, 0, 0, 0, 0],  # a tie between two classes
        [1, 0, 0, 0, 0, 0, 0, 2, 6, 1],  # most could not tell: unknown
        [0, 0, 0, 0, 0, 0, 0, 0, 1, 9],  # not a face
        [2, 0, 0, 0, 1, 1, 0, 6, 0, 0],  # contempt: not a FER2013 class
        [0, 3, 0, 0, 0, 0, 0, 0, 3, 3],  # a three-way tie with unknown and not a face
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # nobody voted
        [3, 0, 0, 0, 0, 0, 0, 0, 0, 4],  # not a face by 4 to 3
    ])
    crowd = rng.multinomial(10, rng.dirichlet(np.ones(10) * 0.4, 300)[0], 300)
    mixed = np.array([rng.multinomial(10, p) for p in rng.dirichlet(np.ones(10) * 0.3, 200)])
    return [(hand,), (np.concatenate([hand, edge]),), (mixed,), (crowd,), (edge[1:2],), (hand[3:4],)]


def _majority(counts, first_wins=False, no_mapping=False, emotions_only=False, zero_is_tie=False):
    from ..ferplus import TO_CLASS, VOTE_COLUMNS
    from ..course import CLASS_NAMES

    counts = np.asarray(counts)
    labels = np.full(len(counts), -1, np.int64)
    dropped = dict.fromkeys(DROP_REASONS, 0)
    for i, row in enumerate(counts):
        columns = row[:7] if emotions_only else row
        winners = np.flatnonzero(columns == columns.max())
        if first_wins:
            winners = winners[:1]
        if row.max() == 0 and not zero_is_tie:
            dropped["no votes"] += 1
        elif len(winners) > 1:
            dropped["tie"] += 1
        elif VOTE_COLUMNS[winners[0]] in TO_CLASS:
            labels[i] = winners[0] if no_mapping else CLASS_NAMES.index(TO_CLASS[VOTE_COLUMNS[winners[0]]])
        else:
            dropped[{"NF": "not a face"}.get(VOTE_COLUMNS[winners[0]], VOTE_COLUMNS[winners[0]])] += 1
    return labels, dropped


@exercise(
    cases=_ferplus_cases,
    wrong_answers=[
        lambda v: _majority(v, first_wins=True),  # a tie goes to the first column
        lambda v: _majority(v, no_mapping=True),  # FER+'s column number used as the class number
        lambda v: _majority(v, emotions_only=True),  # unknown, not-a-face and contempt votes ignored
        lambda v: _majority(v, zero_is_tie=True),  # a row without votes counted as a tie
        lambda v: (_majority(v)[0], {}),  # the dropped rows not counted
    ],
    hint="per row, find the largest number of votes and every column that has it. Several columns: a tie. One "
         "column: an emotion becomes its course class (FER+'s columns are in another order than CLASS_NAMES: map "
         "them by name), unknown, not a face and contempt give no label. Every row without a label gets -1 and is "
         "counted under its reason; a row nobody voted on is its own reason.",
)
def ferplus_majority(votes: np.ndarray) -> tuple:
    """The FER+ majority label of each row of a vote matrix, and how many rows were dropped, and why.

    ``votes``: int (N, 10) in FER+'s column order (neutral, happiness, surprise, sadness, anger, disgust, fear,
    contempt, unknown, NF). Returns ``(labels, dropped)``: int (N,) CLASS_NAMES indices, -1 where the majority
    gives no course label, and ``{"tie", "unknown", "not a face", "contempt", "no votes"} -> rows``.
    """
    from ..ferplus import majority

    labels, reasons = majority(votes)
    dropped = dict.fromkeys(DROP_REASONS, 0)
    for reason in reasons:
        if reason is not None:
            dropped["tie" if reason.startswith("tie") else reason] += 1
    return labels, dropped


questions("08", [
    Question("Ten FER+ annotators vote on a face: neutral 4, happiness 4, surprise 2. What label does the course's "
             "majority rule give it?",
             options=("neutral (the first column)", "happy", "none: the face is dropped as a tie, and counted",
                      "its FER2013 label"),
             answer="c",
             why="no single class has the most votes; a tie gives no majority label, so the face is left out and "
                 "counted under 'tie' (its soft label, 0.4/0.4/0.2, still keeps the votes)."),
    Question("Why are suspicious labels ranked with predictions of a model that never trained on those faces?",
             options=("held-out predictions are faster",
                      "a model that trained on a face has learnt its label, right or wrong, so it rarely rejects it",
                      "held-out predictions are more confident"),
             answer="b",
             why="a network can memorise the training labels, wrong ones included; only a model that has not seen "
                 "the face gives an independent opinion about its label."),
    Question("A training image has a pixel standard deviation of 3 (in 0-255 units). What is it most likely?",
             options=("a calm, neutral face", "a blank or nearly uniform image, not a face", "a very dark face"),
             answer="b",
             why="FER2013 faces were normalised: their contrast sits far above that. A std of 3 means almost every "
                 "pixel has the same value, whatever the brightness; a dark face still has contrast."),
    Question("A validation class has 12 faces and the model finds 6 of them. By how many percentage points does its "
             "recall move if the model finds one more?",
             answer=8.33, tolerance=0.1,
             why="recall is found / faces of the class: 6/12 = 50 % and 7/12 = 58.3 %. One face moves it by 1/12, "
                 "which is why the lesson puts a bootstrap interval around every class's recall."),
])
