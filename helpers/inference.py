"""Live expression recognition: detect faces, preprocess them like the training loader, classify, smooth, draw.

The pipeline, one stage per function (lesson 07)::

    frame (BGR / gray / BGRA, any size)
      -> FaceDetector.detect      Haar cascade on a downscaled grayscale copy  -> boxes
         (TemplateTracker         follows the faces between two full detections)
      -> preprocess_face          crop with a margin, grayscale, data.to_model_input -> uint8 48x48x1
      -> Classifier               all faces of the frame in ONE batch, direct model call -> 7 probs each
      -> FaceTracker              match faces across frames (IoU / centre), smooth probs (EMA)
      -> draw_results             box, label, confidence, probability bars, FPS

:class:`EmotionPipeline` runs all of it and times every stage. Frames come from one interface,
:class:`FrameSource`: the local webcam (:class:`LocalCamera`), Colab's browser camera
(:class:`ColabCamera`, JavaScript in :data:`CAPTURE_JS`), a video file, an image file or a folder
of images (:func:`open_source` picks one from a string such as ``"0"`` or ``"photo.jpg"``).

Preprocessing parity: the face crop is turned into model input by the same code as the training
loader (:func:`helpers.data.decode_face`): the same grayscale conversion (Pillow's, with alpha
composited on white) and the same resize (:func:`helpers.data.to_model_input`). The model gets raw
0-255 pixels and does its own rescaling (course contract).

OpenCV and NumPy are imported here; Keras/TensorFlow only inside the functions that need them.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from .contract import model_input
from .course import CLASS_NAMES, IMAGE_SIZE, NUM_CLASSES
from .data import IMAGE_SUFFIXES, to_model_input

Box = tuple[int, int, int, int]  # x, y, width, height in frame pixels

CASCADE_FILE = "haarcascade_frontalface_alt2.xml"  # as accurate as "default" here, about 2x faster
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
#: Short class names for the probability bars, in CLASS_NAMES order.
SHORT_NAMES = tuple(n[:3] for n in CLASS_NAMES)
#: One BGR colour per class (for boxes and bars).
CLASS_COLOURS = ((40, 40, 220), (40, 140, 40), (160, 60, 160), (40, 200, 240), (200, 120, 40), (240, 200, 40), (170, 170, 170))


class CameraUnavailableError(RuntimeError):
    """No camera could be opened; the message says why and what to use instead."""


# =========================================================================== frames


def as_uint8(frame: np.ndarray) -> np.ndarray:
    """Check a frame's shape and return it as uint8 (floats in 0..1 are scaled to 0..255).

    Accepted: ``(H, W)`` grayscale, ``(H, W, 1)``, ``(H, W, 3)`` BGR, ``(H, W, 4)`` BGRA.
    """
    frame = np.asarray(frame)
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4)):
        raise ValueError(
            f"A frame must be (H, W) grayscale, (H, W, 3) BGR or (H, W, 4) BGRA; got shape {frame.shape}"
        )
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"Empty frame (shape {frame.shape})")
    if frame.dtype == np.uint8:
        return frame
    if frame.dtype == bool:
        return frame.astype(np.uint8) * 255
    if np.issubdtype(frame.dtype, np.floating) and frame.size and float(np.nanmax(frame)) <= 1.0:
        frame = frame * 255.0
    return np.clip(np.nan_to_num(frame), 0, 255).astype(np.uint8)


#: libpng's fixed-point RGB -> gray weights (0.299, 0.587, 0.114 in 1/32768), as OpenCV uses them
#: when the training loader reads a colour PNG straight to grayscale.
_PNG_GRAY_WEIGHTS = np.array([3737, 19234, 9797], np.uint32)  # B, G, R


def to_gray(image: np.ndarray) -> np.ndarray:
    """Grayscale uint8 ``(H, W)`` from a gray, BGR or BGRA image, exactly as the training loader does it.

    :func:`helpers.data.decode_face` reads a colour PNG with OpenCV straight to grayscale (libpng's
    0.299/0.587/0.114 weights, truncated) and sends images with an alpha channel through Pillow
    (composited onto white, ITU-R 601 luma). This applies the same arithmetic to an OpenCV array,
    so a face gives the same pixels whether it comes from a camera or from a file: the tests check
    it bit for bit.
    """
    image = as_uint8(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return np.ascontiguousarray(image)
    if image.shape[2] == 4:
        from PIL import Image

        rgba = Image.fromarray(np.ascontiguousarray(image[:, :, [2, 1, 0, 3]]), "RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("L"))
    return ((image.astype(np.uint32) @ _PNG_GRAY_WEIGHTS) >> 15).astype(np.uint8)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """A 3-channel BGR uint8 copy of a gray, BGR or BGRA image (for drawing and video files)."""
    image = as_uint8(image)
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image.copy()


def expand_box(box: Box, margin: float, frame_shape: Sequence[int]) -> Box:
    """Grow ``box`` by ``round(margin * w)`` / ``round(margin * h)`` pixels per side, clipped to the frame."""
    x, y, w, h = (int(v) for v in box)
    dx, dy = int(round(margin * w)), int(round(margin * h))
    x0, y0 = max(0, x - dx), max(0, y - dy)
    x1, y1 = min(int(frame_shape[1]), x + w + dx), min(int(frame_shape[0]), y + h + dy)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"Box {box} lies outside the frame of shape {tuple(frame_shape)}")
    return x0, y0, x1 - x0, y1 - y0


def crop_face(frame: np.ndarray, box: Box, margin: float = 0.1) -> np.ndarray:
    """The face region of ``frame`` (any channels), with a margin, clipped at the frame border."""
    x, y, w, h = expand_box(box, margin, frame.shape)
    return frame[y : y + h, x : x + w]


def preprocess_face(frame: np.ndarray, box: Box, margin: float = 0.1) -> np.ndarray:
    """Model input for one face: crop with margin, grayscale, then exactly ``data.to_model_input``.

    Returns uint8 ``(48, 48, 1)`` in 0..255 (the model rescales itself): the very array the
    training loader would produce from the same crop saved as an image file.
    """
    return to_model_input(to_gray(crop_face(as_uint8(frame), box, margin)))


def preprocess_faces(frame: np.ndarray, boxes: Sequence[Box], margin: float = 0.1) -> np.ndarray:
    """All faces of a frame as one uint8 batch ``(n, 48, 48, 1)`` (``n`` may be 0)."""
    if len(boxes) == 0:
        return np.zeros((0, IMAGE_SIZE, IMAGE_SIZE, 1), np.uint8)
    return np.stack([preprocess_face(frame, b, margin) for b in boxes])


# =========================================================================== detection


def cascade_path(name: str = CASCADE_FILE) -> Path:
    """Where OpenCV's bundled Haar cascade ``name`` lives (``cv2.data.haarcascades``)."""
    folder = getattr(getattr(cv2, "data", None), "haarcascades", None)
    if folder is None:
        raise RuntimeError(
            f"This OpenCV ({cv2.__version__}) ships no Haar cascades (no cv2.data.haarcascades). "
            "The course needs opencv-python-headless 4.x: pip install 'opencv-python-headless>=4.8,<5'"
        )
    return Path(folder) / name


