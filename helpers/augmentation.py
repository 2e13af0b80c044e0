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
        self.transforms: list[keras.layers.Layer] = []
        if flip:
            self.transforms.append(layers.RandomFlip("horizontal", seed=seed))
        if rotation:
            self.transforms.append(layers.RandomRotation(rotation, fill_mode="reflect", seed=seed))
        if zoom:
            self.transforms.append(layers.RandomZoom(zoom, fill_mode="reflect", seed=seed))
        if translation:
            self.transforms.append(layers.RandomTranslation(translation, translation, fill_mode="reflect", seed=seed))
        if contrast:
            self.transforms.append(layers.RandomContrast(contrast, value_range=(0, 255), seed=seed))
        if brightness:
            self.transforms.append(layers.RandomBrightness(brightness, value_range=(0, 255), seed=seed))

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
