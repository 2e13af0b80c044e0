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

import json
import math
import os
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
    #: Instead of comparing with the reference's answer: ``verify(args, got)`` returns ``None`` when
    #: ``got`` is right, else what is wrong (for answers with many right forms: a training run, a choice).
    verify: Callable[[tuple, Any], str | None] | None = None


EXERCISES: dict[str, Exercise] = {}
#: Failed checks per exercise in this session: the second failure shows the code, the first only the idea.
FAILURES: dict[str, int] = {}


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
    verify: Callable[[tuple, Any], str | None] | None = None,
) -> Callable[[Callable], Callable]:
    """Decorator registering a reference answer as the exercise of the same name.

    ``hint`` gives the idea (shown at the first failure); the reference's code is shown only at a
    second failure or on request (:func:`hint`). ``verify``: see :class:`Exercise`.
    """

    def register(reference: Callable) -> Callable:
        EXERCISES[reference.__name__] = Exercise(reference.__name__, reference, cases, compare, wrong_answers or [], hint, verify)
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


def describe_keras(value: Any) -> str | None:
    """What a check compares in a Keras object, in words; ``None`` if ``value`` is not one.

    A model: its layers, one per line (type, output shape, parameters, the settings that matter);
    an optimizer: its type and learning rate; a loss: its type, ``from_logits`` and label smoothing;
    a Sequential of augmentation layers: each layer and its factors.
    """
    module = type(value).__module__ or ""
    if not module.startswith("keras"):
        return None
    import keras

    if isinstance(value, keras.optimizers.Optimizer):
        return f"{type(value).__name__}(learning_rate={float(np.asarray(value.learning_rate)):.3g})"
    if isinstance(value, keras.losses.Loss):
        config = value.get_config()
        return (f"{type(value).__name__}(from_logits={config.get('from_logits', False)}, "
                f"label_smoothing={config.get('label_smoothing', 0.0)})")
    if isinstance(value, keras.Model):
        params = f"{value.count_params():,} parameters" if value.built else "not built yet (no input shape)"
        lines = [f"{type(value).__name__} with {len(layer_table(value))} layers, {params}:"]
        lines += [f"    {i}. {row}" for i, row in enumerate(layer_table(value), 1)]
        return "\n".join(lines)
    if isinstance(value, keras.layers.Layer):
        return _layer_line(value)
    return None


def _layer_line(layer: Any) -> str:
    """One layer in words: type, the settings that matter, output shape and parameters."""
    config = layer.get_config()
    keys = ("filters", "kernel_size", "strides", "padding", "use_bias", "activation", "units", "rate", "pool_size",
            "scale", "offset", "mode", "factor", "height_factor", "width_factor")
    settings = ", ".join(f"{k}={config[k]}" for k in keys if k in config and config[k] is not None)
    try:
        shape = tuple(layer.output.shape[1:])
    except (AttributeError, ValueError):
        shape = "?"
    params = layer.count_params() if layer.built else 0
    return f"{type(layer).__name__}({settings}) -> {shape}, {params:,} parameters"


def layer_table(model: Any) -> list[str]:
    """:func:`_layer_line` for every layer of ``model`` but its input."""
    import keras

    return [_layer_line(l) for l in model.layers if not isinstance(l, keras.layers.InputLayer)]


def _short(value: Any, limit: int = 300) -> str:
    keras_text = describe_keras(value)
    if keras_text is not None:
        return keras_text
    if isinstance(value, tuple) and value and any(describe_keras(v) is not None for v in value):
        return "(" + ", ".join(_short(v, limit) for v in value) + ")"
    if hasattr(value, "images") and hasattr(value, "labels") and hasattr(value, "name"):  # a data Split
        return f"Split {value.name!r}: {len(value.labels)} faces {tuple(np.shape(value.images)[1:])}, classes {np.bincount(value.labels, minlength=7).tolist()}"
    if isinstance(value, np.ndarray) and value.size > 20:
        text = f"array(shape={value.shape}, dtype={value.dtype}, first values {value.ravel()[:6].tolist()})"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + " ..."


def array_difference(expected: Any, got: Any, show: int = 4) -> str:
    """Where two same-shaped numeric arrays first differ and by how much at most ("" if not comparable).

    Shows ``show`` values from the first differing index on, with 6 significant digits, so that
    small systematic differences (e.g. a moving average started another way) are visible.
    """
    try:
        e, g = np.asarray(expected, dtype=float), np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return ""
    if e.shape != g.shape or e.size == 0:
        return f"  shapes: expected {e.shape}, got {g.shape}" if e.shape != g.shape else ""
    bad = ~np.isclose(e, g, rtol=1e-6, atol=1e-8, equal_nan=True)
    if not bad.any():
        return ""
    flat = int(np.flatnonzero(bad.ravel())[0])
    where = np.unravel_index(flat, e.shape)
    with np.errstate(invalid="ignore"):
        gap = np.abs(e - g)
    worst = np.unravel_index(int(np.nanargmax(np.where(np.isnan(gap), -1, gap))), e.shape)
    fmt = lambda a: "[" + ", ".join(f"{v:.6g}" for v in a.ravel()[flat:flat + show]) + (", ..." if flat + show < a.size else "") + "]"
    return (f"  first difference at index {tuple(int(i) for i in where)} ({int(bad.sum())} of {e.size} values differ); "
            f"largest difference {float(gap[worst]):.4g} at index {tuple(int(i) for i in worst)}\n"
            f"  from there, expected: {fmt(e)}\n  from there, got:      {fmt(g)}")


def run_check(answer: Callable, name: str | None = None) -> Result:
    """Check ``answer`` against the exercise registered under ``name`` (default: its ``__name__``)."""
    name = name or getattr(answer, "__name__", "")
    if name not in EXERCISES:
        raise KeyError(f"No exercise called {name!r}. Known: {', '.join(sorted(EXERCISES))}")
    ex = EXERCISES[name]
    cases = ex.cases()
    for i, args in enumerate(cases, 1):
        expected = ex.reference(*args) if ex.verify is None else None
        try:
            got = answer(*_copy(args))
        except NotImplementedError:
            return Result(name, "not attempted", f"{name}: not attempted yet.")
        except Exception as exc:
            tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
            return Result(name, "fail", f"{name}: case {i}/{len(cases)} raised {tb}\n  input:    {_describe(args)}")
        if got is None and (expected is not None or ex.verify is not None):
            return Result(name, "not attempted", f"{name}: returned None; did you forget `return`? (not attempted yet)")
        if ex.verify is not None:  # many right answers: check what this one did
            try:
                problem = ex.verify(args, got)
            except Exception as exc:
                problem = "checking it raised " + traceback.format_exception_only(type(exc), exc)[-1].strip()
            if problem:
                return Result(name, "fail", f"{name}: case {i}/{len(cases)} is wrong.\n  input:    {_describe(args)}\n  {problem}")
            continue
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
                f"  expected: {_short(expected)}\n  got:      {_short(got)}" + (f"\n  ({why})" if why else "")
                + (f"\n{array_difference(expected, got)}" if isinstance(expected, np.ndarray) and array_difference(expected, got) else ""),
            )
    return Result(name, "pass", f"{name}: all {len(cases)} cases pass (including hidden edge cases).")


def _copy(args: tuple) -> tuple:
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


def _describe(args: tuple) -> str:
    return ", ".join(_short(a, 120) for a in args)


