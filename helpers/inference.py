"""Live expression recognition: detect faces, preprocess them like the training loader, classify, smooth, draw.

The pipeline, one stage per module (lesson 07)::

    frame (BGR / gray / BGRA, any size)          from a FrameSource   (helpers.frame_sources)
      -> FaceDetector.detect, TemplateTracker    boxes                (helpers.faces)
      -> preprocess_faces                        uint8 (n, 48, 48, 1) (helpers.faces)
      -> Classifier                              all faces of the frame in ONE batch -> 7 probs each (here)
      -> FaceTracker                             match faces across frames (IoU / centre), smooth probs (EMA) (here)
      -> draw_results                            box, label, confidence, probability bars, FPS (helpers.drawing)

:class:`EmotionPipeline` runs all of it and times every stage. The model gets raw 0-255 pixels and
does its own rescaling (course contract).

The names of :mod:`helpers.faces`, :mod:`helpers.drawing`, :mod:`helpers.frame_sources` and
:mod:`helpers.sample_frames` are offered here too, so that a lesson needs one module
(``helpers.inference.open_source``, ``helpers.inference.FaceDetector``, ...).

OpenCV and NumPy are imported here; Keras/TensorFlow only inside the functions that need them.
"""

from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .contract import model_input
from .course import IMAGE_SIZE, NUM_CLASSES, in_colab  # noqa: F401  (in_colab: lesson 07 asks helpers.inference)
from .drawing import CLASS_COLOURS, SHORT_NAMES, FaceResult, FPSMeter, FrameResult, draw_results  # noqa: F401
from .faces import CASCADE_FILE, Box, FaceDetector, PhotoFaceDetector, TemplateTracker, as_uint8, cascade_path, iou  # noqa: F401
from .faces import crop_face, expand_box, load_cascade, preprocess_face, preprocess_faces, to_bgr, to_gray  # noqa: F401
from .frame_sources import CAPTURE_JS, UNREADABLE_PHOTO_SUFFIXES, VIDEO_SUFFIXES, ArraySource, CameraUnavailableError  # noqa: F401
from .frame_sources import ColabCamera, FrameSource, ImageFileError, ImageSource, LocalCamera, VideoSource, data_url_to_frame  # noqa: F401
from .frame_sources import exif_orientation, frame_to_data_url, open_camera, open_source, read_image  # noqa: F401
from .sample_frames import frame_with_face, jittered_frames, sample_photos  # noqa: F401

HOW_TO_GET_A_MODEL = """\
How to get a model:
  * the course's reference model: helpers.pretrained.load_pretrained() (see the README), or
  * the model you trained in lesson 05: runs/05_training/best.keras at the course's root  (--model PATH), or
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

    ``flip_tta=False`` classifies with the network inside a horizontal-flip test-time augmentation
    wrapper (:func:`helpers.models.without_flip_tta`), half the cost per face; models without
    such a wrapper are used as they are. ``self.model`` is the model actually called.
    """

    def __init__(self, model, compiled: bool = True, flip_tta: bool = True):
        import keras

        check_model_contract(model)
        if not flip_tta:
            from .models import without_flip_tta

            model = without_flip_tta(model)
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
        flip_tta: classify each face and its mirror image when the model has horizontal-flip
            test-time augmentation built in (the course's reference model does). Off by default
            for live video: it doubles the classification cost per face for a small gain in
            accuracy (the reference model's metrics file records both), and the smoothing over
            frames already averages several views of each face. Photos (``helpers.webcam`` on
            image files) turn it on. Ignored when ``model`` is a :class:`Classifier`.
        classify_every: while the template tracker follows the same faces, they are classified on
            every this many frames and keep their last probabilities in between (the frame still
            gets its boxes, smoothing and drawing), as video-analytics pipelines re-infer tracked
            objects at an interval. A frame with a search, or with faces found or lost, is always
            classified. 1: every frame. With the default 2, a face's label is refreshed 15 times a
            second from a 30 FPS camera; the smoothing (``alpha``) still updates on every frame,
            with the face's last probabilities on a frame that is not classified (so its reaction
            time in frames is unchanged, and it sees half as many fresh measurements); :meth:`process` reports which frames were classified (``timings["classified"]``).
    """

    def __init__(self, model, detector: FaceDetector | None = None, margin: float = 0.1, alpha: float = 0.3,
                 redetect_every: int = 12, small_faces_every: int = 4, flip_tta: bool = False,
                 classify_every: int = 2):
        self.classifier = model if isinstance(model, Classifier) else Classifier(model, flip_tta=flip_tta)
        self.detector = detector or FaceDetector()
        self.tracker = FaceTracker(alpha=alpha)
        self.margin = margin
        self.redetect_every = max(1, int(redetect_every))
        self.small_faces_every = max(1, int(small_faces_every))
        self.classify_every = max(1, int(classify_every))
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
        self._followed = False  # whether the last find_faces only followed the faces it already had
        self._last_raw: np.ndarray | None = None  # the last classified probabilities, and frames since then
        self._since_classified = 0

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
        self._followed = False
        if self.redetect_every == 1 or search is None:
            boxes = self.detector.detect(frame)
            self.follower.boxes = []
            return boxes
        if self.follower.boxes and self._since_detect < self.redetect_every - 1:
            boxes = self.follower.update(frame)
            if boxes is not None:
                self._since_detect += 1
                self._followed = True
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
        reuse = (self._followed and self._last_raw is not None and len(self._last_raw) == len(boxes)
                 and self._since_classified < self.classify_every - 1)
        if reuse:  # the same faces, followed: their last probabilities (see classify_every)
            raw, t2 = self._last_raw, time.perf_counter()
            self._since_classified += 1
        else:
            batch = preprocess_faces(frame, boxes, self.margin)
            t2 = time.perf_counter()
            raw = self._last_raw = self.classifier(batch)
            self._since_classified = 0
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
        timings["classified"] = float(not reuse)
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
