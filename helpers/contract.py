"""The course's model contract, checked on the way in: raw 48x48x1 grayscale pixels, 0-255.

Every course model rescales its input itself (a ``Rescaling(1/255)`` layer) and returns 7
probabilities in :data:`helpers.CLASS_NAMES` order. Two mistakes give no error from Keras but
nonsense out: faces already divided by 255 (the model sees almost-black images and names one
class for every face) and standardised faces; colour faces give Keras' raw shape error.
:func:`model_input` turns every accepted form into the model's batch and refuses the others with
a message that states the contract and what to do. NumPy only.
"""

from __future__ import annotations

import numpy as np

from .course import IMAGE_SIZE

CONTRACT = f"course models take raw grayscale pixels 0-255, shape (N, {IMAGE_SIZE}, {IMAGE_SIZE}, 1), and rescale them inside"


def model_input(images: np.ndarray) -> np.ndarray:
    """Faces as the float32 batch ``(N, 48, 48, 1)`` of raw 0-255 pixels that course models take.

    Accepts ``(N, 48, 48, 1)``, ``(N, 48, 48)``, one ``(48, 48, 1)`` or one ``(48, 48)`` face, of
    any real dtype. ``N`` may be 0.

    Raises:
        ValueError: colour faces (a last axis of 3 or 4), any other shape, values outside 0-255
            (standardised faces), or floats that all lie in 0-1 with some fraction among them
            (faces divided by 255). The message states the contract and the fix.
    """
    x = np.asarray(images)
    shape = np.shape(images)
    if x.ndim in (3, 4) and x.shape[-1] in (3, 4) and x.shape[-3:-1] == (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(
            f"Got colour faces, shape {shape}: {CONTRACT}. Convert each face to grayscale first "
            "(cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)[..., None], or helpers.inference.preprocess_face for a "
            "face in a photo, which crops, converts and resizes exactly like the training loader)."
        )
    if x.ndim == 2:
        x = x[None, :, :, None]
    elif x.ndim == 3:
        x = x[None] if x.shape[-1] == 1 and x.shape[0] == IMAGE_SIZE else x[..., None]
    if x.ndim != 4 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1):
        raise ValueError(
            f"Got shape {shape}: {CONTRACT}. Crop, convert and resize faces with helpers.data.to_model_input "
            "(a grayscale crop) or helpers.inference.preprocess_face (a face in a photo)."
        )
    if x.dtype == np.uint8 or x.size == 0:
        return x.astype(np.float32, copy=False)
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ValueError(f"Got faces of dtype {x.dtype}: {CONTRACT}.")
    low, high = float(np.min(x)), float(np.max(x))
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"The faces contain NaN or infinite values: {CONTRACT}.")
    if low < 0 or high > 255:
        raise ValueError(
            f"Got pixel values from {low:.3g} to {high:.3g}: {CONTRACT}. Pass the faces as loaded (uint8 0-255), "
            "without standardising or centring them: the model does its own scaling."
        )
    if high <= 1.0 and np.any(x != np.floor(x)):
        raise ValueError(
            f"These faces look scaled to 0-1 (dtype {x.dtype}, values {low:.3g} to {high:.3g}): {CONTRACT}. "
            "Pass them as loaded (uint8 0-255), or multiply by 255 if you divided; scaled twice, every face "
            "looks black to the model and comes out as the same class."
        )
    return x.astype(np.float32, copy=False)