def _record(result: Result) -> None:
    """Append the outcome as one JSON line to the file named by ``FER_CHECK_LOG``, if set.

    This is how :mod:`helpers.grade` collects a class's results: the kernel that runs a
    submitted notebook gets ``FER_CHECK_LOG`` pointing at a file of its own.
    """
    log = os.environ.get("FER_CHECK_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(json.dumps({"exercise": result.name, "status": result.status, "detail": result.message}) + "\n")


def check(answer: Callable, name: str | None = None) -> Callable:
    """Check an exercise, print the verdict, and return what the rest of the notebook should use.

    Returns ``answer`` if it passes, otherwise the reference answer (so the notebook continues).
    Hints come in tiers: the first failure gives the idea, the second (or :func:`hint`) the code.
    """
    result = run_check(answer, name)
    _record(result)
    ex = EXERCISES[result.name]
    if result.passed:
        print(f"PASS  {result.message}")
        return answer
    if result.status == "not attempted":
        print(f"TODO  {result.message} The notebook continues with the reference answer.")
    else:
        FAILURES[ex.name] = FAILURES.get(ex.name, 0) + 1
        print(f"FAIL  {result.message}")
        if FAILURES[ex.name] == 1:
            if ex.hint:
                print(f"  hint: {ex.hint}")
            print(f"  Stuck after another try? The next failure shows a solution, or now: helpers.checks.hint({ex.name!r}).")
        else:
            print(_solution_text(ex))
        print("  The notebook continues with the reference answer; fix yours and re-run the check.")
    return ex.reference


def _solution_text(ex: Exercise) -> str:
    """The reference answer's code (what the second hint shows)."""
    import inspect

    try:
        source = inspect.getsource(ex.reference)
    except (OSError, TypeError):  # pragma: no cover - no source (a frozen install)
        return f"  (no source available for {ex.name}; see the solutions/ notebook)"
    import importlib
    import re

    lines = source.splitlines()
    start = next(i for i, l in enumerate(lines) if l.lstrip().startswith("def "))
    text = "\n".join("    " + l for l in lines[start:])
    helper = re.search(r"from \.(\w+) import (\w+) as reference", source)
    if helper:  # the reference calls the course's own function: show that one
        try:
            function = getattr(importlib.import_module(f"helpers.{helper.group(1)}"), helper.group(2))
            text = "\n".join("    " + l for l in inspect.getsource(function).splitlines())
        except (ImportError, AttributeError, OSError, TypeError):  # pragma: no cover
            pass
    return "  a solution (one of several possible):\n" + text


def hint(name: str, code: bool = True) -> None:
    """Print an exercise's hint (the idea), and with ``code=True`` a solution's code too."""
    if name not in EXERCISES:
        raise KeyError(f"No exercise called {name!r}. Known: {', '.join(sorted(EXERCISES))}")
    ex = EXERCISES[name]
    print(f"hint for {name}: {ex.hint or 'read the exercise text and the docstring again.'}")
    if code:
        print(_solution_text(ex))


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


# ==== lessons 04-05: the student's own network, trained by the student


def _layer_token(layer: Any) -> str:
    """A layer as the build_cnn check sees it: its kind and the settings the exercise asks for."""
    kind, config = type(layer).__name__, layer.get_config()
    if kind == "ReLU" or (kind == "Activation" and config.get("activation") == "relu"):
        return "ReLU"
    if kind == "Rescaling":
        return f"Rescaling(scale={float(config['scale']):.6g}, offset={float(config['offset']):.6g})"
    if kind == "Conv2D":
        return (f"Conv2D({config['filters']}, kernel {tuple(config['kernel_size'])}, strides {tuple(config['strides'])}, "
                f"padding {config['padding']}, use_bias={config['use_bias']}, activation {config['activation']})")
    if kind == "MaxPooling2D":
        return f"MaxPooling2D(pool {tuple(config['pool_size'])})"
    if kind == "BatchNormalization":
        return f"BatchNormalization(momentum {float(config['momentum']):.6g})"
    if kind == "Dropout":
        return f"Dropout({float(config['rate']):.6g})"
    if kind == "Dense":
        return f"Dense({config['units']}, activation {config['activation']})"
    return kind


def _network_rows(model: Any) -> list[tuple[str, tuple]]:
    import keras

    return [(_layer_token(l), tuple(l.output.shape[1:])) for l in model.layers if not isinstance(l, keras.layers.InputLayer)]


def _contract_problem(model: Any) -> str | None:
    """None if ``model`` takes raw (batch, 48, 48, 1) pixels 0-255 and returns 7 probabilities per face."""
    faces = np.random.default_rng(4).integers(0, 256, (3, 48, 48, 1)).astype("float32")
    try:
        probs = np.asarray(model(faces, training=False), dtype="float64")
    except Exception as exc:
        return f"the model cannot take raw faces of shape (3, 48, 48, 1): {type(exc).__name__}: {exc}"
    if probs.shape != (3, 7):
        return f"3 faces in gave an output of shape {probs.shape}, not (3, 7): one row of 7 probabilities per face"
    if (probs < 0).any() or not np.allclose(probs.sum(axis=1), 1, atol=1e-4):
        return ("the outputs are not probabilities (rows sum to " + ", ".join(f"{v:.3g}" for v in probs.sum(axis=1))
                + "): the last layer needs activation='softmax'")
    return None


def _verify_network(args: tuple, got: Any) -> str | None:
    """Compare the student's network with the reference layer by layer; name the first difference."""
    import keras

    if not isinstance(got, keras.Model):
        return f"expected a keras.Model, got {type(got).__name__}"
    want, have = _network_rows(build_cnn(*args)), _network_rows(got)
    for i, (w, h) in enumerate(zip(want, have), 1):
        if w != h:
            return (f"layer {i} differs (after the input):\n    expected: {w[0]} -> output {w[1]}\n"
                    f"    got:      {h[0]} -> output {h[1]}\n  your layers:\n" + "\n".join(f"    {row}" for row in layer_table(got)))
    if len(want) != len(have):
        extra = (f"layer {len(want) + 1} should not be there: {have[len(want)][0]}" if len(have) > len(want)
                 else f"missing from layer {len(have) + 1} on: " + ", ".join(w[0] for w in want[len(have):]))
        return f"{len(have)} layers, expected {len(want)}: {extra}"
    reference = build_cnn(*args).count_params()
    if got.count_params() != reference:
        return f"{got.count_params():,} parameters, expected {reference:,}"
    return _contract_problem(got)


def _wrong_net(bias: bool = False, rescale: bool = True, flatten: bool = False, softmax: bool = True,
               classic_order: bool = False, momentum: float = 0.9):
    def build(widths, dropout):
        import keras
        from keras import layers

        inputs = keras.Input((48, 48, 1))
        x = layers.Rescaling(1 / 255)(inputs) if rescale else inputs
        for width in widths:
            x = layers.Conv2D(width, 3, padding="same", use_bias=bias)(x)
            if classic_order:
                x = layers.MaxPooling2D(2)(layers.Activation("relu")(layers.BatchNormalization(momentum=momentum)(x)))
            else:
                x = layers.Activation("relu")(layers.BatchNormalization(momentum=momentum)(layers.MaxPooling2D(2)(x)))
        x = layers.Flatten()(x) if flatten else layers.GlobalAveragePooling2D()(x)
        x = layers.Dropout(dropout)(x)
        return keras.Model(inputs, layers.Dense(7, activation="softmax" if softmax else None)(x))

    return build


@exercise(
    cases=lambda: [((32, 64, 128), 0.3), ((8, 16), 0.5), ((16, 32, 64, 128), 0.2)],
    verify=_verify_network,
    wrong_answers=[_wrong_net(rescale=False), _wrong_net(bias=True), _wrong_net(flatten=True), _wrong_net(softmax=False),
                   _wrong_net(classic_order=True), _wrong_net(momentum=0.99)],
    hint="Input((48, 48, 1)) -> Rescaling(1/255) -> for each width: Conv2D(width, 3, padding='same', use_bias=False), "
         "MaxPooling2D(2), BatchNormalization(momentum=0.9), Activation('relu') -> GlobalAveragePooling2D -> Dropout(dropout) -> "
         "Dense(7, activation='softmax'). The failure message names the first layer that differs.",
)
def build_cnn(widths: tuple, dropout: float):
    """Your CNN: raw 48x48x1 pixels (0-255) in, 7 softmax probabilities out (see the lesson for the layers)."""
    from .models import build_workshop_cnn

    return build_workshop_cnn(augment=None, widths=widths, dropout=dropout, name="my_cnn")


@exercise(
    cases=lambda: [((32, 64, 128),), ((8,),), ((16, 32, 64, 128),), ((64, 64),)],
    wrong_answers=[
        lambda widths: sum(9 * c * w for c, w in zip((1, *widths), widths)) + widths[-1] * 7 + 7,  # batch norm forgotten
        lambda widths: sum(9 * c * w + 2 * w for c, w in zip((1, *widths), widths)) + widths[-1] * 7 + 7,  # only gamma, beta
        lambda widths: sum(9 * c * w + 4 * w for c, w in zip((1, *widths), widths)) + widths[-1] * 7,  # classifier bias
        lambda widths: sum(9 * c * w + 5 * w for c, w in zip((1, *widths), widths)) + widths[-1] * 7 + 7,  # conv bias too
    ],
    hint="per stage: the conv's 3*3*c_in*width weights (no bias) + the batch norm's 4 numbers per channel (gamma, beta, "
         "moving mean, moving variance); c_in is 1 for the first stage, then the previous width; then the classifier: "
         "width_last * 7 weights + 7 biases. Pooling, ReLU, dropout and rescaling have none.",
)
def cnn_params(widths: tuple) -> int:
    """Parameters (trainable and not, as count_params counts them) of build_cnn(widths, dropout)."""
    total, c_in = 0, 1
    for width in widths:
        total += 3 * 3 * c_in * width + 4 * width
        c_in = width
    return total + c_in * 7 + 7


@exercise(
    cases=lambda: [
        (np.full((4, 7), 1 / 7), np.array([0, 3, 6, 1])),
        (np.array([[0.7, 0.1, 0.05, 0.05, 0.04, 0.03, 0.03], [0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1]]), np.array([0, 4])),
        (np.random.default_rng(5).dirichlet(np.ones(7), 50), np.random.default_rng(6).integers(0, 7, 50)),
    ],
    wrong_answers=[
        lambda p, y: float(-np.log(p[np.arange(len(y)), y]).sum()),  # summed, not averaged
        lambda p, y: float(-np.log10(p[np.arange(len(y)), y]).mean()),  # log base 10
        lambda p, y: float(-np.log(p.max(axis=1)).mean()),  # the predicted class, not the true one
    ],
    hint="the loss of one face is -ln(probability the model gives its TRUE class); the batch loss is the mean.",
)
def cross_entropy(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean categorical cross-entropy of probabilities (N, 7) against integer labels (N,), natural log."""
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    return float(-np.log(probs[np.arange(len(labels)), labels]).mean())


def _range_curve(kind: int) -> tuple[np.ndarray, np.ndarray]:
    """A made-up learning-rate range test: flat, falling, a minimum, then divergence."""
    lrs = np.geomspace(1e-6, 1.0, 100)
    x = np.log10(lrs)
    centre, width = (-3.0, -2.5, -3.5)[kind], (0.5, 0.4, 0.6)[kind]
    fall = 1 / (1 + np.exp(-(x - centre) / (width / 2)))
    blow = np.exp(np.clip((x - (centre + 1.4)) * 3, -30, 5)) - 1
    loss = 1.95 - 0.9 * fall + np.where(x > centre + 1.4, blow, 0) + 0.01 * np.sin(7 * x)
    return lrs, loss


def _verify_learning_rate(args: tuple, got: Any) -> str | None:
    lrs, losses = args
    try:
        lr = float(got)
    except (TypeError, ValueError):
        return f"expected one learning rate (a float), got {_short(got)}"
    lowest = int(np.argmin(losses))
    drop = losses[0] - losses[lowest]
    falling = np.flatnonzero(losses[:lowest] < losses[0] - 0.1 * drop)
    low_end = lrs[falling[0]] if falling.size else lrs[0]
    high_end = lrs[lowest] / 2
    if low_end <= lr <= high_end:
        return None
    where = ("at or past the lowest loss: the steps there are already too large, and the loss climbs soon after"
             if lr > high_end else "before the loss starts to fall: too small to learn within the budget")
    return (f"chose {lr:.3g}; a good choice here lies between {low_end:.3g} (where the loss starts falling) and "
            f"{high_end:.3g} (half the rate of the lowest loss, {lrs[lowest]:.3g}); {where}.")


@exercise(
    cases=lambda: [_range_curve(0), _range_curve(1), _range_curve(2)],
    verify=_verify_learning_rate,
    wrong_answers=[
        lambda lrs, losses: float(lrs[np.argmin(losses)]),  # the lowest loss: too late
        lambda lrs, losses: float(lrs[0]),  # the smallest rate tried
        lambda lrs, losses: float(lrs[np.argmax(losses)]),  # where it diverged
        lambda lrs, losses: float(lrs[np.argmin(losses)] * 3),
    ],
    hint="look for where the (smoothed) loss falls fastest, on the way down to its minimum, not at the minimum "
         "itself; two common rules: the steepest point, or a tenth of the rate at the minimum.",
)
def pick_learning_rate(lrs: np.ndarray, losses: np.ndarray) -> float:
    """A learning rate from a range test: where the smoothed loss falls fastest, before its minimum."""
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    lowest = int(np.argmin(losses))
    top = int(np.argmax(losses[: lowest + 1]))  # where the fall starts: the highest loss before the lowest
    if lowest - top < 4:  # no descent recorded before the minimum: a tenth of its rate
        return float(lrs[lowest] / 10)
    x, k = np.log10(lrs), max(1, (lowest - top) // 8)  # the slope over +-k points: robust to noise from batch to batch
    i = np.arange(top + k, lowest - k + 1)
    slope = (losses[i + k] - losses[i - k]) / (x[i + k] - x[i - k])
    steepest = lrs[i[int(np.argmin(slope))]]
    return float(min(steepest, lrs[lowest] / 3))


def _easy_faces(n_per_class: int, seed: int):
    """A made-up, easy 7-class problem: the class sets the brightness of the picture (plus noise)."""
    from .data import Split

    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(7), n_per_class))
    images = np.clip(20 + 33 * labels[:, None, None, None] + rng.normal(0, 6, (len(labels), 48, 48, 1)), 0, 255)
    return Split(f"easy faces {seed}", images.astype(np.uint8), labels)


def _tiny_model():
    """A small network that learns (or memorises) a few hundred 48x48 pictures in seconds."""
    import keras

    from .course import seed_everything

    seed_everything(0)
    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=4, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(x), name="tiny")


def _fit_cases() -> list[tuple]:
    return [(_tiny_model(), _easy_faces(60, 1), _easy_faces(8, 2), 10, 1e-2),
            (_tiny_model(), _easy_faces(60, 3), _easy_faces(8, 4), 10, 5e-3)]  # hidden: another rate and draw


def _verify_fit(args: tuple, got: Any) -> str | None:
    import keras

    model, train, val, epochs, learning_rate = args
    if not isinstance(got, keras.callbacks.History):
        return f"expected the History that model.fit returns, got {type(got).__name__}"
    optimizer, loss = model.optimizer, model.loss
    if not isinstance(optimizer, keras.optimizers.Adam):
        return f"the model was compiled with {describe_keras(optimizer) or optimizer!r}; the exercise asks for Adam"
    if isinstance(loss, str):
        loss = keras.losses.get(loss)
    loss_name = getattr(loss, "__name__", type(loss).__name__).lower().replace("_", "")
    if "categoricalcrossentropy" not in loss_name or "sparse" in loss_name:
        return f"the loss is {describe_keras(loss) or loss!r}; the exercise asks for CategoricalCrossentropy (one-hot labels)"
    if getattr(loss, "get_config", lambda: {})().get("from_logits"):
        return "the loss has from_logits=True, but the network ends in a softmax: it outputs probabilities"
    history = got.history
    if "val_accuracy" not in history:
        return (f"the history has {sorted(history)}: no 'val_accuracy'. Pass validation_data=(val images, one-hot "
                "labels) to fit, and metrics=['accuracy'] to compile")
    ln7, baseline = math.log(7), float(np.bincount(val.labels, minlength=7).max() / len(val))
    losses, best = np.asarray(history["loss"], float), float(np.max(history["val_accuracy"]))
    if len(losses) < 2:
        return f"only {len(losses)} epoch ran; fit for the epochs asked ({epochs})"
    if not losses.min() < 0.7 * ln7:
        return (f"the training loss went {losses[0]:.3f} -> {losses[-1]:.3f} (ln 7 = {ln7:.3f} is guessing): the network "
                "did not learn this easy problem. Look at: the learning rate (is it the one passed in?), the labels "
                "(one-hot, CLASS_NAMES order), that fit gets the training images and their labels, the epochs")
    if best <= baseline + 0.2:
        return (f"training loss fell to {losses.min():.3f} but the best validation accuracy is {best:.3f} (always "
                f"guessing one class: {baseline:.3f}). Look at: validation_data (the val images with THEIR labels)")
    return None


def _wrong_fit(optimizer: str = "adam", lr_factor: float = 1.0, loss: str = "cce", validate: bool = True):
    def fit(model, train, val, epochs, learning_rate):
        import keras

        from .training import one_hot

        opt = keras.optimizers.Adam(learning_rate * lr_factor) if optimizer == "adam" else keras.optimizers.SGD(learning_rate * lr_factor)
        lossf = {"cce": keras.losses.CategoricalCrossentropy(), "logits": keras.losses.CategoricalCrossentropy(from_logits=True),
                 "mse": keras.losses.MeanSquaredError()}[loss]
        model.compile(optimizer=opt, loss=lossf, metrics=["accuracy"])
        extra = dict(validation_data=(val.images, one_hot(val.labels))) if validate else {}
        return model.fit(train.images, one_hot(train.labels), epochs=epochs, batch_size=32, verbose=0, **extra)

    return fit


@exercise(
    cases=_fit_cases,
    verify=_verify_fit,
    wrong_answers=[_wrong_fit(optimizer="sgd"), _wrong_fit(lr_factor=1e-4), _wrong_fit(loss="logits"),
                   _wrong_fit(loss="mse"), _wrong_fit(validate=False)],
    hint="model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.CategoricalCrossentropy(), "
         "metrics=['accuracy']); then return model.fit(train.images, helpers.training.one_hot(train.labels), "
         "validation_data=(val.images, helpers.training.one_hot(val.labels)), epochs=epochs, callbacks=[...]).",
)
def compile_and_fit(model, train, val, epochs: int, learning_rate: float):
    """Compile `model` (Adam, categorical cross-entropy, accuracy) and fit it on `train`, validating on `val`.

    Returns the History that ``model.fit`` returns.
    """
    import keras

    from .training import one_hot

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.CategoricalCrossentropy(),
                  metrics=["accuracy"])
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_accuracy", patience=3, restore_best_weights=True)]
    return model.fit(train.images, one_hot(train.labels), validation_data=(val.images, one_hot(val.labels)),
                     epochs=epochs, batch_size=32, callbacks=callbacks, verbose=0)


def _history_cases() -> list[tuple]:
    import pandas as pd

    epochs = np.arange(1, 9)
    good = pd.DataFrame({"loss": 1.9 / epochs ** 0.3, "accuracy": 0.3 + 0.04 * epochs,
                         "val_loss": 1.95 / epochs ** 0.25, "val_accuracy": 0.28 + 0.035 * epochs})
    return [(good,), (good.iloc[:3].copy(),)]


def _plotted_lines(fig: Any) -> list[np.ndarray]:
    return [np.asarray(line.get_ydata(), dtype=float) for ax in fig.axes for line in ax.get_lines()]


def _verify_plot(args: tuple, got: Any) -> str | None:
    import matplotlib.figure

    (history,) = args
    if not isinstance(got, matplotlib.figure.Figure):
        return f"expected a matplotlib Figure (fig, axes = plt.subplots(1, 2); ...; return fig), got {type(got).__name__}"
    lines = _plotted_lines(got)
    missing = [c for c in ("loss", "val_loss", "accuracy", "val_accuracy")
               if not any(y.shape == (len(history),) and np.allclose(y, history[c]) for y in lines)]
    if missing:
        return f"no curve in the figure has the values of history[{missing[0]!r}] (missing: {', '.join(missing)})"
    loss_axes = [ax for ax in got.axes if any(np.allclose(l.get_ydata(), history["loss"]) for l in ax.get_lines()
                                              if len(l.get_ydata()) == len(history))]
    if any(any(np.allclose(l.get_ydata(), history["accuracy"]) for l in ax.get_lines() if len(l.get_ydata()) == len(history))
           for ax in loss_axes):
        return "loss and accuracy are in the same panel: their scales differ, give each its own axes"
    return None


def _wrong_plot(columns: tuple[str, ...], one_panel: bool = False):
    def plot(history):
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 1 if one_panel else 2)
        axes = [axes, axes] if one_panel else axes
        for column in columns:
            axes[0 if "loss" in column else 1].plot(history[column].to_numpy())
        plt.close(fig)
        return fig

    return plot


@exercise(
    cases=_history_cases,
    verify=_verify_plot,
    wrong_answers=[_wrong_plot(("loss", "accuracy")), _wrong_plot(("val_loss", "val_accuracy")),
                   _wrong_plot(("loss", "val_loss", "accuracy", "val_accuracy"), one_panel=True)],
    hint="two panels (plt.subplots(1, 2)): loss and val_loss in the first, accuracy and val_accuracy in the second, "
         "against the epoch; label the curves; return the figure.",
)
def plot_curves(history):
    """Learning curves of a history DataFrame (columns loss, accuracy, val_loss, val_accuracy); returns the figure."""
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, metric in ((left, "loss"), (right, "accuracy")):
        ax.plot(epochs, history[metric], "o-", label="train")
        ax.plot(epochs, history[f"val_{metric}"], "s-", label="validation")
        ax.set(xlabel="epoch", ylabel=metric, title=metric)
        ax.legend()
    fig.tight_layout()
    plt.close(fig)
    return fig


def _fit_story(kind: str, n: int = 12):
    import pandas as pd

    e = np.arange(1, n + 1, dtype=float)
    if kind == "overfitting":  # validation loss turns up after epoch 5 while training loss keeps falling
        loss, val = 1.8 * np.exp(-e / 4) + 0.2, 1.2 + 0.02 * (e - 5) ** 2
    elif kind == "underfitting":  # both still falling at the end, validation best at the last epoch
        loss, val = 1.9 - 0.05 * e, 1.92 - 0.045 * e
    else:  # good fit: validation levels off at its minimum, then rises by less than 5 %
        loss, val = 1.0 + 0.9 * np.exp(-e / 2), 1.1 + 0.8 * np.exp(-e / 2) + 0.004 * np.maximum(0, e - n + 4)
    return (pd.DataFrame({"loss": loss, "val_loss": val, "accuracy": 1 - loss / 2.5, "val_accuracy": 1 - val / 2.5}),)


@exercise(
    cases=lambda: [_fit_story("overfitting"), _fit_story("underfitting"), _fit_story("good fit"),
                   _fit_story("overfitting", 20), _fit_story("underfitting", 4)],
    wrong_answers=[
        lambda h: "overfitting" if (h["accuracy"] - h["val_accuracy"]).iloc[-1] > 0.0 else "good fit",  # any gap
        lambda h: "underfitting" if h["loss"].iloc[-1] < h["loss"].iloc[-2] else "good fit",  # train loss only
        lambda h: "overfitting" if h["val_loss"].iloc[-1] > h["val_loss"].iloc[0] else "underfitting",
    ],
    hint="compare the LAST epoch with the BEST validation epoch: validation loss clearly (5 %) above its minimum "
         "-> overfitting; the minimum is at the last epoch and both losses still falling -> underfitting; "
         "otherwise a good fit.",
)
def diagnose_fit(history) -> str:
    """'overfitting', 'underfitting' or 'good fit', from a history DataFrame (loss, val_loss per epoch)."""
    val, loss = history["val_loss"].to_numpy(float), history["loss"].to_numpy(float)
    best = int(np.argmin(val))
    if val[-1] > 1.05 * val[best]:
        return "overfitting"
    if best == len(val) - 1 and len(val) > 1 and loss[-1] < loss[-2] and val[-1] < val[-2]:
        return "underfitting"
    return "good fit"


def _overfit_cases() -> list[tuple]:
    rng = np.random.default_rng(11)
    images = rng.integers(0, 256, (32, 48, 48, 1)).astype(np.uint8)
    return [(_tiny_model(), images, rng.integers(0, 7, 32), 40), (_tiny_model(), images[:16], rng.integers(0, 7, 16), 40)]


def _verify_overfit(args: tuple, got: Any) -> str | None:
    model, images, labels, steps = args
    try:
        accuracy = float(got)
    except (TypeError, ValueError):
        return f"expected the accuracy on the batch (a float), got {_short(got)}"
    truth = float(np.mean(np.asarray(model.predict(images, verbose=0)).argmax(axis=1) == labels))
    if abs(truth - accuracy) > 0.02:
        return f"returned {accuracy:.3f}, but the model now gets {truth:.3f} of the batch right: return what it measured"
    if truth < 0.9:
        return (f"after {steps} steps the model gets only {truth:.3f} of the batch right: training on the same faces "
                "again and again should memorise them. Look at: the learning rate, that every step uses the SAME batch, "
                "the labels (one-hot)")
    return None


def _wrong_overfit(lr: float = 1e-2, fresh_noise: bool = False, predicted: bool = False):
    def overfit(model, images, labels, steps):
        import keras

        from .training import one_hot

        model.compile(optimizer=keras.optimizers.Adam(lr), loss="categorical_crossentropy", metrics=["accuracy"])
        rng = np.random.default_rng(0)
        for _ in range(steps):
            batch = rng.integers(0, 256, images.shape).astype(np.uint8) if fresh_noise else images
            model.train_on_batch(batch, one_hot(labels))
        if predicted:
            return 1.0
        return float(np.mean(model.predict(images, verbose=0).argmax(axis=1) == labels))

    return overfit


@exercise(
    cases=_overfit_cases,
    verify=_verify_overfit,
    wrong_answers=[_wrong_overfit(lr=1e-6), _wrong_overfit(fresh_noise=True), _wrong_overfit(lr=1e-6, predicted=True)],
    hint="compile with Adam (learning rate 1e-2 works for this small batch), then `steps` times "
         "model.train_on_batch(images, one_hot(labels)); finally measure the accuracy on the same images with "
         "model.predict (argmax per row against labels).",
)
def overfit_one_batch(model, images: np.ndarray, labels: np.ndarray, steps: int) -> float:
    """Train `model` on this one batch `steps` times (Adam) and return its accuracy on that batch afterwards."""
    import keras

    from .training import one_hot

    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.CategoricalCrossentropy(), metrics=["accuracy"])
    targets = one_hot(labels)
    for _ in range(steps):
        model.train_on_batch(images, targets)
    return float(np.mean(model.predict(images, verbose=0).argmax(axis=1) == np.asarray(labels)))


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
    """A detected face as model input, like the training loader: crop with margin, gray, 48x48x1 uint8."""
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


# ==== lesson 00


def _top_k_cases() -> list[tuple]:
    rng = np.random.default_rng(0)
    hand = np.array([[0.05, 0.02, 0.08, 0.60, 0.10, 0.05, 0.10],
                     [0.30, 0.01, 0.25, 0.04, 0.20, 0.05, 0.15]])
    tie = np.array([[0.1, 0.3, 0.1, 0.1, 0.3, 0.05, 0.05]])  # hidden: equal probabilities, lower index first
    return [(hand, 3), (rng.dirichlet(np.ones(7), 5), 3), (tie, 2), (hand[:1], 1), (rng.dirichlet(np.ones(7), 2), 7)]


def _same_top_k(expected: Any, got: Any) -> bool:
    try:
        return len(got) == len(expected) and all(
            len(g) == len(e) and all(str(gn) == en and math.isclose(float(gp), ep, rel_tol=1e-6) for (gn, gp), (en, ep) in zip(g, e))
            for g, e in zip(got, expected)
        )
    except (TypeError, ValueError):
        return False


_FOLDER_ORDER = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")  # alphabetical, as on disk


@exercise(
    cases=_top_k_cases,
    compare=_same_top_k,
    wrong_answers=[
        lambda p, k: [[(_class_name(c), float(r[c])) for c in np.argsort(r)[:k]] for r in p],  # least probable
        lambda p, k: [[(_FOLDER_ORDER[c], float(r[c])) for c in np.argsort(-r, kind="stable")[:k]] for r in p],
        lambda p, k: [[(_class_name(c), float(r[c])) for c in np.argsort(-r)[:k]] for r in p.T],  # columns
        lambda p, k: [[(_class_name(c), float(r[c])) for c in np.argsort(r)[::-1][:k]] for r in p],  # ties reversed
    ],
    hint="for each row: np.argsort(-row, kind='stable')[:k] gives the k most probable class indices "
         "(ties: lower index first); name them with CLASS_NAMES.",
)
def top_k_classes(probs: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
    """For each image (row of ``probs``, shape (N, 7)), its ``k`` most probable classes as
    ``(class name, probability)`` pairs, most probable first (ties: lower class index first)."""
    probs = np.asarray(probs)
    return [[(_class_name(c), float(row[c])) for c in np.argsort(-row, kind="stable")[:k]] for row in probs]


def _class_name(index: int) -> str:
    from .course import CLASS_NAMES

    return CLASS_NAMES[int(index)]


def _photo_cases() -> list[tuple]:
    import matplotlib.cbook
    import matplotlib.image

    grace = matplotlib.image.imread(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    y, x = np.mgrid[0:90, 0:160]
    wide = np.stack([x * 255 // 159, y * 255 // 89, 255 - x * 255 // 159], axis=2).astype(np.uint8)  # colour ramps
    wide[:, 100:] = [255, 0, 0]  # a red block on the right: a crop from the wrong place shows it
    tall = np.ascontiguousarray(np.transpose(wide, (1, 0, 2))[::-1])
    rng = np.random.default_rng(0)
    gray = (np.add.outer(np.arange(70), np.arange(51)) * 2).clip(0, 255).astype(np.uint8)  # hidden: a 2-D gray photo
    return [(grace,), (wide,), (tall,), (gray,), (rng.integers(0, 256, (48, 48, 3), dtype=np.uint8),)]


def _same_photo_input(expected: Any, got: Any) -> bool:
    """Same shape and dtype; pixels equal up to 2 (grayscale formulas round differently)."""
    return (
        isinstance(got, np.ndarray) and got.shape == expected.shape and got.dtype == expected.dtype
        and int(np.abs(got.astype(np.int16) - expected.astype(np.int16)).max()) <= 2
    )


def _square(photo: np.ndarray, where: str = "centre") -> np.ndarray:
    h, w = photo.shape[:2]
    side = min(h, w)
    top, left = ((h - side) // 2, (w - side) // 2) if where == "centre" else (0, 0)
    return photo[top : top + side, left : left + side]


def _luma(photo: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(np.ascontiguousarray(photo)).convert("L")) if photo.ndim == 3 else photo


def _wrong_squashed(photo):
    from .data import to_model_input

    return to_model_input(_luma(photo))  # no crop: the face is squashed


def _wrong_corner(photo):
    from .data import to_model_input

    return to_model_input(_luma(_square(photo, "corner")))


def _wrong_channel_mean(photo):
    from .data import to_model_input

    crop = _square(photo)
    return to_model_input(crop.mean(axis=2).astype(np.uint8) if crop.ndim == 3 else crop)


@exercise(
    cases=_photo_cases,
    compare=_same_photo_input,
    wrong_answers=[
        _wrong_squashed,
        _wrong_corner,
        _wrong_channel_mean,
        lambda p: photo_to_model_input(p)[:, :, 0],  # channel axis missing
        lambda p: photo_to_model_input(p).astype(np.float32) / 255,  # rescaled: the model does that itself
    ],
    hint="crop the centre square (side = min(height, width), top = (height - side) // 2, same for left), "
         "convert RGB to gray (Pillow's Image.fromarray(crop).convert('L')), then helpers.data.to_model_input(gray).",
)
def photo_to_model_input(photo: np.ndarray) -> np.ndarray:
    """A photo (RGB ``(H, W, 3)`` or gray ``(H, W)``, uint8) as the course's model input: its centre
    square, in grayscale, resized to ``(48, 48, 1)`` uint8 pixels 0-255."""
    from .data import to_model_input

    return to_model_input(_luma(_square(np.asarray(photo))))


# ==== lesson 02: random oversampling


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
        raise ValueError(f"{len(rows - originals)} (image, label) pairs that are not in the input: "
                         "an image got another image's label (shuffle images and labels with the same indices)")
    if originals - rows:
        raise ValueError(f"{len(originals - rows)} of the original images are missing: keep every image, add copies")
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
    hint="keep every image; for each class present, add (largest count - its count) copies drawn at random "
         "from that class (rng.choice(..., replace=True)); index images and labels with the SAME indices.",
)
def random_oversample(images: np.ndarray, labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` with every class present topped up by random copies of its own images until
    it is as large as the largest class; every original kept, order shuffled, seeded by ``seed``."""
    from .training import oversample_indices

    index = oversample_indices(np.asarray(labels), seed)
    return np.asarray(images)[index], np.asarray(labels)[index]


# ==== lesson 03: targeted oversampling, transforms that keep the expression, choosing a remedy


def _wrong_all_to_floor(images, labels, min_count, seed):  # larger classes cut down to min_count too
    rng = np.random.default_rng(seed)
    index = np.concatenate([rng.choice(m, min_count, replace=len(m) < min_count) for m in _indices_per_class(labels)])
    return images[index], labels[index]


def _wrong_add_floor(images, labels, min_count, seed):  # min_count copies added instead of topping up to it
    rng = np.random.default_rng(seed)
    parts = [np.concatenate([m, rng.choice(m, min_count)]) if len(m) < min_count else m for m in _indices_per_class(labels)]
    index = np.concatenate(parts)
    return images[index], labels[index]


@exercise(
    cases=lambda: [(*case[:2], floor, case[2]) for case, floor in zip(_resample_cases(), (30, 50, 2, 3, 2))],
    compare=_same_resample,
    wrong_answers=[
        lambda x, y, floor, seed: random_oversample(x, y, seed),  # every class up to the largest
        _wrong_all_to_floor,
        _wrong_add_floor,
        lambda x, y, floor, seed: (x, y),  # nothing done
    ],
    hint="only classes with fewer than min_count images get extra copies (min_count - count of them, drawn "
         "from that class); larger classes stay as they are; keep every original image.",
)
def oversample_rare(images: np.ndarray, labels: np.ndarray, min_count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(images, labels)`` in which every class present with fewer than ``min_count`` images is topped up
    to exactly ``min_count`` by random copies of its own images; other classes unchanged; every original
    kept; order shuffled; seeded by ``seed``."""
    from .imbalance import oversample_rare_indices

    index = oversample_rare_indices(np.asarray(labels), min_count, seed)
    return np.asarray(images)[index], np.asarray(labels)[index]


def _toy_predict(images: np.ndarray) -> np.ndarray:
    """A deterministic stand-in for a model: scores from where the image is bright (top/bottom, left/right)."""
    x = np.asarray(images, dtype=np.float64)[..., 0]
    h, w = x.shape[1:]
    top, bottom = x[:, : h // 2].mean((1, 2)), x[:, h // 2 :].mean((1, 2))
    left, right = x[:, :, : w // 2].mean((1, 2)), x[:, :, w // 2 :].mean((1, 2))
    centre = x[:, h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].mean((1, 2))
    scores = np.stack([top - bottom, bottom - top, abs(left - right), centre - x.mean((1, 2)), x.mean((1, 2)) / 8,
                       np.zeros(len(x)), 5 - abs(top - bottom)], axis=1)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _agreement_cases() -> list[tuple]:
    rng = np.random.default_rng(3)
    faces = rng.integers(0, 256, (30, 8, 8, 1)).astype(np.float32)
    faces[:10, :4] += 60  # bright on top
    faces[10:20, 4:] += 60  # bright below
    labels = _toy_predict(faces).argmax(axis=1)
    labels[::4] = 5  # a few the model gets wrong
    transforms = {
        "original": lambda x: x,
        "horizontal flip": lambda x: x[:, :, ::-1],
        "vertical flip": lambda x: x[:, ::-1],
        "darker": lambda x: x * 0.5,
    }
    return [
        (_toy_predict, transforms, faces, labels),
        (_toy_predict, {"vertical flip": transforms["vertical flip"], "brighter": lambda x: x + 40}, faces[5:25], labels[5:25]),
        (_toy_predict, {"original": transforms["original"]}, faces[:1], labels[:1]),  # hidden: one face
    ]


def _same_table(expected: Any, got: Any) -> bool:
    import pandas as pd

    if not isinstance(got, pd.DataFrame):
        return False
    return (list(got.index) == list(expected.index) and list(got.columns) == list(expected.columns)
            and bool(np.allclose(got.to_numpy(float), expected.to_numpy(float), atol=1e-9)))


def _agreement_table(predict, transforms, images, labels, against_labels: bool = False, axis: int = 1):
    import pandas as pd

    before = np.asarray(predict(images)).argmax(axis=axis)
    rows = {}
    for name, transform in transforms.items():
        after = np.asarray(predict(transform(images))).argmax(axis=axis)
        rows[name] = {"accuracy": float(np.mean(after == labels)),
                      "same_prediction": float(np.mean(after == (labels if against_labels else before)))}
    return pd.DataFrame.from_dict(rows, orient="index")


@exercise(
    cases=_agreement_cases,
    compare=_same_table,
    wrong_answers=[
        lambda p, t, x, y: _agreement_table(p, t, x, y, against_labels=True),  # "same" compared with the labels
        lambda p, t, x, y: _agreement_table(p, t, x, y)[["same_prediction", "accuracy"]],  # columns swapped
        lambda p, t, x, y: _agreement_table(p, t, x, y).sort_index(),  # rows not in the transforms' order
        lambda p, t, x, y: _agreement_table(p, {n: (lambda im: im) for n in t}, x, y),  # transforms never applied
    ],
    hint="predict once on the untransformed images (argmax over axis 1); then for each transform, in the dict's "
         "order: accuracy = mean(new prediction == labels), same_prediction = mean(new prediction == old prediction).",
)
def transform_agreement(predict, transforms: dict, images: np.ndarray, labels: np.ndarray):
    """How much each transform changes a model's answers: a DataFrame indexed by transform name (in the
    dict's order) with columns ``accuracy`` (predicted class of the transformed image == label) and
    ``same_prediction`` (== the class predicted for the untransformed image), both fractions 0-1.

    ``predict(images) -> (N, 7) probabilities``; each ``transforms[name](images) -> images``."""
    return _agreement_table(predict, transforms, images, labels)


def _remedy_table(rows: dict[str, tuple[float, float, float]]):
    import pandas as pd

    return pd.DataFrame.from_dict(rows, orient="index", columns=["val_accuracy", "val_macro_f1", "disgust_recall"]).rename_axis("remedy")


def _remedy_cases() -> list[tuple]:
    clear = _remedy_table({"none": (0.62, 0.50, 0.10), "class weights": (0.58, 0.56, 0.60), "oversampling": (0.60, 0.53, 0.40)})
    close = _remedy_table({"none": (0.62, 0.50, 0.10), "class weights": (0.61, 0.51, 0.30), "oversampling": (0.63, 0.505, 0.20)})
    none_best = _remedy_table({"none": (0.60, 0.55, 0.30), "class weights": (0.50, 0.45, 0.70)})
    later_none = _remedy_table({"oversampling": (0.55, 0.47, 0.5), "targeted": (0.64, 0.47, 0.3), "none": (0.66, 0.40, 0.0)})
    on_margin = _remedy_table({"none": (0.62, 0.5, 0.1), "class weights": (0.60, 0.53125, 0.5)})  # hidden: gain == margin
    return [(clear, 0.02), (close, 0.02), (none_best, 0.01), (later_none, 0.03), (on_margin, 0.03125), (clear, 0.0)]


@exercise(
    cases=_remedy_cases,
    wrong_answers=[
        lambda t, m: str(t["val_macro_f1"].idxmax()),  # no margin: noise decides
        lambda t, m: str(t["val_accuracy"].idxmax()),  # by accuracy
        lambda t, m: str(t["disgust_recall"].idxmax()),  # by one class's recall
        lambda t, m: (lambda b: b if t.loc[b, "val_macro_f1"] - t.loc["none", "val_macro_f1"] >= m else "none")(
            str(t["val_macro_f1"].idxmax())),  # a tie with the margin counted as better
        lambda t, m: (lambda b: b if t.loc[b, "val_macro_f1"] > m else "none")(str(t["val_macro_f1"].idxmax())),
    ],
    hint="best = the row with the highest val_macro_f1 (the first one on a tie); return it only if its macro-F1 "
         "exceeds the 'none' row's by MORE than margin, otherwise 'none'.",
)
def choose_remedy(table, margin: float) -> str:
    """The remedy to use: the one with the highest validation macro-F1, if it beats ``"none"`` by more than
    ``margin`` (the noise level); otherwise ``"none"``. ``table``: a DataFrame indexed by remedy name with a
    ``val_macro_f1`` column and a ``"none"`` row."""
    best = str(table["val_macro_f1"].idxmax())
    gain = float(table.loc[best, "val_macro_f1"] - table.loc["none", "val_macro_f1"])
    return best if gain > margin else "none"


# ==== lesson 09


def _small_base(seed: int, width: int):
    """A small convolutional base like the reference's (raw pixels in, a feature vector out), seeded weights."""
    import keras

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(width, 3, activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(2 * width, 3, activation="relu")(x)
    base = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x), name=f"base_{seed}")
    rng = np.random.default_rng(seed)
    base.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in base.get_weights()])
    return base


