"""The shipped reference model: contract, integrity checks, and that its card's numbers reproduce."""

from __future__ import annotations

import json
import numpy as np
import pytest

from helpers import CLASS_NAMES, pretrained
from helpers.data import DATA_DIR

METRICS = DATA_DIR / "fer_reference_metrics.json"


def test_model_is_shipped_and_small():
    assert pretrained.pretrained_available(), "data/fer_reference.keras and its SHA-256 must ship with the course"
    assert pretrained.MODEL_FILE.stat().st_size <= 10 * 1024 * 1024
    assert pretrained.sha256_of(pretrained.MODEL_FILE) == pretrained.MODEL_SHA256


def test_contract_raw_pixels_in_seven_probabilities_out():
    model = pretrained.load_pretrained()
    x = np.random.default_rng(0).integers(0, 256, (5, 48, 48, 1)).astype("uint8")
    p1 = np.asarray(model(x))
    p2 = np.asarray(model.predict(x, verbose=0))
    assert p1.shape == (5, len(CLASS_NAMES))
    np.testing.assert_allclose(p1.sum(axis=1), 1.0, atol=1e-4)
    np.testing.assert_allclose(p1, p2, atol=1e-5)  # deterministic: augmentation is off at inference
    assert tuple(model.input_shape[1:]) == (48, 48, 1)


def test_sha_mismatch_is_refused(tmp_path):
    altered = tmp_path / "fer_reference.keras"
    data = bytearray(pretrained.MODEL_FILE.read_bytes())
    data[len(data) // 2] ^= 0xFF
    altered.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        pretrained.load_pretrained(altered)


def test_truncated_file_is_refused(tmp_path):
    truncated = tmp_path / "fer_reference.keras"
    truncated.write_bytes(pretrained.MODEL_FILE.read_bytes()[:100_000])
    with pytest.raises(ValueError, match="truncated"):
        pretrained.load_pretrained(truncated)
    from helpers.training import load_model

    with pytest.raises(ValueError, match="truncated"):
        load_model(truncated)  # without the SHA check, loading itself fails clearly


def test_missing_file_is_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        pretrained.load_pretrained(tmp_path / "nope.keras")


def test_model_card_reports_the_recorded_numbers():
    metrics = json.loads(METRICS.read_text())
    card = (DATA_DIR / "MODEL_CARD.md").read_text()
    assert metrics["sha256"] == pretrained.MODEL_SHA256
    assert f"{100 * metrics['test']['accuracy']:.1f} %" in card
    assert f"{100 * metrics['test']['macro_f1']:.1f} %" in card


@pytest.mark.slow
def test_test_split_numbers_reproduce(fer_dir):
    """Re-measure the card's test accuracy on the real test split (../shared or FER2013_DIR): all faces,
    and without the faces that have a pixel twin in train (one prediction pass serves both)."""
    from helpers.data import course_splits, has_twin_in, load_fer2013

    metrics = json.loads(METRICS.read_text())
    splits = course_splits(load_fer2013(fer_dir, verbose=False))
    test = splits["test"]
    assert len(test) == metrics["test"]["n"]
    correct = pretrained.load_pretrained().predict(test.images, batch_size=256, verbose=0).argmax(1) == test.labels
    assert float(correct.mean()) == pytest.approx(metrics["test"]["accuracy"], abs=0.002)
    twin = has_twin_in(test.images, splits["train"].images)
    assert int(twin.sum()) == metrics["test_without_twins"]["twins_in_train"]
    assert float(correct[~twin].mean()) == pytest.approx(metrics["test_without_twins"]["accuracy"], abs=0.002)
