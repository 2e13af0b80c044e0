"""Where frames come from: the local webcam, Colab's browser camera, video files, photos, arrays.

One interface, :class:`FrameSource` (iterate it for BGR frames; ``show`` displays an annotated
one; a context manager that closes the device): :class:`LocalCamera` (OpenCV),
:class:`ColabCamera` (the browser's camera through JavaScript, :data:`CAPTURE_JS`),
:class:`VideoSource`, :class:`ImageSource` (a photo or a folder of them, EXIF orientation
applied as the training loader does) and :class:`ArraySource`. :func:`open_source` picks one
from a string such as ``"0"``, ``"colab"`` or ``"photo.jpg"``; :func:`open_camera` the right
camera for where this runs. OpenCV, NumPy and Pillow only.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from . import image_files
from .course import in_colab
from .data import IMAGE_SUFFIXES
from .faces import to_bgr
from .image_files import HOW_TO_CONVERT, UNREADABLE_PHOTO_SUFFIXES, ImageFileError  # noqa: F401

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}


class CameraUnavailableError(RuntimeError):
    """No camera could be opened; the message says why and what to use instead."""


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


def read_image(path: str | os.PathLike, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as it should be seen: a BGR (or BGRA / gray) uint8 array, upright.

    The file's byte size and the pixel count its header declares are checked before anything is
    decoded (:mod:`helpers.image_files`: at most :data:`~helpers.image_files.MAX_IMAGE_PIXELS`,
    or ``max_pixels``). The EXIF orientation of phone photos is applied (as the training loader
    does, with the same transposition as Pillow's ``ImageOps.exif_transpose``); 16-bit images are
    scaled by their actual range (:func:`to_uint8_range`); formats OpenCV cannot decode (GIF...)
    go through Pillow.

    Raises:
        FileNotFoundError: no file at ``path``.
        helpers.image_files.ImageFileError: a ``ValueError`` naming the file and why: empty, too
            large (bytes or pixels), not an image, a format this course cannot decode (HEIC,
            camera RAW...: with how to convert it), truncated or corrupt.
    """
    path = Path(path)
    raw = image_files.read_file(path)
    image_files.check_image(raw, path, max_pixels)
    # a cut-off JPEG or PNG goes straight to Pillow, which says so (OpenCV only returns None)
    image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED) if image_files.is_complete(raw) else None
    if image is None:  # formats OpenCV does not decode (e.g. GIF), and broken files: Pillow says why
        with image_files.open_image(raw, path, max_pixels) as img:
            image_files.load(img, path)
            mode = "RGBA" if "A" in img.getbands() or "transparency" in img.info else "RGB"
            image = cv2.cvtColor(np.asarray(img.convert(mode)), cv2.COLOR_RGBA2BGRA if mode == "RGBA" else cv2.COLOR_RGB2BGR)
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
    data = base64.b64decode(url.split(",", 1)[1])
    image_files.check_image(data, "the browser camera's image")  # its size, before decoding
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
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
    litter (``.DS_Store``, ``._*``, ``Thumbs.db``) are left out quietly. An unreadable image
    (empty, above the size limits, not an image, truncated: :func:`read_image`) raises
    :class:`~helpers.image_files.ImageFileError`; with ``on_error="skip"`` it is left out, recorded
    in ``errors`` as ``(file, reason)`` and reported on stderr, and the others are still read.
    Each image's name (:meth:`named_frames`) is unique: its stem, or ``stem_suffix`` when two
    files share a stem (``a.jpg``, ``a.png`` -> ``a_jpg``, ``a_png``).
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
                why = exc.detail if isinstance(exc, ImageFileError) else str(exc)
                self.errors.append((str(file), why))
                if len(self.files) > 1:  # one file: the caller reports it
                    print(f"skipped {file}: {why}", file=sys.stderr)
                continue
            yield name, image

    def check(self) -> None:
        """Check every file's byte size, format and declared pixels from its header, decoding nothing.

        Raises :class:`~helpers.image_files.ImageFileError` (or ``FileNotFoundError``) for the first bad file.
        """
        for file in self.files:
            image_files.check_image(image_files.read_file(file), file)

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
