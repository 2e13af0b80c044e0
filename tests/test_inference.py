"""helpers.inference: detection, preprocessing parity with training, smoothing, drawing, sources, models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from helpers import CLASS_NAMES, frame_sources, inference
from helpers.data import decode_face


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    found = inference.sample_photos()
    assert set(found) == {"grace_hopper", "astronaut"}
    return found


@pytest.fixture(scope="module")
def detector() -> inference.FaceDetector:
    return inference.FaceDetector()


@pytest.fixture(scope="module")
def tiny_model():
    """A tiny model that follows the course contract (raw pixels in, 7 probabilities out)."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input((48, 48, 1)), layers.Rescaling(1 / 255), layers.Conv2D(4, 3, activation="relu"),
         layers.GlobalAveragePooling2D(), layers.Dense(7, activation="softmax")],
        name="tiny",
    )


@pytest.fixture(scope="module")
def model_file(tiny_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    tiny_model.save(path)
    return path


def test_importing_helpers_and_inference_does_not_import_tensorflow():
    code = "import helpers, helpers.inference, helpers.webcam, sys; print('tensorflow' in sys.modules or 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# --------------------------------------------------------------------------- detection


def test_one_plausible_face_in_each_package_photo(photos, detector):
    for name, photo in photos.items():
        boxes = detector.detect(photo)
        assert len(boxes) == 1, f"{name}: {boxes}"
        x, y, w, h = boxes[0]
        H, W = photo.shape[:2]
        assert 0.12 * W < w < 0.6 * W and abs(w - h) <= 0.1 * w, f"{name}: implausible box size {boxes[0]}"
        cx, cy = (x + w / 2) / W, (y + h / 2) / H
        assert 0.3 < cx < 0.7 and 0.1 < cy < 0.55, f"{name}: face centre ({cx:.2f}, {cy:.2f}) is not where the face is"


def test_blank_and_faceless_frames_give_no_faces(detector, tiny_model):
    pipe = inference.EmotionPipeline(tiny_model, detector)
    for frame in (np.zeros((480, 640, 3), np.uint8), np.full((480, 640), 200, np.uint8)):
        assert detector.detect(frame) == []
        result, annotated = pipe.process(frame)
        assert result.faces == [] and annotated.shape == (480, 640, 3)


def test_colour_grayscale_and_bgra_frames_find_the_same_face(photos, detector):
    photo = photos["grace_hopper"]
    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    variants = {
        "bgr": photo, "gray": gray, "gray HxWx1": gray[:, :, None],
        "bgra": cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA), "float 0..1": photo.astype(np.float32) / 255,
    }
    reference = detector.detect(photo)[0]
    for name, frame in variants.items():
        boxes = detector.detect(frame)
        assert len(boxes) == 1 and inference.iou(boxes[0], reference) > 0.8, f"{name}: {boxes}"


@pytest.mark.parametrize("shape", [(37, 1001), (1001, 37, 3), (1, 1), (5, 7, 4), (23, 24, 3)])
def test_odd_sizes_are_no_error(shape, detector, tiny_model):
    frame = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert detector.detect(frame) == []
    result, annotated = inference.EmotionPipeline(tiny_model, detector).process(frame)
    assert result.faces == [] and annotated.shape[:2] == shape[:2]


def test_face_found_in_odd_sized_and_large_frames(photos, detector):
    photo = photos["grace_hopper"]
    for scale in (0.613, 2.37):  # 314x368 and 1213x1422 pixels
        frame = cv2.resize(photo, None, fx=scale, fy=scale)
        assert len(detector.detect(frame)) == 1, frame.shape


def test_bad_frames_raise_clear_errors(detector):
    with pytest.raises(ValueError, match="BGR"):
        detector.detect(np.zeros((10, 10, 2), np.uint8))
    with pytest.raises(ValueError, match="Empty frame"):
        detector.detect(np.zeros((0, 10), np.uint8))