def load_cascade(path: str | os.PathLike | None = None) -> "cv2.CascadeClassifier":
    """Load a Haar cascade (default: OpenCV's frontal-face cascade) and check that it really loaded.

    OpenCV itself only fails later, with ``(-215:Assertion failed) !empty()``; this fails at once
    with the path and the OpenCV version.
    """
    path = Path(path) if path is not None else cascade_path()
    if not hasattr(cv2, "CascadeClassifier"):
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no CascadeClassifier (removed in OpenCV 5). "
            "Install opencv-python-headless 4.x: pip install 'opencv-python-headless>=4.8,<5'"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"Haar cascade not found: {path} (OpenCV {cv2.__version__}). Build the path from "
            f"cv2.data.haarcascades (here {getattr(getattr(cv2, 'data', None), 'haarcascades', '?')}) "
            "and check that opencv-python-headless 4.x is installed."
        )
    try:
        classifier = cv2.CascadeClassifier(str(path))
    except (cv2.error, SystemError) as exc:  # OpenCV raises while parsing a broken XML
        raise RuntimeError(
            f"Haar cascade at {path} could not be parsed (OpenCV {cv2.__version__}): {str(exc).strip()[:200]}. "
            "Use the cascade files in cv2.data.haarcascades."
        ) from None
    if classifier.empty():
        raise RuntimeError(
            f"Haar cascade at {path} could not be loaded (classifier.empty() is True, OpenCV "
            f"{cv2.__version__}): the file is not a valid cascade XML. Use the one in cv2.data.haarcascades."
        )
    return classifier


class FaceDetector:
    """Frontal-face detection with OpenCV's Haar cascade on a downscaled, equalised grayscale frame.

    Args:
        cascade: path of a cascade XML (default: OpenCV's ``haarcascade_frontalface_alt2.xml``,
            which finds the same faces as ``..._default.xml`` on the course photos in half the time).
        detect_size: the frame is shrunk so that its longer side is at most this many pixels
            before detection (a speed knob; a 640x480 webcam frame is searched as it is: shrinking
            it blurs small faces below what the cascade recognises).
        scale_factor, min_neighbors: ``detectMultiScale`` settings (higher = faster / stricter;
            1.2 and 3 find 40-pixel faces as well as 1.1 and 4 at 60 % of the cost).
        min_size: smallest face, in pixels of the downscaled frame (the cascade's window is 20):
            with the defaults, 32 pixels in a 640x480 frame, so that a face 40 pixels wide (someone
            sitting a few metres from a laptop camera) is found; the cost grows as it shrinks.
        small_face_max: in :meth:`search`, faces up to this many pixels wide are searched at full
            detection resolution (the costly part), larger ones on a copy shrunk to ``coarse_size``.
        coarse_size: longer side of that shrunk copy (240: a face is found there reliably from
            about 40 pixels of the copy, about 100 pixels of a 640x480 frame).
        bands: :meth:`search` scans the small faces in one of this many horizontal bands per call.

    :meth:`detect` searches the whole frame at every size at once; the live pipeline calls the
    cheaper :meth:`search` instead.
    """

    def __init__(
        self,
        cascade: str | os.PathLike | None = None,
        detect_size: int = 640,
        scale_factor: float = 1.2,
        min_neighbors: int = 3,
        min_size: int = 32,
        small_face_max: int = 128,
        coarse_size: int = 240,
        bands: int = 4,
    ):
        self.classifier = load_cascade(cascade)
        self.detect_size = int(detect_size)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_size = max(int(min_size), 1)
        self.small_face_max = max(int(small_face_max), self.min_size)
        self.coarse_size = int(coarse_size)
        self.bands = max(1, int(bands))
        self._small: np.ndarray | None = None  # reused buffers
        self._gray: np.ndarray | None = None

    def detection_image(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """The downscaled, equalised grayscale copy the cascade scans, and its scale factor."""
        h, w = frame.shape[:2]
        scale = min(1.0, self.detect_size / max(h, w))
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        if frame.ndim == 3 and frame.shape[2] == 1:
            frame = frame[:, :, 0]
        if scale < 1.0:
            shape = (size[1], size[0]) + frame.shape[2:]
            if self._small is None or self._small.shape != shape:
                self._small = np.empty(shape, np.uint8)
            frame = cv2.resize(frame, size, dst=self._small, interpolation=cv2.INTER_AREA)
        if frame.ndim == 3:
            code = cv2.COLOR_BGRA2GRAY if frame.shape[2] == 4 else cv2.COLOR_BGR2GRAY
            if self._gray is None or self._gray.shape != frame.shape[:2]:
                self._gray = np.empty(frame.shape[:2], np.uint8)
            frame = cv2.cvtColor(frame, code, dst=self._gray)
        return cv2.equalizeHist(frame), scale

    def detect(self, frame: np.ndarray) -> list[Box]:
        """Face boxes ``(x, y, w, h)`` in the frame's own pixels, largest first; ``[]`` if none."""
        frame = as_uint8(frame)
        small, scale = self.detection_image(frame)
        if min(small.shape) < max(self.min_size, 20):
            return []
        found = self.classifier.detectMultiScale(
            small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_size, self.min_size),
        )
        boxes = []
        for x, y, w, h in (found if len(found) else []):
            box = (int(round(x / scale)), int(round(y / scale)), int(round(w / scale)), int(round(h / scale)))
            boxes.append(box)
        return sorted(boxes, key=lambda b: -b[2] * b[3])

    __call__ = detect

    def _scan(self, image: np.ndarray, min_size: int, max_size: int | None = None, neighbours: int | None = None) -> list[Box]:
        """``detectMultiScale`` on ``image`` with this detector's settings; boxes in ``image`` pixels."""
        min_size = max(min_size, 20)
        if min(image.shape[:2]) < min_size or (max_size is not None and max_size < min_size):
            return []
        sizes = {"maxSize": (max_size, max_size)} if max_size is not None else {}
        found = self.classifier.detectMultiScale(image, scaleFactor=self.scale_factor, minSize=(min_size, min_size),
                                                 minNeighbors=self.min_neighbors if neighbours is None else neighbours, **sizes)
        return [tuple(int(v) for v in b) for b in (found if len(found) else [])]

    def search(self, frame: np.ndarray, around: Sequence[Box] = (), band: int | None = None) -> list[Box]:
        """The live pipeline's cheaper search: a few parts of :meth:`detect`'s work, chosen per call.

        * faces larger than about ``0.8 * small_face_max`` anywhere, on a copy shrunk to
          ``coarse_size``, with one neighbour more (``min_neighbors + 1``: fewer false faces
          at that low resolution);
        * near each box of ``around`` (faces being tracked, in frame pixels): the same face again,
          at a size from 0.6x to 1.6x its box, on its region alone, with one neighbour fewer
          (``min_neighbors - 1``: a face seen there a moment ago needs less evidence), so a
          tracked face is re-found at any size (the candidate that overlaps its box most), and one
          that left is dropped;
        * small faces (``min_size`` to ``small_face_max``) at full detection resolution only in
          horizontal band ``band`` of ``bands`` (overlapping, so that every face lies wholly in
          one of them): calling with band 0, 1, ... covers the whole frame in ``bands`` calls.
          ``None`` skips them.

        Returns boxes ``(x, y, w, h)`` in the frame's own pixels, largest first, overlaps merged.
        """
        frame = as_uint8(frame)
        image, scale = self.detection_image(frame)
        height = image.shape[0]
        found: list[Box] = []
        coarse = min(1.0, self.coarse_size / max(image.shape[:2]))
        small = cv2.resize(image, (max(1, round(image.shape[1] * coarse)), max(1, round(height * coarse))),
                           interpolation=cv2.INTER_AREA) if coarse < 1 else image
        min_coarse = max(self.min_size, round(0.8 * self.small_face_max)) if coarse < 1 else self.min_size
        found += [_scaled(b, 1 / coarse) for b in self._scan(small, round(min_coarse * coarse), None, self.min_neighbors + 1)]
        for box in around:
            try:
                x, y, w, h = expand_box(_scaled(box, scale), 0.5, image.shape)
            except ValueError:  # a box from a frame of another size
                continue
            side = _scaled(box, scale)[2]
            zoom = min(1.0, 48.0 / max(1, side))  # the face about 48 pixels wide: enough for the cascade
            region = image[y : y + h, x : x + w]
            if zoom < 1:
                region = cv2.resize(region, (max(1, round(w * zoom)), max(1, round(h * zoom))), interpolation=cv2.INTER_AREA)
            candidates = [(fx + x, fy + y, fw, fh) for fx, fy, fw, fh in (
                _scaled(b, 1 / zoom) for b in self._scan(region, round(0.6 * side * zoom), round(1.6 * side * zoom),
                                                        max(1, self.min_neighbors - 1)))]
            if candidates:  # the one most like the tracked box (the largest would make boxes grow from search to search)
                found.append(max(candidates, key=lambda b: iou(b, _scaled(box, scale))))
        if band is not None and coarse < 1:
            step = height / self.bands
            top = int(step * (band % self.bands))
            bottom = min(height, int(np.ceil(step * (band % self.bands + 1))) + self.small_face_max)
            found += [(x, y + top, w, h) for x, y, w, h in self._scan(image[top:bottom], self.min_size, self.small_face_max)]
        return _merged([_scaled(b, 1 / scale) for b in found])


