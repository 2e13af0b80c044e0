"""Lesson 07 · Webcam inference: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import exercise
from .quiz import Question, questions


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

    from ..faces import to_gray

    return cv2.resize(to_gray(_crop(frame, box, margin)), (48, 48))[:, :, None]  # not the training resize


def _wrong_swapped_xy(frame, box, margin):
    x, y, w, h = box
    return preprocess_face(frame, (y, x, h, w), margin)


def _wrong_unclipped(frame, box, margin):
    from ..data import to_model_input
    from ..faces import to_gray

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
    hint="widen the box by the margin on every side (margin times its width left and right, times its height "
         "above and below, rounded), keep the crop inside the frame (a negative index would wrap around), then"
         " make it gray and model input as the training loader does: uint8 48x48x1, 0-255.",
)
def preprocess_face(frame: np.ndarray, box: tuple, margin: float) -> np.ndarray:
    """A detected face as model input, like the training loader: crop with margin, gray, 48x48x1 uint8."""
    from ..faces import preprocess_face as reference

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
    hint="an exponential moving average: the first smoothed frame is the first frame itself; each later one "
         "mixes the new frame (weight alpha) with the previous SMOOTHED frame (weight 1 - alpha).",
)
def smooth_probabilities(probs: np.ndarray, alpha: float) -> np.ndarray:
    """Exponential moving average of per-frame probabilities (T, 7); s[0] = p[0]."""
    from ..inference import smooth_probabilities as reference

    return reference(probs, alpha)


def _equalise_cases() -> list[tuple]:
    rng = np.random.default_rng(70)
    face = np.clip(rng.normal(120, 45, (48, 48)), 0, 255).astype(np.uint8)
    dark = np.clip(rng.normal(40, 8, (48, 48)), 0, 255).astype(np.uint8)  # a dim, flat webcam face
    two = np.where(rng.random((48, 48)) < 0.3, 60, 90).astype(np.uint8)
    return [
        (face,),
        (dark,),
        (np.full((48, 48), 77, np.uint8),),  # hidden: a constant image (no contrast at all)
        (two,),  # hidden: two grey levels
        (np.array([[200]], np.uint8),),  # hidden: a 1x1 image
        (rng.integers(0, 256, (30, 20)).astype(np.uint8),),  # hidden: not square, every level used
    ]


def _exact_lut(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The equalisation look-up table in exact arithmetic, and where its value is exactly half-way
    between two integers (there OpenCV's single-precision rounding may go either way)."""
    hist = np.bincount(gray.ravel(), minlength=256).astype(np.int64)
    cdf = np.cumsum(hist)
    first = int(hist[np.flatnonzero(hist)[0]])
    if first == gray.size:
        return np.arange(256), np.zeros(256, bool)
    num, den = 2 * 255 * (cdf - first), gray.size - first
    return np.clip((num + den) // (2 * den), 0, 255), (num % den == 0) & ((num // den) % 2 == 1)


def _verify_equalised(args: tuple, got: Any) -> str | None:
    import cv2

    (gray,) = args
    if not isinstance(got, np.ndarray) or got.shape != gray.shape or got.dtype != np.uint8:
        shape = getattr(got, "shape", None)
        return (f"expected a uint8 array of shape {gray.shape}, got {type(got).__name__}"
                + (f" of shape {shape}, dtype {got.dtype}" if shape is not None else ""))
    expected = cv2.equalizeHist(gray)
    _, half = _exact_lut(gray)
    wrong = (got != expected) & ~(half[gray] & (np.abs(got.astype(np.int16) - expected) <= 1))
    if not wrong.any():
        return None
    i = tuple(int(v) for v in np.argwhere(wrong)[0])
    return (f"{int(wrong.sum())} of {gray.size} pixels differ from cv2.equalizeHist; the first at {i}: grey level "
            f"{int(gray[i])} should become {int(expected[i])}, yours is {int(got[i])}")


def _wrong_equalise(gray, subtract_first=True, rounding=np.round, special_case=True, bins="bincount", as_uint8=True):
    gray = np.asarray(gray)
    if bins == "bincount":
        hist = np.bincount(gray.ravel(), minlength=256)
    else:  # np.histogram's 256 bins span min..max, not the 256 grey levels
        hist = np.histogram(gray, bins=256)[0]
    cdf = np.cumsum(hist)
    first = cdf[np.flatnonzero(hist)[0]] if subtract_first else 0
    if special_case and first == gray.size:
        return gray.copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        lut = np.nan_to_num(rounding((cdf - first) * 255 / (gray.size - first)))
    lut = np.clip(lut, 0, 255)
    return lut.astype(np.uint8)[gray] if as_uint8 else lut[gray]


@exercise(
    cases=_equalise_cases,
    verify=_verify_equalised,
    wrong_answers=[
        lambda g: _wrong_equalise(g, subtract_first=False),  # the darkest level does not become 0
        lambda g: _wrong_equalise(g, rounding=np.floor),  # truncated instead of rounded
        lambda g: _wrong_equalise(g, special_case=False),  # a constant image: 0 / 0
        lambda g: _wrong_equalise(g, bins="histogram"),
        lambda g: _wrong_equalise(g, as_uint8=False),  # floats, not an image
    ],
    hint="count how many pixels have each of the 256 grey levels and add the counts up (the cumulative "
         "histogram); map each level so that the darkest level present becomes 0 and the brightest 255, "
         "in proportion to the pixels at or below it (not counting the darkest level's own), rounded. An image "
         "with one grey level stays as it is.",
)
def equalize_histogram(gray: np.ndarray) -> np.ndarray:
    """Histogram equalisation of a uint8 grayscale image (H, W), as ``cv2.equalizeHist``: uint8 (H, W)."""
    import cv2

    return cv2.equalizeHist(np.ascontiguousarray(gray, dtype=np.uint8))


def _alpha_cases() -> list[tuple]:
    return [
        (30.0, 2, 0.5, 0.9),  # the pipeline's default: 15 frames in half a second, the first may reuse old probabilities
        (30.0, 1, 0.5, 0.9),
        (12.0, 2, 0.125, 0.9),  # hidden: the face is not classified again in time: no smoothing possible
        (25.0, 1, 0.2, 0.5),  # hidden: half-way is enough
        (8.0, 1, 0.25, 0.9),  # hidden: exactly 2 frames
        (30.0, 3, 1.0, 0.95),  # hidden: classify every third frame
    ]


def _alpha(fps, classify_every, reaction_s, settle, rounding=np.floor, delay=True, per_classification=False,
           flip=False):
    frames = int(rounding(fps * reaction_s + 1e-9))
    if per_classification:  # as if the average moved only when the face is classified
        updates = frames // classify_every
    else:
        updates = frames - (classify_every - 1 if delay else 0)
    if updates < 1:
        return 1.0
    return float(1 - (settle if flip else 1 - settle) ** (1 / updates))


@exercise(
    cases=_alpha_cases,
    compare=lambda e, g: isinstance(g, (int, float, np.floating)) and abs(float(g) - e) <= 1e-6,
    wrong_answers=[
        lambda f, c, r, s: _alpha(f, c, r, s, rounding=np.ceil),  # a frame that arrives too late counted
        lambda f, c, r, s: _alpha(f, c, r, s, delay=False),  # as if the face were classified on the very frame
        lambda f, c, r, s: _alpha(f, c, r, s, per_classification=True),  # the average moves on every frame
        lambda f, c, r, s: _alpha(f, c, r, s, flip=True),  # the old value weighs settle, not 1 - settle
        lambda f, c, r, s: 1 / max(1, int(f * r)),  # the 1/alpha rule of thumb
        lambda f, c, r, s: 0.3,  # the default, whatever the camera
    ],
    hint="count the whole frames that arrive within the reaction time. The average is updated on every frame, but "
         "with the new expression only from the first frame on which the face is classified again, which in the "
         "worst case comes classify_every - 1 frames after the change. After k such updates the old value still "
         "weighs (1 - alpha) to the power k: the smallest alpha that brings it down to 1 - settle smooths most and "
         "still reacts in time. No such update in time: no smoothing can meet the deadline, alpha 1.",
)
def choose_alpha(fps: float, classify_every: int, reaction_s: float, settle: float) -> float:
    """The most smoothing (smallest EMA ``alpha``) whose smoothed probabilities reach ``settle`` of a sudden
    change within ``reaction_s`` seconds at ``fps`` frames a second, in the worst case, when a face is classified on
    every ``classify_every``-th frame and keeps its last probabilities in between (the average moves every frame)."""
    return _alpha(fps, classify_every, reaction_s, settle)


questions("07", [
    Question("A webcam face is converted to float32 and divided by 255 before `model(x)`, and the model starts with "
             "`Rescaling(1/255)`. What does the network inside see?",
             options=("the same pixels as in training", "an almost black face: every pixel below 0.004 of white",
                      "an error: the model refuses floats"),
             answer="b",
             why="the rescaling is a layer inside the model; dividing outside as well divides twice, and nothing "
                 "raises an error: the model just sees a nearly black face and its answers go wrong silently."),
    Question("The smoothed probabilities follow `s[t] = alpha * p[t] + (1 - alpha) * s[t-1]` with `alpha = 0.5`. After a "
             "sudden change of expression, how many classified frames until the new expression has at least 90 % "
             "of the weight?",
             answer=4, tolerance=0.1,
             why="the old value weighs (1 - alpha)^k = 0.5^k after k updates: 0.125 after 3, 0.0625 after 4, so 4 "
                 "frames are the first at or below 0.1."),
    Question("A 48x48 face uses only two grey levels, 60 and 90, each on half of its pixels. What does histogram "
             "equalisation (`cv2.equalizeHist`) make of them?",
             options=("60 and 90: already equalised", "0 and 255", "0 and 128", "128 and 255"),
             answer="b",
             why="the darkest level present becomes 0 and the brightest 255; the levels in between follow the "
                 "cumulative histogram. With only two levels there is nothing in between."),
    Question("Why does the live pipeline call `model(x, training=False)` on the faces of a frame instead of "
             "`model.predict(x)`?",
             options=("`predict` gives different probabilities",
                      "`predict` sets up a data pipeline and callbacks on every call, which costs more than the "
                      "network itself for a handful of faces",
                      "`predict` cannot take a batch of several faces"),
             answer="b",
             why="both give the same numbers; the lesson timed them: for a few faces the direct call is much faster."),
])
