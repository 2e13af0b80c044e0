"""Exercise checks: run a student's function against the reference on several cases.

In a lesson, each exercise is a function to complete, followed by a check cell::

    class_counts = check(class_counts)

``check`` looks the exercise up by the function's name, calls it and the reference on every
case (some of them edge cases the student does not see in the notebook) and prints a clear
pass, or the first failing case with its input, the expected value and what came back. It
returns the student's function when it passes and the reference otherwise, so the rest of the
notebook always runs (which is what CI relies on).

Exercises are registered with :func:`exercise`, next to the code they teach, grouped by lesson
at the bottom of this module.
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class Exercise:
    """One exercise: its reference answer, the cases it is checked on, and plausible wrong answers.

    ``cases`` is a list of argument tuples. ``compare(expected, got)`` decides equality (default:
    :func:`same`). ``wrong_answers`` are mistakes students make; the test suite proves the check
    catches each of them.
    """

    name: str
    reference: Callable
    cases: Callable[[], list[tuple]]
    compare: Callable[[Any, Any], bool]
    wrong_answers: list[Callable] = field(default_factory=list)
    hint: str = ""


EXERCISES: dict[str, Exercise] = {}


def same(expected: Any, got: Any, rtol: float = 1e-6, atol: float = 1e-8) -> bool:
    """Equal values, arrays or containers; floats compared with a tolerance."""
    if isinstance(expected, dict):
        return isinstance(got, dict) and expected.keys() == got.keys() and all(same(expected[k], got[k], rtol, atol) for k in expected)
    if isinstance(expected, (list, tuple)) and isinstance(got, np.ndarray):
        try:
            as_array = np.asarray(expected)
        except ValueError:  # ragged: no array can equal it
            return False
        return same(as_array, got, rtol, atol)  # the same numbers as an array: also right
    if isinstance(expected, (list, tuple)):
        return isinstance(got, (list, tuple)) and len(expected) == len(got) and all(same(e, g, rtol, atol) for e, g in zip(expected, got))
    if isinstance(expected, (np.ndarray, np.generic, int, float)) and not isinstance(expected, bool):
        try:
            e, g = np.asarray(expected), np.asarray(got)
        except Exception:
            return False
        if e.shape != g.shape or g.dtype == object:
            return False
        if np.issubdtype(e.dtype, np.number) and np.issubdtype(g.dtype, np.number):
            return bool(np.allclose(e, g, rtol=rtol, atol=atol, equal_nan=True))
        return bool(np.array_equal(e, g))
    if isinstance(got, np.ndarray):  # e.g. a string or a bool against an array: never the same
        return False
    try:
        return bool(expected == got)
    except (TypeError, ValueError):  # no single truth value
        return False


def exercise(
    cases: Callable[[], list[tuple]],
    compare: Callable[[Any, Any], bool] = same,
    wrong_answers: list[Callable] | None = None,
    hint: str = "",
) -> Callable[[Callable], Callable]:
    """Decorator registering a reference answer as the exercise of the same name."""

    def register(reference: Callable) -> Callable:
        EXERCISES[reference.__name__] = Exercise(reference.__name__, reference, cases, compare, wrong_answers or [], hint)
        return reference

    return register


@dataclass
class Result:
    """Outcome of a check: ``status`` is ``"pass"``, ``"fail"`` or ``"not attempted"``."""

    name: str
    status: str
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def _short(value: Any, limit: int = 300) -> str:
    if isinstance(value, np.ndarray) and value.size > 20:
        text = f"array(shape={value.shape}, dtype={value.dtype}, first values {value.ravel()[:6].tolist()})"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def run_check(answer: Callable, name: str | None = None) -> Result:
    """Check ``answer`` against the exercise registered under ``name`` (default: its ``__name__``)."""
    name = name or getattr(answer, "__name__", "")
    if name not in EXERCISES:
        raise KeyError(f"No exercise called {name!r}. Known: {', '.join(sorted(EXERCISES))}")
    ex = EXERCISES[name]
    cases = ex.cases()
    for i, args in enumerate(cases, 1):
        expected = ex.reference(*args)
        try:
            got = answer(*_copy(args))
        except NotImplementedError:
            return Result(name, "not attempted", f"{name}: not attempted yet.")
        except Exception as exc:
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            return Result(name, "fail", f"{name}: case {i}/{len(cases)} raised {tb}\n  input:    {_describe(args)}")
        if got is None and expected is not None:
            return Result(name, "not attempted", f"{name}: returned None; did you forget `return`? (not attempted yet)")
        try:
            right = ex.compare(expected, got)
        except Exception as exc:  # an answer of an unexpected type: a clear FAIL, never a crashed cell
            right, why = False, traceback.format_exception_only(type(exc), exc)[-1].strip()
        else:
            why = ""
        if not right:
            return Result(
                name,
                "fail",
                f"{name}: case {i}/{len(cases)} is wrong.\n  input:    {_describe(args)}\n"
                f"  expected: {_short(expected)}\n  got:      {_short(got)}" + (f"\n  ({why})" if why else ""),
            )
    return Result(name, "pass", f"{name}: all {len(cases)} cases pass (including hidden edge cases).")


def _copy(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _describe(args: tuple) -> str:
    return ", ".join(_short(a, 120) for a in args)


def check(answer: Callable, name: str | None = None) -> Callable:
    """Check an exercise, print the verdict, and return what the rest of the notebook should use.

    Returns ``answer`` if it passes, otherwise the reference answer (so the notebook continues).
    """
    result = run_check(answer, name)
    ex = EXERCISES[result.name]
    if result.passed:
        print(f"PASS  {result.message}")
        return answer
    if result.status == "not attempted":
        print(f"TODO  {result.message} The notebook continues with the reference answer.")
    else:
        print(f"FAIL  {result.message}")
        if ex.hint:
            print(f"  hint: {ex.hint}")
        print("  The notebook continues with the reference answer; fix yours and re-run the check.")
    return ex.reference


# =========================================================================== lessons 01-02


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
    from .data import class_counts as reference

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
    from .course import CLASS_NAMES

    return [int(folder_counts.get(name, 0)) for name in CLASS_NAMES]


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
    hint="'balanced' weights are n_samples / (n_classes_present * count_of_class).",
)
def balanced_class_weights(labels: np.ndarray) -> dict[int, float]:
    """scikit-learn's 'balanced' class weights as a {class index: weight} dict for Keras."""
    from .imbalance import class_weights

    return class_weights(labels)


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
    hint="names = list(hashes); for i, a in enumerate(names): for b in names[i + 1:]: "
    "counts[(a, b)] = int(np.isin(hashes[b], hashes[a]).sum()).",
)
def twins_between(hashes: dict[str, np.ndarray]) -> dict[tuple[str, str], int]:
    """For each pair of splits (a before b): how many images of b have an exact twin in a."""
    names = list(hashes)
    return {(a, b): int(np.isin(hashes[b], hashes[a]).sum()) for i, a in enumerate(names) for b in names[i + 1:]}