def _finetune_cases() -> list[tuple]:
    return [(_small_base(0, 4), 8), (_small_base(1, 8), 16), (_small_base(2, 3), 1)]  # hidden: other widths, hidden=1


def _same_finetune_model(expected: Any, got: Any) -> bool:
    """Same contract, same trainable weights (shapes, in order), same frozen part, and the same outputs once
    ``got`` is given ``expected``'s trainable weights (the new head starts random, so values are copied)."""
    import keras

    if not isinstance(got, keras.Model):
        return False
    if tuple(got.inputs[0].shape) != (None, 48, 48, 1) or tuple(got.outputs[0].shape) != (None, 7):
        return False
    shapes = [tuple(w.shape) for w in expected.trainable_weights]
    if [tuple(w.shape) for w in got.trainable_weights] != shapes:
        return False
    frozen = sorted(int(np.prod(w.shape)) for w in expected.non_trainable_weights)
    if sorted(int(np.prod(w.shape)) for w in got.non_trainable_weights) != frozen:
        return False
    for e, g in zip(expected.trainable_weights, got.trainable_weights):
        g.assign(keras.ops.convert_to_numpy(e))
    faces = np.random.default_rng(9).integers(0, 256, (6, 48, 48, 1)).astype("float32")
    want = keras.ops.convert_to_numpy(expected(faces, training=False))
    have = keras.ops.convert_to_numpy(got(faces, training=False))
    return bool(np.allclose(want, have, atol=1e-5))