def test_missing_or_broken_cascade_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.xml.*OpenCV 4"):
        inference.load_cascade(tmp_path / "nope.xml")
    (tmp_path / "empty.xml").write_text('<?xml version="1.0"?><opencv_storage></opencv_storage>')
    with pytest.raises(RuntimeError, match=r"empty\.xml.*empty\(\).*OpenCV"):
        inference.load_cascade(tmp_path / "empty.xml")
    (tmp_path / "broken.xml").write_text("<opencv_storage>garbage")
    with pytest.raises(RuntimeError, match=r"broken\.xml.*OpenCV"):
        inference.FaceDetector(cascade=tmp_path / "broken.xml")
    assert inference.cascade_path().parent == Path(cv2.data.haarcascades)


def test_template_tracking_follows_a_moving_face_and_gives_up_when_it_is_gone(photos, detector):
    frames = inference.jittered_frames(photos["astronaut"], 6, seed=3)
    follower = inference.TemplateTracker()
    assert follower.update(frames[0]) is None  # nothing to follow yet
    follower.start(frames[0], detector.detect(frames[0]))
    for frame in frames[1:]:
        moved = follower.update(frame)
        truth = detector.detect(frame)
        assert moved is not None and len(truth) == 1 and inference.iou(moved[0], truth[0]) > 0.6
    assert follower.update(np.zeros_like(frames[0])) is None  # face gone: the caller re-detects
    other = inference.jittered_frames(photos["grace_hopper"], 1, seed=4)[0]
    assert follower.update(other) is None  # somebody else: not the same face


# --------------------------------------------------------------------------- preprocessing parity


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", image)
    assert ok
    return buf.tobytes()


def test_inference_input_equals_the_training_loaders_for_the_same_face(photos, detector):
    """Crop -> PNG -> helpers.data.decode_face (the training loader) == the live pipeline's input, bit for bit."""
    for name, photo in photos.items():
        box = detector.detect(photo)[0]
        for margin in (0.0, 0.1, 0.3):
            crop = inference.crop_face(photo, box, margin)
            live = inference.preprocess_face(photo, box, margin)
            assert live.dtype == np.uint8 and live.shape == (48, 48, 1)
            np.testing.assert_array_equal(live, decode_face(_png(crop)), err_msg=f"{name}, margin {margin}")
        batch = inference.preprocess_faces(photo, [box, box])
        np.testing.assert_array_equal(batch[1], decode_face(_png(inference.crop_face(photo, box, 0.1))))


def test_parity_for_grayscale_and_transparent_frames(photos):
    photo = cv2.resize(photos["grace_hopper"], (256, 300))
    box = (60, 40, 120, 120)
    gray = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    bgra = cv2.cvtColor(photo, cv2.COLOR_BGR2BGRA)
    bgra[:, :, 3] = np.linspace(0, 255, bgra.shape[1]).astype(np.uint8)  # transparency: composited on white
    for frame in (gray, bgra):
        crop = inference.crop_face(frame, box, 0.1)
        np.testing.assert_array_equal(inference.preprocess_face(frame, box, 0.1), decode_face(_png(crop)))


def test_model_gets_raw_pixels_in_one_batch(photos, tiny_model):
    faces = inference.preprocess_faces(photos["astronaut"], [(174, 66, 98, 98), (10, 10, 60, 60), (300, 300, 100, 100)])
    probs = inference.Classifier(tiny_model)(faces)
    expected = np.asarray(tiny_model(faces.astype(np.float32), training=False))
    assert probs.shape == (3, 7) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)
    assert inference.Classifier(tiny_model)(faces[:0]).shape == (0, 7)


