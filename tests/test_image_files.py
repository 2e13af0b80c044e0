"""helpers.image_files: hostile and broken image files are refused before decoding, each with its reason.

Every input is built here, in tmp_path: a 1 KB PNG whose header declares 30000x30000 pixels, a GIF
declaring 400 megapixels, the first half of a real JPEG, an empty file, text named .jpg, an HEIC
file named .jpg. Cheap: no test decodes anything large (a decoder that is called fails the test).
"""

from __future__ import annotations

import base64
import io
import os
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
import pytest
from PIL import Image, ImageFile

from helpers import data, frame_sources, image_files
from helpers.image_files import ImageFileError

ROOT = Path(__file__).resolve().parents[1]
GRACE = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


# --------------------------------------------------------------------------- builders


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def declared_png(width: int, height: int) -> bytes:
    """A complete PNG (IHDR, IDAT, IEND) that declares ``width x height`` 8-bit gray pixels; its
    compressed data holds a few rows of zeros (a decoder would allocate the whole image first)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(bytes(width + 1) * 4, 9))
            + _chunk(b"IEND", b""))


def declared_gif(width: int, height: int) -> bytes:
    """A GIF whose screen and first frame declare ``width x height`` (not a JPEG or PNG: Pillow's header)."""
    return (b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0) + b"," + struct.pack("<HHHHB", 0, 0, width, height, 0)
            + b"\x08\x02\x4c\x01\x00;")


def hostile_files(folder: Path) -> dict[str, tuple[str, str]]:
    """Write every broken kind into ``folder``; file name -> (reason, a phrase of the message)."""
    folder.mkdir(parents=True, exist_ok=True)
    grace = GRACE.read_bytes()
    (folder / "huge.png").write_bytes(declared_png(30000, 30000))
    (folder / "truncated.jpg").write_bytes(grace[: len(grace) // 2])
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("this is a shopping list, not a photo\n")
    (folder / "iphone.jpg").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200))
    return {
        "huge.png": ("too large", "30000 x 30000 = 900,000,000 pixels, above the limit of 50,000,000"),
        "truncated.jpg": ("truncated", "truncated"),
        "empty.jpg": ("empty", "empty (0 bytes)"),
        "text.jpg": ("not an image", "not an image"),
        "iphone.jpg": ("unsupported format", "HEIC photo, a format this course cannot read; convert it to JPEG"),
    }


@pytest.fixture
def no_decoding(monkeypatch):
    """Any decoder call fails the test: the refusals must come from the header alone."""
    def refuse(*_, **__):
        raise AssertionError("an image was decoded before its size was checked")

    monkeypatch.setattr(cv2, "imdecode", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)
    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


# --------------------------------------------------------------------------- the checks


def test_the_no_decoding_guard_catches_a_decode(tmp_path, no_decoding):
    (tmp_path / "small.png").write_bytes(declared_png(8, 8))
    with pytest.raises(AssertionError, match="decoded before"):
        frame_sources.read_image(tmp_path / "small.png")


def test_the_limit_lets_the_field_cases_24_megapixel_photos_through():
    assert image_files.MAX_IMAGE_PIXELS >= 6000 * 4000 * 2  # and a 48 MP phone photo
    assert image_files.MAX_IMAGE_PIXELS * 3 < 2**30  # decoded as BGR: well under a gigabyte
    image_files.check_pixels(6000, 4000, "field case")
    image_files.check_pixels(8064, 6048, "48 MP phone photo")


@pytest.mark.parametrize("width, height", [(30000, 30000), (65535, 1000), (7071, 7071)])
def test_declared_size_is_refused_from_the_header(tmp_path, no_decoding, width, height):
    path = tmp_path / "bomb.png"
    path.write_bytes(declared_png(width, height))
    start = time.perf_counter()
    if width * height <= image_files.MAX_IMAGE_PIXELS:
        assert image_files.check_image(path.read_bytes(), path) == (width, height)
        return
    with pytest.raises(ImageFileError, match=f"bomb.png: too large: {width} x {height}") as refused:
        frame_sources.read_image(path)
    assert refused.value.reason == "too large" and "MAX_IMAGE_PIXELS" in str(refused.value)
    with pytest.raises(ImageFileError, match="upload.png: too large"):
        data.decode_face(path.read_bytes(), "upload.png")  # bytes, e.g. from an upload widget
    assert time.perf_counter() - start < 1


