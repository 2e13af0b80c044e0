"""The course's built-in OFFLINE DEMO DATA: procedurally drawn 48x48 faces in 7 expressions.

Used only when no FER2013 is available (a fresh clone, CI without the dataset), so that every
notebook still runs end to end. These are cartoon faces, not FER2013: every notebook shows a
banner when it runs on them, and :class:`FER2013Data.source` is ``"offline"``.

Each face has an identity (head shape, skin tone, hair, eye spacing), a pose (rotation, shift,
scale), lighting (a gradient), blur and noise, and an expression drawn from the facial action
units that define it: mouth curve and opening, brow angle and height, eye opening, a wrinkled
nose for disgust. Classes follow FER2013's training proportions, so disgust is rare.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .course import CLASS_NAMES, IMAGE_SIZE, SEED
from .splits import FER2013Data, Split

#: FER2013 Training-split proportions (angry ... neutral).
FER_PROPORTIONS = np.array([3995, 436, 4097, 7215, 4830, 3171, 4965], dtype=float) / 28709

# Expression parameters per class: (mouth_curve, mouth_open, mouth_width, brow_angle, brow_raise,
# eye_open, nose_wrinkle). Curve > 0 smiles; brow_angle > 0 lowers the inner ends (anger).
_EXPRESSIONS = {
    "angry": (-0.15, 0.10, 0.85, 0.9, -0.5, 0.6, 0.0),
    "disgust": (-0.35, 0.25, 0.80, 0.5, -0.3, 0.5, 1.0),
    "fear": (-0.20, 0.55, 1.10, -0.6, 0.8, 1.3, 0.0),
    "happy": (0.80, 0.35, 1.15, 0.0, 0.1, 0.75, 0.0),
    "sad": (-0.75, 0.0, 0.85, -0.8, 0.2, 0.7, 0.0),
    "surprise": (0.0, 1.0, 0.60, -0.1, 1.0, 1.4, 0.0),
    "neutral": (0.0, 0.0, 0.90, 0.0, 0.0, 1.0, 0.0),
}
_S = 4  # supersampling factor: draw at 192x192, then shrink


def draw_face(label: int, rng: np.random.Generator) -> np.ndarray:
    """Draw one face of class ``label`` (index into CLASS_NAMES) as a (48, 48) uint8 image."""
    import cv2

    size = IMAGE_SIZE * _S
    curve, opening, width, brow_angle, brow_raise, eye_open, wrinkle = (
        np.array(_EXPRESSIONS[CLASS_NAMES[label]]) + rng.normal(0, 0.12, 7)  # intra-class variation
    )
    bg = rng.uniform(20, 200)
    img = np.full((size, size), bg, np.float32)
    cx, cy = size / 2 + rng.normal(0, 4 * _S), size / 2 + rng.normal(2 * _S, 3 * _S)
    head_w, head_h = rng.uniform(15, 19) * _S, rng.uniform(19, 23) * _S
    skin = rng.uniform(90, 230)
    dark = max(skin - rng.uniform(70, 120), 5)
    # hair then head
    cv2.ellipse(img, (int(cx), int(cy - 4 * _S)), (int(head_w * 1.08), int(head_h * 1.02)), 0, 180, 360, dark * 0.6, -1)
    cv2.ellipse(img, (int(cx), int(cy)), (int(head_w), int(head_h)), 0, 0, 360, skin, -1)
    eye_dx, eye_y = rng.uniform(6.5, 8.5) * _S, cy - rng.uniform(3, 5) * _S
    # eyes: white, iris, lids
    for side in (-1, 1):
        ex = cx + side * eye_dx
        eh = max(0.6, 2.2 * eye_open) * _S
        cv2.ellipse(img, (int(ex), int(eye_y)), (int(3.2 * _S), int(eh)), 0, 0, 360, min(skin + 25, 255), -1)
        cv2.circle(img, (int(ex + rng.normal(0, 0.4) * _S), int(eye_y)), int(min(1.6 * _S, eh)), dark * 0.4, -1)
        # eyebrows: inner end lowered by brow_angle, the whole brow raised by brow_raise
        by = eye_y - (4.5 + 2.0 * brow_raise) * _S
        inner = (cx + side * 2.5 * _S, by + 1.8 * brow_angle * _S)
        outer = (cx + side * (eye_dx + 4 * _S), by - 0.6 * brow_angle * _S)
        cv2.line(img, tuple(map(int, inner)), tuple(map(int, outer)), dark * 0.5, int(1.4 * _S), cv2.LINE_AA)
    # nose, with wrinkles for disgust
    ny = cy + 3 * _S
    cv2.line(img, (int(cx), int(eye_y + 2 * _S)), (int(cx - 1.5 * _S), int(ny)), skin * 0.7, int(0.8 * _S))
    cv2.line(img, (int(cx - 1.5 * _S), int(ny)), (int(cx + 1.5 * _S), int(ny)), skin * 0.7, int(0.8 * _S))
    if wrinkle > 0.5:
        for k in (-1, 1):
            for j in range(2):
                x0 = cx + k * (1.5 + j) * _S
                cv2.line(img, (int(x0), int(eye_y + 1 * _S)), (int(x0 + k * 2 * _S), int(eye_y + 3.5 * _S)),
                         skin * 0.65, int(0.6 * _S), cv2.LINE_AA)
    # mouth: a parabola (curve) with an opening below it
    my = cy + 9 * _S + rng.normal(0, 0.5) * _S
    half = width * 5.5 * _S
    xs = np.linspace(-half, half, 24)
    asym = 0.35 * curve if CLASS_NAMES[label] == "disgust" else 0.0
    # image y grows downwards: curve > 0 puts the centre below the corners (a smile)
    upper = my + curve * 3.0 * _S * (1 - (xs / half) ** 2) + asym * xs / half * 3 * _S
    pts_top = np.stack([cx + xs, upper], 1)
    if opening > 0.15:
        lower = upper + opening * 4.5 * _S * (1 - (xs / half) ** 2)
        poly = np.concatenate([pts_top, np.stack([cx + xs, lower], 1)[::-1]]).astype(np.int32)
        cv2.fillPoly(img, [poly], dark * 0.3, cv2.LINE_AA)
        if curve > 0.4:  # teeth in a smile
            cv2.polylines(img, [pts_top.astype(np.int32)], False, 235, int(1.0 * _S), cv2.LINE_AA)
    else:
        cv2.polylines(img, [pts_top.astype(np.int32)], False, dark * 0.4, int(1.2 * _S), cv2.LINE_AA)
    # pose: rotation, scale, shift
    m = cv2.getRotationMatrix2D((size / 2, size / 2), rng.normal(0, 8), rng.uniform(0.9, 1.15))
    m[:, 2] += rng.normal(0, 2 * _S, 2)
    img = cv2.warpAffine(img, m, (size, size), borderMode=cv2.BORDER_REFLECT)
    # lighting gradient, blur, noise
    yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    img = img * (1 + rng.uniform(0, 0.5) * (np.cos(angle) * xx + np.sin(angle) * yy)) * rng.uniform(0.75, 1.2)
    img = cv2.resize(img, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.9))
    img += rng.normal(0, rng.uniform(2, 9), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_faces(n: int, seed: int = SEED, proportions: np.ndarray = FER_PROPORTIONS) -> tuple[np.ndarray, np.ndarray]:
    """``n`` offline faces: uint8 images ``(n, 48, 48, 1)`` and labels drawn with ``proportions``."""
    rng = np.random.default_rng(seed)
    counts = np.floor(np.asarray(proportions) / np.sum(proportions) * n).astype(int)
    counts[np.argmax(counts)] += n - counts.sum()
    labels = np.repeat(np.arange(len(CLASS_NAMES)), counts)
    rng.shuffle(labels)
    images = np.stack([draw_face(int(y), rng) for y in labels])[..., None]
    return images, labels.astype(np.int64)


@lru_cache(maxsize=1)
def _offline_arrays(n_train: int, n_test: int, seed: int):
    return make_faces(n_train, seed), make_faces(n_test, seed + 1)


def offline_dataset(n_train: int = 4200, n_test: int = 700, seed: int = SEED):
    """The offline demo data as a :class:`~helpers.splits.FER2013Data` with ``train`` and ``test``."""
    (xtr, ytr), (xte, yte) = _offline_arrays(n_train, n_test, seed)
    return FER2013Data(
        {"train": Split("train", xtr, ytr), "test": Split("test", xte, yte)},
        source="offline",
        location="built-in procedurally drawn faces (OFFLINE DEMO DATA, not FER2013)",
    )