def test_crop_margin_is_clipped_at_the_border():
    frame = np.arange(100 * 80, dtype=np.uint32).reshape(100, 80).astype(np.uint8)
    assert inference.expand_box((0, 0, 20, 20), 0.5, frame.shape) == (0, 0, 30, 30)
    assert inference.expand_box((70, 90, 10, 10), 0.5, frame.shape) == (65, 85, 15, 15)
    with pytest.raises(ValueError, match="outside"):
        inference.expand_box((200, 200, 10, 10), 0.1, frame.shape)


# --------------------------------------------------------------------------- smoothing and tracking


def test_smoothing():
    p = np.tile(np.eye(7)[[3, 6]], (10, 1))  # flickers happy / neutral every frame
    s = inference.smooth_probabilities(p, 0.3)
    np.testing.assert_allclose(s[0], p[0])
    np.testing.assert_allclose(s[1], 0.3 * p[1] + 0.7 * p[0])
    np.testing.assert_allclose(s.sum(1), 1)
    assert s[5:, [3, 6]].std(0).max() < 0.25 * p[5:, [3, 6]].std(0).max()  # much less flicker
    np.testing.assert_allclose(inference.smooth_probabilities(p, 1.0), p)  # alpha 1 = none
    np.testing.assert_allclose(inference.ema_update(None, p[0], 0.3), p[0])


def test_tracker_keeps_ids_and_smooths_each_face_separately():
    tracker = inference.FaceTracker(alpha=0.5, max_missing=2)
    a, b = (10, 10, 50, 50), (200, 20, 60, 60)
    happy, sad = np.eye(7)[3], np.eye(7)[4]
    t1 = tracker.update([a, b], np.stack([happy, sad]))
    ids = [t.track_id for t in t1]
    # next frame: faces moved a little and come in the other order
    t2 = tracker.update([(204, 22, 60, 60), (12, 11, 50, 50)], np.stack([happy, sad]))
    assert [t.track_id for t in t2] == ids[::-1]
    np.testing.assert_allclose(t2[1].probs, 0.5 * sad + 0.5 * happy)  # face a: was happy, now sad
    for _ in range(3):  # face b disappears for longer than max_missing
        tracker.update([(12, 11, 50, 50)], happy[None])
    assert [t.track_id for t in tracker.tracks] == [ids[0]]
    t3 = tracker.update([(12, 11, 50, 50), (400, 300, 40, 40)], np.stack([happy, sad]))
    assert t3[0].track_id == ids[0] and t3[1].track_id not in ids  # a new face gets a new id
    with pytest.raises(ValueError):
        inference.FaceTracker(alpha=0)


def test_pipeline_on_a_frame_sequence(photos, tiny_model):
    frames = inference.jittered_frames(photos["grace_hopper"], 8, seed=1)
    pipe = inference.EmotionPipeline(tiny_model, alpha=0.3, redetect_every=4)
    results = [pipe.process(f) for f in frames]
    assert all(len(r.faces) == 1 for r, _ in results)
    assert len({r.faces[0].track_id for r, _ in results}) == 1  # the same face throughout
    last, annotated = results[-1]
    face = last.faces[0]
    assert face.label in CLASS_NAMES and 0 < face.confidence <= 1 and face.raw_probs.shape == (7,)
    assert set(inference.STAGES) <= set(last.timings) and last.fps is not None
    assert annotated.shape == frames[-1].shape and not np.array_equal(annotated, frames[-1])
    table = pipe.timing_table()
    assert list(table.index) == list(inference.STAGES) + ["total"]


def test_drawing_handles_faces_at_the_edges_and_tiny_frames():
    probs = np.full(7, 1 / 7, np.float32)
    for shape, box in (((480, 640, 3), (600, 440, 40, 40)), ((60, 60), (0, 0, 60, 60)), ((30, 2000, 4), (5, 5, 20, 20))):
        face = inference.FaceResult(box, probs, probs)
        out = inference.draw_results(np.zeros(shape, np.uint8), [face], fps=30.0)
        assert out.shape == shape[:2] + (3,) and out.dtype == np.uint8 and out.any()


# --------------------------------------------------------------------------- models


