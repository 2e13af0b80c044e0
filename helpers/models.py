"""Model builders. Every model follows the course's contract:

* input: raw pixels, shape ``(batch, 48, 48, 1)``, values 0-255 (uint8 or float);
* output: 7 softmax probabilities in :data:`helpers.CLASS_NAMES` order;
* preprocessing (``Rescaling``) and augmentation (active only in training) are layers inside.

Four builders: :func:`build_workshop_cnn` (the network students write in lesson 04; learns within
minutes on a laptop CPU), :func:`build_baseline_cnn` (no batch norm),
:func:`build_vgg_cnn` (stacked 3x3 convolutions with batch norm and dropout; the reference
model), :func:`build_compact_cnn` (depthwise-separable convolutions: fewer parameters and
multiply-adds for CPUs).
"""

from __future__ import annotations

from typing import Sequence

import keras

from .augmentation import augmentation_block
from .course import IMAGE_SIZE, NUM_CLASSES

INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)


def _stem(augment):
    """Input -> (augmentation) -> Rescaling(1/255): the part every model shares."""
    from keras import layers

    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = inputs
    if augment is True:
        augment = augmentation_block()
    if augment:
        x = augment(x)
    x = layers.Rescaling(1.0 / 255, name="rescale")(x)
    return inputs, x


def _head(x, dense: int, dropout: float, bn_momentum: float = 0.99):
    from keras import layers

    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dense:
        x = layers.Dropout(dropout / 2, name="head_dropout_in")(x) if dropout else x
        x = layers.Dense(dense, use_bias=False, name="head_dense")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name="head_bn")(x)
        x = layers.Activation("relu", name="head_relu")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    return layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)


def build_baseline_cnn(augment=None, filters: Sequence[int] = (32, 64, 128), name: str = "baseline_cnn") -> keras.Model:
    """A small CNN: one 3x3 conv + ReLU + 2x2 max-pool per stage, global pooling, softmax.

    ``augment``: ``None``/``False`` for none, ``True`` for the default block, or a layer.
    """
    from keras import layers

    inputs, x = _stem(augment)
    for i, f in enumerate(filters, 1):
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D(name=f"pool{i}")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def _conv_bn_relu(x, filters: int, name: str, separable: bool = False, bn_momentum: float = 0.99):
    from keras import layers

    conv = layers.SeparableConv2D if separable else layers.Conv2D
    x = conv(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x)


def build_vgg_cnn(
    augment=True,
    widths: Sequence[int] = (32, 64, 128, 256),
    convs_per_block: Sequence[int] | int = 2,
    dense: int = 256,
    dropout: float = 0.4,
    block_dropout: float = 0.1,
    name: str = "vgg_cnn",
    bn_momentum: float = 0.99,
) -> keras.Model:
    """VGG-style CNN: blocks of 3x3 conv + batch norm + ReLU, 2x2 max-pool, spatial dropout.

    The default (about 1.24M parameters, ~120M multiply-adds per face) is the course's workhorse;
    the shipped reference network is its default setting (``python -m tools.reference train --recipe``
    trains others). ``bn_momentum``: the batch norms' momentum (Keras' default 0.99; 0.9 suits runs of
    a few hundred steps, see :func:`build_workshop_cnn`).
    """
    from keras import layers

    inputs, x = _stem(augment)
    reps = [convs_per_block] * len(widths) if isinstance(convs_per_block, int) else list(convs_per_block)
    for b, (width, n) in enumerate(zip(widths, reps), 1):
        for c in range(1, n + 1):
            x = _conv_bn_relu(x, width, f"block{b}_{c}", bn_momentum=bn_momentum)
        x = layers.MaxPooling2D(name=f"block{b}_pool")(x)
        if block_dropout:
            x = layers.SpatialDropout2D(block_dropout, name=f"block{b}_dropout")(x)
    return keras.Model(inputs, _head(x, dense, dropout, bn_momentum), name=name)


def build_compact_cnn(
    augment=True,
    widths: Sequence[int] = (32, 64, 128, 256),
    dense: int = 128,
    dropout: float = 0.3,
    name: str = "compact_cnn",
    bn_momentum: float = 0.99,
) -> keras.Model:
    """A CPU-friendly CNN: one full conv, then depthwise-separable conv blocks (MobileNet-style).

    ``bn_momentum`` as in :func:`build_vgg_cnn`.
    """
    from keras import layers

    inputs, x = _stem(augment)
    x = _conv_bn_relu(x, widths[0], "stem", bn_momentum=bn_momentum)
    for b, width in enumerate(widths, 1):
        x = _conv_bn_relu(x, width, f"block{b}_1", separable=True, bn_momentum=bn_momentum)
        x = _conv_bn_relu(x, width, f"block{b}_2", separable=True, bn_momentum=bn_momentum)
        x = layers.MaxPooling2D(name=f"block{b}_pool")(x)
    return keras.Model(inputs, _head(x, dense, dropout, bn_momentum), name=name)