def _scaled(box: Box, factor: float) -> Box:
    """``box`` with every coordinate multiplied by ``factor`` and rounded."""
    return tuple(int(round(v * factor)) for v in box)  # type: ignore[return-value]


def _merged(boxes: Sequence[Box], max_iou: float = 0.3) -> list[Box]:
    """Boxes largest first, each dropped that overlaps a kept one by more than ``max_iou`` (IoU) or
    lies mostly inside it (the same face found by two parts of :meth:`FaceDetector.search`)."""
    kept: list[Box] = []
    for b in sorted(boxes, key=lambda b: -b[2] * b[3]):
        if all(iou(b, k) <= max_iou and _inside(b, k) < 0.6 for k in kept):
            kept.append(b)
    return kept


def _inside(small: Box, big: Box) -> float:
    """The fraction of ``small``'s area that lies inside ``big``."""
    iw = min(small[0] + small[2], big[0] + big[2]) - max(small[0], big[0])
    ih = min(small[1] + small[3], big[1] + big[3]) - max(small[1], big[1])
    return max(0, iw) * max(0, ih) / max(1, small[2] * small[3])


class PhotoFaceDetector(FaceDetector):
    """Every face of a still photo, found at the photo's own resolution: a photo is not a webcam frame.

    The cascade scans the whole photo unshrunk, at every scale from ``min_size`` pixels (about 24:
    a face that small is found in a photo of any size) up to the photo's size. At full resolution
    the cascade also fires on textures (foliage, noise, fabric), so each candidate is confirmed by
    a second cascade (``haarcascade_frontalface_default.xml``) on the candidate's region alone;
    candidates it does not confirm are dropped.

    A 12-megapixel photo takes a few seconds (the time grows with the pixel count); for live video
    use :class:`FaceDetector`, which is tuned for speed.
    """

    CONFIRM_CASCADE = "haarcascade_frontalface_default.xml"

    def __init__(self, cascade: str | os.PathLike | None = None, min_size: int = 24, scale_factor: float = 1.1,
                 min_neighbors: int = 4, confirm: bool = True):
        super().__init__(cascade, detect_size=1 << 30, scale_factor=scale_factor, min_neighbors=min_neighbors,
                         min_size=min_size)
        self.confirmer = load_cascade(cascade_path(self.CONFIRM_CASCADE)) if confirm else None

    def _confirmed(self, gray: np.ndarray, box: Box) -> bool:
        """Whether the second cascade also finds a face on ``box`` (its region, scaled to ~60 px faces)."""
        x, y, w, h = expand_box(box, 0.4, gray.shape)
        region = gray[y : y + h, x : x + w]
        scale = 60.0 / box[2]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        region = cv2.resize(region, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        found = self.confirmer.detectMultiScale(region, scaleFactor=1.05, minNeighbors=2, minSize=(40, 40), maxSize=(90, 90))
        inner = (round((box[0] - x) * scale), round((box[1] - y) * scale), 60, round(box[3] * scale))
        return any(iou(inner, tuple(int(v) for v in f)) > 0.3 for f in (found if len(found) else []))

    def detect(self, frame: np.ndarray) -> list[Box]:
        """Face boxes ``(x, y, w, h)`` in the photo's pixels, largest first; ``[]`` if none."""
        boxes = super().detect(frame)
        if self.confirmer is None or not boxes:
            return boxes
        gray = to_gray(frame)
        return [b for b in boxes if self._confirmed(gray, b)]

    def search(self, frame: np.ndarray, around: Sequence[Box] = (), band: int | None = None) -> list[Box]:
        """A photo is always searched whole: the same as :meth:`detect`."""
        return self.detect(frame)


class TemplateTracker:
    """Follows faces between two full detections by template matching: ~20x cheaper than detecting.

    At each full detection :meth:`start` keeps a small grayscale picture of every face (``face_px``
    wide). On the next frames :meth:`update` looks for it near its last position (the box grown by
    ``search`` per side) with normalised cross-correlation, on the same small scale. When a face
    matches worse than ``min_score`` (it turned away, left, or was covered) it returns ``None``
    and the caller runs a full detection again.
    """

    def __init__(self, face_px: int = 32, search: float = 0.5, min_score: float = 0.6):
        self.face_px, self.search, self.min_score = int(face_px), float(search), float(min_score)
        self.boxes: list[Box] = []
        self._templates: list[np.ndarray] = []

    @staticmethod
    def _gray_region(frame: np.ndarray, box: Box, scale: float) -> np.ndarray:
        x, y, w, h = box
        region = frame[y : y + h, x : x + w]
        if region.ndim == 3 and region.shape[2] == 1:
            region = region[:, :, 0]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        region = cv2.resize(region, size, interpolation=cv2.INTER_AREA)
        if region.ndim == 3:
            region = cv2.cvtColor(region, cv2.COLOR_BGRA2GRAY if region.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
        return region

    def start(self, frame: np.ndarray, boxes: Sequence[Box]) -> None:
        """Remember what each detected face looks like."""
        frame = as_uint8(frame)
        self.boxes = [tuple(int(v) for v in b) for b in boxes]
        self._templates = [self._gray_region(frame, b, self.face_px / max(1, b[2])) for b in self.boxes]

    def update(self, frame: np.ndarray) -> list[Box] | None:
        """The faces' new boxes (same order and size), or ``None`` if any face was lost."""
        frame = as_uint8(frame)
        if not self.boxes:
            return None
        moved = []
        for box, template in zip(self.boxes, self._templates):
            scale = self.face_px / max(1, box[2])
            region = expand_box(box, self.search, frame.shape)
            area = self._gray_region(frame, region, scale)
            if area.shape[0] < template.shape[0] or area.shape[1] < template.shape[1]:
                return None
            scores = cv2.matchTemplate(area, template, cv2.TM_CCOEFF_NORMED)
            _, best, _, (bx, by) = cv2.minMaxLoc(scores)
            if not best >= self.min_score:  # also catches NaN (a flat image)
                return None
            moved.append((int(round(region[0] + bx / scale)), int(round(region[1] + by / scale)), box[2], box[3]))
        self.boxes = moved
        return moved


# =========================================================================== the model


HOW_TO_GET_A_MODEL = """\
How to get a model:
  * the course's reference model: helpers.pretrained.load_pretrained() (see the README), or
  * the model you trained in lesson 05: models/05_training/best.keras  (--model PATH), or
  * any Keras 3 .keras file that follows the course contract: input (48, 48, 1) raw pixels 0-255,
    output 7 softmax probabilities in CLASS_NAMES order."""


def check_model_contract(model) -> None:
    """Raise ``ValueError`` unless ``model`` takes ``(None, 48, 48, 1)`` and returns ``(None, 7)``."""
    try:
        in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    except (AttributeError, ValueError) as exc:
        raise ValueError(f"Not a usable Keras model ({type(model).__name__}): {exc}") from None
    if in_shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1) or out_shape[1:] != (NUM_CLASSES,):
        raise ValueError(
            f"Model '{getattr(model, 'name', '?')}' takes {in_shape} and returns {out_shape}; the course "
            f"contract is (None, {IMAGE_SIZE}, {IMAGE_SIZE}, 1) raw pixels -> (None, {NUM_CLASSES}) probabilities."
        )


def load_model(path: str | os.PathLike):
    """Load a ``.keras`` model file (:func:`helpers.training.load_model`: ``safe_mode``, clear
    errors for missing, truncated or non-model files) and check the course contract."""
    from .training import load_model as load_keras_file

    model = load_keras_file(Path(path).expanduser())
    check_model_contract(model)
    return model


def default_model(path: str | os.PathLike | None = None):
    """``path`` if given, else the course's pretrained model if available, else a clear error."""
    from . import pretrained

    if path is not None:
        return load_model(path)
    if pretrained.pretrained_available():
        model = pretrained.load_pretrained()
        check_model_contract(model)
        return model
    raise FileNotFoundError("No model given and the course's pretrained model is not available.\n" + HOW_TO_GET_A_MODEL)


class Classifier:
    """Classify a batch of preprocessed faces with one direct model call (no ``model.predict``).

    With the TensorFlow backend the call ``model(x, training=False)`` is wrapped in a
    ``tf.function`` (traced once per batch shape, then generalised): several times faster than
    eager calls for the small batches of a webcam frame. ``compiled=False`` calls it eagerly.
    """

    def __init__(self, model, compiled: bool = True):
        import keras

        check_model_contract(model)
        self.model = model
        def call(x):
            return model(x, training=False)

        self._fn: Callable = call
        if compiled and keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            self._fn = tf.function(call, reduce_retracing=True, autograph=False)

    def __call__(self, faces: np.ndarray) -> np.ndarray:
        """``faces`` uint8 ``(n, 48, 48, 1)`` raw pixels -> float32 probabilities ``(n, 7)`` (``n`` may be 0).

        Raises:
            ValueError: colour faces, faces scaled to 0-1 or standardised, or another shape
                (:func:`helpers.contract.model_input`: the message states the contract).
        """
        faces = model_input(faces)
        if len(faces) == 0:
            return np.zeros((0, NUM_CLASSES), np.float32)
        import keras

        out = self._fn(faces)
        return np.asarray(keras.ops.convert_to_numpy(out), dtype=np.float32)


# =========================================================================== smoothing and tracking


def ema_update(previous: np.ndarray | None, current: np.ndarray, alpha: float) -> np.ndarray:
    """One step of an exponential moving average: ``alpha * current + (1 - alpha) * previous``."""
    current = np.asarray(current, dtype=np.float32)
    if previous is None:
        return current.copy()
    return (alpha * current + (1.0 - alpha) * np.asarray(previous, dtype=np.float32)).astype(np.float32)


def smooth_probabilities(probs: np.ndarray, alpha: float = 0.3) -> np.ndarray:
    """Exponential moving average over a sequence of probability vectors ``(T, 7)``.

    ``s[0] = p[0]`` and ``s[t] = alpha * p[t] + (1 - alpha) * s[t-1]``: ``alpha=1`` is no smoothing,
    small ``alpha`` reacts slowly but flickers less.
    """
    probs = np.asarray(probs, dtype=np.float64)
    out = np.empty_like(probs)
    for t, p in enumerate(probs):
        out[t] = p if t == 0 else alpha * p + (1 - alpha) * out[t - 1]
    return out


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes (0 when they do not overlap)."""
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw, ih = min(ax1, bx1) - max(a[0], b[0]), min(ay1, by1) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


def _centre_distance(a: Box, b: Box) -> float:
    """Distance between box centres, relative to the mean box size."""
    da = np.hypot(a[0] + a[2] / 2 - b[0] - b[2] / 2, a[1] + a[3] / 2 - b[1] - b[3] / 2)
    return float(da / max(1.0, (a[2] + a[3] + b[2] + b[3]) / 4))


@dataclass
class Track:
    """A face followed across frames: its last box and its smoothed probabilities."""

    track_id: int
    box: Box
    probs: np.ndarray
    missing: int = 0
    age: int = 1


class FaceTracker:
    """Matches each frame's faces to the previous ones and smooths their probabilities (EMA).

    A face matches the track with the highest IoU (at least ``min_iou``) or, failing that, whose
    centre is within ``max_centre_distance`` box sizes; unmatched faces start new tracks, and a
    track not seen for more than ``max_missing`` frames is dropped.
    """

    def __init__(self, alpha: float = 0.3, min_iou: float = 0.3, max_centre_distance: float = 0.5, max_missing: int = 5):
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        self.alpha, self.min_iou, self.max_centre_distance, self.max_missing = alpha, min_iou, max_centre_distance, max_missing
        self.tracks: list[Track] = []
        self._next_id = 0

    def reset(self) -> None:
        self.tracks, self._next_id = [], 0

    def _match(self, boxes: Sequence[Box]) -> dict[int, int]:
        """Greedy matching: {face index: track index}."""
        pairs = []
        for i, b in enumerate(boxes):
            for j, t in enumerate(self.tracks):
                overlap = iou(b, t.box)
                if overlap >= self.min_iou:
                    pairs.append((1.0 + overlap, i, j))
                elif _centre_distance(b, t.box) <= self.max_centre_distance:
                    pairs.append((1.0 - _centre_distance(b, t.box), i, j))
        matched, used = {}, set()
        for _, i, j in sorted(pairs, reverse=True):
            if i not in matched and j not in used:
                matched[i] = j
                used.add(j)
        return matched

    def update(self, boxes: Sequence[Box], probs: np.ndarray) -> list[Track]:
        """Feed one frame's boxes and raw probabilities; returns the tracks of these faces, in order."""
        matched = self._match(boxes)
        out: list[Track] = []
        for i, box in enumerate(boxes):
            if i in matched:
                track = self.tracks[matched[i]]
                track.box, track.missing, track.age = tuple(box), 0, track.age + 1
                track.probs = ema_update(track.probs, probs[i], self.alpha)
            else:
                track = Track(self._next_id, tuple(box), np.asarray(probs[i], np.float32).copy())
                self._next_id += 1
                self.tracks.append(track)
            out.append(track)
        seen = {id(t) for t in out}
        for t in self.tracks:
            if id(t) not in seen:
                t.missing += 1
        self.tracks = [t for t in self.tracks if t.missing <= self.max_missing]
        return out


# =========================================================================== results and drawing


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


# =========================================================================== the pipeline


STAGES = ("detect", "preprocess", "classify", "smooth", "draw")


class EmotionPipeline:
    """Detect -> preprocess -> classify (one batch) -> smooth -> draw, with per-stage timings.

    A Haar search runs every ``redetect_every`` frames (and whenever no face is tracked or one is
    lost; see :meth:`find_faces`); in between, a :class:`TemplateTracker` follows the faces for a
    fraction of the cost.

    Args:
        model: a Keras model following the course contract (or a :class:`Classifier`).
        detector: a :class:`FaceDetector` (default: OpenCV's frontal-face cascade).
        margin: the crop margin around each detected face (fraction of the box per side).
        alpha: EMA weight of the newest frame (1 = no smoothing).
        redetect_every: frames from one search to the next while faces are tracked (1: a full
            detection on every frame, no tracking).
        small_faces_every: while faces are tracked, every this many searches also scans one band
            of the frame for small new faces (the costly part of a search).
    """

    def __init__(self, model, detector: FaceDetector | None = None, margin: float = 0.1, alpha: float = 0.3,
                 redetect_every: int = 12, small_faces_every: int = 4):
        self.classifier = model if isinstance(model, Classifier) else Classifier(model)
        self.detector = detector or FaceDetector()
        self.tracker = FaceTracker(alpha=alpha)
        self.margin = margin
        self.redetect_every = max(1, int(redetect_every))
        self.small_faces_every = max(1, int(small_faces_every))
        self.reset()

    def reset(self) -> None:
        """Forget tracks, FPS and timings (e.g. before a new video or an unrelated image)."""
        self.tracker.reset()
        self.follower = TemplateTracker()
        self.fps_meter = FPSMeter()
        self.history: deque[dict[str, float]] = deque(maxlen=10_000)  # per-frame timings, the latest frames
        self._since_detect = 0
        self._searches = 0  # searches so far, and the band of the frame the next small-face scan covers
        self._band = 0
        self._lost: list[tuple[Box, int]] = []  # faces missed by the last searches, and how many more frames to look

    def find_faces(self, frame: np.ndarray) -> list[Box]:
        """The faces of this frame: template tracking, with a search every ``redetect_every`` frames.

        While no face is tracked, every frame gets a full :meth:`FaceDetector.detect` (faces down
        to about 40 pixels wide in a 640x480 frame). While faces are tracked, the cheaper
        :meth:`FaceDetector.search` runs every ``redetect_every`` frames and when a tracked face
        is lost: it re-finds the tracked faces near their last boxes (and, for ``redetect_every``
        frames, the faces it just missed) and large new faces anywhere; every
        ``small_faces_every``-th search also scans one band of the frame for small new faces (the
        whole frame in ``detector.bands`` such searches). ``redetect_every=1`` runs a full
        detection on every frame.
        """
        search = getattr(self.detector, "search", None)
        if self.redetect_every == 1 or search is None:
            boxes = self.detector.detect(frame)
            self.follower.boxes = []
            return boxes
        if self.follower.boxes and self._since_detect < self.redetect_every - 1:
            boxes = self.follower.update(frame)
            if boxes is not None:
                self._since_detect += 1
                return boxes
        around = list(self.follower.boxes) + [b for b, _ in self._lost]
        if not around:  # nobody tracked: the whole frame at every size (a small face is found at once)
            boxes = self.detector.detect(frame)
        else:
            band = None
            if self._searches % self.small_faces_every == 0:
                band, self._band = self._band, self._band + 1
            boxes = search(frame, around=around, band=band)
        self._searches += 1
        self._since_detect = 0
        self._remember_lost(around, boxes)
        self.follower.start(frame, boxes)
        return boxes

    def _remember_lost(self, searched: Sequence[Box], found: Sequence[Box]) -> None:
        """Faces searched for but not found are searched for again near their last box for the next
        ``redetect_every`` frames (the detector misses a small face now and then)."""
        lost = {b: n - 1 for b, n in self._lost if n > 1}
        for b in searched:
            lost.setdefault(b, self.redetect_every)
        self._lost = [(b, n) for b, n in lost.items() if all(iou(b, f) < 0.3 for f in found)]

    def process(self, frame: np.ndarray, draw: bool = True) -> tuple[FrameResult, np.ndarray | None]:
        """Run every stage on one frame; returns the result and the annotated BGR frame (or None)."""
        t0 = time.perf_counter()
        frame = as_uint8(frame)
        boxes = self.find_faces(frame)
        t1 = time.perf_counter()
        batch = preprocess_faces(frame, boxes, self.margin)
        t2 = time.perf_counter()
        raw = self.classifier(batch)
        t3 = time.perf_counter()
        tracks = self.tracker.update(boxes, raw)
        faces = [FaceResult(tuple(b), t.probs.copy(), raw[i], t.track_id) for i, (b, t) in enumerate(zip(boxes, tracks))]
        t4 = time.perf_counter()
        fps = self.fps_meter.tick()
        annotated = draw_results(frame, faces, fps) if draw else None
        t5 = time.perf_counter()
        timings = {s: 1000 * (b - a) for s, a, b in zip(STAGES, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5))}
        timings["total"] = 1000 * (t5 - t0)
        timings["faces"] = float(len(faces))
        self.history.append(timings)
        return FrameResult(faces, timings, fps), annotated

    def __call__(self, frame: np.ndarray) -> FrameResult:
        return self.process(frame, draw=False)[0]

    def timing_table(self, skip: int = 1):
        """Mean, median and 95th percentile milliseconds per stage (pandas DataFrame), skipping warm-up frames."""
        import pandas as pd

        rows = list(self.history)
        rows = rows[skip:] or rows
        if not rows:
            raise ValueError("No frames processed yet")
        df = pd.DataFrame(rows)[list(STAGES) + ["total"]]
        return df.agg(["mean", "median", lambda s: s.quantile(0.95)]).T.rename(columns={"<lambda>": "p95"})


