"""Lesson 05 · Training with Adam: one training step written with ``tf.GradientTape`` (its reference, cases
and wrong answers), checked against what ``model.fit`` does on the same batch.

Kept apart from :mod:`helpers.checks.lesson05` (which imports it) so that each stays one readable module.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import exercise


def _step_net(seed: int, dropout: float = 0.0, batch_norm: bool = True, name: str = "step_net"):
    """A tiny CNN on 8x8 pictures whose initial weights depend only on ``seed`` (seeded initializers), so
    ``keras.models.clone_model`` rebuilds it with the same weights however it was trained since."""
    import keras

    layers, init = keras.layers, lambda s: keras.initializers.GlorotUniform(seed=s)
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(4, 3, padding="same", use_bias=not batch_norm, kernel_initializer=init(seed), dtype="float32")(inputs)
    if batch_norm:
        x = layers.BatchNormalization(momentum=0.9, dtype="float32")(x)  # training=True/False give different outputs
    x = layers.GlobalAveragePooling2D(dtype="float32")(layers.Activation("relu", dtype="float32")(x))
    if dropout:
        x = layers.Dropout(dropout, seed=seed, dtype="float32")(x)
    outputs = layers.Dense(7, activation="softmax", kernel_initializer=init(seed + 1), dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def _step_cases() -> list[tuple]:
    rng = np.random.default_rng(55)

    def batch(n: int) -> tuple[np.ndarray, np.ndarray]:
        return rng.uniform(0, 1, (n, 8, 8, 1)).astype("float32"), np.eye(7, dtype="float32")[rng.integers(0, 7, n)]

    return [(_step_net(1), *batch(16), 1e-2),
            (_step_net(2, batch_norm=False, name="no_batch_norm"), *batch(8), 1e-3),  # hidden: no batch norm
            (_step_net(3, dropout=0.5, name="with_dropout"), *batch(16), 3e-3)]  # hidden: dropout (seeded)


def _fit_one_batch(model: Any, images: np.ndarray, targets: np.ndarray, learning_rate: float) -> tuple[float, list]:
    """What ``fit`` does with this one batch, from ``model``'s initial weights: (its logged loss, the weights after)."""
    import keras

    fresh = keras.models.clone_model(model)  # the seeded initializers: the case's initial weights
    fresh.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.CategoricalCrossentropy(),
                  run_eagerly=True)  # fit's own step, without compiling it into a graph: 3x faster for one batch
    history = fresh.fit(images, targets, batch_size=len(images), epochs=1, shuffle=False, verbose=0)
    return float(history.history["loss"][0]), [np.asarray(w) for w in fresh.get_weights()]


def _verify_step(args: tuple, got: Any) -> str | None:
    import keras

    model = args[0]
    loss, weights = _fit_one_batch(*args)
    if not (isinstance(got, tuple) and len(got) == 2):
        return f"expected a pair (loss, weights after the step), got {type(got).__name__}"
    got_loss, got_weights = got
    try:
        got_loss = float(got_loss)
    except (TypeError, ValueError):
        return f"the loss should be a number (a float), got {type(got_loss).__name__}"
    if not np.isclose(got_loss, loss, rtol=1e-5, atol=1e-6):
        return (f"the loss differs: fit's loss on this batch (before its update) is {loss:.6f}, yours {got_loss:.6f}. "
                "Compute it in training mode, from probabilities, before applying the gradients.")
    if not isinstance(got_weights, (list, tuple)) or len(got_weights) != len(weights):
        return (f"expected the {len(weights)} arrays that model.get_weights() lists (batch norm's moving mean and variance "
                f"included), got {len(got_weights) if isinstance(got_weights, (list, tuple)) else type(got_weights).__name__}")
    initial = keras.models.clone_model(model).get_weights()
    names = [w.path for w in model.weights]
    for i, (want, have, start) in enumerate(zip(weights, got_weights, initial)):
        have = np.asarray(have, dtype=float)
        if have.shape != want.shape:
            return f"weight {i} ({names[i]}) has shape {have.shape}, expected {want.shape}"
        if not np.allclose(have, want, rtol=1e-4, atol=1e-6):
            unchanged = " It is still the initial weight: were the gradients applied?" if np.allclose(have, start) else ""
            return (f"weight {i} ({names[i]}) after the step differs from fit's by up to "
                    f"{np.abs(have - want).max():.3g}.{unchanged}")
    return None


def _wrong_step(apply: bool = True, from_logits: bool = False, training: bool = True, loss_after: bool = False,
                optimizer: str = "adam"):
    def step(model, images, targets, learning_rate):
        import keras
        import tensorflow as tf

        opt = keras.optimizers.Adam(learning_rate) if optimizer == "adam" else keras.optimizers.SGD(learning_rate)
        def loss_fn(y, p):  # from_logits: TensorFlow's op for logits, given probabilities (it softmaxes them again)
            if from_logits:
                return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(y, p))
            return keras.losses.CategoricalCrossentropy()(y, p)

        with tf.GradientTape() as tape:
            loss = loss_fn(targets, model(images, training=training))
        if apply:
            grads = tape.gradient(loss, model.trainable_weights)
            opt.apply_gradients(zip(grads, model.trainable_weights))
        if loss_after:
            loss = loss_fn(targets, model(images, training=training))
        return float(loss), [np.asarray(w) for w in model.get_weights()]

    return step


@exercise(
    cases=_step_cases,
    verify=_verify_step,
    wrong_answers=[_wrong_step(apply=False), _wrong_step(from_logits=True), _wrong_step(training=False),
                   _wrong_step(loss_after=True), _wrong_step(optimizer="sgd")],
    hint="record the forward pass and the loss on a gradient tape (in training mode, as fit runs the model), ask "
         "the tape for the gradient of the loss with respect to each trainable weight, and let an Adam optimizer "
         "at this learning rate apply them. The loss to return is the one computed before the update.",
)
def training_step(model, images: np.ndarray, targets: np.ndarray, learning_rate: float) -> tuple[float, list]:
    """One Adam step on this batch, written out: (the loss before the step as a float, ``model.get_weights()`` after)."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(learning_rate)
    loss_fn = keras.losses.CategoricalCrossentropy()
    with tf.GradientTape() as tape:
        probs = model(images, training=True)  # training mode: batch statistics, dropout on
        loss = loss_fn(targets, probs)
    gradients = tape.gradient(loss, model.trainable_weights)
    optimizer.apply_gradients(zip(gradients, model.trainable_weights))
    return float(loss), [np.asarray(w) for w in model.get_weights()]
