"""The course's reference model: ``load_pretrained()``.

The file ``data/fer_reference.keras`` ships with the repository (see ``data/MODEL_CARD.md`` for
how it was trained and how well it does). Like every course model it takes raw 48x48x1 pixels
(0-255) and returns 7 probabilities in :data:`helpers.CLASS_NAMES` order. It is loaded with
Keras ``safe_mode`` after checking its SHA-256 against the value recorded here, so a truncated
download or an altered file is caught before any code in it could run. Its config is written so
that every Keras the course supports (3.8 and later) reads it (:mod:`helpers.keras_files`); CI loads
it with Keras 3.8 and TensorFlow 2.18 (tests/test_old_keras.py).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .data_sources import DATA_DIR

MODEL_FILE = DATA_DIR / "fer_reference.keras"
#: SHA-256 of data/fer_reference.keras, recorded by python -m tools.reference evaluate when it is exported.
MODEL_SHA256 = "941591cc18f504e1fb25f8a299346173a14998e7c582de86adce57830f64f66d"

HOW_TO_GET_MODEL = (
    "The reference model ships with the course repository as data/fer_reference.keras.\n"
    "  - In a clone: `git checkout -- data/fer_reference.keras` (or `git pull`) restores it.\n"
    "  - In Colab: the setup cell clones the repository, which includes it.\n"
    "  - Or train your own: python -m tools.reference train --data data/fer2013 --export my_model.keras\n"
    "    and load it with helpers.training.load_model('my_model.keras')."
)


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pretrained_available() -> bool:
    """True when the shipped reference model file is present."""
    return MODEL_FILE.is_file() and MODEL_SHA256 is not None


def load_pretrained(path: str | os.PathLike | None = None):
    """Load the course's reference model after checking its SHA-256.

    Args:
        path: another copy of the reference model file (default: ``data/fer_reference.keras``).

    Returns:
        A Keras model: ``(batch, 48, 48, 1)`` raw pixels 0-255 in, 7 probabilities out.

    Raises:
        FileNotFoundError: the file is missing.
        ValueError: the file's SHA-256 differs from the recorded one (truncated or altered file), or
            this Keras cannot read it (the message names the Keras version that saved the file,
            the one running, and the fix).
    """
    path = Path(path) if path is not None else MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"Reference model {str(path)!r} not found.\n{HOW_TO_GET_MODEL}")
    if MODEL_SHA256 is None:
        raise FileNotFoundError(f"No reference model has been recorded in this version of the course.\n{HOW_TO_GET_MODEL}")
    actual = sha256_of(path)
    if actual != MODEL_SHA256:
        raise ValueError(
            f"{path} is not the course's reference model: SHA-256 {actual[:16]}... expected {MODEL_SHA256[:16]}... "
            f"({path.stat().st_size:,} bytes). The file is truncated or was altered; it was not loaded.\n{HOW_TO_GET_MODEL}"
        )
    from .keras_files import load_error_advice
    from .training import load_model

    try:
        return load_model(path)
    except ValueError as exc:
        cause = exc.__cause__ or exc
        raise ValueError(
            f"The course's reference model {path} (SHA-256 correct) could not be loaded: "
            f"{type(cause).__name__}: {str(cause).splitlines()[0][:300]}\n{load_error_advice(path)}"
        ) from exc