# =========================================================================== sources


#: Photo formats this course cannot decode (no codec in OpenCV or Pillow here), with what to do.
UNREADABLE_PHOTO_SUFFIXES = {
    ".heic": "an iPhone HEIC photo", ".heif": "a HEIF photo", ".dng": "a camera RAW file", ".cr2": "a camera RAW file",
    ".cr3": "a camera RAW file", ".nef": "a camera RAW file", ".arw": "a camera RAW file", ".raf": "a camera RAW file",
    ".orf": "a camera RAW file", ".rw2": "a camera RAW file", ".jxl": "a JPEG XL image", ".avif": "an AVIF image",
}
HOW_TO_CONVERT = ("convert it to JPEG or PNG first (Photos/Preview: Export as JPEG; on a phone: share or "
                  "set the camera to 'Most Compatible'; or pip install pillow-heif for HEIC)")

#: EXIF orientation (tag 0x0112) -> the NumPy operation that shows the photo upright, the same
#: transposition as Pillow's ImageOps.exif_transpose (which the training loader applies).
_EXIF_ORIENT = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1), 6: lambda a: a.swapaxes(0, 1)[:, ::-1],
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1], 8: lambda a: a.swapaxes(0, 1)[::-1],
}


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) recorded in image bytes; 1 (upright) when there is none."""
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            value = int(img.getexif().get(0x0112, 1))
    except Exception:  # not a format Pillow reads, or a broken EXIF block
        return 1
    return value if value in _EXIF_ORIENT else 1


def to_uint8_range(image: np.ndarray) -> np.ndarray:
    """A 16-bit (or other non-8-bit) image as uint8, scaled by its actual range: ``value * 255 / max``.

    A 12-bit camera image stored in 16 bits (values up to 4095) keeps its brightness instead of
    coming out nearly black, as dividing by 256 would make it. Black stays black.
    """
    if image.dtype == np.uint8:
        return image
    values = image.astype(np.float64)
    top = float(np.nanmax(values)) if values.size else 0.0
    scale = 255.0 / top if top > 0 else 1.0
    return np.clip(np.nan_to_num(values * scale), 0, 255).round().astype(np.uint8)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as it should be seen: a BGR (or BGRA / gray) uint8 array, upright.

    The EXIF orientation of phone photos is applied (as the training loader does, with the same
    transposition as Pillow's ``ImageOps.exif_transpose``); 16-bit images are scaled by their
    actual range (:func:`to_uint8_range`); formats OpenCV cannot decode (GIF...) go through Pillow.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is corrupt, not an image, or in a format this course cannot decode
            (HEIC, camera RAW...: the message names the format and how to convert it).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Image file not found: {path}")
    raw = path.read_bytes()
    data = np.frombuffer(raw, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:  # formats OpenCV does not decode (e.g. GIF): try Pillow
        try:
            from PIL import Image

            with Image.open(path) as img:
                img.load()
                mode = "RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB"
                image = cv2.cvtColor(np.asarray(img.convert(mode)), cv2.COLOR_RGBA2BGRA if mode == "RGBA" else cv2.COLOR_RGB2BGR)
        except Exception as exc:
            kind = UNREADABLE_PHOTO_SUFFIXES.get(path.suffix.lower())
            if kind:
                raise ValueError(f"Cannot decode {path}: {kind}, a format this course cannot read; {HOW_TO_CONVERT}") from None
            raise ValueError(f"Cannot decode {path}: the file is corrupt or not an image ({type(exc).__name__}: {exc})") from None
    image = to_uint8_range(image)
    orient = exif_orientation(raw)
    if orient != 1:
        image = np.ascontiguousarray(_EXIF_ORIENT[orient](image))
    return image


def frame_to_data_url(frame: np.ndarray, quality: int = 80) -> str:
    """A ``data:image/jpeg;base64,...`` URL of a frame (to show it in a browser)."""
    ok, buf = cv2.imencode(".jpg", to_bgr(frame), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def data_url_to_frame(url: str) -> np.ndarray:
    """Decode a ``data:image/...;base64,`` URL (what the browser camera returns) to a BGR frame."""
    if not isinstance(url, str) or not url.startswith("data:image/") or "," not in url:
        raise ValueError(f"Not an image data URL: {str(url)[:60]!r}")
    data = np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8)
    frame = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if frame is None:
        raise ValueError("The browser sent an image that could not be decoded")
    return frame


class FrameSource:
    """Frames from somewhere: iterate for BGR frames; ``close()`` (or ``with``) releases the device.

    ``name`` describes the source; ``names`` (for files) gives a name per frame for outputs.
    """

    name = "frames"
    fps: float | None = None

    def frames(self) -> Iterator[np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            yield from self.frames()
        finally:  # also on KeyboardInterrupt / generator close
            self.close()

    def named_frames(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(name, frame)`` pairs; the name is used for output files."""
        for i, frame in enumerate(self):
            yield f"frame_{i:05d}", frame

    def show(self, annotated: np.ndarray) -> None:
        """Display an annotated frame where the source is (only the browser camera does)."""

    def close(self) -> None:
        """Release the camera / file."""

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ArraySource(FrameSource):
    """Frames already in memory (a list of arrays)."""

    def __init__(self, frames: Iterable[np.ndarray], name: str = "frames in memory"):
        self._frames, self.name = list(frames), name

    def frames(self) -> Iterator[np.ndarray]:
        yield from self._frames

    def __len__(self) -> int:
        return len(self._frames)


