"""Lesson 07 · Webcam inference: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import exercise


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
