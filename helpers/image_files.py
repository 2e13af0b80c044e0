"""Image files read safely: the size checked from the header before anything is decoded.

Every reader of the course (photos and folders for the webcam command, the FER2013 folder loader,
faces in bytes) calls this module first. A file is refused, before any pixel is decoded, when

* it is empty, or larger than :data:`MAX_IMAGE_BYTES` on disk;
* its header declares more than :data:`MAX_IMAGE_PIXELS` pixels (a 0.9 MB PNG can declare
  30000x30000 = 900 million pixels: decoded, 2.7 GB as colour, and the face search needs more);
* Pillow cannot identify it: not an image, or a format this course cannot decode (HEIC, camera
  RAW...: the message says how to convert it), or a broken header of a known format;

and, when decoding, because it is truncated or otherwise corrupt. Each refusal is one
:class:`ImageFileError` whose message names the file, the reason and what to do.

JPEG and PNG sizes (every FER2013 image, almost every photo) are read from their own header here,
a few bytes, because asking Pillow costs as much as decoding a 48x48 face; every other format's
size comes from Pillow's lazy ``Image.open`` (header only until ``load()``).
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

#: The most pixels an image may declare (width x height). 50 megapixels: every camera and phone
#: photo up to the 48-50 MP modes of current phones (8064x6048 = 48.8 MP) loads, the field cases'
#: 6000x4000 = 24 MP photos with room to spare; decoded, 50 MP is 150 MB as BGR, which a laptop
#: holds beside the face search. Beyond it lie images built to exhaust memory, not photos of faces.
#: Raise it with the environment variable ``FER_MAX_IMAGE_PIXELS`` (or ``max_pixels=``).
MAX_IMAGE_PIXELS = 50_000_000
#: The largest file read into memory: 256 MiB, far above a 50 MP JPEG (10-30 MB) or an 8-bit
#: colour PNG/TIFF of that size (at most 150 MB). ``FER_MAX_IMAGE_BYTES`` raises it.
MAX_IMAGE_BYTES = 256 * 1024**2

#: Photo formats this course cannot decode (no codec in OpenCV or Pillow here), by file suffix.
UNREADABLE_PHOTO_SUFFIXES = {
    ".heic": "an iPhone HEIC photo", ".heif": "a HEIF photo", ".dng": "a camera RAW file", ".cr2": "a camera RAW file",
    ".cr3": "a camera RAW file", ".nef": "a camera RAW file", ".arw": "a camera RAW file", ".raf": "a camera RAW file",
    ".orf": "a camera RAW file", ".rw2": "a camera RAW file", ".jxl": "a JPEG XL image", ".avif": "an AVIF image",
}
HOW_TO_CONVERT = ("convert it to JPEG or PNG first (Photos/Preview: Export as JPEG; on a phone: share or "
                  "set the camera to 'Most Compatible'; or pip install pillow-heif for HEIC)")

_JPEG, _PNG = b"\xff\xd8", b"\x89PNG\r\n\x1a\n"
#: Leading bytes of formats Pillow reads: a file that starts so but cannot be opened is broken.
_MAGIC = {_JPEG: "JPEG", _PNG: "PNG", b"GIF8": "GIF", b"BM": "BMP", b"II*\x00": "TIFF", b"MM\x00*": "TIFF", b"RIFF": "WebP"}
_FTYP_BRANDS = {b"heic": "an iPhone HEIC photo", b"heix": "an iPhone HEIC photo", b"mif1": "a HEIF photo",
                b"msf1": "a HEIF photo", b"avif": "an AVIF image"}


class ImageFileError(ValueError):
    """An image file (or image bytes) that is refused: empty, too large, not an image, truncated, corrupt.

    ``str(error)`` is one line: ``"Cannot read NAME: DETAIL"``; ``name`` is the file (or what the
    bytes are), ``reason`` one of ``"empty"``, ``"too large"``, ``"not an image"``,
    ``"unsupported format"``, ``"truncated"``, ``"corrupt"``, and ``detail`` the rest of the message.
    """

    def __init__(self, name: str | os.PathLike, reason: str, detail: str):
        self.name, self.reason, self.detail = str(name), reason, detail
        super().__init__(f"Cannot read {self.name}: {detail}")

    def __reduce__(self):  # picklable (e.g. from a worker process) with its three fields
        return type(self), (self.name, self.reason, self.detail)


def _limit(env: str, default: int) -> int:
    value = os.environ.get(env, "").replace("_", "").replace(",", "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ValueError(f"{env}={os.environ[env]!r} is not a whole number: give the limit in full, e.g. "
                         f"{env}={default * 2} for twice the default {default:,}")
    return int(value)


def pixel_limit() -> int:
    """:data:`MAX_IMAGE_PIXELS`, or ``FER_MAX_IMAGE_PIXELS`` from the environment when set."""
    return _limit("FER_MAX_IMAGE_PIXELS", MAX_IMAGE_PIXELS)


def byte_limit() -> int:
    """:data:`MAX_IMAGE_BYTES`, or ``FER_MAX_IMAGE_BYTES`` from the environment when set."""
    return _limit("FER_MAX_IMAGE_BYTES", MAX_IMAGE_BYTES)


def check_byte_count(n: int, name: str | os.PathLike, max_bytes: int | None = None) -> None:
    """Raise :class:`ImageFileError` for ``n == 0`` (empty) or ``n`` above the byte limit."""
    limit = byte_limit() if max_bytes is None else max_bytes
    if n == 0:
        raise ImageFileError(name, "empty", "the file is empty (0 bytes); copy it again from where it came from")
    if n > limit:
        raise ImageFileError(name, "too large", f"too large: {n:,} bytes, above the limit of {limit:,} bytes "
                             "(helpers.image_files.MAX_IMAGE_BYTES; set FER_MAX_IMAGE_BYTES to raise it)")


def check_pixels(width: int, height: int, name: str | os.PathLike, max_pixels: int | None = None) -> None:
    """Raise :class:`ImageFileError` when ``width x height`` is above the pixel limit."""
    limit = pixel_limit() if max_pixels is None else max_pixels
    if width * height > limit:
        raise ImageFileError(name, "too large", f"too large: {width} x {height} = {width * height:,} pixels, above the "
                             f"limit of {limit:,} (helpers.image_files.MAX_IMAGE_PIXELS; set FER_MAX_IMAGE_PIXELS "
                             "to raise it, or scale the image down first)")


def read_file(path: str | os.PathLike, max_bytes: int | None = None) -> bytes:
    """The bytes of an image file, after checking its size on disk (nothing is read when it is refused).

    Raises:
        FileNotFoundError: no file at ``path``.
        ImageFileError: the file is empty or larger than :data:`MAX_IMAGE_BYTES`.
    """
    limit = byte_limit() if max_bytes is None else max_bytes
    try:
        with open(path, "rb") as f:
            check_byte_count(os.fstat(f.fileno()).st_size, path, limit)
            data = f.read()
    except (FileNotFoundError, IsADirectoryError):
        raise FileNotFoundError(f"Image file not found: {path}") from None
    check_byte_count(len(data), path, limit)  # it may have changed in between
    return data


_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # JPEG start-of-frame markers (not DHT, JPG, DAC)
_NO_LENGTH = frozenset((0x01, *range(0xD0, 0xD8)))  # JPEG markers without a length field


def header_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from a JPEG's or PNG's header (a few bytes read); None for other formats
    or a header that cannot be parsed (then :func:`open_image` asks Pillow)."""
    if data[:8] == _PNG and data[12:16] == b"IHDR":
        return (int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")) if len(data) >= 24 else None
    if data[:2] != _JPEG:
        return None
    i, end = 2, len(data) - 9
    while i < end:  # segments: FF, marker, big-endian length (which counts itself), payload
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in _SOF:  # the frame header: precision, height, width
            height, width = (data[i + 5] << 8) | data[i + 6], (data[i + 7] << 8) | data[i + 8]
            return (width, height) if width and height else None
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker in _NO_LENGTH:
            i += 2
        elif marker in (0xD9, 0xDA):  # end of image, or a scan before any frame header
            return None
        else:
            i += 2 + ((data[i + 2] << 8) | data[i + 3])
    return None


def is_complete(data: bytes) -> bool:
    """False for a JPEG without its end-of-image marker or a PNG without its IEND chunk (cut off,
    or followed by other data); True for every other format (their decoder decides)."""
    if data[:2] == _JPEG:
        return data.rstrip(b"\x00")[-2:] == b"\xff\xd9"
    if data[:8] == _PNG:
        return data[-8:-4] == b"IEND"
    return True


def _unidentified(data: bytes, name: str) -> ImageFileError:
    """Why Pillow could not identify ``data``: a known unsupported format, a broken header, or not an image."""
    kind = UNREADABLE_PHOTO_SUFFIXES.get(Path(name).suffix.lower())
    if data[4:8] == b"ftyp":
        kind = _FTYP_BRANDS.get(data[8:12], kind)
    if kind:
        return ImageFileError(name, "unsupported format", f"{kind}, a format this course cannot read; {HOW_TO_CONVERT}")
    known = next((fmt for magic, fmt in _MAGIC.items() if data.startswith(magic)), None)
    if known:
        return ImageFileError(name, "corrupt", f"it starts like a {known} file but its header cannot be read "
                              f"(corrupt, or truncated after {len(data):,} bytes); copy it again from its source")
    return ImageFileError(name, "not an image", f"not an image (Pillow cannot identify its format; the file starts "
                          f"with {data[:12]!r}); give a JPEG or PNG")


def open_image(data: bytes, name: str | os.PathLike = "image bytes", max_pixels: int | None = None):
    """Pillow's lazy image of ``data``, its size checked: nothing decoded yet (call :func:`load`).

    Raises:
        ImageFileError: empty, too large, not an image, an unsupported format, or a broken header.
    """
    from PIL import Image, UnidentifiedImageError

    name = str(name)
    check_byte_count(len(data), name)
    limit = pixel_limit() if max_pixels is None else max_pixels
    if Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS < limit:
        Image.MAX_IMAGE_PIXELS = limit  # a raised course limit raises Pillow's own bomb check with it
    size = header_size(data)
    if size:
        check_pixels(*size, name, limit)
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:  # above twice Pillow's limit, which is above ours
        pixels = re.search(r"\((\d+) pixels\)", str(exc))
        count = f"{int(pixels.group(1)):,} pixels" if pixels else "more pixels than Pillow allows"
        raise ImageFileError(name, "too large", f"too large: {count}, above the limit of {limit:,} "
                             "(helpers.image_files.MAX_IMAGE_PIXELS; set FER_MAX_IMAGE_PIXELS to raise it)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _unidentified(data, name) from None
    check_pixels(*image.size, name, limit)
    return image


def load(image, name: str | os.PathLike = "image bytes"):
    """``image.load()`` (Pillow) with its failures as :class:`ImageFileError`: truncated or corrupt data.

    Truncated files are refused, not completed with grey (Pillow's ``LOAD_TRUNCATED_IMAGES`` is left off).
    """
    try:
        image.load()
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, zlib errors...
        why = str(exc) or type(exc).__name__
        if "truncated" in why or isinstance(exc, EOFError):
            raise ImageFileError(name, "truncated", f"the file is truncated: it ends before the image data does "
                                 f"(Pillow: {why}); copy it again from its source") from None
        raise ImageFileError(name, "corrupt", f"the image data is corrupt (Pillow: {type(exc).__name__}: {why}); "
                             "copy it again from its source, or open and re-save it as JPEG or PNG") from None
    return image


def check_image(data: bytes, name: str | os.PathLike = "image bytes", max_pixels: int | None = None,
                max_bytes: int | None = None) -> tuple[int, int]:
    """``(width, height)`` of image bytes, checked before decoding: empty, byte and pixel limits, format.

    JPEG and PNG are checked from their header (microseconds); other formats are opened lazily with
    Pillow. ``max_pixels`` and ``max_bytes`` default to :func:`pixel_limit` and :func:`byte_limit`.
    Raises :class:`ImageFileError` (see :func:`open_image`).
    """
    check_byte_count(len(data), name, max_bytes)
    size = header_size(data)
    if size:
        check_pixels(*size, name, max_pixels)
        return size
    with open_image(data, name, max_pixels) as image:
        return image.size
