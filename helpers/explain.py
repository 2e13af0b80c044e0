"""Explanations (lessons 06 and 08): Grad-CAM heatmaps and the model's learned embeddings.

Grad-CAM (Selvaraju et al. 2017, "Grad-CAM: Visual Explanations from Deep Networks via
Gradient-based Localization") asks: which places in the last convolutional feature map raise
the score of a class? It weights each feature map channel by the average gradient of the
class score (the logit, before the softmax) with respect to that channel, sums the channels,
keeps the positive part, and scales the result up to the input's 48x48 grid.

It works for every model the course builds: the three builders in :mod:`helpers.models`, and
wrappers such as :func:`helpers.models.with_flip_tta` or an ensemble, where the convolutions
live in a nested model (Grad-CAM then explains the first nested model that has convolutions,
on the image as given). Gradients use ``tf.GradientTape``, so this module needs the TensorFlow
backend.
"""

from __future__ import annotations

import numpy as np

from .course import CLASS_NAMES

#: Layers whose output is a convolutional feature map.
_CONV_TYPES = ("Conv2D", "SeparableConv2D", "DepthwiseConv2D")


def _is_conv(layer) -> bool:
    return type(layer).__name__ in _CONV_TYPES or any(t.__name__ in _CONV_TYPES for t in type(layer).__mro__)


def _is_model(layer) -> bool:
    import keras

    return isinstance(layer, keras.Model)


def _has_conv(model) -> bool:
    return any(_is_conv(l) or (_is_model(l) and _has_conv(l)) for l in model.layers)


def networks_in(model) -> list:
    """The distinct networks in ``model``, in order: ``[model]`` when it has convolutions of its
    own, else the nested models that do (one inside :func:`~helpers.models.with_flip_tta`, several
    in an :func:`~helpers.models.ensemble`); ``[]`` when there is no convolution at all."""
    if any(_is_conv(l) for l in model.layers):
        return [model]
    found = []
    for layer in model.layers:
        if _is_model(layer) and _has_conv(layer):
            found += [n for n in networks_in(layer) if all(n is not f for f in found)]
    return found


def unwrap(model):
    """The (sub)model whose own layers include the convolutions: ``model`` itself, or the first
    nested model that has conv layers (e.g. the network inside :func:`with_flip_tta`, or the first
    network of an :func:`~helpers.models.ensemble`).

    Raises:
        ValueError: the model has no convolutional layer at all.
    """
    found = networks_in(model)
    if not found:
        raise ValueError(f"Model {model.name!r} has no convolutional layer: Grad-CAM needs a CNN.")
    return found[0]


def _find_layer(model, name: str):
    """``(submodel, layer)`` for the layer called ``name`` in ``model`` or any nested model."""
    for layer in model.layers:
        if layer.name == name:
            return model, layer
    for layer in model.layers:
        if _is_model(layer):
            found = _find_layer(layer, name)
            if found:
                return found
    return None


def _output_shape(layer):
    return tuple(layer.output.shape)


def last_feature_map_layer(model):
    """The layer giving the last convolutional feature map: the last conv layer, followed
    through the layers after it that keep its 4-D shape (batch norm, activation)."""
    layers = model.layers
    conv_positions = [i for i, l in enumerate(layers) if _is_conv(l)]
    if not conv_positions:
        raise ValueError(f"Model {model.name!r} has no convolutional layer of its own; use unwrap(model) first.")
    i = conv_positions[-1]
    shape = _output_shape(layers[i])
    while i + 1 < len(layers) and not _is_model(layers[i + 1]):
        nxt = layers[i + 1]
        try:
            same = _output_shape(nxt) == shape and nxt.input is not None and tuple(nxt.input.shape) == shape
        except (AttributeError, ValueError):  # a layer used more than once has no single output
            same = False
        if not same or type(nxt).__name__ not in ("BatchNormalization", "Activation", "ReLU", "LeakyReLU", "ELU", "PReLU"):
            break
        i += 1
    return layers[i]


def _target(model, layer_name: str | None):
    """The submodel to explain and its feature-map layer."""
    if layer_name is None:
        sub = unwrap(model)
        return sub, last_feature_map_layer(sub)
    found = _find_layer(model, layer_name)
    if found is None:
        raise ValueError(f"No layer called {layer_name!r} in model {model.name!r} (or the models inside it).")
    sub, layer = found
    if len(_output_shape(layer)) != 4:
        raise ValueError(f"Layer {layer_name!r} outputs shape {_output_shape(layer)}; Grad-CAM needs a 4-D feature map.")
    return sub, layer


def _grad_model(model, layer_name: str | None):
    """A model mapping images to (feature map, class scores), and whether the scores are logits."""
    import keras

    sub, layer = _target(model, layer_name)
    last = sub.layers[-1]
    activation = getattr(last, "activation", None)
    if isinstance(last, keras.layers.Dense) and getattr(activation, "__name__", "") == "softmax":
        # use the logits (the Dense layer's input times its kernel, plus bias), not the
        # saturating softmax probabilities
        return keras.Model(sub.inputs, [layer.output, last.input]), sub, last
    return keras.Model(sub.inputs, [layer.output, sub.outputs[0]]), sub, None


