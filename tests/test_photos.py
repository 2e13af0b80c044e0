"""Real inputs that break FER demos (field cases 10, 13, 14 and the model-input kinds), on inputs built here.

* sideways phone photos (EXIF orientation): the same result as the upright photo;
* a big photo with a small face, and a group photo: every face found (a photo is searched at its
  own resolution, not shrunk like a webcam frame);
* HEIC and other undecodable photos named in the summary; two inputs with one stem keep two
  outputs; 16-bit images scaled by their actual range;
* faces divided by 255 or in colour refused by predict_proba, Classifier and the pipeline;
* live: a face 40 pixels wide in a 640x480 frame is found.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from helpers import inference, sample_frames, webcam


@pytest.fixture(scope="module")
def photos():
    return inference.sample_photos()


def face_crop(photo: np.ndarray, width: int) -> np.ndarray:
    """The photo's face with some context, scaled so that the face is ``width`` pixels wide."""
    x, y, w, h = sample_frames._photo_face(photo)
    crop = inference.crop_face(photo, (x, y, w, h), 0.6)
    s = width / w
    return cv2.resize(crop, (round(crop.shape[1] * s), round(crop.shape[0] * s)), interpolation=cv2.INTER_AREA)


def textured_canvas(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A background like a wall or sky in a big photo: a colour gradient with a little sensor noise."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 1, width, dtype=np.float32)[None, :, None] * np.linspace(0.6, 1, height, dtype=np.float32)[:, None, None]
    canvas = 70 + 120 * ramp * np.array([1.0, 0.8, 0.6], np.float32) + rng.normal(0, 6, (height, width, 3))
    return np.clip(canvas, 0, 255).astype(np.uint8)


def paste(canvas: np.ndarray, part: np.ndarray, x: int, y: int) -> None:
    canvas[y : y + part.shape[0], x : x + part.shape[1]] = part


def save_with_orientation(image_bgr: np.ndarray, path, orientation: int) -> None:
    """Store ``image_bgr`` the way a camera does: pixels transposed, an EXIF tag saying how to undo it."""
    stored = Image.fromarray(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
    inverse = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
               5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}
    if orientation in inverse:
        stored = stored.transpose(inverse[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(path, exif=exif.tobytes())


# --------------------------------------------------------------------------- field case 10: EXIF


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_the_upright_pixels(tmp_path, photos, orientation):
    upright = photos["astronaut"]
    path = tmp_path / f"astronaut_{orientation}.png"  # PNG: lossless, so the pixels must match exactly
    save_with_orientation(upright, path, orientation)
    assert inference.exif_orientation(path.read_bytes()) == orientation
    np.testing.assert_array_equal(inference.read_image(path), upright)
    # and the training loader agrees (it applies Pillow's exif_transpose)
    from helpers.data import decode_face

    ok, png = cv2.imencode(".png", upright)
    np.testing.assert_array_equal(decode_face(path.read_bytes()), decode_face(png.tobytes()))


def test_sideways_phone_photos_give_the_upright_result(tmp_path, photos):
    """Field case 10: JPEGs stored sideways / upside down with an EXIF tag: same face, same label."""
    folder = tmp_path / "phone"
    folder.mkdir()
    for orientation in (1, 3, 6, 8):
        save_with_orientation(photos["astronaut"], folder / f"astronaut_exif{orientation}.jpg", orientation)
    from helpers.pretrained import load_pretrained

    pipeline = inference.EmotionPipeline(load_pretrained(), inference.PhotoFaceDetector(), alpha=1.0, redetect_every=1)
    results = {}
    for name, image in inference.ImageSource(folder).named_frames():
        pipeline.reset()
        results[name] = pipeline(image).faces
    up = results["astronaut_exif1"]
    assert len(up) == 1
    for name, faces in results.items():
        assert len(faces) == 1, f"{name}: {len(faces)} faces"
        assert faces[0].label == up[0].label, name
        assert inference.iou(faces[0].box, up[0].box) > 0.7, (name, faces[0].box, up[0].box)


# --------------------------------------------------------------------------- field cases 13 and 14


def test_small_face_in_a_big_photo_is_found(photos):
    """Field case 13: faces far narrower than a tenth of the photo (a webcam-sized search never finds them)."""
    canvas = textured_canvas(2400, 1600)
    paste(canvas, face_crop(photos["astronaut"], 90), 1500, 900)  # 90 px: 1/27 of the photo's width
    paste(canvas, face_crop(photos["grace_hopper"], 40), 300, 300)  # a small one
    webcam_sized = inference.FaceDetector(detect_size=240).detect(canvas)
    boxes = inference.PhotoFaceDetector().detect(canvas)
    assert len(boxes) == 2, boxes
    small, big = sorted(b[2] for b in boxes)
    assert 30 <= small <= 60 and 80 <= big <= 115, boxes
    assert len(webcam_sized) < 2  # what the photo path did before


def test_every_face_of_a_group_photo_is_found_and_labelled(tmp_path, photos):
    """Field case 14: four faces 186, 97, 96 and 50 pixels wide in one 1717x512 photo."""
    canvas = np.full((512, 1717, 3), 200, np.uint8)
    x = 20
    for name, width in (("grace_hopper", 186), ("astronaut", 97), ("grace_hopper", 96), ("astronaut", 50)):
        part = face_crop(photos[name], width)[:500]
        paste(canvas, part, x, (512 - part.shape[0]) // 2)
        x += part.shape[1] + 40
    path = tmp_path / "group.jpg"
    cv2.imwrite(str(path), canvas)
    out = tmp_path / "out"
    assert webcam.main(["--source", str(path), "--output", str(out), "--no-window"]) == 0
    boxes = sorted(inference.PhotoFaceDetector().detect(canvas), key=lambda b: b[0])
    assert [round(b[2], -1) for b in boxes] == pytest.approx([190, 100, 100, 50], abs=10), boxes
    assert (out / "group.jpg").is_file()


def test_cli_reports_four_faces(tmp_path, photos, capsys):
    canvas = textured_canvas(1717, 512, seed=3)
    x = 20
    for name, width in (("astronaut", 186), ("grace_hopper", 97), ("astronaut", 96), ("grace_hopper", 50)):
        part = face_crop(photos[name], width)[:500]
        paste(canvas, part, x, 6)
        x += part.shape[1] + 40
    cv2.imwrite(str(tmp_path / "four.png"), canvas)
    assert webcam.main(["--source", str(tmp_path / "four.png"), "--output", str(tmp_path / "o"), "--no-window"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("four:"))
    assert line.count(" at (") == 4, line


# --------------------------------------------------------------------------- formats and outputs


def test_heic_is_named_and_same_stems_keep_both_outputs(tmp_path, photos, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.jpg"), photos["astronaut"])
    cv2.imwrite(str(folder / "a.png"), photos["grace_hopper"])
    (folder / "b.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200))
    (folder / "notes.txt").write_text("not an image")
    (folder / ".DS_Store").write_bytes(b"\x00")
    out = tmp_path / "out"
    code = webcam.main(["--source", str(folder), "--output", str(out), "--no-window"])
    captured = capsys.readouterr()
    assert code == 1  # a file could not be read: not a silent success
    assert "b.HEIC" in captured.err and "HEIC" in captured.err and "convert it to JPEG" in captured.err
    assert "notes.txt" in captured.out and ".DS_Store" not in captured.out + captured.err
    assert sorted(p.name for p in out.iterdir()) == ["a_jpg.jpg", "a_png.jpg"]
    assert not np.array_equal(cv2.imread(str(out / "a_jpg.jpg")), cv2.imread(str(out / "a_png.jpg")))


def test_one_heic_file_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "IMG_0001.heic"
    path.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(100))
    with pytest.raises(ValueError, match="HEIC.*convert it to JPEG"):
        inference.read_image(path)


def test_output_writer_never_overwrites(tmp_path):
    writer = webcam.OutputWriter(tmp_path / "o")
    frame = np.zeros((8, 8, 3), np.uint8)
    paths = [writer.write(frame, "same") for _ in range(3)]
    assert len(set(paths)) == 3 and all(p.is_file() for p in paths)


@pytest.mark.parametrize("top", [4095, 1023, 65535])
def test_16_bit_images_are_scaled_by_their_range(tmp_path, top):
    ramp = np.linspace(0, top, 64 * 64).reshape(64, 64).astype(np.uint16)
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), ramp)
    image = inference.read_image(path)
    assert image.dtype == np.uint8 and image.max() == 255 and image.min() == 0
    assert abs(int(image[32, 32]) - round(255 * int(ramp[32, 32]) / top)) <= 1


# --------------------------------------------------------------------------- model inputs


@pytest.fixture(scope="module")
def model():
    from helpers.pretrained import load_pretrained

    return load_pretrained()


def faces_0_255(n: int = 4) -> np.ndarray:
    from helpers.offline import make_faces

    return make_faces(n, seed=0)[0]


@pytest.mark.parametrize("kind", ["divided by 255", "rgb", "standardised"])
def test_wrong_inputs_are_refused_everywhere(model, kind):
    from helpers.evaluation import predict_proba

    faces = faces_0_255()
    bad = {"divided by 255": faces.astype(np.float32) / 255.0,
           "rgb": np.repeat(faces, 3, axis=-1),
           "standardised": (faces - faces.mean()) / faces.std()}[kind]
    classifier = inference.Classifier(model)
    for call in (lambda: predict_proba(model, bad), lambda: classifier(bad)):
        with pytest.raises(ValueError, match=r"raw grayscale pixels 0-255, shape \(N, 48, 48, 1\)") as err:
            call()
        assert {"divided by 255": "scaled to 0-1", "rgb": "colour", "standardised": "standardising"}[kind] in str(err.value)


def test_raw_faces_still_pass_in_every_accepted_form(model):
    from helpers.evaluation import predict_proba

    faces = faces_0_255()
    expected = predict_proba(model, faces)
    np.testing.assert_allclose(predict_proba(model, faces.astype(np.float32)), expected, atol=1e-6)
    np.testing.assert_allclose(predict_proba(model, faces[..., 0]), expected, atol=1e-6)
    np.testing.assert_allclose(inference.Classifier(model)(faces), expected, atol=1e-5)
    dark = np.zeros((2, 48, 48, 1), np.float32)
    dark[0, 10:20, 10:20] = 1.0  # a nearly black face in raw pixels (0 and 1) is not "scaled"
    assert predict_proba(model, dark).shape == (2, 7)


# --------------------------------------------------------------------------- live: 40-pixel faces


def test_live_detector_finds_40_pixel_faces(photos):
    detector = inference.FaceDetector()  # the live pipeline's default
    for name, photo in photos.items():
        frame = inference.frame_with_face(photo, (640, 480), face_width=40)
        boxes = detector.detect(frame)
        assert boxes and 30 <= boxes[0][2] <= 56, f"{name}: {boxes}"
        jittered = inference.jittered_frames(photo, 10, face_width=48, seed=1)
        found = sum(bool(detector.detect(f)) for f in jittered)
        assert found >= 9, f"{name}: a 48-pixel face found in {found} of 10 webcam-like frames"


class UniformClassifier(inference.Classifier):
    """A stand-in for the model (the same 7 probabilities for every face): these tests are about finding faces."""

    def __init__(self):
        pass

    def __call__(self, faces):
        return np.full((len(faces), 7), 1 / 7, np.float32)


def test_live_pipeline_finds_and_keeps_40_pixel_faces(photos):
    for name, photo in photos.items():
        pipe = inference.EmotionPipeline(UniformClassifier())  # the defaults: tracking, searches every 12th frame
        frames = inference.jittered_frames(photo, 40, face_width=40, seed=3, shift=2, noise=2, light=0.02)
        found = [pipe(f).faces for f in frames]
        assert found[0], f"{name}: the 40-pixel face was not found in the first frame"
        assert sum(len(f) == 1 for f in found) >= 36, f"{name}: one face in {sum(len(f) == 1 for f in found)} of 40 frames"
        assert all(30 <= f[0].box[2] <= 56 for f in found if f), f"{name}: {[f[0].box for f in found if f]}"


def test_live_pipeline_finds_a_small_face_that_joins_a_tracked_one(photos):
    """While a face is tracked, a small new one is found by the band searches (all bands within 4 x 4 searches)."""
    frame = inference.frame_with_face(photos["grace_hopper"], (640, 480), face_width=150)
    frame[300:396, 40:136] = inference.frame_with_face(photos["astronaut"], (96, 96), face_width=44)
    rng = np.random.default_rng(0)
    pipe = inference.EmotionPipeline(UniformClassifier())
    limit = pipe.redetect_every * pipe.small_faces_every * pipe.detector.bands + 1
    assert len(pipe(frame).faces) >= 1
    counts = []
    for _ in range(limit):
        noisy = np.clip(frame + rng.normal(0, 2, frame.shape), 0, 255).astype(np.uint8)
        counts.append(len(pipe(noisy).faces))
    assert counts[-1] == 2 and max(counts) == 2, f"faces per frame: {counts}"
    small = sorted(f.box for f in pipe(frame).faces)[0]
    assert 30 <= small[2] <= 60 and 40 <= small[0] + small[2] / 2 <= 136 and 300 <= small[1] + small[3] / 2 <= 396, small