# ==== lessons 06 and 08


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
    hint="for each image take probs[i, labels[i]] (the probability of ITS label), then sort ascending.",
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
    hint="d = correct_b[resamples].mean(axis=1) - correct_a[resamples].mean(axis=1) (the same rows for both); "
    "return (mean(b) - mean(a), np.percentile(d, 2.5), np.percentile(d, 97.5)).",
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
    hint="sort the names by cost (sorted is stable: equal costs keep the dict's order); chosen = the first; for each "
    "next name, if paired_bootstrap_interval(correct[chosen], correct[name], resamples)[1] > 0: chosen = name.",
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
    hint="per class c: is_c = y_true == c, hit = is_c & (y_pred == c); n_c = is_c[resamples].sum(1); "
    "redrawn = hit[resamples].sum(1)[n_c > 0] / n_c[n_c > 0]; row = [hit.sum() / is_c.sum(), "
    "*np.percentile(redrawn, [2.5, 97.5])], or zeros when the class has no face.",
)
def recall_intervals(y_true: np.ndarray, y_pred: np.ndarray, resamples: np.ndarray) -> np.ndarray:
    """Per class: [recall, 2.5th percentile, 97.5th percentile] over bootstrap redraws, shape (7, 3)."""
    return _recall_interval(y_true, y_pred, resamples)


# ==== lessons 03-05