def gradcam(model, image: np.ndarray, class_index: int | np.ndarray | None = None, layer_name: str | None = None) -> np.ndarray:
    """Grad-CAM heatmap(s) of ``model`` for a class.

    Args:
        model: a course model (also wrapped ones such as ``with_flip_tta(model)``).
        image: one face ``(48, 48, 1)``/``(48, 48)`` or a batch ``(N, 48, 48, 1)``, raw 0-255 pixels.
        class_index: the class to explain (an int, or one per image); ``None``: the predicted class.
        layer_name: the feature-map layer to use; ``None`` finds the last convolutional one.

    Returns:
        float32 heatmap ``(48, 48)`` (or ``(N, 48, 48)`` for a batch) with values in [0, 1]:
        1 where the feature map most supports the class, 0 where it does not (all zeros when
        nothing supports it).
    """
    import cv2
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("helpers.explain.gradcam uses tf.GradientTape: set KERAS_BACKEND=tensorflow.")
    import tensorflow as tf

    from .evaluation import as_batch

    single = np.ndim(image) == 2 or (np.ndim(image) == 3 and np.shape(image)[-1] == 1)
    x = tf.convert_to_tensor(as_batch(image))
    grad_model, _, dense = _grad_model(model, layer_name)
    with tf.GradientTape() as tape:
        fmap, scores = grad_model(x, training=False)
        tape.watch(fmap)
        if dense is not None:
            scores = tf.matmul(scores, dense.kernel) + (dense.bias if dense.use_bias else 0.0)
        if class_index is None:
            chosen = tf.argmax(scores, axis=1)
        else:
            chosen = tf.constant(np.broadcast_to(np.asarray(class_index, np.int64), (x.shape[0],)))
        score = tf.gather(scores, chosen, axis=1, batch_dims=1)
    grads = tape.gradient(score, fmap)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # one weight per channel
    cam = tf.nn.relu(tf.reduce_sum(weights * fmap, axis=-1)).numpy()
    height, width = x.shape[1], x.shape[2]
    heat = np.stack([cv2.resize(c.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR) for c in cam])
    heat = np.maximum(heat, 0)
    peak = heat.reshape(len(heat), -1).max(axis=1)
    heat = np.where(peak[:, None, None] > 0, heat / np.maximum(peak, 1e-12)[:, None, None], 0.0).astype(np.float32)
    return heat[0] if single else heat


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """RGB image (floats in [0, 1]) of the face with the heatmap blended over it."""
    import matplotlib

    gray = np.asarray(image, np.float32).squeeze() / 255.0
    colour = matplotlib.colormaps[cmap](np.clip(heatmap, 0, 1))[..., :3]
    return np.clip((1 - alpha) * gray[..., None] + alpha * colour, 0, 1)


def show_gradcam(model, images: np.ndarray, labels=None, class_index: int | None = None, layer_name: str | None = None,
                 cols: int = 6, alpha: float = 0.45):
    """Faces (top row) and their Grad-CAM overlays (row below), titled with the explained class.

    ``class_index=None`` explains each face's predicted class. ``labels`` (optional) adds the
    true label to the titles. Returns the heatmaps ``(N, 48, 48)``.
    """
    import matplotlib.pyplot as plt

    from .evaluation import as_batch, predict_proba

    x = as_batch(images)
    probs = predict_proba(model, x)
    explained = probs.argmax(axis=1) if class_index is None else np.full(len(x), class_index)
    heat = gradcam(model, x, explained, layer_name)
    cols = min(cols, len(x))
    rows = int(np.ceil(len(x) / cols))
    fig, axes = plt.subplots(2 * rows, cols, figsize=(1.9 * cols, 4.1 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(len(x)):
        r, c = 2 * (i // cols), i % cols
        axes[r, c].imshow(x[i].squeeze(), cmap="gray", vmin=0, vmax=255)
        title = f"true {CLASS_NAMES[int(labels[i])]}\n" if labels is not None else ""
        axes[r, c].set_title(title + f"pred {CLASS_NAMES[probs[i].argmax()]} {probs[i].max():.2f}", fontsize=8)
        axes[r + 1, c].imshow(overlay(x[i], heat[i], alpha))
        axes[r + 1, c].set_title(f"Grad-CAM: {CLASS_NAMES[explained[i]]}", fontsize=8)
    fig.tight_layout()
    return heat


# --------------------------------------------------------------------------- embeddings


def embedding_model(model):
    """A model from the input to the penultimate layer (what the final softmax layer sees)."""
    import keras

    sub = unwrap(model) if not any(isinstance(l, keras.layers.Dense) for l in model.layers) else model
    last = sub.layers[-1]
    if not isinstance(last, keras.layers.Dense):
        raise ValueError(f"Expected the last layer of {sub.name!r} to be the Dense softmax layer, got {type(last).__name__}.")
    return keras.Model(sub.inputs, last.input, name=f"{sub.name}_embedding")


def embeddings(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The penultimate-layer features of each face, ``(N, D)`` float32 (the learned embedding)."""
    from .evaluation import as_batch

    return np.asarray(embedding_model(model).predict(as_batch(images), batch_size=batch_size, verbose=0), np.float32)
