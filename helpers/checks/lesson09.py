"""Lesson 09 · Capstone: fine-tune, personalise and document your own model: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import exercise
from .quiz import Question, questions


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
    hint="freeze the pretrained base and call it in inference mode (its batch norms keep their statistics) on "
         "48x48x1 inputs; put a new head on it: a hidden ReLU layer of the given size, dropout 0.3, and 7 "
         "softmax outputs. The base rescales the pixels itself; only the head's two dense layers may train.",
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
    from ..training import cosine_schedule

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
    hint="first the head alone (base frozen) at head_lr for frozen_epochs epochs (never more than there are); "
         "then the whole network for the remaining epochs, its rate following the course's cosine schedule "
         "from fine_lr over those remaining epochs.",
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
    hint="only the faces where the two models disagree are evidence: count those the personal model fixed and "
         "those it broke. Were it no better, each disagreement would go either way with probability 1/2; a "
         "one-sided binomial test says how surprising the number of fixes is (p = 1 when they never disagree);"
         " better means p < alpha.",
)
def personalisation_verdict(general_correct: np.ndarray, personal_correct: np.ndarray, alpha: float) -> dict:
    """Does the personalised model beat the general one on the same held-back faces by more than noise?

    ``{"gain": accuracy difference, "p_value": exact one-sided McNemar test, "better": p_value < alpha}``.
    """
    return _verdict(general_correct, personal_correct, alpha)


def _wasserstein_cases() -> list[tuple]:
    rng = np.random.default_rng(90)
    train_like = rng.normal(128, 30, 400)
    return [
        (train_like, rng.normal(125, 45, 300)),  # about as bright, more contrast, fewer faces
        (train_like, rng.normal(70, 12, 150)),  # darker, flatter, fewer: different sizes
        (np.array([3.0]), np.array([10.0])),  # hidden: one value each
        (train_like, train_like + 15.0),  # hidden: a pure shift moves everything by 15
        (train_like, 128 + 0.4 * (train_like - 128)),  # hidden: the same mean, less spread
        (rng.integers(0, 5, 60), rng.integers(0, 5, 25)),  # hidden: integers with many repeated values
        (train_like, train_like[::-1].copy()),  # hidden: the same values in another order: 0
    ]


def _wrong_wasserstein(a, b, sort=True, side="right", integrate=True):
    a, b = (np.sort(a), np.sort(b)) if sort else (np.asarray(a, float), np.asarray(b, float))
    x = np.sort(np.concatenate([a, b]))
    fa = np.searchsorted(a, x[:-1], side=side) / len(a)
    fb = np.searchsorted(b, x[:-1], side=side) / len(b)
    gaps = np.abs(fa - fb)
    return float(np.sum(gaps * np.diff(x)) if integrate else gaps.max(initial=0.0))


@exercise(
    cases=_wasserstein_cases,
    compare=lambda e, g: isinstance(g, (int, float, np.floating, np.ndarray)) and np.ndim(g) == 0
    and bool(np.isclose(float(g), e, rtol=1e-6, atol=1e-9)),
    wrong_answers=[
        lambda a, b: float(np.mean(np.abs(np.sort(a) - np.sort(b)))),  # only right for samples of one size
        lambda a, b: float(abs(np.mean(a) - np.mean(b))),  # the difference of the means: blind to spread
        lambda a, b: _wrong_wasserstein(a, b, integrate=False),  # the Kolmogorov-Smirnov statistic
        lambda a, b: _wrong_wasserstein(a, b, side="left"),  # each step of the CDF one value late
        lambda a, b: _wrong_wasserstein(a, b, sort=False),  # the CDF of an unsorted sample
    ],
    hint="the distance is the area between the two samples' cumulative distribution functions. Put all values "
         "of both samples in one sorted list; between two neighbouring values each CDF is flat (the share of "
         "its sample at or below the left one), so the area is a sum of rectangles: the gap between the CDFs "
         "times the width of the interval. The samples may have different sizes.",
)
def wasserstein_1d(a: np.ndarray, b: np.ndarray) -> float:
    """The 1-D Wasserstein (earth mover's) distance between two samples, in their units, as
    ``scipy.stats.wasserstein_distance``."""
    from scipy.stats import wasserstein_distance

    return float(wasserstein_distance(a, b))



def _calibration_cases() -> list[tuple]:
    rng = np.random.default_rng(91)
    probs = rng.dirichlet(np.ones(7) * 0.6, 300)
    labels = np.where(rng.random(300) < 0.6, probs.argmax(1), rng.integers(0, 7, 300))
    sure = np.eye(7)[[3, 3, 6, 0]]  # hidden: confidence exactly 1.0 (the last bin's right edge)
    halves = np.zeros((4, 7))
    halves[:, [2, 5]] = 0.5  # hidden: confidence exactly 0.5, an edge between two bins
    edges = np.full((5, 7), np.nan)
    for row, (cls, top) in enumerate([(3, 1.0), (1, 0.92), (2, 0.5), (4, 0.45), (6, 0.55)]):
        edges[row] = (1 - top) / 6
        edges[row, cls] = top
    edges[2, 5] = 0.5  # a tie: 0.5 for classes 2 and 5, the first one is the answer
    edges[2, [c for c in range(7) if c not in (2, 5)]] = 0.0
    return [
        (probs, labels),
        (probs[:40], probs[:40].argmax(1)),  # every answer right: the model is under-confident
        (edges, np.array([3, 0, 2, 0, 6])),  # hidden: 1.0 and 0.5 share their bins with 0.92 and 0.45
        (sure, np.array([3, 4, 6, 0])),
        (np.concatenate([halves, probs[:6]]), np.array([2, 5, 2, 1, 0, 0, 1, 2, 3, 4])),
        (probs[:1], labels[:1]),  # hidden: one face
    ]


def _ece(probs, labels, edges="right", weight=True, top=True, bins=10):
    probs, labels = np.asarray(probs, float), np.asarray(labels)
    conf = probs.max(axis=1) if top else probs[np.arange(len(labels)), labels]
    correct = (probs.argmax(axis=1) == labels).astype(float)
    if edges == "right":  # scikit-learn's binning: (lo, hi], the first bin from 0
        ids = np.searchsorted(np.linspace(0, 1, bins + 1)[1:-1], conf)
    else:  # [lo, hi) and 1.0 in a bin of its own
        ids = np.floor(conf * bins).astype(int)
    total = np.bincount(ids, minlength=bins + 1)
    gap = np.abs(np.bincount(ids, correct, bins + 1) - np.bincount(ids, conf, bins + 1))
    if weight:
        return float(gap.sum() / len(conf))
    seen = total > 0
    return float(np.mean(gap[seen] / total[seen]))


@exercise(
    cases=_calibration_cases,
    compare=lambda e, g: isinstance(g, (int, float, np.floating, np.ndarray)) and np.ndim(g) == 0
    and bool(np.isclose(float(g), e, rtol=1e-6, atol=1e-9)),
    wrong_answers=[
        lambda p, y: _ece(p, y, edges="left"),  # a confidence on an edge in the upper bin; 1.0 off the end
        lambda p, y: _ece(p, y, weight=False),  # every bin weighs the same, however few faces it holds
        lambda p, y: _ece(p, y, top=False),  # the probability of the true class instead of the confidence
        lambda p, y: float(abs(np.mean(np.asarray(p).max(1)) - np.mean(np.asarray(p).argmax(1) == y))),  # one bin
    ],
    hint="the confidence of an answer is its largest probability, and it is right when that class is the label. "
         "Sort the answers into ten bins of confidence of equal width (a confidence on an edge goes to the lower "
         "bin, as scikit-learn bins them; 1.0 is in the last bin). In each bin compare the share of right answers "
         "with the mean confidence; the error is the average of these gaps over the bins, each weighted by its share "
         "of the answers.",
)
def expected_calibration_error(probs: np.ndarray, labels: np.ndarray) -> float:
    """Expected calibration error (ECE, Guo et al. 2017) of the top-label confidence over 10 equal-width bins,
    binned as ``sklearn.calibration.calibration_curve(strategy="uniform")``: a float in [0, 1]."""
    from sklearn.calibration import calibration_curve

    probs, labels = np.asarray(probs, float), np.asarray(labels)
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    right_share, mean_confidence = calibration_curve(correct, confidence, n_bins=10, strategy="uniform")
    faces = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], confidence), minlength=10)
    return float(np.sum(faces[faces > 0] / len(confidence) * np.abs(right_share - mean_confidence)))


questions("09", [
    Question("Why does phase 1 train the new head with the pretrained base frozen?",
             options=("a frozen base uses less memory",
                      "the random head's large, noisy gradients would flow into the base and wreck the features it "
                      "learnt",
                      "Keras cannot train a base and a head at once"),
             answer="b",
             why="once the head gives sensible outputs, its gradients are small enough to fine-tune the base at a "
                 "low learning rate."),
    Question("On 20 held-back faces the personalised model fixes 3 faces the general model got wrong and breaks 1 "
             "it got right. What is the one-sided p-value of McNemar's exact test?",
             answer=0.3125, tolerance=0.005,
             why="only the 4 disagreements count; with no real difference each goes either way with probability "
                 "1/2: P(3 or 4 fixes of 4) = (4 + 1) / 16 = 0.3125. Far from evidence."),
    Question("Every value of sample A is the value of sample B plus 12 grey levels. What is the Wasserstein-1 "
             "distance between them, in grey levels?",
             answer=12, tolerance=0.01,
             why="shifting a distribution moves all its mass by the same amount: the earth mover's distance is "
                 "that shift."),
    Question("Your fine-tuned model scores 2 points lower on the test split than you hoped. What do you do?",
             options=("tune the head again until the test score rises",
                      "report it: the test split is read once, after every choice was made on validation",
                      "swap the validation and test splits and choose again"),
             answer="b",
             why="any choice made by looking at the test split makes its number an optimistic guess of how the "
                 "model does on new faces."),
])