def flip_only() -> keras.layers.Layer:
    """The cheapest augmentation that keeps an expression: random horizontal flips only (training only)."""
    return augmentation_block(flip=True, rotation=0, zoom=0, translation=0, contrast=0, brightness=0, name="flip")


def build_workshop_cnn(
    augment="flip",
    widths: Sequence[int] = (32, 64, 128),
    dropout: float = 0.3,
    name: str = "workshop_cnn",
    bn_momentum: float = 0.9,
) -> keras.Model:
    """A CNN that visibly learns FER2013 within minutes on a laptop CPU (workshop mode).

    Per stage: a 3x3 convolution (no bias), 2x2 max-pooling, batch norm, ReLU. Pooling *before*
    the batch norm gives nearly the same network (max-pooling commutes with a ReLU exactly, and with
    a batch norm whose scale is positive) at a quarter of the batch norm's and ReLU's memory traffic,
    which is what costs time on a CPU (1.35-1.6x the training speed of the usual order, measured:
    benchmarks/RESULTS.md). Then global average pooling, dropout and the 7-way softmax. This is the
    network students write in lesson 04 (``helpers.checks`` exercise ``build_cnn``), plus the flip.

    ``bn_momentum`` 0.9 (PyTorch's default; Keras' is 0.99): the running mean and variance that the
    batch norms use at inference follow about the last 10 batches instead of the last 100. A workshop
    run is a few hundred steps, and its weights move fast: with 0.99 the running statistics lag the
    weights, and validation (inference mode) stays near chance while training accuracy rises
    (measured: one batch learned by heart in 100 steps scored 19 % on itself in inference mode with
    0.99, 100 % with 0.9 after 60 steps; data/EXPERIMENTS.md).

    ``augment``: ``"flip"`` (default: horizontal flips only, nearly free), ``True`` (the course's
    full block), ``None``/``False`` (none) or a layer. About 94k parameters with the defaults.
    """
    from keras import layers

    inputs, x = _stem(flip_only() if augment == "flip" else augment)
    for i, width in enumerate(widths, 1):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.MaxPooling2D(name=f"pool{i}")(x)
        x = layers.BatchNormalization(momentum=bn_momentum, name=f"bn{i}")(x)
        x = layers.Activation("relu", name=f"relu{i}")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


BUILDERS = {"baseline": build_baseline_cnn, "vgg": build_vgg_cnn, "compact": build_compact_cnn,
            "workshop": build_workshop_cnn}


def build_model(kind: str, **kwargs) -> keras.Model:
    """Build one of :data:`BUILDERS` by name (``"baseline"``, ``"vgg"``, ``"compact"``)."""
    if kind not in BUILDERS:
        raise ValueError(f"Unknown model kind {kind!r}; choose one of {sorted(BUILDERS)}")
    return BUILDERS[kind](**kwargs)


# --------------------------------------------------------------------------- test-time augmentation


@keras.saving.register_keras_serializable(package="fer_course", name="HorizontalFlip")
class HorizontalFlip(keras.layers.Layer):
    """Mirror images left-right (deterministic; used for test-time augmentation)."""

    def call(self, inputs):
        return keras.ops.flip(inputs, axis=2)

    def compute_output_shape(self, input_shape):
        return input_shape


def with_flip_tta(model: keras.Model, name: str | None = None) -> keras.Model:
    """Wrap ``model`` so it averages its probabilities on the image and on its mirror image.

    The result follows the same contract, so it can be saved and served like any course model.
    """
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    flipped = HorizontalFlip(name="mirror")(inputs)
    averaged = keras.layers.Average(name="tta_average")([model(inputs), model(flipped)])
    return keras.Model(inputs, averaged, name=name or f"{model.name}_flip_tta")


def without_flip_tta(model: keras.Model) -> keras.Model:
    """The network inside a :func:`with_flip_tta` wrapper, which costs half as much per face; any
    other model is returned unchanged.

    The network follows the same contract (raw 48x48x1 pixels 0-255 in, 7 probabilities out): the
    wrapper only averages its answers on the face and on the mirrored face. Ensembles and models
    with flips of their own elsewhere are returned as they are.
    """
    inner = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    flips = [layer for layer in model.layers if isinstance(layer, HorizontalFlip)]
    averages = [layer for layer in model.layers if isinstance(layer, keras.layers.Average)]
    if len(inner) == 1 and len(flips) == 1 and len(averages) == 1 and len(model.layers) == 4:
        return inner[0]
    return model


