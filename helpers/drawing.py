"""What the live pipeline found, and drawing it: per-face results, boxes, labels, probability bars, FPS.

:class:`FaceResult` (one face: box, smoothed and raw probabilities, track) and :class:`FrameResult`
(one frame's faces and stage timings) are what :class:`helpers.inference.EmotionPipeline` returns;
:func:`draw_results` turns them into an annotated BGR frame. OpenCV and NumPy only.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np

from .course import CLASS_NAMES, NUM_CLASSES
from .faces import Box, to_bgr

#: Short class names for the probability bars, in CLASS_NAMES order.
SHORT_NAMES = tuple(n[:3] for n in CLASS_NAMES)
#: One BGR colour per class (for boxes and bars).
CLASS_COLOURS = ((40, 40, 220), (40, 140, 40), (160, 60, 160), (40, 200, 240), (200, 120, 40), (240, 200, 40), (170, 170, 170))


@dataclass
class FaceResult:
    """One face in one frame: box, smoothed and raw probabilities, and its track."""

    box: Box
    probs: np.ndarray
    raw_probs: np.ndarray
    track_id: int = 0

    @property
    def label_index(self) -> int:
        return int(np.argmax(self.probs))

    @property
    def label(self) -> str:
        return CLASS_NAMES[self.label_index]

    @property
    def confidence(self) -> float:
        return float(np.max(self.probs))


@dataclass
class FrameResult:
    """What the pipeline found in one frame, and how long each stage took (milliseconds)."""

    faces: list[FaceResult]
    timings: dict[str, float] = field(default_factory=dict)
    fps: float | None = None

    def __len__(self) -> int:
        return len(self.faces)


def draw_results(frame: np.ndarray, faces: Sequence[FaceResult], fps: float | None = None, bars: bool = True) -> np.ndarray:
    """A BGR copy of ``frame`` with a box, label, confidence and probability bars per face, and FPS."""
    out = to_bgr(frame)
    h, w = out.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    unit = max(0.35, min(h, w) / 900)  # font scale that grows with the frame
    thick = max(1, int(round(unit * 2)))
    for face in faces:
        x, y, bw, bh = face.box
        colour = CLASS_COLOURS[face.label_index]
        cv2.rectangle(out, (x, y), (x + bw, y + bh), colour, thick)
        text = f"{face.label} {face.confidence:.0%}"
        (tw, th), base = cv2.getTextSize(text, font, unit, thick)
        ty = y - 4 if y - th - base - 4 >= 0 else min(h - 1, y + bh + th + 4)
        cv2.rectangle(out, (x, ty - th - base), (x + tw + 4, ty + base // 2), colour, -1)
        ink = (0, 0, 0) if 0.114 * colour[0] + 0.587 * colour[1] + 0.299 * colour[2] > 150 else (255, 255, 255)
        cv2.putText(out, text, (x + 2, ty - base // 2), font, unit, ink, thick, cv2.LINE_AA)
        if bars:
            _draw_bars(out, face, unit)
    if fps is not None:
        cv2.putText(out, f"{fps:5.1f} FPS", (8, int(24 * unit / 0.6)), font, unit, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(out, f"{fps:5.1f} FPS", (8, int(24 * unit / 0.6)), font, unit, (0, 255, 0), thick, cv2.LINE_AA)
    return out


def _draw_bars(out: np.ndarray, face: FaceResult, unit: float) -> None:
    """Seven horizontal probability bars beside the box (right side if there is room, else left)."""
    h, w = out.shape[:2]
    x, y, bw, bh = face.box
    row = max(8, int(round(14 * unit / 0.6)))
    label_w, bar_w = int(3.2 * row), int(5 * row)
    panel_w, panel_h = label_w + bar_w + 6, row * NUM_CLASSES + 4
    px = x + bw + 4 if x + bw + 4 + panel_w <= w else max(0, x - panel_w - 4)
    py = min(max(0, y), max(0, h - panel_h))
    if panel_w > w or panel_h > h:
        return  # frame too small for the bars
    region = out[py : py + panel_h, px : px + panel_w]
    region[:] = (region * 0.4).astype(np.uint8)  # darken behind the chart
    fs = row / 24
    for k, p in enumerate(face.probs):
        top = py + 2 + k * row
        cv2.putText(out, SHORT_NAMES[k], (px + 2, top + row - 3), cv2.FONT_HERSHEY_SIMPLEX, fs, (255, 255, 255), 1, cv2.LINE_AA)
        length = int(round(float(p) * bar_w))
        if length > 0:
            cv2.rectangle(out, (px + label_w, top + 2), (px + label_w + length, top + row - 2), CLASS_COLOURS[k], -1)


class FPSMeter:
    """Frames per second over the last ``window`` frames."""

    def __init__(self, window: int = 30):
        self.times: deque[float] = deque(maxlen=window)

    def tick(self) -> float | None:
        """Record a frame; returns the current FPS (None until two frames were seen)."""
        self.times.append(time.perf_counter())
        return self.fps

    @property
    def fps(self) -> float | None:
        if len(self.times) < 2 or self.times[-1] <= self.times[0]:
            return None
        return (len(self.times) - 1) / (self.times[-1] - self.times[0])
