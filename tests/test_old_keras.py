"""Course models load on every Keras the course supports (pyproject: ``keras>=3.8``).

Keras 3.15 writes config keys that Keras 3.8-3.14 reject (``input_axes`` in every initializer,
``quantization_config`` in ``Dense``, ``renorm`` in ``BatchNormalization``...), which made the
shipped model unusable in Colab images with an older Keras. ``helpers.keras_files`` removes those
keys when they hold their default; the last test here loads and runs the shipped model and a
freshly saved course model in a second environment with the oldest stack (TensorFlow 2.18 +
Keras 3.8). ``.ci/run`` builds that environment and sets ``FER_OLD_KERAS_PYTHON``; without it
that test skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from helpers import keras_files, pretrained

ROOT = Path(__file__).resolve().parents[1]
OLD_PYTHON = os.environ.get("FER_OLD_KERAS_PYTHON")


def config_of(path) -> dict:
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("config.json"))


def newer_keys_left(config) -> list[str]:
    """The NEWER_CONFIG_KEYS still present (with any value) in a config."""
    found = []

    def walk(node):
        if isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, dict):
            newer = keras_files.NEWER_CONFIG_KEYS.get(node.get("class_name"), {})
            found.extend(f"{node['class_name']}.{k}" for k in newer if k in (node.get("config") or {}))
            for v in node.values():
                walk(v)

    walk(config)
    return found


def small_course_model():
    """A small course model with the layers lesson 05 saves (augmentation, conv, batch norm, dense), compiled with Adam."""
    from helpers.models import build_vgg_cnn
    from helpers.training import compile_model

    return compile_model(build_vgg_cnn(augment=True, widths=(8, 16), dense=16))


def faces(n: int = 16) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 48, 48, 1)).astype(np.uint8)


def test_shipped_model_has_no_config_keys_older_keras_rejects():
    assert newer_keys_left(config_of(pretrained.MODEL_FILE)) == []
    assert keras_files.saved_by(pretrained.MODEL_FILE) is not None


def test_portable_config_removes_only_default_values():
    config = {"class_name": "Functional", "config": {"layers": [
        {"class_name": "Dense", "config": {"units": 7, "quantization_config": None, "kernel_initializer": {
            "module": "keras.initializers", "class_name": "GlorotUniform",
            "config": {"seed": None, "input_axes": None, "output_axes": [1]}}}},
        {"class_name": "BatchNormalization", "config": {"renorm": True, "renorm_momentum": 0.99}},
        {"class_name": "Concatenate", "config": {"axis": -1}},
    ]}}
    cleaned, removed = keras_files.portable_config(config)
    layers = cleaned["config"]["layers"]
    assert removed == 3
    assert layers[0]["config"] == {"units": 7, "kernel_initializer": {
        "module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None, "output_axes": [1]}}}
    assert layers[1]["config"] == {"renorm": True}  # renorm on: kept; its momentum at the default: dropped
    assert layers[2]["config"] == {"axis": -1}  # a key of another class: untouched
    assert config["config"]["layers"][0]["config"]["quantization_config"] is None  # the input is not modified


def test_course_saves_are_portable_and_predict_the_same(tmp_path):
    import keras

    from helpers.training import load_model, save_model

    model = small_course_model()
    raw = tmp_path / "raw.keras"
    model.save(raw)  # what Keras itself writes
    saved = save_model(model, tmp_path / "best.keras")  # what the course writes
    assert newer_keys_left(config_of(saved)) == []
    with zipfile.ZipFile(raw) as a, zipfile.ZipFile(saved) as b:
        assert a.read("model.weights.h5") == b.read("model.weights.h5")  # weights untouched
    x = faces()
    np.testing.assert_array_equal(np.asarray(load_model(raw)(x)), np.asarray(load_model(saved)(x)))
    assert keras_files.make_portable(saved) == 0  # nothing left to remove: the file is not rewritten
    if keras_files.version_tuple(keras.__version__) >= (3, 15):  # this Keras writes the keys: they were removed
        assert newer_keys_left(config_of(raw))


def test_load_error_names_both_versions_and_the_fix(tmp_path):
    """A file from a newer Keras than the running one: the message says so and what to do."""
    import keras

    from helpers.training import load_model

    good = config_of(pretrained.MODEL_FILE)
    future = tmp_path / "future.keras"
    with zipfile.ZipFile(pretrained.MODEL_FILE) as src, zipfile.ZipFile(future, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "metadata.json":
                data = json.dumps({"keras_version": "99.1.0", "date_saved": "2099-01-01@00:00:00"}).encode()
            elif info.filename == "config.json":
                text = json.dumps(good).replace('"seed": null', '"seed": null, "time_travel": 1', 1)
                data = text.encode()
            dst.writestr(info, data)
    with pytest.raises(ValueError) as err:
        load_model(future)
    message = str(err.value)
    assert "saved by Keras 99.1.0" in message and f"Keras {keras.__version__} is running here" in message
    assert 'pip install -U "keras>=99.1.0"' in message and "make_portable" in message


def test_reference_load_error_does_not_recommend_itself(tmp_path, monkeypatch):
    import helpers.training as training

    def fails(path):
        raise ValueError("Could not load") from TypeError("GlorotUniform.__init__() got an unexpected keyword argument 'input_axes'")

    monkeypatch.setattr(training, "load_model", fails)
    monkeypatch.setattr(keras_files, "saved_by", lambda path: "99.0.0")
    with pytest.raises(ValueError) as err:
        pretrained.load_pretrained()
    message = str(err.value)
    assert "input_axes" in message and "saved by Keras 99.0.0" in message and "Fix: upgrade Keras" in message
    assert "load_pretrained" not in message


@pytest.mark.skipif(not OLD_PYTHON, reason="FER_OLD_KERAS_PYTHON is not set (.ci/run sets it to a TensorFlow 2.18 + Keras 3.8 environment)")
def test_models_load_and_predict_on_the_oldest_supported_keras(tmp_path):
    from helpers.training import save_model

    x = faces(32)
    np.save(tmp_path / "faces.npy", x)
    own = small_course_model()
    save_model(own, tmp_path / "best.keras")
    run = subprocess.run(
        [OLD_PYTHON, str(ROOT / "tests" / "oldkeras_smoke.py"), str(tmp_path / "faces.npy"), str(tmp_path / "out.npz"),
         str(tmp_path / "best.keras")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": ""},
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = np.load(tmp_path / "out.npz")
    assert str(out["keras"]).startswith("3.8"), f"expected Keras 3.8 in {OLD_PYTHON}, got {out['keras']}"
    expected = np.asarray(pretrained.load_pretrained()(x.astype(np.float32)))
    np.testing.assert_allclose(out["reference"], expected, atol=1e-4)
    np.testing.assert_allclose(out["model_0"], np.asarray(own(x.astype(np.float32))), atol=1e-4)