class ImageSource(FrameSource):
    """One image file, or every image in a folder (sorted by name).

    In a folder, the images (:data:`helpers.data.IMAGE_SUFFIXES`) and the photo formats this
    course cannot decode (:data:`UNREADABLE_PHOTO_SUFFIXES`, e.g. HEIC: they fail with a message
    that names them) are read; other files are listed in ``ignored``, hidden files and system
    litter (``.DS_Store``, ``._*``, ``Thumbs.db``) are left out quietly. An unreadable image raises
    ``ValueError``; with ``on_error="skip"`` it is left out, recorded in ``errors`` and reported
    on stderr instead. Each image's name (:meth:`named_frames`) is unique: its stem, or
    ``stem_suffix`` when two files share a stem (``a.jpg``, ``a.png`` -> ``a_jpg``, ``a_png``).
    """

    def __init__(self, path: str | os.PathLike, on_error: str = "raise"):
        self.on_error = on_error
        self.errors: list[tuple[str, str]] = []
        self.ignored: list[str] = []
        path = Path(path)
        if path.is_dir():
            readable = IMAGE_SUFFIXES | set(UNREADABLE_PHOTO_SUFFIXES)
            self.files = []
            for p in sorted(path.iterdir()):
                if not p.is_file() or p.name.startswith(".") or p.name.lower() in {"thumbs.db", "desktop.ini"}:
                    continue
                (self.files if p.suffix.lower() in readable else self.ignored).append(p if p.suffix.lower() in readable else p.name)
            if not self.files:
                raise FileNotFoundError(f"No image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in folder {path}")
        elif path.is_file():
            self.files = [path]
        else:
            raise FileNotFoundError(f"No such image file or folder: {path}")
        self.name = str(path)
        stems = [f.stem.lower() for f in self.files]
        self.names = [f.stem if stems.count(f.stem.lower()) == 1 else f"{f.stem}_{f.suffix.lstrip('.')}" for f in self.files]

    def _read(self) -> Iterator[tuple[str, np.ndarray]]:
        for file, name in zip(self.files, self.names):
            try:
                image = read_image(file)
            except (OSError, ValueError) as exc:
                if self.on_error != "skip":
                    raise
                self.errors.append((str(file), str(exc)))
                print(f"skipped {file}: {exc}", file=sys.stderr)
                continue
            yield name, image

    def frames(self) -> Iterator[np.ndarray]:
        for _, image in self._read():
            yield image

    def named_frames(self) -> Iterator[tuple[str, np.ndarray]]:
        """``(unique name, image)`` pairs (unreadable files skipped or raised, see ``on_error``)."""
        try:
            yield from self._read()
        finally:
            self.close()

    def __len__(self) -> int:
        return len(self.files)