def _head(base, hidden: int, softmax: bool = True, rescale: bool = False, dense: bool = True):
    import keras

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs) if rescale else inputs
    x = base(x, training=False)
    if dense:
        x = keras.layers.Dense(hidden, activation="relu")(x)
        x = keras.layers.Dropout(0.3)(x)
    return keras.Model(inputs, keras.layers.Dense(7, activation="softmax" if softmax else None)(x))


def _wrong_not_frozen(base, hidden):
    return _head(base, hidden)  # the base was never frozen: its weights would be trained too


def _wrong_rescaled_twice(base, hidden):
    base.trainable = False
    return _head(base, hidden, rescale=True)  # the base already rescales: pixels end up divided by 255 twice


def _wrong_logits(base, hidden):
    base.trainable = False
    return _head(base, hidden, softmax=False)


def _wrong_all_frozen(base, hidden):
    model = _head(base, hidden)
    model.trainable = False  # the new head is frozen too: nothing can learn
    return model


def _wrong_no_hidden(base, hidden):
    base.trainable = False
    return _head(base, hidden, dense=False)


@exercise(
    cases=_finetune_cases,
    compare=_same_finetune_model,
    wrong_answers=[_wrong_not_frozen, _wrong_rescaled_twice, _wrong_logits, _wrong_all_frozen, _wrong_no_hidden],
    hint="base.trainable = False; then keras.Input((48, 48, 1)) -> base(inputs, training=False) -> "
         "Dense(hidden, 'relu') -> Dropout(0.3) -> Dense(7, 'softmax'). The base rescales the pixels itself; "
         "only the two new Dense layers may be trainable.",
)
def build_finetune_model(base, hidden: int):
    """Frozen ``base`` (raw pixels -> features) + a new head: Dense(hidden, relu), Dropout(0.3), Dense(7, softmax)."""
    import keras

    frozen = keras.models.clone_model(base)  # the registered reference leaves the caller's base as it was
    frozen.set_weights(base.get_weights())
    frozen.trainable = False
    return _head(frozen, hidden)