def test_huge_png_costs_neither_time_nor_memory(tmp_path):
    """In a fresh process: refusing the 30000x30000 PNG stays at the memory of the imports."""
    path = tmp_path / "huge.png"
    path.write_bytes(declared_png(30000, 30000))
    code = ("import resource, sys, time\nfrom helpers import frame_sources, image_files\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\nstart = time.perf_counter()\n"
            "try:\n    frame_sources.read_image(sys.argv[1])\nexcept image_files.ImageFileError as e:\n    print(e.reason)\n"
            "print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)")
    run = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT, check=True)
    reason, numbers = run.stdout.splitlines()
    seconds, grown_kb = map(float, numbers.split())
    assert reason == "too large" and seconds < 1 and grown_kb < 50_000, run.stdout  # decoded: 900,000 KB


def test_pillow_read_sizes_too_and_pillows_own_bomb_limit(tmp_path, no_decoding):
    with pytest.raises(ImageFileError, match=r"wide.gif: too large: 400,000,000 pixels, above the limit"):
        image_files.check_image(declared_gif(20000, 20000), "wide.gif")  # beyond Pillow's own limit
    gif = declared_gif(8000, 7000)  # 56 MP: Pillow's header, our limit
    with pytest.raises(ImageFileError, match="8000 x 7000 = 56,000,000 pixels"):
        image_files.check_image(gif, "big.gif")
    assert image_files.check_image(declared_gif(640, 480), "small.gif") == (640, 480)


def test_limits_can_be_raised_or_lowered(monkeypatch, tmp_path):
    png = cv2.imencode(".png", np.zeros((48, 48), np.uint8))[1].tobytes()
    monkeypatch.setenv("FER_MAX_IMAGE_PIXELS", "1000")
    with pytest.raises(ImageFileError, match="48 x 48 = 2,304 pixels, above the limit of 1,000"):
        data.decode_face(png, "face.png")
    bmp = io.BytesIO()
    Image.new("L", (40, 40)).save(bmp, "BMP")
    with pytest.raises(ImageFileError, match="40 x 40 = 1,600 pixels"):
        data.decode_face(bmp.getvalue(), "face.bmp")
    monkeypatch.setenv("FER_MAX_IMAGE_PIXELS", "2304")
    assert data.decode_face(png).shape == (48, 48, 1)
    monkeypatch.setenv("FER_MAX_IMAGE_BYTES", str(len(png) - 1))
    (tmp_path / "face.png").write_bytes(png)
    with pytest.raises(ImageFileError, match=f"face.png: too large: {len(png):,} bytes.*FER_MAX_IMAGE_BYTES"):
        image_files.read_file(tmp_path / "face.png")
    assert image_files.read_file(tmp_path / "face.png", max_bytes=len(png)) == png
    monkeypatch.delenv("FER_MAX_IMAGE_BYTES")
    monkeypatch.setenv("FER_MAX_IMAGE_PIXELS", "100M")
    with pytest.raises(ValueError, match="FER_MAX_IMAGE_PIXELS='100M' is not a whole number"):
        data.decode_face(png)


def test_the_error_keeps_its_fields_through_pickle():
    import pickle

    error = pickle.loads(pickle.dumps(ImageFileError("a.jpg", "empty", "the file is empty")))
    assert (error.name, error.reason, str(error)) == ("a.jpg", "empty", "Cannot read a.jpg: the file is empty")


