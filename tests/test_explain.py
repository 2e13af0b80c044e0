"""helpers.explain: Grad-CAM finds a planted feature and works on every course model."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from helpers import explain, models


def _square_detector():
    """A hand-built CNN: channel 0 fires on bright patches (class 0, 'angry'), channel 1 on
    dark patches (class 1, 'disgust'); the other classes ignore the image."""
    import keras

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    conv = keras.layers.Conv2D(2, 3, padding="same", activation="relu", name="detect")
    x = keras.layers.GlobalAveragePooling2D()(conv(x))
    dense = keras.layers.Dense(7, activation="softmax", name="probabilities")
    model = keras.Model(inputs, dense(x))
    kernel = np.zeros((3, 3, 1, 2), np.float32)
    kernel[..., 0, 0], kernel[..., 0, 1] = 1 / 9, -1 / 9
    conv.set_weights([kernel, np.array([-0.7, 0.2], np.float32)])  # bright: mean > 0.7; dark: mean < 0.2
    weights = np.zeros((2, 7), np.float32)
    weights[0, 0], weights[1, 1] = 20, 20
    dense.set_weights([weights, np.zeros(7, np.float32)])
    return model


def _planted_face():
    rng = np.random.default_rng(0)
    face = np.clip(rng.normal(115, 10, (48, 48, 1)), 0, 255)  # mid-grey noise
    face[3:11, 3:11] = 255  # bright square, top left
    face[36:44, 36:44] = 0  # dark square, bottom right
    return face.astype(np.uint8)


def _peak(heat):
    return np.unravel_index(np.argmax(heat), heat.shape)


def test_gradcam_highlights_the_planted_square_for_the_chosen_class():
    model, face = _square_detector(), _planted_face()
    heat = explain.gradcam(model, face, class_index=0)
    assert heat.shape == (48, 48) and heat.dtype == np.float32
    assert heat.min() >= 0 and heat.max() == pytest.approx(1)
    r, c = _peak(heat)
    assert 2 <= r <= 11 and 2 <= c <= 11
    assert heat[3:11, 3:11].mean() > 5 * heat[20:30, 20:30].mean() + 1e-3
    assert heat[36:44, 36:44].max() < 0.1  # the dark square does not count for class 0

    dark = explain.gradcam(model, face, class_index=1)
    r, c = _peak(dark)
    assert 35 <= r <= 44 and 35 <= c <= 44
    assert dark[3:11, 3:11].max() < 0.1


def test_gradcam_defaults_to_the_predicted_class_and_accepts_a_layer_name_and_batches():
    model, face = _square_detector(), _planted_face()
    assert np.argmax(model.predict(face[None].astype("float32"), verbose=0)) == 0
    np.testing.assert_allclose(explain.gradcam(model, face), explain.gradcam(model, face, 0, layer_name="detect"))
    batch = np.stack([face, face[::-1, ::-1]])
    heat = explain.gradcam(model, batch, class_index=[0, 0])
    assert heat.shape == (2, 48, 48)
    np.testing.assert_allclose(heat[1], heat[0][::-1, ::-1], atol=1e-5)  # the heatmap follows the square
    with pytest.raises(ValueError, match="No layer called"):
        explain.gradcam(model, face, layer_name="nope")


def test_gradcam_through_the_flip_tta_wrapper_explains_the_inner_network():
    model, face = _square_detector(), _planted_face()
    wrapped = models.with_flip_tta(model)
    np.testing.assert_allclose(explain.gradcam(wrapped, face, 0), explain.gradcam(model, face, 0), atol=1e-6)
    assert _peak(explain.gradcam(wrapped, face, 0, layer_name="detect"))[0] < 12


@pytest.mark.parametrize("kind", sorted(models.BUILDERS))
def test_gradcam_works_on_every_builder_and_its_wrappers(kind):
    model = models.build_model(kind, name=f"{kind}_a")
    faces = np.random.default_rng(1).integers(0, 256, (2, 48, 48, 1)).astype(np.uint8)
    ensemble = models.ensemble([model, models.build_baseline_cnn(name="other")])
    assert explain.unwrap(ensemble) is model, "an ensemble is explained through its first network"
    assert explain.networks_in(ensemble)[0] is model and len(explain.networks_in(ensemble)) == 2
    assert explain.networks_in(models.with_flip_tta(model)) == [model], "one network, called twice"
    for m in (model, models.with_flip_tta(model), ensemble):
        heat = explain.gradcam(m, faces, class_index=4)
        assert heat.shape == (2, 48, 48)
        assert np.isfinite(heat).all() and heat.min() >= 0 and heat.max() <= 1
    layer = explain.last_feature_map_layer(explain.unwrap(models.with_flip_tta(model)))
    assert len(layer.output.shape) == 4 and layer.output.shape[1] > 1
    assert explain.embeddings(models.with_flip_tta(model), faces).shape[0] == 2


def test_gradcam_refuses_a_model_without_convolutions():
    import keras

    inputs = keras.Input((48, 48, 1))
    model = keras.Model(inputs, keras.layers.Dense(7, activation="softmax")(keras.layers.Flatten()(inputs)))
    with pytest.raises(ValueError, match="no convolutional layer"):
        explain.gradcam(model, np.zeros((48, 48, 1)))


def test_show_gradcam_and_overlay():
    import matplotlib.pyplot as plt

    model, face = _square_detector(), _planted_face()
    heat = explain.show_gradcam(model, face[None], labels=[0])
    assert heat.shape == (1, 48, 48)
    rgb = explain.overlay(face, heat[0])
    assert rgb.shape == (48, 48, 3) and 0 <= rgb.min() and rgb.max() <= 1
    plt.close("all")