def ensemble(models: Sequence[keras.Model], name: str = "ensemble") -> keras.Model:
    """Average the probabilities of several course models (same contract in and out)."""
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    outputs = [m(inputs) for m in models]
    out = outputs[0] if len(outputs) == 1 else keras.layers.Average(name="ensemble_average")(outputs)
    return keras.Model(inputs, out, name=name)


def _foldable(layer, after) -> bool:
    """Whether the batch norm ``after`` can be folded into ``layer`` (a linear convolution or dense layer)."""
    from keras import layers

    return (isinstance(layer, (layers.Conv2D, layers.SeparableConv2D, layers.Dense))
            and layer.get_config().get("activation") == "linear"
            and isinstance(after, layers.BatchNormalization) and after.center and after.scale
            and after.axis in (-1, len(after.input.shape) - 1))


def fold_batch_norm(model: keras.Model, name: str | None = None) -> keras.Model:
    """A float32 serving copy of a trained chain-shaped model (the course's builders): same outputs, faster.

    At inference a batch norm is a fixed per-channel ``x * s + t`` with
    ``s = gamma / sqrt(variance + epsilon)`` and ``t = beta - mean * s``, so it can be folded into
    the convolution or dense layer before it (kernel times ``s``, bias ``t``) when that layer has
    no activation of its own. Layers that do nothing at inference (augmentation, dropout) are left
    out; every other layer is copied. To train the copy further, load it into a freshly built
    network with :func:`load_folded_weights`. Give each copy its own ``name`` when several go into one model (an ensemble).

    Raises:
        ValueError: ``model`` is not a single chain of layers (e.g. a TTA wrapper or an
            ensemble: fold each network inside, then wrap), or the copy does not reproduce it.
    """
    import numpy as np
    from keras import layers

    from .augmentation import Augmentation

    chain = [l for l in model.layers if not isinstance(l, layers.InputLayer)]
    if any(isinstance(l, keras.Model) for l in chain):
        raise ValueError(f"fold_batch_norm needs a single chain of layers; {model.name!r} is not one. "
                         "Fold each network first, then wrap them (with_flip_tta, ensemble).")

    def copy(layer, **changes):
        """A fresh float32 layer with ``layer``'s settings (the copy shares nothing with the model)."""
        return type(layer).from_config({**layer.get_config(), "dtype": "float32", **changes})

    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x, i = inputs, 0
    while i < len(chain):
        layer, after = chain[i], (chain[i + 1] if i + 1 < len(chain) else None)
        i += 1
        if isinstance(layer, (Augmentation, layers.Dropout)):  # SpatialDropout2D is a Dropout
            continue  # identity at inference
        if _foldable(layer, after):
            gamma, beta, mean, var = (np.asarray(w, "float32") for w in after.get_weights())
            s = gamma / np.sqrt(var + after.epsilon)
            weights = [np.asarray(w, "float32") for w in layer.get_weights()]
            bias = weights.pop() if layer.use_bias else np.zeros_like(beta)
            weights[-1] = weights[-1] * s  # the kernel whose last axis is the output channels
            new = copy(layer, use_bias=True)
            x = new(x)
            new.set_weights(weights + [bias * s + beta - mean * s])
            i += 1  # the batch norm is now inside the layer
            continue
        new = copy(layer)
        x = new(x)
        new.set_weights(layer.get_weights())
    served = keras.Model(inputs, x, name=name or f"{model.name}_folded")
    faces = np.random.default_rng(0).integers(0, 256, (8, *INPUT_SHAPE)).astype("float32")
    gap = float(np.abs(np.asarray(model(faces, training=False), "float32")
                       - np.asarray(served(faces, training=False))).max())
    if gap > 1e-3:
        raise ValueError(f"The folded copy of {model.name!r} differs from it by up to {gap:.2g} in probability: "
                         "fold_batch_norm handles chains of layers (the course's builders), and this model "
                         "is probably not one (branches, or layers that behave differently at inference).")
    return served


