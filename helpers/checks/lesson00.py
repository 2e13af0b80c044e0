"""Lesson 00 · Welcome and setup: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .core import exercise
from .quiz import Question, questions


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
    hint="sort each row's probabilities from the largest to the smallest, keeping equal probabilities in class"
         " order (a stable sort: the lower class index first), take the first k and pair each class's name "
         "with its probability.",
)
def top_k_classes(probs: np.ndarray, k: int) -> list[list[tuple[str, float]]]:
    """For each image (row of ``probs``, shape (N, 7)), its ``k`` most probable classes as
    ``(class name, probability)`` pairs, most probable first (ties: lower class index first)."""
    probs = np.asarray(probs)
    return [[(_class_name(c), float(row[c])) for c in np.argsort(-row, kind="stable")[:k]] for row in probs]


def _class_name(index: int) -> str:
    from ..course import CLASS_NAMES

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
    from ..data import to_model_input

    return to_model_input(_luma(photo))  # no crop: the face is squashed


def _wrong_corner(photo):
    from ..data import to_model_input

    return to_model_input(_luma(_square(photo, "corner")))


def _wrong_channel_mean(photo):
    from ..data import to_model_input

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
    hint="cut the largest square out of the middle of the photo (as much removed on the left as on the right, "
         "above as below), make it gray, then let the course's helpers.data.to_model_input resize it: uint8 "
         "48x48x1, 0-255 (do not rescale to 0-1: the model does that itself).",
)
def photo_to_model_input(photo: np.ndarray) -> np.ndarray:
    """A photo (RGB ``(H, W, 3)`` or gray ``(H, W)``, uint8) as the course's model input: its centre
    square, in grayscale, resized to ``(48, 48, 1)`` uint8 pixels 0-255."""
    from ..data import to_model_input

    return to_model_input(_luma(_square(np.asarray(photo))))


questions("00", [
    Question("The reference model is given a batch of 5 faces, `model.predict(faces)`. What is the shape of what it returns?",
             options=("(5, 7)", "(5, 48, 48, 1)", "(7,)", "(5, 1)"), answer="a",
             why="one row per face, one probability per class in CLASS_NAMES order: 5 rows of 7 probabilities, each row summing to 1."),
    Question("A photo 640 pixels wide and 480 pixels high goes through `photo_to_model_input`. How wide, in pixels, is the "
             "square it cuts out before resizing to 48x48?", answer=480, tolerance=0.5,
             why="the centre square's side is min(height, width) = 480: 80 pixels are cut off on the left and 80 on the right."),
    Question("A face is loaded as `uint8` pixels 0-255. What should you give the course's model?",
             options=("the pixels divided by 255 (0-1)", "the raw pixels 0-255, shape (N, 48, 48, 1)",
                      "the pixels minus their mean"), answer="b",
             why="every model in the course rescales inside itself (a Rescaling layer): given 0-1 values it would see "
                 "an almost black face."),
    Question("The setup cell shows a red OFFLINE DEMO DATA box. What do this notebook's accuracies tell you about real faces?",
             options=("the same as FER2013's", "nothing: the code runs, but the faces are drawn cartoons",
                      "they are a few points too optimistic"), answer="b",
             why="the offline faces are procedurally drawn; they prove the pipeline runs, not how well it recognises people."),
    Question("Which mode fits a class on laptops, where every training cell should take a few minutes and still learn?",
             options=("quick", "workshop", "full"), answer="b",
             why="quick mode only shows that the code runs (tiny subsets, numbers mean little); full mode takes long on a CPU."),
])
