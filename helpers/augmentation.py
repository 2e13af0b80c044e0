"""Data augmentation as Keras layers inside the model (active only while training).

Which transforms keep an expression? A horizontal flip does (faces are nearly symmetric and a
smile stays a smile); small rotations, zooms, shifts and lighting changes do. A vertical flip does
not (nobody frowns upside down), and a strong crop can cut off the mouth or the brows that carry
the label. Keeping augmentation *inside* the model means the exact same model file is used for
training and serving: Keras switches these layers off at inference.
"""

from __future__ import annotations

import keras
from keras import layers

#: Default strengths, chosen for 48x48 faces (see lesson 03 and the experiment log).
DEFAULT_AUGMENTATION = dict(flip=True, rotation=0.05, zoom=0.10, translation=0.10, contrast=0.3, brightness=0.2)


@keras.saving.register_keras_serializable(package="fer_course", name="Augmentation")
class Augmentation(keras.layers.Layer):
    """Random transforms for raw 0-255 pixels that are active **only** when ``training=True``.

    Keras' random layers default to ``training=True`` when a model is called directly
    (``model(x)``), which silently augments at inference. This block defaults to ``False``, so a
    course model is deterministic unless ``fit`` (or you) asks for training behaviour.

    Args:
        flip: random horizontal flips (never vertical).
        rotation: max rotation as a fraction of a full turn (0.05 = +-18 degrees).
        zoom: max zoom in/out as a fraction of the size.
        translation: max shift as a fraction of the size.
        contrast: max contrast change factor.
        brightness: max brightness change as a fraction of the 0-255 range.
        seed: seed for the random layers (reproducible quick mode).

    Set a strength to 0 (or ``flip=False``) to leave that transform out.
    """

    def __init__(self, flip: bool = True, rotation: float = 0.05, zoom: float = 0.10, translation: float = 0.10,
                 contrast: float = 0.3, brightness: float = 0.2, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.settings = dict(flip=flip, rotation=rotation, zoom=zoom, translation=translation,
                             contrast=contrast, brightness=brightness, seed=seed)
        # One seed per transform: Keras' random layers given the *same* seed draw the same numbers,
        # so every flipped face would also be rotated, shifted and brightened the same way round.
        def own(i: int) -> int | None:
            return None if seed is None else seed + i

        self.transforms: list[keras.layers.Layer] = []
        if flip:
            self.transforms.append(layers.RandomFlip("horizontal", seed=own(0)))
        if rotation:
            self.transforms.append(layers.RandomRotation(rotation, fill_mode="reflect", seed=own(1)))
        if zoom:
            self.transforms.append(layers.RandomZoom(zoom, fill_mode="reflect", seed=own(2)))
        if translation:
            self.transforms.append(layers.RandomTranslation(translation, translation, fill_mode="reflect", seed=own(3)))
        if contrast:
            self.transforms.append(layers.RandomContrast(contrast, value_range=(0, 255), seed=own(4)))
        if brightness:
            self.transforms.append(layers.RandomBrightness(brightness, value_range=(0, 255), seed=own(5)))

    def build(self, input_shape):
        for transform in self.transforms:
            transform.build(input_shape)

    def call(self, inputs, training=False):
        x = keras.ops.cast(inputs, "float32")
        if not training:
            return x
        for transform in self.transforms:
            x = transform(x, training=True)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), **self.settings}


def augmentation_block(
    flip: bool = True,
    rotation: float = 0.05,
    zoom: float = 0.10,
    translation: float = 0.10,
    contrast: float = 0.3,
    brightness: float = 0.2,
    seed: int | None = None,
    name: str = "augmentation",
) -> Augmentation:
    """The course's augmentation block (see :class:`Augmentation`), active only in training."""
    return Augmentation(flip, rotation, zoom, translation, contrast, brightness, seed, name=name)


# --------------------------------------------------------------------------- seeing the transforms


def _strong_crop(x, keep: float = 0.55):
    """Counter-example: zoom into the upper middle of the face (the mouth falls outside), resize back."""
    import numpy as np

    size = x.shape[1]
    side = int(round(size * keep))
    left = (size - side) // 2
    crop = keras.ops.convert_to_tensor(np.asarray(x)[:, 2 : 2 + side, left : left + side, :])
    return keras.ops.image.resize(crop, (size, size))


def transform_gallery(seed: int = 0) -> dict:
    """Name -> function(batch of 0-255 faces) -> transformed batch, for :func:`show_transforms`.

    The first rows are the course's transforms, each alone at a visible strength, then the whole
    block; the last two are what **not** to do (they change or destroy the expression).
    """
    from keras import layers

    def train_mode(layer):
        return lambda x: layer(keras.ops.cast(x, "float32"), training=True)

    return {
        "original": lambda x: keras.ops.cast(x, "float32"),
        "horizontal flip": lambda x: keras.ops.flip(keras.ops.cast(x, "float32"), axis=2),
        "rotation +-18 deg": train_mode(layers.RandomRotation(0.05, fill_mode="reflect", seed=seed)),
        "zoom +-10%": train_mode(layers.RandomZoom(0.10, fill_mode="reflect", seed=seed)),
        "shift +-10%": train_mode(layers.RandomTranslation(0.10, 0.10, fill_mode="reflect", seed=seed)),
        "contrast +-30%": train_mode(layers.RandomContrast(0.3, value_range=(0, 255), seed=seed)),
        "brightness +-20%": train_mode(layers.RandomBrightness(0.2, value_range=(0, 255), seed=seed)),
        "all (course block)": train_mode(Augmentation(seed=seed)),
        "vertical flip (wrong!)": lambda x: keras.ops.flip(keras.ops.cast(x, "float32"), axis=1),
        "strong crop (wrong!)": _strong_crop,
    }


def show_transforms(images, labels=None, transforms: dict | None = None, seed: int = 0):
    """Show the same faces (columns) under each transform (rows) in one matplotlib grid.

    Args:
        images: a few raw faces, ``(n, 48, 48, 1)`` 0-255 (6-8 is a good number).
        labels: their class indices, shown as column titles (CLASS_NAMES order).
        transforms: name -> function on a batch; default :func:`transform_gallery`, whose last
            two rows, 'vertical flip (wrong!)' and 'strong crop (wrong!)', are counter-examples.
        seed: seed of the random transforms.

    Returns the figure. Random transforms run in training mode (the only mode in which the
    course's augmentation does anything).
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from .course import CLASS_NAMES

    images = np.asarray(images)
    transforms = transforms or transform_gallery(seed)
    rows, cols = len(transforms), len(images)
    fig, axes = plt.subplots(rows, cols, figsize=(1.25 * cols + 1.6, 1.25 * rows), squeeze=False)
    for r, (name, fn) in enumerate(transforms.items()):
        out = np.clip(keras.ops.convert_to_numpy(fn(images)), 0, 255)
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(out[c, :, :, 0], cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9,
                              color="#c00" if "wrong" in name else "black")
            if r == 0 and labels is not None:
                ax.set_title(CLASS_NAMES[int(labels[c])], fontsize=9)
    fig.tight_layout()
    return fig


def single_view(model: keras.Model) -> keras.Model:
    """The one network inside a test-time-averaging wrapper, or ``model`` itself if there is none.

    The reference model averages its network's answer for a face and for the mirrored face, which
    makes it exactly mirror-invariant: to see what a horizontal flip does to a network's answer,
    ask the network alone. Same contract: raw ``(N, 48, 48, 1)`` pixels 0-255 in, 7 probabilities out.
    """
    inner = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    return inner[0] if len(inner) == 1 else model