def load_folded_weights(network: keras.Model, served: keras.Model, faces: np.ndarray) -> None:
    """Give ``network`` the weights of ``served``, a :func:`fold_batch_norm` copy of a network built
    the same way, so that a served model can be trained further.

    Each folded convolution or dense layer gets the folded kernel back, and its batch norm is
    rebuilt from ``faces`` (a few thousand training faces, raw pixels): with ``z`` the layer's
    output on them, per channel, moving mean ``mean(z)``, moving variance ``var(z)``, gamma
    ``sqrt(var(z) + epsilon)`` and beta the folded bias plus ``mean(z)``. At inference that is
    exactly the served model; in training (batch statistics) it is the same network on faces like
    these, so training continues from where the served model is. Every other layer, a batch norm
    that was not folded included, is copied.

    Raises:
        ValueError: ``network`` was not built like the network ``served`` was folded from.
    """
    import numpy as np
    from keras import layers

    chain = [l for l in network.layers if not isinstance(l, layers.InputLayer)]
    served_names = {l.name for l in served.layers}
    folded = {layer.name: after for layer, after in zip(chain, chain[1:] + [None])
              if _foldable(layer, after) and after.name not in served_names}  # conv/dense name -> its batch norm
    outputs = {name: served.get_layer(name).output for name in folded if name in served_names}
    sums = {name: 0.0 for name in outputs}
    squares = {name: 0.0 for name in outputs}
    if outputs:  # the folded layers' outputs on the faces, per channel
        probe = keras.Model(served.inputs, outputs)
        for start in range(0, len(faces), 256):
            for name, y in probe.predict_on_batch(np.asarray(faces[start:start + 256], "float32")).items():
                y = np.asarray(y, "float64").reshape(-1, y.shape[-1])  # every position, per channel
                sums[name] = sums[name] + y.sum(axis=0)
                squares[name] = squares[name] + (y ** 2).sum(axis=0)
    for layer in chain:
        if not layer.weights or layer in folded.values():
            continue  # no weights, or a folded batch norm (rebuilt with its layer)
        try:
            weights = served.get_layer(layer.name).get_weights()
            if layer.name in folded:
                bn, bias = folded[layer.name], weights.pop()
                n = len(faces) * int(np.prod(served.get_layer(layer.name).output.shape[1:-1]))  # values per channel
                mean = sums[layer.name] / n - bias  # of z = the served output without its folded bias
                var = np.maximum(squares[layer.name] / n - (sums[layer.name] / n) ** 2, 0.0)
                weights += [np.zeros_like(bias)] if layer.use_bias else []
                bn.set_weights([np.sqrt(var + bn.epsilon), bias + mean, mean, var])
            layer.set_weights(weights)
        except ValueError as error:  # no such layer, or other weights
            raise ValueError(f"{served.name!r} was not folded from a network built like {network.name!r} "
                             f"(at layer {layer.name!r}: {error})") from None
    probe_faces = np.asarray(faces[:8], "float32")
    gap = float(np.abs(np.asarray(network(probe_faces, training=False), "float32")
                       - np.asarray(served(probe_faces, training=False), "float32")).max())
    if gap > (1e-3 if network.dtype_policy.compute_dtype == "float32" else 5e-2):  # bfloat16 rounds
        raise ValueError(f"{network.name!r} with the weights of {served.name!r} differs from it by up to {gap:.2g} "
                         "in probability: they are not the same architecture.")


def count_params(model: keras.Model) -> int:
    """Number of trainable parameters."""
    import numpy as np

    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def multiply_adds(model: keras.Model) -> int:
    """Multiply-adds for one face through ``model``, computed from its layers' shapes.

    Counts convolutions (normal, depthwise, separable) and dense layers, which are nearly all
    of the work; batch norm, activations and pooling are left out. A convolution with a
    ``k x k`` kernel, ``c_in`` input and ``c_out`` output channels producing an ``h x w`` map
    costs ``h * w * k * k * c_in * c_out``; a depthwise-separable one
    ``h * w * k * k * c_in`` (depthwise) ``+ h * w * c_in * c_out`` (pointwise).
    Nested models (test-time augmentation, ensembles) are counted once per call.
    """
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += multiply_adds(layer) * max(1, len(layer._inbound_nodes))
            continue
        if not isinstance(layer, (layers.Conv2D, layers.SeparableConv2D, layers.DepthwiseConv2D, layers.Dense)):
            continue
        c_in = int(layer.input.shape[-1])
        out = layer.output.shape
        if isinstance(layer, layers.Dense):
            total += c_in * int(out[-1])
            continue
        h, w, c_out = int(out[1]), int(out[2]), int(out[3])
        kh, kw = layer.kernel_size
        if isinstance(layer, layers.DepthwiseConv2D):
            total += h * w * kh * kw * c_out
        elif isinstance(layer, layers.SeparableConv2D):
            mid = c_in * layer.depth_multiplier
            total += h * w * kh * kw * mid + h * w * mid * c_out
        else:
            total += h * w * kh * kw * (c_in // layer.groups) * c_out
    return int(total)
