"""Photos and webcam-like frames made from them, for demos and tests (no camera needed).

:func:`sample_photos` returns the two face photos that ship with installed packages (matplotlib's
``grace_hopper.jpg``, scikit-image's astronaut); :func:`frame_with_face` and
:func:`jittered_frames` turn one into webcam-sized frames with small shifts, lighting changes and
sensor noise, the stand-in for a camera in lessons, tests and benchmarks.
"""

from __future__ import annotations

import cv2
import numpy as np

from .faces import Box, FaceDetector, to_bgr
from .frame_sources import read_image

def sample_photos() -> dict[str, np.ndarray]:
    """The two face photos that ship with the installed packages, as BGR arrays (not copied anywhere).

    ``grace_hopper`` from matplotlib's sample data and ``astronaut`` (Eileen Collins) from scikit-image.
    """
    import matplotlib.cbook

    photos = {"grace_hopper": read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))}
    try:
        import skimage.data

        photos["astronaut"] = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
    except ImportError:  # scikit-image is optional
        pass
    return photos


_PHOTO_FACES: dict[bytes, Box] = {}


def _photo_face(photo: np.ndarray) -> Box:
    """The largest face of a photo, found at full resolution (remembered per photo)."""
    import hashlib

    key = hashlib.sha1(np.ascontiguousarray(photo).tobytes()).digest() + str(photo.shape).encode()
    if key not in _PHOTO_FACES:
        boxes = FaceDetector(detect_size=max(photo.shape[:2])).detect(photo)
        if not boxes:
            raise ValueError("No face found in the photo")
        _PHOTO_FACES[key] = boxes[0]
    return _PHOTO_FACES[key]


def frame_with_face(photo: np.ndarray, size: tuple[int, int] = (640, 480), face_width: int = 150) -> np.ndarray:
    """A webcam-like ``size`` (width, height) BGR frame from a photo: its face ``face_width`` pixels wide, centred.

    The face is found in the full-resolution photo; the photo is scaled and shifted so that the face
    sits where a webcam user's face does (centre, a little above the middle); grey outside the photo.
    """
    x, y, w, h = _photo_face(photo)
    s = face_width / w
    width, height = size
    m = np.float32([[s, 0, width / 2 - s * (x + w / 2)], [0, s, 0.45 * height - s * (y + h / 2)]])
    return cv2.warpAffine(to_bgr(photo), m, (width, height), flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(90, 90, 90))


def jittered_frames(photo: np.ndarray, n: int = 40, size: tuple[int, int] = (640, 480), seed: int = 0,
                    shift: float = 6.0, noise: float = 8.0, light: float = 0.15, face_width: int | None = None) -> list[np.ndarray]:
    """``n`` webcam-like frames made from one photo: small shifts, brightness changes and sensor noise.

    The face is ``face_width`` pixels wide (default: 150 * frame width / 640, a face about an arm's
    length from a laptop camera).
    """
    rng = np.random.default_rng(seed)
    face_width = face_width or max(8, round(150 * size[0] / 640))
    base = frame_with_face(photo, size, face_width).astype(np.float32)
    frames = []
    for _ in range(n):
        m = np.float32([[1, 0, rng.normal(0, shift)], [0, 1, rng.normal(0, shift)]])
        moved = cv2.warpAffine(base, m, size, borderMode=cv2.BORDER_REFLECT)
        moved = moved * (1 + rng.uniform(-light, light)) + rng.normal(0, noise, moved.shape)
        frames.append(np.clip(moved, 0, 255).astype(np.uint8))
    return frames
