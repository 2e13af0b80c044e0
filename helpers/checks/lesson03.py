"""Lesson 03 · Data augmentation and imbalance: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import exercise
from .quiz import Question, questions
from .lesson02 import _indices_per_class, _resample_cases, _same_resample, random_oversample


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
    """True when the blocks match; otherwise a ValueError that names the first layer that differs
    without spelling out the expected one (the first failure gives an idea, not the answer)."""
    want, have = _augmentation_signature(expected), _augmentation_signature(got)
    if want == have:
        return True
    for k, (w, h) in enumerate(zip(want, have), 1):
        if w != h:
            shown = f"{h[0]}({', '.join(map(str, h[1:]))})" if len(h) > 1 else h[0]
            what = (f"a {w[0]} with other settings (look at each argument: mode, unit, width against height)"
                    if w[0] == h[0] else f"another kind of random layer (the order is flip, rotation, zoom)")
            raise ValueError(f"layer {k} is {shown}; the check expects {what} there")
    raise ValueError(f"{len(have)} layer(s) where the check expects {len(want)} (a flip, a rotation and a zoom)")


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
    hint="three random layers in a keras.Sequential: a flip, a rotation and a zoom. For each, ask what keeps a"
         " face a face with the same expression: which flip? In which unit does the rotation's factor count "
         "(degrees or a fraction of a full turn)? Should the zoom change the width apart from the height?",
)
def build_augmentation(rotation: float, zoom: float):
    """A keras.Sequential: horizontal flip, then rotation by up to ``rotation`` of a turn, then zoom up to ``zoom``."""
    import keras

    return keras.Sequential([
        keras.layers.RandomFlip("horizontal"),
        keras.layers.RandomRotation(rotation),
        keras.layers.RandomZoom(zoom),
    ])


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
    from ..class_balance import oversample_rare_indices

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
    hint="predict once on the untouched images and keep the predicted classes; then, for each transform in the"
         " dict's order, predict on the transformed images and measure two fractions: how often the new "
         "prediction is the label (accuracy) and how often it is the old prediction (same_prediction).",
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
    hint="find the remedy with the highest validation macro-F1 (the first one on a tie). A gain within the "
         "noise is no evidence: keep 'none' unless the best beats the 'none' row by MORE than the margin.",
)
def choose_remedy(table, margin: float) -> str:
    """The remedy to use: the one with the highest validation macro-F1, if it beats ``"none"`` by more than
    ``margin`` (the noise level); otherwise ``"none"``. ``table``: a DataFrame indexed by remedy name with a
    ``val_macro_f1`` column and a ``"none"`` row."""
    best = str(table["val_macro_f1"].idxmax())
    gain = float(table.loc[best, "val_macro_f1"] - table.loc["none", "val_macro_f1"])
    return best if gain > margin else "none"


# --------------------------------------------------------------------------- a random flip written as a Keras layer


def _flip_cases() -> list[tuple]:
    rng = np.random.default_rng(6)
    faces = rng.integers(0, 256, (400, 6, 6, 1)).astype(np.float32)
    wide = rng.integers(0, 256, (300, 4, 5, 3)).astype(np.float32)  # hidden: not square, three channels
    return [
        (faces[:40], False, 1, 2),  # inference: nothing changes
        (faces, True, 2, 3),  # training: about half flipped, other faces at every call
        (faces[:40], None, 3, 2),  # hidden: training not given (a plain call, the webcam loop): nothing changes
        (wide, True, 4, 2),  # hidden: the width axis of a batch (N, height, width, channels)
        (faces[:1], True, 5, 24),  # hidden: a batch of one face, many calls: sometimes flipped, sometimes not
    ]


def _verify_flips(args: tuple, got: Any) -> str | None:
    """``None`` when ``got`` is what a random horizontal flip layer does, else what is wrong."""
    images, training, _, calls = args
    if not isinstance(got, np.ndarray) or got.shape != (calls, *images.shape):
        shape = got.shape if isinstance(got, np.ndarray) else type(got).__name__
        return f"return a NumPy array of shape (calls, *images.shape) = {(calls, *images.shape)}, got {shape}"
    got = got.astype(np.float64)
    same = np.all(got == images, axis=(2, 3, 4))  # (calls, n)
    mirrored = np.all(got == images[:, :, ::-1], axis=(2, 3, 4))
    if not training:
        if not same.all():
            return (f"called with training={training}, your layer changed {int((~same).sum())} of {same.size} faces: "
                    "outside training (predict, a plain call) a random layer must be the identity")
        return None
    if not (same | mirrored).all():
        upside = np.all(got == images[:, ::-1], axis=(2, 3, 4))
        return (f"{int((~(same | mirrored)).sum())} outputs are neither the face nor its mirror image"
                + (" (some are upside down: the height axis was flipped, not the width)" if upside.any() else ""))
    share = mirrored.mean(axis=1)
    if len(images) > 1 and (share.min() < 0.3 or share.max() > 0.7):
        return (f"the share of flipped faces per call was {', '.join(f'{s:.0%}' for s in share)}: each face should be "
                "flipped with probability 1/2, drawn for each face on its own")
    if calls > 1 and all(np.array_equal(mirrored[0], m) for m in mirrored[1:]):
        return ("every call flipped exactly the same faces: draw new random numbers at each call (a "
                "keras.random.SeedGenerator made once, in __init__, not a fixed integer seed in call)")
    if len(images) == 1 and mirrored.mean() in (0.0, 1.0):
        return f"over {calls} calls the one face was {'always' if mirrored.all() else 'never'} flipped"
    return None


def _flip_model_outputs(layer, images, training, calls):
    import keras

    model = keras.Sequential([keras.Input(images.shape[1:]), layer])
    return np.stack([keras.ops.convert_to_numpy(model(images, training=training)) for _ in range(calls)])


def _flip_layer_class(axis: int = 2, honour_training: bool = True, per_face: bool = True, fixed_seed: bool = False,
                      inference_test=lambda training: not training):
    import keras

    class Flip(keras.layers.Layer):
        def __init__(self, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.seed = seed
            self.generator = keras.random.SeedGenerator(seed)

        def call(self, inputs, training=None):
            if honour_training and inference_test(training):
                return inputs
            shape = (keras.ops.shape(inputs)[0] if per_face else 1, 1, 1, 1)
            coin = keras.random.uniform(shape, seed=self.seed if fixed_seed else self.generator)
            return keras.ops.where(coin < 0.5, keras.ops.flip(inputs, axis=axis), inputs)

    return Flip


@exercise(
    cases=_flip_cases,
    verify=_verify_flips,
    wrong_answers=[
        lambda x, t, s, c: _flip_model_outputs(_flip_layer_class(axis=1)(s), x, t, c),  # upside down
        lambda x, t, s, c: _flip_model_outputs(_flip_layer_class(honour_training=False)(s), x, t, c),  # flips at inference
        lambda x, t, s, c: _flip_model_outputs(_flip_layer_class(per_face=False)(s), x, t, c),  # one coin for the batch
        lambda x, t, s, c: _flip_model_outputs(_flip_layer_class(fixed_seed=True)(s), x, t, c),  # the same faces each call
        lambda x, t, s, c: _flip_model_outputs(_flip_layer_class(inference_test=lambda tr: tr is False)(s), x, t, c),
        lambda x, t, s, c: _flip_model_outputs(__import__("keras").layers.RandomFlip("horizontal", seed=s), x, t, c),
        lambda x, t, s, c: np.stack([x[:, :, ::-1] if t else x] * c),  # every face flipped in training
    ],
    hint="write a keras.layers.Layer whose call returns its input unchanged unless training is true; in training, "
         "draw one random number per face (from a seed generator the layer makes once, so that every call draws "
         "new ones) and mirror the faces whose number is below one half, left to right (the width axis), keeping "
         "the others. Put the layer in a small model and call the model as many times as asked.",
)
def flip_layer_outputs(images: np.ndarray, training: bool | None, seed: int, calls: int) -> np.ndarray:
    """What a random horizontal flip layer (a ``keras.layers.Layer`` subclass, seeded by ``seed``) returns when a
    model made of it is called ``calls`` times on ``images`` ``(N, H, W, C)`` with ``training``: a float array
    ``(calls, N, H, W, C)``. In training each face is mirrored left-right with probability 1/2, drawn anew for each
    face and each call; otherwise (``training`` False or None) the layer is the identity."""
    return _flip_model_outputs(_flip_layer_class()(seed), np.asarray(images, dtype=np.float32), training, calls)


questions("03", [
    Question("Which transform should augmentation for expressions never use?",
             options=("horizontal flip", "rotation by up to 10 degrees", "vertical flip", "brightness +-10 %"), answer="c",
             why="an upside-down face does not occur in the data, and a mouth's curve turned over reads as another expression."),
    Question("`keras.layers.RandomRotation(0.05)` rotates by up to how many degrees either way?", answer=18, tolerance=0.5,
             why="Keras counts the factor as a fraction of a full turn: 0.05 x 360 = 18 degrees."),
    Question("Your flip layer is called as `layer(x)`, without `training` (at inference, e.g. in the webcam loop). What must "
             "it return?", options=("x unchanged", "x mirrored with probability 1/2", "x mirrored"), answer="a",
             why="outside training a random layer must be the identity, or the same face gets different answers; Keras's "
                 "own RandomFlip does transform on such a call, which is why the course's block defaults to training=False."),
    Question("A remedy gains 0.010 validation macro-F1 over no remedy; the noise margin is 0.015. What does the lesson's "
             "rule choose?", options=("the remedy", "no remedy"), answer="b",
             why="a gain inside the noise is no evidence: the rule asks for more than the margin."),
    Question("Two Keras random layers in one block get the same seed. What happens?",
             options=("they draw the same random numbers, so their transforms go together",
                      "Keras raises an error", "nothing: each layer has its own random state anyway"), answer="a",
             why="the same seed gives the same draws: a flip and a brightness layer seeded alike flip exactly the faces "
                 "they darken; give each layer its own seed."),
])
