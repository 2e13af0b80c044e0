"""Lesson 06 · Evaluation: reading a model's errors: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .core import exercise, same
from .quiz import Question, questions


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


def _cam_net(seed: int, last_conv: str = "conv_last", head: str = "gap"):
    """A tiny course-shaped CNN (raw 48x48x1 pixels in, 7 softmax probabilities out) whose weights depend only
    on ``seed``; its last convolution is called ``last_conv`` and is followed by a ReLU (so the gradient
    with respect to the convolution's output varies over the map). ``head``: "gap" or "flatten"."""
    import keras

    layers = keras.layers
    init = lambda s: keras.initializers.GlorotUniform(seed=s)
    bias = lambda s, sd: keras.initializers.RandomNormal(0.0, sd, seed=s)
    inputs = keras.Input((48, 48, 1))
    x = layers.Rescaling(1 / 255, dtype="float32")(inputs)
    x = layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", kernel_initializer=init(seed),
                      bias_initializer=bias(seed + 5, 0.1), dtype="float32")(x)
    x = layers.MaxPooling2D(2, dtype="float32")(x)
    x = layers.Conv2D(8, 3, padding="same", kernel_initializer=init(seed + 1), bias_initializer=bias(seed + 2, 0.1),
                      name=last_conv, dtype="float32")(x)
    x = layers.Activation("relu", dtype="float32")(x)
    x = layers.GlobalAveragePooling2D(dtype="float32")(x) if head == "gap" else layers.Flatten(dtype="float32")(x)
    outputs = layers.Dense(7, activation="softmax", kernel_initializer=init(seed + 3), bias_initializer=bias(seed + 4, 0.5),
                           dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"cam_net_{seed}")


def _cam_cases() -> list[tuple]:
    rng = np.random.default_rng(66)
    faces = lambda n: rng.integers(0, 256, (n, 48, 48, 1)).astype("float32")
    return [(_cam_net(1), faces(2), 3, "conv_last"),
            (_cam_net(2), faces(3), 0, "conv_last"),  # hidden: another class
            (_cam_net(3, last_conv="block2_conv", head="flatten"), faces(2), 5, "block2_conv")]  # hidden: another name and head


def _wrong_cam(probability: bool = False, relu: bool = True, channel_mean: bool = True, normalise: bool = True,
               predicted: bool = False):
    def cam(model, images, class_index, layer_name):
        import keras
        import tensorflow as tf

        head = model.layers[-1]
        both = keras.Model(model.input, [model.get_layer(layer_name).output, head.input])
        with tf.GradientTape() as tape:
            fmap, features = both(tf.convert_to_tensor(np.asarray(images, "float32")), training=False)
            logits = tf.matmul(features, head.kernel) + head.bias
            scores = tf.nn.softmax(logits) if probability else logits
            chosen = tf.argmax(logits, axis=1) if predicted else tf.fill([tf.shape(logits)[0]], class_index)
            score = tf.gather(scores, chosen, axis=1, batch_dims=1)
        grads = tape.gradient(score, fmap)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True) if channel_mean else grads
        maps = tf.reduce_sum(weights * fmap, axis=-1).numpy()
        maps = np.maximum(maps, 0) if relu else maps
        if not normalise:
            return maps
        peak = maps.max(axis=(1, 2), keepdims=True)
        return np.where(peak > 0, maps / np.where(peak > 0, peak, 1), 0.0)

    return cam


@exercise(
    cases=_cam_cases,
    compare=lambda expected, got: same(expected, got, rtol=1e-4, atol=1e-5),
    wrong_answers=[_wrong_cam(probability=True), _wrong_cam(relu=False), _wrong_cam(channel_mean=False),
                   _wrong_cam(normalise=False), _wrong_cam(predicted=True)],
    hint="record on a gradient tape the feature map of the named layer and the class's score before the softmax "
         "(the last Dense layer's input times its kernel plus its bias); average the score's gradient over the "
         "map's height and width to get one weight per channel; sum the channels weighted that way, keep the "
         "positive part, and divide each face's map by its largest value (a map without any positive value stays 0).",
)
def grad_cam(model, images: np.ndarray, class_index: int, layer_name: str) -> np.ndarray:
    """Grad-CAM maps ``(N, h, w)`` at the resolution of layer ``layer_name``'s output, each scaled to a maximum
    of 1 (0 everywhere when nothing in it supports the class), for the class ``class_index``.

    ``model`` ends with ``Dense(7, activation="softmax")``; the class score is its logit (before the softmax).
    """
    import keras
    import tensorflow as tf

    head = model.layers[-1]
    both = keras.Model(model.input, [model.get_layer(layer_name).output, head.input])
    with tf.GradientTape() as tape:
        fmap, features = both(tf.convert_to_tensor(np.asarray(images, dtype="float32")), training=False)
        logits = tf.matmul(features, head.kernel) + head.bias  # the scores before the softmax
        score = logits[:, class_index]
    grads = tape.gradient(score, fmap)  # (N, h, w, channels)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # one weight per channel
    maps = tf.nn.relu(tf.reduce_sum(weights * fmap, axis=-1)).numpy()
    peak = maps.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, maps / np.where(peak > 0, peak, 1.0), 0.0)