def test_model_loading_errors(tmp_path, model_file, tiny_model):
    assert inference.load_model(model_file).output_shape == (None, 7)
    with pytest.raises(FileNotFoundError, match="No model file at"):
        inference.load_model(tmp_path / "missing.keras")
    (tmp_path / "garbage.keras").write_bytes(b"this is not a zip file")
    with pytest.raises(ValueError, match="not a Keras model archive"):
        inference.load_model(tmp_path / "garbage.keras")
    (tmp_path / "model.txt").write_text("x")
    with pytest.raises(ValueError, match=r"\.keras"):
        inference.load_model(tmp_path / "model.txt")
    import keras

    wrong = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.Flatten(), keras.layers.Dense(10)])
    wrong.save(tmp_path / "wrong.keras")
    with pytest.raises(ValueError, match="contract"):
        inference.load_model(tmp_path / "wrong.keras")


def test_default_model_uses_pretrained_when_present_else_explains(monkeypatch, tiny_model, model_file):
    from helpers import pretrained

    monkeypatch.setattr(pretrained, "pretrained_available", lambda: False)
    with pytest.raises(FileNotFoundError, match="--model"):
        inference.default_model()
    assert inference.default_model(model_file).name == "tiny"

    monkeypatch.setattr(pretrained, "pretrained_available", lambda: True)
    monkeypatch.setattr(pretrained, "load_pretrained", lambda: tiny_model)
    assert inference.default_model() is tiny_model


# --------------------------------------------------------------------------- sources


def test_no_camera_message_says_why_and_what_instead(monkeypatch):
    if not Path("/dev/video0").exists():
        with pytest.raises(inference.CameraUnavailableError, match=r"/dev/video0.*(?s:.*)video file or images"):
            inference.open_source("0")
    # a device that exists but cannot be opened (busy, no permission)
    monkeypatch.setattr(frame_sources.Path, "exists", lambda self: True)

    class Closed:
        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(frame_sources.cv2, "VideoCapture", lambda *a: Closed())
    with pytest.raises(inference.CameraUnavailableError, match="Could not open camera 3.*instead"):
        inference.LocalCamera(3)