class VideoSource(FrameSource):
    """A local webcam (``int`` index) or a video file, read with ``cv2.VideoCapture``."""

    def __init__(self, what: int | str | os.PathLike, width: int | None = None, height: int | None = None):
        self.cap: cv2.VideoCapture | None = None
        if isinstance(what, int):
            self.name = f"camera {what}"
            self.cap = self._open_camera(what, width, height)
        else:
            path = Path(what)
            if not path.is_file():
                raise FileNotFoundError(f"Video file not found: {path}")
            self.name = str(path)
            self.cap = cv2.VideoCapture(str(path))
            if not self.cap.isOpened():
                self.cap.release()
                raise ValueError(f"Cannot open video {path}: corrupt, or a codec this OpenCV ({cv2.__version__}) lacks")
        fps = self.cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else None

    @staticmethod
    def _open_camera(index: int, width: int | None, height: int | None) -> cv2.VideoCapture:
        instead = (
            "Use instead: a video file or images (--source FILE or FOLDER on the command line, "
            "helpers.inference.open_source(path) in a notebook)"
        )
        if "google.colab" in sys.modules:
            raise CameraUnavailableError(
                "Colab runs on a remote server with no camera attached, so cv2.VideoCapture cannot see yours. "
                "Use the browser camera instead: helpers.inference.ColabCamera() (or open_camera())."
            )
        if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
            raise CameraUnavailableError(
                f"No camera {index}: /dev/video{index} does not exist (a server, container, CI or WSL has no "
                f"webcam device). {instead}; in Colab use the browser camera."
            )
        cap = cv2.VideoCapture(index)
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailableError(
                f"Could not open camera {index} with OpenCV {cv2.__version__}: it may be in use by another "
                f"program, or camera access is not allowed for this terminal/app (macOS: System Settings > "
                f"Privacy > Camera). {instead}."
            )
        if width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        return cap

    def frames(self) -> Iterator[np.ndarray]:
        while self.cap is not None:
            ok, frame = self.cap.read()
            if not ok:
                break
            yield frame

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class LocalCamera(VideoSource):
    """The local webcam through OpenCV (raises :class:`CameraUnavailableError` with the reason)."""

    def __init__(self, index: int = 0, width: int | None = 640, height: int | None = 480):
        super().__init__(int(index), width, height)


