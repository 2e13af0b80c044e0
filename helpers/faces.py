"""Faces in a frame: grayscale conversion, Haar detection, tracking between detections, model-ready crops.

The first stages of the live pipeline (lesson 07)::

    frame (BGR / gray / BGRA, any size)
      -> FaceDetector.detect      Haar cascade on a downscaled grayscale copy  -> boxes
         (TemplateTracker         follows the faces between two full detections)
      -> preprocess_face          crop with a margin, grayscale, data.to_model_input -> uint8 48x48x1

Preprocessing parity: a face crop becomes model input by the same code as the training loader
(:func:`helpers.data.decode_face`): the same grayscale conversion (Pillow's, with alpha composited
on white) and the same resize (:func:`helpers.data.to_model_input`). :class:`PhotoFaceDetector`
is the stricter detector for still photos. OpenCV and NumPy only (no Keras).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from .course import IMAGE_SIZE
from .data import to_model_input

Box = tuple[int, int, int, int]  # x, y, width, height in frame pixels
CASCADE_FILE = "haarcascade_frontalface_alt2.xml"  # as accurate as "default" here, about 2x faster


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


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes (0 when they do not overlap)."""
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw, ih = min(ax1, bx1) - max(a[0], b[0]), min(ay1, by1) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


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
