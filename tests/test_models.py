"""Every model builder meets the course's contract; augmentation is active only in training."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import CLASS_NAMES

BUILDERS = ["baseline", "vgg", "compact", "workshop"]
FOLDABLE = ["baseline", "vgg", "compact"]  # the workshop CNN pools between conv and batch norm: nothing to fold


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(6, 48, 48, 1), dtype=np.uint8)


@pytest.fixture(scope="module", params=BUILDERS)
def model(request):
    from helpers import models

    return models.build_model(request.param)


def test_contract_raw_pixels_in_seven_probabilities_out(model, faces):
    assert tuple(model.input_shape) == (None, 48, 48, 1)
    probs = model.predict(faces, verbose=0)  # uint8 0-255, no preprocessing outside the model
    assert probs.shape == (len(faces), len(CLASS_NAMES))
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    names = [layer.name for layer in model.layers]
    assert "rescale" in names, "rescaling must be a layer inside the model"


def test_deterministic_at_inference(model, faces):
    import keras

    first = model.predict(faces, verbose=0)
    np.testing.assert_array_equal(first, model.predict(faces, verbose=0))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(faces.astype("float32"))), first, rtol=1e-5, atol=1e-6)


def test_augmentation_only_in_training(faces):
    import keras

    from helpers.augmentation import Augmentation, augmentation_block

    block = augmentation_block(seed=1)
    assert isinstance(block, Augmentation)
    x = faces.astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(block(x)), x)  # default: inference
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(block(x, training=False)), x)
    assert not np.allclose(keras.ops.convert_to_numpy(block(x, training=True)), x)


def test_seeded_transforms_are_independent():
    """A seeded block must not flip exactly the faces it also darkens (same seed = same draws)."""
    import keras

    from helpers.augmentation import augmentation_block

    x = np.full((2000, 48, 48, 1), 60.0, "float32")
    x[:, :, 24:] = 160.0  # dark left half, bright right half: a flip swaps them
    block = augmentation_block(rotation=0, zoom=0, translation=0, contrast=0, brightness=0.1, seed=7)
    out = keras.ops.convert_to_numpy(block(x, training=True))
    flipped = out[:, :, :24].mean(axis=(1, 2, 3)) > out[:, :, 24:].mean(axis=(1, 2, 3))
    darker = out.mean(axis=(1, 2, 3)) < x.mean(axis=(1, 2, 3))
    assert 0.4 < flipped.mean() < 0.6 and 0.4 < darker.mean() < 0.6
    assert abs(np.corrcoef(flipped, darker)[0, 1]) < 0.1


def test_builder_with_augmentation_differs_only_in_training(faces):
    import keras

    from helpers import models

    model = models.build_vgg_cnn(augment=True, widths=(8,), dense=0, dropout=0.0, block_dropout=0.0)
    x = faces.astype("float32")
    inference = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_array_equal(inference, keras.ops.convert_to_numpy(model(x)))
    # batch norm also changes in training; compare against training without augmentation
    plain = models.build_vgg_cnn(augment=False, widths=(8,), dense=0, dropout=0.0, block_dropout=0.0)
    plain.set_weights(model.get_weights())
    assert not np.allclose(keras.ops.convert_to_numpy(model(x, training=True)),
                           keras.ops.convert_to_numpy(plain(x, training=True)), atol=1e-6)


def test_unknown_builder_is_a_clear_error():
    from helpers import models

    with pytest.raises(ValueError, match="baseline"):
        models.build_model("resnet9000")


def test_multiply_adds_from_the_layers():
    import keras

    from helpers import models

    inputs = keras.Input((48, 48, 1))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)  # 48*48*9*1*8
    x = keras.layers.SeparableConv2D(16, 3, strides=2, padding="same")(x)  # 24*24*(9*8 + 8*16)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(7)(x)  # 16*7
    model = keras.Model(inputs, outputs)
    assert models.multiply_adds(model) == 48 * 48 * 9 * 8 + 24 * 24 * (9 * 8 + 8 * 16) + 16 * 7
    counts = {k: models.multiply_adds(b()) for k, b in models.BUILDERS.items()}
    assert counts["compact"] < counts["vgg"] and counts["baseline"] < counts["vgg"]


def test_show_transforms_has_a_row_per_transform_and_the_wrong_ones(faces):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.augmentation import show_transforms, transform_gallery

    names = list(transform_gallery())
    assert "vertical flip (wrong!)" in names and "strong crop (wrong!)" in names and names[0] == "original"
    fig = show_transforms(faces[:3], labels=[0, 1, 2])
    assert len(fig.axes) == 3 * len(names)
    plt.close(fig)


@pytest.mark.parametrize("kind", FOLDABLE)
def test_folding_batch_norm_keeps_the_outputs(kind, faces):
    import keras

    from helpers import models

    model = models.build_model(kind)  # with augmentation and dropout, which serving leaves out
    data = np.random.default_rng(3).integers(0, 256, (64, 48, 48, 1)).astype("float32")
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(data, keras.utils.to_categorical(np.arange(64) % 7, 7), epochs=1, batch_size=16, verbose=0)  # BN stats move
    served = models.fold_batch_norm(model)
    assert not any(isinstance(l, (keras.layers.BatchNormalization, keras.layers.Dropout)) for l in served.layers)
    np.testing.assert_allclose(served.predict(faces, verbose=0), model.predict(faces, verbose=0), atol=1e-5)
    other = models.fold_batch_norm(models.build_baseline_cnn(name="other"), name="other_served")
    wrapped = models.ensemble([served, other])
    np.testing.assert_allclose(wrapped.predict(faces, verbose=0),
                               (served.predict(faces, verbose=0) + other.predict(faces, verbose=0)) / 2, atol=1e-6)
    with pytest.raises(ValueError, match="single chain"):
        models.fold_batch_norm(models.with_flip_tta(model))


@pytest.mark.parametrize("kind", FOLDABLE)
def test_a_folded_model_unfolds_into_a_trainable_network(kind, faces):
    import keras

    from helpers import models

    model = models.build_model(kind)
    data = np.random.default_rng(4).integers(0, 256, (64, 48, 48, 1)).astype("float32")
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(data, keras.utils.to_categorical(np.arange(64) % 7, 7), epochs=1, batch_size=16, verbose=0)
    served = models.fold_batch_norm(model)

    again = models.build_model(kind)  # fresh weights, batch norms included: trainable
    models.load_folded_weights(again, served, data)
    np.testing.assert_allclose(again.predict(faces, verbose=0), model.predict(faces, verbose=0), atol=1e-5)
    again.compile(optimizer="adam", loss="categorical_crossentropy")
    again.fit(data, keras.utils.to_categorical(np.arange(64) % 7, 7), epochs=1, batch_size=16, verbose=0)

    other = "compact" if kind != "compact" else "vgg"
    with pytest.raises(ValueError, match="not folded from a network built like|not the same architecture|shape"):
        models.load_folded_weights(models.build_model(other), served, data)


def test_a_folded_model_unfolds_into_a_mixed_precision_network(faces):
    import keras

    from helpers import models

    model = models.build_model("compact")
    served = models.fold_batch_norm(model)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # as `python -m tools.reference train --precision mixed_bfloat16`
    try:
        again = models.build_model("compact")
        models.load_folded_weights(again, served, faces)  # within bfloat16's rounding of the served outputs
        assert again.dtype_policy.compute_dtype == "bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    np.testing.assert_allclose(np.asarray(again.predict(faces, verbose=0), "float32"),
                               served.predict(faces, verbose=0), atol=5e-2)


def test_an_unfolded_network_trains_from_where_the_served_one_is():
    import keras
    from keras import layers

    from helpers import models

    def chain(kept: bool):  # no dropout, so training mode differs from inference only in the batch norms
        relu_block = [layers.Conv2D(8, 3, activation="relu", name="conv_relu"), layers.BatchNormalization(name="kept_bn")]
        return keras.Sequential([
            keras.Input((48, 48, 1)), layers.Rescaling(1 / 255, name="rescale"),
            layers.Conv2D(8, 3, use_bias=False, name="conv"), layers.BatchNormalization(name="conv_bn"),
            layers.Activation("relu", name="relu"), *(relu_block if kept else []),
            layers.GlobalAveragePooling2D(name="pool"), layers.Dense(16, name="dense"),
            layers.BatchNormalization(name="dense_bn"), layers.Dense(7, activation="softmax", name="probabilities")])

    rng = np.random.default_rng(5)
    faces = rng.integers(0, 256, (64, 48, 48, 1)).astype("float32")
    for kept in (True, False):
        model = chain(kept)
        for layer in model.layers:  # batch norms far from the identity, one gamma negative
            if isinstance(layer, layers.BatchNormalization):
                gamma, beta, mean, var = layer.get_weights()
                gamma = rng.uniform(0.5, 2.0, gamma.shape).astype("float32")
                gamma[0] = -gamma[0]
                layer.set_weights([gamma, rng.normal(0, 1, beta.shape).astype("float32"),
                                   rng.normal(0, 1, mean.shape).astype("float32"),
                                   rng.uniform(0.5, 2, var.shape).astype("float32")])
        served = models.fold_batch_norm(model)
        assert ("kept_bn" in [l.name for l in served.layers]) == kept  # after a conv with its own ReLU: not folded

        again = chain(kept)
        models.load_folded_weights(again, served, faces)
        expected = served.predict(faces, verbose=0)
        np.testing.assert_allclose(again.predict(faces, verbose=0), expected, atol=1e-5)
    # With every batch norm folded, training mode (the batch's statistics) on the faces it was rebuilt
    # from gives the served model's outputs too: training goes on from where the served model is,
    # instead of from batch norms that start over.
    np.testing.assert_allclose(np.asarray(again(faces, training=True)), expected, atol=1e-4)


def test_folding_copies_a_sequential_model_and_keeps_activations(faces):
    import keras
    from keras import layers

    from helpers import models

    model = keras.Sequential([keras.Input((48, 48, 1)), layers.Rescaling(1 / 255),
                              layers.Conv2D(8, 3, activation="relu"), layers.BatchNormalization(),
                              layers.GlobalAveragePooling2D(), layers.Dense(7, activation="softmax")])
    model.layers[2].set_weights([w + 0.5 for w in model.layers[2].get_weights()])  # BN far from identity
    served = models.fold_batch_norm(model)
    # the conv has its own ReLU, so its batch norm cannot be folded: both are copied, outputs unchanged
    assert any(isinstance(l, layers.BatchNormalization) for l in served.layers)
    assert any(isinstance(l, layers.Rescaling) for l in served.layers), "the first layer of a Sequential is kept"
    np.testing.assert_allclose(served.predict(faces, verbose=0), model.predict(faces, verbose=0), atol=1e-5)


def test_workshop_cnn_is_the_lesson_04_exercise_with_a_flip(faces):
    """Lesson 05 trains the student's lesson-04 network: the builder is that network plus a flip in front."""
    from helpers import checks, models

    with_flip = models.build_workshop_cnn(widths=(8, 16), dropout=0.2)
    assert [l.name for l in with_flip.layers][1] == "flip"
    assert checks.run_check(lambda w, d: models.build_workshop_cnn(augment=None, widths=w, dropout=d), "build_cnn").passed
    plain = models.build_workshop_cnn(augment=None, widths=(8, 16), dropout=0.2)
    assert with_flip.count_params() == plain.count_params()