#: The browser-camera JavaScript, used by :class:`ColabCamera` through ``google.colab.output.eval_js``
#: and served unchanged to headless Chromium by the tests. Defines ``window.ferCamera`` with
#: ``start``, ``capture`` (optionally showing the previous annotated frame), ``stop`` and ``snapshot``.
CAPTURE_JS = r"""
var ferCamera = window.ferCamera || (window.ferCamera = {});
ferCamera.start = async function (width, height) {
  if (ferCamera.video) { ferCamera.stopped = false; return true; }
  const div = document.createElement('div');
  const video = document.createElement('video');
  video.setAttribute('playsinline', ''); video.muted = true; video.style.display = 'none';
  const shown = document.createElement('img');
  shown.style.maxWidth = '100%';
  const button = document.createElement('button');
  button.textContent = 'Stop camera';
  button.onclick = () => { ferCamera.stopped = true; };
  div.appendChild(shown); div.appendChild(document.createElement('br')); div.appendChild(button);
  div.appendChild(video);
  document.body.appendChild(div);
  const stream = await navigator.mediaDevices.getUserMedia(
      {video: {width: {ideal: width}, height: {ideal: height}}, audio: false});
  video.srcObject = stream;
  await video.play();
  for (let i = 0; i < 200 && !(video.videoWidth > 0); i++) { await new Promise(r => setTimeout(r, 10)); }
  Object.assign(ferCamera, {div: div, video: video, shown: shown, stream: stream,
                            canvas: document.createElement('canvas'), stopped: false});
  if (window.google && google.colab && google.colab.output) {
    google.colab.output.setIframeHeight(document.documentElement.scrollHeight, true);
  }
  return true;
};
ferCamera.capture = async function (width, height, quality, showUrl) {
  if (showUrl) { ferCamera.shown.src = showUrl; }
  if (ferCamera.stopped || !ferCamera.video) { return ''; }
  const canvas = ferCamera.canvas;
  canvas.width = width; canvas.height = height;
  canvas.getContext('2d').drawImage(ferCamera.video, 0, 0, width, height);
  return canvas.toDataURL('image/jpeg', quality);
};
ferCamera.stop = function () {
  if (ferCamera.stream) { ferCamera.stream.getTracks().forEach(t => t.stop()); }
  if (ferCamera.div) { ferCamera.div.remove(); }
  ferCamera.video = null; ferCamera.stream = null; ferCamera.div = null; ferCamera.stopped = true;
  return true;
};
ferCamera.snapshot = async function (width, height, quality) {
  await ferCamera.start(width, height);
  const url = await ferCamera.capture(width, height, quality);
  ferCamera.stop();
  return url;
};
"""


