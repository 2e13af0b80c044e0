"""Lesson 01 · Loading and exploring FER2013: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import exercise
from .quiz import Question, questions


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


# --------------------------------------------------------------------------- the CSV's pixels column

_PIXELS = 48 * 48


def _pixel_text(image: np.ndarray, sep: str = " ") -> str:
    return sep.join(str(int(v)) for v in np.asarray(image).ravel())


def _row_problem_cases() -> list[tuple]:
    rng = np.random.default_rng(4)
    good = _pixel_text(rng.integers(0, 256, _PIXELS))
    values = good.split()
    return [
        (" ".join(values[:-1]),),  # one value short
        (good,),
        (" ".join(values[:100] + ["12a"] + values[101:]),),  # not a number
        (" ".join(values + ["7"]),),  # one value too many
        (" ".join(values[:5] + ["256"] + values[6:]),),  # hidden: a number, but not a pixel value
        (" ".join(values[:9] + ["-3"] + values[10:]),),  # hidden: negative
        (" ".join(values[:50] + ["1.5"] + values[51:]),),  # hidden: not a whole number
        ("  " + "   ".join(values) + " \n",),  # hidden: extra spaces and a line end: still a good row
        ("",),  # hidden: an empty cell
    ]


def _same_row_problem(expected: Any, got: Any) -> bool:
    """``""`` for a good row; for a bad one a sentence that names what is wrong (the count or the value).

    Raises ValueError saying what differs (the check prints it)."""
    if expected == "":
        if got != "":
            raise ValueError(f"this row is a good one (2304 whole numbers 0-255, whatever the spaces between them): "
                             f"return an empty string, not {got!r}")
        return True
    if not isinstance(got, str) or not got.strip():
        raise ValueError("for a bad row, return a sentence that says what is wrong with it")
    key = expected.split("'")[1] if expected.startswith("'") else expected.split()[0]
    if key not in got:
        what = f"the value {key!r}" if expected.startswith("'") else f"how many values it has ({key})"
        raise ValueError(f"the sentence should name {what}, so that whoever fixes the file can find it")
    return True


@exercise(
    cases=_row_problem_cases,
    compare=_same_row_problem,
    wrong_answers=[
        lambda t: "" if len(t.split(" ")) == _PIXELS else f"{len(t.split(' '))} values",  # split on one space only
        lambda t: "" if len(t.split()) == _PIXELS else f"{len(t.split())} values, expected 2304",  # values never read
        lambda t: (f"{len(t.split())} values" if len(t.split()) != _PIXELS else  # no range check: 256 and -3 pass
                   next((f"{v!r} is not a number" for v in t.split() if not v.lstrip("-").isdigit()), "")),
        lambda t: "something is wrong" if pixel_row_problem(t) else "",  # says nothing useful
    ],
    hint="split the text on whitespace (any number of spaces), count the pieces (48 times 48 of them), then look "
         "at each piece: is it made of digits only, and at most 255? Say what you found (the count, or the first "
         "bad piece); an empty string means a good row.",
)
def pixel_row_problem(text: str) -> str:
    """What is wrong with one cell of FER2013's ``pixels`` column: ``""`` for a good one (2,304 whole
    numbers 0-255 separated by any whitespace), else a sentence naming the count or the first bad value."""
    values = str(text).split()
    if len(values) != _PIXELS:
        return f"{len(values)} values, expected {_PIXELS} (48x48)"
    for value in values:
        if not (value.isascii() and value.isdigit()) or int(value) > 255:
            return f"{value!r} is not a whole number 0-255"
    return ""


def _parse_cases() -> list[tuple]:
    import pandas as pd

    rng = np.random.default_rng(5)
    faces = rng.integers(0, 256, (6, 48, 48)).astype(np.uint8)
    faces[0, 0, :3] = (0, 255, 7)  # the extremes
    faces[1] = np.add.outer(np.arange(48), 2 * np.arange(48)).clip(0, 255)  # rows differ from columns: a transposed face shows
    rows = [_pixel_text(f) for f in faces]
    series = pd.Series(rows[3:], index=[100, 101, 102], name="pixels")  # hidden: a column of a DataFrame
    spaced = ["  " + _pixel_text(faces[4], "  ") + " ", _pixel_text(faces[5], " \t ") + "\n"]  # hidden: extra whitespace
    return [(rows[:3],), (rows[1:2],), (series,), (spaced,), ([],)]  # hidden last: no rows at all


def _same_faces(expected: np.ndarray, got: Any) -> bool:
    """The same uint8 array of faces; raises ValueError saying what differs (the check prints it)."""
    if not isinstance(got, np.ndarray):
        raise ValueError(f"return a NumPy array, not {type(got).__name__}")
    if got.shape != expected.shape:
        raise ValueError(f"shape {got.shape}, expected {expected.shape} (one 48x48 face per row)")
    if got.dtype != np.uint8:
        raise ValueError(f"dtype {got.dtype}, expected uint8 (pixel values 0-255 take one byte each)")
    if not np.array_equal(got, expected):
        transposed = got.size and np.array_equal(got, np.swapaxes(expected, 1, 2))
        raise ValueError("the faces are transposed: the 2,304 values go row by row (48 of the first row, then the next)"
                         if transposed else "some pixel values differ")
    return True


@exercise(
    cases=_parse_cases,
    compare=_same_faces,
    wrong_answers=[
        lambda rows: np.array([[int(v) for v in r.split(" ")] for r in rows], dtype=np.uint8).reshape(-1, 48, 48),
        lambda rows: np.array([r.split() for r in rows], dtype=np.int64).reshape(-1, 48, 48),  # int64, 8 bytes a pixel
        lambda rows: np.array([r.split() for r in rows], dtype=np.uint8).reshape(-1, 48, 48, order="F"),  # columns first
        lambda rows: np.stack([np.array(r.split(), dtype=np.uint8).reshape(48, 48) for r in rows]),  # no rows: error
        lambda rows: np.array([r.split() for r in rows], dtype=np.uint8).reshape(-1, _PIXELS),  # not reshaped
    ],
    hint="for each row: check it with your pixel_row_problem and stop with a ValueError that names the row if it is "
         "bad; else turn its pieces into whole numbers, one byte each, laid out row by row into 48 by 48. Stack the "
         "faces; no rows at all still gives an array with 0 faces of 48 by 48.",
)
def parse_pixels(pixel_strings) -> np.ndarray:
    """FER2013's ``pixels`` column (a list or Series of strings, one face each) as uint8 faces
    ``(n, 48, 48)``, row by row. Raises ValueError naming the row (its position) and what is wrong."""
    faces = []
    for row, text in enumerate(pixel_strings):
        problem = pixel_row_problem(text)
        if problem:
            raise ValueError(f"row {row} of the pixels column: {problem}")
        faces.append(np.array(text.split(), dtype=np.int64).astype(np.uint8).reshape(48, 48))
    return np.stack(faces) if faces else np.zeros((0, 48, 48), np.uint8)



# --------------------------------------------------------------------------- a stratified split without twins across it


def _split_cases() -> list[tuple]:
    rng = np.random.default_rng(7)
    labels = rng.choice(7, 700, p=[0.14, 0.02, 0.14, 0.25, 0.17, 0.11, 0.17])
    distinct = np.array([f"h{i}" for i in range(700)])
    pool = np.array([f"d{i}" for i in range(260)])
    with_twins = rng.choice(pool, 400)  # about a third of the faces have a copy, some with another label
    few = np.repeat(np.arange(7), [40, 3, 30, 60, 35, 25, 35])  # hidden: sorted by class, three disgust faces
    few_hashes = np.array([f"f{i % 150}" for i in range(len(few))])  # hidden: twins spread across classes
    return [
        (labels, distinct, 0.2, 0),
        (labels[:400], with_twins, 0.25, 1),
        (few, few_hashes, 0.1, 2),
        (few, np.array([f"u{i}" for i in range(len(few))]), 0.3, 3),
    ]


def _verify_split(args: tuple, got: Any) -> str | None:
    """``None`` when ``(train_index, val_index)`` is a seeded-looking stratified split without twins across it."""
    labels, hashes, fraction, _ = args
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        return "return a pair (train_index, val_index)"
    try:
        train, val = (np.asarray(part).astype(np.int64).ravel() for part in got)
    except (TypeError, ValueError):
        return "train_index and val_index should be arrays of whole numbers (positions of faces)"
    n = len(labels)
    both = np.concatenate([train, val])
    if len(both) and (both.min() < 0 or both.max() >= n):
        return f"indices must be positions 0..{n - 1}"
    if len(both) != n or len(np.unique(both)) != n:
        lost, twice = n - len(np.unique(both)), len(both) - len(np.unique(both))
        return (f"every face must be in exactly one of the two parts: {lost} missing, {twice} in both or twice"
                " (move a validation face with a twin to train, do not drop it)")
    across = np.isin(hashes[val], hashes[train])
    if across.any():
        return (f"{int(across.sum())} validation faces have an exact twin in train (the first: position {int(val[across][0])}): "
                "a model could score them by memory")
    values, counts = np.unique(hashes, return_counts=True)
    copies = np.isin(hashes, values[counts > 1])  # faces with a copy anywhere: moving them may shift a class
    for c in np.unique(labels):
        members = labels == c
        want, have = fraction * members.sum(), int(np.isin(val, np.flatnonzero(members)).sum())
        if abs(have - want) > 1 + int((members & copies).sum()):
            return (f"class {c} has {int(members.sum())} faces and {have} of them in validation; a stratified split "
                    f"puts about {want:.1f} there (val_fraction of every class)")
    first = np.concatenate([np.flatnonzero(labels == c)[: int(np.isin(val, np.flatnonzero(labels == c)).sum())]
                            for c in np.unique(labels)])
    if len(val) >= 10 and np.array_equal(np.sort(first), np.sort(val)):
        return "the validation faces are the first faces of every class: shuffle each class first (seeded by seed)"
    return None


def _split_stratified_only(labels, hashes, fraction, seed):
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(labels)), test_size=fraction, stratify=labels, random_state=seed)


def _split_random(labels, hashes, fraction, seed):  # not stratified (twins moved, as they should be)
    order = np.random.default_rng(seed).permutation(len(labels))
    is_val = np.zeros(len(labels), bool)
    is_val[order[: round(fraction * len(labels))]] = True
    is_val[np.flatnonzero(is_val)[np.isin(hashes[is_val], hashes[~is_val])]] = False
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


def _split_dropping_twins(labels, hashes, fraction, seed):  # twins thrown away instead of moved to train
    train, val = _split_stratified_only(labels, hashes, fraction, seed)
    return train, val[~np.isin(hashes[val], hashes[train])]


def _split_first_of_each_class(labels, hashes, fraction, seed):  # no shuffle
    val = np.concatenate([np.flatnonzero(labels == c)[: round(fraction * (labels == c).sum())] for c in np.unique(labels)])
    is_val = np.isin(np.arange(len(labels)), val)
    is_val[np.flatnonzero(is_val)[np.isin(hashes[is_val], hashes[~is_val])]] = False
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


@exercise(
    cases=_split_cases,
    verify=_verify_split,
    wrong_answers=[_split_stratified_only, _split_random, _split_dropping_twins, _split_first_of_each_class],
    hint="for each class on its own: shuffle its positions (a generator seeded by seed) and put the first "
         "val_fraction of them (rounded) in validation. Then look at the validation faces: any whose hash also "
         "occurs among the training faces goes to train. Every face ends up in exactly one part.",
)
def split_without_twins(labels: np.ndarray, hashes: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train_index, val_index)``: positions of the faces in each part of a stratified split (about
    ``val_fraction`` of every class in validation, seeded by ``seed``) in which no validation face has an exact
    twin (equal hash) in train: such faces are moved to train. Every face is in exactly one part."""
    labels, hashes = np.asarray(labels), np.asarray(hashes)
    rng = np.random.default_rng(seed)
    is_val = np.zeros(len(labels), bool)
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        is_val[members[: round(val_fraction * len(members))]] = True
    is_val[np.flatnonzero(is_val)[np.isin(hashes[is_val], hashes[~is_val])]] = False
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


