"""Lesson 04 · Designing a CNN: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import exercise, layer_table


@exercise(
    cases=lambda: [(48, 3, 1, "same"), (48, 3, 1, "valid"), (48, 3, 2, "same"), (47, 3, 2, "valid"),
                   (48, 5, 2, "valid"), (7, 7, 1, "valid"), (5, 3, 2, "same"), (6, 2, 2, "valid")],
    wrong_answers=[
        lambda size, kernel, stride, padding: -(-size // stride),  # padding ignored
        lambda size, kernel, stride, padding: size // stride if padding == "same" else (size - kernel) // stride,
        lambda size, kernel, stride, padding: size if padding == "same" else size - kernel + 1,  # stride ignored
    ],
    hint="'valid': count the positions at which the whole kernel fits inside the image, moving stride pixels "
         "at a time; 'same': the image is padded so that only the stride shrinks it (the size divided by the "
         "stride, rounded up).",
)
def conv_output_shape(size: int, kernel: int, stride: int, padding: str) -> int:
    """Output height (= width) of a square convolution or pooling: padding 'same' or 'valid'."""
    if padding == "same":
        return -(-size // stride)
    return (size - kernel) // stride + 1


@exercise(
    cases=lambda: [(3, 1, 32, True), (3, 32, 64, True), (3, 64, 128, False), (5, 3, 16, True), (1, 256, 7, True)],
    wrong_answers=[
        lambda k, c_in, c_out, bias: k * k * c_in * c_out,  # bias forgotten
        lambda k, c_in, c_out, bias: k * k * c_out + (c_out if bias else 0),  # input channels forgotten
        lambda k, c_in, c_out, bias: k * k * c_in * c_out + (c_in if bias else 0),  # one bias per input channel
    ],
    hint="every output channel has a k x k x c_in kernel, plus one bias per output channel when use_bias.",
)
def conv_params(kernel: int, c_in: int, c_out: int, use_bias: bool) -> int:
    """Trainable parameters of a Conv2D with a ``kernel x kernel`` kernel, ``c_in`` -> ``c_out`` channels."""
    return kernel * kernel * c_in * c_out + (c_out if use_bias else 0)


def _layer_token(layer: Any) -> str:
    """A layer as the build_cnn check sees it: its kind and the settings the exercise asks for."""
    kind, config = type(layer).__name__, layer.get_config()
    if kind == "ReLU" or (kind == "Activation" and config.get("activation") == "relu"):
        return "ReLU"
    if kind == "Rescaling":
        return f"Rescaling(scale={float(config['scale']):.6g}, offset={float(config['offset']):.6g})"
    if kind == "Conv2D":
        return (f"Conv2D({config['filters']}, kernel {tuple(config['kernel_size'])}, strides {tuple(config['strides'])}, "
                f"padding {config['padding']}, use_bias={config['use_bias']}, activation {config['activation']})")
    if kind == "MaxPooling2D":
        return f"MaxPooling2D(pool {tuple(config['pool_size'])})"
    if kind == "BatchNormalization":
        return f"BatchNormalization(momentum {float(config['momentum']):.6g})"
    if kind == "Dropout":
        return f"Dropout({float(config['rate']):.6g})"
    if kind == "Dense":
        return f"Dense({config['units']}, activation {config['activation']})"
    return kind


def _network_rows(model: Any) -> list[tuple[str, tuple]]:
    import keras

    return [(_layer_token(l), tuple(l.output.shape[1:])) for l in model.layers if not isinstance(l, keras.layers.InputLayer)]


def _contract_problem(model: Any) -> str | None:
    """None if ``model`` takes raw (batch, 48, 48, 1) pixels 0-255 and returns 7 probabilities per face."""
    faces = np.random.default_rng(4).integers(0, 256, (3, 48, 48, 1)).astype("float32")
    try:
        probs = np.asarray(model(faces, training=False), dtype="float64")
    except Exception as exc:
        return f"the model cannot take raw faces of shape (3, 48, 48, 1): {type(exc).__name__}: {exc}"
    if probs.shape != (3, 7):
        return f"3 faces in gave an output of shape {probs.shape}, not (3, 7): one row of 7 probabilities per face"
    if (probs < 0).any() or not np.allclose(probs.sum(axis=1), 1, atol=1e-4):
        return ("the outputs are not probabilities (rows sum to " + ", ".join(f"{v:.3g}" for v in probs.sum(axis=1))
                + "): the last layer needs activation='softmax'")
    return None


def _verify_network(args: tuple, got: Any) -> str | None:
    """Compare the student's network with the reference layer by layer; name the first difference."""
    import keras

    if not isinstance(got, keras.Model):
        return f"expected a keras.Model, got {type(got).__name__}"
    want, have = _network_rows(build_cnn(*args)), _network_rows(got)
    for i, (w, h) in enumerate(zip(want, have), 1):
        if w != h:
            return (f"layer {i} differs (after the input):\n    expected: {w[0]} -> output {w[1]}\n"
                    f"    got:      {h[0]} -> output {h[1]}\n  your layers:\n" + "\n".join(f"    {row}" for row in layer_table(got)))
    if len(want) != len(have):
        extra = (f"layer {len(want) + 1} should not be there: {have[len(want)][0]}" if len(have) > len(want)
                 else f"missing from layer {len(have) + 1} on: " + ", ".join(w[0] for w in want[len(have):]))
        return f"{len(have)} layers, expected {len(want)}: {extra}"
    reference = build_cnn(*args).count_params()
    if got.count_params() != reference:
        return f"{got.count_params():,} parameters, expected {reference:,}"
    return _contract_problem(got)