class ColabCamera(FrameSource):
    """The browser's camera in Google Colab, through JavaScript (:data:`CAPTURE_JS`).

    Iterating streams frames until the "Stop camera" button is pressed or ``max_frames`` is
    reached; :meth:`show` sends the annotated frame back to the page with the next capture (one
    round trip per frame). :meth:`snapshot` takes a single photo.

    Args:
        eval_js: the function that runs JavaScript in the page and returns its (awaited) value;
            default ``google.colab.output.eval_js``. The tests pass one backed by headless Chromium.
    """

    name = "browser camera (Colab)"

    def __init__(self, width: int = 640, height: int = 480, quality: float = 0.8, max_frames: int | None = None,
                 eval_js: Callable[[str], object] | None = None):
        if eval_js is None:
            try:
                from google.colab.output import eval_js  # type: ignore[no-redef]
            except ImportError:
                raise CameraUnavailableError(
                    "ColabCamera needs Google Colab (google.colab.output.eval_js). Locally, use "
                    "LocalCamera(0) / --source 0, or a video file or images."
                ) from None
        self.eval_js = eval_js
        self.width, self.height, self.quality, self.max_frames = int(width), int(height), float(quality), max_frames
        self._installed = False
        self._to_show: str | None = None

    def _js(self, call: str):
        script = call if self._installed else CAPTURE_JS + "\n" + call
        result = self.eval_js(script)
        self._installed = True
        return result

    def _decode(self, url) -> np.ndarray | None:
        return data_url_to_frame(url) if url else None

    def snapshot(self) -> np.ndarray:
        """One photo from the browser camera (asks for permission the first time)."""
        frame = self._decode(self._js(f"ferCamera.snapshot({self.width}, {self.height}, {self.quality})"))
        if frame is None:
            raise CameraUnavailableError("The browser camera returned no image (permission denied or stopped?)")
        return frame

    def show(self, annotated: np.ndarray) -> None:
        self._to_show = frame_to_data_url(annotated, 70)

    def frames(self) -> Iterator[np.ndarray]:
        try:
            self._js(f"ferCamera.start({self.width}, {self.height})")
        except Exception as exc:
            raise CameraUnavailableError(
                f"The browser camera could not be started ({exc}). Allow camera access for this page, "
                "or use a video file or images instead."
            ) from exc
        n = 0
        while self.max_frames is None or n < self.max_frames:
            show = f", {self._to_show!r}" if self._to_show else ""
            self._to_show = None
            frame = self._decode(self._js(f"ferCamera.capture({self.width}, {self.height}, {self.quality}{show})"))
            if frame is None:  # the Stop button
                break
            n += 1
            yield frame

    def close(self) -> None:
        if self._installed:
            try:
                self._js("ferCamera.stop()")
            except Exception:  # the page may be gone already
                pass


def in_colab() -> bool:
    return "google.colab" in sys.modules


def open_camera(index: int = 0, width: int = 640, height: int = 480, max_frames: int | None = None) -> FrameSource:
    """The right camera for where this runs: the browser camera in Colab, else OpenCV's webcam ``index``.

    Raises :class:`CameraUnavailableError` (saying why, and what to use instead) when none can be opened.
    """
    if in_colab():
        return ColabCamera(width, height, max_frames=max_frames)
    return LocalCamera(index, width, height)


def open_source(spec: str | int | os.PathLike) -> FrameSource:
    """A source from a string: ``"0"`` (webcam index), ``"colab"``, a video file, an image file or a folder."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return open_camera(int(spec))
    if isinstance(spec, str) and spec.strip().lower() in {"colab", "browser"}:
        return ColabCamera()
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageSource(path)
    if not path.exists():
        raise FileNotFoundError(f"Source not found: {path}. Give a camera index (0), a video, an image or a folder.")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES or suffix in UNREADABLE_PHOTO_SUFFIXES:
        return ImageSource(path)
    if suffix in VIDEO_SUFFIXES:
        return VideoSource(path)
    raise ValueError(
        f"Unknown source type {suffix or '(no suffix)'} for {path}: use images "
        f"({', '.join(sorted(IMAGE_SUFFIXES))}) or videos ({', '.join(sorted(VIDEO_SUFFIXES))})."
    )


# =========================================================================== photos for demos and tests


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