questions("01", [
    Question("A tool numbers the Kaggle folders by their alphabetical position. Which class does `CLASS_NAMES` read the "
             "number it gives the *neutral* folder as?", options=("sad", "neutral", "surprise", "happy"), answer="a",
             why="alphabetically angry 0, disgust 1, fear 2, happy 3, neutral 4; CLASS_NAMES[4] is sad. Map folder names, "
                 "never positions."),
    Question("How many numbers does one cell of the CSV's `pixels` column hold?", answer=2304, tolerance=0.5,
             why="48 x 48 = 2,304 brightness values, row by row."),
    Question("Your `parse_pixels` meets a row with 2,303 values. What should it do?",
             options=("pad it with a zero and go on", "skip it and go on", "stop with an error that names the row"),
             answer="c",
             why="padding or skipping changes the data without anyone knowing; an error naming the row says what to fix."),
    Question("Why does the course move a validation face with an exact pixel twin in `train` into `train`?",
             options=("a model could score it by memory, so validation would look better than on new faces",
                      "duplicates take up memory", "it would change the class shares"), answer="a",
             why="validation is where choices are made; a face the model has seen measures memory, not generalisation."),
    Question("With the original CSV, which `Usage` is the course's validation split?",
             options=("Training", "PublicTest", "PrivateTest"), answer="b",
             why="train = Training, val = PublicTest, test = PrivateTest, read once at the end."),
])