def test_in_colab_the_local_camera_points_to_the_browser_camera(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    with pytest.raises(inference.CameraUnavailableError, match="ColabCamera"):
        inference.LocalCamera(0)


def test_colab_camera_outside_colab_is_a_clear_error(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    with pytest.raises(inference.CameraUnavailableError, match="Colab"):
        inference.ColabCamera()


def test_video_file_source_is_released_on_interrupt(tmp_path, photos):
    path = tmp_path / "clip.avi"
    frames = inference.jittered_frames(photos["astronaut"], 5, size=(160, 120))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for f in frames:
        writer.write(f)
    writer.release()
    source = inference.open_source(str(path))
    assert isinstance(source, inference.VideoSource) and source.cap is not None
    with pytest.raises(KeyboardInterrupt):
        for i, frame in enumerate(source):
            assert frame.shape == (120, 160, 3)
            if i == 1:
                raise KeyboardInterrupt
    assert source.cap is None  # released
    assert len(list(inference.open_source(str(path)))) == 5


def test_image_sources_and_bad_images(tmp_path, photos):
    for name, photo in photos.items():
        cv2.imwrite(str(tmp_path / f"{name}.png"), photo)
    (tmp_path / "notes.txt").write_text("not an image, ignored")
    source = inference.open_source(tmp_path)
    assert [n for n, _ in source.named_frames()] == ["astronaut", "grace_hopper"]
    (tmp_path / "zz_broken.jpg").write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(ValueError, match="zz_broken.jpg.*corrupt"):
        list(inference.ImageSource(tmp_path))
    skipping = inference.ImageSource(tmp_path, on_error="skip")
    assert len(list(skipping)) == 2 and skipping.errors[0][0].endswith("zz_broken.jpg")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        inference.read_image(tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError, match="No image files"):
        inference.ImageSource(tmp_path / "empty_dir" if (tmp_path / "empty_dir").mkdir() is None else tmp_path)
    with pytest.raises(FileNotFoundError, match="Source not found"):
        inference.open_source(tmp_path / "nothing_here.mp4")
    with pytest.raises(ValueError, match="Unknown source type"):
        inference.open_source(tmp_path / "notes.txt")


def test_data_urls_round_trip(photos):
    frame = cv2.resize(photos["astronaut"], (64, 48))
    url = inference.frame_to_data_url(frame, 95)
    assert url.startswith("data:image/jpeg;base64,")
    back = inference.data_url_to_frame(url)
    assert back.shape == frame.shape and np.abs(back.astype(int) - frame).mean() < 8
    with pytest.raises(ValueError, match="data URL"):
        inference.data_url_to_frame("")


def test_capture_javascript_is_one_self_contained_constant():
    js = inference.CAPTURE_JS
    for name in ("ferCamera.start", "ferCamera.capture", "ferCamera.stop", "ferCamera.snapshot", "getUserMedia", "toDataURL"):
        assert name in js


def test_live_pipeline_classifies_without_the_flip_wrapper_photos_with_it(photos, tiny_model):
    from helpers import models

    wrapped = models.with_flip_tta(tiny_model)
    assert models.without_flip_tta(wrapped) is tiny_model, "the network inside the wrapper"
    assert models.without_flip_tta(tiny_model) is tiny_model, "a plain network is used as it is"
    pair = models.ensemble([tiny_model, models.with_flip_tta(tiny_model)])
    assert models.without_flip_tta(pair) is pair, "an ensemble is not a flip wrapper"

    faces = np.random.default_rng(1).integers(0, 256, (3, 48, 48, 1)).astype(np.uint8)
    live, photo = inference.EmotionPipeline(wrapped), inference.EmotionPipeline(wrapped, flip_tta=True)
    assert live.classifier.model is tiny_model and photo.classifier.model is wrapped
    np.testing.assert_allclose(live.classifier(faces), np.asarray(tiny_model(faces.astype("float32"))), atol=1e-5)
    mirrored = (np.asarray(tiny_model(faces.astype("float32"))) + np.asarray(tiny_model(faces[:, :, ::-1].astype("float32")))) / 2
    np.testing.assert_allclose(photo.classifier(faces), mirrored, atol=1e-5)


def test_followed_faces_are_classified_every_nth_frame_and_searches_always(photos, tiny_model):
    frames = inference.jittered_frames(photos["grace_hopper"], 14, seed=3)
    counted = []

    class Counting(inference.Classifier):
        def __call__(self, faces):
            counted.append(len(faces))
            return super().__call__(faces)

    for every in (1, 2, 3):
        counted.clear()
        pipe = inference.EmotionPipeline(Counting(tiny_model), redetect_every=6, classify_every=every)
        results = [pipe.process(f, draw=False)[0] for f in frames]
        classified = [bool(r.timings["classified"]) for r in results]
        assert len(counted) == sum(classified), "a frame counts as classified when the model ran"
        searched = [0, 6, 12]  # the first frame detects; then a search every 6th frame
        assert all(classified[i] for i in searched), "a frame with a search is always classified"
        for i, r in enumerate(results):
            assert len(r.faces) == 1
            if not classified[i]:  # between classifications: the last probabilities, and the EMA goes on
                last = max(j for j in range(i) if classified[j])
                np.testing.assert_array_equal(r.faces[0].raw_probs, results[last].faces[0].raw_probs)
                assert i - last < every
        gaps = np.diff([i for i, c in enumerate(classified) if c])
        assert gaps.max() <= every and (every == 1 or gaps.max() == every)
    assert inference.EmotionPipeline(tiny_model, redetect_every=1).process(frames[0], draw=False)[0].timings["classified"] == 1