def _wrong_net(bias: bool = False, rescale: bool = True, flatten: bool = False, softmax: bool = True,
               classic_order: bool = False, momentum: float = 0.9):
    def build(widths, dropout):
        import keras
        from keras import layers

        inputs = keras.Input((48, 48, 1))
        x = layers.Rescaling(1 / 255)(inputs) if rescale else inputs
        for width in widths:
            x = layers.Conv2D(width, 3, padding="same", use_bias=bias)(x)
            if classic_order:
                x = layers.MaxPooling2D(2)(layers.Activation("relu")(layers.BatchNormalization(momentum=momentum)(x)))
            else:
                x = layers.Activation("relu")(layers.BatchNormalization(momentum=momentum)(layers.MaxPooling2D(2)(x)))
        x = layers.Flatten()(x) if flatten else layers.GlobalAveragePooling2D()(x)
        x = layers.Dropout(dropout)(x)
        return keras.Model(inputs, layers.Dense(7, activation="softmax" if softmax else None)(x))

    return build


@exercise(
    cases=lambda: [((32, 64, 128), 0.3), ((8, 16), 0.5), ((16, 32, 64, 128), 0.2)],
    verify=_verify_network,
    wrong_answers=[_wrong_net(rescale=False), _wrong_net(bias=True), _wrong_net(flatten=True), _wrong_net(softmax=False),
                   _wrong_net(classic_order=True), _wrong_net(momentum=0.99)],
    hint="follow the exercise text's order: the rescaling inside the model first; then per width one stage of "
         "convolution (no bias: the batch norm after it has its own offset), pooling, batch normalization and "
         "ReLU; then global average pooling, dropout and a softmax over the 7 classes. The failure message "
         "names the first layer that differs.",
)
def build_cnn(widths: tuple, dropout: float):
    """Your CNN: raw 48x48x1 pixels (0-255) in, 7 softmax probabilities out (see the lesson for the layers)."""
    from ..models import build_workshop_cnn

    return build_workshop_cnn(augment=None, widths=widths, dropout=dropout, name="my_cnn")


@exercise(
    cases=lambda: [((32, 64, 128),), ((8,),), ((16, 32, 64, 128),), ((64, 64),)],
    wrong_answers=[
        lambda widths: sum(9 * c * w for c, w in zip((1, *widths), widths)) + widths[-1] * 7 + 7,  # batch norm forgotten
        lambda widths: sum(9 * c * w + 2 * w for c, w in zip((1, *widths), widths)) + widths[-1] * 7 + 7,  # only gamma, beta
        lambda widths: sum(9 * c * w + 4 * w for c, w in zip((1, *widths), widths)) + widths[-1] * 7,  # classifier bias
        lambda widths: sum(9 * c * w + 5 * w for c, w in zip((1, *widths), widths)) + widths[-1] * 7 + 7,  # conv bias too
    ],
    hint="add up the stages: a convolution has one 3x3 kernel per (input channel, output channel) pair and no "
         "bias; a batch norm keeps 4 numbers per channel (gamma, beta, moving mean, moving variance); the "
         "first stage's input has 1 channel, the next ones the previous width; the classifier has a weight per"
         " (last width, class) pair plus a bias per class. Pooling, ReLU, dropout and rescaling have none.",
)
def cnn_params(widths: tuple) -> int:
    """Parameters (trainable and not, as count_params counts them) of build_cnn(widths, dropout)."""
    total, c_in = 0, 1
    for width in widths:
        total += 3 * 3 * c_in * width + 4 * width
        c_in = width
    return total + c_in * 7 + 7
