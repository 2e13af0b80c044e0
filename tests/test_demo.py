"""helpers.demo: lesson 00's first minute (the reference model on the sample photos, a camera snapshot)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import demo, inference, pretrained
from helpers.doctor import Finding


@pytest.fixture(scope="module")
def reference():
    if not pretrained.pretrained_available():
        pytest.skip("the reference model data/fer_reference.keras is not installed")
    return pretrained.load_pretrained()


def test_label_photos_finds_each_face_and_returns_seven_probabilities(reference, capsys):
    photos = inference.sample_photos()
    photos["blank"] = np.full((200, 300, 3), 128, np.uint8)
    labelled = demo.label_photos(reference, photos)
    assert [item.name for item in labelled] == [n for n in photos if n != "blank"]
    assert "blank: no face found, left out" in capsys.readouterr().out
    for item in labelled:
        x, y, w, h = item.box
        assert 0 <= x and 0 <= y and x + w <= item.photo.shape[1] and y + h <= item.photo.shape[0] and w >= 48
        assert item.probs.shape == (7,) and item.probs.sum() == pytest.approx(1, abs=1e-4)
    by_name = {item.name: item for item in labelled}
    if "astronaut" in by_name:  # Eileen Collins smiles broadly: the reference model says happy
        assert by_name["astronaut"].label == "happy"
    fig = demo.show_labelled(labelled, title="t")
    assert len(fig.axes) == 2 * len(labelled)


def test_camera_snapshot_says_why_there_is_none(monkeypatch):
    import helpers.doctor

    monkeypatch.setattr(inference, "in_colab", lambda: False)
    monkeypatch.setattr(helpers.doctor, "check_camera", lambda timeout: Finding("camera", "warn", "no camera found"))
    frame, why = demo.camera_snapshot(timeout=1)
    assert frame is None and why == "no camera snapshot (no camera found)"


def test_camera_snapshot_takes_one_frame_when_the_probe_found_a_camera(monkeypatch):
    import helpers.doctor

    class OneFrameCamera:
        def __init__(self, index):
            self.closed = False

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.closed = True

        def __iter__(self):
            yield np.zeros((480, 640, 3), np.uint8)

    monkeypatch.setattr(inference, "in_colab", lambda: False)
    monkeypatch.setattr(helpers.doctor, "check_camera", lambda timeout: Finding("camera", "ok", "camera 0 gives 640x480 frames"))
    monkeypatch.setattr(inference, "LocalCamera", OneFrameCamera)
    frame, why = demo.camera_snapshot()
    assert frame.shape == (480, 640, 3) and why == "camera 0"
