"""Lesson 04 · Designing a CNN: the references, cases and wrong answers of its exercises.

Registered with :func:`helpers.checks.core.exercise` on import (``import helpers.checks`` imports every
lesson); the notebook calls ``helpers.checks.check(answer)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .core import exercise, layer_table, same
from .quiz import Question, questions


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


def _conv_cases() -> list[tuple]:
    rng = np.random.default_rng(44)

    def case(n, h, w, c, kh, kw, f, stride, padding):
        return (rng.normal(size=(n, h, w, c)).astype("float32"), rng.normal(size=(kh, kw, c, f)).astype("float32"),
                rng.normal(size=f).astype("float32"), stride, padding)

    return [case(2, 7, 7, 1, 3, 3, 2, 1, "valid"), case(1, 6, 6, 3, 3, 3, 4, 1, "same"),
            case(2, 9, 7, 2, 3, 3, 3, 2, "valid"),  # hidden: stride 2, a rectangle
            case(1, 8, 8, 3, 2, 2, 4, 2, "same"),  # hidden: "same" with an even kernel
            case(1, 7, 7, 2, 4, 4, 2, 1, "same"),  # hidden: an even kernel, stride 1 (3 rows padded: 1 above, 2 below)
            case(2, 5, 6, 4, 1, 1, 3, 1, "valid"),  # hidden: a 1x1 kernel (mixes channels only)
            case(1, 7, 5, 1, 3, 2, 2, 2, "same")]  # hidden: one channel, a non-square kernel, stride 2


def _pad_same(x: np.ndarray, kh: int, kw: int, stride: int, extra_first: bool = False) -> np.ndarray:
    """Zero-pad height and width as "same" does: the output is ceil(size / stride); an odd number of padded
    rows (columns) puts the extra one below (right), as TensorFlow and Keras do (``extra_first``: above)."""
    pads = []
    for size, k in ((x.shape[1], kh), (x.shape[2], kw)):
        total = max((-(-size // stride) - 1) * stride + k - size, 0)
        first = total - total // 2 if extra_first else total // 2
        pads.append((first, total - first))
    return np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))


def _wrong_conv(flip: bool = False, bias: bool = True, extra_first: bool = False, symmetric: bool = False):
    def conv(x, kernel, b, stride, padding):
        x, kernel = np.asarray(x, float), np.asarray(kernel, float)
        kh, kw = kernel.shape[:2]
        if flip:
            kernel = kernel[::-1, ::-1]  # a true convolution
        if padding == "same":
            x = (np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0))) if symmetric
                 else _pad_same(x, kh, kw, stride, extra_first))
        out_h, out_w = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
        out = np.stack([np.stack([np.tensordot(x[:, i * stride:i * stride + kh, j * stride:j * stride + kw], kernel, 3)
                                  for j in range(out_w)], 1) for i in range(out_h)], 1)
        return out + (np.asarray(b, float) if bias else 0)

    return conv


@exercise(
    cases=_conv_cases,
    compare=lambda expected, got: same(expected, got, rtol=1e-4, atol=1e-5),
    wrong_answers=[_wrong_conv(flip=True), _wrong_conv(bias=False), _wrong_conv(extra_first=True),
                   _wrong_conv(symmetric=True), lambda x, k, b, stride, padding: _wrong_conv()(x, k, b, 1, padding)],
    hint="at each output position take the kernel-sized patch of the (padded) input, multiply it element by "
         "element with one filter's weights across all input channels, sum, and add that filter's bias; move "
         "by the stride. Deep-learning 'convolution' does not flip the kernel. 'same' pads the total needed for "
         "an output of size/stride (rounded up), half before and the rest (one more when odd) after.",
)
def conv2d_forward(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, stride: int, padding: str) -> np.ndarray:
    """A Conv2D forward pass: ``x`` (n, h, w, c), ``kernel`` (kh, kw, c, f), ``bias`` (f,) -> (n, h', w', f)."""
    x, kernel = np.asarray(x, dtype=float), np.asarray(kernel, dtype=float)
    kh, kw, _, filters = kernel.shape
    if padding == "same":
        x = _pad_same(x, kh, kw, stride)
    out_h, out_w = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.empty((len(x), out_h, out_w, filters))
    for i in range(out_h):
        for j in range(out_w):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]  # (n, kh, kw, c)
            out[:, i, j, :] = np.tensordot(patch, kernel, axes=3)  # sum over kh, kw, c for every filter
    return out + np.asarray(bias, dtype=float)


def _pool_cases() -> list[tuple]:
    rng = np.random.default_rng(45)
    return [(rng.normal(size=(2, 6, 6, 3)), 2, 2), (rng.normal(size=(1, 7, 7, 2)), 2, 2),  # 7: the last row is dropped
            (rng.normal(size=(2, 9, 8, 1)), 3, 3),  # hidden: a 3x3 window, a rectangle
            (rng.normal(size=(1, 7, 7, 4)), 3, 2),  # hidden: overlapping windows (3x3, stride 2)
            (-np.abs(rng.normal(size=(1, 4, 4, 2))), 2, 2)]  # hidden: every value negative


def _wrong_pool(reduce=np.max, stride_one: bool = False, across_channels: bool = False, pad: bool = False):
    def pool(x, size, stride):
        x = np.asarray(x, float)
        stride = 1 if stride_one else stride
        if pad:  # "same" instead of "valid"
            x = _pad_same(x, size, size, stride)
        out_h, out_w = (x.shape[1] - size) // stride + 1, (x.shape[2] - size) // stride + 1
        axes = (1, 2, 3) if across_channels else (1, 2)
        out = np.stack([np.stack([reduce(x[:, i * stride:i * stride + size, j * stride:j * stride + size], axis=axes)
                                  for j in range(out_w)], 1) for i in range(out_h)], 1)
        return np.repeat(out[..., None], x.shape[3], -1) if across_channels else out

    return pool


@exercise(
    cases=_pool_cases,
    wrong_answers=[_wrong_pool(np.mean), _wrong_pool(stride_one=True), _wrong_pool(across_channels=True), _wrong_pool(pad=True)],
    hint="like the convolution's patches, with no weights: at each position of a size x size window (moved by "
         "the stride, 'valid': only where the whole window fits) keep the largest value, for each channel on "
         "its own.",
)
def max_pool_forward(x: np.ndarray, size: int, stride: int) -> np.ndarray:
    """A MaxPooling2D forward pass ('valid' padding): ``x`` (n, h, w, c) -> (n, h', w', c)."""
    x = np.asarray(x, dtype=float)
    out_h, out_w = (x.shape[1] - size) // stride + 1, (x.shape[2] - size) // stride + 1
    out = np.empty((len(x), out_h, out_w, x.shape[3]))
    for i in range(out_h):
        for j in range(out_w):
            out[:, i, j, :] = x[:, i * stride:i * stride + size, j * stride:j * stride + size, :].max(axis=(1, 2))
    return out


questions("04", [
    Question("How many parameters does `Conv2D(64, 3)` (with its bias) have on an input with 32 channels?",
             answer=18496, tolerance=0.5,
             why="3 x 3 x 32 weights per filter, times 64 filters = 18,432, plus one bias per filter: 18,496."),
    Question("A 48x48 input goes through `Conv2D(8, 5, strides=2, padding=\"valid\")`. How many pixels wide is its output?",
             answer=22, tolerance=0.5, why="(48 - 5) // 2 + 1 = 22: the 5-wide window fits 22 times moving 2 pixels at a time."),
    Question("What does `keras.layers.Conv2D` compute at each position?",
             options=("the kernel flipped left-right and upside down, multiplied with the patch and summed (a convolution in the "
                      "textbook sense)", "the kernel as it is, multiplied with the patch element by element across all "
                      "input channels, summed, plus the bias (a cross-correlation)", "the kernel multiplied with one input "
                      "channel at a time, giving one output map per input channel"),
             answer="b", why="deep-learning 'convolution' is a cross-correlation: no flip (the weights are learned, so a flip "
                             "would change nothing but the name); every filter sees all input channels."),
    Question("Your network's last stage outputs 6 x 6 x 128 numbers per face. Why does it end with global average pooling "
             "instead of `Flatten()` before the 7-class `Dense` layer?",
             options=("it is faster to train but has the same number of parameters",
                      "it keeps 128 numbers instead of 4,608: about 35x fewer weights in the classifier, which also no longer "
                      "depends on where in the map a feature was found", "Flatten would lose the channel information"),
             answer="b", why="128 x 7 + 7 = 903 weights instead of 4,608 x 7 + 7 = 32,263; averaging each map also "
                             "forgets the position, which is what the classifier should not care about."),
])