def _fine_tuning_reference(epochs, frozen_epochs, head_lr, fine_lr, decay_lr=None, offset=False, frozen_flag=False,
                           cap=True):
    from .training import cosine_schedule

    n1 = min(frozen_epochs, epochs) if cap else frozen_epochs
    n2 = max(epochs - n1, 0)
    decay = cosine_schedule(decay_lr if decay_lr is not None else fine_lr, epochs if offset else n2)
    return ([(frozen_flag, float(head_lr))] * n1
            + [(not frozen_flag, decay(k + n1 if offset else k)) for k in range(n2)])


@exercise(
    cases=lambda: [(5, 2, 1e-3, 1e-4), (4, 1, 3e-3, 2e-4), (3, 3, 1e-3, 1e-4), (6, 0, 1e-3, 5e-5), (2, 5, 3e-3, 1e-4)],
    wrong_answers=[
        lambda e, f, h, l: _fine_tuning_reference(e, f, h, l, frozen_flag=True),  # True/False swapped
        lambda e, f, h, l: _fine_tuning_reference(e, f, h, l, decay_lr=h),  # phase 2 at the head's rate
        lambda e, f, h, l: _fine_tuning_reference(e, f, h, l, offset=True),  # one cosine over the whole run
        lambda e, f, h, l: [(False, h)] * min(f, e) + [(True, l)] * max(e - f, 0),  # no decay
        lambda e, f, h, l: _fine_tuning_reference(e, f, h, l, cap=False),  # more epochs than the budget
    ],
    hint="n1 = min(frozen_epochs, epochs) epochs of (False, head_lr), then n2 = epochs - n1 of "
         "(True, helpers.training.cosine_schedule(fine_lr, n2)(k)) for k = 0 .. n2-1.",
)
def fine_tuning_schedule(epochs: int, frozen_epochs: int, head_lr: float, fine_lr: float) -> list:
    """One ``(base_trainable, learning_rate)`` per epoch: the head alone at ``head_lr``, then everything on a
    cosine from ``fine_lr``."""
    return _fine_tuning_reference(epochs, frozen_epochs, head_lr, fine_lr)


