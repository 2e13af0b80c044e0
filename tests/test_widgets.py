"""helpers.widgets: the numbers behind each control, the fallbacks, and the controls driven from Python.

The widgets are driven here the way a click drives them (setting a slider's ``value``, calling a
button's handler); tests/test_browser_lab.py does it for real in JupyterLab with headless Chromium.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from helpers import CLASS_NAMES, widgets


@pytest.fixture
def val_like():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 7, 300)
    logits = rng.normal(size=(300, 7)) + 2.0 * np.eye(7)[y] * rng.uniform(0, 1.5, (300, 1))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return y, probs


def test_import_pulls_in_neither_tensorflow_nor_ipywidgets():
    code = "import sys, helpers.widgets, helpers.demo; print(sorted(m for m in ('tensorflow', 'keras', 'ipywidgets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"importing helpers.widgets loaded {out}"


@pytest.mark.parametrize("t", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_threshold_metrics_match_sklearn(val_like, t):
    y, probs = val_like
    table = widgets.threshold_metrics(y, probs, t)
    for c, name in enumerate(CLASS_NAMES):
        truth, said = y == c, probs[:, c] >= t
        row = table.loc[name]
        assert row.precision == pytest.approx(precision_score(truth, said, zero_division=0))
        assert row.recall == pytest.approx(recall_score(truth, said, zero_division=0))
        assert row.f1 == pytest.approx(f1_score(truth, said, zero_division=0))
        assert row.predicted == said.sum() and row.support == truth.sum()


def test_threshold_metrics_per_class_thresholds_and_errors(val_like):
    y, probs = val_like
    t = np.linspace(0.1, 0.7, 7)
    table = widgets.threshold_metrics(y, probs, t)
    assert np.allclose(table.threshold, t)
    assert table.loc["fear", "recall"] == pytest.approx(recall_score(y == 2, probs[:, 2] >= t[2]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        widgets.threshold_metrics(y, probs, 1.5)
    with pytest.raises(ValueError, match="probs must be"):
        widgets.threshold_metrics(y, probs[:, :6], 0.5)


def test_threshold_explorer_refuses_the_test_split(val_like):
    from helpers.data import Split

    y, probs = val_like
    test = Split("test", np.zeros((len(y), 48, 48, 1), np.uint8), y)
    with pytest.raises(ValueError, match="validation"):
        widgets.threshold_explorer(test, probs, interactive=False)


def test_threshold_explorer_fallback_and_widget(val_like, monkeypatch):
    from helpers.data import Split

    y, probs = val_like
    val = Split("val", np.zeros((len(y), 48, 48, 1), np.uint8), y)
    monkeypatch.setenv("FER_WIDGETS", "0")
    table = widgets.threshold_explorer(val, probs, fixed=(0.3, 0.6))
    assert list(table.columns.get_level_values(0).unique()) == ["t=0.3", "t=0.6"]
    assert table[("t=0.6", "recall")].to_numpy() == pytest.approx(widgets.threshold_metrics(y, probs, 0.6).recall.to_numpy())
    monkeypatch.setenv("FER_WIDGETS", "1")
    box = widgets.threshold_explorer(val, probs, start=0.5)
    before = box.table.value
    box.cls.value = 3
    box.slider.value = 0.8  # the user moves the happy threshold
    assert box.thresholds[3] == pytest.approx(0.8) and box.thresholds[0] == pytest.approx(0.5)
    assert box.table.value != before
    box.cls.value = 0
    assert box.slider.value == pytest.approx(0.5), "the slider shows the chosen class's own threshold"


def test_smoothing_stats_jitter_falls_and_lag_grows_as_alpha_falls():
    rng = np.random.default_rng(1)
    first = np.tile(np.eye(7)[3] * 0.6 + 0.4 / 7, (20, 1))
    second = np.tile(np.eye(7)[6] * 0.6 + 0.4 / 7, (20, 1))
    probs = np.clip(np.vstack([first, second]) + rng.normal(0, 0.08, (40, 7)), 0, None)
    raw, calm = widgets.smoothing_stats(probs, 1.0, 20), widgets.smoothing_stats(probs, 0.1, 20)
    assert raw["jitter"] > calm["jitter"]
    assert raw["lag"] is not None and calm["lag"] is not None and calm["lag"] > raw["lag"]
    assert np.allclose(raw["smoothed"], probs)
    with pytest.raises(ValueError, match="alpha"):
        widgets.smoothing_stats(probs, 0.0)


def test_smoothing_explorer_fallback_table_and_widget(monkeypatch):
    rng = np.random.default_rng(2)
    probs = rng.dirichlet(np.ones(7), 30)
    monkeypatch.setenv("FER_WIDGETS", "0")
    table = widgets.smoothing_explorer(probs, change_at=15, fixed=(1.0, 0.2))
    assert list(table.index) == [1.0, 0.2] and table.loc[1.0, "jitter"] > table.loc[0.2, "jitter"]
    monkeypatch.setenv("FER_WIDGETS", "1")
    box = widgets.smoothing_explorer(probs, change_at=15, start=0.3)
    before = (box.image.value, box.stats["jitter"])
    box.slider.value = 0.9
    assert box.image.value != before[0] and box.stats["jitter"] > before[1]


def test_review_actions_turn_a_tally_into_a_relabel_or_drop_list():
    labels, predicted = np.array([0, 1, 2, 3, 4]), np.array([3, 1, 6, 3, 0])
    actions = widgets.review_actions({4: "not a face", 0: "wrong label", 2: "agree"}, labels, predicted)
    assert list(actions.index) == [0, 2, 4]
    assert list(actions.action) == ["relabel", "keep", "drop"]
    assert actions.loc[0, "new_label"] == "happy" and actions.loc[4, "new_label"] == ""
    images = np.arange(5)[:, None, None, None] * np.ones((5, 48, 48, 1), np.uint8)
    new_images, new_labels = widgets.apply_review(images, labels, actions)
    assert list(new_labels) == [3, 1, 2, 3] and list(new_images[:, 0, 0, 0]) == [0, 1, 2, 3]
    assert list(labels) == [0, 1, 2, 3, 4], "the inputs are not changed"
    with pytest.raises(ValueError, match="unknown decision"):
        widgets.review_actions({0: "maybe"}, labels, predicted)
    with pytest.raises(ValueError, match="model also says"):
        widgets.review_actions({1: "wrong label"}, labels, predicted)
    with pytest.raises(ValueError, match="outside"):
        widgets.review_actions({9: "agree"}, labels, predicted)


def test_label_review_buttons_fill_the_tally(monkeypatch):
    monkeypatch.setenv("FER_WIDGETS", "1")
    rng = np.random.default_rng(3)
    images = rng.integers(0, 255, (6, 48, 48, 1)).astype(np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5])
    probs = np.eye(7)[[3, 1, 6, 3, 0, 5]] * 0.9 + 0.1 / 7
    review = widgets.LabelReview(images, labels, probs, indices=[0, 2, 4, 1])
    box = review.show()
    assert box is not None and "face 1 of 4" in box.caption.value
    for button in (review.buttons[1], review.buttons[2], review.buttons[0], review.buttons[1]):
        button.click()
    assert review.decisions == {0: "wrong label", 2: "not a face", 4: "agree", 1: "agree"}  # 1: model agrees
    assert review.tally() == {"agree": 2, "wrong label": 1, "not a face": 1}
    assert all(b.disabled for b in review.buttons) and "All 4 faces reviewed" in box.caption.value
    assert list(review.actions().action) == ["relabel", "keep", "drop", "keep"]


def test_confident_disagreements_is_a_deterministic_stand_in():
    probs = np.eye(7)[[3, 1, 6]] * 0.9 + 0.1 / 7
    probs[2] = 1 / 7
    decided = widgets.confident_disagreements(probs, [0, 1, 2], [0, 1, 2], confidence=0.8)
    assert decided == {0: "wrong label", 1: "agree", 2: "agree"}


def test_augment_grid_shapes_seed_and_strength():
    faces = np.random.default_rng(4).integers(0, 255, (2, 48, 48, 1)).astype(np.uint8)
    off = widgets.augment_grid(faces, {"rotation": 0.0}, versions=3)
    assert off.shape == (2, 3, 48, 48, 1) and np.allclose(off, faces[:, None].astype("float32"))
    a = widgets.augment_grid(faces, {"rotation": 0.2, "brightness": 0.3}, versions=3, seed=5)
    b = widgets.augment_grid(faces, {"rotation": 0.2, "brightness": 0.3}, versions=3, seed=5)
    assert np.array_equal(a, b) and not np.allclose(a, off)
    with pytest.raises(ValueError, match="Unknown"):
        widgets.augment_grid(faces, {"shear": 0.1})
    with pytest.raises(ValueError, match=">= 0"):
        widgets.augment_grid(faces, {"zoom": -0.1})


def test_augmentation_explorer_fallback_and_slider(monkeypatch):
    faces = np.random.default_rng(5).integers(0, 255, (2, 48, 48, 1)).astype(np.uint8)
    figures = widgets.augmentation_explorer(faces, versions=2, interactive=False)
    assert len(figures) == 3
    monkeypatch.setenv("FER_WIDGETS", "1")
    box = widgets.augmentation_explorer(faces, versions=2)
    before = box.image.value
    box.sliders["rotation"].value = 0.2
    assert box.image.value != before


class _Frames:
    """A FrameSource stand-in: a few frames, remembers being closed."""

    def __init__(self, frames):
        self.frames, self.closed, self.shown = frames, False, 0

    def __iter__(self):
        return iter(self.frames)

    def show(self, annotated):
        self.shown += 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.closed = True


class _Pipeline:
    def __init__(self):
        from helpers.inference import FPSMeter, FrameResult

        self.fps_meter, self._result = FPSMeter(), FrameResult([], {}, None)

    def reset(self):
        self.fps_meter.times.clear()

    def process(self, frame):
        self.fps_meter.tick()
        return self._result, frame


def test_live_view_runs_stops_and_closes_its_source(monkeypatch):
    monkeypatch.setenv("FER_WIDGETS", "1")
    frames = [np.full((60, 80, 3), i * 20, np.uint8) for i in range(10)]
    sources = []

    def open_source():
        sources.append(_Frames(frames))
        return sources[-1]

    live = widgets.LiveView(_Pipeline(), open_source, max_frames=4)
    box = live.show()
    kept = live.run(keep_every=2)
    assert live.frames_done == 4 and len(kept) == 2 and sources[-1].closed and sources[-1].shown == 4
    assert live.image.value[:2] == b"\xff\xd8" and "stopped after 4 frames" in live.status.value
    assert not live.start_button.disabled and live.stop_button.disabled
    live.max_frames = None
    live.start()
    live.stop()
    assert not live._thread.is_alive() and sources[-1].closed and live.error is None
    assert box is live.widget


def test_live_view_without_widgets(monkeypatch):
    monkeypatch.setenv("FER_WIDGETS", "0")
    live = widgets.LiveView(_Pipeline(), lambda: _Frames([np.zeros((20, 20, 3), np.uint8)] * 3))
    assert live.show() is None
    assert live.run(keep_every=1) and live.frames_done == 3