def _pr_cases() -> list[tuple]:
    from sklearn.metrics import precision_recall_curve

    rng = np.random.default_rng(67)

    def curve(n: int, rate: float, separation: float):
        y = rng.random(n) < rate
        scores = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + separation * y - 1.5)))
        return precision_recall_curve(y, scores)

    dip = (np.array([0.5, 0.55, 0.52, 0.61, 0.58, 0.75, 0.72, 1.0, 1.0]),  # precision dips and recovers
           np.array([1.0, 0.9, 0.8, 0.8, 0.7, 0.6, 0.5, 0.2, 0.0]), np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]))
    flat = (np.array([0.3, 0.4, 0.45, 0.45, 1.0]), np.array([1.0, 0.8, 0.6, 0.6, 0.0]), np.array([0.2, 0.4, 0.5, 0.7]))
    return [(*curve(400, 0.2, 2.5), 0.6), (*curve(400, 0.15, 1.5), 0.5),
            (*dip, 0.6),  # hidden: precision falls below the requirement, then rises above it again at lower thresholds
            (*flat, 0.45),  # hidden: two thresholds with the same recall: the higher one (fewer false alarms)
            (*curve(300, 0.1, 0.5), 0.9),  # hidden: no threshold reaches the precision
            (*dip, 0.5)]  # hidden: the lowest threshold already meets it


def _threshold_first_violation(precision, recall, thresholds, min_precision):  # scans down, stops at the first dip
    chosen = None
    for i in range(len(thresholds) - 1, -1, -1):
        if precision[i] < min_precision:
            break
        chosen = float(thresholds[i])
    return chosen


def _threshold_lowest(precision, recall, thresholds, min_precision):  # ignores ties in recall
    ok = np.flatnonzero(np.asarray(precision)[:-1] >= min_precision)
    return float(np.asarray(thresholds)[ok].min()) if len(ok) else None


def _threshold_best_f1(precision, recall, thresholds, min_precision):  # the F1-best threshold, requirement ignored
    p, r = np.asarray(precision)[:-1], np.asarray(recall)[:-1]
    return float(np.asarray(thresholds)[np.argmax(2 * p * r / np.maximum(p + r, 1e-12))])


def _threshold_shifted(precision, recall, thresholds, min_precision):  # precision[1:]: one place off
    p, r, t = np.asarray(precision)[1:], np.asarray(recall)[1:], np.asarray(thresholds)
    ok = np.flatnonzero(p >= min_precision)
    return float(t[ok[np.lexsort((-t[ok], -r[ok]))[0]]]) if len(ok) else None


@exercise(
    cases=_pr_cases,
    wrong_answers=[_threshold_first_violation, _threshold_lowest, _threshold_best_f1, _threshold_shifted,
                   lambda precision, recall, thresholds, min_precision: 0.5],
    hint="keep only the thresholds whose precision meets the requirement (the curve's last point has no "
         "threshold); among them take the one with the highest recall, and when several share that recall, the "
         "highest of those thresholds (the same faces found with fewer false alarms). Precision is not monotone: "
         "look at every threshold, not only until the first one that fails. None when no threshold meets it.",
)
def choose_threshold(precision: np.ndarray, recall: np.ndarray, thresholds: np.ndarray, min_precision: float) -> float | None:
    """The threshold of a one-vs-rest detector with the highest recall whose precision is at least
    ``min_precision`` (ties in recall: the highest such threshold), from scikit-learn's
    ``precision_recall_curve`` (``precision``, ``recall`` have one more point than ``thresholds``); None if none."""
    precision, recall, thresholds = (np.asarray(a, dtype=float) for a in (precision, recall, thresholds))
    ok = np.flatnonzero(precision[:-1] >= min_precision)
    if len(ok) == 0:
        return None
    best_recall = recall[ok].max()
    return float(thresholds[ok][recall[ok] == best_recall].max())


questions("06", [
    Question("In a confusion matrix (rows: true class, columns: predicted class), what does row *c* sum to?",
             options=("the number of faces predicted as c", "the number of faces whose true class is c (its support)",
                      "the number of faces predicted correctly"), answer="b",
             why="each face of true class c lands in row c, in the column of whatever was predicted; recall of c is the "
                 "diagonal cell divided by that row's sum (precision divides by the column's)."),
    Question("A model that always answers *happy*: what is its recall for *disgust*?", answer=0.0, tolerance=0.001,
             why="it never predicts disgust, so it finds none of the disgust faces: 0 / (number of disgust faces) = 0."),
    Question("On 100 faces with 10 of class *fear*, a rule says *fear* 20 times and is right on 8 of them. What is its "
             "F1 for fear?", answer=0.5333, tolerance=0.002,
             why="precision 8/20 = 0.4, recall 8/10 = 0.8, F1 = 2 x 0.4 x 0.8 / (0.4 + 0.8) = 0.533."),
    Question("You lower the threshold on p(fear). What happens to fear's recall?",
             options=("it rises or stays the same", "it falls or stays the same", "it can go either way"), answer="a",
             why="a lower threshold says fear on every face it said fear on before, and maybe more: no fear face is lost. "
                 "Precision, in contrast, can go either way."),
    Question("Grad-CAM weights each channel of the last feature map by ...",
             options=("the channel's mean activation", "the mean gradient of the class's score (before the softmax) "
                      "with respect to that channel", "the class's probability"), answer="b",
             why="the gradient, averaged over the map, says how much the channel raises the class's score; the logit "
                 "is used because the softmax saturates and mixes in the other classes."),
])
