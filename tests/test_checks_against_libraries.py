"""The references of lessons 04-06's implement-then-compare exercises agree with the libraries the
notebooks compare them with (Keras's Conv2D and MaxPooling2D, ``fit``, :func:`helpers.explain.gradcam`,
scikit-learn's precision-recall curve), and right answers written differently pass. Tiny inputs: seconds."""

from __future__ import annotations

import numpy as np
import pytest

import helpers.checks as checks


def test_conv_and_pool_references_equal_keras():
    import keras

    conv = checks.EXERCISES["conv2d_forward"]
    for x, kernel, bias, stride, padding in conv.cases():
        layer = keras.layers.Conv2D(kernel.shape[-1], kernel.shape[:2], strides=stride, padding=padding)
        layer.build((None, *x.shape[1:]))
        layer.set_weights([kernel, bias])
        assert np.allclose(conv.reference(x, kernel, bias, stride, padding), keras.ops.convert_to_numpy(layer(x)), atol=1e-5)
    pool = checks.EXERCISES["max_pool_forward"]
    for x, size, stride in pool.cases():
        keras_pooled = keras.ops.convert_to_numpy(keras.layers.MaxPooling2D(size, strides=stride)(x.astype("float32")))
        assert np.allclose(pool.reference(x, size, stride), keras_pooled, atol=1e-6)


def test_a_convolution_written_with_broadcasting_passes():
    def conv2d_forward(x, kernel, bias, stride, padding):  # one patch tensor and einsum, no explicit loop over filters
        kh, kw = kernel.shape[:2]
        if padding == "same":
            h, w = x.shape[1:3]
            ph = max((-(-h // stride) - 1) * stride + kh - h, 0)
            pw = max((-(-w // stride) - 1) * stride + kw - w, 0)
            x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::stride, ::stride]
        return np.einsum("nijcab,abcf->nijf", windows, kernel) + bias

    assert checks.run_check(conv2d_forward).passed


def test_training_step_reference_equals_fit_and_another_right_form_passes():
    from helpers.checks.lesson05_step import _fit_one_batch

    step = checks.EXERCISES["training_step"]
    model, images, targets, lr = step.cases()[0]
    loss, weights = _fit_one_batch(model, images, targets, lr)
    got_loss, got_weights = step.reference(model, images, targets, lr)
    assert np.isclose(got_loss, loss, rtol=1e-5) and all(np.allclose(a, b, atol=1e-6) for a, b in zip(got_weights, weights))

    def training_step(model, images, targets, learning_rate):  # the loss function, optimizer.apply, w.numpy()
        import keras
        import tensorflow as tf

        optimizer = keras.optimizers.Adam(learning_rate)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(keras.losses.categorical_crossentropy(targets, model(images, training=True)))
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        return loss.numpy().item(), [w.numpy() for w in model.weights]

    assert checks.run_check(training_step).passed


def test_grad_cam_reference_scaled_up_equals_explain_gradcam():
    cv2 = pytest.importorskip("cv2")
    from helpers import explain

    cam = checks.EXERCISES["grad_cam"]
    for model, images, class_index, layer_name in cam.cases():
        maps = cam.reference(model, images, class_index, layer_name)
        up = np.stack([cv2.resize(m.astype(np.float32), (48, 48), interpolation=cv2.INTER_LINEAR) for m in maps])
        up = up / np.maximum(up.max(axis=(1, 2), keepdims=True), 1e-12)
        assert np.allclose(up, explain.gradcam(model, images, class_index=class_index, layer_name=layer_name), atol=1e-5)


def test_threshold_reference_meets_the_requirement_on_a_real_curve():
    from sklearn.metrics import precision_recall_curve

    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.2
    scores = rng.normal(0, 1, 500) + 2 * y
    precision, recall, thresholds = precision_recall_curve(y, scores)
    t = checks.EXERCISES["choose_threshold"].reference(precision, recall, thresholds, 0.7)
    said = scores >= t
    assert y[said].mean() >= 0.7
    better = [s for s in np.unique(scores) if s < t and y[scores >= s].mean() >= 0.7]
    assert not better or max(y[scores >= s].sum() for s in better) <= y[said].sum()  # no threshold finds more at 0.7