def _augmentation_signature(block: Any) -> list[tuple]:
    """What matters in an augmentation block: its random layers, in order, with their strengths."""
    import keras

    if not isinstance(block, keras.Sequential):
        return [("not a keras.Sequential", type(block).__name__)]
    out = []
    for layer in block.layers:
        config = layer.get_config()
        kind = type(layer).__name__
        if kind == "RandomFlip":
            out.append((kind, config.get("mode")))
        elif kind == "RandomRotation":
            out.append((kind, _factor(config.get("factor"))))
        elif kind == "RandomZoom":
            out.append((kind, _factor(config.get("height_factor")), _factor(config.get("width_factor"))))
        else:
            out.append((kind,))
    return out


def _factor(value: Any) -> Any:
    """0.1, (-0.1, 0.1) and [-0.1, 0.1] are the same strength; None (width = height) stays None."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        low, high = (float(v) for v in value)
        return (round(low, 6), round(high, 6))
    return (round(-float(value), 6), round(float(value), 6))


def _same_augmentation(expected: Any, got: Any) -> bool:
    return _augmentation_signature(expected) == _augmentation_signature(got)


def _wrong_vertical_flip(rotation: float, zoom: float):
    import keras

    return keras.Sequential([keras.layers.RandomFlip("horizontal_and_vertical"), keras.layers.RandomRotation(rotation),
                             keras.layers.RandomZoom(zoom)])


def _wrong_degrees(rotation: float, zoom: float):
    import keras

    return keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(rotation * 360),
                             keras.layers.RandomZoom(zoom)])


def _wrong_stretch(rotation: float, zoom: float):
    import keras

    return keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(rotation),
                             keras.layers.RandomZoom(zoom, zoom)])  # width drawn apart from height: stretched faces


def _wrong_no_flip(rotation: float, zoom: float):
    import keras

    return keras.Sequential([keras.layers.RandomRotation(rotation), keras.layers.RandomZoom(zoom)])


@exercise(
    cases=lambda: [(0.05, 0.1), (0.1, 0.2), (0.02, 0.05)],
    compare=_same_augmentation,
    wrong_answers=[_wrong_vertical_flip, _wrong_degrees, _wrong_stretch, _wrong_no_flip],
    hint="keras.Sequential([RandomFlip('horizontal'), RandomRotation(rotation), RandomZoom(zoom)]): a vertical "
         "flip changes the expression, RandomRotation's factor is a fraction of a full turn, not degrees, and "
         "RandomZoom takes no width factor (the width follows the height; its own would stretch faces).",
)
def build_augmentation(rotation: float, zoom: float):
    """A keras.Sequential: horizontal flip, then rotation by up to ``rotation`` of a turn, then zoom up to ``zoom``."""
    import keras

    return keras.Sequential([
        keras.layers.RandomFlip("horizontal"),
        keras.layers.RandomRotation(rotation),
        keras.layers.RandomZoom(zoom),
    ])


@exercise(
    cases=lambda: [(48, 3, 1, "same"), (48, 3, 1, "valid"), (48, 3, 2, "same"), (47, 3, 2, "valid"),
                   (48, 5, 2, "valid"), (7, 7, 1, "valid"), (5, 3, 2, "same"), (6, 2, 2, "valid")],
    wrong_answers=[
        lambda size, kernel, stride, padding: -(-size // stride),  # padding ignored
        lambda size, kernel, stride, padding: size // stride if padding == "same" else (size - kernel) // stride,
        lambda size, kernel, stride, padding: size if padding == "same" else size - kernel + 1,  # stride ignored
    ],
    hint="'valid': (size - kernel) // stride + 1;  'same': ceil(size / stride), i.e. -(-size // stride).",
)
def conv_output_shape(size: int, kernel: int, stride: int, padding: str) -> int:
    """Output height (= width) of a square convolution or pooling: padding 'same' or 'valid'."""
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


@exercise(
    cases=lambda: [(3, 1, 32, True), (3, 32, 64, True), (3, 64, 128, False), (5, 3, 16, True), (1, 256, 7, True)],
    wrong_answers=[
        lambda k, c_in, c_out, bias: k * k * c_in * c_out,  # bias forgotten
        lambda k, c_in, c_out, bias: k * k * c_out + (c_out if bias else 0),  # input channels forgotten
        lambda k, c_in, c_out, bias: k * k * c_in * c_out + (c_in if bias else 0),  # one bias per input channel
    ],
    hint="every output channel has a k x k x c_in kernel, plus one bias per output channel when use_bias.",
)
def conv_params(kernel: int, c_in: int, c_out: int, use_bias: bool) -> int:
    """Trainable parameters of a Conv2D with a ``kernel x kernel`` kernel, ``c_in`` -> ``c_out`` channels."""
    return kernel * kernel * c_in * c_out + (c_out if use_bias else 0)


def _optimizer_loss_signature(pair: Any) -> tuple:
    try:
        optimizer, loss = pair
        config = loss.get_config()
        return (type(optimizer).__name__, round(float(np.asarray(optimizer.learning_rate)), 9), type(loss).__name__,
                round(float(config.get("label_smoothing", 0.0)), 9), bool(config.get("from_logits", False)))
    except Exception as exc:  # not a pair of Keras objects
        return ("not an (optimizer, loss) pair", repr(exc))


def _same_optimizer_loss(expected: Any, got: Any) -> bool:
    return _optimizer_loss_signature(expected) == _optimizer_loss_signature(got)


@exercise(
    cases=lambda: [(1e-3, 0.0), (3e-4, 0.1), (1e-2, 0.05)],
    compare=_same_optimizer_loss,
    wrong_answers=[
        lambda lr, s: (__import__("keras").optimizers.SGD(lr), __import__("keras").losses.CategoricalCrossentropy(label_smoothing=s)),
        lambda lr, s: (__import__("keras").optimizers.Adam(lr), __import__("keras").losses.SparseCategoricalCrossentropy()),
        lambda lr, s: (__import__("keras").optimizers.Adam(lr), __import__("keras").losses.CategoricalCrossentropy(from_logits=True, label_smoothing=s)),
        lambda lr, s: (__import__("keras").optimizers.Adam(lr), __import__("keras").losses.CategoricalCrossentropy()),
    ],
    hint="keras.optimizers.Adam(learning_rate=...) and keras.losses.CategoricalCrossentropy(label_smoothing=...): "
         "the model ends in a softmax, so from_logits stays False.",
)
def make_optimizer_and_loss(learning_rate: float, label_smoothing: float):
    """``(optimizer, loss)`` for compile: Adam at ``learning_rate``, categorical cross-entropy with label smoothing."""
    import keras

    return (keras.optimizers.Adam(learning_rate=learning_rate),
            keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing))


@exercise(
    cases=lambda: [(np.array([0, 3, 6]), 0.1), (np.array([1, 1, 2, 5]), 0.0), (np.arange(7), 0.2), (np.array([4]), 1.0)],
    wrong_answers=[
        lambda y, s: np.eye(7)[y] * (1 - s),  # the removed mass is not given back
        lambda y, s: np.eye(7)[y] * (1 - s) + s / 6,  # spread over 6 classes (sum is not 1)
        lambda y, s: np.where(np.eye(7)[y] == 1, 1 - s, s / 7),  # the true class misses its share s/7
    ],
    hint="Keras' rule: y_smooth = one_hot * (1 - s) + s / 7 (every class, the true one included, gets s/7).",
)
def smoothed_targets(labels: np.ndarray, smoothing: float) -> np.ndarray:
    """One-hot targets (N, 7) with label smoothing ``smoothing``, as CategoricalCrossentropy uses them."""
    return np.eye(7)[np.asarray(labels)] * (1 - smoothing) + smoothing / 7


# ==== lesson 07


def _webcam_face_cases() -> list[tuple]:
    rng = np.random.default_rng(7)
    colour = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    gray = rng.integers(0, 256, (90, 70), dtype=np.uint8)
    return [
        (colour, (40, 30, 60, 60), 0.1),
        (frame, (200, 100, 180, 170), 0.2),
        (gray, (10, 20, 40, 40), 0.1),  # hidden: a grayscale frame, a face smaller than 48 px
        (colour, (0, 0, 50, 50), 0.25),  # hidden: face at the top-left corner (margin clipped)
        (colour, (130, 90, 30, 30), 0.3),  # hidden: bottom-right corner
        (frame, (300, 50, 120, 200), 0.0),  # hidden: no margin, a tall box
    ]


def _same_model_input(expected: Any, got: Any) -> bool:
    """Same shape and dtype; pixels equal up to 1 (OpenCV's and Pillow's grayscale round differently)."""
    return (
        isinstance(got, np.ndarray) and got.shape == expected.shape and got.dtype == expected.dtype
        and int(np.abs(got.astype(np.int16) - expected.astype(np.int16)).max()) <= 1
    )


def _crop(frame: np.ndarray, box, margin: float) -> np.ndarray:
    x, y, w, h = box
    dx, dy = int(round(margin * w)), int(round(margin * h))
    return frame[max(0, y - dy) : min(frame.shape[0], y + h + dy), max(0, x - dx) : min(frame.shape[1], x + w + dx)]


def _wrong_resize(frame, box, margin):
    import cv2

    from .inference import to_gray

    return cv2.resize(to_gray(_crop(frame, box, margin)), (48, 48))[:, :, None]  # not the training resize


def _wrong_swapped_xy(frame, box, margin):
    x, y, w, h = box
    return preprocess_face(frame, (y, x, h, w), margin)


def _wrong_unclipped(frame, box, margin):
    from .data import to_model_input
    from .inference import to_gray

    x, y, w, h = box
    dx, dy = int(round(margin * w)), int(round(margin * h))
    return to_model_input(to_gray(frame[y - dy : y + h + dy, x - dx : x + w + dx]))  # negative starts wrap


@exercise(
    cases=_webcam_face_cases,
    compare=_same_model_input,
    wrong_answers=[
        lambda f, b, m: preprocess_face(f, b, 0.0),  # margin forgotten
        lambda f, b, m: preprocess_face(f, b, m).astype(np.float32) / 255,  # rescaled: the model does that
        lambda f, b, m: preprocess_face(f, b, m)[:, :, 0],  # channel axis dropped
        _wrong_resize,
        _wrong_swapped_xy,
        _wrong_unclipped,
    ],
    hint="crop frame[y0:y1, x0:x1] with round(margin*w) / round(margin*h) extra pixels per side, clipped "
    "to the frame (no negative indices); then to_gray and helpers.data.to_model_input: uint8 (48, 48, 1), 0-255.",
)
def preprocess_face(frame: np.ndarray, box: tuple, margin: float) -> np.ndarray:
    """A detected face as model input, exactly like training: crop with margin, gray, 48x48x1 uint8."""
    from .inference import preprocess_face as reference

    return reference(frame, box, margin)


def _smoothing_cases() -> list[tuple]:
    rng = np.random.default_rng(7)
    noisy = rng.dirichlet(np.ones(7), size=20)
    flicker = np.tile(np.eye(7)[[3, 6]], (6, 1))  # happy, neutral, happy, neutral, ...
    return [
        (noisy, 0.3),
        (flicker, 0.5),
        (noisy[:1], 0.3),  # hidden: a single frame
        (noisy, 1.0),  # hidden: alpha 1 = no smoothing
        (flicker, 0.2),
    ]


def _wrong_swapped_alpha(probs, alpha):
    out = np.array(probs, dtype=float)
    for t in range(1, len(out)):
        out[t] = (1 - alpha) * out[t] + alpha * out[t - 1]
    return out


def _wrong_from_zero(probs, alpha):
    out, prev = np.zeros_like(probs, dtype=float), np.zeros(np.shape(probs)[1])
    for t, p in enumerate(probs):
        out[t] = prev = alpha * p + (1 - alpha) * prev
    return out


@exercise(
    cases=_smoothing_cases,
    wrong_answers=[
        _wrong_swapped_alpha,
        _wrong_from_zero,
        lambda p, a: np.asarray(p, dtype=float),  # no smoothing
        lambda p, a: np.cumsum(p, axis=0) / np.arange(1, len(p) + 1)[:, None],  # running mean
    ],
    hint="s[0] = p[0]; then s[t] = alpha * p[t] + (1 - alpha) * s[t-1] (alpha weighs the NEW frame).",
)
def smooth_probabilities(probs: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential moving average of per-frame probabilities (T, 7); s[0] = p[0]."""
    from .inference import smooth_probabilities as reference

    return reference(probs, alpha)
