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
        lines = [f"{type(value).__name__} with {len(layer_table(value))} layers, {value.count_params():,} parameters:"]
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


def check(answer: Callable, name: str | None = None) -> Callable:
    """Check an exercise, print the verdict, and return what the rest of the notebook should use.

    Returns ``answer`` if it passes, otherwise the reference answer (so the notebook continues).
    Hints come in tiers: the first failure gives the idea, the second (or :func:`hint`) the code.
    """
    result = run_check(answer, name)
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
               classic_order: bool = False):
    def build(widths, dropout):
        import keras
        from keras import layers

        inputs = keras.Input((48, 48, 1))
        x = layers.Rescaling(1 / 255)(inputs) if rescale else inputs
        for width in widths:
            x = layers.Conv2D(width, 3, padding="same", use_bias=bias)(x)
            if classic_order:
                x = layers.MaxPooling2D(2)(layers.Activation("relu")(layers.BatchNormalization()(x)))
            else:
                x = layers.Activation("relu")(layers.BatchNormalization()(layers.MaxPooling2D(2)(x)))
        x = layers.Flatten()(x) if flatten else layers.GlobalAveragePooling2D()(x)
        x = layers.Dropout(dropout)(x)
        return keras.Model(inputs, layers.Dense(7, activation="softmax" if softmax else None)(x))

    return build


@exercise(
    cases=lambda: [((32, 64, 128), 0.3), ((8, 16), 0.5), ((16, 32, 64, 128), 0.2)],
    verify=_verify_network,
    wrong_answers=[_wrong_net(rescale=False), _wrong_net(bias=True), _wrong_net(flatten=True), _wrong_net(softmax=False),
                   _wrong_net(classic_order=True)],
    hint="Input((48, 48, 1)) -> Rescaling(1/255) -> for each width: Conv2D(width, 3, padding='same', use_bias=False), "
         "MaxPooling2D(2), BatchNormalization(), Activation('relu') -> GlobalAveragePooling2D -> Dropout(dropout) -> "
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
    if lowest < 2:  # no descent recorded before the minimum: a tenth of its rate
        return float(lrs[lowest] / 10)
    slope = np.gradient(losses[: lowest + 1], np.log10(lrs[: lowest + 1]))
    return float(min(lrs[int(np.argmin(slope))], lrs[lowest] / 3))


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
