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