def test_every_broken_file_is_named_with_its_reason(tmp_path):
    expected = hostile_files(tmp_path)
    for name, (reason, phrase) in expected.items():
        with pytest.raises(ImageFileError) as refused:
            frame_sources.read_image(tmp_path / name)
        assert refused.value.reason == reason and phrase in str(refused.value), (name, str(refused.value))
        assert str(refused.value).startswith(f"Cannot read {tmp_path / name}: ") and "\n" not in str(refused.value)
        with pytest.raises(ImageFileError) as from_bytes:
            data.decode_face((tmp_path / name).read_bytes(), name)
        assert from_bytes.value.reason == reason and name in str(from_bytes.value), name
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        frame_sources.read_image(tmp_path / "missing.jpg")


@pytest.mark.parametrize("content, reason, phrase", [
    (b"\xff\xd8\xff not really a jpeg", "corrupt", "starts like a JPEG file but its header cannot be read"),
    (b"\x89PNG\r\n\x1a\n" + bytes(10), "corrupt", "starts like a PNG"),
    (b"\x00\x00\x00\x1cftypavif" + bytes(40), "unsupported format", "AVIF"),
    (b"<html><body>404</body></html>", "not an image", "Pillow cannot identify"),
])
def test_headers_that_cannot_be_read(content, reason, phrase):
    with pytest.raises(ImageFileError) as refused:
        image_files.check_image(content, "x.jpg")
    assert refused.value.reason == reason and phrase in str(refused.value)


def test_truncated_png_and_corrupt_data(tmp_path):
    png = cv2.imencode(".png", np.random.default_rng(0).integers(0, 256, (64, 64, 3), np.uint8))[1].tobytes()
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    with pytest.raises(ImageFileError, match="cut.png: the file is truncated") as refused:
        frame_sources.read_image(tmp_path / "cut.png")
    assert refused.value.reason == "truncated"
    with pytest.raises(ImageFileError, match="cut.png: the file is truncated"):
        data.decode_face(png[: len(png) // 2], "cut.png")


def test_header_size_agrees_with_pillow(tmp_path):
    rng = np.random.default_rng(0)
    exif = Image.Exif()
    exif[0x0112] = 6
    for shape, kw in (((48, 48), {}), ((37, 91, 3), {"progressive": True}), ((90, 40, 3), {"exif": exif}),
                      ((20, 30, 4), {}), ((5, 7), {"optimize": True})):
        for fmt in ("JPEG", "PNG"):
            if fmt == "JPEG" and shape[-1:] == (4,):
                continue
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(buf, fmt, **kw)
            with Image.open(io.BytesIO(buf.getvalue())) as img:
                assert image_files.header_size(buf.getvalue()) == img.size, (fmt, shape, kw)
    grace = GRACE.read_bytes()
    assert image_files.header_size(grace) == Image.open(GRACE).size
    assert image_files.header_size(b"GIF89a") is None and image_files.header_size(grace[:20]) is None


def test_the_photo_reader_still_gives_opencvs_pixels(tmp_path):
    np.testing.assert_array_equal(frame_sources.read_image(GRACE), cv2.imread(str(GRACE), cv2.IMREAD_UNCHANGED))
    png = tmp_path / "rgba.png"
    cv2.imwrite(str(png), np.random.default_rng(1).integers(0, 256, (30, 40, 4), np.uint8))
    np.testing.assert_array_equal(frame_sources.read_image(png), cv2.imread(str(png), cv2.IMREAD_UNCHANGED))


def test_a_folder_reads_the_good_ones_and_names_the_bad_ones(tmp_path, capsys):
    expected = hostile_files(tmp_path / "photos")
    cv2.imwrite(str(tmp_path / "photos" / "good.png"), np.full((60, 80, 3), 90, np.uint8))
    source = frame_sources.ImageSource(tmp_path / "photos", on_error="skip")
    assert [name for name, _ in source.named_frames()] == ["good"]
    assert {Path(f).name: why for f, why in source.errors}.keys() == expected.keys()
    for file, why in source.errors:
        assert expected[Path(file).name][1] in why, (file, why)
    printed = capsys.readouterr().err
    assert all(name in printed for name in expected)


def test_browser_camera_images_are_checked_too():
    url = "data:image/png;base64," + base64.b64encode(declared_png(30000, 30000)).decode()
    with pytest.raises(ImageFileError, match="browser camera's image: too large"):
        frame_sources.data_url_to_frame(url)