def _verdict_cases() -> list[tuple]:
    def pair(n, general_right, personal_right, both):
        g = np.zeros(n, bool)
        p = np.zeros(n, bool)
        g[:both] = p[:both] = True
        g[both:both + general_right] = True
        p[both + general_right:both + general_right + personal_right] = True
        return g, p

    return [
        (*pair(20, 1, 3, 9), 0.05),  # +2 faces of 20: within noise
        (*pair(40, 0, 9, 15), 0.05),  # 9 faces fixed, none broken: beyond noise
        (*pair(14, 0, 0, 7), 0.05),  # hidden: the two models agree on every face
        (*pair(30, 6, 1, 10), 0.05),  # hidden: personalisation made it worse
        (*pair(60, 1, 7, 30), 0.05),  # hidden: one-sided and two-sided tests disagree
        (*pair(60, 1, 7, 30), 0.01),  # hidden: a stricter level
    ]


def _verdict(general_correct, personal_correct, alpha, two_sided=False, swapped=False, all_faces=False,
             ignore_noise=False):
    from scipy.stats import binomtest

    g, p = np.asarray(general_correct, bool), np.asarray(personal_correct, bool)
    fixed, broken = int(np.sum(p & ~g)), int(np.sum(g & ~p))
    if swapped:
        fixed, broken = broken, fixed
    trials = len(g) if all_faces else fixed + broken
    p_value = (binomtest(fixed, trials, 0.5, alternative="two-sided" if two_sided else "greater").pvalue
               if trials else 1.0)
    gain = float(p.mean() - g.mean()) if len(g) else 0.0
    return {"gain": gain, "p_value": float(p_value), "better": bool(gain > 0 if ignore_noise else p_value < alpha)}


@exercise(
    cases=_verdict_cases,
    wrong_answers=[
        lambda g, p, a: _verdict(g, p, a, two_sided=True),
        lambda g, p, a: _verdict(g, p, a, swapped=True),
        lambda g, p, a: _verdict(g, p, a, all_faces=True),  # faces both models get right (or wrong) are no evidence
        lambda g, p, a: _verdict(g, p, a, ignore_noise=True),
    ],
    hint="Only the faces where the models disagree are evidence: fixed = personal right & general wrong, broken = "
         "the reverse; p = scipy.stats.binomtest(fixed, fixed + broken, 0.5, alternative='greater').pvalue "
         "(1.0 when they never disagree); better = p < alpha.",
)
def personalisation_verdict(general_correct: np.ndarray, personal_correct: np.ndarray, alpha: float) -> dict:
    """Does the personalised model beat the general one on the same held-back faces by more than noise?

    ``{"gain": accuracy difference, "p_value": exact one-sided McNemar test, "better": p_value < alpha}``.
    """
    return _verdict(general_correct, personal_correct, alpha)
