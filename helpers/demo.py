"""The first-minute demo (lesson 00): the reference model labels the sample photos, and one camera snapshot.

:func:`label_photos` finds the largest face of each photo (OpenCV's Haar cascade), preprocesses it
like the live pipeline (:func:`helpers.inference.preprocess_face`), classifies it and
:func:`show_labelled` draws each photo with its face box beside bars of the seven probabilities.
:func:`camera_snapshot` takes one frame from the student's camera when there is one (Colab: the
browser camera; elsewhere camera 0 after a probe in a subprocess with a time limit, so a missing
or stuck camera never hangs the notebook), else returns None and says why.

TensorFlow is imported only by the model, not by this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .course import CLASS_NAMES


@dataclass
class LabelledPhoto:
    """One photo and the model's answer for its largest face: ``box`` (x, y, w, h) and 7 ``probs``."""

    name: str
    photo: np.ndarray  # BGR uint8 (H, W, 3)
    box: tuple[int, int, int, int]
    probs: np.ndarray  # float32 (7,), CLASS_NAMES order

    @property
    def label(self) -> str:
        return CLASS_NAMES[int(np.argmax(self.probs))]


def label_photos(model, photos: dict[str, np.ndarray], margin: float = 0.1) -> list[LabelledPhoto]:
    """The model's 7 probabilities for the largest face of each photo.

    Args:
        model: a course model (raw 48x48x1 pixels 0-255 -> 7 probabilities).
        photos: name -> BGR (or gray) uint8 photo, e.g. :func:`helpers.inference.sample_photos`.

    Returns:
        one :class:`LabelledPhoto` per photo in which a face was found (photos without a face are
        reported in a printed line, not dropped silently).
    """
    from . import inference

    classify = inference.Classifier(model, compiled=False)
    out = []
    for name, photo in photos.items():
        photo = inference.to_bgr(inference.as_uint8(photo))
        boxes = inference.FaceDetector(detect_size=max(photo.shape[:2])).detect(photo)
        if not boxes:
            print(f"{name}: no face found, left out")
            continue
        box = max(boxes, key=lambda b: b[2] * b[3])
        probs = classify(inference.preprocess_faces(photo, [box], margin))[0]
        out.append(LabelledPhoto(name, photo, tuple(int(v) for v in box), probs))
    return out


def show_labelled(labelled: list[LabelledPhoto], title: str | None = None):
    """Each photo with its face box, beside a bar chart of the seven probabilities (a matplotlib Figure)."""
    import matplotlib.pyplot as plt

    from .inference import CLASS_COLOURS

    fig, axes = plt.subplots(len(labelled), 2, figsize=(8, 2.9 * len(labelled)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1.3]})
    for (photo_ax, bar_ax), item in zip(axes, labelled):
        x, y, w, h = item.box
        photo_ax.imshow(item.photo[:, :, ::-1])
        photo_ax.add_patch(plt.Rectangle((x, y), w, h, fill=False, color="yellow", lw=2))
        photo_ax.set_title(f"{item.name}: {item.label} ({item.probs.max():.0%})", fontsize=10)
        photo_ax.axis("off")
        colours = [np.array(c[::-1]) / 255 for c in CLASS_COLOURS]
        bar_ax.barh(CLASS_NAMES, item.probs, color=colours)
        bar_ax.invert_yaxis()
        bar_ax.set_xlim(0, 1)
        bar_ax.set_xlabel("probability")
        for i, p in enumerate(item.probs):
            bar_ax.text(min(p + 0.02, 0.85), i, f"{p:.0%}", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def camera_snapshot(timeout: float = 8.0) -> tuple[np.ndarray | None, str]:
    """One BGR frame from the student's camera, or None; and a sentence saying which camera or why none.

    Colab: the browser camera (:class:`helpers.inference.ColabCamera`, asks for permission).
    Elsewhere: :func:`helpers.doctor.check_camera` probes camera 0 in a subprocess killed after
    ``timeout`` s; only when it gave a frame is the camera opened here.
    """
    from . import inference
    from .doctor import check_camera

    try:
        if inference.in_colab():
            return inference.ColabCamera(640, 480).snapshot(), "the browser camera"
        finding = check_camera(timeout)
        if finding.status != "ok":
            return None, f"no camera snapshot ({finding.found})"
        with inference.LocalCamera(0) as camera:
            for frame in camera:
                return frame, "camera 0"
    except inference.CameraUnavailableError as exc:
        return None, f"no camera snapshot ({exc})"
    return None, "no camera snapshot (the camera gave no frame)"
